"""The conformance suite every `RelayStore` backend must pass.

A backend's test module subclasses `RelayStoreConformance` and implements
`make_store(clock)`: a new, unopened store over the test's data, and the *same*
data each time it is called within one test (that is how persistence across a
reopen is tested). Optionally `raw_bytes()` returns everything the backend wrote,
for the check that no capability token leaks. See test_relay_sqlite_store.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
from collections.abc import AsyncIterator, Awaitable
from typing import TypeVar

import pytest

from crdt_store.sync.relay.store import (
    RelayStore,
    SnapshotRejected,
    StoreError,
    UnknownNotebook,
    envelope_id,
    token_hash,
)

T = TypeVar("T")
DAY = 86400.0
NB = "0123456789abcdef0123456789abcdef"
NB2 = "fedcba9876543210fedcba9876543210"
TOKEN = os.urandom(32)
HASH = token_hash(TOKEN)


def run(coro: Awaitable[T], timeout: float = 60) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout)
    return asyncio.run(bounded())


def env(n: int, size: int = 40) -> tuple[str, bytes]:
    body = hashlib.sha256(b"envelope %d" % n).digest() * (size // 32 + 1)
    body = bytes([n % 251]) + body[: size - 1]
    return envelope_id(body), body


class FakeClock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class RelayStoreConformance:
    """Behaviour every relay store has; subclass as `Test<Backend>`."""

    def make_store(self, clock: FakeClock) -> RelayStore:
        raise NotImplementedError

    def raw_bytes(self) -> bytes | None:
        return None

    @contextlib.asynccontextmanager
    async def opened(self, clock: FakeClock | None = None) -> AsyncIterator[RelayStore]:
        store = self.make_store(clock or FakeClock())
        await store.open()
        try:
            yield store
        finally:
            await store.close()

    async def registered(self, store: RelayStore, notebook: str = NB) -> None:
        assert await store.authorize(notebook, HASH) is not None

    # -- tokens ------------------------------------------------------------------

    def test_first_authorize_registers_then_the_hash_must_match(self) -> None:
        async def body() -> None:
            async with self.opened() as store:
                assert await store.info(NB) is None
                first = await store.authorize(NB, HASH)
                assert (first.head, first.pruned, first.snapshot) == (0, 0, None)
                assert await store.authorize(NB, HASH) == first
                assert await store.authorize(NB, token_hash(os.urandom(32))) is None
                assert await store.authorize(NB, HASH) == first  # a wrong try changes nothing
        run(body())

    def test_notebooks_have_their_own_tokens_and_logs(self) -> None:
        async def body() -> None:
            async with self.opened() as store:
                other = token_hash(os.urandom(32))
                await self.registered(store, NB)
                assert await store.authorize(NB2, other) is not None
                assert await store.authorize(NB2, HASH) is None
                i, b = env(1)
                assert (await store.append(NB, i, b)).seq == 1
                assert (await store.append(NB2, i, b)).seq == 1  # same id, other notebook
                j, c = env(2)
                assert (await store.append(NB2, j, c)).seq == 2
                assert [e.seq for e in await store.fetch(NB, 0)] == [1]
                assert [e.seq for e in await store.fetch(NB2, 0)] == [1, 2]
        run(body())

    def test_the_token_is_stored_only_as_its_hash(self) -> None:
        async def body() -> None:
            async with self.opened() as store:
                await self.registered(store)
        run(body())
        raw = self.raw_bytes()
        if raw is None:
            pytest.skip("this backend exposes no raw bytes")
        assert HASH in raw
        assert TOKEN not in raw

    # -- the log -----------------------------------------------------------------

    def test_append_numbers_envelopes_from_one(self) -> None:
        async def body() -> None:
            async with self.opened() as store:
                await self.registered(store)
                seqs = []
                for n in range(1, 6):
                    appended = await store.append(NB, *env(n))
                    assert appended.new
                    seqs.append(appended.seq)
                assert seqs == [1, 2, 3, 4, 5]
                assert (await store.info(NB)).head == 5
        run(body())

    def test_append_is_idempotent_by_id(self) -> None:
        async def body() -> None:
            async with self.opened() as store:
                await self.registered(store)
                await store.append(NB, *env(1))
                await store.append(NB, *env(2))
                again = await store.append(NB, *env(1))
                assert (again.seq, again.new) == (1, False)
                assert (await store.info(NB)).head == 2
                assert [e.id for e in await store.fetch(NB, 0)] == [env(1)[0], env(2)[0]]
                assert (await store.append(NB, *env(3))).seq == 3  # no number was used up
        run(body())

    def test_concurrent_appends_get_distinct_consecutive_numbers(self) -> None:
        async def body() -> None:
            async with self.opened() as store:
                await self.registered(store)
                results = await asyncio.gather(*(store.append(NB, *env(n)) for n in range(40)),
                                               *(store.append(NB, *env(n)) for n in range(40)))
                seqs = sorted({r.seq for r in results})
                assert seqs == list(range(1, 41))
                assert sum(r.new for r in results) == 40
                first = {r.seq for r in results[:40]}
                assert [r.seq for r in results[:40]] == [r.seq for r in results[40:]]
                assert len(first) == 40
        run(body())

    def test_append_to_an_unregistered_notebook_fails(self) -> None:
        async def body() -> None:
            async with self.opened() as store:
                with pytest.raises(UnknownNotebook):
                    await store.append(NB, *env(1))
                assert await store.info(NB) is None
        run(body())

    def test_fetch_returns_what_follows_a_sequence_number_byte_exact(self) -> None:
        async def body() -> None:
            async with self.opened() as store:
                await self.registered(store)
                bodies = [os.urandom(n) for n in (1, 100, 70_000, 3)] + [b"\x00" * 10]
                ids = [envelope_id(b) for b in bodies]
                for i, b in zip(ids, bodies, strict=True):
                    await store.append(NB, i, b)
                got = await store.fetch(NB, 0)
                assert [(e.seq, e.id, e.body) for e in got] == \
                    [(n + 1, ids[n], bodies[n]) for n in range(5)]
                assert [e.seq for e in await store.fetch(NB, 3)] == [4, 5]
                assert await store.fetch(NB, 5) == []
                assert await store.fetch(NB, 99) == []
                assert await store.fetch(NB2, 0) == []
        run(body())

    def test_fetch_respects_its_count_and_byte_limits(self) -> None:
        async def body() -> None:
            async with self.opened() as store:
                await self.registered(store)
                for n in range(1, 11):
                    await store.append(NB, *env(n, size=1000))
                assert [e.seq for e in await store.fetch(NB, 0, limit=3)] == [1, 2, 3]
                assert [e.seq for e in await store.fetch(NB, 3, limit=3)] == [4, 5, 6]
                assert [e.seq for e in await store.fetch(NB, 0, max_bytes=2500)] == [1, 2]
                # One body over the byte limit still comes alone, so readers progress.
                assert [e.seq for e in await store.fetch(NB, 4, max_bytes=10)] == [5]
        run(body())

    # -- snapshots ---------------------------------------------------------------

    def test_snapshots_store_the_newest_and_refuse_the_impossible(self) -> None:
        async def body() -> None:
            async with self.opened() as store:
                await self.registered(store)
                assert await store.get_snapshot(NB) is None
                for n in range(1, 6):
                    await store.append(NB, *env(n))
                with pytest.raises(SnapshotRejected):
                    await store.put_snapshot(NB, 6, b"beyond the head")
                first = await store.put_snapshot(NB, 3, b"snap3")
                assert (first.upto, first.id) == (3, envelope_id(b"snap3"))
                assert (await store.info(NB)).snapshot == 3
                got = await store.get_snapshot(NB)
                assert (got.upto, got.id, got.body) == (3, first.id, b"snap3")
                with pytest.raises(SnapshotRejected):
                    await store.put_snapshot(NB, 2, b"older")
                await store.put_snapshot(NB, 3, b"snap3 fixed")  # same upto replaces
                assert (await store.get_snapshot(NB)).body == b"snap3 fixed"
                await store.put_snapshot(NB, 5, b"snap5")
                got = await store.get_snapshot(NB)
                assert (got.upto, got.body) == (5, b"snap5")
                assert (await store.info(NB)).snapshot == 5
                assert await store.get_snapshot(NB2) is None
                with pytest.raises(UnknownNotebook):
                    await store.put_snapshot(NB2, 0, b"x")
        run(body())

    # -- pruning -----------------------------------------------------------------

    def test_only_snapshots_old_enough_are_prunable(self) -> None:
        async def body() -> None:
            clock = FakeClock()
            async with self.opened(clock) as store:
                await self.registered(store, NB)
                await self.registered(store, NB2)
                for n in range(1, 5):
                    await store.append(NB, *env(n))
                    await store.append(NB2, *env(n))
                assert await store.prunable(clock.now) == []
                await store.put_snapshot(NB, 3, b"snap")
                clock.now += 2 * DAY
                await store.put_snapshot(NB2, 4, b"snap")
                assert await store.prunable(clock.now - 3 * DAY) == []
                assert await store.prunable(clock.now - 2 * DAY) == [(NB, 3)]
                assert sorted(await store.prunable(clock.now)) == [(NB, 3), (NB2, 4)]
                await store.prune(NB, 3)
                assert await store.prunable(clock.now - 2 * DAY) == []  # done already
        run(body())

    def test_prune_keeps_ids_and_everything_after_the_snapshot(self) -> None:
        async def body() -> None:
            async with self.opened() as store:
                await self.registered(store)
                for n in range(1, 7):
                    await store.append(NB, *env(n))
                with pytest.raises(SnapshotRejected):
                    await store.prune(NB, 3)  # no snapshot covers it
                await store.put_snapshot(NB, 4, b"snap4")
                with pytest.raises(SnapshotRejected):
                    await store.prune(NB, 5)
                assert await store.prune(NB, 4) == 4
                info = await store.info(NB)
                assert (info.head, info.pruned, info.snapshot) == (6, 4, 4)
                assert [e.seq for e in await store.fetch(NB, 0)] == [5, 6]
                assert [e.seq for e in await store.fetch(NB, 2)] == [5, 6]
                again = await store.append(NB, *env(2))  # a pruned envelope sent again
                assert (again.seq, again.new) == (2, False)
                assert [e.seq for e in await store.fetch(NB, 0)] == [5, 6]
                assert (await store.append(NB, *env(7))).seq == 7
                assert await store.prune(NB, 4) == 0
                with pytest.raises(SnapshotRejected):
                    await store.put_snapshot(NB, 3, b"below what is pruned")
                assert (await store.get_snapshot(NB)).body == b"snap4"
        run(body())

    # -- persistence -------------------------------------------------------------

    def test_everything_survives_a_reopen(self) -> None:
        clock = FakeClock()

        async def write() -> None:
            async with self.opened(clock) as store:
                await self.registered(store)
                for n in range(1, 6):
                    await store.append(NB, *env(n))
                await store.put_snapshot(NB, 2, b"snap2")
                await store.prune(NB, 2)

        async def read() -> None:
            async with self.opened(clock) as store:
                assert await store.authorize(NB, token_hash(os.urandom(32))) is None
                info = await store.authorize(NB, HASH)
                assert (info.head, info.pruned, info.snapshot) == (5, 2, 2)
                assert [(e.seq, e.id, e.body) for e in await store.fetch(NB, 0)] == \
                    [(n, *env(n)) for n in (3, 4, 5)]
                snap = await store.get_snapshot(NB)
                assert (snap.upto, snap.body, snap.stored_at) == (2, b"snap2", clock.now)
                assert (await store.append(NB, *env(1))).seq == 1
                assert (await store.append(NB, *env(6))).seq == 6

        run(write())
        run(read())
        run(self._reopened_head_is(7))

    async def _reopened_head_is(self, head: int) -> None:
        async with self.opened() as store:
            await self.registered(store)
            assert (await store.append(NB, *env(100))).seq == head

    def test_a_closed_store_refuses_work(self) -> None:
        async def body() -> None:
            store = self.make_store(FakeClock())
            await store.open()
            await self.registered(store)
            await store.close()
            await store.close()  # idempotent
            with pytest.raises(StoreError):
                await store.append(NB, *env(1))
        run(body())
