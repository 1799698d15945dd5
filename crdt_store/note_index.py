"""The derived `note_index` table: what the note list shows, without loading any note.

It is a cache of the documents (title, snippet and tags from the text; notebook
and flags from the catalogs), so it can always be rebuilt. Each row records the
update sequence it reflects (`index_seq`), which is how a vault that crashed
before refreshing finds its stale rows on the next open.
"""

from __future__ import annotations

import json
import sqlite3

from .markdown_text import derive_tags, derive_title, snippet, split_front_matter_leniently
from .model import NoteFlags, NoteSummary
from .storage import Storage

SUMMARY_COLUMNS = (
    "note_id, notebook_id, title, snippet, tags, created, modified, pinned, trashed, chars"
)


def list_flags(notebook_id: str | None, flags: NoteFlags | None) -> tuple[bool, bool]:
    """(pinned, trashed) as the list shows them; a note in no notebook counts as trashed."""
    return bool(flags and flags.pinned), bool(flags and flags.trashed) or notebook_id is None


def queue_flags(storage: Storage, note_id: str, notebook_id: str | None,
                flags: NoteFlags | None) -> int:
    """Update only the catalog-derived columns, without loading the note."""
    pinned, trashed = list_flags(notebook_id, flags)
    return storage.submit(lambda conn: conn.execute(
        "UPDATE note_index SET notebook_id = ?, pinned = ?, trashed = ? WHERE note_id = ?",
        (notebook_id, int(pinned), int(trashed), note_id),
    ))


def summarize(
    note_id: str,
    text: str,
    notebook_id: str | None,
    flags: NoteFlags | None,
    modified: float,
) -> NoteSummary:
    """Derive a note's list entry from its text and catalog entry.

    Front matter kept from an import is not the title: it is skipped.
    """
    text_for_title = split_front_matter_leniently(text)[1]
    created = flags.created if flags else modified
    pinned, trashed = list_flags(notebook_id, flags)
    return NoteSummary(
        note_id=note_id,
        notebook_id=notebook_id,
        title=derive_title(text_for_title),
        snippet=snippet(text_for_title),
        tags=tuple(derive_tags(text)),
        created=created,
        modified=max(modified, created),
        pinned=pinned,
        trashed=trashed,
        chars=len(text),
    )


def row_to_summary(row: tuple) -> NoteSummary:
    note_id, notebook_id, title, snip, tags, created, modified, pinned, trashed, chars = row
    return NoteSummary(
        note_id, notebook_id, title, snip, tuple(json.loads(tags)), created, modified,
        bool(pinned), bool(trashed), chars,
    )


def queue_write(storage: Storage, summary: NoteSummary) -> int:
    """Upsert one row on the writer thread, stamped with the newest update it reflects.

    The writer runs queued work in order, so every update of this note queued
    before the summary was computed is already inserted when this runs.
    """
    s = summary

    def write(conn: sqlite3.Connection) -> None:
        newest = conn.execute(
            "SELECT max(seq) FROM (SELECT max(seq) AS seq FROM updates WHERE doc_id = ?1 "
            "UNION ALL SELECT upto_seq FROM checkpoints WHERE doc_id = ?1)",
            (s.note_id,),
        ).fetchone()[0]
        conn.execute(
            f"INSERT OR REPLACE INTO note_index ({SUMMARY_COLUMNS}, index_seq) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (s.note_id, s.notebook_id, s.title, s.snippet, json.dumps(list(s.tags)),
             s.created, s.modified, int(s.pinned), int(s.trashed), s.chars, newest or 0),
        )

    return storage.submit(write)


def stale_note_ids(storage: Storage) -> list[str]:
    """Notes whose index row is missing or older than their newest stored update."""
    rows = storage.query(
        "SELECT d.doc_id FROM documents d LEFT JOIN note_index n ON n.note_id = d.doc_id "
        "WHERE d.kind = 'note' AND (n.note_id IS NULL "
        " OR EXISTS (SELECT 1 FROM updates u WHERE u.doc_id = d.doc_id AND u.seq > n.index_seq)"
        " OR EXISTS (SELECT 1 FROM checkpoints c WHERE c.doc_id = d.doc_id "
        "            AND c.upto_seq > n.index_seq))"
    )
    return [r[0] for r in rows]
