"""The status-bar indicator shown while the search index is rebuilt or caught up."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QWidget

POLL_MS = 250

Progress = tuple[int, int] | None  # (notes indexed, notes to index), None when idle


class IndexStatus(QWidget):
    """Polls `progress_of` (cheap, thread-safe) and shows a progress bar while the index
    is being (re)built; hidden otherwise. Emits `finished` when a rebuild ends, so
    results that were marked incomplete can be refreshed."""

    finished = Signal()

    def __init__(self, progress_of: Callable[[], Progress], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._progress_of = progress_of
        self._was_running = False
        self.label = QLabel("Indexing notes for search")
        self.bar = QProgressBar()
        self.bar.setMaximumWidth(160)
        self.bar.setMaximumHeight(14)
        self.bar.setTextVisible(False)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 6, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        self.setVisible(False)
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self.poll)
        self._timer.start()
        self.poll()

    @property
    def running(self) -> bool:
        return self._was_running

    def poll(self) -> None:
        progress = self._progress_of()
        if progress is None:
            if self._was_running:
                self._was_running = False
                self.setVisible(False)
                self.finished.emit()
            return
        done, total = progress
        self._was_running = True
        self.bar.setRange(0, max(total, 1))
        self.bar.setValue(min(done, total))
        self.label.setText(f"Indexing notes for search: {done:,} of {total:,}")
        self.setToolTip("Search results may be incomplete until indexing is done. "
                        "Editing is not affected.")
        self.setVisible(True)
