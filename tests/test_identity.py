"""Device identity: a stable client id per vault, and a new one for copies."""

from __future__ import annotations

import shutil

from crdt_store.sync.invite import parse_invite
from crdt_store.unicode_offsets import TextOp
from crdt_store.vault import Vault

from .conftest import sync_both

pytest_plugins = ["tests.relay_fixtures"]


def test_client_id_is_stable_across_reopening(vault_dir) -> None:
    with Vault(vault_dir) as v:
        first = v.author
    with Vault(vault_dir) as v:
        assert v.author == first
        assert v.notices == []


def test_a_copied_vault_gets_a_new_client_id_and_both_copies_converge(tmp_path) -> None:
    original = tmp_path / "original"
    with Vault(original) as v:
        note = v.create_note(v.create_notebook("N"), "base\n")
        first = v.author
    shutil.copytree(original, tmp_path / "copy")
    with Vault(original) as a, Vault(tmp_path / "copy") as b:
        assert a.author.client_id == first.client_id
        assert b.author.client_id != first.client_id
        assert any("copied" in n.message for n in b.notices)
        assert first.client_id in b.own_client_ids()
        # Both copies write concurrently. Had they shared a client id, Yrs would
        # drop one side's edit on merge; with distinct ids both survive.
        a.edit(note, [TextOp(5, 0, "from original\n")])
        b.edit(note, [TextOp(5, 0, "from copy\n")])
        sync_both(a, b)
        text = a.note_text(note)
        assert text == b.note_text(note)
        assert "from original" in text and "from copy" in text


def test_a_copy_made_while_the_app_runs_is_detected(tmp_path) -> None:
    original = tmp_path / "original"
    with Vault(original) as running:
        running.create_note(running.create_notebook("N"), "x")
        running.flush()
        shutil.copytree(original, tmp_path / "copy")  # copies the lock file too
        with Vault(tmp_path / "copy") as copy:
            assert copy.author.client_id != running.author.client_id


def test_a_vault_restored_from_a_backup_gets_back_what_it_sent_since(devices, relay) -> None:
    # A restored vault (or a copy) keeps its device, so it signs with the same device
    # key as the envelopes it sent before; its sync engine skipped every envelope with
    # that signer as its own, so the edits sent after the backup never came back, and a
    # copy and its original ignored each other's edits for good.
    ada, bo = devices.add("Ada"), devices.add("Bo")
    notebook = ada.vault.create_notebook("Backed up")
    note = ada.vault.create_note(notebook, "before the backup\n")
    bo.engine.join(parse_invite(ada.engine.share(notebook, (relay.url,)).link()))
    assert devices.pump_until(lambda: bo.vault.document_kind(note) is not None
                              and bo.vault.note_text(note) == "before the backup\n")
    devices.settle()
    ada.close()
    shutil.copytree(ada.path, devices.root / "backup")
    devices.reopen(ada)
    ada.vault.append_text(note, "after the backup\n")
    assert devices.pump_until(lambda: "after" in bo.vault.note_text(note))
    devices.settle()
    ada.close()
    shutil.rmtree(ada.path)
    shutil.copytree(devices.root / "backup", ada.path)  # restored
    devices.reopen(ada)
    assert any("restored" in n.message for n in ada.vault.notices)
    assert devices.pump_until(
        lambda: ada.vault.note_text(note) == "before the backup\nafter the backup\n",
        timeout=10), ada.vault.note_text(note)
    devices.settle()

