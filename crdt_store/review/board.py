"""The review board: a vault's review flags, where they are now, and their fixes.

It owns the detector (close merges of concurrent text edits, which hears every
change) and the structure watcher (notes edited while someone else trashed or moved
them, structure.py), keeps each flag in the vault's `review_flags` table and the
detector's runs and anchors in `review_notes`, and carries out what a person
decides: Looks good (mark reviewed); Keep one side, which rewrites the region as a
new edit that syncs like any other; for a trashed or moved note, Restore it (out of
the trash, or back to the notebook it left, as a change that syncs) or Keep it as it
is.

Listeners (`subscribe`) hear `()` whenever the flags or their states change.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial

from ..errors import PlaitError
from ..events import ChangeEvent, DocKind
from ..unicode_offsets import TextOp
from .detector import THRESHOLD, CloseMerge, Detector
from .worker import DetectionThread
from .flags import (ARRIVED, EARLIER, FLAGS_SQL, MOVED, REVIEWED, TEXT, TRASHED, ReviewFlag,
                    flag_from_row, save_flag, set_state)
from .structure import Places, StructureWatcher, current_seen, notebook_label

HERE, CHANGED, DELETED, LOST = "here", "changed", "deleted", "lost"
WHOLE = "whole"  # a structure flag: about the whole note, not a region of its text


class ReviewError(PlaitError):
    """A review action that cannot be carried out; the message says why."""


@dataclass(frozen=True)
class FlagRegion:
    """Where a flag's region is in the note now (code points of the current text)."""

    start: int
    end: int
    status: str  # HERE (as merged), CHANGED (edited since), DELETED, or LOST (not followed)

    @property
    def message(self) -> str:
        return {
            HERE: "",
            CHANGED: "The text here has been edited since the merge.",
            DELETED: "The merged text has since been deleted.",
            LOST: "Plait no longer knows where this merge is in the note.",
            WHOLE: "",
        }[self.status]


class ReviewBoard:
    """Flags of one vault. `storage` runs work on the vault's writer; `text_of` and
    `edit` read and change note bodies; `shared(note_id)` says whether others can
    edit a note; `places` (the vault) is where notes are, for structure flags (None:
    none are raised); `post(fn)` runs `fn` on the owner thread soon, from any thread
    (how flags found by the detection thread come back)."""

    def __init__(self, storage, *, text_of: Callable[[str], str],
                 edit: Callable[[str, list[TextOp]], object],
                 shared: Callable[[str], bool], threshold: int = THRESHOLD,
                 places: Places | None = None,
                 post: Callable[[Callable[[], None]], None] = lambda fn: fn()) -> None:
        self._storage = storage
        self._text_of = text_of
        self._edit = edit
        self._new: list[ReviewFlag] = []  # raised this session (may not be on disk yet)
        self._states: dict[str, str] = {}  # states set this session
        self._listeners: list[Callable[[], None]] = []
        # Text detection runs on its own thread (worker.py): merging never waits for it.
        self._detection = DetectionThread(
            text_of=text_of, load=self._stored_note, shared=shared, deliver=self._on_merges,
            post=post, threshold=threshold,
            still_open=lambda flag_id: flag_id not in self._states)
        self._places = places
        self.structure = (StructureWatcher(self._raise, places, known=self._known,
                                           who=self._stored_author)
                          if places is not None else None)

    # ---- hearing changes -----------------------------------------------------------------

    def on_change(self, event: ChangeEvent) -> None:
        if event.kind is DocKind.NOTE:
            self._detection.submit(event)
        if self.structure is not None:
            self.structure.on_change(event)

    def subscribe(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def unsubscribe(self, listener: Callable[[], None]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    @property
    def threshold(self) -> int:
        return self._detection.detector.threshold

    def set_threshold(self, code_points: int) -> None:
        """How close (in characters, on one line) concurrent edits must be to be flagged."""
        if not 0 <= code_points <= 10_000:
            raise ValueError("The review threshold must be between 0 and 10,000 characters.")
        self._detection.detector.threshold = code_points  # an int: read as a whole

    def _on_merges(self, merges: list[CloseMerge]) -> None:
        for merge in merges:
            self._raise(ReviewFlag.from_merge(merge))

    def _raise(self, flag: ReviewFlag) -> None:
        """A new flag, or one that grew (same id: it replaces the one shown)."""
        self._new = [f for f in self._new if f.flag_id != flag.flag_id] + [flag]
        self._storage.submit(partial(save_flag, flag=flag))
        self._notify()

    def _notify(self) -> None:
        for listener in list(self._listeners):
            listener()

    # ---- persistence ----------------------------------------------------------------------

    def _stored_note(self, note_id: str) -> str | None:
        rows = self._storage.query("SELECT state FROM review_notes WHERE note_id = ?",
                                   (note_id,))
        return rows[0][0] if rows else None

    def _known(self, flag_id: str) -> bool:
        return (any(f.flag_id == flag_id for f in self._new)
                or bool(self._storage.query("SELECT 1 FROM review_flags WHERE flag_id = ?",
                                            (flag_id,))))

    def _stored_author(self, client: int) -> tuple[str, str] | None:
        """The name and device an author's stored updates carry (any document)."""
        rows = self._storage.query("SELECT author_name, device_id FROM updates "
                                   "WHERE client_id = ? ORDER BY seq DESC LIMIT 1", (client,))
        return (rows[0][0], rows[0][1]) if rows else None

    def save(self) -> None:
        """Queue the runs and anchors that changed (the vault calls this when it writes
        its note list, so they reach disk together with the updates they follow)."""
        dirty = self._detection.call(Detector.take_dirty)
        if dirty:
            self._storage.submit(partial(_save_notes, rows=dirty))

    # ---- queries --------------------------------------------------------------------------

    def drain(self) -> None:
        """Wait until every change so far has been looked at (tests, the CLI, reads)."""
        self._detection.drain()

    def close(self) -> None:
        """Stop the detection thread (the vault is closing)."""
        self._detection.close()

    def flags(self) -> list[ReviewFlag]:
        """Every flag, newest first (never waits on disk for flags raised moments ago)."""
        self._detection.drain()
        stored = [flag_from_row(row) for row in self._storage.query(FLAGS_SQL)]
        known = {f.flag_id for f in stored}
        flags = [f for f in self._new if f.flag_id not in known] + stored
        flags = [replace(f, state=self._states[f.flag_id]) if f.flag_id in self._states else f
                 for f in flags]
        return sorted(flags, key=lambda f: f.detected, reverse=True)

    def flag(self, flag_id: str) -> ReviewFlag:
        for flag in self.flags():
            if flag.flag_id == flag_id:
                return flag
        raise ReviewError(f"There is no review flag with id {flag_id}.")

    def region(self, flag: ReviewFlag) -> FlagRegion:
        """Where the flag's region is now, and whether it still reads as merged (WHOLE
        for a structure flag, which is about the whole note)."""
        if flag.kind != TEXT:
            return FlagRegion(0, 0, WHOLE)
        span = self._detection.call(lambda d: d.region(flag.note_id, flag.flag_id))
        if span is None:
            return FlagRegion(flag.start, flag.start, LOST)
        start, end = span
        text = self._text_of(flag.note_id)[start:end]
        if text == flag.merged:
            return FlagRegion(start, end, HERE)
        if start == end:
            return FlagRegion(start, end, DELETED)
        return FlagRegion(start, end, CHANGED)

    # ---- decisions ------------------------------------------------------------------------

    def mark_reviewed(self, flag_id: str) -> None:
        """Looks good: the flag stays, marked reviewed."""
        self.flag(flag_id)
        self._states[flag_id] = REVIEWED
        self._storage.submit(partial(set_state, flag_id=flag_id, state=REVIEWED))
        self._notify()

    def keep(self, flag_id: str, side: str) -> None:
        """Rewrite the region to one side's version (EARLIER or ARRIVED) as a new edit,
        and mark the flag reviewed. Refuses, saying why, when the region was edited or
        deleted since the merge (a person's later work is never overwritten)."""
        if side not in (EARLIER, ARRIVED):
            raise ValueError(f"side must be {EARLIER!r} or {ARRIVED!r}")
        flag = self.flag(flag_id)
        if flag.kind != TEXT:
            raise ReviewError("This flag is about a trashed or moved note, not about text: "
                              "restore the note or keep it as it is.")
        version = flag.version(side)
        if version is None:
            raise ReviewError("Plait cannot tell how this side had the text (the edit was "
                              "too large or came before Plait saw the note); edit it by hand.")
        where = self.region(flag)
        if where.status != HERE:
            raise ReviewError(where.message + " Plait left it as it is; edit it by hand.")
        if version != flag.merged:
            self._edit(flag.note_id, [TextOp(where.start, where.end - where.start, version)])
        self.mark_reviewed(flag_id)

    def restore_note(self, flag_id: str) -> None:
        """Undo the flag's trash or move: take the note out of the trash, or move it back
        to the notebook it was in, as a change that syncs; and mark the flag reviewed.
        Refuses, saying why, when the note no longer stands as that trash or move left
        it (restored already, moved or trashed again since)."""
        flag, home, entry = self._structure(flag_id)
        places = self._places
        seen = current_seen(entry)
        again = seen is None or (seen.client, seen.token) != flag.mark
        if flag.kind == TRASHED:
            if not entry.trashed:
                raise ReviewError("This note is no longer in the trash: it has been "
                                  "restored already.")
            if again:
                raise ReviewError("This note was put in the trash again since; restore it "
                                  "from the trash if you want it back.")
            places.restore_note(flag.note_id)
        else:
            source = self._notebook_name(flag.source)
            if home == flag.source:
                raise ReviewError(f"This note is back in {source} already.")
            if home != flag.target or again:
                raise ReviewError("This note has been moved again since; move it by hand "
                                  "if it belongs elsewhere.")
            try:
                book = places.notebook(flag.source)
            except PlaitError:
                raise ReviewError("The notebook this note was moved from is not on this "
                                  "device any more; move it by hand.") from None
            if book.trashed:
                raise ReviewError(f"{source}, the notebook this note was moved from, is in "
                                  "the trash; restore the notebook first.")
            places.move_note(flag.note_id, flag.source)
        self.mark_reviewed(flag_id)

    def keep_structure(self, flag_id: str) -> None:
        """Keep the note as the flag's trash or move left it (in the trash; in the
        notebook it was moved to), and mark the flag reviewed. Refuses, saying why,
        when it no longer is."""
        flag, home, entry = self._structure(flag_id)
        if flag.kind == TRASHED and not entry.trashed:
            raise ReviewError("This note is no longer in the trash: it has been restored "
                              "since. Move it to the trash again if it should go.")
        if flag.kind == MOVED and home != flag.target:
            raise ReviewError(f"This note is no longer in {self._notebook_name(flag.target)}: "
                              "it has been moved since.")
        self.mark_reviewed(flag_id)

    def _structure(self, flag_id: str):
        flag = self.flag(flag_id)
        if flag.kind not in (TRASHED, MOVED):
            raise ReviewError("This flag is about text edits merged close together, not a "
                              "trashed or moved note.")
        home, entry = self._places.note_entry(flag.note_id) if self._places else (None, None)
        if entry is None:
            raise ReviewError("This note is no longer in any notebook on this device.")
        return flag, home, entry

    def _notebook_name(self, notebook_id: str) -> str:
        return notebook_label(self._places, notebook_id, "that notebook")


def _save_notes(conn: sqlite3.Connection, rows: list[tuple[str, str]]) -> None:
    conn.executemany("INSERT OR REPLACE INTO review_notes (note_id, state) VALUES (?, ?)", rows)
