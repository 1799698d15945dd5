"""The flagged region as each side had it: what Compare shows and Keep writes back.

A flag covers a region of the merged text. Its two versions are worked out when the
flag is raised, from what the detector knows at that moment:

- **The earlier side** (the edit that was here first) had the region as this device
  had it just before the merge: the text before the merge, over the span that maps
  onto the region, including anything the merge deleted at its edges.
- **The arriving side** had the region without the earlier edit: the earlier edit's
  characters come out and what it deleted goes back, except what the arriving
  author deleted too (its author says what it deleted, in the envelope). When the
  arriving author replaced part of what the earlier edit deleted, its insertion
  goes back into that hole: "the quick fox" deleted here, "quick" -> "slow" there,
  gives "the slow fox" as the arriving side had it.

These are a best reconstruction, not a replay: Yjs deltas name what an update
deleted only where the text was still present here.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..unicode_offsets import TextOp

Span = tuple[int, int]  # [start, end) in code points


def back_span(start: int, end: int, ops: Sequence[TextOp]) -> Span:
    """The span of the text before `ops` that became [start, end) of the text after
    them; text the ops deleted at its edges is included."""
    for op in reversed(ops):
        pos, removed, added = op.pos, op.delete, len(op.insert)
        if start > pos:
            start = start - added + removed if start >= pos + added else pos
        if end >= pos + added:
            end = end - added + removed
        elif end > pos:
            end = pos + removed
    return start, max(start, end)


def undo_earlier(merged: str, offset: int, earlier: Span, arrived: Sequence[Span],
                 earlier_deleted: str, said_deleted: str | None) -> str:
    """The region as the arriving side had it (see the module docstring). `merged` is
    the region's text starting at `offset`; spans are in the same coordinates."""
    owned = [False] * len(merged)
    for a_start, a_end in arrived:
        for i in range(max(a_start, offset), min(a_end, offset + len(merged))):
            owned[i - offset] = True
    kept: list[str] = []
    point = None
    mine: list[bool] = []  # per kept character: written by the arriving side
    for i, ch in enumerate(merged):
        if offset + i == earlier[0] and point is None:
            point = len(kept)
        if earlier[0] <= offset + i < earlier[1] and not owned[i]:
            continue  # the earlier edit's own character
        kept.append(ch)
        mine.append(owned[i])
    if point is None:
        point = len(kept)
    text = "".join(kept)
    restore = earlier_deleted
    if said_deleted and restore and said_deleted in restore:
        hole = restore.index(said_deleted)
        fill = point
        while fill < len(mine) and mine[fill]:
            fill += 1  # the arriving side's insertion right here refills the hole
        return (text[:point] + restore[:hole] + text[point:fill]
                + restore[hole + len(said_deleted):] + text[fill:])
    if said_deleted and restore and restore in said_deleted:
        restore = ""  # the arriving side deleted all of it too
    return text[:point] + restore + text[point:]
