"""Reading whole posting lists of one segment at once.

whoosh hands postings out one at a time through matcher objects (about a
microsecond each in Python).  Its whoosh3 codec stores them in blocks of up to
128; ``read`` decodes each block in one go and keeps its lists.  That relies on
``W3LeafMatcher``'s block methods (whoosh-reloaded 2.7.x, pinned below 2.8);
other matchers (postings inlined in the term info, another codec) are walked
one by one.  Deleted notes are left out, except by ``all_ids``.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence

from whoosh.codec.whoosh3 import W3LeafMatcher
from whoosh.matching import Matcher
from whoosh.matching.wrappers import FilterMatcher
from whoosh.reading import IndexReader

__all__ = ["all_ids", "read", "read_ids"]


def _matcher(reader: IndexReader, field: str, text: str | bytes) -> Matcher | None:
    if (field, text) not in reader:
        return None
    m = reader.postings(field, text)
    return m.child if isinstance(m, FilterMatcher) else m  # deletions: see _live


def _blocks(m: Matcher, weights: bool, values: bool, only: Sequence[int] | None = None):
    """``(ids, weights or None, values or None)`` for each block of `m`; with
    `only` (sorted note numbers), blocks holding none of them may be left out."""
    if type(m) is W3LeafMatcher:
        j = 0  # the first of `only` past the previous block
        while m.is_active():
            if only is not None:
                last = m.block_max_id()  # known without decoding the block
                j2 = bisect_right(only, last, j)
                if j2 == j:  # none of `only` in this block's range
                    m._next_block()
                    continue
                j = j2
            m._read_ids()
            if weights:
                m._read_weights()
            if values:
                m._read_values()
            yield m._ids, m._weights if weights else None, m._values if values else None
            m._next_block()
        return
    ids, ws, vs = [], [], []
    while m.is_active():
        ids.append(m.id())
        if weights:
            ws.append(m.weight())
        if values:
            vs.append(m.value())
        m.next()
    yield ids, ws if weights else None, vs if values else None


def _live(reader: IndexReader, ids: list[int], *lists: list | None) -> tuple[list, ...]:
    """`ids` (and the lists parallel to it) without the reader's deleted notes."""
    if not reader.has_deletions():
        return (ids, *lists)
    deleted = reader.deleted_docs_set
    keep = [i for i, d in enumerate(ids) if d not in deleted]
    return ([ids[i] for i in keep], *([x[i] for i in keep] if x is not None else None for x in lists))


def read(reader: IndexReader, field: str, text: str | bytes, *, weights: bool = True,
         values: bool = False, only: Sequence[int] | None = None,
         ) -> tuple[list[int], list[float] | None, list | None]:
    """Note numbers (ascending) of a term in one segment, with their weights and
    encoded values (positions) if asked for; empty lists for a missing term.
    With `only` (sorted note numbers), notes outside it may be left out: a
    block of postings is decoded only if it may hold one of them."""
    m = _matcher(reader, field, text)
    ids: list[int] = []
    ws: list[float] | None = [] if weights else None
    vs: list | None = [] if values else None
    if m is None:
        return ids, ws, vs
    for block_ids, block_ws, block_vs in _blocks(m, weights, values, only):
        ids.extend(block_ids)
        if weights:
            ws.extend(block_ws)
        if values:
            vs.extend(block_vs)
    return _live(reader, ids, ws, vs)


def read_ids(reader: IndexReader, field: str, text: str | bytes) -> list[int]:
    """Note numbers (ascending) of a term in one segment."""
    return read(reader, field, text, weights=False)[0]


def all_ids(reader: IndexReader, field: str, text: str | bytes) -> frozenset[int]:
    """The notes of a segment holding a term, deleted ones included."""
    m = _matcher(reader, field, text)
    blocks = _blocks(m, False, False) if m is not None else ()
    return frozenset(d for ids, _, _ in blocks for d in ids)
