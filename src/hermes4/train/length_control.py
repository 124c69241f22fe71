"""The length-control stage: generate reasoning traces with the trained model, cut the ones that run past the
control budget and close them with `</think>` + end of turn, then fine-tune on only those two tokens."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from hermes4.train.config import ConfigError, LengthControlConfig


async def generate_traces(llm: Any, prompts: list[str], lc: LengthControlConfig) -> list[dict[str, Any]]:
    """Raw continuations of each rendered prompt (which ends with the assistant header), up to the generation
    budget; `samples_per_prompt` each, at most `concurrency` requests in flight."""
    from hermes4.llm import Sampling

    gate = asyncio.Semaphore(lc.concurrency)

    async def one(index: int, prompt: str) -> list[dict[str, Any]]:
        sampling = Sampling(temperature=lc.temperature, top_p=lc.top_p, max_tokens=lc.generation_budget,
                            n=lc.samples_per_prompt, seed=lc.seed + index)
        async with gate:
            completions = await llm.complete(prompt, sampling=sampling)
        return [{"prompt_index": index, "sample": k, "prompt": prompt, "text": c.text,
                 "finish_reason": c.finish_reason, "completion_tokens": c.completion_tokens}
                for k, c in enumerate(completions)]

    groups = await asyncio.gather(*(one(i, p) for i, p in enumerate(prompts)))
    return [trace for group in groups for trace in group]


def samples_dir(lc: LengthControlConfig) -> Path:
    return Path(lc.train.output_dir) / "length_control_samples"


def length_control_train_config(lc: LengthControlConfig) -> Any:
    """The SFT run of the stage: `lc.train` reading the cut traces instead of a mix."""
    cfg = lc.train
    if not (samples_dir(lc) / "offsets.npy").is_file():
        raise ConfigError(f"length_control: no samples at {samples_dir(lc)}; run `hermes4 length-control "
                          "CONFIG --generate-only` first")
    return cfg.model_copy(update={"data": cfg.data.model_copy(update={"mix": None, "tokenized": str(samples_dir(lc))})})


def run_length_control(lc: LengthControlConfig, *, llm: Any | None = None, train_model: bool = True) -> dict[str, Any]:
    """Generate, cut, save the samples, train from the previous checkpoint; returns the counts and the run.

    `llm`: an `hermes4.llm.LLM` to generate with; by default `connect(lc.llm or <the model folder>)`.
    `train_model=False` stops after the samples (then train on many GPUs with
    `torchrun -m hermes4.train CONFIG --length-control`).
    """
    from transformers import AutoTokenizer

    from hermes4.chat import get_format, render
    from hermes4.llm import connect
    from hermes4.train.data import load_conversations
    from hermes4.train.length_control_data import (
        build_length_control_samples,
        control_token_ids,
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
        elif spec.startswith("scripted:"):  # count the generation budget in this tokenizer's tokens
            llm = connect(spec, format=chat_format, tokenizer=tokenizer)
        else:
            llm = connect(spec, format=chat_format)

    async def generate() -> list[dict[str, Any]]:
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
            f.write(json.dumps(trace) + "\n")

    def token_pairs():
        for trace in traces:
            prompt_ids = tokenizer.encode(trace["prompt"], add_special_tokens=False)
            completion_ids = tokenizer.encode(trace["text"].removesuffix(end_of_turn), add_special_tokens=False)
            yield prompt_ids, completion_ids

    samples, report = build_length_control_samples(token_pairs(), budget=lc.control_budget,
                                                    think_end_id=think_end_id, end_of_turn_id=end_of_turn_id,
                                                    max_length=cfg.data.seq_len)
    result: dict[str, Any] = {**report.to_json(), "traces_file": str(traces_path)}
    result["samples_dir"] = str(samples_dir(lc)) if report.used else None
    result["train"] = None  # without cut traces there is nothing to teach
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
