"""Every note matching a query, with its score, computed in bulk segment by segment.

whoosh's collectors walk a tree of matcher objects one note at a time, 10-20 µs
a note in Python: a word found in most of 50,000 notes took a third of a second.
Here each leaf of the query reads its posting lists whole (``postings.read``) and
scores them with the numbers of whoosh's own scorer (BM25F), and And / Or / Not
combine plain dicts.  Scores equal whoosh's (And and Or add their parts'
scores; float sums may differ in the last bits), except that a NOT part only
excludes notes: whoosh added an arbitrary score for it.

Prefix and fuzzy terms are expanded once, in the merged vocabulary of all
segments kept in memory, not in each segment's term table; a date filter reads
the sortable column instead of its many range terms.  Other kinds of query go
through their whoosh matcher.
"""

from __future__ import annotations

import heapq

from whoosh.query import And, DateRange, Every, Not, NullQuery, Or, Query, Term
from whoosh.scoring import BM25FScorer, WeightScorer
from whoosh.searching import Searcher

from crdt_store.search import postings
from crdt_store.search.matchers import FastFuzzy, FastPhrase, FastPrefix
from crdt_store.search.segments import SegmentCache

__all__ = ["matching_notes"]

Scores = dict[int, float]  # note number in a segment -> score


def matching_notes(
    searcher: Searcher, query: Query, cache: SegmentCache, *,
    trash: bool, limit: int | None, ranked: bool,
) -> tuple[list[tuple[int, float]], int]:
    """The best `limit` (None: all) ``(note number, score)`` pairs for `query` and
    how many notes match in all; only trashed notes if `trash`, else none.

    Ranked: best score first, then the lower note number.  Otherwise newest
    ``modified`` first, then the higher note number, as whoosh sorts.
    """
    items: list[tuple] = []
    total = 0
    leaves = [(sub, off) for sub, off in searcher.leaf_searchers() if sub.reader().doc_count_all()]
    readers = [sub.reader() for sub, _ in leaves]
    for sub, offset in leaves:
        reader = sub.reader()
        scores = _Eval(sub, cache, readers).run(query)
        trashed = cache.term_set(reader, "trashed", reader.schema["trashed"].to_bytes(True))
        if trash:
            scores = {d: scores[d] for d in trashed if d in scores}
        else:
            for d in trashed:
                scores.pop(d, None)
        total += len(scores)
        if ranked:  # (score, -note number): the lower number wins a tie
            items.extend(zip(scores.values(), [-d - offset for d in scores]))
        else:  # (modified, note number, score): the higher number wins a tie
            modified = cache.column(reader, "modified")
            items.extend((modified[d], d + offset, s) for d, s in scores.items())
    best = heapq.nlargest(limit, items) if limit is not None else sorted(items, reverse=True)
    if ranked:
        return [(-d, s) for s, d in best], total
    return [(d, s) for _, d, s in best], total


class _Eval:
    """Scores of the notes of one segment (`sub`) for a query and its parts."""

    def __init__(self, sub: Searcher, cache: SegmentCache, readers: list) -> None:
        self.sub = sub
        self.reader = sub.reader()
        self.cache = cache
        self.readers = readers  # every segment of the searcher, for the vocabulary

    def run(self, q: Query) -> Scores:
        """Score of every (not deleted) note of the segment that matches `q`."""
        if isinstance(q, Term):
            return self.term(q)
        if isinstance(q, (FastPrefix, FastFuzzy)):
            return self.expanding(q)
        if isinstance(q, FastPhrase):
            ids, weights = q.matches(self.reader)
            return dict(zip(ids, weights)) if weights else dict.fromkeys(ids, q.boost)
        if isinstance(q, And) and q.boost == 1.0:
            return self.all_of(q.subqueries)
        if isinstance(q, Or) and q.boost == 1.0 and not q.scale and not q.minmatch:
            return self.any_of(q.subqueries)
        if isinstance(q, Not):
            return self.all_of([q])
        if isinstance(q, DateRange) and q.constantscore and self._has_column(q.fieldname):
            return self.date_range(q)
        if isinstance(q, Every) and q.fieldname in (None, "", "*"):
            return dict.fromkeys(self.reader.all_doc_ids(), q.boost)
        if q is NullQuery:
            return {}
        return self.walk(q)

    def expanding(self, q: FastPrefix | FastFuzzy) -> Scores:
        """The words are found once for all segments, in their merged vocabulary."""
        if q.fieldname not in self.sub.schema:
            return {}
        words = q.expand(self.cache.vocabulary(self.readers, q.fieldname))
        here = self.cache.lexicon(self.reader, q.fieldname)
        found: set[int] = set()
        for word in words:
            if word in here:
                found.update(postings.read_ids(self.reader, q.fieldname, word))
        return dict.fromkeys(found, q.boost)

    def term(self, q: Term) -> Scores:
        sub, reader = self.sub, self.reader
        if q.fieldname not in sub.schema:
            return {}
        try:
            text = sub.schema[q.fieldname].to_bytes(q.text)
        except ValueError:
            return {}
        if (q.fieldname, text) not in reader:
            return {}
        scorer = sub.weighting.scorer(sub, q.fieldname, text)
        if type(scorer) is BM25FScorer:
            ids, weights, _ = postings.read(reader, q.fieldname, text)
            lengths = self.cache.field_lengths(reader, q.fieldname)
            idf, avgfl, b, k1 = scorer.idf, scorer.avgfl, scorer.B, scorer.K1
            k1p1 = k1 + 1
            # whoosh.scoring.bm25, written out so the floats come out the same
            scores = {d: idf * ((w * k1p1) / (w + k1 * ((1 - b) + b * lengths[d] / avgfl)))
                      for d, w in zip(ids, weights)}
        elif type(scorer) is WeightScorer:
            ids, weights, _ = postings.read(reader, q.fieldname, text)
            scores = dict(zip(ids, weights))
        else:
            return self.walk(q)
        if q.boost != 1.0:
            scores = {d: s * q.boost for d, s in scores.items()}
        return scores

    def all_of(self, subqueries: list[Query]) -> Scores:
        positive = [self.run(q) for q in subqueries if not isinstance(q, Not)]
        negative = [q.query for q in subqueries if isinstance(q, Not)]
        if positive:
            positive.sort(key=len)
            acc = positive[0]
            for other in positive[1:]:
                if not acc:
                    break
                acc = {d: s + other[d] for d, s in acc.items() if d in other}
        else:
            acc = dict.fromkeys(self.reader.all_doc_ids(), 0.0)
        for q in negative:
            if not acc:
                break
            for d in self.run(q):
                acc.pop(d, None)
        return acc

    def any_of(self, subqueries: list[Query]) -> Scores:
        parts = sorted((self.run(q) for q in subqueries), key=len, reverse=True)
        if not parts:
            return {}
        acc = dict(parts[0])
        get = acc.get
        for other in parts[1:]:
            for d, s in other.items():
                acc[d] = get(d, 0.0) + s
        return acc

    def _has_column(self, field: str) -> bool:
        return self.sub.schema[field].column_type is not None and self.reader.has_column(field)

    def date_range(self, q: DateRange) -> Scores:
        """The column's raw values are the numbers whoosh's range terms encode."""
        values = self.cache.column(self.reader, q.fieldname)
        lo, hi = q.start, q.end
        ids = [
            d for d, v in enumerate(values)
            if (lo is None or (v > lo if q.startexcl else v >= lo))
            and (hi is None or (v < hi if q.endexcl else v <= hi))
        ]
        if self.reader.has_deletions():
            deleted = self.reader.deleted_docs_set
            ids = [d for d in ids if d not in deleted]
        return dict.fromkeys(ids, q.boost)

    def walk(self, q: Query) -> Scores:
        """Any other query, through its whoosh matcher."""
        m = q.matcher(self.sub, self.sub.context())
        scores: Scores = {}
        while m.is_active():
            scores[m.id()] = m.score()
            m.next()
        return scores
