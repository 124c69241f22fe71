"""IFEval: the 25 instruction checkers (strict and loose), a language identifier, and a satisfiable composer."""

from hermes4.envs.ifeval.composer import Composed, compose, conflict, solve
from hermes4.envs.ifeval.instructions import (
    IFEVAL_IDS,
    INSTRUCTIONS,
    INSTRUCTIONS_BY_ID,
    follows,
    loose_variants,
)

__all__ = ["IFEVAL_IDS", "INSTRUCTIONS", "INSTRUCTIONS_BY_ID", "Composed", "compose", "conflict", "follows", "loose_variants", "solve"]
