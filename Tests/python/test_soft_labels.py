"""The soft-labels stage on the real Toys and Games split (Llama 3.2 tokenizer), against independent oracles.

One test pipeline (written to a temporary folder, `extends:` the shipped toys-official-llama.yaml) trains
SASRec for two epochs and a popularity model, and computes four soft-label entries from them:

- `soft-labels`: the defaults (SASRec, float32, k 64, beta 1, train), 4096 samples per shard;
- `soft-labels-all`: the popularity model (`inputs: {cf: cf-pop}`: scores through the gather path, many
  exact ties, masses that underflow far from the best item), k all, beta 0.5, train and valid;
- `soft-labels-f16`: SASRec with float16 probabilities (rounded toward zero), beta 0.1, k 300 (the root
  keeps 300 of its 1,270 children, so arrays need uint16 shapes), history items excluded, train and valid;
- `soft-labels-prompt`: the defaults plus the official TCA4Rec prompt (`input_ids`).

Oracles: a brute-force float64 reference (enumerate the items under each prefix of the target's tokens,
softmax over them, group by next token) from the scores `tca score` writes; the samples artifact and the
trie arrays for every non-probability column; mosaicml-streaming's `StreamingDataset` (run in the
streaming environment through streaming_dump.py) for the bytes our reader decodes; one unpartitioned run
for partitioned runs and merges; the `tokenizers` library for the prompts; hand-broken copies for
`tca validate`.
"""
from __future__ import annotations

import hashlib
import json
import os
import pathlib
import shutil
import subprocess
import sys
from typing import Any

import numpy as np
import pytest
import zstandard

from streaming_dump import pack  # noqa: E402  (the dump's layout)
from conftest import BIN, ROOT, need_shared
from soft_label_reference import reference_distribution

sys.path.insert(0, str(ROOT / "trainer"))

from tca_trainer.shards import SoftLabelShards  # noqa: E402

STREAMING_PYTHON = pathlib.Path(os.environ.get("TCA_STREAMING_PYTHON", ROOT / ".venv-streaming" / "bin" / "python"))
DUMP_DIRECTORY = pathlib.Path(__file__).resolve().parent

PIPELINE = "soft-labels-test"
PARTS_PIPELINE = "soft-labels-parts"
SHARD_SAMPLES = 4096
# Each entry's stage parameters as the test means them (the reference reads these, not the artifact).
ENTRIES: dict[str, dict[str, Any]] = {
    "soft-labels": {"cf": "cf", "splits": ["train"], "k": 64, "beta": 1.0, "dtype": "float32",
                    "exclude_history": False, "prompt": False},
    "soft-labels-all": {"cf": "cf-pop", "splits": ["train", "valid"], "k": None, "beta": 0.5, "dtype": "float32",
                        "exclude_history": False, "prompt": False},
    "soft-labels-f16": {"cf": "cf", "splits": ["train", "valid"], "k": 300, "beta": 0.1, "dtype": "float16",
                        "exclude_history": True, "prompt": False},
    "soft-labels-prompt": {"cf": "cf", "splits": ["train"], "k": 64, "beta": 1.0, "dtype": "float32",
                           "exclude_history": False, "prompt": True},
}
SPLIT_SIZES = {"train": 10_000, "valid": 5_000}
ITEMS = 20_669
OFFICIAL_TEMPLATE = (
    "###Instruction:\nGiven the user interaction history, please recommendate the {domain} that user is most "
    "likely to view.\n\n###Input:\nUser Interaction Histories: {history}.\n\nThen the movie that user is most "
    "likely to watch is:\n###Response:")
LLAMA_BOS = 128_000
# Samples checked against the brute-force reference, per split (train spans two scoring batches of 256).
REFERENCE_SAMPLES = {"train": 300, "valid": 100}

PIPELINE_YAML = """\
extends: {parent}
description: soft-labels stage tests (Tests/python/test_soft_labels.py)
stages:
  cf:
    params:
      max_epochs: 2
  cf-pop:
    uses: cf
    params:
      model: pop
  soft-labels:
    params:
      shard_samples: {shard_samples}
  soft-labels-all:
    uses: soft-labels
    inputs:
      cf: cf-pop
    params:
      k: all
      splits: [train, valid]
      beta: 0.5
      shard_samples: {shard_samples}
  soft-labels-f16:
    uses: soft-labels
    params:
      dtype: float16
      beta: 0.1
      k: 300
      exclude_history: true
      splits: [train, valid]
      shard_samples: {shard_samples}
  soft-labels-prompt:
    uses: soft-labels
    params:
      prompt: official
      domain: games
      shard_samples: {shard_samples}
"""

# The partition tests: 10 shards of 1000 samples (not a multiple of the 256-sample scoring batch).
PARTS_SHARD_SAMPLES = 1000
PARTS_YAML = """\
extends: {parent}
description: soft-labels partition tests (Tests/python/test_soft_labels.py)
stages:
  cf:
    params:
      max_epochs: 2
  soft-labels:
    params:
      shard_samples: {shard_samples}
"""

# Variables that would make a stage run as one task of an array job.
ARRAY_JOB_VARIABLES = ("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN",
                       "SLURM_ARRAY_TASK_MAX", "JOB_COMPLETION_INDEX", "TCA_PARTITION_COUNT")


# ------------------------------------------------------------------------------------------------
# Running the executables


class Workspace:
    """A temporary store and the test pipeline files in it."""

    def __init__(self, root: pathlib.Path, data: pathlib.Path) -> None:
        self.root = root
        self.home = root / "home"
        self.data = data
        parent = ROOT / "Pipelines" / "toys-official-llama.yaml"
        self.pipeline = root / f"{PIPELINE}.yaml"
        self.pipeline.write_text(PIPELINE_YAML.format(parent=parent, shard_samples=SHARD_SAMPLES))
        self.parts = root / f"{PARTS_PIPELINE}.yaml"
        self.parts.write_text(PARTS_YAML.format(parent=parent, shard_samples=PARTS_SHARD_SAMPLES))

    @property
    def runs(self) -> pathlib.Path:
        return self.home / "runs" / PIPELINE

    def artifact(self, entry: str) -> pathlib.Path:
        """The store entry a runs/<pipeline>/<entry> link points to."""
        return (self.runs / entry).resolve()

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ARRAY_JOB_VARIABLES}
        env.update(TCA_HOME=str(self.home), TCA_DATA=str(self.data), TCA_PIPELINES=str(ROOT / "Pipelines"))
        return env

    def run(self, executable: str, *arguments: str | os.PathLike, check: bool = True) -> subprocess.CompletedProcess:
        command = [str(BIN / executable), *map(str, arguments)]
        result = subprocess.run(command, env=self.env(), capture_output=True, text=True, cwd=self.root)
        if check:
            assert result.returncode == 0, f"{' '.join(command)} exited {result.returncode}:\n{result.stderr}"
        return result


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Workspace:
    """The test pipeline's soft-label entries and their ancestors, computed once (not cf-ease). The inputs
    are named too, so that each gets its runs/<pipeline>/<entry> link even when cached."""
    data = need_shared("tca4rec-official/Toys_and_Games/item.csv").parents[2]
    need_shared("tokenizers/llama3.2/tokenizer.json")
    space = Workspace(tmp_path_factory.mktemp("soft-labels"), data)
    space.run("tca", "run", "-q", space.pipeline, "--only", "prepare", "trie", "cf", "cf-pop", *ENTRIES)
    assert not (space.runs / "cf-ease").exists()
    return space


@pytest.fixture(scope="module")
def scores(workspace) -> dict[tuple[str, str], np.ndarray]:
    """`tca score` of the first REFERENCE_SAMPLES samples: (cf entry, split) → float32 samples × items."""
    result = {}
    for cf in ("cf", "cf-pop"):
        for split, limit in REFERENCE_SAMPLES.items():
            output = workspace.root / f"scores-{cf}-{split}"
            workspace.run("tca", "score", "-q", "--cf", workspace.runs / cf, "--samples", workspace.runs / "prepare",
                          "--split", split, "--limit", str(limit), "-o", output)
            values = np.load(output / "scores.npy")
            assert values.dtype == np.float32 and values.shape == (limit, ITEMS), (cf, split, values.shape)
            assert np.isfinite(values).all()
            result[cf, split] = values
    return result


# ------------------------------------------------------------------------------------------------
# Independent views of the inputs


def item_token_matrix(artifact: pathlib.Path) -> np.ndarray:
    """Item id i's tokens (from items.tokens.npy / items.token_offsets.npy) in row i - 1, padded with -1."""
    tokens = np.load(artifact / "items.tokens.npy")
    offsets = np.load(artifact / "items.token_offsets.npy")
    assert tokens.dtype == np.uint32 and offsets.dtype == np.uint64 and len(offsets) == ITEMS + 2
    assert offsets[0] == offsets[1] == 0  # item 0 (padding) has no tokens
    lengths = np.diff(offsets.astype(np.int64))  # lengths[i]: item i's
    matrix = np.full((ITEMS, int(lengths.max()) + 1), -1, np.int64)
    for item in range(1, ITEMS + 1):
        matrix[item - 1, :lengths[item]] = tokens[offsets[item]:offsets[item + 1]]
    return matrix


def split_samples(prepare: pathlib.Path, split: str) -> dict[str, Any]:
    """The samples artifact's arrays for `split`: users, targets and histories (one array per sample)."""
    offsets = np.load(prepare / f"{split}.history.offsets.npy").astype(np.int64)
    values = np.load(prepare / f"{split}.history.values.npy")
    return {"user": np.load(prepare / f"{split}.user.npy"), "item": np.load(prepare / f"{split}.target.npy"),
            "history": [values[offsets[i]:offsets[i + 1]] for i in range(len(offsets) - 1)]}


def load_trie(artifact: pathlib.Path) -> dict[str, np.ndarray]:
    names = ("node_token", "node_parent", "child_offsets", "children", "item_start", "item_end", "item_order")
    return {name: np.load(artifact / f"trie.{name}.npy") for name in names}


# ------------------------------------------------------------------------------------------------
# 1. Every column that is not a probability, against the samples artifact and the trie


@pytest.mark.parametrize("entry", sorted(ENTRIES))
def test_tca_validate_accepts_what_the_stage_writes(workspace, entry):
    validated = workspace.run("tca", "validate", workspace.artifact(entry))
    assert validated.stdout.startswith("ok"), validated.stdout


@pytest.mark.parametrize("entry", sorted(ENTRIES))
def test_samples_are_the_splits_samples_along_their_trie_paths(workspace, entry):
    spec = ENTRIES[entry]
    artifact = workspace.artifact(entry)
    report = json.loads((artifact / "report.json").read_text())
    configuration = report["configuration"]
    assert configuration["splits"] == spec["splits"]
    assert configuration["k"] == ("all" if spec["k"] is None else spec["k"])
    assert configuration["beta"] == spec["beta"] and configuration["dtype"] == spec["dtype"]
    assert configuration["exclude_history"] == spec["exclude_history"]
    assert configuration["shard_samples"] == SHARD_SAMPLES
    assert (configuration["prompt_template"] is not None) == spec["prompt"]

    tokens = item_token_matrix(artifact)
    trie = load_trie(artifact)
    child_counts = np.diff(trie["child_offsets"].astype(np.int64))
    root_index = json.loads((artifact / "index.json").read_text())["shards"]
    assert len(root_index) == sum(-(-SPLIT_SIZES[s] // SHARD_SAMPLES) for s in spec["splits"])
    probability_type = np.dtype(spec["dtype"])
    columns = {"sample_id": np.uint64, "user": np.uint32, "item": np.uint32, "history": np.uint32,
               "labels": np.uint32, "nodes": np.uint32, "soft_offsets": np.uint32, "soft_ids": np.uint32,
               "soft_probs": probability_type} | ({"input_ids": np.uint32} if spec["prompt"] else {})
    for split in spec["splits"]:
        expected = split_samples(workspace.runs / "prepare", split)
        dataset = SoftLabelShards(artifact, split)
        count = SPLIT_SIZES[split]
        assert len(dataset) == count == len(expected["item"])
        shards = json.loads((artifact / split / "index.json").read_text())["shards"]
        assert [s["zip_data"]["basename"] for s in shards] == [
            f"shard.{n:05}.mds.zstd" for n in range(-(-count // SHARD_SAMPLES))]
        assert [s["samples"] for s in shards] == [min(SHARD_SAMPLES, count - n * SHARD_SAMPLES)
                                                  for n in range(len(shards))]
        positions = branching = entries = 0
        for index, sample in enumerate(dataset):
            assert sorted(sample) == sorted(columns), index
            for name, dtype in columns.items():
                assert np.asarray(sample[name]).dtype == dtype, (split, index, name)
            assert sample["sample_id"] == index
            assert sample["user"] == expected["user"][index] and sample["item"] == expected["item"][index], index
            np.testing.assert_array_equal(sample["history"], expected["history"][index])
            item = int(sample["item"])
            labels = sample["labels"].astype(np.int64)
            length = int((tokens[item - 1] >= 0).sum())
            np.testing.assert_array_equal(labels, tokens[item - 1, :length], err_msg=f"{split} sample {index} labels")
            # nodes[0] is the root, nodes[j] the child of nodes[j - 1] along labels[j - 1].
            nodes = sample["nodes"].astype(np.int64)
            assert len(nodes) == len(labels) and nodes[0] == 0, (split, index)
            assert (trie["node_parent"][nodes[1:]] == nodes[:-1]).all(), (split, index)
            assert (trie["node_token"][nodes[1:]] == labels[:-1]).all(), (split, index)
            assert len(sample["soft_offsets"]) == len(labels) + 1
            positions += len(labels)
            branching += int((child_counts[nodes] > 1).sum())
            entries += len(sample["soft_ids"])
        statistics = report["splits"][split]
        assert (statistics["samples"], statistics["positions"], statistics["branching_positions"],
                statistics["soft_entries"], statistics["shards"]) == (count, positions, branching, entries,
                                                                      len(shards))


# ------------------------------------------------------------------------------------------------
# 2. Exactness: a brute-force float64 reference


REFERENCE_CASES = [("soft-labels", "train"), ("soft-labels-all", "train"), ("soft-labels-all", "valid"),
                   ("soft-labels-f16", "train"), ("soft-labels-f16", "valid")]


@pytest.mark.parametrize("entry,split", REFERENCE_CASES, ids=[f"{e}-{s}" for e, s in REFERENCE_CASES])
def test_probabilities_equal_a_brute_force_reference(workspace, scores, entry, split):
    """Per position j of the first samples: the items whose tokens start with labels[:j], softmax(z / beta)
    over them in float64, grouped by the token at j. Every stored float32 probability is within 1e-6 of
    it; a float16 one is that rounded toward zero (Schemas/soft-labels.md; so that a position never sums
    past 1): at most 1e-6 above the reference and less than one float16 ulp (2^-10 relative, 2^-24 for
    subnormals) + 1e-6 below. The kept tokens are the reference's top k up to ties (float16: up to values
    that round alike); the order is stored probability descending, then token id; the node owns exactly
    the items under the prefix."""
    spec = ENTRIES[entry]
    artifact = workspace.artifact(entry)
    tokens = item_token_matrix(artifact)
    trie = load_trie(artifact)
    float16 = spec["dtype"] == "float16"
    dataset = SoftLabelShards(artifact, split)
    batch = scores[spec["cf"], split]
    worst = worst_absolute = 0.0  # the largest error as a share of its tolerance, and in absolute terms
    positions = branching = truncated = 0
    for index in range(len(batch)):
        sample = dataset[index]
        where = f"{entry} {split} sample {index}"
        item = int(sample["item"])
        z = batch[index].astype(np.float64) / spec["beta"]
        if spec["exclude_history"]:
            seen = [h for h in sample["history"].tolist() if h != item]
            z[np.asarray(seen, np.int64) - 1] = -np.inf
        labels = sample["labels"].astype(np.int64)
        offsets = sample["soft_offsets"]
        under_mask = np.ones(ITEMS, bool)
        for j, label in enumerate(labels):
            if j:
                under_mask &= tokens[:, j - 1] == labels[j - 1]
            under = np.flatnonzero(under_mask)
            node = int(sample["nodes"][j])
            owned = np.sort(trie["item_order"][trie["item_start"][node]:trie["item_end"][node]].astype(np.int64))
            np.testing.assert_array_equal(owned, under + 1, err_msg=f"{where} position {j}: node {node}'s items")
            reference = reference_distribution(z, under, tokens[under, j])
            assert label in reference
            ids = sample["soft_ids"][offsets[j]:offsets[j + 1]].tolist()
            stored = sample["soft_probs"][offsets[j]:offsets[j + 1]]
            children = len(reference)
            positions += 1
            if children == 1:
                assert ids == [label] and stored.tolist() == [1.0], (where, j)
                continue
            branching += 1
            kept = children if spec["k"] is None else min(spec["k"], children)
            truncated += kept < children
            assert len(ids) == kept and len(set(ids)) == kept, (where, j, len(ids), kept)
            assert set(ids) <= set(reference), (where, j)
            want = np.array([reference[t] for t in ids])
            got = stored.astype(np.float64)
            below = 2.0**-10 * want + 2.0**-24 + 1e-6 if float16 else 1e-6  # how far under the reference
            error = want - got
            tolerance = np.where(error > 0, below, 1e-6)
            worst = max(worst, float((np.abs(error) / tolerance).max()))
            worst_absolute = max(worst_absolute, float(np.abs(error).max()))
            assert (np.abs(error) <= tolerance).all(), (where, j, ids, got.tolist(), want.tolist())
            # Order: stored probability descending, then token id ascending.
            for a in range(kept - 1):
                assert got[a] > got[a + 1] or (got[a] == got[a + 1] and ids[a] < ids[a + 1]), (where, j, a)
            # The kept set is the reference's top k, up to ties (float16: up to values that round alike).
            if kept < children:
                lowest = want.min()
                slack = 2.0**-10 * lowest + 2.0**-24 + 1e-6 if float16 else 1e-6
                kept_tokens = set(ids)
                left_out = max(p for t, p in reference.items() if t not in kept_tokens)
                assert left_out <= lowest + slack, (where, j, left_out, lowest)
            # At most 1 up to rounding (tca validate allows 1e-6): float16 rounds toward zero for this.
            assert got.sum() <= 1 + 1e-6, (where, j, got.sum())
            if spec["k"] is None:
                assert abs(got.sum() - 1) <= 1e-5, (where, j, got.sum())
    print(f"{entry}/{split}: {len(batch)} samples, {positions} positions ({branching} branching, "
          f"{truncated} truncated to k), largest error {worst_absolute:.3g} ({worst:.3g} of its tolerance)")
    assert branching > len(batch)  # the check saw real distributions
    if spec["k"] is not None and spec["k"] < 1270:
        assert truncated >= len(batch)  # every root position keeps k of its children


# ------------------------------------------------------------------------------------------------
# 3. Our reader and mosaicml-streaming read the same samples


STREAMED_ENTRY = "soft-labels-f16"
# Runs under the streaming environment: streaming_dump.py's main for each argument list, in one process.
DUMPER = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
import streaming_dump

for arguments in json.loads(sys.argv[2]):
    assert streaming_dump.main(arguments) == 0
"""


@pytest.fixture(scope="module")
def streaming_python() -> pathlib.Path:
    if not STREAMING_PYTHON.exists():
        message = f"mosaicml-streaming environment {str(STREAMING_PYTHON)!r} not found (make deps-python)"
        if os.environ.get("CI") == "true" or os.environ.get("TCA_REQUIRE_SHARED_DATA") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return STREAMING_PYTHON


@pytest.fixture(scope="module")
def streaming_dumps(workspace, streaming_python, tmp_path_factory) -> dict[str, dict[str, np.ndarray]]:
    """What StreamingDataset(local=COPY) yields for the root index and each split (one process)."""
    tmp = tmp_path_factory.mktemp("streaming")
    arguments = {}
    for name, split in [("root", None), ("train", "train"), ("valid", "valid")]:
        copy = tmp / f"copy-{name}"
        shutil.copytree(workspace.artifact(STREAMED_ENTRY), copy)
        for path in [copy, *copy.rglob("*")]:  # streaming writes the decompressed shards in here
            path.chmod(path.stat().st_mode | 0o200)
        arguments[name] = [str(copy), str(tmp / f"{name}.npz")] + (["--split", split] if split else [])
    names = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
    env = {k: v for k, v in os.environ.items() if k not in names}
    result = subprocess.run([str(streaming_python), "-c", DUMPER, str(DUMP_DIRECTORY),
                             json.dumps(list(arguments.values()))], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    dumps = {}
    for name, (_, output, *_) in arguments.items():
        with np.load(output) as archive:
            dumps[name] = {key: archive[key] for key in archive.files}
    return dumps


@pytest.mark.parametrize("split", [None, "train", "valid"], ids=["root", "train", "valid"])
def test_reader_and_streaming_yield_the_same_samples(workspace, streaming_dumps, split):
    """All columns, bitwise, in the same order: SoftLabelShards (verifying) and StreamingDataset."""
    ours = pack(list(SoftLabelShards(workspace.artifact(STREAMED_ENTRY), split)))
    theirs = streaming_dumps[split or "root"]
    assert sorted(ours) == sorted(theirs)
    assert len(ours["sample_id"]) == sum(SPLIT_SIZES[s] for s in ([split] if split else SPLIT_SIZES))
    for key, value in ours.items():
        assert theirs[key].dtype == value.dtype, key
        assert theirs[key].shape == value.shape, key
        assert theirs[key].tobytes() == value.tobytes(), f"column {key} differs"


# ------------------------------------------------------------------------------------------------
# 4. Partitions: partitioned runs plus a merge give the files of one run


def artifact_files(directory: pathlib.Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def assert_same_artifact(actual: pathlib.Path, expected: pathlib.Path) -> None:
    """Every file byte-identical, except manifest.json, whose key only must agree."""
    got, want = artifact_files(actual), artifact_files(expected)
    assert sorted(got) == sorted(want)
    for name in want:
        if name == "manifest.json":
            assert json.loads(got[name])["key"] == json.loads(want[name])["key"]
        else:
            assert got[name] == want[name], f"{actual}/{name} differs from {expected}/{name}"


@pytest.fixture(scope="module")
def one_run(workspace) -> pathlib.Path:
    """The parts pipeline's soft-labels computed in one run by the standalone executable."""
    parameters = workspace.root / "parts-params.json"
    parameters.write_text(json.dumps({"shard_samples": PARTS_SHARD_SAMPLES}))
    output = workspace.root / "one-run"
    workspace.run("tca-soft-labels", "-q", "--params", parameters, *standalone_inputs(workspace),
                  "--output", output, "--partition", "none")
    shards = json.loads((output / "train" / "index.json").read_text())["shards"]
    assert len(shards) == 10
    return output


def standalone_inputs(workspace: Workspace) -> list[str]:
    return [f"--input={name}={workspace.artifact(entry)}" for name, entry in
            [("samples", "prepare"), ("trie", "trie"), ("cf", "cf")]]


def test_partitioned_pipeline_runs_merge_into_the_one_run_files(workspace, one_run):
    for index in range(3):
        workspace.run("tca", "run", "-q", workspace.parts, "--only", "soft-labels", "--partition", f"{index}/4")
    incomplete = workspace.run("tca", "merge", "-q", workspace.parts, check=False)
    assert incomplete.returncode != 0
    assert "missing: 3/4" in incomplete.stderr, incomplete.stderr
    runs = workspace.home / "runs" / PARTS_PIPELINE
    assert not (runs / "soft-labels").exists()

    workspace.run("tca", "run", "-q", workspace.parts, "--only", "soft-labels", "--partition", "3/4")
    workspace.run("tca", "merge", "-q", workspace.parts)
    assert_same_artifact((runs / "soft-labels").resolve(), one_run)
    workspace.run("tca", "validate", runs / "soft-labels")
    # The merged entry is the unpartitioned run's: a plain run finds it cached.
    again = workspace.run("tca", "run", "-q", workspace.parts, "--only", "soft-labels")
    assert any(line.split()[:2] == ["soft-labels", "cached"] for line in again.stdout.splitlines()), again.stdout


def test_standalone_partitions_merge_into_the_one_run_files(workspace, one_run):
    parameters = workspace.root / "parts-params.json"
    partitions = []
    for index in range(4):
        output = workspace.root / f"standalone-part-{index}"
        workspace.run("tca-soft-labels", "-q", "--params", parameters, *standalone_inputs(workspace),
                      "--partition", f"{index}/4", "--output", output)
        partitions.append(output)
    shard_counts = [len(json.loads((p / "train" / "index.json").read_text())["shards"]) for p in partitions]
    assert sum(shard_counts) == 10 and all(shard_counts), shard_counts

    missing = workspace.run("tca", "merge", "-q", "-o", workspace.root / "merged-missing",
                            partitions[0], partitions[1], partitions[3], check=False)
    assert missing.returncode != 0
    assert "missing: 2/4" in missing.stderr, missing.stderr

    merged = workspace.root / "merged"
    workspace.run("tca", "merge", "-q", "-o", merged, *partitions)
    assert_same_artifact(merged, one_run)
    workspace.run("tca", "validate", merged)


# ------------------------------------------------------------------------------------------------
# 5. tca validate catches broken copies


def copy_artifact(workspace: Workspace, name: str, manifest: bool = True) -> pathlib.Path:
    copy = workspace.root / name
    shutil.copytree(workspace.artifact("soft-labels"), copy)
    for path in [copy, *copy.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o200)
    if not manifest:
        (copy / "manifest.json").unlink()
    return copy


def validate_error(workspace: Workspace, directory: pathlib.Path) -> str:
    result = workspace.run("tca", "validate", directory, check=False)
    assert result.returncode != 0, f"tca validate accepted {directory}: {result.stdout}"
    return result.stderr


@pytest.mark.parametrize("manifest", [True, False], ids=["with-manifest", "shards-only"])
def test_validate_names_a_shard_with_a_flipped_byte(workspace, manifest):
    copy = copy_artifact(workspace, f"flipped-{manifest}", manifest)
    shard = copy / "train" / "shard.00001.mds.zstd"
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0x40
    shard.write_bytes(bytes(data))
    assert "train/shard.00001.mds.zstd" in validate_error(workspace, copy)


@pytest.mark.parametrize("index", ["index.json", "train/index.json"])
@pytest.mark.parametrize("manifest", [True, False], ids=["with-manifest", "shards-only"])
def test_validate_rejects_an_extra_key_in_a_shard_entry(workspace, index, manifest):
    copy = copy_artifact(workspace, f"edited-{index.replace('/', '-')}-{manifest}", manifest)
    path = copy / index
    document = json.loads(path.read_text())
    document["shards"][1]["extra"] = 1
    path.write_text(json.dumps(document, sort_keys=True))
    message = validate_error(workspace, copy)
    assert f"{copy.name}/{index}'" in message, message
    if not manifest:
        assert "'extra'" in message, message


def test_unedited_shard_directory_without_manifest_validates(workspace):
    copy = copy_artifact(workspace, "shards-only", manifest=False)
    assert workspace.run("tca", "validate", copy).returncode == 0


def soft_probs_values(raw: bytes, entry: dict, sample: int) -> tuple[int, int]:
    """(byte offset, count) of sample `sample`'s soft_probs values in a raw MDS shard, parsed from the
    layout (uint32 count, uint32 offsets, config, samples: variable sizes then column bytes)."""
    count = int(np.frombuffer(raw, "<u4", 1, 0)[0])
    offsets = np.frombuffer(raw, "<u4", count + 1, 4)
    names, sizes = entry["column_names"], entry["column_sizes"]
    variable = [i for i, size in enumerate(sizes) if size is None]
    begin = int(offsets[sample])
    variable_sizes = iter(np.frombuffer(raw, "<u4", len(variable), begin).tolist())
    position = begin + 4 * len(variable)
    for name, size in zip(names, sizes):
        size = next(variable_sizes) if size is None else size
        if name == "soft_probs":
            code = raw[position]
            dimensions, shape_code = code >> 2, code & 3
            assert dimensions == 1
            shape_bytes = 1 << shape_code
            values = int.from_bytes(raw[position + 1:position + 1 + shape_bytes], "little")
            assert size == 1 + shape_bytes + 4 * values
            return position + 1 + shape_bytes, values
        position += size
    raise AssertionError("no soft_probs column")


def test_validate_rejects_a_probability_outside_the_unit_interval(workspace):
    """A shard rewritten with consistent hashes and sizes whose only fault is a soft_prob of 1.5."""
    copy = copy_artifact(workspace, "out-of-range", manifest=False)
    shard = copy / "train" / "shard.00001.mds.zstd"
    raw = bytearray(zstandard.ZstdDecompressor().decompress(shard.read_bytes()))
    split_index = json.loads((copy / "train" / "index.json").read_text())
    entry = split_index["shards"][1]
    assert hashlib.sha256(raw).hexdigest() == entry["raw_data"]["hashes"]["sha256"]
    position, count = soft_probs_values(bytes(raw), entry, 3)
    assert count >= 1 and 0 <= np.frombuffer(raw, "<f4", 1, position)[0] <= 1
    raw[position:position + 4] = np.float32(1.5).tobytes()
    raw = bytes(raw)
    compressed = zstandard.ZstdCompressor(level=3, write_content_size=True).compress(raw)
    shard.write_bytes(compressed)
    for index_path, basename in [(copy / "train" / "index.json", "shard.00001.mds"),
                                 (copy / "index.json", "train/shard.00001.mds")]:
        document = json.loads(index_path.read_text())
        for shard_entry in document["shards"]:
            if shard_entry["raw_data"]["basename"] == basename:
                shard_entry["raw_data"].update(bytes=len(raw), hashes={"sha256": hashlib.sha256(raw).hexdigest()})
                shard_entry["zip_data"].update(bytes=len(compressed),
                                               hashes={"sha256": hashlib.sha256(compressed).hexdigest()})
                break
        else:
            raise AssertionError(f"{index_path} does not list {basename}")
        index_path.write_text(json.dumps(document, sort_keys=True))
    # The copy is consistent: our reader (verifying hashes) reads the patched value back.
    patched = SoftLabelShards(copy, "train")[SHARD_SAMPLES + 3]
    assert patched["sample_id"] == SHARD_SAMPLES + 3 and patched["soft_probs"][0] == np.float32(1.5)
    message = validate_error(workspace, copy)
    assert "train/shard.00001.mds.zstd" in message and "soft_probs" in message and "[0, 1]" in message, message
    assert "sample 3" in message, message


# ------------------------------------------------------------------------------------------------
# 6. The official prompt


def test_official_prompt_is_the_template_with_the_history_titles(workspace):
    tokenizers = pytest.importorskip("tokenizers")
    artifact = workspace.artifact("soft-labels-prompt")
    special = json.loads((artifact / "special_tokens.json").read_text())
    assert special["bos"]["id"] == LLAMA_BOS
    tokenizer = tokenizers.Tokenizer.from_file(str(artifact / "tokenizer.json"))
    with open(artifact / "items.jsonl") as lines:
        titles = [json.loads(line)["title"] for line in lines]
    assert len(titles) == ITEMS
    template = OFFICIAL_TEMPLATE.replace("{domain}", "games")
    texts, prompts = [], []
    for sample in SoftLabelShards(artifact, "train"):
        history = ", ".join(f'"{titles[h - 1]}"' for h in sample["history"].tolist())
        texts.append(template.replace("{history}", history).strip())
        prompts.append(sample["input_ids"])
    assert len(prompts) == SPLIT_SIZES["train"]
    encodings = tokenizer.encode_batch(texts, add_special_tokens=False)
    for index, (text, encoding, prompt) in enumerate(zip(texts, encodings, prompts)):
        assert prompt[0] == LLAMA_BOS, index
        assert prompt[1:].tolist() == encoding.ids, (index, text)
    for index in (0, 1, len(texts) - 1):
        assert tokenizer.decode(prompts[index][1:].tolist(), skip_special_tokens=False) == texts[index]
        assert tokenizer.decode(prompts[index].tolist(), skip_special_tokens=True) == texts[index]

    # The prompt adds a column and changes nothing else.
    plain = SoftLabelShards(workspace.artifact("soft-labels"), "train")
    for index in (0, 4095, 4096, 9999):
        with_prompt = SoftLabelShards(artifact, "train")[index]
        without = plain[index]
        assert sorted(with_prompt) == sorted([*without, "input_ids"])
        for name, value in without.items():
            assert np.asarray(with_prompt[name]).tobytes() == np.asarray(value).tobytes(), (index, name)
