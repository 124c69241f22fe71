"""Procedural tasks: seeded generators with step-by-step solvers, and their env."""

from hermes4.envs.procedural.tasks import (
    TASKS,
    Solution,
    Task,
    answers_match,
    extract_answer,
    recognise,
)

__all__ = ["TASKS", "Solution", "Task", "answers_match", "extract_answer", "recognise"]
