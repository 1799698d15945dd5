"""Since I last looked: per note, the version this user last saw, which notes others
changed since, and where. GUI-free.

- **Seen.** `mark_seen` records the note's version as a pycrdt Snapshot (state vector
  and delete set) in `note_seen`. Opening a note in the GUI calls it; so does "mark
  all seen".
- **Unread.** A note is unread when a change by someone else (a client id that is not
  this device's) has been merged since it was last seen, or when a collaborator's
  catalog change placed a note this device had never had. Own edits never make a
  note unread, and a note created here starts read. Another device of the same
  person counts as someone else: Plait has no identity across devices but the
  display name, and a namesake's edits must not hide. The set is kept from change
  events, in memory and in `note_seen.unread` (written with the merge, in the same
  writer queue), so asking is O(unread notes), never a scan.
- **Where.** `changes` gives, in the current text, what others inserted since the
  seen version (their units with a clock the seen state vector lacks) and where they
  deleted text that was there then. Deletions carry no author in Yjs, so the ids
  every merged change from someone else deleted are kept per note in
  `note_seen_deletions` until the note is seen again.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable

from ..events import ChangeEvent, DocKind, Source
from ..storage import Storage
from .authorship import Layout, Ranges, UnsupportedUpdate, snapshot_parts, update_deletions

log = logging.getLogger(__name__)


class _Seen:
    """What is kept of one note: its seen snapshot (None: never seen) and the ids
    others deleted since."""

    __slots__ = ("snapshot", "deletions")

    def __init__(self, snapshot: bytes | None, deletions: list[bytes]) -> None:
        self.snapshot = snapshot
        self.deletions = deletions


class LastSeen:
    """Unread notes and changes since seen, for one vault (used on its owner thread)."""

    def __init__(self, storage: Storage, *, own_clients: Callable[[], set[int]],
                 has_note: Callable[[str], bool]) -> None:
        """`has_note(id)`: does this device have the note's document (so a catalog change
        placing it is not a new note)?"""
        self._storage = storage
        self._own_clients = own_clients
        self._has_note = has_note
        self._notes: dict[str, _Seen] = {}
        try:
            rows = storage.query("SELECT note_id FROM note_seen WHERE unread = 1")
        except sqlite3.OperationalError:  # a read-only look at a vault not yet migrated
            rows = []
        self._unread: set[str] = {r[0] for r in rows}

    # ---- from change events ------------------------------------------------------------

    def on_change(self, event: ChangeEvent) -> None:
        origin = event.origin
        if origin.source is not Source.REMOTE or origin.author.client_id in self._own_clients():
            return
        if event.kind is DocKind.NOTE:
            self._set_unread(event.doc_id)
            if event.ops is None or any(op.delete for op in event.ops):
                self._record_deletions(event.doc_id, event.update)
            return
        for note_id in event.placed:  # a collaborator's new note, before (or without) text
            if note_id not in self._unread and not self._has_note(note_id):
                self._set_unread(note_id)

    def _set_unread(self, note_id: str) -> None:
        if note_id in self._unread:
            return
        self._unread.add(note_id)
        self._storage.submit(lambda conn: conn.execute(
            "INSERT INTO note_seen (note_id, unread) VALUES (?, 1) "
            "ON CONFLICT (note_id) DO UPDATE SET unread = 1", (note_id,)))

    def _record_deletions(self, note_id: str, update: bytes) -> None:
        try:
            deleted = update_deletions(update)
        except UnsupportedUpdate as exc:
            log.warning("could not read the deletions of an update of %s: %s", note_id, exc)
            return
        if not deleted:
            return
        blob = deleted.encode()
        self._state(note_id).deletions.append(blob)
        self._storage.submit(lambda conn: conn.execute(
            "INSERT INTO note_seen_deletions (note_id, deletions) VALUES (?, ?)",
            (note_id, blob)))

    def _state(self, note_id: str) -> _Seen:
        """Loaded once per note; every later write goes through it first, so what is not
        on disk yet is here."""
        state = self._notes.get(note_id)
        if state is None:
            try:
                row = self._storage.query(
                    "SELECT snapshot FROM note_seen WHERE note_id = ?", (note_id,))
                deletions = [r[0] for r in self._storage.query(
                    "SELECT deletions FROM note_seen_deletions WHERE note_id = ? ORDER BY id",
                    (note_id,))]
            except sqlite3.OperationalError:
                row, deletions = [], []
            state = self._notes[note_id] = _Seen(row[0][0] if row else None, deletions)
        return state

    # ---- the API -------------------------------------------------------------------------

    def mark_seen(self, note_id: str, snapshot: bytes) -> None:
        """This user has now seen the note as of `snapshot` (pycrdt Snapshot bytes)."""
        self._unread.discard(note_id)
        self._notes[note_id] = _Seen(snapshot, [])
        seen_at = time.time()

        def write(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT OR REPLACE INTO note_seen (note_id, snapshot, seen_at, unread) "
                         "VALUES (?, ?, ?, 0)", (note_id, snapshot, seen_at))
            conn.execute("DELETE FROM note_seen_deletions WHERE note_id = ?", (note_id,))

        self._storage.submit(write)

    def unread(self) -> set[str]:
        return set(self._unread)

    def is_unread(self, note_id: str) -> bool:
        return note_id in self._unread

    def counts(self, placement: Callable[[str], tuple[str | None, bool]]) -> dict[str, int]:
        """Unread notes per notebook; `placement(id)` is (notebook, trashed). Notes in
        the trash are not counted."""
        counts: dict[str, int] = {}
        for note_id in self._unread:
            home, trashed = placement(note_id)
            if home is not None and not trashed:
                counts[home] = counts.get(home, 0) + 1
        return counts

    def changes(self, note_id: str, layout: Layout) -> list[tuple[int, int]]:
        """Where others changed the note since it was seen, in code points of the current
        text, sorted: (start, end) with start < end is text they inserted; (p, p) is a
        place where they deleted text and inserted nothing there. A deletion at the
        edge of (or inside) an inserted range is part of that range (a replacement).
        A note never seen: all text by others, and no deletion points."""
        state = self._state(note_id)
        own = self._own_clients()
        if state.snapshot is None:
            seen_deleted, seen_state = Ranges(), {}
        else:
            seen_deleted, seen_state = snapshot_parts(state.snapshot)
        by_others = Ranges()
        for blob in state.deletions:
            by_others = by_others.union(Ranges.decode(blob))
        inserted: list[tuple[int, int]] = []  # UTF-16 offsets
        points: list[int] = []
        for (client, clock, units, gone), at in zip(layout.runs, layout.at):
            limit = seen_state.get(client, 0)
            if not gone:
                if client not in own and clock + units > limit:
                    start = at + max(0, limit - clock)
                    if inserted and inserted[-1][1] == start:
                        inserted[-1] = (inserted[-1][0], at + units)
                    else:
                        inserted.append((start, at + units))
                continue
            if state.snapshot is None or clock >= limit or not by_others:
                continue
            for start, end, was_gone in seen_deleted.split(client, clock, min(units, limit - clock)):
                if not was_gone and any(inside for _, _, inside
                                        in by_others.split(client, start, end - start)):
                    points.append(at)
                    break
        ranges = _merge(inserted, points)
        bounds = layout.to_cp([b for r in ranges for b in r])
        return [(bounds[2 * i], bounds[2 * i + 1]) for i in range(len(ranges))]


def _merge(inserted: list[tuple[int, int]], points: list[int]) -> list[tuple[int, int]]:
    """Inserted ranges (in order, disjoint) and deletion points, as one sorted list; a
    point touching a range joins it, and points at one place are one."""
    out: list[tuple[int, int]] = []
    items = sorted([*inserted, *((p, p) for p in set(points))])
    for start, end in items:
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out
