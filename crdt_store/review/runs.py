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
from dataclasses import dataclass

from ..edit_clock import EditStamp
from ..unicode_offsets import TextOp


@dataclass
class EditRun:
    stamp: EditStamp  # first..last counts; `seen` as of the last change
    name: str  # the author's display name
    device: str
    time: float  # wall-clock time of the last change (informational)
    local: bool  # made on this device
    start: int  # [start, end) in code points of the current text
    end: int
    inserted: str = ""  # what the run typed
    deleted: str = ""  # what it removed

    def shift(self, op: TextOp) -> None:
        """Move the range through one later splice of the text."""
        self.start, self.end = shift_range(self.start, self.end, op)


def map_point(x: int, op: TextOp, *, stick_right: bool) -> int:
    """Where point `x` goes when `op` is applied. A point that sticks right moves past
    text inserted exactly at it; one that sticks left stays before it."""
    pos, removed, added = op.pos, op.delete, len(op.insert)
    end = pos + removed
    if x < pos or (x == pos and not stick_right and removed == 0):
        return x
    if x > end or (x == end and removed):
        return x - removed + added
    # inside the removed span, or at an insertion point sticking right
    return pos + added if stick_right else pos


def shift_range(start: int, end: int, op: TextOp) -> tuple[int, int]:
    new_start = map_point(start, op, stick_right=start != end)
    new_end = map_point(end, op, stick_right=False)
    return (new_start, new_end) if new_start <= new_end else (new_end, new_end)


def regions(ops: Iterable[TextOp], before: str) -> list[tuple[int, int, str, str]]:
    """(start, end, inserted, deleted) of each splice of one change, in the text the
    change produced; `before` is the text the splices apply to, in order."""
    out: list[list] = []
    text = before
    for op in ops:
        deleted = text[op.pos:op.pos + op.delete].replace("\ufffc", "")
        for region in out:
            region[0], region[1] = shift_range(region[0], region[1], op)
        out.append([op.pos, op.pos + len(op.insert), op.insert, deleted])
        text = text[:op.pos] + op.insert + text[op.pos + op.delete:]
    return [tuple(r) for r in out]
