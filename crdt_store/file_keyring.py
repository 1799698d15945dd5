"""An unencrypted key file, for headless machines with no OS keyring: opt-in only.

Used only when PLAIT_FILE_KEYRING names the file (see `KeyStore.from_environment`),
and then with a warning. `viable = False` keeps the keyring library's own
auto-detection from ever choosing it. The file is JSON, mode 0600, rewritten
atomically (temp file, fsync, rename) under an advisory lock, and refused when
other users could read it.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.errors import KeyringError, PasswordDeleteError

try:
    import fcntl
except ImportError:  # Windows: no advisory lock, the rename is still atomic
    fcntl = None  # type: ignore[assignment]

FILE_FORMAT = "plait-file-keyring-1"


class FileKeyring(KeyringBackend):
    """Secrets in a JSON file: {"format": ..., "entries": {service: {name: secret}}}."""

    priority = 0.1  # type: ignore[assignment]  # below 1: never a recommended keyring
    viable = False  # type: ignore[assignment]  # never picked by keyring.get_keyring()

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__()
        self.path = Path(path).expanduser().absolute()

    def get_password(self, service: str, username: str) -> str | None:
        with self._locked():
            return self._read().get(service, {}).get(username)

    def set_password(self, service: str, username: str, password: str) -> None:
        with self._locked():
            entries = self._read()
            entries.setdefault(service, {})[username] = password
            self._write(entries)

    def delete_password(self, service: str, username: str) -> None:
        with self._locked():
            entries = self._read()
            if username not in entries.get(service, {}):
                raise PasswordDeleteError(f"No entry {username!r} in {self.path}")
            del entries[service][username]
            self._write(entries)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if fcntl is None:
            yield
            return
        fd = os.open(f"{self.path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _read(self) -> dict[str, dict[str, str]]:
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return {}
        with os.fdopen(fd, "rb") as f:
            mode = os.fstat(f.fileno()).st_mode
            if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise KeyringError(
                    f"The key file {self.path} can be read by other users; "
                    f"run `chmod 600 {self.path}` if it is yours.")
            raw = f.read()
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise KeyringError(f"{self.path} is not a Plait key file (not JSON).") from None
        if not isinstance(data, dict) or data.get("format") != FILE_FORMAT \
                or not _is_entries(data.get("entries")):
            raise KeyringError(f"{self.path} is not a Plait key file.")
        return data["entries"]

    def _write(self, entries: dict[str, dict[str, str]]) -> None:
        raw = json.dumps({"format": FILE_FORMAT, "entries": entries}, indent=1).encode()
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.unlink(missing_ok=True)  # a stale one might have another mode
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(raw)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        if os.name == "posix":
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)


def _is_entries(entries: object) -> bool:
    return isinstance(entries, dict) and all(
        isinstance(names, dict) and all(isinstance(k, str) and isinstance(v, str)
                                        for k, v in names.items())
        for names in entries.values())
