"""Who wrote each character: real vaults of three authors merging through a real relay,
with Unicode (accents, CJK, emoji, RTL), concurrent inserts at one spot and deletions;
and the id reader itself against pycrdt documents whose every character is known."""

from __future__ import annotations

import random
import time

import pytest
from pycrdt import Doc, Snapshot, Text

import crdt_store.history.authorship as authorship
from crdt_store.history.authorship import item_order, live_runs, snapshot_parts
from crdt_store.statevector import decode_state_vector
from crdt_store.sync.invite import parse_invite
from crdt_store.unicode_offsets import TextOp, cp_to_utf8, utf16_len

pytest_plugins = ["tests.relay_fixtures"]

# Each author writes from their own characters in each round, so the text says who
# wrote every character and when.
ROUNDS = {
    ("Ada", 0): "café au lait. ",
    ("Ada", 1): "CRÈME",
    ("Ada", 2): "ØÆ",
    ("Bo", 1): "日本語",
    ("Bo", 2): "中文",
    ("Cy", 1): "😀שלום",
    ("Cy", 2): "🎉مرحبا",
}
OWNER = {ch: key for key, chars in ROUNDS.items() for ch in chars}


def trio(devices, relay):
    ada, bo, cy = devices.add("Ada"), devices.add("Bo"), devices.add("Cy")
    nb = ada.vault.create_notebook("Shared")
    note = ada.vault.create_note(nb, ROUNDS["Ada", 0])
    link = ada.engine.share(nb, (relay.url,)).link()
    for device in (bo, cy):
        device.engine.join(parse_invite(link))
    assert devices.pump_until(lambda: all(
        d.vault.document_kind(note) is not None and d.vault.note_text(note) == ROUNDS["Ada", 0]
        and len(d.vault.sharing(nb).members) == 3 for d in (ada, bo, cy)), timeout=30)
    devices.settle()
    return ada, bo, cy, nb, note


def offline_round(devices, relay, note, *edits) -> None:
    """Each (device, ops-maker) edits while the relay is down; then all converge."""
    relay.stop()
    for device, make in edits:
        device.vault.edit(note, make(device.vault.note_text(note)))
    relay.start()
    vaults = [d.vault for d in devices.devices]
    assert devices.pump_until(lambda: len({v.note_text(note) for v in vaults}) == 1
                              and all(v.note_text(note) == vaults[0].note_text(note)
                                      for v in vaults), timeout=30)
    devices.settle(timeout=30)


def check(device, note, by_name, windows) -> None:
    """Every character's author, device, client and time window; spans tile the text
    and adjacent ones differ."""
    vault = device.vault
    text = vault.note_text(note)
    spans = vault.authorship(note)
    assert [s.start for s in spans] == [0] + [s.end for s in spans[:-1]]
    assert spans[-1].end == len(text)
    for a, b in zip(spans, spans[1:]):
        assert (a.client, a.time) != (b.client, b.time)
    for span in spans:
        writer = by_name[span.name]
        assert (span.client, span.device) == (writer.author.client_id, writer.author.device_id)
        for ch in text[span.start:span.end]:
            name, round_ = OWNER[ch]
            assert span.name == name, (ch, span)
            low, high = windows[round_]
            assert span.time is not None and low <= span.time <= high, (ch, span, windows)


def at(text: str, sub: str) -> int:
    i = text.find(sub)
    assert i >= 0, (sub, text)
    return i


def test_authorship_is_exact_after_three_authors_merge_unicode_text(devices, relay):
    start = time.time()
    ada, bo, cy, nb, note = trio(devices, relay)
    windows = {0: (start, time.time())}
    by_name = {d.name: d.vault for d in (ada, bo, cy)}

    # Round 1: all three insert at one spot; Bo replaces "au "; Cy deletes the ".".
    spot = len("café ")
    windows[1] = (time.time(), 0.0)
    offline_round(
        devices, relay, note,
        (ada, lambda t: [TextOp(spot, 0, ROUNDS["Ada", 1])]),
        (bo, lambda t: [TextOp(spot, 3, ROUNDS["Bo", 1])]),
        (cy, lambda t: [TextOp(at(t, "."), 1, ""), TextOp(spot, 0, ROUNDS["Cy", 1])]),
    )
    windows[1] = (windows[1][0], time.time())
    text = ada.vault.note_text(note)
    assert "." not in text and "au " not in text
    for chars in (ROUNDS["Ada", 1], ROUNDS["Bo", 1], ROUNDS["Cy", 1]):
        assert chars in text

    # Round 2: deletions inside each other's text, inserts at one spot and at the start.
    windows[2] = (time.time(), 0.0)
    offline_round(
        devices, relay, note,
        (ada, lambda t: [TextOp(at(t, "本"), 1, ROUNDS["Ada", 2])]),  # replaces Bo's 本
        (bo, lambda t: [TextOp(0, 0, ROUNDS["Bo", 2]), TextOp(at(t, "ל") + 2, 0, "中")]),
        (cy, lambda t: [TextOp(at(t, "lait"), 1, ""),  # deletes Ada's "l"
                        TextOp(at(t, "本") + 1, 0, ROUNDS["Cy", 2])]),  # where Ada types
    )
    windows[2] = (windows[2][0], time.time())
    text = ada.vault.note_text(note)
    assert "本" not in text and "lait" not in text and "ait" in text
    assert text.startswith(ROUNDS["Bo", 2]) and "ØÆ" in text and "🎉مرحبا" in text

    for device in (ada, bo, cy):
        check(device, note, by_name, windows)
    # Asking again is answered from the cache, and the same.
    assert cy.vault.authorship(note) == cy.vault.authorship(note)

    # A restart reads the same from disk; compaction keeps the authors (times are then
    # those of the editing sessions).
    before = bo.vault.authorship(note)
    devices.reopen(bo)
    by_name["Bo"] = bo.vault
    assert bo.vault.authorship(note) == before
    cy.vault.compact()
    devices.reopen(cy)
    by_name["Cy"] = cy.vault
    compacted = cy.vault.authorship(note)
    assert _merged(compacted) == _merged(before)
    assert all(s.time is not None and start <= s.time <= windows[2][1] for s in compacted)


def _merged(spans):
    out = []
    for s in spans:
        if out and out[-1][2] == s.name and out[-1][1] == s.start:
            out[-1] = (out[-1][0], s.end, s.name)
        else:
            out.append((s.start, s.end, s.name))
    return out


def test_a_local_edit_is_attributed_at_once_and_a_remote_one_after_its_merge(devices, relay):
    ada, bo, cy, nb, note = trio(devices, relay)
    before = time.time()
    bo.vault.edit(note, [TextOp(0, 0, "日本")])  # not on disk yet: from the change event
    [mine, rest] = bo.vault.authorship(note)
    assert (mine.start, mine.end, mine.name) == (0, 2, "Bo") and mine.time >= before
    assert (rest.start, rest.end, rest.name) == (2, 2 + len(ROUNDS["Ada", 0]), "Ada")
    assert devices.pump_until(lambda: ada.vault.note_text(note).startswith("日本"))
    assert [s.name for s in ada.vault.authorship(note)] == ["Bo", "Ada"]


# ---- the id reader against pycrdt documents whose every character is known ---------------

def _random_history(seed: int, steps: int):
    """Three pycrdt replicas editing and syncing at random: each inserted character is
    unique, so `truth[ch]` is its (client, clock)."""
    rng = random.Random(seed)
    clients = [11, 22, 333333]
    docs = {c: Doc(skip_gc=True, client_id=c) for c in clients}
    truth: dict[str, tuple[int, int]] = {}
    fresh = iter(range(0x3400, 0x9FFF))

    def sync(a, b):
        docs[b].apply_update(docs[a].get_update(docs[b].get_state()))
        docs[a].apply_update(docs[b].get_update(docs[a].get_state()))

    for _ in range(steps):
        c = rng.choice(clients)
        text = docs[c].get("body", type=Text)
        s = str(text)
        if s and rng.random() < 0.3:
            i = rng.randrange(len(s))
            n = min(len(s) - i, rng.randint(1, 6))
            del text[cp_to_utf8(s, i):cp_to_utf8(s, i + n)]
        else:
            i = rng.randint(0, len(s))
            clock = decode_state_vector(docs[c].get_state()).get(c, 0)
            chars = ""
            for _ in range(rng.randint(1, 5)):
                ch = chr(next(fresh))
                if rng.random() < 0.2:  # an emoji first: two UTF-16 units, one clock each
                    ch = chr(0x1F600 + len(truth) % 64) + ch
                chars += ch
                truth[ch[-1]] = (c, clock + utf16_len(chars) - 1)
            text.insert(cp_to_utf8(s, i), chars)
        if rng.random() < 0.15:
            sync(*rng.sample(clients, 2))
    for a in clients:
        for b in clients:
            sync(a, b)
    return docs[clients[0]], truth


def _ids_of_text(doc: Doc) -> list[tuple[int, int]]:
    """(client, clock) of every UTF-16 unit of the live text, from item_order."""
    deleted, _ = snapshot_parts(Snapshot.from_doc(doc).encode())
    ids = []
    for client, clock, units, gone in live_runs(item_order(doc.get_update(), "body"), deleted):
        if not gone:
            ids += [(client, clock + i) for i in range(units)]
    return ids


@pytest.mark.parametrize("base", [None, 5])
def test_item_order_names_every_unit_exactly(monkeypatch, base):
    """Concurrent inserts, deletions, emoji; `base` 5 forces the several-pass naming
    used past 63,488 items."""
    if base is not None:
        monkeypatch.setattr(authorship, "_BASE", base)
    doc, truth = _random_history(seed=7, steps=1500)
    text = str(doc.get("body", type=Text))
    ids = _ids_of_text(doc)
    assert len(ids) == len(text.encode("utf-16-le")) // 2
    unit = 0
    for ch in text:
        if ord(ch) > 0xFFFF:
            unit += 2
            continue
        assert ids[unit] == truth[ch], (unit, ch)
        unit += 1


def test_item_order_keeps_deleted_units_in_place():
    doc = Doc(skip_gc=True, client_id=1)
    text = doc.get("body", type=Text)
    text += "abcdef"
    del text[2:4]  # "cd"
    runs = live_runs(item_order(doc.get_update(), "body"),
                     snapshot_parts(Snapshot.from_doc(doc).encode())[0])
    assert runs == [(1, 0, 2, False), (1, 2, 2, True), (1, 4, 2, False)]
