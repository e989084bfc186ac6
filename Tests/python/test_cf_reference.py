"""The classical CF models (`pop`, `bpr-mf`, `ease`) against independent references on real MovieLens
100K, through the pipeline (`tca run`) and `tca score`:

- EASE's B equals a dense NumPy EASE (X from the samples artifact's train split, np.linalg.inv);
- metrics.json equals a NumPy full ranking of the scores `tca score` writes (ties count against the
  target), for pop, whose scores tie a lot, and for the other two;
- one epoch of BPR-MF equals a NumPy re-implementation that draws the same numbers (xoshiro256**
  seeded by SplitMix64, Lemire's bounded integers, Box–Muller, Fisher–Yates, rejection-sampled
  negatives, in pure Python integers) and, where PyTorch is installed, the same epoch taken by
  torch.nn.Embedding + torch.optim.Adam.

The interaction matrix X of these models holds, per user, the items of the user's train samples
(history items and targets).
"""
from __future__ import annotations

import json
import math
import pathlib
import struct

import numpy as np
import pytest

from cf_support import pipeline_stages, split_arrays, tca, write_pipeline
from conftest import SHARED, need_shared

ML100K = "movielens/ml-100k/u.data"
PIPELINE = "ml-100k-classic"
BPR_SEED = 7
EASE_LAMBDA = 500.0
CUTOFFS = [1, 5, 10, 20]


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    """ml-100k's ingest and prepare, then ease, pop and one epoch of bpr-mf; returns (home, runs)."""
    need_shared(ML100K)
    home = tmp_path_factory.mktemp("cf-reference")
    stages = pipeline_stages("ml-100k")
    entries = {
        "ingest": stages["ingest"],
        "prepare": stages["prepare"],
        "cf-ease": {"uses": "cf", "params": {"model": "ease", "lambda": EASE_LAMBDA}},
        "cf-pop": {"uses": "cf", "params": {"model": "pop"}},
        "cf-bpr": {"uses": "cf", "params": {"model": "bpr-mf", "seed": BPR_SEED, "max_epochs": 1}},
    }
    path = write_pipeline(home, PIPELINE, entries)
    tca("run", "-q", str(path), home=home, data=SHARED)
    return home, home / "runs" / PIPELINE


def read_safetensors(path: pathlib.Path) -> dict[str, np.ndarray]:
    data = path.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    header.pop("__metadata__", None)
    tensors = {}
    for name, entry in header.items():
        assert entry["dtype"] == "F32", f"{name}: {entry['dtype']}"
        begin, end = entry["data_offsets"]
        values = np.frombuffer(data, dtype="<f4", count=(end - begin) // 4, offset=8 + length + begin)
        tensors[name] = values.reshape(entry["shape"])
    return tensors


def model_card(cf: pathlib.Path) -> dict:
    return json.loads((cf / "model.json").read_text())


def interaction_matrix(samples: pathlib.Path, users: int, items: int) -> np.ndarray:
    """X (users + 1) × items, bool: X[u, i - 1] when item i is in a train sample of user u."""
    user_ids = np.load(samples / "train.user.npy").astype(np.int64)
    targets = np.load(samples / "train.target.npy").astype(np.int64)
    offsets = np.load(samples / "train.history.offsets.npy").astype(np.int64)
    values = np.load(samples / "train.history.values.npy").astype(np.int64)
    matrix = np.zeros((users + 1, items), dtype=bool)
    matrix[user_ids, targets - 1] = True
    matrix[np.repeat(user_ids, np.diff(offsets)), values - 1] = True
    return matrix


def score(home: pathlib.Path, cf: pathlib.Path, samples: pathlib.Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    output = home / f"scores-{cf.name}-{split}"
    tca("score", "-q", "--cf", str(cf), "--samples", str(samples), "--split", split, "--output", str(output),
        home=home)
    return np.load(output / "scores.npy"), np.load(output / "ranks.npy")


def numpy_ranks(scores: np.ndarray, targets: np.ndarray, histories: list[np.ndarray], exclude: bool) -> np.ndarray:
    """Items scoring >= the target's, other than the target (and its distinct history items, if excluded)."""
    rows = np.arange(len(targets))
    target_scores = scores[rows, targets.astype(np.int64) - 1]
    ranks = (scores >= target_scores[:, None]).sum(axis=1) - 1
    if exclude:
        for row, (target, history) in enumerate(zip(targets, histories)):
            excluded = np.unique(history)
            excluded = excluded[excluded != target].astype(np.int64)
            ranks[row] -= int((scores[row, excluded - 1] >= target_scores[row]).sum())
    ranks[np.isnan(target_scores)] = scores.shape[1] - 1
    return ranks


def numpy_metrics(ranks: np.ndarray) -> dict[str, float]:
    metrics = {"count": len(ranks)}
    for cutoff in CUTOFFS:
        hit = ranks < cutoff
        metrics[f"HR@{cutoff}"] = float(hit.mean())
        metrics[f"NDCG@{cutoff}"] = float(np.where(hit, 1.0 / np.log2(ranks + 2.0), 0.0).mean())
    return metrics


# ------------------------------------------------------------------------------------------ EASE


def test_ease_weights_equal_a_dense_numpy_ease(pipeline):
    home, runs = pipeline
    cf, samples = runs / "cf-ease", runs / "prepare"
    card = model_card(cf)
    assert card["architecture"] == "ease"
    items, users = card["item_count"], card["user_count"]
    weights = read_safetensors(cf / "model.safetensors")["B"]
    assert weights.shape == (items, items)

    x = interaction_matrix(samples, users, items).astype(np.float64)
    gram = x.T @ x
    gram[np.diag_indices(items)] += EASE_LAMBDA
    inverse = np.linalg.inv(gram)
    reference = inverse / -np.diag(inverse)
    np.fill_diagonal(reference, 0.0)
    assert np.abs(weights - reference).max() < 1e-4
    assert np.all(np.diag(weights) == 0)

    # A sample's scores: the sum of the rows of B of its distinct history items.
    scores, _ = score(home, cf, samples, "test")
    _, _, histories = split_arrays(samples, "test")
    for row in range(0, len(histories), 97):
        expected = weights[np.unique(histories[row]).astype(np.int64) - 1].astype(np.float64).sum(axis=0)
        assert np.abs(scores[row] - expected).max() < 1e-5


# ------------------------------------------------------------------------------------------ metrics


@pytest.mark.parametrize("entry", ["cf-pop", "cf-ease", "cf-bpr"])
def test_metrics_equal_a_numpy_ranking_of_the_scores(pipeline, entry):
    home, runs = pipeline
    cf, samples = runs / entry, runs / "prepare"
    reported = json.loads((cf / "metrics.json").read_text())
    exclude = reported["exclude_history"]
    for split in ["valid", "test"]:
        scores, ranks = score(home, cf, samples, split)
        _, targets, histories = split_arrays(samples, split)
        assert scores.dtype == np.float32 and scores.shape == (len(targets), model_card(cf)["item_count"])
        expected = numpy_ranks(scores, targets, histories, exclude)
        assert np.array_equal(ranks, expected)
        ours = reported[split]
        theirs = numpy_metrics(expected)
        assert ours["count"] == theirs["count"]
        for key, value in theirs.items():
            assert abs(ours[key] - value) < 1e-12, f"{entry} {split} {key}: {ours[key]} vs {value}"


def test_pop_scores_are_the_column_sums_of_x_and_tie_a_lot(pipeline):
    home, runs = pipeline
    cf, samples = runs / "cf-pop", runs / "prepare"
    card = model_card(cf)
    x = interaction_matrix(samples, card["user_count"], card["item_count"])
    item_scores = read_safetensors(cf / "model.safetensors")["item_scores"]
    assert np.array_equal(item_scores, x.sum(axis=0).astype(np.float32))
    scores, _ = score(home, cf, samples, "test")
    assert np.array_equal(scores, np.broadcast_to(item_scores, scores.shape))
    assert len(np.unique(item_scores)) < card["item_count"] / 2  # ties matter for the ranks checked above


# ------------------------------------------------------------------------------------------ BPR-MF

MASK = (1 << 64) - 1


class SeededGenerator:
    """PipelineCore's SeededGenerator: xoshiro256** seeded through SplitMix64."""

    def __init__(self, seed: int):
        state = seed & MASK
        words = []
        for _ in range(4):
            state = (state + 0x9E3779B97F4A7C15) & MASK
            z = state
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
            words.append(z ^ (z >> 31))
        self.s0, self.s1, self.s2, self.s3 = words

    def next(self) -> int:
        s0, s1, s2, s3 = self.s0, self.s1, self.s2, self.s3
        product = (s1 * 5) & MASK
        result = ((((product << 7) | (product >> 57)) & MASK) * 9) & MASK
        shifted = (s1 << 17) & MASK
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= shifted
        s3 = ((s3 << 45) | (s3 >> 19)) & MASK
        self.s0, self.s1, self.s2, self.s3 = s0, s1, s2, s3
        return result

    def next_int(self, bound: int) -> int:
        """Lemire's method: the high word of next() * bound, rejecting low words below 2^64 mod bound."""
        product = self.next() * bound
        if (product & MASK) < bound:
            threshold = ((1 << 64) - bound) % bound
            while (product & MASK) < threshold:
                product = self.next() * bound
        return product >> 64

    def next_unit(self) -> float:
        return (self.next() >> 11) * (1.0 / 9007199254740992.0)


def normals(generator: SeededGenerator, count: int, deviation: float) -> np.ndarray:
    """Box–Muller pairs: r = sqrt(-2 ln(1 - u1)), then deviation·r·cos(2πu2), deviation·r·sin(2πu2)."""
    values = np.empty(count, dtype=np.float32)
    index = 0
    while index < count:
        radius = math.sqrt(-2.0 * math.log(1.0 - generator.next_unit()))
        angle = 2.0 * math.pi * generator.next_unit()
        values[index] = deviation * radius * math.cos(angle)
        if index + 1 < count:
            values[index + 1] = deviation * radius * math.sin(angle)
        index += 2
    return values


def bpr_draws(x: np.ndarray, factors: int, seed: int):
    """Initial factors, the pairs of X, the first epoch's order and negatives, as BPRMF draws them."""
    users, items = x.shape[0] - 1, x.shape[1]
    generator = SeededGenerator(seed)
    user_factors = np.zeros((users + 1, factors), dtype=np.float32)
    item_factors = np.zeros((items + 1, factors), dtype=np.float32)
    user_factors[1:] = normals(generator, users * factors, 0.01).reshape(users, factors)
    item_factors[1:] = normals(generator, items * factors, 0.01).reshape(items, factors)
    user_factors[~x.any(axis=1)] = 0
    full = x.sum(axis=1) == items
    pair_users, pair_columns = np.nonzero(x & ~full[:, None])  # row-major: user, then item ascending
    pair_items = pair_columns + 1
    order = list(range(len(pair_users)))
    for index in range(len(order) - 1, 0, -1):
        other = generator.next_int(index + 1)
        order[index], order[other] = order[other], order[index]
    order = np.array(order, dtype=np.int64)
    negatives = np.empty(len(order), dtype=np.int64)
    for position, pair in enumerate(order):
        user = pair_users[pair]
        while True:
            negative = 1 + generator.next_int(items)
            if not x[user, negative - 1]:
                break
        negatives[position] = negative
    return user_factors, item_factors, pair_users[order], pair_items[order], negatives


def numpy_bpr_epoch(x: np.ndarray, hyper: dict, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """One epoch in float32, in BPRMF's documented order of operations."""
    users, items, batch_users, batch_items, negatives = bpr_draws(x, hyper["factors"], seed)
    factors = hyper["factors"]
    f32 = np.float32
    moments = {name: (np.zeros_like(table), np.zeros_like(table)) for name, table in [("u", users), ("i", items)]}
    for step, start in enumerate(range(0, len(batch_users), hyper["batch_size"]), start=1):
        end = min(len(batch_users), start + hyper["batch_size"])
        size = end - start
        u_ids, i_ids, j_ids = batch_users[start:end], batch_items[start:end], negatives[start:end]
        u, i, j = users[u_ids], items[i_ids], items[j_ids]
        difference = i - j
        x_uij = np.zeros(size, dtype=f32)
        for k in range(factors):
            x_uij += u[:, k] * difference[:, k]
        c = np.array([(-1.0 / (1.0 + math.exp(float(value)))) / size for value in x_uij], dtype=f32)[:, None]
        decay = f32(2 * hyper["regularization"] / size)
        user_gradient = np.zeros_like(users)
        np.add.at(user_gradient, u_ids, c * difference + decay * u)
        item_gradient = np.zeros_like(items)
        interleaved_ids = np.empty(2 * size, dtype=np.int64)
        interleaved_ids[0::2], interleaved_ids[1::2] = i_ids, j_ids
        contributions = np.empty((2 * size, factors), dtype=f32)
        contributions[0::2] = c * u + decay * i
        contributions[1::2] = (-c) * u + decay * j
        np.add.at(item_gradient, interleaved_ids, contributions)
        step_size = f32(-(hyper["lr"] / (1 - 0.9**step)))
        correction = f32(math.sqrt(1 - 0.999**step))
        for table, gradient, (first, second) in [(users, user_gradient, moments["u"]),
                                                 (items, item_gradient, moments["i"])]:
            first += f32(1 - 0.9) * (gradient - first)
            second *= f32(0.999)
            second += f32(1 - 0.999) * (gradient * gradient)
            table += step_size * (first / (np.sqrt(second) / correction + f32(1e-8)))
    return users, items


def torch_bpr_epoch(x: np.ndarray, hyper: dict, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The same epoch with nn.Embedding (dense gradients) and torch.optim.Adam."""
    import torch

    users, items, batch_users, batch_items, negatives = bpr_draws(x, hyper["factors"], seed)
    user_table = torch.nn.Embedding.from_pretrained(torch.from_numpy(users), freeze=False)
    item_table = torch.nn.Embedding.from_pretrained(torch.from_numpy(items), freeze=False)
    optimizer = torch.optim.Adam([user_table.weight, item_table.weight], lr=hyper["lr"])
    for start in range(0, len(batch_users), hyper["batch_size"]):
        end = min(len(batch_users), start + hyper["batch_size"])
        u = user_table(torch.from_numpy(batch_users[start:end]))
        i = item_table(torch.from_numpy(batch_items[start:end]))
        j = item_table(torch.from_numpy(negatives[start:end]))
        x_uij = (u * (i - j)).sum(dim=1)
        norms = u.pow(2).sum() + i.pow(2).sum() + j.pow(2).sum()
        loss = -torch.nn.functional.logsigmoid(x_uij).mean() + hyper["regularization"] * norms / (end - start)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return user_table.weight.detach().numpy(), item_table.weight.detach().numpy()


def bpr_setup(pipeline):
    _, runs = pipeline
    cf, samples = runs / "cf-bpr", runs / "prepare"
    card = model_card(cf)
    assert card["architecture"] == "bpr-mf"
    given = card["hyperparameters"]
    hyper = {
        "factors": given.get("factors", 64),
        "lr": given.get("lr", given.get("learning_rate", 1e-3)),
        "regularization": given.get("regularization", 1e-4),
        "batch_size": given.get("batch_size", 4096),
    }
    assert card["seed"] == BPR_SEED and card["epochs"] == 1
    x = interaction_matrix(samples, card["user_count"], card["item_count"])
    tensors = read_safetensors(cf / "model.safetensors")
    return x, hyper, tensors


def test_bpr_mf_epoch_equals_a_numpy_reimplementation_with_the_same_draws(pipeline):
    x, hyper, tensors = bpr_setup(pipeline)
    users, items = numpy_bpr_epoch(x, hyper, BPR_SEED)
    assert tensors["user_factors"].shape == users.shape and tensors["item_factors"].shape == items.shape
    assert np.abs(tensors["user_factors"] - users).max() < 1e-4
    assert np.abs(tensors["item_factors"] - items).max() < 1e-4
    assert np.all(tensors["item_factors"][0] == 0) and np.all(tensors["user_factors"][0] == 0)


def test_bpr_mf_epoch_equals_torch_adam_on_the_same_draws(pipeline):
    pytest.importorskip("torch")
    x, hyper, tensors = bpr_setup(pipeline)
    users, items = torch_bpr_epoch(x, hyper, BPR_SEED)
    assert np.abs(tensors["user_factors"] - users).max() < 1e-4
    assert np.abs(tensors["item_factors"] - items).max() < 1e-4


def test_bpr_mf_scores_are_dot_products_of_the_factors(pipeline):
    home, runs = pipeline
    cf, samples = runs / "cf-bpr", runs / "prepare"
    tensors = read_safetensors(cf / "model.safetensors")
    scores, _ = score(home, cf, samples, "test")
    users, _, _ = split_arrays(samples, "test")
    expected = tensors["user_factors"][users.astype(np.int64)].astype(np.float64) @ tensors["item_factors"][1:].T
    assert np.abs(scores - expected).max() < 1e-6
