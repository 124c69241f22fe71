"""OpenAI response choices → `Completion`: the server's own reasoning/tool-call split when it made one, else our parser."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any, TypeVar

from hermes4.llm.types import Completion, FinishReason, prompt_opens_think


_T = TypeVar("_T")
LONG_OUTPUT = 20_000  # characters; reading a longer output runs in a worker thread


async def off_loop_if_long(size: int, work: Callable[[], _T]) -> _T:
    """`work()` here for a short output, in a worker thread for a long one: parsing a huge answer stalls no other request."""
    return await asyncio.to_thread(work) if size > LONG_OUTPUT else work()


def split_tokens(total: Any, weights: list[int]) -> list[int]:
    """Share a usage total among n choices in proportion to their text length (the API reports only the sum)."""
    if not weights:
        return []
    total = int(total or 0)
    if len(weights) == 1:
        return [total]
    weight_sum = sum(weights)
    if weight_sum == 0:
        shares = [total // len(weights)] * len(weights)
    else:
        shares = [total * w // weight_sum for w in weights]
    for i in range(total - sum(shares)):  # hand out the rounding remainder, one each
        shares[i % len(shares)] += 1
    return shares


def _finish(raw: Any, has_calls: bool) -> FinishReason:
    if raw == "length":
        return "length"
    return "tool_calls" if has_calls else "stop"


def _arguments(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value.strip():
        try:
            decoded = json.loads(value)
        except json.JSONDecodeError:
            return {}
        return decoded if isinstance(decoded, dict) else {}
    return {}


def _logprobs(choice: dict[str, Any], *, chat: bool) -> tuple[list[float] | None, list[str] | None]:
    data = choice.get("logprobs")
    if not data:
        return None, None
    if chat:
        entries = data.get("content") or []
        return [float(e.get("logprob", 0.0)) for e in entries], [str(e.get("token", "")) for e in entries]
    values = data.get("token_logprobs")
    tokens = data.get("tokens")
    return ([float(v) if v is not None else 0.0 for v in values] if values is not None else None), tokens


def _server_split(
    content_parsed: Any, reasoning: str | None, server_calls: list[dict[str, Any]], *, think_unclosed: bool = False
) -> tuple[str, Any]:
    """The raw Hermes-format text and the parsed output, from a server's `reasoning_content` / `tool_calls`.

    Whatever the server left unsplit in `content` was parsed already (`content_parsed`); its calls
    follow the server's. Spans of the calls refer to the rebuilt text. `think_unclosed`: the model never
    wrote `</think>` (cut by the token limit inside its reasoning), so the rebuilt text must not either.
    """
    from hermes4.parse import ParsedToolCall

    if think_unclosed:
        return f"<think>\n{reasoning}", content_parsed.model_copy(update={"reasoning": reasoning, "truncated": True})
    text = f"<think>\n{reasoning}\n</think>\n" if reasoning is not None else ""
    content = content_parsed.content
    text += content
    calls = []
    entries = []
    for call in server_calls:
        function = call.get("function") or {}
        entries.append((call.get("id"), str(function.get("name") or ""), _arguments(function.get("arguments"))))
    entries.extend((c.id, c.name, c.arguments) for c in content_parsed.tool_calls)
    for index, (call_id, name, arguments) in enumerate(entries):
        body = json.dumps({"name": name, "arguments": arguments}, ensure_ascii=False)
        if text:
            text += "\n"
        start = len(text)
        text += f"<tool_call>\n{body}\n</tool_call>"
        calls.append(
            ParsedToolCall(
                id=call_id or f"call_{index}",
                index=index,
                name=name,
                arguments=arguments,
                arguments_json=json.dumps(arguments, ensure_ascii=False),
                raw=f"\n{body}\n",
                start=start,
                end=len(text),
            )
        )
    parsed = content_parsed.model_copy(
        update={"reasoning": reasoning if reasoning is not None else content_parsed.reasoning, "tool_calls": calls}
    )
    return text, parsed


def completion_from_chat_choice(choice: dict[str, Any], *, prompt_tokens: int, completion_tokens: int, latency_s: float) -> Completion:
    from hermes4.parse import parse

    message = choice.get("message") or {}
    content = message.get("content") or ""
    server_reasoning = message.get("reasoning_content")
    if server_reasoning is None:
        server_reasoning = message.get("reasoning")  # newer vLLM field name
    server_calls = message.get("tool_calls") or []
    # Whatever the server did not split is still in `content`: parse it, then take the server's fields.
    parsed = parse(content)
    if server_reasoning is not None or server_calls:
        # Servers that split reasoning (vLLM's reasoning parsers, `hermes4 serve`) put a think block that never
        # closed entirely into reasoning and leave content empty; with finish_reason "length" that is the only
        # reading, and the overlong metric depends on it.
        unclosed = (
            server_reasoning is not None and not server_calls and not content.strip() and choice.get("finish_reason") == "length"
        )
        text, parsed = _server_split(parsed, server_reasoning, server_calls, think_unclosed=unclosed)
    else:
        text = content
    logprobs, tokens = _logprobs(choice, chat=True)
    return Completion(
        text=text,
        parsed=parsed,
        finish_reason=_finish(choice.get("finish_reason"), bool(parsed.tool_calls)),
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        latency_s=latency_s,
        logprobs=logprobs,
        tokens=tokens,
    )


def completion_from_text_choice(choice: dict[str, Any], *, prompt: str, prompt_tokens: int, completion_tokens: int, latency_s: float) -> Completion:
    from hermes4.parse import parse

    text = choice.get("text") or ""
    parsed = parse(text, reasoning_started=prompt_opens_think(prompt))
    logprobs, tokens = _logprobs(choice, chat=False)
    return Completion(
        text=text,
        parsed=parsed,
        finish_reason=_finish(choice.get("finish_reason"), bool(parsed.tool_calls)),
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        latency_s=latency_s,
        logprobs=logprobs,
        tokens=tokens,
        prompt_token_ids=_ids(choice.get("prompt_token_ids")),
        token_ids=_ids(choice.get("token_ids")),
    )


def _ids(value: Any) -> list[int] | None:
    return [int(v) for v in value] if isinstance(value, list) else None
