"""The tiny recipe's tokenizer as a lever (issue 19): tokens per training conversation with the tokenizer trained on
the shipped general corpus alone (the peer) vs the one trained on the corpus plus the run's own SFT data
(`model.tiny.tokenizer_from_data`), per data family, on conversations the domain tokenizer did NOT learn from.

The run's SFT sources are split per family: the first half of each joins the domain corpus, the second half is
measured. Prints mean tokens per conversation for both tokenizers and the ratio, and the trace words that became
one token. Needs a finished data stage (e.g. `hermes4 run recipes/tiny.yaml` or `--from data`):

    .venv/bin/python benchmarks/bench_tiny_tokenizer.py [--run runs/tiny] [--recipe recipes/tiny.yaml]
"""

from __future__ import annotations

import argparse

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", default="runs/tiny", help="a run folder of recipes/tiny.yaml with its data stage done")
    parser.add_argument("--recipe", default="recipes/tiny.yaml", help="the recipe the run folder was made with")
    parser.add_argument("--vocab-size", type=int, default=2048)
    args = parser.parse_args()

    from hermes4.recipe import resolve_recipe
    from hermes4.train.mix import MixSpec
    from hermes4.train.tiny import build_tokenizer, domain_texts

    run = resolve_recipe(args.recipe, out=args.run)
    mix = MixSpec.parse(run.train.data.mix)
    families = {source.label: list(domain_texts(MixSpec(sources=[source]), format=run.train.model.format))
                for source in mix.sources}
    learn = [text for texts in families.values() for text in texts[: len(texts) // 2]]
    general = build_tokenizer(run.train.model.format, vocab_size=args.vocab_size)
    domain = build_tokenizer(run.train.model.format, vocab_size=args.vocab_size, extra_texts=learn)

    print(f"{'family':<16} {'held out':>8} {'general':>8} {'domain':>8} {'ratio':>6}")
    totals = [0, 0]
    for name, texts in families.items():
        held_out = texts[len(texts) // 2:]
        if not held_out:
            continue
        g = sum(len(general(t)["input_ids"]) for t in held_out)
        d = sum(len(domain(t)["input_ids"]) for t in held_out)
        totals[0] += g
        totals[1] += d
        print(f"{name:<16} {len(held_out):>8} {g / len(held_out):>8.0f} {d / len(held_out):>8.0f} {g / d:>5.2f}x")
    print(f"{'all':<16} {'':>8} {'':>8} {'':>8} {totals[0] / totals[1]:>5.2f}x  (general / domain tokens)")
    words = ["Column", "carry", "borrow", "remaining", "python", "properties", "required"]
    print("one token with the domain tokenizer:", [w for w in words if w in domain.get_vocab()],
          "| with the general one:", [w for w in words if w in general.get_vocab()])


if __name__ == "__main__":
    main()
