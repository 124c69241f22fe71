"""Every command's `--help` renders (rich reads help text as markup, so a stray `[...]` in it used to crash)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from hermes4.cli import app

COMMANDS = [c.name or c.callback.__name__ for c in app.registered_commands]


@pytest.mark.parametrize("command", COMMANDS)
def test_help_renders(command: str) -> None:
    result = CliRunner().invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output
