"""The sidebar: "All notes", each live notebook, then "Trash", with note counts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFontMetrics, QIcon, QPainter, QPalette
from PySide6.QtWidgets import QApplication, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from crdt_store.model import NotebookInfo
from crdt_store.sync.status import NotebookStatus

from .colors import UNREAD_BLUE
from .note_delegate import color_group, dimmed
from .note_list_model import KeyedListModel

CountRole = Qt.ItemDataRole.UserRole + 1
KindRole = Qt.ItemDataRole.UserRole + 2
NotebookIdRole = Qt.ItemDataRole.UserRole + 3
SyncRole = Qt.ItemDataRole.UserRole + 4  # a shared notebook's NotebookStatus, else None
UnreadRole = Qt.ItemDataRole.UserRole + 5  # notes others changed since this user looked

SYNC_COLORS = {"synced": "#2e9d57", "syncing": "#2f7fd8", "offline": "#8a8f98",
               "error": "#d0443a"}

ALL, NOTEBOOK, TRASH = "all", "notebook", "trash"


@dataclass(frozen=True, slots=True)
class SidebarRow:
    kind: str  # ALL | NOTEBOOK | TRASH
    notebook_id: str | None
    name: str
    count: int

    @property
    def key(self) -> str:
        return self.notebook_id if self.kind == NOTEBOOK else f":{self.kind}"


class NotebookListModel(KeyedListModel):
    """Sidebar rows, in the order given (the vault's: by name, case-insensitively)."""

    CountRole = CountRole
    KindRole = KindRole
    NotebookIdRole = NotebookIdRole
    SyncRole = SyncRole
    UnreadRole = UnreadRole

    _FLAGS = Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemNeverHasChildren

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(lambda row: row.key, parent)
        self._icons: dict[str, QIcon] = {}
        self._sync: dict[str, NotebookStatus] = {}
        self._unread: dict[str, int] = {}
        self.set_notebooks([], 0, 0)

    def set_sync(self, statuses: dict[str, NotebookStatus]) -> None:
        """Show each shared notebook's sync state (repaints only rows that changed)."""
        old, self._sync = self._sync, dict(statuses)
        for notebook_id in set(old) | set(statuses):
            if old.get(notebook_id) != statuses.get(notebook_id):
                row = self.row_of_notebook(notebook_id)
                if row is not None:
                    index = self.index(row)
                    self.dataChanged.emit(index, index, [SyncRole, Qt.ItemDataRole.ToolTipRole])

    def set_unread(self, counts: dict[str, int]) -> None:
        """Unread notes per notebook (`Vault.unread_counts`); "All notes" shows the sum."""
        old, self._unread = self._unread, dict(counts)
        if old == self._unread:
            return
        for row in range(len(self._items)):
            item = self._items[row]
            if item.kind != TRASH and (item.kind == ALL or old.get(item.notebook_id)
                                       != self._unread.get(item.notebook_id)):
                index = self.index(row)
                self.dataChanged.emit(index, index, [UnreadRole])

    def set_notebooks(self, notebooks: Sequence[NotebookInfo], all_count: int,
                      trash_count: int) -> None:
        """Show these notebooks between the special rows, changing only what differs."""
        self._replace([
            SidebarRow(ALL, None, "All notes", all_count),
            *(SidebarRow(NOTEBOOK, n.notebook_id, n.name, n.note_count) for n in notebooks),
            SidebarRow(TRASH, None, "Trash", trash_count),
        ])

    def row_of_notebook(self, notebook_id: str) -> int | None:
        return self.row_of_key(notebook_id)

    def row_of_kind(self, kind: str) -> int | None:
        """The row of a special entry (ALL or TRASH)."""
        return self.row_of_key(f":{kind}")

    def kind_at(self, row: int) -> str:
        return self._items[row].kind

    def notebook_id_at(self, row: int) -> str | None:
        return self._items[row].notebook_id

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._items):
            return None
        row: SidebarRow = self._items[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return row.name
        if role == CountRole:
            return row.count
        if role == UnreadRole:
            if row.kind == ALL:
                return sum(self._unread.values())
            return self._unread.get(row.notebook_id, 0) if row.kind == NOTEBOOK else 0
        if role == KindRole:
            return row.kind
        if role == NotebookIdRole:
            return row.notebook_id
        if role == SyncRole:
            return self._sync.get(row.notebook_id) if row.notebook_id else None
        if role == Qt.ItemDataRole.DecorationRole:
            return self._icon(row.kind)
        if role == Qt.ItemDataRole.ToolTipRole:
            tip = f"{row.name}: {row.count} note{'' if row.count == 1 else 's'}"
            status = self._sync.get(row.notebook_id) if row.notebook_id else None
            return tip if status is None else f"{tip}\nShared: {status.label}. {status.message}"
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        return self._FLAGS if index.isValid() else Qt.ItemFlag.NoItemFlags

    def _icon(self, kind: str) -> QIcon:
        """The theme's icon for a kind of row, else the style's standard one."""
        icon = self._icons.get(kind)
        if icon is None:
            theme, standard = {
                ALL: ("folder-documents", QStyle.StandardPixmap.SP_FileIcon),
                NOTEBOOK: ("folder", QStyle.StandardPixmap.SP_DirIcon),
                TRASH: ("user-trash", QStyle.StandardPixmap.SP_TrashIcon),
            }[kind]
            icon = self._icons[kind] = QIcon.fromTheme(theme, QApplication.style().standardIcon(standard))
        return icon


class NotebookDelegate(QStyledItemDelegate):
    """The style's usual row (icon and name), with the count right-aligned and dimmed."""

    PAD_Y = 4
    GAP = 8
    MIN_WIDTH = 120

    def sizeHint(self, option: QStyleOptionViewItem,
                 index: QModelIndex | QPersistentModelIndex) -> QSize:
        height = super().sizeHint(option, index).height() + 2 * self.PAD_Y
        return QSize(self.MIN_WIDTH, height)  # long names elide rather than widen the view

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        widget = opt.widget
        style = widget.style() if widget is not None else QApplication.style()
        text_rect = style.subElementRect(QStyle.SubElement.SE_ItemViewItemText, opt, widget)
        name, opt.text = opt.text, ""
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)

        count = index.data(CountRole)
        count_text = str(count) if count else ""
        fm = QFontMetrics(opt.font)
        count_w = fm.horizontalAdvance(count_text)
        text_rect = text_rect.adjusted(0, 0, -self.GAP, 0)
        name_rect = QRect(text_rect)
        if count_text:
            name_rect.setRight(text_rect.right() - count_w - self.GAP)
        unread = index.data(UnreadRole)
        if unread:  # notes others changed since you looked: a blue pill with how many
            pill_text = f"{unread} new"
            pill_w = fm.horizontalAdvance(pill_text) + 10
            pill = QRect(name_rect.right() - pill_w, text_rect.center().y() - fm.height() // 2,
                         pill_w, fm.height())
            name_rect.setRight(pill.left() - self.GAP // 2)
            painter.save()
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(UNREAD_BLUE)
            painter.drawRoundedRect(pill, pill.height() / 2, pill.height() / 2)
            painter.setPen(QColor("white"))
            painter.drawText(pill, Qt.AlignmentFlag.AlignCenter, pill_text)
            painter.restore()
        status = index.data(SyncRole)
        if status is not None:  # shared: a dot in the state's colour before the count
            size = max(6, fm.height() // 2 - 1)
            dot = QRect(name_rect.right() - size, text_rect.center().y() - size // 2 + 1,
                        size, size)
            name_rect.setRight(dot.left() - self.GAP // 2)
            painter.save()
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(SYNC_COLORS.get(status.state, "#8a8f98")))
            painter.drawEllipse(dot)
            painter.restore()
        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        color = opt.palette.color(color_group(opt), QPalette.ColorRole.HighlightedText if selected
                                  else QPalette.ColorRole.Text)
        painter.save()
        painter.setFont(opt.font)
        painter.setPen(color)
        painter.drawText(name_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         fm.elidedText(name, Qt.TextElideMode.ElideRight, name_rect.width()))
        if count_text:
            painter.setPen(dimmed(color))
            painter.drawText(text_rect, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                             count_text)
        painter.restore()
