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
arriving later is compared with them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from ..events import ChangeEvent, DocKind, Source
from ..unicode_offsets import apply_ops
from .runs import EditRun, regions

THRESHOLD = 30  # code points between two edits that still count as close
RUN_JOIN_SECONDS = 10.0  # adjacent changes by one author this close in time form one run
MAX_RUNS = 64  # per note; older runs are dropped (each later change moves them all)
CONTEXT = 20  # code points of merged text shown around a flagged region
UNKNOWN = "\ufffc"  # stands for deleted text the detector never saw


@dataclass(frozen=True)
class CloseMerge:
    """Two concurrent edits that were merged close together in a note."""

    note_id: str
    detected: float
    start: int  # the merged region, code points of the text right after the merge
    end: int
    merged: str  # that region's text, with CONTEXT around it
    earlier: EditRun  # the edit that was here first
    arrived: EditRun  # the concurrent edit whose merge raised the flag

    @property
    def own_devices(self) -> bool:
        """Both edits came from this user's devices (same display name, other devices)."""
        return (self.earlier.name == self.arrived.name
                and self.earlier.device != self.arrived.device)


def close(text: str, a: EditRun, b: EditRun, threshold: int) -> bool:
    lo, hi = sorted(((a.start, a.end), (b.start, b.end)))
    gap_start, gap_end = lo[1], hi[0]
    if gap_end <= gap_start:
        return True  # they overlap or touch
    return gap_end - gap_start <= threshold and "\n" not in text[gap_start:gap_end]


class Detector:
    """Finds close merges in the notes of one vault; `on_flag(CloseMerge)` hears each."""

    def __init__(self, on_flag: Callable[[CloseMerge], None], *,
                 threshold: int = THRESHOLD, text_of: Callable[[str], str],
                 shared: Callable[[str], bool] = lambda note_id: True) -> None:
        self.on_flag = on_flag
        self.threshold = threshold
        self._text_of = text_of  # note id -> its current text
        self._shared = shared  # note id -> can anyone else edit it? (else nothing to track)
        self._runs: dict[str, list[EditRun]] = {}
        self._texts: dict[str, str] = {}  # the text each note had after its last change

    def runs(self, note_id: str) -> list[EditRun]:
        return list(self._runs.get(note_id, ()))

    def on_change(self, event: ChangeEvent) -> None:
        if event.kind is not DocKind.NOTE:
            return
        note_id = event.doc_id
        if event.origin.source is Source.LOCAL and not self._shared(note_id):
            self._texts.pop(note_id, None)  # a note only this device edits: nothing to track
            self._runs.pop(note_id, None)
            return
        before = self._texts.get(note_id)
        runs = self._runs.setdefault(note_id, [])
        ops = event.ops
        if ops is None:  # splices that cannot be followed: start afresh from here
            self._texts[note_id] = self._text_of(note_id)
            runs.clear()
            return
        if before is None:  # first sight: the text before, as far as positions go
            after = self._texts[note_id] = self._text_of(note_id)
            before = _undo_positions(after, ops)
        else:
            after = self._texts[note_id] = apply_ops(before, ops)
        for op in ops:
            low, high = op.pos, op.pos + op.delete
            delta = len(op.insert) - op.delete
            for run in runs:
                if run.end < low:
                    continue  # wholly before the splice: unmoved (the common case)
                if run.start > high:
                    run.start += delta  # wholly after it: moved along
                    run.end += delta
                else:
                    run.shift(op)
        if event.stamp is None:
            return
        author = event.origin.author
        local = event.origin.source is Source.LOCAL
        new = [EditRun(event.stamp, author.name, author.device_id, event.wall_time or time.time(),
                       local, start, end, inserted, deleted)
               for start, end, inserted, deleted in regions(ops, before)]
        if not local:
            self._compare(note_id, after, runs, new)
        for run in new:
            self._remember(runs, run)

    def _compare(self, note_id: str, text: str, runs: list[EditRun], new: list[EditRun]) -> None:
        flagged: set[int] = set()
        for arrived in new:
            for index, earlier in enumerate(runs):
                if index in flagged or not earlier.stamp.concurrent_with(arrived.stamp):
                    continue
                if close(text, earlier, arrived, self.threshold):
                    flagged.add(index)
                    start = min(earlier.start, arrived.start)
                    end = max(earlier.end, arrived.end)
                    shown = text[max(0, start - CONTEXT):end + CONTEXT]
                    self.on_flag(CloseMerge(note_id, time.time(), start, end, shown,
                                            _copy(earlier), _copy(arrived)))

    def _remember(self, runs: list[EditRun], run: EditRun) -> None:
        last = runs[-1] if runs else None
        if (last is not None and last.stamp.client == run.stamp.client
                and run.time - last.time <= RUN_JOIN_SECONDS
                and run.start == last.end):  # typing on (or backspacing) at its end
            # typing on: one run, counts first..last, `seen` as of the newest change
            last.stamp = replace(run.stamp, first=last.stamp.first)
            last.end = max(last.end, run.end)
            last.inserted += run.inserted
            last.deleted += run.deleted
            last.time = run.time
            return
        runs.append(run)
        if len(runs) > MAX_RUNS:
            del runs[0]


def _undo_positions(after: str, ops) -> str:
    """A text of the length the note had before `ops`, with what they deleted unknown
    (shown as nothing in the run's deleted text)."""
    text = after
    for op in reversed(ops):
        text = text[:op.pos] + UNKNOWN * op.delete + text[op.pos + len(op.insert):]
    return text


def _copy(run: EditRun) -> EditRun:
    return EditRun(run.stamp, run.name, run.device, run.time, run.local, run.start, run.end,
                   run.inserted, run.deleted)
