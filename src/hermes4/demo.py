"""`make demo` (until the end-to-end recipe lands): tiny model + tokenizer, one Hermes conversation rendered,
tokenized with its loss mask, and shown readably; trained text and tokens are inside ⟦ ⟧."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from hermes4.chat import Conversation, render, tokenize

OPEN, CLOSE = "⟦", "⟧"

CONVERSATION = {
    "messages": [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "What is 17 * 3?"},
        {"role": "assistant", "reasoning_content": "17 * 3 = 51.", "content": "51."},
        {"role": "user", "content": "What's the weather in Paris, in Celsius?"},
        {
            "role": "assistant",
            "reasoning_content": "I should call get_weather for Paris.",
            "content": "",
            "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "c"}}}],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": '{"temp": 18, "sky": "clear"}'},
        {"role": "assistant", "reasoning_content": "18 degrees, clear sky.", "content": "It is 18 °C and clear in Paris."},
    ],
    "tools": [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Current weather for a city.",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
                    "required": ["city"],
                },
            },
        }
    ],
    "thinking": True,
}


def bracket_spans(text: str, spans: list[tuple[int, int]]) -> str:
    out, position = [], 0
    for start, end in spans:
        out += [text[position:start], OPEN, text[start:end], CLOSE]
        position = end
    out.append(text[position:])
    return "".join(out)


def bracket_tokens(pieces: list[str], mask: list[int]) -> str:
    # Runs of trained tokens share one bracket pair; tokens are separated by a thin bar so boundaries show.
    out, inside = [], False
    for piece, bit in zip(pieces, mask):
        if bit and not inside:
            out.append(OPEN)
        elif not bit and inside:
            out.append(CLOSE)
        inside = bool(bit)
        out.append(piece.replace("\n", "↵") + "·" + ("\n" if piece.endswith("\n") else ""))
    if inside:
        out.append(CLOSE)
    return "".join(out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m hermes4.demo", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("runs/demo/tiny-chatml"), help="where the tiny model goes")
    args = parser.parse_args(argv)

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from hermes4.train.tiny import init_tiny

    print(f"1. tiny model and tokenizer -> {init_tiny(args.out, format='chatml', seed=0)}")
    tokenizer = AutoTokenizer.from_pretrained(args.out, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(args.out, local_files_only=True)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"   Qwen3 random init, {n_params:,} parameters, vocabulary {len(tokenizer)} (byte-level BPE + Hermes tokens)\n")

    conversation = Conversation.parse(CONVERSATION)
    rendered = render(conversation, format="chatml")
    print("2. rendered (ChatML, thinking on, keep_cots off); text that carries loss is inside ⟦ ⟧:\n")
    print(bracket_spans(rendered.text, rendered.spans))

    sample = tokenize([rendered], tokenizer)[0]
    pieces = [tokenizer.decode([i]) for i in sample.input_ids]
    trained = sum(sample.loss_mask)
    print(f"3. tokens: {len(sample)} total, {trained} trained ({trained / len(sample):.0%}); trained tokens inside ⟦ ⟧, '·' ends a token, '↵' is a newline:\n")
    print(bracket_tokens(pieces, sample.loss_mask))

    hf = tokenizer.apply_chat_template(
        conversation.to_json()["messages"], tools=conversation.to_json()["tools"], thinking=True,
        tokenize=True, return_dict=True, return_assistant_tokens_mask=True,
    )
    same = hf["input_ids"] == sample.input_ids and hf["assistant_masks"] == sample.loss_mask
    print(f"\n4. the saved chat template through transformers' apply_chat_template gives the same ids and mask: {same}")

    ids = torch.tensor([sample.input_ids])
    labels = torch.tensor([[i if m else -100 for i, m in zip(sample.input_ids, sample.loss_mask)]])
    with torch.no_grad():
        loss = model(input_ids=ids, labels=labels).loss.item()
    print(f"5. loss of the random-init model on the trained tokens only: {loss:.3f} (ln vocab = {math.log(len(tokenizer)):.3f})")
    llama = render(conversation, format="llama3")
    print(f"\nThe same conversation in the Llama-3 header format starts: {llama.text[:92]!r}...")
    if not same:
        raise SystemExit("demo: the exported template disagrees with the renderer")


if __name__ == "__main__":
    main()
