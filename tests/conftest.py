"""Shared fixtures: real vault directories, real processes, and a two-vault sync helper."""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from crdt_store.vault import Vault

from .keyring_fixtures import key_store, memory_keyring  # noqa: F401  (shared fixtures)
from .sync_helpers import devices  # noqa: F401  (shared fixture)

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Vaults record their write positions in the user's state folder
# (crdt_store/vault_registry.py): the tests' records go to a folder of their own.
_STATE_HOME = tempfile.mkdtemp(prefix="plait-test-state-")
os.environ["XDG_STATE_HOME"] = _STATE_HOME
atexit.register(shutil.rmtree, _STATE_HOME, ignore_errors=True)

ARTIFACTS = Path(__file__).parent / "artifacts"
_HARDENING_REPORT: list[str] = []


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--long", action="store_true", default=False,
                     help="run the hardening suites at full length (also PLAIT_LONG_TESTS=1)")


@pytest.fixture(scope="session")
def long_run(request: pytest.FixtureRequest) -> bool:
    """True under `--long` or PLAIT_LONG_TESTS=1: suites scale their runs up."""
    return bool(request.config.getoption("--long") or os.environ.get("PLAIT_LONG_TESTS") == "1")


@pytest.fixture
def hardening_report(request: pytest.FixtureRequest):
    """`hardening_report("faults: ...")`: a line for the summary at the end of the run
    (the counts the hardening suites resolve with: cases, faults, inputs fuzzed)."""
    def add(line: str) -> None:
        _HARDENING_REPORT.append(f"{request.node.name}: {line}")
    return add


def pytest_terminal_summary(terminalreporter) -> None:
    if _HARDENING_REPORT:
        terminalreporter.section("hardening counts")
        for line in _HARDENING_REPORT:
            terminalreporter.write_line(line)


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
