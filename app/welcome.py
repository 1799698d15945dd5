"""The note a new vault starts with: what Plait is, in a few lines."""

from __future__ import annotations

from crdt_store.vault import Vault

WELCOME = """# Welcome to Plait

Plait keeps your notes on this computer, as plain Markdown. It works offline, and
nothing you write leaves this machine unless you share a notebook.

- [ ] Write your first note: press **Ctrl+N**
- [ ] Make a notebook for a project: **Ctrl+Shift+N**
- [ ] Tick a box like this one: click it, or press **Ctrl+Enter**

Notes are Markdown: `# headings`, **bold**, *italic*, `code`, lists and #tags.
Your notes are saved as you type; there is no save button.
"""


def ensure_welcome(vault: Vault) -> str | None:
    """On a vault with no notebooks at all, create "Notes" with the welcome note in it."""
    if vault.notebooks(include_trashed=True):
        return None
    return vault.create_note(vault.create_notebook("Notes"), WELCOME)
