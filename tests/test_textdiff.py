"""diff_ops: small code-point splices that turn one note body into another."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pycrdt import Doc, Text

from crdt_store import textdiff
from crdt_store.textdiff import diff_ops
from crdt_store.model import splice_text
from crdt_store.unicode_offsets import TextOp, apply_ops, ops_to_utf8

ATOMS = ["a", "b", " ", "\n", "e\u0301", "👩\u200d👩\u200d👧", "🇫🇷", "中文", "שלום", "مرحبا"]
unicode_text = st.lists(
    st.one_of(st.sampled_from(ATOMS), st.characters(exclude_categories=("Cs",))), max_size=40
).map("".join)
LINES = ["\n", "# title\n", "- item 😀\n", "plain line\n", "שלום עולם\n", "e\u0301" * 30 + "\n"]
multiline_text = st.lists(st.one_of(st.sampled_from(LINES), unicode_text), max_size=30).map("".join)
# Lowered limits so that small random texts exercise every path of diff_ops.
LIMITS = [
    {},
    {"CHAR_DIFF_LIMIT": 8},  # line-level path with character refinement
    {"CHAR_DIFF_LIMIT": 8, "CHAR_DIFF_BUDGET": 20},  # refinement budget runs out
    {"CHAR_DIFF_LIMIT": 8, "LINE_MATCH_BUDGET": 3},  # line matching too costly: replace the middle
]


@given(unicode_text, unicode_text)
def test_diff_applies_to_new_text(old: str, new: str) -> None:
    assert apply_ops(old, diff_ops(old, new)) == new


@given(unicode_text, st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 5), unicode_text), max_size=4))
def test_diff_of_related_texts(old: str, edits: list[tuple[int, int, str]]) -> None:
    new = old
    for pos, delete, insert in edits:
        pos %= len(new) + 1
        new = new[:pos] + insert + new[pos + delete :]
    ops = diff_ops(old, new)
    assert apply_ops(old, ops) == new
    assert sum(op.delete for op in ops) <= len(old) and all(op.delete or op.insert for op in ops)


@given(multiline_text, multiline_text, st.sampled_from(LIMITS))
def test_diff_applies_on_every_path(old: str, new: str, limits: dict[str, int]) -> None:
    with pytest.MonkeyPatch.context() as mp:
        for name, value in limits.items():
            mp.setattr(textdiff, name, value)
        assert apply_ops(old, diff_ops(old, new)) == new


def test_identical_texts_give_no_ops() -> None:
    assert diff_ops("same 😀", "same 😀") == []


def test_small_change_gives_small_ops() -> None:
    assert diff_ops("hello wörld", "hello wörld!") == [TextOp(11, 0, "!")]
    assert diff_ops("a🇫🇷b", "ab") == [TextOp(1, 2, "")]


def test_change_in_line_500_touches_only_that_line() -> None:
    lines = [f"line {i}: the quick brown fox {'é' * (i % 3)} jumps 😀\n" for i in range(1, 1001)]
    old = "".join(lines)
    lines[499] = "line 500: the quick RED fox jumps over 🇫🇷\n"
    new = "".join(lines)
    line_start = len("".join(lines[:499]))
    suffix = "".join(lines[500:])

    ops = diff_ops(old, new)
    assert ops
    current = old
    for op in ops:
        assert op.pos >= line_start
        assert op.pos + op.delete <= len(current) - len(suffix)
        current = apply_ops(current, [op])
    assert current == new


def test_line_level_path_keeps_distant_changes_local() -> None:
    lines = [f"paragraph {i} with some text\n" for i in range(3000)]
    old = "".join(lines)
    lines[10] = "paragraph ten, rewritten\n"
    lines[2990] = "paragraph 2990 with some text and more\n"
    new = "".join(lines)
    ops = diff_ops(old, new)
    assert apply_ops(old, ops) == new
    assert sum(op.delete + len(op.insert) for op in ops) < 100


@pytest.mark.parametrize("tail", ["\nappended line at the end ✅", "", "🇫🇷"])
def test_diff_edit_merges_with_concurrent_remote_edit(tail: str) -> None:
    old = "".join(f"{i}. note line with ümlauts, 中文 and 👩\u200d👩\u200d👧\n" for i in range(200))
    new = old[:-10] + "changed 😀" + tail

    a, b = Doc(), Doc()
    ta, tb = a.get("body", type=Text), b.get("body", type=Text)
    ta += old
    b.apply_update(a.get_update())

    tb.insert(0, "Inserted on B ✍️\n")  # concurrent edit at the start
    with a.transaction():
        splice_text(ta, ops_to_utf8(old, diff_ops(old, new)))
    assert str(ta) == new

    update_a = a.get_update(b.get_state())
    update_b = b.get_update(a.get_state())
    a.apply_update(update_b)
    b.apply_update(update_a)
    assert str(ta) == str(tb) == "Inserted on B ✍️\n" + new
