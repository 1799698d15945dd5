"""KeyStore: keys in a keyring backend, refusals with actionable messages, never overwrites."""

from __future__ import annotations

import json
import os
import stat
from concurrent.futures import ThreadPoolExecutor

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import chainer, fail, null
from keyring.compat import properties

from crdt_store.file_keyring import FileKeyring
from crdt_store.keys import (
    FILE_KEYRING_ENV,
    SERVICE,
    KeyConflictError,
    KeyringUnavailableError,
    KeyStore,
    how_to_fix,
)
from crdt_store.sync.keymaterial import DeviceKey, InvalidKeyError, NotebookKey

from .keyring_fixtures import (
    HangingKeyring,
    LockedKeyring,
    LowPriorityKeyring,
    MemoryKeyring,
    PlaintextKeyring,
)


def unavailable(store: KeyStore) -> KeyringUnavailableError:
    with pytest.raises(KeyringUnavailableError) as caught:
        store.check()
    message = str(caught.value)
    assert message.startswith("Sharing is disabled: ")
    assert FILE_KEYRING_ENV in message  # the headless opt-in is always explained
    return caught.value


def test_device_key_is_created_once_then_reused(key_store, memory_keyring) -> None:
    first = key_store.device_key("vault-1")
    assert key_store.device_key("vault-1") == first
    assert KeyStore(memory_keyring).device_key("vault-1") == first  # read from the keyring
    assert memory_keyring.entries[(SERVICE, "device:vault-1")] == first.to_text()
    assert memory_keyring.writes == 1
    assert key_store.device_key("vault-2") != first


def test_concurrent_callers_get_one_device_key(key_store, memory_keyring) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        keys = list(pool.map(lambda _: key_store.device_key("v"), range(16)))
    assert all(key == keys[0] for key in keys)
    assert memory_keyring.writes == 1


def test_notebook_key_round_trip_and_forget(key_store, memory_keyring) -> None:
    assert key_store.notebook_key("nb") is None
    key = NotebookKey.generate()
    key_store.store_notebook_key("nb", key)
    assert key_store.notebook_key("nb") == key
    assert memory_keyring.entries[(SERVICE, "notebook:nb")] == key.to_text()
    assert key_store.forget_notebook_key("nb") is True
    assert key_store.notebook_key("nb") is None
    assert key_store.forget_notebook_key("nb") is False


def test_storing_the_same_key_again_is_a_no_op(key_store, memory_keyring) -> None:
    key = NotebookKey.generate()
    key_store.store_notebook_key("nb", key)
    key_store.store_notebook_key("nb", NotebookKey.from_text(key.to_text()))
    assert memory_keyring.writes == 1


def test_a_different_key_is_refused_and_the_stored_one_stays(key_store, memory_keyring) -> None:
    key = NotebookKey.generate()
    key_store.store_notebook_key("nb", key)
    with pytest.raises(KeyConflictError, match="never replaces"):
        key_store.store_notebook_key("nb", NotebookKey.generate())
    assert key_store.notebook_key("nb") == key
    assert memory_keyring.writes == 1


def test_damaged_entries_are_reported_and_never_replaced(key_store, memory_keyring) -> None:
    memory_keyring.entries[(SERVICE, "device:v")] = "not a key"
    memory_keyring.entries[(SERVICE, "notebook:nb")] = "also not a key"
    with pytest.raises(InvalidKeyError, match="device:v"):
        key_store.device_key("v")
    with pytest.raises(InvalidKeyError, match="notebook:nb"):
        key_store.notebook_key("nb")
    with pytest.raises(KeyConflictError):
        key_store.store_notebook_key("nb", NotebookKey.generate())
    assert memory_keyring.entries[(SERVICE, "device:v")] == "not a key"
    assert memory_keyring.entries[(SERVICE, "notebook:nb")] == "also not a key"
    assert memory_keyring.writes == 0


def test_ids_must_be_plain_text(key_store) -> None:
    for bad in ("", " padded ", None):
        with pytest.raises(ValueError):
            key_store.notebook_key(bad)  # type: ignore[arg-type]


def test_a_working_backend_passes_the_check(key_store) -> None:
    key_store.check()
    assert key_store.warning is None


def test_the_fail_backend_disables_sharing() -> None:
    error = unavailable(KeyStore(fail.Keyring()))
    assert error.reason == "none"
    assert "no keyring is available" in str(error)
    with pytest.raises(KeyringUnavailableError):
        KeyStore(fail.Keyring()).device_key("v")


def test_the_null_backend_disables_sharing() -> None:
    assert "switched off" in str(unavailable(KeyStore(null.Keyring())))


def test_a_plaintext_backend_is_refused(memory_keyring) -> None:
    plaintext = PlaintextKeyring()
    error = unavailable(KeyStore(plaintext))
    assert error.reason == "insecure"
    assert "plain text" in str(error)
    with pytest.raises(KeyringUnavailableError):
        KeyStore(plaintext).store_notebook_key("nb", NotebookKey.generate())
    assert plaintext.entries == {}


def test_a_backend_below_the_recommended_priority_is_refused() -> None:
    error = unavailable(KeyStore(LowPriorityKeyring()))
    assert error.reason == "insecure" and "priority 0.5" in str(error)


def test_a_backend_that_cannot_run_here_is_refused() -> None:
    class NoDbus(MemoryKeyring):
        @properties.classproperty
        def priority(cls) -> float:  # how keyring's own backends say "not here"
            raise RuntimeError("The Secret Service daemon is neither running nor activatable")

    error = unavailable(KeyStore(NoDbus()))
    assert error.reason == "none" and "neither running" in str(error)


def test_a_chainer_uses_its_best_usable_member_and_never_a_plaintext_one() -> None:
    plaintext, memory = PlaintextKeyring(), MemoryKeyring()

    class Chain(chainer.ChainerBackend):
        viable = False  # type: ignore[assignment]
        backends = (plaintext, memory)  # type: ignore[assignment]

    store = KeyStore(Chain())
    key = store.device_key("v")
    assert memory.entries[(SERVICE, "device:v")] == key.to_text()
    assert plaintext.entries == {}


def test_a_chainer_with_nothing_usable_says_why() -> None:
    class Chain(chainer.ChainerBackend):
        viable = False  # type: ignore[assignment]
        backends = (PlaintextKeyring(), LowPriorityKeyring())  # type: ignore[assignment]

    class EmptyChain(chainer.ChainerBackend):
        viable = False  # type: ignore[assignment]
        backends = ()  # type: ignore[assignment]

    error = unavailable(KeyStore(Chain()))
    assert error.reason == "none" and "plain text" in str(error) and "priority" in str(error)
    assert "no usable keyring" in str(unavailable(KeyStore(EmptyChain())))


def test_a_locked_keyring_says_unlock_it() -> None:
    error = unavailable(KeyStore(LockedKeyring()))
    assert error.reason == "locked"
    assert "is locked" in str(error) and "unlock" in str(error)


def test_a_failing_keyring_reports_the_cause() -> None:
    class DbusDown(MemoryKeyring):
        def get_password(self, service: str, username: str) -> str | None:
            raise ConnectionRefusedError("no D-Bus session")

    with pytest.raises(KeyringUnavailableError) as caught:
        KeyStore(DbusDown()).notebook_key("nb")
    assert caught.value.reason == "error"
    assert "ConnectionRefusedError: no D-Bus session" in str(caught.value)
    assert isinstance(caught.value.__cause__, ConnectionRefusedError)


def test_a_hung_keyring_times_out_instead_of_freezing_the_caller() -> None:
    hanging = HangingKeyring()
    store = KeyStore(hanging, timeout=0.2)
    try:
        error = unavailable(store)
        assert error.reason == "timeout"
        assert "did not answer within 0.2 s" in str(error)
        assert hanging.entered.is_set()
        # The hung call still holds the keyring: the next one times out too.
        with pytest.raises(KeyringUnavailableError, match="did not answer"):
            store.device_key("v")
    finally:
        hanging.release.set()
    assert hanging.writes == 0


def test_the_fix_text_names_each_platforms_remedy() -> None:
    assert "gnome-keyring" in how_to_fix("linux")
    assert "Keychain" in how_to_fix("darwin")
    assert "Credential Manager" in how_to_fix("win32")
    for platform in ("linux", "darwin", "win32"):
        assert f"{FILE_KEYRING_ENV}=" in how_to_fix(platform)


def test_file_keyring_opt_in_creates_a_private_file_and_warns(tmp_path) -> None:
    path = tmp_path / "keys" / "plait-keys.json"
    store = KeyStore.from_environment({FILE_KEYRING_ENV: str(path)})
    assert store.warning is not None
    assert "UNENCRYPTED" in store.warning and str(path) in store.warning
    store.check()
    device = store.device_key("v")
    key = NotebookKey.generate()
    store.store_notebook_key("nb", key)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = json.loads(path.read_text())
    assert data["entries"][SERVICE] == {"device:v": device.to_text(), "notebook:nb": key.to_text()}
    assert sorted(p.name for p in path.parent.iterdir()) == ["plait-keys.json",
                                                               "plait-keys.json.lock"]
    reopened = KeyStore(FileKeyring(path))
    assert reopened.device_key("v") == device and reopened.notebook_key("nb") == key
    with pytest.raises(KeyConflictError):
        reopened.store_notebook_key("nb", NotebookKey.generate())
    assert reopened.forget_notebook_key("nb") is True
    assert KeyStore(FileKeyring(path)).notebook_key("nb") is None


def test_file_keyring_opt_in_through_the_real_environment(tmp_path, monkeypatch) -> None:
    path = tmp_path / "k.json"
    monkeypatch.setenv(FILE_KEYRING_ENV, str(path))
    store = KeyStore.from_environment()
    assert isinstance(store.device_key("v"), DeviceKey)
    assert path.exists() and store.warning is not None


def test_without_the_opt_in_the_file_keyring_is_never_used(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv(FILE_KEYRING_ENV, raising=False)
    monkeypatch.setattr(keyring, "get_keyring", fail.Keyring)  # a machine with no keyring
    before = set(tmp_path.iterdir())
    for store in (KeyStore.from_environment(), KeyStore.from_environment({FILE_KEYRING_ENV: ""})):
        assert store.warning is None
        with pytest.raises(KeyringUnavailableError):
            store.device_key("v")
    assert set(tmp_path.iterdir()) == before
    # keyring's own auto-detection can never choose it either.
    assert not FileKeyring.viable
    assert FileKeyring not in set(KeyringBackend.get_viable_backends())


def test_file_keyring_refuses_a_file_others_can_read(tmp_path) -> None:
    path = tmp_path / "k.json"
    KeyStore(FileKeyring(path)).device_key("v")
    os.chmod(path, 0o644)
    with pytest.raises(KeyringUnavailableError, match="chmod 600"):
        KeyStore(FileKeyring(path)).device_key("v")


@pytest.mark.parametrize("content", [b"not json", b"[]", b'{"format": "other"}',
                                     b'{"format": "plait-file-keyring-1", "entries": {"s": 1}}'])
def test_file_keyring_never_overwrites_a_file_it_cannot_read(tmp_path, content) -> None:
    path = tmp_path / "k.json"
    path.write_bytes(content)
    os.chmod(path, 0o600)
    with pytest.raises(KeyringUnavailableError, match="not a Plait key file"):
        KeyStore(FileKeyring(path)).store_notebook_key("nb", NotebookKey.generate())
    assert path.read_bytes() == content
