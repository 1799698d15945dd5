"""The history panel: the open note's editing sessions, any past version, and restore.

A dock beside the editor. The timeline lists sessions newest first (author colour,
time range, characters added and removed) and loads older ones on demand. Selecting
a session previews that version read-only, or its word-level diff against the
current text or against another session chosen with "Compare with". Restore opens a
preview of what it would change (the whole note, or only the text selected in the
preview) and then makes it one ordinary edit that syncs. Rebuilding versions runs on
the background worker; the GUI thread only reads the session list from disk.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from crdt_store.errors import PlaitError
from crdt_store.history import HistoryError, NoteHistory, Session, word_diff
from crdt_store.unicode_offsets import utf16_to_cp
from crdt_store.vault import Vault

from .background import Background
from .colors import author_color
from .note_delegate import friendly_time
from .diff_html import diff_html
from .restore_dialog import RestoreDialog

PAGE = 50  # sessions loaded at a time
RELOAD_AFTER_MS = 1500  # quiet after an edit before the timeline is re-read
SessionRole = Qt.ItemDataRole.UserRole + 1
VERSION, SINCE, COMPARE = "version", "since", "compare"


class HistoryPanel(QDockWidget):
    """The dock. `restored()` is emitted after a restore (the editor shows the merge)."""

    restored = Signal()
    loaded = Signal()  # a page of sessions or a preview arrived (tests wait on it)

    def __init__(self, vault: Vault, background: Background, parent: QWidget | None = None,
                 *, clock: Callable[[], float] = time.time) -> None:
        super().__init__("History", parent)
        self.setObjectName("history_panel")
        self.vault = vault
        self.background = background
        self._clock = clock
        self.note_id: str | None = None
        self._history: NoteHistory | None = None
        self._sessions: list[Session] = []
        self._serial = 0  # results for an older request are dropped
        self.version: str | None = None  # the selected version's text, once rebuilt
        self._notice = ""  # shown again once the reloaded timeline arrives

        self.timeline = QListWidget()
        self.timeline.setObjectName("history_timeline")
        self.timeline.setStyleSheet(
            "QListWidget::item:selected { background: rgba(48, 140, 198, 45); }")
        self.timeline.currentItemChanged.connect(lambda *_: self._preview())
        self.more_button = QPushButton("Load older sessions")
        self.more_button.clicked.connect(self._load_more)
        self.mode = QComboBox()
        self.mode.addItem("This version", VERSION)
        self.mode.addItem("Changes since, up to now", SINCE)
        self.mode.addItem("Compare with session…", COMPARE)
        self.mode.currentIndexChanged.connect(lambda _i: self._preview())
        self.other = QComboBox()  # the session to compare with
        self.other.currentIndexChanged.connect(lambda _i: self._preview())
        self.preview = QTextBrowser()
        self.preview.setObjectName("history_preview")
        self.preview.setOpenLinks(False)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.restore_button = QPushButton("Restore…")
        self.copy_button = QPushButton("Copy")
        self.restore_button.setToolTip("Bring back this version, or the part of it you "
                                       "selected, as a new edit (shown first)")
        self.copy_button.setToolTip("Copy this version (or the selected part of it)")
        self.restore_button.clicked.connect(self._restore)
        self.copy_button.clicked.connect(self._copy)

        modes = QHBoxLayout()
        modes.addWidget(self.mode, 1)
        modes.addWidget(self.other, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.restore_button)
        buttons.addWidget(self.copy_button)
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.timeline, 2)
        layout.addWidget(self.more_button)
        layout.addLayout(modes)
        layout.addWidget(self.preview, 3)
        layout.addWidget(self.status)
        layout.addLayout(buttons)
        self.setWidget(body)
        self._settle = QTimer(self)  # typing: re-read the sessions after a pause
        self._settle.setSingleShot(True)
        self._settle.setInterval(RELOAD_AFTER_MS)
        self._settle.timeout.connect(self._reload)
        self.visibilityChanged.connect(lambda shown: shown and self._reload())
        self._show_note(None)

    # ---- following the open note ----------------------------------------------------------

    def show_note(self, note_id: str | None) -> None:
        """Follow the note open in the editor (loaded only while the panel is shown)."""
        if note_id != self.note_id:
            self._show_note(note_id)
            if self.isVisible():
                self._reload()

    def _show_note(self, note_id: str | None) -> None:
        self.note_id = note_id
        self._history = None
        self._sessions = []
        self.version = None
        self.timeline.clear()
        self.other.clear()
        self.preview.clear()
        self.more_button.setVisible(False)
        self.status.setText("" if note_id else "Open a note to see its history.")
        self._update_buttons()

    def note_changed(self) -> None:
        """The open note changed (an edit or a merge): refresh once it settles."""
        if self.isVisible():
            self._settle.start()

    def _reload(self) -> None:
        """Read the note's sessions (disk, on this thread), then count their changes on
        the worker."""
        if self.note_id is None:
            return
        try:
            history = self.vault.note_history(self.note_id, wait=False)  # never the disk
        except PlaitError as exc:
            self.status.setText(str(exc))
            return
        self._history = history
        keep = self.selected_session()
        self._sessions = []
        self._fetch(lambda: history.page(PAGE), lambda page: self._add_page(page, keep))

    def _load_more(self) -> None:
        history, oldest = self._history, self._sessions[-1].id if self._sessions else None
        if history is not None and oldest is not None:
            self._fetch(lambda: history.page(PAGE, before=oldest),
                        lambda page: self._add_page(page, None, append=True))

    def _fetch(self, job, done) -> None:
        self._serial += 1
        serial, note_id = self._serial, self.note_id

        def arrived(result) -> None:
            if serial == self._serial and note_id == self.note_id:
                done(result)
                self.loaded.emit()

        def failed(exc: Exception) -> None:
            if serial == self._serial:
                self.status.setText(str(exc) if isinstance(exc, (PlaitError, HistoryError))
                                    else f"The history could not be read: {exc}")
                self.loaded.emit()

        self.background.run(job, arrived, failed)

    def _add_page(self, page: list[Session], keep: Session | None, *,
                  append: bool = False) -> None:
        if not append:
            self.timeline.blockSignals(True)
            self.timeline.clear()
            self.other.clear()
            self.timeline.blockSignals(False)
        self._sessions += page
        for session in page:
            item = QListWidgetItem()
            item.setData(SessionRole, session.id)
            label = QLabel(self._describe(session))
            label.setTextFormat(Qt.TextFormat.RichText)
            label.setContentsMargins(4, 3, 4, 3)
            label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
            item.setSizeHint(label.sizeHint())
            self.timeline.addItem(item)
            self.timeline.setItemWidget(item, label)
            self.other.addItem(f"{_when(session, self._clock())} — {', '.join(session.authors)}",
                               session.id)
        self.more_button.setVisible(len(page) == PAGE)
        if not self._sessions:
            self.status.setText("No history yet.")
        elif not append:
            self.status.setText(self._notice)  # what the last action did, if anything
            self._notice = ""
            row = next((i for i, s in enumerate(self._sessions)
                        if keep is not None and s.id == keep.id), 0)
            self.timeline.setCurrentRow(row)
        self._update_buttons()

    def _describe(self, session: Session) -> str:
        authors = " ".join(f"<span style='color:{author_color(a).name()}'>●</span> "
                           f"<b>{html.escape(a or 'Someone')}</b>" for a in session.authors)
        counts = ""
        if session.added is not None:
            counts = (f" · <span style='color:#1a7f37'>+{session.added}</span>"
                      f" <span style='color:#cf222e'>−{session.removed}</span>")
        return (f"{authors}<br><span style='color:gray'>{html.escape(_when(session, self._clock()))}"
                f"</span>{counts}")

    # ---- the preview ----------------------------------------------------------------------

    def selected_session(self) -> Session | None:
        item = self.timeline.currentItem()
        session_id = item.data(SessionRole) if item is not None else None
        return next((s for s in self._sessions if s.id == session_id), None)

    def _preview(self) -> None:
        session, history = self.selected_session(), self._history
        mode = self.mode.currentData()
        self.other.setVisible(mode == COMPARE)
        self.version = None
        self._update_buttons()
        if session is None or history is None:
            self.preview.clear()
            return
        current = self.vault.note_text(self.note_id) if mode == SINCE else None
        other_id = self.other.currentData() if mode == COMPARE else None

        def rebuild():
            version = history.version_text(session.id)
            if mode == VERSION:
                return version, None
            if mode == SINCE:
                return version, word_diff(version, current)
            older, newer = sorted((session.id, other_id))
            return version, word_diff(history.version_text(older), history.version_text(newer))

        def show(result) -> None:
            self.version, segments = result
            if segments is None:
                self.preview.setPlainText(self.version)
            else:
                self.preview.setHtml(diff_html(segments))
            self._update_buttons()

        self._fetch(rebuild, show)

    def _update_buttons(self) -> None:
        ready = self.version is not None and not self.vault.read_only
        self.restore_button.setEnabled(ready)
        self.copy_button.setEnabled(self.version is not None)

    def _selected_region(self) -> tuple[int, int] | None:
        """The text selected in the preview, as a range of the version (code points);
        only while the preview shows the version itself."""
        cursor = self.preview.textCursor()
        if self.mode.currentData() != VERSION or not cursor.hasSelection() or not self.version:
            return None
        return (utf16_to_cp(self.version, cursor.selectionStart()),
                utf16_to_cp(self.version, cursor.selectionEnd()))

    def _copy(self) -> None:
        if self.version is None:
            return
        region = self._selected_region()
        text = self.version[region[0]:region[1]] if region else self.version
        QGuiApplication.clipboard().setText(text)
        self.status.setText("Copied the selected part." if region else "Copied this version.")

    def _restore(self) -> None:
        session = self.selected_session()
        if session is None or self.note_id is None:
            return
        region = self._selected_region()
        try:
            preview = self.vault.preview_restore(self.note_id, session.id, region=region)
        except PlaitError as exc:
            self.status.setText(str(exc))
            return
        if not preview.ops:
            self.status.setText("The note already reads like this.")
            return
        dialog = RestoreDialog(preview, session, self)
        if dialog.exec() != RestoreDialog.DialogCode.Accepted:
            return
        try:
            self.vault.restore_version(self.note_id, session.id, region=region)
        except PlaitError as exc:
            self.status.setText(str(exc))
            return
        self._notice = "Restored as a new edit; it syncs like any other."
        self.status.setText(self._notice)
        self.restored.emit()
        self._reload()


def _when(session: Session, now: float) -> str:
    start, end = friendly_time(session.start, now), friendly_time(session.end, now)
    return start if start == end else f"{start} – {end}"
