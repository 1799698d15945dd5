"""`plait share`, `join`, `sync` and `members` as real subprocesses against a real relay.

A subprocess cannot use the tests' in-memory keyring, so these use the documented
opt-in key file (PLAIT_FILE_KEYRING), and check it is never used without it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

pytest_plugins = ["tests.relay_fixtures"]


def plait(vault: Path, *args: str, keys: Path | None, stdin: str | None = None,
          timeout: float = 120) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PLAIT_FILE_KEYRING", "DBUS_SESSION_BUS_ADDRESS")}
    env["PLAIT_VAULT"] = str(vault)
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"  # never the real one
    if keys is not None:
        env["PLAIT_FILE_KEYRING"] = str(keys)
    return subprocess.run([sys.executable, "-m", "app.cli", *args], input=stdin,
                          capture_output=True, text=True, env=env, timeout=timeout, check=False)


def test_share_join_sync_and_members_from_the_command_line(tmp_path, relay):
    a, b = tmp_path / "a", tmp_path / "b"
    a_keys, b_keys = tmp_path / "a-keys.json", tmp_path / "b-keys.json"
    made = plait(a, "new", "--notebook", "Garden", keys=None, stdin="# Tomatoes\nwater daily 🍅\n")
    assert made.returncode == 0, made.stderr
    note = made.stdout.strip()

    shared = plait(a, "share", "Garden", "--relay", relay.url, keys=a_keys)
    assert shared.returncode == 0, shared.stderr
    link, code = shared.stdout.splitlines()[:2]
    assert link.startswith("plait://join?") and code.startswith("Code: PLAIT1-")
    assert "UNENCRYPTED" in shared.stderr  # the opt-in key file is never silent
    assert "send it privately" in shared.stderr
    assert oct(a_keys.stat().st_mode & 0o777) == "0o600"

    joined = plait(b, "join", code.removeprefix("Code: "), keys=b_keys)
    assert joined.returncode == 0, joined.stderr
    assert "Joined “Garden”: 1 notes." in joined.stdout
    shown = plait(b, "show", note, keys=None)
    assert shown.stdout == "# Tomatoes\nwater daily 🍅\n"

    edited = plait(b, "edit", note, "--append", keys=None, stdin="and basil\n")
    assert edited.returncode == 0, edited.stderr
    assert plait(b, "sync", "--once", keys=b_keys).returncode == 0
    synced = plait(a, "sync", "--once", keys=a_keys)
    assert synced.returncode == 0, synced.stderr
    assert plait(a, "show", note, keys=None).stdout.endswith("and basil\n")

    members = plait(a, "members", "Garden", keys=None)
    assert members.returncode == 0, members.stderr
    names = members.stdout
    assert "(this device)" in names and relay.url in names
    assert len([line for line in names.splitlines() if "device" in line]) == 2


def test_sync_reports_an_unreachable_relay_and_exits_non_zero(tmp_path, relay):
    a = tmp_path / "a"
    keys = tmp_path / "keys.json"
    plait(a, "new", "--notebook", "N", keys=None, stdin="x\n")
    assert plait(a, "share", "N", "--relay", relay.url, keys=keys).returncode == 0
    relay.stop()
    result = plait(a, "sync", "--once", "--timeout", "20", keys=keys)
    assert result.returncode == 1
    assert "plait: error: relay ws://127.0.0.1" in result.stderr
    assert "Traceback" not in result.stderr


def test_without_a_keyring_sharing_says_how_to_fix_it(tmp_path, relay):
    a = tmp_path / "a"
    plait(a, "new", "--notebook", "N", keys=None, stdin="x\n")
    result = plait(a, "share", "N", "--relay", relay.url, keys=None)
    assert result.returncode == 1
    assert "Sharing is disabled" in result.stderr and "PLAIT_FILE_KEYRING" in result.stderr
    assert "Traceback" not in result.stderr
    assert not list(tmp_path.glob("*.json"))  # no key file appeared on its own
    bad = plait(a, "join", "plait://join?v=1&nb=zz", keys=tmp_path / "k.json")
    assert bad.returncode == 1 and "invite" in bad.stderr.lower()
