"""The transformers engine: a local Hugging Face model folder behind the `LLM` protocol (batched `generate`)."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hermes4.llm.cutoff import TokenCounter
from hermes4.llm.engine import Generation, GenerationJob, LocalEngine


class _Rows:
    """Watches one `generate` call token by token: streams each row's new text and stops rows whose caller left.

    Used as the call's streamer (`put` gets the prompt ids once, then each step's new token per row) and
    as a stopping criterion (a row whose job was cancelled reports done at the next step).
    """

    def __init__(self, engine: TransformersEngine, jobs: list[GenerationJob]) -> None:
        self.engine = engine
        self.jobs = jobs
        self.ids: list[list[int]] = [[] for _ in jobs]
        self.ended = [False] * len(jobs)
        self.seen_prompt = False
        stops = [s for s in jobs[0].sampling.stop]
        self.hold = max((len(s) for s in stops), default=1) - 1  # a stop string may still be forming
        self.stops = stops

    # streamer
    def put(self, value: Any) -> None:
        if not self.seen_prompt:
            self.seen_prompt = True
            return
        step = value.reshape(len(self.jobs), -1)[:, -1].tolist()
        stop_ids = set(self.engine.stop_token_ids)
        for row, token in enumerate(step):
            job = self.jobs[row]
            if self.ended[row] or job.on_text is None:
                continue
            if token in stop_ids:
                self.ended[row] = True
                continue
            self.ids[row].append(token)
            text = job.prefill + self.engine.tokenizer.decode(self.ids[row], skip_special_tokens=False)
            cut = min((at for at in (text.find(s, len(job.prefill)) for s in self.stops) if at != -1), default=-1)
            if cut != -1:
                self.ended[row] = True
                ready = text[:cut]
            else:
                ready = text.rstrip("\ufffd")  # a character whose bytes are not all generated yet
                ready = ready[: max(job.streamed, len(ready) - self.hold)]
            job.emit(ready[job.streamed :])

    def end(self) -> None:
        """The final text is handed over by the engine once the row is cut; nothing is left to flush here."""

    # stopping criterion
    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        return torch.tensor([job.cancelled.is_set() for job in self.jobs], dtype=torch.bool, device=input_ids.device)


def detect_format(tokenizer: Any) -> str:
    """"llama3" for Llama-3 header models, else "chatml", read from the tokenizer's eos and chat template."""
    eos = getattr(tokenizer, "eos_token", None)
    if eos == "<|eot_id|>":
        return "llama3"
    if eos == "<|im_end|>":
        return "chatml"
    template = getattr(tokenizer, "chat_template", None) or ""
    if isinstance(template, str) and "<|start_header_id|>" in template and "<|im_start|>" not in template:
        return "llama3"
    return "chatml"


class TransformersEngine(LocalEngine):
    """Batched generation with a KV cache through `model.generate`, prompts rendered by `hermes4.chat`.

    Jobs of one batch that share sampling settings run as one left-padded `generate` call. A
    seeded request runs as its own call (its n samples together), with torch's generator seeded
    right before it, so it gives the same output whatever else is queued with it.
    """

    def __init__(
        self,
        model_dir: str | Path,
        *,
        format: str | None = None,
        max_batch: int = 8,
        device: str | None = None,
        dtype: str = "auto",
        name: str | None = None,
    ) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path = Path(model_dir)
        if not (path / "config.json").is_file():
            raise ValueError(f"{path}: not a model folder (no config.json)")
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        super().__init__(name=name or path.name, format=format or detect_format(self.tokenizer), max_batch=max_batch)
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype).to(self.device).eval()
        self.context_window = getattr(self.model.config, "max_position_embeddings", None)
        self.supports_prefill = True
        self.supports_json_schema = importlib.util.find_spec("lmformatenforcer") is not None
        self._enforcer_data: Any = None
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.counter = TokenCounter(self.tokenizer)
        stop_ids = {self.tokenizer.convert_tokens_to_ids(self.end_of_turn)}
        if self.tokenizer.eos_token_id is not None:
            stop_ids.add(self.tokenizer.eos_token_id)
        unk = self.tokenizer.unk_token_id
        self.stop_token_ids = sorted(i for i in stop_ids if i is not None and i != unk)

    def generate_batch(self, jobs: list[GenerationJob]) -> list[Generation | Exception]:
        groups: dict[tuple[Any, ...], list[int]] = {}
        for index, job in enumerate(jobs):
            s = job.sampling
            # Greedy decoding ignores the seed, so seeded greedy requests still share one batched call.
            seeded = s.seed is not None and s.temperature > 0
            schema = json.dumps(job.json_schema, sort_keys=True) if job.json_schema is not None else None
            key = (s.temperature, s.top_p, s.top_k, s.max_tokens, s.seed if seeded else None, tuple(s.stop), s.logprobs, job.request if seeded else None, schema)
            groups.setdefault(key, []).append(index)
        results: list[Generation | Exception | None] = [None] * len(jobs)
        for indices in groups.values():
            for index, outcome in zip(indices, self._generate_isolated([jobs[i] for i in indices])):
                results[index] = outcome
        return [r for r in results if r is not None]

    def _generate_isolated(self, jobs: list[GenerationJob]) -> list[Generation | Exception]:
        """One group's outputs; when the group fails, each job alone, so a bad job does not fail its neighbours."""
        try:
            return list(self._generate_group(jobs))
        except Exception as exc:  # noqa: BLE001  (isolated below)
            if len(jobs) == 1:
                return [exc]
        return [outcome for job in jobs for outcome in self._generate_isolated([job])]

    def _generate_group(self, jobs: list[GenerationJob]) -> list[Generation]:
        import torch
        from transformers import GenerationConfig, StoppingCriteriaList

        sampling = jobs[0].sampling
        rows = _Rows(self, jobs)
        encoded = self.tokenizer([j.prompt for j in jobs], return_tensors="pt", padding=True, add_special_tokens=False).to(self.device)
        do_sample = sampling.temperature > 0
        config = GenerationConfig(
            max_new_tokens=sampling.max_tokens,
            do_sample=do_sample,
            temperature=sampling.temperature if do_sample else None,
            top_p=sampling.top_p if do_sample else None,
            top_k=(max(0, sampling.top_k)) if do_sample else None,
            eos_token_id=self.stop_token_ids,
            pad_token_id=self.tokenizer.pad_token_id,
            stop_strings=list(sampling.stop) or None,
            return_dict_in_generate=True,
            output_logits=sampling.logprobs,
        )
        if sampling.seed is not None:
            torch.manual_seed(sampling.seed)
        with torch.inference_mode():
            out = self.model.generate(
                **encoded,
                generation_config=config,
                tokenizer=self.tokenizer if sampling.stop else None,
                streamer=rows if any(j.on_text is not None for j in jobs) else None,
                prefix_allowed_tokens_fn=self._json_constraint(jobs[0].json_schema) if jobs[0].json_schema is not None else None,
                stopping_criteria=StoppingCriteriaList([rows]),
            )
        prompt_width = encoded["input_ids"].shape[1]
        new_tokens = out.sequences[:, prompt_width:].tolist()
        prompt_lengths = encoded["attention_mask"].sum(dim=1).tolist()
        step_logprobs = None
        if sampling.logprobs and out.logits:
            stacked = torch.stack(out.logits, dim=1).float().log_softmax(dim=-1)  # [batch, steps, vocab]
            chosen = out.sequences[:, prompt_width:].unsqueeze(-1)
            step_logprobs = stacked.gather(-1, chosen).squeeze(-1).tolist()
        generations = []
        for row, ids in enumerate(new_tokens):
            generation = self._finish_row(ids, sampling.stop, sampling.max_tokens, int(prompt_lengths[row]), step_logprobs[row] if step_logprobs else None)
            generation.text = jobs[row].prefill + generation.text
            if jobs[row].close and generation.finish_reason == "stop":
                generation.text += jobs[row].close
            generations.append(generation)
        return generations

    def _finish_row(self, ids: list[int], stop: list[str], max_tokens: int, prompt_tokens: int, logprobs: list[float] | None) -> Generation:
        stop_ids = set(self.stop_token_ids)
        ended = next((i for i, t in enumerate(ids) if t in stop_ids), None)
        kept = ids if ended is None else ids[:ended]
        generated = len(ids) if ended is None else ended + 1
        text = self.tokenizer.decode(kept, skip_special_tokens=False)
        finish = "stop" if ended is not None else ("length" if len(ids) >= max_tokens else "stop")
        # `stop_strings` halts generation but leaves the stop string in the output; cut it off like vLLM.
        cut = min((at for at in (text.find(s) for s in stop) if at != -1), default=-1)
        if cut != -1:
            text = text[:cut]
            finish = "stop"
        tokens = None
        if logprobs is not None:
            logprobs = logprobs[:generated]
            tokens = [self.tokenizer.decode([t], skip_special_tokens=False) for t in ids[:generated]]
        return Generation(text=text, finish_reason=finish, prompt_tokens=prompt_tokens, completion_tokens=generated, logprobs=logprobs, tokens=tokens)

    def _json_constraint(self, schema: dict[str, Any]) -> Callable[[int, Any], list[int]]:
        """Allowed next tokens for JSON following `schema`, from lm-format-enforcer's character-level JSON schema parser."""
        from lmformatenforcer import CharacterLevelParserConfig, JsonSchemaParser, TokenEnforcer, TokenEnforcerTokenizerData

        if self._enforcer_data is None:
            tokenizer = self.tokenizer
            special = set(tokenizer.all_special_ids)
            anchor = tokenizer.encode("0", add_special_tokens=False)[-1]
            regular = []
            for token in range(len(tokenizer)):
                if token in special:
                    continue
                # Decoded after an anchor token, so a token that starts a word keeps its leading space.
                text = tokenizer.decode([anchor, token])[1:]
                regular.append((token, text, len(text) > len(tokenizer.decode([token]))))

            def decode(ids: list[int]) -> str:
                return tokenizer.decode(ids).rstrip("\ufffd")

            self._enforcer_data = TokenEnforcerTokenizerData(regular, decode, self.stop_token_ids, False, len(tokenizer))
        # Little whitespace: a model unsure of the next value must not spend its budget on indentation.
        config = CharacterLevelParserConfig(max_consecutive_whitespaces=2)
        enforcer = TokenEnforcer(self._enforcer_data, JsonSchemaParser(schema, config=config))
        return lambda batch_id, ids: enforcer.get_allowed_tokens(ids.tolist()).allowed_tokens

    async def aclose(self) -> None:
        # Drop the weights so a long-lived process can load another model.
        self.model = None  # type: ignore[assignment]
