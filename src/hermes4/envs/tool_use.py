"""`tool_use`: computations the model may do with the `python` tool inside `<think>`; a bonus only when a
tool result is what the answer rests on."""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hermes4.chat.messages import Conversation, Message, ToolSpec
from hermes4.envs.answer import final_answer
from hermes4.envs.base import Env, Item, Trajectory, Verdict
from hermes4.envs.procedural.tasks import extract_answer
from hermes4.envs.registry import register_env

if TYPE_CHECKING:
    from hermes4.llm import LLM, Sampling

TOOL_HINT = "You can run Python code with the `python` tool; its printed output comes back to you."
ANSWER_INSTRUCTION = 'End your response with a line of the form "Answer: <integer>".'


def python_tool_spec() -> ToolSpec:
    """The `python` tool as the model sees it: the agent's sandboxed tool."""
    from hermes4.envs.tool_rollout import python_registry

    return ToolSpec.model_validate(python_registry().specs()[0])
_INLINE_EXCHANGE = re.compile(r"<tool_call>\s*(.*?)\s*</tool_call>\s*<tool_response>\s*(.*?)\s*</tool_response>", re.DOTALL)
_INTEGER = re.compile(r"-?\d+")


@dataclass(frozen=True)
class Computation:
    """A question whose exact answer wants a program: a question template, a solver, and the program."""

    name: str
    pattern: re.Pattern[str]
    question: Callable[[dict[str, int]], str]
    solve: Callable[[dict[str, int]], int]
    program: Callable[[dict[str, int]], str]
    draw: Callable[[random.Random, int], dict[str, int]]  # (rng, the largest input allowed) -> inputs


_NO_INPUT_CAP = 10**12  # above the top of every computation's range: without max_digits the draws are as written


def _between(rng: random.Random, low: int, high: int, largest: int) -> int:
    """An integer in [low, high], with `high` lowered to `largest` (and `low` with it, to a tenth of that)."""
    if largest < high:
        high, low = largest, min(low, max(1, largest // 10))
    return rng.randint(low, high)


def _primes_below(n: int) -> int:
    sieve = bytearray([1]) * max(n, 2)
    sieve[0:2] = b"\x00\x00"
    for p in range(2, int(n**0.5) + 1):
        if sieve[p]:
            sieve[p * p :: p] = bytearray(len(range(p * p, n, p)))
    return sum(sieve[:n])


def _fib_mod(k: int, m: int) -> int:
    a, b = 0, 1
    for _ in range(k):
        a, b = b, (a + b) % m
    return a


def _collatz(n: int) -> int:
    steps = 0
    while n != 1:
        n = n // 2 if n % 2 == 0 else 3 * n + 1
        steps += 1
    return steps


def _divisors(n: int) -> int:
    return sum(2 if d * d != n else 1 for d in range(1, int(n**0.5) + 1) if n % d == 0)


# Each question names its input the way its program does (`Let n = 4352889.` / `n = 4352889`) and each program
# prints its result on an `Answer:` line, the form the final answer takes: the numbers a model carries from the
# question into the code and from the tool's output into its answer follow the same words in both places. A small
# model copies a number by finding the words before it (its first digit has nothing else to go by); with different
# words around the two copies the tiny recipe's model got the first digit wrong in most misses.
COMPUTATIONS: list[Computation] = [
    Computation(
        "digit_sum_power",
        re.compile(r"Let n = (\d+) \*\* (\d+)\. What is the sum of the decimal digits of n\?"),
        lambda p: f"Let n = {p['b']} ** {p['e']}. What is the sum of the decimal digits of n?",
        lambda p: sum(int(d) for d in str(p["b"] ** p["e"])),
        lambda p: f"n = {p['b']} ** {p['e']}\nprint(\"Answer:\", sum(int(d) for d in str(n)))",
        lambda r, top: {"b": _between(r, 3, 99, top), "e": _between(r, 40, 300, top)},
    ),
    Computation(
        "count_primes",
        re.compile(r"Let n = (\d+)\. How many prime numbers are less than n\?"),
        lambda p: f"Let n = {p['n']}. How many prime numbers are less than n?",
        lambda p: _primes_below(p["n"]),
        lambda p: (
            f"n = {p['n']}\nsieve = [True] * n\nsieve[0:2] = [False, False]\n"
            "for i in range(2, int(n ** 0.5) + 1):\n    if sieve[i]:\n        sieve[i*i::i] = [False] * len(range(i*i, n, i))\n"
            "print(\"Answer:\", sum(sieve))"
        ),
        lambda r, top: {"n": _between(r, 1000, 200000, top)},
    ),
    Computation(
        "fibonacci_mod",
        re.compile(r"Let k = (\d+) and m = (\d+)\. What is the k-th Fibonacci number modulo m\?"),
        lambda p: f"Let k = {p['k']} and m = {p['m']}. What is the k-th Fibonacci number modulo m? (F(1) = F(2) = 1.)",
        lambda p: _fib_mod(p["k"], p["m"]),
        lambda p: (f"k = {p['k']}\nm = {p['m']}\na, b = 0, 1\nfor _ in range(k):\n    a, b = b, (a + b) % m\n"
                   "print(\"Answer:\", a)"),
        lambda r, top: {"k": _between(r, 200, 5000, top),
                        "m": r.choice([m for m in (1000003, 998244353, 65537, 10007) if m <= top] or [97])},
    ),
    Computation(
        "collatz_steps",
        re.compile(r"Let n = (\d+)\. How many steps does the Collatz sequence starting at n take to reach 1\?"),
        lambda p: f"Let n = {p['n']}. How many steps does the Collatz sequence starting at n take to reach 1?",
        lambda p: _collatz(p["n"]),
        lambda p: (f"n = {p['n']}\nsteps = 0\nwhile n != 1:\n    n = n // 2 if n % 2 == 0 else 3 * n + 1\n"
                   "    steps += 1\nprint(\"Answer:\", steps)"),
        lambda r, top: {"n": _between(r, 1000, 10**7, top)},
    ),
    Computation(
        "divisor_count",
        re.compile(r"Let n = (\d+)\. How many positive divisors does n have\?"),
        lambda p: f"Let n = {p['n']}. How many positive divisors does n have?",
        lambda p: _divisors(p["n"]),
        lambda p: f"n = {p['n']}\nprint(\"Answer:\", sum(1 for d in range(1, n + 1) if n % d == 0))",
        lambda r, top: {"n": _between(r, 10**4, 10**6, top)},
    ),
]
_FIELDS = {"digit_sum_power": ("b", "e"), "count_primes": ("n",), "fibonacci_mod": ("k", "m"), "collatz_steps": ("n",), "divisor_count": ("n",)}


def recognise_computation(text: str) -> tuple[Computation, dict[str, int]] | None:
    for comp in COMPUTATIONS:
        m = comp.pattern.search(text)
        if m:
            return comp, dict(zip(_FIELDS[comp.name], map(int, m.groups())))
    return None


@dataclass
class ToolExchange:
    """One tool call and the response it got."""

    name: str
    arguments: dict[str, Any]
    response: str | None


def tool_exchanges(trajectory: Trajectory) -> list[ToolExchange]:
    """Every tool call of the trajectory paired with its response, in order (structured messages first;
    `<tool_response>` blocks written inline in reasoning count as responses to the preceding calls)."""
    exchanges: list[ToolExchange] = []
    pending: dict[str, ToolExchange] = {}
    for message in trajectory.messages:
        if message.role == "assistant":
            for call in message.tool_calls or []:
                exchange = ToolExchange(call.name, call.arguments, None)
                exchanges.append(exchange)
                pending[call.id or f"#{len(exchanges)}"] = exchange
            # Interleaved calls live inside the reasoning: <tool_call>{json}</tool_call> then its <tool_response>.
            for text in (message.reasoning_content or "", message.content or ""):
                for call_text, response in _INLINE_EXCHANGE.findall(text):
                    exchanges.append(ToolExchange(*_read_call(call_text), response))
        elif message.role == "tool":
            target = pending.pop(message.tool_call_id, None) if message.tool_call_id else None
            if target is None:
                target = next((e for e in exchanges if e.response is None), None)
            if target is not None:
                target.response = message.content or ""
            else:
                exchanges.append(ToolExchange(message.name or "?", {}, message.content or ""))
    return exchanges


def _read_call(text: str) -> tuple[str, dict[str, Any]]:
    try:
        call = json.loads(text)
    except json.JSONDecodeError:
        return "?", {"raw": text}
    if not isinstance(call, dict):
        return "?", {"raw": text}
    arguments = call.get("arguments", {})
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except json.JSONDecodeError:
            arguments = {"raw": arguments}
    return str(call.get("name", "?")), arguments if isinstance(arguments, dict) else {"raw": arguments}


def answer_rests_on_tool(exchanges: list[ToolExchange], answer: int) -> bool:
    """True when a tool response printed the answer and the program that printed it did not contain it:
    the value came from the tool, not from the model echoing a number it already had."""
    value = str(answer)
    for exchange in exchanges:
        if exchange.response is None:
            continue
        printed = _INTEGER.findall(exchange.response)
        source = json.dumps(exchange.arguments, ensure_ascii=False)
        if value in printed and not re.search(rf"(?<![\d]){re.escape(value)}(?![\d])", source):
            return True
    return False


@register_env("tool_use")
class ToolUseEnv(Env):
    """Exact computations with the python tool (interleaved inside <think>); bonus when the answer comes from a tool result."""

    check_timeout_s = 5.0

    def __init__(self, n: int = 100, seed: int = 0, bonus: float = 0.25, tasks: list[str] | None = None,
                 max_tool_calls: int = 4, max_digits: int | None = None) -> None:
        """`max_digits`: no input has more digits (each range's top lowered to it): shorter numbers to carry from the
        question into the program, for a model too small to copy seven digits reliably."""
        if max_digits is not None and max_digits < 2:
            raise ValueError(f"option max_digits: at least 2, got {max_digits}")
        known = [c.name for c in COMPUTATIONS]
        bad = [t for t in tasks or [] if t not in known]
        if bad:
            raise ValueError(f"option tasks: unknown task {bad[0]!r}; known: {', '.join(known)}")
        self.computations = [c for c in COMPUTATIONS if not tasks or c.name in tasks]
        self.n, self.seed, self.bonus, self.max_tool_calls = n, seed, bonus, max_tool_calls
        self.largest_input = 10**max_digits - 1 if max_digits is not None else _NO_INPUT_CAP

    def items(self, split: str = "train", seed: int = 0) -> list[Item]:
        from hermes4.envs.procedural.env import task_rng

        out = []
        spec = python_tool_spec()
        for index in range(self.n):
            rng = task_rng(f"tool_use|{split}", self.seed + seed, index)
            comp = self.computations[index % len(self.computations)]
            params = comp.draw(rng, self.largest_input)
            text = f"{comp.question(params)}\n\n{TOOL_HINT} {ANSWER_INSTRUCTION}"
            out.append(
                Item(
                    id=f"tool_use-{comp.name}-{hashlib.sha256(text.encode()).hexdigest()[:12]}",
                    prompt=Conversation(messages=[Message(role="user", content=text)], tools=[spec]),
                    reference={"answer": comp.solve(params)},
                    meta={"task": comp.name, "params": params},
                )
            )
        return out

    def verify(self, item: Item, trajectory: Trajectory) -> Verdict:
        expected = int(item.reference["answer"])
        given = extract_answer(final_answer(trajectory))
        exchanges = tool_exchanges(trajectory)
        details: dict[str, Any] = {"expected": expected, "given": given, "tool_calls": len(exchanges)}
        if given is None:
            return Verdict("fail", 0.0, {**details, "reason": "no 'Answer:' line after the reasoning"})
        try:
            value = int(given.replace(",", "").strip())
        except ValueError:
            return Verdict("fail", 0.0, {**details, "reason": "the answer is not an integer"})
        if value != expected:
            return Verdict("fail", 0.0, {**details, "reason": "wrong answer"})
        used = answer_rests_on_tool(exchanges, value)
        return Verdict("pass", 1.0 + (self.bonus if used else 0.0), {**details, "tool_result_used": used})

    async def rollout(self, item: Item, llm: LLM, sampling: Sampling, *, thinking: bool = False) -> Trajectory:
        from hermes4.envs.tool_rollout import run_tool_rollout

        return await run_tool_rollout(item, llm, sampling, thinking=thinking, max_tool_calls=self.max_tool_calls)
