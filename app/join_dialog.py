"""Join Shared Notebook…: paste an invite link or code; it is checked as you type."""

from __future__ import annotations

import time

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QLineEdit, QVBoxLayout, QWidget

from crdt_store.errors import PlaitError
from crdt_store.sync.engine import SyncEngine
from crdt_store.sync.invite import Invite, InviteError, parse_invite

from .background import Background


class JoinDialog(QDialog):
    """Accepted once the notebook's key is stored and the engine has started joining;
    the notebook then appears in the sidebar and fills in."""

    def __init__(self, engine: SyncEngine, background: Background, text: str = "",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.background = background
        self.invite: Invite | None = None
        self.setWindowTitle("Join a Shared Notebook")
        self.setMinimumWidth(480)
        self.field = QLineEdit(text)
        self.field.setCursorPosition(0)
        self.field.setPlaceholderText("plait://join?…  or  PLAIT1-…")
        self.field.textChanged.connect(self._check)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.join_button = self.buttons.addButton("Join", QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.accepted.connect(self.join)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Paste the invite link or code you were sent:"))
        layout.addWidget(self.field)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self._check(text)

    def _check(self, text: str) -> None:
        self.invite = None
        self.join_button.setEnabled(False)
        if not text.strip():
            self.message.setText("")
            return
        try:
            invite = parse_invite(text)
        except InviteError as exc:
            self.message.setText(f"<span style='color:#d0443a'>{exc}</span>")
            return
        if invite.notebook_id in self.engine.shared_notebooks():
            self.message.setText(f"You are already in “{invite.notebook_name}”.")
            return
        self.invite = invite
        relays = len(invite.relays)
        expires = time.strftime("%d %B %Y", time.localtime(invite.expires))
        self.message.setText(f"{invite.inviter} invites you to “{invite.notebook_name}”, "
                             f"through {relays} relay{'s' if relays != 1 else ''}. "
                             f"The invite can be used until {expires}.")
        self.join_button.setEnabled(True)

    def join(self) -> None:
        invite = self.invite
        if invite is None:
            return
        self.join_button.setEnabled(False)
        self.message.setText("Storing the notebook's key in the system keyring…")
        keys = self.engine.keys

        def store_key() -> None:
            from crdt_store.sync.keymaterial import NotebookKey

            keys.check()
            keys.store_notebook_key(invite.notebook_id, NotebookKey.from_text(invite.key_text))

        self.background.run(store_key, lambda _none: self._joined(invite), self._failed)

    def _joined(self, invite: Invite) -> None:
        try:
            self.engine.join(invite, store_key=False)
        except PlaitError as exc:
            self._failed(exc)
            return
        self.accept()

    def _failed(self, exc: Exception) -> None:
        self.message.setText(f"<span style='color:#d0443a'>Could not join: {exc}</span>")
        self.join_button.setEnabled(self.invite is not None)
