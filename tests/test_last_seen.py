"""Since I last looked, on real vaults syncing through a real relay: unread markers
appear after a remote merge and clear on view, own edits never mark a note unread, the
state survives a restart, notebooks count their unread notes, and changes_since_seen
gives exactly the ranges others inserted and where they deleted."""

from __future__ import annotations

import sqlite3

from crdt_store.events import DocKind
from crdt_store.sync.invite import parse_invite
from crdt_store.unicode_offsets import TextOp
from crdt_store.vault import Vault
from tests.review_helpers import pair as review_pair

pytest_plugins = ["tests.relay_fixtures"]

FOX = "The quick brown fox jumps over the lazy dog.\n"


def pair(devices, relay, text: str):
    ada, bo, note = review_pair(devices, relay, text)
    return ada.device, bo.device, ada.device.vault.notebook_of(note), note


def edits(text: str, changes) -> list[TextOp]:
    """Sequential ops: at each (substring or None for the end, delete, insert)."""
    ops = []
    for at, delete, insert in changes:
        pos = len(text) if at is None else text.index(at)
        ops.append(TextOp(pos, delete, insert))
        text = text[:pos] + insert + text[pos + delete:]
    return ops


def reaches(devices, device, note, check) -> None:
    assert devices.pump_until(lambda: device.vault.document_kind(note) is not None
                              and check(device.vault.note_text(note)), timeout=30)
    devices.settle()


def test_unread_appears_after_a_remote_merge_and_clears_on_view(devices, relay):
    ada, bo, nb, note = pair(devices, relay, "# Plan\n")
    # Ada wrote it here: read. Bo never opened it, and a collaborator wrote it: unread.
    assert ada.vault.unread_notes() == set() and ada.vault.unread_counts() == {}
    assert bo.vault.unread_notes() == {note}
    assert bo.vault.unread_counts() == {nb: 1}
    bo.vault.mark_seen(note)
    assert bo.vault.unread_notes() == set() and bo.vault.unread_counts() == {}

    # Bo's own edit never makes it unread for Bo; merged on Ada's device, it is unread there.
    bo.vault.edit(note, [TextOp(0, 0, "Bo: 日本\n")])
    assert bo.vault.unread_notes() == set()
    reaches(devices, ada, note, lambda t: t.startswith("Bo: 日本\n"))
    assert ada.vault.unread_notes() == {note}
    ada.vault.mark_seen(note)
    assert ada.vault.unread_notes() == set()
    assert bo.vault.unread_notes() == set()

    # A pin from someone else changes no text: still read.
    ada.vault.set_pinned(note, True)
    assert devices.pump_until(lambda: bo.vault.placement(note)[1].pinned)
    devices.settle()
    assert bo.vault.unread_notes() == set()

    # A deletion alone from someone else: unread; it survives a restart.
    ada.vault.edit(note, [TextOp(0, 4, "")])
    reaches(devices, bo, note, lambda t: t.startswith("日本"))
    assert bo.vault.unread_notes() == {note}
    devices.reopen(bo)
    assert bo.vault.unread_notes() == {note} and bo.vault.unread_counts() == {nb: 1}
    bo.vault.mark_seen(note)
    devices.reopen(bo)
    assert bo.vault.unread_notes() == set() and bo.vault.unread_counts() == {}


def test_notebooks_count_their_unread_notes(devices, relay):
    ada, bo, nb, note = pair(devices, relay, "first\n")
    other = ada.vault.create_notebook("Other")
    bo.engine.join(parse_invite(ada.engine.share(other, (relay.url,)).link()))
    empty = ada.vault.create_note(nb)  # no text yet: known from the catalog alone
    in_other = ada.vault.create_note(other, "elsewhere 🎉\n")
    trashed = ada.vault.create_note(nb, "old\n")
    ada.vault.trash_note(trashed)
    mine = bo.vault.create_note(nb, "Bo's own\n")  # created here: read
    assert devices.pump_until(lambda: all(
        bo.vault.notebook_of(n) is not None for n in (empty, in_other, trashed))
        and bo.vault.document_kind(in_other) is not None
        and bo.vault.placement(trashed)[1].trashed
        and ada.vault.document_kind(mine) is not None, timeout=30)
    devices.settle()
    assert bo.vault.unread_notes() == {note, empty, in_other, trashed}
    assert bo.vault.unread_counts() == {nb: 2, other: 1}  # the trashed note is not counted
    assert ada.vault.unread_notes() == {mine} and ada.vault.unread_counts() == {nb: 1}
    bo.vault.mark_seen(empty)
    bo.vault.mark_seen(in_other)
    assert bo.vault.unread_counts() == {nb: 1}
    devices.reopen(bo)
    assert bo.vault.unread_notes() == {note, trashed}
    assert bo.vault.unread_counts() == {nb: 1}


def test_changes_since_seen_are_exactly_what_others_inserted_and_deleted(devices, relay):
    ada, bo, nb, note = pair(devices, relay, FOX)
    bo.vault.mark_seen(note)
    assert bo.vault.changes_since_seen(note) == []

    # While the relay is down, Bo edits too: his own text is never a change to see.
    relay.stop()
    bo.vault.edit(note, [TextOp(FOX.index("jumps"), len("jumps "), ""),  # Bo deletes
                         TextOp(0, 0, "Bo—")])
    ada.vault.edit(note, edits(FOX, [("quick", 0, "very "),
                                     ("brown", 5, "rouge 🦊"),  # replaces "brown"
                                     (" lazy", 5, ""),  # deletes " lazy"
                                     (None, 0, "日本 שלום\n")]))  # at the end
    relay.start()
    reaches(devices, bo, note, lambda t: "שלום" in t)
    reaches(devices, ada, note, lambda t: t.startswith("Bo—"))
    text = bo.vault.note_text(note)
    assert text == "Bo—The very quick rouge 🦊 fox over the dog.\n日本 שלום\n"

    def where(sub: str) -> tuple[int, int]:
        i = text.index(sub)
        return i, i + len(sub)

    lazy = text.index(" dog")
    expected = [where("very "), where("rouge 🦊"), (lazy, lazy), where("日本 שלום\n")]
    assert bo.vault.changes_since_seen(note) == expected
    devices.reopen(bo)
    assert bo.vault.changes_since_seen(note) == expected

    # Ada never marked it seen: everything Bo wrote is new to her, and nothing else.
    assert ada.vault.changes_since_seen(note) == [where("Bo—")]

    # Seen now: nothing; a later edit by Ada is all there is.
    bo.vault.mark_seen(note)
    assert bo.vault.changes_since_seen(note) == []
    ada.vault.edit(note, [TextOp(len(text), 0, "end")])
    reaches(devices, bo, note, lambda t: t.endswith("end"))
    assert bo.vault.changes_since_seen(note) == [(len(text), len(text) + 3)]


def test_a_schema_5_vault_migrates_and_keeps_knowing_its_collaborators(tmp_path):
    """Schema 6 adds note_seen and client_authors; the migration learns collaborators'
    client ids from the update log, so their names outlive compaction."""
    with Vault(tmp_path / "bo", display_name="Bo", search=False) as bo:
        nb = bo.create_notebook("Mine")
        theirs = bo.create_note(nb, "Bo's first line\n")
        text_state = bo.encode_state(theirs)
    with Vault(tmp_path / "ada", display_name="Ada", search=False) as ada:
        nb = ada.create_notebook("Notes")
        note = ada.create_note(nb, "Ada\n")
        ada.apply_remote_update(theirs, DocKind.NOTE, text_state, author=bo.author,
                                wall_time=1_700_000_000.0)
        ada.mark_seen(note)
    db = sqlite3.connect(tmp_path / "ada" / "plait.sqlite3")
    db.executescript("DROP TABLE note_seen; DROP TABLE note_seen_deletions; "
                     "DROP TABLE client_authors; "
                     "UPDATE meta SET value = '5' WHERE key = 'schema_version';")
    db.close()
    with Vault(tmp_path / "ada", search=False) as ada:
        assert ada.unread_notes() == set()  # a fresh start: nothing is unread
        ada.compact()  # the rows that named Bo are folded away
    with Vault(tmp_path / "ada", search=False) as ada:
        [span] = ada.authorship(theirs)
        assert (span.name, span.client, span.device) == ("Bo", bo.author.client_id,
                                                         bo.author.device_id)
        assert span.time == 1_700_000_000.0
        ada.mark_seen(theirs)
        assert ada.changes_since_seen(theirs) == []
