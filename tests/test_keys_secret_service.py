"""KeyStore against a real Secret Service: gnome-keyring in its own D-Bus session.

The fixture installs Debian's gnome-keyring and dbus through
tests/helpers/secret_service.sh (quick when already there). The child process runs
under `dbus-run-session` with a throwaway HOME, so the developer's own keyring is
never touched.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HELPERS = Path(__file__).parent / "helpers"
ROOT = Path(__file__).parent.parent


@pytest.fixture(scope="session")
def secret_service() -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("the Secret Service test needs Linux with Debian packages")
    try:
        proc = subprocess.run(["sh", str(HELPERS / "secret_service.sh")], capture_output=True,
                              text=True, timeout=1200, check=False)
    except subprocess.TimeoutExpired as exc:
        pytest.skip(f"installing gnome-keyring and dbus timed out: {exc}")
    if proc.returncode != 0:
        pytest.skip(f"could not install gnome-keyring and dbus: {proc.stderr.strip()[-2000:]}")


def test_key_store_on_a_real_secret_service(secret_service, tmp_path: Path) -> None:
    home, runtime = tmp_path / "home", tmp_path / "run"
    home.mkdir()
    runtime.mkdir(mode=0o700)
    daemon_log = tmp_path / "gnome-keyring.log"
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("DBUS_", "GNOME_KEYRING", "XDG_", "PLAIT_", "PYTHON_KEYRING"))}
    env.update(HOME=str(home), XDG_RUNTIME_DIR=str(runtime),
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])))
    script = ('printf %s pw | gnome-keyring-daemon --unlock --components=secrets '
              f'>"{daemon_log}" 2>&1 && exec "$0" "$1"')
    proc = subprocess.run(
        ["dbus-run-session", "--", "sh", "-c", script, sys.executable,
         str(HELPERS / "secret_service_child.py")],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=180, check=False)
    detail = f"stderr:\n{proc.stderr}\ndaemon:\n{daemon_log.read_text() if daemon_log.exists() else ''}"
    assert proc.returncode == 0, detail
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == {
        "device_reused": True,
        "auto_detected_reuses_it": True,
        "notebook_read_back": True,
        "conflict": "refused",
        "kept_after_conflict": True,
        "items": ["device:vault-it", "notebook:nb-it"],
        "items_hold_the_keys": True,
        "forgot": True,
        "after_forget": ["device:vault-it"],
        "locked": "locked",
    }, detail
