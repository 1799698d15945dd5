"""`plait-relay` as a real process: python -m crdt_store.sync.relay.server."""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from crdt_store.sync.frames import FrameType
from crdt_store.sync.relay.sqlite_store import SqliteRelayStore

from .relay_client import RelayClient, new_notebook, opaque, run

ROOT = Path(__file__).resolve().parent.parent
LISTENING = re.compile(r"plait-relay listening on (ws://127\.0\.0\.1:(\d+))")


class RelayProcess:
    def __init__(self, data: Path, *args: str) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "crdt_store.sync.relay.server", "--port", "0",
             "--data", str(data), *args],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.first_line = self._first_line(timeout=30)
        match = LISTENING.fullmatch(self.first_line.strip())
        self.url = match.group(1) if match else None

    def _first_line(self, timeout: float) -> str:
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            if not sel.select(timeout):
                self.proc.kill()
                raise AssertionError("the relay printed nothing")
        return self.proc.stdout.readline()

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> tuple[int, str]:
        self.proc.send_signal(sig)
        _, err = self.proc.communicate(timeout=30)
        return self.proc.returncode, err

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate(timeout=30)


@pytest.fixture
def processes():
    started: list[RelayProcess] = []

    def start(data: Path, *args: str) -> RelayProcess:
        started.append(RelayProcess(data, *args))
        return started[-1]

    yield start
    for process in started:
        process.kill()


async def put_all(url: str, notebook: str, token: str, bodies: list[bytes]) -> list[int]:
    async with await RelayClient.connect(url) as client:
        await client.hello()
        assert (await client.open(notebook, token)).type is FrameType.OPENED
        await client.catch_up(notebook)
        return [(await client.put(notebook, body))["seq"] for body in bodies]


async def catch_up(url: str, notebook: str, token: str) -> list[tuple[int, str, bytes]]:
    async with await RelayClient.connect(url) as client:
        await client.hello()
        await client.open(notebook, token)
        envelopes, _ = await client.catch_up(notebook)
        return [(f["seq"], f["id"], f.body) for f in envelopes]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_the_command_serves_then_stops_cleanly_on_a_signal(processes, tmp_path: Path,
                                                            sig: signal.Signals) -> None:
    relay = processes(tmp_path / "data")
    assert relay.url, relay.first_line
    notebook, token = new_notebook()
    sent = [opaque() for _ in range(3)]
    assert run(put_all(relay.url, notebook, token, [b for _, b in sent])) == [1, 2, 3]

    code, err = relay.stop(sig)
    assert code == 0, err
    assert f"shutting down ({sig.name})" in err and "store closed" in err
    assert "Traceback" not in err and token not in err

    async def stored() -> list:
        store = SqliteRelayStore.in_dir(tmp_path / "data")
        await store.open()
        try:
            return [(e.seq, e.id, e.body) for e in await store.fetch(notebook, 0)]
        finally:
            await store.close()
    assert run(stored()) == [(n, i, b) for n, (i, b) in enumerate(sent, start=1)]


def test_a_killed_relay_loses_nothing_it_acknowledged(processes, tmp_path: Path) -> None:
    data = tmp_path / "data"
    relay = processes(data)
    notebook, token = new_notebook()
    sent = [opaque(500) for _ in range(30)]
    acked = run(put_all(relay.url, notebook, token, [b for _, b in sent]))
    assert acked == list(range(1, 31))
    relay.proc.send_signal(signal.SIGKILL)
    relay.kill()
    assert relay.proc.returncode == -signal.SIGKILL

    again = processes(data)
    assert again.url, again.first_line
    assert run(catch_up(again.url, notebook, token)) == \
        [(n, i, b) for n, (i, b) in enumerate(sent, start=1)]


def test_the_command_refuses_what_it_cannot_do(processes, tmp_path: Path) -> None:
    relay = processes(tmp_path / "data")
    assert relay.url
    port = LISTENING.fullmatch(relay.first_line.strip()).group(2)

    same_data = processes(tmp_path / "data")
    assert same_data.url is None
    assert same_data.proc.wait(30) == 1
    assert "in use by another relay" in same_data.proc.stderr.read()

    same_port = processes(tmp_path / "other", "--port", port)
    assert same_port.url is None and same_port.proc.wait(30) == 1
    assert "cannot start" in same_port.proc.stderr.read()

    bad_limits = processes(tmp_path / "other", "--max-frame", "1M", "--max-envelope", "2M")
    assert bad_limits.url is None and bad_limits.proc.wait(30) == 2
    assert "max_envelope" in bad_limits.proc.stderr.read()

    code, err = relay.stop()
    assert code == 0, err
