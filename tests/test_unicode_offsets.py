"""Offsets between code points (str), UTF-8 bytes (pycrdt) and UTF-16 units (Qt)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycrdt import Doc, Text

from crdt_store.model import splice_text
from crdt_store.unicode_offsets import (
    TextOp,
    apply_ops,
    cp_to_utf8,
    cp_to_utf16,
    ops_to_utf8,
    ops_to_utf16,
    sanitize,
    utf8_delta_to_ops,
    utf8_len,
    utf16_len,
    utf16_offsets_to_cp,
    utf16_ops_to_cp,
    utf16_to_cp,
    utf8_to_cp,
)

E_COMBINING = "e\u0301"
FAMILY = "👩\u200d👩\u200d👧"  # ZWJ sequence: 5 code points, 8 UTF-16 units, 18 bytes
FLAG = "🇫🇷"  # two regional indicators
ATOMS = ["a", "Z", " ", "\n", E_COMBINING, FAMILY, FLAG, "中文字", "שלום", "مرحبا", "é", "ß"]
MIXED = "ab " + E_COMBINING + FAMILY + "x" + FLAG + "中文字 " + "שלום " + "مرحبا" + "!"
SAMPLES = ["", "plain ascii", MIXED, FAMILY, FLAG + FLAG, E_COMBINING * 3, "שלום עולם", "مرحبا"]

# Random text: whole "atoms" (graphemes, scripts) mixed with arbitrary non-surrogate characters.
unicode_text = st.lists(
    st.one_of(st.sampled_from(ATOMS), st.characters(exclude_categories=("Cs",))), max_size=20
).map("".join)


def encoded_boundaries(text: str, encoding: str, unit: int) -> list[int]:
    """Offsets (in code units) where a character starts or the text ends."""
    offsets, total = [], 0
    for ch in text:
        offsets.append(total)
        total += len(ch.encode(encoding, "surrogatepass")) // unit
    return [*offsets, total]


def apply_unit_ops(text: str, ops: list[tuple[int, int, str]], encoding: str, unit: int) -> str:
    """Reference: apply sequential code-unit ops directly on the encoded text."""
    buf = text.encode(encoding)
    for pos, delete, insert in ops:
        buf = buf[: pos * unit] + insert.encode(encoding) + buf[(pos + delete) * unit :]
    return buf.decode(encoding)


@st.composite
def ops_on(draw: st.DrawFn, text: str, max_ops: int = 6) -> list[TextOp]:
    """A random sequence of valid sequential code-point ops on ``text``."""
    ops = []
    for _ in range(draw(st.integers(0, max_ops))):
        pos = draw(st.integers(0, len(text)))
        op = TextOp(pos, draw(st.integers(0, len(text) - pos)), draw(unicode_text))
        ops.append(op)
        text = text[:pos] + op.insert + text[pos + op.delete :]
    return ops


@st.composite
def text_and_ops(draw: st.DrawFn) -> tuple[str, list[TextOp]]:
    text = draw(unicode_text)
    return text, draw(ops_on(text))


# --- single offsets -------------------------------------------------------------------------


@pytest.mark.parametrize("text", SAMPLES)
def test_many_utf16_offsets_convert_in_one_pass(text: str) -> None:
    units = [cp_to_utf16(text, cp) for cp in range(len(text) + 1)]
    assert utf16_offsets_to_cp(text, units) == list(range(len(text) + 1))


@pytest.mark.parametrize("text", SAMPLES)
def test_round_trips_at_every_boundary(text: str) -> None:
    for cp in range(len(text) + 1):
        b = cp_to_utf8(text, cp)
        assert b == len(text[:cp].encode("utf-8"))
        assert utf8_to_cp(text, b) == cp
        u = cp_to_utf16(text, cp)
        assert u == len(text[:cp].encode("utf-16-le")) // 2
        assert utf16_to_cp(text, u) == cp


def test_lengths() -> None:
    assert utf8_len(FAMILY) == 18 and utf16_len(FAMILY) == 8 and len(FAMILY) == 5
    assert utf8_len(FLAG) == 8 and utf16_len(FLAG) == 4
    assert utf8_len(E_COMBINING) == 3 and utf16_len(E_COMBINING) == 2
    assert utf8_len("שלום") == 8 and utf16_len("中文字") == 3
    assert utf8_len("ascii") == utf16_len("ascii") == 5


@pytest.mark.parametrize("text", SAMPLES)
def test_mid_character_offsets_raise(text: str) -> None:
    utf8_ok = set(encoded_boundaries(text, "utf-8", 1))
    for b in range(utf8_len(text) + 1):
        if b not in utf8_ok:
            with pytest.raises(ValueError, match="inside a character"):
                utf8_to_cp(text, b)
    utf16_ok = set(encoded_boundaries(text, "utf-16-le", 2))
    for u in range(utf16_len(text) + 1):
        if u not in utf16_ok:
            with pytest.raises(ValueError, match="inside a character"):
                utf16_to_cp(text, u)


@pytest.mark.parametrize("text", ["abc", MIXED])
def test_out_of_range_offsets_raise(text: str) -> None:
    for func, bad in [
        (cp_to_utf8, len(text) + 1),
        (cp_to_utf16, len(text) + 1),
        (utf8_to_cp, utf8_len(text) + 1),
        (utf16_to_cp, utf16_len(text) + 1),
    ]:
        with pytest.raises(ValueError, match="out of range"):
            func(text, bad)
        with pytest.raises(ValueError, match="out of range"):
            func(text, -1)


@given(unicode_text, st.data())
def test_round_trip_property(text: str, data: st.DataObject) -> None:
    cp = data.draw(st.integers(0, len(text)))
    assert utf8_to_cp(text, cp_to_utf8(text, cp)) == cp
    assert utf16_to_cp(text, cp_to_utf16(text, cp)) == cp


# --- sanitize ------------------------------------------------------------------------------


def test_sanitize_replaces_lone_surrogates_and_pycrdt_accepts_result() -> None:
    raw = "a\ud83d" + FAMILY + "\udc00b\ud800"
    clean = sanitize(raw)
    assert len(clean) == len(raw)
    assert clean == "a\ufffd" + FAMILY + "\ufffdb\ufffd"
    ytext = Doc().get("body", type=Text)
    ytext += clean
    assert str(ytext) == clean


@pytest.mark.parametrize("text", SAMPLES)
def test_sanitize_returns_valid_text_unchanged(text: str) -> None:
    assert sanitize(text) is text


@given(st.text(st.characters(), max_size=30))
def test_sanitize_property(raw: str) -> None:
    clean = sanitize(raw)
    assert len(clean) == len(raw)
    clean.encode("utf-8")  # no surrogates left
    assert all(c == d or (0xD800 <= ord(c) <= 0xDFFF and d == "\ufffd") for c, d in zip(raw, clean))


# --- op sequences --------------------------------------------------------------------------


def test_apply_ops_sequential_semantics() -> None:
    ops = [TextOp(0, 1, FAMILY), TextOp(len(FAMILY) + 1, 0, FLAG), TextOp(0, 0, "<")]
    assert apply_ops("abc", ops) == "<" + FAMILY + "b" + FLAG + "c"


@pytest.mark.parametrize("ops", [[TextOp(4, 0, "x")], [TextOp(2, 2, "")], [TextOp(0, 3, ""), TextOp(1, 0, "")]])
def test_out_of_range_ops_raise(ops: list[TextOp]) -> None:
    with pytest.raises(ValueError, match="out of range"):
        apply_ops("abc", ops)
    with pytest.raises(ValueError, match="out of range"):
        ops_to_utf8("abc", ops)
    with pytest.raises(ValueError, match="out of range"):
        ops_to_utf8("é" + "bc", ops)
    with pytest.raises(ValueError, match="out of range"):
        ops_to_utf16("é" + "bc", ops)


def test_textop_rejects_negative_values() -> None:
    with pytest.raises(ValueError):
        TextOp(-1, 0, "")
    with pytest.raises(ValueError):
        TextOp(0, -1, "")


def test_ops_to_utf8_example() -> None:
    text = "é😀x"
    assert ops_to_utf8(text, [TextOp(1, 1, ""), TextOp(2, 0, FLAG)]) == [(2, 4, ""), (3, 0, FLAG)]
    assert ops_to_utf16(text, [TextOp(1, 1, ""), TextOp(2, 0, FLAG)]) == [(1, 2, ""), (2, 0, FLAG)]


@given(text_and_ops())
def test_ops_to_utf8_matches_pycrdt(case: tuple[str, list[TextOp]]) -> None:
    text, ops = case
    expected = apply_ops(text, ops)
    byte_ops = ops_to_utf8(text, ops)
    assert apply_unit_ops(text, byte_ops, "utf-8", 1) == expected
    doc = Doc()
    ytext = doc.get("body", type=Text)
    ytext += text
    with doc.transaction():
        splice_text(ytext, byte_ops)
    assert str(ytext) == expected


@given(text_and_ops())
def test_utf16_ops_round_trip(case: tuple[str, list[TextOp]]) -> None:
    text, ops = case
    u16_ops = ops_to_utf16(text, ops)
    assert apply_unit_ops(text, u16_ops, "utf-16-le", 2) == apply_ops(text, ops)
    assert utf16_ops_to_cp(text, u16_ops) == ops


def test_utf16_ops_inside_surrogate_pair_raise() -> None:
    with pytest.raises(ValueError, match="inside a character"):
        utf16_ops_to_cp("a😀b", [(2, 0, "x")])
    with pytest.raises(ValueError, match="inside a character"):
        utf16_ops_to_cp("a😀b", [(0, 2, "")])
    with pytest.raises(ValueError, match="out of range"):
        utf16_ops_to_cp("a😀b", [(0, 5, "")])


# --- pycrdt deltas -------------------------------------------------------------------------


def test_pycrdt_delta_counts_utf8_bytes() -> None:
    """Pin the unit pycrdt uses in TextEvent.delta: bytes of the old text."""
    a, b = Doc(), Doc()
    ta, tb = a.get("body", type=Text), b.get("body", type=Text)
    ta += "é😀x"
    b.apply_update(a.get_update())
    deltas: list[list[dict]] = []
    subscription = tb.observe(lambda event: deltas.append(event.delta))
    del ta[2:6]  # the emoji: UTF-8 bytes 2..6
    b.apply_update(a.get_update(b.get_state()))
    tb.unobserve(subscription)
    assert deltas == [[{"retain": 2}, {"delete": 4}]]
    assert apply_ops("é😀x", utf8_delta_to_ops("é😀x", deltas[0])) == str(tb) == "éx"


def test_utf8_delta_to_ops_examples() -> None:
    old = "é😀x"
    delta = [{"retain": 2}, {"delete": 4}, {"insert": FLAG}, {"retain": 1, "attributes": {"bold": True}}]
    assert utf8_delta_to_ops(old, delta) == [TextOp(1, 1, FLAG)]
    assert utf8_delta_to_ops(old, [{"retain": 7, "attributes": {"bold": True}}]) == []
    assert utf8_delta_to_ops(old, [{"delete": 2}, {"retain": 4}, {"insert": "שלום"}]) == [
        TextOp(0, 1, ""),
        TextOp(1, 0, "שלום"),
    ]


@pytest.mark.parametrize(
    ("delta", "message"),
    [
        ([{"retain": 1}, {"insert": "x"}], "inside a character"),
        ([{"delete": 3}], "inside a character"),
        ([{"retain": 8}], "out of range"),
        ([{"retain": 6}, {"delete": 2}], "out of range"),
        ([{"insert": {"embed": 1}}], "non-text insert"),
        ([{"retain": -1}], "bad retain"),
        ([{"frobnicate": 1}], "unknown delta entry"),
    ],
)
def test_utf8_delta_to_ops_rejects_bad_deltas(delta: list[dict], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        utf8_delta_to_ops("é😀x", delta)


@settings(max_examples=150, deadline=None)
@given(text_and_ops(), st.data())
def test_delta_from_remote_update_reproduces_new_text(case: tuple[str, list[TextOp]], data: st.DataObject) -> None:
    """A edits in several transactions while B edits locally; B then receives one update.
    Converting B's delta and applying it to B's old text gives B's new text."""
    start, remote_ops = case
    a, b = Doc(), Doc()
    ta, tb = a.get("body", type=Text), b.get("body", type=Text)
    ta += start
    b.apply_update(a.get_update())
    for op in remote_ops:  # one transaction per op
        with a.transaction():
            splice_text(ta, ops_to_utf8(str(ta), [op]))
    local_text = str(tb)
    with b.transaction():
        splice_text(tb, ops_to_utf8(local_text, data.draw(ops_on(local_text))))

    deltas: list[list[dict]] = []
    old = str(tb)
    subscription = tb.observe(lambda event: deltas.append(event.delta))
    b.apply_update(a.get_update(b.get_state()))
    tb.unobserve(subscription)

    text = old
    for delta in deltas:
        text = apply_ops(text, utf8_delta_to_ops(text, delta))
    assert text == str(tb)
