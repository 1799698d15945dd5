"""Keyring backends for tests: real KeyringBackend subclasses, never the machine's keyring.

`memory_keyring` is a fresh in-memory backend (priority 1, so KeyStore accepts it);
`key_store` is a KeyStore on it. conftest.py imports both, so any test can ask for them.
`viable = False` keeps keyring's auto-detection from ever picking these classes.
"""

from __future__ import annotations

import threading

import pytest
from keyring.backend import KeyringBackend
from keyring.errors import KeyringLocked, PasswordDeleteError

from crdt_store.keys import KeyStore


class MemoryKeyring(KeyringBackend):
    """A dict keyed by (service, username); `writes` counts set_password calls."""

    priority = 1  # type: ignore[assignment]
    viable = False  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}
        self.writes = 0

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.writes += 1
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.entries.pop((service, username), None) is None:
            raise PasswordDeleteError("no such entry")


class LockedKeyring(MemoryKeyring):
    """What the Secret Service backend raises when the user dismisses the unlock prompt."""

    def get_password(self, service: str, username: str) -> str | None:
        raise KeyringLocked("Failed to unlock the collection!")


class HangingKeyring(MemoryKeyring):
    """Every call blocks until `release` is set, like a D-Bus call nobody answers."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.entered = threading.Event()

    def get_password(self, service: str, username: str) -> str | None:
        self.entered.set()
        self.release.wait()
        return None


class PlaintextKeyring(MemoryKeyring):
    """Named like keyrings.alt's plaintext file backend; priority high enough to pass."""

    priority = 2  # type: ignore[assignment]


class LowPriorityKeyring(MemoryKeyring):
    priority = 0.5  # type: ignore[assignment]


@pytest.fixture
def memory_keyring() -> MemoryKeyring:
    return MemoryKeyring()


@pytest.fixture
def key_store(memory_keyring: MemoryKeyring) -> KeyStore:
    return KeyStore(memory_keyring, timeout=5.0)
