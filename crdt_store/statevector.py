"""Yjs state vectors as Python dicts, and causal comparisons between them.

A state vector maps each CRDT client id to the number of its operations seen.
The encoding is lib0's: a var-uint count, then (client, clock) var-uint pairs.
"""

from __future__ import annotations

from functools import lru_cache




def read_var_uint(data: bytes, pos: int) -> tuple[int, int]:
    """The lib0 var-uint at `pos`: (its value, the position after it). ValueError if the
    bytes end inside it."""
    if pos < len(data) and data[pos] < 0x80:  # most numbers: one byte
        return data[pos], pos + 1
    value = 0
    shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("state vector ends in the middle of a number")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise ValueError("state vector number is too large")


def decode_state_vector(data: bytes) -> dict[int, int]:
    """Decode lib0-encoded state vector bytes; raises ValueError on malformed input."""
    if not data:
        return {}
    count, pos = read_var_uint(data, 0)
    result: dict[int, int] = {}
    for _ in range(count):
        client, pos = read_var_uint(data, pos)
        clock, pos = read_var_uint(data, pos)
        result[client] = clock
    if pos != len(data):
        raise ValueError("state vector has trailing bytes")
    return result


def encode_state_vector(vector: dict[int, int]) -> bytes:
    """The lib0 encoding of a state vector (inverse of decode_state_vector)."""
    out = bytearray()
    _write_var_uint(out, len(vector))
    for client, clock in vector.items():
        _write_var_uint(out, client)
        _write_var_uint(out, clock)
    return bytes(out)


def _write_var_uint(out: bytearray, value: int) -> None:
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def made_on_for_local(base_state: bytes, update: bytes, client_id: int) -> bytes:
    """The state vector a local update was made on, without asking pycrdt for it.

    A local transaction sees every other client as of the last remote merge
    (`base_state`) and its own client up to where its new operations start, which
    the v1 update header states: a count of client blocks, then per block the
    number of structs, the client and the starting clock. An update that only
    deletes has no block: its own client's entry stays as in `base_state`, a lower
    bound of what it was made on.
    """
    blocks, pos = read_var_uint(update, 0)
    if blocks:  # a local update holds only its own client's block (none if it only deletes)
        _, pos = read_var_uint(update, pos)
        client, pos = read_var_uint(update, pos)
        clock, pos = read_var_uint(update, pos)
        if client == client_id:
            head, tail = _around(base_state, client)
            middle = bytearray()
            _write_var_uint(middle, client)
            _write_var_uint(middle, clock)
            return head + middle + tail
    return encode_state_vector(decode_state_vector(base_state))


@lru_cache(maxsize=256)
def _around(state: bytes, client: int) -> tuple[bytes, bytes]:
    """The encoding of `state` with `client`'s entry set to any clock, in two parts:
    what comes before that entry (the count first) and what after. Every keystroke
    between two merges shares them, so typing encodes only its own (client, clock)."""
    vector = decode_state_vector(state)
    head, tail = bytearray(), bytearray()
    _write_var_uint(head, len(vector) + (client not in vector))
    part = head
    for other, clock in vector.items():
        if other == client:
            part = tail  # its own entry keeps its place
            continue
        _write_var_uint(part, other)
        _write_var_uint(part, clock)
    return bytes(head), bytes(tail)


def covers(have: dict[int, int], need: dict[int, int]) -> bool:
    """True when `have` has seen at least everything in `need`."""
    return all(have.get(client, 0) >= clock for client, clock in need.items())
