"""How far this machine last saw each vault it wrote to, kept outside the vaults.

A vault restored from a backup into the folder it came from can get the same inode
back (file systems reuse them), so its fingerprint (crdt_store/identity.py) still
matches, and it would go on writing as its old CRDT client from the backup's clocks:
edits its device already sent would get the same ids as new ones, and every peer
would keep only one of each. So at every open and close the vault records its write
position (the highest update sequence number it ever used, which only grows) in the
user's state folder. A vault whose position is behind the recorded one was replaced
by an older copy of itself, and takes a new client id.

A record that cannot be read or written only costs this check (logged), never the
vault. Restoring the state folder together with the vault defeats it, as does a
backup taken while the app ran and restored after a crash: both rarer than a plain
restore.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

from platformdirs import user_state_path

log = logging.getLogger(__name__)


def default_folder() -> Path:
    return user_state_path("Plait", appauthor=False) / "vaults"


class VaultRegistry:
    """One small JSON file per vault database, named by a hash of its real path."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder if folder is not None else default_folder()

    def _file(self, db_path: Path) -> Path:
        key = hashlib.sha256(str(db_path.resolve()).encode("utf-8")).hexdigest()[:32]
        return self.folder / f"{key}.json"

    def position(self, db_path: Path) -> int | None:
        """The write position last recorded for this database (None: none recorded)."""
        try:
            data = json.loads(self._file(db_path).read_text(encoding="utf-8"))
            position = data["position"]
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("vault registry: cannot read the record of %s: %s", db_path, exc)
            return None
        return position if isinstance(position, int) and position >= 0 else None

    def record(self, db_path: Path, position: int) -> None:
        """Remember `position` for this database (atomically: a crash leaves the old one)."""
        target = self._file(db_path)
        data = json.dumps({"path": str(db_path.resolve()), "position": position})
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            temporary = target.with_suffix(f".{os.getpid()}.tmp")
            temporary.write_text(data, encoding="utf-8")
            os.replace(temporary, target)
        except OSError as exc:
            log.warning("vault registry: cannot record %s: %s", db_path, exc)
