"""Bad bytes from disk or from a peer never empty a note and never crash the store."""

from __future__ import annotations

import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycrdt import Doc, Text

from crdt_store.errors import CorruptUpdateError
from crdt_store.events import DocKind
from crdt_store.guard import apply_update_guarded
from crdt_store.storage import DB_NAME
from crdt_store.unicode_offsets import TextOp
from crdt_store.vault import Vault


def _note_with_history(vault_dir):
    with Vault(vault_dir) as v:
        note = v.create_note(v.create_notebook("N"), "first ")
        v.flush()
        v.edit(note, [TextOp(6, 0, "second ")])
        v.flush()
        v.edit(note, [TextOp(13, 0, "third")])
    return note


def _rows(vault_dir, note):
    with sqlite3.connect(vault_dir / DB_NAME) as conn:
        return conn.execute(
            "SELECT seq, data FROM updates WHERE doc_id = ? ORDER BY seq", (note,)
        ).fetchall()


def test_a_corrupt_row_is_quarantined_and_the_rest_loads(vault_dir) -> None:
    note = _note_with_history(vault_dir)
    seq, data = _rows(vault_dir, note)[-1]
    with sqlite3.connect(vault_dir / DB_NAME) as conn:
        conn.execute("UPDATE updates SET data = ? WHERE seq = ?", (data[: len(data) // 2], seq))
    with Vault(vault_dir) as v:
        assert v.note_text(note) == "first second "
        assert any("damaged" in n.message and n.doc_id == note for n in v.notices)
        v.flush()
        [(qid, doc_id, source, error)] = v.quarantined()
        assert (doc_id, source) == (note, "update") and error
    with sqlite3.connect(vault_dir / DB_NAME) as conn:
        kept = conn.execute("SELECT data FROM quarantine").fetchone()[0]
    assert kept == data[: len(data) // 2]
    assert seq not in [s for s, _ in _rows(vault_dir, note)]
    with Vault(vault_dir) as v:  # once set aside, it no longer troubles loading
        assert v.note_text(note) == "first second "
        assert v.notices == []


def test_garbage_rows_do_not_stop_other_notes(vault_dir) -> None:
    with Vault(vault_dir) as v:
        nb = v.create_notebook("N")
        good = v.create_note(nb, "good")
        bad = v.create_note(nb, "bad")
    with sqlite3.connect(vault_dir / DB_NAME) as conn:
        conn.execute(
            "INSERT INTO updates (doc_id, data, client_id, device_id, author_name, wall_time, "
            "state_vector, origin) VALUES (?, ?, 1, 'x', 'x', 0, x'00', 'remote')",
            (bad, b"\xff\xfe garbage \x00\x01"),
        )
    with Vault(vault_dir) as v:
        assert v.note_text(good) == "good"
        assert v.note_text(bad) == "bad"
        assert len(v.notices) == 1


def test_a_corrupt_checkpoint_is_quarantined_and_reported(vault_dir) -> None:
    note = _note_with_history(vault_dir)
    with Vault(vault_dir) as v:
        v.compact()
    with sqlite3.connect(vault_dir / DB_NAME) as conn:
        conn.execute("UPDATE checkpoints SET data = x'0102030405' WHERE doc_id = ?", (note,))
    with Vault(vault_dir) as v:
        v.note_text(note)
        assert any("checkpoint" in n.message for n in v.notices)
        v.flush()
        assert [q[2] for q in v.quarantined()] == ["checkpoint"]


@pytest.mark.parametrize("garbage", [b"", b"\x00", b"\x01\x02\x03", b"\xff" * 40, "text"])
def test_a_bad_remote_update_is_rejected_and_changes_nothing(vault, garbage) -> None:
    note = vault.create_note(vault.create_notebook("N"), "intact")
    vault.flush()
    rows_before = vault.info().update_rows
    with pytest.raises(CorruptUpdateError):
        vault.apply_remote_update(note, DocKind.NOTE, garbage, author=vault.author, wall_time=0)
    assert vault.note_text(note) == "intact"
    assert vault.info().update_rows == rows_before


def _valid_update() -> bytes:
    doc = Doc(client_id=4242)  # fixed, so every example mutates the same bytes
    text = doc.get("body", type=Text)
    text.insert(0, "héllo 😀 wörld")
    del text[0:1]  # byte offsets: only the leading ASCII "h"
    return doc.get_update()


VALID_UPDATE = _valid_update()


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mutated_updates_either_apply_or_are_rejected_cleanly(data) -> None:
    update = bytearray(VALID_UPDATE)
    for _ in range(data.draw(st.integers(1, 4))):
        choice = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        i = data.draw(st.integers(0, max(0, len(update) - 1)))
        if choice == "flip" and update:
            update[i] ^= 1 << data.draw(st.integers(0, 7))
        elif choice == "cut":
            del update[i:]
        else:
            update[i:i] = bytes([data.draw(st.integers(0, 255))])
    doc = Doc()
    doc.get("body", type=Text)
    try:
        apply_update_guarded(doc, bytes(update))
    except CorruptUpdateError:
        pass
    str(doc.get("body", type=Text))  # the document is still usable either way
