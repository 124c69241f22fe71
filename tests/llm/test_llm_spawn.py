"""`hermes4 serve` started by `llm.spawn`: the port is chosen by the caller and readiness is the server answering,
not a line of its output; a server that cannot start is one error carrying its last output."""

from __future__ import annotations

import httpx
import pytest

from hermes4.llm.spawn import ServerError, serve, serve_command

pytestmark = pytest.mark.slow


def test_a_served_teacher_answers_on_the_passed_port(tmp_path):
    log = tmp_path / "serve.log"
    with serve(serve_command(scripted="hermes4.teacher:teacher", name="teacher"), log=log) as served:
        port = served.command[served.command.index("--port") + 1]
        assert served.url == f"http://127.0.0.1:{port}/v1"
        models = httpx.get(f"{served.url}/models", trust_env=False).json()
        assert [m["id"] for m in models["data"]] == ["teacher"]
    assert log.read_text()  # the server's output went to the log


def test_a_server_that_cannot_start_is_one_error_with_its_output():
    with pytest.raises(ServerError, match="exited with code") as caught:
        with serve(serve_command(scripted="no_such_module:nothing"), startup_timeout=60):
            pass
    assert "no_such_module" in str(caught.value)
