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
