"""Match ranges, snippets and their UTF-16 conversion point at the right text."""

from __future__ import annotations

import random
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crdt_store.search import make_snippet, match_ranges, parse_query, to_utf16
from crdt_store.search.highlight import SNIPPET_CHARS, snippet_for
from crdt_store.unicode_offsets import cp_to_utf16


def found(text: str, query: str) -> list[str]:
    return [text[a:b] for a, b in match_ranges(text, parse_query(query, now=0).terms)]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("cafe", ["Café", "cafe\u0301", "CAFE"]),
        ("café", ["Café", "cafe\u0301", "CAFE"]),
        ("caf*", ["Café", "cafe\u0301", "CAFE", "caféine"]),
        ('"cafe au lait"', ["cafe\u0301 au lait"]),
        ("strasse", ["Straße"]),
        ("cafi~", ["Café", "cafe\u0301", "CAFE"]),
        ("文字", ["文字"]),
        ("ガ", ["ｶﾞ"]),
        ("snake_case", ["snake_case"]),
        ("naive OR zzz", ["naïve"]),
        ("Ｃａｆｅ", ["Café", "cafe\u0301", "CAFE"]),
        ("-cafe", []),
        ("tag:cafe", []),
    ],
)
def test_match_ranges(query: str, expected: list[str]) -> None:
    text = "Café! 😀 the cafe\u0301 au lait, CAFE. Straße naïve 中文字典 ｶﾞｷﾞ snake_case caféine"
    assert found(text, query) == expected


def test_words_match_whole_words_only() -> None:
    text = "cat concat cats scat cat_x xcat cat."
    assert found(text, "cat") == ["cat", "cat", "cat"]
    assert found(text, "cat*") == ["cat", "cats", "cat", "cat"]
    assert found("ba a a", '"a a"') == ["a a"]
    assert found("one 中文 two", '"one two"') == []  # a CJK run separates words, as in the index


def test_ranges_after_emoji_and_in_ascii_and_fold_paths() -> None:
    for text in ["😀😀 x café x", "😀😀 x cafe x", "😀😀 x cafe\u0301 x Straße", "x ﬁ café"]:
        [(a, b)] = match_ranges(text, parse_query("cafe", now=0).terms)
        assert bf_fold(text[a:b]) == "cafe"
        u16 = to_utf16(text, [(a, b)])
        assert u16 == [(cp_to_utf16(text, a), cp_to_utf16(text, b))]
        assert text.encode("utf-16-le")[2 * u16[0][0] : 2 * u16[0][1]].decode("utf-16-le") == text[a:b]


def bf_fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)).casefold()


@given(st.lists(st.sampled_from(["café", "CAFE", "x", "😀", "中文", "ß", "e\u0301", "ﬁ", " ", "\n", ".", "ｶﾞ"]),
                max_size=30).map("".join))
def test_ranges_always_point_at_a_match(text: str) -> None:
    for a, b in match_ranges(text, parse_query("cafe OR 中文 OR ss* OR fi", now=0).terms):
        piece = bf_fold(text[a:b])
        assert piece in ("cafe", "中文", "fi") or piece.startswith("ss"), piece


def test_snippet_around_first_match_after_the_title() -> None:
    rng = random.Random(1)
    filler = " ".join(rng.choice(["lorem", "ipsum", "dolor", "sit"]) for _ in range(200))
    body = f"Plait title\n{filler}\n\n  the   😀 Café\tis   here {filler}"
    ranges = match_ranges(body, parse_query("cafe OR plait", now=0).terms)
    snippet, inside = make_snippet(body, ranges)
    assert len(snippet) <= SNIPPET_CHARS
    assert snippet.startswith("…") and snippet.endswith("…")
    assert "\n" not in snippet and "  " not in snippet and "\t" not in snippet
    assert [snippet[a:b] for a, b in inside] == ["Café"]
    assert "the 😀 Café is here" in snippet


def test_snippet_at_start_and_without_matches() -> None:
    body = "Title\nCafé first. Short note."
    snippet, inside = make_snippet(body, match_ranges(body, parse_query("cafe", now=0).terms))
    assert snippet == "Title Café first. Short note."
    assert [snippet[a:b] for a, b in inside] == ["Café"]
    assert make_snippet("Title\nbody text here", []) == ("body text here", [])


def test_snippet_matches_across_collapsed_whitespace() -> None:
    body = "T\nsome words   then a\n\n   phrase   continues here"
    ranges = match_ranges(body, parse_query('"a phrase"', now=0).terms)
    snippet, inside = make_snippet(body, ranges)
    assert [snippet[a:b] for a, b in inside] == ["a phrase"]


def test_to_utf16_counts_surrogate_pairs() -> None:
    text = "😀a😀bc"
    assert to_utf16(text, [(1, 2), (3, 5)]) == [(2, 3), (5, 7)]
    assert to_utf16("abc", [(0, 3)]) == [(0, 3)]


@pytest.mark.parametrize("seed", range(40))
def test_snippet_for_long_bodies_equals_matching_the_whole_body(seed: int) -> None:
    rng = random.Random(seed)
    words = ["lorem", "ipsum", "dolor", "café", "plaited", "中文", "a", "b"]
    body = "Title plait\n" + " ".join(rng.choice(words) for _ in range(rng.randint(500, 6000)))
    body = body.replace("café", "sit", rng.randint(0, 1000))  # sometimes only far in
    for query in ("cafe", "plai*", '"a b"', "中文 OR cafe", "dolar~", "plait"):
        terms = parse_query(query, now=0).terms
        whole = make_snippet(body, match_ranges(body, terms))
        assert snippet_for(body, terms) == whole, query


def test_a_term_that_folds_to_nothing_does_not_hang_highlighting() -> None:
    """Regression: a lone combining accent once made the matcher loop forever."""
    query = parse_query("a .. å OR a \u0301", now=0.0)
    assert match_ranges("a b å c", query.terms) == [(0, 1), (4, 5)]
