"""Training batches straight from the soft-label shards: prompt + title, left-padded, with sparse soft labels.

One sample's sequence is `input_ids` (the prompt the soft-labels stage rendered, starting with BOS when its
`prompt_bos` was set and the tokenizer has one), then — with `separator_bos` and a tokenizer that has a BOS —
one BOS token, as the official code puts between the prompt and the title (its labels start after the last
BOS), then the title tokens `labels[:-1]`. The last label (EOS) is never an input: the logits at the last
title token predict it. Sequences are padded on the left (the official `padding_side="left"`), so every
sample's label positions are the last ones of its row: the logits at column L − P + j (P = the sample's label
count, L the batch's width) predict `labels[j]`. A model then needs logits for the last max P columns only.

Supervised positions: all P (title tokens and EOS) by default; with `official_positions`, labels 0 … P − 3,
i.e. title tokens 1 … n − 1 of the n title tokens, as the official code (it masks the last input token and
its titles carry no EOS).

`ShardBatches` is a torch `IterableDataset` over a split's shards (sharded by rank and DataLoader worker as
`shards.SoftLabelShards.iter` does), with a seeded shuffle buffer per epoch, yielding collated `Batch`es.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, fields
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
import torch

from .artifact import SoftLabelArtifact
from .shards import SoftLabelShards, _distributed_rank

__all__ = ["Batch", "BatchOptions", "ShardBatches", "collate"]


@dataclass(frozen=True)
class BatchOptions:
    """How samples become sequences and which positions are supervised."""

    separator_bos: bool = True
    official_positions: bool = False
    msl: bool = False
    max_prompt_tokens: int | None = None


@dataclass
class Batch:
    """A collated batch (torch tensors; B samples, L columns, S supervised positions, K kept soft labels,
    C trie children).

    - input_ids, attention_mask, position_ids: [B, L], left-padded (position ids count real tokens only).
    - keep: how many last columns carry label positions (max P over the batch); the model's logits for
      those columns are [B, keep, V].
    - rows, columns: [S] where supervised position s sits in those kept logits.
    - targets, nodes: [S] its label token and trie node.
    - soft_ids, soft_probs: [S, K] its kept CF children and probabilities (padding: probability 0).
    - allowed_ids, allowed_mask: [S, C] the children of its node (only with MSL, else None).
    - sample_ids, items, users: [B] per sample; label_counts: [B] P per sample.
    """

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    position_ids: torch.Tensor
    keep: int
    rows: torch.Tensor
    columns: torch.Tensor
    targets: torch.Tensor
    nodes: torch.Tensor
    soft_ids: torch.Tensor
    soft_probs: torch.Tensor
    allowed_ids: torch.Tensor | None
    allowed_mask: torch.Tensor | None
    sample_ids: torch.Tensor
    items: torch.Tensor
    users: torch.Tensor
    label_counts: torch.Tensor

    def to(self, device: torch.device | str) -> Batch:
        """The batch with every tensor on `device`."""
        values = {}
        for field in fields(self):
            value = getattr(self, field.name)
            values[field.name] = value.to(device, non_blocking=True) if isinstance(value, torch.Tensor) else value
        return Batch(**values)

    @property
    def size(self) -> int:
        return int(self.input_ids.shape[0])

    @property
    def positions(self) -> int:
        return int(self.targets.shape[0])


def prompt_ids(sample: Mapping[str, Any], artifact: SoftLabelArtifact, options: BatchOptions) -> np.ndarray:
    """The tokens before the title: the recorded prompt (cut on the left to `max_prompt_tokens`, keeping a
    leading BOS), then the separating BOS when asked for and the tokenizer has one."""
    if "input_ids" not in sample:
        raise ValueError("the shards have no input_ids column (no prompt); rerun the soft-labels stage with "
                         "prompt: official (or custom), as Pipelines/demo-train.yaml does")
    prompt = np.asarray(sample["input_ids"], dtype=np.int64)
    limit = options.max_prompt_tokens
    if limit is not None and len(prompt) > limit:
        if artifact.prompt_bos and len(prompt) and prompt[0] == artifact.special.bos:
            prompt = np.concatenate([prompt[:1], prompt[len(prompt) - limit + 1:]])
        else:
            prompt = prompt[len(prompt) - limit:]
    if options.separator_bos and artifact.special.bos is not None:
        prompt = np.concatenate([prompt, [artifact.special.bos]])
    if len(prompt) == 0:
        raise ValueError(f"sample {int(sample['sample_id'])} has an empty prompt and no BOS; the first label "
                         f"has no position to be predicted from")
    return prompt


def collate(samples: Sequence[Mapping[str, Any]], artifact: SoftLabelArtifact, options: BatchOptions,
            pad_id: int | None = None) -> Batch:
    """Collate soft-label samples (shards.py's NumPy dicts) into a left-padded `Batch`.

    - Parameters:
      - samples: decoded shard samples with `input_ids`.
      - artifact: the artifact's trie (children for MSL) and special tokens.
      - options: BOS separator, supervised positions, MSL, prompt cut.
      - pad_id: the padding token (default: the tokenizer's PAD, else EOS); masked out anyway.
    """
    pad = pad_id if pad_id is not None else (artifact.special.pad if artifact.special.pad is not None
                                             else artifact.special.eos)
    sequences, label_counts = [], []
    for sample in samples:
        labels = np.asarray(sample["labels"], dtype=np.int64)
        sequences.append(np.concatenate([prompt_ids(sample, artifact, options), labels[:-1]]))
        label_counts.append(len(labels))
    width = max(len(sequence) for sequence in sequences)
    keep = max(label_counts)
    batch = len(samples)
    input_ids = np.full((batch, width), pad, dtype=np.int64)
    attention = np.zeros((batch, width), dtype=np.int64)
    for row, sequence in enumerate(sequences):
        input_ids[row, width - len(sequence):] = sequence
        attention[row, width - len(sequence):] = 1
    positions = np.maximum(np.cumsum(attention, axis=1) - 1, 0)

    rows, columns, targets, nodes, soft_rows = [], [], [], [], []
    for row, (sample, count) in enumerate(zip(samples, label_counts)):
        chosen = np.arange(count) if not options.official_positions else np.arange(max(count - 2, 0))
        rows.append(np.full(len(chosen), row))
        columns.append(chosen + keep - count)
        targets.append(np.asarray(sample["labels"], dtype=np.int64)[chosen])
        nodes.append(np.asarray(sample["nodes"], dtype=np.int64)[chosen])
        offsets = np.asarray(sample["soft_offsets"], dtype=np.int64)
        soft_rows.extend((sample, int(offsets[j]), int(offsets[j + 1])) for j in chosen)
    rows_array = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    width_k = max([end - begin for _, begin, end in soft_rows], default=1) or 1
    soft_ids = np.zeros((len(soft_rows), width_k), dtype=np.int64)
    soft_probs = np.zeros((len(soft_rows), width_k), dtype=np.float32)
    for position, (sample, begin, end) in enumerate(soft_rows):
        soft_ids[position, :end - begin] = sample["soft_ids"][begin:end]
        soft_probs[position, :end - begin] = sample["soft_probs"][begin:end]
    nodes_array = np.concatenate(nodes) if nodes else np.zeros(0, np.int64)
    allowed_ids = allowed_mask = None
    if options.msl:
        ids, mask = artifact.padded_children(nodes_array)
        allowed_ids, allowed_mask = torch.from_numpy(ids), torch.from_numpy(mask)

    def scalars(name: str) -> torch.Tensor:
        return torch.tensor([int(sample[name]) for sample in samples], dtype=torch.int64)

    return Batch(
        input_ids=torch.from_numpy(input_ids), attention_mask=torch.from_numpy(attention),
        position_ids=torch.from_numpy(positions), keep=keep, rows=torch.from_numpy(rows_array),
        columns=torch.from_numpy(np.concatenate(columns) if columns else np.zeros(0, np.int64)),
        targets=torch.from_numpy(np.concatenate(targets) if targets else np.zeros(0, np.int64)),
        nodes=torch.from_numpy(nodes_array), soft_ids=torch.from_numpy(soft_ids),
        soft_probs=torch.from_numpy(soft_probs), allowed_ids=allowed_ids, allowed_mask=allowed_mask,
        sample_ids=scalars("sample_id"), items=scalars("item"), users=scalars("user"),
        label_counts=torch.tensor(label_counts, dtype=torch.int64))


class ShardBatches(torch.utils.data.IterableDataset):
    """Collated batches of one split, read from its shards; each rank and DataLoader worker gets a disjoint
    share (shards.SoftLabelShards.iter), shuffled through a seeded buffer that changes with `set_epoch`.

    Use with `DataLoader(dataset, batch_size=None, num_workers=N)`.

    - Parameters:
      - directory: the soft-labels artifact directory.
      - split: the split folder (train, valid, test).
      - batch_size: samples per batch (the last batch of a share may be smaller).
      - options: see `BatchOptions`.
      - shuffle_buffer: samples held for shuffling (0: index order, as evaluation wants).
      - seed: the shuffle seed (with the epoch, rank and worker).
      - limit: stop after this many samples of the share (None: all).
      - verify: check shard hashes while reading.
    """

    def __init__(self, directory: str, split: str, batch_size: int, options: BatchOptions,
                 shuffle_buffer: int = 0, seed: int = 0, limit: int | None = None, verify: bool = True) -> None:
        super().__init__()
        self.shards = SoftLabelShards(directory, split, verify=verify)
        if "input_ids" not in self.shards.columns and len(self.shards):
            raise ValueError(f"'{self.shards.index.path}': the shards have no input_ids column (no prompt); rerun "
                             f"the soft-labels stage with prompt: official (or custom), as Pipelines/demo-train.yaml "
                             f"does")
        self.artifact = SoftLabelArtifact(directory)
        self.batch_size = batch_size
        self.options = options
        self.shuffle_buffer = shuffle_buffer
        self.seed = seed
        self.limit = limit
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Reshuffle for another epoch (call before iterating; workers see it when they start)."""
        self.epoch = epoch

    def samples(self) -> Iterator[Mapping[str, Any]]:
        """This rank's and worker's samples, shuffled when `shuffle_buffer` > 0."""
        rank, world_size = _distributed_rank()
        info = torch.utils.data.get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        stream = self.shards.iter(rank, world_size, worker, workers)
        if self.limit is not None:
            stream = (sample for _, sample in zip(range(self.limit), stream))
        if self.shuffle_buffer <= 0:
            yield from stream
            return
        generator = random.Random(hash((self.seed, self.epoch, rank, worker)) & 0xFFFFFFFF)
        buffer: list[Mapping[str, Any]] = []
        for sample in stream:
            if len(buffer) < self.shuffle_buffer:
                buffer.append(sample)
                continue
            slot = generator.randrange(len(buffer))
            yield buffer[slot]
            buffer[slot] = sample
        generator.shuffle(buffer)
        yield from buffer

    def __iter__(self) -> Iterator[Batch]:
        pending: list[Mapping[str, Any]] = []
        for sample in self.samples():
            pending.append(sample)
            if len(pending) == self.batch_size:
                yield collate(pending, self.artifact, self.options)
                pending = []
        if pending:
            yield collate(pending, self.artifact, self.options)
