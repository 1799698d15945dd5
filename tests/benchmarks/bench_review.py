"""Review benchmark: what close-merge detection costs the merges of a concurrent trace.

The friendsforever trace (two people typing one document at once) is replayed through
two real vaults, forking and merging along its DAG (tests/trace_replay.py). With review
the vaults are as shipped (review=True) and the note's notebook lists a relay, so the
vault's own detector follows the note on both replicas; the baseline has review=False
and no detector at all. The measure is the time spent in apply_remote_update (the
merges, with everything their subscribers do), summed over the replay; local edits are
timed apart. Runs alternate between the two, and the medians are compared.
Run with `python -m tests.benchmarks review [--limit N]` (N: the first N transactions).
"""

from __future__ import annotations

import gc
import statistics
import tempfile
from pathlib import Path

from tests.trace_replay import Replay, load_trace

from .table import print_table

ROUNDS = 3
EXAMPLES = 3


def replay_once(trace, review: bool) -> tuple[Replay, list]:
    """One replay; returns it (timings filled in) and the flags its vaults raised."""
    gc.collect()
    with tempfile.TemporaryDirectory() as tmp:
        replay = Replay(trace, Path(tmp), vault_options={"review": review}, shared=True,
                        check_texts=False)
        try:
            replay.run()
            flags = [f for r in replay.replicas for f in r.vault.review.flags()]
        finally:
            replay.close()
    return replay, flags


def run(limit: int | None = None) -> tuple[list[tuple[str, str, str, str]], list, int, int]:
    trace = load_trace(limit=limit)
    timings: dict[bool, list[Replay]] = {True: [], False: []}
    flags: list = []
    for round_ in range(ROUNDS):
        order = (True, False) if round_ % 2 == 0 else (False, True)
        for review in order:
            replay, raised = replay_once(trace, review)
            timings[review].append(replay)
            if review:
                if flags and len(raised) != len(flags):
                    print(f"note: round {round_ + 1} raised {len(raised)} flags, "
                          f"round 1 {len(flags)}")
                flags = flags or raised
            else:
                assert not raised, "review=False must raise no flags"
    if limit is None:
        assert flags, "detection did not run on the merges: no flags on the whole trace"
    merge = {k: statistics.median(r.merge_seconds for r in v) for k, v in timings.items()}
    edit = {k: statistics.median(r.edit_seconds for r in v) for k, v in timings.items()}
    merges = timings[True][0].merges
    rows = [
        ("merges: apply_remote_update, total (s) (target ≤ 1.3x)", f"{merge[True]:.3f}", f"{merge[False]:.3f}",
         f"{merge[True] / merge[False]:.2f}x"),
        ("  per merge (µs)", f"{merge[True] / merges * 1e6:.1f}",
         f"{merge[False] / merges * 1e6:.1f}", ""),
        ("  each round (s)", " ".join(f"{r.merge_seconds:.2f}" for r in timings[True]),
         " ".join(f"{r.merge_seconds:.2f}" for r in timings[False]), ""),
        ("local edits: Vault.edit, total (s)", f"{edit[True]:.3f}", f"{edit[False]:.3f}",
         f"{edit[True] / edit[False]:.2f}x"),
        ("flags raised (both replicas)", f"{len(flags)}", "0", ""),
    ]
    return rows, flags, len(trace), merges


def main(limit: int | None = None) -> tuple[tuple[str, ...], list]:
    rows, flags, n, merges = run(limit)
    print(f"\nReview benchmark: friendsforever trace, {n:,} transactions by 2 agents, "
          f"{merges:,} merges per replay")
    header = ("measure", "with review", "review=False", "ratio")
    print_table(rows, header)
    print(f"medians of {ROUNDS} alternating rounds each; with review: vaults as shipped, the "
          "note in a notebook with a relay (so shared); review=False: no detector. "
          "Target: merges at most 1.3x.")
    examples: list = []
    for flag in sorted(flags, key=lambda f: f.detected):  # one per place in the text
        if all(abs(flag.start - e.start) > 100 for e in examples):
            examples.append(flag)
    for flag in examples[:EXAMPLES]:
        print(f"  flag at {flag.start}-{flag.end}: {flag.earlier.name}'s edit, then "
              f"{flag.arrived.name}'s arrived: {flag.merged!r}")
    return header, rows
