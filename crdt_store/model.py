"""The shapes of Plait's CRDT documents, and plain records read from them.

A note document has one root, `body`: a Text holding Markdown. Its title and tags
are derived from the text, so they can never conflict.

A notebook's catalog is its own document, so renames, moves and trashing merge
across devices like text does:
- root `notebook` (Map): `name`, `created`, `trashed`;
- root `notes` (Map): note id -> Map of `created`, `pinned`, `trashed`, `trashed_at`,
  and `seen` once the note has been trashed or moved: a JSON string saying who did
  it and what they had seen of the note then (`Seen`; entries written before it
  existed have none).
"""

from __future__ import annotations

import json
import math
import time
import uuid
from dataclasses import dataclass, field
from typing import Iterable

from pycrdt import Doc, Map, Text

from .edit_clock import vector_from_json

BODY = "body"
NOTEBOOK = "notebook"
NOTES = "notes"


def new_id() -> str:
    return uuid.uuid4().hex


def new_doc(client_id: int | None = None) -> Doc:
    """A document that writes as `client_id` (None: a throwaway, for reading only).

    Every document keeps deleted content (no GC) so past versions can be rebuilt.
    """
    return Doc(skip_gc=True, client_id=client_id)


def note_body(doc: Doc) -> Text:
    return doc.get(BODY, type=Text)


def splice_text(text: Text, byte_ops: Iterable[tuple[int, int, str]]) -> None:
    """Apply (position, delete, insert) splices, in pycrdt's UTF-8 byte offsets, in order.

    The offsets must already be checked (unicode_offsets does): pycrdt puts an
    out-of-range insert at the end of the text and panics on a split character.
    """
    for pos, delete, insert in byte_ops:
        if delete:
            del text[pos:pos + delete]
        if insert:
            text.insert(pos, insert)


def catalog_info(doc: Doc) -> Map:
    return doc.get(NOTEBOOK, type=Map)


def catalog_notes(doc: Doc) -> Map:
    return doc.get(NOTES, type=Map)


@dataclass(frozen=True, slots=True)
class NoteFlags:
    """A note's entry in its notebook's catalog."""

    created: float
    pinned: bool = False
    trashed: bool = False
    trashed_at: float | None = None
    seen: str | None = None  # the last trash or move of the note (JSON; see `Seen`)


TRASHED, MOVED = "trashed", "moved"


@dataclass(frozen=True)
class Seen:
    """Who last trashed or moved a note, and what they had seen of it then.

    `clock` is the note's edit clock on their device at that moment; `token` is the
    count the trash or move itself took under their structure key (edit_clock).
    """

    did: str  # TRASHED or MOVED
    name: str
    device: str
    client: int
    token: int
    clock: dict[int, int] = field(default_factory=dict)
    source: str | None = None  # for a move: the notebook it left
    at: float = 0.0  # wall-clock time (informational)

    def to_json(self) -> str:
        return json.dumps({"did": self.did, "name": self.name, "device": self.device,
                           "client": self.client, "token": self.token,
                           "clock": {str(c): n for c, n in self.clock.items()},
                           "source": self.source, "at": self.at}, ensure_ascii=False)


def seen_from(text: object) -> Seen | None:
    """A `Seen` from an entry's value (written by any member), or None if malformed."""
    if not isinstance(text, str):
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    clock = vector_from_json(data.get("clock"))
    did, client, token = data.get("did"), data.get("client"), data.get("token")
    source, at = data.get("source"), data.get("at", 0.0)
    if (did not in (TRASHED, MOVED) or clock is None
            or not all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n < 2**63
                       for n in (client, token))
            or not isinstance(data.get("name"), str) or not isinstance(data.get("device"), str)
            or not (source is None or isinstance(source, str))
            or not isinstance(at, (int, float))):
        return None
    return Seen(did, data["name"], data["device"], client, token, clock, source, float(at))


# The timestamps a datetime can show (years 1 to 9999); the list, search and export
# turn every stored time into one.
MIN_TIME, MAX_TIME = -62135596800.0, 253402300799.0


def plausible_time(value: object) -> float | None:
    """A POSIX time from shared or imported data (a catalog, front matter), or None
    when it is not a number or no date could show it."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:  # an int too large for a float
        return None
    return number if math.isfinite(number) and MIN_TIME <= number <= MAX_TIME else None


def entry_from(data: dict) -> NoteFlags:
    """A catalog entry from its map's plain value (malformed fields read as unset)."""
    seen = data.get("seen")
    return NoteFlags(
        created=plausible_time(data.get("created")) or 0.0,
        pinned=bool(data.get("pinned", False)),
        trashed=bool(data.get("trashed", False)),
        trashed_at=plausible_time(data.get("trashed_at")),
        seen=seen if isinstance(seen, str) else None,
    )


def read_entries(doc: Doc) -> dict[str, NoteFlags]:
    """All note entries of a catalog document."""
    return {
        note_id: entry_from(value.to_py() if isinstance(value, Map) else {})
        for note_id, value in catalog_notes(doc).items()
    }


def write_entry(doc: Doc, note_id: str, flags: NoteFlags) -> None:
    """Create or overwrite a note's entry (call inside a transaction)."""
    values = {
        "created": flags.created,
        "pinned": flags.pinned,
        "trashed": flags.trashed,
        "trashed_at": flags.trashed_at,
    }
    if flags.seen is not None:
        values["seen"] = flags.seen
    catalog_notes(doc)[note_id] = Map(values)


def set_flag(doc: Doc, note_id: str, key: str, value: object) -> None:
    """Change one field of an entry, so concurrent changes to other fields both survive."""
    entry = catalog_notes(doc)[note_id]
    entry[key] = value


@dataclass(frozen=True, slots=True)
class NotebookInfo:
    notebook_id: str
    name: str
    created: float
    trashed: bool
    note_count: int


def read_notebook(doc: Doc, notebook_id: str, note_count: int) -> NotebookInfo:
    info = catalog_info(doc)
    return NotebookInfo(
        notebook_id=notebook_id,
        name=notebook_name(doc),
        created=plausible_time(info.get("created")) or 0.0,
        trashed=bool(info.get("trashed", False)),
        note_count=note_count,
    )


def notebook_name(doc: Doc) -> str:
    return str(catalog_info(doc).get("name") or "Untitled notebook")


def init_catalog(doc: Doc, name: str) -> None:
    info = catalog_info(doc)
    info["name"] = name
    info["created"] = time.time()
    info["trashed"] = False


@dataclass(frozen=True, slots=True)
class NoteSummary:
    """What the note list shows, read from the derived index without loading the note."""

    note_id: str
    notebook_id: str | None
    title: str
    snippet: str
    tags: tuple[str, ...]
    created: float
    modified: float
    pinned: bool
    trashed: bool
    chars: int

    @property
    def display_title(self) -> str:
        return self.title or "Untitled"
