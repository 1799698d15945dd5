"""`plait review`: the close merges waiting for a person to look at them."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime

from crdt_store.errors import PlaitError
from crdt_store.review.flags import NEW
from crdt_store.vault import Vault


def add_commands(sub) -> None:
    p = sub.add_parser("review", help="concurrent edits merged close together, to check")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--all", action="store_true", help="include flags already reviewed")
    p.add_argument("--mark-reviewed", metavar="ID", help="mark a flag reviewed (looks good)")
    p.set_defaults(run=cmd_review, writes=True)


def cmd_review(vault: Vault, args: argparse.Namespace) -> int:
    if args.mark_reviewed:
        matches = [f for f in vault.review.flags() if f.flag_id.startswith(args.mark_reviewed)]
        if len(matches) != 1:
            raise PlaitError(f"No single review flag starts with '{args.mark_reviewed}'.")
        vault.review.mark_reviewed(matches[0].flag_id)
        vault.flush()
        return 0
    flags = [f for f in vault.review.flags() if args.all or f.state == NEW]
    if args.json:
        out = []
        for f in flags:
            where = vault.review.region(f)
            out.append({
                "id": f.flag_id, "note": f.note_id, "detected": f.detected, "state": f.state,
                "range": [where.start, where.end],  # code points of the note's text now
                "region": where.status, "merged": f.merged, "kind": f.kind,
                "summary": f.summary,
                "context": [f.before, f.after], "own_devices": f.own_devices,
                "sides": [{"author": s.name, "device": s.device, "this_device": s.local,
                           "inserted": s.inserted, "deleted": s.deleted,
                           "had": f.version(which)}
                          for which, s in (("earlier", f.earlier), ("arrived", f.arrived))],
            })
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return 0
    if not flags:
        print("Nothing to review.")
        return 0
    for f in flags:
        try:
            title = vault.note_summary(f.note_id).display_title
        except PlaitError:
            title = f.note_id[:8]
        who = " and ".join(f"{s.name}{' (this device)' if s.local else ''}"
                           for s in (f.earlier, f.arrived))
        label = "your two devices" if f.own_devices else who
        when = datetime.fromtimestamp(f.detected).strftime("%Y-%m-%d %H:%M")
        print(f"{f.flag_id[:8]}  {when}  {f.state:<8}  {title}: {label}")
        if f.kind != "text":
            print(f"          {f.summary}")
            continue
        where = vault.review.region(f)
        before = f.before.rsplit("\n", 1)[-1][-30:]
        after = f.after.split("\n", 1)[0][:30]
        print(f"          …{before}[{f.merged}]{after}…  "
              f"(characters {where.start}–{where.end}{'; ' + where.message if where.message else ''})")
    print(f"({len(flags)} to review; mark one with: plait review --mark-reviewed ID)",
          file=sys.stderr)
    return 0
