"""Where each note lives: its notebook and catalog flags, kept in step with the catalogs.

Each catalog's entries are cached per catalog. A local change names the notes it
touched, so only those entries are re-read; a remote change, or a change to the
notebook itself (renamed, trashed), re-reads that one catalog. Reading every
catalog on every change made creating 10,000 notes quadratic.

A note in two catalogs (two devices moved it concurrently) lives in the first live
one by catalog id, so every device picks the same.
"""

from __future__ import annotations

from dataclasses import replace

from pycrdt import Doc, Map

from . import model
from .model import NoteFlags

Placement = tuple[str | None, NoteFlags | None]


class Placements:
    """note id -> (notebook id, flags as the list shows them)."""

    def __init__(self) -> None:
        self._entries: dict[str, dict[str, NoteFlags]] = {}  # catalog id -> note id -> flags
        self._book_trashed: dict[str, bool] = {}
        self._placed: dict[str, tuple[str, NoteFlags]] = {}

    def get(self, note_id: str) -> Placement:
        placed = self._placed.get(note_id)
        return (placed[0], placed[1]) if placed else (None, None)

    def home(self, note_id: str) -> str | None:
        placed = self._placed.get(note_id)
        return placed[0] if placed else None

    def notes_in(self, catalog_id: str) -> list[str]:
        return [n for n, (home, _) in self._placed.items() if home == catalog_id]

    def entry(self, note_id: str) -> Placement:
        """The note's notebook and its entry there as written (a trashed notebook does
        not make it read as trashed, unlike `get`)."""
        home = self.home(note_id)
        return (home, self._entries[home][note_id]) if home is not None else (None, None)

    def listed(self, note_id: str, catalog_id: str) -> bool:
        """Does this catalog have an entry for the note (placed there or not)?"""
        return note_id in self._entries.get(catalog_id, {})

    def live_counts(self) -> dict[str, int]:
        """Notes not in the trash, per notebook."""
        counts: dict[str, int] = {}
        for home, flags in self._placed.values():
            if not flags.trashed:
                counts[home] = counts.get(home, 0) + 1
        return counts

    def reload(self, catalog_id: str, doc: Doc) -> set[str]:
        """Re-read one whole catalog; returns the notes whose placement changed."""
        before = set(self._entries.get(catalog_id, ()))
        self._book_trashed[catalog_id] = bool(model.catalog_info(doc).get("trashed", False))
        self._entries[catalog_id] = model.read_entries(doc)
        return self._resolve(before | set(self._entries[catalog_id]))

    def update(self, catalog_id: str, doc: Doc, note_ids: tuple[str, ...]) -> set[str]:
        """Re-read only these notes' entries of one catalog."""
        entries = self._entries.setdefault(catalog_id, {})
        notes = model.catalog_notes(doc)
        for note_id in note_ids:
            value = notes.get(note_id)
            if isinstance(value, Map):
                entries[note_id] = model.entry_from(value.to_py())
            else:
                entries.pop(note_id, None)
        return self._resolve(set(note_ids))

    def _resolve(self, note_ids: set[str]) -> set[str]:
        changed: set[str] = set()
        for note_id in note_ids:
            best: tuple[str, NoteFlags] | None = None
            for catalog_id in sorted(self._entries):
                entry = self._entries[catalog_id].get(note_id)
                if entry is None:
                    continue
                if self._book_trashed.get(catalog_id):
                    entry = replace(entry, trashed=True)
                if best is None or (best[1].trashed and not entry.trashed):
                    best = (catalog_id, entry)
            old = self._placed.get(note_id)
            if best is None:
                self._placed.pop(note_id, None)
            else:
                self._placed[note_id] = best
            if old != best:
                changed.add(note_id)
        return changed
