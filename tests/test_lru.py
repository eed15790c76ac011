"""The server-wide feature cache: bounded, least recently used out first, one computation per key."""

from __future__ import annotations

import threading
import time

import pytest

from detector.lru import LruCache


def test_keeps_at_most_size_and_drops_the_least_recently_used():
    cache = LruCache[int](3)
    for key in "abc":
        cache.get_or_compute(key, lambda key=key: ord(key))
    assert cache.get("a") == ord("a")  # "a" is now the most recent, "b" the least
    cache.get_or_compute("d", lambda: 4)
    assert len(cache) == 3 and "b" not in cache and all(k in cache for k in "acd")
    assert cache.get("b") is None and cache.get("b", -1) == -1


def test_a_hit_does_not_compute_again():
    cache = LruCache[list](2)
    first = cache.get_or_compute("k", lambda: [1])
    assert cache.get_or_compute("k", lambda: pytest.fail("computed twice")) is first


def test_concurrent_callers_share_one_computation_on_the_first_callers_thread():
    cache = LruCache[int](4)
    calls, threads_seen = [], []
    start = threading.Barrier(8)

    def compute():
        calls.append(1)
        threads_seen.append(threading.get_ident())
        time.sleep(0.2)
        return 42

    results, idents = [], []

    def caller():
        start.wait()
        idents.append(threading.get_ident())
        results.append(cache.get_or_compute("track", compute))

    workers = [threading.Thread(target=caller) for _ in range(8)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert results == [42] * 8 and len(calls) == 1 and threads_seen[0] in idents


def test_a_failed_computation_caches_nothing():
    cache = LruCache[int](2)

    def broken():
        raise ValueError("corrupt upload")

    with pytest.raises(ValueError, match="corrupt upload"):
        cache.get_or_compute("k", broken)
    assert "k" not in cache and not cache._computing
    assert cache.get_or_compute("k", lambda: 7) == 7


def test_size_must_be_positive():
    with pytest.raises(ValueError, match="at least 1"):
        LruCache(0)


def test_a_byte_budget_evicts_the_least_recently_used_first():
    import numpy as np

    cache = LruCache[np.ndarray](10, max_bytes=3000)
    for key in "abc":
        cache.get_or_compute(key, lambda: np.zeros(1000, np.uint8))
    assert cache.nbytes == 3000 and len(cache) == 3
    cache.get("a")  # "b" is now the least recently used
    cache.get_or_compute("d", lambda: np.zeros(1500, np.uint8))
    assert "b" not in cache and "c" not in cache and "a" in cache and "d" in cache
    assert cache.nbytes == 2500 and cache.usage().nbytes == 2500 and cache.usage().max_bytes == 3000
    cache.get_or_compute("huge", lambda: np.zeros(5000, np.uint8))  # over the whole budget: kept alone
    assert list(cache._values) == ["huge"] and cache.nbytes == 5000
    assert "1 of at most 10 entries" in cache.usage().describe()


def test_values_are_measured_deeply_when_they_have_no_nbytes():
    import numpy as np

    from detector.types import deep_nbytes

    value = {"a": np.zeros(4000, np.uint8), "b": (np.zeros(2000, np.uint8), "text")}
    assert 6000 < deep_nbytes(value) < 7000
    shared = np.zeros(10_000, np.uint8)
    assert deep_nbytes([shared, shared]) < 11_000  # counted once
    with pytest.raises(ValueError, match="max_bytes"):
        LruCache(1, max_bytes=0)
