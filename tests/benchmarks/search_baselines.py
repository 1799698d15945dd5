"""The search benchmark's baselines: a brute-force scan and SQLite FTS5 (stdlib sqlite3).

Both run the ``Clause``s of a ``BenchQuery`` over the same notes, leave trashed
notes out, and return the best ``limit`` note ids and how many matched, as
``SearchIndex.search`` does.

* ``BruteForce`` keeps each note's text folded once (casefold, accents
  stripped by NFKD) and scans every note for every query with compiled regexes
  (substring for CJK; the words of each note against the one-edit variants of a
  fuzzy term).  No ranking: the newest matches first, no snippets.
* ``Fts5`` indexes title, body and notebook in an FTS5 table (``unicode61
  remove_diacritics 2``, prefix indexes of 2-4 characters) beside a plain table
  of dates, flags and tags; CJK runs go into a column of their own with spaces
  between the characters, so a run is searched as a phrase, i.e. a substring.
  Ranked by bm25 (newest first for filter-only queries) with a ``snippet()``
  of each hit and a ``count(*)``.  FTS5 has no fuzzy search: such queries are
  skipped (``None``).
"""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from collections.abc import Callable, Iterable
from pathlib import Path

from crdt_store.search import NoteDocument

from .search_workload import BenchQuery, Clause

_COMBINING = re.compile("[\u0300-\u036f]+")
_NO_DECOMPOSITION = str.maketrans({"ø": "o", "đ": "d", "ł": "l", "æ": "ae", "œ": "oe", "ı": "i"})
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7a3"
_CJK_RUN = re.compile(f"[{_CJK}]+")
_WORD = re.compile(rf"[^\W_{_CJK}]+")


def fold(text: str) -> str:
    """Case- and accent-insensitive text: NFKD, combining marks dropped, casefold,
    and the few letters without a decomposition (ø, ł...) mapped by hand."""
    if text.isascii():
        return text.lower()
    text = _COMBINING.sub("", unicodedata.normalize("NFKD", text)).casefold()
    return unicodedata.normalize("NFC", text.translate(_NO_DECOMPOSITION))


def _tag_keys(tags: Iterable[str]) -> frozenset[str]:
    return frozenset(fold(t.lstrip("#")) for t in tags)


def text_bytes(notes: list[NoteDocument]) -> int:
    """UTF-8 size of the notes' text (what a rebuild reads)."""
    return sum(len(n.body.encode("utf-8", "surrogatepass")) for n in notes)


# --------------------------------------------------------------------------- brute force


class BruteForce:
    """Every query scans every note's folded text (fuzzy terms: its set of words)."""

    def __init__(self, notes: list[NoteDocument]) -> None:
        self.ids: list[str] = []
        self.texts: list[str] = []
        self.rows: list[tuple[float, bool, frozenset[str], frozenset[str], frozenset[str]]] = []
        self.alphabet: set[str] = set()
        self._at: dict[str, int] = {}
        self._words: dict[str, str] = {}  # one string object per distinct word
        for note in notes:
            self.update(note)

    def update(self, note: NoteDocument) -> None:
        text = fold(note.body)
        self.alphabet.update(text)
        words = frozenset(self._words.setdefault(w, w) for w in _WORD.findall(text))
        row = (note.modified, note.trashed, _tag_keys(note.tags),
               frozenset(_WORD.findall(fold(note.notebook_name))), words)
        i = self._at.setdefault(note.note_id, len(self.ids))
        if i == len(self.ids):
            self.ids.append(note.note_id)
            self.texts.append(text)
            self.rows.append(row)
        else:
            self.texts[i], self.rows[i] = text, row

    def search(self, query: BenchQuery, limit: int = 50) -> tuple[list[str], int]:
        tests = [self._test(c) for c in query.clauses]
        combine = any if query.any_of else all
        found = [
            i for i, (text, row) in enumerate(zip(self.texts, self.rows))
            if not row[1] and combine(t(text, row) for t in tests)
        ]
        found.sort(key=lambda i: self.rows[i][0], reverse=True)
        return [self.ids[i] for i in found[:limit]], len(found)

    def _test(self, c: Clause) -> Callable[[str, tuple], bool]:
        test = self._positive(c)
        return (lambda text, row: not test(text, row)) if c.negate else test

    def _positive(self, c: Clause) -> Callable[[str, tuple], bool]:
        if c.kind in ("word", "phrase", "prefix"):
            words = [fold(w) for w in ((c.value,) if isinstance(c.value, str) else c.value)]
            tail = r"\w*" if c.kind == "prefix" else r"(?!\w)"
            pattern = re.compile(r"(?<!\w)" + r"\W+".join(map(re.escape, words)) + tail)
            first = words[0]  # a plain substring test first: most notes fail it fast
            return lambda text, row: first in text and pattern.search(text) is not None
        if c.kind == "cjk":
            needle = fold(str(c.value))
            return lambda text, row: needle in text
        if c.kind == "fuzzy":
            variants = _one_edit(fold(str(c.value)), self.alphabet)
            return lambda text, row: not variants.isdisjoint(row[4])
        if c.kind == "tag":
            key = fold(str(c.value))
            nested = key + "/"
            return lambda text, row: any(t == key or t.startswith(nested) for t in row[2])
        if c.kind == "notebook":
            key = fold(str(c.value))
            return lambda text, row: key in row[3]
        if c.kind == "modified":
            start, end = c.value
            return lambda text, row: start <= row[0] < end
        raise ValueError(f"unknown clause {c.kind}")


def _one_edit(word: str, alphabet: set[str]) -> set[str]:
    """Every string at most one insertion, deletion or substitution away from `word`."""
    letters = [ch for ch in alphabet if ch.isalnum()]
    out = {word}
    for i in range(len(word) + 1):
        head, tail = word[:i], word[i:]
        out.update(head + ch + tail for ch in letters)
        if tail:
            out.add(head + tail[1:])
            out.update(head + ch + tail[1:] for ch in letters)
    return out


# --------------------------------------------------------------------------- FTS5


def fts5_available() -> str | None:
    """None if this sqlite3 build has FTS5, else why not."""
    try:
        with sqlite3.connect(":memory:") as conn:
            conn.execute("CREATE VIRTUAL TABLE t USING fts5(a)")
    except sqlite3.OperationalError as exc:
        return f"SQLite {sqlite3.sqlite_version} has no FTS5 ({exc})"
    return None


_SCHEMA = """
CREATE VIRTUAL TABLE notes USING fts5(
    title, body, notebook, cjk,
    tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3 4'
);
CREATE TABLE meta (id INTEGER PRIMARY KEY, note_id TEXT UNIQUE, modified REAL, trashed INTEGER);
CREATE INDEX meta_modified ON meta (trashed, modified);
CREATE TABLE tags (id INTEGER, tag TEXT);
CREATE INDEX tags_tag ON tags (tag, id);
"""


def _fts_row(note: NoteDocument) -> tuple[str, str, str, str]:
    """Folded (unicode61 leaves ø, ł, ß... as they are); CJK runs spaced out, with a
    token between runs so no phrase spans two."""
    cjk = " x ".join(" ".join(run) for run in _CJK_RUN.findall(fold(note.body)))
    return fold(note.title), fold(note.body), fold(note.notebook_name), cjk


class Fts5:
    """An SQLite database in `path` with the notes in an FTS5 table."""

    def __init__(self, path: Path, notes: list[NoteDocument] | None = None) -> None:
        self.path = path
        fresh = not path.exists()
        self.conn = sqlite3.connect(path)
        if fresh:
            self.conn.executescript(_SCHEMA)
        if notes:
            with self.conn:
                for i, note in enumerate(notes, 1):
                    self._insert(i, note)

    def _insert(self, rowid: int, note: NoteDocument) -> None:
        c = self.conn
        c.execute("INSERT INTO notes (rowid, title, body, notebook, cjk) VALUES (?, ?, ?, ?, ?)",
                  (rowid, *_fts_row(note)))
        c.execute("INSERT INTO meta VALUES (?, ?, ?, ?)",
                  (rowid, note.note_id, note.modified, int(note.trashed)))
        c.executemany("INSERT INTO tags VALUES (?, ?)", [(rowid, t) for t in _tag_keys(note.tags)])

    def update(self, note: NoteDocument) -> None:
        """Replace a note and commit."""
        with self.conn:
            (rowid,) = self.conn.execute("SELECT id FROM meta WHERE note_id = ?", (note.note_id,)).fetchone()
            for table, key in (("notes", "rowid"), ("meta", "id"), ("tags", "id")):
                self.conn.execute(f"DELETE FROM {table} WHERE {key} = ?", (rowid,))
            self._insert(rowid, note)

    def close(self) -> None:
        self.conn.close()

    def search(self, query: BenchQuery, limit: int = 50) -> tuple[list[str], int] | None:
        """Best `limit` note ids and the number of matches; None if FTS5 cannot run it."""
        if any(c.kind == "fuzzy" for c in query.clauses):
            return None
        match, where, params, ranked = self._plan(query)
        where.append("m.trashed = 0")
        if match is None:
            source, order, snippet = "meta m", "m.modified DESC", "''"
        else:
            source = "notes n CROSS JOIN meta m ON m.id = n.rowid"  # the FTS table drives
            where.insert(0, "notes MATCH ?")
            params.insert(0, match)
            order = "n.rank" if ranked else "m.modified DESC"
            snippet = "snippet(notes, 1, '[', ']', '…', 16)"
        cond = " AND ".join(where)
        rows = self.conn.execute(
            f"SELECT m.note_id, {snippet} FROM {source} WHERE {cond} ORDER BY {order} LIMIT ?",
            (*params, limit)).fetchall()
        (total,) = self.conn.execute(f"SELECT count(*) FROM {source} WHERE {cond}", params).fetchone()
        return [r[0] for r in rows], total

    @staticmethod
    def _plan(query: BenchQuery) -> tuple[str | None, list[str], list[object], bool]:
        """The MATCH expression, the other conditions and their parameters, and
        whether there is a text term to rank by."""
        terms: list[tuple[str, bool]] = []
        where: list[str] = []
        params: list[object] = []
        ranked = False
        for c in query.clauses:
            if c.kind in ("word", "phrase", "prefix"):
                words = (c.value,) if isinstance(c.value, str) else c.value
                text = '"' + " ".join(fold(w) for w in words) + '"' + ("*" if c.kind == "prefix" else "")
                terms.append((f"{{title body}} : {text}", c.negate))
                ranked = True
            elif c.kind == "cjk":
                terms.append((f'cjk : "{" ".join(fold(str(c.value)))}"', c.negate))
                ranked = True
            elif c.kind == "notebook":
                terms.append((f'notebook : "{fold(str(c.value))}"', c.negate))
            elif c.kind == "tag":
                key = fold(str(c.value))
                where.append("m.id IN (SELECT t.id FROM tags t WHERE t.tag = ? OR t.tag BETWEEN ? AND ?)")
                params += [key, key + "/", key + "/\U0010ffff"]
            elif c.kind == "modified":
                where.append("m.modified >= ? AND m.modified < ?")
                params += list(c.value)
            else:
                raise ValueError(f"unknown clause {c.kind}")
        if not terms:
            return None, where, params, False
        joiner = " OR " if query.any_of else " AND "
        positive = joiner.join(f"({t})" for t, neg in terms if not neg)
        negative = "".join(f" NOT ({t})" for t, neg in terms if neg)
        return positive + negative, where, params, ranked
