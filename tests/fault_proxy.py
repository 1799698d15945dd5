"""A loopback TCP proxy that injects network faults between sync clients and a relay.

    proxy = FaultProxy.start_thread("127.0.0.1", relay.port, seed=7)   # its own loop
    proxy.url                        # ws://127.0.0.1:PORT: give this to the clients
    proxy.set_plan(FaultPlan.hostile())  # faults on
    proxy.heal()                     # faults off, every connection cut once
    proxy.counts                     # Counter of faults injected, by kind
    proxy.captured = []              # record every data frame's message: (direction, bytes)
    proxy.shutdown()

It passes the HTTP upgrade through untouched, then parses the WebSocket stream into
whole frames in each direction and decides, frame by frame, with a seeded RNG, what
to do. Two kinds of fault, because a TCP stream and a WebSocket peer fail differently:

Network faults (what real networks do to a TCP connection):
- `delay`: a frame is held back for a while; everything behind it in that direction
  waits too (TCP keeps order, so a delay never reorders);
- `cut`: the connection is reset (both sockets aborted): whatever was still in flight
  is lost, so a cut loses a *suffix* of each direction's stream, never a frame in the
  middle;
- `cut_mid_frame`: the same, after only part of a frame got through.

Middlebox faults (a buggy or hostile relay, load balancer or proxy rewriting the
WebSocket stream; TCP alone never does these, TLS would turn them into a cut):
- `duplicate`: a data frame is sent twice;
- `reorder`: a data frame is held and sent after the next data frame;
- `drop`: a data frame is left out, and the connection goes on;
- `truncate`: a data frame's payload is cut short, its length field rewritten, so the
  peer receives a shorter, well-formed WebSocket message.

Only complete, unfragmented data frames (text or binary, FIN set) are duplicated,
reordered, dropped or truncated; control frames (ping, pong, close) and continuation
frames are only delayed. Timing on a shared machine is not deterministic, so the same
seed gives the same *decisions* for the same sequence of frames, not the same run.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import struct
import threading
from collections import Counter
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from typing import TypeVar

T = TypeVar("T")

NETWORK_FAULTS = ("delay", "cut", "cut_mid_frame")
MIDDLEBOX_FAULTS = ("duplicate", "reorder", "drop", "truncate")
FAULT_KINDS = NETWORK_FAULTS + MIDDLEBOX_FAULTS
HANDSHAKE_LIMIT = 64 * 1024
DATA_OPCODES = (0x1, 0x2)


@dataclass(frozen=True)
class FaultPlan:
    """Per-frame probabilities of each fault (0 = never), and the delay range (s)."""

    delay: float = 0.0
    cut: float = 0.0
    cut_mid_frame: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    drop: float = 0.0
    truncate: float = 0.0
    max_delay: float = 0.05
    directions: tuple[str, ...] = ("up", "down")  # up: client -> relay
    keep: tuple[float, float] = (0.0, 1.0)  # share of a truncated payload kept, at random
    only: frozenset[int] | None = None  # Plait frame types the middlebox faults hit (None: all)
    max_faults: int | None = None  # stop injecting after this many faults under this plan

    @classmethod
    def clean(cls) -> FaultPlan:
        return cls()

    @classmethod
    def network(cls, scale: float = 1.0) -> FaultPlan:
        """What a flaky network does: delays, resets, resets mid-frame."""
        return cls(delay=0.2 * scale, cut=0.01 * scale, cut_mid_frame=0.01 * scale)

    @classmethod
    def hostile(cls, scale: float = 1.0) -> FaultPlan:
        """The network's faults and a misbehaving middlebox's."""
        return replace(cls.network(scale), duplicate=0.03 * scale, reorder=0.03 * scale,
                       drop=0.02 * scale, truncate=0.02 * scale)

    @property
    def is_clean(self) -> bool:
        return not any(getattr(self, kind) for kind in FAULT_KINDS)


@dataclass
class _Frame:
    raw: bytes  # the whole frame as on the wire
    opcode: int
    fin: bool
    header_len: int  # bytes before the payload (incl. the mask key)
    masked: bool

    @property
    def is_data(self) -> bool:
        return self.fin and self.opcode in DATA_OPCODES

    @property
    def message(self) -> bytes:
        """The payload as the peer receives it (unmasked)."""
        payload = self.raw[self.header_len:]
        if not self.masked:
            return payload
        key = self.raw[self.header_len - 4:self.header_len]
        return bytes(b ^ key[i % 4] for i, b in enumerate(payload))

    @property
    def plait_type(self) -> int | None:
        """The Plait frame type (the message's second byte), unmasked; None if too short."""
        payload = self.raw[self.header_len:self.header_len + 2]
        if len(payload) < 2:
            return None
        if self.masked:
            key = self.raw[self.header_len - 4:self.header_len]
            return payload[1] ^ key[1]
        return payload[1]

    def truncated(self, keep: int) -> bytes:
        """The same frame with only the first `keep` payload bytes, length rewritten."""
        first = self.raw[0]
        mask_bit = 0x80 if self.masked else 0
        if keep < 126:
            head = bytes([first, mask_bit | keep])
        elif keep < 65536:
            head = bytes([first, mask_bit | 126]) + struct.pack(">H", keep)
        else:
            head = bytes([first, mask_bit | 127]) + struct.pack(">Q", keep)
        key = self.raw[self.header_len - 4:self.header_len] if self.masked else b""
        payload = self.raw[self.header_len:self.header_len + keep]
        return head + key + payload  # a masked prefix stays masked right: the key restarts


async def _read_frame(reader: asyncio.StreamReader) -> _Frame:
    """One WebSocket frame (RFC 6455, 5.2); IncompleteReadError at the end of the stream."""
    head = await reader.readexactly(2)
    length = head[1] & 0x7F
    masked = bool(head[1] & 0x80)
    extra = b""
    if length == 126:
        extra = await reader.readexactly(2)
        length = struct.unpack(">H", extra)[0]
    elif length == 127:
        extra = await reader.readexactly(8)
        length = struct.unpack(">Q", extra)[0]
    key = await reader.readexactly(4) if masked else b""
    payload = await reader.readexactly(length)
    header = head + extra + key
    return _Frame(header + payload, head[0] & 0x0F, bool(head[0] & 0x80), len(header), masked)


@dataclass(eq=False)
class _Link:
    """One proxied connection: the two sockets and the writers' queues."""

    number: int
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter
    tasks: list[asyncio.Task] = field(default_factory=list)
    dead: bool = False

    def cut(self) -> None:
        """Reset both sides now (RST): what is still buffered is lost."""
        if self.dead:
            return
        self.dead = True
        for writer in (self.client, self.upstream):
            with contextlib.suppress(Exception):
                writer.transport.abort()
        for task in self.tasks:
            if task is not asyncio.current_task():
                task.cancel()


class FaultProxy:
    """The proxy; use `start_thread` to run it on a loop of its own (as tests do)."""

    def __init__(self, upstream_host: str, upstream_port: int, *, seed: int = 0,
                 plan: FaultPlan | None = None) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.plan = plan or FaultPlan.clean()
        self.rng = random.Random(seed)
        self.counts: Counter[str] = Counter()  # faults injected, by kind
        self.frames: Counter[str] = Counter()  # frames seen, by direction
        self.connections = 0
        self.captured: list[tuple[str, bytes]] | None = None  # set to a list to record
        self._spent = 0
        self._links: set[_Link] = set()
        self._server: asyncio.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    # -- running on a thread of its own ------------------------------------------------

    @classmethod
    def start_thread(cls, upstream_host: str, upstream_port: int, **kwargs) -> FaultProxy:
        proxy = cls(upstream_host, upstream_port, **kwargs)
        loop = asyncio.new_event_loop()
        proxy._loop = loop
        proxy._thread = threading.Thread(target=loop.run_forever, name="fault proxy",
                                         daemon=True)
        proxy._thread.start()
        proxy.call(proxy.start)
        return proxy

    def call(self, make: Callable[[], Awaitable[T]], timeout: float = 30) -> T:
        assert self._loop is not None, "not started with start_thread"

        async def run() -> T:
            return await make()
        future: Future[T] = asyncio.run_coroutine_threadsafe(run(), self._loop)
        return future.result(timeout)

    def _sync(self, action: Callable[[], T]) -> T:
        async def run() -> T:
            return action()
        return self.call(lambda: run())

    def set_plan(self, plan: FaultPlan) -> None:
        self._sync(lambda: self.set_plan_now(plan))

    def cut_all(self) -> int:
        """Reset every open connection (as a network outage would); how many."""
        def cut() -> int:
            links = list(self._links)
            for link in links:
                link.cut()
            return len(links)
        return self._sync(cut)

    def heal(self) -> int:
        """Faults off, and every connection cut once, so every client reconnects through
        a clean path (a stalled connection left by a middlebox fault is not waited out)."""
        self.set_plan(FaultPlan.clean())
        return self.cut_all()

    def shutdown(self) -> None:
        if self._loop is None:
            return
        with contextlib.suppress(Exception):
            self.call(self.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        if self._thread is None or not self._thread.is_alive():
            self._loop.close()

    # -- the server ---------------------------------------------------------------------

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for link in list(self._links):
            link.cut()
        if self._server is not None:
            await self._server.wait_closed()

    async def _accept(self, client_r: asyncio.StreamReader,
                      client_w: asyncio.StreamWriter) -> None:
        try:
            up_r, up_w = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_w.transport.abort()
            return
        self.connections += 1
        link = _Link(self.connections, client_w, up_w)
        self._links.add(link)
        link.tasks = [asyncio.current_task()]  # type: ignore[list-item]
        try:
            up = asyncio.ensure_future(self._pipe(link, client_r, up_w, "up"))
            down = asyncio.ensure_future(self._pipe(link, up_r, client_w, "down"))
            link.tasks += [up, down]
            await asyncio.wait([up, down], return_when=asyncio.FIRST_COMPLETED)
            # One side ended its stream: the other gets a moment to finish its own
            # (a closing handshake), then both sockets close, their buffers flushed.
            await asyncio.wait([up, down], timeout=2.0)
        except asyncio.CancelledError:
            pass
        finally:
            self._links.discard(link)
            if not link.dead:
                link.dead = True
                for writer in (client_w, up_w):
                    with contextlib.suppress(Exception):
                        writer.close()
                for task in link.tasks[1:]:
                    task.cancel()

    async def _pipe(self, link: _Link, reader: asyncio.StreamReader,
                    writer: asyncio.StreamWriter, direction: str) -> None:
        """Copy the handshake, then frame by frame, faults applied; ends with the stream."""
        try:
            handshake = await reader.readuntil(b"\r\n\r\n")
            writer.write(handshake)
            held: _Frame | None = None  # a data frame waiting to be sent after the next one
            while not link.dead:
                frame = await _read_frame(reader)
                self.frames[direction] += 1
                if self.captured is not None and frame.is_data:
                    self.captured.append((direction, frame.message))  # real frames, for fuzzing
                held = await self._forward(link, writer, frame, held, direction)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError,
                OSError):
            pass
        finally:
            with contextlib.suppress(Exception):
                if not link.dead:
                    writer.write_eof()

    def set_plan_now(self, plan: FaultPlan) -> None:
        """On the proxy's loop: a new plan, with a fresh fault budget."""
        self.plan = plan
        self._spent = 0

    def _roll(self, kind: str, direction: str) -> bool:
        plan = self.plan
        probability = getattr(plan, kind)
        if not probability or direction not in plan.directions:
            return False
        if plan.max_faults is not None and self._spent >= plan.max_faults:
            return False
        if self.rng.random() < probability:
            self.counts[kind] += 1
            self._spent += 1
            return True
        return False

    async def _forward(self, link: _Link, writer: asyncio.StreamWriter, frame: _Frame,
                       held: _Frame | None, direction: str) -> _Frame | None:
        """Send `frame` (and a held one) as the plan says; returns what is held now."""
        if self._roll("cut", direction):
            link.cut()
            return None
        if self._roll("cut_mid_frame", direction):
            if held is not None:
                writer.write(held.raw)
            writer.write(frame.raw[:self.rng.randrange(1, len(frame.raw))])
            with contextlib.suppress(Exception):
                await writer.drain()
            link.cut()
            return None
        if self._roll("delay", direction):
            await asyncio.sleep(self.rng.uniform(0, self.plan.max_delay))  # the fault itself
        out: list[bytes] = []
        only = self.plan.only
        if frame.is_data and (only is None or frame.plait_type in only):
            if self._roll("drop", direction):
                return held
            raw = frame.raw
            payload_len = len(raw) - frame.header_len
            if payload_len > 1 and self._roll("truncate", direction):
                low, high = self.plan.keep
                keep = int(payload_len * self.rng.uniform(low, high))
                raw = frame.truncated(min(max(keep, 0), payload_len - 1))
            copies = 2 if self._roll("duplicate", direction) else 1
            if held is None and self._roll("reorder", direction):
                return replace(frame, raw=raw) if copies == 1 else _twice(frame, raw)
            out += [raw] * copies
            if held is not None:
                out.append(held.raw)
                held = None
        else:
            if held is not None:  # a control frame (a close, say) goes after what is held
                out.append(held.raw)
                held = None
            out.append(frame.raw)
        for raw in out:
            writer.write(raw)
        await writer.drain()
        return held


def _twice(frame: _Frame, raw: bytes) -> _Frame:
    """A held frame that was also duplicated: both copies go out together later."""
    return replace(frame, raw=raw + raw)
