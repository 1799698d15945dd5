"""The real `plait` command in subprocesses, against real vault directories."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from crdt_store.storage import DB_NAME
from crdt_store.unicode_offsets import TextOp
from crdt_store.vault import Vault

from .conftest import sync_both, sync_once

UNICODE_BODY = "# Café ☕ 日本語 🎉\nשלום עולם, مرحبا\nnaïve e\u0301 👩‍👩‍👧\n"


def new_note(run_cli, body: str, *args: str) -> str:
    result = run_cli("new", *args, stdin=body)
    note_id = result.stdout.strip()
    assert len(note_id) == 32 and all(c in "0123456789abcdef" for c in note_id), result.stdout
    return note_id


def listed_ids(output: str) -> list[str]:
    """The 8-character id column of `plait list`."""
    return [line.split()[0] for line in output.splitlines() if line.strip()]


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("plait: error:"), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_new_list_show_and_info(run_cli, vault_dir) -> None:
    note_id = new_note(run_cli, UNICODE_BODY, "--notebook", "Work")
    other = new_note(run_cli, "Groceries\n- milk\n")

    listing = run_cli("list").stdout
    assert sorted(listed_ids(listing)) == sorted([note_id[:8], other[:8]])
    [line] = [l for l in listing.splitlines() if l.startswith(note_id[:8])]
    assert "Work" in line and line.endswith("Café ☕ 日本語 🎉")

    assert run_cli("show", note_id[:6]).stdout == UNICODE_BODY
    assert run_cli("show", note_id).stdout == UNICODE_BODY
    assert run_cli("show", "Café ☕ 日本語 🎉").stdout == UNICODE_BODY
    assert run_cli("show", "Groceries").stdout == "Groceries\n- milk\n"

    assert run_cli("list", "--notebook", "Work").stdout.split()[0] == note_id[:8]
    notebooks = run_cli("notebooks").stdout
    assert {line.split()[-1] for line in notebooks.splitlines()} == {"Work", "Notes"}

    info = dict(
        (label.strip(), value.strip())
        for label, value in (line.split(":", 1) for line in run_cli("info").stdout.splitlines())
    )
    assert Path(info["vault"]) == vault_dir.resolve()
    assert (info["notebooks"], info["notes"], info["in trash"]) == ("2", "2", "0")


def test_edit_applies_stdin_as_a_minimal_diff_that_merges(run_cli, vault_dir, tmp_path) -> None:
    note_id = new_note(run_cli, "# Plan\nalpha beta gamma\n", "--notebook", "Work")

    # A second device gets the note, then edits it while the CLI edits the first vault.
    with Vault(tmp_path / "device-b") as b:
        with Vault(vault_dir) as a:
            sync_once(a, b)
        # The first vault is closed again: no in-process vault holds its lock while the CLI runs.
        assert b.note_text(note_id) == "# Plan\nalpha beta gamma\n"
        # At the start of the text under the heading: if `edit` replaced the whole body,
        # this insert would be anchored to deleted text and end up after the new body.
        b.edit(note_id, [TextOp(len("# Plan\n"), 0, "B was here: ")])
        assert b.note_text(note_id) == "# Plan\nB was here: alpha beta gamma\n"

        run_cli("edit", note_id[:8], stdin="# Plan\nalpha beta delta\n")

        with Vault(vault_dir) as a:
            assert a.note_text(note_id) == "# Plan\nalpha beta delta\n"
            sync_both(a, b)
            merged = "# Plan\nB was here: alpha beta delta\n"
            assert a.note_text(note_id) == merged
            assert b.note_text(note_id) == merged

    assert run_cli("show", note_id).stdout == "# Plan\nB was here: alpha beta delta\n"


def test_edit_append(run_cli) -> None:
    note_id = new_note(run_cli, "Log\nfirst\n")
    run_cli("edit", "--append", note_id, stdin="second ✓\n")
    run_cli("edit", "Log", "--append", stdin="third\n")
    assert run_cli("show", note_id).stdout == "Log\nfirst\nsecond ✓\nthird\n"


def test_trash_and_restore(run_cli) -> None:
    keep = new_note(run_cli, "Keep me\n")
    gone = new_note(run_cli, "Throw me away\n")
    assert run_cli("list", "--trash").stdout.strip() == "The trash is empty."

    run_cli("trash", gone[:8])
    assert listed_ids(run_cli("list").stdout) == [keep[:8]]
    assert listed_ids(run_cli("list", "--trash").stdout) == [gone[:8]]
    assert run_cli("show", gone).stdout == "Throw me away\n"  # still readable in the trash

    run_cli("restore", gone)
    assert sorted(listed_ids(run_cli("list").stdout)) == sorted([keep[:8], gone[:8]])
    assert run_cli("list", "--trash").stdout.strip() == "The trash is empty."


def test_export_then_import_into_another_vault(run_cli, tmp_path) -> None:
    first = new_note(run_cli, UNICODE_BODY, "--notebook", "Projects/Plait")
    second = new_note(run_cli, "Plain note #tag\n", "--notebook", "Work")
    out = tmp_path / "export"
    exported = run_cli("export", str(out))
    assert "Exported 2 notes in 2 notebooks" in exported.stdout
    assert (out / "Projects" / "Plait" / "Café ☕ 日本語 🎉.md").is_file()

    other = tmp_path / "other-vault"
    imported = run_cli("--vault", str(other), "import", str(out))
    assert "2 new, 0 updated, 0 unchanged, 0 skipped" in imported.stdout
    assert run_cli("--vault", str(other), "show", first).stdout == UNICODE_BODY
    assert run_cli("--vault", str(other), "show", second).stdout == "Plain note #tag\n"
    notebooks = run_cli("--vault", str(other), "notebooks").stdout
    assert {line.split(None, 3)[-1] for line in notebooks.splitlines()} == {"Projects/Plait", "Work"}

    again = run_cli("--vault", str(other), "import", str(out))
    assert "0 new, 0 updated, 2 unchanged, 0 skipped" in again.stdout
    assert len(listed_ids(run_cli("--vault", str(other), "list").stdout)) == 2
    # The flag chose the vault: the default one ($PLAIT_VAULT) still has only its own two.
    assert len(listed_ids(run_cli("list").stdout)) == 2


def test_unknown_note_is_a_one_line_error(run_cli) -> None:
    new_note(run_cli, "Something\n")
    result = run_cli("show", "nosuchnote", check=False)
    assert_one_line_error(result, "nosuchnote")
    assert result.stdout == ""


def test_non_utf8_stdin_creates_nothing(run_cli) -> None:
    result = run_cli("new", "--notebook", "Work", stdin="Café\n".encode("latin-1"), check=False)
    assert_one_line_error(result, "UTF-8")
    assert result.stdout == ""
    assert run_cli("list").stdout.strip() == "No notes yet. Create one with: plait new"
    assert run_cli("notebooks").stdout == ""


def test_damaged_database_is_a_one_line_error(run_cli, vault_dir) -> None:
    vault_dir.mkdir()
    with Vault(vault_dir):
        pass
    for leftover in vault_dir.glob(DB_NAME + "-*"):  # -wal, -shm
        leftover.unlink()
    (vault_dir / DB_NAME).write_bytes(b"this is not an SQLite database" * 200)
    result = run_cli("list", check=False)
    assert_one_line_error(result)


def test_vault_open_elsewhere_blocks_writers_but_not_readers(run_cli, vault_dir) -> None:
    note_id = new_note(run_cli, "Before the app opened\n")
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys\n"
         "from crdt_store.vault import Vault\n"
         "v = Vault(sys.argv[1])\n"
         "print('ready', flush=True)\n"
         "sys.stdin.read()\n"
         "v.close()\n",
         str(vault_dir)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        cwd=Path(__file__).parent.parent,
    )
    try:
        assert holder.stdout.readline() == "ready\n", holder.stderr.read()

        refused = run_cli("new", stdin="Should not be saved\n", check=False)
        assert_one_line_error(refused, "already open")
        assert refused.stdout == ""

        listing = run_cli("list")
        assert listed_ids(listing.stdout) == [note_id[:8]]
        assert listing.stderr.startswith("plait: note:") and "reading what is saved" in listing.stderr
        assert run_cli("show", note_id).stdout == "Before the app opened\n"
    finally:
        holder.stdin.close()
        assert holder.wait(timeout=30) == 0

    # Once the holder is gone, writers work again and the refused note never appeared.
    assert listed_ids(run_cli("list").stdout) == [note_id[:8]]
    new_note(run_cli, "After\n")


def test_help(run_cli) -> None:
    top = run_cli("--help")
    assert top.returncode == 0 and top.stdout.startswith("usage: plait")
    for command in ("list", "show", "new", "edit", "trash", "restore", "export", "import"):
        assert command in top.stdout
    sub = run_cli("list", "--help")
    assert sub.returncode == 0 and "--trash" in sub.stdout and "--notebook" in sub.stdout


def test_a_closed_pipe_ends_quietly(vault_dir) -> None:
    """`plait list | head -1` on a long list: the write fails with EPIPE, quietly."""
    import os
    import subprocess
    import sys

    from crdt_store.vault import Vault

    with Vault(vault_dir, search=False) as vault:  # more output than a pipe buffers
        nb = vault.create_notebook("Many")
        for i in range(1500):
            vault.create_note(nb, f"A long enough title for note number {i} " + "x" * 40)
    env = {**os.environ, "PLAIT_VAULT": str(vault_dir)}
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "list"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.readline()
    proc.stdout.close()
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()
    assert b"error" not in err and b"Traceback" not in err
