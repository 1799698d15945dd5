"""Scripted close merges: devices that share a note and edit it while the relay is down."""

from __future__ import annotations

from crdt_store.review import CloseMerge, Detector
from crdt_store.sync.invite import parse_invite


class Watched:
    """A device with a detector on its vault, recording the flags it raises."""

    def __init__(self, device) -> None:
        self.device = device
        self.flags: list[CloseMerge] = []
        vault = device.vault
        self.detector = Detector(self.flags.append, text_of=vault.note_text)
        vault.subscribe(self.detector.on_change)


def pair(devices, relay, text: str, names=("Ada", "Bo")):
    ada = Watched(devices.add(names[0]))
    bo = Watched(devices.add(names[1], folder=f"{names[1]}-2" if names[1] == names[0] else None))
    a, b = ada.device, bo.device
    nb = a.vault.create_notebook("Shared")
    note = a.vault.create_note(nb, text)
    b.engine.join(parse_invite(a.engine.share(nb, (relay.url,)).link()))
    assert devices.pump_until(lambda: b.vault.document_kind(note) is not None
                              and b.vault.note_text(note) == text)
    devices.settle()
    return ada, bo, note




def concurrently(devices, relay, note, *edits) -> None:
    """The edits are made while the relay is down; then wait until all devices agree."""
    before = edits[0][0].device.vault.note_text(note)
    relay.stop()
    for watched, ops in edits:
        watched.device.vault.edit(note, ops)
    relay.start()
    vaults = [d.vault for d in devices.devices]
    assert devices.pump_until(lambda: len({v.note_text(note) for v in vaults}) == 1
                              and all(v.note_text(note) != before for v in vaults), timeout=30)
    devices.settle(timeout=30)
