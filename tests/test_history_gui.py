"""History in the window: unread markers and "since you last looked", the authorship
view, and (below) the history panel, on real vaults syncing through a real relay."""

from __future__ import annotations

from PySide6.QtGui import QColor

from app.colors import author_color
from crdt_store.unicode_offsets import TextOp

from .screenshots import shot
from .test_review_gui import shared_note

pytest_plugins = ["tests.relay_fixtures", "tests.window_fixtures"]  # relay, open_window


def open_in(qtbot, window, note) -> None:
    """Open the note in the window once its list shows it."""
    qtbot.waitUntil(lambda: window.notes_model.row_of(note) is not None)
    window.select_note(note)
    assert window.editor.note_id == note


def test_others_changes_are_unread_until_seen_and_highlighted_when_opened(
        qtbot, open_window, devices, relay):
    ada, window, note, pumped = shared_note(qtbot, open_window, devices, relay)
    bo = window.vault
    qtbot.waitUntil(lambda: window.notes_model.row_of(note) is not None)
    window.select_note(note)  # Bo reads it, then opens another note
    other = bo.create_note(bo.notebook_of(note), "# Bo's list\n- tyres\n")
    window.refresh_lists()
    window.select_note(other)
    assert window.editor.note_id == other

    ada.vault.edit(note, [TextOp(len("# Car\n"), 0, "Ada: 🚗 serviced on Monday. ")])
    qtbot.waitUntil(pumped(lambda: "serviced" in bo.note_text(note)), timeout=15_000)
    model = window.notes_model
    qtbot.waitUntil(lambda: model.index(model.row_of(note)).data(model.UnreadRole) is True)
    nb_row = window.sidebar_model.row_of_notebook(bo.notebook_of(note))
    assert window.sidebar_model.index(nb_row).data(window.sidebar_model.UnreadRole) == 1
    shot(window, "unread-marker.png")

    window.select_note(note)  # opening it: highlighted, and no longer unread
    bar = window.changes_bar
    assert not bar.isHidden()
    assert "Ada" in bar.message.text() and "1 place" in bar.message.text()
    assert model.index(model.row_of(note)).data(model.UnreadRole) is False
    assert window.sidebar_model.index(nb_row).data(window.sidebar_model.UnreadRole) == 0
    highlighted = [s for s in window.editor.extraSelections()
                   if s.format.background().color().alpha() == 60]
    assert [s.cursor.selectedText() for s in highlighted] == ["Ada: 🚗 serviced on Monday. "]
    bar.next_button.click()
    assert window.editor.textCursor().selectedText() == "Ada: 🚗 serviced on Monday. "
    shot(window, "since-you-last-looked.png")
    bar.seen_button.click()
    assert bar.isHidden() and not [s for s in window.editor.extraSelections()
                                   if s.format.background().color().alpha() == 60]


def test_the_authorship_view_tints_text_by_author_with_a_legend(qtbot, open_window,
                                                                devices, relay):
    ada, window, note, pumped = shared_note(qtbot, open_window, devices, relay)
    bo = window.vault
    open_in(qtbot, window, note)
    bo.edit(note, [TextOp(len(bo.note_text(note)), 0, "Bo: שלום, 日本語 too.\n")])
    qtbot.waitUntil(pumped(lambda: "שלום" in ada.vault.note_text(note)), timeout=15_000)

    window.authorship_action.trigger()
    view = window.authorship
    assert view.enabled and not window.authorship_legend.isHidden()
    legend = window.authorship_legend.text()
    assert "Ada" in legend and "Bo" in legend
    tints = {s.format.background().color().name() for s in window.editor.extraSelections()
             if s.format.background().color().alpha() == 55}
    assert tints == {author_color("Ada").name(), author_color("Bo").name()}
    text = bo.note_text(note)
    assert view.span_at(text.index("שלום")).name == "Bo"
    assert view.span_at(text.index("Car")).name == "Ada"
    assert QColor(author_color("Bo")).isValid()
    shot(window, "authorship-view.png")
    window.authorship_action.trigger()
    assert window.authorship_legend.isHidden()
    assert not [s for s in window.editor.extraSelections()
                if s.format.background().color().alpha() == 55]


def test_the_history_panel_previews_diffs_and_restores_a_version(qtbot, open_window,
                                                                 devices, relay):
    ada, window, note, pumped = shared_note(qtbot, open_window, devices, relay)
    bo = window.vault
    open_in(qtbot, window, note)
    first = bo.note_text(note)
    bo.edit(note, [TextOp(len(first), 0, "Bo: tyres 🛞 next week.\n")])  # Bo's session
    qtbot.waitUntil(pumped(lambda: "tyres" in ada.vault.note_text(note)), timeout=15_000)
    ada.vault.edit(note, [TextOp(0, len("# Car"), "# The car")])  # then Ada's
    qtbot.waitUntil(pumped(lambda: bo.note_text(note).startswith("# The car")), timeout=15_000)
    bo.flush()

    panel = window.history
    with qtbot.waitSignal(panel.loaded, timeout=10_000):
        window.history_action.trigger()
    qtbot.waitUntil(lambda: panel.timeline.count() >= 3)
    names = [s.authors for s in panel._sessions]
    assert names[0] == ("Ada",) and ("Bo",) in names  # newest first
    oldest = panel.timeline.count() - 1
    with qtbot.waitSignal(panel.loaded, timeout=10_000):
        panel.timeline.setCurrentRow(oldest)
    assert panel.version == first
    assert panel.preview.toPlainText() == first
    with qtbot.waitSignal(panel.loaded, timeout=10_000):
        panel.mode.setCurrentIndex(panel.mode.findData("since"))
    shown = panel.preview.toHtml()
    assert "tyres" in shown and "#d1f5d3" in shown  # Bo's line shows as added since
    shot(window, "history-panel.png")

    def accept_restore() -> None:
        from PySide6.QtWidgets import QApplication
        dialog = QApplication.activeModalWidget()
        shot(dialog, "history-restore-preview.png")
        dialog.restore_button.click()

    with qtbot.waitSignal(panel.loaded, timeout=10_000):
        panel.mode.setCurrentIndex(panel.mode.findData("version"))
    from PySide6.QtCore import QTimer
    QTimer.singleShot(0, accept_restore)
    panel.restore_button.click()
    assert bo.note_text(note) == first  # restored as a new edit...
    assert "Restored" in panel.status.text()
    qtbot.waitUntil(pumped(lambda: ada.vault.note_text(note) == first), timeout=15_000)
    qtbot.waitUntil(lambda: panel.timeline.count() >= 4)  # ...that synced, and is history
    assert panel._sessions[0].authors == ("Bo",)
