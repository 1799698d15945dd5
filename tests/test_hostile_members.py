"""Hostile members: someone holding a shared notebook's key misbehaves.

Honest devices are real vaults with real sync engines; the relay is real, on
127.0.0.1, with limits small enough to reach quickly. The hostile member is a raw
protocol client (tests/relay_client.py) with the notebook key from the invite and a
device key of its own, sealing real, valid envelopes: the relay and the others
cannot tell it from a member's modified app. Each test checks that the limits hold,
that the honest devices keep syncing ("nothing lost", tests/invariants.py), and for
a mass delete, that the text before it can be rebuilt from the store's history.
"""

from __future__ import annotations

import random
import time

from pycrdt import Doc, Text

from crdt_store.sync import engine as engine_module
from crdt_store.sync.envelope import UpdateMeta, seal_update
from crdt_store.sync.frames import FrameType
from crdt_store.sync.invite import parse_invite
from crdt_store.sync.keymaterial import DeviceKey, NotebookKey
from crdt_store.sync.relay.limits import Limits

from .invariants import MarkerLog, check_nothing_lost, wait_converged
from .relay_client import RelayClient, run
from .sync_helpers import Device, Devices

pytest_plugins = ["tests.relay_fixtures"]

TIGHT = Limits(max_frame=1024 * 1024, max_envelope=256 * 1024, frames_per_second=50,
               bytes_per_second=1024 * 1024)


class Mallory:
    """A member's key in a client of its own: seals valid updates of any size or number."""

    def __init__(self, link: str) -> None:
        invite = parse_invite(link)
        self.notebook = invite.notebook_id
        self.key = NotebookKey.from_text(invite.key_text)
        self.device = DeviceKey.generate()
        self.n = 0

    def seal(self, doc_id: str, update: bytes, client: int) -> bytes:
        self.n += 1
        meta = UpdateMeta(doc_id=doc_id, kind="note", client=client, device="mallory-device",
                          name="Mallory", time=time.time(), made_on=b"\x00", n=self.n)
        return seal_update(self.key, self.notebook, self.device, meta, update)

    @staticmethod
    def insert(state: bytes, text: str, client: int) -> bytes:
        """An update inserting `text` at the start of a note whose state is `state`."""
        doc = Doc(client_id=client)
        doc.apply_update(state)
        before = doc.get_state()
        doc.get("body", type=Text).insert(0, text)
        return doc.get_update(before)

    async def connect(self, url: str) -> RelayClient:
        client = await RelayClient.connect(url)
        await client.hello()
        opened = await client.open(self.notebook, self.key.token_text())
        assert opened.type is FrameType.OPENED, opened
        await client.catch_up(self.notebook)
        return client


def _shared(devices: Devices, url: str, names=("Ada", "Bo"), notes: int = 2
            ) -> tuple[list[Device], str, list[str], str]:
    group = [devices.add(name) for name in names]
    owner = group[0].vault
    nb = owner.create_notebook("Team")
    ids = [owner.create_note(nb, f"# Note {i}\nshared text {i}\n") for i in range(notes)]
    link = group[0].engine.share(nb, (url,)).link()
    for device in group[1:]:
        device.engine.join(parse_invite(link))
    assert devices.pump_until(lambda: all(
        d.vault.document_kind(n) is not None and d.vault.notebook_of(n) == nb
        for d in group for n in ids), timeout=30)
    devices.settle()
    return group, nb, ids, link


def _edit_and_check(devices: Devices, group: list[Device], notes: list[str], log: MarkerLog,
                    rng: random.Random, edits: int = 6) -> dict[str, int]:
    """The honest devices write markers; all of them arrive; nothing lost anywhere."""
    for i in range(edits):
        device = group[i % len(group)]
        log.insert(device.name, device.vault, rng.choice(notes), rng)
    wait_converged(devices)
    for device in group:
        device.vault.flush()
        log.record_durable(device.name, device.vault)
    return check_nothing_lost([d.vault for d in group], log, rng=rng)


def test_an_update_too_big_to_merge_is_rejected_with_a_clear_problem(
        devices, relay_factory, monkeypatch, hardening_report):
    # A relay whose operator allows big envelopes passes a member's 2 MB edit on; the
    # engine takes no single update above MAX_INCOMING_UPDATE (1 MiB here, 16 MiB really).
    monkeypatch.setattr(engine_module, "MAX_INCOMING_UPDATE", 1024 * 1024)
    relay = relay_factory(limits=Limits(max_frame=8 * 1024 * 1024,
                                        max_envelope=8 * 1024 * 1024, frames_per_second=0,
                                        bytes_per_second=0))
    group, nb, notes, link = _shared(devices, relay.url)
    mallory, rng, log = Mallory(link), random.Random(7), MarkerLog()
    a, b = group
    texts = {d.name: d.vault.note_text(notes[0]) for d in group}
    huge = Mallory.insert(a.vault.encode_state(notes[0]), "mkz00001z\n" + "y" * 2_000_000, 777)
    envelope = mallory.seal(notes[0], huge, 777)

    async def send() -> int:
        client = await mallory.connect(relay.url)
        ack = await client.put(nb, envelope)
        await client.close()
        return ack["seq"]

    seq = run(send())
    assert devices.pump_until(lambda: all(d.engine.received_upto(relay.url, nb) >= seq
                                          for d in group), timeout=30)
    for device in group:
        problems = " ".join(device.engine.problems())
        assert "Rejected an envelope" in problems and "over 1048576" in problems, problems
        assert device.vault.note_text(notes[0]) == texts[device.name]
    counts = _edit_and_check(devices, group, notes, log, rng)
    hardening_report(f"a {len(envelope):,}-byte update was rejected by both engines; "
                     f"honest devices: {counts}")
