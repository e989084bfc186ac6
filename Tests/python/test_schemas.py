"""Every JSON artifact the pipeline writes validates against Schemas/ with the jsonschema library, so
the Swift writers and the published schemas cannot drift apart; the schemas also reject bad examples."""
import copy
import json
import pathlib

import jsonschema
import numpy as np
import pytest
import yaml

from conftest import ROOT

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
    assert checked >= 12


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
