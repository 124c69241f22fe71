"""Golden renderings for both wire formats, written out by hand from the format rules (not produced by the code)."""

import pytest

from hermes4.chat import Conversation, render

DEEP = (
    "You are a deep thinking AI, you may use extremely long chains of thought to deeply consider the problem "
    "and deliberate with yourself via systematic reasoning processes to help come to a correct solution prior "
    "to answering. You should enclose your thoughts and internal monologue inside <think> </think> tags, and "
    "then provide your solution or response to the problem."
)
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the weather.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
TOOLS_BLOCK = (
    "You are a function-calling AI. Tools are provided inside <tools></tools> XML tags, one JSON function signature per line:\n"
    "<tools>\n"
    '{"type": "function", "function": {"name": "get_weather", "description": "Get the weather.", '
    '"parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}\n'
    "</tools>\n"
    "When appropriate, call a tool by emitting a JSON object with the function name and arguments inside <tool_call></tool_call> tags:\n"
    "<tool_call>\n"
    '{"name": <function-name>, "arguments": <args-dict>}\n'
    "</tool_call>\n"
    "Tool results come back inside <tool_response></tool_response> tags; use them to continue and produce the final answer."
)

PLAIN = [
    {"role": "system", "content": "You are a concise assistant."},
    {"role": "user", "content": "What is the capital of France?"},
    {"role": "assistant", "content": "Paris."},
]
MULTI = [
    {"role": "user", "content": "What is 2 + 2?"},
    {"role": "assistant", "reasoning_content": "Two plus two is four.", "content": "4"},
    {"role": "user", "content": "And times 3?"},
    {"role": "assistant", "reasoning": "4 * 3 = 12.", "content": "12"},
]
TOOL_CHAT = [
    {"role": "user", "content": "Weather in Paris and Oslo?"},
    {
        "role": "assistant",
        "reasoning_content": "Two cities, two calls.",
        "content": "Checking.",
        "tool_calls": [
            {"id": "a", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
            {"id": "b", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Oslo"}}},
        ],
    },
    {"role": "tool", "tool_call_id": "a", "content": "18 C"},
    {"role": "tool", "tool_call_id": "b", "content": "9 C"},
    {"role": "assistant", "content": "Paris 18 °C, Oslo 9 °C."},
]
NO_REASONING = [
    {"role": "user", "content": "Hi!"},
    {"role": "assistant", "content": "Hello!"},
    {"role": "user", "content": "Count to 3."},
    {"role": "assistant", "reasoning_content": "Easy.", "content": "1, 2, 3."},
]


def conv(messages, tools=None):
    return Conversation.parse({"messages": messages, "tools": tools or []})


# ---------------------------------------------------------------- ChatML

def test_chatml_plain_chat():
    r = render(conv(PLAIN), format="chatml")
    assert r.text == (
        "<|im_start|>system\nYou are a concise assistant.<|im_end|>\n"
        "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n"
        "<|im_start|>assistant\nParis.<|im_end|>\n"
    )
    assert r.trained_text() == ["Paris.<|im_end|>"]


def test_chatml_default_system_and_generation_prompt():
    r = render(conv(PLAIN[1:2]), format="chatml", add_generation_prompt=True)
    assert r.text == (
        "<|im_start|>system\nYou are Hermes, created by Nous Research.<|im_end|>\n"
        "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    assert r.spans == []


def test_chatml_thinking_with_caller_system():
    messages = PLAIN[:2] + [{"role": "assistant", "reasoning_content": "France's capital.", "content": "Paris."}]
    r = render(conv(messages), format="chatml", thinking=True)
    assert r.text == (
        f"<|im_start|>system\n{DEEP}\n\nYou are a concise assistant.<|im_end|>\n"
        "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n"
        "<|im_start|>assistant\n<think>\nFrance's capital.\n</think>\nParis.<|im_end|>\n"
    )
    assert r.trained_text() == ["<think>\nFrance's capital.\n</think>\nParis.<|im_end|>"]


def test_chatml_thinking_without_system():
    r = render(conv(PLAIN[1:2]), format="chatml", thinking=True, add_generation_prompt=True)
    assert r.text == (
        f"<|im_start|>system\n{DEEP}<|im_end|>\n"
        "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def test_chatml_multi_turn_keep_cots_off():
    r = render(conv(MULTI), format="chatml", thinking=True)
    assert r.text == (
        f"<|im_start|>system\n{DEEP}<|im_end|>\n"
        "<|im_start|>user\nWhat is 2 + 2?<|im_end|>\n"
        "<|im_start|>assistant\n<think> </think>\n4<|im_end|>\n"
        "<|im_start|>user\nAnd times 3?<|im_end|>\n"
        "<|im_start|>assistant\n<think>\n4 * 3 = 12.\n</think>\n12<|im_end|>\n"
    )
    # the stripped earlier turn is context only
    assert r.trained_text() == ["<think>\n4 * 3 = 12.\n</think>\n12<|im_end|>"]


def test_chatml_multi_turn_keep_cots_on():
    r = render(conv(MULTI), format="chatml", thinking=True, keep_cots=True)
    assert r.text == (
        f"<|im_start|>system\n{DEEP}<|im_end|>\n"
        "<|im_start|>user\nWhat is 2 + 2?<|im_end|>\n"
        "<|im_start|>assistant\n<think>\nTwo plus two is four.\n</think>\n4<|im_end|>\n"
        "<|im_start|>user\nAnd times 3?<|im_end|>\n"
        "<|im_start|>assistant\n<think>\n4 * 3 = 12.\n</think>\n12<|im_end|>\n"
    )
    assert r.trained_text() == [
        "<think>\nTwo plus two is four.\n</think>\n4<|im_end|>",
        "<think>\n4 * 3 = 12.\n</think>\n12<|im_end|>",
    ]


def test_chatml_thinking_off_drops_reasoning():
    r = render(conv(MULTI), format="chatml")
    assert r.text == (
        "<|im_start|>system\nYou are Hermes, created by Nous Research.<|im_end|>\n"
        "<|im_start|>user\nWhat is 2 + 2?<|im_end|>\n"
        "<|im_start|>assistant\n4<|im_end|>\n"
        "<|im_start|>user\nAnd times 3?<|im_end|>\n"
        "<|im_start|>assistant\n12<|im_end|>\n"
    )
    assert r.trained_text() == ["4<|im_end|>", "12<|im_end|>"]


def test_chatml_tools_calls_and_consecutive_results():
    r = render(conv(TOOL_CHAT, [WEATHER]), format="chatml")
    assert r.text == (
        f"<|im_start|>system\n{TOOLS_BLOCK}<|im_end|>\n"
        "<|im_start|>user\nWeather in Paris and Oslo?<|im_end|>\n"
        "<|im_start|>assistant\nChecking.\n"
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>\n'
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call><|im_end|>\n'
        "<|im_start|>tool\n<tool_response>\n18 C\n</tool_response>\n<tool_response>\n9 C\n</tool_response><|im_end|>\n"
        "<|im_start|>assistant\nParis 18 °C, Oslo 9 °C.<|im_end|>\n"
    )
    assert r.trained_text() == [
        'Checking.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>\n'
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call><|im_end|>',
        "Paris 18 °C, Oslo 9 °C.<|im_end|>",
    ]


def test_chatml_tools_with_thinking_and_system():
    messages = [{"role": "system", "content": "Use metric units."}] + TOOL_CHAT
    r = render(conv(messages, [WEATHER]), format="chatml", thinking=True)
    assert r.text == (
        f"<|im_start|>system\n{DEEP}\n\nUse metric units.\n\n{TOOLS_BLOCK}<|im_end|>\n"
        "<|im_start|>user\nWeather in Paris and Oslo?<|im_end|>\n"
        "<|im_start|>assistant\n<think>\nTwo cities, two calls.\n</think>\nChecking.\n"
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>\n'
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call><|im_end|>\n'
        "<|im_start|>tool\n<tool_response>\n18 C\n</tool_response>\n<tool_response>\n9 C\n</tool_response><|im_end|>\n"
        # the final turn has no reasoning: an empty think block, never a crash
        "<|im_start|>assistant\n<think> </think>\nParis 18 °C, Oslo 9 °C.<|im_end|>\n"
    )
    # both turns come after the last user message: the current turn's steps, all trained
    assert len(r.spans) == 2


def test_chatml_call_without_content():
    messages = [
        {"role": "user", "content": "Paris?"},
        {"role": "assistant", "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]},
    ]
    r = render(conv(messages, [WEATHER]), format="chatml", thinking=True)
    assert r.text.endswith(
        "<|im_start|>assistant\n<think> </think>\n"
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call><|im_end|>\n'
    )


def test_chatml_earlier_turn_without_reasoning():
    r = render(conv(NO_REASONING), format="chatml", thinking=True, keep_cots=True)
    assert r.text == (
        f"<|im_start|>system\n{DEEP}<|im_end|>\n"
        "<|im_start|>user\nHi!<|im_end|>\n"
        "<|im_start|>assistant\n<think> </think>\nHello!<|im_end|>\n"
        "<|im_start|>user\nCount to 3.<|im_end|>\n"
        "<|im_start|>assistant\n<think>\nEasy.\n</think>\n1, 2, 3.<|im_end|>\n"
    )
    assert r.trained_text() == ["<think> </think>\nHello!<|im_end|>", "<think>\nEasy.\n</think>\n1, 2, 3.<|im_end|>"]


# ---------------------------------------------------------------- Llama 3

def test_llama3_plain_chat():
    r = render(conv(PLAIN), format="llama3")
    assert r.text == (
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are a concise assistant.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nWhat is the capital of France?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\nParis.<|eot_id|>"
    )
    assert r.trained_text() == ["Paris.<|eot_id|>"]


def test_llama3_default_system_and_generation_prompt():
    r = render(conv(PLAIN[1:2]), format="llama3", add_generation_prompt=True)
    assert r.text == (
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are Hermes, created by Nous Research.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nWhat is the capital of France?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    )


def test_llama3_thinking_with_caller_system():
    messages = PLAIN[:2] + [{"role": "assistant", "reasoning_content": "France's capital.", "content": "Paris."}]
    r = render(conv(messages), format="llama3", thinking=True)
    assert r.text == (
        f"<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n{DEEP}\n\nYou are a concise assistant.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nWhat is the capital of France?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n<think>\nFrance's capital.\n</think>\nParis.<|eot_id|>"
    )
    assert r.trained_text() == ["<think>\nFrance's capital.\n</think>\nParis.<|eot_id|>"]


def test_llama3_thinking_without_system():
    r = render(conv(PLAIN[1:2]), format="llama3", thinking=True, add_generation_prompt=True)
    assert r.text == (
        f"<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n{DEEP}<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nWhat is the capital of France?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    )


def test_llama3_multi_turn_keep_cots_off():
    r = render(conv(MULTI), format="llama3", thinking=True)
    assert r.text == (
        f"<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n{DEEP}<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nWhat is 2 + 2?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n<think> </think>\n4<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nAnd times 3?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n<think>\n4 * 3 = 12.\n</think>\n12<|eot_id|>"
    )
    assert r.trained_text() == ["<think>\n4 * 3 = 12.\n</think>\n12<|eot_id|>"]


def test_llama3_multi_turn_keep_cots_on():
    r = render(conv(MULTI), format="llama3", thinking=True, keep_cots=True)
    assert r.text == (
        f"<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n{DEEP}<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nWhat is 2 + 2?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n<think>\nTwo plus two is four.\n</think>\n4<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nAnd times 3?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n<think>\n4 * 3 = 12.\n</think>\n12<|eot_id|>"
    )
    assert len(r.spans) == 2


def test_llama3_tools_calls_and_consecutive_results():
    r = render(conv(TOOL_CHAT, [WEATHER]), format="llama3")
    assert r.text == (
        f"<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n{TOOLS_BLOCK}<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nWeather in Paris and Oslo?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\nChecking.\n"
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>\n'
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call><|eot_id|>'
        "<|start_header_id|>tool<|end_header_id|>\n\n<tool_response>\n18 C\n</tool_response>\n<tool_response>\n9 C\n</tool_response><|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\nParis 18 °C, Oslo 9 °C.<|eot_id|>"
    )
    assert r.trained_text()[1] == "Paris 18 °C, Oslo 9 °C.<|eot_id|>"


def test_llama3_earlier_turn_without_reasoning():
    r = render(conv(NO_REASONING), format="llama3", thinking=True)
    assert r.text == (
        f"<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n{DEEP}<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n<think> </think>\nHello!<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nCount to 3.<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n<think>\nEasy.\n</think>\n1, 2, 3.<|eot_id|>"
    )
    assert r.trained_text() == ["<think>\nEasy.\n</think>\n1, 2, 3.<|eot_id|>"]


# ---------------------------------------------------------------- options shared by both formats

@pytest.mark.parametrize("fmt", ["chatml", "llama3"])
def test_tools_without_system_or_thinking_is_the_tools_block_alone(fmt):
    r = render(conv(PLAIN[1:2], [WEATHER]), format=fmt)
    assert TOOLS_BLOCK in r.text
    assert "You are Hermes, created by Nous Research." not in r.text


@pytest.mark.parametrize("fmt", ["chatml", "llama3"])
def test_empty_system_message_opts_out_of_the_default(fmt):
    r = render(conv([{"role": "system", "content": ""}, PLAIN[1]]), format=fmt)
    assert "Hermes" not in r.text
    end = "<|im_end|>" if fmt == "chatml" else "<|eot_id|>"
    assert ("system\n" if fmt == "chatml" else "system<|end_header_id|>\n\n") + end in r.text


@pytest.mark.parametrize("fmt", ["chatml", "llama3"])
def test_train_last_turn_only_and_per_message_override(fmt):
    end = "<|im_end|>" if fmt == "chatml" else "<|eot_id|>"
    r = render(conv(MULTI), format=fmt, keep_cots=True, train_last_turn_only=True)
    assert r.trained_text() == [f"12{end}"]
    messages = [dict(m) for m in MULTI]
    messages[1]["train"] = True
    messages[3]["train"] = False
    r = render(conv(messages), format=fmt, thinking=True)
    # train=True trains even a stripped earlier turn; train=False never trains
    assert r.trained_text() == [f"<think> </think>\n4{end}"]


def test_conversation_flags_are_defaults_and_arguments_win():
    c = Conversation.parse({"messages": MULTI, "thinking": True, "keep_cots": True})
    assert "<think>\nTwo plus two is four.\n</think>" in render(c).text
    assert "<think>" not in render(c, thinking=False).text
    assert "Two plus two" not in render(c, keep_cots=False).text


def test_later_system_message_renders_in_place():
    messages = PLAIN[1:] + [{"role": "system", "content": "Now answer in French."}, {"role": "user", "content": "Again?"}]
    r = render(conv(messages), format="chatml")
    assert r.text == (
        "<|im_start|>system\nYou are Hermes, created by Nous Research.<|im_end|>\n"
        "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n"
        "<|im_start|>assistant\nParis.<|im_end|>\n"
        "<|im_start|>system\nNow answer in French.<|im_end|>\n"
        "<|im_start|>user\nAgain?<|im_end|>\n"
    )
