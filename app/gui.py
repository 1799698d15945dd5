"""Starting the desktop app: the Qt application, the vault and the main window."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtWidgets import QApplication, QMessageBox

from crdt_store.errors import PlaitError, VaultLockedError
from crdt_store.keys import KeyStore
from crdt_store.vault import Vault

from . import APP_ID, __version__
from .icons import ActionIcons, app_icon
from .main_window import MainWindow
from .welcome import ensure_welcome


def run_gui(vault_path: Path) -> int:
    """Open the vault and run the window until it closes. A vault that cannot be opened
    (held by another Plait, written by a newer one) gets a plain message, not a traceback."""
    app = QApplication.instance() or QApplication(sys.argv)
    app.setOrganizationName("Plait")
    app.setApplicationName("Plait")
    app.setApplicationDisplayName("Plait")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName(APP_ID)  # Wayland's app id; lets the desktop match the entry
    app.setWindowIcon(app_icon())
    try:
        vault, message = open_for_window(vault_path)
    except PlaitError as exc:
        QMessageBox.critical(None, "Plait", str(exc))
        return 1
    try:
        if not vault.read_only:
            ensure_welcome(vault)
        keys = KeyStore.from_environment()
        window = MainWindow(vault, keys=keys)
        ActionIcons(window)
        if message or keys.warning:
            window.banner.show_message(message or keys.warning)
        window.show()
        return app.exec()
    finally:
        vault.close()


def open_for_window(vault_path: Path) -> tuple[Vault, str | None]:
    """The vault, or, when another Plait is writing to it, a read-only view and a message
    saying so (the single-instance hand-over comes with the packaging work)."""
    try:
        return Vault(vault_path), None
    except VaultLockedError as exc:
        return Vault(vault_path, read_only=True), (
            f"{exc.holder} is already using this vault, so this window only shows it "
            "(read-only). Close the other window to edit here."
        )
