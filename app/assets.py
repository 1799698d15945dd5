"""Plait's resources (the top-level `resources` package of data files), found through
importlib.resources, so the same code works from a source tree, an installed wheel and
the PyInstaller bundle. No Qt here: the desktop-integration and smoke-test code use it too.
"""

from __future__ import annotations

import atexit
import contextlib
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from . import APP_ID

PACKAGE = "resources"
APP_ICON_SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)
SMALL_ICON_MAX = 32  # up to this size the PNGs are rendered from plait-small.svg
DESKTOP_ENTRY = f"{APP_ID}.desktop"
METAINFO = f"{APP_ID}.metainfo.xml"

_files = contextlib.ExitStack()  # resources extracted to real files, if ever needed
atexit.register(_files.close)


def resource(*parts: str) -> Traversable:
    """A file in the resources package (it may not exist: check with .is_file())."""
    return resources.files(PACKAGE).joinpath(*parts)


def read_bytes(*parts: str) -> bytes:
    return resource(*parts).read_bytes()


def resource_path(*parts: str) -> Path:
    """A real file system path for a resource. Installed packages and the bundle keep
    resources as plain files; from a zip it is extracted once for the process's life."""
    return _files.enter_context(resources.as_file(resource(*parts)))


def app_icon_png(size: int) -> Traversable:
    return resource("icons", "app", f"plait-{size}.png")


def app_icon_svg(small: bool = False) -> Traversable:
    return resource("icons", "app", "plait-small.svg" if small else "plait.svg")


def action_icon_svg(name: str) -> Traversable:
    return resource("icons", "actions", f"{name}.svg")
