"""What the window remembers between runs, stored with QSettings."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QSettings


class WindowSettings:
    """Typed access to the few values the main window keeps."""

    def __init__(self, settings: QSettings) -> None:
        self._s = settings

    def geometry(self) -> QByteArray | None:
        return self._bytes("window/geometry")

    def splitter(self) -> QByteArray | None:
        return self._bytes("window/splitter")

    def window_state(self) -> QByteArray | None:
        """Docks and their places (QMainWindow.saveState)."""
        return self._bytes("window/state")

    def review_threshold(self, default: int) -> int:
        """How many characters apart concurrent edits on one line may be and still be
        flagged for review."""
        try:
            return int(self._s.value("review/threshold", default))
        except (TypeError, ValueError):
            return default

    def set_review_threshold(self, value: int) -> None:
        self._s.setValue("review/threshold", value)

    def last_note(self) -> tuple[str | None, int]:
        note = self._s.value("editor/last_note")
        position = self._s.value("editor/cursor", 0)
        return (str(note) if note else None), int(position or 0)

    def save(self, geometry: QByteArray, splitter: QByteArray, note_id: str | None,
             cursor: int, state: QByteArray | None = None) -> None:
        self._s.setValue("window/geometry", geometry)
        self._s.setValue("window/splitter", splitter)
        if state is not None:
            self._s.setValue("window/state", state)
        self._s.setValue("editor/last_note", note_id or "")
        self._s.setValue("editor/cursor", cursor)
        self._s.sync()

    def relays(self) -> list[str]:
        """The relay servers last used to share a notebook (to suggest them again)."""
        value = self._s.value("sync/relays", "")
        return [url for url in str(value or "").split() if url]

    def set_relays(self, urls: tuple[str, ...]) -> None:
        self._s.setValue("sync/relays", " ".join(urls))

    def _bytes(self, key: str) -> QByteArray | None:
        value = self._s.value(key)
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None
