"""Structure flags: a note edited by one person while another put it in the trash or
moved it to another notebook.

Nothing is lost when that happens (the edit is kept, in the trash or in the other
notebook), but the editor may not know where their work went, and the one who
trashed it may not know it was still being worked on. So it is flagged, once per
trash or move, on every device that learns of both.

The test is causal, never by wall clocks. Trashing or moving a note writes, in its
catalog entry, what its author had seen of the note (`model.Seen`: the note's edit
clock then) and takes a count of its own in the note's edit clock (edit_clock's
structure keys), which every device adds to the note's clock when it learns of the
trash. An edit and a trash are concurrent when neither author had seen the other:

- the trash had not seen the edit: the edit's count is above what the trash recorded
  for its author;
- the edit had not seen the trash: the edit's stamp lacks the trash's own count.

Two moments raise a flag on a device:

- **The trash (or move) arrives** (a catalog change places the note with a `Seen`
  this device did not know): every edit here its author had not seen is one they
  could not have seen either (this device had not seen the trash), so any author
  other than the one who trashed it with a count above the recorded one was editing
  concurrently. This is the editor's own device, typically.
- **An edit arrives for a note this device has trashed or moved** (or learned was):
  the edit's stamp says whether it was made without seeing the trash and whether the
  trash had seen it. This is the device that trashed it, typically.

Sequential changes are never flagged: an edit made after its author saw the trash
carries the trash's count; a trash made after seeing an edit records its count. Nor
is anything flagged for a note taken out of the trash before the edit arrived.

Left out:

- Renaming a notebook while someone edits one of its notes. A rename changes no note
  and loses nothing; telling it apart causally would mean putting the rename's count
  into the clock of every note in the notebook (a write per note for one rename).
- Trashing a whole notebook (not asked for; the same reasoning as a rename).
- Edits that arrive as whole documents without a stamp (a device sending everything it
  had after a crash, a join): they say nothing about which edit saw what, so they
  raise no flag here (the trash's arrival on the editor's device still does).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Protocol

from ..edit_clock import EditStamp, is_structure_key, structure_key
from ..errors import PlaitError
from ..events import ChangeEvent, DocKind, Source
from ..identity import Author
from ..model import MOVED, TRASHED, NotebookInfo, NoteFlags, Seen, seen_from
from .flags import NEW, ReviewFlag, Side


class Places(Protocol):
    """What the watcher and the board's structure actions need of the vault."""

    author: Author

    def note_entry(self, note_id: str) -> tuple[str | None, NoteFlags | None]: ...
    def edit_clock(self, doc_id: str) -> dict[int, int]: ...
    def own_client_ids(self) -> set[int]: ...
    def notebook(self, notebook_id: str) -> NotebookInfo: ...
    def restore_note(self, note_id: str) -> None: ...
    def move_note(self, note_id: str, notebook_id: str) -> None: ...


def structure_flag_id(note_id: str, seen: Seen) -> str:
    """One flag per note and trash or move, the same however many edits arrive."""
    key = f"{note_id}:{seen.client}:{seen.token}".encode()
    return hashlib.sha256(key).hexdigest()[:32]


def current_seen(entry: NoteFlags | None) -> Seen | None:
    return seen_from(entry.seen) if entry is not None and entry.seen else None


def stands(seen: Seen | None, home: str | None, entry: NoteFlags | None) -> bool:
    """Does the note still stand as that trash or move left it (in the trash; in the
    notebook it was moved to)?"""
    if seen is None or entry is None:
        return False
    return entry.trashed if seen.did == TRASHED else seen.source not in (None, home)


class StructureWatcher:
    """Hears every change of a vault (after the detector) and raises structure flags
    through `on_flag(ReviewFlag)`; `known(flag_id)` says whether a flag exists already
    (flags outlive restarts)."""

    def __init__(self, on_flag: Callable[[ReviewFlag], None], places: Places, *,
                 known: Callable[[str], bool],
                 who: Callable[[int], tuple[str, str] | None] = lambda client: None) -> None:
        self.on_flag = on_flag
        self._places = places
        self._known = known
        self._who = who  # client id -> (name, device) from what is stored, if anything
        self._authors: dict[int, tuple[str, str]] = {}  # heard in changes this session
        self._raised: set[str] = set()
        self._parsed: dict[str, Seen | None] = {}  # a few entries' JSON, read once

    def on_change(self, event: ChangeEvent) -> None:
        if event.kind is DocKind.NOTE and event.origin.source is Source.LOCAL:
            return  # typing here: nothing to consider (and the catalog names this author)
        author = event.origin.author
        self._authors[author.client_id] = (author.name, author.device_id)
        if event.kind is DocKind.CATALOG:
            for note_id in event.placed:
                self._consider(note_id, None, event)
        elif event.origin.source is Source.REMOTE and event.stamp is not None:
            # Edits made here never are: this device saw every trash it shows.
            self._consider(event.doc_id, event.stamp, event)

    # ---- the test ---------------------------------------------------------------------

    def _seen(self, entry: NoteFlags | None) -> Seen | None:
        if entry is None or not entry.seen:
            return None
        if entry.seen not in self._parsed:
            if len(self._parsed) > 256:
                self._parsed.clear()
            self._parsed[entry.seen] = seen_from(entry.seen)
        return self._parsed[entry.seen]

    def _consider(self, note_id: str, stamp: EditStamp | None, event: ChangeEvent) -> None:
        home, entry = self._places.note_entry(note_id)
        seen = self._seen(entry)
        if not stands(seen, home, entry):
            return
        if stamp is not None:  # an edit arrived
            editors = ([stamp.client] if stamp.client != seen.client
                       and seen.clock.get(stamp.client, 0) < stamp.last
                       and stamp.seen.get(structure_key(seen.client), 0) < seen.token else [])
        else:
            clock = self._places.edit_clock(note_id)
            if clock.get(structure_key(seen.client), 0) >= seen.token:
                return  # not news here: this device made it, or learned of it before
            editors = sorted(c for c, n in clock.items() if not is_structure_key(c)
                             and c != seen.client and n > seen.clock.get(c, 0))
        if not editors:
            return
        flag_id = structure_flag_id(note_id, seen)
        if flag_id in self._raised or self._known(flag_id):
            return
        self._raised.add(flag_id)
        self.on_flag(self._flag(flag_id, note_id, home, seen, editors, event))

    # ---- the flag ---------------------------------------------------------------------

    def _flag(self, flag_id: str, note_id: str, home: str, seen: Seen, editors: list[int],
              event: ChangeEvent) -> ReviewFlag:
        own = self._places.own_client_ids()
        now = time.time()
        edit_time = event.wall_time if event.kind is DocKind.NOTE else now
        sides = [Side(*self._identify(c, event), c, c in own, "", "", edit_time)
                 for c in editors]
        sides.sort(key=lambda s: (not s.local, s.name.casefold()))
        did = Side(seen.name, seen.device, seen.client, seen.client in own, "", "", seen.at)
        editor = sides[0]
        own_devices = editor.name == did.name and editor.device != did.device
        return ReviewFlag(
            flag_id, note_id, now, NEW, 0, 0, "", editor, did, own_devices,
            kind=seen.did, summary=self._summary(seen, home, sides, own_devices),
            source=(seen.source or "") if seen.did == MOVED else "",
            target=home if seen.did == MOVED else "", mark=(seen.client, seen.token))

    def _identify(self, client: int, event: ChangeEvent) -> tuple[str, str]:
        author = event.origin.author
        if client == author.client_id:
            return author.name, author.device_id
        if client in self._places.own_client_ids():
            me = self._places.author
            return me.name, me.device_id
        return self._authors.get(client) or self._who(client) or ("Someone", "")

    def _summary(self, seen: Seen, home: str, editors: list[Side], own_devices: bool) -> str:
        names = [s.name for s in editors]
        who = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        was = "was" if len(names) == 1 else "were"
        if seen.did == TRASHED:
            done = "moved this note to the trash"
        else:
            done = (f"moved this note from {self._book(seen.source)} "
                    f"to {self._book(home)}")
        if own_devices and len(names) == 1:
            return f"{seen.name} {done} on one device while editing it on another."
        return f"{seen.name} {done} while {who} {was} editing it."

    def _book(self, notebook_id: str | None) -> str:
        return notebook_label(self._places, notebook_id)


def notebook_label(places: Places, notebook_id: str | None,
                   unknown: str = "another notebook") -> str:
    """“Name”, or `unknown` for a notebook this device does not have."""
    if notebook_id:
        try:
            return f"“{places.notebook(notebook_id).name}”"
        except PlaitError:
            pass
    return unknown
