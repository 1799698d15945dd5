"""Edit stamps: which edit is which, and what its author had seen when making it.

Yjs state vectors cannot say whether an edit that only deleted text had been seen
(deletions carry no clock), so every change also gets a stamp: its author's client
id, a count that grows with each of that client's changes to the document, and a
version vector of the counts the author had integrated (`seen`). Two edits are
concurrent exactly when neither author had seen the other's: the review panel's
test, decided from causal metadata and never from wall clocks.

Counts are per client and document. A new count is at least the wall clock in
milliseconds, so a count is never reused even if the last one written before a
crash was lost.

Trashing or moving a note is an event in the note's history too: it takes a count
under its author's *structure key* (`structure_key`, never a real client id), and
every device that learns of it adds that count to the note's vector. An edit made
after seeing the trash therefore carries it in `seen`, and one made without seeing
it does not: how the review panel tells an edit concurrent with a trash from a
later one. Structure keys never name an edit, so they do not change which edits
are concurrent with each other.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from types import MappingProxyType
from typing import NamedTuple


STRUCTURE_BASE = 2**60  # structure keys: above every client id Yjs hands out (53 bits)


def structure_key(client: int) -> int:
    """The vector key under which `client` counts its trashes and moves of a note."""
    return STRUCTURE_BASE + client % STRUCTURE_BASE


def is_structure_key(key: int) -> bool:
    return key >= STRUCTURE_BASE


_SAW_NOTHING: Mapping[int, int] = MappingProxyType({})


class EditStamp(NamedTuple):
    """One edit's stamp (a NamedTuple: immutable, and cheap to make per keystroke)."""

    client: int
    first: int  # count of the first change in this edit (an envelope may carry several)
    last: int
    seen: Mapping[int, int] = _SAW_NOTHING

    def saw(self, other: EditStamp) -> bool:
        """Had this edit's author integrated all of `other` (an edit may span several
        changes: one seen only in part was still partly made blind)?"""
        return other.client == self.client or self.seen.get(other.client, 0) >= other.last

    def concurrent_with(self, other: EditStamp) -> bool:
        return not self.saw(other) and not other.saw(self)

    def to_json(self) -> dict:
        return {"client": self.client, "counts": [self.first, self.last],
                "seen": {str(c): n for c, n in self.seen.items()}}


def stamp_from_json(data: object) -> EditStamp | None:
    """A stamp from untrusted JSON, or None if it is missing or malformed."""
    if not isinstance(data, dict):
        return None
    client, counts = data.get("client"), data.get("counts")
    vector = vector_from_json(data.get("seen"))
    if (not _count(client) or not isinstance(counts, list) or len(counts) != 2
            or not all(_count(n) for n in counts) or counts[0] > counts[1] or vector is None):
        return None
    return EditStamp(client, counts[0], counts[1], MappingProxyType(vector))


def vector_from_json(data: object) -> dict[int, int] | None:
    """A version vector {client: count} from untrusted JSON, or None if malformed."""
    if not isinstance(data, dict) or len(data) > 10_000:
        return None
    vector = {}
    for key, value in data.items():
        if not (isinstance(key, str) and key.isdigit() and _count(value)):
            return None
        vector[int(key)] = value
    return vector


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63


class DocumentClocks:
    """Every document's version vector of counts, kept in memory, loaded lazily and
    written back by the owner (`dirty`)."""

    def __init__(self, load: callable) -> None:
        self._load = load  # doc_id -> JSON text or None
        self._vectors: dict[str, dict[int, int]] = {}
        self.dirty: set[str] = set()

    def vector(self, doc_id: str) -> dict[int, int]:
        vector = self._vectors.get(doc_id)
        if vector is None:
            text = self._load(doc_id)
            vector = {int(c): int(n) for c, n in json.loads(text).items()} if text else {}
            self._vectors[doc_id] = vector
        return vector

    def stamp_local(self, doc_id: str, client: int) -> EditStamp:
        """A new change by this device: its stamp, and the vector moves past it."""
        vector = self.vector(doc_id)
        count = max(vector.get(client, 0) + 1, int(time.time() * 1000))
        stamp = EditStamp(client, count, count, MappingProxyType(dict(vector)))
        vector[client] = count
        self.dirty.add(doc_id)
        return stamp

    def integrate(self, doc_id: str, stamp: EditStamp) -> None:
        """A collaborator's change was merged here."""
        self.merge(doc_id, {stamp.client: stamp.last})

    def merge(self, doc_id: str, clock: Mapping[int, int]) -> None:
        """Counts now known to be integrated here: a whole document from a peer brings
        every edit its sender had (its clock)."""
        vector = self.vector(doc_id)
        for client, count in clock.items():
            if count > vector.get(client, 0):
                vector[client] = count
                self.dirty.add(doc_id)

    def take_dirty(self) -> list[tuple[str, str]]:
        """(doc_id, JSON) of every vector changed since the last call."""
        dirty, self.dirty = self.dirty, set()
        return [(d, json.dumps({str(c): n for c, n in self._vectors[d].items()})) for d in dirty]
