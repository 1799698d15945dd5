"""The derived `note_index` table: what the note list shows, without loading any note.

It is a cache of the documents (title, snippet and tags from the text; notebook
and flags from the catalogs), so it can always be rebuilt. Each row records the
update sequence it reflects (`index_seq`), which is how a vault that crashed
before refreshing finds its stale rows on the next open.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import replace
from typing import Callable, Iterable

from .markdown_text import derive_tags, derive_title, snippet, split_front_matter_leniently
from .errors import AmbiguousNoteError, NoteNotFoundError
from .model import NoteFlags, NoteSummary
from .storage import Storage

SUMMARY_COLUMNS = (
    "note_id, notebook_id, title, snippet, tags, created, modified, pinned, trashed, chars"
)


def list_order(note: NoteSummary) -> tuple[bool, float]:
    """The note list's order: pinned first, then the most recently modified."""
    return (not note.pinned, -note.modified)


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
        note_id, notebook_id, title, snip, tuple(tags.split()), created, modified,
        bool(pinned), bool(trashed), chars,
    )


def _tags_column(tags: tuple[str, ...]) -> str:
    """Tags stored space-separated: a tag never holds white space, and splitting 10,000
    rows is far cheaper than parsing JSON when the list loads."""
    return " ".join(tags)


def queue_write(storage: Storage, summary: NoteSummary, state: bytes) -> int:
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
            f"INSERT OR REPLACE INTO note_index ({SUMMARY_COLUMNS}, index_seq, state) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (s.note_id, s.notebook_id, s.title, s.snippet, _tags_column(s.tags),
             s.created, s.modified, int(s.pinned), int(s.trashed), s.chars, newest or 0, state),
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


Placement = tuple[str | None, NoteFlags | None]  # (notebook id, catalog entry)

# A note being typed in is re-indexed at most this often; the rest on flush or close.
INDEX_THROTTLE = 0.5


class NoteList:
    """Keeps the note_index rows in step with the documents, and answers list queries.

    The vault tells it which notes changed (`touch`) and where notes live
    (`placement`); it re-derives a note's row at most every INDEX_THROTTLE seconds
    while the note is being edited, and for every pending note on `refresh()`.
    """

    def __init__(
        self,
        storage: Storage,
        snapshot: Callable[[str], tuple[str, bytes]],
        placement: Callable[[str], Placement],
        read_only: bool,
        on_summary: Callable[[NoteSummary, str, bytes], None] | None = None,
    ) -> None:
        """`snapshot(note_id)` gives a note's text and state vector; `on_summary` hears
        of every row written, with that snapshot (the search index feeds on it)."""
        self._storage = storage
        self._snapshot = snapshot
        self._on_summary = on_summary
        self._placement = placement
        self._read_only = read_only
        self._dirty: dict[str, float] = {}
        self._indexed_at: dict[str, float] = {}
        self._modified: dict[str, float] = {}
        # Rows written but perhaps not committed yet, with the ticket that makes them
        # durable: queries lay these over SQLite, so reading never waits on the disk.
        self._fresh: dict[str, tuple[int, NoteSummary]] = {}

    @property
    def has_pending(self) -> bool:
        return bool(self._dirty)

    def touch(self, note_id: str, wall_time: float | None = None) -> None:
        """A note's text changed (at `wall_time`, if it is news for the modified time)."""
        if wall_time is not None:
            self._modified[note_id] = max(wall_time, self._modified.get(note_id, 0.0))
        now = time.monotonic()
        self._dirty.setdefault(note_id, now)
        if now - self._indexed_at.get(note_id, 0.0) >= INDEX_THROTTLE:
            self.refresh([note_id])

    def set_modified(self, note_id: str, modified: float) -> None:
        """Override the modified time (imports carry it over from the file)."""
        self._modified[note_id] = modified
        self._dirty.setdefault(note_id, time.monotonic())

    def placement_changed(self, note_id: str) -> None:
        """A catalog moved, pinned or trashed the note: update those columns now, and
        re-derive the whole entry soon (the search index wants the new placement too)."""
        if self._read_only:
            return
        self._dirty.setdefault(note_id, time.monotonic())
        notebook_id, flags = self._placement(note_id)
        ticket = queue_flags(self._storage, note_id, notebook_id, flags)
        current = self._current(note_id)
        if current is not None:
            pinned, trashed = list_flags(notebook_id, flags)
            self._fresh[note_id] = (ticket, replace(
                current, notebook_id=notebook_id, pinned=pinned, trashed=trashed))

    def _current(self, note_id: str) -> NoteSummary | None:
        fresh = self._fresh.get(note_id)
        if fresh is not None:
            return fresh[1]
        rows = self._storage.query(
            f"SELECT {SUMMARY_COLUMNS} FROM note_index WHERE note_id = ?", (note_id,)
        )
        return row_to_summary(rows[0]) if rows else None

    def refresh(self, note_ids: Iterable[str] | None = None) -> None:
        """Write the rows of changed notes (cheap when nothing changed)."""
        if self._read_only:
            return
        for note_id in list(self._dirty if note_ids is None else note_ids):
            if self._dirty.pop(note_id, None) is None:
                continue
            self._indexed_at[note_id] = time.monotonic()
            try:
                text, state = self._snapshot(note_id)
            except NoteNotFoundError:
                continue
            modified = self._modified.get(note_id) or self._stored_modified(note_id)
            self._modified[note_id] = modified
            summary = summarize(note_id, text, *self._placement(note_id), modified)
            self._fresh[note_id] = (queue_write(self._storage, summary, state), summary)
            if self._on_summary is not None:
                self._on_summary(summary, text, state)

    def reconcile(self) -> None:
        """After a crash the rows may lag the documents: repair what is stale."""
        for note_id in stale_note_ids(self._storage):
            self._dirty[note_id] = 0.0
        for note_id, notebook_id, pinned, trashed in self._storage.query(
            "SELECT note_id, notebook_id, pinned, trashed FROM note_index"
        ):
            home, flags = self._placement(note_id)
            if (home, bool(pinned), bool(trashed)) != (notebook_id, *list_flags(home, flags)):
                self.placement_changed(note_id)
        self.refresh()

    def search_rows(self) -> list[tuple]:
        """(note id, notebook id, created, modified, trashed, state) of every committed row."""
        return self._storage.query(
            "SELECT note_id, notebook_id, created, modified, trashed, state FROM note_index"
        )

    def _stored_modified(self, note_id: str) -> float:
        row = self._storage.query(
            "SELECT max(t) FROM (SELECT max(wall_time) AS t FROM updates WHERE doc_id = ?1 "
            "UNION ALL SELECT max(end_time) FROM version_marks WHERE doc_id = ?1 "
            "UNION ALL SELECT modified FROM note_index WHERE note_id = ?1)",
            (note_id,),
        )
        return float(row[0][0] or 0.0)

    # ---- queries: committed rows with the fresh ones laid over them ---------------------

    def _forget_durable(self) -> None:
        durable = self._storage.durable_ticket
        self._fresh = {k: v for k, v in self._fresh.items() if v[0] > durable}

    def notes(self, notebook_id: str | None, trashed: bool) -> list[NoteSummary]:
        """Pinned first, then most recently modified; never waits on the writer."""
        self.refresh()
        self._forget_durable()
        sql = f"SELECT {SUMMARY_COLUMNS} FROM note_index WHERE trashed = ?"
        params: list[object] = [int(trashed)]
        if notebook_id is not None:
            sql += " AND notebook_id = ?"
            params.append(notebook_id)
        rows = [row_to_summary(r) for r in self._storage.query(sql, params)]
        if not self._fresh:
            return rows  # already in order
        found = {n.note_id: n for n in rows}
        for note_id, (_, summary) in self._fresh.items():
            found.pop(note_id, None)
            if summary.trashed == trashed and notebook_id in (None, summary.notebook_id):
                found[note_id] = summary
        return sorted(found.values(), key=list_order)

    def counts(self) -> tuple[int, int]:
        """(notes, notes in the trash), without reading every row."""
        self.refresh()
        self._forget_durable()
        live, trashed = self._storage.query(
            "SELECT count(*) - coalesce(sum(trashed), 0), coalesce(sum(trashed), 0) "
            "FROM note_index"
        )[0]
        for note_id, (_, summary) in self._fresh.items():
            row = self._storage.query("SELECT trashed FROM note_index WHERE note_id = ?",
                                      (note_id,))
            if row:  # the committed row is counted already: take it out
                live, trashed = (live, trashed - 1) if row[0][0] else (live - 1, trashed)
            live, trashed = (live, trashed + 1) if summary.trashed else (live + 1, trashed)
        return live, trashed

    def summary(self, note_id: str) -> NoteSummary:
        self.refresh([note_id])
        current = self._current(note_id)
        if current is None:
            raise NoteNotFoundError(f"There is no note with id {note_id}.")
        return current

    def resolve(self, ref: str) -> str:
        """A note id from an id, an id prefix (4+ characters) or an exact title."""
        ref = ref.strip()
        query = self._storage.query
        rows = query("SELECT note_id, title FROM note_index WHERE note_id = ?", (ref,))
        if not rows and len(ref) >= 4:
            rows = query("SELECT note_id, title FROM note_index WHERE note_id LIKE ? || '%'",
                         (ref.lower(),))
        if not rows:
            rows = query("SELECT note_id, title FROM note_index WHERE lower(title) = lower(?)",
                         (ref,))
        if not rows:
            raise NoteNotFoundError(f"No note matches '{ref}'.")
        if len(rows) > 1:
            raise AmbiguousNoteError(ref, [(r[0], r[1]) for r in rows])
        return rows[0][0]
