"""Load: 20 clients each put 10 envelopes a second through one relay, in its own process.

The load itself is the sync benchmark's (tests/benchmarks/bench_sync.py, `_run_load`):
raw protocol clients stamp each envelope, and every client must receive every other
client's envelopes exactly once, and an ACK for each of its own. Beside it, two real
devices (vaults with sync engines) share another notebook through the same relay and
keep writing markers; they must lose nothing (tests/invariants.py) and their edits
must still cross quickly. The relay's RSS is sampled through the run and must stay
bounded.

Default run: 5 s of load. `--long` (or PLAIT_LONG_TESTS=1): 60 s, as the issue asks.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time

from crdt_store.sync.invite import parse_invite

from .benchmarks.bench_sync import _run_load, pct, relay_process
from .invariants import MarkerLog, check_no_internal_errors, check_nothing_lost, wait_converged

CLIENTS, RATE, SIZE = 20, 10.0, 100
MEMORY_HEADROOM_MB = 64  # the relay's peak RSS over its idle RSS
P95_LIMIT_S = 1.0  # envelope propagation under load (the benchmark sees about 3 ms)


async def _load_and_sample(relay, seconds: float) -> dict:
    samples: list[int] = []

    async def sample() -> None:
        while True:
            samples.append(relay.memory_kb()[0])
            await asyncio.sleep(0.5)  # the sampling period, not a wait for an outcome

    sampler = asyncio.ensure_future(sample())
    try:
        result = await _run_load(relay.url, clients=CLIENTS, rate=RATE, seconds=seconds,
                                 size=SIZE, relay=True, server=relay)
    finally:
        sampler.cancel()
    result["rss_samples_kb"] = samples
    return result


def test_twenty_clients_through_one_relay_lose_nothing(devices, tmp_path, long_run,
                                                        hardening_report, caplog):
    seconds = 60.0 if long_run else 5.0
    relay = relay_process(tmp_path / "relay")
    try:
        a, b = devices.add("Ada"), devices.add("Bo")
        nb = a.vault.create_notebook("Under load")
        note = a.vault.create_note(nb, "# Log\n")
        b.engine.join(parse_invite(a.engine.share(nb, (relay.url,)).link()))
        assert devices.pump_until(lambda: b.vault.document_kind(note) is not None
                                  and b.vault.notebook_of(note) == nb, timeout=30)
        wait_converged(devices)

        box: dict = {}
        load = threading.Thread(target=lambda: box.update(
            asyncio.run(_load_and_sample(relay, seconds))), name="load")
        load.start()
        rng, log = random.Random(7), MarkerLog()
        waiting: dict[str, tuple[float, object]] = {}  # marker -> (written, receiver)
        crossed: list[float] = []
        next_edit = time.monotonic()
        while load.is_alive():
            now = time.monotonic()
            if now >= next_edit:  # a marker every 0.2 s, from either device
                writer, reader = (a, b) if len(log.written) % 2 == 0 else (b, a)
                marker = log.insert(writer.name, writer.vault, note, rng)
                waiting[marker] = (time.monotonic(), reader)
                next_edit = now + 0.2
            for marker, (written, reader) in list(waiting.items()):
                if marker in reader.vault.note_text(note):
                    crossed.append(time.monotonic() - written)
                    del waiting[marker]
            devices.pump_until(lambda: not load.is_alive(), timeout=0.02)
        load.join()
        wait_converged(devices)
        for device in (a, b):
            device.vault.flush()
            log.record_durable(device.name, device.vault)
        counts = check_nothing_lost([a.vault, b.vault], log, rng=rng)
        check_no_internal_errors(caplog.records)
    finally:
        relay.stop()

    result = box
    expected = CLIENTS * (CLIENTS - 1) * result["count"]
    assert result["problems"] == [], result["problems"]
    assert result["lost"] == 0 and result["duplicates"] == 0
    assert result["delivered"] == expected
    p50, p95 = pct(result["prop"], 50), pct(result["prop"], 95)
    assert p95 < P95_LIMIT_S
    idle_mb, peak_mb = result["rss_idle_kb"] / 1024, result["hwm_kb"] / 1024
    samples = [kb / 1024 for kb in result["rss_samples_kb"]]
    assert peak_mb < idle_mb + MEMORY_HEADROOM_MB, (idle_mb, peak_mb)
    device_p95 = pct(crossed, 95) if crossed else float("nan")
    hardening_report(
        f"{CLIENTS} clients x {RATE:g}/s for {seconds:g} s: {CLIENTS * result['count']} PUTs, "
        f"{result['delivered']} deliveries, 0 lost, 0 duplicated; propagation p50 / p95 "
        f"{p50 * 1e3:.1f} / {p95 * 1e3:.1f} ms; relay RSS idle {idle_mb:.0f} MB, sampled "
        f"{min(samples):.0f}-{max(samples):.0f} MB, peak {peak_mb:.0f} MB; two real devices "
        f"beside it: {len(log.written)} markers, edit to the other device p95 "
        f"{device_p95 * 1e3:.0f} ms; {counts}")
