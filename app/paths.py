"""Where Plait keeps the user's vault by default."""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_data_dir


def default_vault_path() -> Path:
    """$PLAIT_VAULT if set, else the platform's user data folder (e.g. ~/.local/share/Plait/vault)."""
    override = os.environ.get("PLAIT_VAULT")
    if override:
        return Path(override).expanduser()
    return Path(user_data_dir("Plait", appauthor=False)) / "vault"
