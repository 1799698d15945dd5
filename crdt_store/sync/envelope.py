"""Sealed, signed envelopes (PROTOCOL.md, *Envelopes*): the only thing a relay sees.

    envelope = "PLE1"  sender:32  nonce:24  ciphertext  signature:64

The payload is encrypted with XChaCha20-Poly1305 under the notebook key, bound to
the notebook id and sender by the associated data, and the whole is signed by the
sending device. Opening checks the signature first, then the AEAD tag, then every
payload header field. Opening untrusted bytes raises EnvelopeError and nothing else;
the update bytes themselves are checked by the vault when it applies them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import secrets
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from nacl.bindings import (
    crypto_aead_xchacha20poly1305_ietf_decrypt,
    crypto_aead_xchacha20poly1305_ietf_encrypt,
)
from nacl.exceptions import CryptoError
from nacl.signing import VerifyKey

from crdt_store.edit_clock import EditStamp, stamp_from_json, vector_from_json
from crdt_store.errors import PlaitError
from crdt_store.sync.keymaterial import DeviceKey, NotebookKey

__all__ = [
    "MAGIC",
    "MAX_ENVELOPE",
    "DeviceKey",
    "EnvelopeError",
    "NotebookKey",
    "Opened",
    "SnapshotDoc",
    "SnapshotMeta",
    "UpdateMeta",
    "envelope_id",
    "open_envelope",
    "seal_snapshot",
    "seal_update",
]

MAGIC = b"PLE1"
SENDER_BYTES, NONCE_BYTES, TAG_BYTES, SIGNATURE_BYTES = 32, 24, 16, 64
_FIXED = len(MAGIC) + SENDER_BYTES + NONCE_BYTES + TAG_BYTES + SIGNATURE_BYTES
_U32 = struct.Struct(">I")

MAX_ENVELOPE = 256 * 1024 * 1024  # a whole-notebook snapshot may be large
MAX_HEADER = 1024 * 1024  # names and a state vector; never near this
MAX_ID_CHARS = 256  # document and device ids
MAX_NAME_CHARS = 1024
MAX_CLIENT = 2**63 - 1  # the vault stores it as an SQLite INTEGER (signed 64-bit)
MAX_SAID_REMOVED = 2000  # code points of deleted text an update may say it removed
_KINDS: tuple[str, ...] = ("note", "catalog")  # index = snapshot record kind byte

Kind = Literal["note", "catalog"]
EnvelopeType = Literal["update", "snapshot"]


class EnvelopeError(PlaitError):
    """Bytes that are not an envelope this notebook may accept.

    `reason` is one of REASONS: "malformed" (not shaped like an envelope),
    "too_large", "bad_signature" (forged, altered, or signed for another notebook),
    "wrong_key_or_tampered" (the AEAD tag fails), "bad_payload" (the decrypted header
    or snapshot records are invalid), "wrong_type" (a snapshot where an update was
    expected, or the reverse).
    """

    REASONS = frozenset({"malformed", "too_large", "bad_signature", "wrong_key_or_tampered",
                         "bad_payload", "wrong_type"})

    def __init__(self, reason: str, message: str) -> None:
        assert reason in self.REASONS, reason
        self.reason = reason
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class UpdateMeta:
    """Who made one document's update, when, and on which state (the payload header)."""

    doc_id: str
    kind: Kind
    client: int
    device: str
    name: str
    time: float
    made_on: bytes
    n: int
    stamp: EditStamp | None = None  # which edit, and what its author had seen (optional)
    clock: dict[int, int] | None = None  # a whole document: its sender's edit clock
    removed: str | None = None  # the text the edit deleted, as its author had it (optional)


@dataclass(frozen=True, slots=True)
class SnapshotMeta:
    """The payload header of a snapshot: its author, and no single document."""

    client: int
    device: str
    name: str
    time: float
    n: int
    made_on: bytes = b""


class SnapshotDoc(NamedTuple):
    doc_id: str
    kind: Kind
    update: bytes


@dataclass(frozen=True, slots=True)
class Opened:
    """A verified, decrypted envelope. For a snapshot `update` is empty and `docs`
    holds the records; for an update `docs` is empty."""

    type: EnvelopeType
    sender: bytes
    meta: UpdateMeta | SnapshotMeta
    update: bytes
    envelope_id: str
    docs: tuple[SnapshotDoc, ...] = ()


def envelope_id(envelope: bytes) -> str:
    """BLAKE2b-256 of the whole envelope, hex: its identity on every relay."""
    return hashlib.blake2b(bytes(envelope), digest_size=32).hexdigest()


def seal_update(key: NotebookKey, notebook_id: str, device_key: DeviceKey,
                meta: UpdateMeta, update: bytes) -> bytes:
    """Seal one document's CRDT update for a notebook and sign it with this device."""
    header = {"v": 1, "type": "update", "doc": meta.doc_id, "kind": meta.kind,
              **_author_fields(meta), "made_on": _b64(meta.made_on)}
    if meta.stamp is not None:
        header["stamp"] = meta.stamp.to_json()
    if meta.clock:
        header["clock"] = {str(c): n for c, n in meta.clock.items()}
    if meta.removed is not None:
        header["removed"] = meta.removed
    return _seal(key, notebook_id, device_key, header, _as_bytes(update, "update"))


def seal_snapshot(key: NotebookKey, notebook_id: str, device_key: DeviceKey,
                  meta: SnapshotMeta, docs: Iterable[tuple[str, str, bytes]]) -> bytes:
    """Seal a whole-notebook snapshot: one record per (doc_id, kind, update)."""
    header = {"v": 1, "type": "snapshot", **_author_fields(meta),
              "made_on": _b64(meta.made_on)}
    records = bytearray()
    seen: set[str] = set()
    for doc_id, kind, update in docs:
        _check_doc(doc_id, kind, seen)
        raw_id, raw_update = doc_id.encode(), _as_bytes(update, "snapshot update")
        records += _U32.pack(len(raw_id)) + raw_id + bytes([_KINDS.index(kind)])
        records += _U32.pack(len(raw_update)) + raw_update
    return _seal(key, notebook_id, device_key, header, bytes(records))


def open_envelope(key: NotebookKey, notebook_id: str, envelope: bytes, *,
                  expect: EnvelopeType | None = None,
                  max_size: int = MAX_ENVELOPE) -> Opened:
    """Verify, decrypt and parse an envelope from anywhere; EnvelopeError if it is
    not an intact envelope of this notebook (of type `expect`, when given)."""
    associated_prefix = _associated_prefix(notebook_id)
    if not isinstance(envelope, (bytes, bytearray, memoryview)):
        raise EnvelopeError("malformed", "An envelope is bytes.")
    envelope = bytes(envelope)
    if len(envelope) > max_size:
        raise EnvelopeError("too_large", f"Envelope of {len(envelope)} bytes is over {max_size}.")
    if len(envelope) < _FIXED:
        raise EnvelopeError("malformed", f"Envelope of {len(envelope)} bytes is too short.")
    if envelope[:4] != MAGIC:
        raise EnvelopeError("malformed", "Not a Plait envelope (wrong magic bytes).")
    sender = envelope[4:4 + SENDER_BYTES]
    nonce = envelope[4 + SENDER_BYTES:4 + SENDER_BYTES + NONCE_BYTES]
    ciphertext = envelope[4 + SENDER_BYTES + NONCE_BYTES:-SIGNATURE_BYTES]
    signature = envelope[-SIGNATURE_BYTES:]
    associated = associated_prefix + sender
    try:
        VerifyKey(sender).verify(associated + nonce + ciphertext, signature)
    except (CryptoError, ValueError, TypeError):
        raise EnvelopeError(
            "bad_signature",
            "The envelope's signature does not verify: it was forged or altered, "
            "or it was sent for another notebook.") from None
    try:
        payload = crypto_aead_xchacha20poly1305_ietf_decrypt(ciphertext, associated, nonce,
                                                             key.to_bytes())
    except (CryptoError, ValueError, TypeError):
        raise EnvelopeError(
            "wrong_key_or_tampered",
            "The envelope does not decrypt with this notebook's key: "
            "the key is wrong or the envelope was tampered with.") from None
    header, body = _split_payload(payload)
    opened_type, meta = _parse_header(header)
    if expect is not None and opened_type != expect:
        raise EnvelopeError("wrong_type", f"Expected an {expect} envelope, got a {opened_type}.")
    eid = envelope_id(envelope)
    if opened_type == "snapshot":
        return Opened(opened_type, sender, meta, b"", eid, _parse_records(body))
    return Opened(opened_type, sender, meta, body, eid)


def _seal(key: NotebookKey, notebook_id: str, device_key: DeviceKey,
          header: dict[str, Any], body: bytes) -> bytes:
    _parse_header(header)  # a sender's bug fails here, not at every receiver
    raw_header = json.dumps(header, separators=(",", ":"), ensure_ascii=False,
                            allow_nan=False).encode()
    if len(raw_header) > MAX_HEADER:
        raise EnvelopeError("bad_payload", "Envelope header is too large.")
    payload = _U32.pack(len(raw_header)) + raw_header + body
    sender = device_key.public
    associated = _associated_prefix(notebook_id) + sender
    nonce = secrets.token_bytes(NONCE_BYTES)
    ciphertext = crypto_aead_xchacha20poly1305_ietf_encrypt(payload, associated, nonce,
                                                            key.to_bytes())
    signature = device_key.sign(associated + nonce + ciphertext)
    return MAGIC + sender + nonce + ciphertext + signature


def _associated_prefix(notebook_id: str) -> bytes:
    """"PLE1" || notebook_id || 0x00; the notebook id is ours, so a bad one is a bug."""
    if not isinstance(notebook_id, str) or not notebook_id.isascii() or "\0" in notebook_id \
            or not notebook_id:
        raise ValueError(f"notebook id must be non-empty ASCII without NUL: {notebook_id!r}")
    return MAGIC + notebook_id.encode("ascii") + b"\0"


def _author_fields(meta: UpdateMeta | SnapshotMeta) -> dict[str, Any]:
    return {"client": meta.client, "device": meta.device, "name": meta.name,
            "time": meta.time, "n": meta.n}


def _b64(raw: bytes) -> str:
    return base64.b64encode(_as_bytes(raw, "made_on")).decode("ascii")


def _as_bytes(value: object, what: str) -> bytes:
    """Bytes-like to bytes; anything else (even an int, which bytes() accepts) is a bug."""
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise TypeError(f"{what} must be bytes, not {type(value).__name__}")
    return bytes(value)


def _split_payload(payload: bytes) -> tuple[object, bytes]:
    if len(payload) < _U32.size:
        raise EnvelopeError("bad_payload", "Payload is shorter than its header length.")
    (length,) = _U32.unpack_from(payload)
    if length > MAX_HEADER or _U32.size + length > len(payload):
        raise EnvelopeError("bad_payload", f"Payload header length {length} is out of bounds.")
    try:
        header = json.loads(payload[_U32.size:_U32.size + length].decode("utf-8"),
                            parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise EnvelopeError("bad_payload", f"Payload header is not JSON: {exc}") from None
    return header, payload[_U32.size + length:]


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number")


def _field(header: dict[str, Any], key: str, kind: type) -> Any:
    value = header.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise EnvelopeError("bad_payload", f"Payload header needs {key!r} of type {kind.__name__}.")
    return value


def _text(header: dict[str, Any], key: str, limit: int, *, empty_ok: bool = False) -> str:
    value = _field(header, key, str)
    if len(value) > limit or (not value and not empty_ok):
        raise EnvelopeError("bad_payload", f"Payload header {key!r} is empty or too long.")
    return value


def _parse_header(header: object) -> tuple[EnvelopeType, UpdateMeta | SnapshotMeta]:
    if not isinstance(header, dict):
        raise EnvelopeError("bad_payload", "Payload header is not a JSON object.")
    if _field(header, "v", int) != 1:
        raise EnvelopeError("bad_payload", f"Payload version {header['v']} is not 1.")
    kind_of = _field(header, "type", str)
    client = _field(header, "client", int)
    n = _field(header, "n", int)
    time = header.get("time")
    if isinstance(time, bool) or not isinstance(time, (int, float)) or not math.isfinite(time):
        raise EnvelopeError("bad_payload", "Payload header needs a finite number 'time'.")
    if not 0 <= client <= MAX_CLIENT or n < 0:
        raise EnvelopeError("bad_payload", "Payload header 'client' or 'n' is out of range.")
    device = _text(header, "device", MAX_ID_CHARS)
    name = _text(header, "name", MAX_NAME_CHARS, empty_ok=True)
    try:
        made_on = base64.b64decode(_field(header, "made_on", str), validate=True)
    except (binascii.Error, ValueError):
        raise EnvelopeError("bad_payload", "Payload header 'made_on' is not base64.") from None
    if kind_of == "snapshot":
        return "snapshot", SnapshotMeta(client, device, name, float(time), n, made_on)
    if kind_of != "update":
        raise EnvelopeError("bad_payload", f"Unknown envelope type {kind_of[:40]!r}.")
    doc_id = _text(header, "doc", MAX_ID_CHARS)
    kind = _field(header, "kind", str)
    if kind not in _KINDS:
        raise EnvelopeError("bad_payload", f"Unknown document kind {kind[:40]!r}.")
    stamp = stamp_from_json(header.get("stamp"))  # optional: older peers send none
    if stamp is not None and stamp.client != client:
        raise EnvelopeError("bad_payload", "Payload header 'stamp' names another client.")
    removed = header.get("removed")  # optional, informational: ignored when malformed
    if not isinstance(removed, str) or len(removed) > MAX_SAID_REMOVED:
        removed = None
    return "update", UpdateMeta(doc_id, kind, client, device, name, float(time), made_on, n,
                                stamp, vector_from_json(header.get("clock")), removed)


def _check_doc(doc_id: object, kind: object, seen: set[str]) -> None:
    if not isinstance(doc_id, str) or not doc_id or len(doc_id) > MAX_ID_CHARS:
        raise EnvelopeError("bad_payload", "Snapshot document id is empty, too long or not text.")
    if kind not in _KINDS:
        raise EnvelopeError("bad_payload", f"Unknown snapshot document kind {kind!r:.40}.")
    if doc_id in seen:
        raise EnvelopeError("bad_payload", f"Snapshot holds document {doc_id!r:.60} twice.")
    seen.add(doc_id)


def _parse_records(body: bytes) -> tuple[SnapshotDoc, ...]:
    """`doc_length:u32be doc_id kind:u8 update_length:u32be update`, repeated."""
    docs: list[SnapshotDoc] = []
    seen: set[str] = set()
    pos = 0
    while pos < len(body):
        doc_id_raw, pos = _take(body, pos, limit=MAX_ID_CHARS * 4)
        if pos >= len(body):
            raise EnvelopeError("bad_payload", "Snapshot record is cut short.")
        kind_byte = body[pos]
        update, pos = _take(body, pos + 1, limit=len(body))
        try:
            doc_id = doc_id_raw.decode("utf-8")
        except UnicodeDecodeError:
            raise EnvelopeError("bad_payload", "Snapshot document id is not UTF-8.") from None
        kind = _KINDS[kind_byte] if kind_byte < len(_KINDS) else kind_byte
        _check_doc(doc_id, kind, seen)
        docs.append(SnapshotDoc(doc_id, kind, update))
    return tuple(docs)


def _take(body: bytes, pos: int, *, limit: int) -> tuple[bytes, int]:
    if pos + _U32.size > len(body):
        raise EnvelopeError("bad_payload", "Snapshot record is cut short.")
    (length,) = _U32.unpack_from(body, pos)
    start = pos + _U32.size
    if length > limit or start + length > len(body):
        raise EnvelopeError("bad_payload", f"Snapshot record length {length} is out of bounds.")
    return body[start:start + length], start + length
