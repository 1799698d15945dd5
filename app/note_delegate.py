"""How one note looks in the note list: bold title, then time and snippet, a pin if pinned.

Every row has the same height, so views can use `setUniformItemSizes(True)`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QPointF, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPalette, QPen
from PySide6.QtWidgets import QApplication, QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from crdt_store.model import NoteSummary

from .colors import REVIEW_AMBER, UNREAD_BLUE
from .note_list_model import ReviewRole, SummaryRole, UnreadRole

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def friendly_time(ts: float, now: float) -> str:
    """'14:32' today, 'Yesterday', a weekday within the week, else '12 Mar 2026' (local time).

    An unknown time (0 or less) is ''; times in the future on another day show their date.
    """
    if ts <= 0:
        return ""
    when = datetime.fromtimestamp(ts)
    days = (datetime.fromtimestamp(now).date() - when.date()).days
    if days == 0:
        return f"{when:%H:%M}"
    if days == 1:
        return "Yesterday"
    if 1 < days < 7:
        return WEEKDAYS[when.weekday()]
    return f"{when.day} {MONTHS[when.month - 1]} {when.year}"


def color_group(option: QStyleOptionViewItem) -> QPalette.ColorGroup:
    """The palette group a view item paints with: disabled, inactive window, or normal."""
    if not option.state & QStyle.StateFlag.State_Enabled:
        return QPalette.ColorGroup.Disabled
    if not option.state & QStyle.StateFlag.State_Active:
        return QPalette.ColorGroup.Inactive
    return QPalette.ColorGroup.Normal


def dimmed(color: QColor) -> QColor:
    """Secondary text: the same colour, partly transparent (works on any background)."""
    faded = QColor(color)
    faded.setAlpha(150)
    return faded


class NoteDelegate(QStyledItemDelegate):
    """Paints a NoteSummary (from SummaryRole) on two lines."""

    PAD_X = 10
    PAD_Y = 7
    LINE_GAP = 3
    GAP = 8  # between the time and the snippet, and before the pin

    def __init__(self, parent: QWidget | None = None, *,
                 clock: Callable[[], float] = time.time,
                 matches: Callable[[str], list[tuple[int, int]]] | None = None) -> None:
        """`matches(note_id)` gives code-point ranges of the snippet to emphasise
        (search hits); None or [] draws the snippet plainly."""
        super().__init__(parent)
        self._clock = clock
        self._matches = matches

    def sizeHint(self, option: QStyleOptionViewItem,
                 index: QModelIndex | QPersistentModelIndex) -> QSize:
        title_h, line_h = self._line_heights(option.font)
        return QSize(200, 2 * self.PAD_Y + title_h + self.LINE_GAP + line_h)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        note: NoteSummary | None = index.data(SummaryRole)
        if note is None:
            super().paint(painter, option, index)
            return
        widget = option.widget
        style = widget.style() if widget is not None else QApplication.style()
        style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewItem, option, painter, widget)

        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        palette, group = option.palette, color_group(option)
        text = palette.color(group, QPalette.ColorRole.HighlightedText if selected
                             else QPalette.ColorRole.Text)
        title_font = QFont(option.font)
        title_font.setBold(True)
        title_fm, body_fm = QFontMetrics(title_font), QFontMetrics(option.font)
        title_h, line_h = self._line_heights(option.font)
        box = option.rect.adjusted(self.PAD_X, self.PAD_Y, -self.PAD_X, -self.PAD_Y)

        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        title_rect = QRect(box.left(), box.top(), box.width(), title_h)
        if note.pinned:
            pin = title_h - 2
            title_rect.setRight(title_rect.right() - pin - self.GAP)
            accent = text if selected else palette.color(group, QPalette.ColorRole.Highlight)
            _draw_pin(painter, QRect(box.right() - pin + 1, box.top() + 1, pin, pin), accent)
        # Dots after the title: blue, changed by others since you looked; amber, merged
        # edits to review.
        for role, color in ((ReviewRole, REVIEW_AMBER), (UnreadRole, UNREAD_BLUE)):
            if index.data(role):
                dot = max(6, title_h // 3)
                right = title_rect.right()
                title_rect.setRight(right - dot - self.GAP // 2)
                painter.setPen(Qt.PenStyle.NoPen)
                painter.setBrush(color)
                painter.drawEllipse(QRect(right - dot + 1, box.top() + (title_h - dot) // 2,
                                          dot, dot))
        painter.setFont(title_font)
        painter.setPen(text)
        painter.drawText(title_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         title_fm.elidedText(note.display_title, Qt.TextElideMode.ElideRight,
                                             title_rect.width()))

        line = QRect(box.left(), title_rect.bottom() + 1 + self.LINE_GAP, box.width(), line_h)
        painter.setFont(option.font)
        when = friendly_time(note.modified, self._clock())
        if when:
            painter.drawText(line, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, when)
            line.setLeft(line.left() + body_fm.horizontalAdvance(when) + self.GAP)
        ranges = self._matches(note.note_id) if self._matches else []
        if note.snippet and line.width() > 0 and ranges:
            _draw_marked(painter, line, note.snippet, ranges, dimmed(text), text, option.font)
        elif note.snippet and line.width() > 0:
            painter.setPen(dimmed(text))
            painter.drawText(line, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                             body_fm.elidedText(note.snippet, Qt.TextElideMode.ElideRight,
                                                line.width()))
        if not selected:
            separator = QColor(palette.color(group, QPalette.ColorRole.Mid))
            separator.setAlpha(90)
            painter.setPen(QPen(separator, 1))
            bottom = option.rect.bottom()
            painter.drawLine(option.rect.left() + self.PAD_X, bottom, option.rect.right(), bottom)
        painter.restore()

    @staticmethod
    def _line_heights(font: QFont) -> tuple[int, int]:
        """Heights of the bold title line and of the body line in `font`."""
        bold = QFont(font)
        bold.setBold(True)
        return QFontMetrics(bold).height(), QFontMetrics(font).height()


def _draw_marked(painter: QPainter, line: QRect, snippet: str, ranges: list[tuple[int, int]],
                 plain: QColor, strong: QColor, font: QFont) -> None:
    """The snippet with its matched ranges in bold full-strength text, cut with '…'."""
    bold = QFont(font)
    bold.setBold(True)
    pieces, last = [], 0
    for start, end in sorted(ranges):
        pieces += [(snippet[last:start], False), (snippet[start:end], True)]
        last = end
    pieces.append((snippet[last:], False))
    x, right = line.left(), line.right()
    ellipsis_w = QFontMetrics(font).horizontalAdvance("…")
    for piece, marked in pieces:
        if not piece:
            continue
        metrics = QFontMetrics(bold if marked else font)
        width = metrics.horizontalAdvance(piece)
        if x + width > right:
            piece = metrics.elidedText(piece, Qt.TextElideMode.ElideRight, max(right - x, 0))
            width = metrics.horizontalAdvance(piece)
        painter.setFont(bold if marked else font)
        painter.setPen(strong if marked else plain)
        painter.drawText(QRect(x, line.top(), width + 1, line.height()),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, piece)
        x += width
        if x + ellipsis_w > right:
            break
    painter.setFont(font)


def _draw_pin(painter: QPainter, rect: QRect, color: QColor) -> None:
    """A small push pin leaning left: a round head, a collar and a needle."""
    size = rect.width()
    head = size * 0.5
    centre = QPointF(rect.right() + 1 - head / 2, rect.top() + head / 2)
    tip = QPointF(rect.left() + size * 0.1, rect.bottom() + 1 - size * 0.1)
    painter.setPen(QPen(color, max(1.5, size / 8), Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
    painter.drawLine(centre, tip)
    collar = centre + QPointF(-head, head) * 0.6  # across the needle, below the head
    across = QPointF(head, head) * 0.4
    painter.setPen(QPen(color, max(2.0, size / 6), Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
    painter.drawLine(collar - across, collar + across)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(color)
    painter.drawEllipse(centre, head / 2, head / 2)
