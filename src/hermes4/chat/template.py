"""The Jinja chat template equivalent to `render`, one per format, with `{% generation %}` around trained text.

`tokenizer.apply_chat_template(conv.to_json()["messages"], tools=conv.to_json().get("tools"), thinking=...,
keep_cots=..., add_generation_prompt=..., return_assistant_tokens_mask=True, return_dict=True)` through this
template gives the renderer's text byte for byte and its loss mask token for token. Extra template variables:
`train_last_turn_only`, and a message key `train` (true/false) that overrides the default as in `render`.
Messages are expected in the shape `Conversation.to_json()` writes (tool-call arguments as a JSON string or an
object, tools as full `{"type": "function", "function": {...}}` specs).
"""

from __future__ import annotations

import json

from hermes4.chat.formats import ChatFormat, get_format
from hermes4.chat.prompts import (
    DEEP_THINKING_PROMPT,
    DEFAULT_SYSTEM_PROMPT,
    TOOLS_CALL_INSTRUCTIONS,
    TOOLS_PREAMBLE,
)

# Written with `{%-`/`-%}` on every tag so the layout of this source never reaches the output; literal text is
# only ever emitted through `{{ }}` with string constants.
_TEMPLATE = r"""
{%- set thinking = thinking if thinking is defined else false -%}
{%- set keep_cots = keep_cots if keep_cots is defined else false -%}
{%- set train_last_turn_only = train_last_turn_only if train_last_turn_only is defined else false -%}
{%- set ns = namespace(last_user=-1, last_assistant=-1, parts=[]) -%}
{%- for message in messages -%}
    {%- if message.role == 'user' -%}{%- set ns.last_user = loop.index0 -%}{%- endif -%}
    {%- if message.role == 'assistant' -%}{%- set ns.last_assistant = loop.index0 -%}{%- endif -%}
{%- endfor -%}
{%- set has_system = messages | length > 0 and messages[0].role == 'system' -%}
{%- if thinking -%}{%- set ns.parts = ns.parts + [@DEEP@] -%}{%- endif -%}
{%- if has_system and messages[0].content -%}{%- set ns.parts = ns.parts + [messages[0].content] -%}{%- endif -%}
{%- if tools -%}
    {%- set tool_lines = namespace(text='') -%}
    {%- for tool in tools -%}
        {%- set tool_lines.text = tool_lines.text ~ (tool | tojson) ~ '\n' -%}
    {%- endfor -%}
    {%- set ns.parts = ns.parts + [@TOOLS_PREAMBLE@ ~ '\n<tools>\n' ~ tool_lines.text ~ '</tools>\n' ~ @TOOLS_CALLS@] -%}
{%- endif -%}
{%- if ns.parts -%}
    {%- set system_text = ns.parts | join('\n\n') -%}
{%- elif has_system -%}
    {%- set system_text = '' -%}
{%- else -%}
    {%- set system_text = @DEFAULT@ -%}
{%- endif -%}
{%- macro header(role) -%}{{- @HEADER_OPEN@ ~ role ~ @HEADER_CLOSE@ -}}{%- endmacro -%}
{%- macro assistant_body(message, show_reasoning) -%}
    {%- if thinking -%}
        {%- if show_reasoning and message.reasoning_content -%}
            {{- '<think>\n' ~ message.reasoning_content ~ '\n</think>\n' -}}
        {%- else -%}
            {{- '<think> </think>\n' -}}
        {%- endif -%}
    {%- endif -%}
    {{- answer_text(message) -}}
{%- endmacro -%}
{%- macro answer_text(message) -%}
    {%- if message.content -%}{{- message.content -}}{%- endif -%}
    {%- for call in message.tool_calls or [] -%}
        {%- if message.content or not loop.first -%}{{- '\n' -}}{%- endif -%}
        {%- set function = call.function if call.function is defined else call -%}
        {%- if function.arguments is string -%}
            {%- set call_json = '{"name": ' ~ (function.name | tojson) ~ ', "arguments": ' ~ (function.arguments if function.arguments | trim else '{}') ~ '}' -%}
        {%- else -%}
            {%- set call_json = {'name': function.name, 'arguments': function.arguments if function.arguments is not none else {}} | tojson -%}
        {%- endif -%}
        {{- '<tool_call>\n' ~ call_json ~ '\n</tool_call>' -}}
    {%- endfor -%}
{%- endmacro -%}
{{- @BEGIN@ ~ header('system') ~ system_text ~ @END@ ~ @AFTER@ -}}
{%- for message in messages -%}
    {%- if loop.first and has_system -%}
    {%- elif message.role == 'tool' -%}
        {%- if loop.first or loop.previtem.role != 'tool' -%}
            {{- header('tool') -}}
        {%- else -%}
            {{- '\n' -}}
        {%- endif -%}
        {{- '<tool_response>\n' ~ (message.content or '') ~ '\n</tool_response>' -}}
        {%- if loop.last or loop.nextitem.role != 'tool' -%}
            {{- @END@ ~ @AFTER@ -}}
        {%- endif -%}
    {%- elif message.role == 'assistant' -%}
        {%- set stripped = thinking and not keep_cots and loop.index0 < ns.last_user -%}
        {%- if message.train is defined and message.train is not none -%}
            {%- set trained = message.train -%}
        {%- else -%}
            {%- set trained = not stripped and (not train_last_turn_only or loop.index0 == ns.last_assistant) -%}
        {%- endif -%}
        {{- header('assistant') -}}
        {%- if trained and thinking and not stripped and message.reasoning_content
                and '<tool_response>' in message.reasoning_content -%}
            {#- Tool results written into the reasoning (interleaved tool use) are context, not trained: each
                block from <tool_response> to the first </tool_response> after it stays out of the generation
                blocks, tags included. Generation blocks must be top-level output (not inside a macro) so that
                their character positions are known. -#}
            {%- set pieces = message.reasoning_content.split('<tool_response>') -%}
            {%- generation -%}{{- '<think>\n' ~ pieces[0] -}}{%- endgeneration -%}
            {%- for piece in pieces[1:] -%}
                {%- set closed = piece.split('</tool_response>', 1) -%}
                {{- '<tool_response>' ~ closed[0] ~ ('</tool_response>' if closed | length > 1 else '') -}}
                {%- if closed | length > 1 and closed[1] -%}
                    {%- generation -%}{{- closed[1] -}}{%- endgeneration -%}
                {%- endif -%}
            {%- endfor -%}
            {%- generation -%}
                {{- '\n</think>\n' ~ answer_text(message) ~ @END@ -}}
            {%- endgeneration -%}
        {%- elif trained -%}
            {%- generation -%}
                {{- assistant_body(message, not stripped) ~ @END@ -}}
            {%- endgeneration -%}
        {%- else -%}
            {{- assistant_body(message, not stripped) ~ @END@ -}}
        {%- endif -%}
        {{- @AFTER@ -}}
    {%- else -%}
        {{- header(message.role) ~ (message.content or '') ~ @END@ ~ @AFTER@ -}}
    {%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{- header('assistant') -}}
{%- endif -%}
"""


def _literal(text: str) -> str:
    # A Jinja string literal: JSON escaping is valid Jinja string syntax for these texts.
    return json.dumps(text, ensure_ascii=False)


def export_template(format: str | ChatFormat = "chatml") -> str:
    """The chat template of `format` as Jinja source (what goes into `chat_template.jinja`)."""
    fmt = format if isinstance(format, ChatFormat) else get_format(format)
    replacements = {
        "@DEEP@": DEEP_THINKING_PROMPT,
        "@DEFAULT@": DEFAULT_SYSTEM_PROMPT,
        "@TOOLS_PREAMBLE@": TOOLS_PREAMBLE,
        "@TOOLS_CALLS@": TOOLS_CALL_INSTRUCTIONS,
        "@BEGIN@": fmt.begin,
        "@HEADER_OPEN@": fmt.header_open,
        "@HEADER_CLOSE@": fmt.header_close,
        "@END@": fmt.end_of_turn,
        "@AFTER@": fmt.after_turn,
    }
    source = _TEMPLATE.strip() + "\n"
    for marker, text in replacements.items():
        source = source.replace(marker, _literal(text))
    return source
