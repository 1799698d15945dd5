"""The review panel in the window: a flag appears after sync, Go to selects the merged
text, Compare shows both sides, and Keep mine changes the text on both devices."""

from __future__ import annotations

from PySide6.QtGui import QTextCharFormat

from app.compare_dialog import CompareDialog
from crdt_store.sync.invite import parse_invite
from crdt_store.unicode_offsets import TextOp

from .screenshots import shot

pytest_plugins = ["tests.relay_fixtures", "tests.window_fixtures"]  # relay, open_window

TEXT = "# Car\nThe car is purple today, and the 🚗 is clean.\n"
AT = TEXT.index("purple")


def shared_note(qtbot, open_window, devices, relay):
    """Ada (a headless device) shares a note with Bo, whose window is open; returns Ada,
    Bo's window, the note, and a waiter that pumps Ada while Bo's event loop runs."""
    ada = devices.add("Ada")
    nb = ada.vault.create_notebook("Family")
    note = ada.vault.create_note(nb, TEXT)
    window = open_window("Bo")
    window.sync.engine.join(parse_invite(ada.engine.share(nb, (relay.url,)).link()))

    def pumped(condition):
        return lambda: devices.pump_until(condition, timeout=0)

    qtbot.waitUntil(pumped(lambda: window.vault.document_kind(note) is not None
                           and window.vault.note_text(note) == TEXT), timeout=15_000)
    return ada, window, note, pumped


def test_a_flag_appears_after_sync_and_keep_mine_changes_both_devices(qtbot, open_window,
                                                                      devices, relay):
    ada, window, note, pumped = shared_note(qtbot, open_window, devices, relay)
    bo = window.vault
    qtbot.waitUntil(lambda: window.notes_model.row_of(note) is not None)  # listed
    window.select_note(note)
    assert window.editor.note_id == note
    assert not window.review.badge.isVisible()

    relay.stop()  # both edit the same word while apart
    ada.vault.edit(note, [TextOp(AT, 6, "mauve")])
    bo.edit(note, [TextOp(AT, 6, "violet")])
    relay.start()
    qtbot.waitUntil(pumped(lambda: window.review.panel.unreviewed == 1), timeout=30_000)
    qtbot.waitUntil(pumped(lambda: ada.vault.note_text(note) == bo.note_text(note)),
                    timeout=30_000)
    merged = bo.note_text(note)
    assert ("mauveviolet" in merged) or ("violetmauve" in merged)

    # the counts: badge, list marker, editor underline
    assert window.review.badge.text() == "1 to review" and window.review.badge.isVisible()
    row = window.notes_model.row_of(note)
    assert window.notes_model.index(row).data(window.notes_model.ReviewRole) is True
    underlined = [s for s in window.editor.extraSelections()
                  if s.format.underlineStyle() == QTextCharFormat.UnderlineStyle.DashUnderline]
    assert len(underlined) == 1 and underlined[0].cursor.selectedText() in (
        "mauveviolet", "violetmauve")

    window.review.badge.click()
    panel = window.review.panel
    assert panel.isVisible()
    [flag] = panel.flags()
    assert panel.select_flag(flag.flag_id)
    assert panel.keep_mine_button.text() == "Keep mine"
    assert panel.keep_theirs_button.text() == "Keep Ada's"
    window.editor.select_range(0, 0)
    panel.go_button.click()
    assert window.editor.textCursor().selectedText() == flag.merged
    shot(window, "review-panel.png")

    compare = CompareDialog(flag, window)
    assert compare.texts["earlier"].toPlainText() == "violet"  # Bo's (this device) first
    assert compare.texts["arrived"].toPlainText() == "mauve"
    assert compare.texts["merged"].toPlainText() == flag.merged
    compare.show()
    qtbot.waitExposed(compare)
    shot(compare, "review-compare.png")
    compare.close()

    panel.keep_mine_button.click()
    expected = TEXT.replace("purple", "violet")
    assert bo.note_text(note) == expected
    qtbot.waitUntil(pumped(lambda: ada.vault.note_text(note) == expected), timeout=30_000)
    qtbot.waitUntil(lambda: window.editor.toPlainText() == expected)
    assert panel.unreviewed == 0
    assert window.notes_model.index(row).data(window.notes_model.ReviewRole) is False
    assert not [s for s in window.editor.extraSelections()
                if s.format.underlineStyle() == QTextCharFormat.UnderlineStyle.DashUnderline]
    panel.show_reviewed.setChecked(True)
    assert len(panel.flags()) == 1 and panel.tree.topLevelItemCount() == 1
    shot(window, "review-panel-reviewed.png")


def test_looks_good_marks_the_flag_reviewed_and_go_to_says_when_the_text_is_gone(
        qtbot, open_window, devices, relay):
    ada, window, note, pumped = shared_note(qtbot, open_window, devices, relay)
    bo = window.vault
    relay.stop()
    ada.vault.edit(note, [TextOp(AT, 0, "bright ")])
    bo.edit(note, [TextOp(AT + 6, 0, " and green")])
    relay.start()
    qtbot.waitUntil(pumped(lambda: window.review.panel.unreviewed == 1), timeout=30_000)
    panel = window.review.panel
    [flag] = panel.flags()
    panel.select_flag(flag.flag_id)
    start = bo.note_text(note).index("The car")
    bo.edit(note, [TextOp(start, len("The car is bright purple and green"), "")])
    panel.go_button.click()
    assert not panel.message.isHidden() and "deleted" in panel.message.text()
    panel.looks_good_button.click()
    assert panel.unreviewed == 0 and window.review.badge.text() == ""


def test_a_note_trashed_while_edited_can_be_restored_from_the_panel(qtbot, open_window,
                                                                  devices, relay):
    ada, window, note, pumped = shared_note(qtbot, open_window, devices, relay)
    bo = window.vault
    relay.stop()
    ada.vault.trash_note(note)  # Ada clears out old notes while Bo is still writing
    bo.edit(note, [TextOp(len(TEXT), 0, "Bo: and it drives well.\n")])
    relay.start()
    panel = window.review.panel
    qtbot.waitUntil(pumped(lambda: panel.unreviewed == 1), timeout=30_000)
    [flag] = panel.flags()
    assert flag.kind == "trashed" and "trash" in flag.summary
    window.review.toggle()
    panel.select_flag(flag.flag_id)
    assert panel.keep_mine_button.text() == "Restore note"
    assert panel.keep_theirs_button.text() == "Keep in trash"
    assert not panel.compare_button.isEnabled()
    shot(window, "review-panel-trashed.png")
    panel.keep_mine_button.click()
    qtbot.waitUntil(pumped(lambda: not ada.vault.note_summary(note).trashed), timeout=30_000)
    assert not bo.note_summary(note).trashed and panel.unreviewed == 0
    assert ada.vault.note_text(note).endswith("Bo: and it drives well.\n")
