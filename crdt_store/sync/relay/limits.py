"""Per-connection limits of the relay: sizes, and token buckets for frames and bytes.

A token bucket holds up to `burst` tokens and refills at `rate` per second; a frame
is admitted when both buckets can pay for it (one token per frame, one per byte).
A rate of 0 switches that bucket off.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

MIB = 1024 * 1024


class TokenBucket:
    """`take(n)` is True and spends n tokens, or False and spends nothing."""

    def __init__(self, rate: float, burst: float, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if rate < 0 or burst < 0:
            raise ValueError("a token bucket needs a non-negative rate and burst")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = burst
        self._last = clock()

    @property
    def tokens(self) -> float:
        self._refill()
        return self._tokens

    def take(self, amount: float = 1.0) -> bool:
        if self.rate == 0:
            return True
        self._refill()
        if amount > self._tokens:
            return False
        self._tokens -= amount
        return True

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._last)
        self._last = now
        self._tokens = min(self.burst, self._tokens + elapsed * self.rate)


@dataclass(frozen=True)
class Limits:
    """What one connection may send. Bursts default to two seconds' worth, and the
    byte burst is never below one maximal frame (else such a frame could never pass)."""

    max_frame: int = 16 * MIB
    max_envelope: int = 4 * MIB
    frames_per_second: float = 200.0
    bytes_per_second: float = 8.0 * MIB
    frame_burst: float | None = None
    byte_burst: float | None = None

    def __post_init__(self) -> None:
        if self.max_frame < 1024:
            raise ValueError("max_frame must be at least 1024 bytes")
        if not 0 < self.max_envelope <= self.max_frame:
            raise ValueError("max_envelope must be positive and at most max_frame")
        if self.frames_per_second < 0 or self.bytes_per_second < 0:
            raise ValueError("rates must not be negative")

    @property
    def frame_bucket_size(self) -> float:
        if self.frame_burst is not None:
            return max(1.0, self.frame_burst)
        return max(1.0, 2 * self.frames_per_second)

    @property
    def byte_bucket_size(self) -> float:
        wanted = self.byte_burst if self.byte_burst is not None else 2 * self.bytes_per_second
        return max(float(self.max_frame), wanted)


class ConnectionLimiter:
    """The two buckets of one connection."""

    def __init__(self, limits: Limits, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.frames = TokenBucket(limits.frames_per_second, limits.frame_bucket_size,
                                  clock=clock)
        self.bytes = TokenBucket(limits.bytes_per_second, limits.byte_bucket_size,
                                 clock=clock)

    def admit(self, size: int) -> bool:
        """Pay for one received message of `size` bytes; False when over the rate."""
        if not self.frames.take(1):
            return False
        return self.bytes.take(size)
