"""The environment protocol: items, trajectories, verdicts, and the guarded `Env` base class."""

from __future__ import annotations

import functools
import queue
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from hermes4.chat.messages import Conversation, Message

if TYPE_CHECKING:  # the llm layer is below envs, but only the types are needed here
    from hermes4.llm import LLM, Completion, Sampling

VerdictStatus = Literal["pass", "fail", "error", "timeout"]
VERDICT_STATUSES: tuple[str, ...] = ("pass", "fail", "error", "timeout")


@dataclass
class Item:
    """One task: a prompt conversation, what the checker needs (`reference`), and descriptive `meta`."""

    id: str
    prompt: Conversation
    reference: Any = None
    meta: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "prompt": self.prompt.to_json(), "reference": self.reference, "meta": self.meta}


@dataclass
class Trajectory:
    """What the model produced for an item: its messages (tool turns included) and the raw completions."""

    messages: list[Message]
    completions: list[Completion] = field(default_factory=list)
    completion_tokens: int = 0
    finish_reason: str = "stop"
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_text(cls, text: str, *, reasoning: str | None = None, finish_reason: str = "stop") -> Trajectory:
        """A one-message trajectory from an answer (and optional reasoning); for tests and hand-made data."""
        message = Message(role="assistant", content=text, reasoning_content=reasoning)
        return cls(messages=[message], finish_reason=finish_reason)


@dataclass
class Verdict:
    """The checker's judgement: `pass | fail | error | timeout`, a reward, and details explaining why."""

    status: VerdictStatus
    reward: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in VERDICT_STATUSES:
            raise ValueError(f"Verdict.status: {self.status!r} is not one of {', '.join(VERDICT_STATUSES)}")

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    @classmethod
    def judge(cls, ok: bool, reward: float | None = None, **details: Any) -> Verdict:
        """`pass` with reward 1 (or `reward`) when ok, else `fail` with reward 0."""
        if ok:
            return cls("pass", 1.0 if reward is None else reward, details)
        return cls("fail", 0.0, details)

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "reward": self.reward, "details": self.details}


class CheckTimeout(Exception):
    """Raised by a checker (or the sandbox glue) when its own time limit ran out; becomes a `timeout` verdict."""


class _Worker:
    """A daemon thread that runs one checker call at a time; reused while its calls finish in time."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        threading.Thread(target=self._serve, name="env-verify", daemon=True).start()

    def _serve(self) -> None:
        while (job := self._jobs.get()) is not None:
            job()

    def submit(self, job: Callable[[], None]) -> None:
        self._jobs.put(job)


class _WorkerPool:
    """Idle checker threads. A worker whose call overran its limit is abandoned (it may never return), so a
    hung checker costs one thread, never the pool; a fresh worker replaces it on demand."""

    def __init__(self) -> None:
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()

    def run(self, fn: Callable[[], Verdict], limit: float) -> Verdict | None:
        with self._lock:
            worker = self._idle.pop() if self._idle else _Worker()
        done = threading.Event()
        box: list[Verdict] = []

        def job() -> None:
            try:
                box.append(fn())
            except BaseException as exc:  # noqa: BLE001 (SystemExit & co. from a checker: still an answer)
                box.append(Verdict("error", 0.0, {"error": f"{type(exc).__name__}: {exc}"}))
            finally:
                done.set()

        worker.submit(job)
        if not done.wait(limit):
            worker.submit(None)  # let it exit once (if ever) the stuck call returns
            return None
        with self._lock:
            self._idle.append(worker)
        return box[0]


_POOL = _WorkerPool()


def _guard_verify(verify: Callable[..., Verdict]) -> Callable[..., Verdict]:
    """Wrap an env's `verify`: exceptions become `error`, exceeding `check_timeout_s` becomes `timeout`."""

    @functools.wraps(verify)
    def guarded(self: Env, item: Item, trajectory: Trajectory) -> Verdict:
        _warm(self)
        limit = self.check_timeout_s
        started = time.perf_counter()
        if limit is None:
            verdict = _call_safely(verify, self, item, trajectory)
        else:
            # A worker thread, not a signal: works from any thread and inside an event loop. A checker that
            # never returns keeps its thread, but the caller gets its verdict on time.
            result = _POOL.run(lambda: _call_safely(verify, self, item, trajectory), limit)
            if result is None:
                return Verdict("timeout", 0.0, {"reason": f"checker exceeded {limit:g}s", "env": self.name})
            verdict = result
        verdict.details.setdefault("verify_s", round(time.perf_counter() - started, 6))
        return verdict

    guarded.__guarded__ = True  # type: ignore[attr-defined]
    return guarded


_WARM_LOCK = threading.Lock()


def _warm(env: Env) -> None:
    """`env.warm_up()` once per env, before its first timed check and outside the time limit."""
    if env.__dict__.get("_warmed"):
        return
    with _WARM_LOCK:
        if not env.__dict__.get("_warmed"):
            try:
                env.warm_up()
            except Exception:  # noqa: BLE001 - a library that fails to load fails the checks themselves, as verdicts
                pass
            env._warmed = True  # type: ignore[attr-defined]


def _call_safely(verify: Callable[..., Verdict], env: Env, item: Item, trajectory: Trajectory) -> Verdict:
    try:
        verdict = verify(env, item, trajectory)
    except CheckTimeout as exc:
        return Verdict("timeout", 0.0, {"reason": str(exc) or "checker timed out", "env": env.name})
    except Exception as exc:  # noqa: BLE001 (a crashing checker is never evidence against the answer)
        return Verdict(
            "error",
            0.0,
            {
                "error": f"{type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc(limit=6),
                "env": env.name,
            },
        )
    if not isinstance(verdict, Verdict):
        return Verdict("error", 0.0, {"error": f"verify returned {type(verdict).__name__}, not a Verdict", "env": env.name})
    return verdict


class Env:
    """A task with a checker. Subclasses set `name`, implement `items` and `verify`; tool envs override `rollout`.

    Options come from the spec `name:key=value,...` as keyword arguments of `__init__` (see `registry`).
    """

    name: ClassVar[str] = "env"
    # Wall-clock limit of one `verify` call; None runs the checker inline (for envs whose checkers
    # already run in a limited subprocess).
    check_timeout_s: float | None = 10.0

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("verify")
        if own is not None and not getattr(own, "__guarded__", False):
            cls.verify = _guard_verify(own)  # type: ignore[method-assign]

    @property
    def spec(self) -> str:
        """The spec string that recreates this env (set by `get_env`)."""
        return getattr(self, "_spec", self.name)

    def items(self, split: str = "train", seed: int = 0) -> list[Item]:
        raise TypeError(f"{type(self).__name__} must define items()")

    def verify(self, item: Item, trajectory: Trajectory) -> Verdict:
        raise TypeError(f"{type(self).__name__} must define verify()")

    def warm_up(self) -> None:
        """Load what the checker needs (library models, language profiles) before the first check. Called once,
        outside `check_timeout_s`: the limit measures a check, not a library's start-up, which on a loaded machine
        can exceed it and would turn the same answer's verdict into a timeout in one process and a pass in another."""

    async def rollout(self, item: Item, llm: LLM, sampling: Sampling, *, thinking: bool = False) -> Trajectory:
        """One generation for the item's prompt (sampling.n is taken as 1)."""
        one = sampling.model_copy(update={"n": 1}) if getattr(sampling, "n", 1) != 1 else sampling
        completions = await llm.chat(item.prompt, sampling=one, thinking=thinking)
        return trajectory_from_completion(completions[0], thinking=thinking)

    async def rollout_group(
        self, item: Item, llm: LLM, sampling: Sampling, *, thinking: bool = False, n: int = 1
    ) -> list[Trajectory]:
        """`n` trajectories. Single-generation envs ask for all of them in one request (`sampling.n = n`);
        envs with their own `rollout` (tool loops) run `n` rollouts concurrently."""
        if type(self).rollout is Env.rollout:
            completions = await llm.chat(item.prompt, sampling=sampling.model_copy(update={"n": n}), thinking=thinking)
            return [trajectory_from_completion(c, thinking=thinking) for c in completions]
        import asyncio

        # Separate rollouts need separate seeds to differ on deterministic sources; a caller's seed stays
        # the base, and a single unseeded rollout stays unseeded.
        def nth(i: int) -> Sampling:
            seed = None if sampling.seed is None and n == 1 else (sampling.seed or 0) + i
            return sampling.model_copy(update={"n": 1, "seed": seed})

        return list(await asyncio.gather(*(self.rollout(item, llm, nth(i), thinking=thinking) for i in range(n))))

    def describe(self) -> str:
        """One line for `hermes4 envs list`."""
        doc = (type(self).__doc__ or "").strip().splitlines()
        return doc[0] if doc else self.name


def trajectory_from_completion(completion: Completion, *, thinking: bool | None = None) -> Trajectory:
    """The trajectory of a single generation: its parsed assistant message plus the raw completion."""
    return Trajectory(
        messages=[completion.parsed.to_message()],
        completions=[completion],
        completion_tokens=int(completion.completion_tokens or 0),
        finish_reason=completion.finish_reason,
        meta={} if thinking is None else {"thinking": thinking},
    )
