"""The SQLite relay store: the conformance suite, plus what only a file can show."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from crdt_store.sync.relay.sqlite_store import DB_NAME, SqliteRelayStore
from crdt_store.sync.relay.store import StoreError, envelope_id, token_hash

from .relay_store_conformance import HASH, NB, FakeClock, RelayStoreConformance, run


class TestSqliteRelayStore(RelayStoreConformance):
    @pytest.fixture(autouse=True)
    def _data_dir(self, tmp_path: Path) -> None:
        self.data_dir = tmp_path / "relay-data"

    def make_store(self, clock: FakeClock) -> SqliteRelayStore:
        return SqliteRelayStore.in_dir(self.data_dir, clock=clock)

    def raw_bytes(self) -> bytes:
        return b"".join(p.read_bytes() for p in sorted(self.data_dir.iterdir()) if p.is_file())


def test_the_database_is_wal_and_fully_synchronous(tmp_path: Path) -> None:
    async def body() -> tuple[str, int]:
        store = SqliteRelayStore.in_dir(tmp_path)
        await store.open()
        try:
            return await store._call(lambda: (
                store._db.execute("PRAGMA journal_mode").fetchone()[0],
                store._db.execute("PRAGMA synchronous").fetchone()[0]))
        finally:
            await store.close()
    assert run(body()) == ("wal", 2)  # 2 = FULL


def test_a_second_store_on_the_same_file_is_refused(tmp_path: Path) -> None:
    async def body() -> None:
        first = SqliteRelayStore.in_dir(tmp_path)
        await first.open()
        try:
            second = SqliteRelayStore.in_dir(tmp_path)
            with pytest.raises(StoreError, match="in use"):
                await second.open()
            assert await first.authorize(NB, HASH) is not None  # the first still works
        finally:
            await first.close()
        third = SqliteRelayStore.in_dir(tmp_path)  # free again once closed
        await third.open()
        await third.close()
    run(body())


def test_a_file_that_is_not_a_database_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / DB_NAME).write_bytes(b"this is not sqlite" * 100)

    async def body() -> None:
        store = SqliteRelayStore.in_dir(tmp_path)
        with pytest.raises(StoreError):
            await store.open()
    run(body())
    assert (tmp_path / DB_NAME).read_bytes() == b"this is not sqlite" * 100


CRASHER = textwrap.dedent("""
    import asyncio, os, sys
    from crdt_store.sync.relay.sqlite_store import SqliteRelayStore
    from crdt_store.sync.relay.store import envelope_id

    async def main():
        store = SqliteRelayStore.in_dir(sys.argv[1])
        await store.open()
        await store.authorize(sys.argv[2], bytes.fromhex(sys.argv[3]))
        for n in range(int(sys.argv[4])):
            body = b"envelope %d" % n
            appended = await store.append(sys.argv[2], envelope_id(body), body)
            print(appended.seq, flush=True)
        os._exit(0)  # no close, no checkpoint: as if the power went

    asyncio.run(main())
""")


def test_appends_survive_a_process_that_dies_without_closing(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    proc = subprocess.run([sys.executable, "-c", CRASHER, str(tmp_path), NB, HASH.hex(), "25"],
                          check=False, capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    acknowledged = [int(line) for line in proc.stdout.split()]
    assert acknowledged == list(range(1, 26))
    assert (tmp_path / (DB_NAME + "-wal")).exists()  # the data is still in the WAL

    async def body() -> list[tuple[int, str]]:
        store = SqliteRelayStore.in_dir(tmp_path)
        await store.open()
        try:
            return [(e.seq, e.id) for e in await store.fetch(NB, 0)]
        finally:
            await store.close()
    assert run(body()) == [(n + 1, envelope_id(b"envelope %d" % n)) for n in range(25)]


def test_the_schema_keeps_token_hashes_not_tokens(tmp_path: Path) -> None:
    token = os.urandom(32)

    async def body() -> None:
        store = SqliteRelayStore.in_dir(tmp_path)
        await store.open()
        await store.authorize(NB, token_hash(token))
        await store.close()
    run(body())
    with sqlite3.connect(tmp_path / DB_NAME) as db:
        rows = db.execute("SELECT notebook, token_sha256 FROM notebooks").fetchall()
    assert rows == [(NB, token_hash(token))]
