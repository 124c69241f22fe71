"""The scripted teacher: a deterministic model function that solves the envs' generated tasks, with planted mistakes
at a configured rate (demos, tests, benchmarks). It imports envs; envs never import it."""

from hermes4.teacher.context import TeacherContext, read_turns, split_rendered_prompt
from hermes4.teacher.model import DEFAULT_ERROR_RATE, make_teacher, perfect_teacher, teacher

__all__ = ["DEFAULT_ERROR_RATE", "TeacherContext", "make_teacher", "perfect_teacher", "read_turns", "split_rendered_prompt", "teacher"]
