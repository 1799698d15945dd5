"""The search box language -> a whoosh query (``parse_query``).

``cafe notes`` both words (in the title or body), ``"exact phrase"``, ``plai*``
prefix, ``recieve~`` / ``recieve~2`` up to 1 / 2 edits, ``cats OR dogs``,
``NOT draft`` / ``-draft``, ``(a OR b) c`` grouping (words next to each other
bind tighter than OR: ``a OR b c`` is ``a OR (b c)``); filters ``tag:x`` / ``#x``
(also matches ``#x/sub``; ``tag:x*`` any tag starting with x), ``notebook:x``,
``title:x``, ``author:x`` (a whole name or one of its words), and ``modified:`` /
``created:`` (see ``dates``).  Filter values may be quoted (``title:"a b"``); a
field followed by parentheses (``title:(a b)``) is not supported.

Everything is case- and accent-insensitive; CJK/Thai text matches as a
substring.  ``OR``, ``AND`` and ``NOT`` are operators only in capitals.  Words
that hold no letters or digits are ignored; a word that splits into several
(``snake_case``, ``e-mail``, an unknown ``field:value``) is searched as a phrase.  Any input gives a ParsedQuery or a SearchQueryError.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from whoosh.query import And, DateRange, Every, Not, Or, Query, Term

from crdt_store.errors import PlaitError
from crdt_store.markdown_text import tag_spans
from crdt_store.search.dates import DATE_HELP, DateFilterError, parse_interval
from crdt_store.search.matchers import FastFuzzy, FastPhrase, FastPrefix
from crdt_store.search.schema import tag_key
from crdt_store.search.text import cjk_grams, fold, fold_run, segments
from crdt_store.unicode_offsets import sanitize

__all__ = ["Highlight", "ParsedQuery", "SearchQueryError", "fuzzy_words", "parse_query"]

FUZZY_PREFIX = 0  # leading characters a fuzzy match must share (0: any edit anywhere)
MAX_DEPTH = 32
_FIELDS = ("tag", "notebook", "title", "author", "modified", "created")
_FIELD = re.compile(r"([A-Za-z]+):(.*)", re.DOTALL)
_MODIFIER = re.compile(r"(.*?)(\*|~(\d*))?", re.DOTALL)


class SearchQueryError(PlaitError, ValueError):
    """A query that cannot be read; the message says what to change."""


@dataclass(frozen=True)
class Highlight:
    """A plain search term to point at in a note's text (folded words).

    ``word``: a word equal to ``words[0]``; ``prefix``: a word starting with it;
    ``fuzzy``: a word within ``maxdist`` edits of it; ``phrase``: consecutive
    words; ``cjk``: ``words[0]`` as a substring of a CJK run.
    """

    kind: Literal["word", "prefix", "fuzzy", "phrase", "cjk"]
    words: tuple[str, ...]
    maxdist: int = 0


@dataclass(frozen=True)
class ParsedQuery:
    """A parsed query: the whoosh query and the plain terms to highlight.

    ``ranked`` is False when the query has no plain terms (only filters, or
    nothing): results are then sorted by modification time, newest first.
    """

    text: str
    query: Query
    terms: tuple[Highlight, ...]

    @property
    def ranked(self) -> bool:
        return bool(self.terms)


@dataclass(frozen=True)
class _Tok:
    kind: str  # "(", ")", "OR", "NOT", "WORD", "PHRASE" or "FIELD"
    text: str  # the word, the phrase, or the field's value
    field: str = ""
    quoted: bool = False  # a field value given in quotes


_Node = tuple[Query | None, list[Highlight]]


def fuzzy_words(query: ParsedQuery, vocabulary: Callable[[str], Sequence[str]]) -> set[str]:
    """The indexed body words within reach of the query's (not excluded) fuzzy terms;
    `vocabulary(field)` gives the sorted words of a field."""
    wanted = {(t.words[0], t.maxdist) for t in query.terms if t.kind == "fuzzy"}
    words: set[str] = set()
    for q in query.query.leaves():
        if isinstance(q, FastFuzzy) and q.fieldname == "body" and (q.text, q.maxdist) in wanted:
            words.update(q.expand(vocabulary("body")))
    return words


def parse_query(text: str, *, now: float) -> ParsedQuery:
    """Parse the search box `text`; `now` (POSIX time) anchors ``modified:7d`` and the like."""
    text = sanitize(text)
    parser = _Parser(_lex(text), now)
    query, terms = parser.parse()
    return ParsedQuery(text, Every() if query is None else query, tuple(dict.fromkeys(terms)))


# --------------------------------------------------------------------------- lexer


def _excerpt(text: str, limit: int = 30) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _read_phrase(text: str, i: int) -> tuple[str, int]:
    """The phrase opened by the quote at `i`, and the index after its closing quote."""
    j = text.find('"', i + 1)
    if j < 0:
        raise SearchQueryError(f'Unclosed quote in {_excerpt(text[i:])} — add a closing ".')
    return text[i + 1 : j], j + 1


def _lex(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c in "()":
            out.append(_Tok(c, c))
            i += 1
        elif c == '"':
            phrase, i = _read_phrase(text, i)
            out.append(_Tok("PHRASE", phrase))
        elif c == "-" and i + 1 < n and not text[i + 1].isspace() and text[i + 1] != ")":
            out.append(_Tok("NOT", "-"))
            i += 1
        else:
            j = i
            while j < n and not text[j].isspace() and text[j] not in '()"':
                j += 1
            tok, i = _classify(text, text[i:j], j)
            if tok is not None:
                out.append(tok)
    return out


def _classify(text: str, word: str, j: int) -> tuple[_Tok | None, int]:
    """The token for a bare `word` ending at `j`, and where lexing continues."""
    if word in ("OR", "NOT"):
        return _Tok(word, word), j
    if word == "AND":
        return None, j  # explicit AND: words are ANDed anyway
    m = _FIELD.fullmatch(word)
    if m and m[1].lower() in _FIELDS:
        field, value = m[1].lower(), m[2]
        if not value and j < len(text) and text[j] == '"':
            value, j = _read_phrase(text, j)
            quoted = True
        elif not value and j < len(text) and text[j] == "(":
            raise SearchQueryError(
                f"{field}:( … ) is not supported — repeat the filter: {field}:a {field}:b."
            )
        else:
            quoted = False
        if not value.strip():
            raise SearchQueryError(f"{field}: needs a value, as in {field}:{_EXAMPLES[field]}.")
        return _Tok("FIELD", value, field, quoted), j
    tag = word.removesuffix("*")
    if tag.startswith("#") and list(tag_spans(tag)) == [(0, len(tag))]:
        return _Tok("FIELD", word[1:], "tag"), j
    return _Tok("WORD", word), j


_EXAMPLES = {
    "tag": "ideas", "notebook": "work", "title": "plan", "author": "ada",
    "modified": "7d", "created": "2026-01-01..2026-02-01",
}


# --------------------------------------------------------------------------- parser


def _any(fields: tuple[str, ...], make) -> Query:
    queries = [make(f) for f in fields]
    return queries[0] if len(queries) == 1 else Or(queries)


def _all(queries: list[Query]) -> Query | None:
    return None if not queries else queries[0] if len(queries) == 1 else And(queries)


class _Parser:
    """Recursive descent: or := and (OR and)*; and := unary+; unary := NOT unary | atom."""

    def __init__(self, toks: list[_Tok], now: float) -> None:
        self.toks = toks
        self.i = 0
        self.now = now
        self.depth = 0

    def peek(self) -> str | None:
        return self.toks[self.i].kind if self.i < len(self.toks) else None

    def parse(self) -> _Node:
        node = self.or_expr()
        if self.peek() == ")":
            raise SearchQueryError("Unmatched ')' — remove it or add a '(' before it.")
        return node

    def or_expr(self) -> _Node:
        parts = [self.and_expr()]
        while self.peek() == "OR":
            self.i += 1
            parts.append(self.and_expr())
        if len(parts) > 1 and any(count == 0 for *_, count in parts):
            raise SearchQueryError("OR needs a search term on both sides, as in: cats OR dogs.")
        queries = [q for q, _, _ in parts if q is not None]
        terms = [t for _, found, _ in parts for t in found]
        return (Or(queries) if len(queries) > 1 else queries[0] if queries else None), terms

    def and_expr(self) -> tuple[Query | None, list[Highlight], int]:
        queries: list[Query] = []
        terms: list[Highlight] = []
        count = 0
        while self.peek() not in (None, ")", "OR"):
            query, found = self.unary()
            count += 1
            if query is not None:
                queries.append(query)
            terms += found
        return _all(queries), terms, count

    def unary(self) -> _Node:
        tok = self.toks[self.i]
        if tok.kind != "NOT":
            return self.atom()
        self.i += 1
        if self.peek() in (None, ")", "OR"):
            word = "NOT" if tok.text == "NOT" else "'-'"
            raise SearchQueryError(f"{word} needs a search term after it, as in: cats {word} dogs.")
        query, _ = self.unary()  # excluded terms are not highlighted
        return (None if query is None else Not(query)), []

    def atom(self) -> _Node:
        tok = self.toks[self.i]
        self.i += 1
        if tok.kind == "(":
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise SearchQueryError("Too many nested parentheses.")
            query, terms = self.or_expr()
            if self.peek() != ")":
                raise SearchQueryError("Missing ')' — every '(' needs a matching ')'.")
            self.i += 1
            self.depth -= 1
            return query, terms
        if tok.kind == "WORD":
            return _text(tok.text, ("title", "body"), "cjk", phrase=False)
        if tok.kind == "PHRASE":
            return _text(tok.text, ("title", "body"), "cjk", phrase=True)
        return self.field(tok)

    def field(self, tok: _Tok) -> _Node:
        name, value = tok.field, tok.text
        if name in ("title", "notebook"):
            query, _ = _text(value, (name,), name, phrase=tok.quoted)
            if query is None:
                raise SearchQueryError(f"{name}:{_excerpt(value)} has no letters or digits to look for.")
            return query, []
        if name in ("modified", "created"):
            try:
                start, end = parse_interval(value, self.now)
            except DateFilterError as exc:
                raise SearchQueryError(f"{name}:{_excerpt(value)} — {exc}. Use {DATE_HELP}.") from None
            return DateRange(name, start, end, endexcl=True), []
        prefix = value.endswith("*") and not tok.quoted
        core = value.rstrip("*") if prefix else value
        if name == "tag":
            key = tag_key(core).lower()
            if not key:
                raise SearchQueryError(f"tag: needs a tag name, as in tag:{_EXAMPLES['tag']}.")
            if prefix:
                return FastPrefix("tags", key), []
            return Or([Term("tags", key), FastPrefix("tags", key + "/")]), []
        key = " ".join(fold(core).replace(",", " ").split()).lower()
        if not key:
            raise SearchQueryError(f"author: needs a name, as in author:{_EXAMPLES['author']}.")
        return (FastPrefix("authors", key) if prefix else Term("authors", key)), []


# --------------------------------------------------------------------------- text terms


def _modifiers(raw: str) -> tuple[str, bool, int]:
    """Split ``word*`` / ``word~`` / ``word~2`` into (word, prefix, fuzzy distance)."""
    m = _MODIFIER.fullmatch(raw)
    core, mod = m[1], m[2] or ""
    if "*" in core:
        raise SearchQueryError(f"'{_excerpt(raw)}': * only works at the end of a word, as in plai*.")
    if mod == "*" and not any(True for _ in segments(core)):
        raise SearchQueryError("Type at least one letter before *, as in plai*.")
    if not mod.startswith("~"):
        return core, mod == "*", 0
    distance = int(m[3]) if m[3] else 1
    if distance not in (1, 2):
        raise SearchQueryError(f"'{_excerpt(raw)}': fuzzy search allows 1 or 2 edits: word~ or word~2.")
    return core, False, distance


def _text(raw: str, fields: tuple[str, ...], cjk_field: str, *, phrase: bool) -> _Node:
    """Words and phrases (`raw` is a word with optional * / ~ or the text of a phrase)."""
    core, prefix, fuzzy = (raw, False, 0) if phrase else _modifiers(raw)
    groups: list[list[str] | str] = []  # runs of consecutive words, and CJK runs
    for cjk, start, end in segments(core):
        if cjk:
            groups.append(fold_run(core[start:end])[0])
        elif groups and isinstance(groups[-1], list):
            groups[-1].append(fold(core[start:end]))
        else:
            groups.append([fold(core[start:end])])
    queries: list[Query] = []
    terms: list[Highlight] = []
    for n, group in enumerate(groups):
        if isinstance(group, str):
            grams = cjk_grams(group)
            queries.append(Term(cjk_field, grams[0]) if len(grams) == 1 else FastPhrase(cjk_field, grams))
            terms.append(Highlight("cjk", (group,)))
        elif fuzzy:
            for word in group:
                queries.append(_any(fields, lambda f, w=word, d=fuzzy: FastFuzzy(
                    f, w, maxdist=d, prefixlength=FUZZY_PREFIX)))
                terms.append(Highlight("fuzzy", (word,), fuzzy))
        elif prefix and n == len(groups) - 1:
            *head, last = group
            queries += [_any(fields, lambda f, w=w: Term(f, w)) for w in head]
            queries.append(_any(fields, lambda f, p=last: FastPrefix(f, p)))
            terms += [Highlight("word", (w,)) for w in head] + [Highlight("prefix", (last,))]
        elif len(group) == 1:
            queries.append(_any(fields, lambda f, w=group[0]: Term(f, w)))
            terms.append(Highlight("word", (group[0],)))
        else:
            queries.append(_any(fields, lambda f, ws=tuple(group): FastPhrase(f, list(ws))))
            terms.append(Highlight("phrase", tuple(group)))
    return _all(queries), terms
