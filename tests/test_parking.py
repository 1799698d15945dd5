"""The parking lot's bounds: one device's envelopes cannot take every place.

A member's edit for a note this device places in another notebook waits in the lot
until a move places it (`crdt_store/sync/parking.py`). A hostile member can send such
edits on purpose; each device has a share of the lot, so the places left for the
others' real moves stay free. Real envelopes, sealed and opened, in a real sync-state
file that a restart reads back.
"""

from __future__ import annotations

import time

import pytest
from pycrdt import Doc, Text

from crdt_store.sync import parking
from crdt_store.sync.envelope import UpdateMeta, open_envelope, seal_update
from crdt_store.sync.keymaterial import DeviceKey, NotebookKey
from crdt_store.sync.parking import Parked, ParkingLot
from crdt_store.sync.state import SyncState

NOTEBOOK = "nb-team"
RELAY = "ws://127.0.0.1:1"
MAX_SIZE = 1 << 20


@pytest.fixture
def bounds(monkeypatch):
    monkeypatch.setattr(parking, "MAX_PARKED", 6)
    monkeypatch.setattr(parking, "MAX_PARKED_PER_SENDER", 3)


class Member:
    """A device with the notebook's key, sealing real one-insert updates."""

    def __init__(self, key: NotebookKey, name: str, client: int) -> None:
        self.key, self.name, self.client = key, name, client
        self.device = DeviceKey.generate()
        self.n = 0

    def parked(self, note_id: str) -> Parked:
        self.n += 1
        doc = Doc(client_id=self.client)
        doc.get("body", type=Text).insert(0, f"{self.name} {self.n}\n")
        meta = UpdateMeta(doc_id=note_id, kind="note", client=self.client,
                          device=f"{self.name}-device", name=self.name, time=time.time(),
                          made_on=b"\x00", n=self.n)
        envelope = seal_update(self.key, NOTEBOOK, self.device, meta, doc.get_update())
        opened = open_envelope(self.key, NOTEBOOK, envelope, expect="update", max_size=MAX_SIZE)
        return Parked(RELAY, NOTEBOOK, opened, envelope)


def test_a_flooding_member_fills_its_own_share_and_the_others_still_park(tmp_path, bounds):
    key = NotebookKey.generate()
    mallory, bo = Member(key, "Mallory", 4242), Member(key, "Bo", 77)
    state = SyncState(tmp_path)
    lot = ParkingLot(state)
    taken = [lot.park(mallory.parked(f"note-{i}")) for i in range(5)]
    assert taken == [True, True, True, False, False]
    assert lot.park(bo.parked("note-moved")), "Bo's edit found no place after Mallory's flood"
    assert len(lot) == 4
    state.close()

    again = SyncState(tmp_path)  # a restart reads the lot back, shares and all
    lot = ParkingLot(again)
    lot.load({NOTEBOOK: key}, MAX_SIZE)
    assert sorted(p.opened.meta.name for p in lot.waiting()) == ["Bo", "Mallory", "Mallory",
                                                                  "Mallory"]
    assert not lot.park(mallory.parked("note-9"))
    mine = [p.opened.envelope_id for p in lot.waiting() if p.opened.meta.name == "Mallory"]
    lot.merged(mine[:1], ticket=1)  # one of hers left the lot: her share has a place again
    assert lot.park(mallory.parked("note-10"))
    assert not lot.park(mallory.parked("note-11"))
    again.close()


def test_the_whole_lot_is_bounded_however_many_devices_send(tmp_path, bounds):
    key = NotebookKey.generate()
    members = [Member(key, f"M{i}", 100 + i) for i in range(4)]
    lot = ParkingLot(SyncState(tmp_path))
    taken = [lot.park(m.parked(f"note-{m.name}-{j}")) for m in members for j in range(2)]
    assert taken.count(True) == 6 and taken[-2:] == [False, False]
    assert len(lot) == 6
