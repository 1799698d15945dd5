"""Search benchmark: Plait's whoosh index beside a brute-force scan and SQLite FTS5.

Generated notes of realistic length (``search_workload``) are fed to a fresh
``SearchIndex`` as a rebuild, and the same notes go to the baselines
(``search_baselines``).  The same queries then run through each, interleaved
query by query so machine noise hits all alike: Plait through
``SearchIndex.search`` (50 hits with snippets and match ranges, and the total),
FTS5 with ``snippet()`` and ``count(*)``, the scan returning ids and the total.
Every query is run once untimed first.  The totals must agree (FTS5's within
its tokenizer's rules), or the run stops.

Also measured: rebuild time and throughput, index size, reopen time, the time
from ``update`` of an edited note until a search finds its new word (polled),
and search latency while a large batch commits.

Run with `make bench ARGS=search` (10,000 and 50,000 notes) or
`python -m tests.benchmarks search --limit 2000` (one corpus of 2,000 notes).
"""

from __future__ import annotations

import dataclasses
import gc
import statistics
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from crdt_store.search import NoteDocument, SearchIndex

from .search_baselines import BruteForce, Fts5, fts5_available, text_bytes
from .search_workload import KINDS, BenchQuery, make_workload, query_mix
from .table import print_table

SIZES = (10_000, 50_000)
PER_KIND = 20  # queries of each kind
REPEATS = 3  # timed runs of each query for Plait and FTS5 (the scan: 1)
EDITS = 20  # edits timed until searchable
BATCH = 2_000  # notes re-indexed while searching
EDIT_TIMEOUT = 10.0
TARGET_P95_MS = {10_000: 50, 50_000: 100}

BUSY_INTERVAL = 0.05  # seconds between searches during the batch: a fast typist
Row = tuple[str, str, str, str, str, str]


def _pct(values: list[float], pct: int) -> float:
    """The `pct` percentile of `values` in ms (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, -(-len(ordered) * pct // 100) - 1))] * 1e3


def _p50_95(values: list[float]) -> str:
    return f"{_pct(values, 50):.1f} / {_pct(values, 95):.1f}" if values else "n/a"


def _ratio(ours: list[float], theirs: list[float]) -> str:
    if not ours or not theirs:
        return ""
    return f"{_pct(ours, 50) / _pct(theirs, 50):.2f}x / {_pct(ours, 95) / _pct(theirs, 95):.2f}x"


def _timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _build_plait(directory: Path, notes: list[NoteDocument]) -> tuple[float, SearchIndex]:
    start = time.perf_counter()
    index = SearchIndex(directory)
    index.begin_rebuild(len(notes))
    for note in notes:
        index.update(note)
    index.end_rebuild()
    if not index.flush(timeout=None):
        raise RuntimeError("the rebuild did not finish")
    return time.perf_counter() - start, index


def _reopen(directory: Path, runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        seconds, index = _timed(lambda: SearchIndex(directory))
        if index.needs_rebuild:
            raise RuntimeError(f"the index did not reopen: {index.open_reason}")
        index.close()
        times.append(seconds)
    return statistics.median(times)


def _check(query: BenchQuery, plait: int, scan: int, fts: tuple[list[str], int] | None) -> None:
    if plait != scan or (fts is not None and fts[1] != scan):
        raise AssertionError(f"{query.kind} {query.text!r}: Plait found {plait}, the scan {scan}, "
                             f"FTS5 {None if fts is None else fts[1]}")


def _latencies(index: SearchIndex, scan: BruteForce, fts: Fts5 | None,
               queries: list[BenchQuery]) -> dict[str, dict[str, list[float]]]:
    """Seconds per query kind and engine, the engines interleaved query by query."""
    for q in queries:  # warm-up, and the totals must agree
        _check(q, index.search(q.text).total, scan.search(q)[1], fts.search(q) if fts else None)
    out: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for q in queries:
        for rep in range(REPEATS):
            out[q.kind]["plait"].append(_timed(lambda q=q: index.search(q.text))[0])
            if fts is not None:
                seconds, found = _timed(lambda q=q: fts.search(q))
                if found is not None:
                    out[q.kind]["fts"].append(seconds)
            if rep == 0:
                out[q.kind]["scan"].append(_timed(lambda q=q: scan.search(q))[0])
    return out


def _edited(note: NoteDocument, i: int) -> tuple[NoteDocument, str]:
    word = f"zqedit{i}x{int(time.time() * 1000) % 100000}"
    body = note.body + f"\nEdited: {word}.\n"
    return dataclasses.replace(note, body=body, modified=note.modified + 1, version=f"e{i}"), word


def _edit_to_searchable(index: SearchIndex, fts: Fts5 | None,
                        notes: list[NoteDocument]) -> tuple[list[float], list[float]]:
    """Seconds from `update` of an edited note until a search finds its new word."""
    plait: list[float] = []
    sql: list[float] = []
    live = [n for n in notes if not n.trashed]
    for i in range(EDITS):
        note, word = _edited(live[i * len(live) // EDITS], i)
        start = time.perf_counter()
        index.update(note)
        deadline = start + EDIT_TIMEOUT
        while index.search(word, limit=1).total == 0:
            if time.perf_counter() > deadline:
                raise RuntimeError(f"an edit was not searchable after {EDIT_TIMEOUT} s")
            time.sleep(0.002)
        plait.append(time.perf_counter() - start)
        if fts is not None:
            start = time.perf_counter()
            fts.update(note)
            probe = fts.conn.execute("SELECT count(*) FROM notes WHERE notes MATCH ?", (word,))
            if probe.fetchone()[0] != 1:
                raise RuntimeError("FTS5 did not find an edit")
            sql.append(time.perf_counter() - start)
    return plait, sql


def _search_while_committing(index: SearchIndex, notes: list[NoteDocument],
                             queries: list[BenchQuery]) -> tuple[list[float], float, int]:
    """Query latencies while `BATCH` re-indexed notes commit (a search every
    BUSY_INTERVAL, as someone typing in the search box); the commit's seconds."""
    batch = [dataclasses.replace(n, version=n.version + "b") for n in notes[:BATCH]]
    done = threading.Event()
    start = time.perf_counter()
    for note in batch:
        index.update(note)
    committed = [0.0]

    def wait() -> None:
        index.flush(timeout=None)
        committed[0] = time.perf_counter() - start
        done.set()

    waiter = threading.Thread(target=wait, name="bench-flush")
    waiter.start()
    times: list[float] = []
    i = 0
    while not done.wait(BUSY_INTERVAL):
        text = queries[i % len(queries)].text
        times.append(_timed(lambda text=text: index.search(text))[0])
        i += 1
    waiter.join()
    return times, committed[0], len(batch)


def run(n: int) -> tuple[list[Row], dict[str, object]]:
    """Build, query and edit a corpus of `n` notes; the table rows and facts."""
    made, workload = _timed(lambda: make_workload(n))
    notes = workload.notes
    queries = query_mix(workload, PER_KIND)
    mb = text_bytes(notes) / 1e6
    no_fts = fts5_available()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        plait_build, index = _build_plait(root / "index", notes)
        index.close()
        plait_size = _dir_bytes(root / "index")
        reopen = _reopen(root / "index")
        scan_build, scan = _timed(lambda: BruteForce(notes))
        fts: Fts5 | None = None
        fts_build = fts_size = fts_reopen = 0.0
        if no_fts is None:
            fts_build, fts = _timed(lambda: Fts5(root / "fts.db", notes))
            fts.close()
            fts_size = (root / "fts.db").stat().st_size
            fts_reopen, fts = _timed(lambda: Fts5(root / "fts.db"))
        index = SearchIndex(root / "index")
        gc.collect()
        gc.freeze()  # the corpus and the scan's copy are the harness's, not the searches' garbage
        try:
            lat = _latencies(index, scan, fts, queries)
            edit_plait, edit_fts = _edit_to_searchable(index, fts, notes)
            busy, commit_s, batch = _search_while_committing(index, notes, queries)
        finally:
            index.close()
            if fts is not None:
                fts.close()
            gc.unfreeze()
    every = {e: [t for k in KINDS for t in lat[k][e]] for e in ("plait", "scan", "fts")}
    rows: list[Row] = []
    for kind in (*KINDS, "all queries"):
        got = every if kind == "all queries" else lat[kind]
        rows.append((f"{kind}, p50 / p95 (ms)", _p50_95(got["plait"]), _p50_95(got["scan"]),
                     _p50_95(got["fts"]), _ratio(got["plait"], got["scan"]),
                     _ratio(got["plait"], got["fts"])))
    fts_cell = (lambda text: text) if fts is not None else (lambda text: "n/a")
    rows += [
        ("rebuild (s)", f"{plait_build:.1f}", f"{scan_build:.1f}", fts_cell(f"{fts_build:.1f}"), "", ""),
        ("rebuild (notes/s, MB/s)", f"{n / plait_build:,.0f}, {mb / plait_build:.2f}",
         f"{n / scan_build:,.0f}, {mb / scan_build:.2f}",
         fts_cell(f"{n / fts_build:,.0f}, {mb / fts_build:.2f}") if fts_build else "n/a", "", ""),
        ("index size (MB)", f"{plait_size / 1e6:.0f}", "", fts_cell(f"{fts_size / 1e6:.0f}"), "", ""),
        ("reopen (ms)", f"{reopen * 1e3:.0f}", "", fts_cell(f"{fts_reopen * 1e3:.1f}"), "", ""),
        ("edit to searchable, p50 / p95 (ms)", _p50_95(edit_plait), "", _p50_95(edit_fts), "", ""),
        (f"search while {batch:,} notes commit, p50 / p95 (ms)", _p50_95(busy), "", "", "", ""),
    ]
    facts = {
        "notes": n, "mb": mb, "words": sum(len(x.body.split()) for x in notes), "made": made,
        "queries": len(queries), "no_fts": no_fts, "commit_s": commit_s, "busy_n": len(busy),
        "p95_all": _pct(every["plait"], 95),
    }
    return rows, facts


def _print_table(rows: list[Row]) -> None:
    header = ("measure", "plait (whoosh)", "brute-force scan", "SQLite FTS5",
              "plait/scan (p50 / p95)", "plait/FTS5 (p50 / p95)")
    print_table(rows, header)


def main(limit: int | None = None) -> tuple[tuple[str, ...], list]:
    summary = []
    for n in SIZES if limit is None else (limit,):
        rows, f = run(n)
        target = TARGET_P95_MS.get(n)
        for r in rows:
            if r[0].startswith("all queries") and target is not None:
                summary.append((f"{n:,} notes: {r[0]} (target p95 ≤ {target} ms)", *r[1:]))
            elif r[0].startswith(("rebuild (s)", "edit to searchable")):
                summary.append((f"{n:,} notes: {r[0]}", *r[1:]))
        print(f"\nSearch benchmark: {n:,} notes, {f['words']:,} words, {f['mb']:.1f} MB of text "
              f"(generated in {f['made']:.1f} s); {f['queries']} queries, "
              f"{REPEATS} timed runs each (the scan: 1)")
        _print_table(rows)
        if f["no_fts"]:
            print(f"FTS5 baseline skipped: {f['no_fts']}")
        target = TARGET_P95_MS.get(n)
        if target is not None:
            verdict = "met" if f["p95_all"] <= target else "NOT met"
            print(f"target: p95 of all queries <= {target} ms: {verdict} ({f['p95_all']:.1f} ms)")
        print(f"the batch of re-indexed notes committed in {f['commit_s']:.1f} s, "
              f"during which {f['busy_n']} searches ran; FTS5 has no fuzzy search "
              "and its edit time is update + commit + one query.")
    return ("measure", "plait (whoosh)", "brute-force scan", "SQLite FTS5",
            "plait/scan (p50 / p95)", "plait/FTS5 (p50 / p95)"), summary
