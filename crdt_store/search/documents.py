"""What the vault hands the search index for one note."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["NoteDocument"]


@dataclass(frozen=True)
class NoteDocument:
    """One note as the search index sees it.

    ``created``/``modified`` are POSIX timestamps.  ``version`` is opaque (e.g. a
    hash of the note's CRDT state vector); the index stores it so the vault can
    find stale entries with ``SearchIndex.versions()``.
    """

    note_id: str
    notebook_id: str | None
    notebook_name: str
    title: str
    body: str
    tags: tuple[str, ...]
    authors: tuple[str, ...]
    created: float
    modified: float
    trashed: bool
    version: str
