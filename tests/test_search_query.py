"""The search query language: parsing, errors, dates, and folding/segmentation of text."""

from __future__ import annotations

import time
import unicodedata
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crdt_store.search import (
    Highlight,
    NoteDocument,
    SearchIndex,
    SearchQueryError,
    parse_query,
)
from crdt_store.search.dates import DateFilterError, parse_interval
from crdt_store.search.schema import to_datetime
from crdt_store.search.text import (
    cjk_grams,
    fold,
    fold_run,
    segments,
    within_distance,
    words,
)

NOW = 1_780_000_000.0


def terms(text: str) -> tuple[Highlight, ...]:
    return parse_query(text, now=NOW).terms


# --------------------------------------------------------------------------- folding


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Café", "cafe"), ("CAFÉ", "cafe"), ("cafe\u0301", "cafe"), ("naïve", "naive"),
        ("Straße", "strasse"), ("Øre", "ore"), ("Łódź", "lodz"), ("Ｃａｆｅ", "cafe"),
        ("ÅNGSTRÖM", "angstrom"), ("ﬁne", "fine"),
    ],
)
def test_fold_is_case_and_accent_insensitive(text: str, folded: str) -> None:
    assert fold(text) == folded


def test_fold_keeps_marks_that_carry_meaning() -> None:
    assert fold("हिन्दी") == "हिन्दी"  # Devanagari vowel signs and virama stay
    assert fold_run("ガ")[0] == "ガ"  # the voiced mark is not an accent
    assert fold_run("ｶﾞｷﾞ") == ("ガギ", [(0, 2), (2, 4)])  # half-width kana, mapped back
    assert fold_run("中文") == ("中文", None)


def test_segments_split_words_and_cjk_runs() -> None:
    text = "snake_case e-mail naïve cafe\u0301 中文字典 ひらがな 한국어 ภาษาไทย 😀x"
    got = [(cjk, text[a:b]) for cjk, a, b in segments(text)]
    assert got == [
        (False, "snake"), (False, "case"), (False, "e"), (False, "mail"), (False, "naïve"),
        (False, "cafe\u0301"), (True, "中文字典"), (True, "ひらがな"), (True, "한국어"),
        (True, "ภาษาไทย"), (False, "x"),
    ]
    assert words("Hello, WORLD_wide") == ["hello", "world", "wide"]


def test_cjk_grams() -> None:
    assert cjk_grams("中") == ["中"]
    assert cjk_grams("中文字") == ["中文", "文字"]


@given(st.text(alphabet="abcé", max_size=6), st.text(alphabet="abcé", max_size=6), st.integers(0, 3))
def test_within_distance_agrees_with_full_levenshtein(a: str, b: str, k: int) -> None:
    rows = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, rows[0] = rows[0], i
        for j, cb in enumerate(b, 1):
            prev, rows[j] = rows[j], min(rows[j] + 1, rows[j - 1] + 1, prev + (ca != cb))
    assert within_distance(a, b, k) == (rows[-1] <= k)


# --------------------------------------------------------------------------- the language


def test_words_phrases_prefixes_fuzzy() -> None:
    assert terms('Café "Exact phrase" plai* recieve~ teh~2') == (
        Highlight("word", ("cafe",)),
        Highlight("phrase", ("exact", "phrase")),
        Highlight("prefix", ("plai",)),
        Highlight("fuzzy", ("recieve",), 1),
        Highlight("fuzzy", ("teh",), 2),
    )


def test_words_that_split_become_phrases_and_cjk_becomes_substrings() -> None:
    assert terms("snake_case") == (Highlight("phrase", ("snake", "case")),)
    assert terms("中文字") == (Highlight("cjk", ("中文字",)),)
    q = parse_query("中文字", now=NOW).query
    assert str(q) == 'cjk:"中文 文字"'


def test_excluded_terms_and_filters_are_not_highlighted() -> None:
    assert terms("-draft NOT old tag:x title:y author:z modified:7d") == ()
    assert not parse_query("tag:x", now=NOW).ranked
    assert parse_query("x", now=NOW).ranked


def test_operators_only_in_capitals() -> None:
    assert terms("cats or dogs") == tuple(Highlight("word", (w,)) for w in ("cats", "or", "dogs"))
    assert "OR" in str(parse_query("cats OR dogs", now=NOW).query)
    assert terms("cats AND dogs") == (Highlight("word", ("cats",)), Highlight("word", ("dogs",)))


def test_lenient_input() -> None:
    for text in ["", "   ", "- & …", "---", "()", "foo:bar", "12:30", "http://x.com/a?b=c", "#", "#123"]:
        parse_query(text, now=NOW)
    assert terms("foo:bar") == (Highlight("phrase", ("foo", "bar")),)  # unknown field: text
    assert terms("#123") == (Highlight("word", ("123",)),)
    assert str(parse_query("#Ideas", now=NOW).query) == str(parse_query("tag:ideas", now=NOW).query)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('"foo', 'Unclosed quote in "foo'),
        ('title:"foo', 'Unclosed quote in "foo'),
        ("OR cats", "OR needs a search term on both sides"),
        ("cats OR", "OR needs a search term on both sides"),
        ("cats OR OR dogs", "OR needs a search term on both sides"),
        ("(cats OR) dogs", "OR needs a search term on both sides"),
        ("cats NOT", "NOT needs a search term after it"),
        ("(a", "Missing ')'"),
        ("a)", "Unmatched ')'"),
        ("tag:", "tag: needs a value, as in tag:ideas"),
        ('title:""', "title: needs a value"),
        ("title:(a b)", "is not supported"),
        ("title:!!!", "has no letters or digits"),
        ("modified:yesterday", "'yesterday' is not a date like 2026-01-31"),
        ("modified:2026-02-30", "2026-02-30 is not a valid date"),
        ("created:2026-02-01..2026-01-01", "ends before it starts"),
        ("created:..", "needs a date on at least one side"),
        ("modified:99999y", "too far in the past or future"),
        ("fo*o", "* only works at the end of a word"),
        ("*", "at least one letter before *"),
        ("word~3", "fuzzy search allows 1 or 2 edits"),
        ("(" * 40 + "a" + ")" * 40, "Too many nested parentheses"),
    ],
)
def test_malformed_queries_explain_themselves(text: str, message: str) -> None:
    with pytest.raises(SearchQueryError) as info:
        parse_query(text, now=NOW)
    assert message in str(info.value)
    assert isinstance(info.value, ValueError)


# --------------------------------------------------------------------------- dates


def _local(y: int, m: int, d: int) -> datetime:
    return to_datetime(datetime(y, m, d).timestamp())


@pytest.mark.parametrize(
    ("value", "start", "end"),
    [
        ("2026-01-05", _local(2026, 1, 5), _local(2026, 1, 6)),
        (">2026-01-05", _local(2026, 1, 6), None),
        (">=2026-01-05", _local(2026, 1, 5), None),
        ("<2026-01-05", None, _local(2026, 1, 5)),
        ("<=2026-01-05", None, _local(2026, 1, 6)),
        ("2026-01-05..2026-02-01", _local(2026, 1, 5), _local(2026, 2, 2)),
        ("2026-01-05..", _local(2026, 1, 5), None),
        ("..2026-02-01", None, _local(2026, 2, 2)),
        ("7d", to_datetime(NOW - 7 * 86400), None),
        ("24h", to_datetime(NOW - 86400), None),
        ("2w", to_datetime(NOW - 14 * 86400), None),
    ],
)
def test_date_values(value: str, start: datetime | None, end: datetime | None) -> None:
    assert parse_interval(value, NOW) == (start, end)


def test_relative_months_are_calendar_months() -> None:
    now = datetime(2026, 5, 31, 12, 0).timestamp()
    assert parse_interval("3m", now)[0] == to_datetime(datetime(2026, 2, 28, 12, 0).timestamp())
    assert parse_interval("1y", now)[0] == to_datetime(datetime(2025, 5, 31, 12, 0).timestamp())


def test_bad_dates() -> None:
    for value in ["soon", "2026-13-01", "7x", "", ">", "2026-01-01..x"]:
        with pytest.raises(DateFilterError):
            parse_interval(value, NOW)


# --------------------------------------------------------------------------- any input

_PIECES = st.sampled_from([
    "OR", "AND", "NOT", "-", "(", ")", '"', "*", "~", "~2", "~9", "tag:", "#", "#x", "title:", "notebook:",
    "author:", "modified:", "created:", "7d", "3m", "2026-01-01", "..", ">", "<=", "café", "中文", "ｶﾞ", "😀",
    "\ud800", "\x00", " ", "a", "_", ":", "x*", "\u0301", "title:\"", "-(", "((",
])
_QUERIES = st.one_of(
    st.text(max_size=40),
    st.lists(st.one_of(_PIECES, st.text(max_size=4)), max_size=12).map("".join),
    st.lists(st.one_of(_PIECES, st.text(max_size=4)), max_size=12).map(" ".join),
)


@pytest.fixture(scope="module")
def small_index(tmp_path_factory: pytest.TempPathFactory):
    ix = SearchIndex(Path(tmp_path_factory.mktemp("small")))
    now = time.time()
    for i, body in enumerate(["Café notes\nabout 中文 and a", "x* OR y\n#x tag", "😀 emoji\nfirst"]):
        ix.update(NoteDocument(f"n{i}", None, "Work", body.split("\n")[0], body, ("x",), ("Ada",),
                               now, now, False, "v"))
    assert ix.flush(30)
    yield ix
    ix.close()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_QUERIES)
def test_any_text_parses_or_raises_search_query_error(small_index: SearchIndex, text: str) -> None:
    try:
        parsed = parse_query(text, now=NOW)
    except SearchQueryError as exc:
        assert str(exc)
        return
    results = small_index.search(parsed)  # the whoosh query runs, and so does highlighting
    for hit in results.hits:
        for a, b in hit.body_matches + hit.snippet_matches:
            assert 0 <= a < b


def test_unicode_normal_forms_give_the_same_query() -> None:
    nfc, nfd = "café crème", unicodedata.normalize("NFD", "café crème")
    assert terms(nfc) == terms(nfd) == terms("CAFE CREME")
