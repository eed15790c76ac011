"""A bounded, thread-safe least-recently-used cache that computes each missing key once."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

from .types import deep_nbytes

V = TypeVar("V")


@dataclass(frozen=True)
class CacheUsage:
    """What a cache holds now, against its bounds.

    Attributes
    ----------
    entries, max_entries : int
        Values held, and the most it keeps.
    nbytes : int
        Bytes its values hold (each value's ``nbytes``, or :func:`detector.types.deep_nbytes`).
    max_bytes : int or None
        Its byte budget; ``None``: bounded by entries only.
    """

    entries: int
    max_entries: int
    nbytes: int
    max_bytes: int | None

    def describe(self) -> str:
        """In words, e.g. "3 of at most 32 entries, 48.2 MiB of 512 MiB"."""
        budget = f" of {self.max_bytes / 2**20:.0f} MiB" if self.max_bytes is not None else ""
        return f"{self.entries} of at most {self.max_entries} entries, {self.nbytes / 2**20:.1f} MiB{budget}"


def size_of(value: object) -> int:
    """A value's size in bytes: its own ``nbytes`` when it has one (arrays, features), else measured."""
    nbytes = getattr(value, "nbytes", None)
    return int(nbytes) if isinstance(nbytes, (int, float)) else deep_nbytes(value)


class LruCache(Generic[V]):
    """At most ``size`` values and ``max_bytes`` bytes; :meth:`get_or_compute` runs ``compute`` on the caller's thread.

    Unlike ``st.cache_data``, the computation may draw (a progress bar, say). Callers
    asking for a key that is being computed wait for that computation instead of repeating
    it; a computation that raises caches nothing, and the next caller tries again.

    Parameters
    ----------
    size : int
        The most values kept.
    max_bytes : int, optional
        The most bytes kept (:func:`size_of` each value, measured once when it is stored).
        The least recently used values go first; the newest value is always kept, even one
        larger than the whole budget (its caller is about to use it).
    """

    def __init__(self, size: int, *, max_bytes: int | None = None) -> None:
        if size < 1:
            raise ValueError(f"size must be at least 1, not {size}")
        if max_bytes is not None and max_bytes < 1:
            raise ValueError(f"max_bytes must be at least 1, not {max_bytes}")
        self.size = size
        self.max_bytes = max_bytes
        self._values: OrderedDict[Hashable, V] = OrderedDict()
        self._sizes: dict[Hashable, int] = {}
        self._nbytes = 0
        self._lock = threading.Lock()
        self._computing: dict[Hashable, threading.Lock] = {}

    def __len__(self) -> int:
        return len(self._values)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._values

    @property
    def nbytes(self) -> int:
        """Bytes the values held now take (as measured when each was stored)."""
        return self._nbytes

    def usage(self) -> CacheUsage:
        """Entries and bytes held now, and the bounds."""
        with self._lock:
            return CacheUsage(len(self._values), self.size, self._nbytes, self.max_bytes)

    def get(self, key: Hashable, default: V | None = None) -> V | None:
        with self._lock:
            if key not in self._values:
                return default
            self._values.move_to_end(key)
            return self._values[key]

    def get_or_compute(self, key: Hashable, compute: Callable[[], V]) -> V:
        with self._lock:
            if key in self._values:
                self._values.move_to_end(key)
                return self._values[key]
            key_lock = self._computing.setdefault(key, threading.Lock())
        with key_lock:
            cached = self.get(key, _MISSING)
            if cached is not _MISSING:
                return cached  # computed by the caller we waited for
            try:
                value = compute()
                nbytes = size_of(value)
            except BaseException:
                with self._lock:
                    self._computing.pop(key, None)
                raise
            with self._lock:
                self._values[key] = value
                self._sizes[key] = nbytes
                self._nbytes += nbytes
                while len(self._values) > self.size or (
                        self.max_bytes is not None and self._nbytes > self.max_bytes and len(self._values) > 1):
                    old, _ = self._values.popitem(last=False)
                    self._nbytes -= self._sizes.pop(old)
                self._computing.pop(key, None)
            return value


_MISSING: object = object()

__all__ = ["CacheUsage", "LruCache", "size_of"]
