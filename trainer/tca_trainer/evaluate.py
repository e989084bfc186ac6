"""Evaluation: beam search constrained to the title trie, then HR@K and NDCG@K by title match.

Decoding follows the official code (critical88/TCA4Rec models/LLM4Rec.py `generate`): Hugging Face beam search
(`num_beams` = max K, as many sequences returned, length penalty 1) with a logits processor that, at every
step, leaves only the trie children of the node the beam's generated tokens lead to (the processor sees the
beam's log-probabilities over the whole vocabulary and sets every other token to −∞, so scores are not
renormalised over the children, as there). A beam whose path has ended (after EOS) or left the trie may only
emit EOS. Our trie ends every title with EOS, so a finished beam is exactly one title's leaf; its title is
the leaf's (items with identical titles share a leaf). Sequences that are not a complete trie path (possible
only when a node has fewer children than there are beams) are dropped from the ranking.

Metrics (the official `calculate_metrics`): per sample, r[m] = 1 when the m-th generated title equals the
target's title; HR@K = mean of [any hit in the first K]; NDCG@K = mean of Σ_{m<K} r[m] / log2(m + 2) (ideal
DCG 1, a single relevant item).
"""
from __future__ import annotations

import math
from typing import Any, Iterable, Sequence

import numpy as np
import torch

from .artifact import SoftLabelArtifact
from .data import Batch

__all__ = ["KS", "TrieLogitsProcessor", "constrained_beam_search", "ranking_metrics"]

KS = (1, 3, 5, 10)


class TrieLogitsProcessor:
    """A Hugging Face logits processor that masks every token but the trie children of each beam's node.

    - Parameters:
      - artifact: the trie (children CSR, token → child steps).
      - prompt_length: the width of the (left-padded) prompt batch; generated tokens start there.
    """

    def __init__(self, artifact: SoftLabelArtifact, prompt_length: int) -> None:
        self.artifact = artifact
        self.prompt_length = prompt_length
        self._nodes: dict[tuple[int, ...], int | None] = {(): 0}

    def node(self, generated: tuple[int, ...]) -> int | None:
        """The node the generated tokens lead to (memoised by prefix), or None off the trie."""
        if generated in self._nodes:
            return self._nodes[generated]
        parent = self.node(generated[:-1])
        node = None if parent is None else self.artifact.step(parent, generated[-1])
        self._nodes[generated] = node
        return node

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        generated = input_ids[:, self.prompt_length:].tolist()
        rows, columns = [], []
        eos = self.artifact.special.eos
        for row, tokens in enumerate(generated):
            node = self.node(tuple(tokens))
            allowed = self.artifact.children(node) if node is not None else ()
            if len(allowed) == 0:
                allowed = (eos,)
            rows.append(np.full(len(allowed), row))
            columns.append(np.asarray(allowed, dtype=np.int64))
        mask = torch.ones_like(scores, dtype=torch.bool)
        row_index = torch.from_numpy(np.concatenate(rows)).to(scores.device)
        column_index = torch.from_numpy(np.concatenate(columns)).to(scores.device)
        mask[row_index, column_index] = False
        return scores.masked_fill(mask, float("-inf"))


def _prompts(batch: Batch, artifact: SoftLabelArtifact) -> tuple[torch.Tensor, torch.Tensor]:
    """The batch's prompt columns only (drops the teacher-forced title tokens), still left-padded."""
    counts = batch.label_counts.tolist()
    lengths = batch.attention_mask.sum(dim=1).tolist()
    prompt_lengths = [length - (count - 1) for length, count in zip(lengths, counts)]
    width = max(prompt_lengths)
    pad = artifact.special.pad if artifact.special.pad is not None else artifact.special.eos
    input_ids = torch.full((batch.size, width), pad, dtype=torch.long, device=batch.input_ids.device)
    attention = torch.zeros((batch.size, width), dtype=torch.long, device=batch.input_ids.device)
    total = batch.input_ids.shape[1]
    for row, (length, count) in enumerate(zip(prompt_lengths, counts)):
        end = total - (count - 1)
        input_ids[row, width - length:] = batch.input_ids[row, end - length:end]
        attention[row, width - length:] = 1
    return input_ids, attention


@torch.no_grad()
def constrained_beam_search(model: Any, batch: Batch, artifact: SoftLabelArtifact, num_beams: int = 10) -> list[list[dict]]:
    """Trie-constrained beam search from each sample's prompt.

    - Returns: per sample, up to `num_beams` predictions, best first: `{"title", "tokens", "leaf", "score"}`
      (score: the beam's summed log-probability divided by its length, as Hugging Face ranks beams).
    """
    input_ids, attention = _prompts(batch, artifact)
    processor = TrieLogitsProcessor(artifact, input_ids.shape[1])
    from transformers import LogitsProcessorList

    special = artifact.special
    outputs = model.generate(
        input_ids=input_ids, attention_mask=attention, do_sample=False, num_beams=num_beams,
        num_return_sequences=num_beams, max_new_tokens=max(artifact.max_depth, 1), min_new_tokens=1,
        length_penalty=1.0, early_stopping=False, logits_processor=LogitsProcessorList([processor]),
        pad_token_id=special.pad if special.pad is not None else special.eos, eos_token_id=special.eos,
        bos_token_id=special.bos, output_scores=True, return_dict_in_generate=True, use_cache=True,
        temperature=None, top_p=None, top_k=None)
    sequences = outputs.sequences[:, input_ids.shape[1]:].tolist()
    scores = outputs.sequences_scores.float().tolist() if getattr(outputs, "sequences_scores", None) is not None \
        else [0.0] * len(sequences)
    results = []
    for row in range(batch.size):
        predictions = []
        for beam in range(num_beams):
            index = row * num_beams + beam
            tokens = sequences[index]
            if special.eos not in tokens:
                continue
            tokens = tokens[:tokens.index(special.eos) + 1]
            leaf = artifact.walk(tokens)
            if leaf is None or leaf not in artifact.leaf_title or not math.isfinite(scores[index]):
                continue
            predictions.append({"title": artifact.leaf_title[leaf], "tokens": tokens, "leaf": leaf,
                                "score": scores[index]})
        results.append(predictions)
    return results


def ranking_metrics(rankings: Iterable[Sequence[str]], targets: Iterable[str], ks: Sequence[int] = KS) -> dict:
    """HR@K and NDCG@K (official `calculate_metrics`) of generated title lists against target titles.

    - Returns: `{"hr@K": …, "ndcg@K": …, "samples": n}` (means over samples; 0 when there are none).
    """
    top = max(ks)
    hits = {k: 0.0 for k in ks}
    gains = {k: 0.0 for k in ks}
    count = 0
    for ranking, target in zip(rankings, targets):
        count += 1
        relevance = [1 if title == target else 0 for title in list(ranking)[:top]]
        relevance += [0] * (top - len(relevance))
        for k in ks:
            hits[k] += 1.0 if any(relevance[:k]) else 0.0
            gains[k] += sum(r / math.log2(m + 2) for m, r in enumerate(relevance[:k]))
    result: dict[str, Any] = {}
    for k in ks:
        result[f"hr@{k}"] = hits[k] / count if count else 0.0
    for k in ks:
        result[f"ndcg@{k}"] = gains[k] / count if count else 0.0
    result["samples"] = count
    return result
