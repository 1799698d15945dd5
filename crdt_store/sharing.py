"""Who shares a notebook and through which relays: two roots of its catalog document.

- root `members` (Map): device public key (hex) -> Map of `name`, `device`, `client`,
  `joined`. Each device adds itself when it shares or joins; the UI lists
  collaborators from it, and revoking a member later means rotating the notebook key
  to everyone here but them.
- root `relays` (Map): relay URL -> time it was added. Every member sends its edits
  to all of them.

Both merge like the rest of the catalog, so a relay added on one device reaches all.
Secrets never go here: keys live in the OS keyring.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from pycrdt import Doc, Map

MEMBERS = "members"
RELAYS = "relays"


@dataclass(frozen=True, slots=True)
class Member:
    public_key: str  # hex of the device's Ed25519 key
    name: str
    device: str
    client: int
    joined: float


@dataclass(frozen=True, slots=True)
class Sharing:
    relays: tuple[str, ...]
    members: tuple[Member, ...]

    @property
    def shared(self) -> bool:
        return bool(self.relays)


def read_sharing(doc: Doc) -> Sharing:
    members = []
    for key, value in doc.get(MEMBERS, type=Map).items():
        data = value.to_py() if isinstance(value, Map) else {}
        members.append(Member(
            public_key=str(key), name=str(data.get("name") or "Someone"),
            device=str(data.get("device") or ""), client=int(data.get("client") or 0),
            joined=float(data.get("joined") or 0.0),
        ))
    members.sort(key=lambda m: (m.joined, m.public_key))
    return Sharing(tuple(sorted(doc.get(RELAYS, type=Map).keys())), tuple(members))


def add_relays(doc: Doc, urls: tuple[str, ...]) -> None:
    """Add relay URLs (inside a transaction); ones already listed keep their date."""
    relays = doc.get(RELAYS, type=Map)
    for url in urls:
        if url not in relays:
            relays[url] = time.time()


def set_member(doc: Doc, member: Member) -> None:
    """Add or refresh a member entry (inside a transaction); unchanged fields are not
    rewritten, so re-joining does not produce an edit."""
    members = doc.get(MEMBERS, type=Map)
    fields = {"name": member.name, "device": member.device, "client": member.client}
    entry = members.get(member.public_key)
    if not isinstance(entry, Map):
        members[member.public_key] = Map({**fields, "joined": member.joined})
        return
    for key, value in fields.items():
        if entry.get(key) != value:
            entry[key] = value
