"""Compaction folds logs into checkpoints without losing text or history."""

from __future__ import annotations

import sqlite3
import time

from pycrdt import Doc, Snapshot, Text

from crdt_store.events import DocKind
from crdt_store.storage import DB_NAME
from crdt_store.unicode_offsets import TextOp
from crdt_store.vault import Vault


def _count(vault_dir, sql):
    with sqlite3.connect(vault_dir / DB_NAME) as conn:
        return conn.execute(sql).fetchone()[0]


def test_compaction_folds_rows_and_keeps_the_text(vault_dir) -> None:
    with Vault(vault_dir) as v:
        note = v.create_note(v.create_notebook("N"), "")
        for i in range(300):
            v.edit(note, [TextOp(i, 0, "x")])
            if i % 50 == 0:
                v.flush()
        v.edit(note, [TextOp(0, 100, "")])
        expected = v.note_text(note)
    assert _count(vault_dir, "SELECT count(*) FROM updates") > 5
    with Vault(vault_dir) as v:
        v.compact()
    assert _count(vault_dir, "SELECT count(*) FROM updates") == 0
    assert _count(vault_dir, "SELECT count(*) FROM checkpoints") == 2  # the note and its notebook
    with Vault(vault_dir) as v:
        assert v.note_text(note) == expected
        v.edit(note, [TextOp(0, 0, "after ")])
    with Vault(vault_dir) as v:
        assert v.note_text(note) == "after " + expected


def test_version_marks_rebuild_each_session(tmp_path) -> None:
    a_dir = tmp_path / "a"
    with Vault(a_dir, display_name="Ada") as a, Vault(tmp_path / "b", display_name="Bo") as b:
        note = a.create_note(a.create_notebook("N"), "one")
        a.flush()
        b.apply_remote_update(note, DocKind.NOTE, a.encode_state(note), author=a.author,
                              wall_time=time.time())
        b.edit(note, [TextOp(3, 0, " two")])
        a.apply_remote_update(note, DocKind.NOTE, b.encode_state(note, a.state_vector(note)),
                              author=b.author, wall_time=time.time())
        a.edit(note, [TextOp(7, 0, " three")])
        a.compact(note)
        with sqlite3.connect(a_dir / DB_NAME) as conn:
            marks = conn.execute(
                "SELECT author_name, snapshot FROM version_marks WHERE doc_id = ? ORDER BY upto_seq",
                (note,),
            ).fetchall()
        whole = Doc(skip_gc=True)
        whole.apply_update(a.encode_state(note))
        versions = [
            (name, str(Doc.from_snapshot(Snapshot.decode(snap), whole).get("body", type=Text)))
            for name, snap in marks
        ]
    assert versions == [("Ada", "one"), ("Bo", "one two"), ("Ada", "one two three")]


def test_rows_waiting_for_missing_updates_are_not_folded(tmp_path) -> None:
    author_doc = Doc()
    text = author_doc.get("body", type=Text)
    updates: list[bytes] = []
    author_doc.observe(lambda e: updates.append(e.update))
    for piece in ("one ", "two ", "three"):
        text += piece
    with Vault(tmp_path / "v") as v:
        author = v.author
        note_id = "0" * 32
        v.apply_remote_update(note_id, DocKind.NOTE, updates[0], author=author, wall_time=1)
        v.apply_remote_update(note_id, DocKind.NOTE, updates[2], author=author, wall_time=2)
        assert v.note_text(note_id) == "one "  # "three" waits for "two"
        v.compact(note_id)
    with Vault(tmp_path / "v") as v:
        v.apply_remote_update(note_id, DocKind.NOTE, updates[1], author=author, wall_time=3)
        assert v.note_text(note_id) == "one two three"
    with Vault(tmp_path / "v") as v:
        assert v.note_text(note_id) == "one two three"
