"""Packed training rows: documents side by side in one row, positions restarting per document, pre-shifted labels.

The contract with the trainer:

- `PackedBatch.labels` is ALREADY SHIFTED: `logits[:, t]` is scored against `labels[:, t]`
  (`labels[b, t] == input_ids[b, t + 1]` where that next token is trained and in the same document, else
  -100). So compute `cross_entropy(logits.view(-1, V), labels.view(-1), ignore_index=-100, reduction="sum")`
  and never pass `labels=` to a Hugging Face model (it would shift a second time).
- The last token of every document is -100: it would predict the next document's first token.
- `position_ids` restart at 0 for every document; the padding at the end of a row is one more segment
  (positions from 0, labels -100) so it never attends to, or is attended by, a real document.
- Attention stays inside documents through `hermes4.train.attention.document_attention_kwargs(batch, model)`.

`PackedLoader` turns a `Packing` of `TokenizedSamples` into micro-batches, deterministically, with an
integer cursor for exact resume, and shards rows across data-parallel ranks: global micro-batch `i` takes
the next `world_size × micro_batch_size` rows of the epoch's bin order, and rank `r` gets rows
`[(i·world_size + r)·micro_batch_size, …+micro_batch_size)`. Every rank yields the same number of
micro-batches; slots past the last bin are all-padding rows with no supervised tokens (so no sample is
dropped and the loss normalisation, a global supervised-token count, is unaffected).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:
    from hermes4.train.data import TokenizedSamples
    from hermes4.train.packing import Packing

IGNORE_INDEX = -100


@dataclass
class PackedBatch:
    """B rows of T tokens. `labels` are pre-shifted (see the module docstring)."""

    input_ids: torch.Tensor  # [B, T] long
    labels: torch.Tensor  # [B, T] long; -100 = no loss
    position_ids: torch.Tensor  # [B, T] long; restart at 0 per document (and for the padding segment)
    document_ids: torch.Tensor  # [B, T] long; segment index within the row, padding is the last segment
    doc_lens: list[list[int]]  # real documents per row, in row order (padding excluded)
    sample_indices: list[list[int]]  # which TokenizedSamples entries fill each row
    num_supervised_tokens: int  # labels != -100 in this micro-batch

    @property
    def seq_len(self) -> int:
        return self.input_ids.shape[1]

    @property
    def num_tokens(self) -> int:
        """Real (non-padding) tokens."""
        return sum(sum(row) for row in self.doc_lens)

    def segment_lens(self) -> list[list[int]]:
        """Per row: the document lengths followed by the padding segment (if any); each row sums to T."""
        out = []
        for row in self.doc_lens:
            pad = self.seq_len - sum(row)
            out.append(row + [pad] if pad else list(row))
        return out

    def cu_seqlens(self) -> torch.Tensor:
        """int32 cumulative segment lengths over the flattened [B·T] tokens (varlen flash attention layout)."""
        flat = [length for row in self.segment_lens() for length in row]
        return torch.tensor(np.concatenate(([0], np.cumsum(flat))), dtype=torch.int32, device=self.input_ids.device)

    def max_seqlen(self) -> int:
        return max((length for row in self.segment_lens() for length in row), default=0)

    def attention_flops_terms(self) -> int:
        """Σ ℓ² over real documents: the attention work actually done (for MFU), not B·T²."""
        return sum(length * length for row in self.doc_lens for length in row)

    def to(self, device: torch.device | str) -> PackedBatch:
        return PackedBatch(
            input_ids=self.input_ids.to(device),
            labels=self.labels.to(device),
            position_ids=self.position_ids.to(device),
            document_ids=self.document_ids.to(device),
            doc_lens=self.doc_lens,
            sample_indices=self.sample_indices,
            num_supervised_tokens=self.num_supervised_tokens,
        )


def collate_rows(
    rows: list[list[tuple[np.ndarray, np.ndarray]]],
    *,
    seq_len: int,
    pad_token_id: int,
    sample_indices: list[list[int]] | None = None,
) -> PackedBatch:
    """Build a PackedBatch from rows of documents, each `(input_ids, loss_mask)` (mask 1 = token is trained).

    A document longer than the room left in its row is an error (packing never splits a sample).
    """
    batch = len(rows)
    input_ids = np.full((batch, seq_len), pad_token_id, dtype=np.int64)
    labels = np.full((batch, seq_len), IGNORE_INDEX, dtype=np.int64)
    position_ids = np.zeros((batch, seq_len), dtype=np.int64)
    document_ids = np.zeros((batch, seq_len), dtype=np.int64)
    doc_lens: list[list[int]] = []
    for b, documents in enumerate(rows):
        start = 0
        lens = []
        for d, (ids, mask) in enumerate(documents):
            ids = np.asarray(ids, dtype=np.int64)
            mask = np.asarray(mask)
            length = len(ids)
            if length == 0:
                raise ValueError(f"row {b}: document {d} is empty")
            if len(mask) != length:
                raise ValueError(f"row {b}: document {d} has {length} ids but {len(mask)} loss-mask entries")
            if start + length > seq_len:
                raise ValueError(f"row {b}: documents need {start + length} tokens, more than seq_len {seq_len}")
            end = start + length
            input_ids[b, start:end] = ids
            position_ids[b, start:end] = np.arange(length)
            document_ids[b, start:end] = d
            # Token t predicts token t+1 of the same document, and only where t+1 is trained.
            targets = np.where(mask[1:].astype(bool), ids[1:], IGNORE_INDEX)
            labels[b, start : end - 1] = targets
            lens.append(length)
            start = end
        if start < seq_len:
            position_ids[b, start:] = np.arange(seq_len - start)
            document_ids[b, start:] = len(documents)
        doc_lens.append(lens)
    labels_t = torch.from_numpy(labels)
    return PackedBatch(
        input_ids=torch.from_numpy(input_ids),
        labels=labels_t,
        position_ids=torch.from_numpy(position_ids),
        document_ids=torch.from_numpy(document_ids),
        doc_lens=doc_lens,
        sample_indices=sample_indices if sample_indices is not None else [[] for _ in rows],
        num_supervised_tokens=int((labels_t != IGNORE_INDEX).sum()),
    )


class PackedLoader:
    """Micro-batches of packed rows for one data-parallel rank, forever (epoch after epoch), resumable.

    Epoch 0 reads bins in the packing's order (BFD bins come shuffled with the packing seed, first-fit bins in
    data order); epoch e > 0 reads a permutation drawn from `(seed, e)`. `state_dict()` is `{"cursor": micro-batches handed out}`; loading it
    resumes with exactly the next micro-batch. All ranks must use the same packing, seed and batch size.
    """

    def __init__(
        self,
        samples: TokenizedSamples,
        packing: Packing,
        *,
        seq_len: int,
        micro_batch_size: int,
        pad_token_id: int,
        rank: int = 0,
        world_size: int = 1,
        seed: int = 0,
    ):
        if packing.capacity > seq_len:
            raise ValueError(f"seq_len: {seq_len} is shorter than the packing capacity {packing.capacity}")
        if len(packing.lengths) != len(samples):
            raise ValueError(f"packing covers {len(packing.lengths)} samples but the dataset has {len(samples)}")
        if micro_batch_size < 1 or world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"need micro_batch_size >= 1 and 0 <= rank < world_size, got {micro_batch_size}, {rank}, {world_size}")
        self.samples = samples
        self.packing = packing
        self.seq_len = seq_len
        self.micro_batch_size = micro_batch_size
        self.pad_token_id = pad_token_id
        self.rank = rank
        self.world_size = world_size
        self.seed = seed
        self.cursor = 0

    @property
    def micro_batches_per_epoch(self) -> int:
        rows_per_global_micro_batch = self.world_size * self.micro_batch_size
        return max(1, -(-self.packing.num_bins // rows_per_global_micro_batch))

    def state_dict(self) -> dict:
        return {"cursor": self.cursor}

    def load_state_dict(self, state: dict) -> None:
        self.cursor = int(state["cursor"])

    def _bin_order(self, epoch: int) -> np.ndarray:
        if epoch == 0:
            return np.arange(self.packing.num_bins)
        return np.random.default_rng([self.seed, epoch]).permutation(self.packing.num_bins)

    def batch_at(self, cursor: int) -> PackedBatch:
        """The micro-batch this rank gets at global micro-batch index `cursor` (pure: no state change)."""
        epoch, step = divmod(cursor, self.micro_batches_per_epoch)
        order = self._bin_order(epoch)
        first = (step * self.world_size + self.rank) * self.micro_batch_size
        rows, indices = [], []
        for slot in range(first, first + self.micro_batch_size):
            members = self.packing.bin(int(order[slot])).tolist() if slot < len(order) else []
            rows.append([self.samples.sample(i) for i in members])
            indices.append(members)
        return collate_rows(rows, seq_len=self.seq_len, pad_token_id=self.pad_token_id, sample_indices=indices)

    def __next__(self) -> PackedBatch:
        batch = self.batch_at(self.cursor)
        self.cursor += 1
        return batch

    def __iter__(self) -> Iterator[PackedBatch]:
        return self
