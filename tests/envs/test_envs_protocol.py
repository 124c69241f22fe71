"""The env protocol: verdicts, the guarded verify (crash -> error, slow -> timeout), the registry and specs."""

from __future__ import annotations

import asyncio
import threading

import pytest

from hermes4.chat.messages import Conversation, Message
from hermes4.envs import (
    Env,
    EnvSpecError,
    Item,
    Trajectory,
    Verdict,
    get_env,
    parse_spec,
    register_env,
)
from hermes4.envs.answer import final_answer, raw_output, think_structure
from hermes4.envs.registry import env_names


class _Probe(Env):
    check_timeout_s = 0.3

    def __init__(self, mode: str = "ok", count: int = 1, ratio: float = 0.5, flag: bool = False, tags: list[str] | None = None) -> None:
        self.mode, self.count, self.ratio, self.flag, self.tags = mode, count, ratio, flag, tags
        self.release = threading.Event()  # a slow checker blocks on this until its test lets it go

    def items(self, split: str = "train", seed: int = 0) -> list[Item]:
        return [Item(id="x", prompt=Conversation(messages=[Message(role="user", content="hi")]))]

    def verify(self, item: Item, trajectory: Trajectory) -> Verdict:
        if self.mode == "crash":
            raise ZeroDivisionError("checker bug 1/0")
        if self.mode == "slow":
            self.release.wait(60)
        if self.mode == "exit":
            raise SystemExit(3)
        if self.mode == "not_a_verdict":
            return "pass"  # type: ignore[return-value]
        return Verdict.judge(final_answer(trajectory) == "yes")


register_env("test_probe")(_Probe)


def test_verdict_rejects_unknown_status() -> None:
    with pytest.raises(ValueError, match="Verdict.status"):
        Verdict("passed")


def test_checker_crash_is_error_with_exception_text_never_fail() -> None:
    env = _Probe(mode="crash")
    verdict = env.verify(env.items()[0], Trajectory.from_text("yes"))
    assert verdict.status == "error"
    assert "ZeroDivisionError: checker bug 1/0" in verdict.details["error"]


def test_slow_checker_is_timeout() -> None:
    env = _Probe(mode="slow")
    verdict = env.verify(env.items()[0], Trajectory.from_text("yes"))  # the checker itself would block 60 s
    assert verdict.status == "timeout" and verdict.details["reason"] == "checker exceeded 0.3s"
    env.release.set()


class _SlowStart(_Probe):
    """A checker whose library takes longer to load than the check's time limit (punkt, langdetect's profiles)."""

    def __init__(self) -> None:
        super().__init__(mode="ok")
        self.warm_ups = 0

    def warm_up(self) -> None:
        self.warm_ups += 1
        threading.Event().wait(1.0)  # over check_timeout_s (0.3 s)


def test_a_slow_library_start_is_not_a_timeout_verdict() -> None:
    env = _SlowStart()
    item = env.items()[0]
    verdicts = [env.verify(item, Trajectory.from_text("yes")).status for _ in range(3)]
    assert verdicts == ["pass"] * 3 and env.warm_ups == 1


def test_timeout_works_from_threads_and_inside_an_event_loop() -> None:
    env = _Probe(mode="slow")
    item = env.items()[0]
    results: list[str] = []
    worker = threading.Thread(target=lambda: results.append(env.verify(item, Trajectory.from_text("yes")).status))
    worker.start()
    worker.join()

    async def in_loop() -> str:
        return env.verify(item, Trajectory.from_text("yes")).status

    results.append(asyncio.run(in_loop()))
    env.release.set()
    assert results == ["timeout", "timeout"]


def test_a_hung_checker_does_not_block_later_calls() -> None:
    slow, fast = _Probe(mode="slow"), _Probe(mode="ok")
    item = slow.items()[0]
    assert slow.verify(item, Trajectory.from_text("yes")).status == "timeout"
    # while that worker is still stuck, later calls get fresh workers (a queued call would time out)
    assert [fast.verify(item, Trajectory.from_text("yes")).status for _ in range(50)] == ["pass"] * 50
    slow.release.set()


def test_system_exit_in_a_checker_is_error() -> None:
    env = _Probe(mode="exit")
    assert env.verify(env.items()[0], Trajectory.from_text("yes")).status == "error"


def test_non_verdict_return_is_error() -> None:
    env = _Probe(mode="not_a_verdict")
    assert env.verify(env.items()[0], Trajectory.from_text("yes")).status == "error"


def test_spec_options_are_typed() -> None:
    env = get_env("test_probe:mode=ok,count=3,ratio=0.25,flag=true,tags=a+b")
    assert (env.count, env.ratio, env.flag, env.tags) == (3, 0.25, True, ["a", "b"])
    assert env.spec == "test_probe:mode=ok,count=3,ratio=0.25,flag=true,tags=a+b"
    assert env.verify(env.items()[0], Trajectory.from_text("yes")).status == "pass"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("test_probe:colour=red", "unknown option 'colour'; allowed options: count, flag, mode, ratio, tags"),
        ("test_probe:count=many", "option count='many' is not a valid int"),
        ("test_probe:flag=maybe", "option flag='maybe' is not a valid bool"),
        ("test_probe:count", "option 'count' is not key=value"),
        ("test_probe:count=1,count=2", "option 'count' given twice"),
        ("no_such_env", "no such env; known envs:"),
        (":n=1", "missing the env name"),
    ],
)
def test_bad_specs_name_the_problem(spec: str, message: str) -> None:
    with pytest.raises(EnvSpecError, match=message.replace("(", r"\(").replace(")", r"\)")):
        get_env(spec)


def test_builtin_envs_are_listed_and_load() -> None:
    names = env_names()
    for name in ("answer_format", "ifeval", "json_schema", "math", "code", "tool_use", "procedural"):
        assert name in names
    assert parse_spec("math:dataset=a=b.jsonl") == ("math", {"dataset": "a=b.jsonl"})


def test_final_answer_ignores_reasoning() -> None:
    assert final_answer(Trajectory.from_text("", reasoning="Answer: 4")) == ""
    assert final_answer(Trajectory.from_text("<think>Answer: 4")) == ""  # unclosed think: all reasoning
    assert final_answer(Trajectory.from_text("<think>x</think>Answer: 4")) == "Answer: 4"
    assert final_answer(Trajectory.from_text("Answer: 4<tool_call>{}</tool_call>")) == "Answer: 4"
    assert raw_output(Trajectory.from_text("A", reasoning="r")) == "<think>r</think>A"


@pytest.mark.parametrize(
    ("raw", "ok"),
    [
        ("<think>plan</think>answer", True),
        ("  <think>plan</think>\nanswer", True),
        ("<think>a</think><think>b</think>answer", False),
        ("answer only", False),
        ("<think>plan</think>", False),
        ("<think> </think>answer", False),
        ("intro <think>plan</think>answer", False),
        ("<think>plan", False),
    ],
)
def test_think_structure(raw: str, ok: bool) -> None:
    assert (think_structure(raw) is None) is ok
