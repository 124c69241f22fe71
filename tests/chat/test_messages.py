"""The conversation record: aliases, argument decoding, and errors that name the message."""

import pytest

from hermes4.chat.messages import Conversation, ConversationError


def test_aliases_and_arguments_decoded_once():
    conv = Conversation.parse(
        {
            "messages": [
                {"role": "user", "content": "hi"},
                {
                    "role": "assistant",
                    "reasoning": "thinking",
                    "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"x": "{\\"y\\": 1}"}'}}],
                },
                {"role": "tool", "tool_call_id": "c1", "content": "ok"},
            ],
            "tools": [{"name": "f", "parameters": {"type": "object"}}],
        }
    )
    assistant = conv.messages[1]
    assert assistant.reasoning_content == "thinking"
    # decoded once: the inner JSON text stays a string
    assert assistant.tool_calls[0].arguments == {"x": '{"y": 1}'}
    assert conv.tools[0].name == "f"
    assert Conversation.parse(conv.to_json()) == conv


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0]"),
        ({"messages": [{"role": "user", "content": "a"}, {"role": "bot", "content": "x"}]}, "messages[1].role"),
        (
            {"messages": [{"role": "assistant", "tool_calls": [{"name": "f", "arguments": "{bad"}]}]},
            "messages[0].tool_calls[0].function.arguments",
        ),
        ({"messages": [{"role": "assistant", "tool_calls": [{"name": "f", "arguments": "[1]"}]}]}, "must be a JSON object"),
    ],
)
def test_errors_name_the_message(data, where):
    with pytest.raises(ConversationError, match=__import__("re").escape(where)):
        Conversation.parse(data)
