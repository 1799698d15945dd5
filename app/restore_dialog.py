"""Restore: a clear preview of what bringing back a past version would change."""

from __future__ import annotations

import html

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QTextBrowser, QVBoxLayout, QWidget

from crdt_store.history import RestorePreview, Session

from .diff_html import diff_html


class RestoreDialog(QDialog):
    """Shows the current text with the restore's changes marked, and asks to go ahead."""

    def __init__(self, preview: RestorePreview, session: Session,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Restore this version?")
        self.resize(640, 420)
        what = ("the text you selected from this version" if preview.region is not None
                else "the whole note as it was")
        who = ", ".join(session.authors) or "someone"
        intro = QLabel(
            f"This brings back {html.escape(what)} (after {html.escape(who)}'s session) as a "
            "new edit. It syncs to everyone like any edit, and the history keeps the text "
            "as it is now. <span style='background-color:#d1f5d3'>Green</span> comes back; "
            "<span style='background-color:#ffd7d5;text-decoration:line-through'>struck "
            "through</span> goes.")
        intro.setWordWrap(True)
        self.changes = QTextBrowser()
        self.changes.setHtml(diff_html(preview.diff()))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.restore_button = buttons.addButton("Restore", QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.changes, 1)
        layout.addWidget(buttons)
