"""Plait as users install it: build the wheel, install it into a fresh virtualenv (its
dependencies come from the package index, or pip's cache), and run it from there,
away from this source tree: --version, --smoke-test, plait-relay, the desktop files.

About 15 s here with a warm pip cache; it runs in `make test`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from app import APP_ID, __version__

ROOT = Path(__file__).resolve().parent.parent
SKIP = (".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache",
        ".hypothesis", "artifacts", "*.pyc")


def run(*args, **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(a) for a in args], capture_output=True, text=True,
                          timeout=kwargs.pop("timeout", 600), **kwargs)
    assert proc.returncode == 0, f"{args} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


def test_the_wheel_installs_and_runs_in_a_fresh_virtualenv(tmp_path: Path) -> None:
    source = tmp_path / "source"  # a copy: building leaves build/ and egg-info behind
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*SKIP))
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", tmp_path / "dist",
        source)
    (wheel,) = (tmp_path / "dist").glob("plait-*.whl")
    assert wheel.name == f"plait-{__version__}-py3-none-any.whl"
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {f"resources/{APP_ID}.desktop", f"resources/{APP_ID}.metainfo.xml",
            "resources/icons/app/plait.svg", "resources/icons/app/plait-16.png",
            "resources/icons/app/plait-512.png", "resources/icons/actions/search.svg",
            "crdt_store/sync/PROTOCOL.md", "app/cli.py"} <= names
    assert not [n for n in names if n.startswith(("tests/", "packaging/"))]

    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv)
    bin_dir = venv / ("Scripts" if os.name == "nt" else "bin")
    run(bin_dir / "python", "-m", "pip", "install", "--quiet", wheel)

    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTHON", "PLAIT_", "XDG_", "VIRTUAL_ENV"))}
    env.update(QT_QPA_PLATFORM="offscreen", HOME=str(tmp_path / "home"),
               PATH=os.pathsep.join([str(bin_dir), env.get("PATH", "")]))
    away = tmp_path / "elsewhere"
    away.mkdir()
    where = run(bin_dir / "python", "-c", "import app, crdt_store, resources; "
                "print(app.__file__); print(crdt_store.__file__); print(resources.__file__)",
                env=env, cwd=away)
    for line in where.stdout.split():
        assert Path(line).is_relative_to(venv), f"{line} is not from the installed wheel"

    assert run(bin_dir / "plait", "--version", env=env, cwd=away).stdout.strip() == \
        f"plait {__version__}"
    smoke = run(bin_dir / "plait", "--smoke-test", env=env, cwd=away, timeout=180)
    assert "plait smoke test: ok" in smoke.stdout, smoke.stdout
    assert "app icon 16-512 px" in smoke.stdout
    assert "--port" in run(bin_dir / "plait-relay", "--help", env=env, cwd=away).stdout

    if sys.platform.startswith("linux"):  # the entry names this install's plait
        data = tmp_path / "share"
        env.update(XDG_DATA_HOME=str(data), XDG_CONFIG_HOME=str(tmp_path / "config"))
        run(bin_dir / "plait", "--install-desktop", env=env, cwd=away)
        entry = (data / "applications" / f"{APP_ID}.desktop").read_text()
        assert f"Exec={bin_dir / 'plait'} %u" in entry
        assert (data / "icons" / "hicolor" / "256x256" / "apps" / f"{APP_ID}.png").is_file()
