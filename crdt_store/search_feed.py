"""Keeping a vault's search index in step with its notes.

Live: whenever the note list re-derives a note's entry from its text (at most
every 0.5 s while someone types, and on every flush), the same text goes to the
index, so a note is searchable about a second after a pause, whether the change
was typed here or merged in from a collaborator. (The index lets a long note cool
down between indexings; a search takes it at once.)

At start-up: the note list records each note's CRDT state vector. A note whose
indexed version differs, or that the index lacks, is re-indexed by a background
thread that reads it from disk into its own pycrdt document, so neither opening
the vault nor editing waits for it. A missing or damaged index is rebuilt the
same way, and searches say their results may be incomplete until it is done.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from pathlib import Path
from typing import Callable

from .documents import rebuild
from .errors import CorruptUpdateError
from .markdown_text import derive_tags, derive_title, split_front_matter_leniently
from .model import NoteSummary, note_body
from .search import NoteDocument, SearchIndex
from .storage import connect, load_stored

log = logging.getLogger(__name__)

AUTHORS_SQL = (
    "SELECT author_name FROM updates WHERE doc_id = ?1 "
    "UNION SELECT author_name FROM version_marks WHERE doc_id = ?1"
)


def note_version(state: bytes, notebook_id: str | None, notebook_name: str,
                 trashed: bool) -> str:
    """What the index must agree on for a note to count as current."""
    digest = hashlib.blake2b(state or b"", digest_size=12)
    digest.update(f"\0{notebook_id}\0{notebook_name}\0{int(trashed)}".encode())
    return digest.hexdigest()


class SearchFeed:
    """Feeds one vault's notes to its SearchIndex (used from the vault's owner thread)."""

    def __init__(self, index: SearchIndex, db_path: Path,
                 authors_of: Callable[[str], tuple[str, ...]]) -> None:
        self.index = index
        self._db_path = db_path
        self._authors_of = authors_of
        self._backfill: threading.Thread | None = None

    def note_summarized(self, summary: NoteSummary, text: str, state: bytes,
                        notebook_name: str) -> None:
        """A note's list entry was re-derived: index the same snapshot."""
        self.index.update(_document(summary.note_id, summary.notebook_id, notebook_name,
                                    text, summary.created, summary.modified, summary.trashed,
                                    state, self._authors_of(summary.note_id),
                                    tags_of_whole_text=summary.tags))

    def reconcile(self, rows: list[tuple], notebook_names: dict[str, str]) -> int:
        """Re-index, in the background, every note the index lacks or holds an old version
        of; drop notes the vault no longer has. `rows` are (note id, notebook id,
        created, modified, trashed, state) from the note list. Returns how many."""
        indexed = self.index.versions()
        wanted = {row[0] for row in rows}
        for note_id in set(indexed) - wanted:
            self.index.delete(note_id)
        stale = [
            row for row in rows
            if indexed.get(row[0]) != note_version(row[5], row[1],
                                                   notebook_names.get(row[1] or "", ""),
                                                   bool(row[4]))
        ]
        if stale:
            self.index.begin_rebuild(len(stale))
            self._backfill = threading.Thread(
                target=self._run_backfill, args=(stale, dict(notebook_names)),
                name="plait-search-backfill", daemon=True,
            )
            self._backfill.start()
        return len(stale)

    def _run_backfill(self, rows: list[tuple], names: dict[str, str]) -> None:
        """Read each stale note from disk and index it (a thread of its own)."""
        conn = connect(self._db_path, read_only=True)
        try:
            for note_id, notebook_id, created, modified, trashed, _state in rows:
                rebuilt = rebuild(load_stored(conn, note_id), None)
                if rebuilt.bad:
                    log.warning("search: %d damaged rows in %s were skipped", len(rebuilt.bad),
                                note_id)
                doc = rebuilt.doc
                authors = tuple(r[0] for r in conn.execute(AUTHORS_SQL, (note_id,)))
                self.index.update(_document(
                    note_id, notebook_id, names.get(notebook_id or "", ""),
                    str(note_body(doc)), created, modified, bool(trashed), doc.get_state(),
                    authors,
                ))
        except (CorruptUpdateError, OSError, ValueError) as exc:
            log.error("search: re-indexing stopped: %s", exc)
        finally:
            conn.close()
            self.index.end_rebuild()

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the background re-indexing and the index's commits (tests, CLI)."""
        if self._backfill is not None:
            self._backfill.join(timeout)
        self.index.flush(timeout)

    def close(self) -> None:
        if self._backfill is not None:
            self._backfill.join(timeout=30)
        self.index.close()


def _document(note_id: str, notebook_id: str | None, notebook_name: str, text: str,
              created: float, modified: float, trashed: bool, state: bytes,
              authors: tuple[str, ...],
              tags_of_whole_text: tuple[str, ...] | None = None) -> NoteDocument:
    """`tags_of_whole_text`: the tags the note list derived from the same text, reused
    when there is no front matter (deriving them scans the whole note)."""
    body = split_front_matter_leniently(text)[1]
    tags = (tags_of_whole_text if tags_of_whole_text is not None and body is text
            else tuple(derive_tags(body)))
    return NoteDocument(
        note_id=note_id, notebook_id=notebook_id, notebook_name=notebook_name,
        title=derive_title(body), body=text, tags=tags, authors=authors,
        created=created, modified=max(created, modified), trashed=trashed,
        version=note_version(state, notebook_id, notebook_name, trashed),
    )
