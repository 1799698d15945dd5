"""Run the benchmarks, print each suite's table, then one Markdown table of every figure:
`python -m tests.benchmarks [store|gui|search|sync|review|authorship|history] [--limit N]
[--load-seconds S]`."""

from __future__ import annotations

import argparse
import os
import platform
import time

from . import (
    bench_authorship,
    bench_gui,
    bench_history,
    bench_review,
    bench_search,
    bench_store,
    bench_sync,
)
from .summary import markdown

SUITES = {"store": bench_store.main, "gui": bench_gui.main, "search": bench_search.main,
          "sync": bench_sync.main, "review": bench_review.main,
          "authorship": bench_authorship.main, "history": bench_history.main}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks")
    parser.add_argument("suites", nargs="*", metavar="SUITE",
                        help=f"which to run: {', '.join(SUITES)} (default: all)")
    parser.add_argument("--limit", type=int, default=None,
                        help="a quick look: store replays the first N transactions, gui times N "
                             "events, search uses one corpus of N notes, sync caps its notes, "
                             "keystrokes and round trips at N, review and history replay the "
                             "first N transactions, authorship replays N transactions")
    parser.add_argument("--load-seconds", type=float, default=None,
                        help="sync suite: seconds of relay load (default 60, or 5 with --limit)")
    args = parser.parse_args()
    unknown = [s for s in args.suites if s not in SUITES]
    if unknown:
        parser.error(f"unknown suite {unknown[0]!r}; choose from {', '.join(SUITES)}")
    extra = {"sync": {"load_seconds": args.load_seconds}}
    results = []
    for name in args.suites or SUITES:
        header, rows = SUITES[name](limit=args.limit, **extra.get(name, {}))
        results.append((name, header, rows))
    print(f"\n## All figures ({platform.node() or 'this machine'}, {os.cpu_count()} cores, "
          f"{time.strftime('%Y-%m-%d')}{', --limit ' + str(args.limit) if args.limit else ''})\n")
    print(markdown(results))


if __name__ == "__main__":
    main()
