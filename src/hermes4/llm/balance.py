"""Several endpoints behind one client: least-outstanding-requests choice, failover with cooldowns."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit


def normalize_base_url(url: str) -> str:
    """`http://host:8000` → `http://host:8000/v1`; a URL that already has a path is kept as given."""
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"endpoint {url!r}: expected http://host:port[/path]")
    if parts.path in ("", "/"):
        url += "/v1"
    return url


@dataclass
class Endpoint:
    url: str
    outstanding: int = 0
    requests: int = 0
    errors: int = 0
    consecutive_failures: int = 0
    down_until: float = 0.0
    last_error: str = ""
    last_progress: float = 0.0  # when this endpoint last sent anything (a response, a stream event)

    def as_dict(self) -> dict[str, object]:
        return {
            "outstanding": self.outstanding,
            "requests": self.requests,
            "errors": self.errors,
            "down": self.down_until > time.monotonic(),
            "last_error": self.last_error,
        }


@dataclass
class Balancer:
    """Picks the endpoint with the fewest requests in flight among those not cooling down."""

    endpoints: list[Endpoint]
    max_cooldown: float = 30.0
    _tiebreak: itertools.count = field(default_factory=itertools.count)

    @classmethod
    def from_urls(cls, urls: list[str]) -> Balancer:
        if not urls:
            raise ValueError("no endpoints given")
        return cls([Endpoint(normalize_base_url(u)) for u in urls])

    def pick(self, avoid: Endpoint | None = None) -> Endpoint:
        if len(self.endpoints) == 1:
            return self.endpoints[0]
        now = time.monotonic()
        up = [e for e in self.endpoints if e.down_until <= now and e is not avoid]
        if not up:
            up = [e for e in self.endpoints if e.down_until <= now] or [min(self.endpoints, key=lambda e: e.down_until)]
        # Rotate the starting point so ties do not always land on the first endpoint.
        start = next(self._tiebreak) % len(up)
        rotated = up[start:] + up[:start]
        return min(rotated, key=lambda e: e.outstanding)

    def mark_success(self, endpoint: Endpoint) -> None:
        endpoint.consecutive_failures = 0

    def mark_failure(self, endpoint: Endpoint, reason: str) -> None:
        """Connection errors and 5xx: cool the endpoint down, longer after each failure in a row."""
        endpoint.errors += 1
        endpoint.consecutive_failures += 1
        endpoint.last_error = reason
        cooldown = min(self.max_cooldown, 0.25 * 2 ** (endpoint.consecutive_failures - 1))
        endpoint.down_until = time.monotonic() + cooldown

    def mark_busy(self, endpoint: Endpoint, retry_after: float | None, reason: str) -> None:
        """429: the endpoint is alive but full; send others elsewhere for the time it asked."""
        endpoint.errors += 1
        endpoint.last_error = reason
        if retry_after:
            endpoint.down_until = max(endpoint.down_until, time.monotonic() + min(retry_after, self.max_cooldown))
