"""SQLite persistence for a vault: an append-only update log per document, with checkpoints.

Writes never happen on the caller's thread. `append()` and `submit()` queue work
and return a ticket at once; a writer thread gathers everything queued during
`flush_interval` into one SQLite transaction (WAL, synchronous=FULL), so there
is one fsync per batch rather than per keystroke. When the commit returns, the
batch's tickets are durable: `durable_ticket` and `on_durable` say so.

Crash window: an edit is queued at most `flush_interval` before its batch starts
and is durable when the commit returns, so a kill -9 loses at most the edits of
the last ~flush_interval + one commit (about 100-150 ms with the defaults). A
failing disk keeps the batch in memory and retries; nothing is dropped while the
process lives, and `flush()` raises StorageError with the reason.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, NamedTuple

from pycrdt import merge_updates

from .compaction import compact_document
from .guard import is_rust_panic
from .statevector import made_on_for_local
from .errors import CorruptUpdateError, StorageError, VaultVersionError

log = logging.getLogger(__name__)

SCHEMA_VERSION = 6
DB_NAME = "plait.sqlite3"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS updates (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id TEXT NOT NULL,
    data BLOB NOT NULL,
    client_id INTEGER NOT NULL,
    device_id TEXT NOT NULL,
    author_name TEXT NOT NULL,
    wall_time REAL NOT NULL,
    state_vector BLOB NOT NULL,
    origin TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS updates_by_doc ON updates (doc_id, seq);
CREATE TABLE IF NOT EXISTS checkpoints (
    doc_id TEXT PRIMARY KEY,
    upto_seq INTEGER NOT NULL,
    data BLOB NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS version_marks (
    doc_id TEXT NOT NULL,
    upto_seq INTEGER NOT NULL,
    start_time REAL NOT NULL,
    end_time REAL NOT NULL,
    device_id TEXT NOT NULL,
    author_name TEXT NOT NULL,
    updates INTEGER NOT NULL,
    snapshot BLOB NOT NULL,
    PRIMARY KEY (doc_id, upto_seq)
);
CREATE TABLE IF NOT EXISTS quarantine (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id TEXT NOT NULL,
    source TEXT NOT NULL,
    source_seq INTEGER,
    data BLOB NOT NULL,
    error TEXT NOT NULL,
    quarantined_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS note_index (
    note_id TEXT PRIMARY KEY,
    notebook_id TEXT,
    title TEXT NOT NULL,
    snippet TEXT NOT NULL,
    tags TEXT NOT NULL,
    created REAL NOT NULL,
    modified REAL NOT NULL,
    pinned INTEGER NOT NULL,
    trashed INTEGER NOT NULL,
    chars INTEGER NOT NULL,
    index_seq INTEGER NOT NULL,
    state BLOB
);
CREATE TABLE IF NOT EXISTS imports (source_key TEXT PRIMARY KEY, note_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS edit_clocks (doc_id TEXT PRIMARY KEY, clock TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS review_flags (
    flag_id TEXT PRIMARY KEY,
    note_id TEXT NOT NULL,
    detected REAL NOT NULL,
    state TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS review_notes (note_id TEXT PRIMARY KEY, state TEXT NOT NULL);
"""

# Authorship and "since I last looked" (crdt_store/history/authorship.py, last_seen.py).
SEEN_SCHEMA = """
CREATE TABLE IF NOT EXISTS note_seen (
    note_id TEXT PRIMARY KEY,
    snapshot BLOB,
    seen_at REAL,
    unread INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS note_seen_deletions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    note_id TEXT NOT NULL,
    deletions BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS note_seen_deletions_by_note ON note_seen_deletions (note_id);
CREATE TABLE IF NOT EXISTS client_authors (
    client_id INTEGER PRIMARY KEY,
    device_id TEXT NOT NULL,
    name TEXT NOT NULL,
    seen REAL NOT NULL
);
"""
SCHEMA += SEEN_SCHEMA


class UpdateRecord(NamedTuple):
    """One row of the update log: the bytes, who wrote them, when, and on what state.

    A NamedTuple because one is made per transaction on the typing path, and it
    goes to SQLite's executemany as it is.
    """

    doc_id: str
    data: bytes
    client_id: int
    device_id: str
    author_name: str
    wall_time: float
    state_vector: bytes
    origin: str


@dataclass(frozen=True, slots=True)
class StoredDoc:
    """What is on disk for one document: its checkpoint (if any) and later updates."""

    checkpoint: bytes | None
    checkpoint_seq: int
    updates: list[tuple[int, bytes]]


WriteFn = Callable[[sqlite3.Connection], None]


def connect(db_path: Path, *, read_only: bool = False) -> sqlite3.Connection:
    """Open the database with the pragmas every connection of a vault needs."""
    if read_only:
        conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, isolation_level=None)
    else:
        conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 5000")
    if not read_only:
        # auto_vacuum only takes effect on a database with no tables yet, so it must
        # come before anything else writes: compaction then hands freed pages back.
        conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
    return conn


def rollback(conn: sqlite3.Connection) -> None:
    """Roll back the open transaction, unless SQLite already has: it does so itself
    after some errors (a full disk, an I/O error), and a ROLLBACK would then fail with
    "no transaction is active" and hide the reason."""
    if conn.in_transaction:
        conn.execute("ROLLBACK")


def init_schema(conn: sqlite3.Connection) -> None:
    """Create or check the schema; refuses a vault from a newer Plait."""
    row = conn.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND name='meta'"
    ).fetchone()
    if row is not None:
        found = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        version = int(found[0]) if found else 0
        if version > SCHEMA_VERSION:
            raise VaultVersionError(
                f"This vault was written by a newer Plait (schema {version}); "
                f"this version understands schema {SCHEMA_VERSION}. Update Plait to open it."
            )
        if version < SCHEMA_VERSION:
            _migrate(conn, version)
        return
    conn.executescript("BEGIN;" + SCHEMA + "COMMIT;")
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
    )


def _migrate(conn: sqlite3.Connection, version: int) -> None:
    """Bring an older vault's schema up to date, in one transaction."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        if version < 2:  # the note list records each note's state vector, for search
            conn.execute("ALTER TABLE note_index ADD COLUMN state BLOB")
        if version < 3:  # edit stamps (crdt_store/edit_clock.py), for the review panel
            conn.execute("CREATE TABLE IF NOT EXISTS edit_clocks "
                         "(doc_id TEXT PRIMARY KEY, clock TEXT NOT NULL)")
        if version < 4:  # review flags (crdt_store/review)
            conn.execute("CREATE TABLE IF NOT EXISTS review_flags (flag_id TEXT PRIMARY KEY, "
                         "note_id TEXT NOT NULL, detected REAL NOT NULL, state TEXT NOT NULL, "
                         "data TEXT NOT NULL)")
        if version < 5:  # the review detector's edit runs and flag anchors, per note
            conn.execute("CREATE TABLE IF NOT EXISTS review_notes "
                         "(note_id TEXT PRIMARY KEY, state TEXT NOT NULL)")
        if version < 6:  # authorship and "since I last looked" (crdt_store/history)
            _migrate_to_6(conn)
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'",
                     (str(SCHEMA_VERSION),))
    except BaseException:
        rollback(conn)
        raise
    conn.execute("COMMIT")


def _migrate_to_6(conn: sqlite3.Connection) -> None:
    """Tables for the last-seen versions of notes and for collaborators' client ids;
    the ids are first learned from the update log (names of compacted rows are lost)."""
    for statement in SEEN_SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.execute("INSERT OR IGNORE INTO client_authors (client_id, device_id, name, seen) "
                 "SELECT client_id, device_id, author_name, max(wall_time) FROM updates "
                 "GROUP BY client_id")


def load_stored(conn: sqlite3.Connection, doc_id: str) -> StoredDoc:
    """Everything on disk needed to rebuild one document."""
    row = conn.execute(
        "SELECT data, upto_seq FROM checkpoints WHERE doc_id = ?", (doc_id,)
    ).fetchone()
    checkpoint, upto = (row[0], row[1]) if row else (None, 0)
    # Every remaining row: rows kept back by compaction can be older than the checkpoint.
    updates = conn.execute(
        "SELECT seq, data FROM updates WHERE doc_id = ? ORDER BY seq", (doc_id,)
    ).fetchall()
    return StoredDoc(checkpoint, upto, updates)


class Storage:
    """The vault's database: reads on the caller's thread, writes on a writer thread."""

    def __init__(
        self,
        db_path: Path,
        *,
        read_only: bool = False,
        flush_interval: float = 0.1,
        on_error: Callable[[Exception], None] | None = None,
        on_durable: Callable[[int], None] | None = None,
        compact_after_rows: int = 1000,
        compact_when_idle_for: float = 2.0,
    ) -> None:
        self.db_path = db_path
        self.read_only = read_only
        self.flush_interval = flush_interval
        self._on_error = on_error
        self._on_durable = on_durable
        self.compact_after_rows = compact_after_rows
        self.compact_when_idle_for = compact_when_idle_for
        self._rows_since_checkpoint: dict[str, int] = {}
        self._last_row_at: dict[str, float] = {}
        self._conn = connect(db_path, read_only=read_only)
        if not read_only:
            init_schema(self._conn)
        self._pending: deque[tuple[int, UpdateRecord | WriteFn]] = deque()
        self._wake = threading.Event()
        self._flush_now = threading.Event()
        self._durable_cv = threading.Condition()
        self._ticket = 0
        self.durable_ticket = 0
        self.last_error: Exception | None = None
        self._closing = False
        self._writer: threading.Thread | None = None
        if not read_only:
            self._writer = threading.Thread(target=self._run_writer, name="plait-writer", daemon=True)
            self._writer.start()

    # ---- writes (any thread; they only queue) -------------------------------------------

    def append(self, record: UpdateRecord) -> int:
        """Queue an update row; returns its ticket."""
        return self._enqueue(record)

    def submit(self, fn: WriteFn) -> int:
        """Queue a function to run on the writer's connection inside the next batch."""
        return self._enqueue(fn)

    def _enqueue(self, item: UpdateRecord | WriteFn) -> int:
        # Only the owner thread enqueues, and deque appends and pops are atomic, so no
        # lock is needed: a lock here made the typing path wait on the writer's GIL slices.
        if self._writer is None:
            raise StorageError("This vault is open read-only.")
        self._ticket += 1
        ticket = self._ticket
        was_idle = not self._pending
        self._pending.append((ticket, item))
        if was_idle:  # the writer drains everything at once: one wake-up per batch is enough
            self._wake.set()
        return ticket

    @property
    def last_ticket(self) -> int:
        return self._ticket

    def flush(self, timeout: float | None = 30.0) -> None:
        """Block until everything queued so far is durable; raise StorageError if it cannot be."""
        target = self._ticket
        if self._writer is None or self.durable_ticket >= target:
            return
        self._flush_now.set()
        self._wake.set()
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._durable_cv:
            while self.durable_ticket < target:
                if self.last_error is not None and self._failing:
                    raise StorageError(
                        f"Changes could not be saved: {self.last_error}. "
                        "They are kept in memory and retried."
                    ) from self.last_error
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise StorageError("Timed out waiting for changes to be written to disk.")
                self._durable_cv.wait(timeout=0.05 if remaining is None else min(remaining, 0.05))

    def close(self) -> None:
        """Flush and stop the writer. Raises StorageError if queued changes could not be saved."""
        if self._writer is not None:
            try:
                self.flush(timeout=None if self.last_error is None else 5.0)
            finally:
                self._closing = True
                self._wake.set()
                self._writer.join(timeout=10)
                self._writer = None
        self._conn.close()

    # ---- reads (the owner's thread) ------------------------------------------------------

    def load(self, doc_id: str) -> StoredDoc:
        """Everything needed to rebuild one document."""
        return load_stored(self._conn, doc_id)

    def query(self, sql: str, params: Iterable[object] = ()) -> list[tuple]:
        return self._conn.execute(sql, tuple(params)).fetchall()

    def write_position(self) -> int:
        """The highest update sequence number this database ever used (it only grows:
        compaction folds rows away, AUTOINCREMENT never hands a number out twice)."""
        row = self._conn.execute(
            "SELECT seq FROM sqlite_sequence WHERE name = 'updates'").fetchone()
        return int(row[0]) if row else 0

    def meta(self) -> dict[str, str]:
        return dict(self._conn.execute("SELECT key, value FROM meta").fetchall())

    def compact(self, doc_id: str | None = None) -> int:
        """Queue compaction of one document, or of every document with rows; returns a ticket."""

        def run(conn: sqlite3.Connection) -> None:
            ids = [doc_id] if doc_id else [
                r[0] for r in conn.execute("SELECT DISTINCT doc_id FROM updates")
            ]
            for one in ids:
                self._compact_one(conn, one)

        return self.submit(run)

    def execute_now(self, fn: WriteFn) -> None:
        """Run a write synchronously on the owner's connection (vault set-up only)."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            fn(self._conn)
        except BaseException:
            rollback(self._conn)
            raise
        self._conn.execute("COMMIT")

    # ---- the writer thread ---------------------------------------------------------------

    _failing = False

    def _run_writer(self) -> None:
        conn = connect(self.db_path)
        self._rows_since_checkpoint.update(
            conn.execute("SELECT doc_id, count(*) FROM updates GROUP BY doc_id").fetchall()
        )
        backoff = 0.2
        try:
            while True:
                if not self._pending and not self._closing:
                    self._wake.wait(timeout=1.0)
                if self._closing and (not self._pending or self._failing):
                    return
                try:
                    wrote = self._writer_step(conn)
                except Exception as exc:  # disk errors and bugs alike: report, keep the data, retry
                    self._report_failure(exc)
                    time.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
                    self._wake.set()
                    continue
                if wrote:
                    backoff = 0.2
        finally:
            conn.close()

    def _writer_step(self, conn: sqlite3.Connection) -> bool:
        """Write one batch (or do idle upkeep); True when a batch became durable."""
        if not self._pending:
            self._wake.clear()
            self._compact_idle_documents(conn)
            return False
        # Let a burst of keystrokes gather, unless someone is waiting on flush().
        if not self._closing:
            self._flush_now.wait(timeout=self.flush_interval)
        self._wake.clear()
        self._flush_now.clear()
        batch = self._take_batch()
        try:
            self._write_batch(conn, batch)
        except BaseException:
            self._requeue(batch)
            raise
        self._failing = False
        self.last_error = None
        with self._durable_cv:
            self.durable_ticket = batch[-1][0]
            self._durable_cv.notify_all()
        if self._on_durable is not None:
            self._on_durable(self.durable_ticket)
        self._vacuum_if_due(conn)
        return True

    def _take_batch(self) -> list[tuple[int, UpdateRecord | WriteFn]]:
        batch = []
        pop = self._pending.popleft
        while True:
            try:
                batch.append(pop())
            except IndexError:
                return batch

    def _requeue(self, batch: list[tuple[int, UpdateRecord | WriteFn]]) -> None:
        self._pending.extendleft(reversed(batch))

    def _report_failure(self, exc: Exception) -> None:
        if not isinstance(exc, sqlite3.Error):
            log.exception("unexpected error in the vault writer")
        first = not self._failing
        self._failing = True
        self.last_error = exc
        with self._durable_cv:
            self._durable_cv.notify_all()
        if first:
            log.error("writing the vault failed, will retry: %s", exc)
            if self._on_error is not None:
                self._on_error(StorageError(f"Changes could not be saved yet: {exc}"))

    def _write_batch(self, conn: sqlite3.Connection, batch: list) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            records: list[tuple] = []
            for _, item in batch:
                if isinstance(item, UpdateRecord):
                    records.append(item)
                    continue
                self._insert_records(conn, records)
                records = []
                self._run_write_fn(conn, item)
            self._insert_records(conn, records)
        except BaseException:
            rollback(conn)
            raise
        conn.execute("COMMIT")

    def _run_write_fn(self, conn: sqlite3.Connection, fn: WriteFn) -> None:
        """Run one queued write in a savepoint: a bug in it must not block every other write."""
        conn.execute("SAVEPOINT write_fn")
        try:
            fn(conn)
        except sqlite3.OperationalError:
            raise  # disk full, I/O, locked: the whole batch is retried
        except Exception as exc:
            conn.execute("ROLLBACK TO write_fn")
            log.exception("a queued vault write failed and was dropped")
            if self._on_error is not None:
                self._on_error(StorageError(f"A change could not be saved: {exc}"))
        conn.execute("RELEASE write_fn")

    def _insert_records(self, conn: sqlite3.Connection, records: list[UpdateRecord]) -> None:
        records = coalesce_local_runs(records)
        if records:
            now = time.monotonic()
            for record in records:
                doc_id = record.doc_id
                self._rows_since_checkpoint[doc_id] = self._rows_since_checkpoint.get(doc_id, 0) + 1
                self._last_row_at[doc_id] = now
            conn.executemany(
                "INSERT INTO updates (doc_id, data, client_id, device_id, author_name, "
                "wall_time, state_vector, origin) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                records,
            )

    def _compact_idle_documents(self, conn: sqlite3.Connection) -> None:
        """Fold logs that grew long, once their document has been quiet for a moment."""
        now = time.monotonic()
        due = [
            doc_id
            for doc_id, rows in self._rows_since_checkpoint.items()
            if rows >= self.compact_after_rows
            and (rows >= 20 * self.compact_after_rows
                 or now - self._last_row_at.get(doc_id, 0.0) >= self.compact_when_idle_for)
        ]
        for doc_id in due:
            conn.execute("BEGIN IMMEDIATE")
            try:
                self._compact_one(conn, doc_id)
            except BaseException:
                rollback(conn)
                raise
            conn.execute("COMMIT")
        self._vacuum_if_due(conn)

    _vacuum_due = False

    def _vacuum_if_due(self, conn: sqlite3.Connection) -> None:
        """Give pages freed by compaction back to the file system, outside any transaction.

        (Through Python's execute() the pragma frees a single page per call;
        executescript runs it to completion.)
        """
        if self._vacuum_due:
            self._vacuum_due = False
            conn.executescript("PRAGMA incremental_vacuum;")

    def _compact_one(self, conn: sqlite3.Connection, doc_id: str) -> None:
        try:
            result = compact_document(conn, doc_id)
        except BaseException as exc:
            # A Rust panic (pycrdt encoding a document a peer's update left broken) is a
            # BaseException: uncaught, it would end the writer thread, and every later
            # write with it. The rows stay; the document is just not compacted.
            if not isinstance(exc, CorruptUpdateError) and not is_rust_panic(exc):
                raise
            log.error("not compacting %s: %s", doc_id, exc)
            self._rows_since_checkpoint[doc_id] = 0  # do not retry on every idle tick
            return
        self._rows_since_checkpoint[doc_id] = result.kept if result else 0
        self._vacuum_due = self._vacuum_due or bool(result and result.folded)
        if result is not None and result.quarantined and self._on_error is not None:
            self._on_error(CorruptUpdateError(
                f"{result.quarantined} damaged update(s) of note {doc_id} were set aside: "
                + "; ".join(result.problems[:3])
            ))


# Yrs merges small runs in near-linear time but larger ones much worse
# (measured: 64 updates 0.7 µs each, 4,000 updates 18 µs each).
MERGE_RUN = 64


def coalesce_local_runs(records: list[UpdateRecord]) -> list[UpdateRecord]:
    """Merge each document's consecutive local updates from one client into one row.

    A batch holds up to `flush_interval` of typing: hundreds of one-keystroke
    transactions, merged in runs of up to MERGE_RUN. Stored one per row they cost an SQLite insert each, on the
    typing thread's GIL, and bloat the log. Merged, the row keeps what history and
    review need: the author, the state the run was made on (its first update's),
    and the time of its last edit. A remote row for the same document ends a run,
    so causal order per document is kept.
    """
    out: list[UpdateRecord] = []
    runs: list[list[UpdateRecord]] = []
    open_run: dict[str, int] = {}
    for record in records:
        i = open_run.get(record.doc_id)
        if (i is not None and record.origin == "local" and len(runs[i]) < MERGE_RUN
                and runs[i][0].client_id == record.client_id):
            runs[i].append(record)
            continue
        if record.origin == "local":
            open_run[record.doc_id] = len(runs)
        else:
            open_run.pop(record.doc_id, None)
        runs.append([record])
    for run in runs:
        first = run[0]
        if first.origin == "local":  # its state_vector is the base state; see made_on_for_local
            first = first._replace(
                state_vector=made_on_for_local(first.state_vector, first.data, first.client_id)
            )
        if len(run) == 1:
            out.append(first)
            continue
        try:
            merged = merge_updates(*[r.data for r in run])
        except (ValueError, RuntimeError):
            log.exception("could not merge local updates; storing them one by one")
            out.append(first)
            out.extend(r._replace(state_vector=made_on_for_local(
                r.state_vector, r.data, r.client_id)) for r in run[1:])
            continue
        out.append(first._replace(data=merged, wall_time=run[-1].wall_time))
    return out
