"""Procedural tasks: generators with step-by-step solvers, their env, and the scripted teacher model."""

from hermes4.envs.procedural.tasks import TASKS, Solution, Task, answers_match, extract_answer, recognise

__all__ = ["TASKS", "Solution", "Task", "answers_match", "extract_answer", "recognise"]
