"""kill -9 a writer at random moments: every edit reported durable must survive."""

from __future__ import annotations

import random
import re
import signal
import sqlite3
import subprocess
import sys

from crdt_store.storage import DB_NAME
from crdt_store.vault import Vault

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
