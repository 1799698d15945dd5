"""Close-merge detection: concurrent edits that landed close together in a note.

The detector hears every change to a note (the vault's change events). It keeps the
note's recent edit runs, moved along as the text changes. When a collaborator's edit
is merged, it is compared with each run that was concurrent with it (neither author
had seen the other's edit: `EditStamp`, never wall clocks). A pair is flagged when
their ranges in the merged text overlap or lie within `threshold` code points of each
other *on the same line*: edits of different lines (paragraphs, list items) are the
normal way people work side by side, and are never flagged. Sequential edits are
never flagged, however close.

Edits made on this device are never compared when they are made: this device had
seen everything merged before them. They are kept as runs, so a concurrent edit
arriving later (even after a restart: the runs are saved with the vault) is
compared with them.

Each flag's region is anchored: moved along by every later change like the runs,
so Go to and Keep find it after more editing, and know when it was deleted.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from ..edit_clock import EditStamp
from ..events import ChangeEvent, DocKind, Source
from ..unicode_offsets import apply_ops
from .runs import EditRun, regions, shift_range
from .versions import undo_earlier, undo_runs

THRESHOLD = 30  # code points between two edits that still count as close
RUN_JOIN_SECONDS = 10.0  # adjacent changes by one author this close in time form one run
MAX_RUNS = 64  # per note; older runs are dropped (each later change moves them all)
PRUNE_EVERY = 16  # changes to a note between looks for runs everyone has seen
MAX_ANCHORS = 256  # flag regions followed per note; the oldest are let go
CONTEXT = 40  # code points of merged text kept on each side of a flagged region
UNKNOWN = "\ufffc"  # stands for deleted text the detector never saw


@dataclass(frozen=True)
class CloseMerge:
    """Two concurrent edits that were merged close together in a note."""

    flag_id: str
    note_id: str
    detected: float
    start: int  # the merged region, code points of the text right after the merge
    end: int
    merged: str  # that region's text
    before: str  # up to CONTEXT code points of text on either side of it
    after: str
    earlier: EditRun  # the edit that was here first
    arrived: EditRun  # the concurrent edit whose merge raised the flag
    earlier_text: str | None  # the region as each side had it (None: cannot be known)
    arrived_text: str | None
    spans: tuple[tuple[int, int, str], ...]  # (start, end, "earlier"|"arrived") in `merged`

    @property
    def own_devices(self) -> bool:
        """Both edits came from this user's devices (same display name, other devices)."""
        return (self.earlier.name == self.arrived.name
                and self.earlier.device != self.arrived.device)


def close(text: str, a: tuple[int, int], b: tuple[int, int], threshold: int) -> bool:
    lo, hi = sorted((a, b))
    gap_start, gap_end = lo[1], hi[0]
    if gap_end <= gap_start:
        return True  # they overlap or touch
    return gap_end - gap_start <= threshold and "\n" not in text[gap_start:gap_end]


class TextNeeded(LookupError):
    """The detector lost step with a note and needs its text handed over again."""


@dataclass
class _Note:
    """What the detector follows in one note."""

    text: str | None = None  # the text after its last change (None: read it when needed)
    runs: list[EditRun] = field(default_factory=list)
    anchors: dict[str, list[int]] = field(default_factory=dict)  # flag id -> [start, end]
    # What each author is known to have integrated (from their stamps), to let go of
    # runs every other author has seen: they can never be concurrent with anything new.
    seen_of: dict[int, dict[int, int]] = field(default_factory=dict)
    changes: int = 0

    def to_json(self) -> str:
        return json.dumps({"runs": [r.to_json() for r in self.runs], "anchors": self.anchors},
                          ensure_ascii=False)


@dataclass
class _Open:
    """A flag that can still grow: the collaborator may be typing on."""

    flag_id: str
    detected: float
    said: str | None  # what the collaborator's changes said they deleted, so far


class Detector:
    """Finds close merges in the notes of one vault; `on_flag(CloseMerge)` hears each.

    `load(note_id)` returns what `take_dirty` handed out for the note earlier (JSON),
    or None: how runs and anchors outlive a restart.
    """

    def __init__(self, on_flag: Callable[[CloseMerge], None], *,
                 threshold: int = THRESHOLD, text_of: Callable[[str], str | None],
                 shared: Callable[[str], bool] = lambda note_id: True,
                 load: Callable[[str], str | None] = lambda note_id: None,
                 still_open: Callable[[str], bool] = lambda flag_id: True) -> None:
        self.on_flag = on_flag
        self.threshold = threshold
        self._text_of = text_of  # note id -> its current text (None: not known here)
        self._shared = shared  # note id -> can anyone else edit it? (else no runs to keep)
        self._load = load
        self._still_open = still_open  # flag id -> not yet reviewed?
        self._notes: dict[str, _Note] = {}
        self._dirty: set[str] = set()
        self._open: dict[tuple, _Open] = {}  # (note, earlier run, collaborator) -> its flag

    # ---- queries -----------------------------------------------------------------------

    def runs(self, note_id: str) -> list[EditRun]:
        return [run.copy() for run in self._note(note_id).runs]

    def region(self, note_id: str, flag_id: str) -> tuple[int, int] | None:
        """Where a flag's region is now (code points), or None if no longer followed."""
        span = self._note(note_id).anchors.get(flag_id)
        return (span[0], span[1]) if span else None

    def take_dirty(self) -> list[tuple[str, str]]:
        """(note id, JSON) of every note whose runs or anchors changed since last call."""
        dirty, self._dirty = self._dirty, set()
        return [(n, self._notes[n].to_json()) for n in dirty if n in self._notes]

    # ---- following changes ---------------------------------------------------------------

    def on_change(self, event: ChangeEvent) -> None:
        if event.kind is not DocKind.NOTE:
            return
        note_id = event.doc_id
        note = self._note(note_id)
        local = event.origin.source is Source.LOCAL
        if local and not note.anchors and not self._shared(note_id):
            if note.runs:  # a note only this device edits: no runs to keep
                note.runs.clear()
                self._dirty.add(note_id)
            note.text = None
            return
        ops = event.ops
        if ops is None:  # splices that cannot be followed: start afresh from here
            note.text = self._text_of(note_id)
            note.runs.clear()
            note.anchors.clear()
            self._dirty.add(note_id)
            return
        if note.text is None:  # first sight: the text before, as far as can be known
            after = self._text_of(note_id)
            if after is None:  # not handed over: the owner thought this note was followed
                raise TextNeeded(note_id)
            note.text = after
            before = _undo_positions(after, ops, event.removed if local else None)
        else:
            before = note.text
            try:
                after = note.text = apply_ops(before, ops)
            except ValueError:  # lost step with the note (a bug): read it afresh next time
                note.text = None
                raise
        last = note.runs[-1] if note.runs else None
        last_end = last.end if last is not None else 0
        self._shift(note, ops)
        if note.runs or note.anchors:
            self._dirty.add(note_id)
        if event.stamp is None:
            return
        author = event.origin.author
        new = [EditRun(event.stamp, author.name, author.device_id,
                       event.wall_time or time.time(), local, start, end, inserted,
                       deleted.replace(UNKNOWN, ""), UNKNOWN not in deleted)
               for start, end, inserted, deleted in regions(ops, before)]
        if not local and new:
            self._compare(note_id, note, after, new, event.removed)
        _learn(note, event.stamp)
        for run in new:
            self._remember(note.runs, run, last_end - last.end if last is not None else 0)
        self._dirty.add(note_id)

    def _note(self, note_id: str) -> _Note:
        note = self._notes.get(note_id)
        if note is None:
            note = self._notes[note_id] = _restore(self._load(note_id))
        return note

    @staticmethod
    def _shift(note: _Note, ops) -> None:
        for op in ops:
            low, high = op.pos, op.pos + op.delete
            delta = len(op.insert) - op.delete
            for run in note.runs:
                if run.end < low:
                    continue  # wholly before the splice: unmoved (the common case)
                if run.start > high:
                    run.start += delta  # wholly after it: moved along
                    run.end += delta
                else:
                    run.shift(op)
            for span in note.anchors.values():
                if span[1] < low:
                    continue
                span[0], span[1] = shift_range(span[0], span[1], op)

    def _compare(self, note_id: str, note: _Note, after: str,
                 runs_in: list[EditRun], said_deleted: str | None) -> None:
        """Flag the earlier edits this collaborator's change landed close to. One flag
        per stretch of text and pair of authors: while they keep typing there, the flag
        grows instead of a new one being raised for every keystroke."""
        client = runs_in[0].stamp.client
        lo = min(r.start for r in runs_in) - self.threshold
        hi = max(r.end for r in runs_in) + self.threshold
        hits: dict[int, list[EditRun]] = {}
        for earlier in note.runs:
            if earlier.end < lo or earlier.start > hi or earlier.stamp.client == client:
                continue  # far away (cheap test first), or the same author
            if any(earlier.stamp.concurrent_with(r.stamp)
                   and close(after, earlier.unseen_span(r.stamp), (r.start, r.end),
                             self.threshold) for r in runs_in):
                hits.setdefault(earlier.stamp.client, []).append(earlier)
        for other, earliers in hits.items():
            region = _hull(earliers + runs_in)
            key = (note_id, other, client)
            opened = self._open.get(key)
            anchor = note.anchors.get(opened.flag_id) if opened is not None else None
            if (anchor is not None and self._still_open(opened.flag_id)
                    and close(after, (anchor[0], anchor[1]), region, self.threshold)):
                region = (min(region[0], anchor[0]), max(region[1], anchor[1]))
                opened.said = (opened.said + said_deleted
                               if opened.said is not None and said_deleted is not None else None)
            else:
                opened = self._open[key] = _Open(uuid.uuid4().hex, time.time(), said_deleted)
            inside = [r for r in note.runs + runs_in
                      if r.start <= region[1] and r.end >= region[0]]
            theirs = [r for r in inside if r.stamp.client == client]
            mine = [r for r in inside if r.stamp.client == other
                    and any(r.stamp.concurrent_with(t.stamp) for t in theirs)]
            theirs = [t for t in theirs if any(t.stamp.concurrent_with(r.stamp) for r in mine)]
            region = (min(region[0], *(r.start for r in mine + theirs)),
                      max(region[1], *(r.end for r in mine + theirs)))
            self._flag(note_id, note, after, mine, theirs, region, opened)

    def _flag(self, note_id: str, note: _Note, after: str, earliers: list[EditRun],
              arrivals: list[EditRun], region: tuple[int, int], opened: _Open) -> None:
        start, end = region
        merged = after[start:end]
        arrived_spans = [(r.start, r.end) for r in arrivals]
        spans = [(s - start, e - start, "arrived") for s, e in arrived_spans if e > s]
        spans += [(r.start - start, r.end - start, "earlier") for r in earliers if r.end > r.start]
        if len(earliers) == 1:
            arrived_text = undo_earlier(merged, start, (earliers[0].start, earliers[0].end),
                                        arrived_spans, earliers[0].deleted, opened.said)
        else:
            arrived_text = undo_runs(merged, start, [((r.start, r.end), r.deleted)
                                                     for r in earliers], keep=arrived_spans)
        note.anchors[opened.flag_id] = [start, end]
        if len(note.anchors) > MAX_ANCHORS:
            del note.anchors[next(iter(note.anchors))]
        earlier, arrived = _combined(earliers), _combined(arrivals)
        self.on_flag(CloseMerge(
            opened.flag_id, note_id, opened.detected, start, end, merged,
            after[max(0, start - CONTEXT):start], after[end:end + CONTEXT], earlier, arrived,
            undo_runs(merged, start, [((r.start, r.end), r.deleted) for r in arrivals])
            if arrived.complete else None,
            arrived_text if earlier.complete else None,
            tuple(sorted(spans)),
        ))

    @staticmethod
    def _remember(runs: list[EditRun], run: EditRun, moved_back: int) -> None:
        """Keep `run`; typing on at the end of the last run of the same author extends it.
        `moved_back` says how far that last run's end moved back in this change: a
        backspace, which takes back the run's own typing before the text before it."""
        last = runs[-1] if runs else None
        if (last is not None and last.stamp.client == run.stamp.client
                and run.time - last.time <= RUN_JOIN_SECONDS
                and run.start == last.end):  # typing on (or backspacing) at its end
            # one run: counts first..last, `seen` as of the newest change
            last.mark()
            last.stamp = EditStamp(run.stamp.client, last.stamp.first, run.stamp.last,
                                   run.stamp.seen)
            last.end = max(last.end, run.end)
            last.time = run.time
            last.inserted += run.inserted
            last.complete = last.complete and run.complete
            if moved_back and run.deleted:
                own = min(moved_back, len(last.inserted), len(run.deleted))
                last.inserted = last.inserted[:len(last.inserted) - own]
                last.deleted = run.deleted[:len(run.deleted) - own] + last.deleted
            else:
                last.deleted += run.deleted
            last.trim()
            return
        run.trim()
        runs.append(run)
        if len(runs) > MAX_RUNS:
            del runs[0]


FIRST_TOKEN = 2**60  # edit clocks also count trashes and moves under keys from here


def _learn(note: _Note, stamp: EditStamp) -> None:
    """Record what `stamp`'s author had integrated; now and then, drop the runs that
    every other author of the note had seen when they last edited it."""
    row = note.seen_of.setdefault(stamp.client, {})
    for client, count in stamp.seen.items():
        if client < FIRST_TOKEN:
            if count > row.get(client, 0):
                row[client] = count
            note.seen_of.setdefault(client, {})
    note.changes += 1
    if note.changes % PRUNE_EVERY == 0:
        note.runs = [r for r in note.runs if not _seen_by_all(note, r)]


def _seen_by_all(note: _Note, run: EditRun) -> bool:
    others = [row for client, row in note.seen_of.items() if client != run.stamp.client]
    return bool(others) and all(row.get(run.stamp.client, 0) >= run.stamp.last
                                for row in others)


def _hull(runs: list[EditRun]) -> tuple[int, int]:
    return min(r.start for r in runs), max(r.end for r in runs)


def _combined(runs: list[EditRun]) -> EditRun:
    """One author's runs in a flagged region, as one side of the flag."""
    runs = sorted(runs, key=lambda r: r.start)
    first, last = runs[0], max(runs, key=lambda r: r.stamp.last)
    combined = replace(first.copy(), start=runs[0].start, end=max(r.end for r in runs),
                       stamp=last.stamp._replace(first=min(r.stamp.first for r in runs)),
                       inserted="".join(r.inserted for r in runs),
                       deleted="".join(r.deleted for r in runs),
                       complete=all(r.complete for r in runs), time=last.time)
    combined.trim()
    return combined


def _restore(stored: str | None) -> _Note:
    """A note's runs and anchors as saved (anything unreadable is dropped)."""
    note = _Note()
    if not stored:
        return note
    try:
        data = json.loads(stored)
        runs = data.get("runs", [])
        anchors = data.get("anchors", {})
    except (ValueError, AttributeError):
        return note
    if isinstance(runs, list):
        note.runs = [r for r in (EditRun.from_json(x) for x in runs if isinstance(x, dict))
                     if r is not None]
    if isinstance(anchors, dict):
        note.anchors = {str(k): [int(v[0]), int(v[1])] for k, v in anchors.items()
                        if isinstance(v, list) and len(v) == 2
                        and all(isinstance(x, int) for x in v) and 0 <= v[0] <= v[1]}
    return note


def _undo_positions(after: str, ops, removed: str | None) -> str:
    """The text before `ops`: exact when `removed` (what they deleted, in op order) is
    known; otherwise of the right length, with the deleted text marked UNKNOWN."""
    pieces: list[str] = []
    if removed is not None and len(removed) == sum(op.delete for op in ops):
        for op in ops:
            pieces.append(removed[:op.delete])
            removed = removed[op.delete:]
    else:
        pieces = [UNKNOWN * op.delete for op in ops]
    text = after
    for op, piece in zip(reversed(ops), reversed(pieces)):
        text = text[:op.pos] + piece + text[op.pos + len(op.insert):]
    return text
