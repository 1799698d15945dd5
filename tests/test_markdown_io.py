"""Markdown export and import against real vault directories and real files on disk."""

from __future__ import annotations

from pathlib import Path

from crdt_store.markdown_io import MAX_IMPORT_BYTES, export_vault, import_folder, parse_time
from crdt_store.markdown_text import split_front_matter
from crdt_store.vault import Vault

CREATED = 1_600_000_000.0  # 2020-09-13T12:26:40Z: far from "now", so file times cannot pass for it
MODIFIED = 1_650_000_000.0  # 2022-04-15T05:20:00Z


def notes_by_content(vault: Vault) -> set[tuple[str, str, str]]:
    """(notebook name, title, body) of every live note."""
    names = {nb.notebook_id: nb.name for nb in vault.notebooks()}
    return {(names[s.notebook_id], s.title, vault.note_text(s.note_id)) for s in vault.list_notes()}


def relative_files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def fill_vault(vault: Vault) -> dict[str, str]:
    """A vault exercising nesting, Unicode titles, tags and duplicate titles; title -> id."""
    plait = vault.create_notebook("Projects/Plait")
    projects = vault.create_notebook("Projects")
    journal = vault.create_notebook("Journal")
    bodies = {
        "roadmap": (plait, "# Roadmap\nShip the store #plait and #work/q3\n"),
        "overview": (projects, "Overview\n\nEverything in flight.\n"),
        "accents": (journal, "# Café déjà vu\nCrème brûlée, naïve façade #cuisine\n"),
        "cjk": (journal, "日本語のメモ\n東京で会議 #旅行\n"),
        "emoji": (journal, "Party 🎉🦄\nBring 🍰 and 👩‍👩‍👧\n"),
        "rtl": (journal, "שלום עולם\nمرحبا بالعالم\n"),
        "meeting-1": (journal, "# Meeting\nFirst meeting: budget\n"),
        "meeting-2": (journal, "# Meeting\nSecond meeting: hiring #people\n"),
    }
    ids = {}
    for key, (notebook, body) in bodies.items():
        ids[key] = vault.create_note(notebook, body, created=CREATED)
        vault.set_modified(ids[key], MODIFIED)
    vault.flush()
    return ids


def test_export_writes_nested_folders_unicode_names_and_front_matter(vault, tmp_path) -> None:
    ids = fill_vault(vault)
    out = tmp_path / "out"
    report = export_vault(vault, out)

    assert (report.notes, report.notebooks) == (8, 3)
    assert relative_files(out) == {
        "Projects/Plait/Roadmap.md",
        "Projects/Overview.md",
        "Journal/Café déjà vu.md",
        "Journal/日本語のメモ.md",
        "Journal/Party 🎉🦄.md",
        "Journal/שלום עולם.md",
        "Journal/Meeting.md",
        "Journal/Meeting (2).md",
    }
    meta, body = split_front_matter((out / "Projects/Plait/Roadmap.md").read_text("utf-8"))
    assert meta == {
        "id": ids["roadmap"],
        "tags": ["plait", "work/q3"],
        "created": "2020-09-13T12:26:40Z",
        "modified": "2022-04-15T05:20:00Z",
    }
    assert body == "# Roadmap\nShip the store #plait and #work/q3\n"
    meetings = {
        split_front_matter((out / "Journal" / name).read_text("utf-8"))[0]["id"]
        for name in ("Meeting.md", "Meeting (2).md")
    }
    assert meetings == {ids["meeting-1"], ids["meeting-2"]}


def test_export_then_import_into_a_fresh_vault_round_trips(vault, tmp_path) -> None:
    ids = fill_vault(vault)
    before = notes_by_content(vault)
    original = {s.note_id: s for s in vault.list_notes()}
    out = tmp_path / "out"
    export_vault(vault, out)

    with Vault(tmp_path / "fresh") as fresh:
        report = import_folder(fresh, out)
        assert (report.created, report.updated, report.unchanged) == (8, 0, 0)
        assert report.skipped == [] and report.warnings == []
        assert notes_by_content(fresh) == before
        assert {nb.name for nb in fresh.notebooks()} == {"Projects/Plait", "Projects", "Journal"}
        imported = {s.note_id: s for s in fresh.list_notes()}
        assert imported.keys() == original.keys() == set(ids.values())
        for note_id, old in original.items():
            new = imported[note_id]
            assert new.tags == old.tags
            assert abs(new.created - CREATED) < 1 and abs(new.modified - MODIFIED) < 1
        # Two notes with the same title stay two notes, each with its own body.
        assert fresh.note_text(ids["meeting-1"]) == "# Meeting\nFirst meeting: budget\n"
        assert fresh.note_text(ids["meeting-2"]) == "# Meeting\nSecond meeting: hiring #people\n"

    # Ids, times and tags are in the vault's files, not only in this process.
    with Vault(tmp_path / "fresh") as reopened:
        assert notes_by_content(reopened) == before
        summary = reopened.note_summary(ids["cjk"])
        assert summary.tags == ("旅行",)
        assert abs(summary.created - CREATED) < 1 and abs(summary.modified - MODIFIED) < 1


def test_reimporting_an_export_changes_nothing_and_an_edit_is_a_small_diff(vault, tmp_path) -> None:
    ids = fill_vault(vault)
    out = tmp_path / "out"
    export_vault(vault, out)
    target_dir = tmp_path / "fresh"
    with Vault(target_dir) as fresh:
        first = import_folder(fresh, out)
        assert first.created == 8
        after_first = notes_by_content(fresh)

    with Vault(target_dir) as fresh:  # the second import runs after reopening the vault
        second = import_folder(fresh, out)
        assert (second.created, second.updated, second.unchanged) == (0, 0, 8)
        assert notes_by_content(fresh) == after_first
        assert len(fresh.list_notes()) == 8

        path = out / "Projects/Plait/Roadmap.md"
        path.write_text(path.read_text("utf-8").replace("Ship the store", "Ship the sync"), "utf-8")
        ops = []
        fresh.subscribe(lambda e: ops.extend(e.ops or ()) if e.doc_id == ids["roadmap"] else None)
        third = import_folder(fresh, out)
        assert (third.created, third.updated, third.unchanged) == (0, 1, 7)
        assert len(fresh.list_notes()) == 8
        assert fresh.note_text(ids["roadmap"]) == "# Roadmap\nShip the sync #plait and #work/q3\n"
        # A minimal diff: only "store" -> "sync" is touched, not the whole body.
        assert ops and sum(op.delete for op in ops) <= len("store")
        assert all(op.pos >= len("# Roadmap\nShip the ") for op in ops)


def make_obsidian_vault(root: Path) -> Path:
    src = root / "Obsidian Vault"
    (src / ".obsidian").mkdir(parents=True)
    (src / ".obsidian" / "app.json").write_text('{"legacyEditor": false}')
    (src / ".obsidian" / "hidden-note.md").write_text("# Must not be imported\n")
    (src / "Daily").mkdir()
    (src / "Projects" / "Deep").mkdir(parents=True)
    (src / "Welcome.md").write_text("# Welcome\nThis is your new vault.\n", "utf-8")
    (src / "Daily" / "2024-01-05.md").write_text(
        "---\n"
        "tags: [journal, Work]\n"
        'aliases: [Jan 5, "Fifth of January"]\n'
        "cssclass: wide\n"
        "---\n"
        "# Jan 5\nWrote a #journal entry.\n",
        "utf-8",
    )
    (src / "Daily" / "Block list.md").write_text(
        "---\n"
        "date: 2021-03-04T05:06:07Z\n"
        "tags:\n"
        "  - alpha\n"
        "  - beta/gamma\n"
        "---\n"
        "Block-list tags\n",
        "utf-8",
    )
    (src / "Projects" / "Deep" / "Nested.md").write_text("Nested note\n", "utf-8")
    (src / "Projects" / "Deep" / "Quoted key.md").write_text(
        '---\n"my key": 1\nstatus: draft\n---\nQuoted key note\n', "utf-8"
    )
    # Files that must be skipped, with a reason, without stopping the import.
    (src / "pic.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (src / "Daily" / "latin1.md").write_bytes("Café au lait\n".encode("latin-1"))
    (src / "Daily" / "nul.md").write_bytes(b"text\x00with a NUL\n")
    with open(src / "huge.md", "wb") as f:  # sparse: no 9 MB actually written
        f.truncate(MAX_IMPORT_BYTES + 1024 * 1024)
    return src


def test_obsidian_folder_imports_good_files_and_reports_bad_ones(vault, tmp_path) -> None:
    src = make_obsidian_vault(tmp_path)
    report = import_folder(vault, src)

    skipped = dict(report.skipped)
    assert set(skipped) == {"pic.png", "Daily/latin1.md", "Daily/nul.md", "huge.md"}
    assert skipped["pic.png"] == "not a Markdown file"
    assert "UTF-8" in skipped["Daily/latin1.md"]
    assert "binary" in skipped["Daily/nul.md"]
    assert "too large" in skipped["huge.md"]
    assert report.created == 5 and report.warnings == []

    names = {nb.notebook_id: nb.name for nb in vault.notebooks()}
    placed = {s.title: names[s.notebook_id] for s in vault.list_notes()}
    assert placed == {
        "Welcome": "Obsidian Vault",  # root-level files: a notebook named after the folder
        "Jan 5": "Daily",
        "Block-list tags": "Daily",
        "Nested note": "Projects/Deep",
        "Quoted key note": "Projects/Deep",
    }
    by_title = {s.title: s for s in vault.list_notes()}

    jan5 = by_title["Jan 5"]
    assert jan5.tags == ("journal", "Work")
    assert vault.note_text(jan5.note_id) == (
        '---\naliases: [Jan 5, Fifth of January]\ncssclass: wide\n---\n'
        "# Jan 5\nWrote a #journal entry.\n\n#Work\n"
    )

    block = by_title["Block-list tags"]
    assert block.tags == ("alpha", "beta/gamma")
    assert vault.note_text(block.note_id) == "Block-list tags\n\n#alpha #beta/gamma\n"
    assert abs(block.created - parse_time("2021-03-04T05:06:07Z")) < 1

    # A key the writer cannot produce stays as the file had it.
    quoted = by_title["Quoted key note"]
    assert vault.note_text(quoted.note_id) == '---\n"my key": 1\nstatus: draft\n---\nQuoted key note\n'

    # Unknown keys survive a later export.
    out = tmp_path / "out"
    export_vault(vault, out)
    meta, body = split_front_matter((out / "Daily" / "Jan 5.md").read_text("utf-8"))
    assert meta["id"] == jan5.note_id
    assert meta["tags"] == ["journal", "Work"]
    assert meta["aliases"] == ["Jan 5", "Fifth of January"]
    assert meta["cssclass"] == "wide"
    assert body == "# Jan 5\nWrote a #journal entry.\n\n#Work\n"
    exported = (out / "Projects" / "Deep" / "Quoted key note.md").read_text("utf-8")
    assert split_front_matter(exported)[1] == vault.note_text(quoted.note_id)


def test_obsidian_folder_reimport_uses_the_remembered_files(vault, tmp_path) -> None:
    src = make_obsidian_vault(tmp_path)
    assert import_folder(vault, src).created == 5
    before = notes_by_content(vault)

    again = import_folder(vault, src)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 5)
    assert notes_by_content(vault) == before

    nested = src / "Projects" / "Deep" / "Nested.md"
    nested.write_text("Nested note\nwith a second line\n", "utf-8")
    edited = import_folder(vault, src)
    assert (edited.created, edited.updated, edited.unchanged) == (0, 1, 4)
    assert len(vault.list_notes()) == 5
    [summary] = [s for s in vault.list_notes() if s.title == "Nested note"]
    assert vault.note_text(summary.note_id) == "Nested note\nwith a second line\n"


def test_bad_files_never_stop_the_import(vault, tmp_path) -> None:
    src = tmp_path / "mixed"
    src.mkdir()
    # Sorted order interleaves bad and good files, so an abort would lose later good ones.
    (src / "a good.md").write_text("Good A\n", "utf-8")
    (src / "b bad.md").write_bytes(b"\xff\xfe not utf-8")
    (src / "c quoted key.md").write_text('---\n"k": v\n---\nGood C\n', "utf-8")
    (src / "d broken front matter.md").write_text("---\ntitle: never closed\nGood D\n", "utf-8")
    (src / "e nul.md").write_bytes(b"\x00")
    (src / "f dangling.md").symlink_to(src / "missing.md")
    (src / "g good.md").write_text("Good G\n", "utf-8")

    report = import_folder(vault, src)

    assert report.created == 4
    assert {rel for rel, _ in report.skipped} == {"b bad.md", "e nul.md"}
    assert [rel for rel, _ in report.warnings] == ["d broken front matter.md"]
    assert {s.title for s in vault.list_notes()} == {"Good A", "Good C", "Good G", "---"}
    [broken] = [s for s in vault.list_notes() if s.title == "---"]
    assert vault.note_text(broken.note_id) == "---\ntitle: never closed\nGood D\n"
    # And the vault holding those notes still exports.
    assert export_vault(vault, tmp_path / "out").notes == 4



def test_exporting_again_replaces_the_file_of_a_retitled_note(vault, tmp_path) -> None:
    note = vault.create_note(vault.create_notebook("Work"), "# Old title\nbody")
    out = tmp_path / "out"
    export_vault(vault, out)
    vault.set_text(note, "# New title\nnew body")
    report = export_vault(vault, out)
    assert relative_files(out) == {"Work/New title.md"}
    assert [p.name for p in report.removed] == ["Old title.md"]
    import_folder(vault, out)
    assert vault.note_text(note) == "# New title\nnew body"


def test_two_files_with_one_id_become_two_notes(vault, tmp_path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    header = "---\nid: " + "ab" * 16 + "\n---\n"
    (src / "a.md").write_text(header + "first copy\n", encoding="utf-8")
    (src / "b.md").write_text(header + "second copy\n", encoding="utf-8")
    report = import_folder(vault, src)
    assert report.created == 2
    assert any("earlier file" in reason for _, reason in report.warnings)
    bodies = {vault.note_text(n.note_id) for n in vault.list_notes()}
    assert bodies == {"first copy\n", "second copy\n"}


def test_a_named_pipe_is_skipped_not_waited_on(vault, tmp_path) -> None:
    import os

    src = tmp_path / "src"
    src.mkdir()
    os.mkfifo(src / "pipe.md")
    (src / "real.md").write_text("real\n", encoding="utf-8")
    report = import_folder(vault, src)
    assert report.skipped == [("pipe.md", "not a regular file")]
    assert report.created == 1
