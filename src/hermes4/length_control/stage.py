"""Generating the length-control traces with the SFT model, in two phases, and running the stage.

Phase 1 generates the reasoning with `max_tokens = control_budget`, so the engine itself counts the budget in the
ids it generated: a trace it stopped for length without `</think>` is cut exactly at the budget (or, with
`cut_at: line`, at its last line break before it). Phase 2 appends
`</think>` to each cut trace and lets the model write its answer after it (up to the rest of
`generation_budget`), ending at the end-of-turn token. The answer is kept in the sample as masked context.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from hermes4.chat import Conversation
from hermes4.train.config import ConfigError, LengthControlConfig

THINK_END = "</think>"


@dataclass(frozen=True)
class GeneratedTrace:
    """One trace as text, with the engine's own accounting (what the traces file records)."""

    prompt_index: int
    sample: int
    prompt: str
    reasoning: str  # phase 1 output: up to `control_budget` generated tokens
    reasoning_finish: str
    reasoning_tokens: int  # the engine's count of generated ids
    answer: str | None = None  # phase 2 output, after a forced `</think>` (None when the trace closed by itself)
    answer_finish: str | None = None

    @property
    def closed(self) -> bool:
        return THINK_END in self.reasoning

    @property
    def hit_budget(self) -> bool:
        return self.reasoning_finish == "length"


async def generate_traces(llm: Any, prompts: list[str], lc: LengthControlConfig) -> list[GeneratedTrace]:
    """`samples_per_prompt` traces per rendered prompt (each ends with the assistant header); at most
    `concurrency` requests in flight; phase 2 (the answer after a forced `</think>`) for the cut ones."""
    from hermes4.llm import Sampling

    gate = asyncio.Semaphore(lc.concurrency)
    answer_budget = lc.generation_budget - lc.control_budget

    async def reasoning(index: int, prompt: str) -> list[GeneratedTrace]:
        sampling = Sampling(temperature=lc.temperature, top_p=lc.top_p, max_tokens=lc.control_budget,
                            n=lc.samples_per_prompt, seed=lc.seed + index)
        async with gate:
            completions = await llm.complete(prompt, sampling=sampling)
        return [GeneratedTrace(index, k, prompt, c.text, c.finish_reason, c.completion_tokens)
                for k, c in enumerate(completions)]

    async def answer(trace: GeneratedTrace) -> GeneratedTrace:
        if trace.closed or not trace.hit_budget:
            return trace
        body = trace.reasoning.rstrip("\n")
        if lc.cut_at == "line" and "\n" in body:
            trace = replace(trace, reasoning=body[: body.rindex("\n") + 1])
        sampling = Sampling(temperature=lc.temperature, top_p=lc.top_p, max_tokens=answer_budget, n=1,
                            seed=lc.seed + 1_000_003 + trace.prompt_index * lc.samples_per_prompt + trace.sample)
        async with gate:
            (completion,) = await llm.complete(trace.prompt + trace.reasoning + THINK_END, sampling=sampling)
        return GeneratedTrace(**{**asdict(trace), "answer": completion.text, "answer_finish": completion.finish_reason})

    groups = await asyncio.gather(*(reasoning(i, p) for i, p in enumerate(prompts)))
    return list(await asyncio.gather(*(answer(t) for group in groups for t in group)))


def natural_verdicts(traces: list[GeneratedTrace], conversations: list[Conversation]) -> list[bool | None]:
    """For each trace that closed by itself: whether the verifier of its prompt's env accepts its answer; None for
    the other traces and for prompts that do not name their env item (`meta.env`, `meta.id`, `meta.split`,
    `meta.seed`, as a recipe's data stage writes them)."""
    from hermes4.envs import Trajectory, get_env
    from hermes4.parse import parse

    items: dict[tuple, dict[str, Any]] = {}
    envs: dict[tuple, Any] = {}

    def item_of(meta: dict[str, Any]):
        if not {"env", "id", "split", "seed"} <= meta.keys():
            return None, None
        key = (meta["env"], meta["split"], meta["seed"])
        if key not in envs:
            envs[key] = get_env(meta["env"])
            items[key] = {item.id: item for item in envs[key].items(meta["split"], meta["seed"])}
        return envs[key], items[key].get(meta["id"])

    verdicts: list[bool | None] = []
    for trace in traces:
        env, item = item_of(conversations[trace.prompt_index].meta) if trace.closed else (None, None)
        if item is None:
            verdicts.append(None)
            continue
        # read as the eval reads a generation: the parse layer splits reasoning from the answer
        trajectory = Trajectory(messages=[parse(trace.reasoning).to_message()], finish_reason=trace.reasoning_finish)
        verdicts.append(env.verify(item, trajectory).status == "pass")
    return verdicts


def to_ids(trace: GeneratedTrace, tokenizer: Any, end_of_turn: str):
    """The trace in token ids (`hermes4.train.length_control_data.Trace`)."""
    from hermes4.train.length_control_data import Trace

    def encode(text: str) -> list[int]:
        return tokenizer.encode(text, add_special_tokens=False)

    if trace.closed:  # its own answer follows its own `</think>` in the phase-1 output
        cut = trace.reasoning.index(THINK_END) + len(THINK_END)
        thinking, answer = trace.reasoning[:cut], trace.reasoning[cut:]
        answered = trace.reasoning_finish == "stop"
    else:
        thinking, answer = trace.reasoning, trace.answer or ""
        answered = trace.answer_finish == "stop"
    return Trace(prompt_ids=encode(trace.prompt), reasoning_ids=encode(thinking), hit_budget=trace.hit_budget,
                 answer_ids=encode(answer.removesuffix(end_of_turn)), answered=answered)


def run_length_control(lc: LengthControlConfig, *, llm: Any | None = None, train_model: bool = True) -> dict[str, Any]:
    """Generate, build and save the samples, train from the previous checkpoint; returns the counts and the run.

    `llm`: an `hermes4.llm.LLM` to generate with; by default `connect(lc.llm or <the model folder>)`.
    `train_model=False` stops after the samples (then train on many GPUs with
    `torchrun -m hermes4.train CONFIG --length-control`).
    """
    from transformers import AutoTokenizer

    from hermes4.chat import get_format, render
    from hermes4.llm import connect
    from hermes4.train.data import load_conversations
    from hermes4.train.length_control import length_control_train_config, samples_dir
    from hermes4.train.length_control_data import (
        build_length_control_samples,
        control_token_ids,
        line_break_token_ids,
    )
    from hermes4.train.parallel import shutdown_distributed
    from hermes4.train.trainer import train

    cfg = lc.train
    chat_format = cfg.model.format
    model_path = Path(cfg.model.path)
    if llm is None and lc.llm is None and not (model_path / "config.json").is_file():
        raise ConfigError(f"length_control.train.model.path: {model_path} is not a model folder (run the SFT "
                          "stage first, or set length_control.llm to an endpoint)")
    if not Path(lc.prompts).exists():
        raise ConfigError(f"length_control.prompts: {lc.prompts}: no such file or folder")
    tokenizer = AutoTokenizer.from_pretrained(cfg.model.tokenizer or cfg.model.path)
    think_end_id, end_of_turn_id = control_token_ids(tokenizer, chat_format)
    end_of_turn = get_format(chat_format).end_of_turn

    conversations = load_conversations(lc.prompts)
    prompts = [render(c, format=chat_format, thinking=True, add_generation_prompt=True).text for c in conversations]
    if llm is None:
        spec = lc.llm or str(model_path)
        if spec.startswith(("http://", "https://")):
            llm = connect(spec)
        elif spec.startswith("scripted:"):  # count the budgets in this tokenizer's tokens
            llm = connect(spec, format=chat_format, tokenizer=tokenizer)
        else:
            llm = connect(spec, format=chat_format)

    async def generate() -> list[GeneratedTrace]:
        try:
            return await generate_traces(llm, prompts, lc)
        finally:
            await llm.aclose()

    traces = asyncio.run(generate())

    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    traces_path = Path(lc.traces_out) if lc.traces_out else out / "traces.jsonl"
    traces_path.parent.mkdir(parents=True, exist_ok=True)
    with traces_path.open("w", encoding="utf-8") as f:
        for trace in traces:
            f.write(json.dumps(asdict(trace)) + "\n")

    rejected = 0
    if lc.verify_natural:  # a natural trace the verifier rejects is not kept: it would teach its own mistake
        verdicts = natural_verdicts(traces, conversations)
        rejected = sum(v is False for v in verdicts)
        kept = [t for t, v in zip(traces, verdicts) if v is not False]
    else:
        kept = traces
    samples, report = build_length_control_samples(
        (to_ids(t, tokenizer, end_of_turn) for t in kept), think_end_id=think_end_id, end_of_turn_id=end_of_turn_id,
        keep_natural=lc.keep_natural, anchor=lc.anchor,
        line_break_ids=line_break_token_ids(tokenizer) if lc.anchor == "lines" else frozenset(), max_length=cfg.data.seq_len)
    result: dict[str, Any] = {**report.to_json(), "traces": len(traces), "natural_rejected": rejected,
                              "traces_file": str(traces_path)}
    result["samples_dir"] = str(samples_dir(lc)) if report.used else None
    result["train"] = None  # without usable traces there is nothing to teach
    if report.used:
        samples.save(samples_dir(lc))
    if report.used and train_model:
        try:
            run = train(length_control_train_config(lc))
        finally:
            shutdown_distributed()
        result["train"] = {"steps": run.steps, "final_loss": run.final_loss,
                           "export_dir": str(run.export_dir) if run.export_dir else None}
    (out / "length_control_report.json").write_text(json.dumps(result, indent=2))
    return result
