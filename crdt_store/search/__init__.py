"""Offline full-text search over a vault's notes (whoosh), free of Qt and of the vault.

The vault turns each note into a ``NoteDocument`` and feeds it to a
``SearchIndex``; the GUI calls ``SearchIndex.search`` with the text of the
search box (see ``query`` for the language) and converts the code-point match
ranges of each ``SearchHit`` with ``to_utf16`` for Qt.
"""

from crdt_store.search.documents import NoteDocument
from crdt_store.search.highlight import make_snippet, match_ranges, to_utf16
from crdt_store.search.index import SearchIndex
from crdt_store.search.query import (
    Highlight,
    ParsedQuery,
    SearchQueryError,
    parse_query,
)
from crdt_store.search.results import SearchHit, SearchResults
from crdt_store.search.schema import SCHEMA

__all__ = [
    "SCHEMA",
    "Highlight",
    "NoteDocument",
    "ParsedQuery",
    "SearchHit",
    "SearchIndex",
    "SearchQueryError",
    "SearchResults",
    "make_snippet",
    "match_ranges",
    "parse_query",
    "to_utf16",
]
