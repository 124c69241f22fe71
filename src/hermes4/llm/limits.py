"""Adaptive concurrency (AIMD under a hard cap) and retry backoff with jitter honouring Retry-After."""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections import deque


class AdaptiveLimiter:
    """At most `int(limit)` holders at once; the limit adapts like TCP congestion control.

    It starts at `initial` and grows by one per success (slow start) until the first overload
    signal; after that it grows by `1/limit` per success (about one per round of requests) and is
    multiplied by `decrease_factor` on an overload signal (429, timeout), at most once per
    `decrease_interval` seconds so one burst of 429s does not collapse it to the floor. It never
    exceeds `max_limit`, the hard cap.
    """

    def __init__(
        self,
        max_limit: int,
        *,
        initial: int | None = None,
        min_limit: int = 1,
        decrease_factor: float = 0.5,
        decrease_interval: float = 1.0,
    ) -> None:
        if max_limit < 1:
            raise ValueError(f"max_concurrency must be at least 1, got {max_limit}")
        self.max_limit = max_limit
        self.min_limit = max(1, min(min_limit, max_limit))
        self.limit = float(max(self.min_limit, min(initial if initial is not None else max_limit, max_limit)))
        self.decrease_factor = decrease_factor
        self.decrease_interval = decrease_interval
        self.in_use = 0
        self._slow_start = True
        self._last_decrease = float("-inf")
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def acquire(self) -> None:
        if self.in_use < int(self.limit) and not self._waiters:
            self.in_use += 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # the slot was handed over just as we were cancelled: give it back
            else:
                waiter.cancel()  # skipped by _wake
            raise

    def release(self) -> None:
        self.in_use -= 1
        self._wake()

    def _wake(self) -> None:
        while self._waiters and self.in_use < int(self.limit):
            waiter = self._waiters.popleft()
            if waiter.done():
                continue
            self.in_use += 1
            waiter.set_result(None)

    def on_success(self) -> None:
        if self._slow_start:
            self.limit = min(float(self.max_limit), self.limit + 1.0)
        else:
            self.limit = min(float(self.max_limit), self.limit + 1.0 / self.limit)
        self._wake()

    def on_overload(self) -> None:
        now = time.monotonic()
        self._slow_start = False
        if now - self._last_decrease >= self.decrease_interval:
            self._last_decrease = now
            self.limit = max(float(self.min_limit), self.limit * self.decrease_factor)


class Backoff:
    """Exponential backoff with equal jitter: attempt k waits in [d/2, d], d = min(cap, base * 2**(k-1))."""

    def __init__(self, base: float = 0.5, cap: float = 30.0, rng: random.Random | None = None) -> None:
        self.base = base
        self.cap = cap
        self.rng = rng or random.Random()

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        ceiling = min(self.cap, self.base * (2 ** max(0, attempt - 1)))
        jittered = ceiling / 2 + self.rng.random() * ceiling / 2
        if retry_after is not None:
            # The server said when to come back: never earlier, a little jitter after so callers spread out.
            return max(jittered, retry_after + self.rng.random() * min(1.0, retry_after * 0.1 + 0.05))
        return jittered


def parse_retry_after(value: str | None, *, cap: float = 300.0) -> float | None:
    """`Retry-After` as seconds: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - time.time()
    return max(0.0, min(cap, seconds))
