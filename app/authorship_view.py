"""The editor's authorship view: text tinted by who wrote it, a legend, and hover.

A toggle (View ▸ Show Authorship). When on, the open note's text is tinted in each
author's colour (`colors.author_color`, the same everywhere in the app), a legend
above the editor names the authors, and hovering over text shows who wrote it and
when. The spans come from `Vault.authorship` (crdt_store/history/authorship.py),
which is cached per note version; the tints are cursors, so they follow typing
until the next refresh.
"""

from __future__ import annotations

import html
import time
from bisect import bisect_right
from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtGui import QColor, QTextCharFormat
from PySide6.QtWidgets import QLabel, QToolTip

from crdt_store.errors import PlaitError
from crdt_store.history.authorship import AuthorSpan
from crdt_store.unicode_offsets import utf16_to_cp
from crdt_store.vault import Vault

from .colors import author_color
from .note_delegate import friendly_time
from .note_editor import NoteEditor

TINT_ALPHA = 55
REFRESH_MS = 400  # after typing or a merge, re-read who wrote what


class AuthorshipView(QObject):
    """Owns the tints of one editor and the legend label above it."""

    def __init__(self, editor: NoteEditor, vault: Vault, legend: QLabel,
                 parent: QObject | None = None, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__(parent)
        self.editor = editor
        self.vault = vault
        self.legend = legend
        self._clock = clock
        self.enabled = False
        self.spans: list[AuthorSpan] = []
        self._starts: list[int] = []
        legend.setVisible(False)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        editor.viewport().installEventFilter(self)
        editor.note_opened.connect(lambda _note: self.refresh())

    def set_enabled(self, on: bool) -> None:
        self.enabled = on
        self.refresh()

    def note_changed(self) -> None:
        """The open note changed: refresh soon (not on every keystroke)."""
        if self.enabled:
            self._timer.start()

    def refresh(self) -> None:
        note_id = self.editor.note_id
        if not self.enabled or note_id is None:
            self.spans, self._starts = [], []
            self.editor.set_marks("authorship", [])
            self.legend.setVisible(False)
            return
        try:
            self.spans = self.vault.authorship(note_id)
        except PlaitError:
            self.spans = []
        self._starts = [s.start for s in self.spans]
        formats: dict[str, QTextCharFormat] = {}
        marks = []
        cursors = self.editor.cursors_for([(s.start, s.end) for s in self.spans])
        for span, cursor in zip(self.spans, cursors):
            fmt = formats.get(span.name)
            if fmt is None:
                tint = QColor(author_color(span.name))
                tint.setAlpha(TINT_ALPHA)
                fmt = formats[span.name] = QTextCharFormat()
                fmt.setBackground(tint)
            marks.append((cursor, fmt))
        self.editor.set_marks("authorship", marks)
        self._show_legend()

    def _show_legend(self) -> None:
        chars: dict[str, int] = {}
        for span in self.spans:
            chars[span.name] = chars.get(span.name, 0) + span.end - span.start
        if not chars:
            self.legend.setText("<span style='color:gray'>No authorship recorded yet.</span>")
        else:
            total = sum(chars.values())
            parts = [f"<span style='background-color:{_rgba(author_color(name))}'>&nbsp;"
                     f"{html.escape(name or 'Someone')}&nbsp;</span> "
                     f"<span style='color:gray'>{round(100 * n / total)}%</span>"
                     for name, n in sorted(chars.items(), key=lambda kv: -kv[1])]
            self.legend.setText("Written by: " + " &nbsp; ".join(parts))
        self.legend.setVisible(True)

    def span_at(self, position: int) -> AuthorSpan | None:
        """The span holding code point `position` of the current text."""
        i = bisect_right(self._starts, position) - 1
        if i >= 0 and self.spans[i].start <= position < self.spans[i].end:
            return self.spans[i]
        return None

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if self.enabled and event.type() == QEvent.Type.ToolTip:
            cursor = self.editor.cursorForPosition(event.pos())
            text = self.editor.toPlainText()
            span = self.span_at(utf16_to_cp(text, cursor.position()))
            if span is not None:
                when = friendly_time(span.time, self._clock()) if span.time else ""
                QToolTip.showText(event.globalPos(),
                                  f"{span.name or 'Someone'}{' · ' + when if when else ''}",
                                  self.editor)
            else:
                QToolTip.hideText()
            return True
        return False


def _rgba(color: QColor) -> str:
    return f"rgba({color.red()},{color.green()},{color.blue()},{TINT_ALPHA})"
