"""A writer process for the kill -9 tests: streams edits and reports the durable ones.

Usage: python -m tests.helpers.crash_writer VAULT RUN_LABEL [MODE]

MODE "writes" (the default): prints "ready NOTE_ID ..." once, then "durable MARKER"
for every marker whose edit the store has reported durable (its ticket is at most
Vault.durable_ticket). It also compacts now and then, so kills land during
compaction too.

MODE "compaction" or "index" (RUN_LABEL is then a marker tag: lowercase letters)
writes the markers of tests/invariants.py, one line each, at random line starts,
deletes some of them again, and pastes filler text, so the notes grow long. It says
what it is about to do before doing it, and when it became durable:

    ready                   the vault is open
    w MARKER / x MARKER     about to insert / delete this marker
    d MARKER / dx MARKER    that insert / delete is durable
    compacting / compacted  around Vault.compact() of every note's long update log
    indexing / indexed      around a search index commit of the notes changed since
                            the last one (Vault.wait_for_search)

The test kills it right after "compacting" or "indexing": in the middle of the
compaction's SQLite transaction, or of whoosh writing a segment and its table of
contents.
"""

from __future__ import annotations

import random
import re
import sys

from crdt_store.unicode_offsets import TextOp
from crdt_store.vault import Vault

NOTES = 3
MARKER = re.compile(r"mk[a-z]+\d{5}z")
FILLER = ("text", "é", "中文", "👩\u200d👩\u200d👧", "שלום", "word", " ")


def writes(vault_dir: str, label: str) -> None:
    vault = Vault(vault_dir, compact_after_rows=50)
    notebook = vault.notebook_named("Crash")
    notes = [n.note_id for n in vault.list_notes(notebook)]
    while len(notes) < NOTES:
        notes.append(vault.create_note(notebook, ""))
    vault.flush()
    print("ready", *notes, flush=True)
    waiting: list[tuple[int, str]] = []
    i = 0
    while True:
        note = notes[i % NOTES]
        marker = f"<{label}-{i}{'é中😀' if i % 7 == 0 else ''}>"
        length = len(vault.note_text(note))
        ticket = vault.edit(note, [TextOp(length, 0, marker)])
        waiting.append((ticket, marker))
        if i % 200 == 199:
            vault.compact()
        durable = vault.durable_ticket
        done = [m for t, m in waiting if t <= durable]
        if done:
            waiting = [(t, m) for t, m in waiting if t > durable]
            sys.stdout.write("".join(f"durable {m}\n" for m in done))
            sys.stdout.flush()
        i += 1


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def markers_and_more(vault_dir: str, tag: str, mode: str) -> None:
    """Markers, deletes and pastes; a compaction or an index commit every so often."""
    rng = random.Random(tag)
    index = mode == "index"
    vault = Vault(vault_dir, compact_after_rows=10**9 if not index else 1000, search=index)
    notebook = vault.notebook_named("Crash")
    notes = [n.note_id for n in vault.list_notes(notebook)]
    while len(notes) < (12 if index else NOTES):
        notes.append(vault.create_note(notebook, f"# Note {len(notes)}\n"))
    vault.flush()
    say("ready")
    waiting: list[tuple[int, str]] = []
    every = 150 if index else 1500
    i = 0
    while True:
        note = rng.choice(notes)
        text = vault.note_text(note)
        starts = [0] + [m.end() for m in re.finditer("\n", text)]
        if i % 9 == 8 and (found := [m for m in MARKER.finditer(text)
                                     if text[m.end():m.end() + 1] == "\n"]):
            match = rng.choice(found)
            say(f"x {match.group()}")
            ticket = vault.edit(note, [TextOp(match.start(), len(match.group()) + 1, "")])
            waiting.append((ticket, f"dx {match.group()}"))
        elif i % 50 == 49:  # a paste: the notes grow, and so do their logs and segments
            lines = "".join(" ".join(rng.choice(FILLER) for _ in range(12)) + "\n"
                            for _ in range(40))
            vault.edit(note, [TextOp(rng.choice(starts), 0, lines)])
        else:
            marker = f"mk{tag}{i:05d}z"
            say(f"w {marker}")
            ticket = vault.edit(note, [TextOp(rng.choice(starts), 0, marker + "\n")])
            waiting.append((ticket, f"d {marker}"))
        due = i % every == every - 1
        if due:
            vault.flush()  # (an index commit comes after the edits are on disk)
        durable = vault.durable_ticket
        done = [line for t, line in waiting if t <= durable]
        if done:
            waiting = [(t, line) for t, line in waiting if t > durable]
            sys.stdout.write("".join(line + "\n" for line in done))
            sys.stdout.flush()
        if due:
            say("indexing" if index else "compacting")
            if index:
                vault.wait_for_search()
            else:
                vault.compact()
            say("indexed" if index else "compacted")
        i += 1


def main() -> None:
    vault_dir, label = sys.argv[1], sys.argv[2]
    mode = sys.argv[3] if len(sys.argv) > 3 else "writes"
    if mode == "writes":
        writes(vault_dir, label)
    else:
        markers_and_more(vault_dir, label, mode)


if __name__ == "__main__":
    main()
