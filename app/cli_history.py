"""`plait history NOTE` and `plait show NOTE --at TIME|SESSION`: a note's past."""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from datetime import datetime

from crdt_store.history import HistoryError, Session, parse_when
from crdt_store.vault import Vault


def add_commands(sub) -> None:
    p = sub.add_parser("history", help="a note's editing sessions, newest first")
    p.add_argument("note", help="note id, id prefix (4+ characters) or exact title")
    p.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    p.add_argument("--before", type=int, metavar="ID", help="only sessions older than this one")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(run=cmd_history, writes=False)


AT_HELP = ("print the note as it was: a session id from `plait history`, or a time "
           "(2026-03-01 14:30, 2026-03-01 for the end of that day, or 2h, 3d, 2w ago)")


def _span(session: Session) -> str:
    start = datetime.fromtimestamp(session.start)
    end = datetime.fromtimestamp(session.end)
    first = start.strftime("%Y-%m-%d %H:%M")
    if end.date() == start.date():
        return f"{first}-{end.strftime('%H:%M')}"
    return f"{first} - {end.strftime('%Y-%m-%d %H:%M')}"


def cmd_history(vault: Vault, args: argparse.Namespace) -> None:
    note_id = vault.resolve_note(args.note)
    sessions = vault.history(note_id, limit=args.limit, before=args.before)
    if args.json:
        print(json.dumps([s.to_json() for s in sessions], ensure_ascii=False, indent=2))
        return
    if not sessions:
        print("No history yet." if args.before is None else "No older sessions.")
        return
    width = max(len(str(s.id)) for s in sessions)
    for s in sessions:
        print(f"{s.id:>{width}}  {_span(s):<30} {', '.join(s.authors):<16.16} "
              f"+{s.added} -{s.removed}")
    if len(sessions) == args.limit and sessions[-1].id > 1:
        print(f"(older: plait history {args.note} --before {sessions[-1].id})")


def version_for(vault: Vault, note_id: str, at: str) -> str:
    """The text `plait show --at` prints; says on stderr which version it is."""
    history = vault.note_history(note_id)
    if re.fullmatch(r"#?\d+", at.strip()):
        session = history.session(int(at.strip().lstrip("#")))
    else:
        try:
            when = parse_when(at, time.time())
        except ValueError as exc:
            raise HistoryError(f"--at {at}: {exc}") from None
        session = history.session_at(when)
        if session is None:
            moment = datetime.fromtimestamp(when).strftime("%Y-%m-%d %H:%M")
            print(f"plait: note: the note had no saved version yet at {moment}",
                  file=sys.stderr)
            return ""
    print(f"plait: note: as it was at the end of session {session.id} "
          f"({', '.join(session.authors)}, {_span(session)})", file=sys.stderr)
    return history.version_text(session.id)
