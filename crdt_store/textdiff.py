"""Turn "old body, new body" into a few small code-point splices.

``plait edit`` replaces a note's whole body; applying the difference as small
splices instead of delete-all/insert-all means concurrent edits to other parts
of the note survive the CRDT merge.  The diff is minimal-ish, not minimal:
speed and bounded worst-case time matter more.
"""

from __future__ import annotations

from collections import Counter
from difflib import SequenceMatcher

from crdt_store.unicode_offsets import TextOp

__all__ = ["diff_ops"]

CHAR_DIFF_LIMIT = 2_000
"""Blocks up to this many code points (on both sides) are diffed character by character."""

CHAR_DIFF_BUDGET = 8_000_000
"""Cap on the summed len(old) * len(new) of blocks refined by character in one diff.

Character-level SequenceMatcher costs roughly that product (about 0.3 s for two
unrelated 2000-character strings over a two-letter alphabet); once the budget
is spent, remaining changed blocks are replaced whole.
"""

LINE_MATCH_BUDGET = 1_000_000
"""Cap on the estimated cost of matching lines; above it the changed middle is replaced whole.

The estimate is the sum over non-junk lines of (count in old) * (count in new),
the work of one SequenceMatcher.find_longest_match pass.  Ordinary notes stay
far below it; a megabyte of a few hundred distinct repeated lines would
otherwise take 5-20 s.
"""


def _common_prefix(a: str, b: str) -> int:
    """Length of the common prefix, by binary search over C-speed slice comparisons."""
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[lo:mid] == b[lo:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _common_suffix(a: str, b: str, limit: int) -> int:
    """Length of the common suffix, at most ``limit``."""
    lo, hi = 0, limit
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[len(a) - mid : len(a) - lo] == b[len(b) - mid : len(b) - lo]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _char_ops(a: str, b: str, at: int) -> list[TextOp]:
    """Character-level ops turning ``a`` into ``b``, where ``a`` starts at ``at`` in the evolving text."""
    # A changed block of lines mostly holds one edit: trimming its common ends first
    # halves the cost of diffing two versions of a long note.
    prefix = _common_prefix(a, b)
    suffix = _common_suffix(a, b, min(len(a), len(b)) - prefix)
    a, b, at = a[prefix:len(a) - suffix], b[prefix:len(b) - suffix], at + prefix
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    return [
        TextOp(at + j1, i2 - i1, b[j1:j2])
        for tag, i1, i2, j1, j2 in matcher.get_opcodes()
        if tag != "equal"
    ]


def _line_ops(a: str, b: str, at: int) -> list[TextOp]:
    """Line-level ops turning ``a`` into ``b``, refining small replaced blocks by character.

    Lines more frequent than 1% of the new text are junk (difflib's autojunk
    rule): without that, blank lines make SequenceMatcher quadratic in their
    count (20 s for two unrelated 600 kB notes).  Junk lines still extend a
    match; they only cannot anchor one.
    """
    a_lines = a.splitlines(keepends=True)
    b_lines = b.splitlines(keepends=True)
    a_counts, b_counts = Counter(a_lines), Counter(b_lines)
    # difflib's autojunk rule, made explicit so the cost estimate matches it.
    popular = len(b_lines) // 100 + 1 if len(b_lines) >= 200 else len(b_lines)
    junk = {line for line, n in b_counts.items() if n > popular}
    cost = sum(n * b_counts[line] for line, n in a_counts.items() if line not in junk)
    if cost > LINE_MATCH_BUDGET:
        return [TextOp(at, len(a), b)]
    a_starts = _starts(a_lines)
    b_starts = _starts(b_lines)
    ops: list[TextOp] = []
    budget = CHAR_DIFF_BUDGET
    matcher = SequenceMatcher(junk.__contains__, a_lines, b_lines, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        old = a[a_starts[i1] : a_starts[i2]]
        new = b[b_starts[j1] : b_starts[j2]]
        pos = at + b_starts[j1]
        work = len(old) * len(new)
        if tag == "replace" and len(old) <= CHAR_DIFF_LIMIT and len(new) <= CHAR_DIFF_LIMIT and work <= budget:
            budget -= work
            ops += _char_ops(old, new, pos)
        else:
            ops.append(TextOp(pos, len(old), new))
    return ops


def _starts(lines: list[str]) -> list[int]:
    """Offsets where each line starts, plus the total length at the end."""
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    return starts


def diff_ops(old: str, new: str, *, lines_first: bool = False) -> list[TextOp]:
    """Sequential code-point splices that turn ``old`` into ``new`` (``apply_ops(old, ops) == new``).

    Common prefix and suffix are trimmed first; a small middle is diffed by
    character, a large one (or any, with ``lines_first``: much faster for edits
    scattered over many lines, a little less minimal) by line with small changed
    blocks refined by character.  Splices never split a code point but may split a
    grapheme cluster (e.g. insert only a combining accent), which is still correct.
    """
    if old == new:
        return []
    prefix = _common_prefix(old, new)
    suffix = _common_suffix(old, new, min(len(old), len(new)) - prefix)
    a = old[prefix : len(old) - suffix]
    b = new[prefix : len(new) - suffix]
    if not a or not b:
        return [TextOp(prefix, len(a), b)]
    if len(a) <= CHAR_DIFF_LIMIT and len(b) <= CHAR_DIFF_LIMIT and not lines_first:
        return _char_ops(a, b, prefix)
    return _line_ops(a, b, prefix)
