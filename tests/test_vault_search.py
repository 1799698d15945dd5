"""Search wired into the vault: live edits, merges, trash, restarts, a lost index, the CLI."""

from __future__ import annotations

import json
import shutil
import time

from crdt_store.unicode_offsets import TextOp
from crdt_store.vault import Vault

from .conftest import sync_once


def ids(results) -> list[str]:
    return [hit.note_id for hit in results.hits]


def test_typed_text_is_searchable_right_away(vault) -> None:
    note = vault.create_note(vault.create_notebook("Work"), "# Plan\nship the store")
    vault.wait_for_search()
    assert ids(vault.search("store")) == [note]
    vault.edit(note, [TextOp(len(vault.note_text(note)), 0, " and the zeppelin")])
    vault.wait_for_search()
    assert ids(vault.search("zeppelin")) == [note]
    assert ids(vault.search("notebook:work zeppelin")) == [note]


def test_a_remote_merge_becomes_searchable_without_a_restart(tmp_path) -> None:
    with Vault(tmp_path / "a", display_name="Ada") as a, Vault(tmp_path / "b",
                                                                display_name="Bo") as b:
        note = a.create_note(a.create_notebook("Shared"), "# Trip\npacking list")
        sync_once(a, b)
        b.edit(note, [TextOp(len(b.note_text(note)), 0, "\nbring the quokka")])
        sync_once(b, a)
        a.wait_for_search()
        [hit] = a.search("quokka").hits
        assert hit.note_id == note
        assert hit.body_matches and all(
            a.note_text(note)[s:e].lower() == "quokka" for s, e in hit.body_matches)
        assert ids(a.search("author:bo")) == [note]


def test_trashed_notes_are_found_only_in_the_trash(vault) -> None:
    note = vault.create_note(vault.create_notebook("N"), "the aardvark note")
    vault.trash_note(note)
    vault.wait_for_search()
    assert ids(vault.search("aardvark")) == []
    assert ids(vault.search("aardvark", trash=True)) == [note]


def test_renaming_a_notebook_updates_notebook_filters(vault) -> None:
    nb = vault.create_notebook("Old name")
    note = vault.create_note(nb, "kestrel")
    vault.rename_notebook(nb, "Birds")
    vault.wait_for_search()
    assert ids(vault.search("notebook:birds kestrel")) == [note]


def test_a_deleted_index_is_rebuilt_from_the_store(vault_dir) -> None:
    with Vault(vault_dir) as v:
        nb = v.create_notebook("N")
        notes = [v.create_note(nb, f"note {i} about the ocelot {i}") for i in range(30)]
        v.wait_for_search()
    shutil.rmtree(vault_dir / "search")
    with Vault(vault_dir) as v:
        v.wait_for_search()
        assert sorted(ids(v.search("ocelot", limit=100))) == sorted(notes)


def test_a_corrupted_index_is_rebuilt_and_reported(vault_dir) -> None:
    with Vault(vault_dir) as v:
        note = v.create_note(v.create_notebook("N"), "the pangolin")
        v.wait_for_search()
    for path in (vault_dir / "search").iterdir():
        if path.is_file():
            path.write_bytes(b"\x00garbage" * 10)
    with Vault(vault_dir) as v:
        v.wait_for_search()
        assert ids(v.search("pangolin")) == [note]
        assert any("search index" in n.message for n in v.notices)


def test_edits_made_while_the_index_was_closed_are_caught_up(vault_dir) -> None:
    with Vault(vault_dir) as v:
        note = v.create_note(v.create_notebook("N"), "first words")
    with Vault(vault_dir, search=False) as v:  # e.g. a crash before the index committed
        v.edit(note, [TextOp(0, 0, "narwhal ")])
    with Vault(vault_dir) as v:
        v.wait_for_search()
        assert ids(v.search("narwhal")) == [note]


def test_cli_search_prints_ranked_hits_and_json(run_cli) -> None:
    run_cli("new", "--notebook", "Zoo", stdin="# Okapi facts\nThe okapi is shy.\n")
    run_cli("new", "--notebook", "Zoo", stdin="# Other\nnothing here\n")
    out = run_cli("search", "okapi").stdout
    assert "Okapi facts" in out and "[okapi]" in out.lower()
    data = json.loads(run_cli("search", "okapi", "--json").stdout)
    assert [h["title"] for h in data["hits"]] == ["Okapi facts"]
    bad = run_cli("search", '"unclosed', check=False)
    assert bad.returncode == 1 and "plait: error:" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_search_is_quick_on_the_owner_thread(vault) -> None:
    nb = vault.create_notebook("N")
    for i in range(200):
        vault.create_note(nb, f"note {i} with some words about lemurs {i % 7}")
    vault.wait_for_search()
    start = time.perf_counter()
    results = vault.search("lemurs")
    assert results.total == 200
    print(f"search over 200 notes: {(time.perf_counter() - start) * 1000:.1f} ms")


def test_notes_with_cjk_titles_and_notebook_names_are_indexed(vault) -> None:
    nb = vault.create_notebook("東京の旅")
    note = vault.create_note(nb, "# 日本語のメモ\nCafé plans for Kyōto\n")
    vault.wait_for_search()
    assert [h.note_id for h in vault.search("title:日本").hits] == [note]
    assert [h.note_id for h in vault.search("notebook:東京").hits] == [note]
    assert [h.note_id for h in vault.search("kyoto").hits] == [note]
