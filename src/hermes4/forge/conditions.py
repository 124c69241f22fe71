"""PDDL-like facts over a walk's state: preconditions a node needs and postconditions it establishes.

A state is a dict of facts (`passage` -> text, `kind` -> "news", ...). A condition is written as a small
string so graphs can be declared in YAML:

    passage                      the fact is present
    !answer                      the fact is absent
    kind=news                    the fact equals a value
    instruction_type in {qa, summary, debate}

Postconditions use the same language to say what is guaranteed after a node runs: `kind in {debate,
interview}` means "afterwards `kind` holds one of these"; `!instruction` means "no instruction yet". The
world is open: a fact a node's postconditions do not mention is unknown, not absent, so a node that
hands over to a stage guarded by `!x` must declare `!x` itself. That keeps edges from pointing back
upstream. Edges between nodes are derived from these declarations (`entails`), and the same
conditions are checked against the real state at walk time (`holds`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

_IN = re.compile(r"^\s*([A-Za-z_][\w.]*)\s+in\s+\{(.*)\}\s*$")
_EQ = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*=\s*(.+?)\s*$")
_HAS = re.compile(r"^\s*(!?)\s*([A-Za-z_][\w.]*)\s*$")


class ConditionError(ValueError):
    """A condition string that cannot be read."""


@dataclass(frozen=True)
class Condition:
    key: str
    op: Literal["present", "absent", "in"]
    values: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, text: str) -> Condition:
        if m := _IN.match(text):
            values = frozenset(v.strip() for v in m.group(2).split(",") if v.strip())
            if not values:
                raise ConditionError(f"{text!r}: an `in` condition needs at least one value")
            return cls(m.group(1), "in", values)
        if m := _EQ.match(text):
            return cls(m.group(1), "in", frozenset({m.group(2)}))
        if m := _HAS.match(text):
            return cls(m.group(2), "absent" if m.group(1) else "present")
        raise ConditionError(f"{text!r}: expected `key`, `!key`, `key=value` or `key in {{a, b}}`")

    def holds(self, state: dict[str, Any]) -> bool:
        """Is this condition true of a concrete state?"""
        if self.op == "absent":
            return state.get(self.key) is None
        value = state.get(self.key)
        if value is None:
            return False
        return self.op == "present" or str(value) in self.values

    def __str__(self) -> str:
        if self.op == "present":
            return self.key
        if self.op == "absent":
            return f"!{self.key}"
        if len(self.values) == 1:
            return f"{self.key}={next(iter(self.values))}"
        return f"{self.key} in {{{', '.join(sorted(self.values))}}}"


def parse_conditions(items: list[str] | tuple[str, ...] | None) -> tuple[Condition, ...]:
    return tuple(Condition.parse(text) for text in (items or ()))


def entails(post: tuple[Condition, ...], pre: Condition) -> bool:
    """Do the declared postconditions guarantee `pre` could hold? (static edge rule)

    `kind in {debate, interview}` after a node satisfies `kind=debate` before the next one: some walks
    through the first node reach the second, and the walk checks the real value at run time.
    """
    declared = [c for c in post if c.key == pre.key]
    if not declared:  # open world: unknown facts satisfy nothing
        return False
    if pre.op == "absent":
        return all(c.op == "absent" for c in declared)
    if any(c.op == "absent" for c in declared):
        return False
    if pre.op == "present":
        return True
    constrained = [c for c in declared if c.op == "in"]
    if not constrained:  # the value is unconstrained: any required value may occur
        return True
    possible = frozenset.intersection(*(c.values for c in constrained))
    return bool(possible & pre.values)


def satisfied_by(post: tuple[Condition, ...], pre: tuple[Condition, ...]) -> bool:
    return all(entails(post, c) for c in pre)
