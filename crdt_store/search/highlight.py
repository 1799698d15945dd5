"""Where a query's terms are in a text, a one-line excerpt around the first one,
and the conversion of those ranges for Qt.

Ranges are ``(start, end)`` code-point offsets into the text, sorted and not
overlapping.  Matching uses the same folding and word splitting as the index
(``text``), so "cafe" points at "Café", ``plai*`` at the whole word "plaited",
and a CJK term at the substring it matched.  The GUI converts ranges with
``to_utf16(text, ranges)`` (Qt counts UTF-16 units; an emoji is 2 of them).
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from crdt_store.markdown_text import snippet as leading_snippet
from crdt_store.search.query import Highlight
from crdt_store.search.text import (
    UNSAFE,
    char_fold_table,
    fold,
    fold_run,
    segments,
    separator_char,
    within_distance,
    word_char,
)
from crdt_store.unicode_offsets import cp_ranges_to_utf16

__all__ = ["SNIPPET_CHARS", "make_snippet", "match_ranges", "snippet_for", "to_utf16"]

SNIPPET_CHARS = 160
_CONTEXT_BEFORE = 40  # characters of context to show before the first match
_FIRST_WINDOW = 4000  # characters snippet_for matches in first (then 4x more, then all)
_NON_SPACE = re.compile(r"\S+")

Range = tuple[int, int]


def _merge(ranges: Iterable[Range]) -> list[Range]:
    out: list[Range] = []
    for start, end in sorted(ranges):
        if out and start < out[-1][1]:
            if end > out[-1][1]:
                out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


class _Folded:
    """`text` folded as the index folds it (``folded``), with a map back to `text`.

    ASCII text is lower-cased.  Other text goes through ``char_fold_table()``
    when every character folds to exactly one character of the same kind, so
    offsets stay the same.  Otherwise each CJK run and non-ASCII word is folded
    on its own (its length may change) and remembered as an anchor; the text
    between anchors keeps its offsets.
    """

    def __init__(self, text: str) -> None:
        self.anchors: list[tuple[int, int, int, int, list[Range] | None, bool]] = []
        if text.isascii():
            self.folded = text.lower()
            return
        folded = text.translate(char_fold_table())
        if UNSAFE not in folded:
            self.folded = folded
            return
        parts: list[str] = []
        pos = length = 0
        for cjk, start, end in segments(text):
            segment = text[start:end]
            if not cjk and segment.isascii():
                continue
            between = text[pos:start]
            lowered = between.lower()
            parts.append(lowered if len(lowered) == len(between) else between)
            length += len(between)
            folded, spans = fold_run(segment) if cjk else (fold(segment), None)
            self.anchors.append((length, length + len(folded), start, end, spans, cjk))
            parts.append(folded)
            length += len(folded)
            pos = end
        rest = text[pos:]
        lowered = rest.lower()
        parts.append(lowered if len(lowered) == len(rest) else rest)
        self.folded = "".join(parts)
        self._starts = [a[0] for a in self.anchors]

    def original(self, offset: int, is_end: bool) -> int:
        """The offset in the original text of folded `offset` (a match start or end)."""
        if not self.anchors:
            return offset
        probe = offset - 1 if is_end else offset
        i = bisect_right(self._starts, probe) - 1
        if i < 0:
            return offset
        fstart, fend, ostart, oend, spans, cjk = self.anchors[i]
        if probe >= fend:
            return oend + offset - fend
        if not cjk:
            return oend if is_end else ostart  # words match whole
        if spans is None:
            return ostart + offset - fstart
        return ostart + (spans[probe - fstart][1] if is_end else spans[probe - fstart][0])


@dataclass(frozen=True)
class _Patterns:
    patterns: tuple[re.Pattern[str], ...]  # exact words and prefixes; each phrase
    fuzzy: tuple[Highlight, ...]
    needles: tuple[str, ...]  # CJK substrings


@lru_cache(maxsize=32)
def _compile(terms: tuple[Highlight, ...]) -> _Patterns:
    """Regexes that start with the literal text (so the scan is fast); the word
    boundary before a match is checked by ``_starts_word``."""
    w, sep = word_char(), separator_char()

    def alternation(kind: str) -> str:
        found = {re.escape(t.words[0]) for t in terms if t.kind == kind}
        return "|".join(sorted(found, key=len, reverse=True))

    alternatives = []
    if exact := alternation("word"):
        alternatives.append(f"(?:{exact})(?!{w})")
    if prefixes := alternation("prefix"):
        alternatives.append(f"(?:{prefixes}){w}*+")
    patterns = [re.compile("|".join(alternatives))] if alternatives else []
    patterns += [
        re.compile(f"(?:{sep})+".join(map(re.escape, t.words)) + f"(?!{w})")
        for t in terms if t.kind == "phrase"
    ]
    return _Patterns(
        tuple(patterns),
        tuple(t for t in terms if t.kind == "fuzzy"),
        tuple(dict.fromkeys(t.words[0] for t in terms if t.kind == "cjk")),
    )


@lru_cache(maxsize=8)
def _any_word(words: frozenset[str]) -> re.Pattern[str]:
    alternation = "|".join(sorted(map(re.escape, words), key=len, reverse=True))
    return re.compile(f"(?:{alternation})(?!{word_char()})")


@lru_cache(maxsize=1)
def _word_patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    return re.compile(word_char()), re.compile(f"{word_char()}+")


def _starts_word(folded: str, at: int) -> bool:
    return at == 0 or _word_patterns()[0].match(folded, at - 1) is None


def match_ranges(
    text: str, terms: Sequence[Highlight], fuzzy_words: Collection[str] | None = None
) -> list[Range]:
    """Code-point ranges of every match of `terms` (``ParsedQuery.terms``) in `text`.

    `fuzzy_words`, if given, are the folded words known to be within reach of
    the fuzzy terms (the index knows them); otherwise distances are computed.
    """
    if not terms:
        return []
    compiled = _compile(tuple(terms))
    view = _Folded(text)
    folded = view.folded
    found: list[Range] = []
    for pattern in compiled.patterns:
        found.extend(_search(folded, pattern))
    if compiled.fuzzy:
        found.extend(_fuzzy_hits(folded, compiled.fuzzy, fuzzy_words))
    for needle in compiled.needles:
        at = folded.find(needle)
        while at >= 0:
            found.append((at, at + len(needle)))
            at = folded.find(needle, at + 1)
    return _merge((view.original(a, False), view.original(b, True)) for a, b in found)


def _fuzzy_hits(folded: str, terms: tuple[Highlight, ...], known: Collection[str] | None) -> Iterable[Range]:
    if known is not None:
        if known:
            yield from _search(folded, _any_word(frozenset(known)))
        return
    verdicts: dict[str, bool] = {}
    for m in _word_patterns()[1].finditer(folded):
        word = m.group()
        if (hit := verdicts.get(word)) is None:
            hit = verdicts[word] = any(within_distance(word, t.words[0], t.maxdist) for t in terms)
        if hit:
            yield m.span()


def _search(folded: str, pattern: re.Pattern[str]) -> Iterable[Range]:
    """Matches of `pattern` that start a word."""
    pos = 0
    while (m := pattern.search(folded, pos)) is not None:
        if m.end() > m.start() and _starts_word(folded, m.start()):
            yield m.span()
            pos = m.end()
        else:  # not at a word start, or empty (a term that folds to nothing): move on
            pos = m.start() + 1
        if pos > len(folded):
            return


def snippet_for(
    body: str, terms: Sequence[Highlight], fuzzy_words: Collection[str] | None = None,
    width: int = SNIPPET_CHARS,
) -> tuple[str, list[Range]]:
    """``make_snippet(body, match_ranges(body, terms, fuzzy_words))``, matching only
    as much of a long body as the excerpt needs.

    The text is cut at a space: a match (a phrase aside) never spans one, and a
    phrase cut there can only be a later match than one found before the cut.
    A window is used once it holds a match after the first line more than
    4 * `width` characters before its end: the excerpt, which starts a little
    before that match, reads at most that many characters.
    """
    first_line_end = body.find("\n")
    size = _FIRST_WINDOW
    while size < len(body):
        cut = body.find(" ", size)
        if cut < 0:
            break
        ranges = match_ranges(body[:cut], terms, fuzzy_words)
        anchor = next((r for r in ranges if r[0] > first_line_end >= 0), None)
        if anchor is not None and anchor[0] + 4 * width < cut:
            return make_snippet(body, ranges, width)
        size *= 4
    return make_snippet(body, match_ranges(body, terms, fuzzy_words), width)


def make_snippet(body: str, ranges: Sequence[Range], width: int = SNIPPET_CHARS) -> tuple[str, list[Range]]:
    """A one-line excerpt of `body` of at most `width` characters around the first
    range after the first line (else the first range), and the ranges inside it.

    Whitespace is collapsed; '…' marks a cut at either end.  Without ranges the
    excerpt is the start of the note after its title line.
    """
    if not ranges:
        return leading_snippet(body, width), []
    first_line_end = body.find("\n")
    anchor = next((r for r in ranges if r[0] > first_line_end >= 0), ranges[0])
    start = max(0, anchor[0] - _CONTEXT_BEFORE)
    while start > 0 and not body[start - 1].isspace() and anchor[0] - start < 2 * _CONTEXT_BEFORE:
        start -= 1  # do not cut the word the excerpt starts in
    pieces: list[tuple[int, int]] = []  # (offset in body, offset in the excerpt)
    out: list[str] = []
    length = 0
    for m in _NON_SPACE.finditer(body, start, start + 4 * width):
        if length > width:
            break
        pieces.append((m.start(), length + (1 if out else 0)))
        length += len(m.group()) + (1 if out else 0)
        out.append(m.group())
    text = " ".join(out)
    lead = "…" if _NON_SPACE.search(body, 0, start) else ""
    end_in_body = pieces[-1][0] + len(out[-1]) if pieces else start
    cut = len(text) > width - len(lead) or _NON_SPACE.search(body, end_in_body) is not None
    keep = width - len(lead) - (1 if cut else 0)
    if len(text) > keep:
        space = text.rfind(" ", 0, keep + 1)
        text = text[: space if space > keep // 2 else keep].rstrip()
    excerpt = lead + text + ("…" if cut else "")
    return excerpt, _map_ranges(ranges, pieces, len(lead), len(text))


def _map_ranges(ranges: Sequence[Range], pieces: list[tuple[int, int]], shift: int, limit: int) -> list[Range]:
    """`ranges` (body offsets) -> excerpt offsets, for those inside the excerpt text."""
    if not pieces:
        return []
    starts = [p[0] for p in pieces]

    def to_excerpt(offset: int, is_end: bool) -> int | None:
        i = bisect_right(starts, offset - (1 if is_end else 0)) - 1
        if i < 0:
            return None
        return pieces[i][1] + offset - pieces[i][0]

    out: list[Range] = []
    lo = bisect_left([r[1] for r in ranges], starts[0] + 1)
    for start, end in ranges[lo:]:
        a, b = to_excerpt(max(start, starts[0]), False), to_excerpt(end, True)
        if a is None or b is None:
            continue
        if a >= limit:
            break  # this and every later range are past the excerpt
        out.append((shift + a, shift + min(b, limit)))
    return out


to_utf16 = cp_ranges_to_utf16  # the conversion lives in crdt_store.unicode_offsets
