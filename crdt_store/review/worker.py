"""Close-merge detection on its own thread, so merging never waits for it.

The owner thread (the GUI's, which applies merges) hands each note change to
`DetectionThread.submit`: a queue put, plus what the detector cannot read from
another thread (the note's text when the detector has not seen it yet, its saved
runs, whether others can edit it). The worker runs the Detector. Flags it raises go
back to the owner through `post` (the vault's cross-thread callback queue).

Owner-side reads of the detector's state (`call`) take its lock after `drain`, which
waits until every change handed over so far has been looked at: Go to and Keep see
anchors that match the text.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from ..events import ChangeEvent, Source
from .detector import CloseMerge, Detector, TextNeeded

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Job:
    event: ChangeEvent
    shared: bool
    text: str | None  # the note's text after the change, when the detector needs it
    stored: str | None  # its saved runs and anchors, the first time it is seen


class DetectionThread:
    """A Detector fed from the owner thread. `text_of`, `load` and `shared` are called on
    the owner thread only; `deliver(merges)` runs there too, via `post`."""

    def __init__(self, *, text_of: Callable[[str], str], load: Callable[[str], str | None],
                 shared: Callable[[str], bool], deliver: Callable[[list[CloseMerge]], None],
                 post: Callable[[Callable[[], None]], None], threshold: int,
                 still_open: Callable[[str], bool]) -> None:
        self._text_of, self._load, self._shared = text_of, load, shared
        self._deliver, self._post = deliver, post
        self._known: set[str] = set()  # notes whose text the detector is following
        self._loaded: set[str] = set()  # notes whose saved state was handed over
        self._plain: set[str] = set()  # unshared notes with nothing to follow: skipped
        self._lost: deque[str] = deque()  # notes whose text the detector let go of (worker)
        self._job: _Job | None = None
        self._raised: list[CloseMerge] = []
        self._raised_lock = threading.Lock()
        self._lock = threading.Lock()  # the detector's state
        # A deque and an event rather than queue.Queue: a put there costs a lock and a
        # notify on every merge; here only an idle worker needs waking.
        self._jobs: deque[_Job | None] = deque()
        self._wake = threading.Event()
        self._idle = False
        self._submitted = 0  # written by the owner only
        self._done = 0  # written by the worker only
        self._caught_up = threading.Condition()
        self.detector = Detector(self._on_flag, threshold=threshold,
                                 text_of=lambda _note: self._job.text,
                                 shared=lambda _note: self._job.shared,
                                 load=self._stored, still_open=still_open)
        self._thread = threading.Thread(target=self._run, name="plait-review", daemon=True)
        self._thread.start()

    # ---- owner thread ----------------------------------------------------------------------

    def submit(self, event: ChangeEvent) -> None:
        note_id = event.doc_id
        local = event.origin.source is Source.LOCAL
        shared = self._shared(note_id) if local else True
        if local and not shared and note_id in self._plain:
            return  # only this device edits it, and no flag is anchored in it: nothing to do
        if not local:
            self._plain.discard(note_id)
        while self._lost:
            self._known.discard(self._lost.popleft())
        text = stored = None
        if local and not shared:
            self._known.discard(note_id)  # the detector lets go of its text: nothing to
        else:                             # read (a note only this device edits)
            if note_id not in self._known or event.ops is None:
                text = self._text_of(note_id)
            self._known.add(note_id)
        if note_id not in self._loaded:
            stored = self._load(note_id)
            self._loaded.add(note_id)
            if local and not shared and not _has_anchors(stored):
                self._plain.add(note_id)  # this job clears its runs; later ones can skip
        self._put(_Job(event, shared, text, stored))

    def _put(self, job: _Job | None) -> None:
        self._submitted += 1
        self._jobs.append(job)
        if self._idle:
            self._wake.set()

    def _stored(self, note_id: str) -> str | None:
        """The detector asks for a note's saved state: handed over with the job, or, when
        the owner reads first (`call`, on the owner thread), read now."""
        if self._job is not None:
            return self._job.stored
        self._loaded.add(note_id)
        return self._load(note_id)

    def drain(self) -> None:
        """Wait until every change submitted so far was looked at, and hand over its flags."""
        target = self._submitted
        while self._done < target and self._thread.is_alive():
            with self._caught_up:
                self._caught_up.wait(0.05)
        self._hand_over()

    def call(self, fn: Callable[[Detector], T]) -> T:
        """Read or change the detector's state once it has caught up."""
        self.drain()
        with self._lock:
            return fn(self.detector)

    def close(self) -> None:
        self._put(None)
        self._thread.join(timeout=10)
        self._hand_over()

    def _hand_over(self) -> None:
        with self._raised_lock:
            raised, self._raised = self._raised, []
        if raised:
            self._deliver(raised)

    # ---- worker thread ---------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            while self._jobs:
                job = self._jobs.popleft()
                if job is None:
                    self._done += 1
                    self._notify_caught_up()
                    return
                try:
                    with self._lock:
                        self._job = job
                        self.detector.on_change(job.event)
                except TextNeeded:  # after a failure below: skipped until the owner
                    self._lost.append(job.event.doc_id)  # hands the text over again
                except Exception:  # a bug here must never stop merging: logged, and the
                    log.exception("Review detection failed on a change")  # next goes on
                    self._lost.append(job.event.doc_id)  # with the note's text read afresh
                finally:
                    self._job = None
                    self._done += 1
            self._notify_caught_up()
            self._idle = True
            if self._jobs:  # one came in before the flag was seen
                self._idle = False
                continue
            self._wake.wait()
            self._wake.clear()
            self._idle = False

    def _notify_caught_up(self) -> None:
        with self._caught_up:
            self._caught_up.notify_all()

    def _on_flag(self, merge: CloseMerge) -> None:
        with self._raised_lock:
            first = not self._raised
            self._raised.append(merge)
        if first:
            self._post(self._hand_over)


def _has_anchors(stored: str | None) -> bool:
    """Does a note's saved detector state hold flag anchors (regions to follow)?"""
    if not stored:
        return False
    try:
        return bool(json.loads(stored).get("anchors"))
    except (ValueError, AttributeError):
        return False
