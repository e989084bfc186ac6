"""The trainer (trainer/tca_trainer: loss, batches, constrained decoding, metrics, a tiny end-to-end run).

Oracles: a dense float64 restatement of the official loss (critical88/TCA4Rec models/LLM4Rec.py `forward`:
one-hot mixed with the CF distribution, logits masked to −∞ outside the trie children with MSL, maximum
subtracted, exp(s/τ), −log Σ ỹ·e + log Σ e) written here from the formula; PyTorch's cross-entropy for α = 0;
finite differences (torch.autograd.gradcheck, float64) for the gradients; the shard reader and the trie arrays
read independently for the batches; a teacher-forced forward pass for the beam scores; hand-worked rankings
for HR/NDCG. The real data is the demo pipeline with prompts (Pipelines/demo-train.yaml, a 2-epoch SASRec),
built with the `tca` binary into a temporary store.
"""
from __future__ import annotations

import json
import math
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import torch

from conftest import BIN, ROOT

sys.path.insert(0, str(ROOT / "trainer"))

from tca_trainer.artifact import SoftLabelArtifact  # noqa: E402
from tca_trainer.data import BatchOptions, ShardBatches, collate  # noqa: E402
from tca_trainer.evaluate import constrained_beam_search, ranking_metrics  # noqa: E402
from tca_trainer.loss import soft_ntp_loss  # noqa: E402
from tca_trainer.model import add_lora, label_logits, load_base_model  # noqa: E402
from tca_trainer.shards import SoftLabelShards, soft_labels  # noqa: E402
from tca_trainer.train import TrainConfig, train  # noqa: E402

PIPELINE = "trainer-test"
PIPELINE_YAML = """\
extends: {parent}
description: trainer tests (Tests/python/test_trainer.py); demo-train with a brief SASRec.
stages:
  cf:
    params:
      max_epochs: 2
"""


# ------------------------------------------------------------------------------------------------
# The dense official loss, restated from the formula (float64)


def dense_official_loss(logits: torch.Tensor, targets: torch.Tensor, soft: list[dict[int, float]], alpha: float,
                        tau: float, allowed: list[list[int]] | None) -> torch.Tensor:
    """ỹ = (1 − α)·onehot(y) + α·p as a dense [S, V] tensor; with `allowed`, logits outside it are −∞ and ỹ
    is 0 there; loss = mean(log Σ exp((s − max)/τ) − log Σ ỹ·exp((s − max)/τ))."""
    s = logits.double()
    count, vocabulary = s.shape
    labels = torch.zeros(count, vocabulary, dtype=torch.float64)
    cf = torch.zeros(count, vocabulary, dtype=torch.float64)
    for row in range(count):
        labels[row, targets[row]] = 1.0
        for token, probability in soft[row].items():
            cf[row, token] += probability
    mixed = (1 - alpha) * labels + alpha * cf
    if allowed is not None:
        mask = torch.zeros(count, vocabulary, dtype=torch.bool)
        for row, tokens in enumerate(allowed):
            mask[row, tokens] = True
        s = s.masked_fill(~mask, float("-inf"))
        mixed = mixed.masked_fill(~mask, 0.0)
    s = s - s.max(dim=-1, keepdim=True).values
    e = torch.exp(s / tau)
    return (-torch.log((e * mixed).sum(-1)) + torch.log(e.sum(-1))).mean()


def random_problem(seed: int, positions: int = 12, vocabulary: int = 50, width: int = 7):
    """Random logits, labels, trie children (containing the label) and top-k soft labels over them."""
    generator = np.random.default_rng(seed)
    logits = torch.from_numpy(generator.normal(0, 3, (positions, vocabulary))).float()
    targets, soft, allowed = [], [], []
    soft_ids = np.zeros((positions, width), np.int64)
    soft_probs = np.zeros((positions, width), np.float32)
    for row in range(positions):
        children = generator.choice(vocabulary, size=generator.integers(1, 15), replace=False)
        target = int(generator.choice(children))
        probabilities = generator.dirichlet(np.ones(len(children)))
        order = np.argsort(-probabilities)[:width]          # keep the top `width`: not renormalised
        kept = {int(children[i]): float(np.float32(probabilities[i])) for i in order}
        soft_ids[row, :len(order)] = children[order]
        soft_probs[row, :len(order)] = probabilities[order]
        targets.append(target)
        soft.append(kept)
        allowed.append(sorted(int(c) for c in children))
    widest = max(len(a) for a in allowed)
    allowed_ids = np.zeros((positions, widest), np.int64)
    allowed_mask = np.zeros((positions, widest), bool)
    for row, tokens in enumerate(allowed):
        allowed_ids[row, :len(tokens)] = tokens
        allowed_mask[row, :len(tokens)] = True
    return (logits, torch.tensor(targets), torch.from_numpy(soft_ids), torch.from_numpy(soft_probs), soft, allowed,
            torch.from_numpy(allowed_ids), torch.from_numpy(allowed_mask))


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("alpha", [0.0, 0.3, 0.9, 1.0])
def test_loss_equals_the_dense_official_formula_without_msl(seed, alpha):
    logits, targets, ids, probs, soft, _, _, _ = random_problem(seed)
    ours = soft_ntp_loss(logits, targets, ids, probs, alpha, 1.0)
    reference = dense_official_loss(logits, targets, soft, alpha, 1.0, None)
    assert abs(float(ours) - float(reference)) < 1e-5, (float(ours), float(reference))


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("alpha,tau", [(0.0, 4.5), (0.5, 4.5), (0.5, 1.0), (1.0, 2.0)])
def test_loss_equals_the_dense_official_formula_with_msl(seed, alpha, tau):
    logits, targets, ids, probs, soft, allowed, allowed_ids, allowed_mask = random_problem(seed)
    ours = soft_ntp_loss(logits, targets, ids, probs, alpha, tau, allowed_ids, allowed_mask)
    reference = dense_official_loss(logits, targets, soft, alpha, tau, allowed)
    assert abs(float(ours) - float(reference)) < 1e-5, (float(ours), float(reference))
    # MSL changes the value whenever a node has fewer children than the vocabulary.
    assert abs(float(ours) - float(soft_ntp_loss(logits, targets, ids, probs, alpha, tau))) > 1e-3


def test_loss_with_large_logits_stays_finite_and_exact():
    logits, targets, ids, probs, soft, allowed, allowed_ids, allowed_mask = random_problem(5)
    logits = logits * 400 + 1e4                      # exp would overflow without the max subtraction
    for mask in (None, allowed):
        ours = soft_ntp_loss(logits, targets, ids, probs, 0.4, 4.5, *((allowed_ids, allowed_mask) if mask else ()))
        reference = dense_official_loss(logits, targets, soft, 0.4, 4.5, mask)
        assert math.isfinite(float(ours))
        assert abs(float(ours) - float(reference)) < 1e-4 * max(1.0, abs(float(reference)))


@pytest.mark.parametrize("tau", [1.0, 4.5])
def test_alpha_zero_is_cross_entropy(tau):
    logits, targets, ids, probs, *_ = random_problem(3)
    ours = soft_ntp_loss(logits, targets, ids, probs, 0.0, tau)
    expected = torch.nn.functional.cross_entropy(logits / tau, targets)
    assert abs(float(ours) - float(expected)) < 1e-5


@pytest.mark.parametrize("msl", [False, True])
def test_gradients_match_finite_differences(msl):
    logits, targets, ids, probs, _, _, allowed_ids, allowed_mask = random_problem(4, positions=5, vocabulary=20)
    logits = logits.double().requires_grad_(True)
    extra = (allowed_ids, allowed_mask) if msl else (None, None)

    def function(x):
        return soft_ntp_loss(x, targets, ids, probs.double(), 0.6, 4.5 if msl else 1.0, *extra)

    assert torch.autograd.gradcheck(function, (logits,), eps=1e-6, atol=1e-7, rtol=1e-5)
    # The soft labels move the gradient away from plain cross-entropy's.
    gradient, = torch.autograd.grad(function(logits), logits)
    plain, = torch.autograd.grad(torch.nn.functional.cross_entropy(logits, targets), logits)
    assert (gradient - plain).abs().max() > 1e-3


def test_empty_batch_gives_zero_loss():
    loss = soft_ntp_loss(torch.zeros(0, 10), torch.zeros(0, dtype=torch.long), torch.zeros(0, 3, dtype=torch.long),
                         torch.zeros(0, 3), 0.5, 1.0)
    assert float(loss) == 0.0


# ------------------------------------------------------------------------------------------------
# Metrics, hand-worked


def test_hit_ratio_and_ndcg_by_title_match():
    rankings = [["a", "b", "c"],                       # hit at rank 1
                ["x", "y", "t"],                       # hit at rank 3
                ["p"] * 4 + ["q", "r", "s", "u", "v", "t2"],  # target "t2" at rank 10
                []]                                    # nothing generated
    targets = ["a", "t", "t2", "z"]
    metrics = ranking_metrics(rankings, targets)
    assert metrics["samples"] == 4
    assert metrics["hr@1"] == pytest.approx(1 / 4)
    assert metrics["hr@3"] == pytest.approx(2 / 4)
    assert metrics["hr@5"] == pytest.approx(2 / 4)
    assert metrics["hr@10"] == pytest.approx(3 / 4)
    assert metrics["ndcg@1"] == pytest.approx(1 / 4)
    assert metrics["ndcg@3"] == pytest.approx((1 + 1 / math.log2(4)) / 4)
    assert metrics["ndcg@5"] == pytest.approx((1 + 0.5) / 4)
    assert metrics["ndcg@10"] == pytest.approx((1 + 0.5 + 1 / math.log2(11)) / 4)


# ------------------------------------------------------------------------------------------------
# Real shards: the demo pipeline with prompts


@pytest.fixture(scope="module")
def artifact_dir(tmp_path_factory) -> pathlib.Path:
    """The soft-labels artifact of demo-train (train, valid, test; official prompt) with a 2-epoch SASRec."""
    root = tmp_path_factory.mktemp("trainer")
    pipeline = root / f"{PIPELINE}.yaml"
    pipeline.write_text(PIPELINE_YAML.format(parent=ROOT / "Pipelines" / "demo-train.yaml"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_ARRAY", "JOB_COMPLETION"))}
    env.update(TCA_HOME=str(root / "home"), TCA_PIPELINES=str(ROOT / "Pipelines"))
    result = subprocess.run([str(BIN / "tca"), "run", "-q", str(pipeline)], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return (root / "home" / "runs" / PIPELINE / "soft-labels").resolve()


def children_from_trie_arrays(directory: pathlib.Path, node: int) -> list[int]:
    token = np.load(directory / "trie.node_token.npy")
    offsets = np.load(directory / "trie.child_offsets.npy")
    children = np.load(directory / "trie.children.npy")
    return sorted(int(token[c]) for c in children[offsets[node]:offsets[node + 1]])


@pytest.mark.parametrize("official_positions", [False, True])
def test_batches_from_real_shards_are_left_padded_with_labels_at_the_end(artifact_dir, official_positions):
    artifact = SoftLabelArtifact(artifact_dir)
    shards = SoftLabelShards(artifact_dir, split="train")
    samples = [shards[i] for i in (0, 5, 17, 301, 4100, 9000)]
    batch = collate(samples, artifact, BatchOptions(official_positions=official_positions, msl=True))
    assert artifact.special.bos is None                      # the demo's trained tokenizer has no BOS
    width = batch.input_ids.shape[1]
    assert batch.keep == max(len(s["labels"]) for s in samples)
    position = 0
    for row, sample in enumerate(samples):
        labels = sample["labels"].astype(np.int64)
        sequence = np.concatenate([sample["input_ids"].astype(np.int64), labels[:-1]])
        length = len(sequence)
        mask = batch.attention_mask[row].numpy()
        assert mask[:width - length].sum() == 0 and mask[width - length:].all()           # left padding
        assert (batch.input_ids[row, width - length:].numpy() == sequence).all()
        assert (batch.position_ids[row, width - length:].numpy() == np.arange(length)).all()
        count = len(labels)
        supervised = range(count) if not official_positions else range(count - 2)
        for j in supervised:
            assert int(batch.rows[position]) == row
            column = int(batch.columns[position])
            assert column == batch.keep - count + j
            # The logits at that column are computed at the token right before label j.
            sequence_column = width - batch.keep + column
            assert int(batch.input_ids[row, sequence_column]) == (labels[j - 1] if j else sample["input_ids"][-1])
            assert int(batch.targets[position]) == labels[j] and int(batch.nodes[position]) == sample["nodes"][j]
            ids, probs = soft_labels(sample, j)
            kept = batch.soft_probs[position] > 0
            assert batch.soft_ids[position, :len(ids)].tolist() == ids.tolist()
            assert np.allclose(batch.soft_probs[position, :len(ids)].numpy(), probs)
            assert not kept[len(ids):].any()
            allowed = batch.allowed_ids[position][batch.allowed_mask[position]].tolist()
            assert allowed == children_from_trie_arrays(artifact_dir, int(sample["nodes"][j]))
            assert int(labels[j]) in allowed
            position += 1
    assert position == batch.positions
    if official_positions:     # labels 0 … P − 3: title tokens 1 … n − 1, never the last title token nor EOS
        assert batch.positions == sum(len(s["labels"]) - 2 for s in samples)
        assert artifact.special.eos not in batch.targets.tolist()


def test_a_separator_bos_goes_between_prompt_and_title_when_the_tokenizer_has_one(artifact_dir):
    artifact = SoftLabelArtifact(artifact_dir)
    artifact.special = type(artifact.special)(bos=7, eos=artifact.special.eos, pad=artifact.special.pad,
                                              vocab_size=artifact.special.vocab_size)
    sample = SoftLabelShards(artifact_dir, split="train")[3]
    batch = collate([sample], artifact, BatchOptions(separator_bos=True))
    labels = sample["labels"].astype(np.int64)
    expected = np.concatenate([sample["input_ids"], [7], labels[:-1]])
    assert batch.input_ids[0].tolist() == expected.tolist()
    width = len(expected)
    assert int(batch.input_ids[0, width - batch.keep + int(batch.columns[0])]) == 7   # BOS predicts label 0
    without = collate([sample], artifact, BatchOptions(separator_bos=False))
    assert without.input_ids.shape[1] == width - 1


def test_a_sample_without_a_prompt_is_refused_with_what_to_do(artifact_dir):
    artifact = SoftLabelArtifact(artifact_dir)
    sample = dict(SoftLabelShards(artifact_dir, split="train")[0])
    del sample["input_ids"]
    with pytest.raises(ValueError, match="prompt: official"):
        collate([sample], artifact, BatchOptions())


def test_workers_share_the_split_disjointly_and_completely(artifact_dir):
    dataset = ShardBatches(str(artifact_dir), "valid", batch_size=64, options=BatchOptions(), shuffle_buffer=256,
                           seed=3)
    loader = torch.utils.data.DataLoader(dataset, batch_size=None, num_workers=2)
    seen = [int(i) for batch in loader for i in batch.sample_ids]
    total = len(SoftLabelShards(artifact_dir, split="valid"))
    assert len(seen) == total and sorted(seen) == list(range(total))
    assert seen != sorted(seen)                      # shuffled
    again = [int(i) for batch in torch.utils.data.DataLoader(dataset, batch_size=None, num_workers=2)
             for i in batch.sample_ids]
    assert again == seen                             # the same seed and epoch: the same order
    dataset.set_epoch(1)
    assert [int(i) for batch in dataset for i in batch.sample_ids] != seen


@pytest.fixture(scope="module")
def tiny_model(artifact_dir):
    artifact = SoftLabelArtifact(artifact_dir)
    torch.set_num_threads(2)
    base, _ = load_base_model("tiny", artifact, torch.device("cpu"), seed=11)
    return add_lora(base).eval()


def test_constrained_beam_search_returns_existing_titles_along_trie_paths(artifact_dir, tiny_model):
    artifact = SoftLabelArtifact(artifact_dir)
    titles = {json.loads(line)["title"] for line in (artifact_dir / "items.jsonl").read_text().splitlines()}
    data = ShardBatches(str(artifact_dir), "test", batch_size=4, options=BatchOptions(), limit=8)
    eos = artifact.special.eos
    for batch in data:
        results = constrained_beam_search(tiny_model, batch, artifact, num_beams=10)
        assert len(results) == batch.size
        for row, predictions in enumerate(results):
            assert 1 <= len(predictions) <= 10
            assert len({p["title"] for p in predictions}) == len(predictions)
            scores = [p["score"] for p in predictions]
            assert scores == sorted(scores, reverse=True)
            for prediction in predictions:
                assert prediction["title"] in titles
                tokens = prediction["tokens"]
                assert tokens[-1] == eos and eos not in tokens[:-1]      # nothing after EOS
                node = 0
                for token in tokens:                                    # every step is a trie child
                    assert token in children_from_trie_arrays(artifact_dir, node)
                    node = artifact.step(node, token)
                assert artifact.leaf_title[node] == prediction["title"]
            # The score is the beam's mean log-probability under the model's full softmax (as Hugging Face
            # ranks beams; the trie mask does not renormalise): check the best one by teacher forcing.
            best = predictions[0]
            prompt = batch.input_ids[row][batch.attention_mask[row].bool()][: int(batch.attention_mask[row].sum())
                                                                             - (int(batch.label_counts[row]) - 1)]
            sequence = torch.cat([prompt, torch.tensor(best["tokens"])]).unsqueeze(0)
            with torch.no_grad():
                logits = tiny_model(input_ids=sequence).logits[0].double()
            logp = torch.log_softmax(logits, dim=-1)
            start = len(prompt) - 1
            total = sum(float(logp[start + i, t]) for i, t in enumerate(best["tokens"]))
            assert best["score"] == pytest.approx(total / len(best["tokens"]), abs=2e-4)


def test_label_logits_are_the_full_forward_logits_at_the_supervised_positions(artifact_dir, tiny_model):
    artifact = SoftLabelArtifact(artifact_dir)
    shards = SoftLabelShards(artifact_dir, split="train")
    batch = collate([shards[i] for i in (1, 2, 3)], artifact, BatchOptions())
    with torch.no_grad():
        ours = label_logits(tiny_model, batch)
        full = tiny_model(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                          position_ids=batch.position_ids).logits
    width = batch.input_ids.shape[1]
    expected = full[batch.rows, width - batch.keep + batch.columns]
    assert torch.allclose(ours, expected, atol=1e-5)


def test_tiny_training_run_lowers_the_loss_and_writes_metrics(artifact_dir, tmp_path):
    output = tmp_path / "run"
    config = TrainConfig(artifact=str(artifact_dir), output=str(output), model="tiny", alpha=0.5, max_steps=60,
                         learning_rate=3e-3, warmup_steps=5, eval_samples=24, eval_batch_size=8, threads=2,
                         log_every=1000, seed=5)
    metrics = train(config)
    curve = [json.loads(line) for line in (output / "curve.jsonl").read_text().splitlines()]
    assert [c["step"] for c in curve] == list(range(1, 61))
    assert metrics["loss_end"] < metrics["loss_start"] - 0.05, (metrics["loss_start"], metrics["loss_end"])
    written = json.loads((output / "metrics.json").read_text())
    evaluation = written["evaluation"]["metrics"]
    assert evaluation["samples"] == 24
    for k in (1, 3, 5, 10):
        assert 0.0 <= evaluation[f"hr@{k}"] <= 1.0 and 0.0 <= evaluation[f"ndcg@{k}"] <= evaluation[f"hr@{k}"]
    predictions = [json.loads(line) for line in (output / "predictions.jsonl").read_text().splitlines()]
    assert len(predictions) == 24
    titles = {json.loads(line)["title"] for line in (artifact_dir / "items.jsonl").read_text().splitlines()}
    assert all(p["title"] in titles for row in predictions for p in row["predictions"])
    hits = sum(row["hit_rank"] is not None and row["hit_rank"] <= 10 for row in predictions)
    assert evaluation["hr@10"] == pytest.approx(hits / 24)
    # Only the adapter is kept, and it loads back onto the same seeded tiny base.
    adapter = output / "adapter"
    assert (adapter / "adapter_config.json").exists() and (adapter / "adapter_model.safetensors").exists()
    from safetensors.torch import load_file
    weights = load_file(adapter / "adapter_model.safetensors")
    assert weights and all("lora_" in name for name in weights)
