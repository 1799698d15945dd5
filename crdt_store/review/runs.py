"""Where edits are in a note's current text, kept up to date as the text changes.

An edit run is one author's change (or a few adjacent changes close in time) in one
note: the range of the text it touched, in code points of the current text. Every
later change to the note moves the range along (`shift`), so when a collaborator's
concurrent edit arrives, the two can be compared in the same merged text.

Inserted text gives a range over that text; a pure deletion gives an empty range at
the point where the text was.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ..edit_clock import EditStamp, stamp_from_json
from ..unicode_offsets import TextOp

MAX_MARKS = 32  # per run
KEPT_CHARS = 2000  # of a run's inserted and deleted text; longer is marked incomplete


@dataclass
class EditRun:
    stamp: EditStamp  # first..last counts; `seen` as of the last change
    name: str  # the author's display name
    device: str
    time: float  # wall-clock time of the last change (informational)
    local: bool  # made on this device
    start: int  # [start, end) in code points of the current text
    end: int
    inserted: str = ""  # what the run typed (net: its own backspaces taken out)
    deleted: str = ""  # what it removed of the text that was there before it
    complete: bool = True  # False: inserted or deleted was too long to keep whole
    # (count, length) as the run grew: how long it was after each count, so the part a
    # collaborator had already seen can be told from the part typed blind
    marks: list[tuple[int, int]] = field(default_factory=list)

    def copy(self) -> EditRun:
        return EditRun(self.stamp, self.name, self.device, self.time, self.local, self.start,
                       self.end, self.inserted, self.deleted, self.complete, list(self.marks))

    def unseen_span(self, other: EditStamp) -> tuple[int, int]:
        """The part of the run `other`'s author had not seen (all of it, unless they had
        seen its first changes: then the part typed after those)."""
        seen = other.seen.get(self.stamp.client, 0)
        if seen < self.stamp.first or not self.marks:
            return self.start, self.end
        length = 0
        for count, size in self.marks:
            if count > seen:
                break
            length = size
        return min(self.start + length, self.end), self.end

    def mark(self) -> None:
        """Note the run's length as of its latest count (before it grows)."""
        self.marks.append((self.stamp.last, self.end - self.start))
        if len(self.marks) > MAX_MARKS:
            self.marks = self.marks[1::2]  # thin out: coarser, never wrong about order

    def trim(self) -> None:
        if len(self.inserted) > KEPT_CHARS or len(self.deleted) > KEPT_CHARS:
            self.inserted, self.deleted = self.inserted[:KEPT_CHARS], self.deleted[:KEPT_CHARS]
            self.complete = False

    def to_json(self) -> dict:
        return {"stamp": self.stamp.to_json(), "name": self.name, "device": self.device,
                "time": self.time, "local": self.local, "range": [self.start, self.end],
                "inserted": self.inserted, "deleted": self.deleted, "complete": self.complete,
                "marks": self.marks}

    @classmethod
    def from_json(cls, data: dict) -> EditRun | None:
        """A run as the vault stored it; None if it does not read back (then the run is
        forgotten: it only ever adds flags)."""
        try:
            stamp = stamp_from_json(data["stamp"])
            start, end = data["range"]
            run = cls(stamp, str(data["name"]), str(data["device"]), float(data["time"]),
                      bool(data["local"]), int(start), int(end), str(data["inserted"]),
                      str(data["deleted"]), bool(data["complete"]),
                      [(int(c), int(n)) for c, n in data.get("marks", [])])
        except (KeyError, TypeError, ValueError):
            return None
        return run if stamp is not None and 0 <= run.start <= run.end else None

    def shift(self, op: TextOp) -> None:
        """Move the range through one later splice of the text."""
        self.start, self.end = shift_range(self.start, self.end, op)


def map_point(x: int, op: TextOp, *, stick_right: bool) -> int:
    """Where point `x` goes when `op` is applied. A point that sticks right moves past
    text inserted exactly at it; one that sticks left stays before it. A point inside
    replaced text goes to the start of the replacement."""
    pos, removed, added = op.pos, op.delete, len(op.insert)
    end = pos + removed
    if x < pos or (x == pos and not stick_right and removed == 0):
        return x
    if x > end or (x == end and removed):
        return x - removed + added
    if stick_right and not removed:
        return pos + added  # at an insertion point: past the inserted text
    return pos  # inside the removed span: a start takes in what replaced it


def shift_range(start: int, end: int, op: TextOp) -> tuple[int, int]:
    new_start = map_point(start, op, stick_right=start != end)
    new_end = map_point(end, op, stick_right=False)
    return (new_start, new_end) if new_start <= new_end else (new_end, new_end)


def regions(ops: Iterable[TextOp], before: str) -> list[tuple[int, int, str, str]]:
    """(start, end, inserted, deleted) of each splice of one change, in the text the
    change produced; `before` is the text the splices apply to, in order."""
    out: list[list] = []
    text = before
    last = len(ops) - 1 if isinstance(ops, (list, tuple)) else -1
    for i, op in enumerate(ops):
        deleted = text[op.pos:op.pos + op.delete] if op.delete else ""
        for region in out:
            region[0], region[1] = shift_range(region[0], region[1], op)
        out.append([op.pos, op.pos + len(op.insert), op.insert, deleted])
        if i != last:  # the text after the last splice is never needed
            text = text[:op.pos] + op.insert + text[op.pos + op.delete:]
    return [tuple(r) for r in out]
