"""The packaged resources: icons, desktop entry, AppStream metainfo, and their validators
(desktop-file-validate and appstreamcli, installed on demand: tests/desktop_fixtures.py)."""

from __future__ import annotations

import configparser
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from PySide6.QtCore import QPoint
from PySide6.QtGui import QColor, QImage

import app
from app.assets import (
    APP_ICON_SIZES,
    DESKTOP_ENTRY,
    METAINFO,
    action_icon_svg,
    app_icon_png,
    resource,
)
from app.icons import ACTION_ICONS, ActionIcons, action_key, app_icon, render_svg

from .conftest import ARTIFACTS

pytest_plugins = ["tests.desktop_fixtures"]  # the desktop_tools fixture

ROOT = Path(__file__).resolve().parent.parent


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


def test_resources_are_found_through_importlib_resources() -> None:
    assert resource(DESKTOP_ENTRY).is_file()
    assert resource(METAINFO).is_file()
    for size in APP_ICON_SIZES:
        assert png_size(app_icon_png(size).read_bytes()) == (size, size)
    for _theme, own in ACTION_ICONS.values():
        assert action_icon_svg(own).is_file(), own


def test_the_app_icon_pngs_are_rendered_from_the_svgs(tmp_path: Path) -> None:
    """The committed PNGs, .ico and .icns are what the SVGs draw (the script's --check),
    and each size shows the mark: an opaque tile with light strands on it."""
    sheet = ARTIFACTS / "app-icon-sizes.png"
    ARTIFACTS.mkdir(exist_ok=True)
    proc = subprocess.run([sys.executable, str(ROOT / "packaging" / "render_icons.py"),
                           "--check", "--sheet", str(sheet)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for size in APP_ICON_SIZES:
        image = QImage.fromData(app_icon_png(size).read_bytes())
        centre = QColor(image.pixel(size // 2, size // 2))
        corner = QColor.fromRgba(image.pixel(0, 0))
        assert QColor.fromRgba(image.pixel(size // 2, size // 10)).alpha() == 255, size
        assert corner.alpha() < 255, f"{size}: the tile's corners are rounded"
        lightest = max(QColor(image.pixel(x, size // 2)).lightness() for x in range(size))
        assert lightest > 200, f"{size}: no strand crosses the middle row"
        assert centre.isValid()


def test_the_window_icon_has_every_size(qapp) -> None:
    icon = app_icon()
    sizes = sorted({s.width() for s in icon.availableSizes()})
    assert sizes == sorted(APP_ICON_SIZES)
    assert not icon.pixmap(48, 48).isNull()


def test_action_icons_draw_in_the_palette_s_colour(qapp) -> None:
    for _theme, own in ACTION_ICONS.values():
        data = action_icon_svg(own).read_bytes()
        for color in ("#202124", "#e8eaed"):
            image = render_svg(data, 24, QColor(color))
            drawn = [QColor.fromRgba(image.pixel(x, y)) for x in range(24) for y in range(24)]
            inked = [c for c in drawn if c.alpha() == 255]
            assert len(inked) > 20, f"{own} draws almost nothing"
            assert all(c.name() == color for c in inked), f"{own} is not drawn in {color}"


def test_every_mapped_action_exists_and_gets_an_icon(qtbot, vault, tmp_path: Path) -> None:
    """A renamed menu action would lose its icon silently; this says which."""
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from app.main_window import MainWindow

    from .test_main_window import dark_palette

    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    window = MainWindow(vault, settings)
    qtbot.addWidget(window)
    icons = ActionIcons(window)
    window.show()
    qtbot.waitExposed(window)
    assert sorted(icons.applied) == sorted(ACTION_ICONS)
    for key, action in icons.applied.items():
        assert not action.icon().isNull(), key
        assert action_key(action) == key
    before = icons.applied["New Note"].icon().pixmap(16, 16).toImage()
    ARTIFACTS.mkdir(exist_ok=True)
    app = QApplication.instance()
    old_palette = app.palette()
    try:
        for theme in ("light", "dark"):
            if theme == "dark":
                app.setPalette(dark_palette())
                qtbot.waitUntil(lambda: icons.applied["New Note"].icon().pixmap(16, 16)
                                .toImage() != before, timeout=5000)
            for menu_action in window.menuBar().actions():
                name = menu_action.text().replace("&", "")
                if name not in ("File", "Edit", "Note", "Notebook"):
                    continue
                menu = menu_action.menu()
                menu.popup(QPoint(40, 40))
                qtbot.waitExposed(menu)
                assert menu.grab().save(str(ARTIFACTS / f"menu-{name.lower()}-{theme}.png"))
                menu.hide()
    finally:
        app.setPalette(old_palette)
        window.close()


def desktop_entry() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # keys are case-sensitive
    parser.read_string(resource(DESKTOP_ENTRY).read_text(encoding="utf-8"))
    return parser


def test_the_desktop_entry_opens_plait_links() -> None:
    assert DESKTOP_ENTRY == f"{app.APP_ID}.desktop"
    entry = desktop_entry()["Desktop Entry"]
    assert entry["Type"] == "Application"
    assert entry["Exec"] == "plait %u"
    assert entry["Icon"] == app.APP_ID
    assert "x-scheme-handler/plait" in entry["MimeType"].split(";")
    assert entry["MimeType"].endswith(";")
    parts = app.APP_ID.split(".")
    assert len(parts) >= 3 and all(p.isidentifier() for p in parts)


def test_the_metainfo_matches_the_app() -> None:
    root = ET.fromstring(resource(METAINFO).read_bytes())
    assert root.tag == "component" and root.get("type") == "desktop-application"
    assert root.findtext("id") == app.APP_ID
    assert root.find("launchable").text == DESKTOP_ENTRY
    releases = [r.get("version") for r in root.iter("release")]
    assert releases[0] == app.__version__, "the newest <release> is this version"
    assert {b.text for b in root.iter("binary")} == {"plait", "plait-relay"}


def test_desktop_file_validate_passes(desktop_tools) -> None:
    proc = subprocess.run(["desktop-file-validate", str(resource(DESKTOP_ENTRY))],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and not proc.stdout.strip(), proc.stdout + proc.stderr


def test_appstreamcli_validate_passes(desktop_tools) -> None:
    proc = subprocess.run(["appstreamcli", "validate", "--no-net", "--strict", "--explain",
                           str(resource(METAINFO))], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_version_is_written_once(run_cli) -> None:
    result = run_cli("--version")
    assert result.stdout.strip() == f"plait {app.__version__}"
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'dynamic = ["version"]' in pyproject and 'attr = "app.__version__"' in pyproject
