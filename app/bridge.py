"""The one place where store events cross into Qt.

The vault calls plain Python callbacks; the bridge re-emits them as Qt signals.
Signals emitted from another thread (the sync engine, later) reach receivers on
the GUI thread through Qt's queued connections, so views only ever run there.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Signal

from crdt_store.events import ChangeEvent, DocKind
from crdt_store.vault import Vault


POSTED_WORK_BUDGET = 0.03  # seconds of posted work (merges) per turn of the event loop


class VaultBridge(QObject):
    """Turns a vault's ChangeEvents into `note_changed` and `catalog_changed` signals."""

    note_changed = Signal(object)  # ChangeEvent of a note's body
    catalog_changed = Signal(object)  # ChangeEvent of a notebook catalog
    problem = Signal(str)  # a message for the banner
    sync_changed = Signal()  # the sync engine's status changed (read SyncEngine.status())
    _wake = Signal()  # work was posted to the vault from another thread

    def __init__(self, vault: Vault, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.vault = vault
        self._unsubscribe = vault.subscribe(self._publish)
        # Background threads post work to the vault; it runs here, on the GUI thread,
        # as soon as the event loop gets to it (queued even when posted from this thread).
        self._wake.connect(lambda: vault.deliver_pending(budget=POSTED_WORK_BUDGET),
                           Qt.ConnectionType.QueuedConnection)
        vault.set_wakeup(self._wake.emit)

    def _publish(self, event: ChangeEvent) -> None:
        if event.kind is DocKind.NOTE:
            self.note_changed.emit(event)
        else:
            self.catalog_changed.emit(event)

    def report(self, message: str) -> None:
        self.problem.emit(message)

    def close(self) -> None:
        self.vault.set_wakeup(None)
        self._unsubscribe()
