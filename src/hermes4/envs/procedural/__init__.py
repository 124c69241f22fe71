"""Procedural tasks: generators with step-by-step solvers, their env, and the scripted teacher model."""

from hermes4.envs.procedural.tasks import (
    TASKS,
    Solution,
    Task,
    answers_match,
    extract_answer,
    recognise,
)
from hermes4.envs.procedural.teacher_model import (
    make_teacher,
    perfect_teacher,
    split_rendered_prompt,
    teacher,
)

__all__ = [
    "TASKS",
    "Solution",
    "Task",
    "answers_match",
    "extract_answer",
    "make_teacher",
    "perfect_teacher",
    "recognise",
    "split_rendered_prompt",
    "teacher",
]
