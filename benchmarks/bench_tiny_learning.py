"""Can the tiny model learn one task at all? (issue 19's levers, measured one at a time.) Trains a fresh tiny Qwen3
on ONE data family of a finished tiny-recipe run (e.g. only the JSON-schema samples) for a fixed number of steps,
in one process, then scores held-out items of that family's eval env with greedy decoding and the env's verifier.

It tells a task the model cannot learn at this size and budget (accuracy stays low even alone, for many epochs) from
one that only lacks its share of the mix (learns alone, not in the mix). It is not the recipe's trainer (no packing,
no FSDP; batches of whole conversations padded to the longest) and prints no timing claims beyond its own.

    .venv/bin/python benchmarks/bench_tiny_learning.py --data runs/tiny/data/json-schema --thinking off \\
        --eval "json_schema:tasks=produce,max_depth=0,max_fields=3,kinds=integer+boolean+enum,n=40" --steps 400 --rows 36
"""

from __future__ import annotations

import argparse
import math
import random
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="a JSONL file or folder of one data family (training samples)")
    parser.add_argument("--eval", required=True, help="env spec of held-out items to score (its `test` split)")
    parser.add_argument("--thinking", choices=["on", "off"], default="on", help="mode of the eval prompts")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--rows", type=int, default=16, help="conversations per step")
    parser.add_argument("--lr", type=float, default=5e-3)
    parser.add_argument("--size", default="hidden_size=64,num_layers=2,num_heads=4,num_kv_heads=2,intermediate_size=512",
                        help="TinySize fields, k=v comma-separated (head_dim too)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-new-tokens", type=int, default=200)
    parser.add_argument("--show", type=int, default=0, help="print this many failed outputs with the verifier's reason")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from hermes4.chat.render import render
    from hermes4.envs import Trajectory, get_env
    from hermes4.train.data import load_conversations
    from hermes4.train.tiny import TinySize, init_tiny

    size = TinySize(**{k: int(v) for k, v in (kv.split("=") for kv in args.size.split(",")) if k},
                    tie_embeddings=False)
    rendered = [render(c) for c in load_conversations(args.data)]
    folder = tempfile.mkdtemp(prefix="bench-learning-")
    init_tiny(folder, size=size, seed=args.seed, tokenizer_texts=[r.text for r in rendered])
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, attn_implementation="sdpa")

    samples = []
    for r in rendered:
        encoded = tokenizer(r.text, return_offsets_mapping=True)
        trained = [any(start <= offset[0] < end for start, end in r.spans) for offset in encoded["offset_mapping"]]
        samples.append((encoded["input_ids"], trained))
    print(f"{len(samples)} conversations, {sum(len(s[0]) for s in samples):,} tokens; model {size}", flush=True)

    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.95), weight_decay=0.0)
    rng, order, started = random.Random(args.seed), [], time.perf_counter()
    model.train()
    for step in range(args.steps):
        for group in optimizer.param_groups:  # 30 warm-up steps, then cosine to 0, as the recipe
            group["lr"] = args.lr * min(1.0, (step + 1) / 30) * 0.5 * (1 + math.cos(math.pi * step / args.steps))
        batch = []
        for _ in range(args.rows):
            if not order:
                order = list(range(len(samples)))
                rng.shuffle(order)
            batch.append(samples[order.pop()])
        width = max(len(ids) for ids, _ in batch)
        input_ids = torch.full((len(batch), width), tokenizer.pad_token_id)
        labels = torch.full((len(batch), width), -100)
        for row, (ids, trained) in enumerate(batch):
            input_ids[row, : len(ids)] = torch.tensor(ids)
            labels[row, : len(ids)] = torch.tensor([t if keep else -100 for t, keep in zip(ids, trained)])
        loss = model(input_ids=input_ids, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad()
        if step % 100 == 0 or step == args.steps - 1:
            print(f"step {step + 1}: loss {loss.item():.3f} ({time.perf_counter() - started:.0f}s)", flush=True)

    env = get_env(args.eval)
    items = env.items(split="test")
    prompts = [render(item.prompt.model_copy(update={"thinking": args.thinking == "on"}), add_generation_prompt=True).text
               for item in items]
    tokenizer.padding_side = "left"
    model.eval()
    passed, shown = 0, 0
    with torch.no_grad():
        for start in range(0, len(prompts), 50):
            encoded = tokenizer(prompts[start:start + 50], return_tensors="pt", padding=True)
            outputs = model.generate(**encoded, max_new_tokens=args.max_new_tokens, do_sample=False,
                                     pad_token_id=tokenizer.pad_token_id)
            for offset, output in enumerate(outputs):
                text = tokenizer.decode(output[encoded["input_ids"].shape[1]:], skip_special_tokens=True)
                verdict = env.verify(items[start + offset], Trajectory.from_text(text))
                passed += verdict.status == "pass"
                if verdict.status != "pass" and shown < args.show:
                    shown += 1
                    print(f"--- failed {items[start + offset].id}: {verdict.details}\n{prompts[start + offset]}{text}")
    epochs = args.steps * args.rows / len(samples)
    print(f"held-out accuracy {passed}/{len(items)} = {100 * passed / len(items):.1f}% after {args.steps} steps "
          f"x {args.rows} conversations ({epochs:.1f} epochs), lr {args.lr}, {args.size}")


if __name__ == "__main__":
    main()
