"""The flagged region as each side had it: what Compare shows and Keep writes back.

A flag covers a region of the merged text. Its two versions are worked out when the
flag is raised, from what the detector knows at that moment:

- **The earlier side** (the edit that was here first) had the region without the
  arriving edits: their characters come out, and what they deleted goes back (exactly
  the text this device still had).
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


Span = tuple[int, int]  # [start, end) in code points


def undo_runs(merged: str, offset: int, undone: Sequence[tuple[Span, str]],
              keep: Sequence[Span] = ()) -> str:
    """The region without the given edits: their characters (except any inside `keep`
    spans, the other side's) come out and what each deleted goes back at its place.
    (The earlier side's version: the arriving edits undone; what they deleted is
    exactly what this device still had.)"""
    out: list[str] = []
    points: dict[int, list[str]] = {}
    for (start, _end), deleted in undone:
        points.setdefault(max(start - offset, 0), []).append(deleted)
    for i, ch in enumerate(merged):
        out.extend(points.pop(i, ()))
        at = offset + i
        if (not any(s <= at < e for (s, e), _ in undone)
                or any(s <= at < e for s, e in keep)):
            out.append(ch)
    for i in sorted(points):
        out.extend(points[i])
    return "".join(out)


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
