"""The tiny model factory: a small random-init Qwen3 model and a locally trained Hermes tokenizer in one folder.

`init_tiny(DIR)` writes a Hugging Face folder that `AutoTokenizer` / `AutoModelForCausalLM` load offline in a
second or two: a byte-level BPE tokenizer trained on the corpus shipped next to this module (English, numbers,
JSON, code) and, when given, on the model's own training conversations (`domain_texts`), with every Hermes
control and tag token as a single added token, eos/pad set for the format and
the exported chat template saved; and a Qwen3ForCausalLM with random weights in safetensors. The same seed
gives the same tokenizer and the same weights. The tokenizer adds no BOS/EOS by itself: rendered text carries
its own, so `tokenizer(text)` gives exactly the ids the chat layer computes.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from hermes4.chat.formats import CONTROL_TOKENS, PAD_TOKEN, TAG_TOKENS, get_format
from hermes4.chat.template import export_template

CORPUS_PATH = Path(__file__).with_name("tiny_corpus.txt")

# Qwen2/3's pre-tokenizer split (letters in runs, punctuation runs, newlines apart, digits one by one), except that
# a digit keeps the space before it, as words do: " 7" is one token, not "Ġ" + "7". Traces of the tiny recipe are
# mostly numbers; this makes them ~12% shorter (1.13x fewer tokens on the multi-step traces).
_SPLIT_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+| ?\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)


@dataclass(frozen=True)
class TinySize:
    """Model dimensions; the defaults make a ~0.5M-parameter model that runs a forward pass in milliseconds."""

    hidden_size: int = 64
    num_layers: int = 2
    num_heads: int = 4
    num_kv_heads: int = 2
    intermediate_size: int = 128
    max_position_embeddings: int = 8192
    tie_embeddings: bool = True
    # Width of one attention head; None = hidden_size // num_heads. Qwen3 lets it differ from that (its q/k/v
    # projections map hidden_size to num_heads x head_dim), so heads can be wider than a tiny residual stream.
    head_dim: int | None = None

    def __post_init__(self) -> None:
        # A shape Qwen3 cannot build is refused when the size is made, whoever makes it (init_tiny, the CLI, the plan).
        if self.head_dim is not None and self.head_dim < 1:
            raise ValueError(f"tiny size: head_dim must be positive (or left out for hidden_size / num_heads), got {self.head_dim}")
        if (self.head_dim is None and self.hidden_size % self.num_heads) or self.num_heads % self.num_kv_heads:
            raise ValueError(
                f"tiny size: hidden_size ({self.hidden_size}) must divide by num_heads ({self.num_heads}) unless "
                f"head_dim is given, and num_heads by num_kv_heads ({self.num_kv_heads})"
            )

    @property
    def head_width(self) -> int:
        """The width of one attention head: `head_dim`, or hidden_size / num_heads when it is left out."""
        return self.head_dim or self.hidden_size // self.num_heads


def domain_texts(mix: Any, format: str = "chatml") -> Iterator[str]:
    """The rendered text of every conversation of a training mix (`hermes4.train.mix.MixSpec` or its config form),
    with each source's thinking / system-prompt rules applied: what the model will be trained on, as a tokenizer
    corpus."""
    from hermes4.chat.render import render
    from hermes4.train.data import load_conversations
    from hermes4.train.mix import MixSpec, apply_source_rules

    spec = mix if isinstance(mix, MixSpec) else MixSpec.parse(mix)
    for source in spec.sources:
        for conversation in load_conversations(source.path):
            yield render(apply_source_rules(conversation, source), format=format).text


def build_tokenizer(format: str = "chatml", *, vocab_size: int = 2048, corpus: Path = CORPUS_PATH,
                    hermes_tags: bool = True, extra_texts: Iterable[str] = ()):
    """Train the byte-level BPE tokenizer and wrap it as a `PreTrainedTokenizerFast` with the chat template.
    `hermes_tags=False` leaves out the think/tool tags, like a base model's tokenizer. `extra_texts` join the
    corpus: a tokenizer trained on the model's own domain gives its recurring words ("Column", "carry", the tool
    schema's keys) one token each, where the general corpus splits them into three or four; every sequence of the
    domain gets shorter, so the same training time covers more of it."""
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        pre_tokenizers,
        trainers,
    )
    from transformers import PreTrainedTokenizerFast

    fmt = get_format(format)
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(_SPLIT_PATTERN), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    # No post-processor: nothing is ever added around the text, and offsets stay untrimmed (every character
    # belongs to a token), which the loss masks rely on.
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=1,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
        special_tokens=[],
    )
    extra = iter(extra_texts)
    first = next(extra, None)
    if first is None:
        tokenizer.train([str(corpus)], trainer)
    else:
        # The corpus and the domain texts as one stream; the control and tag tokens are cut out of the texts (they
        # are added whole below, never learned as merges).
        control = re.compile("|".join(re.escape(t) for t in (*CONTROL_TOKENS, PAD_TOKEN, *TAG_TOKENS)))

        def texts() -> Iterator[str]:
            yield from corpus.read_text(encoding="utf-8").splitlines(keepends=True)
            for text in itertools.chain([first], extra):
                yield control.sub("\n", text)

        tokenizer.train_from_iterator(texts(), trainer)
    tokenizer.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in (*CONTROL_TOKENS, PAD_TOKEN)])
    if hermes_tags:
        tokenizer.add_tokens([AddedToken(t, special=False, normalized=False) for t in TAG_TOKENS])

    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=fmt.bos_token,
        eos_token=fmt.eos_token,
        pad_token=PAD_TOKEN,
        model_max_length=TinySize.max_position_embeddings,
        clean_up_tokenization_spaces=False,
    )
    wrapped.chat_template = export_template(fmt)
    return wrapped


def init_tiny(
    out_dir: str | Path,
    *,
    format: str = "chatml",
    size: TinySize | None = None,
    vocab_size: int = 2048,
    seed: int = 0,
    dtype: str = "float32",
    hermes_tags: bool = True,
    tokenizer_texts: Iterable[str] = (),
) -> Path:
    """Write a tiny Hugging Face model folder (tokenizer + Qwen3 random init) to `out_dir` and return its path.
    `tokenizer_texts` (e.g. `domain_texts(...)`) join the tokenizer's training corpus."""
    import torch
    from transformers import GenerationConfig, Qwen3Config, Qwen3ForCausalLM

    size = size or TinySize()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(format, vocab_size=vocab_size, hermes_tags=hermes_tags, extra_texts=tokenizer_texts)
    tokenizer.save_pretrained(out)

    fmt = get_format(format)
    eos_id = tokenizer.convert_tokens_to_ids(fmt.eos_token)
    pad_id = tokenizer.convert_tokens_to_ids(PAD_TOKEN)
    bos_id = tokenizer.convert_tokens_to_ids(fmt.bos_token) if fmt.bos_token else None
    config = Qwen3Config(
        vocab_size=len(tokenizer),
        hidden_size=size.hidden_size,
        intermediate_size=size.intermediate_size,
        num_hidden_layers=size.num_layers,
        num_attention_heads=size.num_heads,
        num_key_value_heads=size.num_kv_heads,
        head_dim=size.head_width,
        max_position_embeddings=size.max_position_embeddings,
        tie_word_embeddings=size.tie_embeddings,
        bos_token_id=bos_id,
        eos_token_id=eos_id,
        pad_token_id=pad_id,
        dtype=dtype,
    )
    # Seed a private generator state so the weights depend on `seed` only, not on what ran before.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Qwen3ForCausalLM(config)
    model.to(getattr(torch, dtype))
    model.generation_config = GenerationConfig(bos_token_id=bos_id, eos_token_id=eos_id, pad_token_id=pad_id)
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # a tiny folder needs no "writing shards" bar
    try:
        model.save_pretrained(out)
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    from hermes4.train.export import make_portable

    make_portable(out)  # loads in transformers 4.x too
    (out / "hermes4_tiny.json").write_text(
        json.dumps({"format": format, "seed": seed, "vocab_size": vocab_size, "size": asdict(size)}, indent=2) + "\n"
    )
    return out
