"""The wire frames of PROTOCOL.md: one binary WebSocket message each.

Both the relay and the client encode and decode through here, so the format has
one definition. Decoding untrusted bytes raises FrameError with a protocol error
code (never another exception).
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

VERSION = 1
_PREFIX = struct.Struct(">BBI")  # version, type, header length


class FrameType(IntEnum):
    HELLO = 1
    WELCOME = 2
    OPEN = 3
    OPENED = 4
    PUT = 5
    ENVELOPE = 6
    CAUGHT_UP = 7
    ACK = 8
    SNAPSHOT_PUT = 9
    SNAPSHOT_GET = 10
    SNAPSHOT = 11
    ERROR = 15


# Required header keys and their types, per frame type (PROTOCOL.md's table).
_INT, _STR, _OPT_INT, _OPT_STR = int, str, (int, type(None)), (str, type(None))
REQUIRED: dict[FrameType, dict[str, Any]] = {
    FrameType.HELLO: {"client": _STR, "protocol": _INT},
    FrameType.WELCOME: {"protocol": _INT, "relay": _STR, "max_frame": _INT, "max_envelope": _INT},
    FrameType.OPEN: {"req": _INT, "notebook": _STR, "token": _STR, "after": _INT},
    FrameType.OPENED: {"req": _INT, "notebook": _STR, "head": _INT, "snapshot": _OPT_INT},
    FrameType.PUT: {"req": _INT, "notebook": _STR, "id": _STR},
    FrameType.ENVELOPE: {"notebook": _STR, "seq": _INT, "id": _STR},
    FrameType.CAUGHT_UP: {"notebook": _STR, "seq": _INT},
    FrameType.ACK: {"req": _INT, "notebook": _STR, "id": _STR, "seq": _INT},
    FrameType.SNAPSHOT_PUT: {"req": _INT, "notebook": _STR, "upto": _INT},
    FrameType.SNAPSHOT_GET: {"req": _INT, "notebook": _STR},
    FrameType.SNAPSHOT: {"req": _INT, "notebook": _STR, "upto": _INT},
    FrameType.ERROR: {"code": _STR, "message": _STR, "req": _OPT_INT, "notebook": _OPT_STR},
}


class FrameError(ValueError):
    """Bytes that are not a valid frame; `code` is the protocol's error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Frame:
    type: FrameType
    header: dict[str, Any]
    body: bytes = field(default=b"", repr=False)

    def __getitem__(self, key: str) -> Any:
        return self.header[key]


def encode(frame_type: FrameType, header: dict[str, Any], body: bytes = b"") -> bytes:
    """One frame's bytes. The header is checked like a decoded one, so a bug in the
    sender fails here and not at the peer."""
    _check_header(frame_type, header)
    raw = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    return _PREFIX.pack(VERSION, frame_type, len(raw)) + raw + body


def decode(message: bytes | str, *, max_size: int | None = None) -> Frame:
    """Parse one WebSocket message; FrameError for anything that is not a valid frame."""
    if isinstance(message, str):
        raise FrameError("bad_frame", "text messages are not part of the protocol")
    if max_size is not None and len(message) > max_size:
        raise FrameError("too_large", f"frame of {len(message)} bytes is over {max_size}")
    if len(message) < _PREFIX.size:
        raise FrameError("bad_frame", "frame shorter than its prefix")
    version, raw_type, length = _PREFIX.unpack_from(message)
    if version != VERSION:
        raise FrameError("protocol_version", f"frame version {version}; this side speaks {VERSION}")
    try:
        frame_type = FrameType(raw_type)
    except ValueError:
        raise FrameError("bad_frame", f"unknown frame type {raw_type}") from None
    end = _PREFIX.size + length
    if end > len(message):
        raise FrameError("bad_frame", "header runs past the end of the frame")
    try:
        header = json.loads(bytes(message[_PREFIX.size:end]).decode())
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise FrameError("bad_frame", f"header is not JSON: {exc}") from None
    _check_header(frame_type, header)
    return Frame(frame_type, header, bytes(message[end:]))


def _check_header(frame_type: FrameType, header: object) -> None:
    if not isinstance(header, dict):
        raise FrameError("bad_frame", f"{frame_type.name} header is not an object")
    for key, kind in REQUIRED[frame_type].items():
        value = header.get(key)
        if key not in header or not isinstance(value, kind) or isinstance(value, bool):
            raise FrameError("bad_frame", f"{frame_type.name} needs {key!r} of the right type")
        if isinstance(value, int) and value < 0:
            raise FrameError("bad_frame", f"{frame_type.name} {key!r} is negative")


def error_frame(code: str, message: str, *, req: int | None = None,
                notebook: str | None = None) -> bytes:
    return encode(FrameType.ERROR, {"code": code, "message": message, "req": req,
                                    "notebook": notebook})
