"""Convergence: shrunk counterexamples of the state machine, kept as plain tests."""

from __future__ import annotations

from crdt_store.keys import KeyStore
from crdt_store.sync.engine import SyncEngine
from crdt_store.sync.invite import parse_invite
from crdt_store.unicode_offsets import TextOp
from crdt_store.vault import Vault

from .invariants import converged
from .sync_helpers import Device, Devices

pytest_plugins = ["tests.relay_fixtures"]


# -- shrunk counterexamples, kept as plain tests ------------------------------------------

def _restart_engine(devices: Devices, device: Device) -> None:
    device.engine = SyncEngine(device.vault, KeyStore(device.keyring, timeout=5.0),
                               on_status=devices.wake.set, **device.options)
    device.engine.start()


def test_a_delete_made_while_sync_was_stopped_goes_out_when_it_starts(devices, relay) -> None:
    # Found by the machine: a device went offline, cut some text (a delete only: it adds
    # nothing, so the note's state vector stays where it was) and came back. Its engine
    # looked only at state vectors for what was left to send, so the cut never synced.
    a, b = devices.add("Ada"), devices.add("Bo")
    notebook = a.vault.create_notebook("N")
    note = a.vault.create_note(notebook, "# Title\nkeep this, cut this\n")
    b.engine.join(parse_invite(a.engine.share(notebook, (relay.url,)).link()))
    assert devices.pump_until(lambda: b.vault.document_kind(note) is not None
                              and b.vault.note_text(note) == "# Title\nkeep this, cut this\n")
    devices.settle()
    b.engine.stop()
    b.engine = None
    b.vault.edit(note, [TextOp(17, 10, "")])  # ", cut this"
    b.vault.flush()
    _restart_engine(devices, b)
    assert devices.pump_until(lambda: a.vault.note_text(note) == "# Title\nkeep this\n",
                              timeout=10), a.vault.note_text(note)
    devices.settle()


def test_a_delete_made_without_sync_goes_out_after_a_restart(devices, relay) -> None:
    # The same through a closed vault: the CLI (`plait edit`) cut text while the app
    # and its sync were not running.
    a, b = devices.add("Ada"), devices.add("Bo")
    notebook = a.vault.create_notebook("N")
    note = a.vault.create_note(notebook, "one\ntwo\nthree\n")
    b.engine.join(parse_invite(a.engine.share(notebook, (relay.url,)).link()))
    assert devices.pump_until(lambda: b.vault.document_kind(note) is not None
                              and b.vault.note_text(note) == "one\ntwo\nthree\n")
    devices.settle()
    b.close()
    with Vault(b.path) as offline:
        offline.set_text(note, "one\nthree\n")
    devices.reopen(b)
    assert devices.pump_until(lambda: a.vault.note_text(note) == "one\nthree\n",
                              timeout=10), a.vault.note_text(note)
    devices.settle()


def test_work_posted_by_a_stopped_engine_is_dropped_and_done_after_a_restart(devices,
                                                                              relay) -> None:
    # Found by the machine: an engine had posted merges to its vault's owner thread and
    # was stopped before the owner ran them; running them then raised "Sync is not
    # running" out of Vault.deliver_pending (the owner's event loop).
    a, b = devices.add("Ada"), devices.add("Bo")
    notebook = a.vault.create_notebook("N")
    note = a.vault.create_note(notebook, "start\n")
    b.engine.join(parse_invite(a.engine.share(notebook, (relay.url,)).link()))
    assert devices.pump_until(lambda: b.vault.document_kind(note) is not None
                              and b.vault.note_text(note) == "start\n")
    devices.settle()
    a.vault.append_text(note, "more\n")
    assert devices.pump_until(lambda: b.engine.debug_state()["in_flight"] > 0, devices=[a])
    b.engine.stop()
    b.engine = None
    b.vault.deliver_pending()  # must not raise
    _restart_engine(devices, b)
    assert devices.pump_until(lambda: b.vault.note_text(note) == "start\nmore\n", timeout=10)
    devices.settle()


def test_edits_right_after_a_move_reach_members_of_both_notebooks(devices, relay) -> None:
    # Found by the machine: everyone is in both notebooks; Ada moves a note into the
    # notebook whose id sorts later and edits it at once. Xi applies the new notebook's
    # stream first: its catalog now lists the note, but the old entry (not yet deleted
    # here) still places it in the old notebook, so the note and Ada's edit, sent
    # through the new notebook, were rejected ("it writes a note that belongs to another
    # notebook") and never sent again: Xi missed them for good.
    a, x = devices.add("Ada"), devices.add("Xi")
    source, target = sorted([a.vault.create_notebook("P"), a.vault.create_notebook("Q")])
    note = a.vault.create_note(source, "base\n")
    for notebook in (source, target):
        x.engine.join(parse_invite(a.engine.share(notebook, (relay.url,)).link()))
    assert devices.pump_until(lambda: x.vault.notebook_of(note) == source
                              and x.vault.note_text(note) == "base\n")
    devices.settle()
    for round_no in range(3):  # which stream Xi applies first is up to timing
        a.vault.move_note(note, target if round_no % 2 == 0 else source)
        a.vault.append_text(note, f"right after move {round_no}\n")
        assert devices.pump_until(lambda: converged([a.vault, x.vault]), timeout=10), (
            x.vault.note_text(note))
        devices.settle()
    assert x.vault.note_text(note).count("right after move") == 3
