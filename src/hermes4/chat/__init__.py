"""The Hermes prompt format: messages, rendering to text and tokens with loss masks, Jinja export."""

from hermes4.chat.formats import CHATML, LLAMA3, ChatFormat, get_format
from hermes4.chat.messages import (
    Conversation,
    ConversationError,
    FunctionCall,
    FunctionSpec,
    Message,
    ToolCall,
    ToolSpec,
)
from hermes4.chat.prompts import (
    DEEP_THINKING_PROMPT,
    DEFAULT_SYSTEM_PROMPT,
    json_mode_system_prompt,
    tools_system_prompt,
)
from hermes4.chat.render import Rendered, render
from hermes4.chat.template import export_template
from hermes4.chat.tokenize import TokenizedSample, tokenize

__all__ = [
    "CHATML",
    "DEEP_THINKING_PROMPT",
    "DEFAULT_SYSTEM_PROMPT",
    "LLAMA3",
    "ChatFormat",
    "Conversation",
    "ConversationError",
    "FunctionCall",
    "FunctionSpec",
    "Message",
    "Rendered",
    "TokenizedSample",
    "ToolCall",
    "ToolSpec",
    "export_template",
    "get_format",
    "json_mode_system_prompt",
    "render",
    "tokenize",
    "tools_system_prompt",
]
