"""SyncEngine: keeps a vault's shared notebooks in step with their relays, in the background.

Threads. The vault belongs to its owner thread (the GUI thread, or the CLI's main
thread). The engine runs an asyncio loop on a thread of its own, which does all
network I/O, sealing and opening of envelopes, and its bookkeeping (`SyncState`).
The two meet in two places only:
- the owner thread hears the vault's local changes (a subscriber) and hands their
  bytes to the loop (`call_soon_threadsafe`); it never waits for the network;
- the loop hands opened envelopes to the owner with `Vault.post`, in batches; the
  owner merges them (`apply_remote_update`, so views re-render from the usual change
  events) and hands back the storage ticket.

Nothing is lost on a crash: an envelope is outboxed before it is sent and deleted
only when a relay acknowledges it; a relay's cursor moves only past envelopes whose
merge is durable in the vault; and at start-up any document that got ahead of what
was outboxed is sent again as a diff.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from urllib.parse import urlsplit

from pycrdt import get_state, merge_updates

from ..edit_clock import EditStamp, is_structure_key
from ..errors import CorruptUpdateError, PlaitError, StorageError
from ..events import ChangeEvent, DocKind, Source
from ..identity import Author
from ..sharing import Member
from ..statevector import decode_state_vector
from ..vault import Vault
from .envelope import (
    MAX_SAID_REMOVED,
    EnvelopeError,
    Opened,
    SnapshotMeta,
    UpdateMeta,
    envelope_id,
    open_envelope,
    seal_snapshot,
    seal_update,
)
from .invite import Invite, InviteError, make_invite
from .keymaterial import DeviceKey, NotebookKey
from .parking import Parked, ParkingLot
from .relay_link import RelayLink
from .state import SyncState
from .status import NotebookStatus, summarize

log = logging.getLogger(__name__)

BATCH_DELAY = 0.03  # seconds of typing gathered into one envelope
APPLY_BATCH = 50  # envelopes merged per call on the owner thread (a GUI turn's worth)
PERSIST_EVERY = 0.1  # seconds between writes of durable cursors
STATE_FLUSH_DELAY = 0.05  # seconds bookkeeping writes wait to share one commit
MAX_BATCH_UPDATES = 256  # local updates merged into one envelope at most
SEAL_CHUNK = 200  # envelopes sealed before the loop gets a turn
SEND_TURN = 50  # whole documents read and handed over per turn of the owner thread
SNAPSHOT_EVERY = 1000  # envelopes in a relay's log past its snapshot before offering one
SNAPSHOT_ITEM = "snapshot"  # stands in the incoming queue for a snapshot being fetched
GAP_WAIT = 1.0  # seconds an envelope missing from a live stream is waited for, then refetched
# One document's update from a member: far above any edit, and above the whole state of
# a note at import's 8 MB limit with its history (relays pass 4 MB by default). A
# bigger one (from a member, through a relay that lets it pass) is rejected, not merged.
MAX_INCOMING_UPDATE = 16 * 1024 * 1024
ELSEWHERE = "it writes a note that belongs to another notebook"  # as far as this device knows


@dataclass
class _Outgoing:
    """Local updates of one document waiting to be sealed into one envelope."""

    notebook_id: str
    doc_id: str
    kind: str
    made_on: bytes
    updates: list[bytes] = field(default_factory=list)
    wall_time: float = 0.0
    state: bytes = b"\x00"  # the document's state vector after the last of them
    stamp: EditStamp | None = None  # covers every change gathered (None: not an edit)
    clock: dict[int, int] | None = None  # whole documents: the edit clock they carry
    removed: str | None = ""  # the text the gathered changes removed (None: unknown, or long)
    own_count: int = 0  # the highest edit count of this device among them (0: none known)


@dataclass
class _Incoming:
    """An envelope from a relay on its way to durability: `ticket` None until merged."""

    seq: int
    envelope_id: str
    ticket: int | None = None


@dataclass(frozen=True, slots=True)
class _Received:
    """An envelope from a relay, opened, on its way to the vault."""

    url: str
    notebook_id: str
    item: _Incoming
    opened: Opened
    envelope: bytes


class SyncEngine:
    """Sync for one vault. Owner-thread API: start, stop, share, join, status, pump_until."""

    def __init__(self, vault: Vault, keys, *, batch_delay: float = BATCH_DELAY,
                 snapshot_every: int = SNAPSHOT_EVERY,
                 on_status: Callable[[], None] | None = None,
                 on_problem: Callable[[str], None] | None = None) -> None:
        self.vault = vault
        self.keys = keys
        self.batch_delay = batch_delay
        self.snapshot_every = snapshot_every
        self._on_status = on_status
        self._on_problem = on_problem
        self._author: Author = vault.author
        self._shared: dict[str, tuple[str, ...]] = {}  # the owner thread's copy
        self._sent_docs: dict[str, set[str]] = {}  # owner: documents outboxed per notebook
        self._unplaced: set[str] = set()  # owner: notes edited here before being placed
        # owner: per note, the last move or trash (its mover's client and count) asked
        # about in _ask_unseen, and the answer
        self._answered: dict[str, tuple[tuple[int, int], bool]] = {}
        self._unsubscribe: Callable[[], None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._status: dict[str, NotebookStatus] = {}
        self._relays: dict[str, str | None] = {}
        self._booted = threading.Event()
        self._ready = False  # owner: the saved notebooks are known (after boot)
        self._deferred: list[Callable[[], None]] = []  # loop: calls that came before boot
        self._calls = 0  # owner → loop calls made ...
        self._inbox: deque[tuple[int, Callable, tuple]] = deque()  # ... and not yet run
        self._inbox_woken = False  # a _run_inbox is scheduled on the loop
        self._handled_pending = 0
        self._handled = 0  # ... and run, in order (the status is current when equal)
        self._problems: list[str] = []
        # --- loop-thread state (touch only on the loop) ---
        self._state: SyncState | None = None
        self._device_key: DeviceKey | None = None
        self._keyring_error: str | None = None
        self._notebooks: dict[str, tuple[str, ...]] = {}
        self._nb_keys: dict[str, NotebookKey] = {}
        self._links: dict[str, RelayLink] = {}
        self._tasks: set[asyncio.Task] = set()
        self._cursors: dict[tuple[str, str], int] = {}
        self._synced: dict[tuple[str, str], float] = {}
        self._heads: dict[tuple[str, str], int] = {}
        self._received: dict[str, tuple[str, int]] = {}
        self._incoming: dict[tuple[str, str], deque[_Incoming]] = {}
        self._gaps: dict[tuple[str, str], tuple[int, float]] = {}  # -> (cursor, seen since)
        self._own_seqs: dict[tuple[str, str], set[int]] = {}  # acknowledged, not yet passed
        self._snapshots: dict[tuple[str, str], int] = {}  # relay's snapshot covers up to
        self._unacked: dict[str, dict[str, str]] = {}  # relay -> envelope id -> notebook
        self._sealing: deque[tuple[str, str]] = deque()  # batches due, in order
        self._sealing_set: set[tuple[str, str]] = set()
        self._flush_scheduled = False
        self._publish_scheduled = False
        self._to_apply: list[_Received] = []
        self._parking: ParkingLot | None = None  # set at boot, with the state
        self._outgoing: dict[tuple[str, str], _Outgoing] = {}
        self._counter = 0
        self._keys_loading = False  # the device key is being fetched for a first notebook
        self._in_flight = 0  # envelopes posted to the owner, not yet merged
        self._stopped = False

    # ================================================================ owner thread

    def start(self) -> None:
        """Start the background thread; returns at once (keys and relays come later)."""
        if self._thread is not None:
            return
        self._stopped = False
        self._inbox.clear()  # calls a stopped loop never ran (the boot redoes their work)
        self._inbox_woken = False
        self._unsubscribe = self.vault.subscribe(self._on_change)
        self._thread = threading.Thread(target=self._run_loop, name="plait-sync", daemon=True)
        self._thread.start()
        self._started.wait(10)

    def stop(self, timeout: float = 10.0) -> None:
        """Seal what is being typed, stop the relays' connections, close the state."""
        self._stopped = True  # work posted to the owner and not yet run is dropped
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._loop is not None and self._thread is not None:
            future = asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
            try:
                future.result(timeout)
            except TimeoutError:
                log.warning("sync engine did not stop within %s s", timeout)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout)
        self._thread = None
        self._loop = None

    def status(self) -> dict[str, NotebookStatus]:
        """The sync state of every shared notebook (a snapshot; any thread)."""
        return dict(self._status)

    def problems(self) -> list[str]:
        """Rejected envelopes and other reports, oldest first (any thread)."""
        return list(self._problems)

    def wait_ready(self, timeout: float = 30.0) -> bool:
        """Owner thread: wait until the engine knows which notebooks are shared."""
        self.start()
        return self.pump_until(lambda: self._ready, timeout)

    def sync_once(self, timeout: float = 60.0) -> dict[str, str | None]:
        """Sync until every relay is caught up (or failed); the outcome per relay, with
        "timed out" for any still working at the timeout. Owner thread."""
        self.start()

        def settled() -> bool:
            report = self._relays
            return (self._ready and self._handled >= self._calls
                    and all(url in report for url in self._all_relays()))

        self.pump_until(settled, timeout)
        report = dict(self._relays)
        return {url: report.get(url, "timed out") for url in self._all_relays()}

    def _all_relays(self) -> set[str]:
        return {url for relays in self._shared.values() for url in relays}

    def received_upto(self, url: str, notebook_id: str) -> int:
        """The relay sequence number up to which this device has durably taken in
        everything of the notebook from that relay (any thread)."""
        return self._cursors.get((url, notebook_id), 0)

    def debug_state(self) -> dict[str, object]:
        """Internals for a failing test's message (not an API)."""
        return {
            "cursors": dict(self._cursors), "heads": dict(self._heads),
            "incoming": {k: [(i.seq, i.ticket) for i in q] for k, q in self._incoming.items()},
            "durable": self.vault.durable_ticket, "in_flight": self._in_flight,
            "unacked": {u: len(ids) for u, ids in self._unacked.items()},
            "sealing": len(self._sealing), "counter": self._counter,
            "link_queue": {u: (len(l._queue), len(l._unacked), sorted(l.opened))
                           for u, l in self._links.items()},
            "to_apply": len(self._to_apply), "outgoing": list(self._outgoing),
            "parked": len(self._parking or ()),
            "links": {u: (l.connected, sorted(l.caught_up), l.error) for u, l in self._links.items()},
        }

    def shared_notebooks(self) -> dict[str, tuple[str, ...]]:
        return dict(self._shared)

    def pump_until(self, done: Callable[[], bool], timeout: float) -> bool:
        """Run the vault's posted work on this (the owner) thread until `done()` or the
        timeout; for the CLI and tests, which have no event loop of their own."""
        wake = threading.Event()
        self.vault.set_wakeup(wake.set)
        deadline = time.monotonic() + timeout
        try:
            while True:
                self.vault.deliver_pending()
                if done():
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                wake.wait(min(remaining, 0.05))
                wake.clear()
        finally:
            self.vault.set_wakeup(None)

    def share(self, notebook_id: str, relays: tuple[str, ...],
              notebook_key: NotebookKey | None = None, device: DeviceKey | None = None) -> Invite:
        """Share a notebook through `relays` (adding to any it already has); returns an
        invite. Key lookups hit the OS keyring: a GUI fetches the keys first, off its own
        thread (`key_for_sharing`, `device_key`), and passes them in."""
        relays = tuple(dict.fromkeys(url.strip() for url in relays if url.strip()))
        for url in relays:
            check_relay_url(url)
        sharing = self.vault.sharing(notebook_id)
        if not relays and not sharing.relays:
            raise PlaitError("Name at least one relay server (ws://host:port or wss://host).")
        key = notebook_key or self.key_for_sharing(notebook_id)
        device = device or self.device_key()
        self.vault.update_sharing(notebook_id, relays=relays, member=self._member(device))
        all_relays = tuple(sorted(set(relays) | set(sharing.relays)))
        self._adopt(notebook_id, all_relays, key)
        name = self.vault.notebook(notebook_id).name
        return make_invite(notebook_id, name, key.to_text(), all_relays, self._author.name)

    def key_for_sharing(self, notebook_id: str) -> NotebookKey:
        """The notebook's key from the keyring, made and stored if it has none (blocks on
        the keyring: call it off the GUI thread)."""
        self.keys.check()
        key = self.keys.notebook_key(notebook_id)
        if key is None:
            key = NotebookKey.generate()
            self.keys.store_notebook_key(notebook_id, key)
        return key

    def join(self, invite: Invite, *, store_key: bool = True) -> str:
        """Join the notebook an invite names; it fills in as envelopes arrive."""
        if invite.notebook_id in self._shared:
            raise InviteError(f"You are already in “{invite.notebook_name}”.")
        key = NotebookKey.from_text(invite.key_text)
        if store_key:
            self.keys.check()
            self.keys.store_notebook_key(invite.notebook_id, key)
        self._adopt(invite.notebook_id, invite.relays, key)
        return invite.notebook_id

    def device_key(self) -> DeviceKey:
        """This device's signing key, made on first use (blocks on the keyring)."""
        return self.keys.device_key(self._author.device_id)

    def _member(self, device: DeviceKey) -> Member:
        return Member(device.public.hex(), self._author.name, self._author.device_id,
                      self._author.client_id, time.time())

    def _adopt(self, notebook_id: str, relays: tuple[str, ...], key: NotebookKey) -> None:
        self._shared[notebook_id] = tuple(sorted(set(relays) | set(self._shared.get(notebook_id, ()))))
        self._sent_docs.setdefault(notebook_id, set())
        relays = self._shared[notebook_id]
        self._call(self._add_notebook, notebook_id, relays, key)

    def _post(self, callback: Callable[[], None]) -> None:
        """Run `callback` on the owner thread, unless the engine has stopped by then: what
        it would have done is redone at the next start (envelopes not merged are fetched
        again, documents not sent are still ahead of what was outboxed)."""
        self.vault.post(lambda: None if self._stopped else callback())

    def _call(self, function, *args) -> None:
        """Run `function(*args)` on the loop, in order; the status published after it
        counts it. Calls queue in an inbox and the loop is woken once per batch: waking
        it is a write to its self-pipe, which per keystroke cost typing in a shared
        note more than all the rest of its work."""
        loop = self._loop
        if loop is None:
            raise PlaitError("Sync is not running.")
        self._calls += 1
        self._inbox.append((self._calls, function, args))
        if not self._inbox_woken:
            self._inbox_woken = True
            loop.call_soon_threadsafe(self._run_inbox)

    def _run_inbox(self) -> None:
        """Run every call in the inbox (loop thread)."""
        self._inbox_woken = False  # first: a call queued from now on wakes the loop again
        inbox = self._inbox
        while inbox:
            number, function, args = inbox.popleft()
            if not self._booted.is_set():  # the state is still being opened
                self._deferred.append(partial(self._run_call, number, function, args))
                continue
            self._run_call(number, function, args)

    def _run_call(self, number: int, function, args: tuple) -> None:
        try:
            if self._state is not None:  # None: the sync state could not be opened
                function(*args)
        finally:
            self._handled_pending = number  # counted once the status is recomputed
            self._publish()

    # ---- local changes → loop (owner thread) ----------------------------------------

    def _on_change(self, event: ChangeEvent) -> None:
        kind = event.kind
        if kind is DocKind.CATALOG and self._parking is not None and len(self._parking):
            self._call(self._retry_parked)  # the move a parked envelope waits for, perhaps
        notebook_id = event.doc_id if kind is DocKind.CATALOG else self.vault.notebook_of(event.doc_id)
        local = event.origin.source is Source.LOCAL
        for note_id in event.placed:
            home = self.vault.notebook_of(note_id)
            for other, sent in self._sent_docs.items():
                if other != home:  # it left: should it come back, it is new there again
                    sent.discard(note_id)
            # A move ends in whichever of its two catalog changes leaves the note placed
            # in the new notebook, which may be the old notebook's (a note in both
            # catalogs lives in the first by id): the new one hears of it here.
            if home != notebook_id and home in self._shared:
                self._note_placed(home, note_id, local)
            if not local and home in self._shared:
                self._ask_unseen(home, note_id)  # the entry may name a move it did not
        if notebook_id is None:
            if event.origin.source is Source.LOCAL and self._shared:
                # A note whose catalog entry has not arrived yet: which notebook (and
                # key) it belongs to is unknown, so it goes out whole once it is placed.
                self._unplaced.add(event.doc_id)
            return
        if notebook_id not in self._shared:
            return
        if local:
            state = self.vault.encode_state_vector(event.doc_id)
            self._call(self._queue_local, notebook_id, event.doc_id, kind.value, event.update,
                       event.made_on, event.wall_time, state, event.stamp, None,
                       event.removed)
        if kind is DocKind.CATALOG:
            self._catalog_changed(notebook_id, local)

    def _catalog_changed(self, notebook_id: str, local: bool) -> None:
        """Notes this device moved or created into a shared notebook go out whole; relays
        added by another member are adopted; this device joins the member list."""
        sent = self._sent_docs.setdefault(notebook_id, set())
        sent.add(notebook_id)
        for note_id in self.vault.notes_in(notebook_id):
            if note_id not in sent:
                self._note_placed(notebook_id, note_id, local)
        sharing = self.vault.sharing(notebook_id)
        if not set(sharing.relays) <= set(self._shared[notebook_id]):
            self._shared[notebook_id] = tuple(sorted(set(sharing.relays) | set(self._shared[notebook_id])))
            self._call(self._set_relays, notebook_id, self._shared[notebook_id])
        self._ensure_members([notebook_id])

    def _note_placed(self, notebook_id: str, note_id: str, local: bool) -> None:
        """A note is newly in a shared notebook here. One this device moved or created
        there goes out whole; one someone else placed arrives on its own, unless it was
        edited here meanwhile: while it had no notebook here, or before this device
        heard that someone moved it (those edits went out through the notebook it left,
        where members no longer take them)."""
        sent = self._sent_docs.setdefault(notebook_id, set())
        if note_id in sent:
            return
        sent.add(note_id)
        edited = note_id in self._unplaced
        self._unplaced.discard(note_id)
        if local or not self._ask_unseen(notebook_id, note_id):
            # (document_kind last: on a join, thousands of notes are placed before they
            # arrive)
            if (local or edited) and self.vault.document_kind(note_id) is DocKind.NOTE:
                self._send_whole(notebook_id, note_id, DocKind.NOTE)

    def _ask_unseen(self, notebook_id: str, note_id: str) -> bool:
        """Someone else moved or trashed the note: were edits made here that they had not
        seen? Those are sent (again) through its notebook; True if there were. Asked once
        per move or trash, each time the note's entry names a new one: between the two
        halves of a move the entry read may still be an older one."""
        seen = self.vault.last_seen(note_id)
        if seen is None:
            return False
        mark = (seen.client, seen.token)
        answer = self._answered.get(note_id)
        if answer is not None and answer[0] == mark:
            return answer[1]
        unseen = self.vault.unseen_own_edits(note_id)
        self._answered[note_id] = (mark, unseen)
        if unseen and self.vault.document_kind(note_id) is DocKind.NOTE:
            self._send_unseen(notebook_id, note_id)
        return unseen

    def _send_unseen(self, notebook_id: str, note_id: str) -> None:
        """The note whole, stamped as this device's edits made before it learned of the
        move (it is learning now): the mover's device flags them (review/structure)."""
        update = self.vault.encode_state(note_id, keep_loaded=False)
        self._call(self._queue_local, notebook_id, note_id, DocKind.NOTE.value, update,
                   b"\x00", time.time(), get_state(update),
                   self.vault.unseen_edits_stamp(note_id), self.vault.edit_clock(note_id))

    def _ensure_members(self, notebook_ids: list[str] | None = None) -> None:
        """Put this device in the member list of shared notebooks whose catalog is here."""
        device = self._device_key
        if device is None or self.vault.read_only:
            return
        for notebook_id in notebook_ids or list(self._shared):
            if self.vault.document_kind(notebook_id) is None:
                continue  # joined, and the catalog has not arrived yet
            members = self.vault.sharing(notebook_id).members
            if not any(m.public_key == device.public.hex() for m in members):
                self.vault.update_sharing(notebook_id, member=self._member(device))

    def _send_whole(self, notebook_id: str, doc_id: str, kind: DocKind,
                    since: bytes | None = None) -> None:
        update = self.vault.encode_state(doc_id, since, keep_loaded=False)
        self._call(self._queue_local, notebook_id, doc_id, kind.value, update,
                   since or b"\x00", time.time(), get_state(update) if since is None
                   else self.vault.encode_state_vector(doc_id), None,
                   self.vault.edit_clock(doc_id))

    def _reconcile(self, sent_states: dict[str, tuple[dict[str, bytes], dict[str, int]]],
                   ) -> None:
        """Start-up and sharing: send every document holding edits made here that were
        never outboxed (all of them, when a notebook is first shared). Documents that
        only hold others' edits came from the relays and are not sent back.

        An edit that only deleted text adds nothing to the state vector; this device's
        edit count of the document (crdt_store/edit_clock.py) tells it apart. The diff
        sent covers it: a Yjs update always carries the document's whole delete set."""
        own = self.vault.own_client_ids()
        client = self._author.client_id
        for notebook_id, (sent, counts) in sent_states.items():
            states = self.vault.document_states(notebook_id)
            self._sent_docs[notebook_id] = set(states) | set(self.vault.notes_in(notebook_id))
            todo = []  # the catalog first, so members place the notes as they arrive
            for doc_id, state in sorted(states.items(), key=lambda item: item[0] != notebook_id):
                before = sent.get(doc_id)
                have, outboxed = decode_state_vector(state), decode_state_vector(before or b"\x00")
                # No count on record (sent before counts were kept, or by an engine that
                # lost one) counts as none: an edit of this device is sent again, once,
                # rather than perhaps never.
                if (any(have.get(c, 0) > outboxed.get(c, 0) for c in own)
                        or self.vault.edit_clock(doc_id).get(client, 0) > counts.get(doc_id, 0)):
                    todo.append((doc_id, before))
            self._send_in_turns(notebook_id, todo)

    def _send_in_turns(self, notebook_id: str, todo: list[tuple[str, bytes | None]]) -> None:
        """Send documents a few at a time, each batch a posted turn of its own, so the
        owner (a GUI) stays responsive while a big notebook is first shared."""
        for doc_id, before in todo[:SEND_TURN]:
            kind = DocKind.CATALOG if doc_id == notebook_id else DocKind.NOTE
            if self.vault.document_kind(doc_id) is not None:
                self._send_whole(notebook_id, doc_id, kind, before)
        if len(todo) > SEND_TURN:
            rest = todo[SEND_TURN:]
            self._post(lambda: self._send_in_turns(notebook_id, rest))

    # ---- remote envelopes → vault (owner thread) ------------------------------------

    def _apply_batch(self, batch: list[_Received]) -> None:
        errors: list[str] = []
        parked: list[tuple[_Received, str]] = []  # and what to say should the lot be full
        for received in batch:
            problem = self._apply_one(received.notebook_id, received.opened)
            if problem is ELSEWHERE:
                parked.append((received, self._rejection(received, problem)))
            elif problem is not None:
                errors.append(self._rejection(received, problem))
        self._call(self._applied, batch, self.vault.last_ticket, errors, parked)

    def _apply_parked(self, waiting: list[Parked]) -> None:
        """Try parked envelopes again: those whose note is placed here now merge."""
        done, errors = [], []
        for parked in waiting:
            problem = self._apply_one(parked.notebook_id, parked.opened)
            if problem is ELSEWHERE:
                continue
            done.append(parked.opened.envelope_id)
            if problem is not None:
                errors.append(self._rejection(parked, problem))
        self._call(self._unparked, done, self.vault.last_ticket, errors)

    def _rejection(self, received: _Received | Parked, problem: str) -> str:
        return (f"Rejected an update from {received.opened.meta.name} in "
                f"{self._describe(received.notebook_id)} (relay {received.url}): {problem}")

    def _apply_one(self, notebook_id: str, opened: Opened) -> str | None:
        meta = opened.meta
        try:
            kind = DocKind(meta.kind)
        except ValueError:
            return f"unknown document kind {meta.kind!r}"
        known = self.vault.document_kind(meta.doc_id)
        if known is not None and known is not kind:
            return "it names a document of another kind"
        if kind is DocKind.CATALOG and meta.doc_id != notebook_id:
            return "it writes another notebook's catalog"
        clock = meta.clock
        home = self.vault.notebook_of(meta.doc_id) if kind is DocKind.NOTE else None
        if home not in (None, notebook_id):
            if self.vault.lists_note(notebook_id, meta.doc_id):
                # Listed here too: halfway through a move into this notebook, whose entry
                # came (on this stream) before this update, and the old entry's deletion
                # not yet. The move's count is learned from the catalog, as the review
                # panel expects.
                if clock:
                    clock = {c: n for c, n in clock.items() if not is_structure_key(c)}
            elif not self._is_member(home, opened.sender):
                if self.vault.moved_out_of(meta.doc_id, notebook_id):
                    return ("it edits a note that was moved out of that notebook meanwhile; "
                            f"{meta.name}'s device sends the edit again through the note's new "
                            "notebook once it hears of the move, if it has that notebook")
                return ELSEWHERE  # parked until a catalog change places it here
            # Otherwise sent through a notebook the note has left (its author had not
            # heard of the move) by a member of the note's notebook, who could have sent
            # it through that one: taken as it is. Waiting for the author to send it again
            # would leave this replica without it for as long as the author's device is
            # away, while others already have it.
        try:
            self.vault.apply_remote_update(
                meta.doc_id, kind, opened.update,
                author=Author(meta.device, meta.client, meta.name),
                wall_time=meta.time, made_on=meta.made_on, initiator=self, stamp=meta.stamp,
                clock=clock, removed=meta.removed,
            )
        except CorruptUpdateError as exc:
            return str(exc)
        return None

    def _is_member(self, notebook_id: str, sender: bytes) -> bool:
        """Is the device that signed an envelope in this notebook's member list here?"""
        if notebook_id not in self._shared:
            return False
        key = sender.hex()
        return any(m.public_key == key for m in self.vault.sharing(notebook_id).members)

    def _apply_snapshot(self, url: str, notebook_id: str, item: _Incoming, opened: Opened) -> None:
        errors = []
        for doc in opened.docs:
            meta = UpdateMeta(doc_id=doc.doc_id, kind=doc.kind, client=opened.meta.client,
                              device=opened.meta.device, name=opened.meta.name,
                              time=opened.meta.time, made_on=b"\x00", n=opened.meta.n)
            problem = self._apply_one(notebook_id, replace(opened, meta=meta, update=doc.update))
            if problem is not None:
                errors.append(f"Rejected part of a snapshot from relay {url}: {problem}")
        self._call(self._applied, [_Received(url, notebook_id, item, opened, b"")],
                   self.vault.last_ticket, errors, [])

    def _snapshot_docs(self, notebook_id: str, loop: asyncio.AbstractEventLoop,
                       result: asyncio.Future) -> None:
        docs = [(notebook_id, "catalog", self.vault.encode_state(notebook_id))]
        docs += [(note_id, "note", self.vault.encode_state(note_id))
                 for note_id in self.vault.notes_in(notebook_id)
                 if self.vault.document_kind(note_id) is not None]
        loop.call_soon_threadsafe(result.set_result, docs)

    def _describe(self, notebook_id: str) -> str:
        try:
            return f"“{self.vault.notebook(notebook_id).name}”"
        except PlaitError:
            return "a shared notebook"

    # ================================================================ loop thread

    def _run_loop(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        loop.call_soon(self._started.set)
        loop.create_task(self._boot())
        try:
            loop.run_forever()
        finally:
            loop.close()

    def _spawn(self, coroutine) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("sync task failed", exc_info=task.exception())
            self._report(f"Sync ran into an internal error: {task.exception()}")

    async def _boot(self) -> None:
        try:
            state = await asyncio.to_thread(SyncState, self.vault.path)
        except StorageError as exc:
            self._report(str(exc))
            self._post(lambda: setattr(self, "_ready", True))
            self._finish_boot()
            return
        try:
            if await asyncio.to_thread(state.adopt_client, self._author.client_id):
                log.warning("sync state of a copied or restored vault: fetching everything "
                            "from the relays again")
        except StorageError as exc:
            self._report(str(exc))
        # Only now the engine's: a stop() meanwhile closes the state it holds, and closing
        # a connection another thread is writing through crashed the process.
        if self._stopped:
            state.close()
            return
        self._state = state
        self._notebooks = state.notebooks()
        self._received = state.received_ids()
        for key, (seq, synced) in state.cursors().items():
            self._cursors[key] = seq
            if synced:
                self._synced[key] = synced
        self._counter = state.next_counter() - 1
        for url, env_id, notebook_id in state.unacknowledged():
            self._unacked.setdefault(url, {})[env_id] = notebook_id
        try:
            if self._notebooks:  # a vault that shares nothing never touches the keyring
                self._device_key = await asyncio.to_thread(self.device_key)
            for notebook_id in list(self._notebooks):
                key = await asyncio.to_thread(self.keys.notebook_key, notebook_id)
                if key is not None:
                    self._nb_keys[notebook_id] = key
        except PlaitError as exc:
            self._keyring_error = str(exc)
        self._parking = ParkingLot(state)
        self._parking.load(self._nb_keys, MAX_INCOMING_UPDATE)
        self._retry_parked()
        notebooks = dict(self._notebooks)

        def adopt_saved() -> None:
            self._shared.update(notebooks)
            self._ensure_members()
            self._ready = True

        self._post(adopt_saved)
        self._post_reconcile(list(self._notebooks))
        for url in {url for relays in self._notebooks.values() for url in relays}:
            self._link(url)
        self._spawn(self._persist_forever())
        self._finish_boot()

    def _finish_boot(self) -> None:
        self._booted.set()
        deferred, self._deferred = self._deferred, []
        for run in deferred:
            run()
        self._publish()

    def _post_reconcile(self, notebook_ids: list[str], *, resend_all: bool = False) -> None:
        assert self._state is not None
        state = self._state
        sent = {nb: ({}, {}) if resend_all else (state.sent_states(nb), state.sent_counts(nb))
                for nb in notebook_ids}
        self._post(lambda: self._reconcile(sent))

    def _link(self, url: str) -> RelayLink:
        link = self._links.get(url)
        if link is None:
            link = self._links[url] = RelayLink(url, self)
            self._spawn(link.run())
        return link

    def _add_notebook(self, notebook_id: str, relays: tuple[str, ...], key: NotebookKey) -> None:
        assert self._state is not None
        known = self._notebooks.get(notebook_id)
        self._nb_keys[notebook_id] = key
        self._notebooks[notebook_id] = relays
        self._state.set_notebook(notebook_id, relays)
        self._flush_state()
        if self._device_key is None and self._keyring_error is None and not self._keys_loading:
            self._keys_loading = True
            self._spawn(self._load_device_key())
        # A relay added to a notebook shared before starts empty: send it everything.
        self._post_reconcile([notebook_id], resend_all=bool(known and set(relays) - set(known)))
        self._open_everywhere(notebook_id)
        self._publish()

    def _set_relays(self, notebook_id: str, relays: tuple[str, ...]) -> None:
        """Another member added a relay: it starts empty, so this device sends it all the
        edits made here (every member does the same, and the new relay fills in)."""
        assert self._state is not None
        added = set(relays) - set(self._notebooks.get(notebook_id, ()))
        self._notebooks[notebook_id] = relays
        self._state.set_notebook(notebook_id, relays)
        self._flush_state()
        if added:
            self._post_reconcile([notebook_id], resend_all=True)
        self._open_everywhere(notebook_id)

    def _open_everywhere(self, notebook_id: str) -> None:
        for url in self._notebooks[notebook_id]:
            link = self._link(url)
            if link.connected:
                self._spawn(link.open(notebook_id))
            else:
                link.retry_now()

    async def _load_device_key(self) -> None:
        try:
            self._device_key = await asyncio.to_thread(self.device_key)
        except PlaitError as exc:
            self._keyring_error = str(exc)
            self._keys_loading = False
        else:
            def joined() -> None:  # the notebook's catalog may be here by now
                self._ensure_members()
                self._keys_loading = False
                self._call(lambda: None)  # publish a status that counts it

            self._post(joined)
        self._publish()

    async def _shutdown(self) -> None:
        for key in list(self._outgoing):
            self._seal(key)
        self._flush_state()
        for link in self._links.values():
            await link.stop()
        self._persist()
        self._flush_state()
        for task in list(self._tasks):
            task.cancel()
        if self._state is not None:
            self._state.close()
            self._state = None

    # ---- outgoing -------------------------------------------------------------------

    def _queue_local(self, notebook_id: str, doc_id: str, kind: str, update: bytes,
                     made_on: bytes, wall_time: float, state: bytes,
                     stamp: EditStamp | None = None, clock: dict[int, int] | None = None,
                     removed: str | None = None) -> None:
        key = (notebook_id, doc_id)
        pending = self._outgoing.get(key)
        if pending is None:
            pending = self._outgoing[key] = _Outgoing(notebook_id, doc_id, kind, made_on,
                                                      stamp=stamp)
            asyncio.get_running_loop().call_later(self.batch_delay, self._due, key)
        elif stamp is None or pending.stamp is None:
            pending.stamp = None  # a whole-document resend is not one edit
        else:  # what the first change had seen; counts up to the last
            pending.stamp = pending.stamp._replace(last=stamp.last)
        pending.updates.append(update)
        if pending.removed is not None and removed is not None:
            pending.removed += removed
        if removed is None or len(pending.removed or "") > MAX_SAID_REMOVED:
            pending.removed = None
        pending.wall_time = wall_time
        pending.state = state
        client = self._author.client_id
        own = (stamp.last if stamp is not None and stamp.client == client
               else (clock or {}).get(client, 0))
        pending.own_count = max(pending.own_count, own)
        if clock:
            merged = dict(pending.clock or {})
            for client, count in clock.items():
                merged[client] = max(count, merged.get(client, 0))
            pending.clock = merged
        if len(pending.updates) >= MAX_BATCH_UPDATES:  # merging grows faster than linearly
            self._due(key)

    def _due(self, key: tuple[str, str]) -> None:
        """A batch is ready: seal it soon, in turn (a big share seals thousands)."""
        if key in self._outgoing and key not in self._sealing_set:
            self._sealing.append(key)
            self._sealing_set.add(key)
            if len(self._sealing) == 1:
                self._spawn(self._seal_queued())

    async def _seal_queued(self) -> None:
        """Seal due batches a chunk at a time, letting the loop breathe in between."""
        while self._sealing:
            for _ in range(min(SEAL_CHUNK, len(self._sealing))):
                key = self._sealing.popleft()
                self._sealing_set.discard(key)
                self._seal(key)
            self._flush_state()
            await asyncio.sleep(0)

    def _seal(self, key: tuple[str, str]) -> None:
        pending = self._outgoing.pop(key, None)
        if pending is None or self._state is None:
            return
        device, nb_key = self._device_key, self._nb_keys.get(pending.notebook_id)
        if device is None or nb_key is None:
            # Without keys nothing can be sealed; the documents stay ahead of sent_state
            # and go out at the next start that has them.
            self._publish()
            return
        update = pending.updates[0] if len(pending.updates) == 1 else merge_updates(*pending.updates)
        self._counter += 1
        meta = UpdateMeta(doc_id=pending.doc_id, kind=pending.kind, client=self._author.client_id,
                          device=self._author.device_id, name=self._author.name,
                          time=pending.wall_time, made_on=pending.made_on, n=self._counter,
                          stamp=pending.stamp, clock=pending.clock,
                          removed=pending.removed if pending.stamp is not None else None)
        envelope = seal_update(nb_key, pending.notebook_id, device, meta, update)
        env_id = envelope_id(envelope)
        relays = self._notebooks.get(pending.notebook_id, ())
        try:
            self._state.add_outgoing(pending.notebook_id, relays, env_id, envelope,
                                     self._counter, [(pending.doc_id, pending.state)],
                                     self._own_count(pending))
        except StorageError as exc:
            self._report(f"Could not queue an edit for sync: {exc}. It will be sent after "
                         "a restart.")
            return
        self._received[env_id] = ("", 0)
        for url in relays:
            self._unacked.setdefault(url, {})[env_id] = pending.notebook_id
            link = self._links.get(url)
            if link is not None and link.max_envelope < len(envelope):
                self._report(f"An edit of {len(envelope):,} bytes is larger than relay {url} "
                             f"accepts ({link.max_envelope:,} bytes); it stays queued.")
            elif link is not None:
                link.put(pending.notebook_id, env_id, envelope)
        self._publish()

    def _own_count(self, pending: _Outgoing) -> dict[str, int]:
        """This device's edit count of the document that the batch covers, if known: the
        highest of everything it gathered (a note sent whole and typing that joined it)."""
        return {pending.doc_id: pending.own_count} if pending.own_count else {}

    # ---- LinkHandler (called by RelayLink on the loop) ------------------------------

    def notebooks_for(self, url: str) -> list[str]:
        return [nb for nb, relays in self._notebooks.items() if url in relays]

    def token_for(self, notebook_id: str) -> str | None:
        key = self._nb_keys.get(notebook_id)
        return None if key is None else key.token_text()

    def cursor(self, url: str, notebook_id: str) -> int:
        return self._cursors.get((url, notebook_id), 0)

    def on_link_state(self, url: str) -> None:
        self._publish()

    def on_opened(self, url: str, notebook_id: str, head: int, pruned: int,
                  snapshot: int | None) -> None:
        key = (url, notebook_id)
        self._heads[key] = head
        self._snapshots[key] = snapshot or 0
        assert self._state is not None
        link = self._links[url]
        if self._cursors.get(key, 0) > head:
            # The relay lost envelopes (restored from a backup): send everything made here
            # again; the other members do the same, and the log heals.
            self._report(f"Relay {url} has fewer edits than this device took from it "
                         "before (restored from a backup?); sending this device's edits again.")
            self._cursors[key] = head
            self._state.record_applied([], {key: head}, reset=True)
            self._flush_state()
            self._post_reconcile([notebook_id], resend_all=True)
        if self._cursors.get(key, 0) < pruned:
            # Envelopes up to `pruned` are gone from the relay: its snapshot stands in for
            # them, and the cursor may not pass it until the snapshot is merged.
            self._incoming.setdefault(key, deque()).append(_Incoming(pruned, SNAPSHOT_ITEM))
            self._spawn(link.get_snapshot(notebook_id))
        self._flush_state()  # the outbox on disk holds every envelope sealed so far
        for env_id, envelope in self._state.outbox(url, notebook_id):
            link.put(notebook_id, env_id, envelope)
        self._publish()

    def on_envelope(self, url: str, notebook_id: str, seq: int, env_id: str,
                    envelope: bytes) -> None:
        queue = self._incoming.setdefault((url, notebook_id), deque())
        item = _Incoming(seq, env_id)
        queue.append(item)
        self._heads[(url, notebook_id)] = max(seq, self._heads.get((url, notebook_id), 0))
        seen = self._received.get(env_id)
        if seen is not None:
            if seen[0] == url and seen[1] not in (0, seq):
                self._report(f"Relay {url} sent an envelope again under a new number "
                             f"({seen[1]} → {seq}); the replay was ignored.")
            item.ticket = 0
            return
        self._received[env_id] = (url, seq)
        key = self._nb_keys.get(notebook_id)
        try:
            if key is None:
                raise EnvelopeError("wrong_key_or_tampered", "this device has no key for it")
            opened = open_envelope(key, notebook_id, envelope, expect="update",
                                   max_size=MAX_INCOMING_UPDATE)
            if opened.envelope_id != env_id:
                raise EnvelopeError("malformed", "its id does not match its contents")
        except EnvelopeError as exc:
            item.ticket = 0
            self._report(f"Rejected an envelope from relay {url}: {exc}")
            return
        if (self._device_key is not None and opened.sender == self._device_key.public
                and opened.meta.client == self._author.client_id):
            item.ticket = 0  # this vault's own edit, back from the relay
            return
        # (The same device key with another client id: a copy of this vault, or this
        # vault before it was restored from a backup. Its edits are not all here.)
        if not self._to_apply:
            asyncio.get_running_loop().call_soon(self._post_applies)
        self._to_apply.append(_Received(url, notebook_id, item, opened, envelope))

    def _post_applies(self) -> None:
        batch, self._to_apply = self._to_apply, []
        for start in range(0, len(batch), APPLY_BATCH):
            chunk = batch[start:start + APPLY_BATCH]
            self._in_flight += len(chunk)
            self._post(lambda chunk=chunk: self._apply_batch(chunk))
        self._publish()

    def _applied(self, batch: list[_Received], ticket: int, errors: list[str],
                 parked: list[tuple[_Received, str]]) -> None:
        self._in_flight -= len(batch)
        for received in batch:
            received.item.ticket = ticket
        assert self._parking is not None
        for received, rejection in parked:
            if self._parking.park(Parked(received.url, received.notebook_id, received.opened,
                                         received.envelope)):
                log.info("parked an update for note %s: it is not in %s here (yet)",
                         received.opened.meta.doc_id, received.notebook_id)
            else:
                errors.append(rejection)
        if parked:
            self._retry_parked()  # a catalog change in the same batch may have placed it
        for error in errors:
            self._report(error)
        self._publish()

    def _retry_parked(self) -> None:
        """A catalog changed: parked envelopes go to the owner thread to merge, if they can."""
        lot = self._parking
        if lot is None or not len(lot):
            return
        if lot.retrying:
            lot.retry_again = True
            return
        lot.retrying = True
        waiting = lot.waiting()
        self._post(lambda: self._apply_parked(waiting))

    def _unparked(self, done: list[str], ticket: int, errors: list[str]) -> None:
        assert self._parking is not None
        self._parking.retrying = False
        self._parking.merged(done, ticket)
        for error in errors:
            self._report(error)
        if self._parking.retry_again:
            self._parking.retry_again = False
            self._retry_parked()

    def on_caught_up(self, url: str, notebook_id: str, seq: int) -> None:
        key = (url, notebook_id)
        self._heads[key] = max(seq, self._heads.get(key, 0))
        self._synced[key] = time.time()
        self._maybe_offer_snapshot(url, notebook_id, seq)
        self._publish()

    def _maybe_offer_snapshot(self, url: str, notebook_id: str, seq: int) -> None:
        key = (url, notebook_id)
        if seq - self._snapshots.get(key, 0) >= self.snapshot_every:
            self._snapshots[key] = seq  # one attempt per stretch of the log
            self._spawn(self._offer_snapshot(url, notebook_id, seq))

    # ---- snapshots ------------------------------------------------------------------

    def on_snapshot(self, url: str, notebook_id: str, upto: int, body: bytes) -> None:
        queue = self._incoming.get((url, notebook_id), deque())
        item = next((i for i in queue if i.envelope_id == SNAPSHOT_ITEM and i.ticket is None),
                    None)
        if item is None:
            return
        key = self._nb_keys.get(notebook_id)
        try:
            if key is None or not body:
                raise EnvelopeError("malformed", "the relay has no usable snapshot")
            opened = open_envelope(key, notebook_id, body, expect="snapshot")
        except EnvelopeError as exc:
            item.ticket = 0
            self._report(f"Relay {url} no longer has the oldest edits of a shared notebook and "
                         f"its snapshot could not be used ({exc}); edits from before it may "
                         "be missing here until another member's device sends them.")
            return
        self._in_flight += 1
        self._post(lambda: self._apply_snapshot(url, notebook_id, item, opened))

    async def _offer_snapshot(self, url: str, notebook_id: str, upto: int) -> None:
        """Upload a snapshot of the notebook as of `upto`, so new devices join fast (and the
        relay may prune). Only once everything up to `upto` is merged here."""
        if self._cursors.get((url, notebook_id), 0) < upto:
            await asyncio.sleep(PERSIST_EVERY * 3)
            if self._cursors.get((url, notebook_id), 0) < upto:
                return
        docs: asyncio.Future = asyncio.get_running_loop().create_future()
        loop = asyncio.get_running_loop()
        self._post(lambda: self._snapshot_docs(notebook_id, loop, docs))
        records = await docs
        key, device, link = self._nb_keys.get(notebook_id), self._device_key, self._links.get(url)
        if key is None or device is None or link is None or not records:
            return
        self._counter += 1
        meta = SnapshotMeta(client=self._author.client_id, device=self._author.device_id,
                            name=self._author.name, time=time.time(), n=self._counter)
        body = await asyncio.to_thread(seal_snapshot, key, notebook_id, device, meta, records)
        if len(body) > link.max_envelope:
            log.info("snapshot of %s (%d bytes) is over relay %s's limit", notebook_id,
                     len(body), url)
            return
        await link.put_snapshot(notebook_id, upto, body)

    def on_snapshot_stored(self, url: str, notebook_id: str, upto: int) -> None:
        self._snapshots[(url, notebook_id)] = max(upto, self._snapshots.get((url, notebook_id), 0))

    def on_ack(self, url: str, notebook_id: str, env_id: str, seq: int) -> None:
        assert self._state is not None
        self._own_seqs.setdefault((url, notebook_id), set()).add(seq)
        self._unacked.get(url, {}).pop(env_id, None)
        self._maybe_offer_snapshot(url, notebook_id, seq)
        self._synced[(url, notebook_id)] = time.time()
        try:
            self._state.acknowledged(url, env_id)
            self._schedule_flush()
        except StorageError as exc:
            self._report(str(exc))
        self._publish()

    def on_relay_error(self, url: str, notebook_id: str | None, code: str, message: str) -> None:
        where = f" for {notebook_id}" if notebook_id else ""
        log.warning("relay %s%s: %s: %s", url, where, code, message)
        if code == "unauthorized":
            self._report(f"Relay {url} refused access to a shared notebook: {message}")
        self._publish()

    # ---- durability -----------------------------------------------------------------

    async def _persist_forever(self) -> None:
        while True:
            await asyncio.sleep(PERSIST_EVERY)
            self._persist()

    def _persist(self) -> None:
        """Record envelopes whose merge is on disk, and move cursors past them."""
        if self._state is None:
            return
        durable = self.vault.durable_ticket
        unparked = self._parking is not None and self._parking.forget_durable(durable)
        items: list[tuple[str, str, int, str]] = []
        cursors: dict[tuple[str, str], int] = {}
        for key in set(self._incoming) | set(self._own_seqs):
            queue, own = self._incoming.get(key, deque()), self._own_seqs.get(key, set())
            cursor = self._cursors.get(key, 0)
            if queue and queue[0].seq > cursor + 1 and queue[0].envelope_id != SNAPSHOT_ITEM:
                ordered = sorted(queue, key=lambda i: i.seq)  # out of order: a faulty path
                queue.clear()
                queue.extend(ordered)
            while True:
                # The cursor moves one sequence number at a time: the relay numbers a
                # notebook's envelopes 1, 2, 3, ..., and one never received (lost on the
                # way) holds it back until a new session asks for it again. Only a
                # snapshot jumps it (to what the relay has pruned).
                if (queue and queue[0].ticket is not None and queue[0].ticket <= durable
                        and (queue[0].seq <= cursor + 1
                             or queue[0].envelope_id == SNAPSHOT_ITEM)):
                    item = queue.popleft()
                    if item.envelope_id != SNAPSHOT_ITEM:
                        items.append((*key, item.seq, item.envelope_id))
                    cursor = max(cursor, item.seq)
                elif cursor + 1 in own:  # this device's envelope: the relay does not echo it
                    cursor += 1
                else:
                    break
                own.discard(cursor)
            if cursor > self._cursors.get(key, 0):
                cursors[key] = cursor
            self._refetch_after_gap(key, queue, cursor)
        if not cursors and not items and not unparked:
            return
        try:
            self._state.record_applied(items, cursors)
            self._state.flush()
        except StorageError as exc:
            self._report(str(exc))
            return
        now = time.time()
        for key, seq in cursors.items():
            self._cursors[key] = max(seq, self._cursors.get(key, 0))
            self._synced[key] = now
        self._publish()

    def _refetch_after_gap(self, key: tuple[str, str], queue: deque[_Incoming],
                           cursor: int) -> None:
        """An envelope lost on the way while the connection stayed up (a faulty middlebox)
        holds the cursor back, and those after it wait. Once the relay has sent all it had
        and the gap has lasted GAP_WAIT, the notebook is opened again on that connection:
        the relay streams once more from the cursor."""
        url, notebook_id = key
        link = self._links.get(url)
        if not (queue and queue[0].seq > cursor + 1 and queue[0].envelope_id != SNAPSHOT_ITEM
                and link is not None and notebook_id in link.caught_up):
            self._gaps.pop(key, None)
            return
        now = time.monotonic()
        since = self._gaps.get(key)
        if since is None or since[0] != cursor:
            self._gaps[key] = (cursor, now)
        elif now - since[1] >= GAP_WAIT:
            del self._gaps[key]
            log.info("relay %s: envelope %d of %s never arrived; fetching from there again",
                     url, cursor + 1, notebook_id)
            self._spawn(link.open(notebook_id, again=True))

    # ---- status ---------------------------------------------------------------------

    def _report(self, message: str) -> None:
        log.warning("sync: %s", message)
        self._problems.append(message)
        if self._on_problem is not None:
            self._on_problem(message)

    def _publish(self) -> None:
        """Recompute the status once this loop iteration's work is done (coalesced: a big
        share or join calls this thousands of times a second)."""
        if not self._publish_scheduled:
            self._publish_scheduled = True
            asyncio.get_running_loop().call_soon(self._publish_now)

    def _publish_now(self) -> None:
        self._publish_scheduled = False
        handled = self._handled_pending
        if self._state is None:
            self._handled = handled
            return
        self._status = summarize(
            notebooks=self._notebooks, links=self._links, keys=self._nb_keys,
            keyring_error=self._keyring_error, pending=self._pending_counts(),
            cursors=self._cursors, heads=self._heads, synced=self._synced,
            busy=self._in_flight + len(self._to_apply) + len(self._outgoing) + self._keys_loading
            + sum(1 for q in self._incoming.values() for i in q if i.ticket is None),
        )
        self._relays = self._relay_report(busy=any(
            s.state == "syncing" and not s.pending for s in self._status.values()))
        self._handled = handled
        if self._on_status is not None:
            self._on_status()

    def _pending_counts(self) -> dict[str, int]:
        """Envelopes not yet acknowledged by every relay, per notebook."""
        per_notebook: dict[str, set[str]] = {}
        for ids in self._unacked.values():
            for env_id, notebook_id in ids.items():
                per_notebook.setdefault(notebook_id, set()).add(env_id)
        return {nb: len(ids) for nb, ids in per_notebook.items()}

    def _schedule_flush(self) -> None:
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_later(STATE_FLUSH_DELAY, self._flush_state)

    def _flush_state(self) -> None:
        """Commit the bookkeeping written since the last flush, in one transaction."""
        self._flush_scheduled = False
        if self._state is None:
            return
        try:
            self._state.flush()
        except StorageError as exc:
            self._report(f"{exc}. Sync keeps working from memory and retries.")

    def _relay_report(self, busy: bool) -> dict[str, str | None]:
        """Per relay: None once it is caught up with nothing left to send, an error
        message once it failed; relays still at work are left out."""
        assert self._state is not None
        unsent = {url: len(ids) for url, ids in self._unacked.items()}
        report: dict[str, str | None] = {}
        for url, link in self._links.items():
            mine = self.notebooks_for(url)
            if link.connected:
                denied = [link.denied[nb] for nb in mine if nb in link.denied]
                if denied:
                    report[url] = f"access denied: {denied[0]}"
                elif not unsent.get(url) and not busy and all(nb in link.caught_up for nb in mine):
                    report[url] = None
            elif link.error is not None:
                report[url] = link.error
        return report


def check_relay_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise PlaitError(f"{url!r} is not a relay address: use ws://host:port or wss://host.")
