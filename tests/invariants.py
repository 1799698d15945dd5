""""Nothing lost": the invariants every hardening suite checks once the system has healed.

Test clients write a unique marker with each edit (`MarkerLog.insert`) and record
what the store reported durable; deletes are recorded too (`MarkerLog.delete`).
`check_nothing_lost(vaults, log)` then asserts, for real open vaults:

- every durable marker is present exactly once (absent if a durable delete removed
  it; a marker or delete that never became durable may be either way, never twice);
- every replica has the same documents, equal state vectors, identical text for
  every note and identical content for every catalog;
- SQLite `PRAGMA integrity_check` is ok for every vault's database and sync state;
- the search index agrees with a brute-force scan of the note texts.

`check_no_internal_errors(caplog.records)` adds: no part of the store logged an error
(background threads, such as the review detector's, log their failures and go on).

It returns counts for the test's report. Markers are one line each (`mka00012z\n`),
inserted only at line starts and deleted whole, so concurrent edits never split one.
"""

from __future__ import annotations

import logging
import random
import re
import sqlite3
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pycrdt import Doc

from crdt_store import model
from crdt_store.events import DocKind
from crdt_store.statevector import decode_state_vector
from crdt_store.storage import DB_NAME
from crdt_store.sync.state import STATE_NAME
from crdt_store.unicode_offsets import TextOp
from crdt_store.vault import Vault

MARKER = re.compile(r"mk[a-z]+\d{5}z")
SEARCH_SAMPLE = 60  # markers looked up in each replica's search index


@dataclass
class _Record:
    device: str
    ticket: int
    durable: bool = False


@dataclass
class MarkerLog:
    """The markers a test wrote and deleted, with the store's tickets for each."""

    written: dict[str, _Record] = field(default_factory=dict)
    deleted: dict[str, _Record] = field(default_factory=dict)
    _numbers: Counter[str] = field(default_factory=Counter)

    def new_marker(self, tag: str) -> str:
        assert tag.isalpha() and tag.islower(), tag
        self._numbers[tag] += 1
        return f"mk{tag}{self._numbers[tag]:05d}z"

    def insert(self, device: str, vault: Vault, note_id: str, rng: random.Random,
               tag: str | None = None) -> str:
        """Write a new marker line at a random line start of the note; returns it."""
        marker = self.new_marker(tag or _tag(device))
        text = vault.note_text(note_id)
        starts = [0] + [m.end() for m in re.finditer("\n", text)]
        ticket = vault.edit(note_id, [TextOp(rng.choice(starts), 0, marker + "\n")])
        self.written[marker] = _Record(device, ticket)
        return marker

    def delete(self, device: str, vault: Vault, note_id: str, rng: random.Random) -> str | None:
        """Delete one whole marker line this log wrote that the device sees; returns it."""
        text = vault.note_text(note_id)
        found = [m for m in MARKER.finditer(text)
                 if m.group() in self.written and m.group() not in self.deleted
                 and text[m.end():m.end() + 1] == "\n"]
        if not found:
            return None
        match = rng.choice(found)
        ticket = vault.edit(note_id, [TextOp(match.start(), len(match.group()) + 1, "")])
        self.deleted[match.group()] = _Record(device, ticket)
        return match.group()

    def written_elsewhere(self, marker: str, device: str, *, durable: bool) -> None:
        """A marker written outside a vault (a raw client): durable once a relay
        acknowledged it; one never acknowledged may or may not arrive."""
        self.written[marker] = _Record(device, 0, durable)

    def deleted_by(self, device: str, ticket: int, markers: Iterable[str]) -> None:
        """Markers one edit of a device deleted (say, a select-all and delete)."""
        for marker in markers:
            self.deleted[marker] = _Record(device, ticket)

    def record_durable(self, device: str, vault: Vault) -> None:
        """Mark the device's edits that its vault reports on disk."""
        durable = vault.durable_ticket
        for record in (*self.written.values(), *self.deleted.values()):
            if record.device == device and 0 < record.ticket <= durable:
                record.durable = True


def _tag(device: str) -> str:
    letters = "".join(c for c in device.lower() if c.isalpha())
    return letters or "x"


def _note_texts(vault: Vault) -> dict[str, str]:
    return {doc_id: vault.note_text(doc_id) for doc_id, kind in vault.documents()
            if kind is DocKind.NOTE}


def _catalog_content(vault: Vault, notebook_id: str) -> tuple[object, object]:
    doc = Doc()
    doc.apply_update(vault.encode_state(notebook_id))
    return model.catalog_info(doc).to_py(), model.catalog_notes(doc).to_py()


def integrity_ok(path: Path) -> str:
    """SQLite's own verdict on a database file ('ok' when sound)."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        return "; ".join(row[0] for row in conn.execute("PRAGMA integrity_check"))


def check_marker_counts(text: str, log: MarkerLog) -> dict[str, int]:
    """Assert the marker rules on one replica's concatenated note text."""
    found = Counter(MARKER.findall(text))
    twice = sorted(m for m, n in found.items() if n > 1)
    assert not twice, f"{len(twice)} markers present more than once, e.g. {twice[:5]}"
    lost = sorted(m for m, r in log.written.items() if r.durable and found[m] == 0
                  and m not in log.deleted)
    assert not lost, f"{len(lost)} durable markers lost, e.g. {lost[:5]}"
    undeleted = sorted(m for m, r in log.deleted.items() if r.durable and found[m])
    assert not undeleted, f"{len(undeleted)} durably deleted markers came back: {undeleted[:5]}"
    unknown = sorted(set(found) - set(log.written))
    assert not unknown, f"markers nobody wrote: {unknown[:5]}"
    return {"present": sum(found.values()), "deleted": len(log.deleted)}


def check_search_agrees(vault: Vault, texts: dict[str, str], words: Iterable[str]) -> int:
    """The index's answer for each word equals a brute-force scan; how many words."""
    vault.wait_for_search(timeout=60)
    trashed = {s.note_id for s in vault.list_notes(trashed=True)}
    checked = 0
    for word in words:
        pattern = re.compile(rf"(?<![0-9a-z]){re.escape(word)}(?![0-9a-z])")
        expected = {n for n, t in texts.items() if n not in trashed and pattern.search(t.lower())}
        got = {hit.note_id for hit in vault.search(word, limit=10_000).hits}
        assert got == expected, (word, sorted(got), sorted(expected))
        checked += 1
    return checked


def converged(vaults: Sequence[Vault]) -> bool:
    """Do the replicas hold the same documents, at the same state vectors and with the
    same content? (A delete changes no state vector: the content tells.)"""
    first = vaults[0]
    docs = dict(first.documents())
    for vault in vaults[1:]:
        if dict(vault.documents()) != docs:
            return False
    for doc_id, kind in docs.items():
        vector = decode_state_vector(first.encode_state_vector(doc_id))
        content = (first.note_text(doc_id) if kind is DocKind.NOTE
                   else _catalog_content(first, doc_id))
        for vault in vaults[1:]:
            if decode_state_vector(vault.encode_state_vector(doc_id)) != vector:
                return False
            if content != (vault.note_text(doc_id) if kind is DocKind.NOTE
                           else _catalog_content(vault, doc_id)):
                return False
    return True


def wait_converged(devices, timeout: float = 60.0) -> None:
    """Pump real devices (tests/sync_helpers.Devices) until their sync status says synced
    and their replicas are equal. A "synced" status alone can predate an edit made a
    moment ago, or an envelope still on its way to another device."""
    open_ = [d for d in devices.devices if d.vault is not None]
    devices.pump_until(lambda: converged([d.vault for d in open_]), timeout)
    devices.settle(timeout)


def check_nothing_lost(vaults: Sequence[Vault], log: MarkerLog, *,
                       extra_words: Iterable[str] = (), rng: random.Random | None = None,
                       search_sample: int = SEARCH_SAMPLE) -> dict[str, int]:
    """Every invariant of the module docstring over open, settled replicas
    (`search_sample`: how many present markers each replica's index is asked for)."""
    assert vaults, "no replicas"
    rng = rng or random.Random(0)
    for vault in vaults:
        vault.flush()
    first = vaults[0]
    docs = dict(first.documents())
    texts = _note_texts(first)
    for vault in vaults[1:]:
        other = dict(vault.documents())
        assert other == docs, (
            f"replicas hold different documents: only in {first.path.name}: "
            f"{[(d, k.value, first.notebook_of(d)) for d, k in docs.items() if d not in other]}"
            f", only in {vault.path.name}: "
            f"{[(d, k.value, vault.notebook_of(d)) for d, k in other.items() if d not in docs]}")
    for doc_id, kind in docs.items():
        vector = decode_state_vector(first.encode_state_vector(doc_id))
        for vault in vaults[1:]:
            other = decode_state_vector(vault.encode_state_vector(doc_id))
            assert other == vector, (f"state vectors differ for {kind.value} {doc_id}: "
                                     f"{first.path.name} {vector}, {vault.path.name} {other}")
            if kind is DocKind.NOTE:
                assert vault.note_text(doc_id) == texts[doc_id], f"text differs: {doc_id}"
            else:
                assert _catalog_content(vault, doc_id) == _catalog_content(first, doc_id), (
                    f"catalog differs: {doc_id}")
    counts = check_marker_counts("\n".join(texts.values()), log)
    for vault in vaults:
        for name in (DB_NAME, STATE_NAME):
            path = vault.path / name
            if path.exists():
                assert integrity_ok(path) == "ok", (path, integrity_ok(path))
    present = sorted(set(MARKER.findall("\n".join(texts.values()))))
    gone = sorted(log.deleted)
    sample = rng.sample(present, min(len(present), search_sample))
    sample += rng.sample(gone, min(len(gone), max(1, search_sample // 4)))
    words = [*sample, *extra_words]
    searched = sum(check_search_agrees(vault, texts, words) for vault in vaults)
    return {**counts, "documents": len(docs), "replicas": len(vaults), "searches": searched}


def check_no_internal_errors(records: Iterable[logging.LogRecord]) -> None:
    """No crdt_store logger reported an error or worse during the run."""
    errors = [r for r in records
              if r.levelno >= logging.ERROR and r.name.startswith("crdt_store")]
    assert not errors, "the store logged errors:\n" + "\n".join(
        f"{r.name}: {r.getMessage()}" + (f"\n{logging.Formatter().formatException(r.exc_info)}"
                                         if r.exc_info else "") for r in errors[:3])
