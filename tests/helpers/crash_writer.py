"""A writer process for the kill -9 test: streams edits and reports the durable ones.

Usage: python -m tests.helpers.crash_writer VAULT RUN_LABEL
Prints "ready NOTE_ID ..." once, then "durable MARKER" for every marker whose edit
the store has reported durable (its ticket is at most Vault.durable_ticket).
It also compacts now and then, so kills land during compaction too.
"""

from __future__ import annotations

import sys

from crdt_store.unicode_offsets import TextOp
from crdt_store.vault import Vault

NOTES = 3


def main() -> None:
    vault_dir, label = sys.argv[1], sys.argv[2]
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


if __name__ == "__main__":
    main()
