"""The word-level diff, restore planning and `--at` times: pure functions over text."""

from __future__ import annotations

import random
import time
from datetime import datetime, timedelta

import pytest

from crdt_store.history import parse_when, plan_restore, word_diff
from crdt_store.history.diff import tokens
from crdt_store.history.restore import changes
from crdt_store.unicode_offsets import apply_ops


def sides(segments) -> tuple[str, str]:
    old = "".join(t for k, t in segments if k != "insert")
    new = "".join(t for k, t in segments if k != "delete")
    return old, new


@pytest.mark.parametrize("text, expected", [
    ("café cafe\u0301s naïve", ["café", " ", "cafe\u0301s", " ", "naïve"]),
    ("漢字かな", ["漢", "字", "か", "な"]),
    ("👍🏽 👨\u200d👩\u200d👧 🇫🇷🇩🇪!", ["👍🏽", " ", "👨\u200d👩\u200d👧", " ", "🇫🇷", "🇩🇪", "!"]),
    ("שָׁלוֹם עולם", ["שָׁלוֹם", " ", "עולם"]),
    ("مَرْحَبًا بِكُم", ["مَرْحَبًا", " ", "بِكُم"]),
    ("नमस्ते दुनिया", ["नमस्ते", " ", "दुनिया"]),
    ("a\n\n  b\tc", ["a", "\n", "\n", "  ", "b", "\t", "c"]),
    ("❤\ufe0f x", ["❤\ufe0f", " ", "x"]),
])
def test_tokens_keep_what_a_reader_sees_as_one_character(text, expected) -> None:
    assert tokens(text) == expected
    assert "".join(tokens(text)) == text


@pytest.mark.parametrize("old, new, expected", [
    ("the quick brown fox", "the slow red fox",
     [("equal", "the "), ("delete", "quick brown"), ("insert", "slow red"), ("equal", " fox")]),
    ("Un café noir", "Un cafe\u0301 noir",
     [("equal", "Un "), ("delete", "café"), ("insert", "cafe\u0301"), ("equal", " noir")]),
    ("我喜欢猫和狗", "我喜欢狗",
     [("equal", "我喜欢"), ("delete", "猫和"), ("equal", "狗")]),
    ("ok 👍🏽 done", "ok 👍🏿 done",
     [("equal", "ok "), ("delete", "👍🏽"), ("insert", "👍🏿"), ("equal", " done")]),
    ("שלום עולם יפה", "שלום חבר יפה",
     [("equal", "שלום "), ("delete", "עולם"), ("insert", "חבר"), ("equal", " יפה")]),
    ("", "new", [("insert", "new")]),
    ("old", "", [("delete", "old")]),
    ("same", "same", [("equal", "same")]),
    ("", "", []),
])
def test_word_diff(old, new, expected) -> None:
    assert word_diff(old, new) == expected


def test_word_diff_spells_both_sides_of_random_edits() -> None:
    rng = random.Random(3)
    words = ["alpha", "beta", "é", "e\u0301", "日本", "語", "😀", "👩\u200d💻", "שלום", "\n", " ",
             "  ", ",", "🇫🇷"]
    for _ in range(300):
        old = "".join(rng.choice(words) for _ in range(rng.randint(0, 40)))
        new_words = list(old.split(" "))
        for _ in range(rng.randint(0, 4)):
            new_words.insert(rng.randint(0, len(new_words)), rng.choice(words))
            if new_words and rng.random() < 0.5:
                del new_words[rng.randrange(len(new_words))]
        new = " ".join(new_words)
        segments = word_diff(old, new)
        assert sides(segments) == (old, new)
        assert all(text for _, text in segments)
        assert all(a[0] != b[0] for a, b in zip(segments, segments[1:]))


def test_long_texts_are_compared_by_lines_first() -> None:
    lines = [f"Line {i} says something about {i * 7 % 13} things.\n" for i in range(3000)]
    old = "".join(lines)
    changed = lines[:]
    changed[10] = "Line 10 says nothing.\n"
    changed[2000:2000] = ["A new line.\n"]
    del changed[2901]  # the original line 2900
    new = "".join(changed)
    started = time.perf_counter()
    segments = word_diff(old, new)
    assert time.perf_counter() - started < 2.0
    assert sides(segments) == (old, new)
    assert ("insert", "A new line.\n") in segments
    assert ("delete", lines[2900]) in segments


def test_changes_pair_each_side() -> None:
    version, current = "one two three four", "one 2 three four five"
    assert changes(version, current) == [(4, 7, 4, 5), (18, 18, 16, 21)]


def test_region_restore_undoes_only_changes_inside_it() -> None:
    version = "Title\nfirst line here\nsecond line here\n"
    current = "Title\nfirst LINE here\nadded by Bo\nsecond line there\n"
    first = (6, 22)  # "first line here\n" in the version
    preview = plan_restore(current, version, 7, first)
    assert preview.text == "Title\nfirst line here\nadded by Bo\nsecond line there\n"
    assert apply_ops(current, preview.ops) == preview.text
    second = (22, len(version))
    assert plan_restore(current, version, 7, second).text == \
        "Title\nfirst LINE here\nadded by Bo\nsecond line here\n"
    # Bo's line was inserted inside the region: it goes. Text added after its end stays.
    assert plan_restore(current, version, 7, (0, len(version))).text == version
    assert plan_restore(current + "P.S.\n", version, 7, (0, len(version))).text == \
        version + "P.S.\n"
    whole = plan_restore(current, version, 7)
    assert whole.text == version and apply_ops(current, whole.ops) == version
    assert sides(whole.diff()) == (current, version)


def test_region_restore_in_unicode_text() -> None:
    version = "Café ☕ 日本語 🎉\nשלום עולם\n"
    current = "Cafe ☕ 日本 🎉🎉\nשלום חבר\n"
    preview = plan_restore(current, version, 1, (0, version.index("\n")))
    assert preview.text == "Café ☕ 日本語 🎉\nשלום חבר\n"
    assert apply_ops(current, preview.ops) == preview.text


def test_parse_when() -> None:
    now = datetime(2026, 3, 10, 12, 0).timestamp()
    assert parse_when("2h", now) == now - 7200
    assert parse_when("3d", now) == now - 3 * 86400
    assert parse_when("2026-03-01 14:30", now) == datetime(2026, 3, 1, 14, 30).timestamp()
    assert parse_when("2026-03-01T14:30:00+00:00", now) == datetime.fromisoformat(
        "2026-03-01T14:30:00+00:00").timestamp()
    assert parse_when("2026-03-01", now) == (datetime(2026, 3, 1) + timedelta(days=1)).timestamp()
    for bad in ("yesterday", "2026-13-01", ">2026-01-01", "2026-01-01..2026-02-01", "12:99"):
        with pytest.raises(ValueError):
            parse_when(bad, now)


def test_whole_lines_are_shown_whole() -> None:
    old = "x = 1\ny = 2\nx = 1\nz = 3\n"
    new = "x = 1\nz = 3\n"  # could be read as deleting "y = 2\nx = 1\n" or "x = 1\ny = 2\n"
    segments = word_diff(old, new)
    assert sides(segments) == (old, new)
    [(kind, text)] = [s for s in segments if s[0] != "equal"]
    assert kind == "delete" and text.endswith("\n")
    start = "".join(t for k, t in segments[:segments.index((kind, text))])
    assert start == "" or start.endswith("\n")
    new = "a\nb\nnew line\nb\nc\n"
    segments = word_diff("a\nb\nc\n", new)
    assert sides(segments) == ("a\nb\nc\n", new)
    [(kind, text)] = [s for s in segments if s[0] != "equal"]
    assert kind == "insert" and text in ("b\nnew line\n", "new line\nb\n")
