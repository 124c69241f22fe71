"""hermes4's parser plugins inside vLLM's own `Parser` (the object vLLM's server drives), over the parse case table:
for every case, the batch message equals `hermes4.parse`'s reading (rejected calls' text back in the content), and
the stream — fed as vLLM feeds it, token by token, and at several character chunkings — accumulates to exactly it.

The plugins import vLLM, so they run in the engine venv: one subprocess reads every case (one vLLM import)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hermes4.parse import parse

sys.path.insert(0, str(Path(__file__).parents[1] / "parse"))
from test_parse_cases import CASES  # noqa: E402  (the case table the parser tests hold)

pytestmark = pytest.mark.slow

DRIVER = Path(__file__).with_name("vllm_parser_driver.py")
# Cases whose prompt opened `<think>`: hermes4's exported template never does that, and vLLM's batch parse gives
# the parser no prompt, so the plugins read every output from its start.
USED = [case for case in CASES if not case.options.get("reasoning_started")]


def expected_message(text: str, interleaved: bool) -> dict:
    """What the plugins must return: hermes4's reading, with the text of rejected calls appended to the content."""
    parsed = parse(text, tools_in_reasoning=interleaved)
    kinds = {"unreadable_tool_call", "truncated_tool_call", "missing_name", "arguments_not_object"}
    spans = sorted({(i.start, i.end) for i in parsed.issues if i.kind in kinds})
    rejected = [text[a:b] for a, b in spans if text[a:b].strip()]
    content = "\n".join(([parsed.content] if parsed.content else []) + rejected)
    return {"reasoning": parsed.reasoning or "", "content": content,
            "tool_calls": [{"id": c.id, "name": c.name, "arguments": c.arguments_json} for c in parsed.tool_calls]}


def accumulate(deltas: list[dict]) -> dict:
    """What an OpenAI streaming client rebuilds from the deltas (tool calls merged by index)."""
    content, reasoning, calls = "", "", {}
    for delta in deltas:
        content += delta.get("content") or ""
        reasoning += delta.get("reasoning") or ""
        for call in delta.get("tool_calls", []):
            entry = calls.setdefault(call["index"], {"id": None, "name": "", "arguments": ""})
            entry["id"] = entry["id"] or call.get("id")
            function = call.get("function") or {}
            entry["name"] += function.get("name") or ""
            entry["arguments"] += function.get("arguments") or ""
    return {"reasoning": reasoning, "content": content, "tool_calls": [calls[i] for i in sorted(calls)]}


@pytest.fixture(scope="module")
def driven(engine_python: Path, tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    from hermes4.llm.vllm_engine import PLUGIN_FILE, hermes4_only_path

    job = {"model": str(tiny_model_dir), "plugin": str(PLUGIN_FILE),
           "cases": [{"text": case.text, "interleaved": bool(case.options.get("tools_in_reasoning"))} for case in USED]}
    shim = hermes4_only_path(tmp_path_factory.mktemp("plugin-path"))
    env = {**os.environ, "PYTHONPATH": str(shim), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([str(engine_python), str(DRIVER)], input=json.dumps(job), capture_output=True, text=True,
                          timeout=600, env=env, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    results = json.loads(done.stdout)
    assert len(results["cases"]) == len(USED)
    return results


@pytest.mark.parametrize("index", range(len(USED)), ids=[case.id for case in USED])
def test_plugin_batch_and_stream_equal_hermes4(driven: dict, index: int) -> None:
    case = USED[index]
    result = driven["cases"][index]
    expected = expected_message(case.text, bool(case.options.get("tools_in_reasoning")))
    batch = result["batch"]
    got = {"reasoning": batch["reasoning"] or "", "content": batch["content"] or "", "tool_calls": batch["tool_calls"]}
    assert got == expected
    assert [(c["name"], json.loads(c["arguments"])) for c in got["tool_calls"]] == case.calls
    assert set(result["streams"]) >= {"tokens", "tokens-tool-parser", "chars-1", "chars-3", "chars-7"}
    if case.text.strip():  # which of vLLM's two parsers was fed (an empty output feeds none)
        assert result["fed"]["tokens"] == "reasoning" and result["fed"]["tokens-tool-parser"] == "tool"
    for chunking, deltas in result["streams"].items():
        assert accumulate(deltas) == expected, chunking


def test_the_case_table_reaches_the_plugins() -> None:
    # the interesting cases are in: interleaved calls, `</tool_call>` inside a string, unreadable calls
    assert any(case.options.get("tools_in_reasoning") for case in USED)
    assert any("</tool_call> inside a string" in case.id for case in USED)
    assert any(case.issues == ["unreadable_tool_call"] for case in USED)
    assert len(USED) >= len(CASES) - 3


def test_structured_outputs_start_after_the_reasoning(driven: dict) -> None:
    # [prompt, prompt whose earlier turn closed a think block, output inside <think>, output past </think>]
    assert driven["gate"] == {"thinking=True": [False, False, False, True], "thinking=False": [True, True, False, True]}
