"""A minimal read-only window over the vault, until the full GUI lands.

It lists notes from the store's index and shows the selected note's Markdown.
Failures to open the vault are shown as a plain message, never a traceback.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QApplication,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QPlainTextEdit,
    QSplitter,
)

from crdt_store.errors import PlaitError
from crdt_store.vault import Vault


class MainWindow(QMainWindow):
    def __init__(self, vault: Vault) -> None:
        super().__init__()
        self.vault = vault
        self.setWindowTitle("Plait")
        self.resize(960, 640)
        self.notes = QListWidget()
        self.notes.setAlternatingRowColors(True)
        self.viewer = QPlainTextEdit()
        self.viewer.setReadOnly(True)
        self.viewer.setPlaceholderText("Select a note to read it.")
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.notes)
        splitter.addWidget(self.viewer)
        splitter.setSizes([320, 640])
        self.setCentralWidget(splitter)
        self.notes.currentItemChanged.connect(self._show_current)
        self.reload()
        self.statusBar().addWidget(QLabel(f"Vault: {vault.path}"))

    def reload(self) -> None:
        self.notes.clear()
        for note in self.vault.list_notes():
            when = datetime.fromtimestamp(note.modified).strftime("%Y-%m-%d %H:%M")
            item = QListWidgetItem(f"{note.display_title}\n{when}  {note.snippet}")
            item.setData(Qt.ItemDataRole.UserRole, note.note_id)
            self.notes.addItem(item)
        if self.notes.count() == 0:
            self.viewer.setPlaceholderText(
                "No notes yet. Create one from a terminal: echo '# Hello' | plait new"
            )
        else:
            self.notes.setCurrentRow(0)

    def _show_current(self, item: QListWidgetItem | None) -> None:
        if item is not None:
            self.viewer.setPlainText(self.vault.note_text(item.data(Qt.ItemDataRole.UserRole)))


def run_gui(vault_path: Path) -> int:
    app = QApplication.instance() or QApplication(sys.argv)
    app.setApplicationName("Plait")
    try:
        vault = Vault(vault_path)
    except PlaitError as exc:
        QMessageBox.critical(None, "Plait", str(exc))
        return 1
    window = MainWindow(vault)
    window.show()
    try:
        return app.exec()
    finally:
        vault.close()
