"""Folding a document's update log into a checkpoint, keeping its history reconstructible.

Retention rule:
- Documents are kept without garbage collection (`skip_gc`), so the checkpoint, a
  full encoded state, still holds every deleted character.
- Compaction replaces the folded update rows by one checkpoint per document and a
  *version mark* per editing session: one author's run of updates, ended by
  `SESSION_GAP` seconds of quiet or by another author. A mark stores the session's
  author, time range, update count and a pycrdt Snapshot (state vector plus delete
  set), from which the text as it was at the end of that session is rebuilt
  (`crdt_store.history`; not `Doc.from_snapshot`, which Yrs gets wrong for some
  snapshots). Versions inside a session, between two marks, are not kept once
  folded; rows not yet folded keep full detail.
- A session can span compactions: when the first rows folded continue the last
  mark's session (same device, less than `SESSION_GAP` later), that mark is
  extended rather than a new one started, so a document's sessions are the same
  whether or not its rows have been folded yet (`SessionReplay` is the one
  definition, used here and by the history). Rows kept back by an earlier
  compaction were counted in its marks already and are not counted again.
- A row is folded only when it is causally complete: the checkpoint covers both the
  state it was made on and the operations it carries. Rows still waiting for
  missing dependencies stay as rows (Yrs does not encode pending updates into a
  state), so nothing received is ever dropped.
- The new checkpoint is decoded and compared before any row is deleted, and all of
  it happens in one SQLite transaction: a crash leaves either the old log or the new.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import dataclass, field

from pycrdt import Doc, Snapshot

from .errors import CorruptUpdateError
from .guard import apply_update_guarded
from .statevector import covers, decode_state_vector
from .update_structs import update_is_covered

log = logging.getLogger(__name__)

SESSION_GAP = 300.0


@dataclass
class EditingSession:
    """One author's run of rows: `updates` rows up to `last_seq`, from `start` to `end`."""

    device_id: str
    author_name: str
    start: float
    end: float
    updates: int = 0
    last_seq: int = 0

    def continued_by(self, device_id: str, wall_time: float) -> bool:
        """Does a row from `device_id` at `wall_time` belong to this session? (The rule:
        another device, or `SESSION_GAP` seconds of quiet, starts a new one.)"""
        return device_id == self.device_id and wall_time - self.end < SESSION_GAP


class SessionReplay:
    """Apply a document's rows in log order, grouping them into editing sessions and
    taking a Snapshot (encoded) at the end of each.

    `last` is the newest session already marked, which the first rows may continue;
    rows at or before `marked_upto` were counted in a mark already (rows an earlier
    compaction kept back): they are applied but start or extend no session. Neither
    do rows that change nothing (a duplicate, or an update still waiting for one it
    depends on: what it brings counts with the row that completes it).
    """

    def __init__(self, doc: Doc, last: EditingSession | None = None,
                 marked_upto: int = 0) -> None:
        self.doc = doc
        self.marked_upto = marked_upto
        self.closed: list[tuple[EditingSession, bytes]] = []
        self.current = last
        self._changed = False
        doc.observe(self._saw_change)  # called only by transactions that change something

    def _saw_change(self, _event: object) -> None:
        self._changed = True

    def apply(self, seq: int, data: bytes, device_id: str, author_name: str,
              wall_time: float) -> None:
        """Apply one row; CorruptUpdateError (nothing applied) for bytes that will not."""
        if seq <= self.marked_upto:
            apply_update_guarded(self.doc, data)
            return
        session = self.current
        ends = session is not None and not session.continued_by(device_id, wall_time)
        before = Snapshot.from_doc(self.doc).encode() if ends else b""
        self._changed = False
        apply_update_guarded(self.doc, data)
        if not self._changed:
            return
        if ends:
            self.closed.append((session, before))
            session = self.current = None
        if session is None:
            session = self.current = EditingSession(device_id, author_name, wall_time, wall_time)
        session.end = max(session.end, wall_time)
        session.updates += 1
        session.last_seq = seq

    def sessions(self) -> list[tuple[EditingSession, bytes]]:
        """Every session ended so far, then the open one with a snapshot of now."""
        if self.current is None:
            return list(self.closed)
        return [*self.closed, (self.current, Snapshot.from_doc(self.doc).encode())]


@dataclass
class CompactionResult:
    doc_id: str
    folded: int
    kept: int
    quarantined: int
    checkpoint_bytes: int
    marks: int = 0
    problems: list[str] = field(default_factory=list)


def quarantine_row(
    conn: sqlite3.Connection, doc_id: str, source: str, seq: int | None, data: bytes, error: str
) -> None:
    """Move bad bytes aside, keeping them, so they never block loading again."""
    conn.execute(
        "INSERT INTO quarantine (doc_id, source, source_seq, data, error, quarantined_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (doc_id, source, seq, data, error, time.time()),
    )
    if source == "update":
        conn.execute("DELETE FROM updates WHERE seq = ?", (seq,))
    else:
        conn.execute("DELETE FROM checkpoints WHERE doc_id = ?", (doc_id,))


def compact_document(conn: sqlite3.Connection, doc_id: str) -> CompactionResult | None:
    """Fold the complete rows of one document into its checkpoint. Caller owns the transaction."""
    rows = conn.execute(
        "SELECT seq, data, device_id, author_name, wall_time, state_vector FROM updates "
        "WHERE doc_id = ? ORDER BY seq",
        (doc_id,),
    ).fetchall()
    if not rows:
        return None
    doc: Doc = Doc(skip_gc=True)
    found = conn.execute("SELECT data FROM checkpoints WHERE doc_id = ?", (doc_id,)).fetchone()
    if found is not None:
        # A checkpoint that no longer decodes must not be replaced by a poorer one here:
        # leave everything as it is; loading reports it.
        apply_update_guarded(doc, found[0])
    result = CompactionResult(doc_id, 0, 0, 0, 0)
    last = last_mark(conn, doc_id)
    marked_upto = last.last_seq if last else 0
    replay = SessionReplay(doc, last, marked_upto)
    applied: list[tuple[int, bytes, bytes]] = []
    for seq, data, device_id, author_name, wall_time, made_on in rows:
        try:
            replay.apply(seq, data, device_id, author_name, wall_time)
        except CorruptUpdateError as exc:
            quarantine_row(conn, doc_id, "update", seq, data, str(exc))
            result.quarantined += 1
            result.problems.append(f"update {seq}: {exc}")
            continue
        applied.append((seq, data, made_on))
    # The last mark is rewritten only if these rows continued its session.
    continued = last is not None and last.last_seq != marked_upto
    sessions = [(s, snap) for s, snap in replay.sessions() if continued or s is not last]
    have = decode_state_vector(doc.get_state())
    folded = [seq for seq, data, made_on in applied if _is_complete(have, data, made_on)]
    if not folded:
        return result
    encoded = doc.get_update()
    _verify(encoded, doc)
    upto = max(folded)
    conn.execute(
        "INSERT OR REPLACE INTO checkpoints (doc_id, upto_seq, data, created) VALUES (?, ?, ?, ?)",
        (doc_id, upto, encoded, time.time()),
    )
    if continued:
        conn.execute("DELETE FROM version_marks WHERE doc_id = ? AND upto_seq = ?",
                     (doc_id, marked_upto))
    conn.executemany(
        "INSERT OR REPLACE INTO version_marks (doc_id, upto_seq, start_time, end_time, "
        "device_id, author_name, updates, snapshot) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (doc_id, s.last_seq, s.start, s.end, s.device_id, s.author_name, s.updates, snap)
            for s, snap in sessions
        ],
    )
    conn.executemany("DELETE FROM updates WHERE seq = ?", [(seq,) for seq in folded])
    result.folded = len(folded)
    result.kept = len(applied) - len(folded)
    result.checkpoint_bytes = len(encoded)
    result.marks = len(sessions)
    return result


def last_mark(conn: sqlite3.Connection, doc_id: str) -> EditingSession | None:
    """The document's newest version mark, as a session later rows may continue."""
    row = conn.execute(
        "SELECT device_id, author_name, start_time, end_time, updates, upto_seq "
        "FROM version_marks WHERE doc_id = ? ORDER BY upto_seq DESC LIMIT 1", (doc_id,)
    ).fetchone()
    return EditingSession(*row) if row else None


def _is_complete(have: dict[int, int], data: bytes, made_on: bytes) -> bool:
    """Whether the doc (state vector `have`) holds a row's dependencies
    and everything the row carries."""
    try:
        return covers(have, decode_state_vector(made_on)) and update_is_covered(data, have)
    except ValueError:
        return False


def _verify(state: bytes, doc: Doc) -> None:
    """Decode the new checkpoint and compare before anything is deleted."""
    check: Doc = Doc(skip_gc=True)
    apply_update_guarded(check, state)
    if check.get_state() != doc.get_state():
        raise CorruptUpdateError("a new checkpoint did not reproduce its document; not compacted")
