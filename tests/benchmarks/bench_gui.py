"""GUI benchmark: typing and remote edits in the editor on a 100k-character note, and cold start.

Offscreen Qt (QT_QPA_PLATFORM=offscreen unless set), local disk only. Every latency is
compared with a plain QPlainTextEdit doing the same thing in the same run, interleaved
per event, because these machines are noisy. Cold start runs in fresh processes
(tests/benchmarks/gui_cold_start.py). Run with `make bench ARGS=gui`
(or `python -m tests.benchmarks gui`); `--limit N` caps the keystrokes and remote updates.
"""

from __future__ import annotations

import atexit
import gc
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path

from .bench_store import load_trace
from .table import print_table

KEYSTROKES = 300
REMOTE_UPDATES = 200
WARMUP = 10  # untimed events per widget before measuring
COLD_RUNS = 3
COLD_NOTES = 10_000
COLD_NOTEBOOKS = 10
EDITOR_SIZE = (600, 660)  # about the editor pane of the 1100x700 main window
COLD_START = Path(__file__).parent / "gui_cold_start.py"
ROOT = Path(__file__).resolve().parents[2]


def _app():
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    return QApplication.instance() or QApplication([sys.argv[0]])


def _pct(values: list[float], pct: int) -> float:
    """The pct-th percentile (nearest rank, as bench_store) in milliseconds."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, len(ordered) * pct // 100)] * 1e3


class Editors:
    """Plait's NoteEditor on a vault note, beside two plain QPlainTextEdits with the same text.

    `plait`: NoteEditor + MarkdownHighlighter, as MainWindow sets it up.
    `bare`: QPlainTextEdit, configured like NoteEditor (Qt undo off, 12 px margin).
    `hl`: the same plus the MarkdownHighlighter: what highlighting alone costs.
    All three sit side by side in one window, so they share a backing store; each
    gets the focus before its event, outside the clock.
    """

    def __init__(self, vault_dir: Path, text: str) -> None:
        from PySide6.QtWidgets import QHBoxLayout, QPlainTextEdit, QWidget

        from app.bridge import VaultBridge
        from app.markdown_highlighter import MarkdownHighlighter
        from app.note_editor import NoteEditor
        from crdt_store.vault import Vault

        self.app = _app()
        self.vault = Vault(vault_dir)
        self.note_id = self.vault.create_note(self.vault.create_notebook("Bench"), text)
        self.vault.flush()
        self.bridge = VaultBridge(self.vault)
        self.plait = NoteEditor(self.bridge)
        self._highlighters = [MarkdownHighlighter(self.plait.document(), self.plait.palette())]
        self.bare = QPlainTextEdit()
        self.hl = QPlainTextEdit()
        for widget in (self.bare, self.hl):
            widget.setUndoRedoEnabled(False)
            widget.document().setDocumentMargin(12)
            widget.setPlainText(text)
        self._highlighters.append(MarkdownHighlighter(self.hl.document(), self.hl.palette()))
        self.window = QWidget()
        layout = QHBoxLayout(self.window)
        for widget in self.widgets().values():
            widget.setFixedSize(*EDITOR_SIZE)
            layout.addWidget(widget)
        self.window.show()
        self.window.activateWindow()
        self.plait.open_note(self.note_id)
        self.settle()

    def widgets(self) -> dict:
        return {"plait": self.plait, "bare": self.bare, "hl": self.hl}

    def settle(self) -> None:
        for _ in range(3):
            self.app.processEvents()
        while self.plait._dirty:
            self.app.processEvents()

    def focus(self, widget, position: int) -> None:
        """Put the cursor at `position` (scrolling to it) and the focus in `widget`; untimed."""
        cursor = widget.textCursor()
        cursor.setPosition(position)
        widget.setTextCursor(cursor)
        widget.setFocus()
        self.settle()
        widget.viewport().repaint()

    def texts_agree(self) -> bool:
        text = self.bare.toPlainText()
        return (text == self.hl.toPlainText() == self.plait.widget_text()
                == self.vault.note_text(self.note_id))

    def close(self) -> None:
        self.plait.close_note()
        self.bridge.close()
        self.window.close()
        self.window.deleteLater()
        self.settle()
        self.vault.close()


def _rounds(n: int, seed: int, eds: Editors, make_event: Callable[[random.Random], tuple],
            step: Callable[[str, object, tuple], float]) -> dict[str, list[float]]:
    """Per round, draw one event and time `step(name, widget, event)` for each widget,
    rotating which goes first. The first WARMUP rounds are not kept."""
    times: dict[str, list[float]] = {name: [] for name in eds.widgets()}
    rng = random.Random(seed)
    names = list(times)
    gc.collect()
    for i in range(WARMUP + n):
        event = make_event(rng)
        for name in names[i % 3:] + names[:i % 3]:
            seconds = step(name, eds.widgets()[name], event)
            if i >= WARMUP:
                times[name].append(seconds)
    return times


def keystroke_latency(eds: Editors, n: int) -> dict[str, list[float]]:
    """Seconds from a key press to the repainted viewport, with the CRDT commit inside.

    Untimed: place the cursor at a random position (the view scrolls there), focus the
    widget, let everything settle and paint. Timed: QTest.keyClick of a random
    lower-case letter (press and release, delivered synchronously), processEvents until
    NoteEditor's 0 ms commit timer has fired (`not _dirty`; the plain widgets get one
    processEvents), then a synchronous full `viewport().repaint()`.
    """
    from PySide6.QtTest import QTest

    app = eds.app

    def make_event(rng: random.Random) -> tuple[int, str]:
        position = rng.randrange(eds.bare.document().characterCount())
        return position, chr(ord("a") + rng.randrange(26))

    def step(name: str, widget, event: tuple[int, str]) -> float:
        position, letter = event
        eds.focus(widget, position)
        t0 = time.perf_counter()
        QTest.keyClick(widget, letter)
        app.processEvents()
        if name == "plait":
            while widget._dirty:
                app.processEvents()
        widget.viewport().repaint()
        return time.perf_counter() - t0

    return _rounds(n, 1, eds, make_event, step)


def remote_latency(eds: Editors, peer_dir: Path, n: int) -> dict[str, list[float]]:
    """Seconds from a collaborator's one-character update to the repainted viewport.

    A second vault (its own directory) gets the note through encode_state /
    apply_remote_update, as tests/conftest.py sync_once does. Per update, untimed:
    the peer inserts one letter at a random position and encodes what the editor's
    vault lacks. Timed for Plait: vault.apply_remote_update on this (the GUI) thread,
    which publishes through VaultBridge.note_changed to NoteEditor.apply_ops, then
    processEvents and a synchronous viewport().repaint(). The plain widgets get the
    same insert through a QTextCursor (insertText), then processEvents and repaint.
    The editors' cursors and scroll stay where they are.
    """
    from PySide6.QtGui import QTextCursor

    from crdt_store.events import DocKind
    from crdt_store.unicode_offsets import TextOp
    from crdt_store.vault import Vault

    app, vault, note_id = eds.app, eds.vault, eds.note_id
    peer = Vault(peer_dir)
    for doc_id, kind in vault.documents():
        missing = vault.encode_state(doc_id, peer.state_vector(doc_id))
        peer.apply_remote_update(doc_id, kind, missing, author=vault.author, wall_time=time.time())
    assert peer.note_text(note_id) == vault.note_text(note_id)
    middle = eds.bare.document().characterCount() // 2
    for widget in eds.widgets().values():
        eds.focus(widget, middle)

    def make_event(rng: random.Random) -> tuple[int, str, bytes]:
        position = rng.randrange(eds.bare.document().characterCount())
        letter = chr(ord("a") + rng.randrange(26))
        peer.edit(note_id, [TextOp(position, 0, letter)])
        return position, letter, peer.encode_state(note_id, vault.state_vector(note_id))

    def step(name: str, widget, event: tuple[int, str, bytes]) -> float:
        position, letter, update = event
        widget.setFocus()
        eds.settle()
        widget.viewport().repaint()
        t0 = time.perf_counter()
        if name == "plait":
            change = vault.apply_remote_update(note_id, DocKind.NOTE, update,
                                               author=peer.author, wall_time=time.time())
        else:
            cursor = QTextCursor(widget.document())
            cursor.setPosition(position)
            cursor.insertText(letter)
        app.processEvents()
        widget.viewport().repaint()
        seconds = time.perf_counter() - t0
        if name == "plait":
            assert change is not None and change.ops, "the remote update changed nothing"
        assert widget.document().characterAt(position) == letter, "the insert is not shown"
        return seconds

    times = _rounds(n, 2, eds, make_event, step)
    peer_text = peer.note_text(note_id)
    peer.close()
    assert peer_text == vault.note_text(note_id), "the peer and the editor's vault diverged"
    return times


@cache
def cold_vault() -> Path:
    """A vault of 10,000 small notes in 10 notebooks, built once per process, compacted."""
    from crdt_store.vault import Vault

    tmp = tempfile.TemporaryDirectory(prefix="plait-bench-10k-")
    atexit.register(tmp.cleanup)
    path = Path(tmp.name) / "vault"
    with Vault(path) as vault:
        books = [vault.create_notebook(f"Notebook {i}") for i in range(COLD_NOTEBOOKS)]
        for i in range(COLD_NOTES):
            vault.create_note(books[i % COLD_NOTEBOOKS],
                              f"# Note {i}\n\nA few words about item {i}, tagged #topic{i % 50}.\n"
                              f"- [ ] follow up on {i}\n", created=1.7e9 + i)
        vault.compact()
    return path


def cold_start(vault_dir: Path | None) -> dict:
    """One fresh `python gui_cold_start.py` (vault_dir None: --bare); its JSON result."""
    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
    args = [sys.executable, str(COLD_START), str(vault_dir) if vault_dir else "--bare"]
    env["PLAIT_BENCH_LAUNCH"] = repr(time.monotonic())
    proc = subprocess.run(args, capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=120, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{COLD_START.name} failed ({proc.returncode}): {proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def cold_starts(vault_dir: Path, runs: int = COLD_RUNS) -> tuple[dict, dict]:
    """Median of each figure over `runs` Plait and bare starts, alternating, after one
    untimed start of each (so the OS file cache is equally warm for all)."""
    cold_start(vault_dir)
    cold_start(None)
    plait, bare = [], []
    for _ in range(runs):
        plait.append(cold_start(vault_dir))
        bare.append(cold_start(None))

    def medians(results: list[dict]) -> dict:
        return {k: (statistics.median(r[k] for r in results)
                    if results[0][k] is not None else None) for k in results[0]}

    return medians(plait), medians(bare)


def _latency_rows(label: str, times: dict[str, list[float]]) -> list[tuple[str, str, str, str]]:
    p, b, h = times["plait"], times["bare"], times["hl"]
    rows = []
    for pct in (50, 95):
        rows.append((f"{label}, p{pct} (ms)", f"{_pct(p, pct):.2f}", f"{_pct(b, pct):.2f}",
                     f"{_pct(p, pct) / _pct(b, pct):.2f}x"))
    rows += [
        ("  added by Plait, p50 / p95 (ms)",
         f"{_pct(p, 50) - _pct(b, 50):.2f} / {_pct(p, 95) - _pct(b, 95):.2f}", "", ""),
        ("  vs QPlainTextEdit + highlighter, p50 / p95 (ms)",
         f"{_pct(p, 50):.2f} / {_pct(p, 95):.2f}", f"{_pct(h, 50):.2f} / {_pct(h, 95):.2f}",
         f"{_pct(p, 50) / _pct(h, 50):.2f}x / {_pct(p, 95) / _pct(h, 95):.2f}x"),
        ("  added beyond the highlighter, p50 / p95 (ms)",
         f"{_pct(p, 50) - _pct(h, 50):.2f} / {_pct(p, 95) - _pct(h, 95):.2f}", "", ""),
    ]
    return rows


def run(limit: int | None = None) -> tuple[list[tuple[str, str, str, str]], dict]:
    text = load_trace()["endContent"]
    keys = KEYSTROKES if limit is None else max(1, min(KEYSTROKES, limit))
    updates = REMOTE_UPDATES if limit is None else max(1, min(REMOTE_UPDATES, limit))
    with tempfile.TemporaryDirectory(prefix="plait-bench-gui-") as tmp:
        eds = Editors(Path(tmp) / "editor", text)
        try:
            typed = keystroke_latency(eds, keys)
            assert eds.texts_agree(), "typing left the editors and the vault out of step"
            remote = remote_latency(eds, Path(tmp) / "peer", updates)
            assert eds.texts_agree(), "remote updates left the editors out of step"
        finally:
            eds.close()
    t0 = time.perf_counter()
    vault_dir = cold_vault()
    build_s = time.perf_counter() - t0
    plait, bare = cold_starts(vault_dir)
    assert plait["notes"] == COLD_NOTES, f"the window listed {plait['notes']} notes"

    rows = _latency_rows("keystroke to repaint", typed)
    rows += _latency_rows("remote 1-char update to repaint", remote)
    rows += [
        ("cold start to first paint, median (s)", f"{plait['first_paint_s']:.2f}",
         f"{bare['first_paint_s']:.2f}", f"{plait['first_paint_s'] / bare['first_paint_s']:.2f}x"),
        ("  from process launch (s)", f"{plait['launch_to_paint_s']:.2f}",
         f"{bare['launch_to_paint_s']:.2f}",
         f"{plait['launch_to_paint_s'] / bare['launch_to_paint_s']:.2f}x"),
        ("  imports / vault open / window built (s)",
         (f"{plait['imports_s']:.2f} / {plait['vault_s'] - plait['imports_s']:.2f}"
          f" / {plait['window_s'] - plait['vault_s']:.2f}"),
         f"{bare['imports_s']:.2f} / - / {bare['window_s'] - bare['vault_s']:.2f}", ""),
        ("RSS at first paint, median (MB)", f"{plait['rss_mb']:.0f}", f"{bare['rss_mb']:.0f}",
         f"{plait['rss_mb'] / bare['rss_mb']:.2f}x"),
        ("  peak RSS (MB)", f"{plait['peak_rss_mb']:.0f}", f"{bare['peak_rss_mb']:.0f}",
         f"{plait['peak_rss_mb'] / bare['peak_rss_mb']:.2f}x"),
        ("note list after a catalog change, 10k notes (ms)", f"{plait['list_refresh_ms']:.0f}",
         "", ""),
        ("note list after a keystroke, 10k notes (ms)", f"{plait['edit_update_ms']:.0f}", "", ""),
    ]
    info = {"keys": keys, "updates": updates, "chars": len(text), "build_s": build_s}
    return rows, info


def main(limit: int | None = None) -> tuple[tuple[str, ...], list]:
    rows, info = run(limit)
    print(f"\nGUI benchmark: {info['chars']:,}-character note, {info['keys']} keystrokes,"
          f" {info['updates']} remote updates; cold start on {COLD_NOTES:,} notes"
          f" (median of {COLD_RUNS}; vault built in {info['build_s']:.1f} s)")
    print_table(rows)
    print("baselines: plain QPlainTextEdit (Qt undo off, same margin), same text and events,"
          " interleaved per event in one window; '+ highlighter' adds MarkdownHighlighter to it;"
          " cold start: gui_cold_start.py --bare (Qt widgets only, no vault). Targets: added p95"
          " <= 16 ms, first paint <= 1.5 s, RSS <= 300 MB. Note-list refresh: the"
          " MainWindow.refresh_lists after a catalog change, and the row update 50 ms after a"
          " keystroke.")
    return ("measure", "plait", "baseline", "ratio"), rows
