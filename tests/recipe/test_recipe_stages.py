"""Stages as objects: each has a name, its inputs, its folder and a typed summary that a marker keeps and reads back;
the tool-call check counts calls with `hermes4.parse` (malformed ones as written, not valid)."""

from pathlib import Path

from hermes4.chat.messages import Message
from hermes4.envs import Trajectory, get_env
from hermes4.recipe import STAGES, resolve_recipe
from hermes4.recipe.stages import STAGE_OBJECTS, DataSummary, ToolCallCheck, TrainSummary

RECIPES = Path(__file__).resolve().parents[2] / "recipes"


def test_every_stage_is_an_object_in_run_order_with_inputs_before_it(tmp_path):
    run = resolve_recipe(RECIPES / "tiny.yaml", out=tmp_path / "run")
    assert tuple(STAGE_OBJECTS) == STAGES
    for position, (name, stage) in enumerate(STAGE_OBJECTS.items()):
        assert stage.name == name and all(STAGES.index(i) < position for i in stage.inputs)
        assert run.stage_dir(name) == stage.folder(run)


def test_a_summary_survives_its_marker_and_a_foreign_one_is_refused():
    summary = TrainSummary(steps=3, final_loss=1.5, first_loss=2.0, tokens=10, tokens_exact=True, train_seconds=1.0,
                           tokens_per_s=10.0, export="x", wall_seconds=1.2, processes=2)
    sft = STAGE_OBJECTS["sft"]
    assert sft.read_summary(summary.model_dump(mode="json")) == summary
    assert sft.read_summary({"walks": 3}) is None
    assert STAGE_OBJECTS["data"].read_summary({}) == DataSummary()


def test_tool_call_check_counts_written_and_valid_calls_with_the_parser():
    env = get_env("tool_use:n=2")
    item = env.items("test")[0]
    good = '<tool_call>\n{"name": "python", "arguments": {"code": "print(1)"}}\n</tool_call>'
    bad_schema = '<tool_call>\n{"name": "python", "arguments": {"cod": 1}}\n</tool_call>'
    unreadable = "<tool_call>\nnot a call\n</tool_call>"
    reasoning = f"{good}\n<tool_response>\n1\n</tool_response>\n{bad_schema}\n{unreadable}"
    trajectory = Trajectory(messages=[Message(role="assistant", content="Answer: 1", reasoning_content=reasoning)])
    details = ToolCallCheck(env).verify(item, trajectory).details
    assert details["tool_calls_written"] == 3 and details["tool_calls_valid"] == 1


def test_training_progress_reads_only_what_the_trainer_appended(tmp_path):
    from hermes4.recipe.stages.common import metrics_activity

    metrics = tmp_path / "metrics.jsonl"
    activity = metrics_activity(metrics, total=3, started=0.0)
    assert activity()[:2] == (0, 3)  # no file yet
    metrics.write_text('{"step": 1, "loss": 2.5, "tokens_per_s": 10}\n{"step": 2, "lo')  # a line half written
    assert activity() == (1, 3, "loss 2.500 · 10 tok/s")
    with metrics.open("a") as f:
        f.write('ss": 2.0, "tokens_per_s": 20}\n')
    assert activity() == (2, 3, "loss 2.000 · 20 tok/s")
    metrics.write_text('{"step": 1, "loss": 9.0}\n')  # rewritten shorter (a resumed trainer): read from the start
    assert activity() == (1, 3, "loss 9.000 · 0 tok/s")
