"""Sealed, signed envelopes: round trips, and every kind of damage rejected as EnvelopeError."""

from __future__ import annotations

import base64
import json
import random
import struct

import pycrdt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nacl.bindings import crypto_aead_xchacha20poly1305_ietf_encrypt

from crdt_store.sync.envelope import (
    MAGIC,
    EnvelopeError,
    SnapshotMeta,
    UpdateMeta,
    envelope_id,
    open_envelope,
    seal_snapshot,
    seal_update,
)
from crdt_store.sync.keymaterial import DeviceKey, InvalidKeyError, NotebookKey

NOTEBOOK = "0123456789abcdef0123456789abcdef"
KEY = NotebookKey.generate()
DEVICE = DeviceKey.generate()


def real_update(text: str) -> tuple[bytes, bytes]:
    """A real Yjs update writing `text`, and the state vector it was made on."""
    doc = pycrdt.Doc()
    doc["body"] = body = pycrdt.Text()
    before = doc.get_state()
    body += text
    return doc.get_update(before), before


UPDATE, MADE_ON = real_update("Grüße, 世界 🌍")
META = UpdateMeta(doc_id="note-ü-1", kind="note", client=2**53 - 1, device="dévice 🖥",
                  name="Zoë 山田 🙂", time=1_700_000_000.25, made_on=MADE_ON, n=7)
SMALL = seal_update(KEY, NOTEBOOK, DEVICE, META, UPDATE)


def reason_of(envelope: bytes, key: NotebookKey = KEY, notebook: str = NOTEBOOK) -> str:
    with pytest.raises(EnvelopeError) as caught:
        open_envelope(key, notebook, envelope)
    assert str(caught.value)  # a readable message
    return caught.value.reason


def resign(envelope: bytes, signer: DeviceKey, *, sender: bytes, notebook: str = NOTEBOOK) -> bytes:
    """The same nonce and ciphertext, signed by `signer`, with `sender` in the sender field."""
    nonce_ct = envelope[36:-64]
    body = MAGIC + sender + nonce_ct
    return body + signer.sign(MAGIC + notebook.encode() + b"\0" + sender + nonce_ct)


def forge_payload(payload: bytes, *, key: NotebookKey = KEY) -> bytes:
    """An envelope a member could make by hand: valid crypto around arbitrary payload."""
    sender = DEVICE.public
    associated = MAGIC + NOTEBOOK.encode() + b"\0" + sender
    nonce = bytes(24)
    ct = crypto_aead_xchacha20poly1305_ietf_encrypt(payload, associated, nonce, key.to_bytes())
    return MAGIC + sender + nonce + ct + DEVICE.sign(associated + nonce + ct)


def header_payload(header: object, body: bytes = b"") -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack(">I", len(raw)) + raw + body


def raw_payload(header_text: str) -> bytes:
    raw = header_text.encode()
    return struct.pack(">I", len(raw)) + raw


def valid_header(**changes: object) -> dict[str, object]:
    header: dict[str, object] = {
        "v": 1, "type": "update", "doc": "d", "kind": "note", "client": 1, "device": "x",
        "name": "n", "time": 1.5, "made_on": "", "n": 0}
    header.update(changes)
    return {k: v for k, v in header.items() if v is not ...}


def test_round_trip_keeps_unicode_meta_update_and_sender() -> None:
    opened = open_envelope(KEY, NOTEBOOK, SMALL)
    assert opened.type == "update"
    assert opened.meta == META
    assert opened.update == UPDATE
    assert opened.sender == DEVICE.public
    assert opened.docs == ()
    assert opened.envelope_id == envelope_id(SMALL)
    # The update really is the one that was sealed: it applies and gives the text.
    doc = pycrdt.Doc()
    doc["body"] = body = pycrdt.Text()
    doc.apply_update(opened.update)
    assert str(body) == "Grüße, 世界 🌍"


def test_the_relay_sees_no_plaintext() -> None:
    for secret in (META.name.encode(), META.doc_id.encode(), META.device.encode(),
                   "Grüße".encode()):
        assert secret not in SMALL


def test_envelope_id_is_stable_and_distinct_per_envelope() -> None:
    assert envelope_id(SMALL) == envelope_id(bytes(SMALL)) == open_envelope(
        KEY, NOTEBOOK, SMALL).envelope_id
    assert len(envelope_id(SMALL)) == 64
    again = seal_update(KEY, NOTEBOOK, DEVICE, META, UPDATE)  # fresh nonce
    assert envelope_id(again) != envelope_id(SMALL)


def test_every_single_bit_flip_of_a_small_envelope_is_rejected() -> None:
    reasons = set()
    for position in range(len(SMALL)):
        for bit in (0, 7):
            damaged = bytearray(SMALL)
            damaged[position] ^= 1 << bit
            reasons.add(reason_of(bytes(damaged)))
    assert reasons == {"malformed", "bad_signature"}


def test_random_bit_flips_of_a_large_envelope_are_rejected() -> None:
    big_update, _ = real_update("long note line\n" * 40_000)
    big = seal_update(KEY, NOTEBOOK, DEVICE, META, big_update)
    assert open_envelope(KEY, NOTEBOOK, big).update == big_update
    rng = random.Random(1234)
    for _ in range(200):
        damaged = bytearray(big)
        damaged[rng.randrange(len(big))] ^= 1 << rng.randrange(8)
        reason_of(bytes(damaged))


def test_wrong_key_is_reported_as_such() -> None:
    assert reason_of(SMALL, key=NotebookKey.generate()) == "wrong_key_or_tampered"


def test_an_envelope_moved_to_another_notebook_is_rejected() -> None:
    assert reason_of(SMALL, notebook="fedcba9876543210fedcba9876543210") == "bad_signature"


def test_resigned_by_another_device_with_sender_swapped_fails_the_aead() -> None:
    # The signature is valid for the mallory key, but the sender is bound into the
    # associated data, so the ciphertext no longer decrypts.
    mallory = DeviceKey.generate()
    forged = resign(SMALL, mallory, sender=mallory.public)
    assert reason_of(forged) == "wrong_key_or_tampered"


def test_resigned_by_another_device_with_sender_kept_fails_the_signature() -> None:
    mallory = DeviceKey.generate()
    assert reason_of(resign(SMALL, mallory, sender=DEVICE.public)) == "bad_signature"


def test_truncated_envelopes_are_rejected() -> None:
    for length in [0, 1, 3, 4, 35, 60, 139, 140, len(SMALL) - 64, len(SMALL) - 1]:
        assert reason_of(SMALL[:length]) in {"malformed", "bad_signature"}


def test_garbage_is_rejected() -> None:
    rng = random.Random(99)
    for size in (0, 10, 200, 5000):
        garbage = bytes(rng.randrange(256) for _ in range(size))
        assert reason_of(garbage) in {"malformed", "bad_signature"}
        assert reason_of(MAGIC + garbage[4:]) in {"malformed", "bad_signature"}
    with pytest.raises(EnvelopeError) as caught:
        open_envelope(KEY, NOTEBOOK, "text, not bytes")  # type: ignore[arg-type]
    assert caught.value.reason == "malformed"


def test_an_envelope_over_the_size_limit_is_refused_unread() -> None:
    with pytest.raises(EnvelopeError) as caught:
        open_envelope(KEY, NOTEBOOK, SMALL, max_size=len(SMALL) - 1)
    assert caught.value.reason == "too_large"


@pytest.mark.parametrize("payload", [
    b"",
    b"\x00\x00",
    struct.pack(">I", 0xFFFFFFFF) + b"{}",  # header length far past the payload
    struct.pack(">I", 2**20 + 1) + b"{" * (2**20 + 1),  # over the header bound
    struct.pack(">I", 5) + b"\xff\xfe{}x",  # not UTF-8
    struct.pack(">I", 3) + b"{x}",  # not JSON
    struct.pack(">I", 4000) + b"[" * 4000,  # deep nesting
    header_payload([1, 2]),
    header_payload(valid_header(v=2)),
    header_payload(valid_header(v=True)),
    header_payload(valid_header(type="other")),
    header_payload(valid_header(type=...)),
    header_payload(valid_header(doc="")),
    header_payload(valid_header(doc=5)),
    header_payload(valid_header(doc="x" * 300)),
    header_payload(valid_header(kind="folder")),
    header_payload(valid_header(client="1")),
    header_payload(valid_header(client=-1)),
    header_payload(valid_header(client=2**64)),
    header_payload(valid_header(client=1.0)),
    header_payload(valid_header(device=None)),
    header_payload(valid_header(name=["a"])),
    header_payload(valid_header(name="x" * 2000)),
    header_payload(valid_header(time="now")),
    header_payload(valid_header(time=False)),
    header_payload(valid_header(n=-3)),
    header_payload(valid_header(n=...)),
    header_payload(valid_header(made_on="not base64!")),
    header_payload(valid_header(made_on=[])),
    raw_payload(json.dumps(valid_header()).replace("1.5", "NaN")),
    raw_payload('{"v":' + "9" * 5000 + "}"),  # an int too long to parse
])
def test_validly_sealed_bad_payloads_are_rejected(payload: bytes) -> None:
    assert reason_of(forge_payload(payload)) == "bad_payload"


def test_a_well_formed_forged_payload_opens_and_unknown_keys_are_ignored() -> None:
    opened = open_envelope(KEY, NOTEBOOK, forge_payload(
        header_payload(valid_header(extra={"future": True}, time=3), b"upd")))
    assert opened.update == b"upd"
    assert opened.meta == UpdateMeta("d", "note", 1, "x", "n", 3.0, b"", 0)


def test_snapshot_round_trip() -> None:
    note_update, _ = real_update("Snapshot ✓")
    docs = [("note-1", "note", note_update), ("catalog-é", "catalog", b"\x00\x00"),
            ("empty", "note", b"")]
    meta = SnapshotMeta(client=42, device="dev", name="Ada Lovelace 👩‍💻", time=12.5, n=3)
    sealed = seal_snapshot(KEY, NOTEBOOK, DEVICE, meta, docs)
    opened = open_envelope(KEY, NOTEBOOK, sealed, expect="snapshot")
    assert opened.type == "snapshot"
    assert opened.meta == meta
    assert opened.update == b""
    assert [tuple(doc) for doc in opened.docs] == docs
    assert opened.docs[0].doc_id == "note-1" and opened.docs[1].kind == "catalog"
    with pytest.raises(EnvelopeError) as caught:
        open_envelope(KEY, NOTEBOOK, sealed, expect="update")
    assert caught.value.reason == "wrong_type"
    with pytest.raises(EnvelopeError) as caught:
        open_envelope(KEY, NOTEBOOK, SMALL, expect="snapshot")
    assert caught.value.reason == "wrong_type"


def snapshot_payload(records: bytes) -> bytes:
    return header_payload(valid_header(type="snapshot", doc=..., kind=...), records)


def record(doc_id: bytes, kind: int, update: bytes) -> bytes:
    return (struct.pack(">I", len(doc_id)) + doc_id + bytes([kind])
            + struct.pack(">I", len(update)) + update)


@pytest.mark.parametrize("records", [
    record(b"d", 2, b"u"),  # unknown kind
    record(b"", 0, b"u"),  # empty id
    record(b"\xff", 0, b"u"),  # id not UTF-8
    record(b"d", 0, b"u") + record(b"d", 1, b"v"),  # the same document twice
    record(b"d", 0, b"u")[:-1],  # cut short inside the update
    record(b"d", 0, b"u")[:5],  # cut short before the kind
    record(b"d", 0, b"u")[:7],  # cut short inside the update length
    b"\x00\x00",  # cut short inside the id length
    struct.pack(">I", 0xFFFFFFF0) + b"d",  # an id length far past the end
    struct.pack(">I", 1) + b"d\x00" + struct.pack(">I", 0xFFFFFFFF) + b"u",  # update length
])
def test_bad_snapshot_records_are_rejected(records: bytes) -> None:
    assert reason_of(forge_payload(snapshot_payload(records))) == "bad_payload"


def test_sealing_checks_its_own_meta() -> None:
    for bad in (UpdateMeta("d", "folder", 1, "x", "n", 1.0, b"", 0),  # type: ignore[arg-type]
                UpdateMeta("", "note", 1, "x", "n", 1.0, b"", 0),
                UpdateMeta("d", "note", -1, "x", "n", 1.0, b"", 0),
                UpdateMeta("d", "note", 1, "x", "n", float("nan"), b"", 0)):
        with pytest.raises(EnvelopeError):
            seal_update(KEY, NOTEBOOK, DEVICE, bad, b"u")
    with pytest.raises(TypeError):
        seal_update(KEY, NOTEBOOK, DEVICE, META, 5)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        seal_update(KEY, "nötebook", DEVICE, META, b"u")


def test_keys_round_trip_as_text_and_reject_bad_text() -> None:
    key = NotebookKey.generate()
    assert NotebookKey.from_text(key.to_text()) == key
    assert NotebookKey.from_text(key.to_text().rstrip("=")) == key
    assert NotebookKey.from_bytes(key.to_bytes()) == key
    assert len(key.token()) == 32 and key.token() != key.to_bytes()
    assert base64.urlsafe_b64decode(key.token_text()) == key.token()
    device = DeviceKey.from_text(DEVICE.to_text())
    assert device == DEVICE and device.public == DEVICE.public and len(DEVICE.public) == 32
    assert "secret" in repr(key) and key.to_text() not in repr(key)
    for bad in ("", "!!!!", key.to_text() + "AAAA", base64.b64encode(bytes(32)).decode() + "+/"):
        with pytest.raises(InvalidKeyError):
            NotebookKey.from_text(bad)
        with pytest.raises(InvalidKeyError):
            DeviceKey.from_text(bad)


def test_token_matches_the_protocol_derivation() -> None:
    import hashlib

    raw = bytes(range(32))
    expected = hashlib.blake2b(b"plait relay token v1", key=raw, digest_size=32).digest()
    assert NotebookKey.from_bytes(raw).token() == expected


SNAPSHOT = seal_snapshot(KEY, NOTEBOOK, DEVICE, SnapshotMeta(1, "d", "n", 1.0, 1),
                         [("a", "note", UPDATE), ("b", "catalog", UPDATE)])


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(base=st.sampled_from([SMALL, SNAPSHOT]),
       edits=st.lists(st.tuples(st.sampled_from(["flip", "cut", "insert", "delete", "set"]),
                                st.integers(min_value=0), st.binary(min_size=1, max_size=8)),
                      min_size=1, max_size=4))
def test_mutated_real_envelopes_only_open_intact_or_raise_envelope_error(base, edits) -> None:
    data = bytearray(base)
    for op, where, blob in edits:
        at = where % (len(data) + 1)
        if op == "flip" and data:
            data[at % len(data)] ^= blob[0] or 1
        elif op == "cut":
            del data[at:]
        elif op == "insert":
            data[at:at] = blob
        elif op == "delete":
            del data[at:at + len(blob)]
        elif op == "set":
            data[at:at + len(blob)] = blob
    try:
        opened = open_envelope(KEY, NOTEBOOK, bytes(data))
    except EnvelopeError as exc:
        assert exc.reason in EnvelopeError.REASONS
    else:  # only an unchanged envelope can open
        assert bytes(data) == base
        assert opened.envelope_id == envelope_id(base)
