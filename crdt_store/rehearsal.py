"""A private copy of one live document that every foreign update meets first.

pycrdt can fail part-way through a merge: a Rust panic inside yrs, or an error raised
after some of the update's blocks were already integrated. There is no rollback, so
had the update gone straight into the live document, the note would be left
half-changed in memory (while the update log never stored the update), and after a
panic the document can be corrupt enough that the next transaction crashes the
process. A hostile or buggy member could do this to every device, again at each
start, since the relay would hand the same envelope over again.

So the vault merges a collaborator's update into this copy first, and into the live
document only once the copy took it, still reads, and can still be encoded (pycrdt
accepts some updates after which the document's own state no longer encodes). The copy follows the live
document's local changes by their update bytes (microseconds each), so a merge costs
two applies rather than a full copy per merge; the copy is made on the first merge a
document receives and remade after any failure. Only the most recently merged
documents keep theirs between merges (the vault's REHEARSAL_COPIES).
"""

from __future__ import annotations

import logging

from pycrdt import Doc, Text, get_state

from . import model
from .guard import apply_update_guarded, guarded

log = logging.getLogger(__name__)


class Rehearsal:
    """The copy of one live document (made lazily; `reads_body` for notes)."""

    def __init__(self, live: Doc, *, reads_body: bool) -> None:
        self._live = live
        self._reads_body = reads_body
        self._copy: Doc | None = None

    def follow(self, update: bytes) -> None:
        """The live document made this change itself: the copy takes it too."""
        if self._copy is None:
            return
        try:
            self._copy.apply_update(update)
        except BaseException as exc:  # a panic too: the copy is remade at the next merge
            log.warning("the rehearsal copy could not follow a local change (%s); "
                        "it is made again at the next merge", exc)
            self._copy = None

    def rehearse(self, update: bytes) -> None:
        """Merge `update` into the copy; CorruptUpdateError if pycrdt fails on it, or if
        the merged body can no longer be read. The live document is never touched."""
        copy = self._copy if self._copy is not None else self._fresh_copy()
        self._copy = None  # until it has taken the update whole
        before = copy.get_state()
        apply_update_guarded(copy, update)
        # What the update added must still encode, and decode again: pycrdt accepts some
        # updates (a client with no operations) after which encoding the document panics,
        # or its encoding no longer decodes, for ever.
        added = guarded(lambda: copy.get_update(before),
                        "update could not be applied (the document would not encode)")
        guarded(lambda: get_state(added),
                "update could not be applied (the document would not decode again)")
        if self._reads_body:
            body: Text = model.note_body(copy)
            guarded(lambda: str(body), "update could not be applied (the note would not read)")
        self._copy = copy

    @property
    def holds_copy(self) -> bool:
        return self._copy is not None

    def forget(self) -> None:
        """Drop the copy, to be made again at the next merge: the live document and the
        copy may differ now (a failed live merge), or the memory is wanted back."""
        self._copy = None

    def _fresh_copy(self) -> Doc:
        copy = model.new_doc()  # kept deleted content included, as in the live one
        copy.apply_update(self._live.get_update())
        return copy
