"""Whoosh tokenizers built on ``text.segments`` and ``text.fold``.

``PlaitTokenizer(words=True, grams=False)`` gives the folded words of a field;
a CJK run between two words takes one position, so a phrase never jumps over it.
``PlaitTokenizer(words=False, grams=True)`` gives the 1- and 2-grams of each CJK
run: the unigram and the bigram starting at run character *i* share position
*i*, so a query run matches as a phrase of consecutive bigrams, i.e. as a
substring.  Runs are kept apart by a gap so no phrase crosses from one to the next.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterator

from whoosh.analysis import Token, Tokenizer

from crdt_store.search.text import cjk_runs, fold, fold_run, segments, split

__all__ = ["PlaitTokenizer"]

_ASCII_WORD = re.compile("[a-z0-9]+")  # a word of lower-cased ASCII text (see text.word_char)


class PlaitTokenizer(Tokenizer):
    """Folded words (``words``) and/or CJK 1- and 2-grams (``grams``) of a text.

    Offsets (``chars=True``) are only computed when asked for; the fast path
    works on ``findall`` results.
    """

    def __init__(self, *, words: bool = True, grams: bool = True) -> None:
        self.words = words
        self.grams = grams

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, PlaitTokenizer)
            and (self.words, self.grams) == (other.words, other.grams)
        )

    def __hash__(self) -> int:
        return hash((self.words, self.grams))

    def __call__(
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        **kwargs: object,
    ) -> Iterator[Token]:
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        if chars:
            yield from self._with_chars(t, value, start_pos, start_char, keeporiginal)
        elif value.isascii():  # no CJK runs, and folding is lower-casing
            if self.words:
                for pos, word in enumerate(_ASCII_WORD.findall(value.lower()), start_pos):
                    yield self._emit(t, word, pos, 0, 0, 0, keeporiginal)
        elif not self.grams:
            pos = start_pos
            for _run, word in split(value):
                if word:
                    yield self._emit(t, fold(word), pos, 0, 0, 0, keeporiginal)
                pos += 1  # a CJK run holds one position between the words around it
        elif not self.words:
            pos = start_pos
            for run in cjk_runs(value):
                pos = yield from self._grams(t, fold_run(run)[0], pos, keeporiginal)
        else:
            pos = start_pos
            for run, word in split(value):
                if word:
                    yield self._emit(t, fold(word), pos, 0, 0, 0, keeporiginal)
                    pos += 1
                else:
                    pos = yield from self._grams(t, fold_run(run)[0], pos, keeporiginal)

    def _grams(self, t: Token, run: str, pos: int, keep: bool) -> Generator[Token, None, int]:
        """Emit the 1- and 2-grams of a folded run from `pos`; return the next free position."""
        for i in range(len(run)):
            yield self._emit(t, run[i], pos + i, 0, 0, 0, keep)
            if i + 1 < len(run):
                yield self._emit(t, run[i : i + 2], pos + i, 0, 0, 0, keep)
        return pos + len(run) + 1

    def _with_chars(self, t: Token, value: str, pos: int, base: int, keep: bool) -> Iterator[Token]:
        """The same tokens with character offsets (for whoosh's own highlighting)."""
        for cjk, start, end in segments(value):
            if not cjk:
                if self.words:
                    yield self._emit(t, fold(value[start:end]), pos, base, start, end, keep)
                    pos += 1
                continue
            if not self.grams:
                pos += 1
                continue
            run, spans = fold_run(value[start:end])
            for i in range(len(run)):
                a, b = spans[i] if spans else (i, i + 1)
                yield self._emit(t, run[i], pos + i, base + start, a, b, keep)
                if i + 1 < len(run):
                    b = spans[i + 1][1] if spans else i + 2
                    yield self._emit(t, run[i : i + 2], pos + i, base + start, a, b, keep)
            pos += len(run) + 1

    @staticmethod
    def _emit(t: Token, text: str, pos: int, base: int, start: int, end: int, keep: bool) -> Token:
        t.text = text
        t.boost = 1.0
        t.stopped = False
        if keep:
            t.original = text
        if t.positions:
            t.pos = pos
        if t.chars:
            t.startchar = base + start
            t.endchar = base + end
        return t
