"""Evaluation: benchmarks as envs over one model, generation and scoring overlapped, repeats, metrics with
bootstrap CIs, judge-graded tasks, per-sample logs, resumable runs, and Markdown/HTML reports with plots.

    run = await run_eval("math500,gpqa_diamond,ifeval", "http://localhost:8000/v1", "runs/base", thinking="both")
    paths = write_report(["runs/base", "runs/tuned"], "report.md")
"""

from hermes4.eval.judge import JudgeConfig
from hermes4.eval.records import read_samples, stable_view
from hermes4.eval.report import ReportPaths, write_report
from hermes4.eval.runner import (
    EvalConfig,
    EvalRun,
    EvalRunner,
    compute_metrics,
    run_eval,
)
from hermes4.eval.tasks import (
    BENCHMARKS,
    Task,
    TaskError,
    load_task,
    split_task_list,
    task_names,
)

__all__ = [
    "BENCHMARKS",
    "EvalConfig",
    "EvalRun",
    "EvalRunner",
    "JudgeConfig",
    "ReportPaths",
    "Task",
    "TaskError",
    "compute_metrics",
    "load_task",
    "read_samples",
    "run_eval",
    "split_task_list",
    "stable_view",
    "task_names",
    "write_report",
]
