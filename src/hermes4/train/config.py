"""Typed training configuration: the `train:` and `length_control:` sections of a recipe YAML."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator


class ConfigError(ValueError):
    """A config that cannot be used; the message names the field (e.g. `train.optim.lr`) and what is allowed."""


class _Strict(BaseModel):
    # A misspelt key is an error, never silently ignored: `lr_warmup: 300` must not train without warmup.
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


# Llama 3.1's RoPE frequency scaling (its config.json `rope_scaling`).
_LLAMA31_ROPE = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                 "original_max_position_embeddings": 8192}

# Shapes of the paper's base models (and the benchmark sizes), so a plan or a random-init run works
# offline, without the hub. Values are the published config.json fields.
ARCHITECTURES: dict[str, dict[str, Any]] = {
    "qwen3-0.6b": {"model_type": "qwen3", "hidden_size": 1024, "intermediate_size": 3072, "num_hidden_layers": 28,
        "num_attention_heads": 16, "num_key_value_heads": 8, "head_dim": 128, "vocab_size": 151936,
        "tie_word_embeddings": True, "max_position_embeddings": 40960, "rope_theta": 1_000_000},
    "qwen3-1.7b": {"model_type": "qwen3", "hidden_size": 2048, "intermediate_size": 6144, "num_hidden_layers": 28,
        "num_attention_heads": 16, "num_key_value_heads": 8, "head_dim": 128, "vocab_size": 151936,
        "tie_word_embeddings": True, "max_position_embeddings": 40960, "rope_theta": 1_000_000},
    "qwen3-8b": {"model_type": "qwen3", "hidden_size": 4096, "intermediate_size": 12288, "num_hidden_layers": 36,
        "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 128, "vocab_size": 151936,
        "tie_word_embeddings": False, "max_position_embeddings": 40960, "rope_theta": 1_000_000},
    "qwen3-14b": {"model_type": "qwen3", "hidden_size": 5120, "intermediate_size": 17408, "num_hidden_layers": 40,
        "num_attention_heads": 40, "num_key_value_heads": 8, "head_dim": 128, "vocab_size": 151936,
        "tie_word_embeddings": False, "max_position_embeddings": 40960, "rope_theta": 1_000_000},
    "llama3.1-8b": {"model_type": "llama", "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
        "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 128256,
        "tie_word_embeddings": False, "max_position_embeddings": 131072, "rope_theta": 500_000,
        "rope_scaling": _LLAMA31_ROPE},
    "llama3.1-70b": {"model_type": "llama", "hidden_size": 8192, "intermediate_size": 28672, "num_hidden_layers": 80,
        "num_attention_heads": 64, "num_key_value_heads": 8, "vocab_size": 128256,
        "tie_word_embeddings": False, "max_position_embeddings": 131072, "rope_theta": 500_000,
        "rope_scaling": _LLAMA31_ROPE},
    "llama3.1-405b": {"model_type": "llama", "hidden_size": 16384, "intermediate_size": 53248, "num_hidden_layers": 126,
        "num_attention_heads": 128, "num_key_value_heads": 8, "vocab_size": 128256,
        "tie_word_embeddings": False, "max_position_embeddings": 131072, "rope_theta": 500_000,
        "rope_scaling": _LLAMA31_ROPE},
}


class ModelConfig(_Strict):
    path: str = Field(description="local Hugging Face folder (or hub id where the network allows)")
    tokenizer: str | None = Field(default=None, description="tokenizer folder; defaults to `path`")
    architecture: Literal[tuple(ARCHITECTURES)] | None = Field(  # type: ignore[valid-type]
        default=None, description="known shape used when `path` is not a local folder (plans, random init)")
    init: Literal["pretrained", "random"] = "pretrained"
    format: Literal["chatml", "llama3"] = "chatml"
    attn_implementation: Literal["auto", "sdpa", "eager", "flex_attention", "flash_attention_2",
                                 "flash_attention_3"] = Field(
        default="auto", description="auto = sdpa with a block mask on CPU, flex attention on GPU")


class DataConfig(_Strict):
    """What the data pipeline (hermes4.train.data) reads; the trainer only needs rows of `seq_len` tokens."""

    mix: dict[str, Any] | list[Any] | None = Field(
        default=None, description="conversation sources (hermes4.train.mix.MixSpec: sources, total, seed)")
    tokenized: str | None = Field(default=None, description="or: a saved TokenizedSamples folder (ids + masks)")
    seq_len: int = Field(default=16384, gt=0, description="row length; also the longest sample kept")
    overlong: Literal["drop", "truncate"] = "drop"
    thinking: bool | None = Field(default=None, description="render every conversation with thinking (None: its own)")
    keep_cots: bool | None = None
    train_last_turn_only: bool = False
    pack_algo: Literal["bfd", "first-fit"] = Field(
        default="bfd",
        description="bfd: best-fit decreasing over every sample, bins shuffled by the seed; the samples are put in "
        "content order first, so the run depends on the records, not their order in the files. first-fit: "
        "samples in file order, bins read in order",
    )
    cache_dir: str | None = Field(default=None, description="tokenization cache; defaults to <output_dir>/cache")
    workers: int = Field(default=1, ge=1, description="tokenization processes")

    @model_validator(mode="after")
    def _one_source(self) -> DataConfig:
        if self.mix is not None and self.tokenized is not None:
            raise ValueError("give either mix or tokenized, not both")
        if self.mix is not None:
            from hermes4.train.mix import MixError, MixSpec

            try:
                MixSpec.parse(self.mix, where="mix")
            except MixError as exc:
                raise ValueError(str(exc)) from None
        return self


class OptimConfig(_Strict):
    lr: float = Field(default=5e-5, gt=0)
    betas: tuple[float, float] = (0.9, 0.95)
    eps: float = Field(default=1e-8, gt=0)
    weight_decay: float = Field(default=0.01, ge=0)
    grad_clip: float | None = Field(default=1.0, description="max global grad norm; null disables clipping")
    fused: bool | None = Field(default=None, description="fused AdamW; null = on for CUDA")


class ScheduleConfig(_Strict):
    steps: int = Field(default=9000, gt=0)
    warmup_steps: int = Field(default=300, ge=0)
    decay: Literal["cosine", "linear", "constant"] = "cosine"
    min_lr_ratio: float = Field(default=0.0, ge=0, le=1)


class ParallelConfig(_Strict):
    fsdp: bool = True
    tp: int = Field(default=1, ge=1, description="tensor-parallel degree (inner mesh dimension)")
    planned_world_size: int | None = Field(
        default=None, gt=0, description="GPUs the recipe was sized for; used by --dry-run outside torchrun")
    mixed_precision: Literal["auto", "bf16", "fp32"] = Field(default="auto", description="auto = bf16 on GPU")
    activation_checkpointing: bool = False
    compile: bool = False
    reshard_after_forward: bool = True
    backend: Literal["auto", "gloo", "nccl"] = "auto"


class LossConfig(_Strict):
    chunk_tokens: int = Field(default=2048, gt=0, description="rows of logits materialised at once in CE")
    chunked: Literal["auto", "on", "off"] = Field(default="auto", description="auto = on for GPU")

    @field_validator("chunked", mode="before")
    @classmethod
    def _yaml_booleans(cls, value: Any) -> Any:
        # YAML 1.1 reads an unquoted `on` / `off` as a boolean: take it as the word the user wrote.
        return {True: "on", False: "off"}.get(value, value) if isinstance(value, bool) else value


class CheckpointConfig(_Strict):
    dir: str | None = Field(default=None, description="defaults to <output_dir>/checkpoints")
    every: int = Field(default=500, ge=0, description="steps between checkpoints; 0 = only the last")
    keep: int = Field(default=3, ge=1)
    resume: Literal["auto", "never"] | str = Field(default="auto", description="auto = latest in dir; or a path")


class LoggingConfig(_Strict):
    every: int = Field(default=1, gt=0)
    jsonl: str | None = Field(default=None, description="defaults to <output_dir>/metrics.jsonl")
    progress: bool = True
    tensorboard: bool = False
    wandb_project: str | None = None
    peak_flops: float | None = Field(default=None, gt=0, description="per-device peak FLOP/s for MFU")


class ExportConfig(_Strict):
    dir: str | None = Field(default=None, description="defaults to <output_dir>/final")
    enabled: bool = True
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = Field(
        default="auto", description="auto = the base model's declared dtype")


class ValidationConfig(_Strict):
    """A held-out split of the training samples, its loss computed every `every` steps (and at the last step)."""

    every: int = Field(default=0, ge=0, description="steps between validation losses; 0 = no validation")
    fraction: float = Field(default=0.01, gt=0, lt=1, description="share of the samples held out")
    max_samples: int | None = Field(default=1000, gt=0, description="cap on the held-out samples")


class TrainConfig(_Strict):
    model: ModelConfig
    data: DataConfig = Field(default_factory=DataConfig)
    output_dir: str = "runs/train"
    seed: int = 0
    global_batch_size: int = Field(default=384, gt=0, description="rows of seq_len tokens per optimizer step")
    micro_batch_size: int = Field(default=1, gt=0, description="rows per forward pass per data-parallel rank")
    optim: OptimConfig = Field(default_factory=OptimConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    parallel: ParallelConfig = Field(default_factory=ParallelConfig)
    loss: LossConfig = Field(default_factory=LossConfig)
    checkpoint: CheckpointConfig = Field(default_factory=CheckpointConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    export: ExportConfig = Field(default_factory=ExportConfig)
    validation: ValidationConfig = Field(default_factory=ValidationConfig)

    @model_validator(mode="after")
    def _schedule_fits(self) -> TrainConfig:
        if self.schedule.warmup_steps > self.schedule.steps:
            raise ValueError(
                f"schedule.warmup_steps ({self.schedule.warmup_steps}) exceeds schedule.steps ({self.schedule.steps})")
        return self

    def grad_accum_steps(self, dp_size: int) -> int:
        """Micro-batches per rank per step; the global batch must split evenly over ranks and micro-batches."""
        rows_per_pass = self.micro_batch_size * dp_size
        if self.global_batch_size % rows_per_pass:
            raise ConfigError(
                f"train.global_batch_size: {self.global_batch_size} is not a multiple of micro_batch_size "
                f"({self.micro_batch_size}) x data-parallel ranks ({dp_size}); allowed: multiples of {rows_per_pass}")
        return self.global_batch_size // rows_per_pass

    def resolved(self, name: str) -> Path:
        """Output paths with their defaults under `output_dir`."""
        out = Path(self.output_dir)
        defaults = {"checkpoint": out / "checkpoints", "jsonl": out / "metrics.jsonl", "export": out / "final"}
        given = {"checkpoint": self.checkpoint.dir, "jsonl": self.logging.jsonl, "export": self.export.dir}[name]
        return Path(given) if given else defaults[name]


# What a trace that finished within the length-control budget trains besides its own close and end token
# (`hermes4.train.length_control_data` says why).
LengthControlAnchor = Literal["close", "lines", "trace"]


class LengthControlConfig(_Strict):
    """The length-control SFT stage: generate, cut at the budget, train only on `</think>` + end of turn."""

    prompts: str = Field(description="JSONL of conversations (the user turns) to generate reasoning traces for")
    llm: str | None = Field(default=None, description="hermes4.llm.connect spec; defaults to the checkpoint folder")
    control_budget: int = Field(default=30000, gt=0, description="tokens of reasoning before </think> is forced")
    generation_budget: int = Field(default=40960, gt=0, description="max tokens generated per trace: the "
                                   "reasoning, then the answer after a forced </think> in what is left")
    cut_at: Literal["budget", "line"] = Field(
        default="budget", description="where a trace that hit the control budget is cut: exactly at the budget (the "
        "paper), or at its last line break before it, so `</think>` follows a finished step instead of taking the "
        "place of the next token (for a tiny model, often a digit, whose prediction the training would push down)")
    temperature: float = Field(default=0.6, ge=0)
    top_p: float = Field(default=0.95, gt=0, le=1)
    samples_per_prompt: int = Field(default=1, gt=0)
    concurrency: int = Field(default=16, gt=0)
    keep_natural: bool = Field(default=False, description="also train (on the same two tokens) the traces that "
                               "closed </think> by themselves within the budget, at their own position")
    anchor: LengthControlAnchor = Field(
        default="close", description="what a trace kept with keep_natural trains besides its own close and end "
        "token: nothing (close), the token it wrote after each line break of its reasoning (lines), or every token "
        "it wrote (trace). The cut traces teach closing when a trace is long; the anchors keep the short ones as "
        "the model wrote them (a small model otherwise closes them early too, or drifts on what it just learned)")
    verify_natural: bool = Field(default=False, description="with keep_natural: keep only the traces that closed by "
                                 "themselves whose answer the verifier of their prompt's env accepts (prompts written "
                                 "by a recipe's data stage name their env and item; those of a prompt that does not "
                                 "are kept unchecked); a wrong one would train the model on its own mistake")
    traces_out: str | None = Field(default=None, description="JSONL of generated traces; defaults under output_dir")
    train: TrainConfig = Field(description="the SFT run over the cut traces (model = the previous checkpoint)")
    seed: int = 0

    @model_validator(mode="after")
    def _consistent(self) -> LengthControlConfig:
        if self.verify_natural and not self.keep_natural:
            raise ValueError("verify_natural checks the traces that closed by themselves: set keep_natural too")
        if self.anchor != "close" and not self.keep_natural:
            raise ValueError(f"anchor: {self.anchor} trains the traces that closed by themselves: set keep_natural too")
        if self.control_budget >= self.generation_budget:
            relation = "exceeds" if self.control_budget > self.generation_budget else "equals"
            raise ValueError(f"control_budget ({self.control_budget}) {relation} generation_budget "
                             f"({self.generation_budget}); the rest is the answer's budget after the forced </think>")
        return self


def _format_error(section: str, exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        where = ".".join(str(p) for p in (section, *err["loc"]))
        message = err["msg"].removeprefix("Value error, ")
        ctx = err.get("ctx") or {}
        if err["type"] == "literal_error" and "expected" in ctx:
            message = f"must be one of {ctx['expected']}"
        elif err["type"] == "extra_forbidden":
            message = "unknown field"
        got = err.get("input")
        if err["type"] not in ("missing", "extra_forbidden") and not isinstance(got, dict):
            message += f" (got {got!r})"
        lines.append(f"{where}: {message}")
    return "; ".join(lines)


def _read_yaml(path: str | Path) -> Any:
    from hermes4.store.files import read_text_file
    from hermes4.store.readers import parse_yaml

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: no such file")
    return parse_yaml(read_text_file(p), str(p), ConfigError)


def _section(doc: Any, path: str | Path, key: str) -> dict[str, Any]:
    p = Path(path)
    # Other stages of a recipe live under their own top-level keys; this loader reads only its own.
    if not isinstance(doc, dict) or key not in doc:
        raise ConfigError(f"{p}: no `{key}:` section")
    if not isinstance(doc[key], dict):
        raise ConfigError(f"{p}: `{key}` must be a mapping")
    return doc[key]


def parse_train_config(data: dict[str, Any], *, section: str = "train") -> TrainConfig:
    try:
        return TrainConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_error(section, exc)) from None


def load_train_config(path: str | Path) -> TrainConfig:
    """Read the `train:` section of a recipe YAML; unknown top-level sections belong to other stages."""
    try:
        return parse_train_config(_section(_read_yaml(path), path, "train"))
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}" if not str(exc).startswith(str(path)) else str(exc)) from None


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        merged[key] = _deep_merge(merged[key], value) if isinstance(value, dict) and isinstance(
            merged.get(key), dict) else value
    return merged


def length_control_data(train: dict[str, Any] | None, length_control: dict[str, Any], where: str) -> dict[str, Any]:
    """The `length_control:` mapping with its `train:` laid over the recipe's `train:`; the model defaults to that
    run's export and the output folder to a sibling of it (the stage continues from the previous checkpoint)."""
    data = dict(length_control)
    override = data.get("train") or {}
    if not isinstance(override, dict):
        raise ConfigError(f"{where}: length_control.train: must be a mapping")
    if train is not None:
        merged = _deep_merge(train, override)
        if "path" not in (override.get("model") or {}):
            previous = parse_train_config(train)
            merged.setdefault("model", {})
            merged["model"] = {**merged["model"], "path": str(previous.resolved("export")), "init": "pretrained"}
        if "output_dir" not in override:
            merged["output_dir"] = str(Path(merged.get("output_dir", "runs/train")).with_name(
                Path(merged.get("output_dir", "runs/train")).name + "-length-control"))
        data["train"] = merged
    return data


def load_length_control_config(path: str | Path) -> LengthControlConfig:
    """Read `length_control:` of a recipe YAML (see `length_control_data` for how it continues `train:`)."""
    doc = _read_yaml(path)
    base = doc.get("train") if isinstance(doc.get("train"), dict) else None
    data = length_control_data(base, _section(doc, path, "length_control"), str(path))
    try:
        return LengthControlConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {_format_error('length_control', exc)}") from None
