"""Edit stamps: concurrency from causal metadata, kept across restarts, safe to parse."""

from __future__ import annotations

from types import MappingProxyType

from crdt_store.edit_clock import EditStamp, stamp_from_json
from crdt_store.unicode_offsets import TextOp
from crdt_store.vault import Vault


def stamp(client, first, last=None, **seen):
    return EditStamp(client, first, last or first,
                     MappingProxyType({int(k[1:]): v for k, v in seen.items()}))


def test_concurrency_is_decided_by_what_each_author_had_seen() -> None:
    a1 = stamp(1, 10)
    b_after_a = stamp(2, 5, c1=10)
    b_blind = stamp(2, 5, c1=9)
    assert b_after_a.saw(a1) and not b_after_a.concurrent_with(a1)
    assert b_blind.concurrent_with(a1) and a1.concurrent_with(b_blind)
    assert not stamp(1, 11).concurrent_with(a1)  # one author's edits are never concurrent
    batch = stamp(1, 10, 20)  # an envelope carrying several changes
    assert stamp(2, 7, c1=20).saw(batch)
    assert not stamp(2, 7, c1=10).saw(batch)  # seen only in part: its rest was made blind


def test_stamps_from_the_network_are_checked() -> None:
    good = stamp(7, 3, 4, c9=2)
    assert stamp_from_json(good.to_json()) == good
    for bad in (None, [], {"client": 7}, {"client": True, "counts": [1, 1], "seen": {}},
                {"client": 7, "counts": [2, 1], "seen": {}},
                {"client": 7, "counts": [1, 1], "seen": {"x": 1}},
                {"client": 7, "counts": [1, 1], "seen": {"3": -1}},
                {"client": 7, "counts": [1, 2**70], "seen": {}}):
        assert stamp_from_json(bad) is None, bad


def test_local_edits_get_growing_counts_that_survive_a_restart(tmp_path) -> None:
    with Vault(tmp_path / "v") as vault:
        note = vault.create_note(vault.create_notebook("N"), "x")
        stamps = []
        vault.subscribe(lambda e: e.doc_id == note and stamps.append(e.stamp))
        for _ in range(3):
            vault.edit(note, [TextOp(0, 0, "é")])
        counts = [s.last for s in stamps]
        assert counts == sorted(set(counts)) and len(counts) == 3
        assert stamps[1].seen[vault.author.client_id] == counts[0]
        clock = vault.edit_clock(note)
    with Vault(tmp_path / "v") as vault:
        assert vault.edit_clock(note) == clock
        later = []
        vault.subscribe(lambda e: later.append(e.stamp))
        vault.edit(note, [TextOp(0, 0, "😀")])
        assert later[0].first > counts[-1]
