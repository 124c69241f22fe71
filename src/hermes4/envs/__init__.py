"""Verifiable environments: the one abstraction for "a task with a checker" (items, rollout, verdict)."""

from hermes4.envs.answer import final_answer
from hermes4.envs.base import (
    CheckTimeout,
    Env,
    Item,
    Trajectory,
    Verdict,
    trajectory_from_completion,
)
from hermes4.envs.registry import (
    EnvSpecError,
    env_class,
    env_names,
    env_options,
    get_env,
    parse_spec,
    register_env,
)

__all__ = [
    "CheckTimeout",
    "Env",
    "EnvSpecError",
    "Item",
    "Trajectory",
    "Verdict",
    "env_class",
    "env_names",
    "env_options",
    "final_answer",
    "get_env",
    "parse_spec",
    "register_env",
    "trajectory_from_completion",
]
