"""A real relay for tests: `RelayHarness` runs a RelayServer on 127.0.0.1 in a
background thread with its own event loop. `tests/relay_client.py` has a minimal
protocol client to talk to it.

Use the fixtures in a test module with (importing this module directly instead would
cost pytest's assertion rewriting here)::

    pytest_plugins = ["tests.relay_fixtures"]

    def test_something(relay):
        relay.url, relay.data_dir      # ws://127.0.0.1:PORT, the SQLite data dir
        relay.stop(); relay.start()    # restart on the same data (and port)
        relay.server                   # the RelayServer (runs on relay's own loop)
        relay.call(relay.server.prune_now)  # run a coroutine on that loop
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

import pytest

from crdt_store.sync.relay.server import RelayServer
from crdt_store.sync.relay.store import RelayStore

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
    def loop(self) -> asyncio.AbstractEventLoop:
        """The relay's event loop (in the harness's thread)."""
        return self._loop

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
