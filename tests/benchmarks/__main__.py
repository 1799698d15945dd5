"""Run the benchmarks and print their tables: `python -m tests.benchmarks [store] [--limit N]`."""

from __future__ import annotations

import argparse

from . import bench_store

SUITES = {"store": bench_store.main}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks")
    parser.add_argument("suites", nargs="*", choices=[[], *SUITES], default=list(SUITES))
    parser.add_argument("--limit", type=int, default=None,
                        help="replay only the first N transactions (a quick look)")
    args = parser.parse_args()
    for name in args.suites or SUITES:
        SUITES[name](limit=args.limit)


if __name__ == "__main__":
    main()
