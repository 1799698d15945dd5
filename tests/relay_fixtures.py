"""A real relay for tests: `RelayHarness` runs a RelayServer on 127.0.0.1 in a
background thread with its own event loop; `RelayClient` is a minimal protocol
client over a real websockets connection.

Use the fixtures in a test module with::

    from .relay_fixtures import relay, relay_factory  # noqa: F401

    def test_something(relay):
        relay.url, relay.data_dir      # ws://127.0.0.1:PORT, the SQLite data dir
        relay.stop(); relay.start()    # restart on the same data (and port)
"""

from __future__ import annotations

import asyncio
import base64
import os
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Self, TypeVar

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from crdt_store.sync.frames import Frame, FrameType, decode, encode
from crdt_store.sync.relay.server import RelayServer
from crdt_store.sync.relay.store import RelayStore, envelope_id

T = TypeVar("T")
TIMEOUT = 10.0


class RelayHarness:
    """A RelayServer in a thread of its own. `start()` (again) after `stop()`
    serves the same data dir on the same port when it is still free."""

    def __init__(self, data_dir: Path, *, make_store: Callable[[Path], RelayStore] | None = None,
                 **server_kwargs: Any) -> None:
        self.data_dir = Path(data_dir)
        self.server: RelayServer | None = None
        self._make_store = make_store
        self._kwargs = server_kwargs
        self._port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="test relay",
                                        daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        if self.server is None:
            raise RuntimeError("the relay is stopped")
        return self.server.url

    def call(self, make: Callable[[], Awaitable[T]], timeout: float = 30) -> T:
        """Run `make()` on the relay's loop and wait for its result."""
        async def run() -> T:
            return await make()
        future: Future[T] = asyncio.run_coroutine_threadsafe(run(), self._loop)
        return future.result(timeout)

    def start(self) -> RelayHarness:
        if self.server is not None:
            raise RuntimeError("already running")

        def build(port: int) -> RelayServer:
            store = self._make_store(self.data_dir) if self._make_store else None
            return RelayServer(self.data_dir, host="127.0.0.1", port=port, store=store,
                               **self._kwargs)

        server = build(self._port)
        try:
            self.call(server.start)
        except OSError:
            if not self._port:
                raise
            server = build(0)  # the old port was taken meanwhile
            self.call(server.start)
        self.server = server
        self._port = server.port
        return self

    def stop(self) -> None:
        server, self.server = self.server, None
        if server is not None:
            self.call(server.close)

    def shutdown(self) -> None:
        try:
            self.stop()
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            if not self._thread.is_alive():
                self._loop.close()


@pytest.fixture
def relay_factory(tmp_path: Path) -> Iterator[Callable[..., RelayHarness]]:
    """Make started relays with RelayServer keyword arguments (limits=..., ...)."""
    made: list[RelayHarness] = []

    def make(data_dir: Path | None = None, **kwargs: Any) -> RelayHarness:
        harness = RelayHarness(data_dir or tmp_path / f"relay-data-{len(made)}", **kwargs)
        made.append(harness)
        return harness.start()

    yield make
    for harness in made:
        harness.shutdown()


@pytest.fixture
def relay(relay_factory: Callable[..., RelayHarness]) -> RelayHarness:
    """A relay on 127.0.0.1, a free port and a fresh data dir, with default limits."""
    return relay_factory()


# -- the client side ---------------------------------------------------------------


def new_notebook() -> tuple[str, str]:
    """A fresh notebook id and capability token (base64url of 32 bytes)."""
    return uuid.uuid4().hex, base64.urlsafe_b64encode(os.urandom(32)).decode()


def opaque(size: int = 200) -> tuple[str, bytes]:
    """A random 'envelope' (the relay cannot tell it from ciphertext) and its id."""
    body = os.urandom(size)
    return envelope_id(body), body


class RelayClient:
    """Speaks frames to a relay; every wait has a timeout."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self._req = 0

    @classmethod
    async def connect(cls, url: str, **kwargs: Any) -> RelayClient:
        kwargs.setdefault("max_size", None)
        kwargs.setdefault("compression", None)
        ws = await asyncio.wait_for(connect(url, open_timeout=TIMEOUT, **kwargs), TIMEOUT)
        return cls(ws)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def next_req(self) -> int:
        self._req += 1
        return self._req

    async def send(self, frame_type: FrameType, header: dict[str, Any], body: bytes = b"") -> None:
        await self.ws.send(encode(frame_type, header, body))

    async def send_raw(self, data: bytes | str) -> None:
        await self.ws.send(data)

    async def recv(self, timeout: float = TIMEOUT) -> Frame:
        return decode(await asyncio.wait_for(self.ws.recv(), timeout))

    async def expect(self, frame_type: FrameType, timeout: float = TIMEOUT) -> Frame:
        frame = await self.recv(timeout)
        assert frame.type is frame_type, f"expected {frame_type.name}, got {frame}"
        return frame

    async def expect_error(self, code: str, timeout: float = TIMEOUT) -> Frame:
        frame = await self.expect(FrameType.ERROR, timeout)
        assert frame["code"] == code, frame
        return frame

    async def closed(self, timeout: float = TIMEOUT) -> tuple[int | None, str | None]:
        """Wait for the relay to close; (code, reason) of its close frame. Frames that
        still arrive are skipped."""
        async def drain() -> None:
            try:
                while True:
                    await self.ws.recv()
            except ConnectionClosed:
                return
        await asyncio.wait_for(drain(), timeout)
        rcvd = self.ws.close_rcvd
        return (rcvd.code, rcvd.reason) if rcvd is not None else (None, None)

    async def hello(self) -> Frame:
        await self.send(FrameType.HELLO, {"client": "tests", "protocol": 1})
        return await self.expect(FrameType.WELCOME)

    async def open(self, notebook: str, token: str, after: int = 0) -> Frame:
        req = self.next_req()
        await self.send(FrameType.OPEN, {"req": req, "notebook": notebook, "token": token,
                                         "after": after})
        frame = await self.recv()
        assert frame.header.get("req") == req, frame
        return frame

    async def catch_up(self, notebook: str) -> tuple[list[Frame], Frame]:
        """The ENVELOPE frames up to CAUGHT_UP, and the CAUGHT_UP frame."""
        envelopes = []
        while True:
            frame = await self.recv()
            if frame.type is FrameType.CAUGHT_UP:
                assert frame["notebook"] == notebook
                return envelopes, frame
            assert frame.type is FrameType.ENVELOPE, frame
            envelopes.append(frame)

    async def put(self, notebook: str, body: bytes, env_id: str | None = None) -> Frame:
        """PUT and return the reply (ACK or ERROR) for its req."""
        req = self.next_req()
        await self.send(FrameType.PUT, {"req": req, "notebook": notebook,
                                        "id": env_id or envelope_id(body)}, body)
        frame = await self.recv()
        assert frame.header.get("req") == req, frame
        return frame

    async def close(self) -> None:
        await self.ws.close()


def run(coro: Awaitable[T], timeout: float = 60) -> T:
    """Run a test's coroutine on a fresh loop, bounded."""
    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout)
    return asyncio.run(bounded())
