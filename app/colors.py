"""Colours with a meaning across views: the review amber and each author's colour."""

from __future__ import annotations

import zlib

from PySide6.QtGui import QColor

REVIEW_AMBER = QColor(224, 128, 32)  # merges waiting for review: marks, underlines, badge
UNREAD_BLUE = QColor(9, 105, 218)  # changed by others since you last looked

# Distinct on light and dark backgrounds, and apart for common colour blindness
# (Okabe–Ito order, amber left out: it means "to review").
_AUTHOR_COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#56B4E9", "#8E6C00",
                  "#6A3D9A", "#B2182B")


def author_color(name: str) -> QColor:
    """The same colour for an author's name everywhere, on every run and device."""
    return QColor(_AUTHOR_COLORS[zlib.crc32(name.encode("utf-8")) % len(_AUTHOR_COLORS)])
