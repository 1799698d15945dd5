"""Errors the store raises on purpose. Each carries a message fit to show a user."""

from __future__ import annotations


class PlaitError(Exception):
    """Base class: anything the front ends may show as a plain message."""


class VaultLockedError(PlaitError):
    """Another process holds the vault for writing."""

    def __init__(self, path: str, holder: str) -> None:
        self.path = path
        self.holder = holder
        super().__init__(
            f"The vault at {path} is already open in another Plait process ({holder}). "
            "Close that window first, or use it to make changes."
        )


class VaultVersionError(PlaitError):
    """The vault was written by a newer Plait with a schema this one does not know."""


class VaultNotFoundError(PlaitError):
    """A read-only open found no vault at the path."""


class StorageError(PlaitError):
    """The database could not be written (disk full, read-only, I/O error)."""


class CorruptUpdateError(PlaitError):
    """Update bytes could not be applied to a document; nothing was changed."""


class NoteNotFoundError(PlaitError):
    """No note matches the given reference."""


class AmbiguousNoteError(PlaitError):
    """More than one note matches a reference given by prefix or title."""

    def __init__(self, ref: str, candidates: list[tuple[str, str]]) -> None:
        self.candidates = candidates
        listing = "\n".join(f"  {note_id[:8]}  {title}" for note_id, title in candidates[:10])
        super().__init__(f"'{ref}' matches {len(candidates)} notes; use an id:\n{listing}")


class NotebookNotFoundError(PlaitError):
    """No notebook matches the given name or id."""


class ReadOnlyVaultError(PlaitError):
    """A change was attempted on a vault opened read-only."""
