"""Reading whole posting lists of one segment at once, and per-segment columns.

whoosh hands postings out one at a time through matcher objects (about a
microsecond each in Python).  Its whoosh3 codec stores them in blocks of up to
128; ``read`` decodes each block in one go and keeps its lists.  That relies on
``W3LeafMatcher``'s block methods (whoosh-reloaded 2.7.x, pinned below 2.8);
other matchers (postings inlined in the term info, another codec) are walked
one by one.  Deleted notes are left out.

``SegmentCache`` keeps what is read from every note of a segment (field
lengths, a date column, the trashed notes) from one search to the next.
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Callable, Sequence

from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3LeafMatcher, _lenfield
from whoosh.matching import Matcher
from whoosh.matching.wrappers import FilterMatcher
from whoosh.reading import IndexReader
from whoosh.util.numeric import byte_to_length

__all__ = ["SegmentCache", "read", "read_ids"]

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


def _segment_key(reader: IndexReader) -> tuple[str, int]:
    return reader.segment().segment_id(), reader.doc_count_all()


class _Vocabulary:
    def __init__(self) -> None:
        self.segments: set[tuple[str, int]] = set()
        self.words: set[str] = set()
        self.sorted: list[str] = []


class SegmentCache:
    """Columns and small posting sets of segments, read once.

    Segments never change (only their deletions do), so entries are keyed by
    segment id and size.  whoosh draws segment ids from ``random``, which a
    test may seed: keep one cache per index, and clear it when the index is
    recreated.
    """

    SIZE = 128  # entries kept

    def __init__(self) -> None:
        self._entries: OrderedDict[tuple, object] = OrderedDict()
        self._vocabularies: dict[str, _Vocabulary] = {}
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._vocabularies.clear()

    def _get(self, reader: IndexReader, what: tuple, load: Callable[[], object]):
        return self._lookup((*_segment_key(reader), *what), load)

    def _lookup(self, key: tuple, load: Callable[[], object]):
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
        value = load()
        with self._lock:
            self._entries[key] = value
            while len(self._entries) > self.SIZE:
                self._entries.popitem(last=False)
        return value

    def field_lengths(self, reader: IndexReader, field: str) -> Sequence[int | None]:
        """Each note's length in `field` as whoosh's scorer sees it (None for 0)."""
        def load() -> list[int | None]:
            lengths = reader._perdoc._cached_reader(_lenfield(field), LENGTHS_COLUMN)
            if lengths is None:
                return [1] * reader.doc_count_all()
            return [byte_to_length(b) if b else None for b in lengths]

        return self._get(reader, ("lengths", field), load)

    def column(self, reader: IndexReader, field: str) -> Sequence:
        """The raw (untranslated) values of a sortable field's column, by note number."""
        return self._get(reader, ("column", field),
                         lambda: list(reader.column_reader(field, translate=False)))

    def lexicon(self, reader: IndexReader, field: str) -> frozenset[str]:
        """The words of a field in a segment (those of deleted notes included)."""
        def load() -> frozenset[str]:
            if field not in reader.indexed_field_names():
                return frozenset()
            from_bytes = reader.schema[field].from_bytes
            return frozenset(from_bytes(b) for b in reader.lexicon(field))

        return self._get(reader, ("lexicon", field), load)

    def vocabulary(self, readers: list[IndexReader], field: str) -> list[str]:
        """The sorted words of a field in all of `readers` (the segments of one searcher).

        It only grows: words of segments merged away or of deleted notes stay,
        which is harmless to a caller that checks each segment's ``lexicon``,
        and a commit then costs only the new segments' words, not a new list.
        """
        with self._lock:
            known = self._vocabularies.setdefault(field, _Vocabulary())
            new = [r for r in readers if _segment_key(r) not in known.segments]
        if new:
            words = frozenset().union(*(self.lexicon(r, field) for r in new))
            with self._lock:
                fresh = words - known.words
                if fresh:
                    known.words |= fresh
                    known.sorted = sorted(known.words)
                known.segments.update(map(_segment_key, new))
        return known.sorted

    def term_set(self, reader: IndexReader, field: str, text: bytes) -> frozenset[int]:
        """The notes of a segment holding a term, deleted ones included."""
        def load() -> frozenset[int]:
            m = _matcher(reader, field, text)
            blocks = _blocks(m, False, False) if m is not None else ()
            return frozenset(d for ids, _, _ in blocks for d in ids)

        return self._get(reader, ("term", field, text), load)
