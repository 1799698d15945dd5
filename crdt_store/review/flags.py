"""Review flags: close merges kept in the vault until a person has looked at them."""

from __future__ import annotations

import json
import sqlite3
import uuid
from dataclasses import dataclass

from .detector import CloseMerge
from .runs import EditRun

NEW, REVIEWED = "new", "reviewed"


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
    start: int  # the merged region when detected (code points)
    end: int
    merged: str  # that region with some text around it
    earlier: Side
    arrived: Side
    own_devices: bool

    @classmethod
    def from_merge(cls, merge: CloseMerge) -> ReviewFlag:
        return cls(uuid.uuid4().hex, merge.note_id, merge.detected, NEW, merge.start,
                   merge.end, merge.merged, _side(merge.earlier), _side(merge.arrived),
                   merge.own_devices)

    def to_json(self) -> str:
        return json.dumps({
            "start": self.start, "end": self.end, "merged": self.merged,
            "earlier": self.earlier.__dict__, "arrived": self.arrived.__dict__,
            "own_devices": self.own_devices,
        }, ensure_ascii=False)


def _side(run: EditRun) -> Side:
    return Side(run.name, run.device, run.stamp.client, run.local, run.inserted, run.deleted,
                run.time)


def save_flag(conn: sqlite3.Connection, flag: ReviewFlag) -> None:
    """Storage work (runs on the vault's writer thread)."""
    conn.execute("INSERT OR IGNORE INTO review_flags (flag_id, note_id, detected, state, data) "
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
                      fields["own_devices"])
