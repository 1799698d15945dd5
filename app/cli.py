"""The `plait` command: with no subcommand it starts the GUI; subcommands need no display.

`plait plait://join?…` (what the desktop's URL handler runs) opens the app with that
invite, or hands it to the Plait window already open on the vault. `plait --smoke-test`
checks an installation without touching the user's vault.

Errors the user can act on (a vault open elsewhere, an unknown note, a bad file)
print one plain line on stderr and exit 1. Anything unexpected prints a short
message too; `--debug` shows the traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from datetime import datetime
from pathlib import Path

from crdt_store.errors import PlaitError, VaultLockedError
from crdt_store.markdown_io import export_vault, import_folder
from crdt_store.vault import Vault

from . import __version__
from .cli_history import AT_HELP, version_for
from .cli_history import add_commands as add_history_commands
from .cli_review import add_commands as add_review_commands
from .cli_sync import add_commands as add_sync_commands
from .paths import default_vault_path

EXIT_ERROR = 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="plait",
        usage="%(prog)s [--vault PATH] [--debug] [plait://join?… | COMMAND ...]",
        description="Plait: local-first, collaborative Markdown notes. "
        "Without a command, opens the app; with an invite link (plait://join?… or "
        "PLAIT1-…), opens the app and the invite, or hands both to the Plait window "
        "already open on the vault.",
    )
    parser.add_argument("--version", action="version", version=f"plait {__version__}")
    parser.add_argument("--vault", type=Path, default=None,
                        help="vault folder (default: $PLAIT_VAULT or the user data folder)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    parser.add_argument("--smoke-test", action="store_true",
                        help="check this installation on a temporary vault (create a note, "
                             "search it, draw the window offscreen) and exit; 0 means it works")
    parser.add_argument("--install-desktop", action="store_const", const="install",
                        dest="desktop", help="Linux: add Plait to this user's application "
                        "menu, with its icon, as the handler of plait:// links")
    parser.add_argument("--uninstall-desktop", action="store_const", const="uninstall",
                        dest="desktop", help="Linux: remove what --install-desktop added")
    parser.add_argument("--desktop-exec", type=Path, metavar="PLAIT",
                        help="with --install-desktop: the plait executable the menu entry "
                             "runs (default: this one)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("list", help="list notes, pinned first, newest first")
    p.add_argument("--notebook", help="only this notebook (by name)")
    p.add_argument("--trash", action="store_true", help="list the trash instead")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(run=cmd_list, writes=False)

    p = sub.add_parser("show", help="print a note's Markdown")
    p.add_argument("note", help="note id, id prefix (4+ characters) or exact title")
    p.add_argument("--at", metavar="TIME|SESSION", help=AT_HELP)
    p.set_defaults(run=cmd_show, writes=False)

    p = sub.add_parser("new", help="create a note from stdin; prints its id")
    p.add_argument("--notebook", default="Notes", help="notebook name (created if missing)")
    p.set_defaults(run=cmd_new, writes=True)

    p = sub.add_parser("edit", help="replace a note's body with stdin (applied as a minimal diff)")
    p.add_argument("note", help="note id, id prefix or exact title")
    p.add_argument("--append", action="store_true", help="append stdin instead")
    p.set_defaults(run=cmd_edit, writes=True)

    p = sub.add_parser("trash", help="move a note to the trash")
    p.add_argument("note")
    p.set_defaults(run=lambda v, a: v.trash_note(v.resolve_note(a.note)), writes=True)

    p = sub.add_parser("restore", help="bring a note back from the trash")
    p.add_argument("note")
    p.set_defaults(run=lambda v, a: v.restore_note(v.resolve_note(a.note)), writes=True)

    p = sub.add_parser("search", help="full-text search: words, \"phrases\", prefix*, tag:x, "
                                      "notebook:x, modified:7d, ...")
    p.add_argument("query", nargs="+", help="the query (quote it in the shell)")
    p.add_argument("--trash", action="store_true", help="search the trash instead")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(run=cmd_search, writes=True)

    p = sub.add_parser("notebooks", help="list notebooks")
    p.set_defaults(run=cmd_notebooks, writes=False)

    p = sub.add_parser("info", help="vault path, counts and sizes")
    p.set_defaults(run=cmd_info, writes=False)

    p = sub.add_parser("export", help="write every note as Markdown, one folder per notebook")
    p.add_argument("dir", type=Path)
    p.set_defaults(run=cmd_export, writes=False)

    p = sub.add_parser("import", help="import a folder of .md files (subfolders become notebooks)")
    p.add_argument("dir", type=Path)
    p.set_defaults(run=cmd_import, writes=True)

    add_sync_commands(sub)
    add_review_commands(sub)
    add_history_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv, links = split_links(sys.argv[1:] if argv is None else list(argv))
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING,
                        format="plait: %(levelname)s: %(message)s")
    if args.smoke_test:
        from .smoke import run_smoke_test

        return run_smoke_test()
    if args.desktop:
        from .desktop_integration import main as desktop_integration

        return desktop_integration(args.desktop, args.desktop_exec)
    if links and args.command is not None:
        parser.error(f"an invite link opens the app; to join from the command line, use: "
                     f"plait join LINK (not with '{args.command}')")
    path = args.vault or default_vault_path()
    if args.command is None:
        from .gui import run_gui  # Qt is imported only when a window is wanted

        return run_gui(path, links)
    try:
        vault = open_vault(path, writes=args.writes)
        try:
            for notice in vault.notices:
                print(f"plait: note: {notice.message}", file=sys.stderr)
            result = args.run(vault, args)
        finally:
            vault.close()
    except BrokenPipeError:  # `plait list | head`: the reader has seen enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except PlaitError as exc:
        print(f"plait: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:  # anything unexpected: one line; --debug shows it
        if args.debug:
            raise
        print(f"plait: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    return result or 0


def is_invite(text: str) -> bool:
    """An invite link or code (checked properly only when it is used)."""
    text = text.strip()
    return text.lower().startswith("plait:") or text.upper().startswith("PLAIT1-")


def split_links(argv: list[str]) -> tuple[list[str], list[str]]:
    """The invite links given to the app itself (`plait plait://join?…`, as the desktop's
    URL handler runs it), apart from the rest. A link after a command (`plait join
    plait://…`) is that command's argument and stays where it is."""
    rest: list[str] = []
    links: list[str] = []
    args = iter(argv)
    for arg in args:
        if is_invite(arg):
            links.append(arg)
            continue
        rest.append(arg)
        if arg == "--vault":  # its value is a path, even one that starts with "plait:"
            rest.extend(value for value in [next(args, None)] if value is not None)
        elif arg == "--" or not arg.startswith("-"):  # a command: the rest is its own
            rest.extend(args)
    return rest, links


def open_vault(path: Path, *, writes: bool) -> Vault:
    """Writers need the vault to themselves; readers fall back to read-only if it is busy."""
    try:
        return Vault(path)
    except VaultLockedError:
        if writes:
            raise
        print("plait: note: the vault is open in the app; reading what is saved on disk",
              file=sys.stderr)
        return Vault(path, read_only=True)


def _read_stdin() -> str:
    data = sys.stdin.buffer.read()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PlaitError(f"stdin is not UTF-8 text (byte {exc.start}); nothing was changed") from exc


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")


def cmd_list(vault: Vault, args: argparse.Namespace) -> None:
    notebook_id = None
    if args.notebook:
        found = vault.find_notebook(args.notebook)
        if found is None:
            raise PlaitError(f"There is no notebook named '{args.notebook}'.")
        notebook_id = found.notebook_id
    notes = vault.list_notes(notebook_id, trashed=args.trash)
    if args.json:
        print(json.dumps([{
            "id": n.note_id, "title": n.title, "notebook": n.notebook_id, "tags": list(n.tags),
            "created": n.created, "modified": n.modified, "pinned": n.pinned,
        } for n in notes], ensure_ascii=False, indent=2))
        return
    if not notes:
        print("The trash is empty." if args.trash else "No notes yet. Create one with: plait new")
        return
    names = {nb.notebook_id: nb.name for nb in vault.notebooks(include_trashed=True)}
    for n in notes:
        pin = "*" if n.pinned else " "
        print(f"{n.note_id[:8]} {pin} {_when(n.modified)}  {names.get(n.notebook_id, '-'):<14.14}"
              f"  {n.display_title}")


def cmd_show(vault: Vault, args: argparse.Namespace) -> None:
    note_id = vault.resolve_note(args.note)
    text = vault.note_text(note_id) if args.at is None else version_for(vault, note_id, args.at)
    if text and not text.endswith("\n"):
        text += "\n"
    sys.stdout.flush()
    sys.stdout.buffer.write(text.encode("utf-8"))  # the note's bytes, whatever the locale


def cmd_new(vault: Vault, args: argparse.Namespace) -> None:
    body = _read_stdin()
    note_id = vault.create_note(vault.notebook_named(args.notebook), body)
    vault.flush()
    print(note_id)


def cmd_edit(vault: Vault, args: argparse.Namespace) -> None:
    note_id = vault.resolve_note(args.note)
    body = _read_stdin()
    if args.append:
        vault.append_text(note_id, body)
    else:
        vault.set_text(note_id, body)
    vault.flush()


def cmd_search(vault: Vault, args: argparse.Namespace) -> None:
    vault.wait_for_search()  # a vault opened just now may still be indexing
    results = vault.search(" ".join(args.query), limit=args.limit, trash=args.trash)
    if args.json:
        print(json.dumps({"total": results.total, "incomplete": results.incomplete, "hits": [{
            "id": h.note_id, "title": h.title, "notebook": h.notebook_name,
            "modified": h.modified, "score": h.score, "snippet": h.snippet,
            "snippet_matches": h.snippet_matches, "body_matches": h.body_matches,
        } for h in results.hits]}, ensure_ascii=False, indent=2))
        return
    if not results.hits:
        print("No notes match.")
        return
    for hit in results.hits:
        print(f"{hit.note_id[:8]}  {_when(hit.modified)}  {hit.notebook_name:<14.14}  "
              f"{hit.title or 'Untitled'}")
        print(f"          {_mark(hit.snippet, hit.snippet_matches)}")
    if results.total > len(results.hits):
        print(f"({results.total - len(results.hits)} more; use --limit)")


def _mark(text: str, ranges: list[tuple[int, int]]) -> str:
    """The snippet with each match in [brackets], readable without colour."""
    out, last = [], 0
    for start, end in ranges:
        out += [text[last:start], "[", text[start:end], "]"]
        last = end
    return "".join(out) + text[last:]


def cmd_notebooks(vault: Vault, args: argparse.Namespace) -> None:
    for nb in vault.notebooks():
        print(f"{nb.notebook_id[:8]}  {nb.note_count:>5} notes  {nb.name}")


def cmd_info(vault: Vault, args: argparse.Namespace) -> None:
    info = vault.info()
    rows: list[tuple[str, object]] = [
        ("vault", info.path),
        ("device", f"{info.display_name} (device {info.device_id[:8]}, client {info.client_id})"),
        ("notebooks", info.notebooks),
        ("notes", info.notes),
        ("in trash", info.trashed_notes),
        ("update rows", info.update_rows),
        ("checkpoints", info.checkpoints),
        ("quarantined", info.quarantined),
        ("database", _size(info.database_bytes)),
    ]
    for label, value in rows:
        print(f"{label + ':':<13} {value}")


def _size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def cmd_export(vault: Vault, args: argparse.Namespace) -> None:
    report = export_vault(vault, args.dir)
    print(f"Exported {report.notes} notes in {report.notebooks} notebooks to {args.dir}")


def cmd_import(vault: Vault, args: argparse.Namespace) -> int:
    report = import_folder(vault, args.dir)
    print(f"Imported from {args.dir}: {report.created} new, {report.updated} updated, "
          f"{report.unchanged} unchanged, {len(report.skipped)} skipped")
    for rel, reason in report.skipped:
        print(f"  skipped {rel}: {reason}", file=sys.stderr)
    for rel, reason in report.warnings:
        print(f"  warning {rel}: {reason}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
