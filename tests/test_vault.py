"""The vault's note and notebook operations, change events and the derived list."""

from __future__ import annotations

import pytest

from crdt_store.errors import (
    AmbiguousNoteError,
    NoteNotFoundError,
    ReadOnlyVaultError,
    VaultLockedError,
)
from crdt_store.events import DocKind, Source
from crdt_store.unicode_offsets import TextOp, apply_ops
from crdt_store.vault import Vault


def test_notes_survive_reopening(vault_dir) -> None:
    with Vault(vault_dir) as v:
        nb = v.create_notebook("Work")
        note = v.create_note(nb, "# Plan\nShip the store #plait")
        v.edit(note, [TextOp(7, 0, "Really ")])
    with Vault(vault_dir) as v:
        assert v.note_text(note) == "# Plan\nReally Ship the store #plait"
        [summary] = v.list_notes()
        assert (summary.title, summary.tags, summary.notebook_id) == ("Plan", ("plait",), nb)
        assert [n.name for n in v.notebooks()] == ["Work"]


def test_title_and_tags_are_derived_from_the_body(vault) -> None:
    note = vault.create_note(vault.create_notebook("N"), "first line\n#a #b")
    vault.set_text(note, "# New title\n#b #c and #c")
    summary = vault.note_summary(note)
    assert summary.title == "New title"
    assert summary.tags == ("b", "c")


def test_edit_rejects_ops_outside_the_text_and_changes_nothing(vault) -> None:
    note = vault.create_note(vault.create_notebook("N"), "short")
    with pytest.raises(ValueError):
        vault.edit(note, [TextOp(3, 10, "")])
    with pytest.raises(ValueError):
        vault.edit(note, [TextOp(6, 0, "x")])
    assert vault.note_text(note) == "short"


@pytest.mark.parametrize("body", ["café\u0301 👩‍👩‍👧 🇫🇷 中文字 שלום مرحبا", "plain ascii"])
def test_unicode_edits_land_at_code_point_positions(vault, body) -> None:
    note = vault.create_note(vault.create_notebook("N"), body)
    ops = [TextOp(5, 1, "É"), TextOp(len(body) - 2, 0, "🙂"), TextOp(0, 0, "→")]
    vault.edit(note, ops)
    assert vault.note_text(note) == apply_ops(body, ops)


def test_lone_surrogates_are_replaced_not_fatal(vault) -> None:
    note = vault.create_note(vault.create_notebook("N"), "ok")
    vault.edit(note, [TextOp(2, 0, "\ud800!")])
    assert vault.note_text(note) == "ok\ufffd!"


def test_change_events_carry_origin_initiator_and_ops(vault) -> None:
    events = []
    vault.subscribe(events.append)
    nb = vault.create_notebook("N")
    note = vault.create_note(nb, "hello")
    editor = object()
    vault.edit(note, [TextOp(5, 0, " world")], initiator=editor)
    last = events[-1]
    assert last.doc_id == note and last.kind is DocKind.NOTE
    assert last.origin.source is Source.LOCAL and last.origin.initiator is editor
    assert last.origin.author == vault.author
    assert last.ops == (TextOp(5, 0, " world"),)
    assert last.update and last.ticket > 0
    assert any(e.kind is DocKind.CATALOG and e.doc_id == nb for e in events)


def test_unsubscribe_stops_events(vault) -> None:
    events = []
    stop = vault.subscribe(events.append)
    note = vault.create_note(vault.create_notebook("N"), "a")
    stop()
    count = len(events)
    vault.edit(note, [TextOp(1, 0, "b")])
    assert len(events) == count


def test_pin_trash_restore_and_move(vault) -> None:
    work, home = vault.create_notebook("Work"), vault.create_notebook("Home")
    a = vault.create_note(work, "A")
    b = vault.create_note(work, "B")
    vault.set_pinned(b, True)
    assert [n.title for n in vault.list_notes(work)] == ["B", "A"]
    vault.trash_note(a)
    assert [n.title for n in vault.list_notes(work)] == ["B"]
    assert [n.title for n in vault.list_notes(trashed=True)] == ["A"]
    vault.restore_note(a)
    vault.move_note(b, home)
    assert [n.title for n in vault.list_notes(home)] == ["B"]
    assert vault.list_notes(home)[0].pinned
    assert [n.title for n in vault.list_notes(work)] == ["A"]


def test_notebook_rename_and_trash_are_recoverable(vault) -> None:
    nb = vault.create_notebook("Old")
    note = vault.create_note(nb, "inside")
    vault.rename_notebook(nb, "New")
    assert vault.notebook(nb).name == "New"
    vault.trash_notebook(nb)
    assert vault.notebooks() == []
    assert vault.list_notes(trashed=True)[0].note_id == note
    vault.restore_notebook(nb)
    assert [n.note_id for n in vault.list_notes(nb)] == [note]


def test_resolve_note_by_id_prefix_and_title(vault) -> None:
    nb = vault.create_notebook("N")
    a = vault.create_note(nb, "Groceries\nmilk")
    vault.create_note(nb, "Twin")
    vault.create_note(nb, "twin")
    assert vault.resolve_note(a) == a
    assert vault.resolve_note(a[:6]) == a
    assert vault.resolve_note("groceries") == a
    with pytest.raises(AmbiguousNoteError):
        vault.resolve_note("Twin")
    with pytest.raises(NoteNotFoundError):
        vault.resolve_note("nothing like it")


def test_second_writer_is_refused_and_a_reader_is_allowed(vault_dir, vault) -> None:
    note = vault.create_note(vault.create_notebook("N"), "saved")
    vault.flush()
    with pytest.raises(VaultLockedError, match="already open"):
        Vault(vault_dir)
    reader = Vault(vault_dir, read_only=True)
    try:
        assert reader.note_text(note) == "saved"
        with pytest.raises(ReadOnlyVaultError):
            reader.edit(note, [TextOp(0, 0, "x")])
    finally:
        reader.close()


def test_flush_makes_changes_visible_to_another_connection(vault_dir, vault) -> None:
    note = vault.create_note(vault.create_notebook("N"), "one")
    vault.edit(note, [TextOp(3, 0, " two")])
    vault.flush()
    assert vault.durable_ticket >= vault._storage.last_ticket
    reader = Vault(vault_dir, read_only=True)
    try:
        assert reader.note_text(note) == "one two"
    finally:
        reader.close()


def test_changes_made_outside_the_vault_are_stored_and_announced(vault_dir) -> None:
    from pycrdt import Text, UndoManager

    with Vault(vault_dir) as v:
        note = v.create_note(v.create_notebook("N"), "keep")
        body = v.note_doc(note).get("body", type=Text)
        undo = UndoManager(scopes=[body], capture_timeout_millis=0)
        undo.include_origin(v.local_origin(None))
        v.edit(note, [TextOp(4, 0, " this")])
        events = []
        v.subscribe(events.append)
        assert undo.undo()  # a transaction the vault did not make
        assert v.note_text(note) == "keep"
        assert events == []  # not inside pycrdt's commit...
        v.deliver_pending()  # ...but when the owner asks
        [event] = events
        assert event.doc_id == note and event.ops is None and event.update
    with Vault(vault_dir) as v:
        assert v.note_text(note) == "keep"


def test_a_merge_into_an_empty_note_reports_its_splices(tmp_path) -> None:
    """An empty pycrdt Text is falsy; the merge must still be observed (regression)."""
    with Vault(tmp_path / "a") as a, Vault(tmp_path / "b") as b:
        nb = a.create_notebook("N")
        note = a.create_note(nb, "héllo 😀")
        b.apply_remote_update(nb, DocKind.CATALOG, a.encode_state(nb), author=a.author,
                              wall_time=0.0)
        assert b.note_text(note) == ""  # placed, its text not here yet: open and empty
        events = []
        b.subscribe(events.append)
        b.apply_remote_update(note, DocKind.NOTE, a.encode_state(note), author=a.author,
                              wall_time=0.0)
        assert [e.ops for e in events if e.doc_id == note] == [(TextOp(0, 0, "héllo 😀"),)]


def test_a_closed_vault_lets_go_of_its_documents(tmp_path):
    # pycrdt holds each document's commit observer from Rust, out of sight of Python's
    # garbage collector: every document a closed vault had loaded used to stay in
    # memory (the long fuzz run, which opens a vault per thousand inputs, ran out).
    import gc
    import weakref

    vault = Vault(tmp_path / "v")
    note = vault.create_note(vault.create_notebook("N"), "some text\n")
    document = weakref.ref(vault.note_doc(note))
    vault.close()
    del vault
    gc.collect()
    assert document() is None
