"""Token buckets: one global, one per (tool, host). A call needs a token from both."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from safety.config import SafetySettings

# Per-target buckets that are full again carry no state; past this many we drop them.
_MAX_TARGETS = 4096


@dataclass
class _Bucket:
    rate: float  # tokens per second
    capacity: float
    tokens: float
    updated: float

    def refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def wait(self) -> float:
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.rate


class RateLimiter:
    """Thread-safe. `acquire()` takes a token from both buckets or returns seconds to wait."""

    def __init__(
        self,
        global_per_minute: float = 60.0,
        global_burst: int = 20,
        target_per_minute: float = 20.0,
        target_burst: int = 10,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._clock = clock
        self._lock = threading.Lock()
        now = clock()
        self._global = _Bucket(global_per_minute / 60.0, float(global_burst), float(global_burst), now)
        self._target_rate = target_per_minute / 60.0
        self._target_burst = float(target_burst)
        self._targets: dict[tuple[str, str], _Bucket] = {}

    @classmethod
    def from_settings(
        cls, settings: SafetySettings, clock: Callable[[], float] = time.monotonic
    ) -> RateLimiter:
        return cls(
            settings.rate_global_per_minute,
            settings.rate_global_burst,
            settings.rate_target_per_minute,
            settings.rate_target_burst,
            clock,
        )

    @classmethod
    def for_settings(cls, settings: SafetySettings) -> RateLimiter | None:
        """The limiter to pass to `check()`: None when `rate_limit_enabled` is off."""
        return cls.from_settings(settings) if settings.rate_limit_enabled else None

    def acquire(self, tool: str, target: str) -> float | None:
        """None when the call may go ahead (tokens taken), else seconds until it could."""
        with self._lock:
            now = self._clock()
            key = (tool, target)
            bucket = self._targets.get(key)
            if bucket is None:
                self._evict(now)
                bucket = _Bucket(self._target_rate, self._target_burst, self._target_burst, now)
                self._targets[key] = bucket
            self._global.refill(now)
            bucket.refill(now)
            wait = max(self._global.wait(), bucket.wait())
            if wait > 0:
                return wait
            self._global.tokens -= 1.0
            bucket.tokens -= 1.0
            return None

    def _evict(self, now: float) -> None:
        if len(self._targets) < _MAX_TARGETS:
            return
        for key, b in list(self._targets.items()):
            b.refill(now)
            if b.tokens >= b.capacity:
                del self._targets[key]
