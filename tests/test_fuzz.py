"""Fuzzing: the frame decoder, the envelope opener, Markdown import and update application,
fed mutated real inputs in a child process (tests/fuzz_harness.py)."""

from __future__ import annotations

import pytest


def test_an_envelope_naming_a_client_id_sqlite_cannot_store_is_rejected(tmp_path):
    # Found by the envelopes target: a member's envelope said "client": 2**63 (the parser
    # allowed up to 2**64 - 1). The vault's writer could not store the update's row
    # (SQLite integers are signed 64-bit) and retried that batch for ever: nothing the
    # device wrote afterwards was saved.
    import json as json_
    import struct as struct_

    from crdt_store.sync.envelope import EnvelopeError, open_envelope
    from crdt_store.sync.keymaterial import DeviceKey, NotebookKey

    from .fuzz_harness import _seal_payload

    key, member, notebook = NotebookKey.generate(), DeviceKey.generate(), "a" * 32
    for client, accepted in ((2**63 - 1, True), (2**63, False), (2**64 - 1, False)):
        header = json_.dumps({"v": 1, "type": "update", "doc": "b" * 32, "kind": "note",
                              "client": client, "device": "d", "name": "Eve", "time": 0.0,
                              "n": 1, "made_on": "AA=="}).encode()
        envelope = _seal_payload(key, notebook, member,
                                 struct_.pack(">I", len(header)) + header + b"\x00\x00")
        if accepted:
            assert open_envelope(key, notebook, envelope).meta.client == client
        else:
            with pytest.raises(EnvelopeError) as caught:
                open_envelope(key, notebook, envelope)
            assert caught.value.reason == "bad_payload"


def test_a_catalog_entry_with_a_malformed_field_neither_breaks_a_merge_nor_the_vault(tmp_path):
    # Found by the updates target: a member's catalog update gave a note entry a
    # "created" that is not a number. Reading the entry raised ValueError: the merge
    # failed with it (not CorruptUpdateError) and, the update being stored, the vault
    # could no longer be opened. Malformed fields now read as unset.
    import time as time_

    from pycrdt import Doc

    from crdt_store import model
    from crdt_store.events import DocKind
    from crdt_store.identity import Author
    from crdt_store.vault import Vault

    with Vault(tmp_path / "a") as a:
        nb = a.create_notebook("Shared")
        note = a.create_note(nb, "# Kept\n")
        state, vector = a.encode_state(nb), a.encode_state_vector(nb)
    member = Doc(client_id=4242)
    member.apply_update(state)
    with member.transaction():
        entry = model.catalog_notes(member)[note]
        entry["created"] = "yesterday"
        entry["trashed_at"] = [1, 2]
    model.catalog_info(member)["created"] = {"not": "a number"}
    update = member.get_update(vector)
    peer = Author("member-device", 4242, "Member")
    with Vault(tmp_path / "b") as b:
        b.apply_remote_update(nb, DocKind.CATALOG, state, author=peer, wall_time=time_.time())
        b.apply_remote_update(nb, DocKind.CATALOG, update, author=peer, wall_time=time_.time())
        assert b.notes_in(nb) == [note]
    with Vault(tmp_path / "b") as b:  # and it opens again
        assert b.notebook(nb).name == "Shared" and b.notebook(nb).created == 0.0
        assert b.note_entry(note)[1].created == 0.0
        assert b.note_entry(note)[1].trashed_at is None
