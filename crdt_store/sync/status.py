"""What the UI says about a shared notebook: synced, syncing, offline or an error."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .relay_link import RelayLink

SYNCED, SYNCING, OFFLINE, ERROR = "synced", "syncing", "offline", "error"


@dataclass(frozen=True, slots=True)
class NotebookStatus:
    notebook_id: str
    state: str  # SYNCED, SYNCING, OFFLINE or ERROR
    message: str  # one sentence for a tooltip or the status bar
    pending: int  # local edits not yet acknowledged by every relay
    last_synced: float | None
    relays_connected: int
    relays: int
    caught_up: bool  # every connected relay has sent everything it had
    progress: tuple[int, int] | None = None  # (envelopes taken in, known) while catching up

    @property
    def label(self) -> str:
        if self.state == SYNCING and self.pending:
            return f"Syncing ({self.pending} to send)"
        return self.state.capitalize()


def summarize(*, notebooks: Mapping[str, tuple[str, ...]], links: Mapping[str, RelayLink],
              keys: Mapping[str, object], keyring_error: str | None,
              pending: Mapping[str, int], cursors: Mapping[tuple[str, str], int],
              heads: Mapping[tuple[str, str], int], synced: Mapping[tuple[str, str], float],
              busy: int) -> dict[str, NotebookStatus]:
    """One NotebookStatus per shared notebook from the engine's loop-thread state."""
    result = {}
    for notebook_id, relays in notebooks.items():
        nb_links = [links[url] for url in relays if url in links]
        connected = [link for link in nb_links if link.connected]
        caught_up = bool(connected) and all(notebook_id in link.caught_up for link in connected)
        behind = sum(max(0, heads.get((link.url, notebook_id), 0)
                         - cursors.get((link.url, notebook_id), 0)) for link in connected)
        denied = [(link.url, link.denied[notebook_id]) for link in nb_links
                  if notebook_id in link.denied]
        waiting = pending.get(notebook_id, 0)
        times = [synced[(url, notebook_id)] for url in relays if (url, notebook_id) in synced]
        if keyring_error is not None:
            state, message = ERROR, f"Sharing is disabled: {keyring_error}"
        elif notebook_id not in keys:
            state, message = ERROR, ("This notebook's key is missing from the keyring. "
                                     "Join it again with an invite.")
        elif denied and not connected or denied and len(denied) == len(connected):
            state, message = ERROR, f"Relay {denied[0][0]} refused access: {denied[0][1]}"
        elif not connected:
            reasons = [f"{link.url}: {link.error}" for link in nb_links if link.error]
            state = OFFLINE
            message = ("Offline; edits are kept and sent when a relay is back. "
                       + ("; ".join(reasons) if reasons else "Connecting…"))
        elif waiting or not caught_up or behind or busy:
            state = SYNCING
            message = (f"Sending {waiting} edit{'s' if waiting != 1 else ''}" if waiting
                       else "Receiving edits")
        else:
            state, message = SYNCED, "Up to date with " + ", ".join(l.url for l in connected)
        progress = None
        if behind and connected:
            known = sum(heads.get((link.url, notebook_id), 0) for link in connected)
            progress = (max(0, known - behind), known)
            if state == SYNCING and not waiting:
                message = f"Receiving edits: {progress[0]:,} of {progress[1]:,}"
        result[notebook_id] = NotebookStatus(
            notebook_id, state, message, waiting, max(times) if times else None,
            len(connected), len(relays), caught_up and not behind, progress,
        )
    return result
