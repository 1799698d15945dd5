"""Envelopes for a note that, so far as this device knows, lives in another notebook.

A note moved into notebook B and edited there at once: the edit travels on B's stream,
the move on the catalogs' streams, and a device can hear of the edit first (its author
may even have learnt of the move over another path). To this device the note is still
in A, and taking an edit for it from B would let any member of B write A's notes. So
the envelope is parked, on disk in the sync state, and tried again after each catalog
change: once the move is here, it merges. Loop-thread bookkeeping; the engine merges.
"""

from __future__ import annotations

import logging
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass

from .envelope import EnvelopeError, Opened, open_envelope
from .keymaterial import NotebookKey
from .state import SyncState

log = logging.getLogger(__name__)

MAX_PARKED = 1000  # envelopes waiting at once; past this they are rejected as before
# One device's share of the lot: a member sending edits for notes it cannot place (by
# mistake, or to crowd out the others' moves) fills its own share, not everyone's.
MAX_PARKED_PER_SENDER = 100


@dataclass(frozen=True)
class Parked:
    url: str
    notebook_id: str
    opened: Opened
    envelope: bytes


class ParkingLot:
    def __init__(self, state: SyncState) -> None:
        self._state = state
        self._waiting: dict[str, Parked] = {}
        self._per_sender: Counter[bytes] = Counter()
        self._merging: deque[tuple[int, list[str]]] = deque()  # (vault ticket, ids) merged
        self.retrying = False  # a retry is on the owner thread ...
        self.retry_again = False  # ... and a catalog changed since it left

    def __len__(self) -> int:
        return len(self._waiting)

    def load(self, keys: Mapping[str, NotebookKey], max_size: int) -> None:
        """Take back what was parked before a restart (those whose key is here)."""
        dropped = []
        for env_id, url, notebook_id, envelope in self._state.parked():
            key = keys.get(notebook_id)
            if key is None:
                continue
            try:
                opened = open_envelope(key, notebook_id, envelope, expect="update",
                                       max_size=max_size)
            except EnvelopeError as exc:
                log.warning("dropping a parked envelope that no longer opens: %s", exc)
                dropped.append(env_id)
                continue
            if not self._take_place(Parked(url, notebook_id, opened, envelope)):
                log.warning("dropping a parked envelope past the lot's bounds: %s", env_id)
                dropped.append(env_id)  # parked before the bounds (or shares) were lower
        if dropped:
            self._state.unpark(dropped)

    def park(self, parked: Parked) -> bool:
        """Keep `parked` (written with the state's next flush); False when the lot, or
        its sender's share of it, is full."""
        if parked.opened.envelope_id in self._waiting:
            return True
        if not self._take_place(parked):
            return False
        self._state.park(parked.url, parked.notebook_id, parked.opened.envelope_id,
                         parked.envelope)
        return True

    def _take_place(self, parked: Parked) -> bool:
        sender = parked.opened.sender
        if len(self._waiting) >= MAX_PARKED or self._per_sender[sender] >= MAX_PARKED_PER_SENDER:
            return False
        self._waiting[parked.opened.envelope_id] = parked
        self._per_sender[sender] += 1
        return True

    def waiting(self) -> list[Parked]:
        return list(self._waiting.values())

    def merged(self, envelope_ids: list[str], ticket: int) -> None:
        """These left the lot: merged into the vault as of `ticket`, or rejected for good."""
        for env_id in envelope_ids:
            left = self._waiting.pop(env_id, None)
            if left is not None:
                self._per_sender[left.opened.sender] -= 1
                if not self._per_sender[left.opened.sender]:
                    del self._per_sender[left.opened.sender]
        if envelope_ids:
            self._merging.append((ticket, envelope_ids))

    def forget_durable(self, durable: int) -> bool:
        """Delete the rows of envelopes whose merge is on disk now; True if any."""
        ids = []
        while self._merging and self._merging[0][0] <= durable:
            ids += self._merging.popleft()[1]
        if ids:
            self._state.unpark(ids)
        return bool(ids)
