"""The relay's WebSocket server (`RelayServer`) and the `plait-relay` command.

`RelayServer` serves PROTOCOL.md on one port over one `RelayStore`; each connection
is a `session.Session`. Start it with `await start()` inside a running event loop,
stop it with `await close()`; `plait-relay` does both around SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import logging
import re
import signal
import ssl
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from websockets.asyncio.server import Server, ServerConnection, serve

from .limits import MIB, Limits
from .session import Session, Subscription, short
from .sqlite_store import SqliteRelayStore
from .store import Appended, RelayStore, StoreError

log = logging.getLogger("crdt_store.sync.relay")

DEFAULT_PORT = 8765
DAY = 86400.0
WS_SLACK = 64 * 1024  # websockets' own limit sits this far above max_frame


def _software() -> str:
    try:
        from importlib.metadata import version

        return f"plait-relay/{version('plait')}"
    except Exception:  # noqa: BLE001 - not installed as a distribution
        return "plait-relay/dev"


class RelayServer:
    """A relay on `host:port` storing in `data_dir` (SQLite), or in `store` if given.
    The server owns its store: `start()` opens it and `close()` closes it."""

    def __init__(self, data_dir: Path | str | None = None, *, host: str = "127.0.0.1",
                 port: int = DEFAULT_PORT, limits: Limits | None = None,
                 ssl_context: ssl.SSLContext | None = None, prune_days: float | None = None,
                 prune_interval: float = 3600.0, store: RelayStore | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        if store is None:
            if data_dir is None:
                raise ValueError("a RelayServer needs a data_dir or a store")
            store = SqliteRelayStore.in_dir(data_dir, clock=clock)
        if prune_days is not None and prune_days < 0:
            raise ValueError("prune_days must not be negative")
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self.host = host
        self.limits = limits or Limits()
        self.ssl_context = ssl_context
        self.prune_days = prune_days
        self.prune_interval = prune_interval
        self.store = store
        self.software = _software()
        self.open_lock = asyncio.Lock()  # OPEN's registration vs. pruning
        self._requested_port = port
        self._clock = clock
        self._server: Server | None = None
        self._subs: dict[str, set[Subscription]] = {}
        self._inflight: set[asyncio.Task[Appended]] = set()
        self._prune_task: asyncio.Task[None] | None = None
        self._numbers = itertools.count(1)
        self._sessions: set[Session] = set()
        self._sessions_changed = asyncio.Condition()
        self._closed = False

    # -- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        """Open the store and listen; OSError if the port is taken, StoreError if the
        store cannot be used (both leave nothing running)."""
        await self.store.open()
        try:
            self._server = await serve(
                self._handle, self.host, self._requested_port, ssl=self.ssl_context,
                max_size=self.limits.max_frame + WS_SLACK, compression=None,
                logger=logging.getLogger("websockets.server"))
        except BaseException:
            await self.store.close()
            raise
        if self.prune_days is not None:
            self._prune_task = asyncio.create_task(self._prune_loop(), name="relay pruning")
        log.info("%s listening on %s (data %s; max frame %d, max envelope %d, "
                 "%g frames/s, %d bytes/s; pruning %s)", self.software, self.url,
                 self.data_dir or type(self.store).__name__, self.limits.max_frame,
                 self.limits.max_envelope, self.limits.frames_per_second,
                 int(self.limits.bytes_per_second),
                 "off" if self.prune_days is None else f"after {self.prune_days:g} days")

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the relay is not started")
        return self._server.sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        scheme = "wss" if self.ssl_context is not None else "ws"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"

    async def close(self) -> None:
        """Stop listening, close every connection (1001), finish in-flight appends,
        close the store. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._prune_task is not None:
            self._prune_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._prune_task
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        if self._inflight:
            await asyncio.wait(list(self._inflight))
        await self.store.close()
        log.info("relay stopped; store closed")

    @property
    def connections(self) -> int:
        """Connections being served now (their sessions have not ended)."""
        return len(self._sessions)

    async def wait_connections(self, at_most: int) -> None:
        """Return once no more than `at_most` connections are being served."""
        async with self._sessions_changed:
            await self._sessions_changed.wait_for(lambda: len(self._sessions) <= at_most)

    async def _handle(self, ws: ServerConnection) -> None:
        session = Session(self, ws, next(self._numbers))
        await self._track(session, add=True)
        try:
            await session.run()
        finally:
            await self._track(session, add=False)

    async def _track(self, session: Session, *, add: bool) -> None:
        async with self._sessions_changed:
            if add:
                self._sessions.add(session)
            else:
                self._sessions.discard(session)
            self._sessions_changed.notify_all()

    # -- what sessions share -----------------------------------------------------------

    def subscribe(self, sub: Subscription) -> None:
        self._subs.setdefault(sub.notebook, set()).add(sub)

    def unsubscribe(self, sub: Subscription) -> None:
        subs = self._subs.get(sub.notebook)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subs[sub.notebook]

    async def append(self, notebook: str, env_id: str, body: bytes) -> Appended:
        """Store an envelope and hand it to every connection that opened the notebook.
        Runs to the end even if the caller is cancelled, so nothing stored is left
        unannounced."""
        task = asyncio.ensure_future(self._append(notebook, env_id, body))
        self._inflight.add(task)
        task.add_done_callback(self._forget)
        return await asyncio.shield(task)

    async def _append(self, notebook: str, env_id: str, body: bytes) -> Appended:
        appended = await self.store.append(notebook, env_id, body)
        if appended.new:
            for sub in list(self._subs.get(notebook, ())):
                sub.offer(appended.seq, env_id, body)
        return appended

    def _forget(self, task: asyncio.Task[Appended]) -> None:
        self._inflight.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved here; the awaiting session reports it

    # -- pruning -----------------------------------------------------------------------

    async def prune_now(self) -> int:
        """Apply the pruning rule once; the number of envelope bodies dropped. A
        notebook that a connection is still reading below the snapshot waits."""
        if self.prune_days is None:
            return 0
        dropped = 0
        for notebook, upto in await self.store.prunable(self._clock() - self.prune_days * DAY):
            async with self.open_lock:
                if any(sub.cursor < upto for sub in self._subs.get(notebook, ())):
                    log.info("pruning %s deferred: a connection is reading below %d",
                             short(notebook), upto)
                    continue
                count = await self.store.prune(notebook, upto)
            dropped += count
            log.info("pruned %d envelopes of %s up to %d", count, short(notebook), upto)
        return dropped

    async def _prune_loop(self) -> None:
        while True:
            try:
                await self.prune_now()
            except StoreError as exc:
                log.error("pruning failed: %s", exc)
            except Exception:
                log.exception("pruning failed")
            await asyncio.sleep(self.prune_interval)


# -- plait-relay ---------------------------------------------------------------------

_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmg]?)(i?b)?", re.IGNORECASE)


def parse_size(text: str) -> int:
    """'4096', '64K', '16M', '1GiB' -> bytes."""
    match = _SIZE.fullmatch(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"not a size: {text!r}")
    factor = {"": 1, "k": 1024, "m": MIB, "g": 1024 * MIB}[match.group(2).lower()]
    return int(float(match.group(1)) * factor)


def build_parser() -> argparse.ArgumentParser:
    d = Limits()
    p = argparse.ArgumentParser(
        prog="plait-relay",
        description="Relay for Plait sync: stores and forwards encrypted envelopes.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT,
                   help=f"port ({DEFAULT_PORT}); 0 picks a free one")
    p.add_argument("--data", type=Path, default=None,
                   help="data directory, holds relay.sqlite3 (default: the user data dir)")
    p.add_argument("--max-frame", type=parse_size, default=d.max_frame,
                   help="largest frame accepted, e.g. 16M (default 16M)")
    p.add_argument("--max-envelope", type=parse_size, default=d.max_envelope,
                   help="largest envelope accepted (default 4M)")
    p.add_argument("--rate-frames", type=float, default=d.frames_per_second,
                   help="frames per second per connection, 0 = unlimited (default 200)")
    p.add_argument("--rate-bytes", type=parse_size, default=int(d.bytes_per_second),
                   help="bytes per second per connection, 0 = unlimited (default 8M)")
    p.add_argument("--tls-cert", type=Path, help="PEM certificate chain: serve wss://")
    p.add_argument("--tls-key", type=Path, help="PEM private key of --tls-cert")
    p.add_argument("--prune-days", type=float, default=None,
                   help="drop envelopes covered by a snapshot stored this many days ago "
                        "(default: keep everything)")
    p.add_argument("--log-level", default="INFO",
                   choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("websockets").setLevel(max(logging.WARNING, logging.getLevelName(
        args.log_level)))
    try:
        limits = Limits(max_frame=args.max_frame, max_envelope=args.max_envelope,
                        frames_per_second=args.rate_frames, bytes_per_second=args.rate_bytes)
        context = _tls(args.tls_cert, args.tls_key)
    except (ValueError, OSError, ssl.SSLError) as exc:
        log.error("cannot start: %s", exc)
        return 2
    data = args.data
    if data is None:
        from platformdirs import user_data_path

        data = user_data_path("plait-relay", appauthor=False)
    server = RelayServer(data, host=args.host, port=args.port, limits=limits,
                         ssl_context=context, prune_days=args.prune_days)
    return asyncio.run(_serve(server))


def _tls(cert: Path | None, key: Path | None) -> ssl.SSLContext | None:
    if cert is None and key is None:
        return None
    if cert is None:
        raise ValueError("--tls-key needs --tls-cert")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


async def _serve(server: RelayServer) -> int:
    try:
        await server.start()
    except (OSError, StoreError) as exc:
        log.error("cannot start: %s", exc)
        return 1
    stop = asyncio.Event()
    received: list[str] = []
    loop = asyncio.get_running_loop()

    def on_signal(sig: signal.Signals) -> None:
        received.append(sig.name)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # not on Windows
            loop.add_signal_handler(sig, on_signal, sig)
    # Only now: a supervisor that stops the relay as soon as it says it listens must
    # find the handlers in place (a clean exit, status 0).
    print(f"plait-relay listening on {server.url}", flush=True)
    try:
        await stop.wait()
    finally:
        log.info("shutting down (%s)", received[0] if received else "cancelled")
        await server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
