"""The two secrets of sharing: a notebook's symmetric key and a device's signing key.

A notebook key (32 random bytes) seals every envelope of one notebook and derives the
capability token a relay checks (PROTOCOL.md, *Capability tokens*). A device key
(Ed25519) signs what this device sends. Both travel as base64url text: in invites and
in the OS keyring. Nothing here touches storage; `crdt_store.keys` keeps them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

from nacl.signing import SigningKey

from crdt_store.errors import PlaitError

KEY_BYTES = 32
TOKEN_CONTEXT = b"plait relay token v1"


class InvalidKeyError(PlaitError):
    """Key text (from an invite or the keyring) that does not decode to a key."""


def b64url(raw: bytes) -> str:
    """base64url with padding, the text form of keys and tokens."""
    return base64.urlsafe_b64encode(raw).decode("ascii")


def from_b64url(text: str, *, size: int, what: str) -> bytes:
    """Decode base64url (padding optional) of exactly `size` bytes, or InvalidKeyError."""
    if not isinstance(text, str):
        raise InvalidKeyError(f"The {what} is not text.")
    stripped = text.strip().rstrip("=")
    try:
        raw = base64.b64decode(stripped + "=" * (-len(stripped) % 4), altchars=b"-_",
                               validate=True)
    except (binascii.Error, ValueError):
        raise InvalidKeyError(f"The {what} is not valid base64url text.") from None
    if len(raw) != size:
        raise InvalidKeyError(f"The {what} holds {len(raw)} bytes; a key has {size}.")
    return raw


class NotebookKey:
    """The 256-bit secret shared by a notebook's members."""

    __slots__ = ("_raw",)

    def __init__(self, raw: bytes) -> None:
        if not isinstance(raw, bytes) or len(raw) != KEY_BYTES:
            raise InvalidKeyError(f"A notebook key is exactly {KEY_BYTES} bytes.")
        self._raw = raw

    @classmethod
    def generate(cls) -> NotebookKey:
        return cls(secrets.token_bytes(KEY_BYTES))

    @classmethod
    def from_bytes(cls, raw: bytes) -> NotebookKey:
        return cls(bytes(raw))

    @classmethod
    def from_text(cls, text: str) -> NotebookKey:
        return cls(from_b64url(text, size=KEY_BYTES, what="notebook key"))

    def to_bytes(self) -> bytes:
        return self._raw

    def to_text(self) -> str:
        return b64url(self._raw)

    def token(self) -> bytes:
        """The relay capability token: keyed BLAKE2b of a fixed context string."""
        return hashlib.blake2b(TOKEN_CONTEXT, key=self._raw, digest_size=32).digest()

    def token_text(self) -> str:
        return b64url(self.token())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NotebookKey) and hmac.compare_digest(self._raw, other._raw)

    def __hash__(self) -> int:
        return hash(self.token())

    def __repr__(self) -> str:  # never print the secret
        return "NotebookKey(<secret>)"


class DeviceKey:
    """One device's Ed25519 signing key; `public` names the device to other members."""

    __slots__ = ("_signing",)

    def __init__(self, signing: SigningKey) -> None:
        self._signing = signing

    @classmethod
    def generate(cls) -> DeviceKey:
        return cls(SigningKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> DeviceKey:
        if not isinstance(seed, bytes) or len(seed) != KEY_BYTES:
            raise InvalidKeyError(f"A device key seed is exactly {KEY_BYTES} bytes.")
        return cls(SigningKey(seed))

    @classmethod
    def from_text(cls, text: str) -> DeviceKey:
        return cls.from_seed(from_b64url(text, size=KEY_BYTES, what="device key"))

    def to_text(self) -> str:
        return b64url(bytes(self._signing))

    @property
    def public(self) -> bytes:
        return bytes(self._signing.verify_key)

    def sign(self, message: bytes) -> bytes:
        """The 64-byte detached Ed25519 signature of `message`."""
        return self._signing.sign(message).signature

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DeviceKey) and hmac.compare_digest(
            bytes(self._signing), bytes(other._signing))

    def __hash__(self) -> int:
        return hash(self.public)

    def __repr__(self) -> str:
        return f"DeviceKey(public={self.public.hex()[:16]}…)"
