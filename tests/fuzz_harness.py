"""Fuzz targets, run in a child process under a memory and a CPU-time limit.

    python -m tests.fuzz_harness TARGET CORPUS OUT --count N --seed S [--mem-mb M] [--cpu-s T]

TARGET is `frames`, `envelopes`, `import` or `updates`. CORPUS is a folder of real
inputs captured from a real sync run (tests/test_fuzz.py makes it). Each input is a
real one mutated by a seeded mutator: bit flips, interesting bytes, truncation,
splices of two inputs, inserted and deleted runs, and edits of length fields (the
frame's and payload's u32 header lengths, lib0 varints) and of JSON header values.
Input `i` is made from `Random(f"{seed}:{i}")` alone, so any one input can be made
again (`--only i`).

The only outcomes allowed are success or a clean rejection with the state unchanged:
- frames: `frames.decode` returns a Frame or raises FrameError; mutated client
  sessions sent to a real relay leave it serving, its stored envelopes unchanged,
  and its log free of internal errors;
- envelopes: `open_envelope` returns or raises EnvelopeError; what opens (mutated
  payloads sealed by a member's valid key) is applied as the sync engine applies it,
  and a rejected update leaves the vault's document unchanged;
- import: `import_folder` reports every file as created, updated, unchanged or
  skipped, creates a note only for files it did not skip, and importing the same
  folder again creates nothing;
- updates: `Vault.apply_remote_update` returns or raises CorruptUpdateError, and a
  rejected update leaves the document's text, state vector and update log unchanged.

A merge pycrdt fails part-way, or an update pycrdt accepts but after which the
document no longer reads or encodes, must change nothing: the vault rehearses every
foreign update on a copy first (crdt_store/rehearsal.py). Such an input is a failure;
the target then starts over on a fresh replica, so later inputs are judged soundly.

Anything else (another exception, a Rust panic escaping, a crash, a hang, running
out of memory) is a failure: the input is saved under OUT/failures. The index of the
input being run is kept in OUT/current, so a crash or hang names its input. The
summary is OUT/result.json.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import faulthandler
import json
import logging
import os
import random
import resource
import shutil
import struct
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable
from pathlib import Path

INTERESTING_U32 = (0, 1, 2, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0xFFFF, 0x10000, 0x7FFFFFFF,
                   0x80000000, 0xFFFFFFFE, 0xFFFFFFFF)
INTERESTING_BYTES = (0x00, 0x01, 0x7F, 0x80, 0xFF)
BIG_VARINTS = (b"\xff\xff\xff\xff\x0f", b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",
               b"\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", b"\xff\xff\x03", b"\x00")
JSON_VALUES: tuple[object, ...] = (None, True, False, -1, 0, 1, 2**31, 2**63, 2**64 + 5, -2**70,
                                   1.5, 1e308, "", "x", "A" * 5000, "\u0000", "😀" * 10, [],
                                   {}, [1, 2], {"a": {"b": 1}}, "AAAA", "-_-_", "!!")
DEEP_JSON = "[" * 100_000 + "]" * 100_000
MAX_FAILURES = 20


# ============================================================================ mutator

class Mutator:
    """Seeded mutations of real inputs. `u32_at(data)` names offsets of u32 length
    fields; `json_at(data)` the (start, length-field offset, width) of a JSON header."""

    def __init__(self, seeds: list[bytes], *,
                 u32_at: Callable[[bytes], list[int]] | None = None,
                 json_at: Callable[[bytes], tuple[int, int] | None] | None = None) -> None:
        assert seeds, "an empty corpus"
        self.seeds = seeds
        self.u32_at = u32_at
        self.json_at = json_at
        self.used: Counter[str] = Counter()

    def make(self, rng: random.Random) -> bytes:
        data = bytearray(rng.choice(self.seeds))
        for _ in range(rng.choice((1, 1, 1, 2, 2, 3, 5))):
            name, op = rng.choice(self._ops())
            self.used[name] += 1
            data = op(rng, data)
        return bytes(data)

    def _ops(self) -> list[tuple[str, Callable[[random.Random, bytearray], bytearray]]]:
        ops = [("bit_flip", self.bit_flip), ("byte", self.set_byte),
               ("truncate", self.truncate), ("splice", self.splice),
               ("insert", self.insert), ("delete", self.delete),
               ("duplicate", self.duplicate), ("u32", self.u32_edit),
               ("varint", self.varint_edit)]
        if self.json_at is not None:
            ops += [("json", self.json_edit)] * 3
        return ops

    @staticmethod
    def bit_flip(rng: random.Random, data: bytearray) -> bytearray:
        for _ in range(rng.randint(1, 8)):
            if data:
                data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        return data

    @staticmethod
    def set_byte(rng: random.Random, data: bytearray) -> bytearray:
        if data:
            data[rng.randrange(len(data))] = rng.choice(INTERESTING_BYTES)
        return data

    @staticmethod
    def truncate(rng: random.Random, data: bytearray) -> bytearray:
        return data[:rng.randrange(len(data) + 1)]

    def splice(self, rng: random.Random, data: bytearray) -> bytearray:
        other = rng.choice(self.seeds)
        return data[:rng.randrange(len(data) + 1)] + other[rng.randrange(len(other) + 1):]

    @staticmethod
    def insert(rng: random.Random, data: bytearray) -> bytearray:
        at = rng.randrange(len(data) + 1)
        return data[:at] + bytearray(rng.randbytes(rng.choice((1, 2, 4, 16, 300)))) + data[at:]

    @staticmethod
    def delete(rng: random.Random, data: bytearray) -> bytearray:
        if not data:
            return data
        at = rng.randrange(len(data))
        return data[:at] + data[at + rng.randint(1, 32):]

    @staticmethod
    def duplicate(rng: random.Random, data: bytearray) -> bytearray:
        if not data:
            return data
        at = rng.randrange(len(data))
        chunk = data[at:at + rng.randint(1, 64)]
        return data[:at] + chunk * rng.randint(2, 50) + data[at:]

    def u32_edit(self, rng: random.Random, data: bytearray) -> bytearray:
        """A length field set to an interesting or nearby value."""
        fields = self.u32_at(bytes(data)) if self.u32_at is not None else []
        if fields and rng.random() < 0.7:
            at = rng.choice(fields)
        elif len(data) >= 4:
            at = rng.randrange(len(data) - 3)
        else:
            return data
        if at + 4 > len(data):
            return data
        old = struct.unpack_from(">I", data, at)[0]
        value = rng.choice(INTERESTING_U32 + ((old + 1) % 2**32, max(old - 1, 0),
                                              len(data), len(data) - at))
        struct.pack_into(">I", data, at, value % 2**32)
        return data

    @staticmethod
    def varint_edit(rng: random.Random, data: bytearray) -> bytearray:
        """A lib0 varint (Yjs lengths, clocks, client ids) replaced by a huge one."""
        if not data:
            return data
        at = rng.randrange(len(data))
        end = at
        while end < len(data) and data[end] & 0x80:
            end += 1
        return data[:at] + bytearray(rng.choice(BIG_VARINTS)) + data[end + 1:]

    def json_edit(self, rng: random.Random, data: bytearray) -> bytearray:
        """One value of the JSON header changed (or a key added or removed), with the
        header's length field made to match."""
        where = self.json_at(bytes(data)) if self.json_at is not None else None
        if where is None:
            return data
        start, length_at = where
        (length,) = struct.unpack_from(">I", data, length_at)
        try:
            header = json.loads(bytes(data[start:start + length]))
        except (ValueError, RecursionError):
            return data
        if rng.random() < 0.05:
            raw = DEEP_JSON.encode()
        elif isinstance(header, dict):
            keys = list(header) or ["k"]
            roll = rng.random()
            key = rng.choice(keys)
            if roll < 0.1:
                header.pop(key, None)
            elif roll < 0.2:
                header[rng.choice(("zz", "stamp", "clock", "removed", "pruned", "snapshot"))] = \
                    rng.choice(JSON_VALUES)
            elif roll < 0.35 and key in ("stamp", "clock"):
                header[key] = {"client": rng.choice(JSON_VALUES), "counts": [rng.choice(
                    JSON_VALUES), rng.choice(JSON_VALUES)], "seen": {"1": rng.choice(JSON_VALUES)}}
            else:
                header[key] = rng.choice(JSON_VALUES)
            raw = json.dumps(header).encode()
        else:
            raw = json.dumps(rng.choice(JSON_VALUES)).encode()
        struct.pack_into(">I", data, length_at, len(raw))
        return data[:start] + bytearray(raw) + data[start + length:]


# ============================================================================ targets

class Run:
    """One target's run: counts outcomes, keeps failing inputs."""

    def __init__(self, name: str, out: Path, seed: int, first: int = 0) -> None:
        self.name, self.out, self.seed, self.first = name, out, seed, first
        self.started = time.perf_counter()
        self.outcomes: Counter[str] = Counter()
        self.failures: list[dict[str, object]] = []
        self.inputs = 0
        self._current = os.open(out / "current", os.O_RDWR | os.O_CREAT, 0o644)
        self.extra: dict[str, object] = {}

    def rng(self, i: int) -> random.Random:
        return random.Random(f"{self.seed}:{i}")

    def start(self, i: int) -> None:
        os.pwrite(self._current, struct.pack("<q", i), 0)
        if i % 100 == 0 and i > self.first:
            self.write_result(partial=True)

    def write_result(self, *, partial: bool = False) -> None:
        """OUT/result.json; written every 100 inputs too, so a crash keeps the counts."""
        result = {"target": self.name, "seed": self.seed, "first": self.first,
                  "inputs": self.inputs, "outcomes": dict(self.outcomes),
                  "failures": self.failures, "partial": partial,
                  "seconds": round(time.perf_counter() - self.started, 2),
                  "peak_rss_mb": _peak_rss_mb(), **self.extra}
        tmp = self.out / "result.json.tmp"
        tmp.write_text(json.dumps(result, indent=1))
        tmp.replace(self.out / "result.json")

    def fail(self, i: int, data: bytes, what: str, *, state: bytes | None = None) -> None:
        """Record a failure; the input (and the document's state before it) are kept."""
        self.outcomes["FAILURE"] += 1
        if len(self.failures) < MAX_FAILURES:
            folder = self.out / "failures"
            folder.mkdir(exist_ok=True)
            (folder / f"{self.name}-{i}.bin").write_bytes(data)
            if state:
                (folder / f"{self.name}-{i}.state").write_bytes(state)
            self.failures.append({"input": i, "what": what[-3000:]})


def _peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM; ru_maxrss would carry the parent's over exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _frame_fields(data: bytes) -> list[int]:
    return [2]


def _frame_json(data: bytes) -> tuple[int, int] | None:
    return (6, 2) if len(data) >= 6 else None


def _payload_fields(data: bytes) -> list[int]:
    return [0]


def _payload_json(data: bytes) -> tuple[int, int] | None:
    return (4, 0) if len(data) >= 4 else None


def _read_all(folder: Path) -> list[bytes]:
    return [p.read_bytes() for p in sorted(folder.iterdir())] if folder.is_dir() else []


def target_frames(run: Run, corpus: Path, count: int) -> None:
    from crdt_store.sync.frames import FrameError, decode

    up, down = _read_all(corpus / "frames_up"), _read_all(corpus / "frames_down")
    mutator = Mutator(up + down, u32_at=_frame_fields, json_at=_frame_json)
    for i in range(count):
        run.start(i)
        data = mutator.make(run.rng(i))
        run.inputs += 1
        try:
            decode(data, max_size=16 * 1024 * 1024)
        except FrameError as exc:
            run.outcomes[f"FrameError:{exc.code}"] += 1
        except BaseException:  # noqa: BLE001 - anything else is what we are looking for
            run.fail(i, data, traceback.format_exc())
        else:
            run.outcomes["decoded"] += 1
    sessions = max(10, count // 25)
    asyncio.run(_fuzz_relay(run, corpus, Mutator(up, u32_at=_frame_fields,
                                                 json_at=_frame_json), count, sessions))
    run.extra["mutations"] = dict(mutator.used)


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(self.format(record))


async def _fuzz_relay(run: Run, corpus: Path, mutator: Mutator, first: int,
                      sessions: int) -> None:
    """Mutated client sessions (real frames, a few of them mutated) against a real relay
    in this process; it must keep serving with its stored envelopes unchanged."""
    from websockets.asyncio.client import connect

    from crdt_store.sync.frames import FrameType, decode, encode
    from crdt_store.sync.relay.server import RelayServer

    errors = _Errors()
    relay_log = logging.getLogger("crdt_store.sync.relay")
    relay_log.addHandler(errors)
    relay_log.propagate = False  # its warnings (bad frames, as expected) stay quiet
    logging.getLogger("websockets").setLevel(logging.CRITICAL)
    up = _read_all(corpus / "frames_up")
    opens = [f for f in up if f[1] == FrameType.OPEN]
    puts = [f for f in up if f[1] == FrameType.PUT]
    hello = next(f for f in up if f[1] == FrameType.HELLO)
    data_dir = run.out / "relay-data"
    shutil.rmtree(data_dir, ignore_errors=True)
    server = RelayServer(data_dir, port=0)
    await server.start()
    try:
        clean = decode(opens[0])
        notebook, token = clean["notebook"], clean["token"]

        async def session(frames: list[bytes], *,
                          until: Callable[[list[bytes]], bool] | None = None) -> list[bytes]:
            """Send the frames; with `until`, read replies until it holds, then close."""
            got: list[bytes] = []
            async with connect(server.url, max_size=None, compression=None,
                               open_timeout=10) as ws:
                for frame in frames:
                    await ws.send(frame)
                while until is not None and not until(got):
                    got.append(await asyncio.wait_for(ws.recv(), 10))
            return got

        def caught_up(got: list[bytes]) -> bool:
            return bool(got) and decode(got[-1]).type is FrameType.CAUGHT_UP

        def acked(got: list[bytes]) -> bool:
            return sum(decode(m).type is FrameType.ACK for m in got) >= len(puts)

        def open_frame(after: int = 0) -> bytes:
            return encode(FrameType.OPEN, {"req": 1, "notebook": notebook, "token": token,
                                           "after": after})

        await session([hello, open_frame(), *puts], until=acked)  # the real log
        before = [m for m in await session([hello, open_frame()], until=caught_up)
                  if decode(m).type is FrameType.ENVELOPE]
        stored = [(decode(m)["seq"], decode(m)["id"], decode(m).body) for m in before]
        assert stored, "the corpus put no envelopes"
        for k in range(sessions):
            i = first + k
            run.start(i)
            rng = run.rng(i)
            frames = [hello, rng.choice(opens), *rng.sample(puts, min(len(puts), 4))]
            for _ in range(rng.randint(1, 3)):
                at = rng.randrange(len(frames))
                frames[at] = mutator.make(rng)
            run.inputs += 1
            try:
                await asyncio.wait_for(session(frames), 20)
            except (OSError, asyncio.TimeoutError) as exc:
                run.fail(i, b"".join(frames), f"the relay stopped serving: {exc!r}")
            except Exception:  # noqa: BLE001 - a close by the relay is fine
                pass
            run.outcomes["relay session"] += 1
        await asyncio.wait_for(server.wait_connections(0), 20)
        after = [m for m in await session([hello, open_frame()], until=caught_up)
                 if decode(m).type is FrameType.ENVELOPE]
        now = [(decode(m)["seq"], decode(m)["id"], decode(m).body) for m in after]
        if now[:len(stored)] != stored:
            run.fail(first + sessions, b"", "the relay's stored envelopes changed")
        if errors.records:
            run.fail(first + sessions, b"", "relay errors: " + " | ".join(errors.records[:3]))
        run.extra["relay_envelopes"] = {"before": len(stored), "after": len(now)}
    finally:
        await server.close()


def _open_payload(key, notebook_id: str, envelope: bytes) -> bytes:
    """The decrypted payload of a real envelope (to mutate, then seal again)."""
    from nacl.bindings import crypto_aead_xchacha20poly1305_ietf_decrypt

    from crdt_store.sync.envelope import MAGIC, NONCE_BYTES, SENDER_BYTES, SIGNATURE_BYTES

    sender = envelope[4:4 + SENDER_BYTES]
    nonce = envelope[4 + SENDER_BYTES:4 + SENDER_BYTES + NONCE_BYTES]
    ciphertext = envelope[4 + SENDER_BYTES + NONCE_BYTES:-SIGNATURE_BYTES]
    associated = MAGIC + notebook_id.encode() + b"\0" + sender
    return crypto_aead_xchacha20poly1305_ietf_decrypt(ciphertext, associated, nonce,
                                                      key.to_bytes())


def _seal_payload(key, notebook_id: str, device, payload: bytes) -> bytes:
    """Any payload, sealed and signed as a member would: the checks after the crypto."""
    from nacl.bindings import crypto_aead_xchacha20poly1305_ietf_encrypt

    from crdt_store.sync.envelope import MAGIC

    associated = MAGIC + notebook_id.encode() + b"\0" + device.public
    nonce = random.randbytes(24)
    ciphertext = crypto_aead_xchacha20poly1305_ietf_encrypt(payload, associated, nonce,
                                                            key.to_bytes())
    return MAGIC + device.public + nonce + ciphertext + device.sign(associated + nonce
                                                                     + ciphertext)


class _Replica:
    """A vault holding the corpus's base documents, and the state checks on it."""

    def __init__(self, corpus: Path, folder: Path) -> None:
        from crdt_store.events import DocKind
        from crdt_store.identity import Author
        from crdt_store.vault import Vault

        shutil.rmtree(folder, ignore_errors=True)
        self.vault = Vault(folder, display_name="Fuzz")
        self.author = Author("fuzz-peer", 4242, "Peer")
        meta = json.loads((corpus / "meta.json").read_text())
        for doc_id, kind in meta["base_order"]:
            self.vault.apply_remote_update(doc_id, DocKind(kind),
                                           (corpus / "base" / f"{doc_id}.bin").read_bytes(),
                                           author=self.author, wall_time=time.time())
        self.vault.flush()

    def abandon(self) -> None:
        """Close a vault whose live document may be corrupt (closing reads it)."""
        try:
            self.vault.close()
        except BaseException:  # noqa: BLE001 - a panic reading it; the lock is released
            pass

    def state(self, doc_id: str) -> tuple[object, ...]:
        """What a check compares; ("unreadable", ...) when reading the document fails or
        its own encoded state no longer decodes (UNREADABLE)."""
        try:
            return self._state(doc_id)
        except BaseException as exc:  # noqa: BLE001 - a Rust panic reading it, too
            return ("unreadable", f"{type(exc).__name__}: {exc}")

    def _state(self, doc_id: str) -> tuple[object, ...]:
        from crdt_store.events import DocKind
        from crdt_store.statevector import decode_state_vector

        vault = self.vault
        kind = vault.document_kind(doc_id)
        if kind is None:
            return (None, vault.last_ticket)
        if kind is DocKind.NOTE:
            content: object = vault.note_text(doc_id)
        else:  # the encoding of a state is not canonical: compare what the catalog says
            from pycrdt import Doc

            from crdt_store import model

            doc = Doc()
            doc.apply_update(vault.encode_state(doc_id))
            content = (model.catalog_info(doc).to_py(), model.catalog_notes(doc).to_py())
        vector = decode_state_vector(vault.encode_state_vector(doc_id))
        return (kind, content, vector, vault.last_ticket)


UNREADABLE = "an accepted update left a document pycrdt cannot read or encode"


def _whole(updates: list[bytes]) -> bytes:
    """The document those updates make, as one update (kept beside a failing input)."""
    from crdt_store import model

    doc = model.new_doc()
    for update in updates:
        doc.apply_update(update)
    return doc.get_update()


def target_envelopes(run: Run, corpus: Path, count: int) -> None:
    """Mutated envelopes, and mutated payloads sealed by a member; what opens goes
    through the engine's merge step, a note's update onto a sound copy of that note."""
    from dataclasses import replace

    from crdt_store.errors import CorruptUpdateError
    from crdt_store.events import DocKind
    from crdt_store.sync.engine import SyncEngine
    from crdt_store.sync.envelope import EnvelopeError, open_envelope
    from crdt_store.sync.keymaterial import DeviceKey, NotebookKey

    meta = json.loads((corpus / "meta.json").read_text())
    key, notebook_id = NotebookKey.from_text(meta["key"]), meta["notebook"]
    envelopes = _read_all(corpus / "envelopes")
    payloads = [_open_payload(key, notebook_id, e) for e in envelopes]
    sealed = Mutator(envelopes)
    plain = Mutator(payloads, u32_at=_payload_fields, json_at=_payload_json)
    member = DeviceKey.generate()
    bases = {doc_id: (corpus / "base" / f"{doc_id}.bin").read_bytes()
             for doc_id, _ in meta["base_order"]}
    replica = _Replica(corpus, run.out / "vault-envelopes")
    engine = SyncEngine(replica.vault, keys=None)  # never started: only its merge step
    try:
        for i in range(run.first, count):
            run.start(i)
            rng = run.rng(i)
            resealed = rng.random() < 0.6
            data = plain.make(rng) if resealed else sealed.make(rng)
            run.inputs += 1
            try:
                envelope = _seal_payload(key, notebook_id, member, data) if resealed else data
                opened = open_envelope(key, notebook_id, envelope)
            except EnvelopeError as exc:
                run.outcomes[f"EnvelopeError:{exc.reason}"] += 1
                continue
            except BaseException:  # noqa: BLE001
                run.fail(i, data, traceback.format_exc())
                continue
            run.outcomes[f"opened:{opened.type}"] += 1
            docs = ([opened] if opened.type == "update" else
                    [_as_update(opened, d) for d in opened.docs])
            for k, one in enumerate(docs):
                doc_id = one.meta.doc_id
                if doc_id in bases and one.meta.kind == "note":  # a sound copy to meet it
                    doc_id = f"{i:024x}{k:08x}"
                    replica.vault.apply_remote_update(doc_id, DocKind.NOTE, bases[one.meta.doc_id],
                                                      author=replica.author, wall_time=time.time())
                    one = replace(one, meta=replace(one.meta, doc_id=doc_id))
                before = replica.state(doc_id)
                try:
                    problem = engine._apply_one(notebook_id, one)
                except CorruptUpdateError:  # _apply_one turns these into a problem
                    problem = "CorruptUpdateError escaped"
                    run.fail(i, data, traceback.format_exc())
                except BaseException:  # noqa: BLE001
                    run.fail(i, data, traceback.format_exc())
                    continue
                after = replica.state(doc_id)
                unchanged = problem is not None and after == before
                if after[0] == "unreadable" and before[0] != "unreadable":
                    run.fail(i, data, f"{UNREADABLE}: {after[1]}")
                    replica.abandon()  # a fresh replica, so later inputs are judged soundly
                    replica = _Replica(corpus, run.out / "vault-envelopes")
                    engine = SyncEngine(replica.vault, keys=None)
                elif problem is None:
                    run.outcomes["applied"] += 1
                elif unchanged:
                    run.outcomes["update rejected, unchanged"] += 1
                else:
                    run.fail(i, data, f"rejected ({problem}) but the document changed")
            if i % 1000 == 999:  # start over now and then: the vault holds every copy
                replica.abandon()
                replica = _Replica(corpus, run.out / "vault-envelopes")
                engine = SyncEngine(replica.vault, keys=None)
        replica.vault.flush()
    finally:
        replica.abandon()
    run.extra["mutations"] = dict(sealed.used + plain.used)


def _as_update(opened, doc):
    from dataclasses import replace

    from crdt_store.sync.envelope import UpdateMeta

    meta = UpdateMeta(doc_id=doc.doc_id, kind=doc.kind, client=opened.meta.client,
                      device=opened.meta.device, name=opened.meta.name, time=opened.meta.time,
                      made_on=b"\x00", n=opened.meta.n)
    return replace(opened, type="update", meta=meta, update=doc.update, docs=())


def target_updates(run: Run, corpus: Path, count: int) -> None:
    """Each input meets a sound document: a fresh copy of a corpus document (its base
    state and a random number of its real updates, in order), then the mutated update."""
    from crdt_store.errors import CorruptUpdateError
    from crdt_store.events import DocKind

    meta = json.loads((corpus / "meta.json").read_text())
    records = [(doc_id, DocKind(kind)) for doc_id, kind in meta["updates"]]
    blobs = _read_all(corpus / "updates")
    history = {doc_id: [b for (d, _), b in zip(records, blobs, strict=True) if d == doc_id]
               for doc_id, _ in meta["base_order"]}
    bases = {doc_id: (corpus / "base" / f"{doc_id}.bin").read_bytes()
             for doc_id, _ in meta["base_order"]}
    docs = [(doc_id, DocKind(kind)) for doc_id, kind in meta["base_order"]]
    records = [r for r in records if r[0] in bases]  # (not notes made after the base)
    mutator = Mutator(blobs)
    replica = _Replica(corpus, run.out / "vault-updates")
    try:
        for i in range(run.first, count):
            run.start(i)
            rng = run.rng(i)
            data = mutator.make(rng)
            source, kind = rng.choice(records) if rng.random() < 0.8 else rng.choice(docs)
            doc_id = f"{i:032x}"  # this input's own copy of the document
            copy = [bases[source], *history[source][:rng.randint(0, len(history[source]))]]
            for update in copy:
                replica.vault.apply_remote_update(doc_id, kind, update, author=replica.author,
                                                  wall_time=time.time())
            before = replica.state(doc_id)
            run.inputs += 1
            try:
                replica.vault.apply_remote_update(doc_id, kind, data, author=replica.author,
                                                  wall_time=time.time())
            except CorruptUpdateError as exc:
                try:
                    unchanged = replica.state(doc_id) == before
                except BaseException:  # noqa: BLE001 - reading the half-merged copy failed
                    unchanged = False
                if unchanged:
                    run.outcomes["CorruptUpdateError, unchanged"] += 1
                else:
                    run.fail(i, data, f"CorruptUpdateError ({exc}), but the document changed: {before!r} -> {replica.state(doc_id)!r}",
                             state=_whole(copy))
                    replica.abandon()  # closing reads every document: it may fail too
                    replica = _Replica(corpus, run.out / "vault-updates")
            except BaseException:  # noqa: BLE001
                run.fail(i, data, traceback.format_exc(), state=_whole(copy))
            else:
                after = replica.state(doc_id)
                if after[0] == "unreadable":
                    run.fail(i, data, f"{UNREADABLE}: {after[1]}", state=_whole(copy))
                    replica.abandon()
                    replica = _Replica(corpus, run.out / "vault-updates")
                else:
                    run.outcomes["applied"] += 1
            if i % 1000 == 999:  # start over now and then: the vault holds every copy
                replica.abandon()
                replica = _Replica(corpus, run.out / "vault-updates")
        replica.vault.flush()
    finally:
        replica.abandon()
    run.extra["mutations"] = dict(mutator.used)


FRONT_MATTER_LINES = (
    "---", "id: 0123456789abcdef0123456789abcdef", "tags: [a, b", "tags:\n  - x\n  - 'y",
    "created: 99999999999999", "date: 2026-02-30", "modified: -1", "updated: 1e400",
    "title: \"unterminated", "? complex key", "key: &anchor", "id: !!python/object",
    "tags: #x #y", ": no key", "\"quoted\": 1", "tags: [[[]]]", "created:", "\ufeff---",
    "---\n---", "a: b: c", "tags: " + "x," * 2000)


def _mutate_markdown(rng: random.Random, seeds: list[bytes], mutator: Mutator) -> bytes:
    data = rng.choice(seeds)
    roll = rng.random()
    if roll < 0.4:
        return mutator.make(rng)
    text = data.decode("utf-8", errors="replace").split("\n")
    for _ in range(rng.randint(1, 4)):
        line = rng.choice(FRONT_MATTER_LINES)
        text.insert(rng.randrange(min(len(text), 6) + 1), line)
    if rng.random() < 0.3:
        text = ["---", *text[:3], "---", *text[3:]]
    return "\n".join(text).encode()


def target_import(run: Run, corpus: Path, count: int) -> None:
    from crdt_store.markdown_io import import_folder
    from crdt_store.vault import Vault

    seeds = [p.read_bytes() for p in sorted((corpus / "markdown").rglob("*.md"))]
    mutator = Mutator(seeds)
    folder = run.out / "vault-import"
    shutil.rmtree(folder, ignore_errors=True)
    vault = Vault(folder, display_name="Fuzz")
    per_batch = 5
    try:
        i = 0
        batch = 0
        while i < count:
            source = run.out / "imports" / f"batch{batch:05d}"
            shutil.rmtree(source, ignore_errors=True)
            source.mkdir(parents=True)
            files: dict[str, bytes] = {}
            first = i
            for _ in range(min(per_batch, count - i)):
                rng = run.rng(i)
                data = _mutate_markdown(rng, seeds, mutator)
                sub = rng.choice(("", "", "Sub", "Sub/Deeper", ".hidden"))
                name = f"{sub}/n{i}{rng.choice(('.md', '.md', '.markdown', '.MD', '.txt'))}"
                files[name.lstrip("/")] = data
                path = source / name.lstrip("/")
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
                i += 1
            run.start(first)
            run.inputs += len(files)
            blob = json.dumps({k: base64.b64encode(v).decode() for k, v in files.items()})
            try:
                notes_before = sum(vault.note_counts())
                report = import_folder(vault, source)
                visible = [k for k in files if not k.startswith(".hidden")]
                accounted = report.created + report.updated + report.unchanged + len(
                    report.skipped)
                if accounted != len(visible):
                    run.fail(first, blob.encode(), f"{accounted} files accounted for, "
                             f"{len(visible)} imported: {report}")
                if sum(vault.note_counts()) - notes_before != report.created:
                    run.fail(first, blob.encode(), f"notes created {report.created}, but "
                             f"{sum(vault.note_counts()) - notes_before} appeared")
                run.outcomes["files created"] += report.created
                run.outcomes["files updated"] += report.updated + report.unchanged
                run.outcomes["files skipped"] += len(report.skipped)
                run.outcomes["front matter warnings"] += len(report.warnings)
                if batch % 4 == 0:
                    again = import_folder(vault, source)
                    if again.created:
                        run.fail(first, blob.encode(), f"importing again created {again}")
                    run.outcomes["re-imports"] += 1
            except BaseException:  # noqa: BLE001
                run.fail(first, blob.encode(), traceback.format_exc())
            shutil.rmtree(source, ignore_errors=True)
            batch += 1
        vault.flush()
    finally:
        vault.close()
    run.extra["mutations"] = dict(mutator.used)


RESUMABLE = ("envelopes", "updates")  # their inputs are independent of the ones before
TARGETS = {"frames": target_frames, "envelopes": target_envelopes, "import": target_import,
           "updates": target_updates}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz_harness")
    parser.add_argument("target", choices=sorted(TARGETS))
    parser.add_argument("corpus", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--first", type=int, default=0,
                        help="start at this input (after a crash), on a fresh replica")
    parser.add_argument("--mem-mb", type=int, default=2048, help="address-space limit")
    parser.add_argument("--cpu-s", type=int, default=300, help="CPU-time limit")
    args = parser.parse_args(argv)
    faulthandler.enable()  # a crash in native code still names the Python line
    memory = args.mem_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (args.cpu_s, args.cpu_s + 5))
    logging.basicConfig(level=logging.CRITICAL)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.first and args.target not in RESUMABLE:
        parser.error(f"--first is for {', '.join(RESUMABLE)}")
    run = Run(args.target, args.out, args.seed, args.first)
    run.extra["memory_limit_mb"] = args.mem_mb
    TARGETS[args.target](run, args.corpus, args.count)
    run.write_result()
    return 0


if __name__ == "__main__":
    sys.exit(main())
