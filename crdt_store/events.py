"""Change records the vault publishes to its subscribers (GUI bridge, search, review).

Plain Python, no Qt: the GUI's bridge turns them into signals on its own thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Callable, Hashable, NamedTuple

from .edit_clock import EditStamp
from .identity import Author
from .unicode_offsets import TextOp


class Source(str, Enum):
    LOCAL = "local"      # made on this device (typing, CLI, import, undo)
    REMOTE = "remote"    # merged in from a collaborator or another device


class DocKind(str, Enum):
    NOTE = "note"
    CATALOG = "catalog"


@dataclass(frozen=True, slots=True, eq=False)
class Origin:
    """Who initiated a change; also the pycrdt transaction origin.

    `initiator` is any hashable token the caller chooses (an editor view, the sync
    engine), so a view can skip re-rendering its own edit. Origins compare by
    identity (cheap to hash on every transaction); the vault hands out one per
    initiator, `Vault.local_origin(initiator)`, which an UndoManager can track.
    """

    source: Source
    author: Author
    initiator: Hashable | None = None


class ChangeEvent(NamedTuple):
    """One committed change to one document (a NamedTuple: immutable, and cheap to
    make on every keystroke).

    For notes, `ops` are the body's splices in code points, applied in order to the
    text as it was before; `ops is None` means the change could not be expressed as
    splices (re-read the whole text). Catalog changes carry no ops.
    """

    doc_id: str
    kind: DocKind
    origin: Origin
    ops: tuple[TextOp, ...] | None
    update: bytes
    ticket: int
    # The state vector the change was made on (causal metadata, for sync). An empty one
    # (b"\x00") for a local change to a note outside every shared notebook: no one
    # receives those changes as such (sharing the notebook later sends the note whole).
    made_on: bytes = b"\x00"
    wall_time: float = 0.0  # when it was made, by its author's clock (informational)
    stamp: EditStamp | None = None  # which edit, and what its author had seen (edit_clock)
    # The text the change removed as its author had it, in op order: computed here for
    # local changes, as the author's envelope says for remote ones (None: not known).
    removed: str | None = None
    # For catalogs: the notes whose notebook or catalog entry changed here (sorted).
    placed: tuple[str, ...] = ()


Subscriber = Callable[[ChangeEvent], None]
