"""Counting what a model source did: requests, retries, failures, tokens, latency percentiles."""

from __future__ import annotations

import random
from collections import Counter

from hermes4.llm.types import LLMStats


class LatencyReservoir:
    """Latency samples kept in a fixed-size uniform reservoir, so memory stays flat over millions of calls."""

    def __init__(self, capacity: int = 8192, seed: int = 0) -> None:
        self.capacity = capacity
        self.samples: list[float] = []
        self.seen = 0
        self._rng = random.Random(seed)

    def add(self, value: float) -> None:
        self.seen += 1
        if len(self.samples) < self.capacity:
            self.samples.append(value)
            return
        slot = self._rng.randrange(self.seen)
        if slot < self.capacity:
            self.samples[slot] = value

    def percentile(self, q: float) -> float:
        """Nearest-rank percentile (q in [0, 100]) of the kept samples; 0.0 when none."""
        if not self.samples:
            return 0.0
        ordered = sorted(self.samples)
        rank = max(0, min(len(ordered) - 1, round(q / 100.0 * len(ordered) + 0.5) - 1))
        return ordered[rank]


class Accounting:
    """Mutable counters behind `LLM.stats()`; single event loop, so no locks."""

    def __init__(self) -> None:
        self.requests = 0
        self.completions = 0
        self.attempts = 0
        self.retries = 0
        self.failures = 0
        self.errors: Counter[str] = Counter()
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.latency = LatencyReservoir()

    def record_success(self, *, completions: int, prompt_tokens: int, completion_tokens: int, latency_s: float) -> None:
        self.requests += 1
        self.completions += completions
        self.prompt_tokens += prompt_tokens
        self.completion_tokens += completion_tokens
        self.latency.add(latency_s)

    def record_failure(self, latency_s: float) -> None:
        self.requests += 1
        self.failures += 1
        self.latency.add(latency_s)

    def snapshot(self, **extra: object) -> LLMStats:
        return LLMStats(
            requests=self.requests,
            completions=self.completions,
            attempts=self.attempts,
            retries=self.retries,
            failures=self.failures,
            errors=dict(self.errors),
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            latency_p50_s=self.latency.percentile(50),
            latency_p90_s=self.latency.percentile(90),
            latency_p99_s=self.latency.percentile(99),
            **extra,  # type: ignore[arg-type]
        )
