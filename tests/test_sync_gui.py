"""Sync in the window: share and join dialogs, status, and a collaborator typing live."""

from __future__ import annotations

from PySide6.QtGui import QTextCursor

from crdt_store.unicode_offsets import TextOp

from .screenshots import shot

pytest_plugins = ["tests.relay_fixtures", "tests.window_fixtures"]  # relay, open_window


def test_share_dialog_makes_an_invite_and_the_sidebar_shows_the_state(qtbot, open_window, relay):
    window = open_window("Ada")
    nb = window.vault.create_notebook("Trip to Lisbon")
    window.vault.create_note(nb, "# Packing\n- passport\n")
    window.refresh_lists()
    window.sidebar.setCurrentIndex(window.sidebar_model.index(
        window.sidebar_model.row_of_notebook(nb)))
    assert window.sync_label.text() == "Local only"
    window.share_action.trigger()
    dialog = window.sync.dialog
    dialog.relays.setPlainText(relay.url)
    dialog.create_button.click()
    qtbot.waitUntil(lambda: dialog.link.text().startswith("plait://join?"), timeout=10_000)
    assert dialog.code.text().startswith("PLAIT1-")
    assert "This link is the key" in dialog.warning.text()
    assert "Ada (this device)" in dialog.members.text()
    shot(dialog, "share-dialog.png")
    dialog.accept()
    qtbot.waitUntil(lambda: window.sync_label.text().startswith("Synced"), timeout=10_000)
    status = window.sidebar_model.index(window.sidebar_model.row_of_notebook(nb)).data(
        window.sidebar_model.SyncRole)
    assert status is not None and status.state == "synced"
    shot(window, "main-window-shared.png")


def test_a_collaborator_s_typing_appears_live_without_moving_the_cursor(qtbot, open_window,
                                                                      devices, relay):
    ada = devices.add("Ada")
    nb = ada.vault.create_notebook("Plans")
    note = ada.vault.create_note(nb, "# Plans\nhello wörld 😀\n")
    link = ada.engine.share(nb, (relay.url,)).link()

    def pump_ada(condition):
        return lambda: devices.pump_until(condition, timeout=0)

    window = open_window("Bo")
    dialog = window.sync.join(link)
    assert "Ada invites you to “Plans”" in dialog.message.text()
    shot(dialog, "join-dialog.png")
    dialog.join_button.click()
    qtbot.waitUntil(lambda: dialog.result() == dialog.DialogCode.Accepted, timeout=10_000)
    bo = window.vault
    qtbot.waitUntil(pump_ada(lambda: bo.document_kind(note) is not None
                             and bo.note_text(note) == "# Plans\nhello wörld 😀\n"
                             and bo.notebook_of(note) == nb), timeout=15_000)
    qtbot.waitUntil(lambda: window.current_filter() == ("notebook", nb))  # shown once it arrives
    window.select_note(note)
    assert window.editor.note_id == note

    cursor = window.editor.textCursor()  # Bo's cursor after "hello", with "wörld" selected
    text = window.editor.toPlainText()
    assert "wörld" in text, (text, bo.note_text(note), window.editor.note_id)
    start = text.index("wörld")
    cursor.setPosition(start)
    cursor.setPosition(start + len("wörld"), QTextCursor.MoveMode.KeepAnchor)
    window.editor.setTextCursor(cursor)

    ada.vault.edit(note, [TextOp(0, 0, "Ada 🚀 was here. ")])  # before Bo's cursor
    qtbot.waitUntil(pump_ada(lambda: window.editor.toPlainText().startswith("Ada 🚀 was here. ")),
                    timeout=5000)
    moved = window.editor.textCursor()
    assert moved.selectedText() == "wörld"  # the same words, shifted by Ada's text
    assert moved.selectionStart() == start + len("Ada 🚀 was here. ".encode("utf-16-le")) // 2

    window.editor.insertPlainText("; Bo agrees")  # Bo types over the selection: back to Ada
    qtbot.waitUntil(pump_ada(lambda: "; Bo agrees" in ada.vault.note_text(note)), timeout=5000)
    assert ada.vault.note_text(note) == window.editor.toPlainText()
    shot(window, "main-window-live-edit.png")
