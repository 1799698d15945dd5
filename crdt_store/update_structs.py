"""Reading Yjs v1 updates (lib0 encoding) without pycrdt: which ids an update carries.

Plain Python over the bytes, so it can be pointed at anything a peer sent: malformed
input raises UnsupportedUpdate (a ValueError), never worse. pycrdt's own readers of
update bytes (`get_update(update, state)` in particular) are not safe there: on
mutated updates that one corrupted the process's memory now and then (found by the
fuzz suite). Clocks count UTF-16 units, Yjs's unit for strings.
"""

from __future__ import annotations

import re

from .statevector import read_var_uint as _uint

_GC, _DELETED, _JSON, _BINARY, _STRING, _EMBED, _FORMAT, _TYPE, _ANY, _DOC, _SKIP = range(11)


MAX_CLOCK = 0xFFFF_FFFF  # yrs keeps clocks in 32 bits: an id past this wraps around


class UnsupportedUpdate(ValueError):
    """The update holds something this reader does not decode (never in a Plait note)."""


# ---- lib0 decoding ---------------------------------------------------------------------

def _skip_string(data: bytes, pos: int) -> int:
    n, pos = _uint(data, pos)
    return pos + n


def _skip_any(data: bytes, pos: int) -> int:
    kind = data[pos]
    pos += 1
    if kind in (127, 126, 121, 120):  # undefined, null, false, true
        return pos
    if kind == 125:  # var int
        while data[pos] >= 0x80:
            pos += 1
        return pos + 1
    if kind == 124:
        return pos + 4
    if kind in (123, 122):
        return pos + 8
    if kind == 119:
        return _skip_string(data, pos)
    if kind == 118:  # object
        n, pos = _uint(data, pos)
        for _ in range(n):
            pos = _skip_any(data, _skip_string(data, pos))
        return pos
    if kind == 117:  # array
        n, pos = _uint(data, pos)
        for _ in range(n):
            pos = _skip_any(data, pos)
        return pos
    if kind == 116:  # bytes
        return _skip_string(data, pos)
    raise UnsupportedUpdate(f"unknown lib0 value type {kind}")


def _utf16_units(raw: bytes) -> int:
    if raw.isascii():
        return len(raw)
    return len(raw.decode("utf-8", "surrogatepass").encode("utf-16-le", "surrogatepass")) // 2


def _skip_content(data: bytes, pos: int, ref: int) -> tuple[int, int]:
    """Past one item's content (not a string's); returns (new pos, clock length)."""
    if ref == _DELETED:
        return _uint(data, pos)[::-1]
    if ref == _JSON:
        n, pos = _uint(data, pos)
        for _ in range(n):
            pos = _skip_string(data, pos)
        return pos, n
    if ref in (_BINARY, _EMBED):
        return _skip_string(data, pos), 1
    if ref == _FORMAT:
        return _skip_string(data, _skip_string(data, pos)), 1
    if ref == _TYPE:
        type_ref, pos = _uint(data, pos)
        if type_ref in (3, 5):  # XmlElement, XmlHook: a name
            pos = _skip_string(data, pos)
        elif type_ref not in (0, 1, 2, 4, 6):
            raise UnsupportedUpdate(f"unsupported shared type {type_ref}")
        return pos, 1
    if ref == _ANY:
        n, pos = _uint(data, pos)
        for _ in range(n):
            pos = _skip_any(data, pos)
        return pos, n
    if ref == _DOC:
        return _skip_any(data, _skip_string(data, pos)), 1
    raise UnsupportedUpdate(f"unsupported item content {ref}")


_ONE_ID = re.compile(rb"[\x80-\xff]*[\x00-\x7f][\x80-\xff]*[\x00-\x7f]")  # two var uints
_TWO_IDS = re.compile(rb"(?:[\x80-\xff]*[\x00-\x7f]){4}")


def _skip_item_head(data: bytes, pos: int, info: int) -> int:
    """Past an item's origins and parent (`info` is its info byte, already read)."""
    origins = info & 0xC0
    if origins == 0xC0:
        return _TWO_IDS.match(data, pos).end()
    if origins:
        return _ONE_ID.match(data, pos).end()
    key, pos = _uint(data, pos)
    pos = _skip_string(data, pos) if key == 1 else _ONE_ID.match(data, pos).end()
    if info & 0x20:
        pos = _skip_string(data, pos)
    return pos


def _scan(update: bytes, strict: bool = False) -> tuple[dict[int, list[tuple[int, int]]], int]:
    """The id ranges an update's structs carry (skips excluded), per client, and where
    its delete set starts. `strict`: a struct of length 0, or one past MAX_CLOCK, raises
    (see `sound_ranges`)."""
    data = update
    ranges: dict[int, list[tuple[int, int]]] = {}
    blocks, pos = _uint(data, 0)
    for _ in range(blocks):
        structs, pos = _uint(data, pos)
        client, pos = _uint(data, pos)
        clock, pos = _uint(data, pos)
        start = clock
        mine = ranges.setdefault(client, [])
        for _ in range(structs):
            info = data[pos]
            ref = info & 0x1F
            if ref in (_GC, _SKIP):
                length, pos = _uint(data, pos + 1)
            else:
                pos = _skip_item_head(data, pos + 1, info)
                if ref == _STRING:
                    n, at = _uint(data, pos)
                    pos = at + n
                    length = _utf16_units(data[at:pos])
                else:
                    pos, length = _skip_content(data, pos, ref)
            if strict and (not length or clock + length > MAX_CLOCK):
                raise UnsupportedUpdate(f"a struct of length {length} at clock {clock} "
                                        f"of client {client}")
            if ref == _SKIP:
                if clock > start:
                    mine.append((start, clock))
                start = clock + length
            clock += length
        if clock > start:
            mine.append((start, clock))
    return {c: r for c, r in ranges.items() if r}, pos


def _var_uint(value: int) -> bytes:
    if value < 0x80:
        return bytes((value,))
    if value < 0x4000:
        return bytes(((value & 0x7F) | 0x80, value >> 7))
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _read_delete_set(data: bytes, pos: int, strict: bool = False
                     ) -> tuple[dict[int, list[tuple[int, int]]], int]:
    clients, pos = _uint(data, pos)
    found: dict[int, list[tuple[int, int]]] = {}
    for _ in range(clients):
        client, pos = _uint(data, pos)
        n, pos = _uint(data, pos)
        ranges = found.setdefault(client, [])
        for _ in range(n):
            clock, pos = _uint(data, pos)
            length, pos = _uint(data, pos)
            if strict and (not length or clock + length > MAX_CLOCK):
                raise UnsupportedUpdate(f"a deletion of length {length} at clock {clock} "
                                        f"of client {client}")
            ranges.append((clock, clock + length))
    return found, pos


def update_ranges(update: bytes) -> dict[int, list[tuple[int, int]]]:
    """The ids an update inserts, per client: (start, end) clock ranges. (pycrdt's
    `get_state(update)` is no substitute: like Yjs it leaves out every client whose
    structs do not start at clock 0, as in any incremental update.)"""
    return _read(lambda: _scan(update)[0])


def delete_ranges(update: bytes) -> dict[int, list[tuple[int, int]]]:
    """The ids an update deletes, per client: (start, end) clock ranges."""
    return _read(lambda: _read_delete_set(update, _scan(update)[1])[0])


def sound_ranges(update: bytes) -> dict[int, list[tuple[int, int]]]:
    """The ids `update` inserts (as `update_ranges`), once all of it has been read
    strictly: UnsupportedUpdate for anything unreadable, and for a struct or deletion
    of length 0 or reaching past clock 2^32 - 1. No Yjs encoder writes either, and yrs
    (pycrdt 0.14.13) merged both without complaint and was left reading freed memory:
    a crash at a later read of the text (found by the fuzz suite). Peer bytes pass
    here before yrs sees them."""
    def read() -> dict[int, list[tuple[int, int]]]:
        inserted, pos = _scan(update, strict=True)
        _read_delete_set(update, pos, strict=True)
        return inserted
    return _read(read)


def carries_beyond(update: bytes, have: dict[int, int]) -> bool:
    """Does `update` insert items past the state vector `have` (decoded)?"""
    return reaches_beyond(update_ranges(update), have)


def update_is_covered(update: bytes, have: dict[int, int]) -> bool:
    """True when a document at state vector `have` already holds everything `update`
    carries: its items, and the items its deletions name (a deletion of unseen items
    would still be waiting in Yrs). UnsupportedUpdate for bytes it cannot read."""
    def covered() -> bool:  # one pass over the bytes: compaction asks this of every row
        inserted, pos = _scan(update)
        if reaches_beyond(inserted, have):
            return False
        return not reaches_beyond(_read_delete_set(update, pos)[0], have)
    return _read(covered)


def reaches_beyond(ranges: dict[int, list[tuple[int, int]]], have: dict[int, int]) -> bool:
    """Does any of `ranges` (per client) end past the state vector `have`?"""
    return any(end > have.get(client, 0) for client, spans in ranges.items() for _, end in spans)


def _read(action):
    try:
        return action()
    except UnsupportedUpdate:
        raise
    except (IndexError, ValueError, AttributeError, RecursionError) as exc:
        # (AttributeError: an id that is not two numbers; RecursionError: nesting)
        raise UnsupportedUpdate("the update is malformed or ends early") from exc
