"""What searches read from every note of a segment, kept from one search to the next.

Field lengths for scoring, the date column for sorting and date filters, the
trashed notes, and the words of a field.  Segments never change (only their
deletions do), so entries are keyed by segment id and size.  Field lengths are
read through whoosh3's per-document reader (whoosh-reloaded 2.7.x internals,
like the blocks in ``postings``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence

from whoosh.codec.whoosh3 import LENGTHS_COLUMN, _lenfield
from whoosh.reading import IndexReader
from whoosh.util.numeric import byte_to_length

from crdt_store.search.postings import all_ids

__all__ = ["SegmentCache"]


def _segment_key(reader: IndexReader) -> tuple[str, int]:
    return reader.segment().segment_id(), reader.doc_count_all()


class _Vocabulary:
    def __init__(self) -> None:
        self.segments: set[tuple[str, int]] = set()
        self.words: set[str] = set()
        self.sorted: list[str] = []


class SegmentCache:
    """One index's per-segment data (the SIZE most recently used entries).

    whoosh draws segment ids from ``random``, which a test may seed: keep one
    cache per index, and clear it when the index is recreated.
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
        key = (*_segment_key(reader), *what)
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
        return self._get(reader, ("term", field, text), lambda: all_ids(reader, field, text))
