"""The update log's rows: what each records, and how local runs are batched."""

from __future__ import annotations

import sqlite3
import time

from crdt_store.events import DocKind
from crdt_store.storage import DB_NAME
from crdt_store.unicode_offsets import TextOp
from crdt_store.vault import Vault


def test_rows_record_author_time_and_the_state_they_were_made_on(tmp_path) -> None:
    with Vault(tmp_path / "a", display_name="Ada") as a, Vault(tmp_path / "b",
                                                                display_name="Bo") as b:
        note = a.create_note(a.create_notebook("N"), "one")
        a.flush()
        seen: list[bytes] = []
        a.note_doc(note).observe(lambda e: seen.append(e.before_state))
        b.apply_remote_update(note, DocKind.NOTE, a.encode_state(note), author=a.author,
                              wall_time=time.time())
        b.edit(note, [TextOp(3, 0, " two")])
        a.edit(note, [TextOp(0, 0, ">")])
        a.flush()
        a.apply_remote_update(note, DocKind.NOTE, b.encode_state(note, a.state_vector(note)),
                              author=b.author, wall_time=time.time(), made_on=b"\x00")
        a.edit(note, [TextOp(1, 0, "!")])
        a.flush()
        local_before = [sv for sv in seen]
        with sqlite3.connect(tmp_path / "a" / DB_NAME) as conn:
            rows = conn.execute(
                "SELECT author_name, origin, state_vector, client_id FROM updates "
                "WHERE doc_id = ? ORDER BY seq", (note,)
            ).fetchall()
    local = [r for r in rows if r[1] == "local"]
    remote = [r for r in rows if r[1] == "remote"]
    assert [r[0] for r in remote] == ["Bo"]
    assert all(r[0] == "Ada" and r[3] == a.author.client_id for r in local)
    # the made-on state vectors of the last two local rows equal pycrdt's before_state
    expected = [sv for sv in local_before if sv is not None]
    assert [r[2] for r in local[-2:]] == [expected[0], expected[-1]]


def test_a_burst_of_keystrokes_is_stored_in_few_rows(vault_dir) -> None:
    with Vault(vault_dir) as v:
        note = v.create_note(v.create_notebook("N"))
        v.flush()
        for i in range(500):
            v.edit(note, [TextOp(i, 0, "k")])
        v.flush()
        expected = v.note_text(note)
    with sqlite3.connect(vault_dir / DB_NAME) as conn:
        rows = conn.execute("SELECT count(*) FROM updates WHERE doc_id = ?", (note,)).fetchone()[0]
    assert rows <= 500 // 64 + 2
    with Vault(vault_dir) as v:
        assert v.note_text(note) == expected == "k" * 500
