"""Conversions between the three ways Plait counts positions in text.

* Python ``str`` indices count **code points** (the unit used by the rest of Plait).
* pycrdt ``Text`` indices and ``TextEvent.delta`` counts are **UTF-8 bytes**.
* Qt positions are **UTF-16 code units**.

Every conversion lives here so that no other module does offset arithmetic.
pycrdt does not validate byte offsets (0.14.13 / yrs 0.28): an insert inside a
character or past the end silently lands at the end of the text, and a delete
inside a character panics.  So everything here validates and raises
``ValueError`` before a bad offset can reach the CRDT.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

__all__ = [
    "TextOp",
    "apply_ops",
    "cp_ranges_to_utf16",
    "cp_to_utf16",
    "cp_to_utf8",
    "ops_to_utf16",
    "ops_to_utf8",
    "sanitize",
    "utf16_len",
    "utf16_offsets_to_cp",
    "utf16_ops_to_cp",
    "utf16_to_cp",
    "utf8_delta_to_ops",
    "utf8_len",
    "utf8_to_cp",
]

_SURROGATE = re.compile("[\ud800-\udfff]")

UnitOp = tuple[int, int, str]
"""``(pos, delete, insert)`` with ``pos`` and ``delete`` in code units of some encoding."""


@dataclass(frozen=True, slots=True)
class TextOp:
    """One splice in code points: at ``pos`` delete ``delete`` code points, then insert ``insert``.

    In a sequence of ops each ``pos`` refers to the text produced by the previous op.
    """

    pos: int
    delete: int
    insert: str

    def __post_init__(self) -> None:
        if self.pos < 0 or self.delete < 0:
            raise ValueError(f"negative position or length in {self!r}")
        if not isinstance(self.insert, str):
            raise TypeError(f"TextOp.insert must be str, got {type(self.insert).__name__}")


def sanitize(s: str) -> str:
    """Replace lone surrogates with U+FFFD, keeping the code-point length.

    Qt/PySide can hand us unpaired surrogates; they cannot be encoded as UTF-8,
    so pycrdt (Rust) rejects them.
    """
    if s.isascii() or _SURROGATE.search(s) is None:
        return s
    return _SURROGATE.sub("\ufffd", s)


def utf8_len(s: str) -> int:
    """Length of ``s`` in UTF-8 bytes (pycrdt units). Lone surrogates raise ``UnicodeEncodeError``."""
    return len(s) if s.isascii() else len(s.encode("utf-8"))


def utf16_len(s: str) -> int:
    """Length of ``s`` in UTF-16 code units (Qt units); a lone surrogate counts as one unit."""
    return len(s) if s.isascii() else len(s.encode("utf-16-le", "surrogatepass")) // 2


class _Codec(NamedTuple):
    """How to count and split text in the code units of one encoding."""

    name: str
    encoding: str
    errors: str
    unit: int  # bytes per code unit
    measure: Callable[[str], int]
    inside: Callable[[bytes, int], bool]  # is byte index k strictly inside a character?


def _inside_utf8(buf: bytes, k: int) -> bool:
    return 0 < k < len(buf) and 0x80 <= buf[k] < 0xC0


def _inside_utf16(buf: bytes, k: int) -> bool:
    # k is a multiple of 2; inside a pair means a high surrogate at k-2 and a low one at k.
    return 0 < k < len(buf) and 0xD8 <= buf[k - 1] <= 0xDB and 0xDC <= buf[k + 1] <= 0xDF


_UTF8 = _Codec("UTF-8 byte", "utf-8", "strict", 1, utf8_len, _inside_utf8)
_UTF16 = _Codec("UTF-16 unit", "utf-16-le", "surrogatepass", 2, utf16_len, _inside_utf16)


def _check_cp(text: str, cp: int) -> None:
    if not 0 <= cp <= len(text):
        raise ValueError(f"code-point offset {cp} out of range 0..{len(text)}")


def _units_to_cp(text: str, offset: int, codec: _Codec) -> int:
    if text.isascii():
        if not 0 <= offset <= len(text):
            raise ValueError(f"{codec.name} offset {offset} out of range 0..{len(text)}")
        return offset
    buf = text.encode(codec.encoding, codec.errors)
    k = offset * codec.unit
    if not 0 <= k <= len(buf):
        raise ValueError(f"{codec.name} offset {offset} out of range 0..{len(buf) // codec.unit}")
    if codec.inside(buf, k):
        raise ValueError(f"{codec.name} offset {offset} falls inside a character")
    return len(buf[:k].decode(codec.encoding, codec.errors))


def cp_to_utf8(text: str, cp: int) -> int:
    """Code-point offset in ``text`` -> UTF-8 byte offset."""
    _check_cp(text, cp)
    return cp if text.isascii() else utf8_len(text[:cp])


def utf8_to_cp(text: str, byte_offset: int) -> int:
    """UTF-8 byte offset in ``text`` -> code-point offset; ``ValueError`` if inside a character or out of range."""
    return _units_to_cp(text, byte_offset, _UTF8)


def cp_to_utf16(text: str, cp: int) -> int:
    """Code-point offset in ``text`` -> UTF-16 code-unit offset."""
    _check_cp(text, cp)
    return cp if text.isascii() else utf16_len(text[:cp])


def utf16_to_cp(text: str, u16: int) -> int:
    """UTF-16 offset in ``text`` -> code-point offset; ``ValueError`` inside a surrogate pair or out of range.

    ``text`` should be sanitized: two adjacent lone surrogates forming a valid
    high/low pair would be read back as one character.
    """
    return _units_to_cp(text, u16, _UTF16)


def _check_op(pos: int, delete: int, length: int, unit: str) -> None:
    if pos < 0 or delete < 0 or pos + delete > length:
        raise ValueError(f"op at {pos} deleting {delete} ({unit}s) is out of range 0..{length}")


def _forward(text: str, ops: Iterable[TextOp], measure: Callable[[str], int]) -> tuple[list[UnitOp], str]:
    """Walk sequential code-point ops over ``text``; return them measured by ``measure`` plus the result.

    Linear in len(text) when ops move left to right (the usual case); an op
    that jumps backwards re-joins the text built so far and carries on.
    """
    out: list[UnitOp] = []
    done: list[str] = []  # the new text before the cursor, in pieces
    done_cp = 0  # its length in code points ...
    done_units = 0  # ... and in measured units
    rest, i = text, 0  # the not-yet-visited tail of the text is rest[i:]
    for op in ops:
        _check_op(op.pos, op.delete, done_cp + len(rest) - i, "code point")
        if op.pos < done_cp:
            rest, i = "".join(done) + rest[i:], 0
            done, done_cp, done_units = [], 0, 0
        skipped = rest[i : i + op.pos - done_cp]
        i += len(skipped)
        deleted = rest[i : i + op.delete]
        i += op.delete
        done_units += measure(skipped)
        out.append((done_units, measure(deleted), op.insert))
        done += (skipped, op.insert)
        done_cp = op.pos + len(op.insert)
        done_units += measure(op.insert)
    return out, "".join(done) + rest[i:]


def _backward(text: str, ops: Iterable[UnitOp], codec: _Codec) -> list[TextOp]:
    """Walk sequential ops counted in ``codec`` units over ``text``; return them as code-point ops."""
    out: list[TextOp] = []
    done: list[str] = []
    done_cp = 0
    done_units = 0
    buf, j = text.encode(codec.encoding, codec.errors), 0  # the unvisited tail is buf[j:]

    def take(n: int, offset: int) -> str:
        nonlocal j
        end = j + n * codec.unit
        if codec.inside(buf, end):
            raise ValueError(f"{codec.name} offset {offset} falls inside a character")
        piece = buf[j:end].decode(codec.encoding, codec.errors)
        j = end
        return piece

    for pos, delete, insert in ops:
        _check_op(pos, delete, done_units + (len(buf) - j) // codec.unit, codec.name)
        if pos < done_units:
            current = "".join(done) + buf[j:].decode(codec.encoding, codec.errors)
            buf, j = current.encode(codec.encoding, codec.errors), 0
            done, done_cp, done_units = [], 0, 0
        skipped = take(pos - done_units, pos)
        deleted = take(delete, pos + delete)
        out.append(TextOp(done_cp + len(skipped), len(deleted), insert))
        done += (skipped, insert)
        done_cp += len(skipped) + len(insert)
        done_units = pos + codec.measure(insert)
    return out


def apply_ops(text: str, ops: Iterable[TextOp]) -> str:
    """Apply sequential code-point ops to ``text``; ``ValueError`` if an op is out of range."""
    return _forward(text, ops, len)[1]


def removed_text(text: str, ops: Iterable[TextOp]) -> str:
    """The text sequential ops delete from ``text``, in op order."""
    removed = []
    for op in ops:
        if op.delete:
            removed.append(text[op.pos:op.pos + op.delete])
        text = text[:op.pos] + op.insert + text[op.pos + op.delete:]
    return "".join(removed)


def ops_to_utf8(text: str, ops: Sequence[TextOp]) -> list[UnitOp]:
    """Sequential code-point ops on ``text`` -> sequential ``(byte_pos, byte_delete, insert)`` ops for pycrdt."""
    if text.isascii() and all(op.insert.isascii() for op in ops):
        length = len(text)
        for op in ops:
            _check_op(op.pos, op.delete, length, "code point")
            length += len(op.insert) - op.delete
        return [(op.pos, op.delete, op.insert) for op in ops]
    return _forward(text, ops, utf8_len)[0]


def ops_to_utf16(text: str, ops: Sequence[TextOp]) -> list[UnitOp]:
    """Sequential code-point ops on ``text`` -> sequential UTF-16 ``(pos, delete, insert)`` ops for Qt."""
    return _forward(text, ops, utf16_len)[0]


def utf16_ops_to_cp(text: str, ops: Sequence[UnitOp]) -> list[TextOp]:
    """Sequential UTF-16 ``(pos, delete, insert)`` ops on ``text`` (e.g. from Qt) -> code-point ops.

    ``ValueError`` if an offset is out of range or splits a surrogate pair.
    """
    return _backward(text, ops, _UTF16)


def _count(entry: dict, key: str) -> int:
    n = entry[key]
    if not isinstance(n, int) or n < 0:
        raise ValueError(f"bad {key} count in delta entry {entry!r}")
    return n


def utf8_delta_to_ops(old_text: str, delta: Iterable[dict]) -> list[TextOp]:
    """A pycrdt ``TextEvent.delta`` on ``old_text`` -> sequential code-point ops.

    Verified against pycrdt 0.14.13: ``retain`` and ``delete`` count UTF-8 bytes
    of the old text and ``insert`` is a ``str`` (e.g. deleting "😀" from "é😀x"
    gives ``[{"retain": 2}, {"delete": 4}]``).  Entries may carry an
    ``"attributes"`` key (formatting); it is ignored.  Embeds (non-str inserts)
    raise ``ValueError``.
    """
    byte_ops: list[UnitOp] = []
    cursor = 0  # byte position in the text as edited so far
    for entry in delta:
        if "insert" in entry:
            insert = entry["insert"]
            if not isinstance(insert, str):
                raise ValueError(f"non-text insert in delta: {insert!r}")
            byte_ops.append((cursor, 0, insert))
            cursor += utf8_len(insert)
        elif "delete" in entry:
            byte_ops.append((cursor, _count(entry, "delete"), ""))
        elif "retain" in entry:
            cursor += _count(entry, "retain")
        else:
            raise ValueError(f"unknown delta entry: {entry!r}")
    byte_ops.append((cursor, 0, ""))  # validates trailing retains
    ops: list[TextOp] = []
    for op in _backward(old_text, byte_ops, _UTF8):
        prev = ops[-1] if ops else None
        if not op.delete and not op.insert:
            continue
        if prev is not None and prev.pos + len(prev.insert) == op.pos:
            ops[-1] = TextOp(prev.pos, prev.delete + op.delete, prev.insert + op.insert)
        else:
            ops.append(op)
    return ops


_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def cp_ranges_to_utf16(text: str, ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Many code-point (start, end) ranges of `text` as UTF-16 ranges, in one pass:
    each astral character before an offset adds one unit (search highlights)."""
    if text.isascii():
        return list(ranges)
    astral = [m.start() for m in _ASTRAL.finditer(text)]
    return [(a + bisect_left(astral, a), b + bisect_left(astral, b)) for a, b in ranges]


def utf16_offsets_to_cp(text: str, offsets: Iterable[int]) -> list[int]:
    """Many UTF-16 offsets of `text` as code-point offsets, in one pass (authorship:
    CRDT clocks count UTF-16 units). An offset inside a surrogate pair maps to the
    character's start; out-of-range offsets are not checked."""
    if text.isascii():
        return list(offsets)
    astral = [m.start() for m in _ASTRAL.finditer(text)]
    if not astral:
        return list(offsets)
    starts = [a + i for i, a in enumerate(astral)]  # each astral character's UTF-16 offset
    return [u - bisect_left(starts, u) for u in offsets]
