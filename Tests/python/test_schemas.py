"""Every JSON artifact the pipeline writes validates against Schemas/ with the jsonschema library, so
the Swift writers and the published schemas cannot drift apart; the schemas also reject bad examples."""
import copy
import json
import pathlib
import sys

import jsonschema
import numpy as np
import pytest
import yaml
import zstandard

from conftest import BIN, ROOT

sys.path.insert(0, str(ROOT / "trainer"))
from tca_trainer.shards import SoftLabelShards  # noqa: E402

SCHEMAS = ROOT / "Schemas"

# Which schema each JSON file of each stage's artifact follows.
ARTIFACT_SCHEMAS = {
    "ingest": {"report.json": "ingest-report", "items.jsonl": "interactions-item", "users.jsonl": "interactions-user"},
    "prepare": {"report.json": "prepare-report", "items.jsonl": "samples-item", "users.jsonl": "samples-user"},
    # tokenizer.json is Hugging Face's format: the tokenizer tests load it with `tokenizers` itself.
    "tokenizer": {"report.json": "tokenizer-report", "special_tokens.json": "special-tokens"},
    "trie": {"report.json": "trie-report", "special_tokens.json": "special-tokens"},
    # model.safetensors: Schemas/cf.md; the cf tests load it with NumPy and PyTorch.
    "cf": {"model.json": "cf-model", "metrics.json": "cf-metrics", "curve.jsonl": "cf-curve"},
    # The shards themselves: Schemas/soft-labels.md; test_shard_reader.py reads them with our reader and streaming.
    # train/ is the split every pipeline computes (_defaults.yaml).
    "soft-labels": {
        "report.json": "soft-labels-report",
        "shard_stats.jsonl": "soft-labels-shard-stats",
        "index.json": "mds-index",
        "train/index.json": "mds-index",
    },
}


def schema(name: str) -> dict:
    document = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(document)
    return document


def validator(name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema(name), format_checker=jsonschema.FormatChecker())


def test_every_schema_is_valid_draft_2020_12_and_has_a_valid_example():
    names = sorted(p.name.removesuffix(".schema.json") for p in SCHEMAS.glob("*.schema.json"))
    assert len(names) >= 8
    for name in names:
        example = SCHEMAS / "examples" / f"{name}.json"
        assert example.exists(), f"Schemas/examples/{name}.json is missing"
        validator(name).validate(json.loads(example.read_text()))


@pytest.mark.parametrize("mutation", ["extra key", "bad key", "bad file path", "string version"])
def test_manifest_schema_rejects_edited_manifests(mutation):
    good = json.loads((SCHEMAS / "examples" / "manifest.json").read_text())
    bad = copy.deepcopy(good)
    if mutation == "extra key":
        bad["created_at"] = "2026-01-01"
    elif mutation == "bad key":
        bad["key"] = "xyz"
    elif mutation == "bad file path":
        bad["files"][0]["path"] = "../outside"
    else:
        bad["stage_version"] = "1"
    with pytest.raises(jsonschema.ValidationError):
        validator("manifest").validate(bad)


def test_shipped_pipelines_follow_the_pipeline_schema():
    check = validator("pipeline")
    files = sorted((ROOT / "Pipelines").glob("*.yaml"))
    assert len(files) >= 6
    for path in files:
        check.validate(yaml.safe_load(path.read_text()))
    with pytest.raises(jsonschema.ValidationError):
        check.validate({"stages": {"prepare": {"params": {"user_kcore": 5}}}})


def test_pipeline_schema_knows_every_stage_parameter():
    """Every parameter `tca stages` lists is in the schema's params of its stage (a parameter added to a
    stage without the schema would make the schema reject pipelines that use it)."""
    import re
    import subprocess
    listing = subprocess.run([str(BIN / "tca"), "stages"], capture_output=True, text=True, check=True).stdout
    definitions = json.loads((ROOT / "Schemas" / "pipeline.schema.json").read_text())["$defs"]
    names = {"ingest": "ingestParams", "prepare": "prepareParams", "tokenizer": "tokenizerParams",
             "trie": "trieParams", "cf": "cfParams", "soft-labels": "softLabelsParams"}
    stage, seen = None, {}
    for line in listing.splitlines():
        header = re.match(r"^(\S+) \(version \d+\):", line)
        if header:
            stage = header.group(1)
            seen[stage] = []
            continue
        parameter = re.match(r"^  (\w+)\s{2,}", line)
        if stage and parameter and parameter.group(1) != "input":
            seen[stage].append(parameter.group(1))
    assert set(names) <= set(seen), seen.keys()
    for stage, definition in names.items():
        known = set(definitions[definition]["properties"])
        missing = [name for name in seen[stage] if name not in known]
        assert seen[stage] and not missing, f"{stage}: {missing} not in Schemas/pipeline.schema.json {definition}"


def test_every_json_artifact_validates(pipeline_runs):
    checked = 0
    for name, runs in pipeline_runs.items():
        for entry in sorted(runs.iterdir()):
            manifest = json.loads((entry / "manifest.json").read_text())
            validator("manifest").validate(manifest)
            listed = {f["path"] for f in manifest["files"]}
            for file_name, schema_name in ARTIFACT_SCHEMAS[manifest["stage"]].items():
                assert file_name in listed, f"{name}/{entry.name} lacks {file_name}"
                path = entry / file_name
                check = validator(schema_name)
                if file_name.endswith(".jsonl"):
                    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                        try:
                            check.validate(json.loads(line))
                        except jsonschema.ValidationError as error:
                            raise AssertionError(f"{name}/{entry.name}/{file_name} line {number}: {error.message}")
                else:
                    check.validate(json.loads(path.read_text()))
                checked += 1
    assert checked >= 17


def test_numpy_reads_every_array_and_the_samples_are_consistent(pipeline_runs):
    for name, runs in pipeline_runs.items():
        samples = runs / "prepare"
        items = (samples / "items.jsonl").read_text(encoding="utf-8").splitlines()
        users = (samples / "users.jsonl").read_text(encoding="utf-8").splitlines()
        assert [json.loads(line)["id"] for line in items] == list(range(1, len(items) + 1))
        report = json.loads((samples / "report.json").read_text())
        for split in ["train", "valid", "test"]:
            user = np.load(samples / f"{split}.user.npy", mmap_mode="r")
            target = np.load(samples / f"{split}.target.npy", mmap_mode="r")
            offsets = np.load(samples / f"{split}.history.offsets.npy", mmap_mode="r")
            values = np.load(samples / f"{split}.history.values.npy", mmap_mode="r")
            assert user.dtype == np.uint32 and target.dtype == np.uint32
            assert offsets.dtype == np.uint64 and values.dtype == np.uint32
            assert len(user) == len(target) == len(offsets) - 1 == report["samples"][split]
            assert offsets[0] == 0 and offsets[-1] == len(values) and np.all(np.diff(offsets.astype(np.int64)) >= 0)
            if len(target):
                assert target.min() >= 1 and target.max() <= len(items), f"{name} {split}"
                assert user.min() >= 1 and user.max() <= len(users)
            if len(values):
                assert values.min() >= 1 and values.max() <= len(items)
        interactions = runs / "ingest"
        events = {k: np.load(interactions / f"events.{k}.npy", mmap_mode="r") for k in ["user", "item", "timestamp", "rating"]}
        assert len({len(v) for v in events.values()}) == 1
        assert events["timestamp"].dtype == np.int64 and events["rating"].dtype == np.float32


@pytest.mark.parametrize("params", [
    {"splits": ["train", "valid", "test"], "k": "all", "beta": 0.5, "dtype": "float16", "exclude_history": True,
     "shard_samples": 1, "zstd_level": 22, "prompt": "official", "domain": "games", "prompt_bos": False},
    {"k": 1, "prompt": "custom", "prompt_template": "History: {history}."},
    None,
])
def test_pipeline_schema_accepts_soft_label_parameters(params):
    validator("pipeline").validate({"stages": {"soft-labels": {"params": params}}})
    validator("pipeline").validate({"stages": {"labels": {"uses": "soft-labels", "params": params}}})


@pytest.mark.parametrize("params", [
    {"k": 0}, {"k": "some"}, {"k": 2.5}, {"beta": 0}, {"splits": []}, {"splits": ["train", "train"]},
    {"splits": ["dev"]}, {"splits": "train"}, {"dtype": "bfloat16"}, {"zstd_level": 23}, {"shard_samples": 0},
    {"prompt": "llama"}, {"prompt_template": "no history placeholder"}, {"exclude_history": "yes"},
    {"top_k": 64},
])
def test_pipeline_schema_rejects_bad_soft_label_parameters(params):
    for entry in ({"soft-labels": {"params": params}}, {"labels": {"uses": "soft-labels", "params": params}}):
        with pytest.raises(jsonschema.ValidationError):
            validator("pipeline").validate({"stages": entry})


# The worked example of Schemas/soft-labels.md: the one sample's bytes after the shard's header and config.
WORKED_SAMPLE = bytes.fromhex(
    "06000000 0a000000 0a000000 0e000000 0e000000 0e000000"
    "04 01 01000000  02000000  04 02 07000000 00000000  04 02 00000000 03000000  0000000000000000"
    "04 03 07000000 05000000 00000000  04 03 00000000 02000000 03000000  04 03 0000403f 0000803e 0000803f"
    "01000000")


def test_example_shard_is_the_worked_example_and_matches_its_index(tmp_path):
    examples = SCHEMAS / "examples"
    raw = zstandard.ZstdDecompressor().decompress((examples / "shard.00000.mds.zstd").read_bytes())
    assert raw[:12] == bytes.fromhex("01000000 c5010000 31020000") and raw[453:] == WORKED_SAMPLE
    text = (examples / "mds-index.json").read_text()
    index = json.loads(text)
    assert text == json.dumps(index, sort_keys=True)  # streaming's formatting
    entry = index["shards"][0]
    assert json.loads(raw[12:453]) == {k: v for k, v in entry.items() if k not in ("raw_data", "samples", "zip_data")}
    # Laid out as a dataset directory, it reads like any split (sizes, sha256 and structure checked).
    (tmp_path / "index.json").write_text(text)
    (tmp_path / "shard.00000.mds.zstd").write_bytes((examples / "shard.00000.mds.zstd").read_bytes())
    sample = SoftLabelShards(tmp_path)[0]
    expected = {"history": [1], "item": 2, "labels": [7, 0], "nodes": [0, 3], "sample_id": 0, "soft_ids": [7, 5, 0],
                "soft_offsets": [0, 2, 3], "soft_probs": [0.75, 0.25, 1.0], "user": 1}
    assert {name: np.asarray(value).tolist() for name, value in sample.items()} == expected
    assert sample["soft_probs"].dtype == np.float32 and sample["sample_id"].dtype == np.uint64
    stats = json.loads((examples / "soft-labels-shard-stats.json").read_text())
    report = json.loads((examples / "soft-labels-report.json").read_text())
    assert report["splits"]["train"]["raw_bytes"] == len(raw) == entry["raw_data"]["bytes"]
    assert report["splits"]["train"]["zip_bytes"] == entry["zip_data"]["bytes"]
    assert (stats["samples"], stats["positions"], stats["kept_children"]) == (1, 2, 3)
    assert [c["name"] for c in report["configuration"]["columns"]] == entry["column_names"]


@pytest.mark.parametrize("mutation", ["extra top-level key", "extra entry key", "missing entry key", "version 1",
                                      "compression without level", "basename with ..", "short digest"])
def test_mds_index_schema_rejects_what_streaming_would_not_read(mutation):
    good = json.loads((SCHEMAS / "examples" / "mds-index.json").read_text())
    validator("mds-index").validate(good)
    bad = copy.deepcopy(good)
    entry = bad["shards"][0]
    if mutation == "extra top-level key":
        bad["manifest"] = {}
    elif mutation == "extra entry key":
        entry["key"] = "0" * 64
    elif mutation == "missing entry key":
        del entry["size_limit"]
    elif mutation == "version 1":
        entry["version"] = 1
    elif mutation == "compression without level":
        entry["compression"] = "zstd"
    elif mutation == "basename with ..":
        entry["zip_data"]["basename"] = "../shard.00000.mds.zstd"
    else:
        entry["zip_data"]["hashes"]["sha256"] = "abc"
    with pytest.raises(jsonschema.ValidationError):
        validator("mds-index").validate(bad)


@pytest.mark.parametrize("mutation", ["split fields in total", "unknown split", "k 0", "extra configuration key",
                                      "histogram of 19 bins", "shard stats without split"])
def test_soft_label_schemas_reject_edited_reports(mutation):
    report = json.loads((SCHEMAS / "examples" / "soft-labels-report.json").read_text())
    stats = json.loads((SCHEMAS / "examples" / "soft-labels-shard-stats.json").read_text())
    name, bad = "soft-labels-report", copy.deepcopy(report)
    if mutation == "split fields in total":
        bad["total"]["shards"] = 1
    elif mutation == "unknown split":
        bad["splits"]["dev"] = bad["splits"]["train"]
    elif mutation == "k 0":
        bad["configuration"]["k"] = 0
    elif mutation == "extra configuration key":
        bad["configuration"]["alpha"] = 0.5
    elif mutation == "histogram of 19 bins":
        name, bad = "soft-labels-shard-stats", copy.deepcopy(stats)
        bad["target_histogram"].pop()
    else:
        name, bad = "soft-labels-shard-stats", copy.deepcopy(stats)
        del bad["split"]
    with pytest.raises(jsonschema.ValidationError):
        validator(name).validate(bad)
