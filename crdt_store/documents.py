"""Rebuilding documents from storage, salvaging what can be read.

A damaged row must never make a note open empty: the fast path merges every row
and applies them at once; if anything fails, the document is rebuilt row by row,
and each row that will not apply is reported so the caller can quarantine it
(its bytes are kept, never deleted).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pycrdt import Doc

from .errors import CorruptUpdateError
from .guard import apply_update_guarded, merge_updates_guarded
from .held_back import integrate_held_back, is_held_back
from .model import new_doc
from .storage import StoredDoc
from .update_structs import UnsupportedUpdate, sound_ranges


@dataclass(frozen=True, slots=True)
class BadRow:
    """A stored blob that did not apply: `seq` is None for the checkpoint."""

    seq: int | None
    data: bytes
    error: str


@dataclass
class Rebuilt:
    doc: Doc
    bad: list[BadRow] = field(default_factory=list)


def rebuild(stored: StoredDoc, client_id: int | None, *,
            check_upto: int | None = None) -> Rebuilt:
    """A document that writes as `client_id`, from its checkpoint and rows.

    Bad blobs are skipped and listed. Rows up to `check_upto` (all, if None) are first
    read as the update gate reads them: later ones passed it when they were stored.
    """
    refused = _refused_rows(stored, check_upto)
    if not refused:
        fast = _try_fast(stored, client_id)
        if fast is not None:
            return Rebuilt(fast)
    result = Rebuilt(new_doc(client_id), bad=list(refused.values()))
    if stored.checkpoint is not None:
        try:
            apply_update_guarded(result.doc, stored.checkpoint)
        except CorruptUpdateError as exc:
            result.bad.append(BadRow(None, stored.checkpoint, str(exc)))
    held: list[bytes] = []
    for seq, data in stored.updates:
        if seq in refused:
            continue
        try:
            apply_update_guarded(result.doc, data)
            if is_held_back(result.doc, data):
                held.append(data)
        except CorruptUpdateError as exc:
            result.bad.append(BadRow(seq, data, str(exc)))
    integrate_held_back(result.doc, held)  # applied one by one, yrs can lose some (held_back.py)
    return result


def _refused_rows(stored: StoredDoc, check_upto: int | None) -> dict[int, BadRow]:
    """Rows the gate would refuse today (`update_structs.sound_ranges`): a vault may
    hold one merged before the gate refused it, and yrs reads freed memory after
    merging it. (The checkpoint is the vault's own encoding, verified when written.)"""
    refused = {}
    for seq, data in stored.updates:
        if check_upto is not None and seq > check_upto:
            break  # in seq order: the rest passed the gate
        try:
            sound_ranges(data)
        except UnsupportedUpdate as exc:
            refused[seq] = BadRow(seq, data, f"update refused: {exc}")
    return refused


def _try_fast(stored: StoredDoc, client_id: int | None) -> Doc | None:
    """Merge all blobs in Rust and apply once; None when any blob is bad."""
    blobs = ([stored.checkpoint] if stored.checkpoint is not None else []) + [
        data for _, data in stored.updates
    ]
    doc = new_doc(client_id)
    if not blobs:
        return doc
    try:
        apply_update_guarded(doc, merge_updates_guarded(blobs))
    except CorruptUpdateError:
        return None
    return doc
