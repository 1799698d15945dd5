"""The Plait relay: a dumb, append-only mailbox of opaque envelopes per notebook.

`RelayServer` (server.py) speaks PROTOCOL.md over WebSockets; `RelayStore`
(store.py) is the storage interface and `SqliteRelayStore` (sqlite_store.py) its
embedded implementation; limits.py holds the per-connection size and rate limits.
`plait-relay` (server.main) runs it. Imports are lazy so `python -m
crdt_store.sync.relay.server` does not load the server module twice.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Limits", "RelayServer", "RelayStore", "SqliteRelayStore"]

_HOMES = {"RelayServer": "server", "RelayStore": "store", "SqliteRelayStore": "sqlite_store",
          "Limits": "limits"}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
    raise AttributeError(name)
