"""Render the application icon's PNGs (and the Windows .ico, the macOS .icns) from its SVGs.

    python packaging/render_icons.py            # rewrite resources/icons/app/*
    python packaging/render_icons.py --check    # exit 1 if a committed file is stale
    python packaging/render_icons.py --sheet F  # also draw every size side by side into F

Sizes up to 32 px come from plait-small.svg (the mark cut for a few pixels), larger
ones from plait.svg. Qt's own SVG renderer draws them (the one the app uses), so no
other tool is needed. tests/test_desktop_resources.py runs --check.
"""

from __future__ import annotations

import argparse
import os
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QRectF, Qt  # noqa: E402
from PySide6.QtGui import QColor, QGuiApplication, QImage, QPainter  # noqa: E402
from PySide6.QtSvg import QSvgRenderer  # noqa: E402

from app.assets import APP_ICON_SIZES, SMALL_ICON_MAX  # noqa: E402

ICONS = ROOT / "resources" / "icons" / "app"
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
TOLERANCE = 8  # per channel: another Qt build may antialias a little differently


def render(size: int) -> QImage:
    svg = ICONS / ("plait-small.svg" if size <= SMALL_ICON_MAX else "plait.svg")
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"{svg} is not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    return image


def differs(a: QImage, b: QImage) -> bool:
    if a.size() != b.size():
        return True
    a = a.convertToFormat(QImage.Format.Format_ARGB32)
    b = b.convertToFormat(QImage.Format.Format_ARGB32)
    for y in range(a.height()):
        for x in range(a.width()):
            pa, pb = a.pixel(x, y), b.pixel(x, y)
            if any(abs(((pa >> s) & 255) - ((pb >> s) & 255)) > TOLERANCE for s in (0, 8, 16, 24)):
                return True
    return False


def encode(image: QImage, fmt: str) -> bytes:
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, fmt):
        raise SystemExit(f"cannot encode {fmt}")
    buffer.close()
    return bytes(data.data())


def make_ico(images: list[QImage]) -> bytes:
    """A Windows .ico holding every size, each entry a PNG (Windows Vista and later).
    Qt's ico writer stores one image per file, so the container is written here."""
    pngs = [encode(image, "PNG") for image in images]
    out = bytearray(struct.pack("<HHH", 0, 1, len(pngs)))
    offset = 6 + 16 * len(pngs)
    for image, png in zip(images, pngs):
        side = image.width() if image.width() < 256 else 0  # 0 means 256
        out += struct.pack("<BBBBHHII", side, side, 0, 0, 1, 32, len(png), offset)
        offset += len(png)
    for png in pngs:
        out += png
    return bytes(out)


ICNS_TYPES = {  # entry type -> pixels (PNG entries; the @2x types reuse the larger image)
    b"icp4": 16, b"icp5": 32, b"icp6": 64, b"ic07": 128, b"ic08": 256, b"ic09": 512,
    b"ic11": 32, b"ic12": 64, b"ic13": 256, b"ic14": 512,
}


def make_icns(images: dict[int, QImage]) -> bytes:
    """A macOS .icns of PNG entries (Qt's icns writer stores only one size)."""
    body = bytearray()
    for kind, size in ICNS_TYPES.items():
        png = encode(images[size], "PNG")
        body += kind + struct.pack(">I", 8 + len(png)) + png
    return b"icns" + struct.pack(">I", 8 + len(body)) + bytes(body)


def sheet(images: dict[int, QImage], path: Path) -> None:
    """Every size at 1:1, then the small ones enlarged 8 times, to look at."""
    small = [s for s in images if s <= 48]
    width = sum(images) + 20 * (len(images) + 1)
    height = max(images) + 40 + 8 * max(small)
    out = QImage(max(width, sum(8 * s + 20 for s in small) + 20), height,
                 QImage.Format.Format_ARGB32)
    out.fill(QColor("#ececec"))
    painter = QPainter(out)
    x = 20
    for size, image in images.items():
        painter.drawImage(x, 20, image)
        x += size + 20
    x = 20
    for size in small:
        painter.drawImage(x, max(images) + 30, images[size].scaled(8 * size, 8 * size))
        x += 8 * size + 20
    painter.end()
    out.save(str(path))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    parser.add_argument("--sheet", type=Path, help="also save a contact sheet PNG here")
    args = parser.parse_args(argv)
    app = QGuiApplication.instance() or QGuiApplication([])  # noqa: F841  (fonts, plugins)
    images = {size: render(size) for size in APP_ICON_SIZES}
    stale = []
    for size, image in images.items():
        path = ICONS / f"plait-{size}.png"
        if args.check:
            if not path.exists() or differs(QImage(str(path)), image):
                stale.append(path.name)
        elif not image.save(str(path)):
            raise SystemExit(f"cannot write {path}")
    if args.check:
        stale += [name for name in ("plait.ico", "plait.icns") if not (ICONS / name).exists()]
    else:
        (ICONS / "plait.ico").write_bytes(make_ico([images[s] for s in ICO_SIZES]))
        (ICONS / "plait.icns").write_bytes(make_icns(images))
    if args.sheet:
        sheet(images, args.sheet)
    if stale:
        print("stale (run python packaging/render_icons.py): " + ", ".join(stale),
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
