"""The editor bound to the CRDT: typing, IME, paste, remote merges, cursor and undo."""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QInputMethodEvent, QTextCursor
from PySide6.QtWidgets import QApplication

from app.bridge import VaultBridge
from app.note_editor import NoteEditor
from crdt_store.events import DocKind
from crdt_store.unicode_offsets import TextOp
from crdt_store.vault import Vault

from .conftest import sync_once

MIXED = "café e\u0301 👩‍👩‍👧 🇫🇷 中文字 שלום مرحبا"


@pytest.fixture
def editor(qtbot, vault):
    bridge = VaultBridge(vault)
    widget = NoteEditor(bridge)
    qtbot.addWidget(widget)
    widget.resize(600, 400)
    widget.show()
    qtbot.waitExposed(widget)
    yield widget
    widget.close_note()
    bridge.close()


def open_new(editor, body: str = "") -> str:
    vault = editor._vault
    note = vault.create_note(vault.notebook_named("Notes"), body)
    editor.open_note(note)
    return note


def settle(qtbot, editor) -> None:
    """Wait until the editor has committed its pending edits to the vault."""
    qtbot.waitUntil(lambda: not editor._dirty, timeout=2000)


def in_step(editor) -> bool:
    return editor._vault.note_text(editor.note_id) == editor.widget_text()


def commit_string(editor, text: str) -> None:
    event = QInputMethodEvent()
    event.setCommitString(text)
    QApplication.sendEvent(editor, event)


def test_typing_reaches_the_crdt_in_few_transactions(qtbot, editor) -> None:
    note = open_new(editor)
    tickets = []
    editor._vault.subscribe(lambda e: tickets.append(e.ticket) if e.doc_id == note else None)
    qtbot.keyClicks(editor, "Hello world, ")  # QTest only types ASCII keys...
    commit_string(editor, "déjà vu")  # ...accents come through the input method
    settle(qtbot, editor)
    assert editor._vault.note_text(note) == "Hello world, déjà vu"
    assert 1 <= len(tickets) <= 3  # batched per event-loop tick, not per keystroke


def test_ime_commits_paste_and_deletes_with_unicode(qtbot, editor) -> None:
    note = open_new(editor, "start\n")
    editor.moveCursor(QTextCursor.MoveOperation.End)
    commit_string(editor, MIXED)
    settle(qtbot, editor)
    assert in_step(editor)
    QApplication.clipboard().setText("\nPasted 😀 中 שלום\n")
    editor.paste()
    settle(qtbot, editor)
    assert in_step(editor)
    for key in (Qt.Key.Key_Backspace,) * 5 + (Qt.Key.Key_Home,) + (Qt.Key.Key_Delete,) * 3:
        qtbot.keyClick(editor, key)
    settle(qtbot, editor)
    assert in_step(editor)
    assert editor._vault.note_text(note).startswith("start\ncafé")


def test_a_large_paste_and_replace_all_stay_equal(qtbot, editor) -> None:
    open_new(editor, "x")
    big = ("Lorem ipsum dolor sit amet, 😀 中文 façade.\n" * 25000)[:1_000_000]
    QApplication.clipboard().setText(big)
    editor.selectAll()
    editor.paste()
    settle(qtbot, editor)
    assert in_step(editor)
    cursor = editor.document().find("ipsum")
    edits = 0
    while not cursor.isNull() and edits < 200:  # replace-all: many edits in one tick
        cursor.insertText("IPSUM")
        cursor = editor.document().find("ipsum", cursor)
        edits += 1
    settle(qtbot, editor)
    assert in_step(editor)


@pytest.mark.parametrize("where", ["before", "at", "after"])
def test_remote_edits_keep_the_cursor_on_the_same_character(qtbot, editor, tmp_path,
                                                            where) -> None:
    vault = editor._vault
    note = open_new(editor, "alpha beta gamma 😀 delta")
    other = Vault(tmp_path / "other", display_name="Bo")
    try:
        sync_once(vault, other)
        cursor = editor.textCursor()
        cursor.setPosition(editor.widget_text().index("gamma") + 2)  # "ga|mma"
        editor.setTextCursor(cursor)
        char_after = editor.widget_text()[2 + editor.widget_text().index("gamma")]
        pos = {"before": 0, "at": vault.note_text(note).index("gamma") + 2,
               "after": len(vault.note_text(note))}[where]
        other.edit(note, [TextOp(pos, 0, "🇫🇷 new ")])
        sync_once(other, vault)
        text = editor.widget_text()
        assert text == vault.note_text(note) == other.note_text(note)
        position = editor.textCursor().position()
        assert text.encode("utf-16-le")[position * 2:position * 2 + 2].decode("utf-16-le") \
            == char_after
        # a remote delete around the cursor's word keeps it too
        start = vault.note_text(note).index("alpha")
        other.edit(note, [TextOp(start, len("alpha "), "")])
        sync_once(other, vault)
        position = editor.textCursor().position()
        assert editor.widget_text().encode("utf-16-le")[position * 2:position * 2 + 2] \
            .decode("utf-16-le") == char_after
    finally:
        other.close()


def test_remote_edits_keep_the_selection(qtbot, editor, tmp_path) -> None:
    vault = editor._vault
    note = open_new(editor, "one two three")
    cursor = editor.textCursor()
    cursor.setPosition(4)
    cursor.setPosition(7, QTextCursor.MoveMode.KeepAnchor)  # "two"
    editor.setTextCursor(cursor)
    with Vault(tmp_path / "other") as other:
        sync_once(vault, other)
        other.edit(note, [TextOp(0, 0, "zero ")])
        sync_once(other, vault)
    assert editor.textCursor().selectedText() == "two"


def test_a_remote_merge_is_not_echoed_back(qtbot, editor, tmp_path) -> None:
    vault = editor._vault
    note = open_new(editor, "base")
    local = []
    vault.subscribe(lambda e: local.append(e) if e.origin.source.value == "local" else None)
    with Vault(tmp_path / "other") as other:
        sync_once(vault, other)
        other.edit(note, [TextOp(4, 0, " + remote")])
        sync_once(other, vault)
    QApplication.processEvents()
    qtbot.wait(20)  # let the commit timer fire if anything were pending
    assert editor.widget_text() == "base + remote"
    assert not editor._dirty
    assert [e for e in local if e.doc_id == note] == []


def test_pending_typing_is_committed_before_a_merge(qtbot, editor, tmp_path) -> None:
    vault = editor._vault
    note = open_new(editor, "abc")
    with Vault(tmp_path / "other") as other:
        sync_once(vault, other)
        other.edit(note, [TextOp(0, 0, "R")])
        editor.moveCursor(QTextCursor.MoveOperation.End)
        qtbot.keyClicks(editor, "XYZ")  # still pending: the commit timer has not fired
        sync_once(other, vault)
        assert editor.widget_text() == vault.note_text(note) == "RabcXYZ"


def test_undo_after_a_remote_merge_removes_only_local_text(qtbot, editor, tmp_path) -> None:
    vault = editor._vault
    note = open_new(editor, "shared ")
    editor.moveCursor(QTextCursor.MoveOperation.End)
    qtbot.keyClicks(editor, "mine")
    settle(qtbot, editor)
    with Vault(tmp_path / "other") as other:
        sync_once(vault, other)
        other.edit(note, [TextOp(0, 0, "theirs ")])
        sync_once(other, vault)
    assert editor.widget_text() == "theirs shared mine"
    editor.undo()
    assert editor.widget_text() == vault.note_text(note) == "theirs shared "
    editor.redo()
    assert editor.widget_text() == vault.note_text(note) == "theirs shared mine"


def test_undo_groups_a_typing_burst(qtbot, editor) -> None:
    now = [0]
    editor.undo_clock = lambda: now[0]
    note = open_new(editor, "")
    qtbot.keyClicks(editor, "first")
    settle(qtbot, editor)
    now[0] += 10_000  # a pause longer than the undo grouping window
    qtbot.keyClicks(editor, " second")
    settle(qtbot, editor)
    qtbot.keyClick(editor, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert editor._vault.note_text(note) == editor.widget_text() == "first"


def test_task_boxes_toggle_with_the_shortcut_method(qtbot, editor) -> None:
    note = open_new(editor, "- [ ] buy milk\n- [x] done")
    assert editor.toggle_task_at_cursor()
    settle(qtbot, editor)
    assert editor._vault.note_text(note) == "- [x] buy milk\n- [x] done"
    editor.moveCursor(QTextCursor.MoveOperation.End)
    assert editor.toggle_task_at_cursor()
    settle(qtbot, editor)
    assert editor._vault.note_text(note) == "- [x] buy milk\n- [ ] done"


def test_opening_another_note_commits_the_first(qtbot, editor) -> None:
    first = open_new(editor, "")
    qtbot.keyClicks(editor, "unsaved?")
    second = open_new(editor, "other")
    assert editor._vault.note_text(first) == "unsaved?"
    assert editor.note_id == second and editor.widget_text() == "other"


def test_changes_from_the_same_vault_elsewhere_appear(qtbot, editor) -> None:
    vault = editor._vault
    note = open_new(editor, "from the editor")
    vault.append_text(note, " + from the CLI path")  # another initiator in this process
    assert editor.widget_text() == "from the editor + from the CLI path"
    vault.apply_remote_update(note, DocKind.NOTE, vault.encode_state(note), author=vault.author,
                              wall_time=time.time())  # a duplicate changes nothing
    assert editor.widget_text() == "from the editor + from the CLI path"


def test_ime_composition_only_commits_the_final_text(qtbot, editor) -> None:
    from PySide6.QtGui import QInputMethodEvent

    note = open_new(editor, "")
    preedit = QInputMethodEvent("にほ", [])
    QApplication.sendEvent(editor, preedit)  # composing: shown, not yet text
    QApplication.processEvents()
    assert editor._vault.note_text(note) == ""
    done = QInputMethodEvent()
    done.setCommitString("日本")
    QApplication.sendEvent(editor, done)
    settle(qtbot, editor)
    assert editor._vault.note_text(note) == editor.widget_text() == "日本"


def test_dropped_text_reaches_the_crdt(qtbot, editor) -> None:
    from PySide6.QtCore import QMimeData, QPointF
    from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent

    note = open_new(editor, "drop here: ")
    mime = QMimeData()
    mime.setText("🎯 dropped שלום")
    editor.moveCursor(QTextCursor.MoveOperation.End)
    end = editor.cursorRect()
    point = QPointF(end.right() + 200, end.center().y())  # past the end of the line
    args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(editor.viewport(), QDragEnterEvent(point.toPoint(), *args))
    QApplication.sendEvent(editor.viewport(), QDragMoveEvent(point.toPoint(), *args))
    QApplication.sendEvent(editor.viewport(), QDropEvent(point, *args))
    settle(qtbot, editor)
    assert "🎯 dropped שלום" in editor.widget_text()
    assert editor._vault.note_text(note) == editor.widget_text()


def test_remote_lines_above_the_viewport_do_not_scroll_the_view(qtbot, editor, tmp_path) -> None:
    vault = editor._vault
    note = open_new(editor, "".join(f"line {i}\n" for i in range(400)))
    editor.verticalScrollBar().setValue(200)
    top_before = editor.firstVisibleBlock().text()
    assert top_before == "line 200"
    with Vault(tmp_path / "other") as other:
        sync_once(vault, other)
        other.edit(note, [TextOp(0, 0, "new 1\nnew 2\nnew 3\n")])
        sync_once(other, vault)
    assert editor.widget_text().startswith("new 1\n")
    assert editor.firstVisibleBlock().text() == top_before


def test_clicking_a_task_box_ticks_it(qtbot, editor) -> None:
    note = open_new(editor, "- [ ] click me\n- [ ] not me")
    box = editor.document().firstBlock()
    cursor = QTextCursor(box)
    cursor.setPosition(box.position() + 3)  # on the box
    point = editor.cursorRect(cursor).center()
    qtbot.mouseClick(editor.viewport(), Qt.MouseButton.LeftButton, pos=point)
    settle(qtbot, editor)
    assert editor._vault.note_text(note) == "- [x] click me\n- [ ] not me"
    cursor.setPosition(box.position() + 10)  # on the words: a click only places the cursor
    qtbot.mouseClick(editor.viewport(), Qt.MouseButton.LeftButton,
                     pos=editor.cursorRect(cursor).center())
    settle(qtbot, editor)
    assert editor._vault.note_text(note) == "- [x] click me\n- [ ] not me"
