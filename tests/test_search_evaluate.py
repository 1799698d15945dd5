"""The bulk query evaluation against whoosh's own matchers and collectors.

Same notes, same scores (up to float rounding), same order and totals, over an
index with several segments and deleted notes; NOT parts only exclude, so for
queries with them only the notes are compared.
"""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

import pytest
from whoosh.query import Term

from crdt_store.search import SearchIndex, parse_query
from crdt_store.search.evaluate import matching_notes
from crdt_store.search.segments import SegmentCache
from tests.test_search_corpus import DOCS, NOW

QUERIES = [
    "rira", "kazu", "ka*", "lo*", "kalo~", "mira~2", '"ka lo"', "ka lo", "ka OR lo", "ka -lo",
    "-ka", "tag:ideas", "tag:project*", "notebook:work", "author:ada", "title:ka",
    "modified:>2026-01-01", "created:2025-06-01..2026-01-01", "ka modified:>2025-06-01",
    "中文", "検索", "café", "(ka OR mi) -lo tag:work", "ri* OR zu~", "",
]


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory):
    """The corpus in several segments, some notes replaced and some deleted."""
    ix = SearchIndex(Path(tmp_path_factory.mktemp("evaluate")))
    rng = random.Random(3)
    for start in range(0, len(DOCS), 40):
        for doc in DOCS[start : start + 40]:
            ix.update(doc)
        assert ix.flush(timeout=60)
    for doc in rng.sample(DOCS, 15):
        ix.update(replace(doc, body=doc.body + " replaced", version="r"))
    for doc in rng.sample(DOCS, 10):
        ix.delete(doc.note_id)
    assert ix.flush(timeout=60)
    yield ix
    ix.close()


def _whoosh(searcher, query, trash: bool, ranked: bool) -> list[tuple[int, float]]:
    mask = Term("trashed", not trash)
    if ranked:
        results = searcher.search(query, limit=None, mask=mask)
    else:
        results = searcher.search(query, limit=None, mask=mask, sortedby="modified", reverse=True)
    deleted = searcher.reader().is_deleted  # whoosh's NOT (InverseMatcher) can return deleted notes
    return [(hit.docnum, hit.score) for hit in results if not deleted(hit.docnum)]


@pytest.mark.parametrize("trash", [False, True])
@pytest.mark.parametrize("text", QUERIES)
def test_same_notes_scores_and_order_as_whoosh(index: SearchIndex, text: str, trash: bool) -> None:
    parsed = parse_query(text, now=NOW)
    searcher = index._ix.searcher()
    try:
        assert len(searcher.leaf_searchers()) > 1 or text == ""
        expected = _whoosh(searcher, parsed.query, trash, parsed.ranked)
        got, total = matching_notes(searcher, parsed.query, SegmentCache(), trash=trash,
                                    limit=None, ranked=parsed.ranked)
        limited, limited_total = matching_notes(searcher, parsed.query, SegmentCache(),
                                                trash=trash, limit=5, ranked=parsed.ranked)
    finally:
        searcher.close()
    assert total == limited_total == len(expected)
    assert limited == got[:5]
    if not parsed.ranked:
        assert [d for d, _ in got] == [d for d, _ in expected]
    elif "-" in text:
        assert {d for d, _ in got} == {d for d, _ in expected}
    else:
        assert [d for d, _ in got] == [d for d, _ in expected]
        assert [s for _, s in got] == pytest.approx([s for _, s in expected], rel=1e-9)


def test_queries_find_something(index: SearchIndex) -> None:
    for text in QUERIES:
        assert index.search(text, now=NOW).total > 0, text
