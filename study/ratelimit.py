"""Who a client is, and how many new participants it may start.

``client_key``: the client's address as the configured proxies report it
(``STUDY_TRUSTED_PROXIES``): ``X-Forwarded-For`` entries (every header line, in order)
are read from the right, and only the hops configured are trusted, so nothing a client
writes into the header can change its key. IPv6 clients are keyed by their /64 network
(one host holds a whole /64).

``RateLimit``: at most N new participants per client in a sliding window
(``STUDY_NEW_PARTICIPANTS``, default ``5/600``: five per ten minutes), so one client cannot
flood the study. ``Backoff``: an exponential delay per client after wrong researcher tokens.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections import OrderedDict, deque

from study.config import NEW_PARTICIPANTS, parse_rate

#: The most ``X-Forwarded-For`` entries read (from the right), and the longest header value kept.
MAX_HOPS = 32
MAX_HEADER_CHARS = 4096


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


class Backoff:
    """Exponential delay per client after wrong attempts (the researcher token): after n wrong
    ones in a row a client waits ``base_s * 2 ** (n - 1)`` seconds (at most ``max_s``) before
    its next attempt is even looked at; a right one clears it. At most ``clients`` are kept
    (the oldest forgotten first)."""

    def __init__(self, base_s: float = 1.0, max_s: float = 600.0, clients: int = 10_000, clock=time.monotonic) -> None:
        self.base_s, self.max_s, self.clients, self._clock = base_s, max_s, clients, clock
        self._failures: OrderedDict[str, tuple[int, float]] = OrderedDict()  # key -> (wrong in a row, may try again at)
        self._lock = threading.Lock()

    def wait(self, key: str) -> float:
        """Seconds until ``key`` may try again (0: now)."""
        with self._lock:
            failures = self._failures.get(key)
            return max(0.0, failures[1] - self._clock()) if failures else 0.0

    def failed(self, key: str) -> None:
        with self._lock:
            count = self._failures.pop(key, (0, 0.0))[0] + 1
            self._failures[key] = (count, self._clock() + min(self.max_s, self.base_s * 2 ** min(count - 1, 60)))
            while len(self._failures) > self.clients:
                self._failures.popitem(last=False)

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address from a header entry or peer (``1.2.3.4``, ``1.2.3.4:80``, ``[::1]:80``, ``::1``), else None."""
    text = text.strip()
    if text.startswith("[") and "]" in text:
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:
        text = text.split(":")[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _key(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address.ipv4_mapped or address) if isinstance(address, ipaddress.IPv6Address) else str(address)


def forwarded_chain(request) -> list[str]:
    """The ``X-Forwarded-For`` entries of every header line, in order, then the connection's
    own address: the last :data:`MAX_HOPS` of them (an overlong header is cut from the left)."""
    headers = getattr(request, "headers", None) or {}
    lines = headers.getlist("x-forwarded-for") if hasattr(headers, "getlist") else [headers.get("x-forwarded-for") or ""]
    joined = ",".join(line for line in lines if line)[-MAX_HEADER_CHARS:]
    peer = getattr(getattr(request, "client", None), "host", None) or ""
    return [*(entry.strip() for entry in joined.split(",") if entry.strip()), peer][-MAX_HOPS:]


def client_key(request, trusted: int | tuple[str, ...] = 0) -> str:
    """Who is asking: ``trusted`` hops from the right of the forwarded chain (0: the connection's
    own address), or the rightmost entry that is not one of the ``trusted`` networks. An entry
    that is not an address falls back to the hop that reported it."""
    if request is None:
        return "local"
    chain = forwarded_chain(request)
    if isinstance(trusted, int):
        position = max(0, len(chain) - 1 - trusted)
    else:
        networks = [ipaddress.ip_network(n, strict=False) for n in trusted]
        position = 0
        for index in range(len(chain) - 1, -1, -1):
            address = _address(chain[index])
            if address is None or not any(address in network for network in networks):
                position = index
                break
    for index in range(position, len(chain)):
        address = _address(chain[index])
        if address is not None:
            return _key(address)
    return "unknown"
