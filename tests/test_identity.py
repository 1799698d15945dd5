"""Device identity: a stable client id per vault, and a new one for copies."""

from __future__ import annotations

import random
import shutil
import threading

from crdt_store.keys import KeyStore
from crdt_store.statevector import decode_state_vector
from crdt_store.sync.engine import SyncEngine
from crdt_store.sync.invite import parse_invite
from crdt_store.sync.state import SyncState
from crdt_store.unicode_offsets import TextOp
from crdt_store.vault import Vault

from .conftest import sync_both
from .invariants import MarkerLog, check_nothing_lost, wait_converged
from .keyring_fixtures import MemoryKeyring
from .sync_helpers import Device, shared_pair

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
    ada, bo, _, note = shared_pair(devices, relay.url, "before the backup\n")
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


def test_a_copy_made_while_the_app_runs_syncs_with_the_original_and_both_converge(
        devices, relay, hardening_report) -> None:
    # The app (vault and sync engine) keeps running while its folder is copied, sync
    # state and all; the copy is then opened on the same machine (same keyring) and
    # both go on editing and syncing through the relay with a third device.
    rng = random.Random(20261122)
    log = MarkerLog()
    ada, bo = devices.add("Ada"), devices.add("Bo")
    notebook = ada.vault.create_notebook("Copied")
    notes = [ada.vault.create_note(notebook, f"# Note {i}\n") for i in range(3)]
    bo.engine.join(parse_invite(ada.engine.share(notebook, (relay.url,)).link()))
    assert devices.pump_until(lambda: all(bo.vault.notebook_of(n) for n in notes))
    for _ in range(20):
        log.insert("Ada", ada.vault, rng.choice(notes), rng)
    devices.pump_until(lambda: False, timeout=0.05)  # some of it on its way
    shutil.copytree(ada.path, devices.root / "Ada-copy")
    copy = Device(devices.root / "Ada-copy", "Ada", keyring=ada.keyring).open(devices.wake)
    devices.devices.append(copy)
    assert copy.vault.author.client_id != ada.vault.author.client_id
    assert copy.vault.author.device_id == ada.vault.author.device_id  # the same machine
    assert any("copied" in n.message for n in copy.vault.notices)
    assert ada.vault.author.client_id in copy.vault.own_client_ids()
    # A database copied mid-write can miss the newest commits (the main file and its
    # write-ahead log are copied at different moments): the copy gets them from the relay.
    assert devices.pump_until(lambda: all(copy.vault.has_note(n) for n in notes), timeout=30)
    group = {"Ada": ada, "Bo": bo, "Ada-copy": copy}
    for _ in range(60):  # all three edit, and sync as they go
        name = rng.choice(list(group))
        vault = group[name].vault
        if rng.random() < 0.15:
            log.delete(name, vault, rng.choice(notes), rng)
        else:
            log.insert(name, vault, rng.choice(notes), rng)
        devices.pump_until(lambda: False, timeout=rng.uniform(0, 0.02))
    wait_converged(devices, timeout=60)
    vaults = [d.vault for d in group.values()]
    for name, device in group.items():
        device.vault.flush()
        log.record_durable(name, device.vault)
    counts = check_nothing_lost(vaults, log, rng=rng)
    writers = {client for v in vaults for n in notes
               for client in decode_state_vector(v.encode_state_vector(n))}
    current = {d.vault.author.client_id for d in group.values()}
    assert len(current) == 3 and current <= writers  # three writers, none sharing an id
    hardening_report(f"original, copy and a third device: {counts['present']} markers "
                     f"present, {counts['deleted']} deleted, {len(writers)} client ids")


def test_a_vault_restored_over_its_own_files_gets_a_new_client_id(tmp_path) -> None:
    # Restored into the same folder, a vault can keep its files' inodes (copying over
    # them does; a file system may also hand a freed inode out again), so its
    # fingerprint still matches. It is older than this machine last saw it, though
    # (crdt_store/vault_registry.py), so it writes as a new client: its old client's
    # next clocks were already used by the edits made after the backup.
    path, backup = tmp_path / "vault", tmp_path / "backup"
    with Vault(path) as vault:
        note = vault.create_note(vault.create_notebook("N"), "before the backup\n")
        client = vault.author.client_id
    shutil.copytree(path, backup)
    with Vault(path) as vault:
        vault.append_text(note, "after the backup\n")
    for saved in backup.iterdir():
        if saved.is_file():
            shutil.copyfile(saved, path / saved.name)  # over the same files: same inodes
    with Vault(path) as vault:
        assert vault.note_text(note) == "before the backup\n"
        assert vault.author.client_id != client
        assert client in vault.own_client_ids()
        assert any("restored" in n.message for n in vault.notices)
    with Vault(path) as vault:  # and from then on it is itself again
        assert not vault.notices


def test_a_registry_it_cannot_read_or_write_costs_only_that_check(tmp_path, caplog) -> None:
    from crdt_store.vault_registry import VaultRegistry

    folder = tmp_path / "state"
    with Vault(tmp_path / "vault", registry=VaultRegistry(folder)) as vault:
        client = vault.author.client_id
    [record] = folder.iterdir()
    record.write_text("{not json", encoding="utf-8")
    with Vault(tmp_path / "vault", registry=VaultRegistry(folder)) as vault:
        assert vault.author.client_id == client and not vault.notices
    shutil.rmtree(folder)
    folder.write_text("a file where the folder should be", encoding="utf-8")
    with Vault(tmp_path / "vault", registry=VaultRegistry(folder)) as vault:
        assert vault.author.client_id == client and not vault.notices
        vault.create_note(vault.create_notebook("N"), "still saved\n")
    assert any("vault registry: cannot" in r.getMessage() for r in caplog.records)


def test_a_copy_whose_database_is_older_than_its_sync_state_fetches_again(devices,
                                                                          relay) -> None:
    # A vault copied mid-write can pair a database from one moment with a sync state from
    # a later one (CI caught it): the cursors were already past envelopes the copied
    # database never got, so the copy never fetched them. A copy (a new client id) now
    # forgets its cursors and fetches everything again.
    from crdt_store.storage import DB_NAME

    ada, bo, _, note = shared_pair(devices, relay.url, "first\n")
    bo.close()
    early = devices.root / "bo-early"
    shutil.copytree(bo.path, early)  # Bo's database before "second" arrived
    devices.reopen(bo)
    ada.vault.append_text(note, "second\n")
    assert devices.pump_until(lambda: bo.vault.note_text(note) == "first\nsecond\n")
    devices.settle()
    bo.close()
    copied = devices.root / "bo-copy"
    shutil.copytree(bo.path, copied)
    shutil.copyfile(early / DB_NAME, copied / DB_NAME)  # an older database, a newer sync state
    copy = Device(copied, "Bo", keyring=bo.keyring).open(devices.wake)
    devices.devices.append(copy)
    assert any("copied" in n.message for n in copy.vault.notices)
    assert devices.pump_until(lambda: copy.vault.note_text(note) == "first\nsecond\n",
                              timeout=20), copy.vault.note_text(note)


def test_an_engine_stopped_while_it_opens_its_state_leaves_it_intact(tmp_path,
                                                                    monkeypatch) -> None:
    # Found by the long convergence run (a segfault): stop() closed the sync state while
    # the engine's boot was still writing to it on a worker thread (adopt_client).
    entered, release, finished = threading.Event(), threading.Event(), threading.Event()
    failures: list[BaseException] = []
    real = SyncState.adopt_client

    def slow_adopt(self, client_id):
        entered.set()
        release.wait(10)
        try:
            return real(self, client_id)
        except BaseException as exc:
            failures.append(exc)
            raise
        finally:
            finished.set()

    monkeypatch.setattr(SyncState, "adopt_client", slow_adopt)
    with Vault(tmp_path / "v") as vault:
        engine = SyncEngine(vault, KeyStore(MemoryKeyring(), timeout=5.0))
        engine.start()
        assert entered.wait(10)
        engine.stop()  # while the boot is inside adopt_client
        release.set()
        monkeypatch.setattr(SyncState, "adopt_client", real)
        assert finished.wait(10)
        assert failures == []
        again = SyncEngine(vault, KeyStore(MemoryKeyring(), timeout=5.0))
        again.start()
        assert again.wait_ready(10)
        again.stop()
