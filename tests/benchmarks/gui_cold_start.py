"""One cold start of the window, run as a fresh process by bench_gui: prints one JSON line.

    python tests/benchmarks/gui_cold_start.py VAULT_DIR   # Plait's MainWindow on that vault
    python tests/benchmarks/gui_cold_start.py --bare      # Qt alone: QMainWindow, QListView,
                                                          # QPlainTextEdit; no vault, no app code

The clock starts at the first line of this script, before any import, so it counts
importing Qt and the app, opening the vault and building the window. First paint is
when the event-loop pass that delivers the window's first QEvent.Paint returns: Qt
paints the whole widget tree and flushes the backing store inside that one pass
(an event filter on the window sees the Paint; nothing is grabbed or forced).
If the parent passes PLAIT_BENCH_LAUNCH (its time.monotonic() just before starting
this process; CLOCK_MONOTONIC is system-wide on Linux), the JSON also gives the
time from launch, which adds the interpreter's own start-up.

Keys: first_paint_s, paint_seen_s, imports_s, vault_s, window_s (all since the top of
the script), launch_to_paint_s (or null), rss_mb (VmRSS at first paint), peak_rss_mb
(VmHWM), notes (rows in the note list), list_refresh_ms (median of 5 calls of
MainWindow.refresh_lists after first paint: what the window runs after a catalog change),
edit_update_ms (median of 5: the list update the window runs 50 ms after a keystroke).
"""

import time

T_TOP = time.perf_counter()

import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

PAINT_TIMEOUT_S = 60.0


def _status_mb(key: str) -> float | None:
    """A memory figure of this process from /proc/self/status, in MiB (None off Linux)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024  # reported in kB
    except OSError:
        pass
    if key == "VmHWM":
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return None


def main(argv: list[str]) -> int:
    bare = "--bare" in argv
    paths = [a for a in argv if not a.startswith("--")]
    if not bare and len(paths) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    from PySide6.QtCore import QEvent, QObject, QSettings, Qt
    from PySide6.QtWidgets import (
        QApplication,
        QListView,
        QMainWindow,
        QPlainTextEdit,
        QSplitter,
    )

    vault = window = None
    if not bare:
        from app.main_window import MainWindow
        from crdt_store.vault import Vault
    t_imports = time.perf_counter()

    app = QApplication(sys.argv[:1])
    app.setOrganizationName("Plait")  # as app.gui.run_gui does
    app.setApplicationName("Plait")
    app.setApplicationDisplayName("Plait")
    with tempfile.TemporaryDirectory() as tmp:
        if bare:
            t_vault = time.perf_counter()
            window = QMainWindow()
            splitter = QSplitter(Qt.Orientation.Horizontal)
            splitter.addWidget(QListView())
            splitter.addWidget(QListView())
            splitter.addWidget(QPlainTextEdit())
            splitter.setSizes([200, 300, 600])
            window.setCentralWidget(splitter)
            window.resize(1100, 700)
            window.statusBar()
            window.menuBar().addMenu("&File")
        else:
            vault = Vault(paths[0])
            t_vault = time.perf_counter()
            settings = QSettings(str(Path(tmp) / "settings.ini"), QSettings.Format.IniFormat)
            window = MainWindow(vault, settings)
        t_window = time.perf_counter()

        class PaintWatcher(QObject):
            seen: float | None = None

            def eventFilter(self, obj, event) -> bool:
                if self.seen is None and event.type() == QEvent.Type.Paint:
                    self.seen = time.perf_counter()
                return False

        watcher = PaintWatcher()
        window.installEventFilter(watcher)
        window.show()
        deadline = time.perf_counter() + PAINT_TIMEOUT_S
        while watcher.seen is None:
            app.processEvents()
            if time.perf_counter() > deadline:
                print("no paint event within the timeout", file=sys.stderr)
                return 1
        t_paint = time.perf_counter()
        launch_to_paint = None
        if os.environ.get("PLAIT_BENCH_LAUNCH"):
            launch_to_paint = time.monotonic() - float(os.environ["PLAIT_BENCH_LAUNCH"])
        rss = _status_mb("VmRSS")
        peak = _status_mb("VmHWM")
        window.removeEventFilter(watcher)

        notes = refresh_ms = edit_update_ms = None
        if not bare:
            notes = window.notes_model.rowCount()
            runs = []
            for _ in range(5):
                t0 = time.perf_counter()
                window.refresh_lists()
                runs.append(time.perf_counter() - t0)
            refresh_ms = statistics.median(runs) * 1e3
            # What the window does 50 ms after a keystroke: move the edited note's row.
            note_id = window.notes_model.note_id_at(notes // 2)
            runs = []
            for _ in range(5):
                vault.append_text(note_id, "x")
                t0 = time.perf_counter()
                window._apply_changes()
                runs.append(time.perf_counter() - t0)
            edit_update_ms = statistics.median(runs) * 1e3

        result = {
            "first_paint_s": t_paint - T_TOP,
            "paint_seen_s": watcher.seen - T_TOP,
            "imports_s": t_imports - T_TOP,
            "vault_s": t_vault - T_TOP,
            "window_s": t_window - T_TOP,
            "launch_to_paint_s": launch_to_paint,
            "rss_mb": rss,
            "peak_rss_mb": peak,
            "notes": notes,
            "list_refresh_ms": refresh_ms,
            "edit_update_ms": edit_update_ms,
        }
        window.close()
        app.processEvents()
        if vault is not None:
            vault.close()
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
