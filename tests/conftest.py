"""Shared fixtures: real vault directories, real processes, and a two-vault sync helper."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from crdt_store.vault import Vault

from .keyring_fixtures import key_store, memory_keyring  # noqa: F401  (shared fixtures)
from .sync_helpers import devices  # noqa: F401  (shared fixture)

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ARTIFACTS = Path(__file__).parent / "artifacts"


@pytest.fixture
def vault_dir(tmp_path: Path) -> Path:
    return tmp_path / "vault"


@pytest.fixture
def vault(vault_dir: Path):
    v = Vault(vault_dir, display_name="Ada")
    yield v
    v.close()


def sync_once(source: Vault, target: Vault) -> int:
    """Send `target` everything `source` has that it lacks, document by document."""
    sent = 0
    for doc_id, kind in source.documents():
        missing = source.encode_state(doc_id, target.state_vector(doc_id))
        target.apply_remote_update(doc_id, kind, missing, author=source.author,
                                   wall_time=time.time())
        sent += 1
    return sent


def sync_both(a: Vault, b: Vault) -> None:
    sync_once(a, b)
    sync_once(b, a)


@pytest.fixture
def run_cli(vault_dir: Path):
    """Run the real `plait` CLI in a subprocess against the test vault."""

    def run(*args: str, stdin: str | bytes | None = None, check: bool = True):
        env = {**os.environ, "PLAIT_VAULT": str(vault_dir)}
        data = stdin.encode() if isinstance(stdin, str) else stdin
        proc = subprocess.run(
            [sys.executable, "-m", "app.cli", *args], input=data, capture_output=True,
            env=env, timeout=60,
        )
        result = subprocess.CompletedProcess(
            proc.args, proc.returncode, proc.stdout.decode(), proc.stderr.decode()
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"plait {' '.join(args)} failed: {result.stderr}")
        return result

    return run
