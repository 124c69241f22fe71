"""`hermes4 run --dry-run`: the plan of a recipe without running it: stages, sample and token counts, training
steps and tokens, and the GPU-hours (or CPU time) they imply, every figure labelled measured, reported or assumed.

Throughput figures (tokens per second per device, for training):

- measured: our trainer on this project's CI machine (2 CPU cores) on the tiny demo model, recorded with its
  command in `benchmarks/RESULTS.md` (section "demo"); scaled by FLOPs per token for other tiny shapes;
- reported: the Hermes 4 technical report's training table (seed 003: 56B tokens in 4,454 / 12,864 / 71,616
  B200 GPU-hours for 14B / 70B / 405B), not measured by hermes4;
- assumed: a model FLOPs utilisation on the target GPU's dense bf16 peak, for shapes the report does not cover,
  calibrated to the report: the MFU its own table implies for the reported model nearest in size (13.8% for the
  14B, 23.2% for the 70B, 23.8% for the 405B with our FLOPs count and ~3,800-token documents).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hermes4.recipe.config import RecipeError
from hermes4.recipe.resolve import ResolvedRecipe

# Measured: `make demo` (recipes/tiny.yaml) SFT stage on 2 CPU cores, 2 torchrun processes of one thread each (seq
# 512, torch.compile, head_dim 32): the mean of 5 seeds' medians, 22,876-23,901 tokens/s; see benchmarks/RESULTS.md
# ## bench_fidelity.
DEMO_CPU_TOKENS_PER_S = 23_340.0
DEMO_CPU_LINEAR_PARAMS = 377_792  # the demo model's matmul parameters (hermes4.train.metrics.ModelShape.linear_params)
# Reported: Hermes 4 technical report training table (seed 003): tokens processed / (B200 GPU-hours x 3600).
REPORTED_B200 = {"qwen3-14b": 56e9 / (4_454 * 3600), "llama3.1-70b": 56e9 / (12_864 * 3600),
                 "llama3.1-405b": 56e9 / (71_616 * 3600)}
# Assumed: MFU on a B200's dense bf16 peak for shapes without a reported figure, taken from the reported figure of
# the nearest size (`implied_mfu`); mean document length of the Hermes 4 mixture (seed 003: ~19B tokens over ~5M
# samples) for the attention FLOPs.
B200_PEAK_BF16 = 2.25e15
ASSUMED_DOC_TOKENS = 3_800


@dataclass
class Throughput:
    tokens_per_s: float  # per device
    device: str
    source: str  # measured | reported | assumed
    note: str


@dataclass
class StagePlan:
    stage: str
    what: str
    counts: list[str] = field(default_factory=list)
    compute: str = ""


@dataclass
class Plan:
    recipe: str
    out: Path
    stages: list[StagePlan]
    throughput: list[Throughput]
    notes: list[str] = field(default_factory=list)
    seed: int | None = None  # the recipe's one seed (None: the seed fields as written)
    seeds: dict[str, int | str] = field(default_factory=dict)  # every seed field of the run, by where it lives

    def to_json(self) -> dict[str, Any]:
        return {"recipe": self.recipe, "out": str(self.out), "seed": self.seed, "seeds": self.seeds,
                "stages": [s.__dict__ for s in self.stages], "throughput": [t.__dict__ for t in self.throughput],
                "notes": self.notes}


def _shape(run: ResolvedRecipe):
    """The base model's shape: its config.json, the named architecture, or (tiny recipes) a tiny model made now."""
    from hermes4.train.metrics import ModelShape
    from hermes4.train.trainer import hf_config

    tiny = run.recipe.model.tiny
    if tiny is not None and not (Path(run.train.model.path) / "config.json").is_file():
        from transformers import AutoConfig

        from hermes4.train.tiny import TinySize, init_tiny

        with tempfile.TemporaryDirectory(prefix="hermes4-plan-") as tmp:
            init_tiny(tmp, format=run.train.model.format, size=TinySize(**tiny.size), vocab_size=tiny.vocab_size, seed=tiny.seed)
            return ModelShape.from_hf_config(AutoConfig.from_pretrained(tmp))
    return ModelShape.from_hf_config(hf_config(run.train))


def implied_mfu(arch: str, seq_len: int = 16_384) -> float:
    """The MFU the report's own table implies for `arch` (a key of REPORTED_B200) on a B200."""
    from transformers import AutoConfig

    from hermes4.train.config import ARCHITECTURES
    from hermes4.train.metrics import ModelShape, training_flops

    fields = dict(ARCHITECTURES[arch])
    shape = ModelShape.from_hf_config(AutoConfig.for_model(fields.pop("model_type"), **fields))
    doc = min(ASSUMED_DOC_TOKENS, seq_len)
    flops_per_token = training_flops(shape, seq_len, (seq_len / doc) * doc * doc) / seq_len
    return REPORTED_B200[arch] * flops_per_token / B200_PEAK_BF16


def assumed_mfu(params: int) -> tuple[float, str]:
    """(MFU, the reported model it comes from): the reported model nearest in log parameter count."""
    import math

    from hermes4.train.config import ARCHITECTURES

    def size(arch: str) -> float:
        fields = ARCHITECTURES[arch]
        return fields["num_hidden_layers"] * fields["hidden_size"] ** 2  # enough to order sizes

    target = params / 12  # ~12 h^2 parameters per layer
    nearest = min(REPORTED_B200, key=lambda arch: abs(math.log(size(arch)) - math.log(max(target, 1.0))))
    return implied_mfu(nearest), nearest


def throughputs(run: ResolvedRecipe, shape) -> list[Throughput]:
    from hermes4.train.metrics import training_flops

    seq = run.train.data.seq_len
    doc = min(ASSUMED_DOC_TOKENS, seq)
    flops_per_token = training_flops(shape, seq, (seq / doc) * doc * doc) / seq
    out = []
    if run.recipe.model.tiny is not None:
        demo_flops = 6.0 * DEMO_CPU_LINEAR_PARAMS
        scale = demo_flops / (6.0 * shape.linear_params)
        same = shape.linear_params == DEMO_CPU_LINEAR_PARAMS
        out.append(Throughput(DEMO_CPU_TOKENS_PER_S * scale, "2 CPU cores", "measured" if same else "measured, scaled",
                              "make demo, SFT stage (benchmarks/RESULTS.md ## demo)" + ("" if same else
                              f"; scaled by matmul FLOPs per token ({shape.linear_params:,} vs {DEMO_CPU_LINEAR_PARAMS:,} parameters)")))
        return out
    arch = run.train.model.architecture
    if arch in REPORTED_B200:
        out.append(Throughput(REPORTED_B200[arch], "B200", "reported",
                              "Hermes 4 technical report training table (seed 003), not measured by hermes4"))
    mfu, nearest = assumed_mfu(shape.params)
    out.append(Throughput(mfu * B200_PEAK_BF16 / flops_per_token, "B200", "assumed",
                          f"{mfu:.1%} MFU (what the report's table implies for {nearest}) on "
                          f"{B200_PEAK_BF16 / 1e15:.2f} PFLOP/s dense bf16; "
                          f"{flops_per_token / 1e9:.1f} GFLOP per token with {doc:,}-token documents"))
    return out


def _hours(tokens: float, t: Throughput) -> str:
    seconds = tokens / t.tokens_per_s
    if t.device.startswith("2 CPU"):
        return f"{seconds:,.0f} s on {t.device} ({t.source})"
    return f"{seconds / 3600:,.0f} {t.device} GPU-hours ({t.source})"


def _items(spec: str, split: str, seed: int) -> int | None:
    """How many items an env spec yields: its `n` option when it has one (generating 300,000 items to count
    them would make a plan slow), else the items of its dataset when that file is here, else unknown."""
    from hermes4.envs import EnvSpecError, env_class, env_options, get_env, parse_spec
    from hermes4.envs.registry import check_spec

    try:  # a spec that can never work is an error of the plan (a dataset that is not here is only unknown)
        check_spec(spec)
    except EnvSpecError as exc:
        raise RecipeError(f"{spec}: {exc}") from None
    try:
        name, options = parse_spec(spec)
        if "n" in options:
            return int(options["n"])
        default_n = env_options(env_class(name)).get("n")
        if default_n is not None:
            return int(default_n[1])
        return len(get_env(spec).items(split, seed))
    except Exception:  # noqa: BLE001 (a dataset that lives elsewhere: the count is unknown here, not an error)
        return None


def _benchmark_items(spec: str) -> int | None:
    """Items of a `hermes4.eval` benchmark when its data is here (a local file or the shipped sample), else unknown."""
    from hermes4.eval import load_task

    if "hf:" in spec:
        return None
    try:
        return len(load_task(spec).items)
    except Exception:  # noqa: BLE001 (the benchmark file is not on this machine: unknown, not an error)
        return None


def _count(n: int | None) -> str:
    return f"{n:,}" if n is not None else "?"


def launch_line(launch, planned: int | None) -> str:
    """What the stage launches, and whether the memory plan (sized for `planned` GPUs) is for the same world."""
    line = f"launch: {launch.describe()}"
    if planned and planned != launch.world_size:
        line += (f"; NOTE the plan is sized for {planned} GPUs (parallel.planned_world_size) but this launches "
                 f"{launch.world_size}: set launch.nnodes / nproc_per_node to match, or the per-GPU memory differs")
    return line


def plan_recipe(run: ResolvedRecipe) -> Plan:
    recipe = run.recipe
    shape = _shape(run)
    rates = throughputs(run, shape)
    stages: list[StagePlan] = []
    missing: list[str] = []  # inputs not on this machine: warned about, not refused (a plan may be made elsewhere)
    order = recipe.stages()
    train = run.train

    def train_plan(stage: str, cfg, what: str) -> StagePlan:
        rows = cfg.global_batch_size
        tokens = cfg.schedule.steps * rows * cfg.data.seq_len
        plan = StagePlan(stage, what, [
            f"{cfg.schedule.steps:,} steps x {rows} rows x {cfg.data.seq_len:,} tokens = {tokens / 1e9:,.3f}B tokens processed"
            if tokens >= 1e8 else f"{cfg.schedule.steps:,} steps x {rows} rows x {cfg.data.seq_len:,} tokens = {tokens:,} tokens processed",
            f"lr {cfg.optim.lr:g}, warmup {cfg.schedule.warmup_steps}, {cfg.schedule.decay}",
            launch_line(recipe.launch.torchrun(), cfg.parallel.planned_world_size)])
        plan.compute = "; ".join(_hours(tokens, t) for t in rates)
        return plan

    for stage in order:
        if stage == "model":
            tiny = recipe.model.tiny
            assert tiny is not None
            stages.append(StagePlan(stage, f"make a tiny {train.model.format} model at {train.model.path}",
                                    [f"{shape.params:,} parameters ({shape.layers} layers x {shape.hidden} hidden, vocab {shape.vocab:,})"],
                                    "seconds"))
        elif stage == "data":
            counts = []
            for run_ in recipe.data.forge:
                if run_.seeds and not Path(run_.seeds).exists():  # a plan may be made away from the data: warn
                    missing.append(f"data.forge {run_.name}: seeds {run_.seeds}: no such file or folder here; the data "
                                   "stage fails unless it exists where the recipe runs")
                n = run_.walks if run_.walks is not None else None
                counts.append(f"forge {run_.name}: {_count(n) if n else 'one walk per seed passage of ' + str(run_.seeds)} walks "
                              f"of graph {run_.graph if isinstance(run_.graph, str) else run_.graph.get('name', 'inline')}")
            for run_ in recipe.data.sample:
                known, unknown = 0, []
                for spec in run_.envs:
                    n = _items(spec, run_.split, run_.seed)
                    if n is None:
                        unknown.append(spec)
                    else:
                        known += min(n, run_.limit) if run_.limit else n
                more = f" + the items of {', '.join(unknown)} (datasets not here)" if unknown else ""
                counts.append(f"sample {run_.name}: {known:,} items{more}, thinking {'on' if run_.thinking else 'off'}; "
                              f"keep <= {run_.keep} of <= {run_.group_size} samples per item (<= {known * run_.keep:,} kept"
                              f"{' + more' if unknown else ''}), each <= {run_.max_tokens:,} tokens")
            for p in recipe.data.prompts:
                n = _items(p.env, p.split, p.seed)
                counts.append(f"prompts {p.name}: {_count(min(n, p.limit) if n is not None and p.limit else n)} from {p.env}")
            stages.append(StagePlan(stage, f"make data into {run.stage_dir('data')}", counts,
                                    "model endpoints: " + ", ".join(f"{k} ({_served(e)})" for k, e in recipe.endpoints.items())))
        elif stage == "sft":
            stages.append(train_plan(stage, train, f"SFT of {train.model.path} -> {train.resolved('export')}"))
        elif stage == "length-control":
            lc = run.length_control
            assert lc is not None
            plan = train_plan(stage, lc.train, f"length control: cut at {lc.control_budget:,} reasoning tokens, generate up to "
                                               f"{lc.generation_budget:,}")
            plan.counts.insert(0, f"traces: prompts of {lc.prompts} x {lc.samples_per_prompt}, each <= {lc.generation_budget:,} tokens, "
                                  f"generated by {recipe.engine.describe()}")
            stages.append(plan)
        elif stage.startswith("eval-"):
            section = recipe.eval
            assert section is not None
            samples, unknown, counts = 0, [], []
            for task in section.tasks:
                n = _items(task.env, task.split, task.seed) if task.env else _benchmark_items(task.benchmark or "")
                if n is not None and section.limit:
                    n = min(n, section.limit)
                modes = 2 if task.thinking == "both" else 1
                if n is None:
                    unknown.append(task.name)
                    continue
                counts.append(f"{task.name}: {n:,} items x {modes} mode(s) x {section.repeats} repeat(s)")
                samples += n * modes * section.repeats
            if unknown:
                counts.append(f"{', '.join(unknown)}: item counts unknown until their data files are here")
            which = stage.removeprefix("eval-")
            total = f"{samples:,}{'+' if unknown else ''} samples" if samples or not unknown else "samples: see counts"
            stages.append(StagePlan(stage, f"evaluate {which} ({run.model_dir(which)}) served by {recipe.engine.describe()}", counts,
                                    f"{total}, each <= {section.max_tokens:,} tokens"))
        elif stage == "report":
            stages.append(StagePlan(stage, f"report (Markdown + PNG) into {run.stage_dir('report')}"))
    notes = [f"WARNING {m}" for m in missing]
    notes += ["GPU-hours cover training only; generation (data, length-control traces, eval) depends on the "
             "endpoints' throughput, which hermes4 does not assume."] if recipe.model.tiny is None else []
    from hermes4.recipe.seeding import seed_fields

    return Plan(recipe.name, run.out, stages, rates, notes, seed=recipe.seed,
                seeds=seed_fields(recipe.model_dump(mode="json")))


def _served(endpoint) -> str:
    if endpoint.serve is None:
        return endpoint.url
    return "served by vLLM" if endpoint.serve.engine == "vllm" else "served"


def print_plan(plan: Plan, console) -> None:
    from rich.table import Table

    table = Table(title=f"plan: {plan.recipe} -> {plan.out}", title_justify="left", show_lines=True)
    table.add_column("stage")
    table.add_column("what")
    table.add_column("counts")
    table.add_column("compute")
    for s in plan.stages:
        table.add_row(s.stage, s.what, "\n".join(s.counts), s.compute)
    console.print(table)
    rates = Table(title="training throughput behind the compute column (tokens/s per device)", title_justify="left")
    for column in ("tokens/s", "device", "source", "where from"):
        rates.add_column(column)
    for t in plan.throughput:
        rates.add_row(f"{t.tokens_per_s:,.0f}", t.device, t.source, t.note)
    console.print(rates)
    origin = f"derived from seed {plan.seed}" if plan.seed is not None else "as written (no recipe seed)"
    console.print(f"seeds, {origin}: " + ", ".join(f"{k}={v}" for k, v in plan.seeds.items()), highlight=False, markup=False)
    for note in plan.notes:
        console.print(note, highlight=False)
