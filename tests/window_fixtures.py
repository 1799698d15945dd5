"""Windows on fresh vaults, each with its own in-memory keyring, for GUI tests."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings

from app.main_window import MainWindow
from crdt_store.keys import KeyStore
from crdt_store.vault import Vault

from .keyring_fixtures import MemoryKeyring


@pytest.fixture
def open_window(qtbot, tmp_path):
    """A window on a new vault with its own in-memory keyring; closed before the vault."""
    made = []

    def make(name: str) -> MainWindow:
        vault = Vault(tmp_path / f"gui-{name}", display_name=name)
        settings = QSettings(str(tmp_path / f"{name}.ini"), QSettings.Format.IniFormat)
        window = MainWindow(vault, settings, keys=KeyStore(MemoryKeyring(), timeout=5.0))
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        made.append((window, vault))
        return window

    yield make
    for window, vault in made:
        window.close()
        vault.close()
