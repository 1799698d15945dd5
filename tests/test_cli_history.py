"""`plait history` and `plait show --at`, in subprocesses, on a vault with a past."""

from __future__ import annotations

import json
import time
from datetime import datetime

from crdt_store.unicode_offsets import TextOp
from crdt_store.vault import Vault

from .test_cli import assert_one_line_error

DRAFTS = ["Plan\nfirst draft 🙂\n", "Plan\nsecond draft, café\n", "Plan\nthird draft 日本\n"]


def make_past(vault_dir) -> tuple[str, list[float]]:
    """A note written in three sessions: 3 days, 2 hours and 10 minutes ago."""
    now = time.time()
    starts = [now - 3 * 86400, now - 2 * 3600, now - 600]
    moment = [starts[0]]
    with Vault(vault_dir, display_name="Ada", clock=lambda: moment[0]) as vault:
        note = vault.create_note(vault.create_notebook("Notes"))
        for start, draft in zip(starts, DRAFTS):
            moment[0] = start
            vault.set_text(note, draft[:-1])
            vault.flush()
            moment[0] = start + 30
            vault.edit(note, [TextOp(len(draft) - 1, 0, "\n")])
            vault.flush()
        vault.compact()  # the first two are folded into version marks; all are listed alike
    return note, starts


def test_history_lists_sessions_newest_first(run_cli, vault_dir) -> None:
    note, starts = make_past(vault_dir)
    listed = json.loads(run_cli("history", note[:6], "--json").stdout)
    assert [s["authors"] for s in listed] == [["Ada"]] * 3
    assert [round(s["start"]) for s in listed] == [round(t) for t in reversed(starts)]
    assert [round(s["end"] - s["start"]) for s in listed] == [30] * 3
    assert [(s["added"], s["removed"]) for s in listed][-1] == (len(DRAFTS[0]), 0)
    assert all(s["folded"] for s in listed)
    text = run_cli("history", note).stdout.splitlines()
    assert len(text) == 3 and text[0].split()[0] == str(listed[0]["id"])
    day = datetime.fromtimestamp(starts[0]).strftime("%Y-%m-%d %H:%M")
    assert day in text[2] and "Ada" in text[2] and f"+{len(DRAFTS[0])} -0" in text[2]
    page = run_cli("history", note, "--limit", "1").stdout.splitlines()
    assert page[0] == text[0] and f"--before {listed[0]['id']}" in page[1]
    older = json.loads(run_cli("history", note, "--json", "--before",
                               str(listed[0]["id"])).stdout)
    assert older == listed[1:]


def test_show_at_a_session_or_a_time(run_cli, vault_dir) -> None:
    note, starts = make_past(vault_dir)
    ids = [s["id"] for s in json.loads(run_cli("history", note, "--json").stdout)][::-1]
    for session_id, draft in zip(ids, DRAFTS):
        shown = run_cli("show", note, "--at", str(session_id))
        assert shown.stdout == draft
        assert f"session {session_id}" in shown.stderr
    assert run_cli("show", note, "--at", "1d").stdout == DRAFTS[0]
    assert run_cli("show", note, "--at", "1h").stdout == DRAFTS[1]
    assert run_cli("show", note, "--at", "5d").stdout == ""
    when = datetime.fromtimestamp(starts[1] + 60).strftime("%Y-%m-%d %H:%M:%S")
    assert run_cli("show", note, "--at", when).stdout == DRAFTS[1]
    assert run_cli("show", note).stdout == DRAFTS[2]
    assert_one_line_error(run_cli("show", note, "--at", "someday", check=False), "someday")
    assert_one_line_error(run_cli("show", note, "--at", "999999", check=False),
                          "no session 999999")


def test_history_of_a_note_with_none_yet(run_cli, vault_dir) -> None:
    with Vault(vault_dir) as vault:
        note = vault.create_note(vault.create_notebook("Notes"))
    assert run_cli("history", note).stdout.strip() == "No history yet."
    assert json.loads(run_cli("history", note, "--json").stdout) == []
