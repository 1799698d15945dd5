"""Run the benchmarks and print their tables: `python -m tests.benchmarks [SUITE...] [--limit N]`."""

from __future__ import annotations

import argparse

from . import bench_gui, bench_search, bench_store

SUITES = {"store": bench_store.main, "gui": bench_gui.main, "search": bench_search.main}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks")
    parser.add_argument("suites", nargs="*", metavar="SUITE",
                        help=f"which to run: {', '.join(SUITES)} (default: all)")
    parser.add_argument("--limit", type=int, default=None,
                        help="a quick look: store replays the first N transactions, gui times N "
                             "events, search uses one corpus of N notes")
    args = parser.parse_args()
    unknown = [s for s in args.suites if s not in SUITES]
    if unknown:
        parser.error(f"unknown suite {unknown[0]!r}; choose from {', '.join(SUITES)}")
    for name in args.suites or SUITES:
        SUITES[name](limit=args.limit)


if __name__ == "__main__":
    main()
