"""Shared fixtures: the built tca binary, the shared data, and pipeline runs in temporary stores."""
import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(os.environ.get("TCA_BIN", ROOT / ".build" / "release")).resolve()
SHARED = pathlib.Path(os.environ.get("TCA_SHARED_DATA", ROOT.parent / "shared" / "data")).resolve()
REQUIRE_SHARED = os.environ.get("TCA_REQUIRE_SHARED_DATA") == "1"
# Every stage before cf, named so that each gets its runs/<pipeline>/<stage> link even when cached.
DATA_STAGES = ["ingest", "prepare", "tokenizer", "trie"]


def need_shared(relative: str) -> pathlib.Path:
    path = SHARED / relative
    if not path.exists():
        if REQUIRE_SHARED:
            pytest.fail(f"shared data {relative!r} missing under {SHARED} and TCA_REQUIRE_SHARED_DATA=1")
        pytest.skip(f"shared data {relative!r} not found under {SHARED}")
    return path


def run_pipeline(name: str, home: pathlib.Path, data: pathlib.Path | None = None,
                 only: list[str] | None = None) -> pathlib.Path:
    env = dict(os.environ, TCA_HOME=str(home), TCA_PIPELINES=str(ROOT / "Pipelines"))
    # Inside an array job these would make `tca run` compute one partition only.
    for variable in ("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN", "JOB_COMPLETION_INDEX"):
        env.pop(variable, None)
    if data is not None:
        env["TCA_DATA"] = str(data)
    command = [str(BIN / "tca"), "run", "-q", name] + (["--only", *only] if only else [])
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return home / "runs" / name


@pytest.fixture(scope="session")
def pipeline_runs(tmp_path_factory):
    """Runs demo (every stage), and the data stages of the real-data pipelines when the shared data is there
    (their cf entries train for minutes; the cf tests run their own small ones); returns name → runs folder."""
    home = tmp_path_factory.mktemp("tca-home")
    runs = {"demo": run_pipeline("demo", home)}
    for name, marker in [
        ("ml-100k", "movielens/ml-100k/u.data"),
        ("beauty", "amazon-beauty-processed/p5-Wenyueh-LLM-RecSys-ID/sequential_data.txt"),
        ("toys-official", "tca4rec-official/Toys_and_Games/item.csv"),
        ("toys-official-llama", "tokenizers/llama3.2/tokenizer.json"),
    ]:
        if (SHARED / marker).exists():
            runs[name] = run_pipeline(name, home, SHARED, only=DATA_STAGES)
        elif REQUIRE_SHARED:
            pytest.fail(f"shared data {marker!r} missing and TCA_REQUIRE_SHARED_DATA=1")
    return runs
