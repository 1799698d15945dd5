"""Updates yrs holds back, given to it again until they integrate.

An update whose predecessor has not arrived waits inside yrs ("pending"). With two of
them waiting at once, yrs (pycrdt 0.14.13) merges them, and when the predecessor
arrives it integrates only the first: the second's items never reach the document,
though its bytes are in the update log (found by the middlebox-fault suite; see
tests/test_held_back.py). So the vault keeps, per document, the updates still short of
integrating and applies them again after each later merge. Applying an update that
is already integrated changes nothing.
"""

from __future__ import annotations

from pycrdt import Doc

from .guard import apply_update_guarded
from .statevector import decode_state_vector
from .update_structs import UnsupportedUpdate, carries_beyond, reaches_beyond


def is_held_back(doc: Doc, update: bytes,
                 inserted: dict[int, list[tuple[int, int]]] | None = None) -> bool:
    """Does `update` carry items past `doc`'s state vector (waiting for a predecessor)?
    `inserted`: its ids, when the caller has read them already. Read by update_structs,
    not by asking yrs for the part `doc` lacks, which was suspected of corrupting memory
    on some malformed updates (before the gate refused the ones that did, guard.py). One it cannot read (yrs took it) is not kept, as before this
    workaround."""
    try:
        have = decode_state_vector(doc.get_state())
        if inserted is not None:
            return reaches_beyond(inserted, have)
        return carries_beyond(update, have)
    except UnsupportedUpdate:
        return False


def integrate_held_back(doc: Doc, held: list[bytes]) -> list[bytes]:
    """Apply `held` again until nothing more integrates; returns what still waits."""
    while held:
        before = doc.get_state()
        for update in held:
            apply_update_guarded(doc, update)
        held = [update for update in held if is_held_back(doc, update)]
        if doc.get_state() == before:
            break
    return held
