"""The teacher served by `hermes4 serve --scripted` on loopback, driven through the real HTTP client:
chat completions for single generations, raw completions for the interleaved tool loop."""

from __future__ import annotations

from collections import Counter

import pytest

from hermes4.envs import get_env
from hermes4.llm import Sampling, connect
from hermes4.llm.spawn import serve, serve_command

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def teacher_url():
    with serve(serve_command(scripted="hermes4.teacher:teacher", max_batch=8), env={"HERMES4_TEACHER_ERROR_RATE": "0.0"}) as served:
        yield served.url.removesuffix("/v1")


@pytest.mark.parametrize("thinking", [True, False])
async def test_teacher_over_http_passes_every_env_it_can_solve(teacher_url: str, thinking: bool) -> None:
    llm = connect(teacher_url)
    try:
        outcome: Counter = Counter()
        for spec in ("procedural:n=8", "answer_format:n=6", "json_schema:n=4", "ifeval:n=6", "tool_use:n=3"):
            env = get_env(spec)
            for item in env.items():
                trajectory = await env.rollout(item, llm, Sampling(max_tokens=4096, seed=1), thinking=thinking)
                outcome[(spec.split(":")[0], env.verify(item, trajectory).status)] += 1
    finally:
        await llm.aclose()
    assert all(status == "pass" for _, status in outcome), outcome
