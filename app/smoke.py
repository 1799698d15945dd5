"""`plait --smoke-test`: does this installation work? Installers and the bundle run it.

On a temporary vault, never the user's: open it, create a note, find it by full-text
search (whoosh), seal and open a sync envelope (libsodium through PyNaCl), then draw
the main window offscreen with its icons (Qt, its platform, image and icon plugins,
the packaged resources). One line per step on stdout; exit 0 when all pass, 1 at the
first failure, naming it. No network, no keyring, no settings are touched.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from . import __version__

WORD = "quokkaplait"  # a word no welcome text contains


def run_smoke_test(out=None) -> int:
    out = out or sys.stdout
    started = time.perf_counter()
    print(f"plait {__version__} smoke test ({sys.platform}, Python "
          f"{sys.version.split()[0]}{', bundled' if getattr(sys, 'frozen', False) else ''})",
          file=out, flush=True)
    with tempfile.TemporaryDirectory(prefix="plait-smoke-") as tmp:
        state: dict[str, object] = {"tmp": Path(tmp)}
        try:
            for name, step in STEPS:
                t0 = time.perf_counter()
                detail = step(state)
                print(f"  ok  {name:<10} {1000 * (time.perf_counter() - t0):7.1f} ms  {detail}",
                      file=out, flush=True)
        except Exception as exc:
            print(f"  FAILED  {name}: {type(exc).__name__}: {exc}", file=out, flush=True)
            traceback.print_exc(file=sys.stderr)
            return 1
        finally:
            _close(state)
    print(f"plait smoke test: ok in {time.perf_counter() - started:.2f} s", file=out, flush=True)
    return 0


def _vault(state: dict) -> str:
    from crdt_store.vault import Vault

    vault = Vault(state["tmp"] / "vault", display_name="Smoke test")
    state["vault"] = vault
    return str(vault.path)


def _note(state: dict) -> str:
    vault = state["vault"]
    notebook = vault.notebook_named("Notes")
    note_id = vault.create_note(notebook, f"# Smoke test\nPlait checks that {WORD} notes "
                                          "can be found. #smoke\n")
    vault.flush()
    state["note"] = note_id
    if vault.note_text(note_id).count(WORD) != 1:
        raise AssertionError("the note's text did not come back as written")
    return f"note {note_id[:8]}"


def _search(state: dict) -> str:
    vault = state["vault"]
    vault.wait_for_search(timeout=60)
    results = vault.search(WORD)
    ids = [hit.note_id for hit in results.hits]
    if ids != [state["note"]]:
        raise AssertionError(f"searching for {WORD!r} found {ids}, not the new note")
    tagged = vault.search("tag:smoke")
    if [hit.note_id for hit in tagged.hits] != [state["note"]]:
        raise AssertionError("searching by tag did not find the new note")
    return f"1 hit for {WORD!r}"


def _crypto(state: dict) -> str:
    from crdt_store.sync.envelope import UpdateMeta, open_envelope, seal_update
    from crdt_store.sync.keymaterial import DeviceKey, NotebookKey

    key, device = NotebookKey.generate(), DeviceKey.generate()
    notebook = "0" * 32
    meta = UpdateMeta(doc_id="1" * 32, kind="note", client=1, device="smoke", name="Smoke",
                      time=time.time(), made_on=b"", n=1)
    opened = open_envelope(key, notebook, seal_update(key, notebook, device, meta, b"update"))
    if opened.update != b"update" or opened.sender != device.public:
        raise AssertionError("a sealed envelope did not open to what was sealed")
    import crdt_store.sync.relay.server  # noqa: F401  (plait-relay's imports: websockets)

    return "sealed, signed, opened"


def _window(state: dict) -> str:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # never a window on screen
    from PySide6.QtCore import QSettings, qInstallMessageHandler
    from PySide6.QtWidgets import QApplication

    from .gui import make_application
    from .icons import ActionIcons, own_action_icon
    from .main_window import MainWindow

    qInstallMessageHandler(_qt_message)
    app = make_application()
    icon = app.windowIcon()
    sizes = sorted(s.width() for s in icon.availableSizes())
    if not sizes or sizes[0] > 16 or sizes[-1] < 512:
        raise AssertionError(f"the application icon has sizes {sizes}")
    if own_action_icon("search", app.palette()).pixmap(24, 24).toImage().isNull():
        raise AssertionError("an action icon did not draw (Qt SVG)")
    settings = QSettings(str(state["tmp"] / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(state["vault"], settings, keys=None)
    state["window"] = window
    icons = ActionIcons(window)
    window.show()
    deadline = time.monotonic() + 30
    while not window.isVisible() or window.notes_model.row_of(state["note"]) is None:
        app.processEvents()
        if time.monotonic() > deadline:
            raise AssertionError("the window did not list the new note")
    image = window.grab().toImage()
    if image.isNull() or image.width() < 200:
        raise AssertionError("the window did not draw")
    missing = [k for k, a in icons.applied.items() if a.icon().isNull()]
    if missing:
        raise AssertionError(f"actions without icons: {missing}")
    return (f"{QApplication.platformName()}, {image.width()}x{image.height()}, "
            f"{len(icons.applied)} action icons, app icon {sizes[0]}-{sizes[-1]} px")


def _qt_message(_mode, _context, message: str) -> None:
    if "propagateSizeHints" not in message:  # the offscreen platform's harmless note
        print(f"qt: {message}", file=sys.stderr)


def _close(state: dict) -> None:
    window = state.pop("window", None)
    if window is not None:
        window.close()
    vault = state.pop("vault", None)
    if vault is not None:
        vault.close()


STEPS: list[tuple[str, Callable[[dict], str]]] = [
    ("vault", _vault),
    ("note", _note),
    ("search", _search),
    ("crypto", _crypto),
    ("window", _window),
]
