"""The sync engine's own bookkeeping, in `sync.sqlite3` beside the vault's database.

Kept apart from the update log so the engine's writes never queue behind the
store's, and the store knows nothing about relays. Used from the engine's thread only.

- `notebooks`: the notebooks this vault syncs, with their relays.
- `outbox`: sealed envelopes not yet acknowledged, per relay. A row is deleted only
  when that relay ACKs it, so edits made offline, or before a crash, go out later.
- `sent_state`: per document, the state vector its outboxed envelopes cover. At
  start-up any document that moved past it (an edit in the crash window before its
  envelope was written) is sent again as a diff, so nothing is left behind.
- `sent_counts`: per document, this device's edit count (crdt_store/edit_clock.py) that
  its outboxed envelopes cover. A change that only deleted text leaves the state
  vector where it was; the count tells that it was never sent.
- `cursors`: the last relay sequence number applied durably, per relay and notebook.
- `received`: envelope ids applied (or rejected), to skip duplicates and spot replays.
- `parked`: envelopes for a note this device places in another notebook, kept until a
  catalog change places it where they came from (they can arrive before the move).
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

from ..errors import StorageError

STATE_NAME = "sync.sqlite3"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS notebooks (
    notebook_id TEXT PRIMARY KEY,
    relays TEXT NOT NULL,
    joined REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    relay TEXT NOT NULL,
    notebook_id TEXT NOT NULL,
    envelope_id TEXT NOT NULL,
    envelope BLOB NOT NULL,
    created REAL NOT NULL,
    UNIQUE (relay, envelope_id)
);
CREATE TABLE IF NOT EXISTS sent_state (
    doc_id TEXT PRIMARY KEY,
    notebook_id TEXT NOT NULL,
    state BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS sent_counts (
    doc_id TEXT PRIMARY KEY,
    notebook_id TEXT NOT NULL,
    count INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS cursors (
    relay TEXT NOT NULL,
    notebook_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    synced REAL,
    PRIMARY KEY (relay, notebook_id)
);
CREATE TABLE IF NOT EXISTS received (
    envelope_id TEXT PRIMARY KEY,
    relay TEXT NOT NULL,
    seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS parked (
    envelope_id TEXT PRIMARY KEY,
    relay TEXT NOT NULL,
    notebook_id TEXT NOT NULL,
    envelope BLOB NOT NULL,
    parked REAL NOT NULL
);
"""


class SyncState:
    def __init__(self, vault_path: Path) -> None:
        self.path = Path(vault_path) / STATE_NAME
        self._buffer: list[tuple[str, tuple]] = []
        try:
            self._conn = sqlite3.connect(self.path, isolation_level=None,
                                         check_same_thread=False)
            self._conn.execute("PRAGMA busy_timeout = 5000")
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = FULL")
            self._conn.executescript(SCHEMA)
        except sqlite3.Error as exc:
            raise StorageError(f"Cannot open the sync state in {self.path}: {exc}") from exc

    def close(self) -> None:
        self.flush()
        self._conn.close()

    def adopt_client(self, client_id: int) -> bool:
        """Bind this sync state to the vault's CRDT client id. True when it was bound to
        another one: the vault is a copy, or was restored from a backup, so its database
        and this file may come from different moments (copied mid-write), and the
        cursors may already be past envelopes the vault does not hold. Then every cursor
        and received id is forgotten: everything is fetched again (merging is idempotent)."""
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'client_id'").fetchone()
        if row is not None and row[0] == str(client_id):
            return False
        statements: list[tuple[str, tuple]] = [
            ("INSERT OR REPLACE INTO meta (key, value) VALUES ('client_id', ?)",
             (str(client_id),))]
        if row is not None:
            statements += [("DELETE FROM cursors", ()), ("DELETE FROM received", ())]
        self._write(statements)
        self.flush()
        return row is not None

    def _write(self, statements: list[tuple[str, tuple]]) -> None:
        """Buffer writes; `flush` commits them together (one fsync for many)."""
        self._buffer.extend(statements)

    def flush(self) -> None:
        """Commit every buffered write in one transaction. On failure they stay
        buffered for the next flush, and StorageError says why."""
        if not self._buffer:
            return
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            for sql, args in self._buffer:
                self._conn.execute(sql, args)
            self._conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise StorageError(f"Cannot write the sync state: {exc}") from exc
        self._buffer.clear()

    # ---- notebooks --------------------------------------------------------------------

    def notebooks(self) -> dict[str, tuple[str, ...]]:
        return {nb: tuple(json.loads(relays)) for nb, relays in
                self._conn.execute("SELECT notebook_id, relays FROM notebooks")}

    def set_notebook(self, notebook_id: str, relays: tuple[str, ...]) -> None:
        self._write([(
            "INSERT INTO notebooks (notebook_id, relays, joined) VALUES (?, ?, ?) "
            "ON CONFLICT (notebook_id) DO UPDATE SET relays = excluded.relays",
            (notebook_id, json.dumps(sorted(set(relays))), time.time()),
        )])

    # ---- outgoing ---------------------------------------------------------------------

    def next_counter(self) -> int:
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'counter'").fetchone()
        return int(row[0]) + 1 if row else 1

    def add_outgoing(self, notebook_id: str, relays: tuple[str, ...], envelope_id: str,
                     envelope: bytes, counter: int, covered: list[tuple[str, bytes]],
                     counts: dict[str, int] | None = None) -> None:
        """Outbox one envelope for each relay, with the counter and the states (and this
        device's edit counts) it covers, in one transaction."""
        now = time.time()
        statements: list[tuple[str, tuple]] = [
            ("INSERT OR IGNORE INTO outbox (relay, notebook_id, envelope_id, envelope, created)"
             " VALUES (?, ?, ?, ?, ?)", (relay, notebook_id, envelope_id, envelope, now))
            for relay in relays
        ]
        statements.append(("INSERT OR REPLACE INTO meta (key, value) VALUES ('counter', ?)",
                           (str(counter),)))
        statements += [("INSERT OR REPLACE INTO sent_state (doc_id, notebook_id, state) "
                        "VALUES (?, ?, ?)", (doc_id, notebook_id, state))
                       for doc_id, state in covered]
        statements += [("INSERT INTO sent_counts (doc_id, notebook_id, count) VALUES (?, ?, ?) "
                        "ON CONFLICT (doc_id) DO UPDATE SET notebook_id = excluded.notebook_id, "
                        "count = max(count, excluded.count)", (doc_id, notebook_id, count))
                       for doc_id, count in (counts or {}).items()]
        statements.append(("INSERT OR IGNORE INTO received (envelope_id, relay, seq) "
                           "VALUES (?, '', 0)", (envelope_id,)))
        self._write(statements)

    def outbox(self, relay: str, notebook_id: str) -> list[tuple[str, bytes]]:
        return list(self._conn.execute(
            "SELECT envelope_id, envelope FROM outbox WHERE relay = ? AND notebook_id = ? "
            "ORDER BY id", (relay, notebook_id)))

    def acknowledged(self, relay: str, envelope_id: str) -> None:
        self._write([("DELETE FROM outbox WHERE relay = ? AND envelope_id = ?",
                      (relay, envelope_id))])

    def unacknowledged(self) -> list[tuple[str, str, str]]:
        """(relay, envelope id, notebook) of every outboxed envelope."""
        return list(self._conn.execute("SELECT relay, envelope_id, notebook_id FROM outbox"))

    def sent_states(self, notebook_id: str) -> dict[str, bytes]:
        return dict(self._conn.execute(
            "SELECT doc_id, state FROM sent_state WHERE notebook_id = ?", (notebook_id,)))

    def sent_counts(self, notebook_id: str) -> dict[str, int]:
        return dict(self._conn.execute(
            "SELECT doc_id, count FROM sent_counts WHERE notebook_id = ?", (notebook_id,)))

    # ---- incoming ---------------------------------------------------------------------

    def cursors(self) -> dict[tuple[str, str], tuple[int, float | None]]:
        return {(relay, nb): (seq, synced) for relay, nb, seq, synced in
                self._conn.execute("SELECT relay, notebook_id, seq, synced FROM cursors")}

    def received_ids(self) -> dict[str, tuple[str, int]]:
        return {env: (relay, seq) for env, relay, seq in
                self._conn.execute("SELECT envelope_id, relay, seq FROM received")}

    def record_applied(self, items: list[tuple[str, str, int, str]],
                       cursors: dict[tuple[str, str], int], *, reset: bool = False) -> None:
        """Envelopes (relay, notebook, seq, id) now durable in the vault, and the cursors
        they move, in one transaction. `reset` lets cursors go back (a relay that lost
        envelopes)."""
        now = time.time()
        statements: list[tuple[str, tuple]] = [
            ("INSERT OR IGNORE INTO received (envelope_id, relay, seq) VALUES (?, ?, ?)",
             (env, relay, seq)) for relay, _nb, seq, env in items
        ]
        statements += [
            ("INSERT INTO cursors (relay, notebook_id, seq, synced) VALUES (?, ?, ?, ?) "
             "ON CONFLICT (relay, notebook_id) DO UPDATE SET "
             + ("seq = excluded.seq" if reset else "seq = max(seq, excluded.seq)")
             + ", synced = excluded.synced",
             (relay, nb, seq, now)) for (relay, nb), seq in cursors.items()
        ]
        self._write(statements)

    # ---- parked -----------------------------------------------------------------------

    def park(self, relay: str, notebook_id: str, envelope_id: str, envelope: bytes) -> None:
        self._write([("INSERT OR IGNORE INTO parked (envelope_id, relay, notebook_id, "
                      "envelope, parked) VALUES (?, ?, ?, ?, ?)",
                      (envelope_id, relay, notebook_id, envelope, time.time()))])

    def unpark(self, envelope_ids: list[str]) -> None:
        self._write([("DELETE FROM parked WHERE envelope_id = ?", (env,))
                     for env in envelope_ids])

    def parked(self) -> list[tuple[str, str, str, bytes]]:
        """(envelope id, relay, notebook, envelope) of every parked envelope, oldest first."""
        return list(self._conn.execute(
            "SELECT envelope_id, relay, notebook_id, envelope FROM parked ORDER BY parked"))
