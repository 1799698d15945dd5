"""Wires the review panel into the main window: its dock, the badge in the status bar,
the View menu entries, the note list's markers and the editor's underlines."""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QInputDialog, QMainWindow, QToolButton

from crdt_store.review.detector import THRESHOLD
from crdt_store.vault import Vault

from .review_panel import ReviewPanel, badge_icon
from .settings import WindowSettings


class ReviewControls(QObject):
    """Owns the review panel of one window. `window` provides `notes_model`, `editor`,
    `menuBar()`, `statusBar()` and `open_note_at(note_id, start, end)`."""

    def __init__(self, window: QMainWindow, vault: Vault, settings: WindowSettings) -> None:
        super().__init__(window)
        self.window = window
        self.vault = vault
        self.settings = settings
        vault.review.set_threshold(settings.review_threshold(THRESHOLD))
        self.panel = ReviewPanel(vault, window)
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.panel)
        self.panel.hide()  # until asked for (or restored with the window's state)

        self.toggle_action: QAction = self.panel.toggleViewAction()
        self.toggle_action.setText("&Review Panel")
        self.toggle_action.setShortcut("Ctrl+Shift+E")
        self.badge = QToolButton()
        self.badge.setObjectName("review_badge")
        self.badge.setAutoRaise(True)
        self.badge.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.badge.clicked.connect(self.toggle)
        window.statusBar().addPermanentWidget(self.badge)

        view = window.view_menu
        view.addSeparator()
        view.addAction(self.toggle_action)
        self.threshold_action = view.addAction("Review &Sensitivity…")
        self.threshold_action.triggered.connect(self.ask_threshold)

        self.panel.count_changed.connect(self._show_count)
        self.panel.go_to.connect(window.open_note_at)
        window.editor.note_opened.connect(lambda _note: self.underline())
        self._show_count(self.panel.unreviewed)

    def toggle(self) -> None:
        self.panel.setVisible(not self.panel.isVisible())
        if self.panel.isVisible():
            self.panel.raise_()

    def _show_count(self, count: int) -> None:
        self.badge.setIcon(badge_icon(count))
        self.badge.setText(f"{count} to review" if count else "")
        self.badge.setToolTip(
            f"{count} merged edit{'s' if count != 1 else ''} to review: open the review panel"
            if count else "No merged edits to review")
        self.badge.setVisible(bool(count) or bool(self.panel.flags()))
        self.toggle_action.setText(f"&Review Panel ({count})" if count else "&Review Panel")
        self.window.notes_model.set_review_marks(self.panel.notes_to_review())
        self.underline()

    def underline(self) -> None:
        """Underline the open note's unreviewed merged regions."""
        note_id = self.window.editor.note_id
        regions = self.panel.regions_in(note_id) if note_id else []
        self.window.editor.show_review_regions(regions)

    def ask_threshold(self) -> None:
        value, ok = QInputDialog.getInt(
            self.window, "Review Sensitivity",
            "Flag edits made at the same time by different people when they land\n"
            "within this many characters of each other on the same line:",
            self.vault.review.threshold, 0, 1000)
        if ok:
            self.vault.review.set_threshold(value)
            self.settings.set_review_threshold(value)

    def close(self) -> None:
        self.panel.close_panel()
