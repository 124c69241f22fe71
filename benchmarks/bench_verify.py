"""Verifier throughput per env: `Env.verify` (guarded: thread time limit, error capture) vs the bare check.

For each env, N items get hand-made trajectories, half correct (reference answers, schema witnesses, IFEval
composer witnesses, reference programs) and half wrong. "ours" is `env.verify` as the sampler and evaluator
call it; "bare" is the same judgement called directly on the library underneath with no env machinery:
math-verify's own parse+verify (with its signal timeouts, main thread only), jsonschema's validator, the
IFEval checkers without the guard, `subprocess.run(python)` per test without the sandbox (no limits, no
isolation), a plain answer comparison, reasoning-gym's `score_answer` called in-process. The ratio ours/bare is
the price of the protocol (guard thread, answer extraction, details) and, for code and reasoning_gym, of running the
checker in a separate limited process (reasoning-gym's scorers `eval` some answers).

    .venv/bin/python benchmarks/bench_verify.py [--n 200] [--code-n 6] [--rg-n 208] [--rg-preset broad] [--only reasoning_gym+math]
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from hermes4.envs import Item, Trajectory, get_env


def _rate(fn: Callable[[], Any], count: int) -> float:
    started = time.perf_counter()
    fn()
    return count / (time.perf_counter() - started)


def _half(items: list[Item], good: Callable[[Item], str], bad: Callable[[Item], str]) -> list[tuple[Item, Trajectory, str]]:
    out = []
    for i, item in enumerate(items):
        text = good(item) if i % 2 == 0 else bad(item)
        out.append((item, Trajectory.from_text(text, reasoning="worked it out"), text))
    return out


def bench_procedural(n: int) -> tuple[float, float]:
    from hermes4.envs.procedural.tasks import answers_match, extract_answer

    env = get_env(f"procedural:n={n}")
    cases = _half(env.items(), lambda it: f"Answer: {it.reference['answer']}", lambda it: "Answer: 0")
    ours = _rate(lambda: [env.verify(it, t) for it, t, _ in cases], len(cases))

    def bare() -> None:
        for item, _, text in cases:
            given = extract_answer(text)
            given is not None and answers_match(item.reference["answer_type"], given, item.reference["answer"])

    return ours, _rate(bare, len(cases))


def bench_answer_format(n: int) -> tuple[float, float]:
    from hermes4.envs.answer_format import FORMATS_BY_NAME

    env = get_env(f"answer_format:n={n}")
    fmt = lambda it: FORMATS_BY_NAME[it.reference["format"]]
    cases = _half(env.items(), lambda it: fmt(it).render("42"), lambda it: fmt(it).broken("42"))
    ours = _rate(lambda: [env.verify(it, t) for it, t, _ in cases], len(cases))
    return ours, _rate(lambda: [fmt(it).check(text) for it, _, text in cases], len(cases))


def bench_ifeval(n: int) -> tuple[float, float]:
    from hermes4.envs.ifeval import follows

    env = get_env(f"ifeval:n={n},max_instructions=4")
    cases = _half(env.items(), lambda it: it.meta["witness"], lambda it: "A short reply, with a comma.")
    ours = _rate(lambda: [env.verify(it, t) for it, t, _ in cases], len(cases))

    def bare() -> None:
        for item, _, text in cases:
            for instruction_id, kwargs in zip(item.reference["instruction_id_list"], item.reference["kwargs"]):
                follows(instruction_id, text, kwargs)
                follows(instruction_id, text, kwargs, loose=True)

    return ours, _rate(bare, len(cases))


def bench_json_schema(n: int) -> tuple[float, float]:
    import jsonschema

    env = get_env(f"json_schema:n={n}")
    cases = _half(env.items(), lambda it: json.dumps(it.meta["witness"]), lambda it: json.dumps({"unexpected": [1, 2]}))
    ours = _rate(lambda: [env.verify(it, t) for it, t, _ in cases], len(cases))

    def bare() -> None:
        for item, _, text in cases:
            schema = item.reference["schema"]
            validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
            ok = not list(validator.iter_errors(json.loads(text)))
            if ok and item.reference["task"] == "repair":
                ok = json.loads(text) == item.reference["original"]

    return ours, _rate(bare, len(cases))


def bench_math(n: int) -> tuple[float, float]:
    from math_verify import parse, verify

    env = get_env("math")
    items = (env.items() * (n // len(env.items()) + 1))[:n]
    cases = _half(items, lambda it: f"The answer is \\boxed{{{it.reference['answer']}}}.", lambda it: "The answer is \\boxed{12345}.")
    ours = _rate(lambda: [env.verify(it, t) for it, t, _ in cases], len(cases))

    def bare() -> None:
        for item, _, text in cases:
            verify(parse(f"\\boxed{{{item.reference['answer']}}}"), parse(text))

    return ours, _rate(bare, len(cases))


def bench_code(n: int) -> tuple[float, float]:
    from hermes4.envs.code import _FUNCTION_HARNESS, _functional_ok, normalise_output

    solutions = {
        "sample-sum-pairs": "import sys\nd = sys.stdin.read().split()\nfor i in range(int(d[0])):\n    print(int(d[1 + 2*i]) + int(d[2 + 2*i]))",
        "sample-reverse-words": "print(' '.join(input().split()[::-1]))",
        "sample-count-vowels": "print(sum(c in 'aeiouAEIOU' for c in input()))",
        "sample-two-sum": "class Solution:\n    def twoSum(self, nums, target):\n        s = {}\n        for i, x in enumerate(nums):\n            if target - x in s:\n                return [s[target - x], i]\n            s[x] = i",
        "sample-is-palindrome": "class Solution:\n    def isPalindrome(self, s):\n        t = [c.lower() for c in s if c.isalnum()]\n        return t == t[::-1]",
        "sample-max-subarray": "class Solution:\n    def maxSubArray(self, nums):\n        best = cur = nums[0]\n        for x in nums[1:]:\n            cur = max(x, cur + x)\n            best = max(best, cur)\n        return best",
    }
    env = get_env("code")
    items = (env.items() * (n // len(env.items()) + 1))[:n]
    cases = [(it, Trajectory.from_text(f"```python\n{solutions[it.meta['question_id']]}\n```"), solutions[it.meta["question_id"]]) for it in items]
    tests = sum(len(it.reference["tests"]) for it, _, _ in cases)
    ours = _rate(lambda: [env.verify(it, t) for it, t, _ in cases], tests)

    results: list[bool] = []

    def bare() -> None:
        import tempfile
        from pathlib import Path

        for item, _, program in cases:
            for test in item.reference["tests"]:
                with tempfile.TemporaryDirectory() as tmp:
                    if test["testtype"] == "functional":
                        Path(tmp, "solution.py").write_text(program)
                        Path(tmp, "args.txt").write_text(test["input"])
                        run = subprocess.run([sys.executable, "-c", _FUNCTION_HARNESS.format(name=item.reference["func_name"])],
                                             cwd=tmp, capture_output=True, text=True, timeout=10, check=False)
                        results.append(_functional_ok(run.stdout, test["output"]))
                    else:
                        run = subprocess.run([sys.executable, "-c", program], input=test["input"], cwd=tmp,
                                             capture_output=True, text=True, timeout=10, check=False)
                        results.append(normalise_output(run.stdout) == normalise_output(test["output"]))

    return ours, _rate(bare, tests)


def bench_tool_use(n: int) -> tuple[float, float]:
    from hermes4.chat.messages import Message
    from hermes4.envs.procedural.tasks import extract_answer

    env = get_env(f"tool_use:n={n}")
    cases = []
    for i, item in enumerate(env.items()):
        value = item.reference["answer"] + (0 if i % 2 == 0 else 1)
        call = Message.model_validate({"role": "assistant", "content": "", "tool_calls": [{"id": "c", "name": "python", "arguments": {"code": "print(f())"}}]})
        messages = [call, Message(role="tool", content=str(item.reference["answer"]), tool_call_id="c"), Message(role="assistant", content=f"Answer: {value}")]
        cases.append((item, Trajectory(messages=messages), f"Answer: {value}"))
    ours = _rate(lambda: [env.verify(it, t) for it, t, _ in cases], len(cases))
    return ours, _rate(lambda: [int(extract_answer(text)) == it.reference["answer"] for it, _, text in cases], len(cases))


def bench_reasoning_gym(n: int, preset: str) -> tuple[float, float]:
    """A preset's mix (`reasoning_gym`: the 104 reasoning-gym datasets; `broad`: reasoning-core's tasks too): half the items answered with the dataset's own answer, half with a wrong one. Both sides are
    warmed first (worker processes started, datasets built), so the rates are steady-state scoring."""
    from reasoning_gym.factory import DATASETS

    from hermes4.envs.rgym.catalog import ensure_registered, extract_tagged_answer, oracle_answer

    env = get_env(f"reasoning_gym:preset={preset},n={n}")
    cases = _half(env.items(), lambda it: f"<answer>{oracle_answer(it.reference['entry'])}</answer>", lambda it: "<answer>7</answer>")
    datasets: dict[str, Any] = {}

    def bare_one(item: Item, text: str) -> float:
        name = item.reference["dataset"]
        if name not in datasets:  # a reasoning-core task joins reasoning-gym's registry on first use
            ensure_registered(name)
            datasets[name] = DATASETS[name][0](config=item.reference["config"])
        try:
            return datasets[name].score_answer(extract_tagged_answer(text), item.reference["entry"])
        except Exception:  # noqa: BLE001 (a crashing scorer: the env calls it an error)
            return -1.0

    ours_verdicts = [env.verify(it, t).status for it, t, _ in cases]  # warm-up, and the agreement check below
    bare_scores = [bare_one(it, text) for it, _, text in cases]
    agree = sum((v == "pass") == (s >= 1.0) for v, s in zip(ours_verdicts, bare_scores))
    print(f"reasoning_gym: {len(cases)} trajectories over {len({it.reference['dataset'] for it, _, _ in cases})} datasets; "
          f"verdicts agree with bare scoring on {agree}/{len(cases)}; passed {ours_verdicts.count('pass')}", file=sys.stderr)
    ours = _rate(lambda: [env.verify(it, t) for it, t, _ in cases], len(cases))
    return ours, _rate(lambda: [bare_one(it, text) for it, _, text in cases], len(cases))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="trajectories per env (half correct, half wrong)")
    parser.add_argument("--code-n", type=int, default=6, help="code items (each runs 2-3 tests in a process)")
    parser.add_argument("--rg-n", type=int, default=208, help="reasoning_gym items (208: two per reasoning-gym dataset)")
    parser.add_argument("--rg-preset", default="reasoning_gym", help="reasoning_gym preset: reasoning_gym (104 datasets) or broad (with reasoning-core)")
    parser.add_argument("--only", default="", help="envs to run, joined with + (default: all)")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # math-verify warns that we run without its signal timeout
    benches = [
        ("procedural", lambda: bench_procedural(args.n), "bare: extract + compare inline"),
        ("answer_format", lambda: bench_answer_format(args.n), "bare: the format checker alone"),
        ("ifeval", lambda: bench_ifeval(args.n), "bare: strict+loose checkers without the guard"),
        ("json_schema", lambda: bench_json_schema(args.n), "bare: json.loads + jsonschema validator"),
        ("math", lambda: bench_math(args.n), "bare: math_verify.parse + verify (signal timeouts)"),
        ("tool_use", lambda: bench_tool_use(args.n), "bare: extract + compare, no tool-provenance check"),
        ("code", lambda: bench_code(args.code_n), "per test; bare: subprocess python, no sandbox/limits"),
        ("reasoning_gym", lambda: bench_reasoning_gym(args.rg_n, args.rg_preset), f"preset={args.rg_preset}; bare: the library's score_answer in-process"),
    ]
    wanted = set(filter(None, args.only.split("+")))
    rows = [(name, *run(), note) for name, run, note in benches if not wanted or name in wanted]
    print(f"{'env':<15}{'ours/s':>11}{'bare/s':>11}{'ours/bare':>11}  peer")
    for name, ours, bare, note in rows:
        print(f"{name:<15}{ours:>11.1f}{bare:>11.1f}{ours / bare:>11.2f}  {note}")


if __name__ == "__main__":
    main()
