"""The window's side of sync: the engine's life, the status bar, sidebar dots, dialogs."""

from __future__ import annotations

import time

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QLabel, QWidget

from crdt_store.keys import KeyStore
from crdt_store.sync.engine import SyncEngine
from crdt_store.sync.status import ERROR, OFFLINE, SYNCED, SYNCING, NotebookStatus
from crdt_store.vault import Vault

from .background import Background
from .bridge import VaultBridge
from .join_dialog import JoinDialog
from .notebook_list_model import NotebookListModel
from .settings import WindowSettings
from .share_dialog import ShareDialog

_WORST_FIRST = (ERROR, OFFLINE, SYNCING, SYNCED)


class SyncControls(QObject):
    """Starts the SyncEngine for a writable vault (when a key store is given) and shows
    its state: a label in the status bar, a dot per shared notebook in the sidebar."""

    def __init__(self, window: QWidget, vault: Vault, keys: KeyStore | None, bridge: VaultBridge,
                 background: Background, label: QLabel, sidebar: NotebookListModel,
                 settings: WindowSettings) -> None:
        super().__init__(window)
        self.window = window
        self.background = background
        self.label = label
        self.sidebar = sidebar
        self.settings = settings
        self.engine: SyncEngine | None = None
        self._joining: set[str] = set()  # joined notebooks not in the sidebar yet
        self.dialog: ShareDialog | JoinDialog | None = None  # the one open last
        if keys is not None and not vault.read_only:
            self.engine = SyncEngine(vault, keys, on_status=bridge.sync_changed.emit,
                                     on_problem=bridge.problem.emit)
            bridge.sync_changed.connect(self.refresh)
            self.engine.start()
        self.refresh()

    def refresh(self) -> None:
        statuses = self.engine.status() if self.engine is not None else {}
        self.sidebar.set_sync(statuses)
        text, tip = summary(statuses, self._name)
        self.label.setText(text)
        self.label.setToolTip(tip)
        for notebook_id in list(self._joining):  # the first sight of a joined notebook
            if self.window.select_notebook(notebook_id):
                self._joining.discard(notebook_id)

    def _name(self, notebook_id: str) -> str:
        vault = self.engine.vault if self.engine is not None else None
        if vault is not None and vault.document_kind(notebook_id) is not None:
            return vault.notebook(notebook_id).name
        return "a notebook being joined"

    def share(self, notebook_id: str) -> ShareDialog | None:
        if self.engine is None:
            return None
        dialog = ShareDialog(self.engine, notebook_id, self.background, self.settings.relays(),
                             self.window)
        dialog.finished.connect(lambda _r: dialog.invite and self.settings.set_relays(
            dialog.relay_urls()))
        dialog.open()
        self.dialog = dialog
        return dialog

    def join(self, text: str = "") -> JoinDialog | None:
        if self.engine is None:
            return None
        dialog = JoinDialog(self.engine, self.background, text, self.window)
        dialog.accepted.connect(lambda: dialog.invite and self._joining.add(
            dialog.invite.notebook_id))
        dialog.open()
        self.dialog = dialog
        return dialog

    def close(self) -> None:
        if self.engine is not None:
            self.engine.stop()
            self.engine = None


def summary(statuses: dict[str, NotebookStatus], name_of) -> tuple[str, str]:
    """The status bar's text and tooltip for all shared notebooks together."""
    if not statuses:
        return "Local only", "No notebook is shared; everything stays on this computer."
    worst = min(statuses.values(), key=lambda s: _WORST_FIRST.index(s.state))
    pending = sum(s.pending for s in statuses.values())
    if worst.state == SYNCED:
        times = [s.last_synced for s in statuses.values() if s.last_synced]
        text = "Synced" + (f" {_when(max(times))}" if times else "")
    elif worst.state == SYNCING:
        progress = [s.progress for s in statuses.values() if s.progress]
        if pending:
            text = f"Syncing ({pending} to send)"
        elif progress:
            done, known = map(sum, zip(*progress))
            text = f"Receiving {done:,} of {known:,}"
        else:
            text = "Syncing…"
    elif worst.state == OFFLINE:
        text = "Offline" + (f" ({pending} to send)" if pending else "")
    else:
        text = "Sync problem"
    tip = "\n".join(f"{name_of(nb)}: {s.label}. {s.message}" for nb, s in statuses.items())
    return text, tip


def _when(ts: float) -> str:
    if time.localtime(ts)[:3] == time.localtime()[:3]:
        return time.strftime("%H:%M", time.localtime(ts))
    return time.strftime("%d %b", time.localtime(ts))
