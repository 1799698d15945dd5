"""Who wrote each character of a note, and when: by CRDT client id, named from the
member list. GUI-free.

**Item ids.** pycrdt 0.14.13 exposes no item ids for text: `Text.diff` takes no
attribution, and `IdMap`/`IdSet` are free-standing containers that nothing in the
text API fills or reads. So the ids are recovered from the one thing that carries
them, the document's v1 update (lib0 encoding). `item_order` puts every text unit
of a document, deleted ones included, in document order as `(client, clock, units)`
runs. It does not reimplement YATA: it rewrites each string item's content into a
marker character naming the item (as many UTF-16 units as before, so every clock
and every origin stays put), drops the delete set, and lets Yrs integrate the
result into a throwaway document. The marker text read back *is* the document
order; the parts of one item always appear in clock order, and an item is named
by one character per pass (63,488 names per pass; a second pass only past that).
The delete set of a Snapshot then says which units are live (`Layout`).

**Times.** The CRDT has no clocks, so the time of a unit is when its client's clock
first reached past it in this vault's records (`Timeline`), read in order from the
note's version marks (after compaction: the end of the editing session), its update
rows (each row's wall time, the author's clock for a collaborator's row) and the
changes not yet on disk. Text that arrived inside a whole-document transfer (a
join from a relay snapshot) gets that transfer's time, and text older than every
record has no time (None).

**Names.** A client id maps to a device (this device's own ids; the members lists'
current ids; ids learned from collaborators' updates, kept in `client_authors`), and
a device to its name in the members list (else the name its updates carried).

Clocks count UTF-16 units (Yjs's unit for strings); `unicode_offsets` turns them
into code points.
"""

from __future__ import annotations

import logging
import re
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from pycrdt import Doc, Snapshot, Text

from ..errors import CorruptUpdateError
from ..events import ChangeEvent, DocKind
from ..guard import guarded
from ..identity import Author
from ..model import BODY
from ..sharing import Member
from ..statevector import decode_state_vector, read_var_uint as _uint
from ..storage import Storage
from ..unicode_offsets import utf16_len, utf16_offsets_to_cp
from ..update_structs import (_GC, _SKIP, _STRING, UnsupportedUpdate, _read_delete_set,
                              _skip_content, _skip_item_head, _utf16_units, _var_uint,
                              delete_ranges, update_ranges)

log = logging.getLogger(__name__)

# ---- item ids from the v1 encoding ------------------------------------------------------

Run = tuple[int, int, int]  # (client, first clock, length in UTF-16 units)

# Every BMP character that is not a surrogate: one UTF-16 unit each.
_ALPHABET = "".join(chr(c) for c in range(0x10000) if not 0xD800 <= c <= 0xDFFF)
_BASE = len(_ALPHABET)  # 63,488
_RUNS = re.compile(r"(.)\1*", re.S)

def _rewrite(update: bytes, passes: int) -> tuple[list[bytes], list[tuple[int, int]]]:
    """The update with each string item's content replaced by its marker and no delete
    set, once per pass (pass p marks item k with digit p of k in base _BASE); and every
    string item's (client, clock), in encoding order."""
    data = update
    outs: list[list[bytes]] = [[] for _ in range(passes)]
    strings: list[tuple[int, int]] = []
    blocks, pos = _uint(data, 0)
    copied = 0  # data[copied:pos] is still to be copied to every output
    for _ in range(blocks):
        structs, pos = _uint(data, pos)
        client, pos = _uint(data, pos)
        clock, pos = _uint(data, pos)
        for _ in range(structs):
            info = data[pos]
            ref = info & 0x1F
            if ref in (_GC, _SKIP):
                length, pos = _uint(data, pos + 1)
                clock += length
                continue
            pos = _skip_item_head(data, pos + 1, info)
            if ref != _STRING:
                pos, length = _skip_content(data, pos, ref)
                clock += length
                continue
            n, start = _uint(data, pos)
            end = start + n
            raw = data[start:end]
            units = n if raw.isascii() else _utf16_units(raw)
            head = data[copied:pos]
            k = len(strings)
            strings.append((client, clock))
            for p, out in enumerate(outs):
                marker = (_ALPHABET[(k // _BASE ** p) % _BASE] * units).encode()
                out += (head, _var_uint(len(marker)), marker)
            pos = copied = end
            clock += units
    for out in outs:
        out += (data[copied:pos], b"\x00")  # the structs' tail; an empty delete set
    return [b"".join(out) for out in outs], strings


# ---- document order --------------------------------------------------------------------

def item_order(update: bytes, root: str) -> list[Run]:
    """Every unit of the Text root `root` in a document's full update (`Doc.get_update()`),
    deleted ones included, in document order, as runs of consecutive clocks of one
    client. Raises UnsupportedUpdate for content it cannot read."""
    try:
        passes = 1
        rewritten, strings = _rewrite(update, passes)
        while len(strings) > _BASE ** passes:
            passes += 1
            rewritten, strings = _rewrite(update, passes)
    except UnsupportedUpdate:
        raise
    except (IndexError, ValueError) as exc:
        raise UnsupportedUpdate("the update ends early") from exc
    texts = []
    for blob in rewritten:
        doc: Doc = Doc()
        try:
            guarded(lambda: doc.apply_update(blob), "marked update")
        except CorruptUpdateError as exc:
            raise UnsupportedUpdate(str(exc)) from exc
        texts.append(str(doc.get(root, type=Text)))
    if len(texts) == 1:
        bounds = [m.start() for m in _RUNS.finditer(texts[0])]
    else:
        bounds = sorted({m.start() for t in texts for m in _RUNS.finditer(t)})
    total = len(texts[0])
    bounds.append(total)
    done: dict[int, int] = {}  # string item -> units of it placed so far
    runs: list[Run] = []
    for i in range(len(bounds) - 1):
        at, length = bounds[i], bounds[i + 1] - bounds[i]
        k = _ord_index(texts[0][at])
        for p in range(1, len(texts)):
            k += _ord_index(texts[p][at]) * _BASE ** p
        if k >= len(strings):
            raise UnsupportedUpdate(f"a marker names no item ({k})")
        client, clock = strings[k]
        offset = done.get(k, 0)
        done[k] = offset + length
        clock += offset
        if runs and runs[-1][0] == client and runs[-1][1] + runs[-1][2] == clock:
            runs[-1] = (client, runs[-1][1], runs[-1][2] + length)
        else:
            runs.append((client, clock, length))
    return runs


def _ord_index(char: str) -> int:
    code = ord(char)
    return code - 0x800 if code >= 0xE000 else code


# ---- id sets ---------------------------------------------------------------------------

class Ranges:
    """Sets of ids: per client, sorted disjoint [start, end) clock ranges."""

    __slots__ = ("starts", "ends")

    def __init__(self) -> None:
        self.starts: dict[int, list[int]] = {}
        self.ends: dict[int, list[int]] = {}

    @classmethod
    def of(cls, pairs: dict[int, list[tuple[int, int]]]) -> Ranges:
        """From per-client (start, end) lists, in any order, overlapping or not."""
        out = cls()
        for client, ranges in pairs.items():
            starts: list[int] = []
            ends: list[int] = []
            for start, end in sorted(ranges):
                if end <= start:
                    continue
                if ends and start <= ends[-1]:
                    ends[-1] = max(ends[-1], end)
                else:
                    starts.append(start)
                    ends.append(end)
            if starts:
                out.starts[client], out.ends[client] = starts, ends
        return out

    def pairs(self) -> dict[int, list[tuple[int, int]]]:
        return {c: list(zip(self.starts[c], self.ends[c])) for c in self.starts}

    def __bool__(self) -> bool:
        return bool(self.starts)

    def union(self, other: Ranges) -> Ranges:
        merged = self.pairs()
        for client, ranges in other.pairs().items():
            merged.setdefault(client, []).extend(ranges)
        return Ranges.of(merged)

    def minus(self, other: Ranges) -> Ranges:
        out: dict[int, list[tuple[int, int]]] = {}
        for client, ranges in self.pairs().items():
            out[client] = [(s, e) for start, end in ranges
                           for s, e, inside in other.split(client, start, end - start)
                           if not inside]
        return Ranges.of(out)

    def split(self, client: int, clock: int, length: int) -> list[tuple[int, int, bool]]:
        """[clock, clock + length) cut into (start, end, in this set) pieces, in order."""
        end = clock + length
        starts = self.starts.get(client)
        if starts is None:
            return [(clock, end, False)]
        ends = self.ends[client]
        i = bisect_right(ends, clock)
        if i == len(starts) or starts[i] >= end:
            return [(clock, end, False)]
        pieces = []
        at = clock
        while at < end and i < len(starts) and starts[i] < end:
            if starts[i] > at:
                pieces.append((at, starts[i], False))
                at = starts[i]
            stop = min(ends[i], end)
            pieces.append((at, stop, True))
            at = stop
            i += 1
        if at < end:
            pieces.append((at, end, False))
        return pieces

    def encode(self) -> bytes:
        """lib0's delete-set encoding (what `decode` reads)."""
        out = [_var_uint(len(self.starts))]
        for client, starts in self.starts.items():
            out += (_var_uint(client), _var_uint(len(starts)))
            for start, end in zip(starts, self.ends[client]):
                out += (_var_uint(start), _var_uint(end - start))
        return b"".join(out)

    @classmethod
    def decode(cls, data: bytes, pos: int = 0) -> Ranges:
        return cls.of(_read_delete_set(data, pos)[0])


def snapshot_parts(snapshot: bytes) -> tuple[Ranges, dict[int, int]]:
    """A pycrdt Snapshot's encoding: its delete set and its state vector."""
    deleted, pos = _read_delete_set(snapshot, 0)
    return Ranges.of(deleted), decode_state_vector(snapshot[pos:])


def update_deletions(update: bytes) -> Ranges:
    """The ids an update deletes."""
    return Ranges.of(delete_ranges(update))


def live_runs(order: Iterable[Run], deleted: Ranges) -> list[tuple[int, int, int, bool]]:
    """`order` cut by a delete set: (client, clock, length, deleted) pieces, in order."""
    out = []
    for client, clock, length in order:
        for start, end, inside in deleted.split(client, clock, length):
            out.append((client, start, end - start, inside))
    return out


# ---- a note's text with every unit's id ------------------------------------------------

@dataclass(frozen=True, slots=True)
class Layout:
    """A note's text at one version, with every run of units placed in it: `runs[i]`
    is (client, clock, units, deleted) in document order, and `at[i]` its UTF-16
    offset in the text (for a deleted run: where it stood, between live text)."""

    key: bytes  # the version: a pycrdt Snapshot (delete set and state vector)
    text: str
    runs: tuple[tuple[int, int, int, bool], ...]
    at: tuple[int, ...]
    state: dict[int, int]

    def to_cp(self, offsets: Iterable[int]) -> list[int]:
        """UTF-16 offsets in the text as code points."""
        return utf16_offsets_to_cp(self.text, offsets)


def layout_of(doc: Doc, order: list[Run] | None = None, root: str = BODY) -> Layout:
    """The text of `doc`'s root and where every unit of it (live or deleted) lies.
    `order` is `item_order` of the same state vector, if known (deletions do not
    change it). Raises UnsupportedUpdate when the ids cannot be read."""
    key = Snapshot.from_doc(doc).encode()
    deleted, state = snapshot_parts(key)
    if order is None:
        order = item_order(doc.get_update(), root)
    text = str(doc.get(root, type=Text))
    runs = live_runs(order, deleted)
    at = []
    offset = 0
    for _, _, units, gone in runs:
        at.append(offset)
        if not gone:
            offset += units
    if offset != utf16_len(text):
        raise UnsupportedUpdate(f"ids cover {offset} units of a text of {utf16_len(text)}")
    return Layout(key, text, tuple(runs), tuple(at), state)


# ---- times -----------------------------------------------------------------------------

class Timeline:
    """When each unit was first recorded: `add` records id ranges that reached this
    vault at a time, in the order things happened; a unit keeps its first time."""

    __slots__ = ("_starts", "_ends", "_times", "version")

    def __init__(self) -> None:
        # per client, sorted and disjoint: range i is [starts[i], ends[i]) at times[i]
        self._starts: dict[int, list[int]] = {}
        self._ends: dict[int, list[int]] = {}
        self._times: dict[int, list[float]] = {}
        self.version = 0

    def add(self, ranges: dict[int, list[tuple[int, int]]], when: float) -> None:
        for client, pairs in ranges.items():
            for start, end in pairs:
                self._add(client, start, end, when)

    def _add(self, client: int, start: int, end: int, when: float) -> None:
        starts = self._starts.setdefault(client, [])
        ends = self._ends.setdefault(client, [])
        times = self._times.setdefault(client, [])
        if not starts or start >= ends[-1]:  # the usual case: past everything recorded
            if starts and start == ends[-1] and times[-1] == when:
                ends[-1] = end
            else:
                starts.append(start)
                ends.append(end)
                times.append(when)
            self.version += 1
            return
        i = bisect_right(ends, start)
        at = start
        while at < end:
            if i < len(starts) and starts[i] <= at:  # recorded already
                at = ends[i]
                i += 1
                continue
            stop = min(end, starts[i]) if i < len(starts) else end
            starts.insert(i, at)
            ends.insert(i, stop)
            times.insert(i, when)
            self.version += 1
            at = stop
            i += 1

    def covers(self, state: dict[int, int]) -> bool:
        """Is every unit below `state` recorded (all but gaps nothing recorded)?"""
        return all(end == 0 or (self._ends.get(c) or [0])[-1] >= end for c, end in state.items())

    def split(self, client: int, start: int, end: int) -> list[tuple[int, int, float | None]]:
        """[start, end) of one client cut where its recorded time changes."""
        starts = self._starts.get(client)
        if not starts:
            return [(start, end, None)]
        ends, times = self._ends[client], self._times[client]
        i = bisect_right(ends, start)
        if i < len(starts) and starts[i] <= start and ends[i] >= end:
            return [(start, end, times[i])]
        out: list[tuple[int, int, float | None]] = []
        at = start
        while at < end:
            if i >= len(starts) or starts[i] >= end:
                out.append((at, end, None))
                break
            if starts[i] > at:
                out.append((at, starts[i], None))
                at = starts[i]
            stop = min(ends[i], end)
            out.append((at, stop, times[i]))
            at = stop
            i += 1
        return out


def stored_timeline(storage: Storage, doc_id: str) -> Timeline:
    """The timeline of a document from its version marks and update rows, in order."""
    records: list[tuple[int, int, float, bytes]] = [
        (seq, 0, when, snap) for seq, when, snap in storage.query(
            "SELECT upto_seq, end_time, snapshot FROM version_marks WHERE doc_id = ?", (doc_id,))]
    records += [(seq, 1, when, data) for seq, when, data in storage.query(
        "SELECT seq, wall_time, data FROM updates WHERE doc_id = ?", (doc_id,))]
    records.sort(key=lambda r: (r[0], r[1]))
    timeline = Timeline()
    for _, is_row, when, blob in records:
        try:
            ranges = (update_ranges(blob) if is_row
                      else {c: [(0, end)] for c, end in snapshot_parts(blob)[1].items()})
        except (ValueError, IndexError):
            continue  # unreadable: loading the note reports it
        timeline.add(ranges, when)
    return timeline


# ---- names -----------------------------------------------------------------------------

UNKNOWN = "Unknown author"


class Directory:
    """Client id -> (name, device). `learn` hears of a collaborator's client from its
    updates (True when that is news to store); `forget_members` after a catalog
    changed."""

    def __init__(self, own: Author, own_clients: Callable[[], set[int]],
                 members: Callable[[], Iterable[Member]],
                 known: Iterable[tuple[int, str, str]] = ()) -> None:
        self._own = own
        self._own_clients = own_clients
        self._members = members
        self._known: dict[int, tuple[str, str]] = {c: (d, n) for c, d, n in known}
        self._by_client: dict[int, Member] | None = None
        self._by_device: dict[str, Member] = {}
        self.version = 0

    def learn(self, client: int, device: str, name: str) -> bool:
        if not client or self._known.get(client) == (device, name):
            return False
        self._known[client] = (device, name)
        self.version += 1
        return True

    def forget_members(self) -> None:
        self._by_client = None
        self.version += 1

    def who(self, client: int) -> tuple[str, str]:
        """(name, device) of whoever wrote as `client`."""
        if client in self._own_clients():
            return self._own.name, self._own.device_id
        if self._by_client is None:
            members = list(self._members())
            self._by_client = {m.client: m for m in members}
            self._by_device = {m.device: m for m in members}
        member = self._by_client.get(client)
        if member is not None:
            return member.name, member.device
        known = self._known.get(client)
        if known is None:
            return UNKNOWN, ""
        device, name = known
        member = self._by_device.get(device)
        if device == self._own.device_id:
            name = self._own.name
        return (member.name if member is not None else name or UNKNOWN), device


# ---- the vault's authorship ------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class AuthorSpan:
    """Who wrote [start, end) of a note's current text (code points), and when (by the
    author's clock, seconds since the epoch; None when no record says)."""

    start: int
    end: int
    client: int
    name: str
    device: str
    time: float | None


_KEEP = 16  # notes whose layout and timeline stay cached


class Authorship:
    """Authorship of notes in one vault, cached per note by version; fed the vault's
    change events (`on_change`) for the changes not on disk yet."""

    def __init__(self, storage: Storage, doc_of: Callable[[str], Doc],
                 directory: Directory) -> None:
        self._storage = storage
        self._doc_of = doc_of
        self.directory = directory
        # Changes not yet folded into a timeline: (ticket, wall time, update bytes).
        self._recent: dict[str, list[tuple[int, float, bytes]]] = {}
        self._held = 0  # entries in _recent, about
        self._sweep_at = 1024
        # note -> (timeline, newest event ticket in it, state vector it was read from disk at)
        self._timelines: OrderedDict[str, tuple[Timeline, int, dict]] = OrderedDict()
        self._orders: OrderedDict[str, tuple[bytes, list[Run]]] = OrderedDict()
        self._layouts: OrderedDict[str, Layout] = OrderedDict()
        self._spans: dict[str, tuple[tuple, list[AuthorSpan]]] = {}

    def on_change(self, event: ChangeEvent) -> None:
        if event.kind is DocKind.CATALOG:
            self.directory.forget_members()
            return
        recent = self._recent.get(event.doc_id)
        if recent is None:
            recent = self._recent[event.doc_id] = []
        recent.append((event.ticket, event.wall_time, event.update))
        self._held += 1
        if len(recent) > 256 and event.doc_id in self._timelines:
            self._timeline(event.doc_id, self._timelines[event.doc_id][2])  # fold them in
        elif self._held > self._sweep_at:  # what is on disk is read from there (a join)
            durable = self._storage.durable_ticket
            for note_id in [n for n in self._recent if n not in self._timelines]:
                kept = [r for r in self._recent[note_id] if r[0] > durable]
                if kept:
                    self._recent[note_id] = kept
                else:
                    del self._recent[note_id]
            self._held = sum(len(r) for r in self._recent.values())
            self._sweep_at = max(1024, 2 * self._held)

    def layout(self, note_id: str) -> Layout:
        """The note's current text with every unit's id (cached per version)."""
        doc = self._doc_of(note_id)
        cached = self._layouts.get(note_id)
        key = Snapshot.from_doc(doc).encode()
        if cached is not None and cached.key == key:
            self._layouts.move_to_end(note_id)
            return cached
        state = doc.get_state()
        found = self._orders.get(note_id)
        if found is not None and found[0] == state:
            order = found[1]
        else:
            order = item_order(doc.get_update(), BODY)
            _remember(self._orders, note_id, (state, order))
        layout = layout_of(doc, order)
        _remember(self._layouts, note_id, layout)
        return layout

    def _timeline(self, note_id: str, state: dict[int, int]) -> Timeline:
        """The note's timeline, read from disk once and then kept up from change events.
        Text no event announced (an update that waited for an earlier one merges
        silently with it) makes it read again, once per version."""
        found = self._timelines.get(note_id)
        if found is not None and not found[0].covers(state) and found[2] != state:
            found = None
        if found is None:
            durable = self._storage.durable_ticket  # read first: those rows are visible
            found = (stored_timeline(self._storage, note_id), 0, state)
            pending = self._recent.get(note_id, [])
            pending[:] = [r for r in pending if r[0] > durable]
        timeline, upto, read_at = found
        for ticket, when, update in self._recent.pop(note_id, ()):
            if ticket > upto:
                try:
                    timeline.add(update_ranges(update), when)
                except UnsupportedUpdate:
                    continue
                upto = ticket
        _remember(self._timelines, note_id, (timeline, upto, read_at))
        return timeline

    def spans(self, note_id: str) -> list[AuthorSpan]:
        """Who wrote each part of the note's current text, in order: adjacent text of
        one client and one time is one span."""
        layout = self.layout(note_id)
        timeline = self._timeline(note_id, layout.state)
        key = (layout.key, timeline.version, self.directory.version)
        cached = self._spans.get(note_id)
        if cached is not None and cached[0] == key:
            return list(cached[1])
        parts: list[tuple[int, int, int, float | None]] = []  # UTF-16 start, end, client, time
        for (client, clock, units, gone), at in zip(layout.runs, layout.at):
            if gone:
                continue
            for start, end, when in timeline.split(client, clock, clock + units):
                begin = at + start - clock
                if parts and parts[-1][1] == begin and parts[-1][2:] == (client, when):
                    parts[-1] = (parts[-1][0], at + end - clock, client, when)
                else:
                    parts.append((begin, at + end - clock, client, when))
        bounds = layout.to_cp([b for p in parts for b in p[:2]])
        names: dict[int, tuple[str, str]] = {}
        spans = []
        for i, (_, _, client, when) in enumerate(parts):
            if client not in names:
                names[client] = self.directory.who(client)
            name, device = names[client]
            spans.append(AuthorSpan(bounds[2 * i], bounds[2 * i + 1], client, name, device, when))
        self._spans[note_id] = (key, spans)
        return list(spans)


def _remember(cache: OrderedDict, key: str, value: object) -> None:
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > _KEEP:
        cache.popitem(last=False)
