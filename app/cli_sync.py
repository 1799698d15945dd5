"""The sync subcommands of `plait`: share, join, sync and members.

They run the same SyncEngine as the app, on this process's main thread, so a
headless machine (a home server keeping a copy) can sync too. Keys come from the
OS keyring; a machine without one may opt in to a file with PLAIT_FILE_KEYRING.
"""

from __future__ import annotations

import argparse
import sys
import time

from crdt_store.errors import PlaitError
from crdt_store.keys import KeyStore
from crdt_store.sync.engine import SyncEngine
from crdt_store.sync.invite import parse_invite
from crdt_store.vault import Vault

ONCE_TIMEOUT = 120.0


def add_commands(sub) -> None:
    p = sub.add_parser("share", help="share a notebook through relays; prints an invite")
    p.add_argument("notebook", help="notebook name")
    p.add_argument("--relay", action="append", default=[], metavar="URL",
                   help="relay address, ws://host:port or wss://host (repeatable)")
    p.set_defaults(run=cmd_share, writes=True)

    p = sub.add_parser("join", help="join a shared notebook from an invite link or code")
    p.add_argument("invite", help="plait://join?... link or PLAIT1-... code")
    p.set_defaults(run=cmd_join, writes=True)

    p = sub.add_parser("sync", help="sync shared notebooks with their relays")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--once", action="store_true",
                      help="sync until caught up, then exit (non-zero if a relay failed; default)")
    mode.add_argument("--watch", action="store_true", help="keep syncing until interrupted")
    p.add_argument("--timeout", type=float, default=ONCE_TIMEOUT,
                   help=f"seconds --once waits at most (default {ONCE_TIMEOUT:.0f})")
    p.set_defaults(run=cmd_sync, writes=True)

    p = sub.add_parser("members", help="list a shared notebook's collaborators")
    p.add_argument("notebook", help="notebook name")
    p.set_defaults(run=cmd_members, writes=False)


def _engine(vault: Vault) -> SyncEngine:
    keys = KeyStore.from_environment()
    if keys.warning:
        print(f"plait: warning: {keys.warning}", file=sys.stderr)
    keys.check()
    return SyncEngine(vault, keys)


def _notebook(vault: Vault, name: str) -> str:
    found = vault.find_notebook(name)
    if found is None:
        raise PlaitError(f"There is no notebook named '{name}'.")
    return found.notebook_id


def _finish(engine: SyncEngine, timeout: float) -> int:
    """Sync until caught up; report each relay; 1 if any failed."""
    report = engine.sync_once(timeout)
    failed = {url: error for url, error in report.items() if error is not None}
    for url, error in sorted(failed.items()):
        print(f"plait: error: relay {url}: {error}", file=sys.stderr)
    for problem in engine.problems():
        print(f"plait: warning: {problem}", file=sys.stderr)
    return 1 if failed else 0


def cmd_share(vault: Vault, args: argparse.Namespace) -> int:
    notebook_id = _notebook(vault, args.notebook)
    engine = _engine(vault)
    engine.start()
    try:
        invite = engine.share(notebook_id, tuple(args.relay))
        code = _finish(engine, ONCE_TIMEOUT)
    finally:
        engine.stop()
    print(invite.link())
    print(f"Code: {invite.code()}")
    print("Anyone with this link or code can read and edit the notebook: send it privately. "
          f"It expires on {time.strftime('%Y-%m-%d', time.localtime(invite.expires))}.",
          file=sys.stderr)
    if code:
        print("plait: the notebook is not on every relay yet; run `plait sync` when they are "
              "reachable.", file=sys.stderr)
    return code


def cmd_join(vault: Vault, args: argparse.Namespace) -> int:
    invite = parse_invite(args.invite)
    engine = _engine(vault)
    engine.start()
    try:
        engine.join(invite)
        code = _finish(engine, ONCE_TIMEOUT)
    finally:
        engine.stop()
    try:
        info = vault.notebook(invite.notebook_id)
        print(f"Joined “{info.name}”: {info.note_count} notes.")
    except PlaitError:
        print(f"Joined “{invite.notebook_name}”; its notes arrive when a relay is reachable "
              "(run `plait sync`).")
    return code


def cmd_sync(vault: Vault, args: argparse.Namespace) -> int:
    engine = _engine(vault)
    engine.start()
    try:
        if not args.watch:
            engine.wait_ready()
            if not engine.shared_notebooks():
                print("No notebook is shared yet. Share one with: plait share NOTEBOOK --relay URL")
                return 0
            return _finish(engine, args.timeout)
        return _watch(engine)
    finally:
        engine.stop()


def _watch(engine: SyncEngine) -> int:
    """Keep syncing; print each change of a notebook's state."""
    shown: dict[str, str] = {}
    print("Syncing; press Ctrl+C to stop.", file=sys.stderr)
    try:
        while True:
            engine.pump_until(lambda: False, 1.0)
            for notebook_id, status in engine.status().items():
                line = f"{status.label}: {status.message}"
                if shown.get(notebook_id) != line:
                    shown[notebook_id] = line
                    name = engine.vault.notebook(notebook_id).name if engine.vault.document_kind(
                        notebook_id) else notebook_id[:8]
                    print(f"{time.strftime('%H:%M:%S')}  {name}: {line}", flush=True)
    except KeyboardInterrupt:
        return 0


def cmd_members(vault: Vault, args: argparse.Namespace) -> int:
    sharing = vault.sharing(_notebook(vault, args.notebook))
    if not sharing.shared:
        print(f"'{args.notebook}' is not shared.")
        return 0
    for member in sharing.members:
        you = "  (this device)" if member.device == vault.author.device_id else ""
        print(f"{member.name:<20.20}  device {member.device[:8]}  key {member.public_key[:12]}  "
              f"joined {time.strftime('%Y-%m-%d', time.localtime(member.joined))}{you}")
    print("Relays: " + ", ".join(sharing.relays))
    return 0
