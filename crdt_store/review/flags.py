"""Review flags kept in the vault until a person has looked at them: close merges of
concurrent text edits (kind TEXT), and notes edited by one person while another put
them in the trash (TRASHED) or moved them to another notebook (MOVED)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from ..model import MOVED as MOVED, TRASHED as TRASHED  # flag kinds, as Seen.did says
from .detector import CloseMerge
from .runs import EditRun

NEW, REVIEWED = "new", "reviewed"
EARLIER, ARRIVED = "earlier", "arrived"  # the two sides of a flag
TEXT = "text"  # the kinds of flag: TEXT, TRASHED, MOVED


@dataclass(frozen=True)
class Side:
    """One of the two edits of a flag, as the review panel and the CLI show it."""

    name: str
    device: str
    client: int
    local: bool  # made on this device
    inserted: str
    deleted: str
    time: float


@dataclass(frozen=True)
class ReviewFlag:
    flag_id: str
    note_id: str
    detected: float
    state: str  # NEW or REVIEWED
    start: int  # the merged region when detected (code points; see Vault.flag_region)
    end: int
    merged: str  # that region's text right after the merge
    earlier: Side  # the edit that was here first
    arrived: Side  # the concurrent edit whose merge raised the flag
    own_devices: bool
    before: str = ""  # some text on either side of the region, for the snippet
    after: str = ""
    earlier_text: str | None = None  # the region as each side had it (None: unknown)
    arrived_text: str | None = None
    spans: tuple[tuple[int, int, str], ...] = ()  # who wrote which part of `merged`
    # TEXT, or TRASHED / MOVED: then `earlier` is the editor and `arrived` the person who
    # trashed or moved the note, their text fields are empty and so is the region.
    kind: str = TEXT
    summary: str = ""  # a plain sentence saying what happened (structure flags)
    source: str = ""  # MOVED: the notebook the note was moved from, and to
    target: str = ""
    mark: tuple[int, int] = (0, 0)  # structure flags: which trash or move (client, count)

    @classmethod
    def from_merge(cls, merge: CloseMerge) -> ReviewFlag:
        return cls(merge.flag_id, merge.note_id, merge.detected, NEW, merge.start,
                   merge.end, merge.merged, _side(merge.earlier), _side(merge.arrived),
                   merge.own_devices, merge.before, merge.after, merge.earlier_text,
                   merge.arrived_text, merge.spans)

    def side(self, which: str) -> Side:
        """EARLIER or ARRIVED."""
        return self.earlier if which == EARLIER else self.arrived

    def version(self, which: str) -> str | None:
        """The region as that side had it."""
        return self.earlier_text if which == EARLIER else self.arrived_text

    @property
    def mine(self) -> str | None:
        """Which side was made on this device (EARLIER, ARRIVED or None)."""
        if self.earlier.local:
            return EARLIER
        return ARRIVED if self.arrived.local else None

    def to_json(self) -> str:
        return json.dumps({
            "start": self.start, "end": self.end, "merged": self.merged,
            "earlier": self.earlier.__dict__, "arrived": self.arrived.__dict__,
            "own_devices": self.own_devices, "before": self.before, "after": self.after,
            "earlier_text": self.earlier_text, "arrived_text": self.arrived_text,
            "spans": [list(s) for s in self.spans], "kind": self.kind,
            "summary": self.summary, "source": self.source, "target": self.target,
            "mark": list(self.mark),
        }, ensure_ascii=False)


def _side(run: EditRun) -> Side:
    return Side(run.name, run.device, run.stamp.client, run.local, run.inserted, run.deleted,
                run.time)


def save_flag(conn: sqlite3.Connection, flag: ReviewFlag) -> None:
    """Storage work (runs on the vault's writer thread). A flag that grew replaces its
    row; only flags not yet reviewed grow."""
    conn.execute("INSERT OR REPLACE INTO review_flags (flag_id, note_id, detected, state, data) "
                 "VALUES (?, ?, ?, ?, ?)",
                 (flag.flag_id, flag.note_id, flag.detected, flag.state, flag.to_json()))


def set_state(conn: sqlite3.Connection, flag_id: str, state: str) -> None:
    conn.execute("UPDATE review_flags SET state = ? WHERE flag_id = ?", (state, flag_id))


FLAGS_SQL = ("SELECT flag_id, note_id, detected, state, data FROM review_flags "
             "ORDER BY detected DESC")


def flag_from_row(row: tuple) -> ReviewFlag:
    flag_id, note_id, detected, state, data = row
    fields = json.loads(data)
    return ReviewFlag(flag_id, note_id, detected, state, fields["start"], fields["end"],
                      fields["merged"], Side(**fields["earlier"]), Side(**fields["arrived"]),
                      fields["own_devices"], fields.get("before", ""), fields.get("after", ""),
                      fields.get("earlier_text"), fields.get("arrived_text"),
                      tuple(tuple(s) for s in fields.get("spans", ())),
                      fields.get("kind", TEXT), fields.get("summary", ""),
                      fields.get("source", ""), fields.get("target", ""),
                      tuple(fields.get("mark", (0, 0))))
