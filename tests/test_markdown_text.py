"""Tests for crdt_store.markdown_text: titles, tags, snippets, front matter, file names."""

from __future__ import annotations

import time
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crdt_store.markdown_text import (
    FrontMatterError,
    derive_tags,
    derive_title,
    format_front_matter,
    safe_filename,
    snippet,
    split_front_matter,
    unique_name,
)

BIG = "# Big note\n\nFirst paragraph.\n" + ("lorem ipsum #tag dolor\n" * 50_000)  # ~1 MB


# ---------------------------------------------------------------- derive_title


@pytest.mark.parametrize(
    ("body", "title"),
    [
        ("", ""),
        ("\n \n\t\n", ""),
        ("Hello", "Hello"),
        ("\n\n  Hello world  \nsecond", "Hello world"),
        ("# Heading\nbody", "Heading"),
        ("###### Six", "Six"),
        ("####### Seven is not a heading", "####### Seven is not a heading"),
        ("#NoSpace is a tag, not a heading", "#NoSpace is a tag, not a heading"),
        ("## Closed heading ##", "Closed heading"),
        ("# Notes on C#", "Notes on C#"),
        ("**Bold** _title_", "**Bold** _title_"),
        ("# **Bold** heading", "**Bold** heading"),
        ("Windows line\r\nnext", "Windows line"),
        ("  # Indented heading", "Indented heading"),
        ("# café 日本語 🎉", "café 日本語 🎉"),
    ],
)
def test_derive_title(body: str, title: str) -> None:
    assert derive_title(body) == title


def test_derive_title_is_capped_at_200_characters() -> None:
    assert derive_title("é" * 500) == "é" * 200
    assert derive_title("# " + "x" * 250) == "x" * 200
    assert derive_title("x" * 199 + " tail") == "x" * 199  # no trailing space after the cut


def test_title_and_snippet_are_cheap_on_a_megabyte_body() -> None:
    started = time.perf_counter()
    for _ in range(200):
        assert derive_title(BIG) == "Big note"
        assert snippet(BIG, 20) == "First paragraph. lo…"
    assert time.perf_counter() - started < 1.0


# ---------------------------------------------------------------- derive_tags


def test_tags_in_order_of_first_use_deduplicated_ignoring_case() -> None:
    assert derive_tags("#Work and #play, then #work again and #PLAY.") == ["Work", "play"]


@pytest.mark.parametrize(
    ("body", "tags"),
    [
        ("#start of text", ["start"]),
        ("line one\n#start of line", ["start"]),
        ("tab\t#tab", ["tab"]),
        ("(#paren) and (see #this)", ["paren", "this"]),
        ("#project/plait and #a-b_c", ["project/plait", "a-b_c"]),
        ("#trailing/ slash", ["trailing"]),
        ("end of sentence #tag.", ["tag"]),
        ("#y1984 #1984a", ["y1984", "1984a"]),
        ("#café #日本語 #עברית #Ünïcödé", ["café", "日本語", "עברית", "Ünïcödé"]),
        ("#हिंदी with combining marks", ["हिंदी"]),
        ("#cafe\u0301 decomposed", ["cafe\u0301"]),
    ],
)
def test_tags(body: str, tags: list[str]) -> None:
    assert derive_tags(body) == tags


@pytest.mark.parametrize(
    "body",
    [
        "# Heading",
        "## Heading",
        "###### Heading",
        "#",
        "a lone # sign",
        "a#b",
        "http://x.com/#frag",
        "see [the section](#section)",
        "issue #123 and #42",
        "date #2024-01-05",
        "#-- #/ #/abc",
        "\\#escaped",
        "&#123; entity",
        "C# and F#",
    ],
)
def test_not_tags(body: str) -> None:
    assert derive_tags(body) == []


def test_unicode_tags_deduplicate_across_normalisation_and_case() -> None:
    assert derive_tags("#Café #cafe\u0301 #CAFÉ") == ["Café"]


def test_tags_in_fenced_code_blocks_are_ignored() -> None:
    body = (
        "#before\n"
        "```python\n#comment_in_code\n```\n"
        "#between\n"
        "~~~\n#tilde\n```\n#still_code\n~~~\n"
        "  ````\n#indented_fence\n```\nstill inside the four-backtick fence\n````\n"
        "#after\n"
    )
    assert derive_tags(body) == ["before", "between", "after"]


def test_unclosed_fence_runs_to_the_end() -> None:
    assert derive_tags("#yes\n```\n#no\n") == ["yes"]


def test_backtick_line_with_backticks_in_info_string_is_not_a_fence() -> None:
    assert derive_tags("```a`b``` #tag") == ["tag"]


def test_tags_in_inline_code_are_ignored() -> None:
    body = "use `#not` or ``#nor `this` `` but #yes"
    assert derive_tags(body) == ["yes"]


def test_unmatched_backtick_is_literal_text() -> None:
    assert derive_tags("an `#open backtick, then #tag") == ["tag"]


def test_tag_right_after_a_code_span_is_not_a_tag() -> None:
    assert derive_tags("`x`#glued `x` #spaced") == ["spaced"]


def test_tags_scan_a_megabyte_body() -> None:
    assert derive_tags(BIG) == ["tag"]


# ---------------------------------------------------------------- snippet


def test_snippet_skips_the_title_and_strips_block_markers() -> None:
    body = (
        "# Title\n\n"
        "## Section\n"
        "- item one\n"
        "* item two\n"
        "- [ ] open task\n"
        "- [x] done task\n"
        "> quoted   text\n"
        "> > nested\n"
        "1. numbered\n"
        "---\n"
        "```python\n"
        "**bold** stays\n"
    )
    assert snippet(body, 500) == (
        "Section item one item two open task done task quoted text nested numbered **bold** stays"
    )


def test_snippet_cuts_with_ellipsis_within_length() -> None:
    body = "Title\n" + "abcdefghij " * 20
    cut = snippet(body, 25)
    assert cut == "abcdefghij abcdefghij ab…"
    assert len(cut) == 25
    assert snippet("Title\nshort", 25) == "short"
    assert snippet("Title\nexactly5", 8) == "exactly5"


@pytest.mark.parametrize("body", ["", "\n\n", "Only a title", "# Only a title\n\n   \n"])
def test_snippet_empty(body: str) -> None:
    assert snippet(body) == ""


def test_snippet_counts_code_points() -> None:
    assert snippet("T\n" + "日本語" * 10, 5) == "日本語日…"
    assert snippet("T\nsomething", 0) == ""


markdownish = st.text(alphabet=st.sampled_from(list("#`~-*>[]() /\n\t\r:.ab1é日\u0301\u2028")))


@given(st.one_of(st.text(), markdownish), st.integers(min_value=0, max_value=300))
def test_derive_invariants(body: str, length: int) -> None:
    title = derive_title(body)
    assert len(title) <= 200 and "\n" not in title and title == title.strip()
    preview = snippet(body, length)
    assert len(preview) <= length and "\n" not in preview
    tags = derive_tags(body)
    assert len({unicodedata.normalize("NFC", tag).casefold() for tag in tags}) == len(tags)
    for tag in tags:
        assert tag and "#" not in tag and not any(ch.isspace() for ch in tag)
        assert "#" + tag in body


# ---------------------------------------------------------------- front matter: reading


def test_no_front_matter_returns_text_unchanged() -> None:
    for text in ["", "plain", "\ufeffplain", " ---\nx: 1\n---\n", "----\n", "--- x\n"]:
        assert split_front_matter(text) == ({}, text)


def test_scalars() -> None:
    text = (
        "---\n"
        "plain: Hello world\n"
        "single: 'it''s: #fine'\n"
        'double: "say \\"hi\\"\\\\ \\n next"\n'
        "int: 42\n"
        "negative: -7\n"
        "yes: true\n"
        "no: False\n"
        "empty:\n"
        "tilde: ~\n"
        "float: 1.5\n"
        "date: 2024-01-05\n"
        "colon: 12:30\n"
        "unicode: 日本語 ✓\n"
        "---\n"
        "Body\n"
    )
    data, body = split_front_matter(text)
    assert data == {
        "plain": "Hello world",
        "single": "it's: #fine",
        "double": 'say "hi"\\ \n next',
        "int": 42,
        "negative": -7,
        "yes": True,
        "no": False,
        "empty": None,
        "tilde": None,
        "float": "1.5",
        "date": "2024-01-05",
        "colon": "12:30",
        "unicode": "日本語 ✓",
    }
    assert type(data["yes"]) is bool and type(data["int"]) is int
    assert body == "Body\n"


def test_comments() -> None:
    text = "---\n# leading comment\na: 1 # trailing\nb: '#quoted' # trailing\n  # indented\nc: #only\n---\n"
    assert split_front_matter(text) == ({"a": 1, "b": "#quoted", "c": None}, "")


def test_inline_lists() -> None:
    text = "---\ntags: [a, \"b c\", 'd, e', 3, true]\nempty: []\ntrailing: [x, ]\n---\n"
    assert split_front_matter(text)[0] == {
        "tags": ["a", "b c", "d, e", 3, True],
        "empty": [],
        "trailing": ["x"],
    }


def test_obsidian_block_lists() -> None:
    text = (
        "---\n"
        "tags:\n"
        "  - project/plait\n"
        '  - "needs: quotes"\n'
        "\n"
        "  # a comment between items\n"
        "  - 2024\n"
        "aliases:\n"
        "- flush left\n"
        "- also fine\n"
        "cssclasses:\n"
        "---\n"
        "# Note\n"
    )
    assert split_front_matter(text) == (
        {
            "tags": ["project/plait", "needs: quotes", 2024],
            "aliases": ["flush left", "also fine"],
            "cssclasses": None,
        },
        "# Note\n",
    )


def test_bom_crlf_and_dot_closing_marker() -> None:
    text = "\ufeff---\r\ntitle: Hi\r\ntags:\r\n  - a\r\n...\r\nBody\r\n"
    assert split_front_matter(text) == ({"title": "Hi", "tags": ["a"]}, "Body\r\n")


def test_only_one_newline_after_the_closing_marker_is_removed() -> None:
    assert split_front_matter("---\na: 1\n---\n\nBody") == ({"a": 1}, "\nBody")
    assert split_front_matter("---\na: 1\n---") == ({"a": 1}, "")
    assert split_front_matter("---\n---\nBody") == ({}, "Body")


def test_unsupported_but_valid_yaml_comes_back_as_source_text() -> None:
    text = (
        "---\n"
        "author:\n"
        "  name: Ada\n"
        "  links:\n"
        "    - x\n"
        "description: |\n"
        "  first line\n"
        "  second line\n"
        "nested: [a, [b, c]]\n"
        "mapping: {a: 1}\n"
        "items:\n"
        "  - a\n"
        "  - - b\n"
        "anchor: &x value\n"
        "---\n"
    )
    assert split_front_matter(text)[0] == {
        "author": "name: Ada\nlinks:\n  - x",
        "description": "|\nfirst line\nsecond line",
        "nested": "[a, [b, c]]",
        "mapping": "{a: 1}",
        "items": "- a\n- - b",
        "anchor": "&x value",
    }


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("---\ntitle: no end\n", 1, "closing"),
        ("---", 1, "closing"),
        ("---\ntitle: ok\njust some words\n---\n", 3, "key: value"),
        ("---\na: 1\n\nkey:value\n---\n", 4, "key: value"),
        ("---\na: 1\n- stray item\n---\n", 3, "key: value"),
        ("---\n  indented: 1\n---\n", 2, "indented"),
        ("---\na: 1\nb: 2\na: 3\n---\n", 4, "twice"),
        ('---\na: "open\n---\n', 2, "unterminated"),
        ("---\na: 'open\n---\n", 2, "unterminated"),
        ('---\na: "bad \\q escape"\n---\n', 2, "escape"),
        ('---\na: "ok" trailing\n---\n', 2, "after the value"),
        ("---\na: [1, 2\n---\n", 2, "]"),
        ("---\na: [1 2] x\n---\n", 2, "after the value"),
        ("---\na: [1, , 2]\n---\n", 2, "empty item"),
        ("---\ntags:\n  - ok\n  - 'broken\n---\n", 4, "unterminated"),
    ],
)
def test_broken_front_matter_names_the_line(text: str, line: int, fragment: str) -> None:
    with pytest.raises(FrontMatterError) as caught:
        split_front_matter(text)
    assert caught.value.line == line
    assert f"line {line}" in str(caught.value)
    assert fragment in str(caught.value)
    assert isinstance(caught.value, ValueError)


@given(st.text())
def test_reading_any_text_returns_or_raises_front_matter_error(rest: str) -> None:
    try:
        data, body = split_front_matter("---\n" + rest)
    except FrontMatterError:
        return
    assert isinstance(data, dict)
    assert ("---\n" + rest).endswith(body)


# ---------------------------------------------------------------- front matter: writing


def test_format_front_matter_quotes_only_when_needed() -> None:
    data = {
        "title": "Plain title",
        "colon": "a: b",
        "hash": "#tag",
        "spaces": " padded ",
        "empty": "",
        "number": "42",
        "boolish": "yes",
        "nullish": "null",
        "dash": "- item",
        "quote": 'say "hi"',
        "newline": "one\ntwo",
        "unicode": "日本語 café",
        "count": 3,
        "flag": True,
        "none": None,
        "tags": ["a", "b c", "d,e", "1"],
        "no_tags": [],
    }
    assert format_front_matter(data) == (
        "---\n"
        "title: Plain title\n"
        'colon: "a: b"\n'
        'hash: "#tag"\n'
        'spaces: " padded "\n'
        'empty: ""\n'
        'number: "42"\n'
        'boolish: "yes"\n'
        'nullish: "null"\n'
        'dash: "- item"\n'
        'quote: "say \\"hi\\""\n'
        'newline: "one\\ntwo"\n'
        "unicode: 日本語 café\n"
        "count: 3\n"
        "flag: true\n"
        "none:\n"
        'tags: [a, b c, "d,e", "1"]\n'
        "no_tags: []\n"
        "---\n"
    )
    assert split_front_matter(format_front_matter(data)) == (data, "")


def test_format_empty_mapping_still_writes_markers() -> None:
    assert format_front_matter({}) == "---\n---\n"


@pytest.mark.parametrize("key", ["", " a", "a ", "a:b", "a#b", "-a", "[a]", "a\nb", "'a'"])
def test_format_rejects_unsupported_keys(key: str) -> None:
    with pytest.raises(ValueError):
        format_front_matter({key: "x"})


@pytest.mark.parametrize("value", [1.5, {"a": 1}, [["nested"]], b"bytes"])
def test_format_rejects_unsupported_values(value: object) -> None:
    with pytest.raises(TypeError):
        format_front_matter({"k": value})


keys = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,15}", fullmatch=True)
tricky_text = st.text(
    alphabet=st.sampled_from(list(" \t\n\r:#[]{},&*!|>'\"%@`\\-?~.0123456789aZé日\u2028\x85\ufeff\x00"))
)
strings = st.one_of(st.text(), tricky_text)
values = st.one_of(st.none(), st.booleans(), st.integers(), strings, st.lists(strings))


def _typed(value: object) -> object:
    """Value with types made explicit, because True == 1 in Python."""
    if isinstance(value, list):
        return [_typed(item) for item in value]
    return (type(value), value)


@given(st.dictionaries(keys, values), st.text())
def test_front_matter_round_trip(data: dict[str, object], body: str) -> None:
    parsed, rest = split_front_matter(format_front_matter(data) + body)
    assert rest == body
    assert parsed == data
    assert list(parsed) == list(data)
    assert {k: _typed(v) for k, v in parsed.items()} == {k: _typed(v) for k, v in data.items()}


# ---------------------------------------------------------------- safe_filename

FORBIDDEN = set('/\\:*?"<>|')


@pytest.mark.parametrize(
    ("title", "stem"),
    [
        ("Meeting notes", "Meeting notes"),
        ("a/b\\c:d*e?f\"g<h>i|j", "a-b-c-d-e-f-g-h-i-j"),
        ("What?? / Why!", "What- - Why!"),
        ("tab\there\x00\x1f\x7fend", "tab-here-end"),
        ("  ..hidden dots..  ", "hidden dots"),
        ("...", "Untitled"),
        ("", "Untitled"),
        ("???", "-"),
        ("CON", "CON_"),
        ("con", "con_"),
        ("Nul.txt", "Nul_.txt"),
        ("com1", "com1_"),
        ("LPT9.tar.gz", "LPT9_.tar.gz"),
        ("COM¹", "COM¹_"),
        ("CON .txt", "CON_ .txt"),
        ("CONSOLE", "CONSOLE"),
        ("Café Ünïcode", "Café Ünïcode"),
        ("日本語のノート", "日本語のノート"),
        ("שלום עולם", "שלום עולם"),
        ("🎉 party 👩‍👩‍👧", "🎉 party 👩‍👩‍👧"),
    ],
)
def test_safe_filename(title: str, stem: str) -> None:
    assert safe_filename(title) == stem


def test_safe_filename_normalises_to_nfc() -> None:
    assert safe_filename("cafe\u0301") == "caf\u00e9"


def test_safe_filename_fallback() -> None:
    assert safe_filename(" . ", fallback="Note") == "Note"


def test_safe_filename_caps_utf8_bytes_without_splitting_characters() -> None:
    assert safe_filename("a" * 300) == "a" * 120
    stem = safe_filename("x" + "日" * 100)  # 1 + 3 * 100 bytes
    assert stem == "x" + "日" * 39
    assert len(stem.encode("utf-8")) == 118
    assert safe_filename("a" * 119 + " " + "b") == "a" * 119


def test_safe_filename_reserved_name_revealed_by_the_cap() -> None:
    assert safe_filename("CON" + " " * 200 + "x") == "CON_"


@given(st.text(), st.sampled_from(["Untitled", "Note"]))
def test_safe_filename_properties(title: str, fallback: str) -> None:
    stem = safe_filename(title, fallback)
    assert stem
    assert not FORBIDDEN.intersection(stem)
    assert not any(unicodedata.category(ch) == "Cc" for ch in stem)
    assert len(stem.encode("utf-8")) <= 120
    assert stem == stem.strip().strip(".")
    assert stem.split(".")[0].rstrip().upper() not in {"CON", "PRN", "AUX", "NUL", "COM1", "LPT1"}
    assert unicodedata.is_normalized("NFC", stem)
    assert safe_filename(stem, fallback) == stem


@given(st.text(alphabet=st.sampled_from(list("CONPRAUXLT1.¹ é日/:?\t")), max_size=12))
def test_safe_filename_is_stable_on_device_like_names(title: str) -> None:
    stem = safe_filename(title)
    assert safe_filename(stem) == stem


# ---------------------------------------------------------------- unique_name


def test_unique_name_counts_up_ignoring_case_and_records_the_result() -> None:
    taken = {"Note.md", "note (2).MD"}
    assert unique_name("NOTE", taken) == "NOTE (3).md"
    assert unique_name("Note", taken) == "Note (4).md"
    assert unique_name("Other", taken) == "Other.md"
    assert taken == {"Note.md", "note (2).MD", "NOTE (3).md", "Note (4).md", "Other.md"}


def test_unique_name_compares_normalised_unicode() -> None:
    taken = {"Cafe\u0301.md"}
    assert unique_name("CAFÉ", taken) == "CAFÉ (2).md"


def test_unique_name_other_extension() -> None:
    taken = {"a.txt"}
    assert unique_name("a", taken) == "a.md"
    assert unique_name("a", taken, ext=".txt") == "a (2).txt"
