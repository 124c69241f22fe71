"""Run inside the engine venv (not collected by pytest): feed model outputs through vLLM's real `Parser` with
hermes4's plugins, in batch (`Parser.parse`) and streamed (`Parser.parse_delta`, as vLLM's server calls it).

Reads JSON on stdin: {"model": DIR, "plugin": FILE, "cases": [{"text": ..., "interleaved": bool}, ...]} and writes,
per case, the batch message and the accumulated stream for each chunking (the model's own tokens, as the
server feeds them, and fixed character chunkings).
"""

from __future__ import annotations

import json
import sys


def incremental_deltas(tokenizer, ids: list[int]) -> list[tuple[str, list[int]]]:
    """One delta per token, text held back while it ends inside a UTF-8 character (as vLLM's detokenizer does)."""
    deltas, sent = [], ""
    for i in range(len(ids)):
        text = tokenizer.decode(ids[: i + 1])
        if text.endswith("\ufffd"):
            deltas.append(("", [ids[i]]))
            continue
        deltas.append((text[len(sent):], [ids[i]]))
        sent = text
    return deltas


def main() -> None:
    job = json.load(sys.stdin)
    from transformers import AutoTokenizer
    from vllm.entrypoints.openai.chat_completion.protocol import ChatCompletionRequest
    from vllm.parser.parser_manager import ParserManager
    from vllm.utils.import_utils import import_plugin

    import_plugin(job["plugin"])
    tokenizer = AutoTokenizer.from_pretrained(job["model"])
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    request = ChatCompletionRequest(model="m", messages=[{"role": "user", "content": "hi"}], tools=tools)
    prompt_ids = tokenizer("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n")["input_ids"]
    closed_prompt_ids = tokenizer("<|im_start|>assistant\n<think> </think>\nok<|im_end|>\n<|im_start|>assistant\n")["input_ids"]
    classes = {
        name: ParserManager.get_parser(tool_parser_name=name, reasoning_parser_name=name, enable_auto_tools=True,
                                       tokenizer=tokenizer)
        for name in ("hermes4", "hermes4-interleaved")
    }
    results = []
    for case in job["cases"]:
        parser_cls = classes["hermes4-interleaved" if case["interleaved"] else "hermes4"]
        text = case["text"]
        parser = parser_cls(tokenizer, request.tools, chat_template_kwargs={"thinking": True})
        reasoning, content, calls = parser.parse(text, request, enable_auto_tools=True)
        batch = {"reasoning": reasoning, "content": content,
                 "tool_calls": [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in calls or []]}
        ids = tokenizer(text)["input_ids"]
        token_deltas = incremental_deltas(tokenizer, ids)
        chunkings = {"tokens": token_deltas, "tokens-tool-parser": token_deltas}
        for size in case.get("chunk_sizes", [1, 3, 7]):
            chunkings[f"chars-{size}"] = [(text[i:i + size], []) for i in range(0, len(text), size)]
        streams, fed = {}, {}
        for label, deltas in chunkings.items():
            # In reasoning mode vLLM feeds the reasoning parser; otherwise (the prompt leaves no reasoning to come)
            # it feeds the tool parser: both paths must read the output the same way.
            tool_path = label == "tokens-tool-parser"
            parser = parser_cls(tokenizer, request.tools, chat_template_kwargs={"thinking": not tool_path})
            messages = []
            for n, (delta, delta_ids) in enumerate(deltas or [("", [])]):
                message = parser.parse_delta(delta, delta_ids, request, prompt_token_ids=prompt_ids,
                                             finished=n == max(len(deltas), 1) - 1)
                if message is not None:
                    messages.append(message.model_dump(exclude_none=True))
            streams[label] = messages
            fed[label] = "reasoning" if parser.reasoning_parser.stream.fed else "tool" if parser.tool_parser.stream.fed else ""
        results.append({"batch": batch, "streams": streams, "fed": fed})
    # Where vLLM's structured outputs may start (`is_reasoning_end` on the prompt, as the engine's gate asks):
    # in reasoning mode only after the model's </think>; otherwise at once, even if an earlier turn reasoned.
    from vllm.reasoning import ReasoningParserManager

    reasoning_cls = ReasoningParserManager.get_reasoning_parser("hermes4")
    gate = {}
    for thinking in (True, False):
        parser = reasoning_cls(tokenizer, chat_template_kwargs={"thinking": thinking})
        gate[f"thinking={thinking}"] = [parser.is_reasoning_end(prompt_ids), parser.is_reasoning_end(closed_prompt_ids),
                                        parser.is_reasoning_end(tokenizer("<think>\nhm")["input_ids"]),
                                        parser.is_reasoning_end(tokenizer("<think>\nhm</think>\n")["input_ids"])]
    json.dump({"cases": results, "gate": gate}, sys.stdout)


if __name__ == "__main__":
    main()
