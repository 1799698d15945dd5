"""The note list's model: NoteSummary rows, updated by minimal diffs.

`KeyedListModel` turns "here is the new list" into the fewest row removals,
moves, insertions and dataChanged signals it can, so views keep their selection,
current item and scroll position. `NoteListModel` is that for notes.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Hashable, Sequence
from datetime import datetime
from operator import attrgetter
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QMimeData,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
)

from crdt_store.model import NoteSummary

NoteIdRole = Qt.ItemDataRole.UserRole + 1
SummaryRole = Qt.ItemDataRole.UserRole + 2
SnippetRole = Qt.ItemDataRole.UserRole + 3
ModifiedRole = Qt.ItemDataRole.UserRole + 4
PinnedRole = Qt.ItemDataRole.UserRole + 5
ReviewRole = Qt.ItemDataRole.UserRole + 6  # has merges waiting for review
UnreadRole = Qt.ItemDataRole.UserRole + 7  # changed by others since this user looked

NOTE_IDS_MIME = "application/x-plait-note-ids"

_ROOT = QModelIndex()


def _stable_positions(seq: Sequence[int]) -> set[int]:
    """The values of one longest increasing subsequence of `seq` (distinct ints)."""
    tails: list[int] = []  # tails[k]: index in seq of the smallest tail of a run of length k+1
    tail_values: list[int] = []
    back: list[int] = [-1] * len(seq)
    for i, value in enumerate(seq):
        k = bisect_left(tail_values, value)
        back[i] = tails[k - 1] if k else -1
        if k == len(tails):
            tails.append(i)
            tail_values.append(value)
        else:
            tails[k] = i
            tail_values[k] = value
    keep: set[int] = set()
    i = tails[-1] if tails else -1
    while i >= 0:
        keep.add(seq[i])
        i = back[i]
    return keep


class KeyedListModel(QAbstractListModel):
    """A flat list of immutable items with unique keys, replaced by minimal updates."""

    MAX_MOVES = 32  # more moved rows than this: one layout change instead of row moves

    def __init__(self, key: Callable[[Any], Hashable], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._key = key
        self._items: list[Any] = []
        self._keys: list[Hashable] = []
        self._rows: dict[Hashable, int] | None = {}

    # ---- Qt interface ------------------------------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._items)

    def item_at(self, row: int) -> Any:
        return self._items[row]

    def row_of_key(self, key: Hashable) -> int | None:
        if self._rows is None:
            self._rows = {k: i for i, k in enumerate(self._keys)}
        return self._rows.get(key)

    # ---- the diff ----------------------------------------------------------------------

    def _replace(self, items: Sequence[Any]) -> None:
        """Make the rows equal `items`, emitting only what changed."""
        items = list(items)
        keys = list(map(self._key, items))
        if len(set(keys)) != len(keys):
            raise ValueError("Items for a list model must have unique keys.")
        if keys != self._keys:
            wanted = set(keys)
            self._remove_rows(lambda k: k not in wanted)
            kept = set(self._keys)
            target = [k for k in keys if k in kept]
            if target != self._keys:
                self._reorder(target)
            self._insert_rows(keys, items, kept)
        self._update_rows(keys, items)

    def _remove_rows(self, doomed: Callable[[Hashable], bool]) -> None:
        """Remove rows whose key is doomed, one contiguous run at a time, bottom up."""
        end = len(self._keys)
        while end > 0:
            while end > 0 and not doomed(self._keys[end - 1]):
                end -= 1
            start = end
            while start > 0 and doomed(self._keys[start - 1]):
                start -= 1
            if start < end:
                self.beginRemoveRows(_ROOT, start, end - 1)
                del self._keys[start:end], self._items[start:end]
                self._rows = None
                self.endRemoveRows()
            end = start

    def _reorder(self, target: list[Hashable]) -> None:
        """Reorder the rows (same keys) into `target` order: a few moves, or a relayout."""
        lo, hi = 0, len(target)
        while lo < hi and self._keys[lo] == target[lo]:
            lo += 1
        while hi > lo and self._keys[hi - 1] == target[hi - 1]:
            hi -= 1
        position = {k: i for i, k in enumerate(target)}
        stable = _stable_positions([position[k] for k in self._keys[lo:hi]])
        moved = [t for t in range(lo, hi) if t not in stable]
        if len(moved) > self.MAX_MOVES:
            self._relayout(target)
            return
        for t in moved:  # each goes right after its predecessor in the target order
            j = self._keys.index(target[t])
            dest = self._keys.index(target[t - 1]) + 1 if t else 0
            if dest == j:
                continue
            if not self.beginMoveRows(_ROOT, j, j, _ROOT, dest):
                raise RuntimeError(f"Qt refused to move row {j} to {dest}.")
            key, item = self._keys.pop(j), self._items.pop(j)
            at = dest if dest < j else dest - 1
            self._keys.insert(at, key)
            self._items.insert(at, item)
            self._rows = None
            self.endMoveRows()

    def _relayout(self, target: list[Hashable]) -> None:
        """Permute every row at once, carrying persistent indexes (selection) along."""
        self.layoutAboutToBeChanged.emit()
        old = self.persistentIndexList()
        persistent_keys = [self._keys[ix.row()] for ix in old]
        by_key = dict(zip(self._keys, self._items))
        self._keys, self._items = list(target), [by_key[k] for k in target]
        self._rows = None
        self.changePersistentIndexList(old, [self.index(self.row_of_key(k), 0) for k in persistent_keys])
        self.layoutChanged.emit()

    def _insert_rows(self, keys: list[Hashable], items: list[Any], kept: set[Hashable]) -> None:
        """Insert the new keys, one contiguous run at a time, top down."""
        i, n = 0, len(keys)
        while i < n:
            if keys[i] in kept:
                i += 1
                continue
            j = i
            while j < n and keys[j] not in kept:
                j += 1
            self.beginInsertRows(_ROOT, i, j - 1)
            self._keys[i:i] = keys[i:j]
            self._items[i:i] = items[i:j]
            self._rows = None
            self.endInsertRows()
            i = j

    def _update_rows(self, keys: list[Hashable], items: list[Any]) -> None:
        """Take the new items (same keys, same order) and signal the rows that differ."""
        old, self._items, self._keys = self._items, items, keys
        start = None
        for row, (before, after) in enumerate(zip(old, items)):
            same = before is after or before == after
            if not same and start is None:
                start = row
            elif same and start is not None:
                self.dataChanged.emit(self.index(start, 0), self.index(row - 1, 0))
                start = None
        if start is not None:
            self.dataChanged.emit(self.index(start, 0), self.index(len(items) - 1, 0))


class NoteListModel(KeyedListModel):
    """Notes for the note list, in the order given (the vault's: pinned, then newest)."""

    NoteIdRole = NoteIdRole
    SummaryRole = SummaryRole
    SnippetRole = SnippetRole
    ModifiedRole = ModifiedRole
    PinnedRole = PinnedRole
    ReviewRole = ReviewRole
    UnreadRole = UnreadRole

    _FLAGS = (Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEnabled
              | Qt.ItemFlag.ItemIsDragEnabled | Qt.ItemFlag.ItemNeverHasChildren)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(attrgetter("note_id"), parent)
        self._to_review: set[str] = set()
        self._unread: set[str] = set()

    def set_review_marks(self, note_ids: set[str]) -> None:
        """Mark the notes with merges waiting for review (the review panel's flags)."""
        changed = self._to_review ^ note_ids
        self._to_review = set(note_ids)
        self._repaint(changed, ReviewRole)

    def set_unread(self, note_ids: set[str]) -> None:
        """Mark the notes others changed since this user last looked."""
        changed = self._unread ^ note_ids
        self._unread = set(note_ids)
        self._repaint(changed, UnreadRole)

    def _repaint(self, note_ids: set[str], role: int) -> None:
        for note_id in note_ids:
            row = self.row_of_key(note_id)
            if row is not None:
                index = self.index(row)
                self.dataChanged.emit(index, index, [role])

    def set_notes(self, notes: Sequence[NoteSummary]) -> None:
        """Show `notes`, changing only the rows that differ (selection follows note ids)."""
        self._replace(notes)

    def notes(self) -> list[NoteSummary]:
        return list(self._items)

    def note_id_at(self, row: int) -> str:
        return self._keys[row]

    def summary_at(self, row: int) -> NoteSummary:
        return self._items[row]

    def row_of(self, note_id: str) -> int | None:
        return self.row_of_key(note_id)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._items):
            return None
        note: NoteSummary = self._items[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return note.display_title
        if role == NoteIdRole:
            return note.note_id
        if role == SummaryRole:
            return note
        if role == SnippetRole:
            return note.snippet
        if role == ModifiedRole:
            return note.modified
        if role == PinnedRole:
            return note.pinned
        if role == ReviewRole:
            return note.note_id in self._to_review
        if role == UnreadRole:
            return note.note_id in self._unread
        if role == Qt.ItemDataRole.ToolTipRole:
            tip = _tooltip(note)
            if note.note_id in self._unread:
                tip += "\nChanged by others since you last looked."
            if note.note_id in self._to_review:
                tip += "\nHas merged edits to review (View ▸ Review Panel)."
            return tip
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        return self._FLAGS if index.isValid() else Qt.ItemFlag.NoItemFlags

    def mimeTypes(self) -> list[str]:
        return [NOTE_IDS_MIME]

    def mimeData(self, indexes: Sequence[QModelIndex]) -> QMimeData:
        """Dragged notes travel as their ids, one per line."""
        mime = QMimeData()
        ids = [self._keys[i.row()] for i in sorted(indexes, key=QModelIndex.row) if i.isValid()]
        mime.setData(NOTE_IDS_MIME, "\n".join(ids).encode())
        return mime

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.MoveAction


def _tooltip(note: NoteSummary) -> str:
    when = datetime.fromtimestamp(note.modified).strftime("%Y-%m-%d %H:%M") if note.modified > 0 else ""
    lines = [note.display_title, f"Modified {when}" if when else "", " ".join(f"#{t}" for t in note.tags)]
    return "\n".join(line for line in lines if line)
