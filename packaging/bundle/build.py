"""Build Plait's standalone bundle and archive it (`make bundle` runs this, then check.py).

    python packaging/bundle/build.py [--out DIR] [--check]

PyInstaller builds the one-folder bundle from packaging/plait.spec into
DIR/plait (DIR defaults to dist/), the desktop-integration scripts and a short README
go beside the executables, and the folder is archived as
DIR/plait-VERSION-PLATFORM-ARCH.tar.gz. With --check, packaging/bundle/check.py then
checks the archive as a user gets it.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from app import __version__  # noqa: E402

README = """Plait {version}, a standalone bundle: no Python needed.

  ./plait                      open the app (on your default vault)
  ./plait --help               the command line
  ./plait --smoke-test         check that this bundle works here
  ./plait-relay --help         run a relay server
  ./install-desktop.sh         add Plait to your application menu, with its icon,
                               as the handler of plait:// invite links
  ./uninstall-desktop.sh       remove that again

Keep this folder where it is after install-desktop.sh: the menu entry runs ./plait
from here (run install-desktop.sh again after moving it).
"""


def archive_name() -> str:
    system = {"linux": "linux", "darwin": "macos", "win32": "windows"}.get(sys.platform,
                                                                           sys.platform)
    return f"plait-{__version__}-{system}-{platform.machine().lower()}"


def build(out: Path) -> Path:
    work = ROOT / "build" / "pyinstaller"
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
                    "--distpath", str(out), "--workpath", str(work),
                    str(ROOT / "packaging" / "plait.spec")], check=True)
    folder = out / "plait"
    if sys.platform.startswith("linux"):
        for script in ("install-desktop.sh", "uninstall-desktop.sh"):
            shutil.copy2(ROOT / "packaging" / "linux" / script, folder / script)
        (folder / "README.txt").write_text(README.format(version=__version__))
    archive = out / f"{archive_name()}.tar.gz"
    with tarfile.open(archive, "w:gz", compresslevel=9) as tar:
        tar.add(folder, arcname=archive_name())
    print(f"bundle: built in {time.monotonic() - started:.0f} s", flush=True)
    return archive


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "dist")
    parser.add_argument("--check", action="store_true", help="then check the archive")
    args = parser.parse_args(argv)
    archive = build(args.out.resolve())
    print(f"bundle: {archive}", flush=True)
    if args.check:
        sys.path.insert(0, str(Path(__file__).parent))
        from check import main as check

        return check([str(archive)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
