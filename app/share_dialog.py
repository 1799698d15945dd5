"""Share Notebook…: choose relays, get an invite link and code, see who is in it."""

from __future__ import annotations

import time

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from crdt_store.errors import PlaitError
from crdt_store.sync.engine import SyncEngine
from crdt_store.sync.invite import Invite

from .background import Background


class ShareDialog(QDialog):
    """Keys are fetched on the background worker (the OS keyring may prompt or hang);
    the vault is only touched here, on the GUI thread."""

    def __init__(self, engine: SyncEngine, notebook_id: str, background: Background,
                 default_relays: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.notebook_id = notebook_id
        self.background = background
        self.invite: Invite | None = None
        vault = engine.vault
        name = vault.notebook(notebook_id).name
        sharing = vault.sharing(notebook_id)
        self.setWindowTitle(f"Share “{name}”")
        self.setMinimumWidth(520)

        intro = QLabel("Collaborators edit this notebook with you. Edits travel encrypted "
                       "through relay servers, which cannot read them; every device keeps "
                       "its own full copy.")
        intro.setWordWrap(True)
        self.relays = QPlainTextEdit("\n".join(sharing.relays or default_relays))
        self.relays.setPlaceholderText("wss://relay.example.org\nws://192.168.1.10:8765")
        self.relays.setFixedHeight(self.fontMetrics().lineSpacing() * 4 + 12)
        self.create_button = QPushButton("Create Invite")
        self.create_button.setDefault(True)
        self.create_button.clicked.connect(self.create_invite)
        self.message = QLabel()
        self.message.setWordWrap(True)

        self.link = QLineEdit(readOnly=True)
        self.code = QLineEdit(readOnly=True)
        self.warning = QLabel()
        self.warning.setWordWrap(True)
        grid = QGridLayout()
        for row, (label, field) in enumerate((("Invite link:", self.link), ("Code:", self.code))):
            copy = QPushButton("Copy")
            copy.clicked.connect(lambda _=False, f=field: self._copy(f))
            grid.addWidget(QLabel(label), row, 0)
            grid.addWidget(field, row, 1)
            grid.addWidget(copy, row, 2)
        self.invite_box = QWidget()
        box = QVBoxLayout(self.invite_box)
        box.setContentsMargins(0, 0, 0, 0)
        box.addLayout(grid)
        box.addWidget(self.warning)
        self.invite_box.setVisible(False)

        self.members = QLabel(self._members_text())
        self.members.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(QLabel("Relay servers, one per line:"))
        layout.addWidget(self.relays)
        layout.addWidget(self.create_button)
        layout.addWidget(self.message)
        layout.addWidget(self.invite_box)
        layout.addWidget(self.members)
        layout.addWidget(buttons)

    def relay_urls(self) -> tuple[str, ...]:
        return tuple(line.strip() for line in self.relays.toPlainText().splitlines()
                     if line.strip())

    def create_invite(self) -> None:
        relays = self.relay_urls()
        self.create_button.setEnabled(False)
        self.message.setText("Getting this notebook's key from the system keyring…")
        engine, notebook_id = self.engine, self.notebook_id
        self.background.run(lambda: (engine.key_for_sharing(notebook_id), engine.device_key()),
                            lambda keys: self._share(relays, *keys), self._failed)

    def _share(self, relays, key, device) -> None:
        try:
            invite = self.engine.share(self.notebook_id, relays, key, device)
        except PlaitError as exc:
            self._failed(exc)
            return
        self.invite = invite
        self.link.setText(invite.link())
        self.link.setCursorPosition(0)
        self.code.setText(invite.code())
        self.code.setCursorPosition(0)
        expires = time.strftime("%d %B %Y", time.localtime(invite.expires))
        self.warning.setText(
            "<b>This link is the key.</b> Anyone who has it can read and edit the notebook, "
            f"so send it privately, to people you trust. It can be used until {expires}.")
        self.invite_box.setVisible(True)
        self.adjustSize()
        self.message.setText("Send the link or the code to your collaborators. The notebook "
                             "is uploaded in the background.")
        self.create_button.setText("Create Another Invite")
        self.create_button.setEnabled(True)
        self.members.setText(self._members_text())

    def _failed(self, exc: Exception) -> None:
        self.create_button.setEnabled(True)
        self.message.setText(f"<span style='color:#d0443a'>Could not share: {exc}</span>")

    def _members_text(self) -> str:
        sharing = self.engine.vault.sharing(self.notebook_id)
        if not sharing.members:
            return "Not shared yet."
        me = self.engine.vault.author.device_id
        names = [m.name + (" (this device)" if m.device == me else "") for m in sharing.members]
        return "People in this notebook: " + ", ".join(names)

    def _copy(self, field: QLineEdit) -> None:
        QGuiApplication.clipboard().setText(field.text())
        self.message.setText("Copied.")
