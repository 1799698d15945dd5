"""A note's editing sessions: what is read from the vault, and what a session is.

Everything heavy in `crdt_store.history` works on a `StoredHistory`: plain bytes and
numbers read from SQLite up front, on the vault's owner thread, by
`read_stored_history` (a few point reads in one read transaction). Nothing here
touches a live document.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Callable, Iterable

from ..errors import PlaitError
from ..search.dates import DateFilterError, parse_interval

Query = Callable[[str, Iterable[object]], list[tuple]]


class HistoryError(PlaitError):
    """A version or session that cannot be found or rebuilt; the message says which."""


@dataclass(frozen=True, slots=True)
class Session:
    """One editing session of a note: one author's run of edits, ended by `SESSION_GAP`
    (5 minutes) of quiet or by another author's edit (crdt_store.compaction).

    - `id` is stable: the log position just after the previous session's end (1 for
      the first). Every stored row of the session lies in `id`..`last_seq`, so any of
      those numbers finds it. `last_seq` grows while the session is still open.
    - `authors`: display names (one: a session is one author's run). An edit merged
      from a collaborator is attributed to the author its update was signed by, at
      the time its author made it, and is a session of its own; so concurrent edits
      show as separate sessions, in the order this device received them.
    - `added` / `removed`: code points, from diffing the text at the end of the
      previous session with the text at the end of this one (None when not
      computed: `NoteHistory.sessions()` leaves them out, `page()` fills them in).
    - `start` / `end`: the wall times of its first and last stored rows (a row holds
      the keystrokes written together, up to 64, and carries the last one's time).
    - `rows`: how many stored rows (merged updates) it has.
    - `folded`: its rows were compacted into a version mark (only its end is kept).
    """

    id: int
    last_seq: int
    authors: tuple[str, ...]
    device_id: str
    start: float
    end: float
    rows: int
    folded: bool
    added: int | None = None
    removed: int | None = None

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "authors": list(self.authors), "device": self.device_id,
                "start": self.start, "end": self.end, "rows": self.rows,
                "folded": self.folded, "added": self.added, "removed": self.removed}


@dataclass(frozen=True, slots=True)
class MarkRow:
    """A version mark: a folded session (see crdt_store.compaction)."""

    upto_seq: int
    start: float
    end: float
    device_id: str
    author_name: str
    updates: int
    snapshot: bytes


@dataclass(frozen=True, slots=True)
class LogRow:
    """An update row not folded yet."""

    seq: int
    data: bytes
    device_id: str
    author_name: str
    wall_time: float


@dataclass(frozen=True, slots=True)
class StoredHistory:
    """What is on disk of one note's history. `checkpoint_key` tells checkpoints apart;
    `rows` are the update rows after `after` (all of them when `after` is 0)."""

    doc_id: str
    checkpoint_key: tuple | None
    checkpoint: bytes | None
    marks: tuple[MarkRow, ...]
    rows: tuple[LogRow, ...]
    after: int = 0

    @property
    def last_seq(self) -> int:
        return self.rows[-1].seq if self.rows else self.after


def read_stored_history(query: Query, doc_id: str,
                        known: StoredHistory | None = None) -> StoredHistory:
    """Read a note's history in one read transaction (so a compaction committing
    meanwhile is seen whole or not at all). With `known`, a history read earlier,
    only rows newer than it are read while its checkpoint is unchanged (check
    `checkpoint_key` against `known`'s to tell)."""
    query("BEGIN", ())
    try:
        found = query("SELECT upto_seq, created, length(data) FROM checkpoints "
                      "WHERE doc_id = ?", (doc_id,))
        key = tuple(found[0]) if found else None
        if known is not None and key == known.checkpoint_key:
            rows = query("SELECT seq, data, device_id, author_name, wall_time FROM updates "
                         "WHERE doc_id = ? AND seq > ? ORDER BY seq", (doc_id, known.last_seq))
            return StoredHistory(doc_id, key, None, (), tuple(LogRow(*r) for r in rows),
                                 known.last_seq)
        checkpoint = None
        if key is not None:
            checkpoint = query("SELECT data FROM checkpoints WHERE doc_id = ?", (doc_id,))[0][0]
        marks = query("SELECT upto_seq, start_time, end_time, device_id, author_name, updates, "
                      "snapshot FROM version_marks WHERE doc_id = ? ORDER BY upto_seq", (doc_id,))
        rows = query("SELECT seq, data, device_id, author_name, wall_time FROM updates "
                     "WHERE doc_id = ? ORDER BY seq", (doc_id,))
    finally:
        query("COMMIT", ())
    return StoredHistory(doc_id, key, checkpoint, tuple(MarkRow(*m) for m in marks),
                         tuple(LogRow(*r) for r in rows))


def parse_when(value: str, now: float) -> float:
    """A moment for `--at`, as a POSIX timestamp: an ISO date and time
    (``2026-03-01 14:30``, ``2026-03-01T14:30:00+01:00``; local time unless it says
    otherwise), a day (``2026-03-01``: as the note stood at the end of that day), or a
    time ago as search understands it (``2h``, ``3d``, ``2w``, ``3m``, ``1y``).
    DateFilterError (a ValueError) names a value it cannot read."""
    value = value.strip()
    if ":" in value:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise DateFilterError(f"'{value}' is not a date and time like "
                                  "2026-03-01 14:30") from None
        return moment.timestamp()  # a naive value is local time
    if value[:1] in "<>" or ".." in value:
        raise DateFilterError(f"'{value}' is a range; give one moment, like 2h, 3d or "
                              "2026-03-01 14:30")
    start, end = parse_interval(value, now)
    if end is not None and start is not None:  # a day: its end
        return end.replace(tzinfo=UTC).timestamp()
    assert start is not None  # a time ago: N units before now
    return start.replace(tzinfo=UTC).timestamp()
