"""SearchIndex on real whoosh indexes: updates, rebuilds, damage, locks and concurrency."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
from whoosh.filedb.filestore import FileStorage
from whoosh.index import FileIndex

from crdt_store.search import NoteDocument, SearchIndex, parse_query
from crdt_store.search import index as search_index
from crdt_store.search.schema import INDEX_NAME, SCHEMA
from crdt_store.search.store import MERGE_FACTOR, segments_to_merge

from .waiting import wait_for

NOW = time.time()
ROOT = Path(__file__).resolve().parents[1]


def doc(i: int, body: str = "", **changes: object) -> NoteDocument:
    body = body or f"Note {i}\nalpha common words number{i} café"
    base = NoteDocument(
        note_id=f"n{i}", notebook_id="nb", notebook_name="Work", title=body.split("\n")[0], body=body,
        tags=("ideas",), authors=("Ada",), created=NOW - i, modified=NOW - i, trashed=False, version=f"v{i}",
    )
    return replace(base, **changes)


def ids(ix: SearchIndex, query: str, **kw: object) -> list[str]:
    return sorted(h.note_id for h in ix.search(query, limit=None, **kw).hits)


@pytest.fixture
def ixdir(tmp_path: Path) -> Path:
    return tmp_path / "search"


@pytest.fixture
def filled(ixdir: Path) -> Path:
    """An index directory holding notes n0..n19, closed."""
    with SearchIndex(ixdir) as ix:
        for i in range(20):
            ix.update(doc(i))
        assert ix.flush(30)
    return ixdir


# --------------------------------------------------------------------------- updates


def test_updates_deletes_and_versions(ixdir: Path) -> None:
    with SearchIndex(ixdir) as ix:
        assert ix.needs_rebuild and ix.open_reason == "there was no search index yet"
        ix.update(doc(1, "First\nold words here"))
        ix.update(doc(2, "Second\nmore old words"))
        assert ix.flush(30)
        assert ids(ix, "old") == ["n1", "n2"]
        ix.update(doc(1, "First\nnew words", version="v1b"))
        ix.delete("n2")
        ix.delete("never-indexed")
        assert ix.flush(30)
        assert ids(ix, "old") == []
        assert ids(ix, "new") == ["n1"]
        assert ix.versions() == {"n1": "v1b"}
    with SearchIndex(ixdir) as ix:
        assert not ix.needs_rebuild and ix.open_reason is None
        assert ix.versions() == {"n1": "v1b"}


def test_a_long_note_being_typed_in_cools_down_between_indexings(
        ixdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Indexing 300,000 characters costs the writer thread a fraction of a second of
    pure Python: while someone keeps typing, the note waits COOLDOWN times that before
    it is indexed again, other notes do not wait, and a search or a flush takes it at
    once. (COOLDOWN is made huge here, so only hurry and flush can take it.)"""
    monkeypatch.setattr(search_index, "COOLDOWN", 100_000)
    words = " ".join(f"word{i % 5000}" for i in range(40_000))
    with SearchIndex(ixdir) as ix:
        ix.update(doc(1, f"Long\n{words}"))
        assert ix.flush(60)
        ix.update(doc(1, f"Long\n{words} zebra", version="v1b"))  # typed a moment later
        ix.update(doc(2, "Short\nquick words"))
        assert wait_for(lambda: ids(ix, "quick") == ["n2"], 60)  # indexed without waiting
        assert ix.deferred() == ["n1"]
        assert ids(ix, "zebra") == []  # still cooling down
        ix.hurry()  # someone is about to search: it goes now, without waiting
        assert wait_for(lambda: ids(ix, "zebra") == ["n1"], 60)
        ix.update(doc(1, f"Long\n{words} zebra yak", version="v1c"))
        assert wait_for(lambda: ix.deferred() == ["n1"], 60)
        assert ix.flush(60)  # a flush (closing, the CLI) takes it too, and waits
        assert ids(ix, "yak") == ["n1"]
        assert ix.deferred() == []


def test_trash_filter_and_sorting(ixdir: Path) -> None:
    with SearchIndex(ixdir) as ix:
        for i in range(6):
            ix.update(doc(i, trashed=i % 3 == 0))
        assert ix.flush(30)
        assert ids(ix, "alpha") == ["n1", "n2", "n4", "n5"]
        assert ids(ix, "alpha", trash=True) == ["n0", "n3"]
        filtered = ix.search("tag:ideas")  # no words: newest first, no score
        assert [h.note_id for h in filtered.hits] == ["n1", "n2", "n4", "n5"]
        assert all(h.score is None for h in filtered.hits)
        ranked = ix.search(parse_query("number4 OR alpha", now=NOW))
        assert ranked.hits[0].note_id == "n4" and ranked.hits[0].score > ranked.hits[1].score
        assert ix.search("alpha", limit=2).total == 4 and len(ix.search("alpha", limit=2).hits) == 2


def test_hit_fields(ixdir: Path) -> None:
    body = "Title line\n😀😀 then café and more text"
    with SearchIndex(ixdir) as ix:
        ix.update(doc(7, body, notebook_id=None, notebook_name=""))
        assert ix.flush(30)
        [hit] = ix.search("cafe").hits
    assert (hit.note_id, hit.title, hit.notebook_id, hit.notebook_name) == ("n7", "Title line", None, "")
    assert abs(hit.modified - (NOW - 7)) < 1e-3
    assert [body[a:b] for a, b in hit.body_matches] == ["café"]
    assert [hit.snippet[a:b] for a, b in hit.snippet_matches] == ["café"]


def test_bad_documents_are_refused_at_once(ixdir: Path) -> None:
    with SearchIndex(ixdir) as ix:
        with pytest.raises(ValueError, match="timestamp out of range"):
            ix.update(doc(1, created=1e20))
        ix.update(doc(2, "Lone \ud800 surrogate\nfrom Qt"))
        assert ix.flush(30)
        assert ids(ix, "surrogate") == ["n2"]
        with pytest.raises(ValueError):
            ix.search("x", limit=0)
    with pytest.raises(RuntimeError):
        ix.update(doc(3))
    ix.close()  # idempotent


# --------------------------------------------------------------------------- rebuild


def test_rebuild_reports_progress_and_incomplete_results(ixdir: Path) -> None:
    progress: list[tuple[int, int]] = []
    with SearchIndex(ixdir, on_progress=lambda d, t: progress.append((d, t))) as ix:
        assert ix.needs_rebuild
        ix.begin_rebuild(1500)
        assert ix.search("alpha").incomplete
        for i in range(1500):
            ix.update(doc(i))
        ix.end_rebuild()
        assert ix.flush(120)
        results = ix.search("alpha")
        assert not results.incomplete and results.total == 1500
        assert not ix.rebuilding and not ix.needs_rebuild
    assert progress[-1] == (1500, 1500)
    assert len(progress) >= 2  # more than one commit: progress shows up as it happens
    assert [d for d, _ in progress] == sorted(d for d, _ in progress)


def test_a_new_searcher_keeps_unchanged_segments_and_sees_new_deletions(ixdir: Path) -> None:
    with SearchIndex(ixdir) as ix:
        for i in range(6):
            ix.update(doc(i))
        assert ix.flush(30)
        first = {r.segment().segment_id(): r for r, _ in ix._fresh_searcher().reader().leaf_readers()}
        ix.update(doc(10))  # a new segment; the first is unchanged
        assert ix.flush(30)
        second = {r.segment().segment_id(): r for r, _ in ix._fresh_searcher().reader().leaf_readers()}
        assert all(second[s] is r for s, r in first.items())
        ix.update(doc(1, body="Note 1\nreplaced"))  # deletes from the first segment
        ix.delete("n2")
        assert ix.flush(30)
        assert ids(ix, "alpha") == ["n0", "n10", "n3", "n4", "n5"]
        assert ids(ix, "replaced") == ["n1"]
        third = {r.segment().segment_id(): r for r, _ in ix._fresh_searcher().reader().leaf_readers()}
        assert all(third[s] is not r for s, r in first.items() if s in third)


def test_segments_are_merged(ixdir: Path) -> None:
    with SearchIndex(ixdir) as ix:
        for i in range(3 * MERGE_FACTOR):
            ix.update(doc(i))
            assert ix.flush(30)
        assert len(list(ixdir.glob("*.seg"))) < 2 * MERGE_FACTOR
        assert len(ids(ix, "alpha")) == 3 * MERGE_FACTOR


def test_merge_choice_stays_within_a_tier_and_a_budget() -> None:
    assert segments_to_merge([5] * 9, 2000) == []  # a tier merges once it holds 10 segments
    assert sorted(segments_to_merge([5] * 10 + [500] * 3, 2000)) == list(range(10))
    big = [530] * 10 + [5300]  # what a rebuild of 10,000 notes leaves behind, and one more
    assert sorted(segments_to_merge(big, 2000)) == [0, 1, 2]  # a bounded merge for an edit
    assert sorted(segments_to_merge(big, None)) == list(range(10))  # all of it during a rebuild
    assert segments_to_merge([1500] * 10, 2000) == []  # never merges just one segment


# --------------------------------------------------------------------------- damage


def _toc(d: Path) -> Path:
    return next(d.glob(f"_{INDEX_NAME}_*.toc"))


def _segment(d: Path) -> Path:
    return next(d.glob("*.seg"))


def _garbage(path: Path, at: int | None = None) -> None:
    data = bytearray(path.read_bytes())
    start = len(data) // 2 if at is None else at
    data[start : start + 64] = random.Random(start).randbytes(64)
    path.write_bytes(bytes(data))


DAMAGE = {
    "directory deleted": lambda d: shutil.rmtree(d),
    "segment deleted": lambda d: _segment(d).unlink(),
    "toc deleted": lambda d: _toc(d).unlink(),
    "toc truncated": lambda d: _toc(d).write_bytes(_toc(d).read_bytes()[:40]),
    "toc empty": lambda d: _toc(d).write_bytes(b""),
    "toc garbage": lambda d: _toc(d).write_bytes(os.urandom(2000)),
    "segment truncated": lambda d: _segment(d).write_bytes(_segment(d).read_bytes()[:1000]),
    "segment garbage": lambda d: _segment(d).write_bytes(os.urandom(_segment(d).stat().st_size)),
    "segment garbage at end": lambda d: _garbage(_segment(d), _segment(d).stat().st_size - 64),
    "old schema version": lambda d: [p.rename(p.with_name(p.name.replace(INDEX_NAME, "plait_v0")))
                                     for p in d.iterdir()],
}


@pytest.mark.parametrize("damage", DAMAGE, ids=list(DAMAGE))
def test_damaged_index_is_recreated_empty(filled: Path, damage: str) -> None:
    DAMAGE[damage](filled)
    errors: list[str] = []
    with SearchIndex(filled, on_error=errors.append) as ix:
        assert ix.needs_rebuild
        assert ix.search("alpha").hits == []
        assert ix.versions() == {}
        ix.update(doc(99))
        assert ix.flush(30)
        assert ids(ix, "alpha") == ["n99"]
    assert errors == []  # found at open: nothing to report later
    assert not list(filled.glob("plait_v0*"))


def test_damage_found_by_a_search_is_reported_and_repaired(filled: Path) -> None:
    """Damage the open-time check cannot see (postings of a live index) is handled
    when a search trips over it: reported, empty results, index recreated."""
    errors: list[str] = []
    with SearchIndex(filled, on_error=errors.append) as ix:
        assert not ix.needs_rebuild
        for path in filled.glob("*.seg"):  # keep the segment's header and directory, garble the rest
            data = bytearray(path.read_bytes())
            data[400:-400] = random.Random(0).randbytes(len(data) - 800)
            path.write_bytes(bytes(data))
        results = [ix.search(q) for q in ("alpha", "number3", "zzz*", "cafe~")]
        assert any(r.incomplete and not r.hits for r in results)
        assert ix.needs_rebuild
        assert "The search index is damaged" in errors[0]
        ix.update(doc(99))
        assert ix.flush(30)
        assert ids(ix, "alpha") == ["n99"]


# --------------------------------------------------------------------------- locks


def test_stale_lock_file_is_ignored(filled: Path) -> None:
    (filled / f"{INDEX_NAME}_WRITELOCK").write_bytes(b"pid 12345 from a crashed run")
    errors: list[str] = []
    with SearchIndex(filled, on_error=errors.append) as ix:
        ix.update(doc(50))
        assert ix.flush(30)
        assert "n50" in ids(ix, "alpha")
    assert errors == []


_HOLD_LOCK = """
import sys, time
from whoosh.index import open_dir
from crdt_store.search.schema import INDEX_NAME, SCHEMA, to_fields
from tests.test_search_index import doc
writer = open_dir(sys.argv[1], indexname=INDEX_NAME, schema=SCHEMA).writer()
for i in range(200, 400):
    writer.add_document(**to_fields(doc(i)))
print("locked", flush=True)
time.sleep(120)
"""


def test_lock_of_a_killed_process_is_released(filled: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", _HOLD_LOCK, str(filled)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(30)
    errors: list[str] = []
    with SearchIndex(filled, on_error=errors.append) as ix:
        assert not ix.needs_rebuild
        ix.update(doc(50))
        assert ix.flush(30)
        assert ids(ix, "alpha") == sorted([f"n{i}" for i in range(20)] + ["n50"])
    assert errors == []


def test_lock_held_elsewhere_is_retried_and_nothing_is_lost(filled: Path) -> None:
    other = FileIndex(FileStorage(str(filled)), schema=SCHEMA, indexname=INDEX_NAME).lock("WRITELOCK")
    assert other.acquire()  # as another process in the middle of a commit
    errors: list[str] = []
    reported = threading.Event()
    ix = SearchIndex(filled, on_error=lambda m: (errors.append(m), reported.set()))
    try:
        ix.update(doc(60))
        assert not ix.flush(timeout=0.5)
        assert reported.wait(30)
        assert "in use by another Plait process" in errors[0]
        assert "n60" not in ids(ix, "alpha")  # searching still works meanwhile
        other.release()
        assert ix.flush(30)
        assert "n60" in ids(ix, "alpha")
    finally:
        ix.close()
    assert len(errors) == 1  # reported once, not at every retry


def test_two_instances_on_one_directory(ixdir: Path) -> None:
    errors: list[str] = []
    a = SearchIndex(ixdir)
    b = SearchIndex(ixdir, on_error=errors.append)
    try:
        for i in range(300):
            (a if i % 2 else b).update(doc(i))
            if i % 50 == 0:
                a.flush(0)
                b.flush(0)
        assert a.flush(60) and b.flush(60)
    finally:
        a.close()
    assert len(ids(b, "alpha")) == 300
    b.update(doc(999))
    assert b.flush(30)
    b.close()
    with SearchIndex(ixdir) as c:
        assert len(c.versions()) == 301


# --------------------------------------------------------------------------- concurrency


def test_searches_do_not_wait_for_a_big_commit(ixdir: Path) -> None:
    filler = " ".join(f"w{k}" for k in range(150))
    with SearchIndex(ixdir) as ix:
        for i in range(10):
            ix.update(doc(i))
        assert ix.flush(30)
        queued = threading.Event()
        saw_old_state_after_queueing = threading.Event()
        stop = threading.Event()
        durations: list[float] = []

        def search_loop() -> None:
            while not stop.is_set():
                after_queueing = queued.is_set()
                start = time.perf_counter()
                total = ix.search("alpha").total
                durations.append(time.perf_counter() - start)
                if after_queueing and total == 10:
                    saw_old_state_after_queueing.set()

        thread = threading.Thread(target=search_loop)
        thread.start()
        try:
            for i in range(10, 2010):
                ix.update(doc(i, f"Note {i}\nalpha {filler} number{i}"))
            queued.set()
            assert saw_old_state_after_queueing.wait(60)  # searched while the commit ran
            assert ix.flush(300)
        finally:
            stop.set()
            thread.join()
        assert ix.search("alpha").total == 2010
    assert len(durations) >= 5
    assert max(durations) < 0.5, sorted(durations)[-5:]
