"""Search benchmark on a generated corpus; a hand-run measurement, not yet a `make bench` suite.

    PLAIT_SEARCH_BENCH=10000 .venv/bin/python -m pytest tests/benchmarks/search_corpus.py -s

Notes have 100-3,000 words drawn from a Zipf distribution over 20,000 made-up
words (about a third with accents), 5% carry a CJK sentence and 5% are in the
trash.  Prints the build time and query latency (p50/p95) per kind of query.
"""

from __future__ import annotations

import itertools
import os
import random
import statistics
import time
from pathlib import Path

import pytest

from crdt_store.search import NoteDocument, SearchIndex

NOTES = int(os.environ.get("PLAIT_SEARCH_BENCH", "0"))
pytestmark = pytest.mark.skipif(not NOTES, reason="set PLAIT_SEARCH_BENCH=<notes> to run")

_SYLLABLES = ["ka", "lo", "mi", "ra", "te", "su", "no", "vi", "an", "el", "or", "ul", "ch", "st",
              "br", "pe", "qu", "ze", "ya", "ou", "é", "ü", "ñ"]


def vocabulary(rng: random.Random, size: int = 20000) -> list[str]:
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(1, 4))))
    return sorted(words)


def corpus(n: int, words: list[str], rng: random.Random) -> list[NoteDocument]:
    weights = list(itertools.accumulate(1 / (i + 1) for i in range(len(words))))
    now = time.time()
    docs = []
    for i in range(n):
        drawn = rng.choices(words, cum_weights=weights, k=rng.randint(100, 3000))
        lines = [" ".join(drawn[j : j + 12]) + "." for j in range(0, len(drawn), 12)]
        body = "# " + " ".join(drawn[:4]) + "\n" + "\n".join(lines)
        if rng.random() < 0.05:
            body += "\n中文字典和日本語のテキスト"
        created = now - rng.uniform(0, 3 * 365 * 86400)
        docs.append(NoteDocument(f"n{i:05d}", "nb", "Work", " ".join(drawn[:4]), body, ("ideas",),
                                 ("Ada",), created, created + rng.uniform(0, 1e6),
                                 rng.random() < 0.05, "v1"))
    return docs


def queries(words: list[str], rng: random.Random) -> dict[str, list[str]]:
    def pick(top: int) -> str:  # a word among the `top` most common
        return rng.choice(words[:top])

    return {
        "word": [pick(2000) for _ in range(40)],
        "two words": [f"{pick(300)} {pick(300)}" for _ in range(20)],
        "prefix": [pick(5000)[:3] + "*" for _ in range(20)],
        "fuzzy": [pick(3000) + "~" for _ in range(20)],
        "phrase": [f'"{pick(50)} {pick(50)}"' for _ in range(10)],
        "or / not": [f"{pick(500)} OR {pick(500)}" for _ in range(5)]
                    + [f"{pick(100)} -{pick(100)}" for _ in range(5)],
        "filters, cjk": ["tag:ideas", "modified:30d", "中文", "日本語"],
    }


def test_benchmark(tmp_path: Path) -> None:
    rng = random.Random(1)
    words = vocabulary(rng)
    docs = corpus(NOTES, words, rng)
    print(f"\n{NOTES} notes, {sum(len(d.body.split()) for d in docs):,} words")

    index = SearchIndex(tmp_path / "index")
    start = time.perf_counter()
    index.begin_rebuild(len(docs))
    for doc in docs:
        index.update(doc)
    index.end_rebuild()
    assert index.flush()
    print(f"build: {time.perf_counter() - start:.1f} s, "
          f"{sum(p.stat().st_size for p in (tmp_path / 'index').iterdir() if p.is_file()) / 1e6:.0f} MB")
    index.close()

    start = time.perf_counter()
    index = SearchIndex(tmp_path / "index")
    print(f"reopen (with integrity check): {time.perf_counter() - start:.2f} s")
    start = time.perf_counter()
    assert len(index.versions()) == NOTES
    print(f"versions(): {time.perf_counter() - start:.2f} s")
    commits = []
    for doc in docs[:30]:  # edits after the rebuild: each committed on its own
        start = time.perf_counter()
        index.update(doc)
        assert index.flush()
        commits.append(time.perf_counter() - start)
    print(f"single-note update + commit: p50 {_ms(commits, 50)}  max {max(commits) * 1000:.0f} ms")

    everything: list[float] = []
    for kind, texts in queries(words, random.Random(5)).items():
        for text in texts:
            index.search(text)  # warm up (first use of a term reads its postings from disk)
        times = []
        for text in texts:
            start = time.perf_counter()
            index.search(text)
            times.append(time.perf_counter() - start)
        everything += times
        print(f"{kind:>13}: p50 {_ms(times, 50)}  p95 {_ms(times, 95)}  max {max(times) * 1000:.0f} ms")
    print(f"{'all':>13}: p50 {_ms(everything, 50)}  p95 {_ms(everything, 95)}  ({len(everything)} queries)")
    index.close()


def _ms(times: list[float], percent: int) -> str:
    return f"{statistics.quantiles(times, n=100, method='inclusive')[percent - 1] * 1000:.0f} ms"
