"""Plain-text facts about a Markdown note: title, tags, snippet, front matter, file name.

Everything here is a pure function of its arguments (no I/O, no Qt, no state), so the
store, the index and the importer/exporter all derive the same answers.  The functions
that run on every keystroke (``derive_title``, ``snippet``) only look at the start of
the body, so they stay cheap on notes of several megabytes.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

__all__ = [
    "FrontMatterError",
    "derive_tags",
    "derive_title",
    "format_front_matter",
    "safe_filename",
    "snippet",
    "split_front_matter",
    "unique_name",
]

TITLE_MAX_CHARS = 200
FILENAME_MAX_BYTES = 120
_SNIPPET_SCAN_CHARS = 4096  # how much text after the title line a snippet may read


# --------------------------------------------------------------------------- title


def _title_line(body: str) -> tuple[int, int] | None:
    """(start, end) of the first line that is not blank, or None; never splits the body."""
    start = 0
    while start < len(body):
        end = body.find("\n", start)
        if end == -1:
            end = len(body)
        if body[start:end].strip():
            return start, end
        start = end + 1
    return None


_ATX_OPEN = re.compile(r"#{1,6}[ \t]+")
_ATX_CLOSE = re.compile(r"[ \t]+#+$")


def derive_title(body: str) -> str:
    """The first non-blank line, minus an ATX heading marker, at most 200 characters.

    ``# Title #`` gives ``Title`` (the optional closing hashes of an ATX heading go too);
    emphasis such as ``**bold**`` is kept as written so the rule stays predictable.
    An empty body gives ``""``; the UI shows "Untitled" for it.
    """
    span = _title_line(body)
    if span is None:
        return ""
    line = body[span[0] : span[1]].strip()
    heading = _ATX_OPEN.match(line)
    if heading:
        line = _ATX_CLOSE.sub("", line[heading.end() :]).strip()
    return line[:TITLE_MAX_CHARS].rstrip()


# --------------------------------------------------------------------------- tags

_FENCE_OPEN = re.compile(r"[ \t]*(`{3,}|~{3,})(.*)")
_FENCE_CLOSE = re.compile(r"[ \t]*(`{3,}|~{3,})[ \t]*")
# A run of n backticks, some text, and the next run of exactly n backticks.
_CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)")
_TAG_PUNCTUATION = "_-/"
# '#' at the start, or after whitespace or '(', then a run of tag characters.
_TAG_START = re.compile(r"(?<![^\s(])#[\w/-]+")


def _prose_lines(body: str) -> Iterator[str]:
    """The lines outside fenced code blocks, with each inline code span reduced to one '`'.

    An unclosed fence runs to the end of the note, as in CommonMark.  Code spans are
    matched within a line only.
    """
    fence: str | None = None
    for line in body.splitlines():
        if fence is not None:
            close = _FENCE_CLOSE.fullmatch(line)
            if close and close[1][0] == fence[0] and len(close[1]) >= len(fence):
                fence = None
            continue
        opening = _FENCE_OPEN.match(line)
        if opening and not (opening[1][0] == "`" and "`" in opening[2]):
            fence = opening[1]
            continue
        yield _CODE_SPAN.sub("`", line) if "`" in line else line


def _is_tag_char(ch: str) -> bool:
    return ch.isalnum() or ch in _TAG_PUNCTUATION or unicodedata.category(ch)[0] == "M"


def _is_tag(text: str) -> bool:
    """Non-empty, not starting with '/', and not only digits, '-' and '/' (#123, #2024-01-05)."""
    return (
        bool(text)
        and not text.startswith("/")
        and any(not (ch.isdigit() or ch in "-/") for ch in text)
    )


def tag_spans(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) code-point offsets of each ``#tag`` in `text`, from the '#' to the end
    of the name (a trailing '/' excluded). Does not skip code: callers pass prose.

    A tag is '#' then letters, digits, marks, '_', '-' or '/' (``#project/plait``),
    opened at the start of a line or after whitespace or '('. Not tags: ``## Heading``,
    a lone ``#``, ``a#b``, ``http://x.com/#frag``, ``[x](#anchor)``, ``#123``.
    """
    for candidate in _TAG_START.finditer(text):
        i, end = candidate.span()
        if i >= 2 and text[i - 2 : i] == "](":
            continue  # link destination: [text](#anchor)
        while end < len(text) and _is_tag_char(text[end]):
            end += 1  # \w does not cover combining marks
        tag = text[i + 1 : end].rstrip("/")
        if _is_tag(tag):
            yield i, i + 1 + len(tag)


def derive_tags(body: str) -> list[str]:
    """The ``#tags`` of a note (see tag_spans), without '#', outside code, in order of
    first use, deduplicated ignoring case; the first spelling wins."""
    if "#" not in body:
        return []
    prose = "\n".join(_prose_lines(body)) if "`" in body or "~" in body else body
    tags: list[str] = []
    seen: set[str] = set()  # normalised, case-folded tags
    for start, end in tag_spans(prose):
        tag = prose[start + 1 : end]
        key = unicodedata.normalize("NFC", tag).casefold()
        if key not in seen:
            seen.add(key)
            tags.append(tag)
    return tags


# --------------------------------------------------------------------------- snippet

_BLOCK_MARKER = re.compile(
    r"[ \t]*(?:>[ \t]?|#{1,6}(?=[ \t]|$)|[-*+](?:[ \t]+\[[ xX]\])?(?=[ \t]|$)|\d{1,9}[.)](?=[ \t]|$))"
)
_DECORATION_LINE = re.compile(r"[ \t]*(?:(?:[-*_=][ \t]*){3,}|`{3,}.*|~{3,}.*)")


def _strip_block_markers(line: str) -> str:
    while True:
        marker = _BLOCK_MARKER.match(line)
        if not marker:
            return line
        line = line[marker.end() :]


def snippet(body: str, length: int = 120) -> str:
    """One line of preview text from the lines after the title, at most ``length`` characters.

    Block markers (``#``, ``>``, ``-``, ``*``, ``+``, ``1.``, ``- [ ]``) are stripped from
    each line, rules and fence lines are skipped, and whitespace is collapsed.  Text
    that is cut ends with '…' (counted in ``length``).  Reads only the first few KB.
    """
    span = _title_line(body)
    if span is None or length <= 0:
        return ""
    start = span[1] + 1
    window = body[start : start + _SNIPPET_SCAN_CHARS + length]
    words: list[str] = []
    size = -1
    for line in window.splitlines():
        if _DECORATION_LINE.fullmatch(line):
            continue
        for word in _strip_block_markers(line).split():
            words.append(word)
            size += len(word) + 1
        if size > length:
            break
    text = " ".join(words)
    if len(text) <= length:
        return text
    return text[: length - 1].rstrip() + "…"


# --------------------------------------------------------------------------- front matter


class FrontMatterError(ValueError):
    """Front matter that cannot be read; ``line`` is 1-based, counting the opening '---'."""

    def __init__(self, message: str, line: int) -> None:
        self.line = line
        super().__init__(f"front matter line {line}: {message}")


_OPENING = re.compile(r"\ufeff?---[ \t]*\r?(?:\n|$)")
_KEY_LINE = re.compile(r"(?!-[ \t]|-$)(?P<key>[^\s#][^:]*?)[ \t]*:(?:[ \t]+(?P<value>.*))?")
_BLOCK_ITEM = re.compile(r"-(?:[ \t]+|$)")
_PLAIN_COMMENT = re.compile(r"[ \t]+#")
_AFTER_QUOTE = re.compile(r"[ \t]*(?:[ \t]#.*)?")
_INT = re.compile(r"[-+]?[0-9]+")
_NULLS = frozenset({"~", "null", "Null", "NULL"})
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_ESCAPES_IN = {
    "0": "\0", "a": "\a", "b": "\b", "t": "\t", "\t": "\t", "n": "\n", "v": "\v", "f": "\f",
    "r": "\r", "e": "\x1b", " ": " ", '"': '"', "/": "/", "\\": "\\", "N": "\x85",
    "_": "\xa0", "L": "\u2028", "P": "\u2029",
}  # fmt: skip
_HEX_ESCAPES = {"x": 2, "u": 4, "U": 8}

Lines = list[tuple[int, str]]  # (1-based line number, text without line break)


def split_front_matter(text: str) -> tuple[dict[str, object], str]:
    """Split leading YAML front matter from a note: ``(mapping, body)``.

    Front matter starts with a ``---`` line (a UTF-8 BOM before it is allowed) and ends
    at the next ``---`` or ``...`` line; the body is what follows, minus that line's
    newline.  Text that does not start with ``---`` gives ``({}, text)`` unchanged.

    The YAML subset read: ``key: value`` with plain, 'single' or "double" quoted
    scalars; ``true``/``false``; decimal integers; empty, ``~`` or ``null`` as None;
    inline lists ``[a, "b c"]``; block lists (``key:`` then ``- item`` lines, indented
    or not); ``#`` comments on their own line or after a value.

    The rule for anything else:

    * Valid YAML outside the subset is kept, not dropped: a value that continues on
      indented lines (nested mapping, ``|`` block, multi-line string) comes back as
      its source text, dedented, with the part after the colon as first line, e.g.
      ``"name: Ada\\nborn: 1815"``.  Single-line oddities (floats, ``{a: 1}``, ``!tag``,
      dates) come back as plain strings, and ``key: a: b`` is read as ``"a: b"``.
    * :class:`FrontMatterError` names the line when the structure is broken: no
      closing line, a line that is not ``key: value`` (no colon, ``key:value``, a list
      item or indented text with no key above it), a repeated key, or a malformed
      quoted string or inline list on a single line (unterminated, bad escape, text
      after the closing quote).
    """
    opening = _OPENING.match(text)
    if not opening:
        return {}, text
    lines: Lines = []
    pos, number = opening.end(), 1
    while pos < len(text):
        end = text.find("\n", pos)
        end = len(text) if end == -1 else end
        line = text[pos:end].removesuffix("\r")
        number += 1
        if line.rstrip(" \t") in ("---", "..."):
            return _parse_mapping(lines), text[end + 1 :]
        lines.append((number, line))
        pos = end + 1
    raise FrontMatterError("no closing '---' line", 1)


def _parse_mapping(lines: Lines) -> dict[str, object]:
    entries: list[tuple[int, str, str, Lines]] = []  # number, key, inline value, more lines
    for number, line in lines:
        stripped = line.strip()
        if entries and (not stripped or line[0] in " \t"):
            entries[-1][3].append((number, line))
        elif not stripped or stripped.startswith("#"):
            continue
        elif line[0] in " \t":
            raise FrontMatterError("indented line without a key above it", number)
        elif _BLOCK_ITEM.match(line) and entries and not entries[-1][2]:
            entries[-1][3].append((number, line))
        elif key_line := _KEY_LINE.fullmatch(line):
            entries.append((number, key_line["key"], (key_line["value"] or "").strip(), []))
        else:
            raise FrontMatterError(f"expected 'key: value', got {stripped[:40]!r}", number)
    mapping: dict[str, object] = {}
    for number, key, inline, more in entries:
        if key in mapping:
            raise FrontMatterError(f"key {key!r} appears twice", number)
        mapping[key] = _entry_value(number, inline, more)
    return mapping


def _entry_value(number: int, inline: str, more: Lines) -> object:
    content = [(n, t) for n, t in more if t.strip() and not t.lstrip().startswith("#")]
    if not content:
        return _inline_value(number, inline)
    if not inline:
        items = _block_list(content)
        if items is not None:
            return items
    last = max(i for i, (_, t) in enumerate(more) if t.strip())
    texts = [line for _, line in more[: last + 1]]
    indent = min(len(t) - len(t.lstrip(" \t")) for t in texts if t.strip())
    block = "\n".join(t[indent:].rstrip() for t in texts)
    return f"{inline}\n{block}" if inline else block


def _block_list(content: Lines) -> list[object] | None:
    """The items of a block list (comment and blank lines removed), or None if not a list."""
    indent = len(content[0][1]) - len(content[0][1].lstrip(" \t"))
    items: list[object] = []
    for number, line in content:
        item = _BLOCK_ITEM.match(line, indent)
        if line[:indent].strip(" \t") or not item:
            return None
        value = line[item.end() :].strip()
        if value.startswith(("[", "{")) or _BLOCK_ITEM.match(value):
            return None  # nested collection
        items.append(_inline_value(number, value))
    return items


def _inline_value(number: int, text: str) -> object:
    if not text or text.startswith("#"):
        return None
    if text[0] in "\"'":
        value, end = _quoted(number, text, 0)
        _expect_end(number, text, end)
        return value
    if text[0] == "[":
        return _flow_list(number, text)
    comment = _PLAIN_COMMENT.search(text)
    return _plain(text[: comment.start()] if comment else text)


def _plain(text: str) -> object:
    if not text or text in _NULLS:
        return None
    if text in _BOOLS:
        return _BOOLS[text]
    if _INT.fullmatch(text):
        return int(text)
    return text


def _expect_end(number: int, text: str, end: int) -> None:
    if not _AFTER_QUOTE.fullmatch(text, end):
        raise FrontMatterError(f"unexpected text after the value: {text[end:][:40]!r}", number)


def _quoted(number: int, text: str, start: int) -> tuple[str, int]:
    """The value of the quoted scalar opening at ``text[start]`` and the index after it."""
    quote, out, i = text[start], [], start + 1
    while i < len(text):
        ch = text[i]
        if ch == quote:
            if quote == "'" and text.startswith("'", i + 1):
                out.append("'")
                i += 2
                continue
            return "".join(out), i + 1
        if ch == "\\" and quote == '"':
            escaped, i = _escape(number, text, i)
            out.append(escaped)
            continue
        out.append(ch)
        i += 1
    raise FrontMatterError("unterminated quoted string", number)


def _escape(number: int, text: str, i: int) -> tuple[str, int]:
    code = text[i + 1 : i + 2]
    if code in _ESCAPES_IN:
        return _ESCAPES_IN[code], i + 2
    digits = text[i + 2 : i + 2 + _HEX_ESCAPES.get(code, 0)]
    if code in _HEX_ESCAPES and re.fullmatch(f"[0-9a-fA-F]{{{_HEX_ESCAPES[code]}}}", digits):
        value = int(digits, 16)
        if value <= 0x10FFFF:
            return chr(value), i + 2 + len(digits)
    raise FrontMatterError(f"bad escape sequence {text[i : i + 2 + len(digits)]!r}", number)


def _flow_list(number: int, text: str) -> object:
    """An inline list ``[a, "b", 3]``; nested collections come back as the raw string."""
    items: list[object] = []
    i = 1
    while True:
        i = _skip_blanks(text, i)
        if i < len(text) and text[i] == "]":
            break
        if i >= len(text):
            raise FrontMatterError("missing ']' at the end of the list", number)
        if text[i] in "[{":
            return text
        if text[i] in "\"'":
            value, i = _quoted(number, text, i)
            items.append(value)
        else:
            end = i
            while end < len(text) and text[end] not in ",]":
                end += 1
            if not text[i:end].strip():
                raise FrontMatterError("empty item in list", number)
            items.append(_plain(text[i:end].strip()))
            i = end
        i = _skip_blanks(text, i)
        if i >= len(text):
            raise FrontMatterError("missing ']' at the end of the list", number)
        if text[i] == ",":
            i += 1
        elif text[i] != "]":
            raise FrontMatterError("expected ',' or ']' in list", number)
    _expect_end(number, text, i + 1)
    return items


def _skip_blanks(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t":
        i += 1
    return i


_SPECIAL_CHARS = frozenset(":#[]{},&*!|>'\"%@`")
_NEEDS_ESCAPE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff\ud800-\udfff]")
_ESCAPES_OUT = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}
_LOOKS_TYPED = re.compile(
    r"(?i:y|n|yes|no|on|off|true|false|null|~)"
    r"|[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)(?:[eE][-+]?[0-9]+)?"
    r"|0[xXoObB][0-9a-fA-F_]+|[-+]?\.(?i:inf|nan)"
)
_BAD_KEY_START = frozenset("-?~") | _SPECIAL_CHARS


def split_front_matter_leniently(text: str) -> tuple[dict[str, object], str]:
    """Like split_front_matter, but text whose front matter is broken is all body.

    For note bodies, which may carry front matter kept from an import: a note
    must always show, so a broken block is just text.
    """
    if not text.startswith(("---", "\ufeff---")):
        return {}, text
    try:
        return split_front_matter(text)
    except FrontMatterError:
        return {}, text


def format_front_matter(data: dict[str, object]) -> str:
    """``---`` / ``key: value`` lines in insertion order / ``---``, read back by split_front_matter.

    Values may be None (written ``key:``), bool, int, str, or a list/tuple of those
    (written inline, ``[a, "b c"]``).  Strings are double-quoted only when needed, with
    ``\\n``-style escapes.  Keys must be one-line text without ':' or '#' that does not
    start with a YAML indicator; anything else raises ValueError / TypeError.
    """
    lines = ["---"]
    for key, value in data.items():
        _check_key(key)
        lines.append(f"{key}:" if value is None else f"{key}: {_format_value(value)}")
    lines.append("---")
    return "\n".join(lines) + "\n"


def _check_key(key: object) -> None:
    if not isinstance(key, str):
        raise TypeError(f"front matter keys must be str, not {type(key).__name__}")
    if (
        not key
        or key != key.strip()
        or key[0] in _BAD_KEY_START
        or ":" in key
        or "#" in key
        or _NEEDS_ESCAPE.search(key)
        or key in ("---", "...")
    ):
        raise ValueError(f"unsupported front matter key {key!r}")


def _format_value(value: object) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_format_scalar(item) for item in value) + "]"
    return _format_scalar(value)


def _format_scalar(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _quote(value) if _needs_quotes(value) else value
    raise TypeError(f"unsupported front matter value type {type(value).__name__}")


def _needs_quotes(text: str) -> bool:
    return (
        not text
        or text != text.strip()
        or text[0] in "-?"
        or not _SPECIAL_CHARS.isdisjoint(text)
        or _NEEDS_ESCAPE.search(text) is not None
        or _LOOKS_TYPED.fullmatch(text) is not None
    )


def _quote(text: str) -> str:
    def escape(match: re.Match[str]) -> str:
        ch = match[0]
        return _ESCAPES_OUT.get(ch) or f"\\u{ord(ch):04x}"

    return '"' + re.sub(r'[\\"]|' + _NEEDS_ESCAPE.pattern, escape, text) + '"'


# --------------------------------------------------------------------------- file names

_FORBIDDEN_RUN = re.compile(r'[/\\:*?"<>|\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]+')
_EDGES = re.compile(r"^[\s.]+|[\s.]+$")
_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"{port}{n}" for port in ("COM", "LPT") for n in [*"0123456789", "¹", "²", "³"]}
)


def _fit(stem: str) -> str:
    """Cut to FILENAME_MAX_BYTES of UTF-8 on a code-point boundary, then trim the edges."""
    encoded = stem.encode("utf-8")
    if len(encoded) > FILENAME_MAX_BYTES:
        stem = encoded[:FILENAME_MAX_BYTES].decode("utf-8", errors="ignore")
    return _EDGES.sub("", stem)


def safe_filename(title: str, fallback: str = "Untitled") -> str:
    """A file-name stem for ``title`` that Linux, macOS and Windows all accept.

    NFC-normalised; ``/ \\ : * ? " < > |`` and control characters become '-' (a run
    becomes one '-'); leading/trailing whitespace and dots go; Windows device names
    (``CON``, ``com1.txt``, ...) get '_' after the device part; at most 120 UTF-8 bytes.
    Letters of any script and emoji are kept.  Returns ``fallback`` (as given) when
    nothing is left.  Applying it twice changes nothing.
    """
    stem = _fit(_FORBIDDEN_RUN.sub("-", unicodedata.normalize("NFC", title)))
    device = stem.split(".", 1)[0].rstrip()
    if device.upper() in _RESERVED:
        stem = _fit(device + "_" + stem[len(device) :])
    return stem or fallback


def unique_name(stem: str, taken: set[str], ext: str = ".md") -> str:
    """``stem + ext``, or ``"stem (2)" + ext``, ... the first not in ``taken``; records it there.

    Names are compared NFC-normalised and case-folded, because macOS and Windows file
    systems treat ``Note.md`` and ``note.md`` as the same file.
    """
    used = {unicodedata.normalize("NFC", name).casefold() for name in taken}
    name, n = stem + ext, 1
    while unicodedata.normalize("NFC", name).casefold() in used:
        n += 1
        name = f"{stem} ({n}){ext}"
    taken.add(name)
    return name
