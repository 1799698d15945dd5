"""Past versions of a note, rebuilt from its stored bytes.

**How a version is rebuilt.** A version is a pycrdt Snapshot: a state vector (how
many operations of each client it had seen) and a delete set (which of them it
had deleted). Documents keep deleted content (skip_gc), so a later state holds
every character of every earlier version. `StateIndex` decodes a full state once
(Yjs update format v1, read in Python: about 25 ms for the 454 KB state of the
`automerge-paper` note) into, per client, where each struct starts: its clock and
its byte offset. The version is then the prefix of each client's structs up to the
snapshot's state vector (the struct that straddles it cut short) followed by the
snapshot's delete set, which pycrdt decodes into a fresh document: about 5 ms for
that note, whatever the version, where replaying its log from the start takes
seconds.

`Doc.from_snapshot` would do the same inside Yrs, but pycrdt 0.14's gives wrong
text for some snapshots (a one-character item later extended) and panics on others
("EndOfBuffer"), so it is not used (tests/test_history.py keeps a case).

**Threading.** A `NoteHistory` works on bytes read up front (`StoredHistory`), never
on the vault or SQLite: after the vault's owner has made one (`Vault.note_history`),
any thread may call its methods; a lock serialises them. `feed` (newer rows, from
the owner) only queues them behind a short lock, so the owner never waits for a
reconstruction running on a worker.
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from collections import OrderedDict
from dataclasses import replace

from ..compaction import EditingSession, SessionReplay
from ..errors import CorruptUpdateError
from ..guard import apply_update_guarded
from ..model import new_doc, note_body
from ..statevector import decode_state_vector
from ..statevector import read_var_uint as _uint
from ..textdiff import diff_ops
from ..update_structs import (_ANY, _DELETED, _GC, _JSON, _SKIP, _STRING, _skip_any,
                              _skip_content, _skip_item_head, _skip_string, _utf16_units,
                              _var_uint)
from .sessions import HistoryError, LogRow, MarkRow, Session, StoredHistory

__all__ = ["NoteHistory", "StateIndex", "change_counts"]

TEXT_CACHE = 8
"""Version texts kept per note (the page being listed walks them in order)."""


# ---- lib0 / Yjs update v1 decoding (the struct readers are update_structs.py's) -----------

def _content(b: bytes, p: int, ref: int) -> tuple[int, int]:
    """(length in clock units, end) of an item's content of kind `ref` at `p`."""
    if ref == _STRING:  # its length is counted in UTF-16 units
        n, p = _uint(b, p)
        return _utf16_units(b[p:p + n]), p + n
    end, length = _skip_content(b, p, ref)
    return length, end


def _truncated(b: bytes, at: int, keep: int) -> bytes:
    """The struct at `at`, keeping its first `keep` clock units."""
    info = b[at]
    ref = info & 0x1F
    if ref in (_GC, _SKIP):
        return bytes([info]) + _var_uint(keep)
    start = _skip_item_head(b, at + 1, info)
    head = b[at:start]
    if ref == _DELETED:
        return head + _var_uint(keep)
    if ref == _STRING:
        n, p = _uint(b, start)
        raw = b[p:p + n]
        cut = raw[:keep] if raw.isascii() else raw.decode("utf-8").encode("utf-16-le")[
            :2 * keep].decode("utf-16-le", "replace").encode("utf-8")
        return head + _var_uint(len(cut)) + cut
    if ref in (_JSON, _ANY):
        n, p = _uint(b, start)
        first = p
        for _ in range(keep):
            p = _skip_string(b, p) if ref == _JSON else _skip_any(b, p)
        return head + _var_uint(keep) + b[first:p]
    raise ValueError(f"a struct of kind {ref} cannot be split")


def _delete_set_end(b: bytes, p: int) -> int:
    clients, p = _uint(b, p)
    for _ in range(clients):
        ranges, p = _uint(b, _uint(b, p)[1])
        for _ in range(ranges):
            p = _uint(b, _uint(b, p)[1])[1]
    return p


class StateIndex:
    """A full document state (an update, v1), indexed so that the state as of any
    snapshot it contains is cheap to cut out of it (see the module docstring)."""

    __slots__ = ("data", "runs")

    def __init__(self, update: bytes) -> None:
        self.data = b = update
        # per client: (client, start clock of each struct + end, byte offset of each + end)
        self.runs: list[tuple[int, list[int], list[int]]] = []
        try:
            count, p = _uint(b, 0)
            for _ in range(count):
                structs, p = _uint(b, p)
                client, p = _uint(b, p)
                clock, p = _uint(b, p)
                clocks, offsets = [clock], [p]
                for _ in range(structs):
                    info = b[p]
                    ref = info & 0x1F
                    if ref == _GC or ref == _SKIP:
                        length, p = _uint(b, p + 1)
                    else:
                        length, p = _content(b, _skip_item_head(b, p + 1, info), ref)
                    clock += length
                    clocks.append(clock)
                    offsets.append(p)
                self.runs.append((client, clocks, offsets))
        except (IndexError, ValueError, AttributeError) as exc:  # (a truncated id: no match)
            raise HistoryError(f"A stored state of this note could not be read: {exc}") from exc

    def update_at(self, snapshot: bytes) -> bytes:
        """The document as of `snapshot` (encoded), as an update."""
        try:
            ds_end = _delete_set_end(snapshot, 0)
            seen = decode_state_vector(snapshot[ds_end:])
        except (IndexError, ValueError) as exc:
            raise HistoryError(f"A stored version mark could not be read: {exc}") from exc
        b = self.data
        parts: list[bytes] = []
        for client, clocks, offsets in self.runs:
            upto = seen.pop(client, 0)
            if upto <= clocks[0]:
                continue
            if upto > clocks[-1]:
                raise HistoryError("This version needs edits this vault no longer has.")
            i = bisect_right(clocks, upto) - 1  # clocks[i] <= upto
            body = b[offsets[0]:offsets[i]]
            count = i
            if upto > clocks[i]:
                body += _truncated(b, offsets[i], upto - clocks[i])
                count += 1
            parts.append(_var_uint(count) + _var_uint(client) + _var_uint(clocks[0]) + body)
        if any(seen.values()):
            raise HistoryError("This version needs edits this vault no longer has.")
        return _var_uint(len(parts)) + b"".join(parts) + snapshot[:ds_end]

    def text_at(self, snapshot: bytes) -> str:
        """The note's text as of `snapshot`."""
        doc = new_doc()
        try:
            apply_update_guarded(doc, self.update_at(snapshot))
        except CorruptUpdateError as exc:
            raise HistoryError(f"This version could not be rebuilt: {exc}") from exc
        return str(note_body(doc))


def change_counts(old: str, new: str) -> tuple[int, int]:
    """(code points added, code points removed) from `old` to `new`: lines compared
    first, then changed lines character by character (crdt_store.textdiff)."""
    ops = diff_ops(old, new, lines_first=True)
    return sum(len(op.insert) for op in ops), sum(op.delete for op in ops)


# ---- a note's history -----------------------------------------------------------------

class NoteHistory:
    """A note's sessions and versions, computed from a `StoredHistory` (see the module
    docstring for threading). Built lazily: making one costs nothing until asked."""

    def __init__(self, stored: StoredHistory, previous: NoteHistory | None = None) -> None:
        self.doc_id = stored.doc_id
        self.checkpoint_key = stored.checkpoint_key
        self._lock = threading.RLock()
        self._feed_lock = threading.Lock()
        self._checkpoint = stored.checkpoint
        self._marks: tuple[MarkRow, ...] = stored.marks
        self._pending: list[LogRow] = list(stored.rows)
        self._read_upto = stored.last_seq
        self._replay: SessionReplay | None = None
        self._continued: EditingSession | None = None  # the last mark, as the replay sees it
        self._changed = True  # rows applied since the sessions were listed
        self._sessions: list[Session] = []
        self._snapshots: dict[int, bytes] = {}  # session id -> snapshot at its end
        self._indexes: dict[str, tuple[int, StateIndex]] = {}
        self._generation = 0  # bumped whenever the replayed document changes
        self._texts: OrderedDict[tuple[int, int], str] = OrderedDict()
        # Counts stay true across compactions (sessions and their ids do not change).
        self._counts: dict[tuple[int, int], tuple[int, int]] = (
            dict(previous._counts) if previous is not None else {})

    @property
    def cursor(self) -> StoredHistory:
        """What the owner has read so far, for `read_stored_history(known=...)`."""
        return StoredHistory(self.doc_id, self.checkpoint_key, None, (), (), self._read_upto)

    def feed(self, newer: StoredHistory) -> None:
        """Queue rows read after this history was made (same checkpoint). Cheap."""
        if newer.checkpoint_key != self.checkpoint_key:
            raise ValueError("rows of another checkpoint: make a new NoteHistory")
        with self._feed_lock:
            self._pending.extend(newer.rows)
            self._read_upto = max(self._read_upto, newer.last_seq)

    # ---- sessions

    def sessions(self) -> list[Session]:
        """Every session, oldest first, without `added` / `removed`."""
        with self._lock:
            return list(self._current_sessions())

    def session(self, session_id: int) -> Session:
        """The session with this id (or holding this log position); HistoryError if none."""
        with self._lock:
            return self._find(session_id)

    def page(self, limit: int = 50, before: int | None = None) -> list[Session]:
        """Up to `limit` sessions, newest first, older than session `before` when given,
        with `added` and `removed` filled in (each needs the versions at both ends:
        computed once, then cached)."""
        with self._lock:
            sessions = self._current_sessions()
            end = len(sessions)
            if before is not None:
                end = bisect_right([s.id for s in sessions], before - 1)
            chosen = range(max(0, end - max(limit, 0)), end)
            out = [self._with_counts(sessions, i) for i in chosen]
            return out[::-1]

    def session_at(self, when: float) -> Session | None:
        """The newest session such that it and every session before it had ended by
        `when` (log order is the order this device got them; a session that arrived
        late from an offline collaborator does not pull in text written after `when`).
        None when the first session had not ended by then."""
        with self._lock:
            found = None
            latest = float("-inf")
            for session in self._current_sessions():
                latest = max(latest, session.end)
                if latest > when:
                    break
                found = session
            return found

    # ---- versions

    def version_text(self, session_id: int) -> str:
        """The note's text at the end of that session, including text deleted later."""
        with self._lock:
            session = self._find(session_id)
            return self._text(session)

    def version_at(self, when: float) -> str:
        """The note's text at `when`: the version `session_at(when)` ended with ("" before
        the first). Versions are kept at session ends, so a moment inside a session
        gives the version it started from."""
        with self._lock:
            session = self.session_at(when)
            return "" if session is None else self._text(session)

    # ---- internals (under self._lock)

    def _find(self, session_id: int) -> Session:
        sessions = self._current_sessions()
        i = bisect_right([s.id for s in sessions], session_id) - 1
        if i < 0 or session_id > sessions[i].last_seq:
            raise HistoryError(f"This note has no session {session_id}; "
                               "`plait history` lists them.")
        return sessions[i]

    def _current_sessions(self) -> list[Session]:
        self._catch_up()
        if self._changed:
            self._sessions = self._list_sessions()
            self._changed = False
        return self._sessions

    def _catch_up(self) -> None:
        """Apply rows fed since last time (building the document on first use)."""
        with self._feed_lock:
            rows, self._pending = self._pending, []
        replay = self._replay
        if replay is None:
            doc = new_doc()
            if self._checkpoint is not None:
                try:
                    apply_update_guarded(doc, self._checkpoint)
                except CorruptUpdateError as exc:
                    raise HistoryError(f"This note's checkpoint could not be read: {exc}") from exc
            last = self._marks[-1] if self._marks else None
            self._continued = (EditingSession(last.device_id, last.author_name, last.start,
                                              last.end, last.updates, last.upto_seq)
                               if last else None)
            replay = self._replay = SessionReplay(doc, self._continued,
                                                  last.upto_seq if last else 0)
            self._changed = True
        for row in rows:
            try:
                replay.apply(row.seq, row.data, row.device_id, row.author_name, row.wall_time)
            except CorruptUpdateError:
                continue  # the vault sets such rows aside when it loads the note
            self._changed = True
        if rows:
            self._generation += 1

    def _list_sessions(self) -> list[Session]:
        replay = self._replay
        assert replay is not None
        sessions: list[Session] = []
        snapshots: dict[int, bytes] = {}
        previous = 0
        for mark in self._marks:
            session = Session(previous + 1, mark.upto_seq, (mark.author_name,), mark.device_id,
                              mark.start, mark.end, mark.updates, True)
            sessions.append(session)
            snapshots[session.id] = mark.snapshot
            previous = mark.upto_seq
        continued = self._continued
        marked_upto = self._marks[-1].upto_seq if self._marks else 0
        runs: list[tuple[EditingSession, bytes | None]] = list(replay.closed)
        if replay.current is not None:
            runs.append((replay.current, None))  # its end is the document now
        for run, snapshot in runs:
            if run is continued:
                if run.last_seq == marked_upto:
                    continue  # not continued: the mark stands as it is
                session = sessions.pop()
                previous = session.id - 1
            session = Session(previous + 1, run.last_seq, (run.author_name,), run.device_id,
                              run.start, run.end, run.updates, False)
            sessions.append(session)
            if snapshot is not None:
                snapshots[session.id] = snapshot
            else:
                snapshots.pop(session.id, None)
            previous = run.last_seq
        self._snapshots = snapshots
        return sessions

    def _text(self, session: Session) -> str:
        key = (session.id, session.last_seq)
        text = self._texts.get(key)
        if text is not None:
            self._texts.move_to_end(key)
            return text
        snapshot = self._snapshots.get(session.id)
        replay = self._replay
        assert replay is not None
        if snapshot is None:  # the open session: its end is now
            text = str(note_body(replay.doc))
        else:
            text = self._index(session.folded).text_at(snapshot)
        self._texts[key] = text
        if len(self._texts) > TEXT_CACHE:
            self._texts.popitem(last=False)
        return text

    def _index(self, folded: bool) -> StateIndex:
        """The checkpoint's index for folded sessions (it does not change while the user
        types), the whole document's for the rest."""
        if folded and self._checkpoint is not None:
            found = self._indexes.get("checkpoint")
            if found is None:
                found = self._indexes["checkpoint"] = (0, StateIndex(self._checkpoint))
            return found[1]
        found = self._indexes.get("document")
        if found is None or found[0] != self._generation:
            assert self._replay is not None
            found = self._indexes["document"] = (self._generation,
                                                 StateIndex(self._replay.doc.get_update()))
        return found[1]

    def _with_counts(self, sessions: list[Session], i: int) -> Session:
        session = sessions[i]
        key = (session.id, session.last_seq)
        counts = self._counts.get(key)
        if counts is None:
            before = self._text(sessions[i - 1]) if i > 0 else ""
            counts = self._counts[key] = change_counts(before, self._text(session))
        return replace(session, added=counts[0], removed=counts[1])
