"""New participants per client: at most N in a sliding window (``STUDY_NEW_PARTICIPANTS``,
default ``5/600``: five per ten minutes), so one client cannot flood the study."""

from __future__ import annotations

import threading
import time
from collections import deque

from study.config import NEW_PARTICIPANTS, parse_rate


class RateLimit:
    """Sliding-window counter per client key; memory is bounded by the active clients."""

    def __init__(self, spec: str | tuple[int, float] = NEW_PARTICIPANTS.default, clock=time.monotonic) -> None:
        """``spec``: at most N new participants per SECONDS, as ``"N/SECONDS"`` or (N, SECONDS)."""
        self.count, self.window = parse_rate(spec) if isinstance(spec, str) else spec
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
