"""The recipe file: typed sections for every stage (model, endpoints, data, train, length control, eval), loaded
from YAML with errors that name the field (`data.sample[1].keep: ...`).

`train:` and `length_control:` are the trainer's own config models (`hermes4.train.config.TrainConfig` and
`LengthControlConfig`, the latter continuing `train:` as `hermes4 length-control RECIPE.yaml` does), so a recipe and
`hermes4 train RECIPE.yaml` agree; the trainer receives them by value (their JSON), never a YAML to parse again.

Paths: a run writes under one output folder (`--out`, default the recipe's `out:`). Relative paths anywhere in
the recipe that start with the recipe's `out:` folder name a stage's output and move with `--out`; other
relative paths are relative to the working directory, as for every other hermes4 command.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from hermes4.llm.vllm_engine import VllmSettings
from hermes4.recipe.engine import EngineSection
from hermes4.sample.config import SampleConfig
from hermes4.train.config import ConfigError, LengthControlConfig, TrainConfig, length_control_data

STAGES = ("data", "model", "eval-base", "sft", "eval-sft", "length-control", "eval-length-control", "report")
"""Every stage in run order; a recipe runs the ones its sections ask for."""


class RecipeError(ValueError):
    """A recipe that cannot be used; the message names the file and the field."""


class _Strict(BaseModel):
    # A misspelt key is an error, never silently ignored.
    model_config = ConfigDict(extra="forbid")


# ------------------------------------------------------------------------------------------------- model


class TinyModel(_Strict):
    """Make the base model with `hermes4.train.tiny.init_tiny` (a random-init Qwen3 and a locally trained
    tokenizer) at `train.model.path`, in the format `train.model.format`."""

    size: dict[str, int | bool] = Field(default_factory=dict, description="hermes4.train.tiny.TinySize fields")
    vocab_size: int = Field(default=2048, ge=300)
    seed: int = 0
    tokenizer_from_data: bool = Field(
        default=False,
        description="train the tokenizer on the shipped corpus plus the rendered SFT conversations (train.data.mix), "
                    "so the model's own domain gets whole-word tokens; the model is then made after the data stage")

    @field_validator("size")
    @classmethod
    def _known_size_fields(cls, value: dict[str, int | bool]) -> dict[str, int | bool]:
        from dataclasses import fields

        from hermes4.train.tiny import TinySize

        known = {f.name for f in fields(TinySize)}
        unknown = sorted(set(value) - known)
        if unknown:
            raise ValueError(f"unknown field {unknown[0]!r}; allowed: {', '.join(sorted(known))}")
        return value


class ModelSection(_Strict):
    tiny: TinyModel | None = Field(default=None, description="make a tiny base model (else train.model.path is used)")


# --------------------------------------------------------------------------------------------- endpoints


class ServeSpec(_Strict):
    """A model server the run starts itself (`hermes4 serve` in a subprocess) and stops when it is done."""

    scripted: str | None = Field(default=None, description="module:function (ScriptRequest -> str)")
    model: str | None = Field(default=None, description="a Hugging Face model folder")
    env: dict[str, str] = Field(default_factory=dict, description="environment of the server process")
    max_batch: int = Field(default=32, ge=1)
    engine: Literal["transformers", "vllm"] = Field(default="transformers", description="what serves `model`")
    vllm: VllmSettings = Field(default_factory=VllmSettings, description="vLLM's settings when engine is vllm")

    @model_validator(mode="after")
    def _one_source(self) -> ServeSpec:
        if (self.scripted is None) == (self.model is None):
            raise ValueError("give exactly one of scripted or model")
        if self.engine == "vllm" and self.model is None:
            raise ValueError("engine vllm serves a model folder: give model, not scripted")
        return self


class Endpoint(_Strict):
    """A model the data stage talks to over HTTP: an existing endpoint (`url`) or one the run serves."""

    url: str | None = Field(default=None, description="http(s)://host:port/v1, comma-separated for several")
    serve: ServeSpec | None = None
    model: str | None = Field(default=None, description="model id at the endpoint (default: the first served)")
    api_key_env: str | None = Field(default=None, description="environment variable holding the API key")
    max_concurrency: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _one_source(self) -> Endpoint:
        if (self.url is None) == (self.serve is None):
            raise ValueError("give exactly one of url or serve")
        if self.url is not None and not all(u.strip().startswith(("http://", "https://")) for u in self.url.split(",")):
            raise ValueError(f"url: expected http(s)://host:port[/v1], got {self.url!r}")
        return self


# -------------------------------------------------------------------------------------------------- data


class ForgeRun(_Strict):
    """One DataForge run: a walk per seed passage (or `walks` synthetic seeds for graphs that read none)."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="folder name under the data stage")
    graph: str | dict[str, Any] = Field(description="built-in name, a graph YAML file, or the graph inline")
    llm: str | None = Field(default=None, description="endpoint for the nodes (the walk's `default` model)")
    judge: str | None = Field(default=None, description="endpoint for judge nodes (default: llm)")
    seeds: str | None = Field(default=None, description="seed passages (JSONL/Parquet/datasets/.txt folder)")
    walks: int | None = Field(default=None, ge=1, description="walks to run (default: one per seed passage)")
    seed: int = 0
    concurrency: int = Field(default=64, ge=1)

    @model_validator(mode="after")
    def _has_seeds(self) -> ForgeRun:
        if self.seeds is None and self.walks is None:
            raise ValueError("give seeds (a passage file) or walks (synthetic seeds for graphs that read none)")
        return self


class SampleRun(SampleConfig):
    """One rejection-sampling run (`hermes4.sample.SampleConfig`); `llm` names an endpoint, `out` is set by the run."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="folder name under the data stage")
    out: Path = Path(".")

    def to_config(self, llm: str, out: Path) -> SampleConfig:
        values = self.model_dump(exclude={"name", "out", "llm"})
        return SampleConfig(**values, llm=llm, out=out)


class PromptSet(_Strict):
    """Prompts (user turns, no answers) drawn from an env's items, for stages that generate (length control)."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="written as <name>.jsonl in the data stage")
    env: str = Field(description="env spec whose items' prompts are written")
    split: str = "train"
    seed: int = 0
    limit: int | None = Field(default=None, ge=1)
    thinking: bool = True


class DataSection(_Strict):
    forge: list[ForgeRun] = Field(default_factory=list)
    sample: list[SampleRun] = Field(default_factory=list)
    prompts: list[PromptSet] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_names(self) -> DataSection:
        names = [r.name for r in [*self.forge, *self.sample]] + [p.name + ".jsonl" for p in self.prompts]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"run names must be unique; {duplicates[0]!r} is used twice")
        return self


# -------------------------------------------------------------------------------------------------- eval


Headline = Literal["multi_step", "long", "tool_calls", "json_schema", "easy", "none"]


class EvalTask(_Strict):
    """One eval task: held-out items of an env (`env`), or a benchmark of `hermes4.eval` (`benchmark`)."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    env: str | None = Field(default=None, description="env spec; its `split` items are evaluated")
    benchmark: str | None = Field(default=None, description="hermes4.eval task spec, e.g. math500 or gpqa_diamond")
    split: str = "test"
    seed: int = 0
    thinking: Literal["on", "off", "both"] = "both"
    headline: Headline = Field(default="none", description="which line of the report's headline table it feeds")

    @model_validator(mode="after")
    def _one_source(self) -> EvalTask:
        if (self.env is None) == (self.benchmark is None):
            raise ValueError("give exactly one of env or benchmark")
        return self


class EvalSection(_Strict):
    """The eval suite, run on each of `models` (both modes by default), before and after length control."""

    tasks: list[EvalTask] = Field(min_length=1)
    models: list[Literal["base", "sft", "length-control"]] = Field(default_factory=lambda: ["sft", "length-control"])
    max_tokens: int = Field(default=40960, ge=1, description="generation budget of a reasoning-mode sample")
    direct_max_tokens: int | None = Field(default=None, ge=1, description="non-reasoning budget (default: max_tokens)")
    reasoning_budget: int | None = Field(default=None, ge=1, description="reasoning budget in tokens (</think> forced at it); none: no budget")
    budget_mode: Literal["client", "engine"] = Field(default="client", description="client: any engine; engine: vLLM's thinking_token_budget")
    limit: int | None = Field(default=None, ge=1, description="first M items of each task")
    repeats: int = Field(default=1, ge=1)
    temperature: float = Field(default=0.6, ge=0)
    top_p: float = Field(default=0.95, gt=0, le=1)
    top_k: int = Field(default=20, ge=-1)
    seed: int = 0
    concurrency: int = Field(default=64, ge=1)
    judge: str | None = Field(default=None, description="endpoint name of the judge (judge-graded benchmarks)")
    max_batch: int = Field(default=32, ge=1, description="batch of the served model (hermes4 serve --max-batch)")

    @model_validator(mode="after")
    def _unique_names(self) -> EvalSection:
        names = [t.name for t in self.tasks]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"tasks: names must be unique; {duplicates[0]!r} is used twice")
        return self


class Launch(_Strict):
    """How the training stages run: one process, or `torchrun --nproc_per_node N` (gloo on CPU, NCCL on GPU)."""

    nproc_per_node: int = Field(default=1, ge=1)
    threads_per_process: int | None = Field(default=None, ge=1, description="torch threads per process (OMP_NUM_THREADS)")
    # Several nodes (hermes4.train.launch): every node runs `hermes4 run` with the same recipe, its own node_rank.
    nnodes: int = Field(default=1, ge=1, description="nodes of the training stages")
    node_rank: int | None = Field(default=None, ge=0, description="this node (default: assigned by the rendezvous)")
    rdzv_endpoint: str | None = Field(default=None, description="HOST:PORT of the first node (c10d rendezvous)")
    rdzv_id: str = Field(default="hermes4", description="the run's rendezvous id (e.g. the scheduler's job id)")

    def torchrun(self):
        from hermes4.train.launch import TorchrunLaunch

        return TorchrunLaunch(nproc_per_node=self.nproc_per_node, nnodes=self.nnodes, node_rank=self.node_rank,
                              rdzv_endpoint=self.rdzv_endpoint, rdzv_id=self.rdzv_id)


# ------------------------------------------------------------------------------------------------ recipe


class Recipe(_Strict):
    """A whole run. Sections not given are stages not run (a recipe without `length_control:` skips it)."""

    name: str
    description: str = ""
    out: str = Field(description="output folder of a run (hermes4 run --out overrides it)")
    seed: int | None = Field(default=None, ge=0, description="the run's one seed: every seed field below is derived "
                             "from it (hermes4.recipe.seeding; hermes4 run --seed overrides it)")
    model: ModelSection = Field(default_factory=ModelSection)
    endpoints: dict[str, Endpoint] = Field(default_factory=dict)
    data: DataSection = Field(default_factory=DataSection)
    train: TrainConfig
    length_control: LengthControlConfig | None = Field(default=None, description="its train: overrides train:")
    eval: EvalSection | None = None
    launch: Launch = Field(default_factory=Launch)
    engine: EngineSection = Field(default_factory=EngineSection,
                                  description="what serves the checkpoints the eval and length-control stages generate with")

    @model_validator(mode="before")
    @classmethod
    def _length_control_continues_train(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("length_control"), dict) and isinstance(data.get("train"), dict):
            try:
                data = {**data, "length_control": length_control_data(data["train"], data["length_control"], "recipe")}
            except ConfigError:
                pass  # an invalid train: is reported by its own validation, with its field's name
        return data

    @model_validator(mode="after")
    def _engine_budget_needs_vllm(self) -> Recipe:
        if self.eval is not None and self.eval.budget_mode == "engine" and self.engine.use == "transformers":
            raise ValueError("eval.budget_mode: engine is vLLM's thinking_token_budget; it needs engine: vllm (or a vLLM "
                             "endpoint URL); use client with transformers")
        return self

    @model_validator(mode="after")
    def _endpoints_named(self) -> Recipe:
        known = set(self.endpoints)
        uses: list[tuple[str, str | None]] = []
        for i, run in enumerate(self.data.forge):
            uses += [(f"data.forge[{i}].llm", run.llm), (f"data.forge[{i}].judge", run.judge)]
        for i, run in enumerate(self.data.sample):
            uses.append((f"data.sample[{i}].llm", run.llm))
        if self.eval is not None:
            uses.append(("eval.judge", self.eval.judge))
        for where, name in uses:
            if name is not None and name not in known:
                raise ValueError(f"{where}: no endpoint named {name!r}; endpoints: {', '.join(sorted(known)) or 'none'}")
        if self.eval is not None and "length-control" in self.eval.models and self.length_control is None:
            raise ValueError("eval.models: 'length-control' needs a length_control section")
        return self

    # -- what runs -----------------------------------------------------------------------------------------

    def stages(self) -> list[str]:
        """The stages this recipe runs, in order."""
        wanted = {"sft", "report"}
        if self.model.tiny is not None:
            wanted.add("model")
        if self.data.forge or self.data.sample or self.data.prompts:
            wanted.add("data")
        if self.length_control is not None:
            wanted.add("length-control")
        if self.eval is not None:
            wanted |= {f"eval-{m}" for m in self.eval.models}
        return [s for s in STAGES if s in wanted]


def _describe(exc: ValidationError, where: str) -> str:
    lines = []
    for error in exc.errors()[:3]:
        path = where
        for part in error["loc"]:
            if isinstance(part, int):
                path += f"[{part}]"
            elif not str(part).startswith("function-"):
                path += f".{part}" if path else str(part)
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown field"
        elif error["type"] == "literal_error" and (error.get("ctx") or {}).get("expected"):
            message = f"must be one of {error['ctx']['expected']}"
        lines.append(f"{path}: {message}" if path else message)
    return "; ".join(lines)


def parse_recipe(data: Any, *, where: str = "recipe") -> Recipe:
    """Validate a recipe mapping; RecipeError names the field."""
    if not isinstance(data, dict):
        raise RecipeError(f"{where}: a recipe is a mapping of sections (name, out, model, data, train, ...)")
    try:
        return Recipe.model_validate(data)
    except ValidationError as exc:
        raise RecipeError(f"{where}: {_describe(exc, '')}") from None


def read_recipe_file(path: str | Path) -> dict[str, Any]:
    from hermes4.store.files import read_text_file
    from hermes4.store.readers import parse_yaml

    p = Path(path)
    if not p.is_file():
        raise RecipeError(f"{p}: no such recipe file")
    data = parse_yaml(read_text_file(p), str(p), RecipeError)
    if not isinstance(data, dict):
        raise RecipeError(f"{p}: a recipe is a mapping of sections (name, out, model, data, train, ...)")
    return data


def rebase_paths(data: Any, old: str, new: str) -> Any:
    """Every string that is the path `old` or lies under it, moved under `new` (a deep copy)."""
    old_parts = Path(old).parts
    if not old_parts:
        return copy.deepcopy(data)

    def move(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: move(v) for k, v in value.items()}
        if isinstance(value, list):
            return [move(v) for v in value]
        if isinstance(value, str) and value and not value.startswith(("http://", "https://")) and "\n" not in value:
            parts = Path(value).parts
            if parts[: len(old_parts)] == old_parts:
                return str(Path(new, *parts[len(old_parts):]))
        return value

    return move(data)
