"""Updates that arrive before their predecessors all end up in the note.

Found by the middlebox-fault suite: Cy typed four lines, and Ada received the third
and the fourth (each waiting for the first two) before the first two, merged into
one envelope. yrs (pycrdt 0.14.13) holds both early updates back, merges them, and
once the predecessor arrives integrates only the first: Ada ended without Cy's
fourth line, with every cursor caught up, and nothing would ever send it again.
"""

from __future__ import annotations

import time

from pycrdt import merge_updates

from crdt_store.events import DocKind, Source
from crdt_store.unicode_offsets import TextOp
from crdt_store.vault import Vault


def test_updates_received_before_their_predecessors_all_integrate(tmp_path) -> None:
    with Vault(tmp_path / "bo", display_name="Bo") as bo, \
            Vault(tmp_path / "cy", display_name="Cy") as cy, \
            Vault(tmp_path / "ada", display_name="Ada") as ada:
        nb = bo.create_notebook("N")
        note = bo.create_note(nb, "# New by Bo\nbase text of the note\n" + "z" * 10)
        base = bo.encode_state(note)
        for vault in (cy, ada):
            vault.apply_remote_update(note, DocKind.NOTE, base, author=bo.author,
                                      wall_time=time.time())
        typed: list[bytes] = []
        cy.subscribe(lambda event: typed.append(event.update)
                     if event.origin.source is Source.LOCAL and event.doc_id == note else None)
        for at, line in ((23, "mkcy00015z\n"), (34, "mkcy00016z\n"), (12, "mkcy00020z\n"),
                         (34, "mkcy00023z\n")):
            cy.edit(note, [TextOp(at, 0, line)])
        first, second, third, fourth = typed
        for update in (third, fourth, merge_updates(first, second)):  # the order of arrival
            ada.apply_remote_update(note, DocKind.NOTE, update, author=cy.author,
                                    wall_time=time.time())
        expected = cy.note_text(note)
        assert expected.count("mkcy") == 4
        assert ada.note_text(note) == expected
        assert ada.encode_state_vector(note) == cy.encode_state_vector(note)
    with Vault(tmp_path / "ada") as ada:  # and from the update log, after a restart
        assert ada.note_text(note) == expected
