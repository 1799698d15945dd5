"""Store benchmark: replay a real editing trace through the vault beside raw pycrdt.

Everything is compared as ratios within one run, because these machines are noisy.
Run with `make bench` (or `python -m tests.benchmarks store`).
"""

from __future__ import annotations

import gc
import gzip
import json
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from pycrdt import Doc, Text

from crdt_store.storage import DB_NAME
from crdt_store.unicode_offsets import TextOp
from crdt_store.vault import Vault

from .table import print_table

TRACE = Path(__file__).parent / "data" / "automerge-paper.json.gz"


def load_trace(path: Path = TRACE) -> dict:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return json.load(fh)


def type_raw(doc: Doc, text: Text, txns: list[list[tuple[int, int, str]]]) -> None:
    """Raw pycrdt, the floor: one transaction per trace transaction."""
    for patches in txns:
        with doc.transaction():
            for pos, delete, insert in patches:
                if delete:
                    del text[pos:pos + delete]
                if insert:
                    text.insert(pos, insert)


def replay_side_by_side(
    txns: list[list[tuple[int, int, str]]], vault_dir: Path, chunk: int = 2000
) -> tuple[float, float, Doc, str]:
    """Replay the trace into raw pycrdt and into the store, alternating chunks.

    Raw pycrdt is the floor: one transaction per trace transaction, nothing
    persisted. The store gets the same patches through Vault.edit, one transaction
    each, and each chunk's clock stops only when its edits are durable on disk, so
    the writer thread is idle while raw pycrdt runs. Alternating keeps both under
    the same machine noise.
    """
    raw_doc: Doc = Doc(skip_gc=True)
    raw_text = raw_doc.get("body", type=Text)
    vault = Vault(vault_dir)
    note_id = vault.create_note(vault.create_notebook("Bench"))
    vault.flush()
    ops = [[TextOp(pos, delete, insert) for pos, delete, insert in patches] for patches in txns]
    raw_seconds = store_seconds = 0.0
    for start in range(0, len(txns), chunk):
        t0 = time.perf_counter()
        type_raw(raw_doc, raw_text, txns[start:start + chunk])
        t1 = time.perf_counter()
        for txn in ops[start:start + chunk]:
            vault.edit(note_id, txn)
        vault.flush(timeout=None)  # so the writer thread is idle while raw pycrdt runs
        t2 = time.perf_counter()
        raw_seconds += t1 - t0
        store_seconds += t2 - t1
    vault.close()
    return raw_seconds, store_seconds, raw_doc, note_id


def cold_open(vault_dir: Path, note_id: str, runs: int = 7) -> tuple[float, float, str]:
    """Median seconds to open the vault, and to load the note's text, over `runs` opens."""
    opens, loads = [], []
    text = ""
    for _ in range(runs):
        gc.collect()
        t0 = time.perf_counter()
        vault = Vault(vault_dir)
        t1 = time.perf_counter()
        text = vault.note_text(note_id)
        t2 = time.perf_counter()
        vault.close()
        opens.append(t1 - t0)
        loads.append(t2 - t1)
    return statistics.median(opens), statistics.median(loads), text


def raw_load(state: bytes, runs: int = 7) -> float:
    """Median seconds for raw pycrdt to decode the same state into a document and read it."""
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        doc: Doc = Doc(skip_gc=True)
        doc.apply_update(state)
        str(doc.get("body", type=Text))
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def durability_lag(vault_dir: Path, keystrokes: int = 300, interval: float = 0.02) -> list[float]:
    """Seconds from each edit to the moment the store reports it durable, typing at 50/s.

    This is the crash window: a kill -9 can lose only edits still inside it.
    """
    lags: list[float] = []
    with Vault(vault_dir) as vault:
        note_id = vault.create_note(vault.create_notebook("Lag"))
        waiting: list[tuple[int, float]] = []
        for i in range(keystrokes):
            waiting.append((vault.edit(note_id, [TextOp(i, 0, "x")]), time.perf_counter()))
            next_key = time.perf_counter() + interval
            while waiting and (time.perf_counter() < next_key or i == keystrokes - 1):
                durable = vault.durable_ticket
                now = time.perf_counter()
                lags += [now - t for ticket, t in waiting if ticket <= durable]
                waiting = [(ticket, t) for ticket, t in waiting if ticket > durable]
                time.sleep(0.0005)
            while time.perf_counter() < next_key:
                time.sleep(0.0005)
    return lags


def disk_bytes(vault_dir: Path) -> int:
    db = vault_dir / DB_NAME
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return sum(p.stat().st_size for p in vault_dir.glob(DB_NAME + "*"))


def run(limit: int | None = None) -> list[tuple[str, str, str, str]]:
    trace = load_trace()
    txns = [[tuple(p) for p in t["patches"]] for t in trace["txns"]][:limit]
    with tempfile.TemporaryDirectory() as tmp:
        vault_dir = Path(tmp) / "vault"
        raw_seconds, store_seconds, raw_doc, note_id = replay_side_by_side(txns, vault_dir)
        expected = str(raw_doc.get("body", type=Text))
        if limit is None:
            assert expected == trace["endContent"], "raw replay diverged from the trace"
        before = disk_bytes(vault_dir)
        with Vault(vault_dir) as vault:
            vault.compact()
        after = disk_bytes(vault_dir)
        open_s, load_s, text = cold_open(vault_dir, note_id)
        assert text == expected, "store replay diverged from raw pycrdt"
        state = raw_doc.get_update()
        raw_load_s = raw_load(state)
        lags = sorted(durability_lag(Path(tmp) / "lag"))
    n = len(txns)
    return [
        ("replay trace, persisted (s) (target ≤ 1.5x)", f"{store_seconds:.2f}", f"{raw_seconds:.2f}",
         f"{store_seconds / raw_seconds:.2f}x"),
        ("  per transaction (µs)", f"{store_seconds / n * 1e6:.1f}",
         f"{raw_seconds / n * 1e6:.1f}", ""),
        ("cold open: vault (ms)", f"{open_s * 1e3:.1f}", "", ""),
        ("cold open: note text (ms) (target ≤ 50 ms)", f"{load_s * 1e3:.1f}", f"{raw_load_s * 1e3:.1f}",
         f"{load_s / raw_load_s:.2f}x"),
        ("disk before compaction (KB)", f"{before / 1024:.0f}", f"{len(state) / 1024:.0f}",
         f"{before / len(state):.2f}x"),
        ("disk after compaction (KB) (target ≤ 2x)", f"{after / 1024:.0f}", f"{len(state) / 1024:.0f}",
         f"{after / len(state):.2f}x"),
        ("edit to durable, p50 / p95 / max (ms) (target ≤ 300 ms)",
         f"{_pct(lags, 50):.0f} / {_pct(lags, 95):.0f} / {lags[-1] * 1e3:.0f}", "", ""),
    ], n, len(expected)


def _pct(sorted_values: list[float], pct: int) -> float:
    return sorted_values[min(len(sorted_values) - 1, len(sorted_values) * pct // 100)] * 1e3


def main(limit: int | None = None) -> tuple[tuple[str, ...], list]:
    rows, n, chars = run(limit)
    print(f"\nStore benchmark: automerge-paper trace, {n:,} transactions, {chars:,} characters")
    header = ("measure", "plait store", "baseline", "ratio")
    print_table(rows, header)
    print("baselines: raw pycrdt replay in the same process, alternating chunks of 2,000"
          " transactions with the store; raw pycrdt decoding the same state;"
          " the encoded state (Doc.get_update) for disk size. Durability: 300 keystrokes at 50/s.")
    return header, rows
