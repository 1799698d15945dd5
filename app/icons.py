"""The application icon and the menu actions' icons.

Actions take the desktop theme's icon when it has one (QIcon.fromTheme) and otherwise
Plait's own, from resources/icons/actions: line drawings in `currentColor`, drawn in
the palette's text colour, so they suit a light or a dark palette and follow a switch.
"""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QEvent, QObject, QRectF, QSize, Qt
from PySide6.QtGui import QAction, QColor, QIcon, QImage, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QWidget

from .assets import APP_ICON_SIZES, action_icon_svg, app_icon_png, app_icon_svg, resource_path

ACTION_PIXMAP_SIZES = (16, 24, 32, 48)

# A menu action's text (without "&" and "…") -> (theme icon names to try, Plait's own icon)
ACTION_ICONS: dict[str, tuple[tuple[str, ...], str]] = {
    "New Note": (("document-new",), "note-new"),
    "New Notebook": (("folder-new",), "notebook-new"),
    "Quit": (("application-exit",), "quit"),
    "Undo": (("edit-undo",), "undo"),
    "Redo": (("edit-redo",), "redo"),
    "Cut": (("edit-cut",), "cut"),
    "Copy": (("edit-copy",), "copy"),
    "Paste": (("edit-paste",), "paste"),
    "Select All": (("edit-select-all",), "select-all"),
    "Toggle Task Box": ((), "task"),
    "Search Notes": (("edit-find", "system-search"), "search"),
    "Find Next Match": (("edit-find-next",), "find-next"),
    "Pin / Unpin": ((), "pin"),
    "Move to Notebook": ((), "move"),
    "Move to Trash": (("user-trash",), "trash"),
    "Restore from Trash": ((), "restore"),
    "Rename": (("edit-rename",), "rename"),
    "Share Notebook": (("document-share",), "share"),
    "Join Shared Notebook": ((), "join"),
    "Move Notebook to Trash": (("user-trash",), "trash"),
}


def app_icon() -> QIcon:
    """Plait's icon in every size it ships, for windows, dialogs and the task bar."""
    icon = QIcon()
    for size in APP_ICON_SIZES:
        png = app_icon_png(size)
        if png.is_file():
            icon.addFile(str(resource_path("icons", "app", png.name)), QSize(size, size))
    if icon.isNull():  # PNGs missing (a broken install): the SVG, through Qt's SVG plugin
        icon = QIcon(str(resource_path("icons", "app", app_icon_svg().name)))
    return icon


def render_svg(data: bytes, size: int, color: QColor | None = None) -> QImage:
    """An SVG drawn into a size x size image; `currentColor` becomes `color`."""
    if color is not None:
        data = data.replace(b"currentColor", color.name().encode())
    renderer = QSvgRenderer(QByteArray(data))
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    if renderer.isValid():
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter, QRectF(0, 0, size, size))
        painter.end()
    return image


def own_action_icon(name: str, palette: QPalette) -> QIcon:
    """One of Plait's action icons in the palette's colours (normal and disabled)."""
    data = action_icon_svg(name).read_bytes()
    icon = QIcon()
    for mode, group in ((QIcon.Mode.Normal, QPalette.ColorGroup.Active),
                        (QIcon.Mode.Disabled, QPalette.ColorGroup.Disabled)):
        color = palette.color(group, QPalette.ColorRole.WindowText)
        for size in ACTION_PIXMAP_SIZES:
            icon.addPixmap(QPixmap.fromImage(render_svg(data, size, color)), mode)
    return icon


def action_icon(theme_names: tuple[str, ...], own: str, palette: QPalette) -> QIcon:
    for name in theme_names:
        if QIcon.hasThemeIcon(name):
            return QIcon.fromTheme(name)
    return own_action_icon(own, palette)


def action_key(action: QAction) -> str:
    return action.text().replace("&", "").rstrip("…").rstrip(".").strip()


class ActionIcons(QObject):
    """Gives a window's menu actions their icons, and redraws Plait's own ones when the
    palette changes (the system switched between light and dark)."""

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self.window = window
        self.applied: dict[str, QAction] = {}
        self.apply()
        window.installEventFilter(self)

    def apply(self) -> None:
        palette = self.window.palette()
        cache: dict[str, QIcon] = {}
        for action in self.window.findChildren(QAction):
            key = action_key(action)
            if key not in ACTION_ICONS:
                continue
            theme_names, own = ACTION_ICONS[key]
            if own not in cache:
                cache[own] = action_icon(theme_names, own, palette)
            action.setIcon(cache[own])
            self.applied[key] = action

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.window and event.type() in (QEvent.Type.PaletteChange,
                                                       QEvent.Type.ApplicationPaletteChange):
            self.apply()
        return False
