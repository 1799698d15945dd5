"""A word-level diff between two texts, for showing what changed between versions.

`word_diff(old, new)` returns segments `(kind, text)`, kind one of "equal",
"insert" (only in `new`) and "delete" (only in `old`): the equal and deleted
segments, in order, spell `old`; the equal and inserted ones spell `new`. Within a
change, what was deleted comes before what was inserted.

Tokens never split a user-perceived character: a word is a run of letters, digits
and combining marks (so "café" with a combining accent, Hindi vowel signs and Arabic
vowel marks stay in their word); each CJK character is a token of its own (those
scripts have no spaces); whitespace runs are tokens, each newline one by itself; any
other character is a token together with what attaches to it (combining marks,
variation selectors, skin tones, zero-width-joined emoji, flag pairs and tags).
Right-to-left text is compared in logical order, like any other.

Texts are compared line by line first (so a line added or removed shows as that
line), then each changed block of lines word by word, within a budget; beyond it a
changed block is shown replaced whole.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from difflib import SequenceMatcher
from functools import lru_cache
from typing import Callable, Literal

__all__ = ["Segment", "word_diff", "tokens"]

Kind = Literal["equal", "insert", "delete"]
Segment = tuple[Kind, str]

TOKEN_DIFF_LIMIT = 4_000
"""Changed blocks of lines of up to this many tokens a side are diffed token by token."""

TOKEN_DIFF_BUDGET = 4_000_000
"""Cap on the summed len(old) * len(new), in tokens, of blocks refined token by token."""

_CJK = ("\u2e80-\u2fdf\u3005-\u3007\u3021-\u3029\u3040-\u30ff\u3100-\u312f\u31a0-\u31ff"
        "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003134f")
_ATTACH = ("\ufe00-\ufe0f\U0001f3fb-\U0001f3ff\U000e0020-\U000e007f\U000e0100-\U000e01ef"
           "\u200c")


def _ranges(chars: list[int]) -> str:
    out: list[str] = []
    start = prev = chars[0]
    for c in chars[1:] + [-2]:
        if c != prev + 1:
            out.append(re.escape(chr(start)) if start == prev
                       else f"{re.escape(chr(start))}-{re.escape(chr(prev))}")
            start = c
        prev = c
    return "".join(out)


@lru_cache(maxsize=1)
def _token_re() -> re.Pattern[str]:
    """Built once, on first use: the class of combining marks comes from unicodedata."""
    limit = min(sys.maxunicode, 0x1FFFF)
    marks = _ranges([c for c in range(0x300, limit + 1)
                     if unicodedata.category(chr(c)).startswith("M")])
    glue = f"[{marks}{_ATTACH}]|\u200d."  # what attaches to the character before it
    return re.compile(
        r"\n"
        r"|[^\S\n]+"
        r"|[\U0001f1e6-\U0001f1ff]{2}"  # a flag: two regional indicators
        rf"|[{_CJK}](?:{glue})*"
        rf"|(?:(?![{_CJK}])[\w{marks}\u200d])+"  # a word
        rf"|.(?:{glue})*",
        re.DOTALL,
    )


def tokens(text: str) -> list[str]:
    """`text` cut into the diff's tokens (they join back into `text`)."""
    return _token_re().findall(text)


def word_diff(old: str, new: str) -> list[Segment]:
    """Segments that turn `old` into `new`, word by word (see the module docstring)."""
    if old == new:
        return [("equal", old)] if old else []
    a, b = tokens(old), tokens(new)
    prefix = 0
    limit = min(len(a), len(b))
    while prefix < limit and a[prefix] == b[prefix]:
        prefix += 1
    suffix = 0
    limit -= prefix
    while suffix < limit and a[-1 - suffix] == b[-1 - suffix]:
        suffix += 1
    # The common ends stop at line breaks, so that whole lines are compared first.
    while prefix and a[prefix - 1] != "\n":
        prefix -= 1
    while suffix and not (a[len(a) - suffix - 1] == b[len(b) - suffix - 1] == "\n"):
        suffix -= 1
    out: list[tuple[str, list[str], list[str]]] = []
    if prefix:
        out.append(("equal", a[:prefix], a[:prefix]))
    out += _line_blocks(a[prefix:len(a) - suffix], b[prefix:len(b) - suffix])
    if suffix:
        out.append(("equal", a[len(a) - suffix:], a[len(a) - suffix:]))
    return _slide_to_lines(_segments(out))


def _token_blocks(a: list[str], b: list[str]) -> list[tuple[str, list[str], list[str]]]:
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    return [("equal" if tag == "equal" else "change", a[i1:i2], b[j1:j2])
            for tag, i1, i2, j1, j2 in matcher.get_opcodes()]


def _lines(toks: list[str]) -> list[list[str]]:
    lines: list[list[str]] = [[]]
    for tok in toks:
        lines[-1].append(tok)
        if tok == "\n":
            lines.append([])
    if not lines[-1]:
        lines.pop()
    return lines


def _line_blocks(a: list[str], b: list[str]) -> list[tuple[str, list[str], list[str]]]:
    """Lines matched first (lines repeated more than 1% of the time cannot anchor a
    match, as in crdt_store.textdiff); changed blocks refined token by token while the
    budget lasts."""
    a_lines, b_lines = _lines(a), _lines(b)
    a_keys, b_keys = ["".join(x) for x in a_lines], ["".join(x) for x in b_lines]
    matcher = SequenceMatcher(None, a_keys, b_keys, autojunk=len(b_keys) >= 200)
    budget = TOKEN_DIFF_BUDGET
    out: list[tuple[str, list[str], list[str]]] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        old = [t for line in a_lines[i1:i2] for t in line]
        new = [t for line in b_lines[j1:j2] for t in line]
        work = len(old) * len(new)
        if tag == "equal":
            out.append(("equal", old, new))
        elif tag == "replace" and work <= budget and max(len(old), len(new)) <= TOKEN_DIFF_LIMIT:
            budget -= work
            out += _token_blocks(old, new)
        else:
            out.append(("change", old, new))
    return out


def _segments(blocks: list[tuple[str, list[str], list[str]]]) -> list[Segment]:
    """Blocks as segments: a space-only equal run between two changes joins them (so
    "the quick fox" -> "a slow fox" reads as one change), and each change is its
    deletion, then its insertion."""
    merged: list[list] = []  # [kind, old text, new text]
    for i, (kind, old, new) in enumerate(blocks):
        old_text, new_text = "".join(old), "".join(new)
        if not old_text and not new_text:
            continue
        if (kind == "equal" and merged and merged[-1][0] == "change"
                and i + 1 < len(blocks) and blocks[i + 1][0] == "change"
                and old_text.isspace() and "\n" not in old_text):
            kind = "change"
        if merged and merged[-1][0] == kind:
            merged[-1][1] += old_text
            merged[-1][2] += new_text
        else:
            merged.append([kind, old_text, new_text])
    out: list[Segment] = []
    for kind, old_text, new_text in merged:
        if kind == "equal":
            out.append(("equal", old_text))
            continue
        if old_text:
            out.append(("delete", old_text))
        if new_text:
            out.append(("insert", new_text))
    return out


def _slide_to_lines(segments: list[Segment]) -> list[Segment]:
    """Whole lines inserted or deleted are shown as such: a lone insertion or deletion
    holding a line break, between equal text, slides (where the text around it repeats
    it) to start at the beginning of a line."""
    out = list(segments)
    for i in range(1, len(out)):
        kind, text = out[i]
        before = out[i - 1][1]
        after = out[i + 1][1] if i + 1 < len(out) else ""
        if (kind == "equal" or out[i - 1][0] != "equal" or "\n" not in text
                or before.endswith("\n") or (after and out[i + 1][0] != "equal")):
            continue
        left = _slide(before[::-1], text[::-1], lambda k: before[:-k].endswith("\n")
                      or k == len(before))
        if left:
            out[i - 1] = ("equal", before[:-left])
            out[i] = (kind, text[-left:] + text[:-left])
            out[i + 1:i + 2] = [("equal", text[-left:] + after)]
            continue
        right = _slide(after, text, lambda k: (before + text[:k]).endswith("\n"))
        if right:
            out[i - 1] = ("equal", before + text[:right])
            out[i] = (kind, text[right:] + after[:right])
            out[i + 1] = ("equal", after[right:])
    return [seg for seg in out if seg[1]]


def _slide(neighbour: str, text: str, lands: Callable[[int], bool]) -> int:
    """How far (in characters, 0 for not at all) `text` can slide into `neighbour`
    (both read from the side they touch) until `lands(k)`."""
    for k in range(1, min(len(neighbour), len(text)) + 1):
        if neighbour[k - 1] != text[k - 1]:
            return 0
        if lands(k):
            return k
    return 0
