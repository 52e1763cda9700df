"""New participants per client: at most N in a sliding window (``STUDY_NEW_PARTICIPANTS``,
default ``5/600``: five per ten minutes), so one client cannot flood the study."""

from __future__ import annotations

import os
import threading
import time
from collections import deque

DEFAULT = "5/600"


def parse(spec: str) -> tuple[int, float]:
    """``"N/SECONDS"`` -> (N, SECONDS); raises ValueError naming the expected form."""
    try:
        count, seconds = spec.split("/")
        parsed = int(count), float(seconds)
    except ValueError:
        raise ValueError(f"STUDY_NEW_PARTICIPANTS must look like 5/600 (count/seconds), got {spec!r}") from None
    if parsed[0] < 1 or parsed[1] <= 0:
        raise ValueError(f"STUDY_NEW_PARTICIPANTS needs a positive count and window, got {spec!r}")
    return parsed


class RateLimit:
    """Sliding-window counter per client key; memory is bounded by the active clients."""

    def __init__(self, spec: str | None = None, clock=time.monotonic) -> None:
        self.count, self.window = parse(spec or os.environ.get("STUDY_NEW_PARTICIPANTS") or DEFAULT)
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> float:
        """0 when ``key`` may start one more (and counts it), else seconds until it may."""
        now = self._clock()
        with self._lock:
            if len(self._hits) > 10_000:  # forget idle clients
                self._hits = {k: q for k, q in self._hits.items() if q and q[-1] > now - self.window}
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.count:
                return hits[0] + self.window - now
            hits.append(now)
            return 0.0


def client_key(request) -> str:
    """Who is asking: the address the nearest proxy saw (last ``X-Forwarded-For`` entry), else the peer."""
    if request is None:
        return "local"
    forwarded = (request.headers.get("x-forwarded-for") or "").split(",")
    if forwarded[-1].strip():
        return forwarded[-1].strip()
    return getattr(getattr(request, "client", None), "host", None) or "unknown"
