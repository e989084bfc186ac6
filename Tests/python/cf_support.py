"""Helpers for the cf tests: pipelines written into a temporary folder, split arrays, the tca binary."""
from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import numpy as np
import yaml

from conftest import BIN, ROOT

sys.path.insert(0, str(ROOT / "trainer" / "tca_trainer"))


def pipeline_stages(name: str) -> dict:
    """The stages of Pipelines/NAME.yaml with `extends:` merged (key by key, as the driver does)."""
    path = ROOT / "Pipelines" / f"{name}.yaml"
    document = yaml.safe_load(path.read_text())
    stages = pipeline_stages(document["extends"].removesuffix(".yaml")) if "extends" in document else {}
    for entry, body in (document.get("stages") or {}).items():
        merged = dict(stages.get(entry, {}))
        for key, value in (body or {}).items():
            merged[key] = {**merged.get(key, {}), **value} if isinstance(value, dict) else value
        stages[entry] = merged
    return stages


def write_pipeline(directory: pathlib.Path, name: str, stages: dict) -> pathlib.Path:
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"description": f"test pipeline {name}", "stages": stages}, sort_keys=True))
    return path


def tca(*arguments: str, home: pathlib.Path, data: pathlib.Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, TCA_HOME=str(home), TCA_PIPELINES=str(ROOT / "Pipelines"))
    if data is not None:
        env["TCA_DATA"] = str(data)
    result = subprocess.run([str(BIN / "tca"), *arguments], env=env, capture_output=True, text=True)
    assert result.returncode == 0, f"tca {' '.join(arguments)} failed:\n{result.stderr}"
    return result


def split_arrays(samples: pathlib.Path, split: str) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """(users, targets, histories oldest first) of one split of a samples artifact."""
    users = np.load(samples / f"{split}.user.npy")
    targets = np.load(samples / f"{split}.target.npy")
    offsets = np.load(samples / f"{split}.history.offsets.npy")
    values = np.load(samples / f"{split}.history.values.npy")
    histories = [values[offsets[i] : offsets[i + 1]] for i in range(len(targets))]
    return users, targets, histories


def item_count(samples: pathlib.Path) -> int:
    with open(samples / "items.jsonl", "rb") as handle:
        return sum(1 for _ in handle)
