"""The soft-labels benchmark's shard-writing NumPy peer (Benchmarks/softlabels_bench.py, (b')): what it writes
must be shards our reader accepts, hashes checked, with exactly the values it was given, or its timing would
not be of the same work as ours; and its agreement check must catch a probability that differs."""
from __future__ import annotations

import sys

import numpy as np

from conftest import ROOT

sys.path.insert(0, str(ROOT / "Benchmarks"))
sys.path.insert(0, str(ROOT / "trainer"))

import softlabels_bench as bench  # noqa: E402
from tca_trainer.shards import SoftLabelShards  # noqa: E402


def peer_samples(count: int) -> list[dict]:
    """Samples with every shape width MDS has for our arrays: empty, under 256, over 255 values."""
    rng = np.random.default_rng(7)
    samples = []
    for index in range(count):
        positions = 1 + index % 4
        kept = [1 if position % 2 else 300 if index == 2 and position == 0 else 5 for position in range(positions)]
        offsets = np.concatenate([[0], np.cumsum(kept)]).astype(np.uint32)
        probabilities = rng.random(int(offsets[-1])).astype(np.float32)
        samples.append({"sample_id": index, "user": 10 + index, "item": 100 + index,
                        "history": np.arange(index, dtype=np.uint32),
                        "labels": rng.integers(0, 128_000, positions).astype(np.uint32),
                        "nodes": rng.integers(0, 9_000, positions).astype(np.uint32),
                        "soft_offsets": offsets,
                        "soft_ids": rng.integers(0, 128_000, int(offsets[-1])).astype(np.uint32),
                        "soft_probs": probabilities})
    return samples


def write(directory, samples, shard_samples=2):
    writer = bench.NumpyShardWriter(directory, shard_samples, 1, "float32")
    for sample in samples:
        writer.append(sample["sample_id"], sample["user"], sample["item"], sample["history"], sample["labels"],
                      sample["nodes"], sample["soft_offsets"], sample["soft_ids"], sample["soft_probs"])
    writer.close()


def test_the_peers_shards_read_back_verified_with_the_values_written(tmp_path):
    samples = peer_samples(5)
    write(tmp_path, samples)
    read = list(SoftLabelShards(str(tmp_path), verify=True))
    assert len(read) == len(samples)
    for got, want in zip(read, samples):
        got = got if isinstance(got, dict) else vars(got)
        for name, value in want.items():
            assert np.array_equal(np.asarray(got[name]), np.asarray(value)), name
    parsed = list(bench.read_mds(tmp_path))
    assert [int(sample["sample_id"]) for sample in parsed] == list(range(5))


def test_the_agreement_check_catches_a_changed_probability(tmp_path):
    samples = peer_samples(4)
    write(tmp_path, samples)
    fields = ("labels", "soft_offsets", "soft_ids", "soft_probs", "history", "user", "item")
    peer = [{name: sample[name].tolist() for name in fields} for sample in bench.read_mds(tmp_path)]
    ours = list(bench.read_mds(tmp_path))
    same = bench.compare_shards(peer, ours)
    assert same["disagreements"] == 0 and same["positions"] == sum(len(s["labels"]) for s in samples)
    peer[1]["soft_probs"][0] += 2e-6
    changed = bench.compare_shards(peer, ours)
    assert changed["disagreements"] == 1 and changed["max_abs_diff"] > 1e-6
    peer[1]["soft_probs"][0] -= 2e-6
    peer[3]["labels"][0] += 1
    assert bench.compare_shards(peer, ours)["disagreements"] == 1
