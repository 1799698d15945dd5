"""Sync benchmark: real vaults, real sync engines and a real relay, all on 127.0.0.1.

Every measurement is printed beside a baseline measured in the same run (these
machines are shared and noisy, so only the ratios travel):

1. floor: a raw websocket echo round trip to a trivial server in its own process;
2. edit on A -> visible on B: single keystrokes at a typing pace, timed from A's
   `Vault.edit` call to the change event B's vault publishes on B's owner thread;
3. joining a notebook of 10,000 notes (A's share upload, then B's join);
4. catch-up: B was offline while A typed the whole automerge-paper trace;
5. relay load: 20 raw protocol clients putting 10 envelopes/s each.

The relay runs in a process of its own (`python -m crdt_store.sync.relay.server`), as
it would in production. The two devices share this process: each has its vault on an
owner thread of its own, woken by an event when the engine posts work
(`Vault.set_wakeup`), which then runs `Vault.deliver_pending`, as the GUI does.

Run with `make bench ARGS=sync` (`python -m tests.benchmarks sync [--limit N]
[--load-seconds S]`); `--limit N` caps the notes, keystrokes, trace transactions and
round trips at N and runs the relay load for 5 s. While developing, one part at a
time, optionally with cProfile on the engines' loops and the owner threads:
`python -m tests.benchmarks.bench_sync --parts join --limit 2000 --profile DIR`
(`--parts reconnect` adds a scenario outside the table: typing offline at a human
pace, then the relay returns).

The join runs its relay with `--rate-frames 0`: with the default 200 frames/s the
engine's un-paced upload of a big notebook is cut off for `rate_limited` again and
again (`--join-relay-args ''` measures that).
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import logging
import math
import os
import random
import re
import select
import signal
import sqlite3
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pycrdt import Doc, Text
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from app.bridge import POSTED_WORK_BUDGET
from crdt_store.keys import KeyStore
from crdt_store.sync.engine import BATCH_DELAY, SyncEngine
from crdt_store.sync.envelope import open_envelope
from crdt_store.sync.frames import FrameType, decode, encode
from crdt_store.sync.invite import parse_invite
from crdt_store.sync.relay.store import envelope_id
from crdt_store.unicode_offsets import TextOp
from crdt_store.vault import Vault

from ..keyring_fixtures import MemoryKeyring
from ..relay_client import RelayClient, new_notebook
from .bench_store import load_trace
from .table import print_table

ROOT = Path(__file__).resolve().parents[2]
RELAY_DB = "relay.sqlite3"

FULL = {
    "echo": 500,  # round trips for the floor
    "keystrokes": 300,  # typed on A, 50-150 ms apart
    "notes": 10_000,  # in the joined notebook
    "load_clients": 20,
    "load_rate": 10.0,  # PUTs per second per client
    "load_seconds": 60.0,
    "envelope_bytes": 100,
}
UPKEEP_EVERY = 1.0  # seconds: the GUI's upkeep timer (MainWindow._do_upkeep)
QUICK_LOAD_SECONDS = 5.0
BASELINE_LOAD_SECONDS = 15.0  # the fan-out baseline's run: its percentiles settle fast  # relay load under --limit, unless --load-seconds says otherwise
PARTS = ("floor", "edit", "join", "catchup", "load")


# ================================================================= small helpers


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile of `values` (any order)."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def ms(seconds: float) -> str:
    if math.isnan(seconds):
        return "-"
    value = seconds * 1e3
    return f"{value:.2f}" if value < 10 else f"{value:.0f}" if value >= 100 else f"{value:.1f}"


def secs(seconds: float) -> str:
    return f"{seconds:.3f}" if seconds < 1 else f"{seconds:.2f}" if seconds < 10 else f"{seconds:.1f}"


def ratio(a: float, b: float) -> str:
    return f"{a / b:.1f}x" if b > 0 else ""


class ServerProcess:
    """A server in a child process that prints its ws:// URL as its first stdout line.
    CPU time and memory are read from /proc (psutil is not a dependency)."""

    def __init__(self, name: str, argv: list[str], log_path: Path) -> None:
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self, timeout: float = 30.0) -> ServerProcess:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=log,
                                         cwd=ROOT, env=env)
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline().decode() if ready else ""
        found = re.search(r"ws://127\.0\.0\.1:\d+", line)
        if found is None:
            self.stop()
            raise RuntimeError(f"{self.name} did not start (see {self.log_path}): {line!r}")
        self.url = found.group(0)
        return self

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process so far."""
        with open(f"/proc/{self.pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def memory_kb(self) -> tuple[int, int]:
        """(VmRSS, VmHWM) in KiB: resident now, and the peak."""
        values = {}
        with open(f"/proc/{self.pid}/status") as fh:
            for line in fh:
                key, _, rest = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    values[key] = int(rest.split()[0])
        return values["VmRSS"], values["VmHWM"]

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()


def relay_process(data_dir: Path, port: int = 0, *extra: str) -> ServerProcess:
    data_dir.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "crdt_store.sync.relay.server", "--host", "127.0.0.1",
            "--port", str(port), "--data", str(data_dir), "--log-level", "WARNING", *extra]
    return ServerProcess("relay", argv, data_dir.parent / f"{data_dir.name}.log").start()


def relay_envelopes(data_dir: Path, notebook_id: str, after: int = 0) -> tuple[int, int]:
    """(count, bytes) of the envelopes a relay holds for a notebook past `after`."""
    db = sqlite3.connect(f"file:{data_dir / RELAY_DB}?mode=ro", uri=True)
    try:
        count, size = db.execute(
            "SELECT COUNT(*), COALESCE(SUM(LENGTH(body)), 0) FROM envelopes"
            " WHERE notebook = ? AND seq > ?", (notebook_id, after)).fetchone()
    finally:
        db.close()
    return count, size


ECHO_SERVER = """
import asyncio
from websockets.asyncio.server import serve

async def echo(ws):
    async for message in ws:
        await ws.send(message)

async def main():
    async with serve(echo, "127.0.0.1", 0, compression=None) as server:
        print("ws://127.0.0.1:%d" % server.sockets[0].getsockname()[1], flush=True)
        await asyncio.Future()

asyncio.run(main())
"""


LINK_LOGGER = "crdt_store.sync.relay_link"


class LogCounter(logging.Handler):
    """Counts the sync engine's warnings (rate limits, rejections...) and the ends of
    its relay connections, instead of printing them in the middle of the table;
    `seen` keeps them by message."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.seen: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.WARNING or record.name == LINK_LOGGER:
            message = re.sub(r"ws://127\.0\.0\.1:\d+", "ws://relay", record.getMessage())
            self.seen[message] += 1


@contextlib.contextmanager
def counted_logs() -> Iterator[LogCounter]:
    counter = LogCounter()
    loggers = [logging.getLogger(name) for name in ("crdt_store", "asyncio", "websockets")]
    for logger in loggers:
        logger.addHandler(counter)
    link = logging.getLogger(LINK_LOGGER)
    level = link.level
    link.setLevel(logging.INFO)  # a relay connection's end is logged at INFO
    try:
        yield counter
    finally:
        link.setLevel(level)
        for logger in loggers:
            logger.removeHandler(counter)


# ================================================================= devices


class OwnerDevice:
    """One device as the app runs it: its vault lives on an owner thread of its own,
    which sleeps on a wakeup event and runs `Vault.deliver_pending` whenever the sync
    engine posts work (or reports a status change). Jobs (`call`) and conditions
    (`wait_until`) are run and checked on that thread, between deliveries."""

    def __init__(self, path: Path, name: str, keyring: MemoryKeyring | None = None, *,
                 search: bool = True) -> None:
        self.path = path
        self.search = search
        self.name = name
        self.keyring = keyring or MemoryKeyring()
        self.vault: Vault | None = None
        self.engine: SyncEngine | None = None
        self.wake = threading.Event()
        self._jobs: deque[Callable[[], None]] = deque()
        self._watches: list[list[Any]] = []  # [predicate, event, seconds when true, error]
        self._opened = threading.Event()
        self._closed = threading.Event()
        self._closing = False
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._upkeep_at = 0.0
        self.stalls: list[float] = []  # seconds of each deliver_pending() ...
        self.upkeeps: list[float] = []  # ... and of each upkeep (refresh_index)

    def open(self, timeout: float = 60.0) -> OwnerDevice:
        self._thread = threading.Thread(target=self._run, name=f"owner {self.name}",
                                        daemon=True)
        self._thread.start()
        if not self._opened.wait(timeout):
            raise TimeoutError(f"device {self.name} did not open")
        if self._error is not None:
            raise self._error
        return self

    def _run(self) -> None:
        try:
            vault = self.vault = Vault(self.path, display_name=self.name, search=self.search)
            vault.set_wakeup(self.wake.set)
            engine = self.engine = SyncEngine(vault, KeyStore(self.keyring, timeout=5.0),
                                              on_status=self.wake.set)
            engine.start()
        except BaseException as exc:  # noqa: BLE001 - handed to open()
            self._error = exc
            self._opened.set()
            return
        self._opened.set()
        try:
            while not (self._closing and not self._jobs):
                self.pump(1.0)  # the timeout is only a safety net: posts wake it at once
                while self._jobs:
                    self._jobs.popleft()()
        finally:
            try:
                engine.stop()
                vault.close()
            finally:
                self._closed.set()

    # ---- on the owner thread --------------------------------------------------------

    def pump(self, timeout: float) -> None:
        """Wait for a wakeup (at most `timeout`), run posted work and, once a second,
        the list upkeep (as the GUI's upkeep timer does), then check conditions. Each
        run's duration is kept: the owner thread (the GUI) answers nothing meanwhile."""
        vault = self.vault
        assert vault is not None
        self.wake.wait(min(timeout, max(0.0, self._upkeep_at - time.perf_counter())))
        self.wake.clear()
        t0 = time.perf_counter()
        vault.deliver_pending(budget=POSTED_WORK_BUDGET)  # as the GUI's bridge does
        t1 = time.perf_counter()
        self.stalls.append(t1 - t0)
        if t0 >= self._upkeep_at:
            vault.refresh_index()
            self._upkeep_at = t0 + UPKEEP_EVERY
            self.upkeeps.append(time.perf_counter() - t1)
        for watch in list(self._watches):
            predicate, event = watch[0], watch[1]
            if event.is_set():
                continue
            try:
                if predicate():
                    watch[2] = time.perf_counter()
                    event.set()
            except Exception as exc:  # noqa: BLE001 - re-raised by wait_until
                watch[3] = exc
                event.set()

    def pump_for(self, seconds: float) -> None:
        """Keep delivering posted work for `seconds` (a GUI between two keystrokes)."""
        deadline = time.perf_counter() + seconds
        while (remaining := deadline - time.perf_counter()) > 0:
            self.pump(remaining)

    # ---- from any other thread ------------------------------------------------------

    def call(self, fn: Callable[[], Any], timeout: float = 600.0) -> Any:
        """Run `fn()` on the owner thread and return its result."""
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def job() -> None:
            try:
                future.set_result(fn())
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                future.set_exception(exc)

        self._jobs.append(job)
        self.wake.set()
        return future.result(timeout)

    def wait_until(self, predicate: Callable[[], bool], timeout: float) -> float | None:
        """perf_counter() at the delivery after which `predicate()` (run on the owner
        thread) first held; None on timeout."""
        watch: list[Any] = [predicate, threading.Event(), None, None]
        self._watches.append(watch)
        self.wake.set()
        try:
            watch[1].wait(timeout)
        finally:
            self._watches.remove(watch)
        if watch[3] is not None:
            raise watch[3]
        return watch[2]

    def synced(self, notebook_id: str) -> bool:
        """Owner thread: the engine reports the notebook synced with nothing to send."""
        assert self.engine is not None
        status = self.engine.status().get(notebook_id)
        return status is not None and status.state == "synced" and status.pending == 0

    def close(self, timeout: float = 60.0) -> None:
        if self._thread is None:
            return
        self._closing = True
        self.wake.set()
        self._closed.wait(timeout)
        self._thread.join(timeout)
        self._thread = None


def share_notebook(owner: OwnerDevice, notebook_id: str, url: str) -> str:
    return owner.call(lambda: owner.engine.share(notebook_id, (url,)).link())


def join_notebook(device: OwnerDevice, link: str) -> str:
    return device.call(lambda: device.engine.join(parse_invite(link)))


def text_of(device: OwnerDevice, note_id: str) -> str | None:
    """Owner thread: the note's text, None while the note is unknown."""
    vault = device.vault
    assert vault is not None
    if vault.document_kind(note_id) is None:
        return None
    return vault.note_text(note_id)


# ================================================================= 1. floor


async def _echo_round_trips(url: str, count: int, size: int) -> list[float]:
    async with connect(url, compression=None, max_size=None) as ws:
        payload = os.urandom(size)
        for _ in range(20):  # warm up
            await ws.send(payload)
            await ws.recv()
        times = []
        for _ in range(count):
            t0 = time.perf_counter()
            await ws.send(payload)
            await ws.recv()
            times.append(time.perf_counter() - t0)
    return times


def measure_floor(tmp: Path, count: int, size: int) -> list[float]:
    server = ServerProcess("echo server", [sys.executable, "-c", ECHO_SERVER],
                           tmp / "echo.log").start()
    try:
        return asyncio.run(_echo_round_trips(server.url, count, size))
    finally:
        server.stop()


# ================================================================= 2. edit -> visible


TYPED = ("Plait keeps every note on your disk as a CRDT document, so edits made on two "
         "devices merge without conflicts. ")


def measure_edit_latency(tmp: Path, keystrokes: int, seed: int = 7) -> dict[str, Any]:
    relay = relay_process(tmp / "relay-edit")
    a = OwnerDevice(tmp / "edit-A", "Ada").open()
    b = OwnerDevice(tmp / "edit-B", "Bo").open()
    try:
        initial = "# Typing\n\n"

        def make() -> tuple[str, str]:
            nb = a.vault.create_notebook("Typing")
            return nb, a.vault.create_note(nb, initial)

        nb, note = a.call(make)
        join_notebook(b, share_notebook(a, nb, relay.url))
        if b.wait_until(lambda: text_of(b, note) == initial and b.synced(nb), 60) is None:
            raise RuntimeError("B never received the note")
        if a.wait_until(lambda: a.synced(nb), 60) is None:
            raise RuntimeError("A never settled")

        sent_at: list[float] = []
        seen_at: list[float] = []
        base = len(initial)

        def on_change(event) -> None:  # B's owner thread, as B's vault publishes
            if event.doc_id != note:
                return
            now = time.perf_counter()
            visible = len(b.vault.note_text(note)) - base
            while len(seen_at) < min(visible, len(sent_at)):
                seen_at.append(now)

        unsubscribe = b.call(lambda: b.vault.subscribe(on_change))
        rng = random.Random(seed)

        def type_on_a() -> None:
            vault = a.vault
            for i in range(keystrokes):
                sent_at.append(time.perf_counter())
                vault.edit(note, [TextOp(base + i, 0, TYPED[i % len(TYPED)])])
                a.pump_for(rng.uniform(0.05, 0.15))

        a.call(type_on_a)
        if b.wait_until(lambda: len(seen_at) >= keystrokes, 30) is None:
            raise RuntimeError(f"only {len(seen_at)} of {keystrokes} keystrokes reached B")
        b.call(unsubscribe)
        latencies = [seen - sent for sent, seen in zip(sent_at, seen_at)]
        expected = initial + "".join(TYPED[i % len(TYPED)] for i in range(keystrokes))
        assert b.call(lambda: text_of(b, note)) == expected, "B's text differs from A's"
        return {"latencies": latencies, "keystrokes": keystrokes}
    finally:
        b.close()
        a.close()
        relay.stop()



# ================================================================= 3. join 10,000 notes

WORDS = ("the of and to in is that for it as with was on be by this are from at or an have "
         "not which but they their we can will all one has more about also into when there "
         "sync relay note notebook device edit merge draft plan review meeting budget "
         "release design server client backup offline keyboard garden recipe travel "
         "chapter idea question answer résumé café naïve über façade").split()


def realistic_note(rng: random.Random) -> str:
    """A Markdown note of 50-2,000 characters (median about 400): a title, then
    paragraphs, lists, checklists, quotes, code and links."""
    target = int(min(2000, max(50, rng.lognormvariate(math.log(400), 0.8))))

    def sentence() -> str:
        words = [rng.choice(WORDS) for _ in range(rng.randint(4, 16))]
        return " ".join(words).capitalize() + rng.choice(".!?.")

    parts = ["# " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 5))).title(), ""]
    size = len(parts[0])
    while size < target:
        kind = rng.random()
        if kind < 0.45:
            block = " ".join(sentence() for _ in range(rng.randint(1, 4)))
        elif kind < 0.6:
            block = "\n".join(f"- {sentence()}" for _ in range(rng.randint(2, 5)))
        elif kind < 0.7:
            block = "\n".join(f"- [{rng.choice(' x')}] {sentence()}" for _ in range(rng.randint(2, 4)))
        elif kind < 0.78:
            block = f"## {sentence()[:-1]}"
        elif kind < 0.85:
            block = "> " + sentence()
        elif kind < 0.93:
            block = "```python\n" + "\n".join(
                f"{rng.choice(WORDS)} = {rng.randint(0, 999)}" for _ in range(rng.randint(1, 5))) + "\n```"
        else:
            block = f"See [{rng.choice(WORDS)}](https://example.org/{rng.choice(WORDS)}/{rng.randint(1, 99)}) and *{rng.choice(WORDS)}*."
        parts += [block, ""]
        size += len(block) + 2
    return "\n".join(parts)[:target].rstrip() + "\n"


async def _raw_download(url: str, notebook_id: str, token: str) -> tuple[int, int]:
    """A raw protocol client reads a whole notebook: (envelopes, bytes)."""
    async with await RelayClient.connect(url) as client:
        await client.hello()
        opened = await client.open(notebook_id, token)
        assert opened.type is FrameType.OPENED, opened
        count = size = 0
        while True:
            frame = await client.recv(timeout=120)
            if frame.type is FrameType.CAUGHT_UP:
                return count, size
            assert frame.type is FrameType.ENVELOPE, frame
            count += 1
            size += len(frame.body)


async def _raw_upload(url: str, bodies: list[bytes], window: int = 64) -> None:
    """A raw protocol client PUTs `bodies` into a fresh notebook, `window` in flight,
    until every one is acknowledged."""
    notebook, token = new_notebook()
    async with await RelayClient.connect(url) as client:
        await client.hello()
        opened = await client.open(notebook, token)
        assert opened.type is FrameType.OPENED, opened
        await client.catch_up(notebook)
        slots = asyncio.Semaphore(window)
        acked = 0
        all_acked = asyncio.Event()

        async def read() -> None:
            nonlocal acked
            async for message in client.ws:
                frame = decode(message)
                assert frame.type is FrameType.ACK, frame
                acked += 1
                slots.release()
                if acked == len(bodies):
                    all_acked.set()
                    return

        reader = asyncio.create_task(read())
        for req, body in enumerate(bodies, 1):
            await slots.acquire()
            await client.send(FrameType.PUT, {"req": req, "notebook": notebook,
                                              "id": envelope_id(body)}, body)
        await asyncio.wait_for(all_acked.wait(), 600)
        await reader


def relay_bodies(data_dir: Path, notebook_id: str) -> list[bytes]:
    db = sqlite3.connect(f"file:{data_dir / RELAY_DB}?mode=ro", uri=True)
    try:
        return [row[0] for row in db.execute(
            "SELECT body FROM envelopes WHERE notebook = ? ORDER BY seq", (notebook_id,))]
    finally:
        db.close()


def measure_join(tmp: Path, notes: int, seed: int = 11, relay_args: tuple[str, ...] = ()) -> dict[str, Any]:
    relay_dir = tmp / "relay-join"
    relay = relay_process(relay_dir, 0, *relay_args)
    # A has no search index: filling it with 10,000 notes is only the setup here.
    a = OwnerDevice(tmp / "join-A", "Ada", search=False).open()
    b: OwnerDevice | None = None
    out: dict[str, Any] = {"notes": notes, "relay_args": relay_args}
    try:
        rng = random.Random(seed)
        bodies = [realistic_note(rng) for _ in range(notes)]

        def fill() -> tuple[str, dict[str, str]]:
            vault = a.vault
            nb = vault.create_notebook("Archive")
            ids = [vault.create_note(nb, body) for body in bodies]
            vault.flush(timeout=None)
            return nb, {note_id: vault.note_text(note_id) for note_id in ids}

        t0 = time.perf_counter()
        nb, expected = a.call(fill)
        out["create_s"] = time.perf_counter() - t0
        out["text_bytes"] = sum(len(t.encode()) for t in expected.values())

        # A shares: every note and the catalog go out as one envelope each.
        t0 = time.perf_counter()
        link = share_notebook(a, nb, relay.url)
        engine = a.engine
        state_db = a.path / "sync.sqlite3"

        def uploaded() -> bool:
            if not (a.synced(nb) and engine._handled >= engine._calls):  # as sync_once checks
                return False
            db = sqlite3.connect(f"file:{state_db}?mode=ro", uri=True)
            try:  # every document outboxed (and, being synced, acknowledged)
                sent = db.execute("SELECT COUNT(*) FROM sent_state WHERE notebook_id = ?",
                                  (nb,)).fetchone()[0]
            finally:
                db.close()
            return sent >= notes + 1

        done = a.wait_until(uploaded, 3600)
        if done is None:
            raise RuntimeError("A's share never finished uploading")
        out["share_s"] = done - t0
        out["envelopes"], out["wire_bytes"] = relay_envelopes(relay_dir, nb)

        token = a.call(lambda: a.engine.key_for_sharing(nb).token_text())
        states = a.call(lambda: [a.vault.encode_state(n) for n in expected])
        a.close()  # B joins from the relay alone; A's threads stay out of the way

        # B joins: time until every note has its text and the catalog lists them all.
        b = OwnerDevice(tmp / "join-B", "Bo").open()
        complete: set[str] = set()

        def on_change(event) -> None:
            doc = event.doc_id
            if doc in expected and doc not in complete and b.vault.note_text(doc) == expected[doc]:
                complete.add(doc)

        b.call(lambda: b.vault.subscribe(on_change))

        def joined() -> bool:
            vault = b.vault
            return (len(complete) == notes and vault.document_kind(nb) is not None
                    and vault.notebook(nb).name == "Archive"
                    and set(vault.notes_in(nb)) == set(expected))

        t0 = time.perf_counter()
        b.stalls.clear()
        b.upkeeps.clear()
        join_notebook(b, link)
        done = b.wait_until(joined, 3600)
        if done is None:
            raise RuntimeError(f"B has {len(complete)} of {notes} notes")
        out["join_s"] = done - t0
        b.call(lambda: b.vault.refresh_index())
        listed = b.call(lambda: len(b.vault.list_notes(nb)))
        out["join_listed_s"] = time.perf_counter() - t0
        assert listed == notes, (listed, notes)
        done = b.wait_until(lambda: b.synced(nb), 600)
        out["join_synced_s"] = (done - t0) if done else math.nan
        out["join_stall_s"] = max(b.stalls, default=0.0)
        out["join_upkeep_s"] = max(b.upkeeps, default=0.0)

        # Baselines: a raw client downloading the same envelopes; raw pycrdt merging
        # the same note states into fresh documents.
        t0 = time.perf_counter()
        b.close()
        out["b_close_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        count, _ = asyncio.run(_raw_download(relay.url, nb, token))
        out["raw_download_s"] = time.perf_counter() - t0
        out["raw_download_envelopes"] = count  # B's own membership update is one more
        t0 = time.perf_counter()
        for state in states:
            doc: Doc = Doc()
            doc.apply_update(state)
            str(doc.get("body", type=Text))
        out["raw_apply_s"] = time.perf_counter() - t0
        out["state_bytes"] = sum(len(s) for s in states)
        bodies = relay_bodies(relay_dir, nb)[:out["envelopes"]]
        t0 = time.perf_counter()
        asyncio.run(_raw_upload(relay.url, bodies))
        out["raw_upload_s"] = time.perf_counter() - t0
        return out
    finally:
        if b is not None:
            b.close()
        a.close()
        relay.stop()



def uploaded(device: OwnerDevice, notebook_id: str) -> bool:
    """Owner thread: every local change was handed to the engine's loop (the check
    `sync_once` makes), and the notebook is synced with nothing left to send."""
    engine = device.engine
    assert engine is not None
    return engine._handled >= engine._calls and device.synced(notebook_id)


# ================================================================= 4. catch-up


def measure_catchup(tmp: Path, limit: int | None, relay_down: bool = False) -> dict[str, Any]:
    """B is offline (or the relay is down) while A types the trace into one note;
    then B comes back and catches up."""
    trace = load_trace()
    txns = [[TextOp(p[0], p[1], p[2]) for p in t["patches"]] for t in trace["txns"]][:limit]
    relay_dir = tmp / "relay-catchup"
    relay = relay_process(relay_dir)
    a = OwnerDevice(tmp / "catchup-A", "Ada").open()
    b = OwnerDevice(tmp / "catchup-B", "Bo").open()
    b2: OwnerDevice | None = None
    out: dict[str, Any] = {"txns": len(txns), "relay_down": relay_down}
    try:
        def make() -> tuple[str, str]:
            nb = a.vault.create_notebook("Paper")
            return nb, a.vault.create_note(nb, "")

        nb, note = a.call(make)
        join_notebook(b, share_notebook(a, nb, relay.url))
        if b.wait_until(lambda: text_of(b, note) == "" and b.synced(nb), 60) is None:
            raise RuntimeError("B never received the note")
        if a.wait_until(lambda: uploaded(a, nb), 60) is None:
            raise RuntimeError("A never settled")
        b.wait_until(lambda: b.vault.durable_ticket >= b.vault.last_ticket, 60)
        if b.wait_until(lambda: b.synced(nb), 60) is None:
            raise RuntimeError("B never settled")
        cursor = b.call(lambda: b.engine.received_upto(relay.url, nb))
        b.close()  # B goes offline
        if relay_down:
            relay.stop()
            if a.wait_until(lambda: a.engine.status()[nb].state == "offline", 60) is None:
                raise RuntimeError("A never noticed the relay going down")

        def type_trace() -> float:
            vault = a.vault
            t0 = time.perf_counter()
            for i, ops in enumerate(txns):
                vault.edit(note, ops)
                if i % 500 == 499:
                    a.pump(0)  # the GUI's event loop runs between keystrokes
            return time.perf_counter() - t0

        out["typing_s"] = a.call(type_trace, timeout=3600)
        typed = time.perf_counter()
        if relay_down:
            relay = relay_process(relay_dir, relay.port)
        done = a.wait_until(lambda: uploaded(a, nb), 3600)
        if done is None:
            raise RuntimeError("A never finished uploading the trace")
        out["drain_s"] = done - typed
        final = a.call(lambda: a.vault.note_text(note))
        if limit is None:
            assert final == trace["endContent"], "A's text is not the trace's"
        state = a.call(lambda: a.vault.encode_state(note))
        out["final_chars"] = len(final)
        out["state_bytes"] = len(state)
        out["envelopes"], out["wire_bytes"] = relay_envelopes(relay_dir, nb, cursor)
        key = a.call(lambda: a.engine.key_for_sharing(nb))
        updates = [open_envelope(key, nb, body, expect="update").update
                   for body in relay_bodies(relay_dir, nb)[cursor:]]
        a.close()

        # B comes back: open its vault and engine, wait for A's text.
        t0 = time.perf_counter()
        b2 = OwnerDevice(tmp / "catchup-B", "Bo", keyring=b.keyring).open()
        done = b2.wait_until(lambda: text_of(b2, note) == final, 3600)
        if done is None:
            raise RuntimeError("B never caught up")
        out["catchup_s"] = done - t0
        out["catchup_stall_s"] = max(b2.stalls, default=0.0)
        out["catchup_upkeep_s"] = max(b2.upkeeps, default=0.0)
        b2.close()

        # Baselines: raw pycrdt decoding A's final state into a fresh Doc; the same
        # keystrokes typed into a vault without sync.
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            doc: Doc = Doc()
            doc.apply_update(state)
            text = str(doc.get("body", type=Text))
            times.append(time.perf_counter() - t0)
        assert text == final
        out["raw_apply_s"] = statistics.median(times)
        t0 = time.perf_counter()
        doc = Doc(skip_gc=True)
        for update in updates:  # what B merged, in the order the relay sent it
            doc.apply_update(update)
        text = str(doc.get("body", type=Text))
        out["raw_envelopes_s"] = time.perf_counter() - t0
        with Vault(tmp / "catchup-plain") as plain:
            plain_note = plain.create_note(plain.create_notebook("Paper"))
            t0 = time.perf_counter()
            for ops in txns:
                plain.edit(plain_note, ops)
            out["plain_typing_s"] = time.perf_counter() - t0
        return out
    finally:
        if b2 is not None:
            b2.close()
        b.close()
        a.close()
        relay.stop()


# ================================================================= extra: reconnect


def measure_reconnect(tmp: Path, keystrokes: int = 1000,
                      relay_args: tuple[str, ...] = ()) -> dict[str, Any]:
    """Not in the table (development aid, `--parts reconnect`): A types at a human pace
    (35 ms apart, so about one envelope each) while the relay is down; then the relay
    comes back. How long until A's outbox is drained and B has every keystroke, and
    how often the relay cut A off meanwhile (`counted_logs`)."""
    relay_dir = tmp / "relay-reconnect"
    relay = relay_process(relay_dir)
    a = OwnerDevice(tmp / "reconnect-A", "Ada").open()
    b = OwnerDevice(tmp / "reconnect-B", "Bo").open()
    try:
        def make() -> tuple[str, str]:
            nb = a.vault.create_notebook("Offline")
            return nb, a.vault.create_note(nb, "")

        nb, note = a.call(make)
        join_notebook(b, share_notebook(a, nb, relay.url))
        if b.wait_until(lambda: text_of(b, note) == "" and b.synced(nb), 60) is None:
            raise RuntimeError("B never received the note")
        relay.stop()
        if a.wait_until(lambda: a.engine.status()[nb].state == "offline", 60) is None:
            raise RuntimeError("A never noticed the relay going down")

        def type_offline() -> int:
            for i in range(keystrokes):
                a.vault.edit(note, [TextOp(i, 0, "x")])
                a.pump_for(0.035)
            return a.engine.status()[nb].pending

        outbox = a.call(type_offline)
        relay = relay_process(relay_dir, relay.port, *relay_args)
        back = time.perf_counter()
        drained = a.wait_until(lambda: uploaded(a, nb), 900)
        received = b.wait_until(lambda: len(text_of(b, note) or "") == keystrokes, 900)
        return {"keystrokes": keystrokes, "outbox": outbox, "relay_args": relay_args,
                "drained_s": drained - back if drained else math.nan,
                "b_has_all_s": received - back if received else math.nan}
    finally:
        b.close()
        a.close()
        relay.stop()


# ================================================================= 5. relay load

FANOUT_SERVER = """
import asyncio
from websockets.asyncio.server import broadcast, serve

clients = set()

async def handler(ws):
    clients.add(ws)
    try:
        async for message in ws:
            broadcast([c for c in clients if c is not ws], message)
            await ws.send(message[:14])  # the 'ACK': the sender's own stamp
    finally:
        clients.discard(ws)

async def main():
    async with serve(handler, "127.0.0.1", 0, compression=None) as server:
        print("ws://127.0.0.1:%d" % server.sockets[0].getsockname()[1], flush=True)
        await asyncio.Future()

asyncio.run(main())
"""

STAMP = struct.Struct(">HIQ")  # sender, its counter, perf_counter_ns() when put


class LoadClient:
    """One raw client: PUTs `count` envelopes of `size` bytes at `rate` per second and
    reads everyone else's. With `relay=False` it speaks to the fan-out baseline
    server instead: bare stamped bodies, echoed stamps as ACKs."""

    def __init__(self, idx: int, url: str, notebook: str, token: str, *, count: int,
                 rate: float, size: int, relay: bool = True) -> None:
        self.idx, self.url, self.notebook, self.token = idx, url, notebook, token
        self.count, self.rate, self.size, self.relay = count, rate, size, relay
        self.client: RelayClient | None = None
        self.put_at: dict[int, int] = {}
        self.ack_ns: list[int] = []
        self.prop_ns: list[int] = []
        self.received: Counter[tuple[int, int]] = Counter()
        self.errors: list[str] = []
        self.late_s = 0.0  # how far the generator fell behind its schedule, at worst
        self.expected: int | None = None  # envelopes from the others, once known
        self.got = 0
        self.done = asyncio.Event()

    async def connect(self) -> None:
        self.client = await RelayClient.connect(self.url)
        if self.relay:
            await self.client.hello()
            opened = await self.client.open(self.notebook, self.token)
            assert opened.type is FrameType.OPENED, opened
            await self.client.catch_up(self.notebook)

    async def read(self) -> None:
        assert self.client is not None
        ws = self.client.ws
        own = self.idx
        try:
            async for message in ws:
                now = time.perf_counter_ns()
                if self.relay:
                    frame = decode(message)
                    if frame.type is FrameType.ENVELOPE:
                        body = frame.body
                    elif frame.type is FrameType.ACK:
                        self._acked(frame["req"] - 1, now)
                        continue
                    else:
                        self.errors.append(f"{frame.type.name} {frame.header}")
                        continue
                else:
                    body = message
                sender, k, stamp = STAMP.unpack_from(body)
                if sender == own:
                    if self.relay:
                        self.errors.append("own envelope echoed")
                    else:
                        self._acked(k, now)
                    continue
                self.prop_ns.append(now - stamp)
                self.received[(sender, k)] += 1
                self.got += 1
                self._check()
        except ConnectionClosed as exc:
            self.errors.append(f"connection closed: {exc}")
            self.done.set()

    def _acked(self, k: int, now: int) -> None:
        sent = self.put_at.pop(k, None)
        if sent is None:
            self.errors.append(f"unexpected ACK {k}")
        else:
            self.ack_ns.append(now - sent)
        self._check()

    def _check(self) -> None:
        if (self.expected is not None and len(self.ack_ns) >= self.count
                and self.got >= self.expected):
            self.done.set()

    async def write(self, start: float) -> None:
        assert self.client is not None
        ws = self.client.ws
        offset = self.idx / (self.rate * 20)  # spread the clients over the period
        padding = self.size - STAMP.size
        for k in range(self.count):
            target = start + offset + k / self.rate
            delay = target - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)  # pacing the load, not waiting for an outcome
            else:
                self.late_s = max(self.late_s, -delay)
            now = time.perf_counter_ns()
            body = STAMP.pack(self.idx, k, now) + os.urandom(padding)
            self.put_at[k] = now
            if self.relay:
                await ws.send(encode(FrameType.PUT, {"req": k + 1, "notebook": self.notebook,
                                                     "id": envelope_id(body)}, body))
            else:
                await ws.send(body)


async def _run_load(url: str, *, clients: int, rate: float, seconds: float, size: int,
                    relay: bool, server: ServerProcess) -> dict[str, Any]:
    notebook, token = new_notebook()
    count = max(1, int(rate * seconds))
    group = [LoadClient(i, url, notebook, token, count=count, rate=rate, size=size, relay=relay)
             for i in range(clients)]
    for client in group:  # one by one: the first OPEN registers the notebook
        await client.connect()
    readers = [asyncio.create_task(c.read()) for c in group]
    rss_idle = server.memory_kb()[0]
    cpu0, wall0, own0 = server.cpu_seconds(), time.perf_counter(), time.process_time()
    start = time.perf_counter() + 0.2
    await asyncio.gather(*(c.write(start) for c in group))
    total = count * clients
    for client in group:
        client.expected = total - count
        client._check()
    try:
        await asyncio.wait_for(asyncio.gather(*(c.done.wait() for c in group)), 60)
    except TimeoutError:
        pass
    cpu1, wall1, own1 = server.cpu_seconds(), time.perf_counter(), time.process_time()
    rss, hwm = server.memory_kb()
    for client in group:
        await client.client.close()
    for task in readers:
        task.cancel()
    await asyncio.gather(*readers, return_exceptions=True)

    lost = duplicates = 0
    problems: list[str] = []
    for client in group:
        wanted = {(c.idx, k) for c in group if c is not client for k in range(count)}
        got = client.received
        lost += len(wanted - set(got))
        duplicates += sum(n - 1 for n in got.values() if n > 1)
        lost += len(client.put_at)  # PUTs never acknowledged
        problems += client.errors
    return {
        "clients": clients, "rate": rate, "seconds": seconds, "count": count, "size": size,
        "prop": [ns / 1e9 for c in group for ns in c.prop_ns],
        "ack": [ns / 1e9 for c in group for ns in c.ack_ns],
        "cpu_pct": 100 * (cpu1 - cpu0) / (wall1 - wall0),
        "client_cpu_pct": 100 * (own1 - own0) / (wall1 - wall0),
        "rss_kb": rss, "hwm_kb": hwm, "rss_idle_kb": rss_idle,
        "lost": lost, "duplicates": duplicates, "problems": problems[:5],
        "n_problems": len(problems), "late_s": max(c.late_s for c in group),
        "delivered": sum(sum(c.received.values()) for c in group),
    }


def measure_load(tmp: Path, *, clients: int, rate: float, seconds: float,
                 size: int) -> dict[str, Any]:
    relay = relay_process(tmp / "relay-load")
    try:
        result = asyncio.run(_run_load(relay.url, clients=clients, rate=rate, seconds=seconds,
                                       size=size, relay=True, server=relay))
    finally:
        relay.stop()
    fanout = ServerProcess("fan-out server", [sys.executable, "-c", FANOUT_SERVER],
                           tmp / "fanout.log").start()
    try:
        result["baseline"] = asyncio.run(_run_load(
            fanout.url, clients=clients, rate=rate, seconds=min(seconds, BASELINE_LOAD_SECONDS),
            size=size, relay=False, server=fanout))
    finally:
        fanout.stop()
    return result



# ================================================================= the table


def sizes(limit: int | None, load_seconds: float | None) -> dict[str, Any]:
    chosen = dict(FULL)
    if limit is not None:
        for key in ("echo", "keystrokes", "notes"):
            chosen[key] = max(1, min(chosen[key], limit))
        chosen["echo"] = max(chosen["echo"], 50)
    chosen["txns"] = limit  # None: the whole trace
    chosen["load_seconds"] = (load_seconds if load_seconds is not None
                              else QUICK_LOAD_SECONDS if limit is not None else FULL["load_seconds"])
    return chosen


def triple(values: list[float]) -> str:
    return f"{ms(pct(values, 50))} / {ms(pct(values, 95))} / {ms(max(values))}"


def run(limit: int | None = None, load_seconds: float | None = None,
        parts: tuple[str, ...] = PARTS, join_relay_args: tuple[str, ...] = ("--rate-frames", "0"),
        ) -> tuple[list[tuple[str, str, str, str]], list[str]]:
    n = sizes(limit, load_seconds)
    rows: list[tuple[str, str, str, str]] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="plait-bench-sync-") as tmp_name, \
            counted_logs() as logs:
        tmp = Path(tmp_name)
        floor = measure_floor(tmp, n["echo"], n["envelope_bytes"])
        f50, f95 = pct(floor, 50), pct(floor, 95)
        rows.append((f"floor: websocket echo round trip, {n['envelope_bytes']} B,"
                     " p50 / p95 (ms)", "", f"{ms(f50)} / {ms(f95)}", ""))

        if "edit" in parts:
            edit = measure_edit_latency(tmp, n["keystrokes"])
            lat = edit["latencies"]
            e50, e95 = pct(lat, 50), pct(lat, 95)
            rows.append(("edit on A -> visible on B, p50 / p95 / max (ms)", triple(lat),
                         f"{ms(f50)} / {ms(f95)} / -",
                         f"{ratio(e50, f50)} / {ratio(e95, f95)}"))
            rows.append((f"  p95 target <= 100 ms; minus the {BATCH_DELAY * 1e3:.0f} ms"
                         " batch, p50 / p95 (ms)",
                         f"{'met' if e95 <= 0.1 else 'MISSED'}; {ms(e50 - BATCH_DELAY)} / "
                         f"{ms(e95 - BATCH_DELAY)}", "", ""))
            notes.append(f"edit: {edit['keystrokes']} single-character edits on A, 50-150 ms"
                         " apart; timed from A's Vault.edit call to the change event of B's vault"
                         " on B's owner thread.")

        if "join" in parts:
            join = measure_join(tmp, n["notes"], relay_args=join_relay_args)
            count = join["notes"]
            text_mb = join["text_bytes"] / 1e6
            wire_mb = join["wire_bytes"] / 1e6
            rows.append((f"join: A shares {count:,} notes, upload until synced (s)",
                         secs(join["share_s"]), secs(join["raw_upload_s"]),
                         ratio(join["share_s"], join["raw_upload_s"])))
            rows.append(("  envelopes/s uploaded", f"{join['envelopes'] / join['share_s']:.0f}",
                         f"{join['envelopes'] / join['raw_upload_s']:.0f}", ""))
            base = join["raw_download_s"] + join["raw_apply_s"]
            rows.append((f"join: B has all {count:,} notes + the catalog (s)",
                         secs(join["join_s"]), secs(base), ratio(join["join_s"], base)))
            rows.append(("  notes/s; MB/s of note text", f"{count / join['join_s']:.0f}; "
                         f"{text_mb / join['join_s']:.2f}", f"{count / base:.0f}; "
                         f"{text_mb / base:.2f}", ""))
            rows.append(("  B's note list shows them all (s)", secs(join["join_listed_s"]),
                         "", ""))
            rows.append(("  B reports the notebook synced (s)", secs(join["join_synced_s"]),
                         "", ""))
            rows.append(("  B's owner thread, longest apply / list upkeep (ms)",
                         f"{ms(join['join_stall_s'])} / {ms(join['join_upkeep_s'])}", "", ""))
            rows.append(("  B's vault close after the join (s)", secs(join["b_close_s"]), "",
                         ""))
            notes.append(
                f"join: {count:,} Markdown notes of 50-2,000 chars ({text_mb:.1f} MB of text), "
                f"{join['envelopes']:,} envelopes, {wire_mb:.1f} MB on the wire. A built the "
                f"notebook in {join['create_s']:.0f} s before sharing (not timed). Relay started "
                f"with {' '.join(join['relay_args']) or 'default limits'}. Upload baseline: a raw "
                "client PUTting the same envelope bytes, 64 in flight, to the same relay. Join "
                f"baseline: a raw client downloading them ({join['raw_download_s']:.2f} s) + raw "
                f"pycrdt merging the same note states into fresh Docs ({join['raw_apply_s']:.2f} s)."
                " Owner-thread rows: the longest single Vault.deliver_pending() (merging the"
                " envelope batches the engine posted) and the longest list upkeep"
                " (refresh_index, once a second as in the GUI); the GUI answers nothing meanwhile.")

        if "catchup" in parts:
            cu = measure_catchup(tmp, n["txns"])
            rows.append((f"catch-up: A types {cu['txns']:,} trace transactions (s)",
                         secs(cu["typing_s"]), secs(cu["plain_typing_s"]),
                         ratio(cu["typing_s"], cu["plain_typing_s"])))
            rows.append(("  A's upload done, after the last keystroke (s)", secs(cu["drain_s"]),
                         "", ""))
            rows.append(("catch-up: transferred, envelopes; KB", f"{cu['envelopes']:,}; "
                         f"{cu['wire_bytes'] / 1024:.0f}", f"1; {cu['state_bytes'] / 1024:.0f}",
                         ratio(cu["wire_bytes"], cu["state_bytes"])))
            rows.append(("catch-up: B back online -> A's text (s)", secs(cu["catchup_s"]),
                         secs(cu["raw_apply_s"]), ratio(cu["catchup_s"], cu["raw_apply_s"])))
            rows.append(("  raw pycrdt merging the same envelopes' updates (s)", "",
                         secs(cu["raw_envelopes_s"]), ratio(cu["catchup_s"], cu["raw_envelopes_s"])))
            rows.append(("  B's owner thread, longest apply / list upkeep (ms)",
                         f"{ms(cu['catchup_stall_s'])} / {ms(cu['catchup_upkeep_s'])}", "", ""))
            notes.append(
                f"catch-up: B offline while A typed the automerge-paper trace ({cu['final_chars']:,}"
                " chars) into one note; B's time runs from opening its vault and engine to its "
                "note equalling A's. Baselines: the same keystrokes into a vault without sync; "
                "the final state as one update; raw pycrdt applying it to a fresh Doc.")

        if "load" in parts:
            load = measure_load(tmp, clients=n["load_clients"], rate=n["load_rate"],
                                seconds=n["load_seconds"], size=n["envelope_bytes"])
            fan = load["baseline"]
            rows.append(("relay load: PUT -> ENVELOPE, p50 / p95 / max (ms)", triple(load["prop"]),
                         triple(fan["prop"]), ratio(pct(load["prop"], 95), pct(fan["prop"], 95))))
            rows.append(("relay load: ACK, p50 / p95 / max (ms)", triple(load["ack"]),
                         triple(fan["ack"]), ratio(pct(load["ack"], 95), pct(fan["ack"], 95))))
            rows.append(("relay load: server CPU (% of one core)", f"{load['cpu_pct']:.0f}",
                         f"{fan['cpu_pct']:.0f}", ratio(load["cpu_pct"], fan["cpu_pct"])))
            rows.append(("relay load: server RSS idle / end / peak (MB)",
                         f"{load['rss_idle_kb'] / 1024:.0f} / {load['rss_kb'] / 1024:.0f} / "
                         f"{load['hwm_kb'] / 1024:.0f}",
                         f"{fan['rss_idle_kb'] / 1024:.0f} / {fan['rss_kb'] / 1024:.0f} / "
                         f"{fan['hwm_kb'] / 1024:.0f}", ""))
            rows.append(("relay load: lost; duplicated; errors",
                         f"{load['lost']}; {load['duplicates']}; {load['n_problems']}",
                         f"{fan['lost']}; {fan['duplicates']}; {fan['n_problems']}", ""))
            notes.append(
                f"relay load: {load['clients']} raw clients on one notebook, each PUTting "
                f"{load['rate']:g} envelopes/s of {load['size']} B for {load['seconds']:g} s "
                f"({load['clients'] * load['count']:,} PUTs, {load['delivered']:,} deliveries); "
                "relay in its own process; CPU from /proc/<pid>/stat over the run. Baseline: the "
                "same clients through a trivial websockets fan-out server (broadcast, no storage), "
                f"for {load['baseline']['seconds']:g} s."
                f" Load generator: worst lateness {load['late_s'] * 1e3:.0f} ms, its own CPU "
                f"{load['client_cpu_pct']:.0f}% (bench process, all threads)."
                + (f" Problems: {load['problems']}" if load["problems"] else ""))
        if logs.seen:
            notes.append("engine warnings and relay disconnects logged during the run: " + "; ".join(
                f"{count} x {message[:160]}" for message, count in logs.seen.most_common(6)))
    return rows, notes


def main(limit: int | None = None,
         load_seconds: float | None = None) -> tuple[tuple[str, ...], list]:
    started = time.perf_counter()
    rows, notes = run(limit, load_seconds)
    print(f"\nSync benchmark: loopback (127.0.0.1), relay in its own process, "
          f"{os.cpu_count()} cores; {'--limit ' + str(limit) if limit else 'full size'}, "
          f"{time.perf_counter() - started:.0f} s")
    print_table(rows)
    print("baselines: the floor is a raw websockets echo round trip to a server in its own"
          " process; the edit and relay-load ratios compare p50 and p95 with it or with the"
          " fan-out server.")
    for note in notes:
        print("- " + note)
    return ("measure", "plait", "baseline", "ratio"), rows


def _profile_threads(out_dir: Path) -> None:
    """Development aid: cProfile every engine loop thread and owner thread into
    out_dir/<device>-<thread>.prof (pstats files)."""
    import cProfile

    out_dir.mkdir(parents=True, exist_ok=True)

    def wrap(fn: Callable[..., Any], label: Callable[[Any], str]) -> Callable[..., Any]:
        def run(self: Any, *args: Any) -> Any:
            profile = cProfile.Profile()
            profile.enable()
            try:
                return fn(self, *args)
            finally:
                profile.disable()
                profile.dump_stats(out_dir / f"{label(self)}-{time.monotonic_ns()}.prof")
        return run

    SyncEngine._run_loop = wrap(SyncEngine._run_loop, lambda e: f"loop-{e._author.name}")
    OwnerDevice._run = wrap(OwnerDevice._run, lambda d: f"owner-{d.name}")


def _dev_main() -> None:
    """One part at a time, with profiles: python -m tests.benchmarks.bench_sync --help."""
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.bench_sync")
    parser.add_argument("--parts", default=",".join(PARTS),
                        help=f"comma-separated, from {','.join(PARTS)} (the floor always runs)"
                             " and reconnect (offline typing, then the relay returns)")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--load-seconds", type=float, default=None)
    parser.add_argument("--join-relay-args", default="--rate-frames 0",
                        help="relay options for the join and reconnect parts ('' for the"
                             " relay's defaults)")
    parser.add_argument("--profile", type=Path, default=None,
                        help="cProfile the engines' loops and the owner threads into this dir")
    args = parser.parse_args()
    if args.profile:
        _profile_threads(args.profile)
    parts = tuple(args.parts.split(","))
    if "reconnect" in parts:
        with tempfile.TemporaryDirectory(prefix="plait-bench-sync-") as tmp, \
                counted_logs() as logs:
            print(measure_reconnect(Path(tmp), args.limit or 1000,
                                    tuple(args.join_relay_args.split())))
        for message, count in logs.seen.most_common(8):
            print(f"  {count} x {message[:160]}")
        parts = tuple(p for p in parts if p != "reconnect")
        if not parts:
            return
    rows, notes = run(args.limit, args.load_seconds, parts,
                      tuple(args.join_relay_args.split()))
    for row in rows:
        print(" | ".join(row))
    for note in notes:
        print("- " + note)


if __name__ == "__main__":
    _dev_main()
