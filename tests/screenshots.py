"""Screenshots of widgets into tests/artifacts, to look at after a GUI change."""

from __future__ import annotations

from .conftest import ARTIFACTS


def shot(widget, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    assert widget.grab().save(str(ARTIFACTS / name))
