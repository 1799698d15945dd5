"""The plain-Python reader of update bytes agrees with yrs on sound updates, and meets
malformed ones with UnsupportedUpdate only.

It replaced `pycrdt.get_update(update, state)` wherever peer bytes are asked what they
carry (held-back updates, compaction): on mutated updates that call corrupted the
process's memory now and then, found by the fuzz suite's updates target.
"""

from __future__ import annotations

import random

import pytest
from pycrdt import Doc, Map, Text, get_update

from crdt_store.statevector import decode_state_vector, read_var_uint
from crdt_store.update_structs import (UnsupportedUpdate, carries_beyond, delete_ranges,
                                       sound_ranges, update_is_covered, update_ranges)

PIECES = ["plain ", "é accent ", "😀 emoji ", "漢字 ", "שלום ", "\n", "x" * 300]


def _session(seed: int) -> list[bytes]:
    """The updates of two writers typing, deleting and setting map keys, in order."""
    rng = random.Random(seed)
    docs = [Doc(), Doc()]
    updates: list[bytes] = []
    for doc in docs:
        doc.observe(lambda event: updates.append(event.update))
    for step in range(60):
        doc = docs[rng.randrange(2)]
        text, meta = doc.get("body", type=Text), doc.get("meta", type=Map)
        if rng.random() < 0.2 and len(str(text)) > 4:
            start = rng.randrange(len(str(text)) - 2)
            del text[start:start + rng.randint(1, 2)]
        elif rng.random() < 0.2:
            meta[f"k{step % 5}"] = {"n": step, "list": [1, 2.5, None, True, "s"]}
        else:
            text.insert(rng.randint(0, len(str(text))), rng.choice(PIECES))
        other = docs[1 - docs.index(doc)]
        if rng.random() < 0.5:  # the other writer catches up now and then
            other.apply_update(doc.get_update(other.get_state()))
    return updates


def _yrs_says(update: bytes, state: bytes) -> tuple[bool, bool]:
    """(carries items past `state`, covered by `state`), by yrs's own diff."""
    have = decode_state_vector(state)
    diff = get_update(update, state)
    blocks, pos = read_var_uint(diff, 0)
    if blocks:
        return True, False
    clients, pos = read_var_uint(diff, pos)
    for _ in range(clients):
        client, pos = read_var_uint(diff, pos)
        ranges, pos = read_var_uint(diff, pos)
        for _ in range(ranges):
            clock, pos = read_var_uint(diff, pos)
            length, pos = read_var_uint(diff, pos)
            if clock + length > have.get(client, 0):
                return False, False
    return False, True


def test_it_agrees_with_yrs_on_every_update_against_every_earlier_state() -> None:
    checked = beyond = covered = 0
    for seed in range(3):
        updates = _session(seed)
        replica = Doc()
        states = [replica.get_state()]
        for update in updates:
            assert sound_ranges(update) == update_ranges(update)  # the gate lets it in
            replica.apply_update(update)
            states.append(replica.get_state())
        rng = random.Random(seed)
        for update in updates:
            for state in rng.sample(states, 8):
                have = decode_state_vector(state)
                yrs_beyond, yrs_covered = _yrs_says(update, state)
                assert carries_beyond(update, have) == yrs_beyond
                assert update_is_covered(update, have) == yrs_covered
                checked += 1
                beyond += yrs_beyond
                covered += yrs_covered
    assert checked > 1_000 and beyond and covered  # both answers were exercised


def test_a_deletion_of_unseen_items_is_not_covered() -> None:
    doc = Doc()
    text = doc.get("body", type=Text)
    text += "hello"
    before = doc.get_state()
    del text[0:2]
    [(client, [(start, end)])] = delete_ranges(doc.get_update(before)).items()
    assert (client, start, end) == (doc.client_id, 0, 2)
    assert update_is_covered(doc.get_update(before), decode_state_vector(before))
    assert not update_is_covered(doc.get_update(before), {})


def test_the_gate_refuses_structs_and_deletions_of_length_0_or_past_32_bit_clocks() -> None:
    text_item = bytes([1, 1, 9, 0, 0x04, 1, 1, ord("t")])  # client 9, clock 0, root "t"
    assert sound_ranges(text_item + bytes([2]) + b"hi" + bytes([0])) == {9: [(0, 2)]}
    with pytest.raises(UnsupportedUpdate, match="struct of length 0"):
        sound_ranges(text_item + bytes([0, 0]))  # an empty string
    with pytest.raises(UnsupportedUpdate, match="struct of length 0"):
        sound_ranges(bytes([1, 1, 9, 0, 0, 0, 0]))  # a GC of length 0
    with pytest.raises(UnsupportedUpdate, match="deletion of length 0"):
        sound_ranges(bytes([0, 1, 9, 1, 3, 0]))  # no structs; delete 0 items at 9:3
    # yrs keeps clocks in 32 bits: an item or deletion reaching past 2^32 - 1 wraps
    top = bytes([0xFF, 0xFF, 0xFF, 0xFF, 0x0F])  # 2^32 - 1
    with pytest.raises(UnsupportedUpdate, match="struct of length 2 at clock 4294967295"):
        sound_ranges(bytes([1, 1, 9]) + top + bytes([0x04, 1, 1, ord("t"), 2]) + b"hi"
                     + bytes([0]))
    with pytest.raises(UnsupportedUpdate, match="deletion of length 2 at clock 4294967295"):
        sound_ranges(bytes([0, 1, 9, 1]) + top + bytes([2]))
    assert sound_ranges(bytes([1, 1, 9, 0xFD, 0xFF, 0xFF, 0xFF, 0x0F, 0x04, 1, 1, ord("t"), 2])
                        + b"hi" + bytes([0])) == {9: [(2**32 - 3, 2**32 - 1)]}
    assert delete_ranges(bytes([0, 1, 9, 1, 3, 2])) == {9: [(3, 5)]}
    assert sound_ranges(bytes([0, 1, 9, 1, 3, 2])) == {}


def test_malformed_updates_raise_unsupported_update_and_nothing_else() -> None:
    rng = random.Random(7)
    updates = _session(7)
    outcomes = {"read": 0, "unsupported": 0}
    for _ in range(3000):
        data = bytearray(rng.choice(updates))
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(data))
            choice = rng.random()
            if choice < 0.4:
                data[at] = rng.randrange(256)
            elif choice < 0.7:
                del data[at:at + rng.randint(1, 8)]
            else:
                data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        try:
            update_is_covered(bytes(data), {1: 5})
            outcomes["read"] += 1
        except UnsupportedUpdate:
            outcomes["unsupported"] += 1
    assert outcomes["read"] and outcomes["unsupported"], outcomes
    # One item (client 9, clock 0, parent root "t") holding one Any value: an array
    # nested 5,000 deep. Too deep to read: UnsupportedUpdate, not a RecursionError.
    head = bytes([1, 1, 9, 0, 0x08, 1, 1, ord("t"), 1])
    shallow = head + bytes([117, 1]) * 5 + bytes([126, 0])
    assert carries_beyond(shallow, {}) and not carries_beyond(shallow, {9: 1})
    with pytest.raises(UnsupportedUpdate):
        carries_beyond(head + bytes([117, 1]) * 5000 + bytes([126, 0]), {})
