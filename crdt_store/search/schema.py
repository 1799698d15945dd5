"""The whoosh schema of the search index and how a NoteDocument fills it.

Text fields are folded (see ``text.fold``); words are not stemmed, so prefix,
fuzzy and phrase queries mean exactly what they say.  Dates are stored as naive
UTC datetimes.  ``note_id`` and ``version`` are also kept in per-document
columns, so listing versions does not unpickle every stored body.  Bump ``INDEX_NAME`` whenever the schema or the analysis changes:
an index under another name is discarded and rebuilt.
"""

from __future__ import annotations

from datetime import UTC, datetime

from whoosh.columns import VarBytesColumn
from whoosh.fields import BOOLEAN, COLUMN, DATETIME, ID, KEYWORD, TEXT, Schema

from crdt_store.search.analysis import PlaitTokenizer
from crdt_store.search.documents import NoteDocument
from crdt_store.search.text import fold, words
from crdt_store.unicode_offsets import sanitize

__all__ = ["INDEX_NAME", "SCHEMA", "author_keys", "tag_key", "to_datetime", "to_fields"]

INDEX_NAME = "plait_v2"
TITLE_BOOST = 2.0

SCHEMA = Schema(
    note_id=ID(unique=True, stored=True, sortable=True),
    notebook_id=ID(stored=True),
    notebook=TEXT(analyzer=PlaitTokenizer(words=True, grams=True), stored=True),
    title=TEXT(analyzer=PlaitTokenizer(words=True, grams=True), stored=True, field_boost=TITLE_BOOST),
    body=TEXT(analyzer=PlaitTokenizer(words=True, grams=False), stored=True),
    cjk=TEXT(analyzer=PlaitTokenizer(words=False, grams=True)),
    tags=KEYWORD(lowercase=True, scorable=True),
    authors=KEYWORD(lowercase=True, commas=True, scorable=True),
    created=DATETIME(stored=True, sortable=True),
    modified=DATETIME(stored=True, sortable=True),
    trashed=BOOLEAN(stored=True),
    version=COLUMN(VarBytesColumn()),  # stored as a column: versions() needs no note bodies
)


def tag_key(tag: str) -> str:
    """The indexed form of a tag: without '#', folded ("#Café/Ideas" -> "cafe/ideas")."""
    return "".join(fold(tag.lstrip("#")).split())


def author_keys(name: str) -> list[str]:
    """Indexed forms of an author: the whole folded name and each of its words."""
    whole = " ".join(fold(name).replace(",", " ").split())
    return [whole, *(w for w in words(name) if w != whole)] if whole else []


def to_datetime(timestamp: float) -> datetime:
    """A POSIX timestamp as the naive UTC datetime the DATETIME fields hold."""
    return datetime.fromtimestamp(timestamp, UTC).replace(tzinfo=None)


def to_fields(doc: NoteDocument) -> dict[str, object]:
    """The whoosh field values of `doc`; ``ValueError`` for an impossible timestamp."""
    title, body = sanitize(doc.title), sanitize(doc.body)
    try:
        created, modified = to_datetime(doc.created), to_datetime(doc.modified)
    except (OverflowError, OSError) as exc:
        raise ValueError(f"note {doc.note_id}: timestamp out of range ({exc})") from exc
    fields: dict[str, object] = {
        "note_id": doc.note_id,
        "notebook": sanitize(doc.notebook_name),
        "title": title,
        "body": body,
        "cjk": f"{title}\n{body}",
        "tags": " ".join(filter(None, (tag_key(sanitize(t)) for t in doc.tags))),
        "authors": ",".join(dict.fromkeys(k for a in doc.authors for k in author_keys(sanitize(a)))),
        "created": created,
        "modified": modified,
        "trashed": doc.trashed,
        "version": doc.version.encode("utf-8", "surrogatepass"),
    }
    if doc.notebook_id is not None:
        fields["notebook_id"] = doc.notebook_id
    return fields
