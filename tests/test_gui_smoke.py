"""The minimal window starts on a fresh vault and on a populated one (offscreen)."""

from __future__ import annotations

from PySide6.QtCore import Qt

from app.gui import MainWindow

from .conftest import ARTIFACTS


def test_window_on_an_empty_vault_says_what_to_do(qtbot, vault) -> None:
    window = MainWindow(vault)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    assert window.notes.count() == 0
    assert "plait new" in window.viewer.placeholderText()
    ARTIFACTS.mkdir(exist_ok=True)
    assert window.grab().save(str(ARTIFACTS / "minimal-window-empty.png"))


def test_window_lists_notes_and_shows_the_selected_one(qtbot, vault) -> None:
    nb = vault.create_notebook("Work")
    vault.create_note(nb, "# Older note\nfirst")
    newest = vault.create_note(nb, "# Plan für 明天 😀\nShip the store #plait")
    window = MainWindow(vault)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    assert window.notes.count() == 2
    first = window.notes.item(0)
    assert first.data(Qt.ItemDataRole.UserRole) == newest
    assert first.text().startswith("Plan für 明天 😀")
    assert window.viewer.toPlainText() == vault.note_text(newest)
    window.notes.setCurrentRow(1)
    assert window.viewer.toPlainText() == "# Older note\nfirst"
    ARTIFACTS.mkdir(exist_ok=True)
    assert window.grab().save(str(ARTIFACTS / "minimal-window-notes.png"))
