"""Invites: everything a new member needs to join a shared notebook, as a link or a code.

    plait://join?v=1&nb=<notebook id>&key=<notebook key>&name=<notebook name>
                &from=<inviter>&exp=<unix time>&relay=<url>&relay=<url>...

The code is the same query string, base64url-encoded behind "PLAIT1-", for places
where a link does not survive (chat apps that mangle URLs, reading it aloud).
Whoever holds an invite holds the notebook key: the UI says so.
"""

from __future__ import annotations

import base64
import binascii
import re
import time
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

from ..errors import PlaitError

SCHEME = "plait"
CODE_PREFIX = "PLAIT1-"
VALID_DAYS = 14
_NOTEBOOK_ID = re.compile(r"[0-9a-f]{32}")
_KEY = re.compile(r"[A-Za-z0-9_-]{43}=?")


class InviteError(PlaitError):
    """An invite that cannot be used; the message says why, for the user."""


@dataclass(frozen=True)
class Invite:
    notebook_id: str
    notebook_name: str
    key_text: str  # the notebook key, base64url (NotebookKey.to_text)
    relays: tuple[str, ...]
    inviter: str
    expires: float

    def link(self) -> str:
        return f"{SCHEME}://join?{self._query()}"

    def code(self) -> str:
        return CODE_PREFIX + base64.urlsafe_b64encode(self._query().encode()).decode().rstrip("=")

    def _query(self) -> str:
        pairs = [("v", "1"), ("nb", self.notebook_id), ("key", self.key_text),
                 ("name", self.notebook_name), ("from", self.inviter),
                 ("exp", str(int(self.expires)))]
        return urlencode(pairs + [("relay", url) for url in self.relays])


def make_invite(notebook_id: str, notebook_name: str, key_text: str, relays: tuple[str, ...],
                inviter: str, *, valid_days: float = VALID_DAYS) -> Invite:
    return Invite(notebook_id, notebook_name, key_text, tuple(relays), inviter,
                  time.time() + valid_days * 86400)


def parse_invite(text: str, *, now: float | None = None) -> Invite:
    """An invite from a link or a code (surrounding whitespace and quotes ignored)."""
    text = text.strip().strip("<>\"'")
    if not text:
        raise InviteError("The invite is empty. Paste the whole plait:// link or PLAIT1- code.")
    if text.upper().startswith(CODE_PREFIX):
        raw = text[len(CODE_PREFIX):]
        try:
            query = base64.b64decode(raw + "=" * (-len(raw) % 4), altchars=b"-_",
                                     validate=True).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise InviteError("This invite code is damaged: it may have been cut short "
                              "when it was copied.") from None
    else:
        parts = urlsplit(text)
        if parts.scheme != SCHEME or parts.netloc != "join":
            raise InviteError("This is not a Plait invite: it should start with "
                              "plait://join? or PLAIT1-.")
        query = parts.query
    fields = parse_qs(query, keep_blank_values=True)

    def one(name: str, what: str) -> str:
        values = fields.get(name)
        if not values or not values[0]:
            raise InviteError(f"This invite is incomplete: it has no {what}. "
                              "Ask for a new invite, and copy all of it.")
        return values[0]

    if one("v", "version") != "1":
        raise InviteError("This invite was made by a newer version of Plait. Update Plait "
                          "to join this notebook.")
    notebook_id = one("nb", "notebook id")
    key_text = one("key", "key")
    if not _NOTEBOOK_ID.fullmatch(notebook_id) or not _KEY.fullmatch(key_text):
        raise InviteError("This invite is damaged: its notebook id or key is malformed. "
                          "It may have been cut short when it was copied.")
    relays = tuple(fields.get("relay", []))
    if not relays:
        raise InviteError("This invite names no relay server, so there is nowhere to "
                          "sync from. Ask for a new invite.")
    for url in relays:
        if urlsplit(url).scheme not in ("ws", "wss"):
            raise InviteError(f"This invite names a relay that is not a ws:// or wss:// "
                              f"address: {url!r}.")
    try:
        expires = float(one("exp", "expiry date"))
    except ValueError:
        raise InviteError("This invite is damaged: its expiry date is not a number.") from None
    if expires < (time.time() if now is None else now):
        inviter = fields.get("from", ["the person who invited you"])[0]
        raise InviteError(f"This invite expired on {time.strftime('%Y-%m-%d', time.localtime(expires))}. "
                          f"Ask {inviter} for a new one.")
    return Invite(notebook_id, fields.get("name", ["Shared notebook"])[0] or "Shared notebook",
                  key_text, relays, fields.get("from", ["Someone"])[0] or "Someone", expires)
