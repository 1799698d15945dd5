"""Disk faults: a full disk and a read-only vault, on real SQLite, with nothing lost.

SQLite is the vault's only way to its disk, so the faults are made there, portably
and without root. `PRAGMA max_page_count` set below the database's size pins it to
its current size: every write that needs one more page fails with SQLITE_FULL,
exactly what a full file system gives. `PRAGMA query_only` makes every write fail
with SQLITE_READONLY, as on a vault whose files became read-only. (A chmod of an open
vault changes nothing: SQLite keeps writing through the file descriptors it has open,
and root ignores file modes anyway.) `Disk` wraps every writable connection a vault
opens (crdt_store.storage.connect) and sets the pragmas on the thread that owns the
connection, before its next statement.

What must hold: the user hears of it (Vault.notices, StorageError from flush, the
banner in the window), typing goes on with the edits kept in memory and retried, and
once the disk can be written again everything is saved: nothing lost
(tests/invariants.py), also after reopening the vault.
"""

from __future__ import annotations

import random

import pytest
from PySide6.QtCore import QSettings

from app.main_window import MainWindow
from crdt_store import storage
from crdt_store.errors import StorageError
from crdt_store.vault import Vault

from .invariants import MarkerLog, check_nothing_lost
from .screenshots import shot
from .waiting import wait_for

NORMAL, FULL, READ_ONLY = "normal", "full", "read-only"
REASON = {FULL: "database or disk is full", READ_ONLY: "attempt to write a readonly database"}
MAX_PAGES = 4294967294  # SQLite's own ceiling


class Disk:
    """The state of the disk under every vault opened while the fixture is active."""

    def __init__(self) -> None:
        self.state = NORMAL
        self.version = 0
        self.changes: list[str] = []

    def set(self, state: str) -> None:
        self.state = state
        self.version += 1
        self.changes.append(state)


class _Connection:
    """A vault's sqlite3 connection, with the disk's state applied before each statement
    (on the thread that uses the connection, as sqlite3 requires)."""

    def __init__(self, conn, disk: Disk) -> None:
        self._conn = conn
        self._disk = disk
        self._version = 0

    def _apply(self) -> None:
        disk = self._disk
        if self._version != disk.version:
            read_only = disk.state == READ_ONLY  # (query_only refuses the other pragma)
            if not read_only:
                self._conn.execute("PRAGMA query_only = 0")
            self._conn.execute(f"PRAGMA max_page_count = {1 if disk.state == FULL else MAX_PAGES}")
            if read_only:
                self._conn.execute("PRAGMA query_only = 1")
            self._version = disk.version

    def execute(self, *args):
        self._apply()
        return self._conn.execute(*args)

    def executemany(self, *args):
        self._apply()
        return self._conn.executemany(*args)

    def executescript(self, *args):
        self._apply()
        return self._conn.executescript(*args)

    def __getattr__(self, name: str):
        return getattr(self._conn, name)


@pytest.fixture
def disk(monkeypatch: pytest.MonkeyPatch) -> Disk:
    state = Disk()
    real = storage.connect

    def connect(db_path, *, read_only: bool = False):
        conn = real(db_path, read_only=read_only)
        return conn if read_only else _Connection(conn, state)

    monkeypatch.setattr(storage, "connect", connect)
    return state


def _filler(rng: random.Random, chars: int) -> str:
    words = ("text", "é", "中文", "שלום", "word", "😀")
    return "".join(" ".join(rng.choice(words) for _ in range(12)) + "\n"
                   for _ in range(chars // 40)) + "\n"


@pytest.mark.parametrize("fault", [FULL, READ_ONLY])
def test_edits_wait_in_memory_while_the_disk_cannot_be_written(disk, vault_dir, fault,
                                                               hardening_report) -> None:
    rng = random.Random(fault)
    log = MarkerLog()
    vault = Vault(vault_dir, display_name="Ada")
    try:
        notebook = vault.create_notebook("Disk")
        notes = [vault.create_note(notebook, f"# Note {i}\n") for i in range(3)]
        for _ in range(10):
            log.insert("Ada", vault, rng.choice(notes), rng)
        vault.flush()
        log.record_durable("Ada", vault)
        disk.set(fault)
        for i in range(40):  # typing and pasting go on; the pastes need new pages
            log.insert("Ada", vault, rng.choice(notes), rng)
            if i % 8 == 0:
                vault.append_text(rng.choice(notes), _filler(rng, 8000))
        new_note = vault.create_note(notebook, "# Written meanwhile\n")
        log.insert("Ada", vault, new_note, rng)
        with pytest.raises(StorageError, match=REASON[fault]):
            vault.flush(timeout=10)
        assert wait_for(lambda: any(REASON[fault] in n.message for n in vault.notices)), (
            [n.message for n in vault.notices])
        assert vault.durable_ticket < vault.last_ticket
        in_memory = "\n".join(vault.note_text(n) for n in (*notes, new_note))
        assert all(marker in in_memory for marker in log.written)
        assert new_note in [s.note_id for s in vault.list_notes()]
        disk.set(NORMAL)  # space comes back: the writer's next retry saves everything
        assert wait_for(lambda: vault.durable_ticket >= vault.last_ticket), (
            vault.durable_ticket, vault.last_ticket)
        vault.flush()
        log.record_durable("Ada", vault)
        assert all(r.durable for r in log.written.values())
    except BaseException:
        disk.set(NORMAL)  # so that closing the vault does not hide what failed
        assert wait_for(lambda: vault.durable_ticket >= vault.last_ticket)
        raise
    finally:
        vault.close()
    with Vault(vault_dir) as reopened:
        assert reopened.notices == []
        counts = check_nothing_lost([reopened], log)
    hardening_report(f"disk {fault}: {len(disk.changes)} changes of the disk; "
                     f"{len(log.written)} markers, {counts['present']} present after reopening")


def test_the_window_shows_a_full_disk_in_its_banner_and_keeps_the_typing(
        qtbot, disk, tmp_path) -> None:
    vault = Vault(tmp_path / "vault", display_name="Ada")
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    note = vault.create_note(vault.create_notebook("Notes"), "# Diary\n")
    vault.flush()
    window = MainWindow(vault, settings)
    qtbot.addWidget(window)
    try:
        window.show()
        qtbot.waitExposed(window)
        window.select_note(note)
        disk.set(FULL)
        cursor = window.editor.textCursor()
        cursor.movePosition(cursor.MoveOperation.End)
        window.editor.setTextCursor(cursor)
        qtbot.keyClicks(window.editor, "typed on a full disk ")
        window.editor.insertPlainText(_filler(random.Random(1), 20_000))  # a paste
        qtbot.keyClicks(window.editor, "and after the paste")
        qtbot.waitUntil(lambda: REASON[FULL] in window.banner.message, timeout=10_000)
        assert "could not be saved" in window.banner.message
        shot(window, "disk-full-banner.png")
        typed = window.editor.toPlainText()
        assert typed.endswith("and after the paste")
        qtbot.waitUntil(lambda: vault.note_text(note) == typed, timeout=5000)  # in memory
        disk.set(NORMAL)
        qtbot.waitUntil(lambda: vault.durable_ticket >= vault.last_ticket, timeout=30_000)
    finally:
        window.close()
        vault.close()
    with Vault(tmp_path / "vault") as reopened:
        assert reopened.note_text(note) == typed
