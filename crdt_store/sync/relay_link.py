"""One relay connection of the sync engine: connect, open notebooks, stream both ways,
reconnect with exponential backoff and jitter. Runs on the engine's event loop."""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
from collections import deque
from typing import Protocol

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidURI, WebSocketException

from .frames import Frame, FrameError, FrameType, decode, encode
from .relay.limits import TokenBucket
from .envelope import envelope_id

log = logging.getLogger(__name__)

CLIENT = "plait/0.1"
PROTOCOL = 1
MAX_FRAME = 64 * 1024 * 1024
DEFAULT_MAX_ENVELOPE = 1024 * 1024
HELLO_TIMEOUT = 10.0
MIN_BACKOFF, MAX_BACKOFF = 0.5, 60.0
PUT_WINDOW = 64  # envelopes sent and not yet acknowledged, per connection
PACE = 0.8  # share of the relay's advertised rate limits this client uses


class RelayProtocolError(Exception):
    """The relay said or did something this client cannot work with."""


class LinkHandler(Protocol):
    """What a link asks of, and tells, the engine (all on the event loop)."""

    def notebooks_for(self, url: str) -> list[str]: ...
    def token_for(self, notebook_id: str) -> str | None: ...
    def cursor(self, url: str, notebook_id: str) -> int: ...
    def on_link_state(self, url: str) -> None: ...
    def on_opened(self, url: str, notebook_id: str, head: int, pruned: int,
                  snapshot: int | None) -> None: ...
    def on_snapshot(self, url: str, notebook_id: str, upto: int, body: bytes) -> None: ...
    def on_snapshot_stored(self, url: str, notebook_id: str, upto: int) -> None: ...
    def on_envelope(self, url: str, notebook_id: str, seq: int, envelope_id: str,
                    envelope: bytes) -> None: ...
    def on_caught_up(self, url: str, notebook_id: str, seq: int) -> None: ...
    def on_ack(self, url: str, notebook_id: str, envelope_id: str, seq: int) -> None: ...
    def on_relay_error(self, url: str, notebook_id: str | None, code: str, message: str) -> None: ...


class RelayLink:
    """The engine's connection to one relay URL."""

    def __init__(self, url: str, handler: LinkHandler) -> None:
        self.url = url
        self.handler = handler
        self.connected = False
        self.attempts = 0
        self.error: str | None = None  # why the last attempt or session failed
        self.max_envelope = DEFAULT_MAX_ENVELOPE
        self.opened: set[str] = set()
        self.caught_up: set[str] = set()
        self.denied: dict[str, str] = {}  # notebook -> the relay's refusal
        self._ws: ClientConnection | None = None
        self._requests = itertools.count(1)
        self._snapshot_puts: set[int] = set()  # requests whose ACK is for a snapshot
        self._queue: deque[tuple[str, str, bytes]] = deque()  # PUTs waiting to be sent
        self._unacked: set[str] = set()  # envelope ids sent, not yet acknowledged
        self._put_reqs: dict[int, str] = {}  # PUT requests not yet answered -> envelope id
        self._open_reqs: dict[int, str] = {}  # OPEN requests not yet answered -> notebook
        self._send_wake = asyncio.Event()
        self._frames: TokenBucket | None = None  # the relay's advertised limits, paced
        self._bytes: TokenBucket | None = None
        self._wake = asyncio.Event()
        self._stopping = False
        self._welcomed = False  # the current or last session got a WELCOME ...
        self._faulted = False  # ... and ended without the relay objecting

    async def run(self) -> None:
        backoff = MIN_BACKOFF
        while not self._stopping:
            self.attempts += 1
            self._welcomed = self._faulted = False
            try:
                async with connect(self.url, max_size=MAX_FRAME, open_timeout=10,
                                   ping_interval=20, ping_timeout=20) as ws:
                    self._ws = ws
                    await self._session(ws)
            except asyncio.CancelledError:
                raise
            except RelayProtocolError as exc:
                self._faulted = True  # the relay objected: back off as usual
                self.error = _describe(exc)
                log.info("relay %s: %s", self.url, self.error)
            except (OSError, TimeoutError, InvalidURI, WebSocketException) as exc:
                self.error = _describe(exc)
                log.info("relay %s: %s", self.url, self.error)
            finally:
                self._ws = None
                self.connected = False
                self.opened.clear()
                self.caught_up.clear()
                self._queue.clear()  # the outbox is sent again when the notebook reopens
                self._unacked.clear()
                self._put_reqs.clear()
                self._open_reqs.clear()
                self.handler.on_link_state(self.url)
            if self._stopping:
                break
            if self._welcomed and not self._faulted:
                backoff = MIN_BACKOFF  # the relay was there and happy: try again soon
            await self._pause(backoff * (0.5 + random.random()))
            backoff = min(backoff * 2, MAX_BACKOFF)

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._ws is not None:
            await self._ws.close()

    def retry_now(self) -> None:
        """Skip the rest of the backoff (a notebook was added, the user asked)."""
        self._wake.set()

    async def _pause(self, seconds: float) -> None:
        self._wake.clear()
        try:
            await asyncio.wait_for(self._wake.wait(), seconds)
        except TimeoutError:
            pass

    async def _session(self, ws: ClientConnection) -> None:
        await ws.send(encode(FrameType.HELLO, {"client": CLIENT, "protocol": PROTOCOL}))
        welcome = self._frame(await asyncio.wait_for(ws.recv(), HELLO_TIMEOUT))
        if welcome.type is FrameType.ERROR:
            raise RelayProtocolError(f"the relay refused: {welcome['message']}")
        if welcome.type is not FrameType.WELCOME or welcome["protocol"] != PROTOCOL:
            raise RelayProtocolError("the relay does not speak Plait's protocol version 1")
        self.max_envelope = welcome["max_envelope"]
        self._frames = _bucket(welcome.header.get("frames_per_second"))
        self._bytes = _bucket(welcome.header.get("bytes_per_second"), welcome["max_frame"])
        self.connected = True
        self._welcomed = True
        self.error = None
        self.handler.on_link_state(self.url)
        for notebook_id in self.handler.notebooks_for(self.url):
            await self.open(notebook_id)
        sender = asyncio.get_running_loop().create_task(self._send_queued(ws))
        try:
            async for message in ws:
                await self._dispatch(self._frame(message))
        finally:
            sender.cancel()

    async def _send_queued(self, ws: ClientConnection) -> None:
        """Send queued PUTs: at most PUT_WINDOW unacknowledged, paced below the relay's
        rate limits, so a big upload is never cut off for flooding."""
        while True:
            while self._queue and len(self._unacked) < PUT_WINDOW:
                notebook_id, envelope_id, envelope = self._queue[0]
                wait = max(_wait(self._frames, 1), _wait(self._bytes, len(envelope) + 200))
                if wait:
                    await asyncio.sleep(wait)  # pacing, not synchronisation
                    continue
                self._queue.popleft()
                if notebook_id not in self.opened:
                    continue
                self._unacked.add(envelope_id)
                req = next(self._requests)
                self._put_reqs[req] = envelope_id
                await ws.send(encode(FrameType.PUT, {"req": req, "notebook": notebook_id,
                                                     "id": envelope_id}, envelope))
            self._send_wake.clear()
            await self._send_wake.wait()

    def _frame(self, message: bytes | str) -> Frame:
        try:
            return decode(message, max_size=MAX_FRAME)
        except FrameError as exc:
            raise RelayProtocolError(f"the relay sent a malformed frame ({exc})") from None

    async def _dispatch(self, frame: Frame) -> None:
        h, t = self.handler, frame.type
        if t is FrameType.ENVELOPE:
            if envelope_id(frame.body) != frame["id"].lower():
                # The relay checked the id when the envelope was PUT: these bytes were
                # damaged on the way. The relay still has them whole; read them again
                # (a new session resumes from the last envelope applied).
                raise RelayProtocolError("the relay sent an envelope damaged on the way "
                                         "(its bytes do not match its id)")
            h.on_envelope(self.url, frame["notebook"], frame["seq"], frame["id"], frame.body)
        elif t is FrameType.ACK and frame["req"] in self._snapshot_puts:
            self._snapshot_puts.discard(frame["req"])
            h.on_snapshot_stored(self.url, frame["notebook"], frame["seq"])
        elif t is FrameType.ACK:
            self._put_reqs.pop(frame["req"], None)
            self._unacked.discard(frame["id"])
            self._send_wake.set()
            h.on_ack(self.url, frame["notebook"], frame["id"], frame["seq"])
        elif t is FrameType.OPENED:
            self._open_reqs.pop(frame["req"], None)
            self.opened.add(frame["notebook"])  # also after a PUT that overtook the OPEN
            self.denied.pop(frame["notebook"], None)
            pruned = frame.header.get("pruned", 0)
            h.on_opened(self.url, frame["notebook"], frame["head"],
                        pruned if isinstance(pruned, int) else 0, frame["snapshot"])
        elif t is FrameType.SNAPSHOT:
            h.on_snapshot(self.url, frame["notebook"], frame["upto"], frame.body)
        elif t is FrameType.CAUGHT_UP:
            self.caught_up.add(frame["notebook"])
            h.on_caught_up(self.url, frame["notebook"], frame["seq"])
        elif t is FrameType.ERROR:
            await self._refused(frame)
        else:
            log.info("relay %s: ignoring a %s frame", self.url, t.name)

    async def _refused(self, frame: Frame) -> None:
        """An ERROR frame. A refused PUT frees its place in the window (it is sent again
        when the notebook reopens). "unauthorized" for an OPEN is the relay refusing the
        token; for anything else it means the relay never got this session's OPEN (lost
        or overtaken on the way): the notebook is opened again, not reported."""
        notebook_id, code, req = frame["notebook"], frame["code"], frame["req"]
        if code in ("rate_limited", "bad_frame", "too_large", "protocol_version"):
            self._faulted = True
        refused_put = self._put_reqs.pop(req, None) if req is not None else None
        if refused_put is not None:
            self._unacked.discard(refused_put)
            self._send_wake.set()
        if code == "unauthorized" and notebook_id is not None:
            self.opened.discard(notebook_id)
            if req is not None and self._open_reqs.pop(req, None) is None:
                log.info("relay %s: it has no OPEN of %s from this session (%s); opening "
                         "it again", self.url, notebook_id, frame["message"])
                await self.open(notebook_id)
                return
            self.denied[notebook_id] = frame["message"]
        self.handler.on_relay_error(self.url, notebook_id, code, frame["message"])

    async def open(self, notebook_id: str, *, again: bool = False) -> None:
        """Subscribe to a notebook on this connection (no-op if offline, or if open and
        not `again`: the relay then streams again from this device's cursor)."""
        ws = self._ws
        token = self.handler.token_for(notebook_id)
        if ws is None or not self.connected or token is None:
            return
        if notebook_id in self.opened and not again:
            return
        self.opened.add(notebook_id)
        self.caught_up.discard(notebook_id)
        req = next(self._requests)
        self._open_reqs[req] = notebook_id
        try:
            await ws.send(encode(FrameType.OPEN, {
                "req": req, "notebook": notebook_id, "token": token,
                "after": self.handler.cursor(self.url, notebook_id),
            }))
        except WebSocketException:
            log.info("relay %s: connection lost while opening %s", self.url, notebook_id)

    async def get_snapshot(self, notebook_id: str) -> None:
        await self._send_open(notebook_id, FrameType.SNAPSHOT_GET,
                              {"req": next(self._requests), "notebook": notebook_id})

    async def put_snapshot(self, notebook_id: str, upto: int, body: bytes) -> None:
        req = next(self._requests)
        self._snapshot_puts.add(req)
        await self._send_open(notebook_id, FrameType.SNAPSHOT_PUT,
                              {"req": req, "notebook": notebook_id, "upto": upto}, body)

    async def _send_open(self, notebook_id: str, frame_type: FrameType, header: dict,
                         body: bytes = b"") -> None:
        ws = self._ws
        if ws is not None and notebook_id in self.opened:
            try:
                await ws.send(encode(frame_type, header, body))
            except WebSocketException:
                log.info("relay %s: connection lost while sending %s", self.url, frame_type.name)

    def put(self, notebook_id: str, envelope_id: str, envelope: bytes) -> bool:
        """Queue an envelope to send if this notebook is open here (else the outbox sends
        it when it opens); the relay ACKs it later."""
        if self._ws is None or notebook_id not in self.opened or envelope_id in self._unacked:
            return False
        self._queue.append((notebook_id, envelope_id, envelope))
        self._send_wake.set()
        return True


def _bucket(rate: object, largest: float = 1.0) -> TokenBucket | None:
    """A token bucket at PACE of an advertised rate (None: not advertised, or unlimited);
    its burst always lets the `largest` single item through."""
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or rate <= 0:
        return None
    return TokenBucket(rate * PACE, max(1.0, rate * PACE, largest))


def _wait(bucket: TokenBucket | None, amount: float) -> float:
    """Seconds until `amount` may pass (0: take it now)."""
    if bucket is None:
        return 0.0
    if bucket.take(amount):
        return 0.0
    return max(0.005, min(1.0, amount / bucket.rate))


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "the relay is not answering (connection refused)"
    if isinstance(exc, TimeoutError):
        return "the relay did not answer in time"
    if isinstance(exc, InvalidURI):
        return f"the relay address is not valid ({exc})"
    if isinstance(exc, OSError):
        return f"cannot reach the relay ({exc.strerror or exc})"
    return str(exc) or type(exc).__name__
