"""The one helper that runs work off the GUI thread and hands the outcome back to it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from PySide6.QtCore import QObject, Signal

log = logging.getLogger(__name__)


class Background(QObject):
    """Runs jobs, in order, on one worker thread; `on_done(result)` or `on_error(exc)` then
    runs on the GUI thread (through a queued signal), never on the worker."""

    _finished = Signal(object, object)  # the callback to run, its argument

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="plait-gui-worker")
        self._finished.connect(lambda callback, value: callback(value))

    def run(self, job: Callable[[], Any], on_done: Callable[[Any], None],
            on_error: Callable[[Exception], None]) -> None:
        def work() -> None:
            try:
                result = job()
            except Exception as exc:  # handed to on_error on the GUI thread
                log.debug("background job failed", exc_info=exc)
                self._finished.emit(on_error, exc)
            else:
                self._finished.emit(on_done, result)

        self._executor.submit(work)

    def close(self) -> None:
        """Drop jobs not started yet and wait for the running one."""
        self._executor.shutdown(wait=True, cancel_futures=True)
