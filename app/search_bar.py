"""The search field above the note list: searches as you type, after a short pause."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QLineEdit, QWidget

DEBOUNCE_MS = 150


class SearchBar(QLineEdit):
    """Emits `query_changed(text)` once typing pauses; Enter asks for the next match,
    Down moves into the results and Escape clears the search."""

    query_changed = Signal(str)
    next_requested = Signal()
    into_results = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setPlaceholderText("Search notes  (Ctrl+K)")
        self.setClearButtonEnabled(True)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(lambda: self.query_changed.emit(self.text().strip()))
        self.textChanged.connect(lambda _t: self._timer.start())

    def run_now(self) -> None:
        """Search without waiting for the pause (Enter, tests)."""
        self._timer.stop()
        self.query_changed.emit(self.text().strip())

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            if self._timer.isActive():
                self.run_now()
            self.next_requested.emit()
        elif event.key() == Qt.Key.Key_Down:
            self.into_results.emit()
        elif event.key() == Qt.Key.Key_Escape:
            self.clear()
            self.run_now()
        else:
            super().keyPressEvent(event)
