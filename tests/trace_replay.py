"""Replay a concurrent editing trace through real vaults, one per agent.

A concurrent trace (tests/benchmarks/data/README.md) records who typed each transaction
and on which merged state (`parents`). The replay gives every agent its own vault and
forks and merges them along `parents`: before agent a's replica applies transaction i,
it is sent (`Vault.apply_remote_update`, with the sender's own update bytes, stamp and
`made_on`, in the order they were made) every other agent's transaction that is an
ancestor of i and has not reached it yet. Then i's patches go through `Vault.edit`.
At the end every replica gets everything and all must agree (on `endContent`, for the
whole trace).

Ground truth comes from the trace's DAG, never from the store: `Trace.is_ancestor`,
`Trace.concurrent`. Each transaction's `EditStamp` is recorded (`Replay.stamps`), so a
detector's flag can be mapped back to the transactions it names (`Replay.txns_of`).
With `track_positions`, each transaction also gets a pycrdt sticky index on its
sender, so where it lies in any replica's text can be asked later (`Replay.range_of`)
through the CRDT itself rather than through the detector's bookkeeping.

Merges (`apply_remote_update`, including everything its subscribers do) and local edits
(`Vault.edit`) are timed separately: `Replay.merge_seconds`, `Replay.edit_seconds`.
"""

from __future__ import annotations

import bisect
import gzip
import json
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pycrdt import Assoc, StickyIndex

from crdt_store.edit_clock import EditStamp
from crdt_store.events import ChangeEvent, DocKind, Source
from crdt_store.model import note_body
from crdt_store.unicode_offsets import TextOp
from crdt_store.vault import Vault

TRACE = Path(__file__).parent / "benchmarks" / "data" / "friendsforever.json.gz"
RELAY = "wss://relay.invalid"  # listed on the notebook to make it shared; never contacted


@dataclass
class Trace:
    """A concurrent trace (or a prefix of one) with its causal structure precomputed."""

    patches: list[list[tuple[int, int, str]]]
    agent: list[int]
    parents: list[list[int]]
    num_agents: int
    end_content: str | None  # None for a prefix: the trace does not say
    seq: list[int] = field(init=False)  # index of each txn among its agent's txns
    by_agent: list[list[int]] = field(init=False)  # each agent's txns, in order
    base: list[tuple[int, ...]] = field(init=False)  # version vector a txn was typed on
    clock: list[tuple[int, ...]] = field(init=False)  # ... and the one it produced

    def __post_init__(self) -> None:
        n = self.num_agents
        self.seq, self.base, self.clock = [], [], []
        self.by_agent = [[] for _ in range(n)]
        for i, (a, parents) in enumerate(zip(self.agent, self.parents)):
            base = [0] * n
            for p in parents:
                if not 0 <= p < i:
                    raise ValueError(f"txn {i}: parent {p} is not an earlier txn")
                base = [max(x, y) for x, y in zip(base, self.clock[p])]
            if base[a] != len(self.by_agent[a]):
                # One replica per agent needs each agent's own txns to form a chain.
                raise ValueError(f"txn {i}: agent {a} typed it without its own earlier txns")
            self.seq.append(len(self.by_agent[a]))
            self.by_agent[a].append(i)
            self.base.append(tuple(base))
            base[a] += 1
            self.clock.append(tuple(base))
        self._net = [sum(len(ins) - d for _, d, ins in p) for p in self.patches]
        self._net_prefix = []
        for txns in self.by_agent:
            sums = [0]
            for i in txns:
                sums.append(sums[-1] + self._net[i])
            self._net_prefix.append(sums)

    def __len__(self) -> int:
        return len(self.patches)

    def is_ancestor(self, x: int, y: int) -> bool:
        """Had txn y's author seen txn x (x is in y's causal past; y itself excluded)?"""
        return x != y and self.clock[y][self.agent[x]] > self.seq[x]

    def concurrent(self, x: int, y: int) -> bool:
        return x != y and not self.is_ancestor(x, y) and not self.is_ancestor(y, x)

    def length_at(self, vector: Sequence[int]) -> int:
        """The document length the trace implies after the txns of a version vector
        (exact unless two concurrent txns deleted the same character)."""
        return sum(self._net_prefix[a][k] for a, k in enumerate(vector))

    def prefix(self, limit: int | None) -> Trace:
        """The first `limit` txns (parents always come first, so it is a trace too)."""
        if limit is None or limit >= len(self):
            return self
        return Trace(self.patches[:limit], self.agent[:limit], self.parents[:limit],
                     self.num_agents, None)


def load_trace(path: Path = TRACE, limit: int | None = None) -> Trace:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        data = json.load(fh)
    if data.get("startContent"):
        raise ValueError("only traces that start from the empty document are supported")
    txns = data["txns"]
    trace = Trace([[tuple(p) for p in t["patches"]] for t in txns],
                  [t["agent"] for t in txns], [t["parents"] for t in txns],
                  data["numAgents"], data["endContent"])
    return trace.prefix(limit)


@dataclass
class Replica:
    agent: int
    vault: Vault
    heard: list[ChangeEvent] = field(default_factory=list)  # its own edits' events
    delivered: list[int] = field(default_factory=list)  # per agent: how many txns it has

    def on_change(self, event: ChangeEvent) -> None:
        if event.kind is DocKind.NOTE and event.origin.source is Source.LOCAL:
            self.heard.append(event)


@dataclass(frozen=True)
class Sent:
    """What a transaction's sender published: forwarded as such to the other replicas."""

    update: bytes
    stamp: EditStamp
    made_on: bytes
    wall_time: float


class Replay:
    """Replay `trace` into one vault per agent under `root` (see the module docstring).

    `vault_options` go to every `Vault(...)`. `on_replica(replay, replica)` is called
    once per replica before any txn (attach detectors there; `replay.note_id` is set). `shared` lists a relay on
    the note's notebook, so the vault's own detector follows the note. `check_texts`
    compares each replica's text, before every txn, with the length the trace implies
    and with any other replica that was at the same version (costs a read of the text
    per txn, outside the timed calls).
    """

    def __init__(self, trace: Trace, root: Path, *, vault_options: dict | None = None,
                 on_replica: Callable[[Replica, str], None] | None = None,
                 shared: bool = False, check_texts: bool = True,
                 track_positions: bool = False) -> None:
        self.trace = trace
        self.check_texts = check_texts
        self.track_positions = track_positions
        self.merge_seconds = 0.0  # in apply_remote_update
        self.edit_seconds = 0.0  # in Vault.edit
        self.merges = 0
        self.merging: int | None = None  # the txn being merged, while it is
        self.stamps: list[EditStamp | None] = [None] * len(trace)
        self._sent: list[Sent | None] = [None] * len(trace)
        self._anchors: list[tuple[bytes | None, bytes | None]] = [(None, None)] * len(trace)
        self._texts_at: dict[tuple[int, ...], int] = {}  # version -> crc32 of the text
        self._counts: list[list[int]] = [[] for _ in range(trace.num_agents)]
        self._agent_of: dict[int, int] = {}  # client id -> agent
        options = {"search": False, **(vault_options or {})}
        # Yjs puts concurrent insertions at one place in client-id order, and the
        # trace's endContent has lower agent indices first: so agent a gets the vault
        # with the a-th smallest client id (each reopened under its agent's name).
        paths = []
        for k in range(trace.num_agents):
            with Vault(root / f"replica{k}", **options) as vault:
                paths.append((vault.author.client_id, vault.path))
        if len({client for client, _ in paths}) != len(paths):
            raise RuntimeError("two replicas drew the same client id")
        self.replicas: list[Replica] = []
        try:
            for a, (_, path) in enumerate(sorted(paths)):
                vault = Vault(path, display_name=f"Agent {a}", **options)
                self.replicas.append(Replica(a, vault, delivered=[0] * trace.num_agents))
            self._setup(shared, on_replica)
        except BaseException:
            self.close()
            raise

    def _setup(self, shared: bool, on_replica) -> None:
        first = self.replicas[0].vault
        notebook = first.create_notebook("Trace")
        self.note_id = first.create_note(notebook)
        if shared:
            first.update_sharing(notebook, relays=(RELAY,))
        for replica in self.replicas:
            vault = replica.vault
            self._agent_of[vault.author.client_id] = replica.agent
            if vault is not first:
                for doc_id, kind in ((notebook, DocKind.CATALOG), (self.note_id, DocKind.NOTE)):
                    vault.apply_remote_update(doc_id, kind, first.encode_state(doc_id),
                                              author=first.author, wall_time=time.time())
            vault.subscribe(replica.on_change)
            if on_replica is not None:
                on_replica(self, replica)

    # ---- running -------------------------------------------------------------------

    def run(self) -> Replay:
        """Replay every txn, then exchange everything and check that all agree."""
        for i in range(len(self.trace)):
            self.step(i)
        self.finish()
        return self

    def step(self, i: int) -> None:
        trace = self.trace
        replica = self.replicas[trace.agent[i]]
        self._deliver(replica, trace.base[i])
        vault = replica.vault
        if self.check_texts:
            self._check_text(replica, trace.base[i], f"before txn {i}")
        ops = [TextOp(pos, delete, insert) for pos, delete, insert in trace.patches[i]]
        before = (self._anchor(replica, ops[0].pos)
                  if self.track_positions and ops[0].delete else None)
        t0 = time.perf_counter()
        vault.edit(self.note_id, ops)
        self.edit_seconds += time.perf_counter() - t0
        after = (self._anchor(replica, ops[-1].pos)
                 if self.track_positions and ops[-1].insert else None)
        self._anchors[i] = (before, after)
        [event] = replica.heard  # one transaction, one event
        replica.heard.clear()
        stamp = event.stamp
        assert stamp is not None and stamp.client == vault.author.client_id
        self.stamps[i] = stamp
        counts = self._counts[replica.agent]
        assert not counts or counts[-1] < stamp.first, "counts must grow"
        counts.append(stamp.first)
        self._sent[i] = Sent(event.update, stamp, event.made_on, event.wall_time)
        replica.delivered[replica.agent] += 1

    def finish(self) -> None:
        """Every replica gets every txn; all must then hold the same text (and the
        trace's `endContent`, when replaying all of it)."""
        everything = tuple(len(txns) for txns in self.trace.by_agent)
        texts = []
        for replica in self.replicas:
            self._deliver(replica, everything)
            texts.append(replica.vault.note_text(self.note_id))
        assert len(set(texts)) == 1, "the replicas diverged"
        assert len(texts[0]) == self.trace.length_at(everything)
        if self.trace.end_content is not None:
            assert texts[0] == self.trace.end_content, "the replay did not reach endContent"
        self.text = texts[0]

    def _deliver(self, replica: Replica, vector: Sequence[int]) -> None:
        """Send `replica` every txn of the other agents within `vector` it lacks, in the
        trace's order (a causal order: parents come first)."""
        trace = self.trace
        missing = []
        for agent, wanted in enumerate(vector):
            have = replica.delivered[agent]
            assert have <= wanted, f"agent {replica.agent} is ahead of the trace"
            if agent != replica.agent:
                missing.extend(trace.by_agent[agent][have:wanted])
            replica.delivered[agent] = max(have, wanted)
        missing.sort()
        vault = replica.vault
        for j in missing:
            sent = self._sent[j]
            sender = self.replicas[trace.agent[j]].vault
            self.merging = j
            t0 = time.perf_counter()
            vault.apply_remote_update(self.note_id, DocKind.NOTE, sent.update,
                                      author=sender.author, wall_time=sent.wall_time,
                                      made_on=sent.made_on, stamp=sent.stamp)
            self.merge_seconds += time.perf_counter() - t0
        self.merging = None
        self.merges += len(missing)

    def _check_text(self, replica: Replica, vector: tuple[int, ...], where: str) -> None:
        text = replica.vault.note_text(self.note_id)
        assert len(text) == self.trace.length_at(vector), f"agent {replica.agent}, {where}"
        crc = zlib.crc32(text.encode())
        known = self._texts_at.setdefault(vector, crc)
        assert known == crc, f"agent {replica.agent}, {where}: replicas differ at one version"

    # ---- mapping back to the trace -----------------------------------------------------

    def txns_of(self, stamp: EditStamp) -> list[int]:
        """The trace txns a stamp (counts first..last of one client) covers."""
        agent = self._agent_of[stamp.client]
        counts = self._counts[agent]
        lo = bisect.bisect_left(counts, stamp.first)
        hi = bisect.bisect_right(counts, stamp.last)
        return self.trace.by_agent[agent][lo:hi]

    def agent_of(self, client: int) -> int:
        return self._agent_of[client]

    def _anchor(self, replica: Replica, pos: int) -> bytes:
        text = note_body(replica.vault.note_doc(self.note_id))
        return StickyIndex.new(text, pos, Assoc.AFTER).encode()

    def range_of(self, agent: int, i: int) -> tuple[int, int]:
        """Where txn i is now in `agent`'s replica: [start, end) of what it inserted, or
        the empty range where it deleted (found through the CRDT's own item ids; needs
        `track_positions`, and an ASCII text, where pycrdt's byte offsets are code points)."""
        deleted_at, inserted_at = self._anchors[i]
        text = note_body(self.replicas[agent].vault.note_doc(self.note_id))
        if inserted_at is not None:
            start = StickyIndex.decode(inserted_at, text).get_index()
            inserted = self.trace.patches[i][-1][2]
            if text[start:start + len(inserted)] == inserted:
                return start, start + len(inserted)
            return start, start  # deleted since: where it was
        assert deleted_at is not None, f"txn {i} made no anchor"
        at = StickyIndex.decode(deleted_at, text).get_index()
        return at, at

    def close(self) -> None:
        for replica in self.replicas:
            replica.vault.close()
