"""Device and notebook keys in the OS keyring, never in the vault or a plain file.

`KeyStore` keeps each vault's device signing key and each shared notebook's key
under the service "plait" (entries `device:<vault_id>` and `notebook:<notebook_id>`).
It refuses keyrings that cannot keep a secret (none, null, locked, plaintext, below
the keyring library's recommended priority) with a KeyringUnavailableError that says
how to fix it, never writes a new key over an existing one, and runs every keyring
call in a worker thread with a timeout, so a hung D-Bus call cannot freeze the caller.

A headless machine without a keyring may opt in to an unencrypted key file by
setting PLAIT_FILE_KEYRING=/path/to/file (see `KeyStore.from_environment`); the
store then carries a `warning` to show. It is never chosen silently.
"""

from __future__ import annotations

import concurrent.futures
import os
import sys
import threading
from collections.abc import Callable, Mapping
from typing import TypeVar

import keyring
from keyring.backend import KeyringBackend
from keyring.backends import chainer, fail, null
from keyring.errors import InitError, KeyringLocked, NoKeyringError

from crdt_store.errors import PlaitError
from crdt_store.file_keyring import FileKeyring
from crdt_store.sync.keymaterial import DeviceKey, InvalidKeyError, NotebookKey

SERVICE = "plait"
FILE_KEYRING_ENV = "PLAIT_FILE_KEYRING"
DEFAULT_TIMEOUT = 10.0
_PLAINTEXT_BACKENDS = frozenset({"PlaintextKeyring", "UnencryptedKeyring"})

T = TypeVar("T")


class KeyringUnavailableError(PlaitError):
    """No keyring fit to hold Plait's keys; sharing is off until it is fixed.

    `reason`: "none" (no usable keyring), "insecure" (plaintext or not recommended),
    "locked", "timeout" or "error" (the keyring failed).
    """

    def __init__(self, reason: str, problem: str) -> None:
        self.reason = reason
        self.problem = problem
        super().__init__(f"Sharing is disabled: {problem}\n{how_to_fix()}")


class KeyConflictError(PlaitError):
    """The keyring already holds a different key for this entry; it is never replaced."""


def how_to_fix(platform: str = sys.platform) -> str:
    """What to install or unlock so Plait can keep keys, for this operating system."""
    if platform == "darwin":
        local = ("Plait uses the macOS Keychain: open Keychain Access and unlock the "
                 "login keychain, then try again.")
    elif platform.startswith("win"):
        local = ("Plait uses the Windows Credential Manager: sign in to Windows with your "
                 "own account (not a service account), then try again.")
    else:
        local = ("On Linux Plait uses a Secret Service keyring: install GNOME Keyring "
                 "(`sudo apt install gnome-keyring`) or KWallet, make sure your desktop "
                 "session unlocks it at login (or unlock it in Passwords and Keys / "
                 "Seahorse), and that D-Bus is running.")
    return (f"{local}\nOn a headless server you can instead keep keys UNENCRYPTED in a "
            f"file of your choosing by setting {FILE_KEYRING_ENV}=/path/to/plait-keys.json "
            "(the file is created with mode 0600).")


class KeyStore:
    """Plait's keys in one keyring backend (the OS keyring unless one is injected).

    Each method blocks its caller for at most `timeout` seconds (the keyring itself is
    asked from a daemon thread), so a GUI calls it from its background worker.
    """

    def __init__(self, backend: KeyringBackend | None = None, *,
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        self._backend = backend
        self._usable: KeyringBackend | None = None
        self.timeout = timeout
        self._lock = threading.Lock()  # one keyring conversation at a time

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None, *,
                         timeout: float = DEFAULT_TIMEOUT) -> KeyStore:
        """The OS keyring, or the key file PLAIT_FILE_KEYRING names (explicit opt-in)."""
        path = (os.environ if environ is None else environ).get(FILE_KEYRING_ENV, "")
        return cls(FileKeyring(path) if path else None, timeout=timeout)

    @property
    def warning(self) -> str | None:
        """Text to show the user when keys are not protected by an OS keyring."""
        if isinstance(self._backend, FileKeyring):
            return (f"Warning: Plait keys are stored UNENCRYPTED in {self._backend.path} "
                    f"because {FILE_KEYRING_ENV} is set. Anyone who can read that file "
                    "can read and write your shared notebooks.")
        return None

    def check(self) -> None:
        """Raise KeyringUnavailableError unless keys can be read and written now."""
        self._call("check", lambda backend: backend.get_password(SERVICE, "probe"))

    def device_key(self, vault_id: str) -> DeviceKey:
        """This vault's device signing key, created and stored on first use."""
        entry = _entry("device", vault_id)

        def get_or_create(backend: KeyringBackend) -> str:
            stored = backend.get_password(SERVICE, entry)
            if stored is None:
                backend.set_password(SERVICE, entry, DeviceKey.generate().to_text())
                stored = backend.get_password(SERVICE, entry)
            if stored is None:
                raise KeyringUnavailableError(
                    "error", f"the keyring accepted the device key but did not return it ({entry}).")
            return stored

        return _parse(DeviceKey.from_text, self._call(f"read {entry}", get_or_create), entry)

    def notebook_key(self, notebook_id: str) -> NotebookKey | None:
        """The notebook's key, or None when this device has not joined it."""
        entry = _entry("notebook", notebook_id)
        stored = self._call(f"read {entry}", lambda backend: backend.get_password(SERVICE, entry))
        return None if stored is None else _parse(NotebookKey.from_text, stored, entry)

    def store_notebook_key(self, notebook_id: str, key: NotebookKey) -> None:
        """Keep a notebook's key. The same key again is a no-op; a different one raises
        KeyConflictError and the stored key stays."""
        entry = _entry("notebook", notebook_id)
        text = key.to_text()

        def store(backend: KeyringBackend) -> None:
            stored = backend.get_password(SERVICE, entry)
            if stored is None:
                backend.set_password(SERVICE, entry, text)
                stored = backend.get_password(SERVICE, entry)
            if stored is None or not _same_key(stored, key):
                raise KeyConflictError(
                    f"The keyring already holds a different key for notebook {notebook_id}; "
                    "Plait never replaces a key. Leave the notebook first if you mean to "
                    "join it again with a new key.")

        self._call(f"write {entry}", store)

    def forget_notebook_key(self, notebook_id: str) -> bool:
        """Delete a notebook's key (leaving it); False if there was none."""
        entry = _entry("notebook", notebook_id)

        def forget(backend: KeyringBackend) -> bool:
            if backend.get_password(SERVICE, entry) is None:
                return False
            backend.delete_password(SERVICE, entry)
            return True

        return self._call(f"delete {entry}", forget)

    def _call(self, what: str, action: Callable[[KeyringBackend], T]) -> T:
        """Run `action` on the checked backend in a daemon thread, waiting at most
        `timeout` seconds; keyring failures become KeyringUnavailableError."""
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def work() -> None:
            future.set_running_or_notify_cancel()
            try:
                with self._lock:
                    result = action(self._checked_backend())
            except BaseException as exc:  # noqa: BLE001  # the caller re-raises it
                future.set_exception(exc)
            else:
                future.set_result(result)

        # A daemon thread, not an executor: a call hung forever must not block exit.
        threading.Thread(target=work, name=f"plait-keyring {what}", daemon=True).start()
        done, _ = concurrent.futures.wait([future], timeout=self.timeout)
        if not done:
            raise KeyringUnavailableError(
                "timeout", f"the keyring ({self._name()}) did not answer within "
                f"{self.timeout:g} s when asked to {what}. It may be waiting for an unlock "
                "prompt that nobody can see, or its service has hung.")
        try:
            return future.result()
        except PlaitError:
            raise
        except KeyringLocked as exc:
            raise KeyringUnavailableError(
                "locked", f"the keyring ({self._name()}) is locked ({exc}).") from exc
        except (NoKeyringError, InitError) as exc:
            raise KeyringUnavailableError(
                "none", f"no keyring could be opened ({exc}).") from exc
        except Exception as exc:  # any other backend failure: D-Bus, OS, keyring errors
            raise KeyringUnavailableError(
                "error", f"the keyring ({self._name()}) failed to {what}: "
                f"{type(exc).__name__}: {exc}") from exc

    def _checked_backend(self) -> KeyringBackend:
        """The backend, resolved once (in the worker: detection itself may hang) and
        refused if it cannot keep secrets."""
        if self._usable is None:
            backend = self._backend if self._backend is not None else keyring.get_keyring()
            self._usable = usable_backend(backend)
        return self._usable

    def _name(self) -> str:
        backend = self._usable or self._backend
        return "not yet detected" if backend is None else _describe(backend)


def usable_backend(backend: KeyringBackend) -> KeyringBackend:
    """`backend` if it can keep Plait's keys, else KeyringUnavailableError saying why.
    A chainer is replaced by its best member that can."""
    if isinstance(backend, FileKeyring):
        return backend  # the explicit opt-in; the store carries a warning
    if isinstance(backend, chainer.ChainerBackend):
        problems = []
        for member in backend.backends:
            try:
                return usable_backend(member)
            except KeyringUnavailableError as exc:
                problems.append(exc.problem)
        raise KeyringUnavailableError(
            "none", "no usable keyring was found" + (
                f" ({'; '.join(problems)})." if problems else "."))
    if isinstance(backend, fail.Keyring):
        raise KeyringUnavailableError("none", "no keyring is available on this system.")
    if isinstance(backend, null.Keyring):
        raise KeyringUnavailableError(
            "none", "the keyring is switched off (the null keyring backend is configured).")
    if type(backend).__name__ in _PLAINTEXT_BACKENDS:
        raise KeyringUnavailableError(
            "insecure", f"the configured keyring ({_describe(backend)}) stores secrets as "
            "plain text, and Plait never keeps keys that way silently.")
    try:
        priority = type(backend).priority
    except RuntimeError as exc:  # the keyring library's way to say "not usable here"
        raise KeyringUnavailableError(
            "none", f"the keyring ({_describe(backend)}) cannot be used here: {exc}") from exc
    if priority < 1:
        raise KeyringUnavailableError(
            "insecure", f"the only keyring available ({_describe(backend)}, priority "
            f"{priority:g}) is not one the keyring library recommends for secrets.")
    return backend


def _describe(backend: KeyringBackend) -> str:
    cls = type(backend)
    return f"{cls.__module__}.{cls.__qualname__}"


def _entry(kind: str, ident: str) -> str:
    if not isinstance(ident, str) or not ident or ident != ident.strip():
        raise ValueError(f"a {kind} id is non-empty text without outer spaces: {ident!r}")
    return f"{kind}:{ident}"


def _parse(parse: Callable[[str], T], text: str, entry: str) -> T:
    try:
        return parse(text)
    except InvalidKeyError as exc:
        raise InvalidKeyError(
            f"The keyring entry '{entry}' of service '{SERVICE}' is damaged ({exc}). "
            "Plait will not replace it; remove it by hand if it is not needed.") from exc


def _same_key(stored: str, key: NotebookKey) -> bool:
    try:
        return NotebookKey.from_text(stored) == key
    except InvalidKeyError:
        return False
