"""The freedesktop validators, installed on demand for the desktop tests.

desktop-file-validate and update-desktop-database come from Debian's desktop-file-utils,
appstreamcli from appstream. tests/helpers/desktop_tools.sh installs them (quick when
they are there); the fixture skips, saying why, only where they cannot be installed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

HELPERS = Path(__file__).parent / "helpers"


@pytest.fixture(scope="session")
def desktop_tools() -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("desktop-file-validate and appstreamcli are Linux tools")
    try:
        proc = subprocess.run(["sh", str(HELPERS / "desktop_tools.sh")], capture_output=True,
                              text=True, timeout=1200, check=False)
    except subprocess.TimeoutExpired as exc:
        pytest.skip(f"installing desktop-file-utils and appstream timed out: {exc}")
    if proc.returncode != 0:
        pytest.skip(f"could not install desktop-file-utils and appstream: "
                    f"{proc.stderr.strip()[-2000:]}")
