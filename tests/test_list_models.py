"""The note list and sidebar models, their minimal updates, and the note delegate (offscreen)."""

from __future__ import annotations

import random
import time
from dataclasses import replace
from datetime import date, datetime, time as clock_time

import pytest
from PySide6.QtCore import QPersistentModelIndex, Qt
from PySide6.QtWidgets import QAbstractItemView, QListView

from app.note_delegate import NoteDelegate, friendly_time
from app.note_list_model import (
    NOTE_IDS_MIME,
    ModifiedRole,
    NoteIdRole,
    NoteListModel,
    PinnedRole,
    SnippetRole,
    SummaryRole,
)
from app.notebook_list_model import (
    CountRole,
    KindRole,
    NotebookDelegate,
    NotebookIdRole,
    NotebookListModel,
)
from crdt_store.model import NoteSummary

from .conftest import ARTIFACTS

TODAY_3PM = datetime.combine(date.today(), clock_time(15, 0)).timestamp()


# ---- helpers --------------------------------------------------------------------------


def note_view(qtbot, model: NoteListModel, now: float | None = None) -> QListView:
    view = QListView()
    view.setModel(model)
    view.setItemDelegate(NoteDelegate(view, clock=(lambda: now) if now else time.time))
    view.setUniformItemSizes(True)
    view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
    qtbot.addWidget(view)
    return view


def select(view: QListView, *note_ids: str) -> None:
    """Select these notes (the first one current), as a user's clicks would."""
    model: NoteListModel = view.model()
    flags = view.selectionModel().SelectionFlag
    view.selectionModel().clearSelection()
    for note_id in note_ids:
        view.selectionModel().select(model.index(model.row_of(note_id)), flags.Select)
    view.selectionModel().setCurrentIndex(model.index(model.row_of(note_ids[0])), flags.NoUpdate)


def selected_ids(view: QListView) -> set[str]:
    return {ix.data(NoteIdRole) for ix in view.selectionModel().selectedIndexes()}


def ids(model: NoteListModel) -> list[str]:
    return [model.note_id_at(row) for row in range(model.rowCount())]


def summary(i: int, modified: float = 1_700_000_000.0, **changes) -> NoteSummary:
    base = NoteSummary(
        note_id=f"{i:032x}", notebook_id="nb", title=f"Note {i}", snippet=f"Body of note {i}",
        tags=(), created=modified, modified=modified, pinned=False, trashed=False, chars=40,
    )
    return replace(base, **changes)


@pytest.fixture
def filled(vault):
    """A notebook with three notes, oldest first, and the third one pinned."""
    nb = vault.create_notebook("Work")
    a = vault.create_note(nb, "# Alpha\nfirst body")
    b = vault.create_note(nb, "# Beta\nsecond body #plait")
    c = vault.create_note(nb, "# Gamma\nthird body")
    vault.set_pinned(c, True)
    return vault, nb, (a, b, c)


# ---- NoteListModel on a real vault ----------------------------------------------------


def test_rows_and_roles_follow_the_vault_order(qtbot, qtmodeltester, filled) -> None:
    vault, _, (a, b, c) = filled
    model = NoteListModel()
    qtmodeltester.check(model, force_py=True)
    view = note_view(qtbot, model)
    model.set_notes(vault.list_notes())
    assert ids(model) == [c, b, a]  # pinned first, then newest
    assert [model.row_of(x) for x in (c, b, a)] == [0, 1, 2]
    assert model.row_of("no such note") is None
    row = model.index(1)
    assert row.data() == "Beta"
    assert row.data(NoteIdRole) == b
    assert row.data(SummaryRole) == vault.note_summary(b)
    assert row.data(SnippetRole) == "second body #plait"
    assert row.data(ModifiedRole) == vault.note_summary(b).modified
    assert row.data(PinnedRole) is False and model.index(0).data(PinnedRole) is True
    assert row.data(Qt.ItemDataRole.ToolTipRole).splitlines()[::2] == ["Beta", "#plait"]
    flags = model.flags(row)
    for flag in (Qt.ItemFlag.ItemIsSelectable, Qt.ItemFlag.ItemIsEnabled, Qt.ItemFlag.ItemIsDragEnabled):
        assert flags & flag
    mime = model.mimeData([model.index(2), model.index(0)])
    assert bytes(mime.data(NOTE_IDS_MIME)).decode().split("\n") == [c, a]
    assert view.sizeHintForRow(0) == view.sizeHintForRow(2) > 2 * view.fontMetrics().height()


def test_editing_a_title_moves_the_row_and_keeps_the_selection(qtbot, qtmodeltester, filled):
    vault, _, (a, b, c) = filled
    model = NoteListModel()
    qtmodeltester.check(model, force_py=True)
    view = note_view(qtbot, model)
    model.set_notes(vault.list_notes())
    select(view, a)
    resets, layouts, moves = [], [], []
    model.modelReset.connect(lambda: resets.append(1))
    model.layoutChanged.connect(lambda *_: layouts.append(1))
    model.rowsMoved.connect(lambda *args: moves.append(1))

    vault.set_text(a, "# Alpha, renamed\nfirst body, edited")
    notes = vault.list_notes()
    model.set_notes(notes)

    assert ids(model) == [n.note_id for n in notes] == [c, a, b]  # newest unpinned after the pin
    assert model.index(1).data() == "Alpha, renamed"
    assert selected_ids(view) == {a}
    assert view.currentIndex().data(NoteIdRole) == a
    assert (resets, layouts, moves) == ([], [], [1])  # one row moved, nothing reset


def test_unchanged_order_only_signals_changed_rows(qtbot, filled) -> None:
    vault, _, (a, b, c) = filled
    model = NoteListModel()
    note_view(qtbot, model)
    model.set_notes(vault.list_notes())
    changed = []
    model.dataChanged.connect(lambda tl, br, *_: changed.append((tl.row(), br.row())))
    model.set_notes(vault.list_notes())  # equal summaries, fresh objects
    assert changed == []
    notes = vault.list_notes()
    notes[1] = replace(notes[1], snippet="edited elsewhere")
    model.set_notes(notes)
    assert changed == [(1, 1)]
    assert model.index(1).data(SnippetRole) == "edited elsewhere"


def test_trashing_removes_the_row_and_keeps_the_other_selection(qtbot, qtmodeltester, filled):
    vault, nb, (a, b, c) = filled
    model = NoteListModel()
    qtmodeltester.check(model, force_py=True)
    view = note_view(qtbot, model)
    model.set_notes(vault.list_notes())
    select(view, a, c)

    vault.trash_note(b)
    model.set_notes(vault.list_notes())
    assert ids(model) == [c, a]
    assert selected_ids(view) == {a, c}
    assert view.currentIndex().data(NoteIdRole) == a

    vault.trash_note(c)
    model.set_notes(vault.list_notes())
    assert ids(model) == [a]
    assert selected_ids(view) == {a}

    d = vault.create_note(nb, "# Delta\nnew")
    model.set_notes(vault.list_notes())
    assert ids(model) == [d, a]
    assert selected_ids(view) == {a}
    model.set_notes(vault.list_notes(trashed=True))
    assert set(ids(model)) == {b, c}
    assert selected_ids(view) == set()


@pytest.mark.parametrize("max_moves", [0, 3, 32])
def test_random_updates_keep_persistent_indexes_on_their_notes(qtmodeltester, max_moves):
    """Removals, moves (row by row or as one relayout) and insertions, checked against Qt."""
    rng = random.Random(max_moves)
    model = NoteListModel()
    model.MAX_MOVES = max_moves
    qtmodeltester.check(model, force_py=True)
    pool = [summary(i) for i in range(40)]
    for _ in range(150):
        new = rng.sample(pool, rng.randint(0, 25))
        if rng.random() < 0.3 and new:  # a few rows edited in place
            new[0] = replace(new[0], snippet=f"edited {rng.random()}")
        before = {model.note_id_at(r): QPersistentModelIndex(model.index(r))
                  for r in range(model.rowCount())}
        model.set_notes(new)
        assert ids(model) == [n.note_id for n in new]
        assert [model.index(r).data(SummaryRole) for r in range(len(new))] == new
        for note_id, persistent in before.items():
            row = model.row_of(note_id)
            assert (persistent.row() if persistent.isValid() else None) == row


def test_duplicate_ids_are_refused() -> None:
    model = NoteListModel()
    with pytest.raises(ValueError, match="unique"):
        model.set_notes([summary(1), summary(2), summary(1)])
    assert model.rowCount() == 0


def test_ten_thousand_notes_update_fast_and_keep_the_selection(qtbot) -> None:
    model = NoteListModel()
    view = note_view(qtbot, model)
    view.resize(350, 500)
    view.show()
    qtbot.waitExposed(view)
    notes = [summary(i, modified=1_700_000_000.0 - i) for i in range(10_000)]
    moved_to_top = [replace(notes[5000], modified=1_800_000_000.0), *notes[:5000], *notes[5001:]]
    pruned = [n for i, n in enumerate(notes) if i % 7] + [summary(i) for i in range(10_000, 10_100)]
    steps = {
        "fill 10k": notes,
        "same again": list(notes),
        "one edited": [*notes[:10], replace(notes[10], title="Edited"), *notes[11:]],
        "one moved to top": moved_to_top,
        "every row edited": [replace(n, snippet="changed") for n in moved_to_top],
        "reversed (relayout)": list(reversed(notes)),
        "1429 removed, 100 added": pruned,
        "other notebook (all replaced)": [summary(i) for i in range(20_000, 30_000)],
    }
    timings = {}
    for name, target in steps.items():
        if name == "one moved to top":
            select(view, notes[5000].note_id, notes[1].note_id)
        start = time.perf_counter()
        model.set_notes(target)
        timings[name] = time.perf_counter() - start
        assert ids(model) == [n.note_id for n in target]
        if name in ("one moved to top", "every row edited", "reversed (relayout)"):
            assert selected_ids(view) == {notes[5000].note_id, notes[1].note_id}
            assert view.currentIndex().data(NoteIdRole) == notes[5000].note_id
    print("\nNoteListModel.set_notes timings (ms): "
          + ", ".join(f"{name}: {t * 1000:.1f}" for name, t in timings.items()))
    assert max(timings.values()) < 0.5, timings


# ---- friendly_time --------------------------------------------------------------------


def at(day: date, hour: int = 12, minute: int = 0) -> float:
    return datetime.combine(day, clock_time(hour, minute)).timestamp()


@pytest.mark.parametrize(("when", "expected"), [
    (at(date(2026, 3, 19), 14, 32), "14:32"),
    (at(date(2026, 3, 19), 0, 5), "00:05"),
    (at(date(2026, 3, 19), 23, 59), "23:59"),  # later today (clock skew) is still today
    (at(date(2026, 3, 18), 23, 59), "Yesterday"),
    (at(date(2026, 3, 18), 0, 0), "Yesterday"),
    (at(date(2026, 3, 17)), "Tuesday"),
    (at(date(2026, 3, 13)), "Friday"),  # six days ago
    (at(date(2026, 3, 12)), "12 Mar 2026"),  # a week ago: same weekday, so a date
    (at(date(2025, 12, 31)), "31 Dec 2025"),
    (at(date(2026, 3, 20)), "20 Mar 2026"),  # tomorrow
    (0.0, ""),
])
def test_friendly_time(when: float, expected: str) -> None:
    now = at(date(2026, 3, 19), 15, 0)  # a Thursday
    assert friendly_time(when, now) == expected


def test_friendly_time_counts_calendar_days_not_hours() -> None:
    just_after_midnight = at(date(2026, 3, 19), 0, 10)
    assert friendly_time(at(date(2026, 3, 18), 23, 50), just_after_midnight) == "Yesterday"
    assert friendly_time(at(date(2026, 3, 19), 0, 1), just_after_midnight) == "00:01"


# ---- NotebookListModel ----------------------------------------------------------------


def sidebar_rows(model: NotebookListModel) -> list[tuple]:
    return [(model.kind_at(r), model.index(r).data(), model.index(r).data(CountRole))
            for r in range(model.rowCount())]


def test_sidebar_rows_counts_and_selection(qtbot, qtmodeltester, vault) -> None:
    model = NotebookListModel()
    qtmodeltester.check(model, force_py=True)
    assert sidebar_rows(model) == [("all", "All notes", 0), ("trash", "Trash", 0)]
    work = vault.create_notebook("work")
    ideas = vault.create_notebook("Ideas")
    for text in ("# One", "# Two"):
        vault.create_note(work, text)
    gone = vault.create_note(ideas, "# Gone")
    vault.trash_note(gone)

    def refresh() -> None:
        model.set_notebooks(vault.notebooks(), len(vault.list_notes()),
                            len(vault.list_notes(trashed=True)))

    refresh()
    assert sidebar_rows(model) == [("all", "All notes", 2), ("notebook", "Ideas", 0),
                                   ("notebook", "work", 2), ("trash", "Trash", 1)]
    assert model.row_of_notebook(work) == 2 and model.row_of_notebook("nope") is None
    assert model.row_of_kind("trash") == 3
    index = model.index(2)
    assert (index.data(KindRole), index.data(NotebookIdRole)) == ("notebook", work)
    assert model.index(0).data(NotebookIdRole) is None and model.notebook_id_at(2) == work
    for row in range(model.rowCount()):
        assert not model.index(row).data(Qt.ItemDataRole.DecorationRole).isNull()
    assert model.index(3).data(Qt.ItemDataRole.ToolTipRole) == "Trash: 1 note"

    view = QListView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.setCurrentIndex(model.index(2))
    resets = []
    model.modelReset.connect(lambda: resets.append(1))
    vault.rename_notebook(work, "Archive")  # sorts first now
    vault.create_note(work, "# Three")
    refresh()
    assert sidebar_rows(model)[1:3] == [("notebook", "Archive", 3), ("notebook", "Ideas", 0)]
    assert view.currentIndex().data(NotebookIdRole) == work
    assert view.selectionModel().selectedIndexes()[0].data(NotebookIdRole) == work
    vault.trash_notebook(ideas)
    refresh()
    assert [model.kind_at(r) for r in range(model.rowCount())] == ["all", "notebook", "trash"]
    assert view.currentIndex().data(NotebookIdRole) == work
    assert resets == []


# ---- screenshots ----------------------------------------------------------------------


def test_note_list_screenshot(qtbot, vault) -> None:
    nb = vault.create_notebook("Notes")
    texts = [
        ("# Plan für Übermorgen\nMit Jörg die Straßenbahn nehmen, dann Café am Fluss", 0.2),
        ("# Ελληνικά: σημειώσεις μαθήματος\nΑλφάβητο, τονισμός και πρώτες λέξεις", 3),
        ("# Список покупок\nмолоко, хлеб, яблоки, сыр и немного чая", 20),
        ("# A very long title that certainly does not fit in a narrow note list column\n"
         "and a body that is equally long, so that both lines have to be elided", 30),
        ("just a first line without a heading\nsecond line", 50),
        ("# Reading list\n- Gödel, Escher, Bach\n- Le Petit Prince", 24 * 4),
        ("# Trip to Kraków\nZakopane → Wieliczka → Ojców ✓", 24 * 12),
        ("", 24 * 40),
    ]
    made = []
    for text, hours_ago in texts:
        when = TODAY_3PM - hours_ago * 3600
        note_id = vault.create_note(nb, text, created=when)
        vault.set_modified(note_id, when)
        made.append(note_id)
    vault.set_pinned(made[2], True)
    model = NoteListModel()
    view = note_view(qtbot, model, now=TODAY_3PM)
    model.set_notes(vault.list_notes())
    assert model.rowCount() == 8 and model.index(0).data(PinnedRole)
    select(view, made[1])
    view.resize(350, 500)
    view.show()
    qtbot.waitExposed(view)
    ARTIFACTS.mkdir(exist_ok=True)
    assert view.grab().save(str(ARTIFACTS / "note-list.png"))


def test_sidebar_screenshot(qtbot, vault) -> None:
    names = {"Inbox": 4, "Recettes de cuisine française et italienne": 12, "Work": 7,
             "Ψηφιακά": 1, "Empty": 0}
    for name, count in names.items():
        nb = vault.create_notebook(name)
        for i in range(count):
            vault.create_note(nb, f"# {name} {i}")
    model = NotebookListModel()
    model.set_notebooks(vault.notebooks(), len(vault.list_notes()), 3)
    view = QListView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.setItemDelegate(NotebookDelegate(view))
    view.setCurrentIndex(model.index(model.row_of_notebook(vault.find_notebook("Work").notebook_id)))
    view.resize(240, 300)
    view.show()
    qtbot.waitExposed(view)
    ARTIFACTS.mkdir(exist_ok=True)
    assert view.grab().save(str(ARTIFACTS / "sidebar.png"))
