"""whoosh queries with faster matchers for prefixes, fuzzy terms and phrases.

Each works out, once per segment reader, the sorted list of matching notes
(cached on the query object, keyed weakly by the reader) and serves it through
a ``ListMatcher``:

* whoosh ORs the expansions of a prefix or fuzzy term (hundreds of words for a
  short prefix) through a binary tree of union matchers once a segment holds
  over 5,000 notes, which takes seconds; reading each posting list once into a
  set takes milliseconds.  These score a constant (the boost).
* whoosh checks a phrase in each candidate note with pure-Python span objects;
  here the positions are decoded with ``pickle``/``accumulate`` and the words'
  position sets are intersected.  Score: the boost times ``1 + log(occurrences)``.
"""

from __future__ import annotations

import math
import pickle
from bisect import bisect_left
from collections.abc import Sequence
from itertools import accumulate, repeat
from operator import sub
from weakref import WeakKeyDictionary

from whoosh.codec.base import Automata
from whoosh.formats import Positions
from whoosh.matching import ListMatcher, Matcher, NullMatcher
from whoosh.query import FuzzyTerm, Phrase, Prefix
from whoosh.reading import IndexReader
from whoosh.system import _INT_SIZE

from crdt_store.search import postings
from crdt_store.search.text import within_distance

__all__ = ["FastFuzzy", "FastPhrase", "FastPrefix"]

_Docs = tuple[list[int], list[float] | None]  # note numbers, and their weights if not constant


def _cached(query: object, name: str, reader: IndexReader, compute):
    """``compute(reader)``, remembered on `query` for as long as `reader` lives."""
    cache = query.__dict__.setdefault(f"_plait_{name}", WeakKeyDictionary())
    if reader not in cache:
        cache[reader] = compute(reader)
    return cache[reader]


def _matcher(docs: _Docs, boost: float) -> Matcher:
    ids, weights = docs
    if not ids:
        return NullMatcher()
    return ListMatcher(ids, weights=weights) if weights else ListMatcher(ids, all_weights=boost)


class _Expanding:
    """Mixin for prefix and fuzzy queries: the union of the expansions' postings.

    ``expand(vocabulary)`` finds the words in a sorted in-memory word list (the
    bulk evaluator's path); ``expanded(reader)`` asks whoosh's term table.
    """

    def expand(self, vocabulary: Sequence[str]) -> list[str]:
        """The words of the sorted `vocabulary` this query stands for (remembered for it)."""
        memo = self.__dict__.get("_plait_expand")
        if memo is None or memo[0] is not vocabulary:
            memo = self.__dict__["_plait_expand"] = (vocabulary, self._expand(vocabulary))
        return memo[1]

    def expanded(self, reader: IndexReader) -> list[str]:
        """The indexed words this query stands for in `reader`."""
        return _cached(self, "words", reader, self._words)

    def _words(self, reader: IndexReader) -> list[str]:
        field = reader.schema[self.fieldname]
        return [t if isinstance(t, str) else field.from_bytes(t) for t in self._btexts(reader) if t]

    def _docs(self, reader: IndexReader) -> _Docs:
        found: set[int] = set()
        for word in self.expanded(reader):
            found.update(postings.read_ids(reader, self.fieldname, word))
        return sorted(found), None

    def matches(self, reader: IndexReader) -> _Docs:
        """The sorted note numbers of a segment reader that match (no weights: the boost)."""
        return _cached(self, "docs", reader, self._docs)

    def estimate_size(self, ixreader):
        return len(self.matches(ixreader)[0])

    def matcher(self, searcher, context=None):
        return _matcher(self.matches(searcher.reader()), self.boost)


class FastPrefix(_Expanding, Prefix):
    """Notes with a word starting with ``text``."""

    def _expand(self, vocabulary: Sequence[str]) -> list[str]:
        i = bisect_left(vocabulary, self.text)
        j = i
        while j < len(vocabulary) and vocabulary[j].startswith(self.text):
            j += 1
        return list(vocabulary[i:j])


class FastFuzzy(_Expanding, FuzzyTerm):
    """Notes with a word within ``maxdist`` Levenshtein edits of ``text``.

    whoosh's automaton gives the candidates; the distance is checked again so the
    meaning does not depend on which reader expands the term.
    """

    def _btexts(self, ixreader):
        field = ixreader.schema[self.fieldname]
        for term in super()._btexts(ixreader):
            word = term if isinstance(term, str) else field.from_bytes(term)
            if within_distance(word, self.text, self.maxdist):
                yield term

    def _expand(self, vocabulary: Sequence[str]) -> list[str]:
        """whoosh's Levenshtein automaton walked over the list (as its term
        readers walk their term table), then the distance checked again."""
        dfa = Automata.levenshtein_dfa(self.text, self.maxdist, self.prefixlength)
        found: list[str] = []
        i = 0
        match = dfa.next_valid_string(vocabulary[0]) if vocabulary else None
        while match:
            i = bisect_left(vocabulary, match, i)
            if i == len(vocabulary):
                break
            word = vocabulary[i]
            if word == match:
                found.append(word)
                word += "\0"
            match = dfa.next_valid_string(word)
        return [w for w in found if within_distance(w, self.text, self.maxdist)]


class FastPhrase(Phrase):
    """Notes where ``words`` occur at consecutive positions (slop 1 only)."""

    def _docs(self, reader: IndexReader) -> _Docs:
        fmt = reader.schema[self.fieldname].format
        if any((self.fieldname, w) not in reader for w in self.words):
            return [], None
        # The rarest word first: only blocks of the others that may hold its notes are read.
        order = sorted(range(len(self.words)),
                       key=lambda i: reader.doc_frequency(self.fieldname, self.words[i]))
        found: list[dict[int, bytes]] = [{}] * len(self.words)
        candidates: list[int] | None = None
        for i in order:
            docs, _, values = postings.read(reader, self.fieldname, self.words[i], weights=False,
                                            values=True, only=candidates)
            found[i] = dict(zip(docs, values))
            candidates = sorted(found[i].keys() if candidates is None
                                else found[i].keys() & set(candidates))
            if not candidates:
                return [], None
        ids: list[int] = []
        weights: list[float] = []
        for doc in candidates:
            starts = set(_positions(fmt, found[0][doc]))  # where the phrase could start
            for i in range(1, len(found)):
                starts = starts.intersection(map(sub, _positions(fmt, found[i][doc]), repeat(i)))
                if not starts:
                    break
            if starts:
                ids.append(doc)
                weights.append(self.boost * (1.0 + math.log(len(starts))))
        return ids, weights

    def matches(self, reader: IndexReader) -> _Docs:
        """The sorted note numbers of a segment reader that match, and their weights."""
        return _cached(self, "docs", reader, self._docs)

    def estimate_size(self, ixreader):
        return len(self.matches(ixreader)[0])

    def matcher(self, searcher, context=None):
        return _matcher(self.matches(searcher.reader()), self.boost)


def _positions(fmt: object, value: bytes) -> list[int] | accumulate:
    """Decode a posting's positions; whoosh's Positions format is a pickled delta list
    after the count (see ``Positions.encode``), which C code decodes fast."""
    if type(fmt) is not Positions:
        return fmt.decode_positions(value)
    if not value.endswith(b"."):
        value += b"."  # whoosh drops pickle's STOP opcode when it stores the value
    return accumulate(pickle.loads(value[_INT_SIZE:]))
