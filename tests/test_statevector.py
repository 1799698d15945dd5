"""State vectors the store derives itself, checked against what pycrdt reports."""

from __future__ import annotations

import random

from pycrdt import Doc, Text

from crdt_store.statevector import decode_state_vector, made_on_for_local


def test_a_local_update_is_made_on_what_pycrdt_says_it_was_made_on() -> None:
    # made_on_for_local spares pycrdt an encoding per keystroke: it derives the state
    # vector a local edit was made on from the last merge's state and the update's header.
    rng = random.Random(7)
    for _ in range(200):
        me = Doc(client_id=rng.randrange(1, 2**32))
        body = me.get("body", type=Text)
        for _ in range(rng.randint(0, 3)):  # collaborators' text, merged
            other = Doc(client_id=rng.randrange(1, 2**32))
            other.get("body", type=Text).insert(0, "é😀" * rng.randint(1, 50))
            me.apply_update(other.get_update())
        if rng.random() < 0.5:
            body.insert(0, "mine before ")  # this client already in the base state, or not
        base = me.get_state()
        made: list[tuple[bytes, bytes]] = []
        me.observe(lambda event: made.append((event.update, event.before_state)))
        for _ in range(rng.randint(1, 4)):
            if len(body) and rng.random() < 0.3:
                del body[0:1]  # a delete only: no block of its own
            else:
                body.insert(rng.randint(0, len(body)), "typed")
        for update, before in made:
            derived = decode_state_vector(made_on_for_local(base, update, me.client_id))
            truth = decode_state_vector(before)
            if update[0]:  # it has a block of its own: exact
                assert derived == truth
            else:  # a delete only: this client's own entry is a lower bound
                mine = me.client_id
                assert {c: n for c, n in derived.items() if c != mine} == {
                    c: n for c, n in truth.items() if c != mine}
                assert derived.get(mine, 0) <= truth.get(mine, 0)
