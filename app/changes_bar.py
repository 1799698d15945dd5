"""'Since you last looked': what others changed in a note, shown when it is opened.

Opening a note that collaborators changed since this user last saw it highlights
their changes (new text on green; a thin mark where they only deleted), and a bar
above the editor says who changed it and how many places, with Previous / Next to
step through them and "Mark all seen" to clear the highlights. Opening the note
counts as seeing it: its unread marker goes at once (`Vault.mark_seen`).
"""

from __future__ import annotations

import html

from PySide6.QtCore import Signal
from PySide6.QtGui import QColor, QTextCharFormat
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton

from crdt_store.errors import PlaitError
from crdt_store.vault import Vault

from .note_editor import NoteEditor

INSERTED = QColor(46, 160, 67, 60)  # green, light enough for either palette
DELETED = QColor(207, 34, 46)


class ChangesBar(QFrame):
    """The bar above the editor; `seen()` is emitted when a note was marked seen."""

    seen = Signal(str)  # note id

    def __init__(self, editor: NoteEditor, vault: Vault) -> None:
        super().__init__()
        self.setObjectName("changes_bar")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet("#changes_bar { background: rgba(46, 160, 67, 30); }")
        self.editor = editor
        self.vault = vault
        self.changes: list[tuple[int, int]] = []
        self._index = -1
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.previous_button = QPushButton("◀ Previous")
        self.next_button = QPushButton("Next ▶")
        self.seen_button = QPushButton("Mark all seen")
        self.previous_button.clicked.connect(lambda: self.step(-1))
        self.next_button.clicked.connect(lambda: self.step(1))
        self.seen_button.clicked.connect(self.mark_all_seen)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 3, 8, 3)
        layout.addWidget(self.message, 1)
        for button in (self.previous_button, self.next_button, self.seen_button):
            layout.addWidget(button)
        self.setVisible(False)

    def show_for(self, note_id: str | None) -> None:
        """The editor opened `note_id`: highlight what others changed since last seen,
        then count the note as seen."""
        self.changes, self._index = [], -1
        self.editor.set_marks("changes", [])
        self.setVisible(False)
        if note_id is None or self.vault.read_only:
            return
        try:
            self.changes = self.vault.changes_since_seen(note_id)
            self.vault.mark_seen(note_id)
        except PlaitError:
            return
        self.seen.emit(note_id)
        if not self.changes:
            return
        if self.changes == [(0, len(self.vault.note_text(note_id)))]:  # never seen: all new
            self.changes = []
            self.message.setText(f"New to you: {self._who(note_id, whole=True)} wrote this "
                                 "note.")
            self.previous_button.setVisible(False)
            self.next_button.setVisible(False)
            self.seen_button.setText("OK")
            self.setVisible(True)
            return
        self.previous_button.setVisible(True)
        self.next_button.setVisible(True)
        self.seen_button.setText("Mark all seen")
        inserted, deleted = QTextCharFormat(), QTextCharFormat()
        inserted.setBackground(INSERTED)
        deleted.setUnderlineStyle(QTextCharFormat.UnderlineStyle.SingleUnderline)
        deleted.setUnderlineColor(DELETED)
        text_len = len(self.vault.note_text(note_id))
        shown = [(s, e) if e > s else (max(0, s - 1), min(text_len, s + 1))  # a deletion:
                 for s, e in self.changes]                                  # mark around it
        cursors = self.editor.cursors_for(shown)
        self.editor.set_marks("changes", [
            (cursor, inserted if end > start else deleted)
            for cursor, (start, end) in zip(cursors, self.changes)])
        self.message.setText(self._describe(note_id))
        self.setVisible(True)

    def _describe(self, note_id: str) -> str:
        count = len(self.changes)
        return (f"{self._who(note_id)} changed this note since you last looked: "
                f"{count} place{'s' if count != 1 else ''}.")

    def _who(self, note_id: str, *, whole: bool = False) -> str:
        """The authors of the highlighted changes (or of the whole text), in bold."""
        names: list[str] = []
        try:
            for span in self.vault.authorship(note_id):
                if (whole or any(s < span.end and span.start < e for s, e in self.changes
                                 if e > s)) and span.name not in names:
                    names.append(span.name)
        except PlaitError:
            pass
        return "<b>" + (" and ".join(html.escape(n) for n in names[:3]) or "Others") + "</b>"

    def step(self, direction: int) -> None:
        """Select the next (or previous) change, wrapping around."""
        if not self.changes:
            return
        self._index = (self._index + direction) % len(self.changes)
        start, end = self.changes[self._index]
        self.editor.select_range(start, end)

    def mark_all_seen(self) -> None:
        note_id = self.editor.note_id
        if note_id is not None and not self.vault.read_only:
            self.vault.mark_seen(note_id)
            self.seen.emit(note_id)
        self.changes, self._index = [], -1
        self.editor.set_marks("changes", [])
        self.setVisible(False)
