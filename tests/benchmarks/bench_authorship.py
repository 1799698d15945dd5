"""Authorship and changes-since-seen on a ~100k-character note written by three authors.

Three pycrdt replicas type, delete and sync at random (ASCII, accents, CJK, emoji),
each transaction captured as its update; a vault merges all of them in the order they
were made, each as a collaborator's update with its own wall time, so the note has a
row per transaction, as a synced note does. Then it times `Vault.authorship` (first
call; again at the same version, from the cache; after one more remote keystroke)
and `changes_since_seen`.

`python -m tests.benchmarks authorship [--limit N]` (N transactions; default 6,000).
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from pathlib import Path

from pycrdt import Doc, Text

from crdt_store.events import DocKind
from crdt_store.identity import Author
from crdt_store.unicode_offsets import cp_to_utf8
from crdt_store.vault import Vault

from .table import print_table

WORDS = ["plait ", "note ", "merge ", "café ", "naïve ", "日本語 ", "中文 ", "😀 ", "שלום ",
         "the ", "of ", "relay ", "crdt ", "text ", "author "]


def three_author_history(transactions: int, seed: int = 1) -> tuple[list, str]:
    """[(author index, update)] in the order made, and the final text."""
    rng = random.Random(seed)
    docs = [Doc(skip_gc=True, client_id=1000 + i) for i in range(3)]
    made: list[tuple[int, bytes]] = []
    merging = [False]
    for i, doc in enumerate(docs):
        doc.observe(lambda event, i=i: None if merging[0] else made.append((i, event.update)))
    for _ in range(transactions):
        who = rng.randrange(3)
        text = docs[who].get("body", type=Text)
        current = str(text)
        if current and rng.random() < 0.15:
            at = rng.randrange(len(current))
            end = min(len(current), at + rng.randint(1, 40))
            del text[cp_to_utf8(current, at):cp_to_utf8(current, end)]
        else:
            at = rng.randint(0, len(current))
            if current and rng.random() < 0.7:  # mostly where this author typed last
                at = len(current) * who // 3
            chunk = "".join(rng.choice(WORDS) for _ in range(rng.randint(3, 10)))
            text.insert(cp_to_utf8(current, at), chunk)
        if rng.random() < 0.3:
            a, b = rng.sample(range(3), 2)
            merging[0] = True
            docs[b].apply_update(docs[a].get_update(docs[b].get_state()))
            merging[0] = False
    return made, str(docs[0].get("body", type=Text))


def timed(fn, repeat: int = 5) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), result


def main(limit: int | None = None) -> tuple[tuple[str, ...], list]:
    transactions = limit or 6000
    made, _ = three_author_history(transactions)
    authors = [Author(f"device-{i}", 1000 + i, name) for i, name in enumerate(("Ada", "Bo", "Cy"))]
    with tempfile.TemporaryDirectory() as tmp:
        vault = Vault(Path(tmp) / "v", display_name="Reader", search=False, review=False,
                      compact_after_rows=10**9)
        note = "0" * 32
        t0 = time.time() - len(made)
        for n, (who, update) in enumerate(made):
            vault.apply_remote_update(note, DocKind.NOTE, update, author=authors[who],
                                      wall_time=t0 + n)
        vault.flush()
        text = vault.note_text(note)
        start = time.perf_counter()
        spans = vault.authorship(note)
        cold = (time.perf_counter() - start) * 1000
        warm, _ = timed(lambda: vault.authorship(note))
        vault.mark_seen(note)
        seen_ms, _ = timed(lambda: vault.mark_seen(note), repeat=3)
        after = []
        for i in range(5):  # one remote keystroke, then ask again
            doc = Doc(skip_gc=True, client_id=1001)
            doc.apply_update(vault.encode_state(note))
            body = doc.get("body", type=Text)
            before = doc.get_state()
            body.insert(0, "x")
            vault.apply_remote_update(note, DocKind.NOTE, doc.get_update(before),
                                      author=authors[1], wall_time=time.time())
            start = time.perf_counter()
            vault.authorship(note)
            after.append((time.perf_counter() - start) * 1000)
        changes_ms, changes = timed(lambda: vault.changes_since_seen(note), repeat=3)
        unread_ms, _ = timed(lambda: vault.unread_notes(), repeat=3)
        rows = vault.info().update_rows
        vault.close()
    print(f"\nAuthorship benchmark: {transactions:,} transactions by 3 authors, "
          f"{len(text):,} characters, {rows:,} update rows, {len(spans):,} spans")
    rows = [
        ["authorship, first call (ids, times from the rows, names)", f"{cold:.1f}"],
        ["authorship, same version again (cache)", f"{warm:.2f}"],
        ["authorship after one remote keystroke, median of 5", f"{statistics.median(after):.1f}"],
        ["changes_since_seen after 5 remote keystrokes", f"{changes_ms:.1f}"],
        ["mark_seen", f"{seen_ms:.2f}"],
        ["unread_notes", f"{unread_ms:.3f}"],
    ]
    header = ("measure (ms)", "ms")
    print_table(rows, header=header)
    assert len(changes) == 1
    return header, rows


if __name__ == "__main__":
    main()
