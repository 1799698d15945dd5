"""The Markdown editor: a QPlainTextEdit whose text is always a rendering of one note's CRDT.

Local edits: every change to the widget marks it dirty; once per event-loop tick
the widget's text is diffed against `_shadow` (the text the CRDT holds) and the
splices go to the vault in one transaction. Before the vault merges a remote
update, pending edits are committed first, so the two never refer to different
versions of the text.

Remote and external edits arrive as ChangeEvents with code-point splices; they
are applied to the QTextDocument as minimal edits through a separate cursor, so
Qt keeps the user's cursor and selection on the same characters. Never
`setPlainText` on a merge. Undo and redo go through a pycrdt UndoManager that
tracks only this editor's own transactions, so they never remove a collaborator's
text; Qt's own undo stack is off.
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from typing import Iterator

from pycrdt import UndoManager
from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
    QPalette,
    QTextCharFormat,
    QTextCursor,
)
from PySide6.QtWidgets import QPlainTextEdit, QTextEdit, QWidget

from crdt_store.errors import PlaitError
from crdt_store.events import ChangeEvent
from crdt_store.model import note_body
from crdt_store.search import to_utf16
from crdt_store.textdiff import diff_ops
from crdt_store.unicode_offsets import TextOp, apply_ops, ops_to_utf16

from .bridge import VaultBridge
from .colors import REVIEW_AMBER

log = logging.getLogger(__name__)

MARK_LAYERS = ("authorship", "changes", "review", "matches")
UNDO_GROUP_MS = 500  # keystrokes closer together than this undo as one step


class NoteEditor(QPlainTextEdit):
    """Edits one note at a time; see the module docstring for how it stays in step."""

    note_opened = Signal(object)  # note id or None
    undo_state_changed = Signal(bool, bool)  # can undo, can redo
    palette_changed = Signal(object)  # QPalette: light or dark theme switched

    @staticmethod
    def undo_clock() -> int:
        """Milliseconds for grouping undo steps (tests swap in their own clock)."""
        return time.monotonic_ns() // 1_000_000

    def __init__(self, bridge: VaultBridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._bridge = bridge
        self._vault = bridge.vault
        self._note_id: str | None = None
        self._shadow = ""  # the note's text as the CRDT has it
        self._dirty = False  # the widget has edits the CRDT has not seen
        self._applying = False  # we are writing CRDT changes into the widget
        self._committing = False  # our own vault.edit is running
        self._undo: UndoManager | None = None
        self._matches: list[QTextCursor] = []  # search matches shown in this note
        self._match_index = -1
        # Highlights drawn over the text, by layer (drawn in this order): authorship
        # tints, changes since last seen, review underlines, search matches.
        self._layers: dict[str, list[QTextEdit.ExtraSelection]] = {
            layer: [] for layer in MARK_LAYERS}
        self.setUndoRedoEnabled(False)
        self.setTabChangesFocus(False)
        self.document().setDocumentMargin(12)
        self.setPlaceholderText("Select a note, or press Ctrl+N to write a new one.")
        self._commit_timer = QTimer(self)
        self._commit_timer.setSingleShot(True)
        self._commit_timer.setInterval(0)
        self._commit_timer.timeout.connect(self.commit_pending)
        self.document().contentsChange.connect(self._on_contents_change)
        bridge.note_changed.connect(self._on_note_changed)
        self._stop_guard = self._vault.before_remote_merge(self._before_merge)
        self.setEnabled(False)

    # ---- which note ------------------------------------------------------------------

    @property
    def note_id(self) -> str | None:
        return self._note_id

    def open_note(self, note_id: str | None, cursor_position: int = 0) -> None:
        """Show a note (None: nothing). Pending edits of the previous note are committed."""
        self.commit_pending()
        self._note_id = note_id
        text = self._vault.note_text(note_id) if note_id else ""
        with self._writing():
            self.setPlainText(text)  # opening a note, not merging: a fresh document is right
        self._shadow = text
        self._dirty = False
        self._undo = None
        for layer in self._layers:
            self._layers[layer] = []
        self.show_matches([])
        if note_id is not None:
            self._undo = UndoManager(
                scopes=[note_body(self._vault.note_doc(note_id))],
                capture_timeout_millis=UNDO_GROUP_MS,
                timestamp=self.undo_clock,
            )
            self._undo.include_origin(self._vault.local_origin(self))
            cursor = self.textCursor()
            end = self.document().characterCount() - 1
            cursor.setPosition(min(max(cursor_position, 0), end))
            self.setTextCursor(cursor)
        self.setEnabled(note_id is not None)
        self._emit_undo_state()
        self.note_opened.emit(note_id)

    def widget_text(self) -> str:
        """The widget's text with Qt's paragraph separators as newlines (and nbsp kept)."""
        return self.document().toRawText().replace("\u2029", "\n")

    # ---- local edits -----------------------------------------------------------------

    def _on_contents_change(self, position: int, removed: int, added: int) -> None:
        if self._applying or self._note_id is None:
            return
        self._dirty = True
        self._commit_timer.start()

    def commit_pending(self) -> None:
        """Send the widget's edits to the vault as one transaction."""
        self._commit_timer.stop()
        if not self._dirty or self._note_id is None:
            return
        text = self.widget_text()
        ops = diff_ops(self._shadow, text)
        if ops:
            self._committing = True
            try:
                self._vault.edit(self._note_id, ops, initiator=self)
            except PlaitError as exc:
                self._bridge.report(f"Your last change could not be saved: {exc}")
                return  # stays dirty: the next commit tries again
            finally:
                self._committing = False
        self._shadow = text
        self._dirty = False
        self._emit_undo_state()

    def _before_merge(self, doc_id: str) -> None:
        if doc_id == self._note_id:
            self.commit_pending()

    # ---- remote and external edits ---------------------------------------------------

    def _on_note_changed(self, event: ChangeEvent) -> None:
        if event.doc_id != self._note_id or self._committing:
            return
        if self._dirty:
            self.commit_pending()  # a change made outside the vault's merge path
        ops = event.ops
        if ops is None:  # the store could not say what changed: diff the whole text
            ops = tuple(diff_ops(self._shadow, self._vault.note_text(self._note_id)))
        self.apply_ops(ops)

    def apply_ops(self, ops: tuple[TextOp, ...] | list[TextOp]) -> None:
        """Apply code-point splices made elsewhere, keeping cursor, selection and scroll."""
        if not ops:
            return
        units = ops_to_utf16(self._shadow, list(ops))
        bar = self.verticalScrollBar()
        top = self.firstVisibleBlock()
        top_anchor = QTextCursor(top)
        line_offset = bar.value() - top.firstLineNumber()
        cursor = QTextCursor(self.document())
        with self._writing():
            cursor.beginEditBlock()
            for pos, delete, insert in units:
                cursor.setPosition(pos)
                cursor.setPosition(pos + delete, QTextCursor.MoveMode.KeepAnchor)
                cursor.insertText(insert)
            cursor.endEditBlock()
        self._shadow = apply_ops(self._shadow, ops)
        bar.setValue(top_anchor.block().firstLineNumber() + line_offset)
        self._emit_undo_state()

    @contextmanager
    def _writing(self) -> Iterator[None]:
        self._applying = True
        try:
            yield
        finally:
            self._applying = False

    # ---- search matches --------------------------------------------------------------

    def show_matches(self, ranges: list[tuple[int, int]]) -> None:
        """Highlight search matches (code-point ranges of the note's text) and select the
        first. The highlights are cursors, so they stay on their words through edits."""
        self._matches = self._cursors(ranges)
        self._match_index = -1
        fmt = QTextCharFormat()
        mark = QColor(self.palette().color(QPalette.ColorRole.Highlight))
        mark.setAlpha(70)
        fmt.setBackground(mark)
        self.set_marks("matches", [(c, fmt) for c in self._matches])
        if self._matches:
            self.next_match()

    def show_review_regions(self, ranges: list[tuple[int, int]]) -> None:
        """Underline regions the review panel flags (code-point ranges of the note's
        text), subtly. Like search matches they are cursors, so they follow edits."""
        fmt = QTextCharFormat()
        fmt.setUnderlineStyle(QTextCharFormat.UnderlineStyle.DashUnderline)
        fmt.setUnderlineColor(REVIEW_AMBER)
        self.set_marks("review", [(c, fmt) for c in self._cursors(ranges)])

    def set_marks(self, layer: str, marks: list[tuple[QTextCursor, QTextCharFormat]]) -> None:
        """Replace one layer of highlights (see MARK_LAYERS). Each is a cursor over the
        text, so it follows edits, and a format to draw it with."""
        self._layers[layer] = [_selection(c, fmt) for c, fmt in marks]
        self.setExtraSelections([s for layer in MARK_LAYERS for s in self._layers[layer]])

    def cursors_for(self, ranges: list[tuple[int, int]]) -> list[QTextCursor]:
        """Cursors over code-point ranges of the note's text (for set_marks)."""
        return self._cursors(ranges)

    def select_range(self, start: int, end: int) -> None:
        """Select code points [start, end) of the note's text and bring them into view."""
        cursors = self._cursors([(start, end)], allow_empty=True)
        if cursors:
            self.setTextCursor(cursors[0])
            self.ensureCursorVisible()

    def _cursors(self, ranges: list[tuple[int, int]], *,
                 allow_empty: bool = False) -> list[QTextCursor]:
        length = len(self._shadow)
        valid = [r for r in ranges
                 if 0 <= r[0] <= r[1] <= length and (allow_empty or r[0] < r[1])]
        cursors = []
        for start, end in to_utf16(self._shadow, valid):
            cursor = QTextCursor(self.document())
            cursor.setPosition(start)
            cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
            cursors.append(cursor)
        return cursors

    def next_match(self) -> bool:
        """Select the next search match (F3); False when there is none."""
        if not self._matches:
            return False
        self._match_index = (self._match_index + 1) % len(self._matches)
        self.setTextCursor(QTextCursor(self._matches[self._match_index]))
        self.ensureCursorVisible()
        return True

    # ---- undo ------------------------------------------------------------------------

    def undo(self) -> None:
        self._run_undo_step(lambda manager: manager.undo())

    def redo(self) -> None:
        self._run_undo_step(lambda manager: manager.redo())

    def can_undo(self) -> bool:
        return bool(self._dirty or (self._undo is not None and self._undo.can_undo()))

    def can_redo(self) -> bool:
        return bool(self._undo is not None and self._undo.can_redo())

    def _run_undo_step(self, step) -> None:
        self.commit_pending()
        if self._undo is None or self._note_id is None:
            return
        manager = self._undo
        try:
            # The undo's own transaction is published with ops under another initiator,
            # so _on_note_changed applies it to the widget like any outside change.
            self._vault.run_tracked(self._note_id, lambda: step(manager),
                                    initiator=(self, "undo"))
        except PlaitError as exc:
            self._bridge.report(f"Undo failed: {exc}")
        self._emit_undo_state()

    def _emit_undo_state(self) -> None:
        self.undo_state_changed.emit(self.can_undo(), self.can_redo())

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self.palette_changed.emit(self.palette())

    # ---- keys and mouse --------------------------------------------------------------

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.matches(QKeySequence.StandardKey.Undo):
            self.undo()
        elif event.matches(QKeySequence.StandardKey.Redo):
            self.redo()
        else:
            super().keyPressEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        super().mouseReleaseEvent(event)
        if event.button() == Qt.MouseButton.LeftButton and not self.textCursor().hasSelection():
            cursor = self.cursorForPosition(event.position().toPoint())
            toggle_task(cursor, only_on_box=True)

    def toggle_task_at_cursor(self) -> bool:
        """Tick or untick the `- [ ]` box on the cursor's line; False if there is none."""
        return toggle_task(self.textCursor(), only_on_box=False)

    def close_note(self) -> None:
        self.commit_pending()
        self._stop_guard()


def _selection(cursor: QTextCursor, fmt: QTextCharFormat) -> QTextEdit.ExtraSelection:
    selection = QTextEdit.ExtraSelection()
    selection.cursor = cursor
    selection.format = fmt
    return selection


def toggle_task(cursor: QTextCursor, *, only_on_box: bool) -> bool:
    """Flip `[ ]` and `[x]` on the cursor's line, as an ordinary edit of the document.

    With `only_on_box`, only when the cursor sits on the box itself (a click on it).
    """
    from .markdown_highlighter import TASK_RE

    block = cursor.block()
    match = TASK_RE.match(block.text())
    if match is None:
        return False
    box_start = match.start(3) - 1  # the '[' (code points == UTF-16 units here: ASCII prefix)
    column = cursor.positionInBlock()
    if only_on_box and not box_start <= column <= box_start + 3:
        return False
    edit = QTextCursor(block)
    edit.setPosition(block.position() + match.start(3))
    edit.setPosition(block.position() + match.end(3), QTextCursor.MoveMode.KeepAnchor)
    edit.insertText(" " if match.group(3).lower() == "x" else "x")
    return True
