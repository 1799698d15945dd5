"""History benchmark: the `automerge-paper` note with realistic editing sessions.

The trace is typed through `Vault.edit` with a synthetic wall clock: sessions of
about 1,500 keystrokes (log-normal, 200 to 6,000), typed at 0.1 to 1.5 s a
keystroke with the odd pause under five minutes, 20 minutes to 3 days apart. (The
clock runs far faster than the replay, so the writer is made to commit before each
pause, as it would have long before in real time: a row carries the time of the
last of the keystrokes merged into it.) Then
the vault is compacted, as it would be, so every session is a version mark. Measured:

- listing sessions: the newest 50 with characters added and removed (each needs
  the versions at both its ends), cold in a freshly opened vault and again warm;
  every session without counts;
- the text at the end of 20 random sessions, against a full replay from the start
  up to that session: of the note's update log (the rows as stored before
  compaction, applied in order to a fresh document: what a store without snapshots
  would do), and of the trace itself, keystroke by keystroke, in raw pycrdt;
- bytes on disk with history kept, against the note's garbage-collected encoded
  state (a store without history).

Every session's version is checked against the text the replay had when it ended.
Run with `make bench ARGS=history` (or `python -m tests.benchmarks history`).
"""

from __future__ import annotations

import random
import sqlite3
import tempfile
import time
from pathlib import Path

from pycrdt import Doc, Text

from crdt_store.history import NoteHistory, read_stored_history
from crdt_store.storage import DB_NAME
from crdt_store.unicode_offsets import TextOp
from crdt_store.vault import Vault

from .bench_store import disk_bytes, load_trace, type_raw
from .table import print_table

T0 = 1_760_000_000.0
SAMPLES = 20


def plan_sessions(n_txns: int, rng: random.Random) -> list[int]:
    """Session lengths in transactions, covering the trace."""
    lengths: list[int] = []
    while sum(lengths) < n_txns:
        lengths.append(int(min(6000, max(200, rng.lognormvariate(7.3, 0.7)))))
    return lengths


def replay(txns: list[list[tuple[int, int, str]]], vault_dir: Path,
           rng: random.Random) -> tuple[str, list[str], list[int], float]:
    """Type the trace in sessions; returns the note, the text at each session's end,
    how many transactions had been typed by then, and the seconds it took."""
    clock = [T0]
    vault = Vault(vault_dir, display_name="Author", clock=lambda: clock[0], search=False)
    note = vault.create_note(vault.create_notebook("Paper"))
    ends: list[str] = []
    bounds: list[int] = []
    started = time.perf_counter()
    done = 0
    for length in plan_sessions(len(txns), rng):
        clock[0] += rng.lognormvariate(9.0, 1.2) + 1200  # 20 min to days since the last
        for patches in txns[done:done + length]:
            if rng.random() < 0.002:  # a pause to think: the writer commits what was typed
                vault.flush(timeout=None)
                clock[0] += rng.uniform(30, 240)
            clock[0] += rng.uniform(0.1, 1.5)
            vault.edit(note, [TextOp(p, d, i) for p, d, i in patches])
        done += length
        vault.flush(timeout=None)
        ends.append(vault.note_text(note))
        bounds.append(min(done, len(txns)))
    seconds = time.perf_counter() - started
    vault.close()
    return note, ends, bounds, seconds


def stored_rows(vault_dir: Path, note: str) -> list[tuple[int, bytes]]:
    with sqlite3.connect(vault_dir / DB_NAME) as conn:
        return conn.execute("SELECT seq, data FROM updates WHERE doc_id = ? ORDER BY seq",
                            (note,)).fetchall()


def log_replay(rows: list[tuple[int, bytes]], upto: int) -> str:
    """The baseline: every stored row up to `upto`, applied in order."""
    doc: Doc = Doc(skip_gc=True)
    for seq, data in rows:
        if seq > upto:
            break
        doc.apply_update(data)
    return str(doc.get("body", type=Text))


def normal_note(txns: list[list[tuple[int, int, str]]], vault_dir: Path) -> tuple[float, float, int]:
    """A note of everyday size: the trace's first keystrokes typed in 50 sessions of
    100. Returns the seconds to list its newest 50 sessions with counts in a freshly
    opened vault, the median seconds per version, and its length."""
    clock = [T0]
    with Vault(vault_dir, clock=lambda: clock[0], search=False) as vault:
        note = vault.create_note(vault.create_notebook("Everyday"))
        for start in range(0, min(5000, len(txns)), 100):
            clock[0] += 3600
            for patches in txns[start:start + 100]:
                clock[0] += 1
                vault.edit(note, [TextOp(p, d, i) for p, d, i in patches])
            vault.flush(timeout=None)
        vault.compact()
        length = len(vault.note_text(note))
    with Vault(vault_dir, search=False) as vault:
        started = time.perf_counter()
        page = vault.history(note, limit=50)
        listed = time.perf_counter() - started
        history = vault.note_history(note)
        times = []
        for session in page:
            history = NoteHistory(read_stored_history(vault._storage.query, note))
            started = time.perf_counter()
            history.version_text(session.id)
            times.append(time.perf_counter() - started)
    return listed, sorted(times)[len(times) // 2], length


def keystroke_replay(txns: list[list[tuple[int, int, str]]], bounds: list[int]) -> list[float]:
    """The other baseline: the trace typed into raw pycrdt from the start, one
    transaction per keystroke; the seconds it takes to reach each session's end."""
    doc: Doc = Doc(skip_gc=True)
    text = doc.get("body", type=Text)
    reached: list[float] = []
    started = time.perf_counter()
    done = 0
    for bound in bounds:
        type_raw(doc, text, txns[done:bound])
        done = bound
        str(text)
        reached.append(time.perf_counter() - started)
    return reached


def _ms(values: list[float], pct: int) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, len(ordered) * pct // 100)] * 1e3


MIN_TXNS = 5_000


def run(limit: int | None = None) -> tuple[list[tuple[str, str, str, str]], int, int]:
    trace = load_trace()
    # A quick look still needs a few sessions to sample: at least MIN_TXNS transactions.
    txns = [[tuple(p) for p in t["patches"]] for t in trace["txns"]][
        :None if limit is None else max(limit, MIN_TXNS)]
    rng = random.Random(11)
    with tempfile.TemporaryDirectory() as tmp:
        vault_dir = Path(tmp) / "vault"
        note, ends, bounds, typing_s = replay(txns, vault_dir, rng)
        typed = keystroke_replay(txns, bounds)
        everyday = normal_note(txns, Path(tmp) / "everyday")
        rows = stored_rows(vault_dir, note)
        with Vault(vault_dir, search=False) as vault:
            vault.compact()
        with sqlite3.connect(vault_dir / DB_NAME) as conn:
            conn.execute("VACUUM")  # what the writer's incremental vacuum does when idle
        disk = disk_bytes(vault_dir)
        with sqlite3.connect(vault_dir / DB_NAME) as conn:
            checkpoint = conn.execute("SELECT data FROM checkpoints WHERE doc_id = ?",
                                      (note,)).fetchone()[0]
            marks, mark_bytes = conn.execute(
                "SELECT count(*), sum(length(snapshot)) FROM version_marks WHERE doc_id = ?",
                (note,)).fetchone()
        kept_marks = mark_bytes or 0
        gc_doc: Doc = Doc()  # garbage-collected: what the note costs without history
        gc_doc.get("body", type=Text)
        gc_doc.apply_update(checkpoint)
        no_history = len(gc_doc.get_update())

        with Vault(vault_dir, search=False) as vault:
            started = time.perf_counter()
            page = vault.history(note, limit=50)
            cold_list = time.perf_counter() - started
            started = time.perf_counter()
            assert vault.history(note, limit=50) == page
            warm_list = time.perf_counter() - started
            sessions = vault.note_history(note).sessions()
            assert len(sessions) == len(ends) == marks, (len(sessions), len(ends), marks)
            stored = read_stored_history(vault._storage.query, note)
        started = time.perf_counter()
        all_sessions = NoteHistory(stored).sessions()
        list_all = time.perf_counter() - started
        assert len(all_sessions) == len(sessions)

        history = NoteHistory(stored)
        for session, text in zip(history.sessions(), ends):  # every version, checked
            assert history.version_text(session.id) == text, session
        history = NoteHistory(stored)
        history.version_text(sessions[0].id)  # decodes the checkpoint once
        chosen = rng.sample(sessions[1:], min(SAMPLES, len(sessions) - 1))
        warm, cold, baseline, keystrokes = [], [], [], []
        for session in chosen:
            expected = ends[sessions.index(session)]
            keystrokes.append(typed[sessions.index(session)])
            started = time.perf_counter()
            text = history.version_text(session.id)
            warm.append(time.perf_counter() - started)
            assert text == expected
            started = time.perf_counter()
            text = NoteHistory(stored).version_text(session.id)
            cold.append(time.perf_counter() - started)
            assert text == expected
            started = time.perf_counter()
            text = log_replay(rows, session.last_seq)
            baseline.append(time.perf_counter() - started)
            assert text == expected

    p50, base50 = _ms(warm, 50), _ms(baseline, 50)
    table = [
        ("sessions; update rows before compaction", f"{len(sessions):,}; {len(rows):,}",
         "", ""),
        ("typing the trace in sessions (s)", f"{typing_s:.1f}", "", ""),
        ("list newest 50 with +/- , cold (ms)", f"{cold_list * 1e3:.0f}", "", ""),
        ("list newest 50 with +/- , warm (ms)", f"{warm_list * 1e3:.1f}", "", ""),
        (f"list all {len(sessions)} without counts (ms)", f"{list_all * 1e3:.1f}", "", ""),
        (f"everyday note ({everyday[2]:,} characters, 50 sessions): list 50 with +/-, cold; "
         "a version, from scratch (ms)", f"{everyday[0] * 1e3:.0f}; {everyday[1] * 1e3:.1f}",
         "", ""),
        ("version text, p50 / p95 (ms) (target ≤ 200)",
         f"{p50:.1f} / {_ms(warm, 95):.1f}",
         f"{base50:.0f} / {_ms(baseline, 95):.0f}", f"{base50 / p50:.0f}x faster"),
        ("  … with a fresh NoteHistory each time, p50 / p95 (ms)",
         f"{_ms(cold, 50):.1f} / {_ms(cold, 95):.1f}", "", ""),
        ("  baseline: typing the trace from the start, p50 / p95 (ms)", "",
         f"{_ms(keystrokes, 50):.0f} / {_ms(keystrokes, 95):.0f}",
         f"{_ms(keystrokes, 50) / p50:.0f}x faster"),
        ("the note with its history: checkpoint + marks (KB)",
         f"{(len(checkpoint) + kept_marks) / 1024:.0f}", f"{no_history / 1024:.0f}",
         f"{(len(checkpoint) + kept_marks) / no_history:.2f}x"),
        ("  checkpoint, deleted text kept (KB)", f"{len(checkpoint) / 1024:.0f}",
         f"{no_history / 1024:.0f}", f"{len(checkpoint) / no_history:.2f}x"),
        ("  version marks: total (KB); per session (bytes)",
         f"{kept_marks / 1024:.0f}; {kept_marks / max(marks, 1):,.0f}", "", ""),
        ("whole vault file, vacuumed (KB)", f"{disk / 1024:.0f}", "", ""),
    ]
    return table, len(txns), len(ends[-1]) if ends else 0


def main(limit: int | None = None) -> tuple[tuple[str, ...], list]:
    rows, n, chars = run(limit)
    print(f"\nHistory benchmark: automerge-paper note, {n:,} transactions typed in sessions, "
          f"{chars:,} characters, compacted")
    header = ("measure", "plait history", "baseline", "ratio")
    print_table(rows, header)
    print("baselines: version text: the stored update log replayed from the start up to the "
          "session (each row applied to a fresh document), and the trace's keystrokes typed "
          "into raw pycrdt from the start; disk: the note's encoded state with garbage "
          f"collection (no deleted text, no marks). {SAMPLES} random sessions.")
    return header, rows
