"""A minimal Plait relay client for tests: real websockets, every wait bounded.

`RelayClient.connect(url)` then `hello()`, `open(notebook, token)`, `catch_up()`,
`put()`; `new_notebook()` and `opaque()` make ids, tokens and random envelopes;
`run(coro)` runs a test coroutine on a fresh event loop with a timeout.
"""

from __future__ import annotations

import asyncio
import base64
import os
import uuid
from collections.abc import Awaitable
from typing import Any, Self, TypeVar

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from crdt_store.sync.frames import Frame, FrameType, decode, encode
from crdt_store.sync.relay.store import envelope_id

T = TypeVar("T")
TIMEOUT = 10.0

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
        rcvd = self.ws.protocol.close_rcvd
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
