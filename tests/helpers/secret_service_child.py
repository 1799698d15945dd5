"""Runs inside `dbus-run-session` with gnome-keyring unlocked (see
tests/test_keys_secret_service.py): uses KeyStore on the real Secret Service and
prints what it observed as one JSON line for the test to assert."""

from __future__ import annotations

import json

import secretstorage
from keyring.backends import SecretService

from crdt_store.keys import SERVICE, KeyConflictError, KeyringUnavailableError, KeyStore
from crdt_store.sync.keymaterial import NotebookKey


def plait_items() -> dict[str, str]:
    """Every Plait entry in the default collection, read straight from D-Bus."""
    connection = secretstorage.dbus_init()
    try:
        collection = secretstorage.get_default_collection(connection)
        return {item.get_attributes()["username"]: item.get_secret().decode()
                for item in collection.search_items({"service": SERVICE})}
    finally:
        connection.close()


def lock_default_collection() -> None:
    connection = secretstorage.dbus_init()
    try:
        secretstorage.get_default_collection(connection).lock()
    finally:
        connection.close()


def main() -> None:
    out: dict[str, object] = {}
    store = KeyStore(SecretService.Keyring(), timeout=30)
    store.check()
    device = store.device_key("vault-it")
    out["device_reused"] = KeyStore(SecretService.Keyring()).device_key("vault-it") == device
    out["auto_detected_reuses_it"] = KeyStore().device_key("vault-it") == device
    key = NotebookKey.generate()
    store.store_notebook_key("nb-it", key)
    store.store_notebook_key("nb-it", key)  # same key again: a no-op
    out["notebook_read_back"] = KeyStore(SecretService.Keyring()).notebook_key("nb-it") == key
    try:
        store.store_notebook_key("nb-it", NotebookKey.generate())
        out["conflict"] = "overwritten"
    except KeyConflictError:
        out["conflict"] = "refused"
    out["kept_after_conflict"] = store.notebook_key("nb-it") == key
    items = plait_items()
    out["items"] = sorted(items)
    out["items_hold_the_keys"] = (items.get("device:vault-it") == device.to_text()
                                  and items.get("notebook:nb-it") == key.to_text())
    out["forgot"] = store.forget_notebook_key("nb-it")
    out["after_forget"] = sorted(plait_items())
    lock_default_collection()  # no display here, so no unlock prompt can be answered
    try:
        KeyStore(SecretService.Keyring(), timeout=30).device_key("vault-it")
        out["locked"] = "no error"
    except KeyringUnavailableError as exc:
        out["locked"] = exc.reason
    print(json.dumps(out))


if __name__ == "__main__":
    main()
