"""EASE on Amazon Beauty (λ 500), ours against a dense NumPy EASE, side by side on the same train split.

Ours: the cf stage with `model: ease` (sparse Gram matrix, tiled Cholesky inverse in double), run by
`tca run` on a beauty ingest → prepare → cf pipeline in a temporary store and timed as a child
process; the stage's own time comes from the run table. NumPy: X dense float64 from the samples
artifact's train split, G = X.T @ X + λI, np.linalg.inv, B = −P / diag(P). Each side's peak RSS is
its own process's (`os.wait4` for ours, `getrusage` in the child right after B for NumPy). Both B
are then scored on the test samples with the same code (Tests/python/test_cf_reference.py: scores =
sum of the B rows of the distinct history items, ties count against the target) and compared.

    .venv/bin/python Benchmarks/ease_bench.py        # ours from $TCA_BIN, data from $TCA_SHARED_DATA

NumPy uses its bundled OpenBLAS on all cores; ours uses the system OpenBLAS on all cores. Both pick
their kernels at load time; an older system OpenBLAS that does not know the CPU falls back to its
generic "Prescott" kernels (0.3.21 on Emerald Rapids: 5–6x slower dgemm). When that happens and NumPy's
OpenBLAS picked a real kernel, ours runs with OPENBLAS_CORETYPE set to NumPy's kernel, so both sides use
the same one; the table says which. Set OPENBLAS_CORETYPE yourself to override.
"""
import argparse
import ctypes
import glob
import json
import os
import pathlib
import re
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED = pathlib.Path(os.environ.get("TCA_SHARED_DATA", ROOT.parent / "shared" / "data")).resolve()
BIN = pathlib.Path(os.environ.get("TCA_BIN", ROOT / ".build" / "release")).resolve()
BEAUTY = "amazon-beauty-processed/p5-Wenyueh-LLM-RecSys-ID/sequential_data.txt"
sys.path.insert(0, str(ROOT / "Tests" / "python"))


def tca_environment(home: pathlib.Path, coretype: str | None) -> dict:
    environment = dict(os.environ, TCA_HOME=str(home), TCA_DATA=str(SHARED), TCA_PIPELINES=str(ROOT / "Pipelines"))
    if coretype:
        environment["OPENBLAS_CORETYPE"] = coretype
    return environment


def openblas_kernels() -> tuple[str, str]:
    """The kernel names the system OpenBLAS (ours) and NumPy's bundled one pick in this environment."""
    system = ctypes.CDLL("libopenblas.so.0").openblas_get_corename
    system.restype = ctypes.c_char_p
    bundled = glob.glob(str(pathlib.Path(np.__file__).parent.parent / "numpy.libs" / "libscipy_openblas*.so"))
    numpy_name = "?"
    if bundled:
        library = ctypes.CDLL(bundled[0])
        for symbol in ["scipy_openblas_get_corename64_", "scipy_openblas_get_corename"]:
            if hasattr(library, symbol):
                function = getattr(library, symbol)
                function.restype = ctypes.c_char_p
                numpy_name = function().decode()
                break
    return system().decode(), numpy_name


def run_ours(home: pathlib.Path, stages: dict, lambda_: float, coretype: str | None) -> dict:
    """Prepares the samples (untimed), then times `tca run` of the cf entry alone."""
    from cf_support import write_pipeline

    base = {"ingest": stages["ingest"], "prepare": stages["prepare"]}
    subprocess.run([str(BIN / "tca"), "run", "-q", str(write_pipeline(home, "beauty-samples", base))],
                   env=tca_environment(home, coretype), check=True, capture_output=True)
    entries = {**base, "cf-ease": {"uses": "cf", "params": {"model": "ease", "lambda": lambda_}}}
    path = write_pipeline(home, "beauty-ease", entries)
    # The driver runs stages in its own process, so its peak RSS is the stage's.
    seconds, peak, stdout, stderr = wait_with_usage(
        [str(BIN / "tca"), "run", "-v", str(path)], tca_environment(home, coretype))
    stage = re.search(r"cf-ease: done in ([\d.]+)s", stderr) or re.search(
        r"^cf-ease\s+computed\s+([\d.]+)s", stdout, re.MULTILINE)
    return {
        "seconds": seconds,
        "stage_seconds": float(stage.group(1)) if stage else None,
        "peak_rss": peak,
        "log": [line for line in stderr.splitlines() if "ease:" in line],
        "cf": home / "runs" / "beauty-ease" / "cf-ease",
        "samples": home / "runs" / "beauty-ease" / "prepare",
    }


def wait_with_usage(command: list[str], environment: dict) -> tuple[float, int, str, str]:
    """Runs `command`; returns (seconds, its peak RSS in bytes, stdout, stderr)."""
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(command, env=environment, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"ease_bench: {' '.join(command[:3])} … failed:\n{stderr}")
    return seconds, usage.ru_maxrss * 1024, stdout, stderr


# ------------------------------------------------------------------------------------------ NumPy side


def numpy_main(arguments) -> None:
    from test_cf_reference import interaction_matrix, numpy_metrics, numpy_ranks, read_safetensors, split_arrays

    samples, cf = pathlib.Path(arguments.samples), pathlib.Path(arguments.cf)
    card = json.loads((cf / "model.json").read_text())
    items, users = card["item_count"], card["user_count"]
    timings = {}
    start = time.perf_counter()
    x = interaction_matrix(samples, users, items).astype(np.float64)
    timings["X"] = time.perf_counter() - start
    start = time.perf_counter()
    gram = x.T @ x
    gram[np.diag_indices(items)] += arguments.lambda_
    timings["G"] = time.perf_counter() - start
    start = time.perf_counter()
    inverse = np.linalg.inv(gram)
    timings["inverse"] = time.perf_counter() - start
    start = time.perf_counter()
    weights = inverse / -np.diag(inverse)
    np.fill_diagonal(weights, 0.0)
    timings["B"] = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    del x, gram, inverse

    ours = read_safetensors(cf / "model.safetensors")["B"]
    difference = float(np.abs(ours - weights).max())
    exclude = json.loads((cf / "metrics.json").read_text())["exclude_history"]
    _, targets, histories = split_arrays(samples, "test")
    metrics = {}
    for name, matrix in [("numpy", weights), ("ours", ours)]:
        ranks = np.empty(len(targets), dtype=np.int64)
        for start_row in range(0, len(targets), 2048):
            rows = range(start_row, min(len(targets), start_row + 2048))
            scores = np.stack([matrix[np.unique(histories[row]).astype(np.int64) - 1].sum(axis=0) for row in rows])
            ranks[rows.start : rows.stop] = numpy_ranks(
                scores, targets[rows.start : rows.stop], [histories[row] for row in rows], exclude)
        metrics[name] = numpy_metrics(ranks)
    print(json.dumps({"timings": timings, "seconds": sum(timings.values()), "peak_rss": peak,
                      "max_difference": difference, "metrics": metrics, "exclude_history": exclude}))


# ------------------------------------------------------------------------------------------ main


def main() -> None:
    from cf_support import pipeline_stages

    if not (BIN / "tca").exists():
        sys.exit(f"ease_bench: {BIN / 'tca'} not found; build with `swift build -c release` or set TCA_BIN")
    if not (SHARED / BEAUTY).exists():
        sys.exit(f"ease_bench: {SHARED / BEAUTY} not found; set TCA_SHARED_DATA")
    lambda_ = 500.0
    ours_kernel, numpy_kernel = openblas_kernels()
    coretype = None
    if ours_kernel == "Prescott" and numpy_kernel not in ("Prescott", "?") and "OPENBLAS_CORETYPE" not in os.environ:
        coretype = numpy_kernel
    with tempfile.TemporaryDirectory() as directory:
        home = pathlib.Path(directory)
        ours = run_ours(home, pipeline_stages("beauty"), lambda_, coretype)
        ours_peak = ours["peak_rss"]
        seconds, peak, stdout, _ = wait_with_usage(
            [sys.executable, __file__, "--peer", "numpy", "--samples", str(ours["samples"]), "--cf", str(ours["cf"]),
             "--lambda", str(lambda_)], dict(os.environ))
        peer = json.loads(stdout)
        reported = json.loads((ours["cf"] / "metrics.json").read_text())["test"]
        card = json.loads((ours["cf"] / "model.json").read_text())

    gigabytes = lambda value: f"{value / 2**30:.2f} GiB" if value else "-"  # noqa: E731
    print(f"EASE on Beauty (N = {card['item_count']:,} items, U = {card['user_count']:,} users), λ {lambda_:g}; "
          f"{os.cpu_count()} cores")
    print(f"{'':<22}{'ours':>12}{'numpy':>12}{'numpy/ours':>12}")
    kernel = coretype or ours_kernel
    print(f"{'OpenBLAS kernel':<22}{kernel:>12}{numpy_kernel:>12}"
          + (f"   (ours defaults to {ours_kernel}; run with OPENBLAS_CORETYPE={coretype})" if coretype else ""))
    stage = ours["stage_seconds"] or ours["seconds"]
    print(f"{'EASE time (s)':<22}{stage:>12.2f}{peer['seconds']:>12.2f}{peer['seconds'] / stage:>11.2f}x")
    if ours_peak:
        print(f"{'peak RSS':<22}{gigabytes(ours_peak):>12}{gigabytes(peer['peak_rss']):>12}"
              f"{peer['peak_rss'] / ours_peak:>11.2f}x")
    print(f"{'test NDCG@10':<22}{peer['metrics']['ours']['NDCG@10']:>12.4f}{peer['metrics']['numpy']['NDCG@10']:>12.4f}")
    print(f"{'test HR@10':<22}{peer['metrics']['ours']['HR@10']:>12.4f}{peer['metrics']['numpy']['HR@10']:>12.4f}")
    print(f"ours: `tca run` {ours['seconds']:.2f} s in all, the cf stage {stage:.2f} s (with valid and test "
          f"evaluation and writing the artifact); metrics.json test NDCG@10 "
          f"{reported['NDCG@10']:.4f} (history {'excluded' if peer['exclude_history'] else 'included'})")
    for line in ours["log"]:
        print(f"  {line.strip()}")
    print("numpy (EASE only): " + ", ".join(f"{name} {value:.2f} s" for name, value in peer["timings"].items())
          + f" (child process {seconds:.2f} s with loading and scoring)")
    print(f"max |B_ours − B_numpy| = {peer['max_difference']:.2e}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer", choices=["numpy"])
    parser.add_argument("--samples")
    parser.add_argument("--cf")
    parser.add_argument("--lambda", dest="lambda_", type=float, default=500.0)
    parsed = parser.parse_args()
    if parsed.peer:
        numpy_main(parsed)
    else:
        main()
