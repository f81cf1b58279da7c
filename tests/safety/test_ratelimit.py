"""Token buckets: global and per (tool, host)."""

from __future__ import annotations

import threading

import pytest

from safety import RateLimiter, SafetySettings

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_per_target_burst_then_refill() -> None:
    clock = Clock()
    rl = RateLimiter(
        global_per_minute=6000, global_burst=1000, target_per_minute=60, target_burst=3, clock=clock
    )
    assert [rl.acquire("ssh", "web1") for _ in range(3)] == [None, None, None]
    wait = rl.acquire("ssh", "web1")
    assert wait == pytest.approx(1.0)
    assert rl.acquire("ssh", "db1") is None  # other targets are independent
    assert rl.acquire("http", "web1") is None  # and so are other tools on the same host
    clock.t += 0.5
    assert rl.acquire("ssh", "web1") == pytest.approx(0.5)
    clock.t += 0.5
    assert rl.acquire("ssh", "web1") is None


def test_global_bucket_caps_everything() -> None:
    clock = Clock()
    rl = RateLimiter(
        global_per_minute=30, global_burst=2, target_per_minute=600, target_burst=100, clock=clock
    )
    assert rl.acquire("shell", "a") is None
    assert rl.acquire("shell", "b") is None
    assert rl.acquire("shell", "c") == pytest.approx(2.0)
    clock.t += 2.0
    assert rl.acquire("shell", "c") is None


def test_a_refused_call_takes_no_token() -> None:
    clock = Clock()
    rl = RateLimiter(global_per_minute=60, global_burst=1, target_per_minute=60, target_burst=5, clock=clock)
    assert rl.acquire("ssh", "a") is None
    for _ in range(5):
        assert rl.acquire("ssh", "b") is not None  # global empty: b's own bucket must stay full
    clock.t += 1.0
    assert rl.acquire("ssh", "b") is None


def test_from_settings() -> None:
    s = SafetySettings(
        rate_global_per_minute=120, rate_global_burst=4, rate_target_per_minute=60, rate_target_burst=1
    )
    rl = RateLimiter.from_settings(s, clock=Clock())
    assert rl.acquire("ssh", "x") is None
    assert rl.acquire("ssh", "x") == pytest.approx(1.0)


def test_disabled_by_settings() -> None:
    assert RateLimiter.for_settings(SafetySettings(rate_limit_enabled=False)) is None
    assert isinstance(RateLimiter.for_settings(SafetySettings()), RateLimiter)


def test_thread_safe_no_overspend() -> None:
    rl = RateLimiter(global_per_minute=1e-6, global_burst=50, target_per_minute=1e-6, target_burst=1000)
    granted = []

    def worker() -> None:
        for _ in range(100):
            if rl.acquire("shell", "(local)") is None:
                granted.append(1)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(granted) == 50


def test_settings_fields_documented() -> None:
    for name, field in SafetySettings.model_fields.items():
        assert field.description, name
    with pytest.raises(ValueError):
        SafetySettings(unknown=1)
