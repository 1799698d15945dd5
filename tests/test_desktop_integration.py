"""packaging/linux/install-desktop.sh and uninstall-desktop.sh, run for real into a
throwaway home: the entry, the icons, the AppStream file and the plait:// handler."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from app import APP_ID
from app.assets import APP_ICON_SIZES
from app.desktop_integration import exec_quote

pytest_plugins = ["tests.desktop_fixtures"]  # the desktop_tools fixture

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "packaging" / "linux"
ENTRY = f"{APP_ID}.desktop"

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="XDG desktop integration is for Linux desktops")


@pytest.fixture
def home(tmp_path: Path) -> dict[str, Path]:
    """XDG folders of a throwaway user; data goes under root/usr/share, the layout that
    `appstreamcli validate-tree` reads."""
    paths = {"home": tmp_path / "home", "data": tmp_path / "root" / "usr" / "share",
             "config": tmp_path / "home" / ".config"}
    paths["config"].mkdir(parents=True)
    return paths


@pytest.fixture
def plait(tmp_path: Path) -> Path:
    """A `plait` executable that runs this source tree (in a folder with a space)."""
    folder = tmp_path / "Plait app"
    folder.mkdir()
    exe = folder / "plait"
    exe.write_text(f'#!/bin/sh\nPYTHONPATH="{ROOT}" exec "{sys.executable}" -m app.cli "$@"\n')
    exe.chmod(0o755)
    return exe


def run_script(name: str, plait: Path, home: dict[str, Path]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    env.update(HOME=str(home["home"]), XDG_DATA_HOME=str(home["data"]),
               XDG_CONFIG_HOME=str(home["config"]))
    return subprocess.run(["sh", str(SCRIPTS / name), str(plait)], capture_output=True,
                          text=True, env=env, timeout=120)


def test_install_then_uninstall_for_the_user(desktop_tools, home, plait) -> None:
    mimeapps = home["config"] / "mimeapps.list"
    mimeapps.write_text("[Default Applications]\ntext/html=firefox.desktop;\n"
                        "x-scheme-handler/plait=old-plait.desktop;\n\n"
                        "[Removed Associations]\ntext/plain=gedit.desktop;\n")
    done = run_script("install-desktop.sh", plait, home)
    assert done.returncode == 0, done.stderr
    assert "desktop integration installed (13 files)" in done.stdout

    data = home["data"]
    entry = data / "applications" / ENTRY
    text = entry.read_text()
    assert f"Exec={exec_quote(plait)} %u\n" in text and exec_quote(plait).startswith('"')
    assert f"TryExec={plait}\n" in text
    check = subprocess.run(["desktop-file-validate", str(entry)], capture_output=True,
                           text=True, timeout=60)
    assert check.returncode == 0 and not check.stdout.strip(), check.stdout
    for size in APP_ICON_SIZES:
        png = (data / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png")
        assert struct.unpack(">II", png.read_bytes()[16:24]) == (size, size)
    assert (data / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg").is_file()
    tree = subprocess.run(["appstreamcli", "validate-tree", "--no-net", "--strict",
                           str(data.parent.parent)], capture_output=True, text=True,
                          timeout=60)
    assert tree.returncode == 0, tree.stdout + tree.stderr
    cache = (data / "applications" / "mimeinfo.cache").read_text()  # update-desktop-database
    assert f"x-scheme-handler/plait={ENTRY};" in cache
    assert mimeapps.read_text() == (
        "[Default Applications]\ntext/html=firefox.desktop;\n"
        f"x-scheme-handler/plait={ENTRY};\n\n"
        "[Removed Associations]\ntext/plain=gedit.desktop;\n\n"
        f"[Added Associations]\nx-scheme-handler/plait={ENTRY};\n")

    again = run_script("install-desktop.sh", plait, home)  # idempotent
    assert again.returncode == 0, again.stderr
    assert mimeapps.read_text().count("x-scheme-handler/plait") == 2

    gone = run_script("uninstall-desktop.sh", plait, home)
    assert gone.returncode == 0, gone.stderr
    assert not [p for p in data.rglob("*") if p.is_file() and APP_ID in p.name]
    assert mimeapps.read_text() == ("[Default Applications]\ntext/html=firefox.desktop;\n\n"
                                    "[Removed Associations]\ntext/plain=gedit.desktop;\n")


def test_the_scripts_say_what_is_missing(home, tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home["home"])}
    done = subprocess.run(["sh", str(SCRIPTS / "install-desktop.sh")], capture_output=True,
                          text=True, env=env, timeout=60, cwd=tmp_path)
    assert done.returncode == 1
    assert "no plait found; give its path" in done.stderr


def test_exec_quoting_follows_the_desktop_entry_spec() -> None:
    assert exec_quote(Path("/opt/plait/plait")) == "/opt/plait/plait"
    assert exec_quote(Path("/home/a b/plait")) == '"/home/a b/plait"'
    assert exec_quote(Path("/x/100%/$y")) == '"/x/100%%/\\\\$y"'
