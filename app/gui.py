"""Starting the desktop app: the Qt application, the vault and the main window."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtWidgets import QApplication, QMessageBox

from crdt_store.errors import PlaitError
from crdt_store.vault import Vault

from .main_window import MainWindow
from .welcome import ensure_welcome


def run_gui(vault_path: Path) -> int:
    """Open the vault and run the window until it closes. A vault that cannot be opened
    (held by another Plait, written by a newer one) gets a plain message, not a traceback."""
    app = QApplication.instance() or QApplication(sys.argv)
    app.setOrganizationName("Plait")
    app.setApplicationName("Plait")
    app.setApplicationDisplayName("Plait")
    try:
        vault = Vault(vault_path)
    except PlaitError as exc:
        QMessageBox.critical(None, "Plait", str(exc))
        return 1
    try:
        ensure_welcome(vault)
        window = MainWindow(vault)
        window.show()
        return app.exec()
    finally:
        vault.close()
