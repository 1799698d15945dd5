"""Yjs state vectors as Python dicts, and causal comparisons between them.

A state vector maps each CRDT client id to the number of its operations seen.
The encoding is lib0's: a var-uint count, then (client, clock) var-uint pairs.
"""

from __future__ import annotations

from pycrdt import get_update

from .errors import CorruptUpdateError
from .guard import guarded


def _read_var_uint(data: bytes, pos: int) -> tuple[int, int]:
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
    count, pos = _read_var_uint(data, 0)
    result: dict[int, int] = {}
    for _ in range(count):
        client, pos = _read_var_uint(data, pos)
        clock, pos = _read_var_uint(data, pos)
        result[client] = clock
    if pos != len(data):
        raise ValueError("state vector has trailing bytes")
    return result


def update_is_covered(update: bytes, state: bytes) -> bool:
    """True when a document at `state` already holds everything `update` carries.

    `pycrdt.get_update(update, state)` keeps only the structs `state` lacks, so a
    covered update leaves no struct blocks (the v1 encoding starts with their
    count). Deletions are always kept whole, so each deleted range must also lie
    inside `state`: a deletion of unseen items would still be waiting in Yrs.
    Raises ValueError for bytes that do not decode.
    """
    try:
        diff = guarded(lambda: get_update(update, state), "update could not be decoded")
    except CorruptUpdateError as exc:
        raise ValueError(str(exc)) from exc
    blocks, pos = _read_var_uint(diff, 0)
    if blocks:
        return False
    have = decode_state_vector(state)
    clients, pos = _read_var_uint(diff, pos)
    for _ in range(clients):
        client, pos = _read_var_uint(diff, pos)
        ranges, pos = _read_var_uint(diff, pos)
        for _ in range(ranges):
            clock, pos = _read_var_uint(diff, pos)
            length, pos = _read_var_uint(diff, pos)
            if clock + length > have.get(client, 0):
                return False
    return True


def covers(have: dict[int, int], need: dict[int, int]) -> bool:
    """True when `have` has seen at least everything in `need`."""
    return all(have.get(client, 0) >= clock for client, clock in need.items())
