"""The trainer's MDS shard reader (trainer/tca_trainer/shards.py), with mosaicml-streaming as the oracle.

Oracles: datasets written by the real `streaming.MDSWriter` (run under the streaming virtual environment,
`.venv-streaming`, or TCA_STREAMING_PYTHON) read back by our reader give exactly the values written and
the same values `streaming.StreamingDataset` gives (Tests/python/streaming_dump.py), through a split's
index and through a root index composed as `merge_index` composes it. `write_split` below restates
MDSWriter (ARCHITECTURE.md §5) so that the failure modes (corrupt files, edited indexes), the rank/worker
sharding rule, the torch DataLoader and the command line are tested without the streaming environment;
one streaming test checks that it writes what MDSWriter writes, byte for byte.
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
from conftest import ROOT

sys.path.insert(0, str(ROOT / "trainer"))

from tca_trainer import shards  # noqa: E402
from tca_trainer.shards import ShardFormatError, ShardIndex, SoftLabelShards, read_shard, soft_labels  # noqa: E402

STREAMING_PYTHON = pathlib.Path(os.environ.get("TCA_STREAMING_PYTHON", ROOT / ".venv-streaming" / "bin" / "python"))
DUMP = pathlib.Path(__file__).resolve().parent / "streaming_dump.py"


# ------------------------------------------------------------------------------------------------
# Samples and a restatement of MDSWriter


def random_samples(seed: int, count: int, probs: str = "float32", prompt: bool = False) -> list[dict[str, Any]]:
    """Valid soft-label samples with random values: empty and long (uint16-shaped) histories, ids up to
    2^32 - 1, 1…6 label positions with 1…4 kept children each; sample_id is the index."""
    rng = np.random.default_rng(seed)
    samples = []
    for i in range(count):
        positions = int(rng.integers(1, 7))
        kept = rng.integers(1, 5, size=positions)
        history_length = 0 if i % 7 == 0 else (300 if i % 11 == 5 else int(rng.integers(1, 12)))
        sample = {
            "sample_id": np.uint64(i),
            "user": np.uint32(rng.integers(0, 2**32)),
            "item": np.uint32(rng.integers(0, 2**32)),
            "history": rng.integers(0, 2**32, size=history_length, dtype=np.uint32),
            "labels": rng.integers(0, 2**32, size=positions, dtype=np.uint32),
            "nodes": rng.integers(0, 5000, size=positions, dtype=np.uint32),
            "soft_offsets": np.concatenate([[0], np.cumsum(kept)]).astype(np.uint32),
            "soft_ids": rng.integers(0, 50000, size=int(kept.sum()), dtype=np.uint32),
            "soft_probs": rng.random(int(kept.sum())).astype(probs),
        }
        if prompt:
            sample["input_ids"] = rng.integers(0, 2**32, size=int(rng.integers(1, 20)), dtype=np.uint32)
        samples.append(sample)
    return samples


def columns_of(probs: str = "float32", prompt: bool = False) -> dict[str, str]:
    columns = {"sample_id": "uint64", "user": "uint32", "item": "uint32", "soft_probs": f"ndarray:{probs}"}
    columns.update({name: "ndarray:uint32" for name in ("history", "labels", "nodes", "soft_offsets", "soft_ids")})
    if prompt:
        columns["input_ids"] = "ndarray:uint32"
    return columns


def encode_array(values: np.ndarray) -> bytes:
    """MDS ndarray, static dtype and dynamic shape: (ndim << 2) | shape code, the shape, the values. An
    empty array is ndim 1 with the uint8 shape [0] (MDSWriter refuses to encode one; our writer does this)."""
    shape_code, shape_dtype = (0, "<u1") if len(values) < 256 else (1, "<u2")
    return bytes([1 << 2 | shape_code]) + np.array([len(values)], shape_dtype).tobytes() + values.tobytes()


def encode_sample(sample: dict[str, Any], columns: dict[str, str]) -> bytes:
    heads, bodies = [], []
    for name in sorted(columns):
        if columns[name].startswith("ndarray:"):
            assert sample[name].dtype == columns[name].removeprefix("ndarray:"), (name, sample[name].dtype)
            body = encode_array(sample[name])
            heads.append(np.uint32(len(body)).tobytes())
        else:
            body = np.array(sample[name], columns[name]).tobytes()
        bodies.append(body)
    return b"".join(heads + bodies)


def write_split(directory: pathlib.Path, samples: list[dict[str, Any]], columns: dict[str, str],
                size_limit: int | None = 1 << 10, content_size: bool = True, trailing: bytes = b"") -> dict:
    """MDSWriter(columns, compression="zstd:3", hashes=["sha256"], size_limit) restated: the same shard
    boundaries, raw shards, config and index; returns the index. `content_size=False` writes frames that
    do not record it, `trailing` bytes go after each frame."""
    names = sorted(columns)
    config = {"column_encodings": [columns[n] for n in names], "column_names": names,
              "column_sizes": [None if columns[n].startswith("ndarray:") else np.dtype(columns[n]).itemsize
                               for n in names],
              "compression": "zstd:3", "format": "mds", "hashes": ["sha256"], "size_limit": size_limit, "version": 2}
    config_bytes = json.dumps(config, sort_keys=True).encode()
    groups: list[list[bytes]] = [[]]
    shard_size = 4 + 4 + len(config_bytes)
    for sample in samples:
        encoded = encode_sample(sample, columns)
        if size_limit and size_limit < shard_size + len(encoded) + 4:
            groups.append([])
            shard_size = 4 + 4 + len(config_bytes)
        groups[-1].append(encoded)
        shard_size += len(encoded) + 4
    directory.mkdir(parents=True, exist_ok=True)
    entries = []
    for number, group in enumerate(g for g in groups if g):
        start = 4 + 4 * (len(group) + 1) + len(config_bytes)
        offsets = (np.concatenate([[0], np.cumsum([len(e) for e in group])]) + start).astype(np.uint32)
        raw = np.uint32(len(group)).tobytes() + offsets.tobytes() + config_bytes + b"".join(group)
        compressed = zstandard.ZstdCompressor(level=3, write_content_size=content_size).compress(raw) + trailing
        basename = f"shard.{number:05}.mds"
        (directory / f"{basename}.zstd").write_bytes(compressed)

        def info(name: str, data: bytes) -> dict:
            return {"basename": name, "bytes": len(data), "hashes": {"sha256": hashlib.sha256(data).hexdigest()}}

        entries.append(dict(config, samples=len(group), raw_data=info(basename, raw),
                            zip_data=info(f"{basename}.zstd", compressed)))
    index = {"shards": entries, "version": 2}
    (directory / "index.json").write_text(json.dumps(index, sort_keys=True))
    return index


def compose_root_index(directory: pathlib.Path, splits: list[str]) -> None:
    """The root index as streaming's merge_index writes it: every split's entries in order, basenames
    prefixed by the split's folder."""
    entries = []
    for split in splits:
        for entry in json.loads((directory / split / "index.json").read_text())["shards"]:
            for key in ("raw_data", "zip_data"):
                entry[key]["basename"] = f"{split}/{entry[key]['basename']}"
            entries.append(entry)
    (directory / "index.json").write_text(json.dumps({"shards": entries, "version": 2}, sort_keys=True))


def assert_same_samples(actual: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    assert len(actual) == len(expected)
    for index, (got, want) in enumerate(zip(actual, expected)):
        assert sorted(got) == sorted(want), index
        for name, value in want.items():
            if isinstance(value, np.ndarray):
                assert got[name].dtype == value.dtype, (index, name)
                np.testing.assert_array_equal(got[name], value, err_msg=f"sample {index} column {name}")
            else:
                assert type(got[name]) is type(value) and got[name] == value, (index, name, got[name], value)


def assert_same_packed(actual: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> None:
    assert sorted(actual) == sorted(expected)
    for key, value in expected.items():
        assert actual[key].dtype == value.dtype, key
        np.testing.assert_array_equal(actual[key], value, err_msg=key)


@pytest.fixture
def artifact(tmp_path):
    """A soft-labels-like artifact written by `write_split`: train (several shards) and valid, the root
    index over both, and the artifact's other files; returns (directory, {split: samples})."""
    samples = {"train": random_samples(1, 90), "valid": random_samples(2, 25)}
    for split, split_samples in samples.items():
        write_split(tmp_path / split, split_samples, columns_of())
    compose_root_index(tmp_path, ["train", "valid"])
    (tmp_path / "manifest.json").write_text(json.dumps({"stage": "soft-labels"}))
    (tmp_path / "report.json").write_text("{}")
    return tmp_path, samples


# ------------------------------------------------------------------------------------------------
# Hand-worked shards


WORKED_SAMPLE = {
    "sample_id": np.uint64(2**40 + 7), "user": np.uint32(4_000_000_000), "item": np.uint32(17),
    "history": np.array([], np.uint32), "labels": np.array([5, 9, 2], np.uint32),
    "nodes": np.array([0, 3, 8], np.uint32), "soft_offsets": np.array([0, 2, 3, 6], np.uint32),
    "soft_ids": np.array([5, 6, 9, 2, 4, 1], np.uint32),
    "soft_probs": np.array([0.75, 0.25, 1.0, 0.5, 0.25, 0.25], np.float16),
}


def test_hand_worked_shard_decodes_empty_and_long_arrays(tmp_path):
    long = dict(WORKED_SAMPLE, sample_id=np.uint64(1), history=np.arange(300, dtype=np.uint32))
    write_split(tmp_path, [WORKED_SAMPLE, long], columns_of("float16"))
    read = list(SoftLabelShards(tmp_path))
    assert_same_samples(read, [WORKED_SAMPLE, long])
    assert read[0]["history"].shape == (0,) and not read[0]["history"].flags.writeable
    ids, probs = soft_labels(read[0], 2)
    assert ids.tolist() == [2, 4, 1] and probs.tolist() == [0.5, 0.25, 0.25]
    ids, probs = soft_labels(read[0], 1)
    assert ids.tolist() == [9] and probs.tolist() == [1.0]
    with pytest.raises(IndexError):
        soft_labels(read[0], 3)


def test_frame_without_content_size_is_read_and_a_second_frame_is_not(tmp_path):
    write_split(tmp_path / "streamed", [WORKED_SAMPLE], columns_of("float16"), content_size=False)
    assert_same_samples(list(SoftLabelShards(tmp_path / "streamed")), [WORKED_SAMPLE])
    write_split(tmp_path / "two", [WORKED_SAMPLE], columns_of("float16"),
                trailing=zstandard.ZstdCompressor().compress(b"more"))
    with pytest.raises(ShardFormatError, match=r"shard.00000.mds.zstd' is not one valid zstd frame"):
        list(SoftLabelShards(tmp_path / "two", verify=False))


def test_inconsistent_soft_label_columns_are_errors_when_verifying(tmp_path):
    bad = dict(WORKED_SAMPLE, soft_offsets=np.array([0, 2, 3, 7], np.uint32))  # past the 6 soft_ids
    write_split(tmp_path, [WORKED_SAMPLE, bad], columns_of("float16"))
    with pytest.raises(ShardFormatError, match=r"shard.00000.mds.zstd' \(.* shard 0\) sample 1: soft_offsets do not "
                                               r"rise from 0 to 6 soft_ids"):
        list(SoftLabelShards(tmp_path))
    assert len(list(SoftLabelShards(tmp_path, verify=False))) == 2


def test_array_sizes_are_checked_inside_the_frame(tmp_path):
    index = write_split(tmp_path, [WORKED_SAMPLE], columns_of("float16"))
    entry = index["shards"][0]
    raw = zstandard.ZstdDecompressor().decompress((tmp_path / "shard.00000.mds.zstd").read_bytes())
    # The labels column claims 4 values but holds 3; the hashes are rewritten so only the layout is wrong.
    position = raw.index(encode_array(WORKED_SAMPLE["labels"]))
    broken = raw[:position + 1] + bytes([4]) + raw[position + 2:]
    compressed = zstandard.ZstdCompressor(level=3).compress(broken)
    (tmp_path / "shard.00000.mds.zstd").write_bytes(compressed)
    entry["zip_data"].update(bytes=len(compressed), hashes={"sha256": hashlib.sha256(compressed).hexdigest()})
    entry["raw_data"]["hashes"] = {"sha256": hashlib.sha256(broken).hexdigest()}
    (tmp_path / "index.json").write_text(json.dumps(index))
    loaded = ShardIndex.load(tmp_path)
    with pytest.raises(ShardFormatError, match=r"sample 0: column 'labels': shape \(4,\) of uint32 needs 16 bytes, "
                                               r"the column has 12; the shard is corrupt"):
        read_shard(loaded.directory, loaded.shards[0])


# ------------------------------------------------------------------------------------------------
# Layout: split indexes and the root index


def test_split_and_root_indexes_read_the_same_files(artifact):
    directory, samples = artifact
    train = SoftLabelShards(directory, "train")
    assert len(train.index) >= 6 and len(train) == 90
    assert_same_samples(list(train), samples["train"])
    assert_same_samples(list(SoftLabelShards(directory, "valid")), samples["valid"])

    root = SoftLabelShards(directory)
    assert root.index.directory == directory
    assert root.index.shards[0].zip_data.basename == "train/shard.00000.mds.zstd"
    assert root.index.shards[-1].zip_data.basename.startswith("valid/")
    both = samples["train"] + samples["valid"]
    assert len(root) == 115
    assert_same_samples(list(root), both)
    for index in (0, 89, 90, 114, -1):  # random access crosses shard and split boundaries
        assert_same_samples([root[index]], [both[index]])
    with pytest.raises(IndexError):
        root[115]


def test_missing_split_names_the_splits_that_exist(artifact):
    directory, _ = artifact
    with pytest.raises(ShardFormatError, match=r"test/index\.json' does not exist; splits with an index here: "
                                               r"'train', 'valid'"):
        ShardIndex.load(directory, "test")


# ------------------------------------------------------------------------------------------------
# Corrupt files and edited indexes


def test_corrupted_zip_byte_is_an_error_naming_the_file(artifact):
    directory, _ = artifact
    shard = directory / "train" / "shard.00002.mds.zstd"
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0x40
    shard.write_bytes(bytes(data))
    with pytest.raises(ShardFormatError) as raised:
        list(SoftLabelShards(directory, "train"))
    message = str(raised.value)
    assert message.startswith(f"'{shard}': the content has sha256 ")
    assert f"'{directory / 'train' / 'index.json'}' shard 2, field 'zip_data.hashes.sha256'" in message
    # The root index names the same file through its prefixed basename.
    with pytest.raises(ShardFormatError, match=rf"^'{shard}': .* '{directory / 'index.json'}' shard 2, "):
        list(SoftLabelShards(directory))


def test_truncated_and_missing_shards_are_errors_naming_the_file(artifact):
    directory, _ = artifact
    shard = directory / "train" / "shard.00001.mds.zstd"
    size = shard.stat().st_size
    shard.write_bytes(shard.read_bytes()[:-1])
    index = ShardIndex.load(directory, "train")
    with pytest.raises(ShardFormatError, match=rf"'{shard}' has {size - 1} bytes but .* shard 1, field "
                                               rf"'zip_data.bytes' says {size}; the file is truncated"):
        index.read(1)
    shard.unlink()
    with pytest.raises(ShardFormatError, match=rf"'{shard}' does not exist but .* shard 1, field 'zip_data.basename'"):
        index.read(1, verify=False)


def test_unverified_reads_skip_hashes_but_still_check_sizes(artifact):
    directory, samples = artifact
    index_path = directory / "train" / "index.json"
    document = json.loads(index_path.read_text())
    document["shards"][0]["zip_data"]["hashes"]["sha256"] = "0" * 64
    document["shards"][0]["raw_data"]["hashes"]["sha256"] = "0" * 64
    index_path.write_text(json.dumps(document))
    with pytest.raises(ShardFormatError, match="sha256"):
        next(iter(SoftLabelShards(directory, "train")))
    first = samples["train"][: document["shards"][0]["samples"]]
    assert_same_samples(SoftLabelShards(directory, "train", verify=False).read(0), first)


def edit(document: dict, change: str) -> str:
    """Applies one edit to a split index; returns what the error must say."""
    entry = document["shards"][1]
    if change == "extra entry key":
        entry["lineage"] = {"stage": "soft-labels"}
        return "unexpected keys ['lineage']"
    if change == "missing entry key":
        del entry["size_limit"]
        return "missing keys ['size_limit']"
    if change == "extra index key":
        document["manifest"] = {}
        return "has keys ['manifest', 'shards', 'version']"
    if change == "version":
        entry["version"] = 3
        return "field 'version'"
    if change == "format":
        entry["format"] = "json"
        return "field 'format'"
    if change == "compression":
        entry["compression"] = "gz:5"
        return "field 'compression'"
    if change == "encoding":
        entry["column_encodings"][entry["column_names"].index("history")] = "pkl"
        return "field 'column_encodings[0]'"
    if change == "column size":
        entry["column_sizes"][entry["column_names"].index("item")] = 8
        return "field 'column_sizes[1]'"
    if change == "unsorted columns":
        entry["column_names"].reverse()
        return "field 'column_names'"
    if change == "hash list":
        del entry["zip_data"]["hashes"]["sha256"]
        return "field 'zip_data.hashes'"
    if change == "digest":
        entry["raw_data"]["hashes"]["sha256"] = "XYZ"
        return "field 'raw_data.hashes.sha256'"
    if change == "basename":
        entry["zip_data"]["basename"] = "../elsewhere/shard.00001.mds.zstd"
        return "field 'zip_data.basename'"
    if change == "duplicate basename":
        entry["zip_data"]["basename"] = document["shards"][0]["zip_data"]["basename"]
        return "field 'zip_data.basename': 'shard.00000.mds.zstd' is also listed by shard 0"
    if change == "samples":
        entry["samples"] = -1
        return "field 'samples'"
    raise AssertionError(change)


@pytest.mark.parametrize("change", [
    "extra entry key", "missing entry key", "extra index key", "version", "format", "compression", "encoding",
    "column size", "unsorted columns", "hash list", "digest", "basename", "duplicate basename", "samples",
])
def test_edited_index_is_rejected_naming_file_shard_and_field(artifact, change):
    directory, _ = artifact
    index_path = directory / "train" / "index.json"
    document = json.loads(index_path.read_text())
    expected = edit(document, change)
    index_path.write_text(json.dumps(document))
    with pytest.raises(ShardFormatError) as raised:
        ShardIndex.load(directory, "train")
    message = str(raised.value)
    assert message.startswith(f"'{index_path}'")
    assert expected in message
    if change != "extra index key":
        assert "shard 1" in message


@pytest.mark.parametrize("field,found", [("zip_data", "has"), ("raw_data", "records")])
def test_index_with_wrong_byte_counts_fails_on_read(artifact, field, found):
    directory, _ = artifact
    index_path = directory / "train" / "index.json"
    document = json.loads(index_path.read_text())
    document["shards"][1][field]["bytes"] += 1
    index_path.write_text(json.dumps(document))
    index = ShardIndex.load(directory, "train")
    with pytest.raises(ShardFormatError, match=rf"shard.00001.mds.zstd'.* {found} .* shard 1, field '{field}.bytes'"):
        index.read(1)


def test_soft_label_columns_and_encodings_are_required(artifact):
    directory, _ = artifact
    index_path = directory / "train" / "index.json"
    document = json.loads(index_path.read_text())
    for entry in document["shards"]:
        entry["column_encodings"][entry["column_names"].index("soft_probs")] = "ndarray:float64"
    index_path.write_text(json.dumps(document))
    ShardIndex.load(directory, "train")  # still a valid MDS index
    with pytest.raises(ShardFormatError, match=r"shard 0, field 'column_encodings\[7\]': column 'soft_probs' has "
                                               r"encoding 'ndarray:float64', expected ndarray:float32 or "
                                               r"ndarray:float16"):
        SoftLabelShards(directory, "train")
    write_split(directory / "bare", [{"sample_id": np.uint64(0)}], {"sample_id": "uint64"})
    with pytest.raises(ShardFormatError, match=r"shard 0, field 'column_names': no column 'history'"):
        SoftLabelShards(directory, "bare")


# ------------------------------------------------------------------------------------------------
# Sharding over ranks and workers


def shares(dataset: SoftLabelShards, world_size: int, num_workers: int) -> dict[tuple[int, int], list[int]]:
    return {(rank, worker): [int(s["sample_id"]) for s in dataset.iter(rank, world_size, worker, num_workers)]
            for rank in range(world_size) for worker in range(num_workers)}


def assert_partition(parts: dict[tuple[int, int], list[int]], count: int) -> None:
    everything = [sample_id for part in parts.values() for sample_id in part]
    assert sorted(everything) == list(range(count))  # every sample exactly once


def test_ranks_and_workers_share_whole_shards_round_robin(artifact):
    directory, _ = artifact
    dataset = SoftLabelShards(directory, "train")
    index = dataset.index
    assert len(index) >= 4
    parts = shares(dataset, world_size=2, num_workers=2)
    assert_partition(parts, 90)
    assert parts == shares(SoftLabelShards(directory, "train"), world_size=2, num_workers=2)  # deterministic
    for (rank, worker), part in parts.items():
        slot = rank * 2 + worker
        assert part == [index.start(n) + i for n in range(slot, len(index), 4) for i in range(index[n].samples)]


def test_ranks_and_workers_stride_samples_when_shards_are_few(tmp_path):
    write_split(tmp_path, random_samples(9, 30), columns_of(), size_limit=None)
    dataset = SoftLabelShards(tmp_path)
    assert len(dataset.index) == 1
    parts = shares(dataset, world_size=2, num_workers=2)
    assert_partition(parts, 30)
    assert parts[(1, 0)] == list(range(2, 30, 4))
    assert parts == shares(dataset, world_size=2, num_workers=2)


def test_every_share_partitions_the_samples(artifact):
    directory, _ = artifact
    dataset = SoftLabelShards(directory, "train")
    for world_size, num_workers in [(1, 1), (1, 3), (2, 2), (3, 5), (16, 2)]:  # shards, then strided samples
        parts = shares(dataset, world_size, num_workers)
        assert_partition(parts, 90)
        sizes = [len(part) for part in parts.values()]
        if world_size * num_workers > len(dataset.index):
            assert max(sizes) - min(sizes) <= 1, (world_size, num_workers)


def test_slot_arguments_are_checked(artifact):
    directory, _ = artifact
    dataset = SoftLabelShards(directory, "train")
    for arguments in [(2, 2, 0, 1), (0, 1, 1, 1), (0, 0, 0, 1), (-1, 2, 0, 1)]:
        with pytest.raises(ValueError, match="not in"):
            next(dataset.iter(*arguments))


def test_iterable_dataset_feeds_a_dataloader_with_two_workers(artifact, monkeypatch):
    torch = pytest.importorskip("torch")
    directory, samples = artifact
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    dataset = shards.SoftLabelIterableDataset(directory, "train")
    seen = list(torch.utils.data.DataLoader(dataset, batch_size=None, num_workers=2))
    assert sorted(int(s["sample_id"]) for s in seen) == list(range(90))
    third = next(s for s in seen if s["sample_id"] == 3)
    assert third["labels"].dtype == torch.int64 and third["soft_probs"].dtype == torch.float32
    assert third["labels"].tolist() == samples["train"][3]["labels"].tolist()
    assert torch.equal(third["soft_probs"], torch.from_numpy(samples["train"][3]["soft_probs"]))

    # Two ranks (from the environment, as torchrun sets it) split the samples between them.
    by_rank = []
    for rank in range(2):
        monkeypatch.setenv("RANK", str(rank))
        monkeypatch.setenv("WORLD_SIZE", "2")
        loader = torch.utils.data.DataLoader(dataset, batch_size=None, num_workers=2)
        by_rank.append([int(s["sample_id"]) for s in loader])
    assert not set(by_rank[0]) & set(by_rank[1])
    assert sorted(by_rank[0] + by_rank[1]) == list(range(90))


# ------------------------------------------------------------------------------------------------
# Command line


def run_cli(*arguments: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "trainer"))
    return subprocess.run([sys.executable, "-m", "tca_trainer.shards", *arguments], capture_output=True, text=True,
                          env=env)


def test_cli_prints_counts_and_the_first_sample(tmp_path):
    write_split(tmp_path / "train", [WORKED_SAMPLE], columns_of("float16"))
    result = run_cli(str(tmp_path), "--split", "train", "--verify")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    zip_bytes = (tmp_path / "train" / "shard.00000.mds.zstd").stat().st_size
    raw_bytes = ShardIndex.load(tmp_path, "train").raw_bytes
    assert lines[:4] == [f"index: {tmp_path / 'train' / 'index.json'}", "shards: 1", "samples: 1",
                         f"bytes: {zip_bytes} compressed, {raw_bytes} raw"]
    assert "verified: 1 shards, 1 samples" in lines
    assert "  sample_id: 1099511627783" in lines
    assert "  history: uint32 [] (0)" in lines
    assert "  position 0: 2 kept, 5:0.7500, 6:0.2500" in lines
    missing = run_cli(str(tmp_path))
    assert missing.returncode == 1
    assert missing.stderr.startswith("tca_trainer.shards: error: '") and "does not exist" in missing.stderr


# ------------------------------------------------------------------------------------------------
# Oracle: the real mosaicml-streaming


# Runs under the streaming environment: writes each job's samples (packed in an .npz) with the real
# MDSWriter, and its empty arrays as bytes (MDSWriter refuses to encode them and passes bytes verbatim).
WRITER = r"""
import json, sys
import numpy as np
from streaming import MDSWriter

for job in json.loads(sys.argv[1]):
    packed = np.load(job["samples"])
    columns = job["columns"]
    cuts = {name: np.concatenate([[0], np.cumsum(packed[name + ".lengths"])])
            for name in columns if name + ".lengths" in packed}
    with MDSWriter(out=job["out"], columns=columns, compression="zstd:3", hashes=["sha256"],
                   size_limit=job["size_limit"]) as writer:
        for i in range(len(packed["sample_id"])):
            sample = {}
            for name in columns:
                if name in cuts:
                    value = packed[name][cuts[name][i]:cuts[name][i + 1]]
                    sample[name] = value if len(value) else bytes([1 << 2 | 0, 0])
                else:
                    sample[name] = int(packed[name][i])
            writer.write(sample)
"""

# Runs under the streaming environment: streaming_dump.py's main for each argument list, in one process
# (importing streaming takes seconds).
DUMPER = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
import streaming_dump

for arguments in json.loads(sys.argv[2]):
    assert streaming_dump.main(arguments) == 0
"""

VARIANTS = {"float16": ("float16", False), "float16-prompt": ("float16", True), "float32-prompt": ("float32", True)}


@pytest.fixture(scope="session")
def streaming_python() -> pathlib.Path:
    if not STREAMING_PYTHON.exists():
        message = f"mosaicml-streaming environment {str(STREAMING_PYTHON)!r} not found (make deps-python)"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " and CI=true")
        pytest.skip(message)
    return STREAMING_PYTHON


def streaming_env() -> dict[str, str]:
    """The environment minus anything that would make streaming think it runs distributed."""
    names = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
    return {k: v for k, v in os.environ.items() if k not in names}


def run_streaming(python: pathlib.Path, script: str, *arguments: str) -> None:
    result = subprocess.run([str(python), "-c", script, *arguments], capture_output=True, text=True,
                            env=streaming_env())
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="session")
def written(streaming_python, tmp_path_factory):
    """Datasets written by MDSWriter, all in one process: a soft-labels-like artifact (train over several
    shards and valid, float32 probabilities, a root index composed as merge_index does, the artifact's
    other files) and one train split per column variant. Returns name → (directory, samples)."""
    base = tmp_path_factory.mktemp("mds")
    artifact_directory = base / "soft-labels"
    datasets = {"artifact": (artifact_directory, {"train": random_samples(1, 90), "valid": random_samples(2, 25)})}
    jobs = [(artifact_directory / split, samples, columns_of(), 1 << 10)
            for split, samples in datasets["artifact"][1].items()]
    for seed, (name, (probs, prompt)) in enumerate(VARIANTS.items(), start=3):
        samples = random_samples(seed, 40, probs=probs, prompt=prompt)
        datasets[name] = (base / name, samples)
        jobs.append((base / name / "train", samples, columns_of(probs, prompt), 1 << 11))
    specs = []
    for number, (out, samples, columns, size_limit) in enumerate(jobs):
        packed_path = base / f"samples-{number}.npz"
        np.savez(packed_path, **pack(samples))
        specs.append({"samples": str(packed_path), "out": str(out), "columns": columns, "size_limit": size_limit})
    run_streaming(streaming_python, WRITER, json.dumps(specs))
    for spec in specs:
        pathlib.Path(spec["samples"]).unlink()
        assert not list(pathlib.Path(spec["out"]).glob("*.mds")), "MDSWriter left raw shards"
    compose_root_index(artifact_directory, ["train", "valid"])
    (artifact_directory / "manifest.json").write_text(json.dumps({"stage": "soft-labels"}))
    return datasets


@pytest.fixture(scope="session")
def dumped(written, streaming_python, tmp_path_factory):
    """What StreamingDataset reads (through streaming_dump.py, from copies): the artifact's train split
    and root index, and each variant's train split. Returns name → packed columns."""
    tmp = tmp_path_factory.mktemp("streaming")
    jobs = {"train": (written["artifact"][0], "train"), "root": (written["artifact"][0], None)}
    jobs.update({variant: (written[variant][0], "train") for variant in VARIANTS})
    arguments = {}
    for name, (directory, split) in jobs.items():
        copy = tmp / f"copy-{name}"
        shutil.copytree(directory, copy)
        arguments[name] = [str(copy), str(tmp / f"{name}.npz")] + (["--split", split] if split else [])
    run_streaming(streaming_python, DUMPER, str(DUMP.parent), json.dumps(list(arguments.values())))
    dumps = {}
    for name, (_, output, *_) in arguments.items():
        with np.load(output) as archive:
            dumps[name] = {key: archive[key] for key in archive.files}
    return dumps


def test_reader_returns_exactly_what_mdswriter_wrote(written, dumped):
    directory, samples = written["artifact"]
    train = SoftLabelShards(directory, "train")
    assert len(train.index) >= 6
    assert_same_samples(list(train), samples["train"])
    assert_same_samples(list(SoftLabelShards(directory, "valid")), samples["valid"])
    assert_same_packed(dumped["train"], pack(samples["train"]))  # and streaming reads the same


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_reader_reads_every_column_variant_as_streaming_does(written, dumped, variant):
    directory, samples = written[variant]
    dataset = SoftLabelShards(directory, "train")
    assert len(dataset.index) > 1
    assert ("input_ids" in dataset.columns) == VARIANTS[variant][1]
    assert dataset.columns["soft_probs"] == f"ndarray:{VARIANTS[variant][0]}"
    assert_same_samples(list(dataset), samples)
    assert_same_packed(dumped[variant], pack(samples))


def test_root_index_as_merge_index_writes_it_reads_like_streaming(written, dumped):
    directory, samples = written["artifact"]
    both = samples["train"] + samples["valid"]
    root = SoftLabelShards(directory)
    assert root.index.shards[0].zip_data.basename == "train/shard.00000.mds.zstd"
    assert_same_samples(list(root), both)
    assert_same_packed(dumped["root"], pack(both))
    assert_same_packed(pack(list(root)), dumped["root"])


def test_write_split_writes_what_mdswriter_writes(written, tmp_path):
    """The restatement the other tests use: same shard boundaries, same raw bytes, same index entries
    (the compressed bytes are libzstd's business and not compared)."""
    directory, samples = written["artifact"]
    for split in ("train", "valid"):
        ours = write_split(tmp_path / split, samples[split], columns_of())
        theirs = json.loads((directory / split / "index.json").read_text())
        for entry in ours["shards"] + theirs["shards"]:
            del entry["zip_data"]["bytes"], entry["zip_data"]["hashes"]
        assert ours == theirs
