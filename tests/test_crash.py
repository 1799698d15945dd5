"""kill -9 a writer at random moments: every edit reported durable must survive.

A writer process (tests/helpers/crash_writer.py) is killed again and again on the
same vault: at random moments while it types, in the middle of a compaction, and in
the middle of a search index commit. After each kill the vault is opened again and
must hold every edit the store had reported durable (and no delete reported durable
may come undone), pass SQLite's integrity check, and have a note list and a search
index that agree with the notes (tests/invariants.py).

The relay runs as a process of its own (`python -m crdt_store.sync.relay.server`)
and is killed while it broadcasts a burst of envelopes from one device to two
others, then started again on the same data directory and port; everyone edits
while it is down, and afterwards the devices must converge with nothing lost.

Default: 20 kills of the writer while typing, 3 during compaction, 3 during index
commits, 3 of the relay; `--long`: 25 of each kind of writer kill, 15 of the relay.
"""

from __future__ import annotations

import queue
import random
import re
import selectors
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from crdt_store.events import DocKind
from crdt_store.note_index import summarize
from crdt_store.storage import DB_NAME
from crdt_store.sync import relay_link
from crdt_store.sync.invite import parse_invite
from crdt_store.sync.relay.sqlite_store import DB_NAME as RELAY_DB
from crdt_store.vault import Vault

from .invariants import (MARKER, MarkerLog, check_marker_counts, check_nothing_lost,
                         check_search_agrees, integrity_ok, wait_converged)

ROUNDS = 20


def _run_until_killed(vault_dir, label: str, kill_after: int) -> list[str]:
    """Start the writer, read until `kill_after` durable markers, kill -9 it."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.helpers.crash_writer", str(vault_dir), label],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8",
    )
    durable: list[str] = []
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("ready"), proc.stderr.read() if proc.stderr else first
        while len(durable) < kill_after:
            line = proc.stdout.readline()
            assert line, f"writer exited early: {proc.stderr.read() if proc.stderr else ''}"
            durable.append(line.split(" ", 1)[1].rstrip("\n"))
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    return durable


def test_durable_edits_survive_repeated_kill_9(tmp_path) -> None:
    vault_dir = tmp_path / "vault"
    rng = random.Random(20261121)
    reported: list[str] = []
    for round_no in range(ROUNDS):
        reported += _run_until_killed(vault_dir, f"r{round_no}", rng.randint(0, 600))
        with sqlite3.connect(vault_dir / DB_NAME) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    with Vault(vault_dir) as vault:
        text = "".join(vault.note_text(n.note_id) for n in vault.list_notes())
        assert vault.notices == []
    found = re.findall(r"<r\d+-\d+[^>]*>", text)
    assert len(found) == len(set(found)), "a marker was stored twice"
    missing = [m for m in reported if m not in set(found)]
    assert missing == [], f"{len(missing)} durable edits were lost, e.g. {missing[:3]}"
    assert len(reported) > ROUNDS


# -- kill -9 during compaction and during search index commits ------------------------

TRIGGER = {"compaction": ("compacting", "compacted"), "index": ("indexing", "indexed")}
NOT_A_LOSS = "The search index"  # notices that only say the index is being rebuilt


def _tag(round_no: int) -> str:
    """A marker tag per round: c, then ca, cb, ... (letters only)."""
    letters = ""
    n = round_no
    while True:
        letters = "abcdefghijklmnopqrstuvwxyz"[n % 26] + letters
        n //= 26
        if n == 0:
            return "c" + letters


def _kill_during(vault_dir, mode: str, tag: str, nth: int, log: MarkerLog) -> bool:
    """Run the writer until its `nth` compaction (or index commit) starts, kill -9 it
    there, and take what it said into `log`. True when the kill landed before that
    compaction (commit) finished."""
    start, end = TRIGGER[mode]
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.helpers.crash_writer", str(vault_dir), tag, mode],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8",
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        for line in proc.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    seen, armed, killed, inside = 0, False, False, False
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            if armed and _half_written_segment(vault_dir):
                proc.send_signal(signal.SIGKILL)  # whoosh is writing the new segment
                armed, killed, inside = False, True, True
            try:
                line = lines.get(timeout=0.002 if armed else 60)
            except queue.Empty:
                continue
            if line is None:
                break
            if not killed and line == start:
                seen += 1
                if seen == nth and mode == "compaction":
                    proc.send_signal(signal.SIGKILL)  # the compaction is under way
                    killed, inside = True, True
                elif seen == nth:
                    armed = True  # kill once the commit writes its segment
                continue
            if line == end and (armed or killed):
                if armed:
                    proc.send_signal(signal.SIGKILL)
                    armed, killed = False, True
                inside = False  # it finished before the signal arrived
            _take(line, log)
        assert killed, f"the writer stopped early: {proc.stderr.read()}"
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        reader.join(timeout=30)
    return inside


def _half_written_segment(vault_dir) -> bool:
    """Is whoosh writing a segment that no table of contents names yet (its postings
    and terms files, or its temporary file)?"""
    try:
        return any(p.suffix in (".tmp", ".pst", ".trm") for p in (vault_dir / "search").iterdir())
    except OSError:
        return False


def _take(line: str, log: MarkerLog) -> None:
    kind, _, marker = line.partition(" ")
    if kind == "w":
        log.written_elsewhere(marker, "writer", durable=False)
    elif kind == "d":
        log.written[marker].durable = True
    elif kind == "x":
        log.deleted_by("writer", 0, [marker])
    elif kind == "dx":
        log.deleted[marker].durable = True


def check_note_list(vault: Vault, texts: dict[str, str]) -> None:
    """The note list (its rows on disk) agrees with the notes' texts and catalogs."""
    vault.flush()
    listed = {s.note_id: s for s in vault.list_notes() + vault.list_notes(trashed=True)}
    assert set(listed) == set(texts), "the note list and the notes differ"
    for note_id, text in texts.items():
        row = listed[note_id]
        want = summarize(note_id, text, *vault.placement(note_id), row.modified)
        assert (row.title, row.snippet, row.tags, row.chars, row.trashed, row.notebook_id) == (
            want.title, want.snippet, want.tags, want.chars, want.trashed, want.notebook_id), (
            note_id)


def check_reopened(vault_dir, log: MarkerLog, rng: random.Random) -> dict[str, int]:
    """Open the vault a writer was killed in: nothing reported durable is lost, the
    database is sound, and the note list and the search index agree with the notes."""
    db = vault_dir / DB_NAME
    assert integrity_ok(db) == "ok"
    with Vault(vault_dir) as vault:
        problems = [n.message for n in vault.notices if not n.message.startswith(NOT_A_LOSS)]
        assert problems == []
        rebuilt = len(vault.notices) - len(problems)
        texts = {d: vault.note_text(d) for d, kind in vault.documents() if kind is DocKind.NOTE}
        counts = check_marker_counts("\n".join(texts.values()), log)
        check_note_list(vault, texts)
        present = sorted(set(MARKER.findall("\n".join(texts.values()))))
        words = rng.sample(present, min(len(present), 15))
        words += rng.sample(sorted(log.deleted), min(len(log.deleted), 5))
        searched = check_search_agrees(vault, texts, words)
    assert integrity_ok(db) == "ok"
    return {**counts, "searched": searched, "index rebuilt": rebuilt}


@pytest.mark.parametrize("mode", ["compaction", "index"])
def test_kill_9_during_compaction_and_index_commits_loses_nothing(tmp_path, mode, long_run,
                                                                   hardening_report) -> None:
    vault_dir = tmp_path / "vault"
    rng = random.Random(f"{mode}-20261122")
    log = MarkerLog()
    rounds = 25 if long_run else 3
    inside = rebuilt = 0
    for round_no in range(rounds):
        inside += _kill_during(vault_dir, mode, _tag(round_no), rng.randint(1, 2), log)
        counts = check_reopened(vault_dir, log, rng)
        rebuilt += counts["index rebuilt"]
    durable = sum(r.durable for r in log.written.values())
    assert durable > rounds * 10
    hardening_report(f"{rounds} kills during {mode} ({inside} before it finished"
                     f"{', with a half-written segment' if mode == 'index' else ''}); "
                     f"{durable} durable markers of {len(log.written)} written, "
                     f"{len(log.deleted)} deleted; {counts['present']} present at the end; "
                     f"search index rebuilt after {rebuilt} kills")


# -- kill -9 of the relay mid-broadcast, and a restart on the same data --------------------

LISTENING = re.compile(r"plait-relay listening on ws://127\.0\.0\.1:(\d+)")


class RelayProcess:
    """`python -m crdt_store.sync.relay.server` in a process of its own, which the test
    kills with SIGKILL and starts again on the same data directory and port."""

    def __init__(self, data: Path) -> None:
        self.data = data
        self.port = 0
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "crdt_store.sync.relay.server", "--port", str(self.port),
             "--data", str(self.data), "--log-level", "WARNING"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            assert sel.select(30), "the relay printed nothing"
        line = self.proc.stdout.readline()
        match = LISTENING.search(line)
        assert match, (line, self.proc.stderr.read() if self.proc.poll() is not None else "")
        self.port = int(match.group(1))

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.communicate(timeout=30)
            self.proc = None


@pytest.fixture
def relay_process(tmp_path):
    relay = RelayProcess(tmp_path / "relay-data")
    relay.start()
    yield relay
    relay.kill()


@pytest.fixture
def quick_reconnects(monkeypatch: pytest.MonkeyPatch) -> None:
    """Clients find the restarted relay within a tenth of a second (their backoff
    would grow to a minute while it is down)."""
    monkeypatch.setattr(relay_link, "MIN_BACKOFF", 0.05)
    monkeypatch.setattr(relay_link, "MAX_BACKOFF", 0.5)


def _markers_of(device, log: MarkerLog, burst: list[str]) -> int:
    text = "\n".join(device.vault.note_text(n.note_id) for n in device.vault.list_notes())
    return sum(marker in text for marker in burst)


def test_kill_9_of_the_relay_mid_broadcast_loses_nothing(devices, relay_process, long_run,
                                                         quick_reconnects, hardening_report):
    rounds = 15 if long_run else 3
    rng = random.Random(20261122)
    log = MarkerLog()
    group = [devices.add(name) for name in ("Ada", "Bo", "Cy")]
    notebook = group[0].vault.create_notebook("Relay crash")
    notes = [group[0].vault.create_note(notebook, f"# Note {i}\n") for i in range(3)]
    link = group[0].engine.share(notebook, (relay_process.url,)).link()
    for device in group[1:]:
        device.engine.join(parse_invite(link))
    assert devices.pump_until(lambda: all(d.vault.document_kind(n) is not None
                                          and d.vault.notebook_of(n) for d in group
                                          for n in notes), timeout=30)
    devices.settle()
    relay_db = relay_process.data / RELAY_DB
    stats = Counter()
    for _round in range(rounds):
        # One device writes a burst, one envelope per marker; the relay is killed once
        # another device has some of them, not all: in the middle of broadcasting them.
        writer = rng.choice(group)
        others = [d for d in group if d is not writer]
        burst: list[str] = []
        kill_at = rng.randint(1, 8)
        for _ in range(10):
            sealed = writer.engine.debug_state()["counter"]
            edited = rng.sample(notes, rng.randint(1, 3))  # an envelope for each note
            burst += [log.insert(writer.name, writer.vault, note, rng) for note in edited]
            assert devices.pump_until(
                lambda: writer.engine.debug_state()["counter"] >= sealed + len(edited),
                timeout=10)
            if relay_process.proc is not None and max(
                    _markers_of(d, log, burst) for d in others) >= kill_at:
                relay_process.kill()
                stats["kills"] += 1
                stats["markers in flight at the kill"] += len(burst) - min(
                    _markers_of(d, log, burst) for d in others)
        if relay_process.proc is not None:  # the others were slow: kill it now
            relay_process.kill()
            stats["kills"] += 1
        assert integrity_ok(relay_db) == "ok"
        for device in group:  # everyone writes while the relay is down
            for _ in range(rng.randint(1, 5)):
                log.insert(device.name, device.vault, rng.choice(notes), rng)
            log.delete(device.name, device.vault, rng.choice(notes), rng)
        relay_process.start()
        wait_converged(devices, timeout=60)
        for device in group:
            device.vault.flush()
            log.record_durable(device.name, device.vault)
        counts = check_nothing_lost([d.vault for d in group], log, rng=rng)
        stats["heals checked"] += 1
    assert counts["present"] > rounds * 10
    hardening_report(f"{stats['kills']} kills of the relay mid-broadcast, "
                     f"{stats['markers in flight at the kill']} markers not yet everywhere "
                     f"when it died; {counts['present']} markers present, {counts['deleted']} "
                     f"deleted; {stats['heals checked']} heals checked")
