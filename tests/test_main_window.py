"""The main window on a real vault: lists, editing, merges, menus, settings, screenshots."""

from __future__ import annotations

import shutil
import time

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from app.main_window import MainWindow
from app.welcome import ensure_welcome
from crdt_store.unicode_offsets import TextOp, cp_to_utf16, utf16_to_cp
from crdt_store.vault import Vault

from .screenshots import shot
from .conftest import sync_once


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def make_window(qtbot, settings, vault):
    """Windows are closed before the vault fixture closes its vault."""
    windows = []

    def make(vault: Vault) -> MainWindow:
        window = MainWindow(vault, settings)
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.close()




def dark_palette() -> QPalette:
    palette = QPalette()
    for role, color in [
        (QPalette.ColorRole.Window, "#202124"), (QPalette.ColorRole.WindowText, "#e8eaed"),
        (QPalette.ColorRole.Base, "#1b1b1d"), (QPalette.ColorRole.AlternateBase, "#26272b"),
        (QPalette.ColorRole.Text, "#e8eaed"), (QPalette.ColorRole.Button, "#2d2e31"),
        (QPalette.ColorRole.ButtonText, "#e8eaed"), (QPalette.ColorRole.Highlight, "#3d6fb6"),
        (QPalette.ColorRole.HighlightedText, "#ffffff"), (QPalette.ColorRole.Link, "#8ab4f8"),
        (QPalette.ColorRole.Mid, "#3c4043"), (QPalette.ColorRole.PlaceholderText, "#9aa0a6"),
        (QPalette.ColorRole.ToolTipBase, "#3c4043"), (QPalette.ColorRole.ToolTipText, "#e8eaed"),
    ]:
        palette.setColor(role, QColor(color))
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText, QColor("#80868b"))
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text, QColor("#80868b"))
    return palette


def populate(vault: Vault) -> dict[str, str]:
    work = vault.create_notebook("Work")
    home = vault.create_notebook("Home")
    ids = {
        "plan": vault.create_note(work, "# Launch plan\nShip the **store** first. #plait\n"
                                        "- [x] foundation\n- [ ] editor\n"),
        "groceries": vault.create_note(home, "# Groceries\n- [ ] milk\n- [ ] café\n"),
        "ideas": vault.create_note(work, "# Ideas für 2027 😀\nA calm notes app.\n"),
    }
    vault.set_pinned(ids["plan"], True)
    return ids


def test_first_run_shows_the_welcome_note(make_window, vault) -> None:
    ensure_welcome(vault)
    window = make_window(vault)
    assert window.notes_model.rowCount() == 1
    assert window.editor.widget_text().startswith("# Welcome to Plait")
    assert window.sidebar_model.rowCount() == 3  # All notes, Notes, Trash
    shot(window, "main-window-welcome-light.png")


def test_empty_views_say_what_to_do(make_window, vault) -> None:
    vault.create_notebook("Empty")
    window = make_window(vault)
    assert window.list_stack.currentWidget() is window.empty_label
    assert "Ctrl+N" in window.empty_label.text()
    window.sidebar.setCurrentIndex(window.sidebar_model.index(window.sidebar_model.row_of_kind("trash")))
    assert "trash is empty" in window.empty_label.text()
    shot(window, "main-window-empty-trash.png")


def test_typing_in_the_window_updates_title_and_order(qtbot, make_window, vault) -> None:
    ids = populate(vault)
    window = make_window(vault)
    window.select_note(ids["groceries"])
    assert window.editor.note_id == ids["groceries"]
    cursor = window.editor.textCursor()
    cursor.setPosition(2)  # after "# "
    window.editor.setTextCursor(cursor)
    qtbot.keyClicks(window.editor, "Weekly ")
    qtbot.waitUntil(lambda: window.notes_model.summary_at(
        window.notes_model.row_of(ids["groceries"])).title == "Weekly Groceries", timeout=3000)
    # pinned "Launch plan" stays first; the edited note is now the newest unpinned
    assert [window.notes_model.note_id_at(r) for r in range(2)] == [ids["plan"], ids["groceries"]]
    assert window.editor.note_id == ids["groceries"]


def test_the_list_reorders_when_a_merge_changes_a_title(qtbot, make_window, vault, tmp_path) -> None:
    ids = populate(vault)
    window = make_window(vault)
    window.select_note(ids["ideas"])
    with Vault(tmp_path / "other") as other:
        sync_once(vault, other)
        other.edit(ids["groceries"], [TextOp(2, 0, "Big ")])
        sync_once(other, vault)
    qtbot.waitUntil(lambda: window.notes_model.summary_at(
        window.notes_model.row_of(ids["groceries"])).title == "Big Groceries", timeout=3000)
    assert window.notes_model.note_id_at(1) == ids["groceries"]  # newest after the pinned one
    assert window.editor.note_id == ids["ideas"]  # the open note did not change


def test_a_merge_into_the_open_note_keeps_the_cursor(qtbot, make_window, vault, tmp_path) -> None:
    ids = populate(vault)
    window = make_window(vault)
    window.select_note(ids["ideas"])
    editor = window.editor
    cursor = editor.textCursor()
    text = editor.widget_text()
    cursor.setPosition(cp_to_utf16(text, text.index("calm")))
    editor.setTextCursor(cursor)
    with Vault(tmp_path / "other") as other:
        sync_once(vault, other)
        other.edit(ids["ideas"], [TextOp(0, 0, "Remote line\n")])
        sync_once(other, vault)
    text = editor.widget_text()
    assert text.startswith("Remote line\n# Ideas")
    assert text[utf16_to_cp(text, editor.textCursor().position()):].startswith("calm")


def test_trash_and_restore_with_multi_select(qtbot, make_window, vault) -> None:
    populate(vault)
    window = make_window(vault)
    window.notes.selectAll()
    window.trash_notes()
    assert window.notes_model.rowCount() == 0
    trash_row = window.sidebar_model.row_of_kind("trash")
    window.sidebar.setCurrentIndex(window.sidebar_model.index(trash_row))
    assert window.notes_model.rowCount() == 3
    window.notes.selectAll()
    window.restore_notes()
    assert window.notes_model.rowCount() == 0
    assert len(vault.list_notes()) == 3


def test_undo_action_undoes_only_local_typing(qtbot, make_window, vault, tmp_path) -> None:
    ids = populate(vault)
    window = make_window(vault)
    window.select_note(ids["ideas"])
    window.editor.moveCursor(window.editor.textCursor().MoveOperation.End)
    qtbot.keyClicks(window.editor, "mine")
    qtbot.waitUntil(lambda: not window.editor._dirty)
    with Vault(tmp_path / "other") as other:
        sync_once(vault, other)
        other.edit(ids["ideas"], [TextOp(0, 0, "theirs ")])
        sync_once(other, vault)
    window.undo_action.trigger()
    assert vault.note_text(ids["ideas"]) == window.editor.widget_text() \
        == "theirs # Ideas für 2027 😀\nA calm notes app.\n"


def test_window_remembers_geometry_splitter_and_last_note(qtbot, make_window, vault,
                                                          settings) -> None:
    ids = populate(vault)
    window = make_window(vault)
    window.resize(720, 520)  # inside the offscreen screen (800x600): restoring clamps to it
    window.splitter.setSizes([150, 250, 300])
    window.select_note(ids["groceries"])
    cursor = window.editor.textCursor()
    cursor.setPosition(5)
    window.editor.setTextCursor(cursor)
    sizes = window.splitter.sizes()
    size = window.size()
    window.close()
    again = make_window(vault)
    assert again.editor.note_id == ids["groceries"]
    assert again.editor.textCursor().position() == 5
    assert again.size() == size
    assert again.splitter.sizes()[:2] == sizes[:2]  # the editor takes what is left


def test_every_action_is_in_a_menu_with_a_shortcut(make_window, vault) -> None:
    window = make_window(vault)
    actions = [a for menu in window.menuBar().actions() for a in menu.menu().actions()
               if not a.isSeparator()]
    assert len(actions) >= 18
    missing = [a.text() for a in actions if a.shortcut().isEmpty()
               and a.text() not in ("Move Notebook to &Trash", "Review &Sensitivity…")]
    assert missing == []
    assert window.new_note_action.shortcut().toString() == "Ctrl+N"


def test_new_note_goes_to_the_current_notebook(qtbot, make_window, vault) -> None:
    populate(vault)
    window = make_window(vault)
    home_row = next(r for r in range(window.sidebar_model.rowCount())
                    if window.sidebar_model.data(window.sidebar_model.index(r)) == "Home")
    window.sidebar.setCurrentIndex(window.sidebar_model.index(home_row))
    window.new_note_action.trigger()
    qtbot.keyClicks(window.editor, "Fresh thought")
    qtbot.waitUntil(lambda: not window.editor._dirty)
    note = window.editor.note_id
    assert vault.note_text(note) == "Fresh thought"
    assert vault.notebook(vault.notebook_of(note)).name == "Home"


def test_store_failures_show_a_banner_not_a_dialog(qtbot, make_window, tmp_path) -> None:
    with Vault(tmp_path / "ro") as v:
        note = v.create_note(v.create_notebook("N"), "text")
    reader = Vault(tmp_path / "ro", read_only=True)
    try:
        window = make_window(reader)
        window.select_note(note)
        qtbot.keyClicks(window.editor, "x")
        qtbot.waitUntil(lambda: window.banner.isVisible(), timeout=2000)
        assert "could not be saved" in window.banner.message
        assert "read-only" in window.banner.message
    finally:
        window.close()
        reader.close()


def test_screenshots_light_and_dark(qtbot, make_window, vault) -> None:
    ids = populate(vault)
    window = make_window(vault)
    window.resize(1100, 650)
    window.select_note(ids["plan"])
    shot(window, "main-window-populated-light.png")
    window.setPalette(dark_palette())
    QApplication.processEvents()
    shot(window, "main-window-populated-dark.png")
    assert window.editor.palette().color(QPalette.ColorRole.Base).lightness() < 60


def test_starts_on_a_vault_of_10000_notes(qtbot, make_window, tmp_path) -> None:
    vault_dir = tmp_path / "big"
    with Vault(vault_dir, search=False) as v:  # the window is what is tested here
        nb = v.create_notebook("Big")
        for i in range(10_000):
            v.create_note(nb, f"# Note {i}\nbody {i} #tag{i % 50}")
    vault = Vault(vault_dir, search=False)
    try:
        start = time.perf_counter()
        window = make_window(vault)
        elapsed = time.perf_counter() - start
        assert window.notes_model.rowCount() == 10_000
        assert window.editor.note_id is not None
        print(f"window on 10,000 notes: {elapsed * 1000:.0f} ms")
    finally:
        window.close()
        vault.close()


def test_keyboard_moves_between_list_and_editor(qtbot, make_window, vault) -> None:
    populate(vault)
    window = make_window(vault)
    window.activateWindow()
    window.notes.setFocus()
    qtbot.waitUntil(window.notes.hasFocus)
    qtbot.keyClick(window.notes, Qt.Key.Key_Down)  # the next note opens as you move
    assert window.editor.note_id == window.notes_model.note_id_at(1)
    qtbot.keyClick(window.notes, Qt.Key.Key_Return)
    qtbot.waitUntil(window.editor.hasFocus)
    qtbot.keyClick(window.editor, Qt.Key.Key_Escape)
    qtbot.waitUntil(window.notes.hasFocus)


def test_a_second_window_on_a_busy_vault_opens_read_only_with_a_banner(qtbot, make_window,
                                                                        tmp_path) -> None:
    from app.gui import open_for_window

    with Vault(tmp_path / "busy") as writer:
        note = writer.create_note(writer.create_notebook("N"), "# Shared\nbody")
        writer.flush()
        view, message = open_for_window(tmp_path / "busy")
        try:
            assert view.read_only and "read-only" in message
            window = make_window(view)
            window.banner.show_message(message)
            window.select_note(note)
            assert window.editor.widget_text() == "# Shared\nbody"
            assert window.banner.isVisible()
        finally:
            window.close()
            view.close()


def test_searching_shows_results_and_opens_one_at_its_match(qtbot, make_window, vault) -> None:
    ids = populate(vault)
    vault.create_note(vault.notebook_named("Home"), "# Shopping\nmore café and croissants")
    vault.wait_for_search()
    window = make_window(vault)
    window.activateWindow()
    window.search_action.trigger()
    qtbot.waitUntil(window.search_bar.hasFocus)
    qtbot.keyClicks(window.search_bar, "cafe")  # accent-insensitive
    qtbot.waitUntil(lambda: window.notes_model.rowCount() == 2, timeout=3000)
    titles = {window.notes_model.summary_at(r).title for r in range(2)}
    assert titles == {"Groceries", "Shopping"}
    qtbot.keyClick(window.search_bar, Qt.Key.Key_Return)  # opens the first result
    opened = window.editor.note_id
    assert opened in window._hits
    selected = window.editor.textCursor().selectedText()
    assert selected.lower() == "café"
    shot(window, "main-window-search-light.png")
    window.search_bar.clear()
    qtbot.waitUntil(lambda: window.notes_model.rowCount() == 4, timeout=3000)
    assert ids["plan"] == window.notes_model.note_id_at(0)


def test_a_malformed_query_explains_itself(qtbot, make_window, vault) -> None:
    populate(vault)
    window = make_window(vault)
    window.search_bar.setText('"unclosed')
    with qtbot.waitSignal(window.search_results_shown):
        window.search_bar.run_now()
    assert window.list_stack.currentWidget() is window.empty_label
    assert "quote" in window.empty_label.text().lower()


def test_indexing_shows_progress_and_results_say_they_are_incomplete(qtbot, make_window,
                                                                      tmp_path) -> None:
    from whoosh.filedb.filestore import FileStorage
    from whoosh.index import FileIndex

    from crdt_store.search import SearchIndex
    from crdt_store.search.schema import INDEX_NAME, SCHEMA

    vault_dir = tmp_path / "v"
    with Vault(vault_dir) as v:
        nb = v.create_notebook("Zoo")
        for i in range(20):
            v.create_note(nb, f"# Ocelot {i}\nspotted ocelot number {i}")
    shutil.rmtree(vault_dir / "search")
    SearchIndex(vault_dir / "search").close()  # an empty index: every note must be indexed
    other = FileIndex(FileStorage(str(vault_dir / "search")), schema=SCHEMA,
                      indexname=INDEX_NAME).lock("WRITELOCK")
    assert other.acquire()  # another process holds the index: indexing cannot finish yet
    vault = Vault(vault_dir)
    try:
        window = make_window(vault)
        qtbot.waitUntil(window.index_status.isVisible)
        assert window.index_status.label.text().endswith("of 20")
        window.search_bar.setText("ocelot")
        with qtbot.waitSignal(window.search_results_shown):
            window.search_bar.run_now()
        assert "may be incomplete" in window.count_label.text()
        assert "still indexing" in window.empty_label.text()
        shot(window, "main-window-indexing.png")
        other.release()
        qtbot.waitUntil(lambda: not window.index_status.isVisible(), timeout=30_000)
        qtbot.waitUntil(lambda: window.notes_model.rowCount() == 20, timeout=5000)
        assert window.count_label.text() == "20 results"
    finally:
        window.close()
        vault.close()


def test_only_the_latest_query_s_results_are_shown(qtbot, make_window, vault) -> None:
    populate(vault)
    vault.wait_for_search()
    window = make_window(vault)
    for text in ("milk", "calm", "store"):  # each asked for before the last one's answer
        window.search_bar.setText(text)
        window.search_bar.run_now()
    qtbot.waitUntil(lambda: window.count_label.text() == "1 result", timeout=3000)
    qtbot.waitUntil(lambda: window.notes_model.rowCount() == 1)
    assert window.notes_model.summary_at(0).title == "Launch plan"
    window.search_bar.clear()  # back to the list, even if an answer is still on its way
    qtbot.waitUntil(lambda: window.notes_model.rowCount() == 3, timeout=3000)
    assert not window._hits
