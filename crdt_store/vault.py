"""The vault: one directory, one SQLite database, every note and notebook as a CRDT document.

This is the only object front ends talk to. Its constructor wires the pieces
(lock, storage, identity, documents, index) and it publishes a ChangeEvent to
plain-callback subscribers after every committed change.

Threading: a Vault is used from one thread, its owner (the GUI thread or the CLI).
Disk writes are queued to the storage's writer thread, so an edit returns at once;
`flush()` waits until everything queued is durable.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from types import MappingProxyType
from typing import Callable, Hashable, Iterable

from pycrdt import Doc, Snapshot, Subscription, Text, TransactionEvent

from . import model
from .compaction import quarantine_row
from .documents import rebuild
from .edit_clock import DocumentClocks, EditStamp, structure_key
from .errors import (
    CorruptUpdateError,
    NotebookNotFoundError,
    NoteNotFoundError,
    PlaitError,
    ReadOnlyVaultError,
    VaultNotFoundError,
)
from .events import ChangeEvent, DocKind, Origin, Source, Subscriber
from .guard import apply_update_guarded, check_update
from .held_back import integrate_held_back, is_held_back
from .history import (NoteHistory, RestorePreview, Session, plan_restore,
                      read_stored_history)
from .identity import Author, decide_identity, vault_fingerprint
from .model import MOVED, TRASHED, NotebookInfo, NoteFlags, NoteSummary, Seen, seen_from
from .note_index import NoteList
from .history.authorship import AuthorSpan, Authorship, Directory, UnsupportedUpdate
from .history.last_seen import LastSeen
from .search import SearchIndex, SearchResults
from .review.board import ReviewBoard
from .search_feed import AUTHORS_SQL, SearchFeed
from .sharing import Member, Sharing, add_relays, read_sharing, set_member
from .statevector import made_on_for_local
from .placements import Placements
from .rehearsal import Rehearsal
from .storage import DB_NAME, Storage, UpdateRecord
from .textdiff import diff_ops
from .unicode_offsets import (TextOp, apply_ops, ops_to_utf8, removed_text, sanitize,
                              utf8_delta_to_ops)
from .vault_lock import VaultLock
from .vault_registry import VaultRegistry

log = logging.getLogger(__name__)

EMPTY_UPDATE = b"\x00\x00"
PRIVATE_MADE_ON = b"\x00"  # ChangeEvent.made_on of a local change to a note no one shares
# Documents that keep their rehearsal copy between merges: the most recently merged.
# A join merges into thousands of notes once each; without a bound every one of them
# would stay in memory twice.
REHEARSAL_COPIES = 64


@dataclass(frozen=True, slots=True)
class Notice:
    """Something the user should hear about: a recovery, a quarantined row, a new client id."""

    message: str
    doc_id: str | None = None


@dataclass
class _Loaded:
    doc_id: str
    kind: DocKind
    doc: Doc
    text: Text | None  # the body, for notes
    ascii: bool | None = None  # body is pure ASCII (code points == UTF-8 bytes); None: not checked
    length: int | None = None  # body length in UTF-8 bytes, when known without asking pycrdt
    base_state: bytes = b"\x00"  # state vector as of the last load or remote merge
    rehearsal: Rehearsal | None = None  # where collaborators' updates are merged first
    subscription: Subscription | None = None  # the vault's commit observer on `doc`
    held_back: list[bytes] = field(default_factory=list)  # remote updates yrs still holds


@dataclass(frozen=True, slots=True)
class VaultInfo:
    path: Path
    device_id: str
    client_id: int
    display_name: str
    notebooks: int
    notes: int
    trashed_notes: int
    update_rows: int
    checkpoints: int
    quarantined: int
    database_bytes: int


class Vault:
    """A local-first store of notebooks and notes."""

    def __init__(
        self,
        path: str | Path,
        *,
        read_only: bool = False,
        display_name: str | None = None,
        flush_interval: float = 0.1,
        compact_after_rows: int = 1000,
        search: bool = True,
        review: bool = True,
        clock: Callable[[], float] = time.time,
        registry: VaultRegistry | None = None,
    ) -> None:
        self.path = Path(path).expanduser().resolve()
        self._registry = registry if registry is not None else VaultRegistry()
        self._clock = clock  # wall time stored with local edits (tests pass their own)
        self.read_only = read_only
        self.notices: list[Notice] = []
        self._subscribers: list[Subscriber] = []
        self._merge_guards: list[Callable[[str], None]] = []
        self._docs: dict[str, _Loaded] = {}
        self._catalog_docs: dict[str, _Loaded] = {}  # the catalogs among _docs
        self._shared_notebooks: dict[str, bool] = {}  # cache: notebook id -> has relays
        self._note_shared: dict[str, bool] = {}  # cache: note id -> in a shared notebook
        self._rehearsed: OrderedDict[str, Rehearsal] = OrderedDict()  # hold a copy, LRU
        self._origin: Origin | None = None
        self._local_origins: dict[Hashable | None, Origin] = {}
        self._last_ticket = 0
        self._last_update = b""
        self._remote_changed = False
        self._foreign: list[tuple[_Loaded, bytes, EditStamp | None]] = []
        self._posted: deque[Callable[[], None]] = deque()  # callbacks from other threads
        self._clocks = DocumentClocks(self._stored_clock)
        self._stamp: EditStamp | None = None  # the stamp of the change being published
        self._wakeup: Callable[[], None] | None = None
        self._placements = Placements()
        self._own_clients: set[int] | None = None  # cache of own_client_ids()
        db_path = self.path / DB_NAME
        self._lock = VaultLock(self.path)
        if read_only:
            if not db_path.exists():
                raise VaultNotFoundError(f"There is no Plait vault at {self.path}.")
        else:
            self.path.mkdir(parents=True, exist_ok=True)
            self._lock.acquire()
        try:
            self._storage = Storage(
                db_path,
                read_only=read_only,
                flush_interval=flush_interval,
                on_error=self._on_storage_error,
                compact_after_rows=compact_after_rows,
            )
            self.author = self._establish_identity(db_path, display_name)
            self._gated_upto = self._gate_mark()
            self._search: SearchFeed | None = None
            self._seen_authors: dict[str, set[str]] = {}
            self._stored_authors: dict[str, set[str]] = {}  # cache of AUTHORS_SQL
            self._names: dict[str, str] | None = None  # cache of _notebook_names
            self._list = NoteList(self._storage, self._snapshot, self._placement, read_only,
                                  on_summary=self._feed_search)
            self._load_catalogs()
            self.review = ReviewBoard(self._storage, text_of=self.note_text, edit=self.edit,
                                      shared=self._in_shared_notebook, places=self,
                                      post=self.post)
            self._start_authorship()
            if not read_only:
                if search:
                    self._open_search(db_path)
                if review:  # off only for benchmark baselines
                    self.subscribe(self.review.on_change)
                self._list.reconcile()
                if self._search is not None:
                    self._storage.flush(timeout=None)  # the reconcile reads committed rows
                    self._search.reconcile(self._list.search_rows(), self._notebook_names())
        except BaseException:
            self._lock.release()
            raise

    # ---- lifecycle ---------------------------------------------------------------------

    def __enter__(self) -> Vault:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Write everything out and release the vault. Raises StorageError if that fails."""
        try:
            if not self.read_only:
                self.refresh_index()
            self.review.close()
            if self._search is not None:
                self._search.close()
            try:
                if not self.read_only:
                    self._storage.flush()
                    self._registry.record(self._storage.db_path, self._storage.write_position())
            finally:
                self._storage.close()
        finally:
            self._release_documents()
            self._lock.release()

    def _release_documents(self) -> None:
        """Drop the commit observers: pycrdt holds them from Rust, where Python's
        garbage collector cannot see the cycle (document -> observer -> vault ->
        document), so without this every document a closed vault loaded stays alive."""
        for loaded in self._docs.values():
            if loaded.subscription is not None:
                loaded.doc.unobserve(loaded.subscription)
                loaded.subscription = None
        self._docs.clear()
        self._catalog_docs.clear()
        self._rehearsed.clear()

    def flush(self, timeout: float | None = 30.0) -> None:
        """Bring the index up to date and wait until every change so far is on disk."""
        if not self.read_only:
            self.refresh_index()
            self._storage.flush(timeout)

    @property
    def durable_ticket(self) -> int:
        """Every change whose ticket is at most this is on disk."""
        return self._storage.durable_ticket

    def compact(self, doc_id: str | None = None) -> None:
        """Fold update logs into checkpoints now (normally automatic when idle) and wait."""
        self._require_writable()
        self._storage.compact(doc_id)
        self._storage.flush(timeout=None)

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call `callback(ChangeEvent)` after every change; returns an unsubscribe function."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback)

    def before_remote_merge(self, callback: Callable[[str], None]) -> Callable[[], None]:
        """Call `callback(doc_id)` just before a remote update is merged into a document.

        An editor that batches keystrokes uses it to commit them first, so its
        pending edits and the merge never refer to different versions of the text.
        Returns an unsubscribe function.
        """
        self._merge_guards.append(callback)
        return lambda: self._merge_guards.remove(callback)

    # ---- search ------------------------------------------------------------------------

    def _open_search(self, db_path: Path) -> None:
        index = SearchIndex(self.path / "search",
                            on_error=lambda message: self.notices.append(Notice(message)))
        if index.open_reason and "damaged" in index.open_reason:
            self.notices.append(Notice(
                f"The search index is being rebuilt ({index.open_reason}); "
                "results may be incomplete until it is done. Your notes are not affected."
            ))
        self._search = SearchFeed(index, db_path, self._authors_of)

    def _feed_search(self, summary: NoteSummary, text: str, state: bytes) -> None:
        if self._search is not None:
            self._search.note_summarized(summary, text, state,
                                         self._notebook_names().get(summary.notebook_id or "", ""))

    def _authors_of(self, note_id: str) -> tuple[str, ...]:
        """Who wrote in a note: read from disk once, then kept up by _after_change."""
        stored = self._stored_authors.get(note_id)
        if stored is None:
            stored = self._stored_authors[note_id] = {
                r[0] for r in self._storage.query(AUTHORS_SQL, (note_id,))}
        return tuple(sorted(stored | self._seen_authors.get(note_id, set())))

    def _notebook_names(self) -> dict[str, str]:
        """Notebook id -> name (cached until a catalog changes: a join feeds thousands
        of notes to search, each asking)."""
        if self._names is None:
            self._names = {c.doc_id: model.notebook_name(c.doc) for c in self._catalogs()}
        return self._names

    def search(self, query: str, *, limit: int = 50, trash: bool = False) -> SearchResults:
        """Ranked results for the query language of crdt_store.search.query; raises
        SearchQueryError with a readable message for a malformed query."""
        return self.prepare_search(query, limit=limit, trash=trash)()

    def prepare_search(self, query: str, *, limit: int = 50,
                       trash: bool = False) -> Callable[[], SearchResults]:
        """Queue what was typed a moment ago for the index (here, on the owner thread) and
        return the search itself, which may run on any thread: a GUI runs it off its own."""
        if self._search is None:
            raise PlaitError("Search is not available while another Plait process is "
                             "writing to this vault; search in that window instead.")
        self.refresh_index()
        index = self._search.index
        index.hurry()  # what was typed in a long note a moment ago may be cooling down
        return lambda: index.search(query, limit=limit, trash=trash)

    @property
    def search_progress(self) -> tuple[int, int] | None:
        """(notes indexed, notes to index) while the search index is being rebuilt or
        caught up in the background, else None; safe to poll from any thread."""
        return None if self._search is None else self._search.index.progress

    def wait_for_search(self, timeout: float | None = None) -> None:
        """Block until every queued note is searchable (tests and the CLI)."""
        if self._search is not None:
            self.refresh_index()
            self._search.wait(timeout)

    # ---- review ------------------------------------------------------------------------

    def _in_shared_notebook(self, note_id: str) -> bool:
        """Can anyone else edit this note? (Not yet placed: assume so.) Asked a few times
        per keystroke, so remembered per note until a catalog changes."""
        shared = self._note_shared.get(note_id)
        if shared is not None:
            return shared
        notebook_id = self._placements.home(note_id)
        if notebook_id is None:
            shared = True
        else:
            shared = self._shared_notebooks.get(notebook_id)
            if shared is None:
                catalog = self._catalog_docs.get(notebook_id)
                shared = self._shared_notebooks[notebook_id] = (
                    catalog is not None and read_sharing(catalog.doc).shared)
        self._note_shared[note_id] = shared
        return shared

    # ---- authorship and last seen -------------------------------------------------------
    # Who wrote each character (crdt_store/history/authorship.py) and what others changed
    # since this user last looked (crdt_store/history/last_seen.py).

    def _start_authorship(self) -> None:
        """Wire both to the change events (called once, by __init__)."""
        try:
            known = self._storage.query("SELECT client_id, device_id, name FROM client_authors")
        except sqlite3.OperationalError:  # a read-only look at a vault not yet migrated
            known = []
        directory = Directory(self.author, self.own_client_ids, self._all_members, known)
        self._authorship = Authorship(self._storage, self.note_doc, directory)
        self._since_seen = LastSeen(self._storage, own_clients=self.own_client_ids,
                                    has_note=lambda n: self.document_kind(n) is not None)
        if not self.read_only:
            self.subscribe(self._authorship_on_change)

    def _authorship_on_change(self, event: ChangeEvent) -> None:
        self._authorship.on_change(event)
        self._since_seen.on_change(event)
        author = event.origin.author
        if (event.origin.source is Source.REMOTE
                and self._authorship.directory.learn(author.client_id, author.device_id,
                                                     author.name)):
            row = (author.client_id, author.device_id, author.name, event.wall_time)
            self._storage.submit(lambda conn: conn.execute(
                "INSERT OR REPLACE INTO client_authors (client_id, device_id, name, seen) "
                "VALUES (?, ?, ?, ?)", row))

    def _all_members(self) -> list[Member]:
        return [m for c in self._catalogs() for m in read_sharing(c.doc).members]

    def authorship(self, note_id: str) -> list[AuthorSpan]:
        """Who wrote each part of the note's current text, and when: AuthorSpans in
        order covering the text (code points); adjacent text of one client id and one
        time is one span. Cached per note and version, so asking again is cheap.
        Empty if the note holds content whose ids cannot be read (Plait never writes
        any). Raises NoteNotFoundError."""
        try:
            return self._authorship.spans(note_id)
        except UnsupportedUpdate as exc:
            log.warning("no authorship for note %s: %s", note_id, exc)
            return []

    def mark_seen(self, note_id: str) -> None:
        """This user has seen the note as it is now (opening it; "mark all seen"): it is
        no longer unread, and changes_since_seen starts from here. Persisted."""
        self._require_writable()
        doc = self.note_doc(note_id)
        self._since_seen.mark_seen(note_id, Snapshot.from_doc(doc).encode())

    def unread_notes(self) -> set[str]:
        """Notes changed by others since this user last saw them (trashed ones too);
        kept from change events, so this costs O(unread notes)."""
        return self._since_seen.unread()

    def unread_counts(self) -> dict[str, int]:
        """Unread notes per notebook id, not counting notes in the trash (notebooks
        with none are left out)."""
        def placement(note_id: str) -> tuple[str | None, bool]:
            home, flags = self._placements.get(note_id)
            return home, bool(flags and flags.trashed)
        return self._since_seen.counts(placement)

    def changes_since_seen(self, note_id: str) -> list[tuple[int, int]]:
        """Where others changed the note since this user last saw it, in code points of
        the current text, sorted and disjoint: (start, end) with start < end is text
        they inserted (a replacement: the inserted text, its deletion folded in);
        (p, p) is a place where they deleted text and inserted nothing. A note never
        seen: all text by others. Empty when the ids cannot be read (see authorship).
        Raises NoteNotFoundError."""
        try:
            return self._since_seen.changes(note_id, self._authorship.layout(note_id))
        except UnsupportedUpdate as exc:
            log.warning("no changes since seen for note %s: %s", note_id, exc)
            return []

    # ---- identity ----------------------------------------------------------------------

    def _gate_mark(self) -> int | None:
        """The last update row stored before this vault had the update gate
        (`guard.check_update`): rows up to it are checked when their document loads,
        later ones passed the gate on their way in. None: check every row (a read-only
        open of a vault no gated version has written the mark into yet)."""
        stored = self._storage.meta().get("gated_after_seq")
        if stored is not None:
            return int(stored)
        if self.read_only:
            return None
        mark = self._storage.write_position()
        self._storage.execute_now(lambda conn: conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('gated_after_seq', ?)",
            (str(mark),)))
        return mark

    def _establish_identity(self, db_path: Path, display_name: str | None) -> Author:
        stored = self._storage.meta()
        if self.read_only:
            return Author(
                stored.get("device_id", ""), int(stored.get("client_id", 0)),
                stored.get("display_name", ""),
            )
        recorded = self._registry.position(db_path)
        behind = recorded is not None and self._storage.write_position() < recorded
        decision = decide_identity(stored, vault_fingerprint(db_path), display_name,
                                   behind=behind)
        author = decision.author
        retired = json.loads(stored.get("retired_client_ids", "[]"))
        if decision.retired_client_id is not None:
            retired.append(decision.retired_client_id)
            self.notices.append(Notice(
                f"Plait noticed that {decision.reason}; it now writes as a new CRDT client "
                f"({author.client_id}) so that the copies cannot corrupt each other."
            ))
            log.warning("new client id %s: %s", author.client_id, decision.reason)
        values = {
            "device_id": author.device_id,
            "client_id": str(author.client_id),
            "display_name": author.name,
            "fingerprint": decision.fingerprint,
            "retired_client_ids": json.dumps(retired),
        }
        if any(stored.get(k) != v for k, v in values.items()):
            self._storage.execute_now(lambda conn: conn.executemany(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", list(values.items())
            ))
        self._registry.record(db_path, self._storage.write_position())
        return author

    def own_client_ids(self) -> set[int]:
        """Every client id this device has written with in this vault."""
        if self._own_clients is None:
            retired = json.loads(self._storage.meta().get("retired_client_ids", "[]"))
            self._own_clients = {self.author.client_id, *retired}
        return set(self._own_clients)

    # ---- documents ---------------------------------------------------------------------

    def _load(self, doc_id: str, kind: DocKind) -> _Loaded:
        loaded = self._docs.get(doc_id)
        if loaded is not None:
            return loaded
        rebuilt = rebuild(self._storage.load(doc_id), self.author.client_id or None,
                          check_upto=self._gated_upto)
        for bad in rebuilt.bad:
            where = "checkpoint" if bad.seq is None else f"update {bad.seq}"
            self.notices.append(Notice(
                f"A damaged {where} of a {kind.value} could not be read and was set aside "
                f"(its bytes are kept in quarantine): {bad.error}", doc_id,
            ))
            log.error("quarantining %s of %s: %s", where, doc_id, bad.error)
            if not self.read_only:
                source = "checkpoint" if bad.seq is None else "update"
                self._storage.submit(partial(
                    quarantine_row, doc_id=doc_id, source=source, seq=bad.seq,
                    data=bad.data, error=bad.error,
                ))
        return self._adopt(doc_id, kind, rebuilt.doc)

    def _adopt(self, doc_id: str, kind: DocKind, doc: Doc) -> _Loaded:
        text = model.note_body(doc) if kind is DocKind.NOTE else None
        loaded = _Loaded(doc_id, kind, doc, text, base_state=doc.get_state(),
                         rehearsal=Rehearsal(doc, reads_body=kind is DocKind.NOTE))
        if not self.read_only:
            loaded.subscription = doc.observe(partial(self._on_commit, loaded))
        self._docs[doc_id] = loaded
        if kind is DocKind.CATALOG:
            self._catalog_docs[doc_id] = loaded
            self._names = None
        return loaded

    def _create_doc(self, doc_id: str, kind: DocKind, created: float) -> _Loaded:
        self._store_document(doc_id, kind, created)
        return self._adopt(doc_id, kind, model.new_doc(self.author.client_id))

    def _store_document(self, doc_id: str, kind: DocKind, created: float) -> None:
        self._storage.submit(lambda conn: conn.execute(
            "INSERT OR IGNORE INTO documents (doc_id, kind, created) VALUES (?, ?, ?)",
            (doc_id, kind.value, created),
        ))

    def _on_commit(self, loaded: _Loaded, event: TransactionEvent) -> None:
        """Persist every local transaction (pycrdt observer: must never raise)."""
        origin = self._origin
        if origin is not None and origin.source is Source.REMOTE:
            # apply_remote_update stores the bytes as received; it only needs to know
            # whether they changed anything (a duplicate or a still-pending one does not,
            # and pycrdt calls no observer for those). Not by the event's update: yrs
            # 0.28 integrates an item that arrives ahead of a gap in its author's clock
            # into the text at once, while the state vector, and so that update, stay
            # empty until the gap is filled.
            self._remote_changed = True
            return
        update = event.update
        if update == EMPTY_UPDATE:
            return
        loaded.rehearsal.follow(update)
        author = self.author
        self._last_update = update
        self._stamp = self._clocks.stamp_local(loaded.doc_id, author.client_id)
        # event.before_state would cost pycrdt an encoding per keystroke; the writer
        # derives the same state vector from base_state (see made_on_for_local).
        self._last_ticket = self._storage.append(UpdateRecord(
            loaded.doc_id, update, author.client_id, author.device_id, author.name,
            self._clock(), loaded.base_state, "local",
        ))
        if origin is None:
            loaded.length = None
            # A transaction the vault did not make (an UndoManager, direct pycrdt use) is
            # stored like any other. Subscribers hear of it, as a whole-text change, from
            # deliver_pending(): calling them inside pycrdt's commit is not allowed.
            loaded.ascii = False
            self._foreign.append((loaded, update, self._stamp))

    def post(self, callback: Callable[[], None]) -> None:
        """Run `callback` on the vault's owner thread at its next ``deliver_pending``.
        Safe from any thread: this is how background work (sync) reaches the vault."""
        self._posted.append(callback)
        wakeup = self._wakeup
        if wakeup is not None:
            wakeup()

    def set_wakeup(self, wakeup: Callable[[], None] | None) -> None:
        """`wakeup()` is called (on the posting thread) whenever work is posted; the owner
        answers by calling ``deliver_pending`` on its own thread soon."""
        self._wakeup = wakeup

    def deliver_pending(self, budget: float | None = None) -> None:
        """Run posted callbacks, and publish changes made to live documents outside the
        vault's own methods. With a `budget` (seconds), stop once it is spent and wake
        the owner again for the rest, so a GUI thread stays responsive during a join."""
        deadline = None if budget is None else time.monotonic() + budget
        while self._posted:
            if deadline is not None and time.monotonic() > deadline:
                if self._wakeup is not None:
                    self._wakeup()
                break
            callback = self._posted.popleft()
            callback()
        foreign, self._foreign = self._foreign, []
        for loaded, update, stamp in foreign:
            self._stamp = stamp
            self._after_change(loaded, Origin(Source.LOCAL, self.author), None, update, time.time())

    def _after_change(
        self,
        loaded: _Loaded,
        origin: Origin,
        ops: tuple[TextOp, ...] | None,
        update: bytes,
        wall_time: float,
        notes: tuple[str, ...] | None = None,
        made_on: bytes | None = None,
        removed: str | None = None,
    ) -> ChangeEvent | None:
        """Bookkeeping and publishing after a change. For catalogs, `notes` names the
        entries it touched (None: re-read the whole catalog)."""
        placed: tuple[str, ...] = ()
        if loaded.kind is DocKind.NOTE:
            authors = self._seen_authors.get(loaded.doc_id)
            if authors is None:
                authors = self._seen_authors[loaded.doc_id] = set()
            authors.add(origin.author.name)
            self._list.touch(loaded.doc_id, wall_time)
        else:
            placed = self._reread_catalog(loaded, notes)
        event = None
        if self._subscribers:
            if made_on is None:  # a local change: made on what this device had seen, which
                # only sync sends on (so not worked out per keystroke of a private note)
                made_on = (made_on_for_local(loaded.base_state, update, self.author.client_id)
                           if loaded.kind is DocKind.CATALOG
                           or self._in_shared_notebook(loaded.doc_id) else PRIVATE_MADE_ON)
            event = ChangeEvent(loaded.doc_id, loaded.kind, origin, ops, update,
                                self._last_ticket, made_on, wall_time, self._stamp, removed,
                                placed)
            for subscriber in list(self._subscribers):
                subscriber(event)
        # After the subscribers: the review board tells a trash or move it hears of for
        # the first time by its count being missing from the note's clock.
        for note_id in placed:
            self._learn_seen(note_id)
        return event

    def _transact(self, loaded: _Loaded, initiator: Hashable | None) -> "_Txn":
        return _Txn(self, loaded, self.local_origin(initiator))

    def local_origin(self, initiator: Hashable | None) -> Origin:
        """One Origin per initiator, reused: edits are frequent and origins are values."""
        origin = self._local_origins.get(initiator)
        if origin is None:
            origin = self._local_origins[initiator] = Origin(Source.LOCAL, self.author, initiator)
        return origin

    def _require_writable(self) -> None:
        if self.read_only:
            raise ReadOnlyVaultError(
                f"The vault at {self.path} is open read-only (another Plait process is using it)."
            )

    # ---- note text ---------------------------------------------------------------------

    def note_text(self, note_id: str) -> str:
        return str(self._note(note_id).text)

    def _snapshot(self, note_id: str) -> tuple[str, bytes]:
        loaded = self._note(note_id)
        return str(loaded.text), loaded.doc.get_state()

    def note_doc(self, note_id: str) -> Doc:
        """The live CRDT document of a note (for the editor's UndoManager and sync)."""
        return self._note(note_id).doc

    def _note(self, note_id: str) -> _Loaded:
        loaded = self._docs.get(note_id)
        if loaded is not None:
            return loaded
        if not self.has_note(note_id):
            raise NoteNotFoundError(f"There is no note with id {note_id}.")
        if not self.read_only and not self._storage.query(
                "SELECT 1 FROM documents WHERE doc_id = ?", (note_id,)):
            # Listed in a catalog before its own update arrived: it is a document now.
            entry = self._placements.entry(note_id)[1]
            self._store_document(note_id, DocKind.NOTE,
                                 entry.created if entry is not None else time.time())
        return self._load(note_id, DocKind.NOTE)

    def edit(
        self, note_id: str, ops: Iterable[TextOp], *, initiator: Hashable | None = None
    ) -> int:
        """Apply code-point splices to a note's body in one transaction; returns its ticket.

        Out-of-range ops raise ValueError before anything changes.
        """
        self._require_writable()
        loaded = self._note(note_id)
        ops = tuple(ops)
        if not ops:
            return self._last_ticket
        text = loaded.text
        assert text is not None
        byte_ops, new_length = _ascii_byte_ops(loaded, ops)
        current = None
        if byte_ops is None:
            ops = tuple(TextOp(op.pos, op.delete, sanitize(op.insert)) for op in ops)
            current = str(text)
            byte_ops = ops_to_utf8(current, ops)
            loaded.ascii = current.isascii() and all(op.insert.isascii() for op in ops)
        # What it deletes travels with it to collaborators (review panel): shared only.
        if not (ops[0].delete if len(ops) == 1 else any(op.delete for op in ops)):
            removed: str | None = ""
        elif self._in_shared_notebook(note_id):
            removed = removed_text(current if current is not None else str(text), ops)
        else:
            removed = None
        origin = self.local_origin(initiator)
        before = self._last_ticket
        self._origin = origin
        try:
            with loaded.doc.transaction(origin=origin):
                model.splice_text(text, byte_ops)
        except BaseException:
            new_length = None
            raise
        finally:
            self._origin = None
            loaded.length = new_length
        if self._last_ticket != before:
            self._after_change(loaded, origin, ops, self._last_update, time.time(),
                               removed=removed)
        return self._last_ticket

    def set_text(self, note_id: str, new_text: str, *, initiator: Hashable | None = None) -> int:
        """Make the body equal `new_text` through a minimal diff, so edits elsewhere survive."""
        return self.edit(note_id, diff_ops(self.note_text(note_id), sanitize(new_text)),
                         initiator=initiator)

    def append_text(self, note_id: str, extra: str, *, initiator: Hashable | None = None) -> int:
        length = len(self.note_text(note_id))
        return self.edit(note_id, [TextOp(length, 0, extra)], initiator=initiator)

    # ---- history -----------------------------------------------------------------------
    # A note's sessions, past versions and restore (crdt_store/history). Reads are
    # SQLite point reads on the owner thread; rebuilding versions happens in a
    # NoteHistory, which a GUI can get here and then use on a worker thread.

    HISTORY_CACHE = 4  # notes whose NoteHistory (decoded states, texts) is kept
    _histories: dict[str, NoteHistory] | None = None  # least recently used first

    def note_history(self, note_id: str, *, wait: bool = True) -> NoteHistory:
        """The note's history as saved on disk. Call on the owner thread: it makes a few
        SQLite point reads. The NoteHistory it returns may be used on any thread (a GUI
        rebuilds versions on a worker) and is reused, brought up to date, by later calls.

        With `wait` (the default, and what the methods below do), edits still queued
        for the disk are written first, which can take a moment on a slow disk; a GUI
        thread passes wait=False and sees edits once the writer has saved them (within
        about 100 ms)."""
        if note_id not in self._docs and not self.has_note(note_id):
            raise NoteNotFoundError(f"There is no note with id {note_id}.")
        if (wait and not self.read_only
                and self._storage.durable_ticket < self._storage.last_ticket):
            self._storage.flush()
        if self._histories is None:
            self._histories = {}
        known = self._histories.pop(note_id, None)
        stored = read_stored_history(self._storage.query, note_id,
                                     known.cursor if known is not None else None)
        if known is not None and stored.checkpoint_key == known.checkpoint_key:
            known.feed(stored)
            history = known
        else:
            history = NoteHistory(stored, previous=known)
        self._histories[note_id] = history
        while len(self._histories) > self.HISTORY_CACHE:
            del self._histories[next(iter(self._histories))]
        return history

    def history(self, note_id: str, limit: int = 50,
                before: int | None = None) -> list[Session]:
        """Editing sessions, newest first: at most `limit`, older than session `before`
        if given, with characters added and removed (see crdt_store.history)."""
        return self.note_history(note_id).page(limit, before)

    def version_text(self, note_id: str, session_id: int) -> str:
        """The note's text at the end of that session (HistoryError if it has none)."""
        return self.note_history(note_id).version_text(session_id)

    def version_at(self, note_id: str, when: float) -> str:
        """The note's text at `when` (a POSIX time), as of the last session end by then."""
        return self.note_history(note_id).version_at(when)

    def preview_restore(self, note_id: str, session_id: int, *,
                        region: tuple[int, int] | None = None) -> RestorePreview:
        """What `restore_version` would do now, without doing it. `region` is a range of
        code points in the version's text (crdt_store/history/restore.py)."""
        version = self.version_text(note_id, session_id)
        return plan_restore(self.note_text(note_id), version, session_id, region)

    def restore_version(self, note_id: str, session_id: int, *,
                        region: tuple[int, int] | None = None,
                        initiator: Hashable | None = None) -> int:
        """Make a new edit that turns the current text into that version (or only the
        region of it); it syncs like any edit. Returns its ticket."""
        self._require_writable()
        preview = self.preview_restore(note_id, session_id, region=region)
        return self.edit(note_id, preview.ops, initiator=initiator)

    # ---- remote updates ----------------------------------------------------------------

    def apply_remote_update(
        self,
        doc_id: str,
        kind: DocKind,
        update: bytes,
        *,
        author: Author,
        wall_time: float,
        made_on: bytes = b"\x00",
        initiator: Hashable | None = None,
        stamp: EditStamp | None = None,
        clock: dict[int, int] | None = None,
        removed: str | None = None,
    ) -> ChangeEvent | None:
        """Merge update bytes from a collaborator. Raises CorruptUpdateError and changes
        nothing when the bytes are not a valid update. Returns the published event, or
        None when the update changed nothing (a duplicate, or one still waiting for
        the updates it depends on). `removed` is the text its author says it deleted. A
        `wall_time` no date can show (a peer's broken clock) is taken as now."""
        self._require_writable()
        update, inserted = check_update(update)
        if model.plausible_time(wall_time) is None:  # a peer's clock no date can show
            wall_time = time.time()
        for guard in list(self._merge_guards):
            guard(doc_id)
        loaded = self._docs.get(doc_id)
        if loaded is None:
            known = self._storage.query("SELECT kind FROM documents WHERE doc_id = ?", (doc_id,))
            loaded = (self._load(doc_id, DocKind(known[0][0])) if known
                      else self._create_doc(doc_id, kind, wall_time))
        origin = Origin(Source.REMOTE, author, initiator)
        loaded.rehearsal.rehearse(update)  # a failure here leaves the live document as it was
        self._keep_rehearsal(doc_id, loaded.rehearsal)

        def merge() -> None:
            try:
                with loaded.doc.transaction(origin=origin):
                    apply_update_guarded(loaded.doc, update)
                    if loaded.held_back or is_held_back(loaded.doc, update, inserted):
                        loaded.held_back = integrate_held_back(loaded.doc,
                                                               [*loaded.held_back, update])
                        loaded.rehearsal.forget()  # remade from the live document
            except CorruptUpdateError:
                loaded.rehearsal.forget()
                raise

        self._remote_changed = False
        ops, _ = self._capture_ops(loaded, origin, merge)
        # Stored even when nothing visible changed: an update still waiting for its
        # predecessors must survive a restart.
        self._last_ticket = self._storage.append(UpdateRecord(
            doc_id, update, author.client_id, author.device_id, author.name,
            wall_time, made_on, "remote",
        ))
        loaded.base_state = loaded.doc.get_state()
        if stamp is not None:
            self._clocks.integrate(doc_id, stamp)
        if clock:  # a whole document: it holds every edit its sender had integrated
            self._clocks.merge(doc_id, clock)
        self._stamp = stamp
        if not self._remote_changed:
            return None
        return self._after_change(loaded, origin, ops, update, wall_time, made_on=made_on,
                                  removed=removed)

    def _keep_rehearsal(self, doc_id: str, rehearsal: Rehearsal) -> None:
        """Let the least recently merged documents beyond REHEARSAL_COPIES drop their
        copies (remade, from the live document, at their next merge)."""
        self._rehearsed[doc_id] = rehearsal
        self._rehearsed.move_to_end(doc_id)
        while len(self._rehearsed) > REHEARSAL_COPIES:
            self._rehearsed.popitem(last=False)[1].forget()

    def run_tracked(
        self, note_id: str, action: Callable[[], object], *, initiator: Hashable | None = None
    ) -> object:
        """Run `action` (say, a pycrdt UndoManager's undo) as a local change of a note.

        Whatever transaction it makes is stored, and published with its ops like
        any edit. Returns what `action` returns.
        """
        self._require_writable()
        loaded = self._note(note_id)
        origin = self.local_origin(initiator)
        before = self._last_ticket
        result: list[object] = []
        ops, removed = self._capture_ops(loaded, origin, lambda: result.append(action()))
        if self._last_ticket != before:
            self._after_change(loaded, origin, ops, self._last_update, time.time(),
                               removed=removed)
        return result[0] if result else None

    def _capture_ops(
        self, loaded: _Loaded, origin: Origin, change: Callable[[], None]
    ) -> tuple[tuple[TextOp, ...], str]:
        """Run `change` under `origin`; return the body's splices it made, in code points,
        and the text they removed.

        A pycrdt Text observer costs too much for every keystroke, so it is attached
        only around changes whose splices are not known in advance.
        """
        deltas: list[list[dict]] = []
        old_text = str(loaded.text) if loaded.text is not None else ""
        # `is not None`: an empty Text is falsy, and a merge into an empty note must be seen.
        subscription = (loaded.text.observe(lambda e: deltas.append(e.delta))
                        if loaded.text is not None else None)
        self._origin = origin
        try:
            change()
        finally:
            self._origin = None
            if subscription is not None:
                loaded.text.unobserve(subscription)
        if loaded.text is None:
            return (), ""
        loaded.ascii = None
        loaded.length = None
        ops: list[TextOp] = []
        removed: list[str] = []
        text = old_text
        for delta in deltas:  # each delta is relative to the text the previous one left
            step = utf8_delta_to_ops(text, delta)
            removed.append(removed_text(text, step))
            text = apply_ops(text, step)
            ops.extend(step)
        return tuple(ops), "".join(removed)

    def documents(self) -> list[tuple[str, DocKind]]:
        """Every document in the vault: (id, kind)."""
        self.flush_index_for_reading()
        return [(d, DocKind(k)) for d, k in self._storage.query(
            "SELECT doc_id, kind FROM documents ORDER BY created, doc_id"
        )]

    def state_vector(self, doc_id: str) -> bytes | None:
        """The document's state vector, or None if this vault has never seen it."""
        if doc_id not in self._docs and not self._storage.query(
            "SELECT 1 FROM documents WHERE doc_id = ?", (doc_id,)
        ):
            return None
        return self.encode_state_vector(doc_id)

    def encode_state_vector(self, doc_id: str) -> bytes:
        loaded = self._docs.get(doc_id) or self._load(doc_id, self._kind_of(doc_id))
        return loaded.doc.get_state()

    def encode_state(self, doc_id: str, since_state: bytes | None = None, *,
                     keep_loaded: bool = True) -> bytes:
        """The document as an update (or only what `since_state` lacks), for sync. With
        `keep_loaded=False` a document that is not open is read into a throwaway copy,
        so sending a whole notebook does not keep every note in memory."""
        loaded = self._docs.get(doc_id)
        if loaded is not None:
            return loaded.doc.get_update(since_state)
        if not keep_loaded:
            self._kind_of(doc_id)  # NoteNotFoundError for an unknown document
            return rebuild(self._storage.load(doc_id), None).doc.get_update(since_state)
        return self._load(doc_id, self._kind_of(doc_id)).doc.get_update(since_state)

    def document_kind(self, doc_id: str) -> DocKind | None:
        """What the document is, or None if this vault has never seen it."""
        loaded = self._docs.get(doc_id)
        if loaded is not None:
            return loaded.kind
        found = self._storage.query("SELECT kind FROM documents WHERE doc_id = ?", (doc_id,))
        return DocKind(found[0][0]) if found else None

    def _kind_of(self, doc_id: str) -> DocKind:
        kind = self.document_kind(doc_id)
        if kind is None:
            raise NoteNotFoundError(f"There is no document with id {doc_id}.")
        return kind

    # ---- notebooks ---------------------------------------------------------------------

    def _load_catalogs(self) -> None:
        for (doc_id,) in self._storage.query(
            "SELECT doc_id FROM documents WHERE kind = 'catalog' ORDER BY created"
        ):
            catalog = self._load(doc_id, DocKind.CATALOG)
            self._placements.reload(doc_id, catalog.doc)
        self._note_shared.clear()

    def _catalogs(self) -> list[_Loaded]:
        return list(self._catalog_docs.values())

    def _reread_catalog(self, catalog: _Loaded,
                        notes: tuple[str, ...] | None) -> tuple[str, ...]:
        """Re-read a changed catalog; returns the notes whose placement changed."""
        self._names = None
        self._shared_notebooks.pop(catalog.doc_id, None)
        self._note_shared.clear()
        if notes is None:
            changed = self._placements.reload(catalog.doc_id, catalog.doc)
        else:
            changed = self._placements.update(catalog.doc_id, catalog.doc, notes)
        for note_id in changed:
            self._list.placement_changed(note_id)
        return tuple(sorted(changed))

    def _learn_seen(self, note_id: str) -> None:
        """This device now knows of the note's last trash or move: its count goes into
        the note's edit clock, so edits made here from now on say they saw it."""
        seen = self.last_seen(note_id) if not self.read_only else None
        if seen is not None:
            self._clocks.merge(note_id, {structure_key(seen.client): seen.token})

    def _placement(self, note_id: str) -> tuple[str | None, NoteFlags | None]:
        return self._placements.get(note_id)

    def notebooks(self, *, include_trashed: bool = False) -> list[NotebookInfo]:
        counts = self._placements.live_counts()
        infos = [model.read_notebook(c.doc, c.doc_id, counts.get(c.doc_id, 0))
                 for c in self._catalogs()]
        return sorted((i for i in infos if include_trashed or not i.trashed),
                      key=lambda i: i.name.casefold())

    def notebook(self, notebook_id: str) -> NotebookInfo:
        catalog = self._catalog(notebook_id)
        count = self._placements.live_counts().get(notebook_id, 0)
        return model.read_notebook(catalog.doc, notebook_id, count)

    def find_notebook(self, name: str) -> NotebookInfo | None:
        """A live notebook by exact name (case-insensitive), or None."""
        wanted = name.strip().casefold()
        for catalog in self._catalogs():
            if (model.notebook_name(catalog.doc).casefold() == wanted
                    and not model.catalog_info(catalog.doc).get("trashed", False)):
                return self.notebook(catalog.doc_id)
        return None

    def create_notebook(self, name: str, *, initiator: Hashable | None = None) -> str:
        self._require_writable()
        notebook_id = model.new_id()
        catalog = self._create_doc(notebook_id, DocKind.CATALOG, time.time())
        with self._transact(catalog, initiator) as txn:
            model.init_catalog(catalog.doc, name.strip() or "Untitled notebook")
        txn.finish()
        return notebook_id

    def notebook_named(self, name: str) -> str:
        """The id of the live notebook with this name, created if there is none."""
        found = self.find_notebook(name)
        return found.notebook_id if found else self.create_notebook(name)

    def rename_notebook(self, notebook_id: str, name: str, *, initiator: Hashable | None = None) -> None:
        self._set_notebook_field(notebook_id, "name", name.strip() or "Untitled notebook", initiator)
        for note_id in self._placements.notes_in(notebook_id):  # search by the new name
            self._list.placement_changed(note_id)

    def trash_notebook(self, notebook_id: str, *, initiator: Hashable | None = None) -> None:
        self._set_notebook_field(notebook_id, "trashed", True, initiator)

    def restore_notebook(self, notebook_id: str, *, initiator: Hashable | None = None) -> None:
        self._set_notebook_field(notebook_id, "trashed", False, initiator)

    def _set_notebook_field(self, notebook_id: str, key: str, value: object,
                            initiator: Hashable | None) -> None:
        self._require_writable()
        catalog = self._catalog(notebook_id)
        with self._transact(catalog, initiator) as txn:
            model.catalog_info(catalog.doc)[key] = value
        txn.finish()

    def _catalog(self, notebook_id: str) -> _Loaded:
        loaded = self._docs.get(notebook_id)
        if loaded is None or loaded.kind is not DocKind.CATALOG:
            raise NotebookNotFoundError(f"There is no notebook with id {notebook_id}.")
        return loaded

    def sharing(self, notebook_id: str) -> Sharing:
        """The notebook's relays and members (empty for a notebook that is not shared)."""
        return read_sharing(self._catalog(notebook_id).doc)

    def update_sharing(self, notebook_id: str, *, relays: tuple[str, ...] = (),
                       member: Member | None = None, initiator: Hashable | None = None) -> None:
        """Add relays and (re)register a member, in one catalog edit that syncs."""
        self._require_writable()
        catalog = self._catalog(notebook_id)
        with self._transact(catalog, initiator) as txn:
            add_relays(catalog.doc, relays)
            if member is not None:
                set_member(catalog.doc, member)
        txn.finish(notes=())

    def notes_in(self, notebook_id: str) -> list[str]:
        """Every note placed in the notebook, trashed ones included."""
        return self._placements.notes_in(notebook_id)

    def document_states(self, notebook_id: str) -> dict[str, bytes]:
        """State vectors of the notebook's catalog and notes, read from the note list
        for notes that are not open, so a big notebook is not loaded to compare them."""
        self.refresh_index()
        notes = set(self.notes_in(notebook_id))
        states = {row[0]: row[5] for row in self._list.search_rows() if row[0] in notes}
        for doc_id in notes | {notebook_id}:
            loaded = self._docs.get(doc_id)
            if loaded is not None:
                states[doc_id] = loaded.doc.get_state()
        return states

    @property
    def last_ticket(self) -> int:
        """The ticket of the newest change handed to storage (compare durable_ticket)."""
        return self._last_ticket

    # ---- notes in notebooks ------------------------------------------------------------

    def create_note(
        self,
        notebook_id: str,
        body: str = "",
        *,
        created: float | None = None,
        note_id: str | None = None,
        initiator: Hashable | None = None,
    ) -> str:
        """A new note in a notebook; returns its id."""
        self._require_writable()
        catalog = self._catalog(notebook_id)
        note_id = note_id or model.new_id()
        created = time.time() if created is None else created
        self._create_doc(note_id, DocKind.NOTE, created)
        self._list.set_modified(note_id, created)
        with self._transact(catalog, initiator) as txn:
            model.write_entry(catalog.doc, note_id, NoteFlags(created))
        txn.finish(notes=(note_id,))
        if body:
            self.edit(note_id, [TextOp(0, 0, body)], initiator=initiator)
        self._list.touch(note_id)
        return note_id

    def has_note(self, note_id: str) -> bool:
        if note_id in self._docs or self._placements.home(note_id) is not None:
            return True
        return bool(self._storage.query(
            "SELECT 1 FROM documents WHERE doc_id = ? AND kind = 'note'", (note_id,)
        ))

    def set_modified(self, note_id: str, modified: float) -> None:
        """Set the list's modified time (imports carry it over from the file)."""
        self._list.set_modified(note_id, modified)

    def imported_note(self, source_key: str) -> str | None:
        """The note an earlier import made from this source file, if any."""
        rows = self._storage.query("SELECT note_id FROM imports WHERE source_key = ?", (source_key,))
        return rows[0][0] if rows else None

    def remember_import(self, source_key: str, note_id: str) -> None:
        self._require_writable()
        self._storage.submit(lambda conn: conn.execute(
            "INSERT OR REPLACE INTO imports (source_key, note_id) VALUES (?, ?)",
            (source_key, note_id),
        ))

    def notebook_of(self, note_id: str) -> str | None:
        return self._placements.home(note_id)

    def set_pinned(self, note_id: str, pinned: bool, *, initiator: Hashable | None = None) -> None:
        self._set_note_flag(note_id, {"pinned": pinned}, initiator)

    def trash_note(self, note_id: str, *, initiator: Hashable | None = None) -> None:
        """Put the note in the trash, saying what this device had seen of it (the review
        panel's test for an edit made meanwhile elsewhere: crdt_store/review/structure)."""
        self._require_writable()
        self._home_of(note_id)  # NoteNotFoundError before its edit clock moves
        self._set_note_flag(note_id, {"trashed": True, "trashed_at": time.time(),
                                      "seen": self._seen(note_id, TRASHED).to_json()},
                            initiator)

    def restore_note(self, note_id: str, *, initiator: Hashable | None = None) -> None:
        self._set_note_flag(note_id, {"trashed": False, "trashed_at": None}, initiator)

    def _set_note_flag(self, note_id: str, values: dict[str, object],
                       initiator: Hashable | None) -> None:
        self._require_writable()
        catalog = self._catalog(self._home_of(note_id))
        with self._transact(catalog, initiator) as txn:
            for key, value in values.items():
                model.set_flag(catalog.doc, note_id, key, value)
        txn.finish(notes=(note_id,))

    def move_note(self, note_id: str, notebook_id: str, *, initiator: Hashable | None = None) -> None:
        """Move a note to another notebook, keeping its flags; its entry there says what
        this device had seen of it (see trash_note)."""
        self._require_writable()
        source = self._catalog(self._home_of(note_id))
        target = self._catalog(notebook_id)
        if source is target:
            return
        flags = model.entry_from(model.catalog_notes(source.doc)[note_id].to_py())
        flags = replace(flags, seen=self._seen(note_id, MOVED, source.doc_id).to_json())
        with self._transact(target, initiator) as txn:
            model.write_entry(target.doc, note_id, flags)
        txn.finish(notes=(note_id,))
        with self._transact(source, initiator) as txn:
            del model.catalog_notes(source.doc)[note_id]
        txn.finish(notes=(note_id,))

    def _seen(self, note_id: str, did: str, source: str | None = None) -> Seen:
        """This device trashes or moves the note now: the count that takes in the note's
        edit clock, and what the clock had before it (see edit_clock)."""
        author = self.author
        stamp = self._clocks.stamp_local(note_id, structure_key(author.client_id))
        return Seen(did, author.name, author.device_id, author.client_id, stamp.last,
                    dict(stamp.seen), source, time.time())

    def note_entry(self, note_id: str) -> tuple[str | None, NoteFlags | None]:
        """The note's notebook and its catalog entry there, as written (`placement` reads
        a note in a trashed notebook as trashed; this does not)."""
        return self._placements.entry(note_id)

    def placement(self, note_id: str) -> tuple[str | None, NoteFlags | None]:
        """The note's notebook and its flags as the note list shows them."""
        return self._placements.get(note_id)

    def last_seen(self, note_id: str) -> Seen | None:
        """Who last trashed or moved the note, as its current entry says (None if no one)."""
        entry = self._placements.entry(note_id)[1]
        return seen_from(entry.seen) if entry is not None else None

    def lists_note(self, notebook_id: str, note_id: str) -> bool:
        """Does the notebook's catalog have an entry for the note (even while the note
        is placed in another notebook, as between the two halves of a move)?"""
        return self._placements.listed(note_id, notebook_id)

    def unseen_own_edits(self, note_id: str) -> bool:
        """Did this device make edits of the note that whoever last trashed or moved it
        (someone else) had not seen? Sync sends such a note again after a move."""
        seen = self.last_seen(note_id)
        own = self.own_client_ids()
        if seen is None or seen.client in own:
            return False
        clock = self._clocks.vector(note_id)
        return any(clock.get(c, 0) > seen.clock.get(c, 0) for c in own)

    def unseen_edits_stamp(self, note_id: str) -> EditStamp | None:
        """A stamp for sending again this device's edits that whoever last moved the note
        had not seen (`unseen_own_edits`), made before this device learned of the move:
        its `seen` lacks the move's count. None if this device's current client made
        none of them."""
        seen = self.last_seen(note_id)
        client = self.author.client_id
        clock = self._clocks.vector(note_id)
        if seen is None or clock.get(client, 0) <= seen.clock.get(client, 0):
            return None
        mover = structure_key(seen.client)
        return EditStamp(client, clock[client], clock[client],
                         MappingProxyType({c: n for c, n in clock.items() if c != mover}))

    def moved_out_of(self, note_id: str, notebook_id: str) -> bool:
        """Did the note's last move take it out of this notebook (which no longer lists
        it)?"""
        seen = self.last_seen(note_id)
        return (seen is not None and seen.did == MOVED and seen.source == notebook_id
                and not self.lists_note(notebook_id, note_id))

    def _home_of(self, note_id: str) -> str:
        home = self._placements.home(note_id)
        if home is None:
            raise NoteNotFoundError(f"There is no note with id {note_id} in any notebook.")
        return home

    # ---- the note list (derived index) -------------------------------------------------

    def refresh_index(self) -> None:
        """Write the list entries of changed notes, and changed edit clocks (cheap when
        nothing changed)."""
        self._list.refresh()
        if not self.read_only:
            self.review.save()
        clocks = self._clocks.take_dirty()
        if clocks:
            self._storage.submit(lambda conn: conn.executemany(
                "INSERT OR REPLACE INTO edit_clocks (doc_id, clock) VALUES (?, ?)", clocks))

    def _stored_clock(self, doc_id: str) -> str | None:
        rows = self._storage.query("SELECT clock FROM edit_clocks WHERE doc_id = ?", (doc_id,))
        return rows[0][0] if rows else None

    def edit_clock(self, doc_id: str) -> dict[int, int]:
        """The document's version vector of edit counts (a copy)."""
        return dict(self._clocks.vector(doc_id))

    def list_notes(
        self, notebook_id: str | None = None, *, trashed: bool = False
    ) -> list[NoteSummary]:
        """Notes for the list, pinned first, then most recently modified.

        Never waits on the disk: entries not yet written are laid over the table.
        """
        return self._list.notes(notebook_id, trashed)

    def note_summary(self, note_id: str) -> NoteSummary:
        return self._list.summary(note_id)

    def note_counts(self) -> tuple[int, int]:
        """(notes, notes in the trash), cheaply, for the sidebar."""
        return self._list.counts()

    def resolve_note(self, ref: str) -> str:
        """A note id from an id, an id prefix (4+ characters) or an exact title."""
        self.flush_index_for_reading()
        return self._list.resolve(ref)

    def flush_index_for_reading(self) -> None:
        """Make pending list entries visible to this thread's reads."""
        if self._list.has_pending or (not self.read_only
                                      and self._storage.durable_ticket < self._storage.last_ticket):
            self.flush()

    # ---- health ------------------------------------------------------------------------

    def quarantined(self) -> list[tuple[int, str, str, str]]:
        """Rows set aside as unreadable: (id, doc id, source, error)."""
        return self._storage.query(
            "SELECT id, doc_id, source, error FROM quarantine ORDER BY id"
        )

    def info(self) -> VaultInfo:
        self.flush_index_for_reading()
        q = self._storage.query
        live, trashed = self.note_counts()
        db_bytes = sum(p.stat().st_size for p in self.path.glob(DB_NAME + "*"))
        return VaultInfo(
            path=self.path,
            device_id=self.author.device_id,
            client_id=self.author.client_id,
            display_name=self.author.name,
            notebooks=len(self.notebooks()),
            notes=live,
            trashed_notes=trashed,
            update_rows=q("SELECT count(*) FROM updates")[0][0],
            checkpoints=q("SELECT count(*) FROM checkpoints")[0][0],
            quarantined=q("SELECT count(*) FROM quarantine")[0][0],
            database_bytes=db_bytes,
        )

    def _on_storage_error(self, error: Exception) -> None:
        # Called from the writer thread; list.append is atomic.
        self.notices.append(Notice(str(error)))


class _Txn:
    """A local transaction on one document that publishes its ChangeEvent when finished."""

    def __init__(self, vault: Vault, loaded: _Loaded, origin: Origin) -> None:
        self._vault = vault
        self._loaded = loaded
        self._origin = origin
        self._ticket_before = 0

    def __enter__(self) -> _Txn:
        self._ticket_before = self._vault._last_ticket
        self._vault._origin = self._origin
        self._pycrdt = self._loaded.doc.transaction(origin=self._origin)
        self._pycrdt.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._pycrdt.__exit__(*exc)
        finally:
            self._vault._origin = None

    def finish(self, ops: tuple[TextOp, ...] = (), notes: tuple[str, ...] | None = None) -> int:
        """Publish the change, if the transaction changed anything; returns its ticket.

        `notes` names the catalog entries the transaction touched (None: maybe all).
        """
        vault = self._vault
        if vault._last_ticket == self._ticket_before:
            return vault._last_ticket  # nothing changed
        vault._after_change(self._loaded, self._origin, ops, vault._last_update, time.time(),
                            notes)
        return vault._last_ticket


def _ascii_byte_ops(
    loaded: _Loaded, ops: tuple[TextOp, ...]
) -> tuple[list[tuple[int, int, str]] | None, int | None]:
    """The typing fast path: on pure-ASCII text, code points are UTF-8 bytes.

    Returns the byte ops and the body's length after them, or (None, None) when the
    text or an insert is not ASCII and the general conversion must run. Raises
    ValueError for an op outside the text.
    """
    if loaded.ascii is None:
        loaded.ascii = str(loaded.text).isascii()
    if not loaded.ascii:
        return None, None
    length = loaded.length
    if length is None:
        length = loaded.length = len(loaded.text)
    byte_ops = []
    for op in ops:
        insert = op.insert
        if not insert.isascii():
            return None, None
        if op.pos + op.delete > length:
            raise ValueError(f"{op!r} is outside the text (length {length})")
        length += len(insert) - op.delete
        byte_ops.append((op.pos, op.delete, insert))
    return byte_ops, length
