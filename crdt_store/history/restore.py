"""Restoring a past version: the edit that turns the current text into it.

A restore is worked out here as text and code-point splices, and applied by the
vault as one ordinary edit (`Vault.edit`): it syncs like any other, and history
is never rewritten (the versions in between stay, and the restore is a session of
its own).

**Whole note** (`region=None`): the result is exactly the version; the splices are
the minimal-ish diff `Vault.set_text` uses, so what a collaborator typed meanwhile
in text the version shares is kept only where the version has it too.

**A region** `(start, end)`, in code points **of the version's text** (what the user
selected in the version's preview): only changes made since the version that touch
that part of it are undone; everything else in the current text, collaborators'
later edits included, stays. The changes are found by the word diff between the
version and the current text (crdt_store.history.diff), the same one a preview shows:
a change is undone when the part of the version it replaced overlaps the region, or,
for text only inserted since, when it was inserted strictly inside the region (text
added just before or just after the region is left alone). A change that straddles
an edge of the region is undone whole. An empty region changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..textdiff import diff_ops
from ..unicode_offsets import TextOp, apply_ops
from .diff import Segment, word_diff

__all__ = ["RestorePreview", "plan_restore", "changes"]


@dataclass(frozen=True, slots=True)
class RestorePreview:
    """What restoring would do, without doing it: from `current` to `text` through
    `ops` (sequential code-point splices, as `Vault.edit` takes them)."""

    session_id: int
    region: tuple[int, int] | None
    current: str
    version: str
    text: str
    ops: tuple[TextOp, ...]

    def diff(self) -> list[Segment]:
        """Word-level segments from the current text to the result (for a preview)."""
        return word_diff(self.current, self.text)


Change = tuple[int, int, int, int]  # version [i1, i2) became current [j1, j2)


def changes(version: str, current: str) -> list[Change]:
    """The changes from `version` to `current`, in order, as their ranges on each side."""
    out: list[Change] = []
    i = j = 0
    open_change: list[int] | None = None
    for kind, text in word_diff(version, current):
        if kind == "equal":
            if open_change is not None:
                out.append((open_change[0], i, open_change[1], j))
                open_change = None
            i += len(text)
            j += len(text)
            continue
        if open_change is None:
            open_change = [i, j]
        if kind == "delete":
            i += len(text)
        else:
            j += len(text)
    if open_change is not None:
        out.append((open_change[0], i, open_change[1], j))
    return out


def plan_restore(current: str, version: str, session_id: int,
                 region: tuple[int, int] | None = None) -> RestorePreview:
    """The restore of `version` over `current` (see the module docstring). ValueError
    for a region outside the version's text."""
    if region is None:
        ops = tuple(diff_ops(current, version))
        return RestorePreview(session_id, None, current, version, version, ops)
    start, end = region
    if not 0 <= start <= end <= len(version):
        raise ValueError(f"region {region} is outside the version's text "
                         f"(length {len(version)})")
    ops: list[TextOp] = []
    shift = 0  # how much the splices so far moved the current text's later positions
    for i1, i2, j1, j2 in changes(version, current):
        inside = (i1 < end and i2 > start) if i1 < i2 else start < i1 < end
        if not inside:
            continue
        old, new = current[j1:j2], version[i1:i2]
        base = j1 + shift
        ops += [TextOp(base + op.pos, op.delete, op.insert) for op in diff_ops(old, new)]
        shift += len(new) - len(old)
    ops_t = tuple(ops)
    return RestorePreview(session_id, (start, end), current, version,
                          apply_ops(current, ops_t), ops_t)
