"""SearchIndex: a whoosh index in a directory, written by one background thread.

``update``/``delete`` only queue.  The writer thread waits ``BATCH_DELAY`` for more
work, then applies what is queued (up to ``MAX_BATCH`` notes) in one commit.  A note
just indexed cools down for ``COOLDOWN`` times what indexing it cost, so typing in a
long note keeps the writer (pure Python, holding the GIL) to about 5% of a core
instead of re-indexing 100,000 characters every half second; ``hurry`` (a search)
and ``flush`` (a close) take cooling notes at once.
Searches never wait for it: they read the last committed state.  Callbacks
(``on_progress``, ``on_error``) run on the writer thread, except errors found by a
search, which are reported on the searching thread; a GUI must hand them over to
its own thread.  Do not call ``flush`` or ``close`` from a callback.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from functools import partial
from pathlib import Path
from typing import Self

from whoosh.index import LockError
from whoosh.searching import Searcher

from crdt_store.search.documents import NoteDocument
from crdt_store.search.evaluate import matching_notes
from crdt_store.search.highlight import match_ranges, snippet_for
from crdt_store.search.query import ParsedQuery, fuzzy_words, parse_query
from crdt_store.search.results import SearchHit, SearchResults
from crdt_store.search.schema import to_fields
from crdt_store.search.segments import SegmentCache
from crdt_store.search.store import (
    READ_ERRORS,
    merge_policy,
    open_index,
    open_searcher,
    read_versions,
)

__all__ = ["SearchIndex"]

log = logging.getLogger(__name__)

BATCH_DELAY = 0.2  # seconds the writer waits for more work before committing
MAX_BATCH = 1000  # notes per commit at most ...
MAX_BATCH_CHARS = 8_000_000  # ... and characters of text
# During a rebuild: bigger segments, so fewer of the merges that cost whoosh about
# as much as indexing the notes again, and a writer that spills its postings to
# disk only past 256 MB instead of 128 (a quarter faster, about 110 MB more at peak).
REBUILD_BATCH = 5000
REBUILD_BATCH_CHARS = 25_000_000
REBUILD_LIMIT_MB = 256
MAX_ATTEMPTS = 3  # commits of one batch that fail for a reason other than the lock
LOCK_RETRY_MAX = 5.0  # seconds between attempts to get a lock another process holds
COOLDOWN = 19  # a note waits this many times its last indexing time before the next

_Item = tuple[str, int, dict[str, object] | None]  # note_id, sequence number, fields (None: delete)


@dataclass
class _Rebuild:
    total: int
    done: int = 0
    end_seq: int | None = None  # set by end_rebuild: the last queued change of the rebuild


class SearchIndex:
    """Full-text index of a vault's notes in `directory` (which it owns).

    A missing, damaged or outdated index is recreated empty and ``needs_rebuild``
    is True: feed every note (``begin_rebuild``, ``update`` each, ``end_rebuild``).
    ``on_progress(done, total)`` reports rebuild progress as notes are committed;
    ``on_error(message)`` reports problems the index works around (another
    process holding the index, a commit that failed, damage found while searching).
    """

    def __init__(
        self,
        directory: Path,
        *,
        on_progress: Callable[[int, int], None] | None = None,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self.directory = Path(directory)
        self._on_progress = on_progress
        self._on_error = on_error
        self._ix, reason = open_index(self.directory)
        self.needs_rebuild = reason is not None
        self.open_reason = reason  # why the index was created empty, or None
        self._cond = threading.Condition()
        self._pending: dict[str, tuple[int, dict[str, object] | None]] = {}
        self._seq = 0  # last queued change
        self._done = 0  # every change up to this one is committed (or given up)
        self._urgent = False
        # note id -> when it may be indexed again (monotonic): only notes cooling down
        self._cooling: dict[str, float] = {}
        self._closing = False
        self._reset = False
        self._rebuild: _Rebuild | None = None
        self._search_lock = threading.Lock()
        self._searcher: Searcher | None = None
        self._segments = SegmentCache()
        self._worker = threading.Thread(target=self._run, name="plait-search-writer", daemon=True)
        self._worker.start()

    # ------------------------------------------------------------------ writing

    def update(self, doc: NoteDocument) -> None:
        """Queue `doc` to be (re)indexed; ``ValueError`` if its dates are impossible."""
        self._enqueue(doc.note_id, to_fields(doc))

    def delete(self, note_id: str) -> None:
        """Queue the removal of a note."""
        self._enqueue(note_id, None)

    def _enqueue(self, note_id: str, fields: dict[str, object] | None) -> None:
        with self._cond:
            if self._closing:
                raise RuntimeError("the search index is closed")
            self._seq += 1
            self._pending.pop(note_id, None)  # keep the queue in sequence order
            self._pending[note_id] = (self._seq, fields)
            self._cond.notify_all()

    def hurry(self) -> None:
        """Commit what is queued now, cooling notes too, without waiting for it (someone
        is about to search)."""
        with self._cond:
            if self._pending:
                self._urgent = True
                self._cond.notify_all()

    def flush(self, timeout: float | None = None) -> bool:
        """Commit everything queued so far now; wait for it. False on timeout."""
        with self._cond:
            target = self._seq
            if self._pending:
                self._urgent = True
                self._cond.notify_all()
            return self._cond.wait_for(
                lambda: self._done >= target or not self._worker.is_alive(), timeout
            ) and self._done >= target

    def close(self, timeout: float | None = 10.0) -> None:
        """Commit what is queued (waiting up to `timeout`), stop the writer, close files."""
        if self._worker.is_alive():
            self.flush(timeout)
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._worker.join(timeout)
        with self._cond:
            if self._pending:
                log.warning("%d changes were not written to the search index", len(self._pending))
        with self._search_lock:
            if self._searcher is not None:
                self._searcher.close()
                self._searcher = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ rebuild

    def begin_rebuild(self, total: int) -> None:
        """The vault is about to feed `total` notes; searches report ``incomplete``."""
        with self._cond:
            self._rebuild = _Rebuild(total)

    def end_rebuild(self) -> None:
        """Every note of the rebuild is queued; it ends once they are committed."""
        with self._cond:
            if self._rebuild is None:
                return
            self._rebuild.end_seq = self._seq
            progress = self._advance_rebuild(0)
        self._progress(progress)

    @property
    def rebuilding(self) -> bool:
        return self._rebuild is not None

    @property
    def progress(self) -> tuple[int, int] | None:
        """(notes committed, notes to index) while a rebuild runs, else None."""
        with self._cond:
            r = self._rebuild
            return None if r is None else (r.done, r.total)

    def _advance_rebuild(self, updated: int) -> tuple[int, int] | None:
        """Count `updated` notes as committed (lock held); the progress to report."""
        r = self._rebuild
        if r is None:
            return None
        r.done = min(r.total, r.done + updated)
        if r.end_seq is not None and self._done >= r.end_seq:
            self._rebuild = None
            self.needs_rebuild = False
            return r.total, r.total
        return r.done, r.total

    # ------------------------------------------------------------------ the writer thread

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending or self._closing or self._reset)
                reset, self._reset = self._reset, False
                if not reset and not self._pending:
                    return  # closing, nothing left
                batch = [] if reset else self._take()
            if reset:
                self._reopen()
            elif batch and not self._commit(batch) and self._closing:
                return

    def _take(self) -> list[_Item]:
        """Wait up to BATCH_DELAY for more work (lock held), then take a batch. If all
        that is queued is cooling down, wait until the first note may go and return []."""
        deadline = time.monotonic() + BATCH_DELAY
        most, most_chars = ((REBUILD_BATCH, REBUILD_BATCH_CHARS) if self._rebuild is not None
                            else (MAX_BATCH, MAX_BATCH_CHARS))
        while not (self._urgent or self._closing) and len(self._pending) < most:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self._cond.wait(left)
        now = time.monotonic()
        self._cooling = {n: t for n, t in self._cooling.items() if t > now}
        cooling = {} if self._urgent or self._closing else self._cooling
        batch: list[_Item] = []
        chars = 0
        for note_id in list(itertools.islice(self._pending, most + len(cooling))):
            if note_id in cooling:
                continue
            seq, fields = self._pending.pop(note_id)
            batch.append((note_id, seq, fields))
            chars += len(fields["body"]) if fields else 0
            if chars > most_chars or len(batch) >= most:
                break
        if not self._pending:
            self._urgent = False
        if not batch:  # a flush, new work or closing wakes it sooner
            self._cond.wait(min(cooling[n] for n in self._pending if n in cooling) - now)
        return batch

    def deferred(self) -> list[str]:
        """Notes queued but cooling down after their last indexing (tests, diagnostics)."""
        with self._cond:
            return [n for n in self._pending if n in self._cooling]

    def _commit(self, batch: list[_Item]) -> bool:
        """Write `batch` in one commit, retrying; False if given up because closing."""
        delay, failures, told = 0.1, 0, False
        while True:
            try:
                started = time.monotonic()
                self._write(batch)
                self._cool(batch, started)
                break
            except LockError:
                if not told:
                    self._report("The search index is in use by another Plait process; "
                                 "changes will be indexed once it is free.")
                    told = True
            except Exception as exc:  # a damaged index, a full disk, a whoosh bug: report, retry
                failures += 1
                log.exception("search index commit failed")
                self._report(f"Could not update the search index ({type(exc).__name__}: {exc}).")
                if failures >= MAX_ATTEMPTS:
                    self.needs_rebuild = True
                    self._report(f"{len(batch)} notes were left out of the search index; "
                                 "it will be rebuilt.")
                    break
                self._reopen()
            if self._wait_closing(delay):
                self._requeue(batch)
                return False
            delay = min(delay * 2, LOCK_RETRY_MAX)
        with self._cond:
            # Cooling notes can stay queued behind newer ones: done is up to the oldest.
            self._done = max(self._done, min((seq for seq, _ in self._pending.values()),
                                             default=self._seq + 1) - 1)
            progress = self._advance_rebuild(sum(1 for *_, f in batch if f is not None))
            self._cond.notify_all()
        self._progress(progress)
        return True

    def _cool(self, batch: list[_Item], started: float) -> None:
        """Give each note of a committed batch its cool-down: its share of the commit's
        time, by characters, times COOLDOWN."""
        finished = time.monotonic()
        sizes = {note_id: len(fields["body"]) for note_id, _, fields in batch if fields}
        total = sum(sizes.values())
        if not total:
            return
        per_char = COOLDOWN * (finished - started) / total
        with self._cond:
            for note_id, size in sizes.items():
                self._cooling[note_id] = finished + per_char * size

    def _write(self, batch: list[_Item]) -> None:
        writer = self._ix.writer(timeout=0.0, limitmb=REBUILD_LIMIT_MB if self.rebuilding else 128)
        try:
            for note_id, _, fields in batch:
                if fields is None:
                    writer.delete_by_term("note_id", note_id)
                else:
                    writer.update_document(**fields)
            writer.commit(mergetype=partial(merge_policy, rebuilding=self.rebuilding))
        finally:
            if not writer.is_closed:
                writer.cancel()

    def _wait_closing(self, seconds: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._closing, seconds)

    def _requeue(self, batch: list[_Item]) -> None:
        with self._cond:
            for note_id, seq, fields in batch:
                self._pending.setdefault(note_id, (seq, fields))
            self._pending = dict(sorted(self._pending.items(), key=lambda kv: kv[1][0]))

    def _reopen(self) -> None:
        """Reopen the index after an error, recreating it empty if it is damaged."""
        with self._search_lock:
            if self._searcher is not None:
                self._searcher.close()
                self._searcher = None
            self._ix, reason = open_index(self.directory)
            self._segments.clear()
        if reason is not None:
            self.needs_rebuild = True
            self._report(f"The search index was recreated empty: {reason}.")

    # ------------------------------------------------------------------ reading

    def search(
        self,
        query: str | ParsedQuery,
        *,
        limit: int | None = 50,
        trash: bool = False,
        now: float | None = None,
    ) -> SearchResults:
        """Notes matching `query`, best first (newest first for filter-only queries).

        Only notes in the trash with ``trash=True``, only others without.
        ``SearchQueryError`` for a malformed query string.
        """
        if not isinstance(query, ParsedQuery):
            query = parse_query(query, now=time.time() if now is None else now)
        if limit is not None and limit < 1:
            raise ValueError("limit must be at least 1 (or None for all)")
        try:
            with self._search_lock:
                searcher = self._fresh_searcher()
                best, total = matching_notes(searcher, query.query, self._segments,
                                             trash=trash, limit=limit, ranked=query.ranked)
                found = [(searcher.stored_fields(docnum), score if query.ranked else None)
                         for docnum, score in best]
                if found:
                    readers = [leaf for leaf, _ in searcher.reader().leaf_readers()
                               if leaf.doc_count_all()]
                    fuzzy = frozenset(fuzzy_words(
                        query, partial(self._segments.vocabulary, readers)))
                else:
                    fuzzy = None
        except READ_ERRORS as exc:
            self._damaged(exc)
            return SearchResults([], 0, True)
        hits = [_hit(fields, score, query, fuzzy) for fields, score in found]
        return SearchResults(hits, total, self.rebuilding)

    def versions(self) -> dict[str, str]:
        """note_id -> version of every indexed note (trashed ones included)."""
        try:
            with self._search_lock:
                return read_versions(self._fresh_searcher().reader())
        except READ_ERRORS as exc:
            self._damaged(exc)
            return {}

    def _fresh_searcher(self) -> Searcher:
        """A searcher on the latest commit (search lock held); see ``open_searcher``."""
        if self._searcher is None or not self._searcher.up_to_date():
            old, self._searcher = self._searcher, None
            self._searcher = open_searcher(self._ix, old)
        return self._searcher

    def _damaged(self, exc: BaseException) -> None:
        log.error("search index read failed", exc_info=exc)
        self._report(f"The search index is damaged ({type(exc).__name__}: {exc}); rebuilding it.")
        self.needs_rebuild = True
        with self._cond:
            self._reset = True
            self._cond.notify_all()

    # ------------------------------------------------------------------ callbacks

    def _report(self, message: str) -> None:
        log.warning("%s: %s", self.directory, message)
        if self._on_error is not None:
            try:
                self._on_error(message)
            except Exception:  # a broken callback must not stop the writer
                log.exception("search index on_error callback failed")

    def _progress(self, progress: tuple[int, int] | None) -> None:
        if progress is not None and self._on_progress is not None:
            try:
                self._on_progress(*progress)
            except Exception:
                log.exception("search index on_progress callback failed")


def _hit(
    fields: dict[str, object], score: float | None, query: ParsedQuery, fuzzy: frozenset[str] | None
) -> SearchHit:
    body = str(fields.get("body", ""))
    snippet, snippet_matches = snippet_for(body, query.terms, fuzzy)
    return SearchHit(
        note_id=str(fields["note_id"]),
        title=str(fields.get("title", "")),
        notebook_id=fields.get("notebook_id"),
        notebook_name=str(fields.get("notebook", "")),
        modified=fields["modified"].replace(tzinfo=UTC).timestamp(),
        score=score,
        snippet=snippet,
        snippet_matches=snippet_matches,
        find_body_matches=partial(match_ranges, body, query.terms, fuzzy),
    )
