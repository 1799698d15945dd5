"""One window per user and vault: later launches hand their invite links to it.

The launches are real `python -m app.cli` processes (offscreen, with their own HOME,
XDG folders and key file); the first window is either one of them or a window in this
process, whose event loop qtbot spins while a later launch talks to it.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, QUrl
from PySide6.QtGui import QFileOpenEvent
from PySide6.QtWidgets import QApplication

from app import single_instance
from app.cli import split_links
from app.gui import LinkOpener, open_for_window
from app.join_dialog import JoinDialog
from app.main_window import MainWindow
from app.single_instance import DISABLED, PRIMARY, UNREACHABLE, SingleInstance, instance_key
from crdt_store.keys import KeyStore
from crdt_store.sync.invite import make_invite
from crdt_store.sync.keymaterial import NotebookKey
from crdt_store.vault import Vault

from .conftest import ARTIFACTS
from .keyring_fixtures import MemoryKeyring

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 60  # a cold start of Python, Qt and the window on a busy machine


def invite_link(name: str = "Trip to Lisbon") -> str:
    return make_invite("ab" * 16, name, NotebookKey.generate().to_text(),
                       ("ws://127.0.0.1:9",), "Ada").link()


@pytest.fixture
def runtime_dir(monkeypatch):
    """A short private $XDG_RUNTIME_DIR (a socket path has room for about 100 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="plr-", dir="/tmp" if os.name != "nt" else None))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(path))
    yield path
    for child in sorted(path.rglob("*"), reverse=True):
        child.rmdir() if child.is_dir() else child.unlink()
    path.rmdir()


@pytest.fixture
def launch(tmp_path: Path, runtime_dir: Path):
    """Start `plait --debug --vault VAULT ARGS...` as a GUI process; all are ended after."""
    procs: list[Launch] = []

    def start(vault: Path, *args: str, timeout: float | None = None) -> Launch:
        home = tmp_path / "home"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PLAIT_", "XDG_"))}
        env.update(
            QT_QPA_PLATFORM="offscreen", HOME=str(home), XDG_RUNTIME_DIR=str(runtime_dir),
            XDG_CONFIG_HOME=str(home / ".config"), XDG_DATA_HOME=str(home / ".local/share"),
            PLAIT_FILE_KEYRING=str(tmp_path / "keys.json"),
            PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
        )
        if timeout is not None:
            env["PLAIT_HANDOFF_TIMEOUT"] = str(timeout)
        proc = subprocess.Popen([sys.executable, "-m", "app.cli", "--debug", "--vault",
                                 str(vault), *args], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env=env, cwd=tmp_path)
        procs.append(Launch(proc))
        return procs[-1]

    yield start
    for launched in procs:
        launched.stop()


class Launch:
    """A running `plait`: its output is read line by line on a thread, to wait on."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self.ended = False  # its output reached the end
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def _next(self, timeout: float) -> str | None:
        """The next line, or None at the end of the output or when `timeout` runs out."""
        if self.ended:
            return None
        try:
            line = self._queue.get(timeout=max(0.0, timeout))
        except queue.Empty:
            return None
        if line is None:
            self.ended = True
            return None
        self.lines.append(line)
        return line

    def wait_for(self, pattern: str, timeout: float = START_TIMEOUT_S) -> str:
        """The first output line matching `pattern` (waiting for it), else fail."""
        for line in self.lines:
            if re.search(pattern, line):
                return line
        deadline = time.monotonic() + timeout
        while (line := self._next(deadline - time.monotonic())) is not None:
            if re.search(pattern, line):
                return line
        raise AssertionError(f"no line matching {pattern!r}; output so far:\n{self.output()}")

    def wait_exit(self, timeout: float = START_TIMEOUT_S) -> int:
        code = self.proc.wait(timeout)
        deadline = time.monotonic() + timeout
        while self._next(deadline - time.monotonic()) is not None:
            pass
        return code

    def output(self) -> str:
        return "\n".join(self.lines)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


# ---- naming and places ---------------------------------------------------------------


def test_the_name_is_per_user_and_per_resolved_vault(tmp_path: Path) -> None:
    vault = tmp_path / "vault"
    vault.mkdir()
    (tmp_path / "link").symlink_to(vault)
    key = instance_key(vault, "ada")
    assert instance_key(tmp_path / "link", "ada") == key
    assert instance_key(tmp_path / "link" / ".." / "vault", "ada") == key
    assert instance_key(vault, "bob") != key
    assert instance_key(tmp_path / "other", "ada") != key
    assert re.fullmatch(r"[0-9a-f]{24}", key)


def test_the_socket_lives_in_a_private_directory(tmp_path: Path, runtime_dir: Path,
                                                 monkeypatch) -> None:
    instance = SingleInstance(tmp_path / "vault")
    assert instance.claim().role == PRIMARY
    try:
        assert Path(instance.server_name).parent == runtime_dir / "plait"
        assert (runtime_dir / "plait").stat().st_mode & 0o777 == 0o700
    finally:
        instance.close()
    # without $XDG_RUNTIME_DIR: a folder of this user's own in the temp folder
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    monkeypatch.setattr(tempfile, "tempdir", str(runtime_dir))
    assert single_instance.private_runtime_dir() == runtime_dir / f"plait-{os.getuid()}"
    # a folder others may enter is refused: no hand-over, the launch runs as before
    (runtime_dir / f"plait-{os.getuid()}").chmod(0o777)
    claim = SingleInstance(tmp_path / "vault").claim(["plait://join?x"])
    assert claim.role == DISABLED and "not a private directory" in claim.detail


# ---- the hand-over ---------------------------------------------------------------------


@pytest.fixture
def first_window(qtbot, tmp_path: Path, runtime_dir: Path):
    """The first window on a vault, in this process: claimed, listening, with an opener."""
    made = []

    def make() -> tuple[MainWindow, SingleInstance]:
        vault = Vault(tmp_path / "vault", display_name="Bea")
        instance = SingleInstance(vault.path)
        assert instance.claim().role == PRIMARY
        assert instance.listen()
        settings = QSettings(str(tmp_path / "window.ini"), QSettings.Format.IniFormat)
        window = MainWindow(vault, settings, keys=KeyStore(MemoryKeyring(), timeout=5.0))
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        opener = LinkOpener.attach(window, instance)
        made.append((window, vault, instance, opener))
        return window, instance

    yield make
    for window, vault, instance, opener in made:
        QApplication.instance().removeEventFilter(opener)
        window.close()
        vault.close()
        instance.close()


def test_a_second_launch_hands_its_invite_to_the_running_window(qtbot, first_window,
                                                                 launch, tmp_path) -> None:
    window, _instance = first_window()
    window.showMinimized()
    link = invite_link()
    second = launch(tmp_path / "vault", link)
    qtbot.waitUntil(lambda: second.proc.poll() is not None, timeout=START_TIMEOUT_S * 1000)
    assert second.wait_exit() == 0, second.output()
    assert "passed on to the Plait window already open on this vault" in second.output()
    dialog = window.sync.dialog
    assert isinstance(dialog, JoinDialog) and dialog.isVisible()
    assert dialog.field.text() == link
    assert "Ada invites you to “Trip to Lisbon”" in dialog.message.text()
    assert dialog.join_button.isEnabled()
    assert not window.isMinimized()
    ARTIFACTS.mkdir(exist_ok=True)
    assert dialog.grab().save(str(ARTIFACTS / "handoff-join-dialog.png"))
    assert window.grab().save(str(ARTIFACTS / "handoff-window.png"))
    dialog.reject()


def test_arguments_that_arrive_before_the_window_wait_for_it(qtbot, tmp_path, runtime_dir,
                                                             launch) -> None:
    instance = SingleInstance(tmp_path / "vault")
    assert instance.claim().role == PRIMARY
    assert instance.listen()
    try:
        second = launch(tmp_path / "vault", invite_link("Early"))
        qtbot.waitUntil(lambda: second.proc.poll() is not None, timeout=START_TIMEOUT_S * 1000)
        assert second.wait_exit() == 0, second.output()
        got = []
        instance.set_handler(lambda args, env: got.append(args))
        assert len(got) == 1 and "name=Early" in got[0][0]
    finally:
        instance.close()


def test_a_crashed_window_s_socket_is_replaced_and_later_launches_reach_the_new_one(
        tmp_path: Path, launch, runtime_dir: Path) -> None:
    vault = tmp_path / "vault"
    first = launch(vault)
    first.wait_for(r"window ready on .* \(primary\)")
    sock = runtime_dir / "plait" / f"{instance_key(vault)}.sock"
    assert sock.exists()
    first.proc.send_signal(signal.SIGKILL)
    first.proc.wait(30)
    assert sock.exists(), "a killed process leaves its socket file behind"
    second = launch(vault)
    second.wait_for(r"window ready on .* \(primary\)")  # it did not hand over to a dead one
    third = launch(vault, invite_link())
    assert third.wait_exit() == 0, third.output()
    assert "passed on" in third.output()
    second.wait_for(r"raised the window and opened 1 invite link")
    assert second.proc.poll() is None


def test_two_launches_racing_end_with_one_window(tmp_path: Path, launch) -> None:
    vault = tmp_path / "vault"
    # the loser waits for the winner to open its window: allow a slow, busy machine
    a, b = launch(vault, timeout=START_TIMEOUT_S), launch(vault, timeout=START_TIMEOUT_S)
    with ThreadPoolExecutor(2) as pool:
        exits = {pool.submit(x.proc.wait): x for x in (a, b)}
        done, _ = wait(exits, timeout=START_TIMEOUT_S, return_when=FIRST_COMPLETED)
        try:
            assert len(done) == 1, "exactly one launch hands over and exits"
            loser = exits[done.pop()]
            winner = b if loser is a else a
            assert loser.wait_exit() == 0, loser.output()
            assert "passed on" in loser.output()
            winner.wait_for(r"window ready on .* \(primary\)")
            winner.wait_for(r"raised the window")
            assert winner.proc.poll() is None
            assert "read-only" not in winner.output()
        finally:
            a.stop()
            b.stop()


@pytest.mark.parametrize("first", ["never listens", "never answers"])
def test_a_first_window_that_does_not_answer_does_not_swallow_the_launch(
        tmp_path: Path, launch, runtime_dir: Path, first: str) -> None:
    """The lock is held and the vault open, but nobody answers: the launch opens the vault
    read-only and says why, instead of exiting as if the link had been delivered."""
    vault_path = tmp_path / "vault"
    holder = SingleInstance(vault_path)
    assert holder.claim().role == PRIMARY
    hung = None
    if first == "never answers":  # accepts connections (the kernel's backlog), reads nothing
        hung = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        hung.bind(holder.server_name)
        hung.listen(8)
    vault = Vault(vault_path, display_name="Hung")
    try:
        second = launch(vault_path, invite_link(), timeout=1.0)
        line = second.wait_for(r"banner: ")
        assert "A Plait window is already open on this vault but" in line
        assert "read-only" in line and "The invite link was not opened" in line
        expected = "did not respond" if hung else "is not accepting connections"
        assert expected in line
        second.wait_for(r"window ready on .* \(unreachable\)")
        assert second.proc.poll() is None, "the launch must not exit silently"
    finally:
        vault.close()
        holder.close()
        if hung is not None:
            hung.close()


def test_the_read_only_window_says_why_it_is_read_only(tmp_path: Path, runtime_dir: Path,
                                                      qtbot) -> None:
    vault_path = tmp_path / "vault"
    holder = SingleInstance(vault_path)
    assert holder.claim().role == PRIMARY
    vault = Vault(vault_path)
    try:
        claim = SingleInstance(vault_path, timeout_s=0.2).claim(["plait://join?x"])
        assert claim.role == UNREACHABLE
        shown, message = open_for_window(vault_path, claim, ["plait://join?x"])
        try:
            assert shown.read_only
            assert "is not accepting connections" in message
            settings = QSettings(str(tmp_path / "w.ini"), QSettings.Format.IniFormat)
            window = MainWindow(shown, settings)
            qtbot.addWidget(window)
            window.banner.show_message(message)
            window.show()
            qtbot.waitExposed(window)
            ARTIFACTS.mkdir(exist_ok=True)
            assert window.grab().save(str(ARTIFACTS / "handoff-unreachable-read-only.png"))
            window.close()
        finally:
            shown.close()
    finally:
        vault.close()
        holder.close()
    # the holder is gone: the next launch is first
    again = SingleInstance(vault_path)
    assert again.claim().role == PRIMARY
    again.close()


def test_a_launch_whose_first_window_quits_while_it_knocks_becomes_first(
        tmp_path: Path, runtime_dir: Path) -> None:
    holder = SingleInstance(tmp_path / "vault")
    assert holder.claim().role == PRIMARY
    knocker = SingleInstance(tmp_path / "vault", timeout_s=20)
    attempts = []
    take_lock = knocker._take_lock

    def take_lock_counting() -> bool:
        attempts.append(1)
        if len(attempts) == 2:  # its first knock found nobody listening: the first quits
            holder.close()
        return take_lock()

    knocker._take_lock = take_lock_counting
    assert knocker.claim().role == PRIMARY
    assert len(attempts) == 2
    knocker.close()


def test_macos_delivers_links_as_file_open_events(qtbot, first_window) -> None:
    window, _instance = first_window()
    link = invite_link("Via Finder")
    QApplication.sendEvent(QApplication.instance(), QFileOpenEvent(QUrl(link)))
    dialog = window.sync.dialog
    assert isinstance(dialog, JoinDialog) and dialog.field.text() == link
    dialog.reject()


# ---- the command line ----------------------------------------------------------------


def test_links_for_the_app_are_told_apart_from_commands() -> None:
    link = "plait://join?v=1&nb=x"
    assert split_links([link]) == ([], [link])
    assert split_links(["--vault", "/v", link]) == (["--vault", "/v"], [link])
    assert split_links(["--vault=/v", "PLAIT1-abc"]) == (["--vault=/v"], ["PLAIT1-abc"])
    assert split_links(["join", link]) == (["join", link], [])  # the command's argument
    assert split_links(["--vault", "plait:odd-folder"]) == (["--vault", "plait:odd-folder"], [])
    assert split_links(["--debug", "list", "--json"]) == (["--debug", "list", "--json"], [])


def test_a_link_before_a_command_is_an_error(run_cli) -> None:
    result = run_cli("plait://join?x", "list", check=False)
    assert result.returncode == 2
    assert "plait join LINK" in result.stderr
