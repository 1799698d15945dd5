"""Token buckets and the per-connection limits of the relay."""

from __future__ import annotations

import pytest

from crdt_store.sync.relay.limits import ConnectionLimiter, Limits, TokenBucket
from crdt_store.sync.relay.server import parse_size

from .relay_store_conformance import FakeClock


def test_a_bucket_spends_its_burst_then_refills_at_its_rate() -> None:
    clock = FakeClock(100.0)
    bucket = TokenBucket(rate=10, burst=5, clock=clock)
    assert [bucket.take() for _ in range(6)] == [True] * 5 + [False]
    clock.now += 0.25  # 2.5 tokens
    assert [bucket.take() for _ in range(3)] == [True, True, False]
    clock.now += 60
    assert bucket.tokens == 5  # never above the burst
    assert not bucket.take(6)  # more than a full bucket never passes
    assert bucket.tokens == 5  # and a refused take spends nothing


def test_a_rate_of_zero_is_unlimited() -> None:
    bucket = TokenBucket(rate=0, burst=0, clock=FakeClock())
    assert all(bucket.take(10**9) for _ in range(100))


def test_the_connection_limiter_counts_frames_and_bytes() -> None:
    clock = FakeClock()
    limits = Limits(max_frame=4096, max_envelope=1024, frames_per_second=2,
                    bytes_per_second=1000)
    assert (limits.frame_bucket_size, limits.byte_bucket_size) == (4, 4096)
    limiter = ConnectionLimiter(limits, clock=clock)
    assert [limiter.admit(10) for _ in range(5)] == [True] * 4 + [False]
    clock.now += 10
    assert limiter.admit(4096)  # one maximal frame always fits the byte bucket
    assert not limiter.admit(100)
    clock.now += 0.2
    assert limiter.admit(100)


def test_limits_reject_inconsistent_sizes() -> None:
    with pytest.raises(ValueError):
        Limits(max_frame=64 * 1024, max_envelope=128 * 1024)
    with pytest.raises(ValueError):
        Limits(max_frame=100)
    with pytest.raises(ValueError):
        Limits(frames_per_second=-1)


@pytest.mark.parametrize(("text", "size"), [("4096", 4096), ("64K", 65536), ("16M", 16 << 20),
                                            ("1GiB", 1 << 30), ("1.5m", 3 << 19)])
def test_sizes_on_the_command_line(text: str, size: int) -> None:
    assert parse_size(text) == size
