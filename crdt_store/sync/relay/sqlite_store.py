"""The relay's embedded store: one SQLite file (WAL, synchronous=FULL).

All SQLite work runs on one dedicated thread, so the event loop never waits on disk
and the single connection is never shared between threads. A lock file next to the
database keeps a second relay process off the same data.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hmac
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from crdt_store.vault_lock import (
    try_lock,  # an OS lock the kernel drops with the process
)

from .store import (
    DEFAULT_FETCH_BYTES,
    DEFAULT_FETCH_LIMIT,
    Appended,
    NotebookInfo,
    RelayStore,
    SnapshotRejected,
    StoredEnvelope,
    StoredSnapshot,
    StoreError,
    UnknownNotebook,
    envelope_id,
)

DB_NAME = "relay.sqlite3"
SCHEMA_VERSION = "1"
T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS notebooks (
    notebook TEXT PRIMARY KEY,
    token_sha256 BLOB NOT NULL,
    head INTEGER NOT NULL DEFAULT 0,
    pruned INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS envelopes (
    notebook TEXT NOT NULL REFERENCES notebooks (notebook),
    seq INTEGER NOT NULL,
    id BLOB NOT NULL,
    body BLOB,              -- NULL once pruned: the id stays, for idempotency
    stored REAL NOT NULL,
    PRIMARY KEY (notebook, seq),
    UNIQUE (notebook, id)
);
CREATE TABLE IF NOT EXISTS snapshots (
    notebook TEXT PRIMARY KEY REFERENCES notebooks (notebook),
    upto INTEGER NOT NULL,
    id BLOB NOT NULL,
    body BLOB NOT NULL,
    stored REAL NOT NULL
);
"""

class SqliteRelayStore(RelayStore):
    """`RelayStore` in the SQLite file `path` (see `in_dir`)."""

    def __init__(self, path: Path | str, *, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self._clock = clock
        self._executor: ThreadPoolExecutor | None = None
        self._db: sqlite3.Connection | None = None
        self._lock_fd: int | None = None
        self._closed = False

    @classmethod
    def in_dir(cls, data_dir: Path | str, **kwargs: Any) -> SqliteRelayStore:
        return cls(Path(data_dir) / DB_NAME, **kwargs)

    # -- lifecycle ---------------------------------------------------------------

    async def open(self) -> None:
        if self._closed or self._executor is not None:
            raise StoreError("a SqliteRelayStore opens once")
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="relay-sqlite")
        try:
            await self._call(self._open_sync)
        except BaseException:
            self._executor.shutdown(wait=False)
            self._executor = None
            self._closed = True
            raise

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        executor, self._executor = self._executor, None
        if executor is None:
            return
        try:
            await asyncio.get_running_loop().run_in_executor(executor, self._close_sync)
        finally:
            executor.shutdown(wait=False)

    def _open_sync(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path.with_name(self.path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        if not try_lock(fd):
            os.close(fd)
            raise StoreError(f"{self.path} is in use by another relay process")
        self._lock_fd = fd
        try:
            db = sqlite3.connect(self.path, isolation_level=None)
            self._db = db
            mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"{self.path}: cannot use WAL journal mode ({mode})")
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA foreign_keys=ON")
            with self._tx() as cur:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        cur.execute(statement)
                row = cur.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
                if row is None:
                    cur.execute("INSERT INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
                elif row[0] != SCHEMA_VERSION:
                    raise StoreError(f"{self.path} has schema {row[0]}, not {SCHEMA_VERSION}")
        except BaseException:
            self._close_sync()
            raise

    def _close_sync(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            with contextlib.suppress(sqlite3.Error):
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            db.close()
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            os.close(fd)

    # -- plumbing ----------------------------------------------------------------

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        if self._executor is None:
            raise StoreError("the relay store is not open")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(self._guard, fn, *args))

    def _guard(self, fn: Callable[..., T], *args: Any) -> T:
        if self._db is None and fn != self._open_sync:
            raise StoreError("the relay store is closed")
        try:
            return fn(*args)
        except sqlite3.Error as exc:
            raise StoreError(f"{type(exc).__name__}: {exc}") from exc
        except OSError as exc:
            raise StoreError(str(exc)) from exc

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Cursor]:
        assert self._db is not None and threading.current_thread().name.startswith("relay-sqlite")
        cur = self._db.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            yield cur
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                cur.execute("ROLLBACK")
            raise
        cur.execute("COMMIT")

    def _info_sync(self, cur: sqlite3.Cursor, notebook: str) -> tuple[bytes, NotebookInfo] | None:
        row = cur.execute(
            "SELECT n.token_sha256, n.head, n.pruned, s.upto FROM notebooks n"
            " LEFT JOIN snapshots s ON s.notebook = n.notebook WHERE n.notebook = ?",
            (notebook,)).fetchone()
        if row is None:
            return None
        return row[0], NotebookInfo(head=row[1], pruned=row[2], snapshot=row[3])

    # -- RelayStore --------------------------------------------------------------

    async def authorize(self, notebook: str, token_sha256: bytes) -> NotebookInfo | None:
        return await self._call(self._authorize_sync, notebook, bytes(token_sha256))

    def _authorize_sync(self, notebook: str, token_sha256: bytes) -> NotebookInfo | None:
        with self._tx() as cur:
            found = self._info_sync(cur, notebook)
            if found is None:
                cur.execute("INSERT INTO notebooks (notebook, token_sha256, created)"
                            " VALUES (?, ?, ?)", (notebook, token_sha256, self._clock()))
                return NotebookInfo(head=0, pruned=0, snapshot=None)
        stored_hash, info = found
        return info if hmac.compare_digest(stored_hash, token_sha256) else None

    async def info(self, notebook: str) -> NotebookInfo | None:
        return await self._call(self._info_only_sync, notebook)

    def _info_only_sync(self, notebook: str) -> NotebookInfo | None:
        assert self._db is not None
        found = self._info_sync(self._db.cursor(), notebook)
        return None if found is None else found[1]

    async def append(self, notebook: str, envelope_id: str, body: bytes) -> Appended:
        return await self._call(self._append_sync, notebook, bytes.fromhex(envelope_id),
                                bytes(body))

    def _append_sync(self, notebook: str, raw_id: bytes, body: bytes) -> Appended:
        with self._tx() as cur:
            row = cur.execute("SELECT seq FROM envelopes WHERE notebook = ? AND id = ?",
                              (notebook, raw_id)).fetchone()
            if row is not None:
                return Appended(seq=row[0], new=False)
            row = cur.execute("UPDATE notebooks SET head = head + 1 WHERE notebook = ?"
                              " RETURNING head", (notebook,)).fetchone()
            if row is None:
                raise UnknownNotebook(notebook)
            cur.execute("INSERT INTO envelopes (notebook, seq, id, body, stored)"
                        " VALUES (?, ?, ?, ?, ?)", (notebook, row[0], raw_id, body, self._clock()))
        return Appended(seq=row[0], new=True)

    async def fetch(self, notebook: str, after: int, *, limit: int = DEFAULT_FETCH_LIMIT,
                    max_bytes: int = DEFAULT_FETCH_BYTES) -> list[StoredEnvelope]:
        return await self._call(self._fetch_sync, notebook, after, limit, max_bytes)

    def _fetch_sync(self, notebook: str, after: int, limit: int,
                    max_bytes: int) -> list[StoredEnvelope]:
        assert self._db is not None
        out: list[StoredEnvelope] = []
        total = 0
        rows = self._db.execute(
            "SELECT seq, id, body FROM envelopes WHERE notebook = ? AND seq > ?"
            " AND body IS NOT NULL ORDER BY seq LIMIT ?", (notebook, after, max(0, limit)))
        try:
            for seq, raw_id, body in rows:
                if out and total + len(body) > max_bytes:
                    break
                out.append(StoredEnvelope(seq=seq, id=raw_id.hex(), body=body))
                total += len(body)
        finally:
            rows.close()
        return out

    async def put_snapshot(self, notebook: str, upto: int, body: bytes) -> StoredSnapshot:
        return await self._call(self._put_snapshot_sync, notebook, upto, bytes(body))

    def _put_snapshot_sync(self, notebook: str, upto: int, body: bytes) -> StoredSnapshot:
        snap_id = envelope_id(body)
        with self._tx() as cur:
            found = self._info_sync(cur, notebook)
            if found is None:
                raise UnknownNotebook(notebook)
            info = found[1]
            if upto > info.head:
                raise SnapshotRejected(f"snapshot up to {upto} is beyond the head {info.head}")
            if info.snapshot is not None and upto < info.snapshot:
                raise SnapshotRejected(f"a snapshot up to {info.snapshot} is already stored")
            if upto < info.pruned:
                raise SnapshotRejected(f"envelopes up to {info.pruned} are pruned")
            now = self._clock()
            cur.execute("INSERT OR REPLACE INTO snapshots (notebook, upto, id, body, stored)"
                        " VALUES (?, ?, ?, ?, ?)",
                        (notebook, upto, bytes.fromhex(snap_id), body, now))
        return StoredSnapshot(upto=upto, id=snap_id, stored_at=now, body=body)

    async def get_snapshot(self, notebook: str) -> StoredSnapshot | None:
        return await self._call(self._get_snapshot_sync, notebook)

    def _get_snapshot_sync(self, notebook: str) -> StoredSnapshot | None:
        assert self._db is not None
        row = self._db.execute("SELECT upto, id, stored, body FROM snapshots WHERE notebook = ?",
                               (notebook,)).fetchone()
        if row is None:
            return None
        return StoredSnapshot(upto=row[0], id=row[1].hex(), stored_at=row[2], body=row[3])

    async def prunable(self, stored_before: float) -> list[tuple[str, int]]:
        return await self._call(self._prunable_sync, stored_before)

    def _prunable_sync(self, stored_before: float) -> list[tuple[str, int]]:
        assert self._db is not None
        rows = self._db.execute(
            "SELECT s.notebook, s.upto FROM snapshots s JOIN notebooks n USING (notebook)"
            " WHERE s.stored <= ? AND s.upto > n.pruned ORDER BY s.notebook", (stored_before,))
        return [(nb, upto) for nb, upto in rows]

    async def prune(self, notebook: str, upto: int) -> int:
        return await self._call(self._prune_sync, notebook, upto)

    def _prune_sync(self, notebook: str, upto: int) -> int:
        with self._tx() as cur:
            found = self._info_sync(cur, notebook)
            if found is None:
                raise UnknownNotebook(notebook)
            info = found[1]
            if info.snapshot is None or info.snapshot < upto:
                raise SnapshotRejected(f"no stored snapshot covers seq {upto}")
            cur.execute("UPDATE envelopes SET body = NULL WHERE notebook = ? AND seq <= ?"
                        " AND body IS NOT NULL", (notebook, upto))
            dropped = cur.rowcount
            cur.execute("UPDATE notebooks SET pruned = max(pruned, ?) WHERE notebook = ?",
                        (upto, notebook))
        return dropped
