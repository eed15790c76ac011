"""Per-user limits on a shared server: analyses at once, upload volume per hour, training jobs at once.

One Streamlit server process serves every session, so one :class:`Limiter` (held with
``st.cache_resource``) counts for all of them, under one lock. A request over a limit
is refused at once with :class:`~detector.serving.errors.LimitReached`, whose message
says what the limit is and when to try again; nobody waits in a queue, and other users
are not slowed down. A ``None`` key (one's own machine) is never limited.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass

from .errors import LimitReached
from .settings import UserLimits

MIB = 2**20
WINDOW_S = 3600.0
"""The upload volume is counted over the last hour."""
ANALYSIS, TRAINING = "analysis", "training"


@dataclass(frozen=True)
class _Upload:
    at: float
    size: int
    token: str


class Limiter:
    """Thread-safe counters of what each user is running and has uploaded.

    Parameters
    ----------
    limits : UserLimits
        The limits per user.
    clock : callable
        Seconds, monotonic (injectable for tests).
    """

    def __init__(self, limits: UserLimits, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._lock = threading.Lock()
        self._running: dict[tuple[str, str], int] = {}
        self._uploads: dict[str, deque[_Upload]] = {}

    # -- jobs at once -------------------------------------------------------------------

    def running(self, key: str, kind: str) -> int:
        """How many ``kind`` (:data:`ANALYSIS` or :data:`TRAINING`) jobs ``key`` has running."""
        with self._lock:
            return self._running.get((key, kind), 0)

    @contextmanager
    def _slot(self, key: str | None, kind: str, most: int, refusal: str) -> Iterator[None]:
        if key is None:
            yield
            return
        with self._lock:
            now = self._running.get((key, kind), 0)
            if now >= most:
                raise LimitReached(refusal)
            self._running[(key, kind)] = now + 1
        try:
            yield
        finally:
            with self._lock:
                left = self._running[(key, kind)] - 1
                if left:
                    self._running[(key, kind)] = left
                else:
                    del self._running[(key, kind)]

    def analysis(self, key: str | None) -> AbstractContextManager[None]:
        """Hold one of ``key``'s analysis slots for the ``with`` block; :class:`LimitReached` if none is free."""
        most = self.limits.concurrent_analyses
        runs = "an analysis" if most == 1 else f"{most} analyses"
        return self._slot(key, ANALYSIS, most, f"You already have {runs} running on this server, the most one person "
                          "may run at once. Wait until one has finished, then try again.")

    def training(self, key: str | None) -> AbstractContextManager[None]:
        """Hold one of ``key``'s training slots for the ``with`` block; :class:`LimitReached` if none is free."""
        most = self.limits.training_jobs
        jobs = "a classifier" if most == 1 else f"{most} classifiers"
        return self._slot(key, TRAINING, most, f"You are already training {jobs} on this server, the most one person "
                          "may train at once. Wait until it has finished (its page shows the progress), then try "
                          "again.")

    # -- upload volume --------------------------------------------------------------------

    def _recent(self, key: str, now: float) -> deque[_Upload]:
        uploads = self._uploads.setdefault(key, deque())
        while uploads and uploads[0].at <= now - WINDOW_S:
            uploads.popleft()
        return uploads

    def uploaded(self, key: str) -> int:
        """Bytes ``key`` uploaded in the last hour."""
        with self._lock:
            return sum(u.size for u in self._recent(key, self._clock()))

    def charge_upload(self, key: str | None, size: int, token: str) -> None:
        """Count an upload of ``size`` bytes against ``key``'s hourly volume, once per ``token`` (a file id).

        Raises
        ------
        LimitReached
            If it would take ``key`` past the hourly volume; then it is not counted.
        """
        if key is None:
            return
        limit = self.limits.upload_mib_per_hour * MIB
        with self._lock:
            now = self._clock()
            uploads = self._recent(key, now)
            if any(u.token == token for u in uploads):
                return
            used = sum(u.size for u in uploads)
            if used + size > limit:
                raise LimitReached(self._volume_refusal(uploads, used, size, limit, now))
            uploads.append(_Upload(now, int(size), token))
            # forget users with nothing left in the window, so the table does not grow forever
            for other in [k for k, v in self._uploads.items() if k != key and (not v or v[-1].at <= now - WINDOW_S)]:
                del self._uploads[other]

    def tracked_users(self) -> int:
        """How many users' uploads are remembered (those with uploads in the last hour, roughly)."""
        with self._lock:
            return len(self._uploads)

    def _volume_refusal(self, uploads: deque[_Upload], used: int, size: int, limit: int, now: float) -> str:
        head = (f"This upload ({size / MIB:,.1f} MiB) would take your uploads in the last hour to "
                f"{(used + size) / MIB:,.1f} MiB; the limit on this server is "
                f"{self.limits.upload_mib_per_hour:,} MiB per hour per person.")
        if size > limit:
            return f"{head} This one file is larger than that; ask the operator to raise the limit."
        freed = 0
        for upload in uploads:  # the oldest expire first
            freed += upload.size
            if used - freed + size <= limit:
                minutes = max(1, math.ceil((upload.at + WINDOW_S - now) / 60))
                return f"{head} Try again in about {minutes} minute{'s' if minutes != 1 else ''}."
        return head


__all__ = ["ANALYSIS", "MIB", "TRAINING", "WINDOW_S", "Limiter"]
