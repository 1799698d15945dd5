"""Convergence under every delivery order: a hypothesis state machine over 3 to 5 vaults.

Every vault is a real device (tests/sync_helpers.Device): a real vault with a real
sync engine, sharing two notebooks through a real relay on 127.0.0.1. The machine
edits (Unicode with combining marks, ZWJ emoji, CJK and RTL text; large pastes;
deletes; unique markers, tests/invariants.MarkerLog), creates notes, moves them
between the notebooks, trashes and restores them, and syncs in two ways at random:

- through the relay, with devices going offline (their engine stopped) and coming
  back, so the devices split into partitions, and the relay restarting;
- directly, without the relay: each local change's update bytes are queued for every
  other vault, and a delivery step hands a random part of a queue over in a random
  order, dropping some and duplicating others (`Vault.apply_remote_update`), or two
  vaults exchange their whole state as diffs (which re-delivers anything dropped).

A heal brings every device online and waits until the replicas are equal, either
through the relay alone (everything dropped on the direct path must come back that
way) or after a full-state exchange; then the "nothing lost" invariants
(tests/invariants.check_nothing_lost) must hold. A heal is a step of its own and
also ends every example.

Default run: ten derandomized examples of up to 20 steps, about 15 s (the same steps
every run; a failure prints the steps hypothesis shrank it to). `--long` (or
PLAIT_LONG_TESTS=1): 150 random examples of up to 60 steps, and more of each index
searched; a failure also prints a `@reproduce_failure` blob. Timing still varies (the
engines and the relay run on threads of their own), so a failed heal's message lists
the steps that led to it and what differs between the replicas. Shrunk
counterexamples found here are kept as plain tests at the end of this module.
"""

from __future__ import annotations

import functools
import random
import re
import shutil
import time
from collections import Counter, deque
from dataclasses import dataclass
from itertools import count
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (RuleBasedStateMachine, initialize, precondition, rule,
                                 run_state_machine_as_test)

from crdt_store.edit_clock import EditStamp
from crdt_store.events import ChangeEvent, DocKind, Source
from crdt_store.identity import Author
from crdt_store.keys import KeyStore
from crdt_store.review.flags import MOVED
from crdt_store.statevector import decode_state_vector
from crdt_store.sync import relay_link
from crdt_store.sync.engine import SyncEngine
from crdt_store.sync.invite import parse_invite
from crdt_store.unicode_offsets import TextOp
from crdt_store.vault import Vault

from .invariants import (MARKER, MarkerLog, _catalog_content, _Record, check_no_internal_errors,
                         check_nothing_lost, converged)
from .sync_helpers import Device, Devices, shared_pair

pytest_plugins = ["tests.relay_fixtures"]

HEAL_TIMEOUT = 20.0  # a heal takes a second or two; a failing example waits this long
EMPTY_UPDATE = b"\x00\x00"

# Pieces of filler text: no ASCII digits (markers are letters, five digits, "z"), and
# no other digits either (an index may fold them to ASCII).
PIECES = ("a", "word", "text", "é", "e\u0301", "a\u0308\u0323", "ñ", "ß", "ẞ", "İ", "ﬁ",
          "Ω", "ｆｕｌｌ", "😀", "👍🏽", "🇫🇷", "👩\u200d👩\u200d👧\u200d👦",
          "🏳\ufe0f\u200d🌈", "中文", "日本語の", "한국어", "שלום", "مرحبا", "\u200f",
          "\u200d", "\u200b", "𝔘𝔫𝔦", "\t", " ")


def filler(rng: random.Random, pieces: int) -> str:
    """Random filler text (no newline)."""
    return "".join(rng.choice(PIECES) for _ in range(pieces))


def filler_lines(text: str) -> list[tuple[int, int]]:
    """(start, end) of every line without a marker; end excludes the newline."""
    lines, start = [], 0
    for line in text.split("\n"):
        end = start + len(line)
        if not MARKER.search(line):
            lines.append((start, end))
        start = end + 1
    return lines


def line_starts(text: str) -> list[int]:
    return [0] + [m.end() for m in re.finditer("\n", text)]


def divergence(devices: list[Device]) -> str:
    """What differs between the replicas, for a failed heal's message."""
    lines = []
    first = devices[0].vault
    for device in devices[1:]:
        docs, theirs = dict(first.documents()), dict(device.vault.documents())
        if docs != theirs:
            lines.append(f"documents differ: {devices[0].name} only {set(docs) - set(theirs)}, "
                         f"{device.name} only {set(theirs) - set(docs)}")
    for doc_id, kind in first.documents():
        views: list[tuple[object, list]] = []  # (content, [(device, state vector)])
        for device in devices:
            vault = device.vault
            if vault.document_kind(doc_id) is None:
                continue
            content = (vault.note_text(doc_id) if kind is DocKind.NOTE
                       else _catalog_content(vault, doc_id))
            who = (device.name, decode_state_vector(vault.encode_state_vector(doc_id)))
            same = next((v for v in views if v[0] == content), None)
            if same is None:
                views.append((content, [who]))
            else:
                same[1].append(who)
        if len(views) > 1:
            lines.append(f"{kind.value} {doc_id} differs:")
            lines += [f"  {who}: {content!r:.1500}" for content, who in views]
    for device in devices:
        lines.append(f"{device.name} engine: "
                     f"{device.engine.debug_state() if device.engine else 'stopped'}; "
                     f"problems {device.engine.problems()[-3:] if device.engine else ''}")
    return "\n".join(lines)


def traced(step):
    """Record a step and its arguments in the machine's trace (a failed heal prints it:
    a failure that depends on timing may not replay for hypothesis to print)."""
    @functools.wraps(step)
    def run(self, **kwargs):
        self.trace.append(f"{step.__name__}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})")
        t0 = time.monotonic()
        try:
            return step(self, **kwargs)
        finally:
            self.times[step.__name__] += time.monotonic() - t0
    return run


def send_missing(source: Vault, target: Vault) -> int:
    """Send target, as diffs, everything source has that it lacks (a direct path, such
    as two devices on one network); how many documents it took."""
    sent = 0
    for doc_id, kind in source.documents():
        update = source.encode_state(doc_id, target.state_vector(doc_id))
        if update != EMPTY_UPDATE:
            target.apply_remote_update(doc_id, kind, update, author=source.author,
                                       wall_time=time.time(), clock=source.edit_clock(doc_id))
            sent += 1
    return sent


@dataclass(frozen=True)
class Message:
    """One local change of a vault, as another vault would receive it directly."""

    doc_id: str
    kind: DocKind
    update: bytes
    author: Author
    wall_time: float
    made_on: bytes
    stamp: EditStamp | None
    removed: str | None


class ConvergenceMachine(RuleBasedStateMachine):
    """3 to 5 devices editing and syncing at random; see the module docstring."""

    relay = None  # the RelayHarness, set by the test
    search_sample = 6  # markers looked up in each replica's index at a heal (--long: 60)
    root: Path = Path()
    totals: Counter[str] = Counter()
    times: Counter[str] = Counter()  # seconds spent in each kind of step
    _examples = count()

    def __init__(self) -> None:
        super().__init__()
        self.number = next(self._examples)
        self.group = Devices(self.root / f"example-{self.number}")
        self.log = MarkerLog()
        self.rng = random.Random(self.number)
        self.queues: dict[tuple[int, int], deque[Message]] = {}
        self.offline: set[int] = set()
        self.notebooks: list[str] = []
        self.notes: list[str] = []
        self.ready = False
        self.healing = False
        self.trace: list[str] = []
        self.totals["examples"] += 1

    # ---- set-up -------------------------------------------------------------------

    @initialize(size=st.integers(3, 5), seed=st.integers(0, 2**16))
    @traced
    def start(self, size: int, seed: int) -> None:
        self.rng.seed(seed)
        names = ["Ada", "Bo", "Cy", "Di", "Ed"][:size]
        group = [self.group.add(name) for name in names]
        first = group[0].vault
        self.notebooks = [first.create_notebook(f"Notebook {i}") for i in range(2)]
        self.notes = [first.create_note(self.notebooks[i % 2], f"# Note {i}\nbase text\n")
                      for i in range(3)]
        for notebook in self.notebooks:
            link = group[0].engine.share(notebook, (self.relay.url,)).link()
            for device in group[1:]:
                device.engine.join(parse_invite(link))
        assert self.group.pump_until(
            lambda: all(d.vault.notebook_of(n) is not None for d in group for n in self.notes),
            timeout=30)
        self.group.settle()
        for i, device in enumerate(group):
            device.vault.subscribe(lambda event, i=i: self._capture(i, event))
        self.ready = True

    def _capture(self, source: int, event: ChangeEvent) -> None:
        """Queue a local change of vault `source` for direct delivery to every other."""
        if not self.ready or event.origin.source is not Source.LOCAL:
            return
        message = Message(event.doc_id, event.kind, event.update, event.origin.author,
                          event.wall_time, event.made_on, event.stamp, event.removed)
        for target in range(len(self.group.devices)):
            if target != source:
                self.queues.setdefault((source, target), deque()).append(message)

    # ---- helpers ------------------------------------------------------------------

    @property
    def devices(self) -> list[Device]:
        return self.group.devices

    def _device(self, index: int) -> Device:
        return self.devices[index % len(self.devices)]

    def _vault(self, index: int) -> Vault:
        return self._device(index).vault

    def _placed_notes(self, vault: Vault) -> list[str]:
        return [n for n in self.notes if vault.document_kind(n) is not None
                and vault.notebook_of(n) is not None]

    def _pick_note(self, vault: Vault, pick: int) -> str | None:
        notes = self._placed_notes(vault)
        return notes[pick % len(notes)] if notes else None

    def _start_engine(self, device: Device) -> None:
        device.engine = SyncEngine(device.vault, KeyStore(device.keyring, timeout=5.0),
                                   on_status=self.group.wake.set, **device.options)
        device.engine.start()

    def _pump(self, seconds: float) -> None:
        """Let the engines and relay work for a moment (a slice of time, not a wait)."""
        self.group.pump_until(lambda: False, timeout=seconds)

    # ---- edits --------------------------------------------------------------------

    @precondition(lambda self: self.ready)
    @rule(v=st.integers(0, 4), pick=st.integers(0, 20))
    @traced
    def insert_marker(self, v: int, pick: int) -> None:
        note = self._pick_note(self._vault(v), pick)
        if note is not None:
            self.log.insert(self._device(v).name, self._vault(v), note, self.rng)
            self.totals["marker inserts"] += 1

    @precondition(lambda self: self.ready)
    @rule(v=st.integers(0, 4), pick=st.integers(0, 20))
    @traced
    def delete_marker(self, v: int, pick: int) -> None:
        note = self._pick_note(self._vault(v), pick)
        if note is not None and self.log.delete(self._device(v).name, self._vault(v), note,
                                                self.rng):
            self.totals["marker deletes"] += 1

    @precondition(lambda self: self.ready)
    @rule(v=st.integers(0, 4), pick=st.integers(0, 20),
          kind=st.sampled_from(["fragment", "line", "cut", "cut line"]),
          seed=st.integers(0, 2**16))
    @traced
    def unicode_edit(self, v: int, pick: int, kind: str, seed: int) -> None:
        """Edit filler text only, so that no marker is touched. Inserted fragments start
        and end with a space: a fragment that survives a concurrent delete of its line
        is glued to the next line, and must not run into a marker there."""
        vault = self._vault(v)
        note = self._pick_note(vault, pick)
        if note is None:
            return
        rng = random.Random(seed)
        text = vault.note_text(note)
        lines = filler_lines(text)
        if kind == "fragment" and lines:
            start, end = rng.choice(lines)
            op = TextOp(rng.randint(start, end), 0, f" {filler(rng, rng.randint(1, 6))} ")
        elif kind == "line":
            op = TextOp(rng.choice(line_starts(text)), 0, filler(rng, rng.randint(0, 8)) + "\n")
        elif kind == "cut" and lines:
            start, end = rng.choice(lines)
            if end == start:
                return
            a, b = sorted(rng.sample(range(start, end + 1), 2))
            op = TextOp(a, b - a, "")
        elif kind == "cut line" and lines:
            start, end = rng.choice(lines)
            op = TextOp(start, end - start + (end < len(text)), "")
        else:
            return
        if op.insert or op.delete:
            vault.edit(note, [op])
            self.totals["unicode edits"] += 1

    @precondition(lambda self: self.ready)
    @rule(v=st.integers(0, 4), pick=st.integers(0, 20), size=st.sampled_from([2_000, 30_000]),
          markers=st.integers(1, 25))
    @traced
    def paste(self, v: int, pick: int, size: int, markers: int) -> None:
        """A large paste of whole lines, with markers among them (one edit)."""
        vault = self._vault(v)
        note = self._pick_note(vault, pick)
        if note is None:
            return
        device = self._device(v)
        lines = []
        new = [self.log.new_marker(device.name.lower()) for _ in range(markers)]
        while sum(map(len, lines)) < size:
            lines.append(filler(self.rng, 40) + "\n")
        for marker in new:
            lines.insert(self.rng.randint(0, len(lines)), marker + "\n")
        ticket = vault.edit(note, [TextOp(self.rng.choice(line_starts(vault.note_text(note))),
                                          0, "".join(lines))])
        for marker in new:
            self.log.written[marker] = _Record(device.name, ticket)
        self.totals["pastes"] += 1
        self.totals["marker inserts"] += markers

    @precondition(lambda self: self.ready)
    @rule(v=st.integers(0, 4), notebook=st.integers(0, 1))
    @traced
    def create_note(self, v: int, notebook: int) -> None:
        vault = self._vault(v)
        note = vault.create_note(self.notebooks[notebook], f"# New {len(self.notes)}\n")
        self.notes.append(note)
        self.log.insert(self._device(v).name, vault, note, self.rng)
        self.totals["notes created"] += 1

    @precondition(lambda self: self.ready)
    @rule(v=st.integers(0, 4), pick=st.integers(0, 20))
    @traced
    def move_note(self, v: int, pick: int) -> None:
        vault = self._vault(v)
        note = self._pick_note(vault, pick)
        if note is None:
            return
        home = vault.notebook_of(note)
        vault.move_note(note, next(nb for nb in self.notebooks if nb != home))
        self.totals["moves"] += 1

    @precondition(lambda self: self.ready)
    @rule(v=st.integers(0, 4), pick=st.integers(0, 20))
    @traced
    def trash_or_restore(self, v: int, pick: int) -> None:
        vault = self._vault(v)
        note = self._pick_note(vault, pick)
        if note is None:
            return
        _, flags = vault.note_entry(note)
        if flags is not None and flags.trashed:
            vault.restore_note(note)
            self.totals["restores"] += 1
        else:
            vault.trash_note(note)
            self.totals["trashes"] += 1

    # ---- direct sync --------------------------------------------------------------

    @precondition(lambda self: self.ready)
    @rule(pick=st.integers(0, 20), share=st.sampled_from([0.3, 1.0]),
          drop=st.sampled_from([0.0, 0.2]), duplicate=st.sampled_from([0.0, 0.3]),
          seed=st.integers(0, 2**16))
    @traced
    def deliver(self, pick: int, share: float, drop: float, duplicate: float,
                seed: int) -> None:
        """Hand part of one vault's queue for another over in a random order; drop some
        updates and duplicate others."""
        waiting = sorted(key for key, queue in self.queues.items() if queue)
        if not waiting:
            return
        target = waiting[pick % len(waiting)][1]
        queue = self.queues[waiting[pick % len(waiting)]]
        rng = random.Random(seed)
        taken = [queue.popleft() for _ in range(max(1, round(len(queue) * share)))]
        order = list(range(len(taken)))
        rng.shuffle(order)
        if order != sorted(order):
            self.totals["direct batches reordered"] += 1
        vault = self.devices[target].vault
        for i in order:
            message = taken[i]
            if rng.random() < drop:
                self.totals["direct updates dropped"] += 1
                continue
            copies = 2 if rng.random() < duplicate else 1
            for _ in range(copies):
                vault.apply_remote_update(
                    message.doc_id, message.kind, message.update, author=message.author,
                    wall_time=message.wall_time, made_on=message.made_on,
                    stamp=message.stamp, removed=message.removed)
            self.totals["direct updates delivered"] += 1
            self.totals["direct updates duplicated"] += copies - 1

    @precondition(lambda self: self.ready)
    @rule(pick=st.integers(0, 20), seed=st.integers(0, 2**16))
    @traced
    def deliver_all(self, pick: int, seed: int) -> None:
        """Hand a whole queue over in a random order, losing nothing (the common case)."""
        self.deliver(pick=pick, share=1.0, drop=0.0, duplicate=0.0, seed=seed)

    def _exchange(self, source: Vault, target: Vault) -> None:
        self.totals["full-state diffs"] += send_missing(source, target)

    @precondition(lambda self: self.ready)
    @rule(a=st.integers(0, 4), b=st.integers(0, 4))
    @traced
    def exchange_state(self, a: int, b: int) -> None:
        first, second = self._vault(a), self._vault(b)
        if first is not second:
            self._exchange(first, second)
            self._exchange(second, first)
            self.totals["full-state exchanges"] += 1

    # ---- the relay ----------------------------------------------------------------

    @precondition(lambda self: self.ready)
    @rule(seconds=st.sampled_from([0.0, 0.05, 0.2]))
    @traced
    def relay_work(self, seconds: float) -> None:
        """Let the online devices sync through the relay for a moment."""
        self._pump(seconds)

    @precondition(lambda self: self.ready)
    @rule()
    @traced
    def relay_settle(self) -> None:
        """Wait until the online devices are synced with the relay (a condition)."""
        self.group.settle(timeout=HEAL_TIMEOUT)
        self.totals["relay settles"] += 1

    @precondition(lambda self: self.ready)
    @rule(v=st.integers(0, 4))
    @traced
    def go_offline(self, v: int) -> None:
        """Stop a device's engine: it and the other offline devices form a partition
        that only the direct path reaches."""
        index = v % len(self.devices)
        device = self.devices[index]
        if index not in self.offline:
            device.engine.stop()
            device.engine = None
            self.offline.add(index)
            self.totals["disconnects"] += 1

    @precondition(lambda self: self.ready and self.offline)
    @rule(v=st.integers(0, 4))
    @traced
    def go_online(self, v: int) -> None:
        index = sorted(self.offline)[v % len(self.offline)]
        self._start_engine(self.devices[index])
        self.offline.discard(index)

    @precondition(lambda self: self.ready)
    @rule()
    @traced
    def restart_relay(self) -> None:
        """The relay stops (every connection drops) and starts again on the same data."""
        self.relay.stop()
        self.relay.start()
        self.totals["relay restarts"] += 1

    # ---- heal and check -----------------------------------------------------------

    @precondition(lambda self: self.ready)
    @rule(direct=st.booleans())
    @traced
    def heal(self, direct: bool) -> None:
        """Everyone online; converge (through the relay alone, or after a full-state
        exchange too); then nothing may be lost."""
        self.healing = True
        for index in sorted(self.offline):
            self._start_engine(self.devices[index])
        self.offline.clear()
        self.queues.clear()  # what is still on the direct path is lost on the way
        vaults = [d.vault for d in self.devices]
        if direct:
            for source in vaults:
                for target in vaults:
                    if source is not target:
                        self._exchange(source, target)
        healed = self.group.pump_until(lambda: converged(vaults), timeout=HEAL_TIMEOUT)
        assert healed, "\n".join(["steps:", *self.trace, divergence(self.devices)])
        for vault in vaults:  # the indexes commit side by side while the engines settle
            vault.refresh_index()
        self.group.settle(timeout=HEAL_TIMEOUT)
        for device in self.devices:
            device.vault.flush()
            self.log.record_durable(device.name, device.vault)
        counts = check_nothing_lost(vaults, self.log, rng=self.rng,
                                    search_sample=self.search_sample)
        self.totals["heals checked"] += 1
        self.totals["markers checked"] += counts["present"]
        self.totals["searches checked"] += counts["searches"]
        self.healing = False

    def teardown(self) -> None:
        try:
            if self.ready and not self.healing:  # (not again after a failed heal)
                self.heal(direct=False)
        finally:
            self.group.close()
            shutil.rmtree(self.group.root, ignore_errors=True)


@pytest.fixture
def quick_reconnects(monkeypatch: pytest.MonkeyPatch) -> None:
    """A restarted relay is found again within a tenth of a second."""
    monkeypatch.setattr(relay_link, "MIN_BACKOFF", 0.05)
    monkeypatch.setattr(relay_link, "MAX_BACKOFF", 0.5)


def test_replicas_converge_under_random_delivery(relay, tmp_path, long_run, quick_reconnects,
                                                hardening_report, caplog) -> None:
    ConvergenceMachine.relay = relay
    ConvergenceMachine.root = tmp_path
    ConvergenceMachine.totals = Counter()
    ConvergenceMachine.times = Counter()
    if long_run:
        ConvergenceMachine.search_sample = 60
        options = settings(max_examples=150, stateful_step_count=60, deadline=None,
                           derandomize=False, database=None, print_blob=True,
                           suppress_health_check=list(HealthCheck))
    else:
        options = settings(max_examples=10, stateful_step_count=20, deadline=None,
                           derandomize=True, database=None,
                           suppress_health_check=list(HealthCheck))
    started = time.monotonic()
    run_state_machine_as_test(ConvergenceMachine, settings=options)
    totals = ConvergenceMachine.totals
    assert totals["heals checked"] >= totals["examples"] > 0
    check_no_internal_errors(caplog.records)
    times = ConvergenceMachine.times
    hardening_report(f"{totals['examples']} examples in {time.monotonic() - started:.1f} s; "
                     + ", ".join(f"{k} {v}" for k, v in sorted(totals.items())
                                 if k != "examples")
                     + "; seconds in steps: " + ", ".join(
                         f"{k} {v:.1f}" for k, v in times.most_common(4)))


# -- shrunk counterexamples, kept as plain tests ------------------------------------------

def _restart_engine(devices: Devices, device: Device) -> None:
    device.engine = SyncEngine(device.vault, KeyStore(device.keyring, timeout=5.0),
                               on_status=devices.wake.set, **device.options)
    device.engine.start()


def test_a_delete_made_while_sync_was_stopped_goes_out_when_it_starts(devices, relay) -> None:
    # Found by the machine: a device went offline, cut some text (a delete only: it adds
    # nothing, so the note's state vector stays where it was) and came back. Its engine
    # looked only at state vectors for what was left to send, so the cut never synced.
    a, b, _, note = shared_pair(devices, relay.url, "# Title\nkeep this, cut this\n")
    _cut_with_sync_stopped(devices, b, a, note, TextOp(17, 10, ""),  # ", cut this"
                           "# Title\nkeep this\n")


def _cut_with_sync_stopped(devices: Devices, cutter: Device, other: Device, note: str,
                           cut: TextOp, expected: str) -> None:
    """`cutter` deletes text while its sync is stopped, then starts it again: `other`
    must end up with the cut."""
    cutter.engine.stop()
    cutter.engine = None
    cutter.vault.edit(note, [cut])
    cutter.vault.flush()
    _restart_engine(devices, cutter)
    assert devices.pump_until(lambda: other.vault.note_text(note) == expected,
                              timeout=10), other.vault.note_text(note)
    devices.settle()


def test_a_delete_made_without_sync_goes_out_after_a_restart(devices, relay) -> None:
    # The same through a closed vault: the CLI (`plait edit`) cut text while the app
    # and its sync were not running.
    a, b, _, note = shared_pair(devices, relay.url, "one\ntwo\nthree\n")
    b.close()
    with Vault(b.path) as offline:
        offline.set_text(note, "one\nthree\n")
    devices.reopen(b)
    assert devices.pump_until(lambda: a.vault.note_text(note) == "one\nthree\n",
                              timeout=10), a.vault.note_text(note)
    devices.settle()


def test_a_delete_in_a_new_note_goes_out_after_a_restart(devices, relay) -> None:
    # Found by the machine (--long): Bo creates a note and types into it at once, so the
    # note sent whole and the typing go out in one envelope. That envelope recorded no
    # edit count for the note, so after Bo cut text with sync stopped (a delete only,
    # which leaves the state vector where it was) nothing told the cut was unsent.
    a, b, notebook, _ = shared_pair(devices, relay.url)
    note = b.vault.create_note(notebook, "# New 4\n")
    b.vault.append_text(note, "mkbo00001z\n")
    assert devices.pump_until(lambda: a.vault.document_kind(note) is not None
                              and a.vault.note_text(note) == "# New 4\nmkbo00001z\n")
    devices.settle()
    _cut_with_sync_stopped(devices, b, a, note, TextOp(1, 6, ""), "#\nmkbo00001z\n")


def test_work_posted_by_a_stopped_engine_is_dropped_and_done_after_a_restart(devices,
                                                                              relay) -> None:
    # Found by the machine: an engine had posted merges to its vault's owner thread and
    # was stopped before the owner ran them; running them then raised "Sync is not
    # running" out of Vault.deliver_pending (the owner's event loop).
    a, b, _, note = shared_pair(devices, relay.url)
    a.vault.append_text(note, "more\n")
    assert devices.pump_until(lambda: b.engine.debug_state()["in_flight"] > 0, devices=[a])
    b.engine.stop()
    b.engine = None
    b.vault.deliver_pending()  # must not raise
    _restart_engine(devices, b)
    assert devices.pump_until(lambda: b.vault.note_text(note) == "start\nmore\n", timeout=10)
    devices.settle()


def test_edits_right_after_a_move_reach_members_of_both_notebooks(devices, relay) -> None:
    # Found by the machine: everyone is in both notebooks; Ada moves a note into the
    # notebook whose id sorts later and edits it at once. Xi applies the new notebook's
    # stream first: its catalog now lists the note, but the old entry (not yet deleted
    # here) still places it in the old notebook, so the note and Ada's edit, sent
    # through the new notebook, were rejected ("it writes a note that belongs to another
    # notebook") and never sent again: Xi missed them for good.
    a, x = devices.add("Ada"), devices.add("Xi")
    source, target = sorted([a.vault.create_notebook("P"), a.vault.create_notebook("Q")])
    note = a.vault.create_note(source, "base\n")
    for notebook in (source, target):
        x.engine.join(parse_invite(a.engine.share(notebook, (relay.url,)).link()))
    assert devices.pump_until(lambda: x.vault.notebook_of(note) == source
                              and x.vault.note_text(note) == "base\n")
    devices.settle()
    for round_no in range(3):  # which stream Xi applies first is up to timing
        a.vault.move_note(note, target if round_no % 2 == 0 else source)
        a.vault.append_text(note, f"right after move {round_no}\n")
        assert devices.pump_until(lambda: converged([a.vault, x.vault]), timeout=10), (
            divergence(devices.devices))
        devices.settle()
    assert x.vault.note_text(note).count("right after move") == 3


def _three_in_two_notebooks(devices: Devices, relay) -> tuple[tuple[Device, Device, Device],
                                                             str, str, str]:
    """Ada, Bo and Ed, all in notebooks Old and New; a note in Old, synced."""
    a, b, e = devices.add("Ada"), devices.add("Bo"), devices.add("Ed")
    old, new = a.vault.create_notebook("Old"), a.vault.create_notebook("New")
    note = a.vault.create_note(old, "base\n")
    for notebook in (old, new):
        link = a.engine.share(notebook, (relay.url,)).link()
        for device in (b, e):
            device.engine.join(parse_invite(link))
    assert devices.pump_until(lambda: all(d.vault.notebook_of(note) == old
                                          and d.vault.note_text(note) == "base\n"
                                          for d in (b, e)), timeout=30)
    devices.settle()
    return (a, b, e), old, new, note


def test_an_edit_sent_through_the_notebook_its_note_left_reaches_everyone_at_once(
        devices, relay) -> None:
    # Found by the machine (--long), in a storm of moves: Bo moved a note while his sync
    # was stopped, and Ed, who had not heard of it, edited the note, so his edit went out
    # through the notebook it had left. Ada took it (to her the note was still there);
    # Bo rejected it as "moved out" and waited for Ed's device to send it again through
    # the new notebook. But Ed had closed his laptop: Ada and Bo disagreed until he came
    # back. Ed is a member of the new notebook too, so Bo takes his edit as it is.
    (a, b, e), old, new, note = _three_in_two_notebooks(devices, relay)
    b.engine.stop()
    b.engine = None
    b.vault.move_note(note, new)
    e.vault.append_text(note, "from Ed\n")
    assert devices.pump_until(lambda: a.vault.note_text(note) == "base\nfrom Ed\n")
    devices.settle()
    e.engine.stop()  # Ed goes away before he hears of the move
    e.engine = None
    _restart_engine(devices, b)
    assert devices.pump_until(lambda: converged([a.vault, b.vault]), timeout=20), (
        divergence([a, b]))
    assert b.vault.notebook_of(note) == new and b.vault.note_text(note) == "base\nfrom Ed\n"
    assert not b.engine.problems(), b.engine.problems()
    [flag] = [f for f in b.vault.review.flags() if f.kind == MOVED]
    assert flag.summary == "Bo moved this note from “Old” to “New” while Ed was editing it."
    _restart_engine(devices, e)  # Ed's device, back, sends nothing that is not there
    assert devices.pump_until(lambda: converged([a.vault, b.vault, e.vault]), timeout=20), (
        divergence(devices.devices))
    assert e.vault.note_text(note) == "base\nfrom Ed\n"
    devices.settle()


def test_an_edit_heard_before_the_move_it_follows_merges_once_the_move_arrives(
        devices, relay) -> None:
    # Found by the machine (--long): Ada moved a note to another notebook while her sync
    # was stopped, and Ed took her vault's state over a direct path and edited the note,
    # so his edit went out through the new notebook. Bo heard the edit before the move:
    # to him the note was still in the old notebook, so he rejected it ("it writes a
    # note that belongs to another notebook"), and nothing ever sent it again.
    (a, b, e), old, new, note = _three_in_two_notebooks(devices, relay)
    a.engine.stop()
    a.engine = None
    a.vault.move_note(note, new)
    send_missing(a.vault, e.vault)
    assert e.vault.notebook_of(note) == new
    e.vault.append_text(note, "from Ed\n")
    devices.settle()  # Bo has heard Ed's edit, and not the move
    assert b.vault.notebook_of(note) == old and b.vault.note_text(note) == "base\n"
    devices.reopen(b)  # what waits for the move must survive a restart
    _restart_engine(devices, a)
    assert devices.pump_until(lambda: converged([a.vault, b.vault, e.vault]), timeout=20), (
        divergence(devices.devices))
    assert b.vault.notebook_of(note) == new and b.vault.note_text(note) == "base\nfrom Ed\n"
    assert not b.engine.problems(), b.engine.problems()
    assert b.engine.debug_state()["parked"] == 0
    devices.settle()
