"""Check a built bundle as a user gets it (`make bundle` runs this after build.py).

    python packaging/bundle/check.py dist/plait-VERSION-linux-x86_64.tar.gz [--shots DIR]

Unpacks the archive into a fresh folder and, with a throwaway HOME and XDG folders:
runs `plait --version` and `plait --smoke-test` (timing cold starts), starts
`plait-relay` on a free loopback port and stops it, opens the window offscreen and
times it to first paint, hands an invite link from a second launch to that window,
and installs and removes the desktop integration. Where Xvfb is installed it also
opens the window on a real X server (Qt's xcb platform, from the bundle), times it,
and saves a screenshot. Prints the sizes and times, and exits 1 at the first failure.
"""

from __future__ import annotations

import argparse
import os
import queue
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from crdt_store.sync.invite import make_invite  # noqa: E402
from crdt_store.sync.keymaterial import NotebookKey  # noqa: E402

TIMEOUT_S = 120


class Failed(Exception):
    pass


class Running:
    """A started process whose output is read on a thread, to wait for lines."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(args, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True)
        self.lines: list[tuple[float, str]] = []
        self._queue: queue.Queue[tuple[float, str | None]] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        for line in self.proc.stdout:
            self._queue.put((time.perf_counter(), line.rstrip("\n")))
        self._queue.put((time.perf_counter(), None))

    def wait_for(self, pattern: str, timeout: float = TIMEOUT_S) -> float:
        """Seconds from the start to the first line matching `pattern`."""
        for when, line in self.lines:
            if re.search(pattern, line):
                return when - self.started
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                when, line = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            self.lines.append((when, line))
            if re.search(pattern, line):
                return when - self.started
        raise Failed(f"no line matching {pattern!r} from {self.proc.args[0]}:\n"
                     + "\n".join(line for _when, line in self.lines[-30:]))

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self.proc.wait(20)


def run(args: list, env: dict[str, str], cwd: Path, timeout: float = TIMEOUT_S) -> tuple[str, float]:
    started = time.perf_counter()
    proc = subprocess.run([str(a) for a in args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)
    took = time.perf_counter() - started
    if proc.returncode != 0:
        raise Failed(f"{args} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout + proc.stderr, took


def size_of(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def check(archive: Path, shots: Path | None) -> dict[str, str]:
    report: dict[str, str] = {"archive": f"{archive.name}: {archive.stat().st_size / 2**20:.1f} MiB"}
    with tempfile.TemporaryDirectory(prefix="plait-bundle-") as tmp_name:
        tmp = Path(tmp_name)
        with tarfile.open(archive) as tar:
            tar.extractall(tmp / "unpacked", filter="tar")
        (folder,) = (tmp / "unpacked").iterdir()
        report["unpacked"] = f"{size_of(folder) / 2**20:.1f} MiB"
        plait, relay = folder / "plait", folder / "plait-relay"
        home = tmp / "home"
        runtime = Path(tempfile.mkdtemp(prefix="plb-", dir="/tmp"))
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("PYTHON", "PLAIT_", "XDG_", "QT_", "VIRTUAL_ENV", "LD_"))}
        env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"),
                   XDG_DATA_HOME=str(home / ".local/share"), XDG_RUNTIME_DIR=str(runtime),
                   PATH="/usr/bin:/bin", PLAIT_FILE_KEYRING=str(tmp / "keys.json"))
        offscreen = {**env, "QT_QPA_PLATFORM": "offscreen"}
        try:
            out, _ = run([plait, "--version"], env, tmp)
            report["version"] = out.strip()

            times = []
            for _ in range(3):
                out, took = run([plait, "--smoke-test"], offscreen, tmp)
                if "plait smoke test: ok" not in out:
                    raise Failed(out)
                times.append(took)
            report["--smoke-test"] = (f"exit 0; first run {times[0]:.2f} s, "
                                      f"median of 3 {statistics.median(times):.2f} s")

            server = Running([str(relay), "--port", "0", "--data", str(tmp / "relay")], env, tmp)
            took = server.wait_for(r"plait-relay listening on ws://127\.0\.0\.1:\d+")
            port = int(next(m.group(1) for _w, line in server.lines if (m := re.fullmatch(
                r"plait-relay listening on ws://127\.0\.0\.1:(\d+)", line))))
            with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
                conn.sendall(b"GET / HTTP/1.1\r\nHost: relay\r\n\r\n")
                conn.recv(200)  # answered: its event loop runs, SIGTERM is handled now
            code = server.stop()
            if code != 0:
                raise Failed(f"plait-relay exited {code} on SIGTERM")
            report["plait-relay"] = f"listening after {took:.2f} s, exit 0 on SIGTERM"

            report["window offscreen"] = window_checks(plait, offscreen, tmp, "offscreen")
            if shutil.which("Xvfb"):
                report["window on X11"] = on_xvfb(plait, env, tmp, shots)
            else:
                report["window on X11"] = "not checked: Xvfb is not installed"

            if sys.platform.startswith("linux"):
                out, _ = run(["sh", folder / "install-desktop.sh"], env, tmp)
                entry = home / ".local/share/applications/app.plait.Plait.desktop"
                if f"Exec={plait} %u" not in entry.read_text():
                    raise Failed(f"the menu entry does not run the bundle's plait:\n"
                                 f"{entry.read_text()}")
                run(["sh", folder / "uninstall-desktop.sh"], env, tmp)
                if entry.exists():
                    raise Failed("uninstall-desktop.sh left the menu entry")
                report["desktop integration"] = "install-desktop.sh and uninstall-desktop.sh ok"
        finally:
            shutil.rmtree(runtime, ignore_errors=True)
    return report


def window_checks(plait: Path, env: dict[str, str], tmp: Path, label: str,
                  shots: Path | None = None, display: str | None = None) -> str:
    """Open the window on a new vault, time it to first paint, and hand it an invite."""
    vault = tmp / f"vault-{label}"
    first = Running([str(plait), "--debug", "--vault", str(vault)], env, tmp)
    try:
        paint = first.wait_for(r"first paint")
        first.wait_for(r"window ready on")
        if shots is not None and display is not None:
            screenshot(display, shots / f"bundle-window-{label}.png", env)
        invite = make_invite("cd" * 16, "Bundle check", NotebookKey.generate().to_text(),
                             ("ws://127.0.0.1:9",), "Check").link()
        out, took = run([plait, "--vault", str(vault), invite], env, tmp)
        if "passed on" not in out:
            raise Failed(f"the second launch did not hand over:\n{out}")
        first.wait_for(r"raised the window and opened 1 invite link")
        if shots is not None and display is not None:
            screenshot(display, shots / f"bundle-handoff-{label}.png", env)
        if first.proc.poll() is not None:
            raise Failed("the first window exited")
    finally:
        first.stop()
    return f"first paint {paint:.2f} s after launch; invite handed over in {took:.2f} s"


def on_xvfb(plait: Path, env: dict[str, str], tmp: Path, shots: Path | None) -> str:
    read_fd, write_fd = os.pipe()
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0",
                             "1280x800x24", "-nolisten", "tcp"], pass_fds=(write_fd,),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_fd)
    try:
        with os.fdopen(read_fd) as pipe:
            number = pipe.readline().strip()
        if not number:
            raise Failed("Xvfb did not start")
        display = f":{number}"
        x_env = {**env, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb"}
        return window_checks(plait, x_env, tmp, "xcb", shots, display)
    finally:
        xvfb.terminate()
        xvfb.wait(20)


def screenshot(display: str, path: Path, env: dict[str, str]) -> None:
    """The whole X screen, grabbed by a Qt client (this Python's PySide6)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    code = ("import sys; from PySide6.QtGui import QGuiApplication; "
            "app = QGuiApplication(sys.argv[:1]); "
            "sys.exit(0 if app.primaryScreen().grabWindow(0).save(sys.argv[1]) else 1)")
    probe_env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb"}
    probe_env.pop("PYTHONPATH", None)
    run([sys.executable, "-c", code, path], probe_env, Path(env["HOME"]).parent, timeout=60)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("archive", type=Path)
    parser.add_argument("--shots", type=Path, default=ROOT / "build" / "bundle-shots",
                        help="where the X11 screenshot goes")
    args = parser.parse_args(argv)
    try:
        report = check(args.archive.resolve(), args.shots.resolve())
    except (Failed, subprocess.TimeoutExpired, OSError) as exc:
        print(f"bundle check FAILED: {exc}", file=sys.stderr)
        return 1
    width = max(map(len, report))
    for key, value in report.items():
        print(f"  {key:<{width}}  {value}")
    print("bundle: all checks ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
