"""The layers of DESIGN.md as a contract: `lint-imports` (import-linter, configured in pyproject.toml) passes on the
source tree, and it does fail on a layering the code breaks, so the check can catch a regression."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT / "src"), os.environ.get("PYTHONPATH", "")) if p)}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)


def test_every_layer_imports_only_the_ones_below_it() -> None:
    result = _lint()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def test_a_broken_layering_is_reported(tmp_path: Path) -> None:
    # parse imports chat, so a contract that puts chat above parse must break.
    config = tmp_path / "inverted.ini"
    config.write_text("[importlinter]\nroot_package = hermes4\n\n[importlinter:contract:inverted]\nname = inverted\n"
                      "type = layers\ncontainers = hermes4\nlayers =\n    chat\n    parse\n")
    result = _lint("--config", str(config))
    assert result.returncode != 0 and "BROKEN" in result.stdout and "hermes4.parse" in result.stdout
