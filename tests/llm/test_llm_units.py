"""Unit tests for the llm layer's pieces: cutoff, sampling, limiter, backoff, balancer, token split."""

from __future__ import annotations

import asyncio
import email.utils
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from hermes4.llm import Sampling, prompt_opens_think
from hermes4.llm.balance import Balancer, normalize_base_url
from hermes4.llm.cutoff import TokenCounter, apply_limits, word_pieces
from hermes4.llm.limits import AdaptiveLimiter, Backoff, parse_retry_after
from hermes4.llm.outputs import split_tokens


@given(st.text())
def test_word_pieces_cover_the_text(text: str) -> None:
    assert "".join(word_pieces(text)) == text


def test_word_pieces_keep_tags_whole() -> None:
    assert word_pieces("<think>\nhi</think> a,b<|im_end|>") == ["<think>", "\nhi", "</think>", " a", ",", "b", "<|im_end|>"]


def test_apply_limits_like_an_engine() -> None:
    counter = TokenCounter()
    text = "one two three four five<|im_end|>ignored"
    assert apply_limits(text, max_tokens=100, stop=[], counter=counter, end_of_turn="<|im_end|>").text == "one two three four five"
    cut = apply_limits(text, max_tokens=3, stop=[], counter=counter, end_of_turn="<|im_end|>")
    assert (cut.text, cut.finish_reason, cut.completion_tokens) == ("one two three", "length", 3)
    cut = apply_limits(text, max_tokens=100, stop=["three", "two"], counter=counter)
    assert (cut.text, cut.finish_reason, cut.completion_tokens) == ("one ", "stop", 2)  # "one", " "
    # A stop string that would only complete after the token limit is never seen.
    cut = apply_limits(text, max_tokens=2, stop=["two three"], counter=counter)
    assert (cut.text, cut.finish_reason) == ("one two", "length")
    # Exactly max_tokens and then the end: not cut.
    assert apply_limits("a b", max_tokens=2, stop=[], counter=counter).finish_reason == "stop"


def test_sampling_defaults_and_validation() -> None:
    s = Sampling()
    assert (s.temperature, s.top_p, s.top_k, s.max_tokens, s.n, s.stop, s.seed, s.logprobs) == (0.6, 0.95, 20, 1024, 1, [], None, False)
    assert Sampling(stop="END").stop == ["END"]
    for bad in ({"temperature": -1}, {"top_p": 0}, {"max_tokens": 0}, {"n": 0}, {"stop": [""]}, {"bogus": 1}):
        with pytest.raises(ValidationError):
            Sampling(**bad)


def test_prompt_opens_think() -> None:
    assert prompt_opens_think("<|im_start|>assistant\n<think>\n")
    assert not prompt_opens_think("<think>x</think>\n<|im_start|>assistant\n")
    assert not prompt_opens_think("plain")


async def test_limiter_caps_and_adapts() -> None:
    limiter = AdaptiveLimiter(8, initial=2, decrease_interval=0.0)
    peak = 0
    holders = 0

    async def worker() -> None:
        nonlocal peak, holders
        await limiter.acquire()
        holders += 1
        peak = max(peak, holders)
        await asyncio.sleep(0.001)
        holders -= 1
        limiter.on_success()
        limiter.release()

    await asyncio.gather(*(worker() for _ in range(200)))
    assert peak <= 8 and limiter.limit == 8  # grew to the hard cap, never past it
    limiter.on_overload()
    assert limiter.limit == 4
    limiter.on_success()
    assert 4 < limiter.limit < 5  # additive increase after the first overload
    for _ in range(20):
        limiter.on_overload()
    assert limiter.limit == 1  # never below the floor


async def test_limiter_overload_decreases_once_per_interval() -> None:
    limiter = AdaptiveLimiter(64, decrease_interval=60.0)
    for _ in range(10):
        limiter.on_overload()
    assert limiter.limit == 32


async def test_limiter_cancelled_waiter_does_not_leak_a_slot() -> None:
    limiter = AdaptiveLimiter(1)
    await limiter.acquire()
    waiter = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    limiter.release()
    assert limiter.in_use == 0
    await asyncio.wait_for(limiter.acquire(), 1)


def test_backoff_and_retry_after() -> None:
    backoff = Backoff(base=0.5, cap=4.0)
    for attempt in range(1, 10):
        ceiling = min(4.0, 0.5 * 2 ** (attempt - 1))
        assert ceiling / 2 <= backoff.delay(attempt) <= ceiling
    assert backoff.delay(1, retry_after=3.0) >= 3.0
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after("1.5") == 1.5
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    future = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= parse_retry_after(future) <= 31


def test_balancer_least_outstanding_and_failover() -> None:
    balancer = Balancer.from_urls(["http://a:1", "http://b:2/v1", "http://c:3"])
    a, b, c = balancer.endpoints
    assert a.url == "http://a:1/v1" and b.url == "http://b:2/v1"
    a.outstanding, b.outstanding, c.outstanding = 3, 1, 2
    assert balancer.pick() is b
    balancer.mark_failure(b, "refused")
    assert balancer.pick() is c  # b cools down
    assert balancer.pick(avoid=c) is a
    balancer.mark_failure(a, "refused")
    balancer.mark_failure(c, "refused")
    assert balancer.pick() in (a, b, c)  # everything down: still answers with the one back soonest
    with pytest.raises(ValueError, match="expected http"):
        normalize_base_url("ftp://x")


def test_split_tokens_sums_to_total() -> None:
    assert split_tokens(10, [5]) == [10]
    assert sum(split_tokens(11, [1, 2, 3])) == 11
    assert split_tokens(0, [1, 1]) == [0, 0]
    assert sum(split_tokens(7, [0, 0, 0])) == 7
