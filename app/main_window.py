"""The main window: notebooks, the note list and the editor, all rendered from the vault.

The window owns no data. It asks the vault for lists, re-asks when the bridge
says something changed, and hands the chosen note to the editor.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QItemSelectionModel, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QInputDialog,
    QLabel,
    QListView,
    QMainWindow,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from crdt_store.errors import PlaitError
from crdt_store.model import NoteSummary
from crdt_store.note_index import list_order
from crdt_store.search import SearchHit, SearchResults
from crdt_store.keys import KeyStore
from crdt_store.vault import Vault

from .authorship_view import AuthorshipView
from .banner import Banner
from .background import Background
from .bridge import VaultBridge
from .changes_bar import ChangesBar
from .history_panel import HistoryPanel
from .index_status import IndexStatus
from .markdown_highlighter import MarkdownHighlighter
from .note_delegate import NoteDelegate
from .search_bar import SearchBar
from .note_editor import NoteEditor
from .note_list_model import NoteListModel
from .notebook_list_model import NotebookDelegate, NotebookListModel
from .settings import WindowSettings
from .review_controls import ReviewControls
from .sync_controls import SyncControls

log = logging.getLogger(__name__)

LIST_REFRESH_MS = 50  # coalesce bursts of change events into one list refresh
EMPTY_TEXT = {
    "all": "No notes yet.\nPress Ctrl+N to write one.",
    "notebook": "This notebook is empty.\nPress Ctrl+N to write a note in it.",
    "trash": "The trash is empty.\nNotes you delete wait here until you restore them.",
}


class MainWindow(QMainWindow):
    """Plait's window: sidebar, note list, editor, menus and status bar."""

    search_results_shown = Signal()  # a search's results (or its error) replaced the list

    def __init__(self, vault: Vault, settings: QSettings | None = None,
                 keys: KeyStore | None = None) -> None:
        super().__init__()
        self.vault = vault
        self.bridge = VaultBridge(vault, self)
        self.settings = WindowSettings(settings or QSettings())
        self.setWindowTitle("Plait")
        self.resize(1100, 700)
        self._notices_shown = 0

        self.sidebar_model = NotebookListModel(self)
        self.sidebar = QListView()
        self.sidebar.setModel(self.sidebar_model)
        self.sidebar.setItemDelegate(NotebookDelegate(self.sidebar))
        self.sidebar.setObjectName("sidebar")

        self.notes_model = NoteListModel(self)
        self.notes = QListView()
        self.notes.setModel(self.notes_model)
        self.notes.setItemDelegate(NoteDelegate(self.notes, matches=self._snippet_matches))
        self.notes.setUniformItemSizes(True)
        self.notes.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.notes.setDragEnabled(True)
        self.empty_label = QLabel()
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)
        self.empty_label.setEnabled(False)  # drawn in the palette's dimmed colour
        self.list_stack = QStackedWidget()
        self.list_stack.addWidget(self.notes)
        self.list_stack.addWidget(self.empty_label)
        self.search_bar = SearchBar()
        self._hits: dict[str, SearchHit] = {}  # the shown search results, by note id
        self._search_serial = 0  # the latest search asked for; older results are dropped
        self.background = Background(self)
        list_pane = _column(self.search_bar, self.list_stack)

        self.editor = NoteEditor(self.bridge)
        self.highlighter = MarkdownHighlighter(self.editor.document(), self.editor.palette())
        self.banner = Banner()
        self.changes_bar = ChangesBar(self.editor, vault)
        self.authorship_legend = QLabel()
        self.authorship_legend.setObjectName("authorship_legend")
        self.authorship_legend.setContentsMargins(6, 2, 6, 2)
        self.authorship = AuthorshipView(self.editor, vault, self.authorship_legend, self)
        editor_pane = _column(_stack(self.banner, self.changes_bar, self.authorship_legend),
                              self.editor)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.sidebar)
        self.splitter.addWidget(list_pane)
        self.splitter.addWidget(editor_pane)
        self.splitter.setStretchFactor(2, 1)
        self.splitter.setSizes([200, 300, 600])
        self.setCentralWidget(self.splitter)

        self.count_label = QLabel()
        self.sync_label = QLabel()
        self.index_status = IndexStatus(lambda: self.vault.search_progress, self)
        self.index_status.finished.connect(self._search_again)
        self.statusBar().addWidget(self.count_label, 1)
        self.statusBar().addPermanentWidget(self.index_status)
        self.statusBar().addPermanentWidget(self.sync_label)

        self._changed_notes: set[str] = set()
        self._catalogs_changed = False
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(LIST_REFRESH_MS)
        self._refresh_timer.timeout.connect(self._apply_changes)
        self._upkeep = QTimer(self)
        self._upkeep.setInterval(1000)
        self._upkeep.timeout.connect(self._do_upkeep)
        self._upkeep.start()

        self._build_actions()
        self.bridge.note_changed.connect(self._on_note_changed)
        self.bridge.catalog_changed.connect(self._on_catalog_changed)
        self.bridge.problem.connect(self.banner.show_message)
        self.sidebar.selectionModel().currentChanged.connect(lambda *_: self.refresh_notes())
        self.notes.selectionModel().currentChanged.connect(self._open_current)
        self.notes.activated.connect(lambda _i: self.editor.setFocus())  # Enter: write
        back = QShortcut(QKeySequence(Qt.Key.Key_Escape), self.editor)  # Escape: back to the list
        back.setContext(Qt.ShortcutContext.WidgetShortcut)
        back.activated.connect(self.notes.setFocus)
        find = QShortcut(QKeySequence(QKeySequence.StandardKey.Find), self.notes)  # Ctrl+F
        find.setContext(Qt.ShortcutContext.WidgetShortcut)
        find.activated.connect(self.search)
        self.search_bar.query_changed.connect(self.run_search)
        self.search_bar.next_requested.connect(self._next_match_or_open)
        self.search_bar.into_results.connect(self.notes.setFocus)
        self.editor.undo_state_changed.connect(self._update_undo_actions)
        self.editor.palette_changed.connect(self.highlighter.set_palette)  # follows OS light/dark
        self.editor.note_opened.connect(self.changes_bar.show_for)
        self.changes_bar.seen.connect(lambda _note: self.refresh_unread())

        self.sync = SyncControls(self, vault, keys, self.bridge, self.background,
                                 self.sync_label, self.sidebar_model, self.settings)
        self.review = ReviewControls(self, vault, self.settings)
        self.history = HistoryPanel(vault, self.background, self)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.history)
        self.history.hide()  # until asked for (or restored with the window's state)
        self.history_action = self.history.toggleViewAction()
        self.history_action.setText("&History")
        self.history_action.setShortcut("Ctrl+Shift+H")
        self.view_menu.addAction(self.history_action)
        self.editor.note_opened.connect(self.history.show_note)
        self.history.restored.connect(self.editor.setFocus)
        self._restore_state()
        self._show_notices()

    # ---- lists -------------------------------------------------------------------------

    def _on_note_changed(self, event) -> None:
        self._changed_notes.add(event.doc_id)
        self._refresh_timer.start()

    def _on_catalog_changed(self, _event) -> None:
        self._catalogs_changed = True
        self._refresh_timer.start()

    def _apply_changes(self) -> None:
        """Bring the lists up to date with the changes of the last LIST_REFRESH_MS.

        A note's text changing moves only its own row: re-reading 10,000 rows per
        keystroke froze the window. Catalog changes (new, moved, trashed notes,
        renamed notebooks) re-read everything.
        """
        changed, self._changed_notes = self._changed_notes, set()
        open_note = self.editor.note_id
        if (open_note in changed and not self.vault.read_only
                and open_note in self.vault.unread_notes()):
            self.vault.mark_seen(open_note)  # merged while open: seen as it arrived
        if open_note in changed:
            self.authorship.note_changed()
            self.history.note_changed()
        if self._catalogs_changed:
            self._catalogs_changed = False
            self.refresh_lists()
        elif changed and self.search_bar.text().strip():
            self.run_search(self.search_bar.text().strip())  # a shown result may have changed
        elif changed:
            self._update_rows(changed)
        self.refresh_unread()

    def refresh_unread(self) -> None:
        """The unread markers: notes others changed since this user looked."""
        self.notes_model.set_unread(self.vault.unread_notes())
        self.sidebar_model.set_unread(self.vault.unread_counts())

    def _update_rows(self, note_ids: set[str]) -> None:
        kind, notebook_id = self.current_filter()
        notes = {n.note_id: n for n in self.notes_model.notes()}
        for note_id in note_ids:
            try:
                summary = self.vault.note_summary(note_id)
            except PlaitError:
                notes.pop(note_id, None)
                continue
            wanted = summary.trashed == (kind == "trash") and (
                kind != "notebook" or summary.notebook_id == notebook_id)
            if wanted:
                notes[note_id] = summary
            else:
                notes.pop(note_id, None)
        self.notes_model.set_notes(sorted(notes.values(), key=list_order))

    def refresh_lists(self) -> None:
        """Re-read notebooks and the visible notes from the vault (cheap; no disk waits)."""
        all_count, trash_count = self.vault.note_counts()
        self.sidebar_model.set_notebooks(self.vault.notebooks(), all_count, trash_count)
        if not self.sidebar.currentIndex().isValid():
            self.sidebar.setCurrentIndex(self.sidebar_model.index(0))
        self.refresh_notes()
        self.refresh_unread()

    def select_notebook(self, notebook_id: str) -> bool:
        """Show a notebook's notes (False if the sidebar does not list it yet)."""
        self.refresh_lists()
        row = self.sidebar_model.row_of_notebook(notebook_id)
        if row is None:
            return False
        self.sidebar.setCurrentIndex(self.sidebar_model.index(row))
        return True

    def refresh_notes(self) -> None:
        if self.search_bar.text().strip():
            self.run_search(self.search_bar.text().strip())
            return
        kind, notebook_id = self.current_filter()
        notes = self.vault.list_notes(notebook_id, trashed=kind == "trash")
        self.notes_model.set_notes(notes)
        self.empty_label.setText(EMPTY_TEXT[kind])
        self.list_stack.setCurrentIndex(0 if notes else 1)
        self.count_label.setText(f"{len(notes)} note{'s' if len(notes) != 1 else ''}")
        if self.editor.note_id is not None and self.notes_model.row_of(self.editor.note_id) is None:
            self._select_row(0 if notes else None)
        elif self.editor.note_id is None and notes:
            self._select_row(0)

    def current_filter(self) -> tuple[str, str | None]:
        row = self.sidebar.currentIndex().row()
        if row < 0:
            return "all", None
        return self.sidebar_model.kind_at(row), self.sidebar_model.notebook_id_at(row)

    def selected_note_ids(self) -> list[str]:
        rows = sorted(i.row() for i in self.notes.selectionModel().selectedRows())
        ids = [self.notes_model.note_id_at(r) for r in rows]
        if not ids and self.editor.note_id:
            ids = [self.editor.note_id]
        return ids

    def _select_row(self, row: int | None) -> None:
        if row is None:
            self.editor.open_note(None)
            return
        index = self.notes_model.index(row)
        self.notes.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect)

    def select_note(self, note_id: str) -> None:
        row = self.notes_model.row_of(note_id)
        if row is None:  # not in this view: show all notes, where every live note is
            self.search_bar.clear()
            self.sidebar.setCurrentIndex(self.sidebar_model.index(0))
            row = self.notes_model.row_of(note_id)
        if row is None:  # a trashed note
            trash = self.sidebar_model.row_of_kind("trash")
            if trash is not None:
                self.sidebar.setCurrentIndex(self.sidebar_model.index(trash))
                row = self.notes_model.row_of(note_id)
        if row is not None:
            self._select_row(row)

    def open_note_at(self, note_id: str, start: int, end: int) -> None:
        """Open a note with code points [start, end) of its text selected (review: Go to)."""
        self.select_note(note_id)
        if self.editor.note_id == note_id:
            self.editor.select_range(start, end)
            self.editor.setFocus()

    def _open_current(self, current, _previous) -> None:
        if current.isValid():
            note_id = self.notes_model.note_id_at(current.row())
            if note_id != self.editor.note_id:
                self.editor.open_note(note_id)
                hit = self._hits.get(note_id)
                if hit is not None:
                    self.editor.show_matches(hit.body_matches)

    # ---- actions -----------------------------------------------------------------------

    def _action(self, menu, text: str, slot, shortcut=None, tip: str = "",
                fallback: str | None = None) -> QAction:
        """A menu action; a standard key the platform leaves unbound gets `fallback`."""
        action = QAction(text, self)
        if isinstance(shortcut, QKeySequence.StandardKey):
            bindings = QKeySequence.keyBindings(shortcut)
            action.setShortcuts(bindings or ([QKeySequence(fallback)] if fallback else []))
        elif shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _build_actions(self) -> None:
        bar = self.menuBar()
        std = QKeySequence.StandardKey
        file = bar.addMenu("&File")
        self.new_note_action = self._action(file, "&New Note", self.new_note, std.New)
        self._action(file, "New Note&book…", self.new_notebook, "Ctrl+Shift+N")
        file.addSeparator()
        self._action(file, "&Quit", self.close, std.Quit, fallback="Ctrl+Q")

        edit = bar.addMenu("&Edit")
        self.undo_action = self._action(edit, "&Undo", self.editor.undo, std.Undo)
        self.redo_action = self._action(edit, "&Redo", self.editor.redo, std.Redo,
                                        fallback="Ctrl+Shift+Z")
        edit.addSeparator()
        self._action(edit, "Cu&t", self.editor.cut, std.Cut)
        self._action(edit, "&Copy", self.editor.copy, std.Copy)
        self._action(edit, "&Paste", self.editor.paste, std.Paste)
        self._action(edit, "Select &All", self.editor.selectAll, std.SelectAll)
        edit.addSeparator()
        self._action(edit, "Toggle &Task Box", self.editor.toggle_task_at_cursor, "Ctrl+Return")
        self.search_action = self._action(edit, "&Search Notes…", self.search, "Ctrl+K")
        self._action(edit, "Find &Next Match", self.editor.next_match, std.FindNext,
                     fallback="F3")

        note = bar.addMenu("&Note")
        self.pin_action = self._action(note, "&Pin / Unpin", self.toggle_pin, "Ctrl+Shift+P")
        self._action(note, "&Move to Notebook…", self.move_notes, "Ctrl+Shift+M")
        self.trash_action = self._action(note, "Move to &Trash", self.trash_notes,
                                         "Ctrl+Backspace")
        self._action(note, "&Restore from Trash", self.restore_notes, "Ctrl+Shift+R")

        notebook = bar.addMenu("Note&book")
        self._action(notebook, "&Rename…", self.rename_notebook, "F2")
        self.share_action = self._action(notebook, "&Share Notebook…", self.share_notebook,
                                         "Ctrl+Shift+S")
        self.join_action = self._action(notebook, "&Join Shared Notebook…",
                                        self.join_notebook, "Ctrl+Shift+J")
        self._action(notebook, "Move Notebook to &Trash", self.trash_notebook)

        self.view_menu = bar.addMenu("&View")
        self.authorship_action = self._action(self.view_menu, "Show &Authorship",
                                              self.authorship.set_enabled, "Ctrl+Shift+A")
        self.authorship_action.setCheckable(True)

        go = bar.addMenu("&Go")
        self._action(go, "&Notebooks", lambda: self.sidebar.setFocus(), "Ctrl+1")
        self._action(go, "Note &List", lambda: self.notes.setFocus(), "Ctrl+2")
        self._action(go, "&Editor", lambda: self.editor.setFocus(), "Ctrl+3")

    def _update_undo_actions(self, can_undo: bool, can_redo: bool) -> None:
        self.undo_action.setEnabled(can_undo)
        self.redo_action.setEnabled(can_redo)

    def _guarded(self, what: str, action) -> None:
        """Run a store operation; a failure becomes a banner, never a dialog with a traceback."""
        try:
            action()
        except PlaitError as exc:
            self.banner.show_message(f"{what} failed: {exc}")
        self.refresh_lists()

    def new_note(self) -> None:
        kind, notebook_id = self.current_filter()
        if kind != "notebook" or notebook_id is None:
            notebook_id = self.vault.notebook_named("Notes")
        note_id = self.vault.create_note(notebook_id, "")
        if kind == "trash":
            self.sidebar.setCurrentIndex(self.sidebar_model.index(0))
        self.refresh_lists()
        self.select_note(note_id)
        self.editor.setFocus()

    def new_notebook(self) -> None:
        name, ok = QInputDialog.getText(self, "New Notebook", "Name:")
        if ok and name.strip():
            notebook_id = self.vault.create_notebook(name.strip())
            self.refresh_lists()
            row = self.sidebar_model.row_of_notebook(notebook_id)
            if row is not None:
                self.sidebar.setCurrentIndex(self.sidebar_model.index(row))

    def toggle_pin(self) -> None:
        ids = self.selected_note_ids()
        pinned = all(self.vault.note_summary(n).pinned for n in ids)
        self._guarded("Pinning", lambda: [self.vault.set_pinned(n, not pinned) for n in ids])

    def trash_notes(self) -> None:
        ids = self.selected_note_ids()
        self._guarded("Moving to the trash", lambda: [self.vault.trash_note(n) for n in ids])

    def restore_notes(self) -> None:
        ids = self.selected_note_ids()

        def restore() -> None:
            for note_id in ids:
                self.vault.restore_note(note_id)
                notebook_id = self.vault.notebook_of(note_id)
                if notebook_id and self.vault.notebook(notebook_id).trashed:
                    self.vault.restore_notebook(notebook_id)

        self._guarded("Restoring", restore)

    def move_notes(self) -> None:
        ids = self.selected_note_ids()
        books = self.vault.notebooks()
        if not ids or not books:
            return
        name, ok = QInputDialog.getItem(self, "Move to Notebook", "Notebook:",
                                        [b.name for b in books], 0, False)
        if ok:
            target = next(b.notebook_id for b in books if b.name == name)
            self._guarded("Moving", lambda: [self.vault.move_note(n, target) for n in ids])

    def rename_notebook(self) -> None:
        kind, notebook_id = self.current_filter()
        if kind != "notebook" or notebook_id is None:
            return
        current = self.vault.notebook(notebook_id).name
        name, ok = QInputDialog.getText(self, "Rename Notebook", "Name:", text=current)
        if ok and name.strip():
            self._guarded("Renaming", lambda: self.vault.rename_notebook(notebook_id, name))

    def trash_notebook(self) -> None:
        kind, notebook_id = self.current_filter()
        if kind == "notebook" and notebook_id is not None:
            self._guarded("Moving the notebook to the trash",
                          lambda: self.vault.trash_notebook(notebook_id))
            self.sidebar.setCurrentIndex(self.sidebar_model.index(0))

    def share_notebook(self) -> None:
        kind, notebook_id = self.current_filter()
        if kind != "notebook" or notebook_id is None:
            self.banner.show_message("Choose a notebook in the sidebar to share it.")
            return
        if self.sync.share(notebook_id) is None:
            self.banner.show_message("Sharing is not available in a read-only window.")

    def join_notebook(self, invite_text: str = "") -> None:
        if self.sync.join(invite_text) is None:
            self.banner.show_message("Joining is not available in a read-only window.")

    def search(self) -> None:
        """Ctrl+K (and Ctrl+F in the list): into the search field."""
        self.search_bar.setFocus()
        self.search_bar.selectAll()

    def run_search(self, query: str) -> None:
        """Show the notes matching `query` in place of the list (the normal list if empty).

        The search runs on the background worker, so typing never waits for it; a
        result that arrives after the query changed again is dropped.
        """
        self._search_serial += 1
        if not query:
            self._hits = {}
            self.refresh_notes()
            return
        serial = self._search_serial
        kind, notebook_id = self.current_filter()
        try:  # a notebook's results are the vault's, filtered: ask for more of them
            job = self.vault.prepare_search(query, trash=kind == "trash",
                                            limit=500 if kind == "notebook" else 100)
        except PlaitError as exc:
            self._show_search_error(serial, exc)
            return
        self.background.run(
            job,
            lambda results: self._show_results(serial, query, results, notebook_id),
            lambda exc: self._show_search_error(serial, exc),
        )

    def _show_results(self, serial: int, query: str, results: SearchResults,
                      notebook_id: str | None) -> None:
        if serial != self._search_serial:
            return
        hits = [h for h in results.hits if notebook_id is None or h.notebook_id == notebook_id]
        self._hits = {h.note_id: h for h in hits}
        self.notes_model.set_notes([_as_summary(h) for h in hits])
        self.empty_label.setText(f"No notes match “{query}”.")
        self.list_stack.setCurrentIndex(0 if hits else 1)
        count = f"{len(hits)} result{'s' if len(hits) != 1 else ''}"
        if results.incomplete:
            count += " so far (still indexing: results may be incomplete)"
            self.empty_label.setText(f"No notes match “{query}” yet. "
                                     "Plait is still indexing your notes.")
        self.count_label.setText(count)
        self.search_results_shown.emit()

    def _show_search_error(self, serial: int, exc: Exception) -> None:
        """A malformed query says what is wrong, in place of the results."""
        if serial != self._search_serial:
            return
        if not isinstance(exc, PlaitError):
            log.error("search failed", exc_info=exc)
            exc = PlaitError(f"Search failed ({type(exc).__name__}: {exc}).")
        self._hits = {}
        self.notes_model.set_notes([])
        self.empty_label.setText(str(exc))
        self.list_stack.setCurrentIndex(1)
        self.count_label.setText("")
        self.search_results_shown.emit()

    def _search_again(self) -> None:
        """Indexing finished: results shown as incomplete are redone."""
        if self.search_bar.text().strip():
            self.run_search(self.search_bar.text().strip())

    def _snippet_matches(self, note_id: str) -> list[tuple[int, int]]:
        hit = self._hits.get(note_id)
        return hit.snippet_matches if hit else []

    def _next_match_or_open(self) -> None:
        """Enter in the search field: open the first result, then step through matches."""
        if self.editor.note_id in self._hits and self.editor.next_match():
            return
        if self.notes_model.rowCount():
            self._select_row(0)

    # ---- upkeep, state and events ------------------------------------------------------

    def _do_upkeep(self) -> None:
        self.vault.deliver_pending()
        self.vault.refresh_index()
        self._show_notices()

    def _show_notices(self) -> None:
        notices = self.vault.notices
        if len(notices) > self._notices_shown:
            self.banner.show_message(notices[-1].message)
            self._notices_shown = len(notices)

    def _restore_state(self) -> None:
        geometry = self.settings.geometry()
        if geometry is not None:
            self.restoreGeometry(geometry)
        splitter = self.settings.splitter()
        if splitter is not None:
            self.splitter.restoreState(splitter)
        state = self.settings.window_state()
        if state is not None:
            self.restoreState(state)
        self.refresh_lists()
        note_id, cursor = self.settings.last_note()
        if note_id and self.vault.has_note(note_id):
            self.select_note(note_id)
            if self.editor.note_id == note_id:
                text_cursor = self.editor.textCursor()
                text_cursor.setPosition(min(cursor, self.editor.document().characterCount() - 1))
                self.editor.setTextCursor(text_cursor)

    def closeEvent(self, event: QCloseEvent) -> None:
        self._upkeep.stop()
        self._refresh_timer.stop()
        self.background.close()
        self.sync.close()
        self.review.close()
        self.editor.commit_pending()
        self.settings.save(self.saveGeometry(), self.splitter.saveState(), self.editor.note_id,
                           self.editor.textCursor().position(), self.saveState())
        self.editor.close_note()
        self.bridge.close()
        super().closeEvent(event)


def _as_summary(hit: SearchHit) -> NoteSummary:
    """A search hit as a note-list row: its snippet is the excerpt around the match."""
    return NoteSummary(hit.note_id, hit.notebook_id, hit.title, hit.snippet, (), hit.modified,
                       hit.modified, False, False, 0)


def _stack(*widgets: QWidget) -> QWidget:
    """Strips on top of one another (each hides itself when it has nothing to say)."""
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(2)
    for widget in widgets:
        layout.addWidget(widget)
    return box


def _column(top: QWidget, main: QWidget) -> QWidget:
    """A pane: a strip on top (search field, banner) and the main widget below it."""
    pane = QWidget()
    layout = QVBoxLayout(pane)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(4)
    layout.addWidget(top)
    layout.addWidget(main, 1)
    return pane
