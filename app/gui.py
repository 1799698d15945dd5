"""Starting the desktop app: one window per vault, the Qt application, the main window.

A launch first asks the window already open on the same vault, if any, to take its
arguments (app/single_instance.py); only when there is none does it open the vault.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtGui import QFileOpenEvent
from PySide6.QtWidgets import QApplication, QMessageBox

from crdt_store.errors import PlaitError, VaultLockedError
from crdt_store.keys import KeyStore
from crdt_store.vault import Vault

from . import APP_ID, __version__
from .cli import is_invite
from .icons import ActionIcons, app_icon
from .main_window import MainWindow
from .single_instance import HANDED_OFF, PRIMARY, UNREACHABLE, Claim, SingleInstance
from .welcome import ensure_welcome

log = logging.getLogger(__name__)


def run_gui(vault_path: Path, invites: Sequence[str] = ()) -> int:
    """Open the vault and run the window until it closes, or hand `invites` (plait://
    links) to the window already open on this vault. A vault that cannot be opened
    (written by a newer Plait, say) gets a plain message, not a traceback."""
    instance = SingleInstance(vault_path, timeout_s=handoff_timeout())
    claim = instance.claim(invites)
    if claim.role == HANDED_OFF:
        print("plait: passed on to the Plait window already open on this vault",
              file=sys.stderr)
        return 0
    if claim.role == UNREACHABLE:
        log.warning("single instance: %s", claim.detail)
    try:
        app = make_application()
        if claim.role == PRIMARY:
            instance.listen()
        try:
            vault, message = open_for_window(vault_path, claim, invites)
        except PlaitError as exc:
            QMessageBox.critical(None, "Plait", str(exc))
            return 1
        try:
            if not vault.read_only:
                ensure_welcome(vault)
            keys = KeyStore.from_environment()
            window = MainWindow(vault, keys=keys)
            ActionIcons(window)
            if message or keys.warning:
                window.banner.show_message(message or keys.warning)
                log.info("banner: %s", message or keys.warning)
            if log.isEnabledFor(logging.DEBUG):
                FirstPaint(window)
            window.show()
            opener = LinkOpener.attach(window, instance)
            if invites and not vault.read_only:
                QTimer.singleShot(0, lambda: opener.open(list(invites), {}))
            log.debug("window ready on %s (%s)", vault.path, claim.role)
            return app.exec()
        finally:
            vault.close()
    finally:
        instance.close()


def handoff_timeout() -> float:
    """How long a launch waits for the window already open on its vault to take its
    arguments before it opens the vault itself (read-only); $PLAIT_HANDOFF_TIMEOUT."""
    try:
        return max(0.1, float(os.environ.get("PLAIT_HANDOFF_TIMEOUT", "5")))
    except ValueError:
        return 5.0


def make_application() -> QApplication:
    """The QApplication, named and iconed for the desktop (the desktop entry's id)."""
    app = QApplication.instance() or QApplication(sys.argv)
    app.setOrganizationName("Plait")
    app.setApplicationName("Plait")
    app.setApplicationDisplayName("Plait")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName(APP_ID)  # Wayland's app id; lets the desktop match the entry
    app.setWindowIcon(app_icon())
    return app


def open_for_window(vault_path: Path, claim: Claim | None = None,
                    invites: Sequence[str] = ()) -> tuple[Vault, str | None]:
    """The vault, or, when another Plait is writing to it, a read-only view and a
    message saying so (and why a link given to this launch was not opened)."""
    try:
        return Vault(vault_path), None
    except VaultLockedError as exc:
        holder = exc.holder
    vault = Vault(vault_path, read_only=True)
    if claim is not None and claim.role == UNREACHABLE:
        message = (f"A Plait window is already open on this vault but {_reason(claim)}, so "
                   "this window only shows the vault (read-only).")
        if invites:
            message += (" The invite link was not opened: open it again when that window "
                        "responds, or close it first.")
        return vault, message
    message = (f"{holder} is already using this vault, so this window only shows it "
               "(read-only). Close the other window to edit here.")
    if invites:
        message += " Open the invite link again once you can edit here."
    return vault, message


def _reason(claim: Claim) -> str:
    detail = claim.detail.removeprefix("the Plait window already open on this vault ")
    return detail or "did not respond"


class LinkOpener(QObject):
    """Brings the window forward and opens the invite links handed to it, whether from a
    later launch (the desktop's URL handler runs `plait plait://join?…`) or, on macOS, as
    a FileOpen event."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window

    @classmethod
    def attach(cls, window: MainWindow, instance: SingleInstance) -> LinkOpener:
        """Open what later launches hand to `instance`, and (macOS) FileOpen events."""
        opener = cls(window)
        instance.set_handler(opener.open)
        QApplication.instance().installEventFilter(opener)
        return opener

    def open(self, args: list[str], env: dict[str, str]) -> None:
        for name, value in env.items():  # the launcher's focus token, for raising the window
            os.environ[name] = value
        self.raise_window()
        invites = [a for a in args if is_invite(a)]
        for arg in args:
            if not is_invite(arg):
                log.warning("ignored an argument that is not a Plait invite: %.40s", arg)
        for invite in invites:
            self.window.join_notebook(invite)
        log.info("raised the window%s", f" and opened {len(invites)} invite link(s)"
                 if invites else "")

    def raise_window(self) -> None:
        window = self.window
        if window.isMinimized():
            window.showNormal()
        window.show()
        window.raise_()
        window.activateWindow()
        QApplication.alert(window)  # where the desktop refuses focus, the task bar flashes

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.FileOpen and isinstance(event, QFileOpenEvent):
            url = event.url().toString() or event.file()
            if is_invite(url):
                self.open([url], {})
                return True
        return False


class FirstPaint(QObject):
    """With --debug, logs "first paint" once the window's first paint has been done
    (packaging/bundle/check.py times a cold start to it)."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        window.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            watched.removeEventFilter(self)
            QTimer.singleShot(0, lambda: log.debug("first paint"))  # after this pass paints
        return False
