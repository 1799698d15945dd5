"""Real vaults with real sync engines, for tests: each a device with its own keyring."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from crdt_store.keys import KeyStore
from crdt_store.sync.engine import SyncEngine
from crdt_store.sync.invite import parse_invite
from crdt_store.vault import Vault

from .keyring_fixtures import MemoryKeyring


@dataclass
class Device:
    """One vault, its keyring and its sync engine, all driven from the test's thread."""

    path: Path
    name: str
    keyring: MemoryKeyring = field(default_factory=MemoryKeyring)
    vault: Vault | None = None
    engine: SyncEngine | None = None
    options: dict = field(default_factory=dict)  # SyncEngine keyword arguments

    def open(self, wake: threading.Event) -> Device:
        self.vault = Vault(self.path, display_name=self.name)
        self.vault.set_wakeup(wake.set)
        self.engine = SyncEngine(self.vault, KeyStore(self.keyring, timeout=5.0),
                                 on_status=wake.set, **self.options)
        self.engine.start()
        return self

    def close(self) -> None:
        if self.engine is not None:
            self.engine.stop()
            self.engine = None
        if self.vault is not None:
            self.vault.close()
            self.vault = None


class Devices:
    """A set of devices pumped together until a condition holds (or a timeout)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.wake = threading.Event()
        self.devices: list[Device] = []

    def add(self, name: str, folder: str | None = None, **options) -> Device:
        """A device whose user is called `name` (`folder`: when one user has two)."""
        device = Device(self.root / (folder or name), name, options=options).open(self.wake)
        self.devices.append(device)
        return device

    def reopen(self, device: Device) -> Device:
        device.close()
        return device.open(self.wake)

    def pump_until(self, done: Callable[[], bool], timeout: float = 20.0,
                   devices: Iterable[Device] | None = None) -> bool:
        """Run every open vault's posted work until `done()`; False on timeout."""
        chosen = list(devices or self.devices)
        deadline = time.monotonic() + timeout
        while True:
            for device in chosen:
                if device.vault is not None:
                    device.vault.deliver_pending()
            if done():
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self.wake.wait(min(remaining, 0.05))
            self.wake.clear()

    def settle(self, timeout: float = 30.0) -> None:
        """Until every open device is synced with every relay and nothing is in flight."""
        def synced() -> bool:
            for d in self.devices:
                if d.engine is None:
                    continue
                statuses = d.engine.status()
                if d.engine.shared_notebooks() and not statuses:
                    return False
                if any(s.state != "synced" for s in statuses.values()):
                    return False
            return True
        assert self.pump_until(synced, timeout), {
            d.name: ({nb[:6]: (s.state, s.message) for nb, s in d.engine.status().items()},
                     d.engine.debug_state())
            for d in self.devices if d.engine is not None}

    def close(self) -> None:
        for device in self.devices:
            device.close()


def shared_pair(devices: Devices, relay_url: str,
                body: str = "start\n") -> tuple[Device, Device, str, str]:
    """Ada shares a notebook with one note through `relay_url` and Bo joins it: (Ada, Bo,
    notebook id, note id), once Bo has the note and both are synced."""
    a, b = devices.add("Ada"), devices.add("Bo")
    notebook = a.vault.create_notebook("Shared")
    note = a.vault.create_note(notebook, body)
    b.engine.join(parse_invite(a.engine.share(notebook, (relay_url,)).link()))
    assert devices.pump_until(lambda: b.vault.document_kind(note) is not None
                              and b.vault.note_text(note) == body)
    devices.settle()
    return a, b, notebook, note


@pytest.fixture
def devices(tmp_path):
    """Devices under tmp_path, closed (engines stopped, vaults closed) after the test."""
    group = Devices(tmp_path)
    yield group
    group.close()
