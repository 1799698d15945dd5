"""Close-merge detection on real vaults syncing through a real relay."""

from __future__ import annotations

from crdt_store.sync.invite import parse_invite
from crdt_store.unicode_offsets import TextOp
from tests.review_helpers import Watched, concurrently, pair

pytest_plugins = ["tests.relay_fixtures"]


def test_the_same_word_replaced_on_two_devices_is_flagged_on_both(devices, relay):
    ada, bo, note = pair(devices, relay, "The car is purple today.\n")
    at = "The car is ".__len__()
    concurrently(devices, relay, note, (ada, [TextOp(at, 6, "mauve")]),
                 (bo, [TextOp(at, 6, "violet")]))
    merged = ada.device.vault.note_text(note)
    assert merged in ("The car is mauveviolet today.\n", "The car is violetmauve today.\n")
    for watched, mine, theirs in ((ada, "mauve", "violet"), (bo, "violet", "mauve")):
        assert len(watched.flags) == 1, watched.flags
        flag = watched.flags[0]
        assert {flag.earlier.inserted, flag.arrived.inserted} == {"mauve", "violet"}
        assert flag.earlier.local and not flag.arrived.local
        assert flag.earlier.inserted == mine and flag.arrived.inserted == theirs
        assert merged[flag.start:flag.end] in ("mauveviolet", "violetmauve")
        assert not flag.own_devices


def test_concurrent_edits_10_apart_are_flagged_and_500_apart_are_not(devices, relay):
    line = "word " * 120 + "\n"
    ada, bo, note = pair(devices, relay, line)
    concurrently(devices, relay, note, (ada, [TextOp(0, 0, "A")]), (bo, [TextOp(10, 0, "B")]))
    assert len(ada.flags) == 1 and len(bo.flags) == 1
    concurrently(devices, relay, note, (ada, [TextOp(5, 0, "x")]), (bo, [TextOp(505, 0, "y")]))
    assert len(ada.flags) == 1 and len(bo.flags) == 1  # nothing new


def test_sequential_edits_close_together_are_not_flagged(devices, relay):
    ada, bo, note = pair(devices, relay, "alpha beta gamma\n")
    ada.device.vault.edit(note, [TextOp(6, 4, "BETA")])
    assert devices.pump_until(lambda: "BETA" in bo.device.vault.note_text(note))
    bo.device.vault.edit(note, [TextOp(6, 4, "Beta")])  # Bo had seen Ada's edit
    assert devices.pump_until(lambda: "Beta" in ada.device.vault.note_text(note))
    devices.settle()
    assert ada.flags == [] and bo.flags == []


def test_a_concurrent_delete_and_edit_of_the_same_text_is_flagged(devices, relay):
    ada, bo, note = pair(devices, relay, "the quick brown fox\n")
    concurrently(devices, relay, note, (ada, [TextOp(4, 6, "")]),  # deletes "quick "
                 (bo, [TextOp(4, 5, "slow")]))  # rewrites "quick"
    assert len(ada.flags) == 1 and len(bo.flags) == 1
    deletion = ada.flags[0].earlier
    assert deletion.deleted == "quick " and deletion.start == deletion.end


def test_edits_on_different_lines_are_not_flagged(devices, relay):
    ada, bo, note = pair(devices, relay, "- milk\n- eggs\n")
    concurrently(devices, relay, note, (ada, [TextOp(6, 0, " (oat)")]),
                 (bo, [TextOp(8, 0, "six ")]))
    assert ada.flags == [] and bo.flags == []


def test_non_ascii_text_and_three_devices(devices, relay):
    ada, bo, note = pair(devices, relay, "Café ☕ 日本語のテキスト 😀 שלום\n")
    cy = Watched(devices.add("Cy"))
    nb = ada.device.vault.notebook_of(note)
    cy.device.engine.join(parse_invite(ada.device.engine.share(nb, ()).link()))
    assert devices.pump_until(lambda: cy.device.vault.document_kind(note) is not None
                              and cy.device.vault.note_text(note).startswith("Café"))
    devices.settle()
    text = ada.device.vault.note_text(note)
    at = text.index("日本語")
    concurrently(devices, relay, note, (ada, [TextOp(at, 3, "中文")]),
                 (bo, [TextOp(at + 3, 0, "🙂")]))
    assert len(cy.flags) == 1  # a third device sees the two collaborators' edits collide
    flag = cy.flags[0]
    assert {flag.earlier.name, flag.arrived.name} == {"Ada", "Bo"}
    assert not flag.earlier.local and not flag.arrived.local
    merged = cy.device.vault.note_text(note)
    assert "🙂" in merged[flag.start:flag.end]  # where the two edits met
    assert "中文" in flag.merged  # shown with the text around it


def test_flags_are_kept_in_the_vault_survive_a_restart_and_can_be_marked_reviewed(
        devices, relay, tmp_path):
    import json
    import os
    import subprocess
    import sys

    ada, bo, note = pair(devices, relay, "Meet at noon on Friday.\n")
    at = "Meet at ".__len__()
    concurrently(devices, relay, note, (ada, [TextOp(at, 4, "ten")]),
                 (bo, [TextOp(at, 4, "one")]))
    flags = ada.device.vault.review.flags()
    assert len(flags) == 1 and flags[0].state == "new" and flags[0].note_id == note
    assert {flags[0].earlier.inserted, flags[0].arrived.inserted} == {"ten", "one"}

    devices.reopen(ada.device)
    again = ada.device.vault.review.flags()
    assert [f.flag_id for f in again] == [flags[0].flag_id]  # kept across the restart
    path = ada.device.path
    ada.device.close()

    env = {**os.environ, "PLAIT_VAULT": str(path)}
    listed = subprocess.run([sys.executable, "-m", "app.cli", "review", "--json"], env=env,
                            capture_output=True, text=True, timeout=60, check=True)
    [shown] = json.loads(listed.stdout)
    assert shown["id"] == flags[0].flag_id and shown["state"] == "new"
    assert {s["author"] for s in shown["sides"]} == {"Ada", "Bo"}
    subprocess.run([sys.executable, "-m", "app.cli", "review", "--mark-reviewed",
                    shown["id"][:8]], env=env, capture_output=True, timeout=60, check=True)
    after = subprocess.run([sys.executable, "-m", "app.cli", "review"], env=env,
                           capture_output=True, text=True, timeout=60, check=True)
    assert after.stdout.strip() == "Nothing to review."
    with_all = subprocess.run([sys.executable, "-m", "app.cli", "review", "--all"], env=env,
                              capture_output=True, text=True, timeout=60, check=True)
    assert "reviewed" in with_all.stdout and "Ada (this device) and Bo" in with_all.stdout
