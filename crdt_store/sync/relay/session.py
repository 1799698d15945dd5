"""One relay connection: reads frames, answers requests, and streams each opened
notebook's envelopes (catch-up, then live) in sequence order.

Client faults become an ERROR frame and one log line (and a close where PROTOCOL.md
says so); a failure of the relay itself is logged with its traceback and closes
only this connection with `internal`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import re
from typing import TYPE_CHECKING, Any

from websockets.exceptions import ConnectionClosed

from ..frames import VERSION, Frame, FrameError, FrameType, decode, encode, error_frame
from .limits import ConnectionLimiter
from .store import SnapshotRejected, StoreError, envelope_id, token_hash

if TYPE_CHECKING:
    from websockets.asyncio.server import ServerConnection

    from .server import RelayServer

log = logging.getLogger("crdt_store.sync.relay")

NOTEBOOK_ID = re.compile(r"[0-9a-f]{32}")
ENVELOPE_ID = re.compile(r"[0-9a-fA-F]{64}")
TOKEN_BYTES = 32
CLOSE_POLICY, CLOSE_TOO_BIG, CLOSE_INTERNAL = 1008, 1009, 1011
CLOSING_CODES = {"bad_frame": CLOSE_POLICY, "protocol_version": CLOSE_POLICY,
                 "rate_limited": CLOSE_POLICY, "too_large": CLOSE_TOO_BIG}
PENDING_BYTES = 4 * 1024 * 1024  # live envelopes held per subscription before refetching
FETCH_LIMIT = 256
FETCH_BYTES = 8 * 1024 * 1024


def short(notebook: str) -> str:
    """A notebook id as logged: enough to tell notebooks apart, not the whole id."""
    return notebook[:8] + "…" if len(notebook) > 8 else notebook


class ClientFault(Exception):
    """Something the client did wrong; becomes an ERROR frame with `code`."""

    def __init__(self, code: str, message: str, *, req: int | None = None,
                 notebook: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.req = req
        self.notebook = notebook

    @property
    def close_code(self) -> int | None:
        return CLOSING_CODES.get(self.code)


class Subscription:
    """A notebook opened on a connection. `cursor` is the last sequence number the
    client has been sent or skipped; live envelopes wait in `pending` for the pump."""

    def __init__(self, notebook: str, cursor: int) -> None:
        self.notebook = notebook
        self.cursor = cursor
        self.seen_head = cursor
        self.pending: dict[int, tuple[str, bytes]] = {}
        self.pending_bytes = 0
        self.own: set[str] = set()  # ids this connection is putting: not echoed back
        self.wake = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def offer(self, seq: int, env_id: str, body: bytes) -> None:
        """A newly stored envelope (called after the store committed it)."""
        self.seen_head = max(self.seen_head, seq)
        if seq > self.cursor and self.pending_bytes + len(body) <= PENDING_BYTES:
            self.pending[seq] = (env_id, body)
            self.pending_bytes += len(body)
        self.wake.set()

    def take_next(self) -> tuple[str, bytes] | None:
        item = self.pending.pop(self.cursor + 1, None)
        if item is not None:
            self.pending_bytes -= len(item[1])
        return item

    def forget_through(self, seq: int) -> None:
        for old in [s for s in self.pending if s <= seq]:
            self.pending_bytes -= len(self.pending.pop(old)[1])


class Session:
    def __init__(self, hub: RelayServer, ws: ServerConnection, number: int) -> None:
        self.hub = hub
        self.ws = ws
        self.name = f"conn {number}"
        self.limits = hub.limits
        self.limiter = ConnectionLimiter(hub.limits)
        self.greeted = False
        self.subs: dict[str, Subscription] = {}
        self.frames_in = 0
        self.frames_out = 0
        self._handlers = {
            FrameType.OPEN: self._open,
            FrameType.PUT: self._put,
            FrameType.SNAPSHOT_PUT: self._snapshot_put,
            FrameType.SNAPSHOT_GET: self._snapshot_get,
        }

    # -- the connection's life -----------------------------------------------------

    async def run(self) -> None:
        peer = _peer(self.ws)
        log.info("%s: open from %s", self.name, peer)
        outcome = "closed"
        try:
            outcome = await self._read_loop()
        except ConnectionClosed as exc:
            outcome = _closed_how(exc)
        except Exception:
            log.exception("%s: internal error", self.name)
            outcome = "closed after an internal error"
            with contextlib.suppress(Exception):
                await self._send_raw(error_frame("internal", "the relay failed; reconnect later"))
            with contextlib.suppress(Exception):
                await self._close(CLOSE_INTERNAL, "internal")
        finally:
            for sub in list(self.subs.values()):
                await self._unsubscribe(sub)
            log.info("%s: %s (%d frames in, %d out)", self.name, outcome,
                     self.frames_in, self.frames_out)

    async def _read_loop(self) -> str:
        while True:
            try:
                message = await self.ws.recv()
            except ConnectionClosed as exc:
                return _closed_how(exc)
            self.frames_in += 1
            try:
                await self._receive(message)
            except ClientFault as fault:
                await self._report(fault)
                if fault.close_code is not None:
                    await self._close(fault.close_code, fault.code)
                    return f"closed for {fault.code}"

    async def _receive(self, message: bytes | str) -> None:
        if not self.limiter.admit(len(message)):
            raise ClientFault("rate_limited", "more frames or bytes per second than allowed")
        try:
            frame = decode(message, max_size=self.limits.max_frame)
        except FrameError as exc:
            raise ClientFault(exc.code, str(exc)) from None
        if frame.type is FrameType.HELLO:
            await self._hello(frame)
            return
        if not self.greeted:
            raise ClientFault("bad_frame", "HELLO comes first")
        handler = self._handlers.get(frame.type)
        if handler is None:
            raise ClientFault("bad_frame", f"{frame.type.name} is not sent to a relay")
        await handler(frame)

    async def _report(self, fault: ClientFault) -> None:
        where = f" [{short(fault.notebook)}]" if fault.notebook else ""
        if fault.code == "internal":
            log.error("%s: internal%s: %s", self.name, where, fault.message)
        else:
            log.warning("%s: %s%s: %s", self.name, fault.code, where, fault.message)
        await self._send_raw(error_frame(fault.code, fault.message, req=fault.req,
                                         notebook=fault.notebook))

    async def _close(self, code: int, reason: str) -> None:
        """Close from the read loop: keep reading (and dropping) what the client still
        sends, so its close frame gets through a full receive queue and the closing
        handshake ends now rather than at websockets' close timeout."""
        closing = asyncio.create_task(self.ws.close(code, reason))
        with contextlib.suppress(ConnectionClosed):
            while not closing.done():
                await self.ws.recv()
        await closing

    async def _fail_internal(self, notebook: str | None = None) -> None:
        """Close from a pump after a failure of the relay; the read loop keeps reading."""
        with contextlib.suppress(Exception):
            await self._send_raw(error_frame("internal", "the relay failed; reconnect later",
                                             notebook=notebook))
        with contextlib.suppress(Exception):
            await self.ws.close(CLOSE_INTERNAL, "internal")

    async def _send(self, frame_type: FrameType, header: dict[str, Any], body: bytes = b"") -> None:
        await self._send_raw(encode(frame_type, header, body))

    async def _send_raw(self, data: bytes) -> None:
        await self.ws.send(data)
        self.frames_out += 1

    # -- requests --------------------------------------------------------------------

    async def _hello(self, frame: Frame) -> None:
        if frame["protocol"] != VERSION:
            raise ClientFault("protocol_version",
                              f"protocol {frame['protocol']}; this relay speaks {VERSION}")
        self.greeted = True
        await self._send(FrameType.WELCOME, {
            "protocol": VERSION, "relay": self.hub.software,
            "max_frame": self.limits.max_frame, "max_envelope": self.limits.max_envelope,
            # Clients pace themselves below these (0: unlimited) instead of being cut off.
            "frames_per_second": self.limits.frames_per_second,
            "bytes_per_second": self.limits.bytes_per_second})

    async def _open(self, frame: Frame) -> None:
        req, notebook = frame["req"], _notebook(frame)
        token = _token(frame)
        async with self.hub.open_lock:
            try:
                info = await self.hub.store.authorize(notebook, token_hash(token))
            except StoreError as exc:
                raise ClientFault("internal", str(exc), req=req, notebook=notebook) from None
            if info is None:
                raise ClientFault("unauthorized", "wrong capability token for this notebook",
                                  req=req, notebook=notebook)
            old = self.subs.pop(notebook, None)
            if old is not None:
                await self._unsubscribe(old)
            sub = Subscription(notebook, cursor=min(frame["after"], info.head))
            self.subs[notebook] = sub
            self.hub.subscribe(sub)
        await self._send(FrameType.OPENED, {
            "req": req, "notebook": notebook, "head": info.head, "snapshot": info.snapshot,
            "pruned": info.pruned})
        sub.task = asyncio.create_task(self._pump(sub), name=f"{self.name} pump")

    async def _put(self, frame: Frame) -> None:
        req, notebook, body = frame["req"], _notebook(frame), frame.body
        if len(body) > self.limits.max_envelope:
            raise ClientFault("too_large", f"envelope of {len(body)} bytes is over "
                              f"{self.limits.max_envelope}", req=req, notebook=notebook)
        env_id = _envelope_id(frame)
        if env_id != envelope_id(body):
            raise ClientFault("bad_frame", "id is not the BLAKE2b-256 of the envelope",
                              req=req, notebook=notebook)
        sub = self._opened(frame, notebook)
        sub.own.add(env_id)
        try:
            appended = await self.hub.append(notebook, env_id, body)
        except StoreError as exc:
            sub.own.discard(env_id)
            raise ClientFault("internal", f"not stored: {exc}", req=req,
                              notebook=notebook) from None
        if not appended.new:
            sub.own.discard(env_id)
        await self._send(FrameType.ACK, {"req": req, "notebook": notebook, "id": env_id,
                                         "seq": appended.seq})

    async def _snapshot_put(self, frame: Frame) -> None:
        req, notebook = frame["req"], _notebook(frame)
        if not frame.body:
            raise ClientFault("bad_frame", "a snapshot cannot be empty", req=req,
                              notebook=notebook)
        self._opened(frame, notebook)
        try:
            stored = await self.hub.store.put_snapshot(notebook, frame["upto"], frame.body)
        except SnapshotRejected as exc:
            raise ClientFault("rejected", str(exc), req=req, notebook=notebook) from None
        except StoreError as exc:
            raise ClientFault("internal", f"not stored: {exc}", req=req,
                              notebook=notebook) from None
        log.info("%s: snapshot up to %d for %s", self.name, stored.upto, short(notebook))
        await self._send(FrameType.ACK, {"req": req, "notebook": notebook, "id": stored.id,
                                         "seq": stored.upto})

    async def _snapshot_get(self, frame: Frame) -> None:
        req, notebook = frame["req"], _notebook(frame)
        self._opened(frame, notebook)
        try:
            snapshot = await self.hub.store.get_snapshot(notebook)
        except StoreError as exc:
            raise ClientFault("internal", str(exc), req=req, notebook=notebook) from None
        if snapshot is None:
            raise ClientFault("not_found", "no snapshot stored", req=req, notebook=notebook)
        await self._send(FrameType.SNAPSHOT, {"req": req, "notebook": notebook,
                                              "upto": snapshot.upto}, snapshot.body)

    def _opened(self, frame: Frame, notebook: str) -> Subscription:
        sub = self.subs.get(notebook)
        if sub is None:
            raise ClientFault("unauthorized", f"{frame.type.name} before OPEN of this notebook",
                              req=frame["req"], notebook=notebook)
        return sub

    # -- streaming -------------------------------------------------------------------

    async def _pump(self, sub: Subscription) -> None:
        """Send everything after the cursor, then CAUGHT_UP, then each new envelope."""
        try:
            caught_up = False
            while True:
                sub.wake.clear()
                while (item := sub.take_next()) is not None:
                    await self._deliver(sub, sub.cursor + 1, *item)
                if caught_up and sub.cursor >= sub.seen_head:
                    await sub.wake.wait()
                    continue
                batch = await self.hub.store.fetch(sub.notebook, sub.cursor, limit=FETCH_LIMIT,
                                                   max_bytes=FETCH_BYTES)
                for envelope in batch:
                    await self._deliver(sub, envelope.seq, envelope.id, envelope.body)
                sub.forget_through(sub.cursor)
                if batch:
                    continue
                if not caught_up:
                    caught_up = True
                    await self._send(FrameType.CAUGHT_UP, {"notebook": sub.notebook,
                                                           "seq": sub.cursor})
                if not sub.wake.is_set():
                    sub.seen_head = sub.cursor  # the store has nothing more
                    await sub.wake.wait()
        except ConnectionClosed:
            return  # the read loop sees it too, and ends the session
        except StoreError as exc:
            log.error("%s: internal [%s]: reading the log failed: %s", self.name,
                      short(sub.notebook), exc)
            await self._fail_internal(sub.notebook)
        except Exception:
            log.exception("%s: internal error streaming %s", self.name, short(sub.notebook))
            await self._fail_internal(sub.notebook)

    async def _deliver(self, sub: Subscription, seq: int, env_id: str, body: bytes) -> None:
        if seq <= sub.cursor:
            return
        sub.cursor = seq
        if env_id in sub.own:
            sub.own.discard(env_id)
            return
        await self._send(FrameType.ENVELOPE, {"notebook": sub.notebook, "seq": seq,
                                              "id": env_id}, body)

    async def _unsubscribe(self, sub: Subscription) -> None:
        self.hub.unsubscribe(sub)
        if sub.task is not None:
            sub.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                await sub.task


def _notebook(frame: Frame) -> str:
    notebook = frame["notebook"]
    if not NOTEBOOK_ID.fullmatch(notebook):
        raise ClientFault("bad_frame", "a notebook id is 32 lowercase hex digits",
                          req=frame.header.get("req"))
    return notebook


def _token(frame: Frame) -> bytes:
    text = frame["token"].rstrip("=")
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != TOKEN_BYTES:
        raise ClientFault("bad_frame", "the token is not base64url of 32 bytes",
                          req=frame["req"], notebook=frame["notebook"])
    return raw


def _envelope_id(frame: Frame) -> str:
    env_id = frame["id"]
    if not ENVELOPE_ID.fullmatch(env_id):
        raise ClientFault("bad_frame", "an envelope id is 64 hex digits", req=frame["req"],
                          notebook=frame["notebook"])
    return env_id.lower()


def _peer(ws: ServerConnection) -> str:
    try:
        host, port = ws.remote_address[:2]
    except (TypeError, ValueError):
        return "?"
    return f"{host}:{port}"


def _closed_how(exc: ConnectionClosed) -> str:
    if exc.rcvd is None:
        return "dropped (no close frame)"
    if exc.sent is not None and exc.rcvd_then_sent is False:
        return f"closed by the relay ({exc.sent.code} {exc.sent.reason})".rstrip()
    return f"closed by the client ({exc.rcvd.code})"
