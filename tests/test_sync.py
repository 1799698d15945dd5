"""Sync end to end: real vaults, real sync engines, a real relay on 127.0.0.1."""

from __future__ import annotations

import pytest

from crdt_store.errors import PlaitError
from crdt_store.keys import KeyringUnavailableError, KeyStore
from crdt_store.sync.engine import SyncEngine
from crdt_store.sync.invite import InviteError, parse_invite
from crdt_store.unicode_offsets import TextOp
from crdt_store.vault import Vault

from .keyring_fixtures import LockedKeyring

pytest_plugins = ["tests.relay_fixtures"]  # the relay and relay_factory fixtures
from .sync_helpers import Device, Devices


def text_of(device: Device, note_id: str) -> str | None:
    assert device.vault is not None
    if device.vault.document_kind(note_id) is None:
        return None
    return device.vault.note_text(note_id)


def share(devices: Devices, owner: Device, relay_urls: list[str], name: str = "Shared",
          notes: tuple[str, ...] = ()) -> tuple[str, list[str], str]:
    """`owner` makes a notebook with `notes`, shares it; returns (notebook, note ids, link)."""
    vault = owner.vault
    nb = vault.create_notebook(name)
    ids = [vault.create_note(nb, body) for body in notes]
    invite = owner.engine.share(nb, tuple(relay_urls))
    return nb, ids, invite.link()


def join(devices: Devices, device: Device, link: str) -> str:
    return device.engine.join(parse_invite(link))


def test_a_shared_notebook_reaches_a_second_device_and_edits_flow_both_ways(devices, relay):
    a, b = devices.add("Ada"), devices.add("Bo")
    nb, (note,), link = share(devices, a, [relay.url], notes=("# Plan\nfirst line café 😀\n",))
    join(devices, b, link)
    assert devices.pump_until(lambda: text_of(b, note) == "# Plan\nfirst line café 😀\n")
    assert devices.pump_until(lambda: b.vault.document_kind(nb) is not None
                              and b.vault.notebook(nb).name == "Shared")
    assert b.vault.notebook_of(note) == nb

    a.vault.append_text(note, "from Ada\n")
    b.vault.append_text(note, "from Bo 中文\n")
    assert devices.pump_until(lambda: text_of(a, note) == text_of(b, note)
                              and "from Ada" in text_of(a, note) and "中文" in text_of(a, note))
    devices.settle()
    members = {m.name for m in a.vault.sharing(nb).members}
    assert members == {"Ada", "Bo"}
    assert a.vault.sharing(nb).relays == (relay.url,)


def test_three_devices_edit_offline_then_converge_after_a_relay_restart(devices, relay):
    a, b, c = devices.add("A"), devices.add("B"), devices.add("C")
    nb, (note,), link = share(devices, a, [relay.url], notes=("base\n",))
    join(devices, b, link)
    join(devices, c, link)
    assert devices.pump_until(lambda: text_of(b, note) == "base\n" and text_of(c, note) == "base\n")
    devices.settle()

    relay.stop()
    assert devices.pump_until(lambda: all(
        s.state == "offline" for d in devices.devices for s in d.engine.status().values()))
    markers = {}
    for device in (a, b, c):
        for i in range(5):
            marker = f"[{device.name}-{i}]"
            device.vault.edit(note, [TextOp(0, 0, marker)])
            markers[marker] = device
        device.vault.create_note(nb, f"# Offline note by {device.name}\n")
    relay.start()
    devices.settle(timeout=60)

    texts = {text_of(d, note) for d in (a, b, c)}
    assert len(texts) == 1
    merged = texts.pop()
    for marker in markers:
        assert merged.count(marker) == 1, (marker, merged)
    assert merged.endswith("base\n") and merged.count("base") == 1
    titles = [{s.title for s in d.vault.list_notes(nb)} for d in (a, b, c)]
    assert titles[0] == titles[1] == titles[2]
    assert {"Offline note by A", "Offline note by B", "Offline note by C"} <= titles[0]


def test_the_relay_stores_only_ciphertext(devices, relay):
    a, b = devices.add("A"), devices.add("B")
    secret = "the-secret-marker-7f3a9"
    nb, (note,), link = share(devices, a, [relay.url], name="Private-notebook-name",
                              notes=(f"# Diary\n{secret}\n",))
    join(devices, b, link)
    assert devices.pump_until(lambda: secret in (text_of(b, note) or ""))
    devices.settle()
    relay.stop()
    stored = b"".join(p.read_bytes() for p in relay.data_dir.rglob("*") if p.is_file())
    assert stored  # the relay did store something
    for plaintext in (secret, "Diary", "Private-notebook-name", note, "Ada"):
        assert plaintext.encode() not in stored, plaintext


def test_unsent_edits_survive_a_restart_of_the_device(devices, relay):
    a, b = devices.add("A"), devices.add("B")
    nb, (note,), link = share(devices, a, [relay.url], notes=("start\n",))
    join(devices, b, link)
    assert devices.pump_until(lambda: text_of(b, note) == "start\n")
    devices.settle()

    relay.stop()
    a.vault.append_text(note, "written while the relay was down\n")
    assert devices.pump_until(lambda: a.engine.status()[nb].pending >= 1)
    devices.reopen(a)  # the app quits and starts again, still offline
    assert devices.pump_until(lambda: a.engine.status().get(nb) is not None
                              and a.engine.status()[nb].pending >= 1)
    relay.start()
    assert devices.pump_until(lambda: "written while" in (text_of(b, note) or ""), timeout=30)
    devices.settle()
    assert a.engine.status()[nb].pending == 0


def test_a_missing_keyring_disables_sharing_with_a_clear_message(devices, tmp_path):
    vault = Vault(tmp_path / "v")
    engine = SyncEngine(vault, KeyStore(LockedKeyring(), timeout=5.0))
    engine.start()
    try:
        nb = vault.create_notebook("N")
        with pytest.raises(KeyringUnavailableError) as caught:
            engine.share(nb, ("ws://127.0.0.1:1",))
        assert "keyring" in str(caught.value).lower()
        assert not vault.sharing(nb).shared  # nothing half-done
    finally:
        engine.stop()
        vault.close()


def test_bad_relay_addresses_and_invites_are_refused_with_a_reason(devices):
    a = devices.add("A")
    nb = a.vault.create_notebook("N")
    with pytest.raises(PlaitError, match="not a relay address"):
        a.engine.share(nb, ("http://example.org",))
    with pytest.raises(InviteError, match="not a Plait invite"):
        parse_invite("https://example.org/join")
    with pytest.raises(InviteError, match="damaged"):
        parse_invite("PLAIT1-@@@")


def test_tampered_forged_wrongly_keyed_and_replayed_envelopes_are_rejected(devices, relay,
                                                                          relay_factory):
    from crdt_store.sync.envelope import UpdateMeta, seal_update
    from crdt_store.sync.keymaterial import DeviceKey, NotebookKey

    from .relay_client import RelayClient, run

    second = relay_factory()
    a, b = devices.add("A"), devices.add("B")
    nb, (note,), link = share(devices, a, [relay.url, second.url], notes=("intact\n",))
    join(devices, b, link)
    assert devices.pump_until(lambda: text_of(b, note) == "intact\n")
    devices.settle()
    b.vault.flush()
    rows_before = b.vault.info().update_rows

    key, device = a.engine.key_for_sharing(nb), a.engine.device_key()
    meta = UpdateMeta(doc_id=note, kind="note", client=a.vault.author.client_id,
                      device=a.vault.author.device_id, name="A", time=0.0,
                      made_on=b"\x00", n=999)
    other = Vault(devices.root / "scratch")  # an update that would visibly change the note
    try:
        other.apply_remote_update(note, a.vault.document_kind(note),
                                  a.vault.encode_state(note),
                                  author=a.vault.author, wall_time=0.0)
        other.append_text(note, "INJECTED\n")
        evil_update = other.encode_state(note, a.vault.encode_state_vector(note))
    finally:
        other.close()
    genuine = seal_update(key, nb, device, meta, evil_update)
    flipped = bytearray(genuine)
    flipped[len(flipped) // 2] ^= 0x01
    wrong_key = seal_update(NotebookKey.generate(), nb, device, meta, evil_update)
    impostor = DeviceKey.generate()
    forged = bytearray(seal_update(key, nb, impostor, meta, evil_update))
    forged[4:36] = device.public  # claims to be A, signed by someone else

    async def inject(url: str, envelopes: list[bytes]) -> int:
        async with await RelayClient.connect(url) as client:
            await client.hello()
            await client.open(nb, key.token_text())
            await client.catch_up(nb)
            for envelope in envelopes:
                seq = (await client.put(nb, envelope))["seq"]
            return seq

    run(inject(relay.url, [bytes(flipped), wrong_key, bytes(forged)]))
    assert devices.pump_until(lambda: len(b.engine.problems()) >= 3), b.engine.problems()
    problems = " ".join(b.engine.problems())
    assert "signature" in problems and "key" in problems
    devices.settle()
    assert text_of(b, note) == "intact\n"
    b.vault.flush()
    assert b.vault.info().update_rows == rows_before

    # A genuine envelope applies once; the same bytes again, through the other relay,
    # are a duplicate and change nothing.
    run(inject(relay.url, [genuine]))
    assert devices.pump_until(lambda: "INJECTED" in (text_of(b, note) or ""))
    devices.settle()
    b.vault.flush()
    rows_after_genuine = b.vault.info().update_rows
    seq = run(inject(second.url, [genuine]))
    assert devices.pump_until(lambda: b.engine.received_upto(second.url, nb) >= seq)
    b.vault.flush()
    assert b.vault.info().update_rows == rows_after_genuine
    assert text_of(b, note).count("INJECTED") == 1


def test_a_device_joining_after_the_relay_pruned_old_edits_gets_them_from_a_snapshot(
        devices, relay_factory):
    now = [1_000_000.0]
    relay = relay_factory(prune_days=1, clock=lambda: now[0])
    a = devices.add("A", snapshot_every=10)
    nb, (note,), link = share(devices, a, [relay.url], notes=("# Log\n",))
    def head() -> int:
        info = relay.call(lambda: relay.server.store.info(nb))
        return 0 if info is None else info.head

    assert devices.pump_until(lambda: head() > 0)
    devices.settle()
    for i in range(15):  # each edit its own envelope: wait for it to reach the relay
        before = head()
        a.vault.append_text(note, f"line {i}\n")
        assert devices.pump_until(lambda before=before: head() > before)
    assert devices.pump_until(lambda: relay.call(lambda: relay.server.store.get_snapshot(nb))
                              is not None)
    now[0] += 2 * 86400
    assert relay.call(relay.server.prune_now) > 0  # the oldest envelopes are gone

    b = devices.add("B")
    join(devices, b, link)
    expected = a.vault.note_text(note)
    assert devices.pump_until(lambda: text_of(b, note) == expected and
                              b.vault.notebook_of(note) == nb)
    devices.settle()
    assert not b.engine.problems()


def test_a_relay_added_later_gets_the_whole_notebook(devices, relay, relay_factory):
    a, b = devices.add("A"), devices.add("B")
    nb, (note,), _link = share(devices, a, [relay.url], notes=("before the second relay\n",))
    devices.settle()
    second = relay_factory()
    link = a.engine.share(nb, (second.url,)).link()  # add a relay; the invite names both
    devices.settle()
    first_url = relay.url
    relay.stop()  # only the new relay is left: it must hold everything
    join(devices, b, link)
    assert devices.pump_until(lambda: text_of(b, note) == "before the second relay\n"
                              and b.vault.notebook_of(note) == nb)
    assert set(b.vault.sharing(nb).relays) == {first_url, second.url}


def test_edit_stamps_travel_with_envelopes_and_tell_concurrent_from_sequential(devices, relay):
    a, b = devices.add("A"), devices.add("B")
    nb, (note,), link = share(devices, a, [relay.url], notes=("one two three\n",))
    join(devices, b, link)
    assert devices.pump_until(lambda: text_of(b, note) == "one two three\n")
    devices.settle()
    seen: dict[str, list] = {"A": [], "B": []}
    a.vault.subscribe(lambda e: e.doc_id == note and seen["A"].append(e))
    b.vault.subscribe(lambda e: e.doc_id == note and seen["B"].append(e))

    a.vault.edit(note, [TextOp(0, 3, "ONE")])  # A edits; B sees it, then answers: sequential
    assert devices.pump_until(lambda: text_of(b, note).startswith("ONE"))
    b.vault.edit(note, [TextOp(4, 3, "TWO")])
    assert devices.pump_until(lambda: "TWO" in text_of(a, note))
    first, answer = seen["A"][0].stamp, seen["A"][-1].stamp
    assert answer.client == b.vault.author.client_id
    assert answer.saw(first) and not first.concurrent_with(answer)

    devices.settle()
    relay.stop()  # now both edit without seeing each other: concurrent
    a.vault.edit(note, [TextOp(8, 5, "3")])
    b.vault.edit(note, [TextOp(8, 5, "drei")])
    mine_a, mine_b = seen["A"][-1].stamp, seen["B"][-1].stamp
    relay.start()
    devices.settle()
    theirs_at_a = seen["A"][-1].stamp
    assert theirs_at_a.client == b.vault.author.client_id and theirs_at_a.last == mine_b.last
    assert theirs_at_a.concurrent_with(mine_a)
    assert a.vault.edit_clock(note) == b.vault.edit_clock(note)


def test_an_edit_made_before_the_note_is_placed_still_reaches_the_others(devices, relay):
    from crdt_store.events import DocKind

    a, b = devices.add("A"), devices.add("B")
    nb, _ids, link = share(devices, a, [relay.url])
    join(devices, b, link)
    devices.settle()
    relay.stop()
    note = a.vault.create_note(nb, "new note\n")  # its catalog entry waits for the relay
    b.vault.apply_remote_update(note, DocKind.NOTE, a.vault.encode_state(note),
                                author=a.vault.author, wall_time=0.0)  # the note came early
    assert b.vault.notebook_of(note) is None
    b.vault.append_text(note, "edited by B before it had a notebook\n")
    relay.start()
    assert devices.pump_until(lambda: "edited by B" in (text_of(a, note) or ""), timeout=30)
    assert devices.pump_until(lambda: text_of(a, note) == text_of(b, note))


@pytest.mark.parametrize("target_sorts_first", [True, False])
def test_a_note_moved_between_notebooks_with_other_members_reaches_them_whole(
        devices, relay, target_sorts_first):
    # A shares "Home" with B and "Work" with C; the note goes to Work and back. Which
    # catalog places a note listed in both (halfway through a move) depends on their
    # ids, so both orders are run.
    a, b, c = devices.add("A"), devices.add("B"), devices.add("C")
    books = sorted([a.vault.create_notebook("one"), a.vault.create_notebook("two")])
    work, home = books if target_sorts_first else books[::-1]
    a.vault.rename_notebook(home, "Home")
    a.vault.rename_notebook(work, "Work")
    note = a.vault.create_note(home, "# Plan\n")
    join(devices, b, a.engine.share(home, (relay.url,)).link())
    join(devices, c, a.engine.share(work, (relay.url,)).link())
    assert devices.pump_until(lambda: text_of(b, note) == "# Plan\n")
    devices.settle()
    a.vault.move_note(note, work)
    a.vault.append_text(note, "written in Work\n")
    assert devices.pump_until(lambda: text_of(c, note) == "# Plan\nwritten in Work\n"
                              and c.vault.notebook_of(note) == work, timeout=30)
    a.vault.move_note(note, home)  # back: B, who never had Work, gets what it missed
    a.vault.append_text(note, "back home\n")
    assert devices.pump_until(
        lambda: text_of(b, note) == "# Plan\nwritten in Work\nback home\n", timeout=30)
    devices.settle()
    assert b.engine.problems() == [] and c.engine.problems() == []
