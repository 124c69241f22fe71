"""`hermes4 parse` and `hermes4 render` on a file that is not UTF-8: one line naming the file and byte offset, exit 2."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("command", ["parse", "render"])
def test_non_utf8_input_is_one_line_with_the_offset(tmp_path, command: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(b'{"messages": [{"role": "user", "content": "caf\xe9"}]}')
    run = subprocess.run([sys.executable, "-m", "hermes4", command, str(path)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    # one message for every command (hermes4.store.decode_utf8): positions count from 1, like lines
    assert run.stderr.strip() == f"hermes4: {path}: not UTF-8 text at byte 47 (line 1): 0xe9 invalid continuation byte"
    assert "Traceback" not in run.stderr
