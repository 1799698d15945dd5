"""The project's shape: the store never depends on Qt or on the app."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = ("PySide6", "PyQt5", "PyQt6", "shiboken6", "app")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def test_crdt_store_never_imports_qt_or_app() -> None:
    offenders = []
    files = sorted((ROOT / "crdt_store").rglob("*.py"))
    assert files, "crdt_store has no Python files"
    for path in files:
        for module in imported_modules(path):
            if module.split(".")[0] in FORBIDDEN:
                offenders.append(f"{path.relative_to(ROOT)} imports {module}")
    assert offenders == []


def test_the_import_scan_catches_a_qt_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from PySide6.QtCore import QObject\n    import app.gui\n")
    assert {"PySide6.QtCore", "app.gui"} <= imported_modules(bad)


def test_top_level_layout() -> None:
    for name in ("pyproject.toml", "app", "resources", "crdt_store", "packaging", "tests",
                 "README.md", "Makefile", ".ci/run"):
        assert (ROOT / name).exists(), f"{name} is missing"


def test_the_qt_binding_does_not_leak_references_to_none() -> None:
    """PySide6 6.12.0 on Python 3.11 dropped a reference to None on every call of a Qt
    method that returns nothing, and the app aborted after a few thousand calls; the
    dependency pin keeps that version out. This fails if it ever comes back."""
    import sys

    from PySide6.QtCore import QObject

    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(2000):
        probe.setObjectName("probe")
    assert before - sys.getrefcount(None) < 100
