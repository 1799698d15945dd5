"""Who is writing: the device identity and CRDT client id of one vault on one machine.

Yrs never reassigns clashing client ids, and two writers sharing an id diverge
silently. So the client id is tied to a fingerprint of where the vault lives
(machine id, real path, inode). A vault that was copied, moved or restored from
a backup no longer matches its fingerprint and gets a fresh client id; one restored
into its own folder may match it (inodes are reused), so the vault's write position
is checked against the last one this machine recorded (crdt_store/vault_registry.py). A false
alarm only costs a few bytes of state vector, while a missed copy corrupts
convergence, so the rule errs on the side of a new id.
"""

from __future__ import annotations

import getpass
import json
import os
import platform
import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Author:
    """The writer of an update: stable device id, CRDT client id and display name."""

    device_id: str
    client_id: int
    name: str


def new_client_id() -> int:
    """A random non-zero 32-bit id, the range Yjs itself uses for interoperability."""
    return secrets.randbits(32) or 1


def machine_id() -> str:
    """A stable id for this machine, from the OS where it has one."""
    for candidate in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        try:
            value = Path(candidate).read_text().strip()
        except OSError:
            continue
        if value:
            return value
    return f"{platform.node()}-{uuid.getnode():012x}"


def vault_fingerprint(db_path: Path) -> str:
    """Where this database file lives: machine, real path and inode, as JSON."""
    st = os.stat(db_path)
    return json.dumps(
        {
            "machine": machine_id(),
            "path": str(db_path.resolve()),
            "inode": st.st_ino,
            "device": st.st_dev,
        },
        sort_keys=True,
    )


def default_display_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "Me"


@dataclass(frozen=True, slots=True)
class IdentityDecision:
    """The identity to use, and why it changed (None when it did not)."""

    author: Author
    fingerprint: str
    retired_client_id: int | None
    reason: str | None


def decide_identity(
    stored: dict[str, str], fingerprint: str, display_name: str | None, *, behind: bool = False
) -> IdentityDecision:
    """Keep the stored identity when the fingerprint matches and the vault is not
    `behind` what this machine last saw of it (crdt_store/vault_registry.py), else
    mint a new client id.

    `stored` holds the meta values device_id, client_id, fingerprint and
    display_name (absent on a fresh vault). A different machine also gets a
    new device id: it is a different device, not the same one moved.
    """
    name = display_name or stored.get("display_name") or default_display_name()
    if "client_id" not in stored:
        author = Author(uuid.uuid4().hex, new_client_id(), name)
        return IdentityDecision(author, fingerprint, None, None)
    device_id = stored["device_id"]
    old_client = int(stored["client_id"])
    if stored.get("fingerprint") == fingerprint:
        if not behind:
            return IdentityDecision(Author(device_id, old_client, name), fingerprint, None, None)
        return IdentityDecision(Author(device_id, new_client_id(), name), fingerprint, old_client,
                                "this vault is older than when this device last wrote to it "
                                "(restored from a backup)")
    old = json.loads(stored.get("fingerprint") or "{}")
    new = json.loads(fingerprint)
    if old.get("machine") != new["machine"]:
        device_id = uuid.uuid4().hex
        reason = "this vault was copied from another machine"
    else:
        reason = "this vault was copied, moved or restored from a backup"
    author = Author(device_id, new_client_id(), name)
    return IdentityDecision(author, fingerprint, old_client, reason)
