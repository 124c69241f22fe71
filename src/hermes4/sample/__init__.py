"""Rejection sampling over an env and an LLM: groups in waves, k distinct correct paths, exactly-once resume."""

from hermes4.sample.config import MUST_MATCH, SampleConfig
from hermes4.sample.engine import DATA_STREAM, ITEMS_STREAM, SampleResult, Sampler, run_sample
from hermes4.sample.select import distinct_key, item_key, normalise, over_budget, record_id
from hermes4.progress import LiveCounters
from hermes4.sample.tally import EnvTally, ItemCounts

__all__ = [
    "DATA_STREAM",
    "ITEMS_STREAM",
    "MUST_MATCH",
    "EnvTally",
    "ItemCounts",
    "LiveCounters",
    "SampleConfig",
    "SampleResult",
    "Sampler",
    "distinct_key",
    "item_key",
    "normalise",
    "over_budget",
    "record_id",
    "run_sample",
]
