"""The GUI's background helper: jobs run off the GUI thread, outcomes come back on it."""

from __future__ import annotations

import threading

import pytest

from app.background import Background


@pytest.fixture
def background(qtbot):
    helper = Background()
    yield helper
    helper.close()


def test_a_job_runs_off_the_gui_thread_and_its_result_arrives_on_it(qtbot, background) -> None:
    gui = threading.current_thread()
    seen: dict[str, object] = {}

    def job() -> int:
        seen["job thread"] = threading.current_thread()
        return 42

    def done(value: int) -> None:
        seen["result"] = value
        seen["callback thread"] = threading.current_thread()

    background.run(job, done, lambda exc: seen.setdefault("error", exc))
    qtbot.waitUntil(lambda: "result" in seen)
    assert seen["result"] == 42
    assert seen["job thread"] is not gui
    assert seen["callback thread"] is gui
    assert "error" not in seen


def test_a_failing_job_reports_its_exception_on_the_gui_thread(qtbot, background) -> None:
    errors: list[tuple[Exception, threading.Thread]] = []

    def job() -> None:
        raise ValueError("the disk said no")

    background.run(job, lambda _v: None,
                   lambda exc: errors.append((exc, threading.current_thread())))
    qtbot.waitUntil(lambda: bool(errors))
    exc, thread = errors[0]
    assert isinstance(exc, ValueError) and str(exc) == "the disk said no"
    assert thread is threading.current_thread()


def test_jobs_run_in_the_order_given(qtbot, background) -> None:
    results: list[int] = []
    for i in range(20):
        background.run(lambda i=i: i, results.append, pytest.fail)
    qtbot.waitUntil(lambda: len(results) == 20)
    assert results == list(range(20))
