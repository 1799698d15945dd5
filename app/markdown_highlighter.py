"""Markdown syntax highlighting for the plain-text note editor.

Each block (line) is highlighted from its own text plus the block state carried over
from the line above, which is non-zero only inside a fenced code block.  When an edit
leaves a line's end state unchanged, Qt stops re-highlighting there, so typing costs
one line of work.  Colours are blended from the widget palette, so light and dark
themes both read well; call :meth:`MarkdownHighlighter.set_palette` when it changes.

Inline rules (emphasis, code, links, tags) are deliberately simple single-line
regexes, not a CommonMark parser: the goal is a fast, predictable editor colouring.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable

from PySide6.QtGui import (
    QColor,
    QFont,
    QFontDatabase,
    QPalette,
    QSyntaxHighlighter,
    QTextCharFormat,
    QTextDocument,
)

from crdt_store.markdown_text import tag_spans

__all__ = ["TASK_RE", "MarkdownHighlighter", "contrast", "utf16_offsets"]

TASK_RE = re.compile(r"^(\s*)([-*+]) \[( |x|X)\] ")
"""A task line: group 1 the indent, group 2 the bullet, group 3 the box state (' ', x, X).

Offsets are code points; the box character is at ``match.start(3)``."""

# Block-level rules, matched at the start of a line (after any '>' quote prefix).
_FENCE_OPEN = re.compile(r"[ \t]*(`{3,}|~{3,})(.*)")
_FENCE_CLOSE = re.compile(r"[ \t]*(`{3,}|~{3,})[ \t]*")
_QUOTE = re.compile(r"(?:[ \t]{0,3}>[ \t]?)+")
_HEADING = re.compile(r"[ \t]{0,3}(#{1,6})(?:[ \t]|$)")
_RULE = re.compile(r"[ \t]{0,3}(?:(?:-[ \t]*){3,}|(?:\*[ \t]*){3,}|(?:_[ \t]*){3,})")
_LIST = re.compile(r"[ \t]*([-*+]|\d{1,9}[.)])(?:[ \t]|$)")

# Inline rules.  Code spans are found first and masked out before the others run.
_CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)")  # as in markdown_text
_ESCAPE = re.compile(r"\\[!-/:-@\[-`{-~]")
_STRONG = re.compile(r"(\*\*)(?!\s).+?(?<!\s)\*\*(?!\*)|(?<!\w)(__)(?!\s).+?(?<!\s)__(?!\w)")
_EM = re.compile(
    r"(?<!\*)(\*)(?![\s*]).*?(?<![\s*])\*(?!\*)|(?<![\w_])(_)(?![\s_]).*?(?<![\s_])_(?![\w_])"
)
_STRIKE = re.compile(r"(~~)(?!\s).+?(?<!\s)~~")
_LINK = re.compile(r"!?\[([^\]]+)\]\(([^()\s]*)(?:[ \t]+\"[^\"]*\")?\)")
_URL = re.compile(r"(?<![\w/])(?:https?|ftp)://[^\s<>]*[^\s<>.,;:!?'\")\]}*_~]")
# Tags follow crdt_store.markdown_text.derive_tags: '#' at line start or after
# whitespace or '(', then letters, digits, marks, '_', '-', '/'; not all digits.
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")

# Style flags; a run of text gets the union of the flags of the spans covering it.
H1, H2, H3, QUOTE, EM, STRONG, STRIKE, CODE, LINK, URL, TAG, MARKER, TASK_BOX, MARKUP, DONE = (
    1 << i for i in range(15)
)
_HEADING_FLAGS = (H1, H2, H3, H3, H3, H3)
_HEADING_WEIGHT = {H1: 800, H2: 700, H3: 700}
_MERGE_ORDER = (QUOTE, H1, H2, H3, EM, STRIKE, CODE, LINK, URL, TAG, MARKER, TASK_BOX, MARKUP, DONE)

Span = tuple[int, int, int]  # (start, end, flags) in code points of the block text


def utf16_offsets(text: str) -> Callable[[int], int]:
    """A function mapping code-point offsets in ``text`` (one block) to UTF-16 offsets."""
    if text.isascii():
        return lambda cp: cp
    astral = [m.start() for m in _ASTRAL.finditer(text)]
    if not astral:
        return lambda cp: cp
    return lambda cp: cp + bisect_left(astral, cp)  # each astral char before cp adds a unit


# --------------------------------------------------------------------------- colours


def _blend(a: QColor, b: QColor, t: float) -> QColor:
    """``a`` moved a fraction ``t`` of the way towards ``b``."""
    return QColor.fromRgbF(*(x + (y - x) * t for x, y in zip(a.getRgbF()[:3], b.getRgbF()[:3])))


def _luminance(c: QColor) -> float:
    def lin(v: float) -> float:
        return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4

    return 0.2126 * lin(c.redF()) + 0.7152 * lin(c.greenF()) + 0.0722 * lin(c.blueF())


def contrast(a: QColor, b: QColor) -> float:
    """WCAG contrast ratio of two colours (1 to 21)."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _readable(color: QColor, base: QColor, text: QColor, ratio: float) -> QColor:
    """``color`` moved towards ``text`` just enough to reach ``ratio`` against ``base``."""
    for step in range(11):
        mixed = _blend(color, text, step / 10)
        if contrast(mixed, base) >= ratio:
            return mixed
    return QColor(text)


def _formats(palette: QPalette) -> dict[int, QTextCharFormat]:
    """One partial format per style flag, coloured from ``palette``."""
    role = QPalette.ColorRole
    text, base = palette.color(role.Text), palette.color(role.Base)
    link = _readable(palette.color(role.Link), base, text, 4.5)
    accent = _readable(palette.color(role.Highlight), base, text, 4.5)
    heading = _readable(_blend(text, accent, 0.35), base, text, 7)
    muted = _readable(_blend(text, base, 0.45), base, text, 3)
    quiet = _readable(_blend(text, base, 0.3), base, text, 4.5)
    mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont).family()

    def fmt(fg: QColor | None = None, bg: QColor | None = None) -> QTextCharFormat:
        f = QTextCharFormat()
        if fg is not None:
            f.setForeground(fg)
        if bg is not None:
            f.setBackground(bg)
        return f

    code = fmt(bg=_blend(base, text, 0.08))
    code.setFontFamilies([mono])
    code.setFontFixedPitch(True)
    code.setFontStyleHint(QFont.StyleHint.Monospace)
    em, strike, url, done = fmt(), fmt(), fmt(link), fmt(quiet)
    em.setFontItalic(True)
    strike.setFontStrikeOut(True)
    url.setFontUnderline(True)
    done.setFontStrikeOut(True)
    return {
        H1: fmt(heading), H2: fmt(heading), H3: fmt(heading),
        QUOTE: fmt(quiet),
        EM: em,
        STRIKE: strike,
        CODE: code,
        LINK: fmt(link),
        URL: url,
        TAG: fmt(accent, _blend(base, accent, 0.14)),
        MARKER: fmt(accent),
        TASK_BOX: fmt(accent),
        MARKUP: fmt(muted),
        DONE: done,
    }  # fmt: skip


# --------------------------------------------------------------------------- spans


def _mask_code(text: str, spans: list[Span]) -> str:
    """``text`` with code spans and escaped characters blanked out; adds CODE spans."""
    if "`" in text:
        pieces, last = [], 0
        for m in _CODE_SPAN.finditer(text):
            start, end = m.span()
            ticks = len(m[1])
            spans += ((start, end, CODE), (start, start + ticks, MARKUP), (end - ticks, end, MARKUP))
            pieces += (text[last:start], "\0" * (end - start))
            last = end
        if pieces:
            text = "".join(pieces) + text[last:]
    if "\\" in text:
        text = _ESCAPE.sub(lambda m: "\\\0", text)  # keep the backslash, blank the character
    return text


def _delimited(regex: re.Pattern[str], text: str, flag: int, spans: list[Span]) -> str:
    """Spans for ``regex`` matches (the delimiter is the first group set, the same at both
    ends); returns ``text`` with those delimiters blanked, so ``***x***`` reads as ``*x*``."""
    pieces, last = [], 0
    for m in regex.finditer(text):
        start, end = m.span()
        n = len(next(g for g in m.groups() if g))
        spans += ((start, end, flag), (start, start + n, MARKUP), (end - n, end, MARKUP))
        pieces += (text[last:start], "\0" * n, text[start + n : end - n], "\0" * n)
        last = end
    return "".join(pieces) + text[last:] if pieces else text


def _tags(text: str, spans: list[Span]) -> None:
    """TAG spans, by the store's own tag rule, so the list's tags and the colours agree."""
    spans.extend((start, end, TAG) for start, end in tag_spans(text))


def _block_spans(text: str, spans: list[Span]) -> None:
    """Spans for the line's block markers: quote, heading, rule, list item, task."""
    offset = 0
    quote = _QUOTE.match(text)
    if quote:
        offset = quote.end()
        spans += ((0, offset, MARKER), (offset, len(text), QUOTE))
        text = text[offset:]
    if heading := _HEADING.match(text):
        level = len(heading[1])
        spans += (
            (offset, offset + len(text), _HEADING_FLAGS[level - 1]),
            (offset + heading.start(1), offset + heading.end(1), MARKUP),
        )
    elif _RULE.fullmatch(text):
        spans.append((offset, offset + len(text), MARKUP))
    elif task := TASK_RE.match(text):
        box = offset + task.start(3) - 1
        spans += ((offset + task.start(2), offset + task.end(2), MARKER), (box, box + 3, TASK_BOX))
        if task[3] != " ":
            spans.append((offset + task.end(), offset + len(text), DONE))
    elif item := _LIST.match(text):
        spans.append((offset + item.start(1), offset + item.end(1), MARKER))


def _inline_spans(text: str, spans: list[Span]) -> None:
    """Spans for code, emphasis, strikeout, links, bare URLs and tags."""
    text = _mask_code(text, spans)
    if "*" in text or "_" in text:
        _delimited(_EM, _delimited(_STRONG, text, STRONG, spans), EM, spans)
    if "~~" in text:
        _delimited(_STRIKE, text, STRIKE, spans)
    if "](" in text:
        for m in _LINK.finditer(text):
            start, end = m.span()
            spans += ((start, end, LINK), (m.start(2), m.end(2), URL))
            spans += ((start, m.start(1), MARKUP), (m.end(1), m.start(2), MARKUP), (end - 1, end, MARKUP))
    if "://" in text:
        spans += ((m.start(), m.end(), URL) for m in _URL.finditer(text))
    if "#" in text:
        _tags(text, spans)


def _runs(spans: list[Span]) -> list[Span]:
    """Non-overlapping (start, end, flags) runs: each position gets the union of its spans."""
    events = sorted([(s, f) for s, e, f in spans if e > s] + [(e, -f) for s, e, f in spans if e > s])
    runs: list[Span] = []
    counts: dict[int, int] = {}
    pos = 0
    for at, change in events:
        if at > pos and counts:
            flags = 0
            for flag in counts:
                flags |= flag
            runs.append((pos, at, flags))
        pos = at
        flag = abs(change)
        counts[flag] = counts.get(flag, 0) + (1 if change > 0 else -1)
        if not counts[flag]:
            del counts[flag]
    return runs


# --------------------------------------------------------------------------- highlighter


def _active(palette: QPalette) -> QPalette:
    """A copy reading the Active group: a widget's palette() reports the group of its
    current state, and a disabled editor would otherwise tint every note grey."""
    active = QPalette(palette)
    active.setCurrentColorGroup(QPalette.ColorGroup.Active)
    return active


class MarkdownHighlighter(QSyntaxHighlighter):
    """Colours Markdown in a plain-text document, with colours taken from ``palette``.

    Block state: 0 outside fenced code, ``2 * fence_length + (1 if '~' else 0)`` inside.
    """

    def __init__(self, document: QTextDocument, palette: QPalette) -> None:
        super().__init__(document)  # Qt highlights existing text on the next event loop turn
        self._parts = _formats(_active(palette))
        self._cache: dict[int, QTextCharFormat] = {}

    def set_palette(self, palette: QPalette) -> None:
        """Recompute every format from ``palette`` and re-highlight the whole document."""
        self._parts = _formats(_active(palette))
        self._cache = {}
        self.rehighlight()

    def _format(self, flags: int) -> QTextCharFormat:
        """The merged format for a flag combination, built once per palette."""
        fmt = self._cache.get(flags)
        if fmt is None:
            fmt = QTextCharFormat()
            for flag in _MERGE_ORDER:
                if flags & flag:
                    fmt.merge(self._parts[flag])
            weight = next((w for f, w in _HEADING_WEIGHT.items() if flags & f), 0)
            if flags & STRONG:
                weight = min(900, weight + 200) if weight else 700
            if weight:
                fmt.setFontWeight(weight)
            self._cache[flags] = fmt
        return fmt

    def highlightBlock(self, text: str) -> None:
        """Colour one line; called by Qt for each block that may have changed."""
        spans: list[Span] = []
        state = self.previousBlockState()
        if state > 0:  # inside a fence: only its closing line can end it
            close = _FENCE_CLOSE.fullmatch(text)
            closes = bool(close) and close[1][0] == "`~"[state & 1] and len(close[1]) >= state >> 1
            spans.append((0, len(text), CODE | MARKUP if closes else CODE))
            self.setCurrentBlockState(0 if closes else state)
        elif (fence := _FENCE_OPEN.match(text)) and not (fence[1][0] == "`" and "`" in fence[2]):
            spans.append((0, len(text), CODE | MARKUP))
            self.setCurrentBlockState(2 * len(fence[1]) + (fence[1][0] == "~"))
        else:
            self.setCurrentBlockState(0)
            _block_spans(text, spans)
            _inline_spans(text, spans)
        to16 = utf16_offsets(text)
        for start, end, flags in _runs(spans):
            start16 = to16(start)
            self.setFormat(start16, to16(end) - start16, self._format(flags))
