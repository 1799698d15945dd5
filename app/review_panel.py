"""The review panel: concurrent edits merged close together, for a person to check.

A dock listing the vault's flags grouped by note (notes with the newest flag first,
flags newest first). Each flag shows the authors in their colours, when it was
merged, the merged text with each author's part tinted, and whether it was
reviewed. The buttons act on the selected flag: Go to (opens the note and selects
the region), Compare (the region as each side had it and as merged), Keep mine /
Keep theirs (rewrites the region; the edit syncs like any other) and Looks good.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable

from PySide6.QtCore import QPointF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from crdt_store.errors import PlaitError
from crdt_store.review.board import HERE
from crdt_store.review.flags import ARRIVED, EARLIER, NEW, TEXT, TRASHED, ReviewFlag, Side
from crdt_store.vault import Vault

from .colors import REVIEW_AMBER, author_color
from .compare_dialog import CompareDialog
from .note_delegate import friendly_time

FlagRole = Qt.ItemDataRole.UserRole + 1
SNIPPET_CONTEXT = 24  # code points of text shown on each side of the merged region


class ReviewPanel(QDockWidget):
    """The dock. `go_to(note_id, start, end)` asks the window to open a note and select
    code points [start, end); `count_changed(n)` reports the unreviewed flags."""

    go_to = Signal(str, int, int)
    count_changed = Signal(int)
    flags_changed = Signal()  # re-read: the flags or their states changed

    def __init__(self, vault: Vault, parent: QWidget | None = None, *,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__("Review", parent)
        self.setObjectName("review_panel")  # for saveState / restoreState
        self.vault = vault
        self._clock = clock
        self._flags: list[ReviewFlag] = []
        self.unreviewed = 0
        self._closed = False

        self.tree = QTreeWidget()
        self.tree.setHeaderHidden(True)
        self.tree.setIndentation(10)
        # Item texts are coloured (authors, tints): a light selection keeps them legible.
        self.tree.setStyleSheet(
            "QTreeWidget::item:selected { background: rgba(48, 140, 198, 45); }"
            "QTreeWidget::item:selected:!active { background: rgba(128, 128, 128, 40); }"
            "QTreeWidget::branch:selected, QTreeWidget::branch:selected:!active "
            "{ background: palette(base); }")
        self.tree.setObjectName("review_list")
        self.tree.currentItemChanged.connect(lambda *_: self._update_buttons())
        self.tree.itemActivated.connect(lambda item, _col: self._go_to_selected())
        self.show_reviewed = QCheckBox("Show reviewed")
        self.show_reviewed.toggled.connect(lambda _on: self.refresh())
        self.summary = QLabel()
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setVisible(False)

        self.go_button = QPushButton("Go to")
        self.compare_button = QPushButton("Compare…")
        self.keep_mine_button = QPushButton("Keep mine")
        self.keep_theirs_button = QPushButton("Keep theirs")
        self.looks_good_button = QPushButton("Looks good")
        self.go_button.clicked.connect(self._go_to_selected)
        self.compare_button.clicked.connect(self._compare_selected)
        self.keep_mine_button.clicked.connect(lambda: self._keep(self._mine_side()))
        self.keep_theirs_button.clicked.connect(lambda: self._keep(self._theirs_side()))
        self.looks_good_button.clicked.connect(self._looks_good)
        self.go_button.setToolTip("Open the note with the merged text selected")
        self.compare_button.setToolTip("See the text as each side had it, and as merged")
        self.looks_good_button.setToolTip("The merge reads fine: mark it reviewed")

        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        top.addWidget(self.show_reviewed)
        first = QHBoxLayout()
        for button in (self.go_button, self.compare_button, self.looks_good_button):
            first.addWidget(button)
        second = QHBoxLayout()
        for button in (self.keep_mine_button, self.keep_theirs_button):
            second.addWidget(button)
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(top)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.message)
        layout.addLayout(first)
        layout.addLayout(second)
        self.setWidget(body)

        self._refresh_timer = QTimer(self)  # flags come in bursts during a merge
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(50)
        self._refresh_timer.timeout.connect(self.refresh)
        self.flags_changed.connect(self._refresh_timer.start, Qt.ConnectionType.QueuedConnection)
        vault.review.subscribe(self.flags_changed.emit)
        self.refresh()

    def close_panel(self) -> None:
        """Stop following the vault (it is about to close)."""
        self.vault.review.unsubscribe(self.flags_changed.emit)
        self._refresh_timer.stop()
        self._closed = True

    # ---- reading the flags ---------------------------------------------------------------

    def flags(self) -> list[ReviewFlag]:
        """The flags as last read (all of them, reviewed too)."""
        return list(self._flags)

    def notes_to_review(self) -> set[str]:
        return {f.note_id for f in self._flags if f.state == NEW}

    def regions_in(self, note_id: str) -> list[tuple[int, int]]:
        """Where the unreviewed flags of a note are now (code points), for underlines."""
        out = []
        for flag in self._flags:
            if flag.note_id == note_id and flag.state == NEW:
                where = self.vault.review.region(flag)
                if where.end > where.start:
                    out.append((where.start, where.end))
        return out

    def refresh(self) -> None:
        if self._closed:
            return  # a refresh queued just before the vault closed
        selected = self.selected_flag()
        self._flags = self.vault.review.flags()
        self.unreviewed = sum(1 for f in self._flags if f.state == NEW)
        shown = [f for f in self._flags if self.show_reviewed.isChecked() or f.state == NEW]
        self.tree.clear()
        groups: dict[str, QTreeWidgetItem] = {}
        for flag in shown:  # newest first, so groups come in order of their newest flag
            group = groups.get(flag.note_id)
            if group is None:
                group = groups[flag.note_id] = QTreeWidgetItem(self.tree)
                group.setFlags(Qt.ItemFlag.ItemIsEnabled)
                group.setFirstColumnSpanned(True)
            item = QTreeWidgetItem(group)
            item.setData(0, FlagRole, flag.flag_id)
            label = QLabel(self._describe(flag))
            label.setTextFormat(Qt.TextFormat.RichText)
            label.setWordWrap(True)
            label.setContentsMargins(2, 4, 2, 4)
            label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
            item.setSizeHint(0, QSize(100, label.sizeHint().height() + 10))
            self.tree.setItemWidget(item, 0, label)
            if selected is not None and flag.flag_id == selected.flag_id:
                self.tree.setCurrentItem(item)
        for note_id, group in groups.items():
            count = group.childCount()
            title = self._title(note_id)
            group.setText(0, f"{title}  ({count})" if count > 1 else title)
            bold = QFont(group.font(0))
            bold.setBold(True)
            group.setFont(0, bold)
            group.setExpanded(True)
        if not shown:
            self.summary.setText("Nothing to review." if not self._flags
                                 else "Everything has been reviewed.")
        else:
            self.summary.setText(f"{self.unreviewed} to review" if self.unreviewed
                                 else "All reviewed")
        self._update_buttons()
        self.count_changed.emit(self.unreviewed)

    def _title(self, note_id: str) -> str:
        try:
            return self.vault.note_summary(note_id).display_title
        except PlaitError:
            return "A deleted note"

    def _describe(self, flag: ReviewFlag) -> str:
        """Rich text: who (in their colours), when, state, and the merged snippet."""
        when = friendly_time(flag.detected, self._clock())
        who = " and ".join(_author_html(side) for side in (flag.earlier, flag.arrived))
        if flag.own_devices:
            who = f"{_author_html(flag.earlier)}, on two of your devices"
        state = ("<span style='color:%s'><b>New</b></span>" % REVIEW_AMBER.name()
                 if flag.state == NEW else "<span style='color:gray'>Reviewed</span>")
        body = (html.escape(flag.summary) if flag.kind != TEXT else snippet_html(flag))
        return (f"<div>{who}<br><span style='color:gray'>{html.escape(when)}</span> · {state}"
                f"</div><div style='margin-top:3px'>{body}</div>")

    # ---- the selected flag ---------------------------------------------------------------

    def selected_flag(self) -> ReviewFlag | None:
        item = self.tree.currentItem()
        flag_id = item.data(0, FlagRole) if item is not None else None
        return next((f for f in self._flags if f.flag_id == flag_id), None)

    def select_flag(self, flag_id: str) -> bool:
        for i in range(self.tree.topLevelItemCount()):
            group = self.tree.topLevelItem(i)
            for j in range(group.childCount()):
                if group.child(j).data(0, FlagRole) == flag_id:
                    self.tree.setCurrentItem(group.child(j))
                    return True
        return False

    def _mine_side(self) -> str:
        flag = self.selected_flag()
        return flag.mine if flag is not None and flag.mine else EARLIER

    def _theirs_side(self) -> str:
        return ARRIVED if self._mine_side() == EARLIER else EARLIER

    def _update_buttons(self) -> None:
        flag = self.selected_flag()
        for button in (self.go_button, self.compare_button, self.keep_mine_button,
                       self.keep_theirs_button, self.looks_good_button):
            button.setEnabled(flag is not None)
        self._say("")
        if flag is None:
            self.keep_mine_button.setText("Keep mine")
            self.keep_theirs_button.setText("Keep theirs")
            return
        if flag.kind != TEXT:  # a trashed or moved note: restore it, or keep it so
            self.compare_button.setEnabled(False)
            self.keep_mine_button.setText("Restore note" if flag.kind == TRASHED
                                          else "Move back")
            self.keep_theirs_button.setText("Keep in trash" if flag.kind == TRASHED
                                            else "Keep it there")
            self.keep_mine_button.setToolTip(
                "Take the note out of the trash" if flag.kind == TRASHED
                else f"Move the note back to “{flag.source}”")
            self.keep_theirs_button.setToolTip("Leave the note as it is and mark this reviewed")
            self.keep_mine_button.setEnabled(flag.state == NEW)
            self.keep_theirs_button.setEnabled(flag.state == NEW)
            self.looks_good_button.setEnabled(False)
            return
        if flag.mine is None:  # two collaborators' edits, seen from a third device
            self.keep_mine_button.setText(f"Keep {flag.earlier.name}'s")
            self.keep_theirs_button.setText(f"Keep {flag.arrived.name}'s")
        else:
            theirs = flag.side(self._theirs_side())
            if flag.own_devices:
                self.keep_mine_button.setText("Keep this device's")
                self.keep_theirs_button.setText("Keep the other device's")
            else:
                self.keep_mine_button.setText("Keep mine")
                self.keep_theirs_button.setText(f"Keep {theirs.name}'s")
        self.keep_mine_button.setToolTip(_keep_tip(flag, self._mine_side()))
        self.keep_theirs_button.setToolTip(_keep_tip(flag, self._theirs_side()))
        self.keep_mine_button.setEnabled(flag.version(self._mine_side()) is not None)
        self.keep_theirs_button.setEnabled(flag.version(self._theirs_side()) is not None)
        self.looks_good_button.setEnabled(flag.state == NEW)

    def _say(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))

    def _go_to_selected(self) -> None:
        flag = self.selected_flag()
        if flag is None:
            return
        where = self.vault.review.region(flag)
        self.go_to.emit(flag.note_id, where.start, where.end)
        if where.status != HERE:
            self._say(where.message)

    def _compare_selected(self) -> None:
        flag = self.selected_flag()
        if flag is not None:
            CompareDialog(flag, self).exec()

    def _keep(self, side: str) -> None:
        flag = self.selected_flag()
        if flag is None:
            return
        board = self.vault.review
        try:
            if flag.kind == TEXT:
                board.keep(flag.flag_id, side)
            elif side == self._mine_side():  # the first button: undo the trash or move
                board.restore_note(flag.flag_id)
            else:
                board.keep_structure(flag.flag_id)
        except PlaitError as exc:
            self._say(str(exc))
            return
        self.refresh()

    def _looks_good(self) -> None:
        flag = self.selected_flag()
        if flag is not None:
            self.vault.review.mark_reviewed(flag.flag_id)
            self.refresh()


def _author_html(side: Side) -> str:
    color = author_color(side.name).name()
    me = " (this device)" if side.local else ""
    return (f"<span style='color:{color}'>●</span> <b>{html.escape(side.name or 'Someone')}"
            f"</b>{me}")


def snippet_html(flag: ReviewFlag) -> str:
    """The merged region with a little text around it; each author's part is tinted in
    their colour (HTML)."""
    before = flag.before.rsplit("\n", 1)[-1][-SNIPPET_CONTEXT:]  # the region's own line
    after = flag.after.split("\n", 1)[0][:SNIPPET_CONTEXT]
    colors = {EARLIER: author_color(flag.earlier.name), ARRIVED: author_color(flag.arrived.name)}
    owner = [None] * len(flag.merged)
    for start, end, who in flag.spans:
        for i in range(max(0, start), min(end, len(owner))):
            if owner[i] is None or who == ARRIVED:
                owner[i] = who
    parts = [f"<span style='color:gray'>…{_text(before)}</span>" if before else ""]
    run_start = 0
    for i in range(1, len(owner) + 1):
        if i == len(owner) or owner[i] != owner[run_start]:
            piece = _text(flag.merged[run_start:i])
            who = owner[run_start]
            if who is None:
                parts.append(f"<b>{piece}</b>")
            else:
                tint = QColor(colors[who])
                tint.setAlpha(70)
                parts.append(f"<span style='background-color:{_rgba(tint)}'><b>{piece}</b></span>")
            run_start = i
    if not flag.merged:
        parts.append("<span style='color:gray'>(text removed)</span>")
    parts.append(f"<span style='color:gray'>{_text(after)}…</span>" if after else "")
    return "".join(parts)


def _text(s: str) -> str:
    return html.escape(s).replace("\n", " ⏎ ")


def _rgba(color: QColor) -> str:
    return f"rgba({color.red()},{color.green()},{color.blue()},{color.alpha()})"


def _keep_tip(flag: ReviewFlag, side: str) -> str:
    version = flag.version(side)
    if version is None:
        return "Plait cannot tell how this side had the text; edit it by hand."
    shown = version if len(version) <= 60 else version[:59] + "…"
    return f"Make this text read: “{shown}”" if shown else "Remove the merged text"


def badge_icon(count: int, size: int = 20) -> QIcon:
    """A review flag icon with the count of unreviewed merges in an amber badge."""
    pixmap = QPixmap(size * 2, size * 2)  # drawn at 2x for high-DPI screens
    pixmap.setDevicePixelRatio(2.0)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    pole = QColor(110, 110, 110)
    painter.setPen(pole)
    painter.setBrush(pole)
    painter.drawRect(4, 3, 1, size - 6)
    painter.setBrush(REVIEW_AMBER if count else QColor(150, 150, 150))
    painter.setPen(Qt.PenStyle.NoPen)
    painter.drawPolygon([QPointF(5, 3), QPointF(size - 5, 6), QPointF(5, 10)])
    if count:
        text = str(count) if count < 100 else "99+"
        font = QFont()
        font.setPixelSize(8)
        font.setBold(True)
        painter.setFont(font)
        width = max(10, painter.fontMetrics().horizontalAdvance(text) + 4)
        painter.setBrush(QColor(200, 40, 40))
        painter.drawRoundedRect(size - width, size - 10, width, 10, 5, 5)
        painter.setPen(QColor("white"))
        painter.drawText(size - width, size - 10, width, 10, Qt.AlignmentFlag.AlignCenter, text)
    painter.end()
    return QIcon(pixmap)
