"""What a search returns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

__all__ = ["SearchHit", "SearchResults"]


@dataclass(frozen=True)
class SearchHit:
    """One matching note.

    ``snippet`` is a one-line excerpt (about 160 characters, whitespace
    collapsed, '…' where cut) around the first match; ``snippet_matches`` are the
    matched terms inside it and ``body_matches`` all matches in the indexed body,
    as code-point ``(start, end)`` ranges (``highlight.to_utf16`` converts them
    for Qt).  ``body_matches`` is worked out on first use: most hits are only
    listed.  ``score`` is None when results are sorted by date.
    """

    note_id: str
    title: str
    notebook_id: str | None
    notebook_name: str
    modified: float
    score: float | None
    snippet: str
    snippet_matches: list[tuple[int, int]]
    find_body_matches: Callable[[], list[tuple[int, int]]] = field(repr=False, compare=False)

    @cached_property
    def body_matches(self) -> list[tuple[int, int]]:
        return self.find_body_matches()


@dataclass(frozen=True)
class SearchResults:
    """The best hits, how many notes matched in all, and whether the index is still
    being rebuilt (so some notes may be missing)."""

    hits: list[SearchHit]
    total: int
    incomplete: bool
