"""How search sees text: folding, word/CJK segmentation, n-grams and edit distance.

The index analyzers, the query parser and the match highlighter all use these
functions, so a word is found exactly when the highlighter can point at it.

* ``fold`` makes text case- and accent-insensitive: NFKD, drop combining
  diacritics (U+0300 block and friends, not the marks that carry meaning in
  Thai, Indic scripts or kana voicing), casefold, ``accent_map`` for letters
  without a decomposition (ø, ł, đ…), then NFC.
* ``segments`` splits text into *words* (letters, digits and combining marks,
  underscore excluded) and *runs* of characters from scripts written without
  spaces (Han, Hiragana, Katakana, Hangul, Thai), which are searched as
  substrings through 1- and 2-grams instead of as words.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from functools import cache

from whoosh.support.charset import accent_map

__all__ = [
    "UNSAFE",
    "char_fold_table",
    "cjk_grams",
    "cjk_runs",
    "fold",
    "fold_run",
    "segments",
    "separator_char",
    "split",
    "within_distance",
    "word_char",
    "words",
]

# Scripts written without spaces between words.
CJK_CLASS = (
    "\u0e00-\u0e7f"  # Thai
    "\u1100-\u11ff"  # Hangul Jamo
    "\u2e80-\u2fdf"  # CJK and Kangxi radicals
    "\u3005-\u3007\u3021-\u3029\u3031-\u3035\u3038-\u303c"  # 々〆〇, Hangzhou numerals, kana repeats
    "\u3041-\u309f"  # Hiragana, with the voicing marks
    "\u30a1-\u30fa\u30fc-\u30ff"  # Katakana, without the middle dot
    "\u3131-\u318e"  # Hangul compatibility Jamo
    "\u31f0-\u31ff"  # Katakana phonetic extensions
    "\u3400-\u4dbf"  # CJK extension A
    "\u4e00-\u9fff"  # CJK unified ideographs
    "\ua960-\ua97f"  # Hangul Jamo extended-A
    "\uac00-\ud7a3"  # Hangul syllables
    "\ud7b0-\ud7ff"  # Hangul Jamo extended-B
    "\uf900-\ufaff"  # CJK compatibility ideographs
    "\uff66-\uff9f"  # half-width Katakana
    "\uffa0-\uffdc"  # half-width Hangul
    "\U00020000-\U0003134f"  # CJK extensions B-G, compatibility supplement
)
_CJK_CHAR = re.compile(f"[{CJK_CLASS}]")
_DIACRITICS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]+")
_ACCENTS = {k: v for k, v in accent_map.items() if not _CJK_CHAR.match(chr(k))}


def _ranges(chars: list[int]) -> str:
    """A regex character-class body for the sorted code points `chars`."""
    out: list[str] = []
    i = 0
    while i < len(chars):
        j = i
        while j + 1 < len(chars) and chars[j + 1] == chars[j] + 1:
            j += 1
        out.append(re.escape(chr(chars[i])) + ("-" + re.escape(chr(chars[j])) if j > i else ""))
        i = j + 1
    return "".join(out)


@cache
def _marks() -> str:
    """Character-class body of the combining marks outside CJK runs.

    Scans the Unicode tables once (planes 0, 1 and the variation selectors of
    plane 14), about 30 ms, on first use.
    """
    candidates = (*range(0x20000), *range(0xE0100, 0xE01F0))
    return _ranges([
        c for c in candidates
        if unicodedata.category(chr(c))[0] == "M" and not _CJK_CHAR.match(chr(c))
    ])


def word_char() -> str:
    """Regex fragment for one word character: a letter or digit outside CJK runs, or a mark."""
    return f"(?:[^\\W_{CJK_CLASS}]|[{_marks()}])"


def separator_char() -> str:
    """Regex fragment for one character that is neither in a word nor in a CJK run."""
    return f"(?![{_marks()}{CJK_CLASS}])[\\W_]"


@cache
def _segmenter() -> re.Pattern[str]:
    """Group 1: a run of CJK characters; group 2: a word."""
    return re.compile(f"([{CJK_CLASS}]+)|({word_char()}+)")


_CJK_RUN = re.compile(f"[{CJK_CLASS}]+")


def fold(text: str) -> str:
    """Case- and accent-insensitive form of `text` ("Café" -> "cafe", "Straße" -> "strasse")."""
    if text.isascii():
        return text.lower()
    text = _DIACRITICS.sub("", unicodedata.normalize("NFKD", text))
    return unicodedata.normalize("NFC", text.casefold().translate(_ACCENTS))


UNSAFE = "\uffff"  # char_fold_table's value for a character that cannot be folded alone


class _CharFolds(dict[int, str]):
    """A ``str.translate`` table filled on demand: see ``char_fold_table``."""

    def __missing__(self, code: int) -> str:
        ch = chr(code)
        kind = _kind(ch)
        if kind == "separator":
            value = ch  # never part of a word: its folding does not matter
        else:
            value = fold(ch)
            if len(value) != 1 or _kind(value) != kind or unicodedata.category(ch)[0] == "M":
                value = UNSAFE
        self[code] = value
        return value


def _kind(ch: str) -> str:
    if _CJK_CHAR.match(ch):
        return "cjk"
    return "word" if _segmenter().match(ch) else "separator"


@cache
def char_fold_table() -> dict[int, str]:
    """Translate table folding text one character at a time, keeping offsets.

    Each word or CJK character maps to its one-character fold, or to ``UNSAFE``
    when it folds to several characters or none (ß, ligatures, combining
    marks): such text must be folded word by word instead.  Separators map to
    themselves.  Filled lazily; shared by all threads (dict updates are atomic).
    """
    return _CharFolds({c: chr(c).lower() for c in range(128)})


def segments(text: str) -> Iterator[tuple[bool, int, int]]:
    """``(is_cjk_run, start, end)`` for each word and CJK run of `text`, in order."""
    for m in _segmenter().finditer(text):
        yield m.lastindex == 1, m.start(), m.end()


def split(text: str) -> list[tuple[str, str]]:
    """``(cjk_run, word)`` pairs, one of them empty, for each segment of `text` (unfolded)."""
    return _segmenter().findall(text)


def cjk_runs(text: str) -> list[str]:
    """The CJK runs of `text`, unfolded."""
    return _CJK_RUN.findall(text)


def words(text: str) -> list[str]:
    """The folded words of `text`, CJK runs left out."""
    return [fold(word) for _, word in split(text) if word]


_CLUSTER = re.compile(r".[\u3099\u309a\uff9e\uff9f\u0e31\u0e34-\u0e3a\u0e47-\u0e4e]*", re.DOTALL)


def fold_run(run: str) -> tuple[str, list[tuple[int, int]] | None]:
    """Fold a CJK run; return it with, for each folded character, the ``(start, end)``
    of the characters of `run` it came from (None when folding changed nothing).

    Each base character is folded together with its following marks, so
    half-width "ｶﾞ" becomes "ガ" and still maps back to both characters.
    """
    if unicodedata.is_normalized("NFKC", run) and run.casefold() == run:
        return run, None
    pieces: list[str] = []
    spans: list[tuple[int, int]] = []
    for m in _CLUSTER.finditer(run):
        folded = fold(m.group())
        pieces.append(folded)
        spans.extend([m.span()] * len(folded))
    return "".join(pieces), spans


def cjk_grams(run: str) -> list[str]:
    """The grams a folded CJK query run is searched by: its bigrams, or itself if one character."""
    if len(run) < 2:
        return [run]
    return [run[i : i + 2] for i in range(len(run) - 1)]


def within_distance(a: str, b: str, limit: int) -> bool:
    """True if the Levenshtein distance between `a` and `b` is at most `limit`."""
    if abs(len(a) - len(b)) > limit:
        return False
    if a == b:
        return True
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        if min(current) > limit:
            return False
        previous = current
    return previous[-1] <= limit
