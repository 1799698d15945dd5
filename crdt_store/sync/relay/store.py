"""The relay's storage interface: per notebook, an append-only log of opaque
envelopes, a capability-token hash and the newest snapshot.

Backends implement `RelayStore` (the SQLite one is `sqlite_store.SqliteRelayStore`)
and must pass `tests/relay_store_conformance.py`. Every method is a coroutine and
must not block the event loop for long: run blocking I/O in a thread.

Rules every backend keeps:

- sequence numbers are per notebook, start at 1, grow by 1 and are never reused;
- `append` is idempotent by envelope id (also for pruned envelopes) and returns only
  after the envelope is durably stored;
- only a hash of the capability token is ever stored (the caller hashes);
- pruning turns envelopes into id-only tombstones, never below a stored snapshot.
"""

from __future__ import annotations

import abc
import hashlib
from dataclasses import dataclass, field

DEFAULT_FETCH_LIMIT = 256
DEFAULT_FETCH_BYTES = 8 * 1024 * 1024


def token_hash(token: bytes) -> bytes:
    """What a relay keeps of a capability token: SHA-256 of its 32 raw bytes."""
    return hashlib.sha256(token).digest()


def envelope_id(body: bytes) -> str:
    """The id of an envelope (or sealed snapshot): hex BLAKE2b-256 of its bytes."""
    return hashlib.blake2b(body, digest_size=32).hexdigest()


class StoreError(Exception):
    """The backend failed (I/O error, full disk, corrupt file); the request may be retried."""


class UnknownNotebook(LookupError):
    """A notebook that was never registered through `authorize`."""


class SnapshotRejected(ValueError):
    """A snapshot (or a prune) that would break the log's rules; the message says which."""


@dataclass(frozen=True)
class NotebookInfo:
    head: int  # the last sequence number assigned, 0 for an empty log
    pruned: int  # envelopes with seq <= pruned are tombstones (0: none pruned)
    snapshot: int | None  # `upto` of the stored snapshot, None when there is none


@dataclass(frozen=True)
class StoredEnvelope:
    seq: int
    id: str
    body: bytes = field(repr=False)


@dataclass(frozen=True)
class StoredSnapshot:
    upto: int
    id: str
    stored_at: float  # the store clock's time (seconds since the epoch)
    body: bytes = field(repr=False)


@dataclass(frozen=True)
class Appended:
    seq: int
    new: bool  # False: the id was already stored, `seq` is its original number


class RelayStore(abc.ABC):
    """Storage of one relay. `open()` before use, `close()` after; not reopenable."""

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect, create the schema if needed; raise StoreError if unusable."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release everything; idempotent. Everything appended before stays stored."""

    @abc.abstractmethod
    async def authorize(self, notebook: str, token_sha256: bytes) -> NotebookInfo | None:
        """Register an unknown notebook with this token hash (trust on first use), or
        check the hash of a known one. The notebook's info, or None for a wrong hash."""

    @abc.abstractmethod
    async def info(self, notebook: str) -> NotebookInfo | None:
        """The notebook's info, None if it was never registered."""

    @abc.abstractmethod
    async def append(self, notebook: str, envelope_id: str, body: bytes) -> Appended:
        """Store an envelope under the next sequence number, durably, unless its id is
        already stored. UnknownNotebook if not registered."""

    @abc.abstractmethod
    async def fetch(self, notebook: str, after: int, *, limit: int = DEFAULT_FETCH_LIMIT,
                    max_bytes: int = DEFAULT_FETCH_BYTES) -> list[StoredEnvelope]:
        """Kept envelopes with seq > after in sequence order: at most `limit`, and no
        more than `max_bytes` of bodies unless the first alone is larger (it is still
        returned, so a caller always makes progress). Empty for an unknown notebook."""

    @abc.abstractmethod
    async def put_snapshot(self, notebook: str, upto: int, body: bytes) -> StoredSnapshot:
        """Store a snapshot covering seq <= upto, replacing the stored one. Rejected
        (SnapshotRejected) when upto > head or upto < the stored snapshot's upto.
        UnknownNotebook if not registered."""

    @abc.abstractmethod
    async def get_snapshot(self, notebook: str) -> StoredSnapshot | None:
        """The stored snapshot, or None."""

    @abc.abstractmethod
    async def prunable(self, stored_before: float) -> list[tuple[str, int]]:
        """(notebook, upto) for every snapshot stored at or before `stored_before` whose
        upto is above the notebook's pruned mark: what `prune` may be called with."""

    @abc.abstractmethod
    async def prune(self, notebook: str, upto: int) -> int:
        """Drop the bodies of envelopes with seq <= upto, keeping their ids (so a re-sent
        one is still a duplicate), and raise the pruned mark to upto. The number of
        bodies dropped. SnapshotRejected unless the stored snapshot covers upto."""
