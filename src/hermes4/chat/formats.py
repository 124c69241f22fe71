"""The two Hermes wire formats, ChatML (Qwen3-based 14B) and Llama-3 headers (70B/405B), as plain data."""

from __future__ import annotations

from dataclasses import dataclass

# Tokens that must be single added tokens in every tokenizer the project writes. The think/tool tags are
# ordinary (non-special) added tokens so that decoding with skip_special_tokens keeps them for the parser.
CONTROL_TOKENS = ("<|im_start|>", "<|im_end|>", "<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>")
TAG_TOKENS = ("<think>", "</think>", "<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>")
PAD_TOKEN = "<|pad|>"


@dataclass(frozen=True)
class ChatFormat:
    """How turns are written: `begin` once, then per turn `header(role)` + body + `end_of_turn` + `after_turn`."""

    name: str
    begin: str
    header_open: str
    header_close: str
    end_of_turn: str
    after_turn: str
    bos_token: str | None
    eos_token: str

    def header(self, role: str) -> str:
        return f"{self.header_open}{role}{self.header_close}"

    @property
    def generation_prompt(self) -> str:
        return self.header("assistant")


CHATML = ChatFormat(
    name="chatml",
    begin="",
    header_open="<|im_start|>",
    header_close="\n",
    end_of_turn="<|im_end|>",
    after_turn="\n",
    bos_token=None,
    eos_token="<|im_end|>",
)

# Llama 3: `<|begin_of_text|>` once, headers `<|start_header_id|>role<|end_header_id|>\n\n`, no newline after
# `<|eot_id|>`. Tool results use the role `tool` (as in ChatML) rather than Llama 3.1's `ipython`.
LLAMA3 = ChatFormat(
    name="llama3",
    begin="<|begin_of_text|>",
    header_open="<|start_header_id|>",
    header_close="<|end_header_id|>\n\n",
    end_of_turn="<|eot_id|>",
    after_turn="",
    bos_token="<|begin_of_text|>",
    eos_token="<|eot_id|>",
)

FORMATS = {f.name: f for f in (CHATML, LLAMA3)}


def get_format(name: str) -> ChatFormat:
    """The format called `name` ("chatml" or "llama3"); ValueError naming the choices otherwise."""
    try:
        return FORMATS[name]
    except KeyError:
        raise ValueError(f"unknown chat format {name!r}; choose one of: {', '.join(FORMATS)}") from None
