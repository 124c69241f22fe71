"""Every `hermes4` command and sub-command answers `--help` (rich renders its help text; markup in it must not crash)."""

from __future__ import annotations

from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from hermes4.cli import app


def _command_paths() -> list[list[str]]:
    root = typer.main.get_command(app)
    paths: list[list[str]] = [[]]
    stack: list[tuple[list[str], Any]] = [([], root)]
    while stack:
        path, command = stack.pop()
        for name, sub in getattr(command, "commands", {}).items():  # a group (typer vendors its own click)
            paths.append([*path, name])
            stack.append(([*path, name], sub))
    return sorted(paths)


@pytest.mark.parametrize("path", _command_paths(), ids=lambda p: " ".join(p) or "hermes4")
def test_help_works(path: list[str]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0, f"hermes4 {' '.join(path)} --help failed: {result.output}\n{result.exception!r}"
    assert "Usage" in result.output
