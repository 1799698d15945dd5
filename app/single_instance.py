"""One Plait window per user and vault: a second launch hands its arguments to the first.

The first GUI process on a vault takes an *instance lock* (an OS advisory lock, which
the kernel releases when the process dies) and listens on a QLocalServer whose name is
a hash of the user and the resolved vault path. A later launch on the same vault finds
the lock taken, connects, sends its arguments (`plait://join?…` invite links) as one
line of JSON and exits once the first instance has acknowledged them. The first
instance raises its window and opens them.

- **A crash** leaves the socket file behind but frees the lock, so whoever takes the
  lock next knows the socket is stale and removes it (QLocalServer.removeServer).
- **Two launches racing**: only one gets the lock. The first instance listens right
  after taking it, before it opens the vault; the other retries connecting until then.
  If the lock holder goes away meanwhile, the other takes the lock and becomes first.
- **A first instance that does not answer** (hung): the second does not exit silently.
  `claim()` says UNREACHABLE, and the caller opens the vault read-only with a message.
- **Privacy**: an invite holds a notebook's key, so the socket lives in a directory only
  the user can enter: `$XDG_RUNTIME_DIR/plait`, else `<temp>/plait-<uid>` created with
  mode 0700 and checked (owner, mode, not a symlink). Another user cannot listen in the
  first instance's place. On Windows the server is a named pipe restricted to the user.

Only the GUI uses this. The command line keeps the vault's own writer lock
(crdt_store/vault_lock.py): a second writer refuses, a reader opens read-only.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import logging
import os
import stat
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QThread
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from crdt_store.vault_lock import try_lock

log = logging.getLogger(__name__)

PRIMARY = "primary"  # this process is the vault's window: it listens for later launches
HANDED_OFF = "handed-off"  # the running window took the arguments; this process may exit
UNREACHABLE = "unreachable"  # a window holds the vault but did not answer in time
DISABLED = "disabled"  # no private place for the socket: run as before, without hand-over

PROTOCOL_VERSION = 1
MAX_MESSAGE = 64 * 1024  # one launch's arguments; anything longer is not from Plait
ENVIRONMENT = ("XDG_ACTIVATION_TOKEN", "DESKTOP_STARTUP_ID")  # lets the window take focus
_MAX_UNIX_PATH = 100  # sun_path holds 104 to 108 bytes, depending on the system


class UnsafeRuntimeDir(OSError):
    """The socket's directory could be entered by another user."""


@dataclass(frozen=True)
class Claim:
    role: str
    detail: str = ""


def instance_key(vault_path: Path, user: str | None = None) -> str:
    """A short, stable name for (user, vault): the same vault reached through another
    path (a symlink, `..`) gives the same key."""
    resolved = os.path.normcase(str(Path(vault_path).expanduser().resolve()))
    who = user if user is not None else _user()
    return hashlib.sha256(f"{who}\0{resolved}".encode()).hexdigest()[:24]


def private_runtime_dir() -> Path:
    """A directory for the lock and socket that only this user can enter."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if os.name != "nt" and runtime and Path(runtime).is_dir():
        path = Path(runtime) / "plait"
    else:
        path = Path(tempfile.gettempdir()) / f"plait-{_uid()}"
    path.mkdir(mode=0o700, parents=False, exist_ok=True)
    if os.name != "nt":
        st = os.lstat(path)
        if (not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid()
                or st.st_mode & 0o077):
            raise UnsafeRuntimeDir(f"{path} is not a private directory of this user "
                                   f"(mode {oct(st.st_mode & 0o777)}, owner {st.st_uid})")
    return path


class SingleInstance(QObject):
    """The hand-over for one vault. Call `claim()` first (no QApplication needed); if it
    returns PRIMARY, `listen()` once the QApplication exists and `set_handler()` once
    the window does. Arguments that arrive before the handler is set wait for it."""

    def __init__(self, vault_path: Path, *, runtime_dir: Path | None = None,
                 timeout_s: float = 5.0, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.key = instance_key(vault_path)
        self._runtime_dir = runtime_dir
        self.timeout_s = timeout_s
        self.server: QLocalServer | None = None
        self.server_name = ""
        self.lock_path: Path | None = None
        self._lock_fd: int | None = None
        self._handler: Callable[[list[str], dict[str, str]], None] | None = None
        self._pending: list[tuple[list[str], dict[str, str]]] = []
        self._buffers: dict[QLocalSocket, bytearray] = {}

    # ---- the launch: first, or hand over ------------------------------------------------

    def claim(self, args: Sequence[str] = ()) -> Claim:
        try:
            directory = self._runtime_dir or private_runtime_dir()
        except OSError as exc:
            log.warning("no single-instance hand-over: %s", exc)
            return Claim(DISABLED, str(exc))
        self.lock_path = directory / f"{self.key}.lock"
        if os.name == "nt":  # pragma: no cover - a named pipe, not a file
            self.server_name = f"plait-{self.key}"
        else:
            self.server_name = str(directory / f"{self.key}.sock")
            if len(self.server_name.encode()) > _MAX_UNIX_PATH:
                return Claim(DISABLED, f"the socket path is too long: {self.server_name}")
        try:
            if self._take_lock():
                return Claim(PRIMARY)
        except OSError as exc:
            log.warning("no single-instance hand-over: %s", exc)
            return Claim(DISABLED, str(exc))
        return self._hand_over(list(args))

    def _take_lock(self) -> bool:
        assert self.lock_path is not None
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        if try_lock(fd):
            self._lock_fd = fd
            return True
        os.close(fd)
        return False

    def _hand_over(self, args: list[str]) -> Claim:
        deadline = time.monotonic() + self.timeout_s

        def left_ms() -> int:
            return max(1, int((deadline - time.monotonic()) * 1000))

        message = json.dumps({
            "v": PROTOCOL_VERSION, "args": args,
            "env": {k: os.environ[k] for k in ENVIRONMENT if os.environ.get(k)},
        }).encode() + b"\n"
        socket = QLocalSocket()
        while True:
            socket.connectToServer(self.server_name)
            if socket.waitForConnected(min(500, left_ms())):
                break
            socket.abort()
            if self._take_lock():  # the first instance quit while we knocked
                return Claim(PRIMARY)
            if time.monotonic() >= deadline:
                return Claim(UNREACHABLE, "the Plait window already open on this vault "
                                          "is not accepting connections")
            QThread.msleep(50)  # the first instance is still starting: knock again
        socket.write(message)
        reply = bytearray()
        while b"\n" not in reply and time.monotonic() < deadline:
            if socket.bytesToWrite():
                socket.waitForBytesWritten(left_ms())
            if not socket.waitForReadyRead(left_ms()):
                if socket.state() != QLocalSocket.LocalSocketState.ConnectedState:
                    break
                continue
            reply += bytes(socket.readAll().data())
        socket.abort()
        if reply.startswith(b"ok\n"):
            return Claim(HANDED_OFF)
        if not reply:
            return Claim(UNREACHABLE, "the Plait window already open on this vault "
                                      "did not respond")
        return Claim(UNREACHABLE, f"the Plait window already open on this vault refused: "
                                  f"{bytes(reply).decode('utf-8', 'replace').strip()}")

    # ---- the first instance --------------------------------------------------------------

    def listen(self) -> bool:
        """Start taking later launches' arguments (after `claim()` returned PRIMARY)."""
        assert self._lock_fd is not None, "listen() is for the instance holding the lock"
        server = QLocalServer(self)
        server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        QLocalServer.removeServer(self.server_name)  # a crashed instance's: we hold the lock
        if not server.listen(self.server_name):
            log.warning("no single-instance hand-over: cannot listen on %s: %s",
                        self.server_name, server.errorString())
            return False
        server.newConnection.connect(self._accept)
        self.server = server
        log.debug("single instance: listening on %s", self.server_name)
        return True

    def set_handler(self, handler: Callable[[list[str], dict[str, str]], None]) -> None:
        """`handler(args, env)` runs on the GUI thread for each later launch."""
        self._handler = handler
        pending, self._pending = self._pending, []
        for args, env in pending:
            handler(args, env)

    def close(self) -> None:
        if self.server is not None:
            self.server.close()  # removes the socket file
            self.server = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # the lock file stays: unlinking it would race a newcomer
            self._lock_fd = None

    def _accept(self) -> None:
        assert self.server is not None
        while (socket := self.server.nextPendingConnection()) is not None:
            self._buffers[socket] = bytearray()
            socket.readyRead.connect(lambda s=socket: self._read(s))
            socket.disconnected.connect(lambda s=socket: self._forget(s))
            if socket.bytesAvailable():
                self._read(socket)

    def _read(self, socket: QLocalSocket) -> None:
        buffer = self._buffers.get(socket)
        if buffer is None:
            return
        buffer += bytes(socket.readAll().data())
        if b"\n" not in buffer:
            if len(buffer) > MAX_MESSAGE:
                self._answer(socket, b"error: message too long\n")
            return
        line = bytes(buffer).split(b"\n", 1)[0]
        try:
            message = json.loads(line)
            if message.get("v") != PROTOCOL_VERSION:
                raise ValueError(f"protocol version {message.get('v')!r}")
            args = [str(a) for a in message.get("args", [])]
            env = {str(k): str(v) for k, v in dict(message.get("env", {})).items()
                   if k in ENVIRONMENT}
        except (ValueError, TypeError, AttributeError) as exc:
            self._answer(socket, f"error: {exc}\n".encode())
            return
        self._answer(socket, b"ok\n")
        log.debug("single instance: a later launch handed over %d argument(s)", len(args))
        if self._handler is None:
            self._pending.append((args, env))
        else:
            self._handler(args, env)

    def _answer(self, socket: QLocalSocket, reply: bytes) -> None:
        self._buffers.pop(socket, None)
        socket.write(reply)
        socket.flush()
        socket.disconnectFromServer()

    def _forget(self, socket: QLocalSocket) -> None:
        self._buffers.pop(socket, None)
        socket.deleteLater()


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name (a container with an unknown uid)
        return str(_uid())


def _uid() -> str:
    if hasattr(os, "getuid"):
        return str(os.getuid())
    return os.environ.get("USERNAME", "user")  # pragma: no cover - Windows: %TEMP% is per user
