"""The relay over real WebSockets: a RelayServer on 127.0.0.1 (background thread),
real clients, a real SQLite file."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import logging
import shutil
import ssl
import struct
import subprocess
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed

from crdt_store.sync.frames import FrameType, encode
from crdt_store.sync.relay.limits import Limits
from crdt_store.sync.relay.server import WS_SLACK
from crdt_store.sync.relay.session import Subscription
from crdt_store.sync.relay.sqlite_store import SqliteRelayStore
from crdt_store.sync.relay.store import StoreError, envelope_id

from .relay_client import RelayClient, new_notebook, opaque, run
from .relay_store_conformance import FakeClock

pytest_plugins = ["tests.relay_fixtures"]  # the relay and relay_factory fixtures

SMALL = Limits(max_frame=64 * 1024, max_envelope=16 * 1024)
RELAY_LOG = "crdt_store.sync.relay"


async def greeted(url: str) -> RelayClient:
    client = await RelayClient.connect(url)
    await client.hello()
    return client


async def opened(url: str, notebook: str, token: str, after: int = 0) -> RelayClient:
    client = await greeted(url)
    frame = await client.open(notebook, token, after)
    assert frame.type is FrameType.OPENED, frame
    await client.catch_up(notebook)
    return client


async def seed(url: str, notebook: str, token: str, count: int) -> list[tuple[str, bytes]]:
    """Store `count` opaque envelopes; their (id, body) in sequence order."""
    sent = [opaque(100 + n) for n in range(count)]
    async with await opened(url, notebook, token) as client:
        for n, (env_id, body) in enumerate(sent, start=1):
            ack = await client.put(notebook, body)
            assert ack.type is FrameType.ACK and (ack["id"], ack["seq"]) == (env_id, n)
    return sent


async def stored(url: str, notebook: str, token: str) -> list[tuple[int, str, bytes]]:
    """What a fresh connection catching up from 0 receives."""
    async with await greeted(url) as client:
        frame = await client.open(notebook, token)
        assert frame.type is FrameType.OPENED, frame
        envelopes, caught_up = await client.catch_up(notebook)
        got = [(f["seq"], f["id"], f.body) for f in envelopes]
        assert caught_up["seq"] == frame["head"]
        return got


def as_log(sent: list[tuple[str, bytes]]) -> list[tuple[int, str, bytes]]:
    return [(n, env_id, body) for n, (env_id, body) in enumerate(sent, start=1)]


def raw_frame(version: int, frame_type: int, header: bytes, body: bytes = b"",
              length: int | None = None) -> bytes:
    return struct.pack(">BBI", version, frame_type,
                       len(header) if length is None else length) + header + body


async def frames_until_closed(client: RelayClient) -> tuple[list, int | None, str | None]:
    frames = []
    try:
        while True:
            frames.append(await client.recv())
    except ConnectionClosed:
        pass  # what the caller waits for
    code, reason = await client.closed()
    return frames, code, reason


# -- a session ---------------------------------------------------------------------


def test_hello_is_answered_with_welcome(relay) -> None:
    async def body() -> None:
        async with await RelayClient.connect(relay.url) as client:
            welcome = await client.hello()
            assert welcome["protocol"] == 1
            assert welcome["relay"].startswith("plait-relay/")
            assert (welcome["max_frame"], welcome["max_envelope"]) == \
                (Limits().max_frame, Limits().max_envelope)
    run(body())


def test_open_catches_up_then_forwards_live_to_the_other_connections(relay) -> None:
    notebook, token = new_notebook()

    async def body() -> None:
        async with await greeted(relay.url) as a, await greeted(relay.url) as b:
            first = await a.open(notebook, token)
            assert (first.type, first["head"], first["snapshot"]) == (FrameType.OPENED, 0, None)
            assert await a.catch_up(notebook) == ([], caught_up_frame(notebook, 0))
            sent = [opaque() for _ in range(3)]
            for n, (env_id, env) in enumerate(sent, start=1):
                assert (await a.put(notebook, env))["seq"] == n

            second = await b.open(notebook, token, after=1)
            assert (second["head"], second["snapshot"]) == (3, None)
            envelopes, caught_up = await b.catch_up(notebook)
            assert [(f["seq"], f["id"], f.body) for f in envelopes] == \
                [(2, *sent[1]), (3, *sent[2])]
            assert caught_up["seq"] == 3

            live_id, live = opaque(5000)
            assert (await a.put(notebook, live))["seq"] == 4
            forwarded = await b.expect(FrameType.ENVELOPE)
            assert (forwarded["seq"], forwarded["id"], forwarded.body) == (4, live_id, live)

            back_id, back = opaque()
            assert (await b.put(notebook, back))["seq"] == 5
            # a's next frame is b's envelope: its own (seq 4) was not echoed to it
            echo = await a.expect(FrameType.ENVELOPE)
            assert (echo["seq"], echo["id"]) == (5, back_id)
    run(body())


def caught_up_frame(notebook: str, seq: int):
    """The CAUGHT_UP frame a relay sends for `notebook` at `seq` (for comparisons)."""
    from crdt_store.sync.frames import decode

    return decode(encode(FrameType.CAUGHT_UP, {"notebook": notebook, "seq": seq}))


def test_many_writers_each_receive_everyone_elses_envelopes_in_order(relay) -> None:
    notebook, token = new_notebook()
    writers, each = 4, 40

    async def write_and_listen(client: RelayClient, mine: list[tuple[str, bytes]]):
        for env_id, env in mine:
            await client.send(FrameType.PUT, {"req": client.next_req(), "notebook": notebook,
                                              "id": env_id}, env)
        acks, received = {}, []
        while len(acks) < each or len(received) < (writers - 1) * each:
            frame = await client.recv()
            if frame.type is FrameType.ACK:
                acks[frame["id"]] = frame["seq"]
            else:
                assert frame.type is FrameType.ENVELOPE, frame
                received.append((frame["seq"], frame["id"]))
        return acks, received

    async def body() -> None:
        clients = [await opened(relay.url, notebook, token) for _ in range(writers)]
        batches = [[opaque(64) for _ in range(each)] for _ in range(writers)]
        results = await asyncio.gather(*(write_and_listen(c, b)
                                         for c, b in zip(clients, batches, strict=True)))
        all_acks = {}
        for acks, _ in results:
            all_acks.update(acks)
        assert sorted(all_acks.values()) == list(range(1, writers * each + 1))
        for (acks, received), mine in zip(results, batches, strict=True):
            seqs = [seq for seq, _ in received]
            assert seqs == sorted(seqs)  # in sequence order
            assert {env_id for _, env_id in received} == set(all_acks) - set(acks)
            assert not {env_id for env_id, _ in mine} & {env_id for _, env_id in received}
            assert all(all_acks[env_id] == seq for seq, env_id in received)
        for client in clients:
            await client.close()
    run(body())


def test_a_re_put_envelope_is_stored_once_and_acked_with_its_seq(relay) -> None:
    notebook, token = new_notebook()

    async def body() -> None:
        async with await opened(relay.url, notebook, token) as client:
            one, two = opaque(), opaque()
            assert (await client.put(notebook, one[1]))["seq"] == 1
            assert (await client.put(notebook, two[1]))["seq"] == 2
            again = await client.put(notebook, one[1])
            assert (again.type, again["id"], again["seq"]) == (FrameType.ACK, one[0], 1)
        assert await stored(relay.url, notebook, token) == as_log([one, two])
    run(body())


def test_reopening_on_a_connection_restarts_its_stream(relay) -> None:
    notebook, token = new_notebook()

    async def body() -> None:
        sent = await seed(relay.url, notebook, token, 4)
        async with await opened(relay.url, notebook, token) as client:
            again = await client.open(notebook, token, after=2)
            assert again["head"] == 4
            envelopes, caught_up = await client.catch_up(notebook)
            assert [f["id"] for f in envelopes] == [sent[2][0], sent[3][0]]
            assert caught_up["seq"] == 4
    run(body())


def test_a_client_ahead_of_the_relay_still_gets_what_comes_next(relay) -> None:
    notebook, token = new_notebook()

    async def body() -> None:
        await seed(relay.url, notebook, token, 2)
        async with await greeted(relay.url) as client:
            frame = await client.open(notebook, token, after=10)
            assert frame["head"] == 2
            envelopes, caught_up = await client.catch_up(notebook)
            assert (envelopes, caught_up["seq"]) == ([], 2)
            async with await opened(relay.url, notebook, token) as other:
                env_id, env = opaque()
                assert (await other.put(notebook, env))["seq"] == 3
            live = await client.expect(FrameType.ENVELOPE)
            assert (live["seq"], live["id"]) == (3, env_id)
    run(body())


# -- access ------------------------------------------------------------------------


def test_a_wrong_token_is_unauthorized_and_the_connection_stays_open(relay, caplog) -> None:
    notebook, token = new_notebook()
    _, wrong = new_notebook()
    caplog.set_level(logging.INFO, RELAY_LOG)

    async def body() -> None:
        sent = await seed(relay.url, notebook, token, 2)
        async with await greeted(relay.url) as client:
            refused = await client.open(notebook, wrong)
            assert refused.type is FrameType.ERROR
            assert (refused["code"], refused["notebook"]) == ("unauthorized", notebook)
            put = await client.put(notebook, opaque()[1])
            assert (put.type, put["code"]) == (FrameType.ERROR, "unauthorized")
            accepted = await client.open(notebook, token)
            assert (accepted.type, accepted["head"]) == (FrameType.OPENED, 2)
            envelopes, _ = await client.catch_up(notebook)
            assert [f["id"] for f in envelopes] == [i for i, _ in sent]
    run(body())
    assert wrong not in caplog.text and token not in caplog.text
    assert any(r.levelno == logging.WARNING and "unauthorized" in r.getMessage()
               for r in caplog.records)


def test_requests_for_a_notebook_not_opened_here_are_unauthorized(relay) -> None:
    notebook, token = new_notebook()

    async def body() -> None:
        await seed(relay.url, notebook, token, 1)  # it exists, opened elsewhere
        async with await greeted(relay.url) as client:
            _, env = opaque()
            put = await client.put(notebook, env)
            assert (put.type, put["code"], put["req"]) == (FrameType.ERROR, "unauthorized", 1)
            await client.send(FrameType.SNAPSHOT_PUT, {"req": 7, "notebook": notebook,
                                                       "upto": 1}, b"snap")
            assert (await client.expect_error("unauthorized"))["req"] == 7
            await client.send(FrameType.SNAPSHOT_GET, {"req": 8, "notebook": notebook})
            assert (await client.expect_error("unauthorized"))["req"] == 8
            await client.open(notebook, token)
            await client.catch_up(notebook)
            assert (await client.put(notebook, env))["seq"] == 2  # still open, now allowed
    run(body())


# -- snapshots and pruning -----------------------------------------------------------


def test_snapshots_are_stored_acked_and_named_in_opened(relay) -> None:
    notebook, token = new_notebook()

    async def body() -> None:
        await seed(relay.url, notebook, token, 3)
        async with await opened(relay.url, notebook, token) as client:
            await client.send(FrameType.SNAPSHOT_GET, {"req": 1, "notebook": notebook})
            assert (await client.expect_error("not_found"))["req"] == 1
            await client.send(FrameType.SNAPSHOT_PUT, {"req": 2, "notebook": notebook,
                                                       "upto": 4}, b"beyond")
            assert (await client.expect_error("rejected"))["req"] == 2
            sealed = b"sealed snapshot" * 100
            await client.send(FrameType.SNAPSHOT_PUT, {"req": 3, "notebook": notebook,
                                                       "upto": 2}, sealed)
            ack = await client.expect(FrameType.ACK)
            assert (ack["req"], ack["id"], ack["seq"]) == (3, envelope_id(sealed), 2)
            await client.send(FrameType.SNAPSHOT_PUT, {"req": 4, "notebook": notebook,
                                                       "upto": 1}, b"older")
            assert (await client.expect_error("rejected"))["req"] == 4
        async with await greeted(relay.url) as other:
            frame = await other.open(notebook, token)
            assert (frame["head"], frame["snapshot"], frame["pruned"]) == (3, 2, 0)
            await other.catch_up(notebook)
            await other.send(FrameType.SNAPSHOT_GET, {"req": 9, "notebook": notebook})
            snap = await other.expect(FrameType.SNAPSHOT)
            assert (snap["req"], snap["upto"], snap.body) == (9, 2, sealed)
    run(body())


def test_pruning_drops_what_an_old_snapshot_covers_and_opened_says_so(relay_factory) -> None:
    clock = FakeClock()
    relay = relay_factory(prune_days=1, clock=clock)
    notebook, token = new_notebook()

    async def body() -> list:
        sent = await seed(relay.url, notebook, token, 5)
        async with await opened(relay.url, notebook, token) as client:
            await client.send(FrameType.SNAPSHOT_PUT, {"req": 1, "notebook": notebook,
                                                       "upto": 3}, b"snapshot")
            await client.expect(FrameType.ACK)
        return sent

    sent = run(body())
    assert relay.call(relay.server.prune_now) == 0  # the snapshot is too young
    clock.now += 2 * 86400

    # A reader still below the snapshot holds pruning back.
    lagging = Subscription(notebook, cursor=1)
    relay.call(lambda: asyncio.sleep(0, relay.server.subscribe(lagging)))
    assert relay.call(relay.server.prune_now) == 0
    relay.call(lambda: asyncio.sleep(0, relay.server.unsubscribe(lagging)))
    assert relay.call(relay.server.prune_now) == 3

    async def after_pruning() -> None:
        async with await greeted(relay.url) as client:
            frame = await client.open(notebook, token, after=1)
            assert (frame["head"], frame["snapshot"], frame["pruned"]) == (5, 3, 3)
            envelopes, caught_up = await client.catch_up(notebook)
            assert [(f["seq"], f["id"]) for f in envelopes] == [(4, sent[3][0]), (5, sent[4][0])]
            assert caught_up["seq"] == 5
            await client.send(FrameType.SNAPSHOT_GET, {"req": 1, "notebook": notebook})
            assert (await client.expect(FrameType.SNAPSHOT)).body == b"snapshot"
            again = await client.put(notebook, sent[0][1])  # a pruned envelope re-sent
            assert (again.type, again["seq"]) == (FrameType.ACK, 1)
        assert [seq for seq, _, _ in await stored(relay.url, notebook, token)] == [4, 5]
    run(after_pruning())


# -- bad input -------------------------------------------------------------------------

NB_OK, TOKEN_OK = new_notebook()
_BIG = opaque(SMALL.max_envelope + 1)
BAD_INPUT = {
    # name: (say HELLO first?, message, error code, close code)
    "garbage bytes": (True, b"\x01\x02\x03", "bad_frame", 1008),
    "unknown frame type": (True, raw_frame(1, 99, b"{}") + b"\x8f" * 40, "bad_frame", 1008),
    "http in a frame": (True, b"GET / HTTP/1.1\r\n\r\n", "protocol_version", 1008),
    "text frame": (True, "HELLO", "bad_frame", 1008),
    "truncated header": (True, raw_frame(1, 1, b'{"client":', length=500), "bad_frame", 1008),
    "bad json": (True, raw_frame(1, 1, b"{not json}"), "bad_frame", 1008),
    "invalid utf-8": (True, raw_frame(1, 1, b'{"client":"\xff\xfe"}'), "bad_frame", 1008),
    "header not an object": (True, raw_frame(1, 1, b"[1, 2]"), "bad_frame", 1008),
    "missing key": (True, raw_frame(1, 3, json.dumps(
        {"req": 1, "notebook": NB_OK, "after": 0}).encode()), "bad_frame", 1008),
    "mistyped key": (True, raw_frame(1, 3, json.dumps(
        {"req": 1, "notebook": NB_OK, "token": TOKEN_OK, "after": "0"}).encode()),
        "bad_frame", 1008),
    "wrong frame version": (True, raw_frame(2, 1, b'{"client":"x","protocol":2}'),
                            "protocol_version", 1008),
    "wrong protocol in hello": (False, encode(FrameType.HELLO, {"client": "x", "protocol": 2}),
                                "protocol_version", 1008),
    "open before hello": (False, encode(FrameType.OPEN, {
        "req": 1, "notebook": NB_OK, "token": TOKEN_OK, "after": 0}), "bad_frame", 1008),
    "a relay's frame": (True, encode(FrameType.CAUGHT_UP, {"notebook": NB_OK, "seq": 1}),
                        "bad_frame", 1008),
    "bad notebook id": (True, encode(FrameType.OPEN, {
        "req": 1, "notebook": "../../etc", "token": TOKEN_OK, "after": 0}), "bad_frame", 1008),
    "bad token": (True, encode(FrameType.OPEN, {
        "req": 1, "notebook": NB_OK, "token": "c2hvcnQ=", "after": 0}), "bad_frame", 1008),
    "id is not the envelope's hash": (True, encode(FrameType.PUT, {
        "req": 1, "notebook": NB_OK, "id": "ab" * 32}, b"opaque"), "bad_frame", 1008),
    "oversized frame": (True, encode(FrameType.HELLO, {"client": "x", "protocol": 1},
                                     b"\x00" * SMALL.max_frame), "too_large", 1009),
    "oversized envelope": (True, encode(FrameType.PUT, {
        "req": 1, "notebook": NB_OK, "id": _BIG[0]}, _BIG[1]), "too_large", 1009),
}


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_gets_an_error_and_a_close_and_harms_nothing(relay_factory, caplog,
                                                               case: str) -> None:
    greet, message, code, close_code = BAD_INPUT[case]
    relay = relay_factory(limits=SMALL)
    notebook, token = new_notebook()
    caplog.set_level(logging.INFO, RELAY_LOG)

    async def body() -> None:
        sent = await seed(relay.url, notebook, token, 3)
        async with await RelayClient.connect(relay.url) as bad:
            if greet:
                await bad.hello()
            await bad.send_raw(message)
            error = await bad.expect_error(code)
            assert error["req"] in (None, 1)
            assert await bad.closed() == (close_code, code)
        # The relay still serves, and nothing stored was harmed.
        assert await stored(relay.url, notebook, token) == as_log(sent)
        async with await opened(relay.url, notebook, token) as good:
            assert (await good.put(notebook, opaque()[1]))["seq"] == 4

    run(body())
    faults = [r for r in caplog.records if r.name == RELAY_LOG and r.levelno >= logging.WARNING]
    assert len(faults) == 1, [r.getMessage() for r in faults]
    assert code in faults[0].getMessage() and faults[0].exc_info is None


def test_a_message_far_over_the_limit_is_cut_off_by_the_websocket_layer(relay_factory) -> None:
    relay = relay_factory(limits=SMALL)
    notebook, token = new_notebook()

    async def body() -> None:
        sent = await seed(relay.url, notebook, token, 2)
        async with await greeted(relay.url) as bad:
            await bad.send_raw(b"\x01" * (SMALL.max_frame + WS_SLACK + 1))
            frames, code, _ = await frames_until_closed(bad)
            assert (frames, code) == ([], 1009)
        assert await stored(relay.url, notebook, token) == as_log(sent)
    run(body())


def test_a_frame_flood_is_rate_limited_and_closed(relay_factory) -> None:
    relay = relay_factory(limits=Limits(frames_per_second=10))  # a burst of 20

    async def body() -> None:
        async with await RelayClient.connect(relay.url) as flood:
            hello = encode(FrameType.HELLO, {"client": "flood", "protocol": 1})
            with contextlib.suppress(ConnectionClosed):  # the relay may close first
                for _ in range(60):
                    await flood.send_raw(hello)
            frames, code, reason = await frames_until_closed(flood)
            welcomes = [f for f in frames if f.type is FrameType.WELCOME]
            assert 20 <= len(welcomes) < 60
            assert frames[len(welcomes)]["code"] == "rate_limited"
            assert (code, reason) == (1008, "rate_limited")
        async with await RelayClient.connect(relay.url) as calm:  # others are unaffected
            await calm.hello()
    run(body())


def test_a_byte_flood_is_rate_limited_and_what_was_acked_stays(relay_factory) -> None:
    relay = relay_factory(limits=Limits(max_frame=64 * 1024, max_envelope=16 * 1024,
                                        bytes_per_second=1024))  # a burst of one max frame
    notebook, token = new_notebook()

    async def body() -> None:
        acked = []
        async with await opened(relay.url, notebook, token) as flood:
            for _ in range(8):
                env_id, env = opaque(16 * 1024)
                await flood.send(FrameType.PUT, {"req": 1, "notebook": notebook, "id": env_id},
                                 env)
                reply = await flood.recv()
                if reply.type is FrameType.ERROR:
                    assert reply["code"] == "rate_limited"
                    break
                acked.append((env_id, env))
            assert await flood.closed() == (1008, "rate_limited")
        assert 1 <= len(acked) < 8
        assert await stored(relay.url, notebook, token) == as_log(acked)
    run(body())


# -- disconnects, restarts, failures -------------------------------------------------


def test_abrupt_disconnects_mid_stream_and_mid_put_harm_nothing(relay) -> None:
    notebook, token = new_notebook()

    async def body() -> None:
        sent = await seed(relay.url, notebook, token, 150)
        reader = await greeted(relay.url)
        await reader.open(notebook, token)
        for _ in range(5):
            await reader.expect(FrameType.ENVELOPE)
        reader.ws.transport.abort()  # gone without a close frame, mid catch-up

        writer = await opened(relay.url, notebook, token)
        extra = [opaque() for _ in range(30)]
        for env_id, env in extra:
            await writer.send(FrameType.PUT, {"req": writer.next_req(), "notebook": notebook,
                                              "id": env_id}, env)
        writer.ws.transport.abort()  # gone with PUTs in flight
        # The relay still works through what it had received: wait until it is done.
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(
            relay.server.wait_connections(0), relay.loop))

        log = await stored(relay.url, notebook, token)
        assert log[:150] == as_log(sent)
        arrived = [(env_id, env) for _, env_id, env in log[150:]]
        assert arrived == extra[:len(arrived)]  # a prefix of what was sent, in order
        assert [seq for seq, _, _ in log] == list(range(1, len(log) + 1))
    run(body())


def test_a_restart_loses_nothing_acknowledged(relay) -> None:
    notebook, token = new_notebook()
    _, wrong = new_notebook()

    async def before() -> list:
        sent = await seed(relay.url, notebook, token, 20)
        async with await opened(relay.url, notebook, token) as client:
            await client.send(FrameType.SNAPSHOT_PUT, {"req": 1, "notebook": notebook,
                                                       "upto": 20}, b"snap")
            await client.expect(FrameType.ACK)
        return sent

    sent = run(before())
    port = relay.port
    relay.stop()
    relay.start()
    assert relay.port == port

    async def after() -> None:
        assert await stored(relay.url, notebook, token) == as_log(sent)
        async with await greeted(relay.url) as client:
            assert (await client.open(notebook, wrong))["code"] == "unauthorized"
            frame = await client.open(notebook, token, after=20)
            assert (frame["head"], frame["snapshot"]) == (20, 20)
            await client.catch_up(notebook)
            assert (await client.put(notebook, sent[0][1]))["seq"] == 1
            assert (await client.put(notebook, opaque()[1]))["seq"] == 21
    run(after())


def test_the_database_holds_the_token_only_as_a_hash(relay) -> None:
    notebook, token = new_notebook()
    raw_token = base64.urlsafe_b64decode(token)

    async def body() -> list:
        return await seed(relay.url, notebook, token, 5)

    sent = run(body())

    def files() -> bytes:
        return b"".join(p.read_bytes() for p in relay.data_dir.iterdir() if p.is_file())

    for moment in ("running", "stopped"):
        if moment == "stopped":
            relay.stop()
        data = files()
        assert all(env in data for _, env in sent), moment  # the grep sees the data
        assert hashlib.sha256(raw_token).digest() in data, moment
        assert raw_token not in data and token.encode() not in data, moment
        assert token.rstrip("=").encode() not in data, moment


class FlakyStore(SqliteRelayStore):
    """A SQLite store whose failures a test switches on."""

    fail_append = False
    fail_fetch = False

    async def append(self, notebook, envelope_id, body):
        if self.fail_append:
            raise StoreError("disk I/O error (simulated)")
        return await super().append(notebook, envelope_id, body)

    async def fetch(self, notebook, after, **kwargs):
        if self.fail_fetch:
            raise RuntimeError("a bug in the relay (simulated)")
        return await super().fetch(notebook, after, **kwargs)

    async def get_snapshot(self, notebook):
        raise RuntimeError("a bug in the relay (simulated)")


def test_a_failed_store_is_internal_and_the_connection_stays(relay_factory, caplog) -> None:
    relay = relay_factory(make_store=FlakyStore.in_dir)
    notebook, token = new_notebook()
    caplog.set_level(logging.INFO, RELAY_LOG)

    async def body() -> None:
        async with await opened(relay.url, notebook, token) as client:
            env_id, env = opaque()
            relay.server.store.fail_append = True
            failed = await client.put(notebook, env)
            assert (failed.type, failed["code"], failed["req"]) == (FrameType.ERROR, "internal", 2)
            relay.server.store.fail_append = False
            assert (await client.put(notebook, env))["seq"] == 1
        assert [i for _, i, _ in await stored(relay.url, notebook, token)] == [env_id]
    run(body())


def test_an_unexpected_error_closes_only_that_connection(relay_factory, caplog) -> None:
    relay = relay_factory(make_store=FlakyStore.in_dir)
    notebook, token = new_notebook()
    caplog.set_level(logging.INFO, RELAY_LOG)

    async def body() -> None:
        sent = await seed(relay.url, notebook, token, 2)
        async with await opened(relay.url, notebook, token) as client:
            await client.send(FrameType.SNAPSHOT_GET, {"req": 5, "notebook": notebook})
            await client.expect_error("internal")
            assert await client.closed() == (1011, "internal")
        relay.server.store.fail_fetch = True
        async with await greeted(relay.url) as client:
            assert (await client.open(notebook, token)).type is FrameType.OPENED
            await client.expect_error("internal")  # the stream failed
            assert await client.closed() == (1011, "internal")
        relay.server.store.fail_fetch = False
        assert await stored(relay.url, notebook, token) == as_log(sent)
    run(body())
    tracebacks = [r for r in caplog.records if r.name == RELAY_LOG and r.exc_info]
    assert len(tracebacks) == 2
    assert all("simulated" in str(r.exc_info[1]) for r in tracebacks)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_tls(relay_factory, tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True,
                   timeout=60)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    relay = relay_factory(ssl_context=server_context)
    assert relay.url.startswith("wss://127.0.0.1:")
    notebook, token = new_notebook()

    async def body() -> None:
        client_context = ssl.create_default_context(cafile=str(cert))
        async with await RelayClient.connect(relay.url, ssl=client_context) as client:
            await client.hello()
            assert (await client.open(notebook, token)).type is FrameType.OPENED
            await client.catch_up(notebook)
            assert (await client.put(notebook, opaque()[1]))["seq"] == 1
    run(body())
