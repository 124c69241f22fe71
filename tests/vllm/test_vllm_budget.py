"""vLLM's engine-side reasoning budget driven by hermes4 (`BudgetedLLM(mode="engine")`): the request carries
`thinking_token_budget` and `return_token_ids`, and each completion's `budget_fired` is derived from the token ids
(vLLM 0.32 does not report it). Runs on the session's one vLLM server (tests/vllm/conftest.py)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

PROMPT_IN_THINK = "<|im_start|>user\nWhat is 2 + 2?<|im_end|>\n<|im_start|>assistant\n<think>\n"


async def test_engine_budget_fires_and_says_so(vllm_server) -> None:
    from hermes4.llm import OpenAIClient, Sampling
    from hermes4.llm.budget import BudgetedLLM

    sampling = Sampling(max_tokens=30, temperature=0)
    async with OpenAIClient(vllm_server.url, model="tiny", extra_body={"ignore_eos": True, "skip_special_tokens": False}) as client:
        tight = BudgetedLLM(client, 4, mode="engine")
        loose = BudgetedLLM(client, 1000, mode="engine")
        (cut,) = await tight.complete(PROMPT_IN_THINK, sampling=sampling)
        (free,) = await loose.complete(PROMPT_IN_THINK, sampling=sampling)
        (plain,) = await client.complete(PROMPT_IN_THINK, sampling=sampling)
        open_ids, close_ids = await tight._marker_ids()
        requests = client.stats().requests
    # Streamed, the token ids arrive in chunks and are put together: the same output, the same flag.
    async with OpenAIClient(vllm_server.url, model="tiny", stream=True,
                            extra_body={"ignore_eos": True, "skip_special_tokens": False}) as streaming:
        (streamed,) = await BudgetedLLM(streaming, 4, mode="engine").complete(PROMPT_IN_THINK, sampling=sampling)
    assert streamed.text == cut.text and streamed.token_ids == cut.token_ids and streamed.budget_fired is True
    assert requests == 3  # one request per budgeted call, through the caller's own client (its stats, its limits)
    # The engine forced the close after 4 reasoning tokens (the prompt's token after <think> counts): fired.
    assert cut.budget_fired is True and "</think>" in cut.text
    assert cut.token_ids is not None and cut.prompt_token_ids is not None
    close_at = next(i for i in range(len(cut.token_ids)) if cut.token_ids[i:i + len(close_ids)] == close_ids)
    opened = max(i for i in range(len(cut.prompt_token_ids)) if cut.prompt_token_ids[i:i + len(open_ids)] == open_ids)
    assert len(cut.prompt_token_ids) - (opened + len(open_ids)) + close_at == 4
    assert cut.parsed.reasoning is not None and cut.parsed.content  # the model went on to an answer after the close
    # A budget past max_tokens never fires; the output is the model's own, as without any budget.
    assert free.budget_fired is False and free.text == plain.text and plain.budget_fired is None


def test_eval_under_the_engine_budget_on_vllm(vllm_server, tmp_path) -> None:
    """`hermes4 eval --budget-mode engine` drives vLLM's budget end to end: every record says whether it fired, and a
    fired one has the close vLLM forced."""
    import json
    import subprocess
    import sys

    from hermes4.eval import read_samples

    out = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "hermes4", "eval", "--task", "math500", "--limit", "3", "--thinking", "on",
                           "--llm", vllm_server.url, "--model", "tiny", "--out", str(out), "--max-tokens", "24",
                           "--reasoning-budget", "4", "--budget-mode", "engine", "--concurrency", "3"],
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    records = read_samples(out)
    assert len(records) == 3
    for record in records:
        assert isinstance(record["output"]["budget_fired"], bool)
        if record["output"]["budget_fired"]:
            assert "</think>" in record["output"]["raw"]
    (cell,) = json.loads((out / "metrics.json").read_text())["cells"]
    assert cell["budget_fired"] == sum(r["output"]["budget_fired"] for r in records)
    assert json.loads((out / "run.json").read_text())["reasoning_budget"] == {"tokens": 4, "mode": "engine", "format": "chatml"}
