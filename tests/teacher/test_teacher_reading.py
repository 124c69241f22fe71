"""The teacher package: it reads rendered prompts through the chat formats, spots thinking mode by the rendered
system turn, and stays out of `envs` (envs never load it)."""

from __future__ import annotations

import subprocess
import sys

from hermes4.chat.messages import Conversation
from hermes4.chat.render import render
from hermes4.llm import Sampling, ScriptRequest
from hermes4.teacher import make_teacher, read_turns


def test_read_turns_in_both_formats_marks_the_open_turn() -> None:
    conversation = Conversation.model_validate({"messages": [{"role": "user", "content": "Compute 1 + 2."}]})
    for fmt in ("chatml", "llama3"):
        text = render(conversation, format=fmt, thinking=True, add_generation_prompt=True).text
        turns = read_turns(text)
        assert [t.role for t in turns] == ["system", "user", "assistant"]
        assert turns[1].body == "Compute 1 + 2." and turns[1].closed and not turns[-1].closed


def test_thinking_is_read_from_the_rendered_system_turn() -> None:
    conversation = Conversation.model_validate({"messages": [{"role": "user", "content": "Compute 12 + 30."}]})
    teacher = make_teacher(error_rate=0.0)
    for fmt in ("chatml", "llama3"):
        for thinking in (True, False):
            prompt = render(conversation, format=fmt, thinking=thinking, add_generation_prompt=True).text
            out = teacher(ScriptRequest(prompt=prompt, sampling=Sampling(), conversation=None))
            assert out.startswith("<think>\n") is thinking and out.endswith("Answer: 42")
    # The deep-thinking text quoted inside a user message is not a request for thinking.
    from hermes4.chat.prompts import DEEP_THINKING_PROMPT

    quoted = Conversation.model_validate({"messages": [{"role": "user", "content": f"{DEEP_THINKING_PROMPT}\nCompute 12 + 30."}]})
    prompt = render(quoted, format="chatml", thinking=False, add_generation_prompt=True).text
    assert not teacher(ScriptRequest(prompt=prompt, sampling=Sampling(), conversation=None)).startswith("<think>")


def test_envs_never_load_the_teacher() -> None:
    code = "import sys, hermes4.envs, hermes4.envs.procedural; print(sorted(m for m in sys.modules if m.startswith('hermes4.teacher')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"
