"""Short-lived in-process caches for the reads every nurse and team leader repeat.

At 50 concurrent readers the service spends its time on the same few queries: who is this
token's user, which plan is approved for this week, what is on this route, what is on this
page of residents. Each is kept a few seconds (cachetools' TTL caches behind a lock), so a
change shows within that time: a deactivated user within ``USER_TTL_S``, a newly approved plan
or a re-imported register within ``READ_TTL_S``. Approved plans never change in place (a new
version is saved instead), so a route of an approved plan is the same bytes until its residents'
records are re-imported. Every read is still written to the audit log.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from cachetools import TTLCache

__all__ = ["READ_TTL_S", "USER_TTL_S", "ReadCache"]

USER_TTL_S = 5.0
READ_TTL_S = 10.0

V = TypeVar("V")


class ReadCache(Generic[V]):
    """A thread-safe TTL cache: ``get(key, compute)`` computes on a miss, outside the lock."""

    def __init__(self, maxsize: int, ttl_s: float) -> None:
        self._cache: TTLCache[Hashable, V] = TTLCache(maxsize=maxsize, ttl=ttl_s)
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], V]) -> V:
        """The cached value of ``key``, or ``compute()`` (stored for the next callers)."""
        with self._lock:
            try:
                return self._cache[key]
            except KeyError:
                pass
        value = compute()  # two threads may compute the same value once each: harmless
        with self._lock:
            self._cache[key] = value
        return value

    def peek(self, key: Hashable) -> V | None:
        """The cached value of ``key``, or ``None`` (never computes)."""
        with self._lock:
            return self._cache.get(key)

    def clear(self) -> None:
        """Forget everything (tests; after an import)."""
        with self._lock:
            self._cache.clear()
