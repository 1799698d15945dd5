"""Structure flags on real vaults syncing through a real relay: a note edited by one
person while another put it in the trash or moved it to another notebook is flagged
on both devices, once, and Restore / Keep act as changes that sync. Sequential
changes (one author had seen the other's) are never flagged."""

from __future__ import annotations

import json

import pytest

from crdt_store.model import entry_from, seen_from
from crdt_store.review.board import WHOLE, ReviewError
from crdt_store.review.flags import MOVED, NEW, REVIEWED, TEXT, TRASHED, flag_from_row
from crdt_store.sync.invite import parse_invite

pytest_plugins = ["tests.relay_fixtures"]

PLAN = "# Plan\nfirst line\n"
MORE = "# Plan\nfirst line\nmore from Ada\n"


def share(devices, relay, *names: str, notebooks=("Shared",)):
    """Ada makes the notebooks (the first holds one note) and shares them; the other
    devices join every one. Returns (ada, others..., notebook ids, note id)."""
    ada = devices.add("Ada")
    others = [devices.add(name) for name in names]
    books = [ada.vault.create_notebook(name) for name in notebooks]
    note = ada.vault.create_note(books[0], PLAN)
    for book in books:
        link = ada.engine.share(book, (relay.url,)).link()
        for device in others:
            device.engine.join(parse_invite(link))
    assert devices.pump_until(lambda: all(
        d.vault.document_kind(note) is not None and d.vault.note_text(note) == PLAN
        and all(d.vault.document_kind(b) is not None for b in books) for d in others))
    devices.settle()
    return ada, *others, books, note


def edit(device, note, text="more from Ada\n"):
    device.vault.append_text(note, text)


def trashed(device, note) -> bool:
    return device.vault.note_summary(note).trashed


def wait(devices, condition, what=""):
    assert devices.pump_until(condition, timeout=30), what
    devices.settle()


def edited_while_trashed(devices, relay):
    """Ada adds a line while Bo (offline) puts the note in the trash."""
    ada, bo, _books, note = share(devices, relay, "Bo")
    relay.stop()
    edit(ada, note)
    bo.vault.trash_note(note)
    relay.start()
    wait(devices, lambda: all(d.vault.note_text(note) == MORE and trashed(d, note)
                              for d in (ada, bo)))
    [on_ada] = ada.vault.review.flags()
    [on_bo] = bo.vault.review.flags()
    return ada, bo, note, on_ada, on_bo


def test_a_note_edited_while_trashed_is_flagged_on_both_devices(devices, relay):
    ada, bo, note, on_ada, on_bo = edited_while_trashed(devices, relay)
    for flag in (on_ada, on_bo):
        assert (flag.kind, flag.state, flag.note_id) == (TRASHED, NEW, note)
        assert flag.summary == "Bo moved this note to the trash while Ada was editing it."
        assert (flag.earlier.name, flag.arrived.name) == ("Ada", "Bo")
        assert not flag.own_devices
        assert (flag.merged, flag.earlier.inserted, flag.arrived.inserted) == ("", "", "")
    assert (on_ada.earlier.local, on_ada.arrived.local) == (True, False)  # Ada's view
    assert (on_bo.earlier.local, on_bo.arrived.local) == (False, True)  # Bo's view
    assert on_ada.flag_id == on_bo.flag_id  # the same trash, named the same everywhere
    assert ada.vault.review.region(on_ada).status == WHOLE


def test_restore_takes_the_note_out_of_the_trash_on_both_devices(devices, relay):
    ada, bo, note, on_ada, on_bo = edited_while_trashed(devices, relay)
    ada.vault.review.restore_note(on_ada.flag_id)
    assert ada.vault.review.flag(on_ada.flag_id).state == REVIEWED
    wait(devices, lambda: not trashed(ada, note) and not trashed(bo, note))
    assert bo.vault.note_text(note) == MORE
    # On Bo's device the same flag no longer applies, and says why.
    with pytest.raises(ReviewError, match="restored already"):
        bo.vault.review.restore_note(on_bo.flag_id)
    with pytest.raises(ReviewError, match="no longer in the trash"):
        bo.vault.review.keep_structure(on_bo.flag_id)
    assert bo.vault.review.flag(on_bo.flag_id).state == NEW
    bo.vault.review.mark_reviewed(on_bo.flag_id)
    assert [f.state for f in bo.vault.review.flags()] == [REVIEWED]


def test_keep_in_trash_leaves_it_there(devices, relay):
    ada, bo, note, on_ada, on_bo = edited_while_trashed(devices, relay)
    bo.vault.review.keep_structure(on_bo.flag_id)
    ada.vault.review.keep_structure(on_ada.flag_id)
    devices.settle()
    assert trashed(ada, note) and trashed(bo, note)
    assert [f.state for f in ada.vault.review.flags()] == [REVIEWED]
    assert [f.state for f in bo.vault.review.flags()] == [REVIEWED]
    with pytest.raises(ReviewError, match="not about text"):
        ada.vault.review.keep(on_ada.flag_id, "earlier")


def test_a_third_member_sees_the_same_flag(devices, relay):
    ada, bo, cy, _books, note = share(devices, relay, "Bo", "Cy")
    relay.stop()
    edit(ada, note)
    bo.vault.trash_note(note)
    relay.start()
    wait(devices, lambda: all(d.vault.note_text(note) == MORE and trashed(d, note)
                              for d in (ada, bo, cy)))
    [on_ada] = ada.vault.review.flags()
    [on_cy] = cy.vault.review.flags()
    assert (on_cy.flag_id, on_cy.summary) == (on_ada.flag_id, on_ada.summary)
    assert (on_cy.earlier.local, on_cy.arrived.local) == (False, False)
    assert len(bo.vault.review.flags()) == 1


def test_several_concurrent_edits_raise_one_flag_and_later_edits_none(devices, relay):
    ada, bo, books, note = share(devices, relay, "Bo")
    heard = {ada.name: 0, bo.name: 0}  # flags raised (listeners hear each once)

    def listener(name):
        return lambda: heard.update({name: heard[name] + 1})
    for device in (ada, bo):
        device.vault.review.subscribe(listener(device.name))
    relay.stop()
    for n in (1, 2):  # two edits that travel separately
        edit(ada, note, f"line {n}\n")
        assert devices.pump_until(lambda: ada.engine.status()[books[0]].pending == n)
    bo.vault.trash_note(note)
    relay.start()
    wait(devices, lambda: "line 2" in bo.vault.note_text(note) and trashed(ada, note))
    assert len(ada.vault.review.flags()) == len(bo.vault.review.flags()) == 1
    assert heard == {"Ada": 1, "Bo": 1}
    # Ada has seen the trash now: what she writes in the trashed note is not flagged.
    edit(ada, note, "after the trash\n")
    wait(devices, lambda: "after the trash" in bo.vault.note_text(note))
    assert heard == {"Ada": 1, "Bo": 1}


def test_a_trash_after_seeing_the_edit_is_not_flagged(devices, relay):
    ada, bo, _books, note = share(devices, relay, "Bo")
    edit(ada, note)
    wait(devices, lambda: bo.vault.note_text(note) == MORE)
    bo.vault.trash_note(note)  # Bo had seen Ada's edit
    wait(devices, lambda: trashed(ada, note))
    edit(ada, note, "written in the trash\n")  # and Ada had seen the trash
    wait(devices, lambda: "written in the trash" in bo.vault.note_text(note))
    bo.vault.restore_note(note)
    wait(devices, lambda: not trashed(ada, note))
    assert ada.vault.review.flags() == [] and bo.vault.review.flags() == []


@pytest.mark.parametrize("direction", ["to the notebook sorting first", "to the other one"])
def test_a_note_moved_while_edited_is_flagged_and_moved_back(devices, relay, direction):
    # Which of the two catalogs places a note in both (halfway through a move) depends
    # on their ids; both orders are exercised.
    ada, bo, books, note = share(devices, relay, "Bo", notebooks=("Shared", "Work"))
    home, work = books
    if (work < home) != (direction == "to the notebook sorting first"):
        # the note must start in the notebook it is moved out of
        ada.vault.move_note(note, work)
        home, work = work, home
        wait(devices, lambda: bo.vault.notebook_of(note) == home)
    names = {home: ada.vault.notebook(home).name, work: ada.vault.notebook(work).name}
    relay.stop()
    edit(ada, note)
    bo.vault.move_note(note, work)
    relay.start()
    wait(devices, lambda: all(d.vault.note_text(note) == MORE
                              and d.vault.notebook_of(note) == work for d in (ada, bo)),
         "the edit and the move reach both devices")
    [on_ada] = [f for f in ada.vault.review.flags() if f.kind == MOVED]
    [on_bo] = [f for f in bo.vault.review.flags() if f.kind == MOVED]
    for flag in (on_ada, on_bo):
        assert flag.summary == (f"Bo moved this note from “{names[home]}” to "
                                f"“{names[work]}” while Ada was editing it.")
        assert (flag.source, flag.target) == (home, work)
    assert (on_ada.earlier.local, on_bo.arrived.local) == (True, True)
    assert len(ada.vault.review.flags()) == len(bo.vault.review.flags()) == 1
    bo.vault.review.restore_note(on_bo.flag_id)  # back where it was, on both devices
    wait(devices, lambda: all(d.vault.notebook_of(note) == home for d in (ada, bo)))
    assert ada.vault.note_text(note) == bo.vault.note_text(note) == MORE
    with pytest.raises(ReviewError, match="back in"):
        ada.vault.review.restore_note(on_ada.flag_id)
    with pytest.raises(ReviewError, match="no longer in"):
        ada.vault.review.keep_structure(on_ada.flag_id)
    assert len(ada.vault.review.flags()) == len(bo.vault.review.flags()) == 1


def test_structure_flags_survive_a_restart(devices, relay):
    ada, bo, note, on_ada, on_bo = edited_while_trashed(devices, relay)
    ada.vault.flush()
    devices.reopen(ada)
    devices.reopen(bo)
    devices.settle()
    assert ada.vault.review.flags() == [on_ada]
    assert bo.vault.review.flags() == [on_bo]
    bo.vault.review.restore_note(on_bo.flag_id)  # the actions still work
    wait(devices, lambda: not trashed(ada, note))
    assert bo.vault.review.flag(on_bo.flag_id).state == REVIEWED


def test_entries_and_flags_written_before_structure_flags_still_read():
    old = entry_from({"created": 1.0, "pinned": False, "trashed": True, "trashed_at": 2.0})
    assert (old.trashed, old.seen) == (True, None)
    for bad in ("", "[]", "{}", '{"did": "trashed", "client": -1}', "not json"):
        assert seen_from(bad) is None
    side = {"name": "Ada", "device": "d", "client": 1, "local": True, "inserted": "x",
            "deleted": "", "time": 0.0}
    data = ('{"start": 0, "end": 1, "merged": "x", "earlier": %s, "arrived": %s, '
            '"own_devices": false}') % (json.dumps(side), json.dumps(side))
    flag = flag_from_row(("id", "note", 1.0, NEW, data))
    assert (flag.kind, flag.summary, flag.source, flag.mark) == (TEXT, "", "", (0, 0))
