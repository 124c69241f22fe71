"""Render + tokenize + loss mask: hermes4's renderer vs transformers' apply_chat_template with the exported template.

10,000 multi-turn conversations with reasoning and tool calls, the same tiny tokenizer for both. Asserts identical
input_ids and masks for every conversation, then prints conversations/s of each and the ratio.

    .venv/bin/python benchmarks/bench_render.py [--n 10000] [--format chatml|llama3]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time

from hermes4.chat import Conversation, render, tokenize
from hermes4.train.tiny import init_tiny

WORDS = ["the", "a", "model", "tool", "weather", "city", "answer", "think", "step", "result", "value", "42", "3.14", "Paris", "Oslo", "é", "日本", "json", "list"]
TOOLS = [
    {"type": "function", "function": {"name": name, "description": f"{name} tool.",
                                      "parameters": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}}}
    for name in ("get_weather", "search", "python")
]


def sentence(rng: random.Random, lo: int = 3, hi: int = 30) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(lo, hi)))


def make_conversation(rng: random.Random) -> Conversation:
    messages: list[dict] = [{"role": "system", "content": sentence(rng)}] if rng.random() < 0.5 else []
    for _ in range(rng.randint(1, 3)):
        messages.append({"role": "user", "content": sentence(rng)})
        if rng.random() < 0.5:
            calls = [{"id": f"c{i}", "type": "function",
                      "function": {"name": rng.choice(TOOLS)["function"]["name"], "arguments": {"q": sentence(rng, 1, 5), "n": rng.randint(0, 99)}}}
                     for i in range(rng.randint(1, 2))]
            messages.append({"role": "assistant", "reasoning_content": sentence(rng, 10, 60), "content": sentence(rng, 0, 5), "tool_calls": calls})
            messages += [{"role": "tool", "tool_call_id": c["id"], "content": sentence(rng)} for c in calls]
        messages.append({"role": "assistant", "reasoning_content": sentence(rng, 10, 60), "content": sentence(rng, 5, 40)})
    return Conversation.parse({"messages": messages, "tools": TOOLS, "thinking": True})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--format", default="chatml", choices=["chatml", "llama3"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from transformers import AutoTokenizer

    with tempfile.TemporaryDirectory() as tmp:
        tokenizer = AutoTokenizer.from_pretrained(init_tiny(tmp, format=args.format))
    rng = random.Random(args.seed)
    conversations = [make_conversation(rng) for _ in range(args.n)]
    # The peer gets its input already in the shape it reads (not timed), as a caller holding records would.
    records = [c.to_json() for c in conversations]

    # Warm the tokenizer's word cache on the same texts for both sides, so neither pays for it.
    tokenize([render(c, format=args.format) for c in conversations], tokenizer)

    start = time.perf_counter()
    ours = tokenize([render(c, format=args.format) for c in conversations], tokenizer)
    ours_s = time.perf_counter() - start

    start = time.perf_counter()
    theirs = [
        tokenizer.apply_chat_template(r["messages"], tools=r.get("tools"), thinking=True, tokenize=True,
                                      return_dict=True, return_assistant_tokens_mask=True)
        for r in records
    ]
    theirs_s = time.perf_counter() - start

    # apply_chat_template also takes a batch of conversations (one batched tokenizer call): its best case
    start = time.perf_counter()
    batched = {"input_ids": [], "assistant_masks": []}
    for chunk in range(0, len(records), 1000):
        out = tokenizer.apply_chat_template([r["messages"] for r in records[chunk : chunk + 1000]], tools=TOOLS,
                                            thinking=True, tokenize=True, return_dict=True, return_assistant_tokens_mask=True)
        batched["input_ids"] += out["input_ids"]
        batched["assistant_masks"] += out["assistant_masks"]
    batched_s = time.perf_counter() - start
    assert batched["input_ids"] == [s.input_ids for s in ours] and batched["assistant_masks"] == [s.loss_mask for s in ours]

    # The shared cost: the Rust tokenizer over the same texts, one batched call, no Python around it.
    from hermes4.chat.tokenize import backend_of

    texts = [render(c, format=args.format).text for c in conversations]
    start = time.perf_counter()
    backend_of(tokenizer).encode_batch(texts, add_special_tokens=False)
    tokenizer_s = time.perf_counter() - start

    for index, (a, b) in enumerate(zip(ours, theirs)):
        assert a.input_ids == b["input_ids"], f"conversation {index}: input_ids differ"
        assert a.loss_mask == b["assistant_masks"], f"conversation {index}: masks differ"
    tokens = sum(len(s) for s in ours)
    trained = sum(sum(s.loss_mask) for s in ours)
    print(f"{args.n} conversations ({args.format}), {tokens:,} tokens, {trained:,} trained; ids and masks identical")
    print(f"hermes4 render+tokenize:           {args.n / ours_s:10,.0f} conv/s  ({ours_s:.2f} s)")
    print(f"transformers apply_chat_template:  {args.n / theirs_s:10,.0f} conv/s  ({theirs_s:.2f} s)")
    print(f"transformers, batches of 1,000:    {args.n / batched_s:10,.0f} conv/s  ({batched_s:.2f} s)")
    print(f"ratio: {theirs_s / ours_s:.1f}x (per conversation), {batched_s / ours_s:.1f}x (batched)")
    print(f"of which the tokenizer call alone (paid by both): {tokenizer_s:.2f} s; time outside it: "
          f"hermes4 {ours_s - tokenizer_s:.2f} s, apply_chat_template {theirs_s - tokenizer_s:.2f} s per conversation, "
          f"{batched_s - tokenizer_s:.2f} s batched")


if __name__ == "__main__":
    main()
