#!/usr/bin/env python3
"""Token-level soft labels (ARCHITECTURE.md §1): ours against the official online algorithm, a vectorised
NumPy version and the score sgemm floor, side by side on the same data in one run.

Datasets: the official TCA4Rec Toys split (`toys-official-llama`: 20,669 items, Llama 3.2 titles, 10,000
train samples) and Beauty (`beauty-llama`: 12,101 items, leave-one-out). The data stages and a briefly
trained SASRec (`max_epochs: 3`; the CF model's quality does not change throughput) run first with
`tca run --only trie cf` into a temporary store. For every train sample, pi = softmax(z/beta) over items
1..N and, at each position j of the target's token path (title tokens + EOS),
p(v | y<j) = mass of the items whose path starts with y<j ++ [v] / mass of those starting with y<j.

  (a) official: critical88/TCA4Rec models/LLM4Rec.py restated on CPU in PyTorch float32 (the original
      runs it in bf16 inside every training step): its dict-of-dicts `Trie` with per-node
      `token_item_pairs` lists and a `path_cache` of prefix tuples, its per-position loop (prefix tensor
      → tuple of `.item()` → node; `torch.tensor` of the node's pairs; gather the items' logits;
      softmax; `scatter_sum` by next token into a vocabulary-sized row of a dense [batch, positions,
      vocabulary] tensor plus the allowed-token mask), per micro-batch of 4 (its default) with the
      SASRec user vectors and the cf logits computed per micro-batch as its forward does; on a subset.
      Set aside on purpose: the original builds its target with `tokenizer(title)`, which for Llama 3
      adds BOS but no EOS, so it labels the T title positions only (the trie's EOS edges are never
      reached) and `labels[i][-1] = -100` then drops the last title token from the loss; here every
      implementation covers the T + 1 positions of title + EOS, as ours does. Kept: duplicate titles
      add their items' masses (each item is appended to every node's pairs), as ours do.
  (b) NumPy: per trie node, precomputed once, the node's item indices sorted by next token and the
      segment starts; per sample one np.exp over all items, then per branching position a gather and
      np.add.reduceat (float64); a single-child position is probability 1 without arithmetic. Scores by
      sgemm in batches of 256 (timed); user vectors from PyTorch's SASRec (timed apart); on every train
      sample, as ours and the floor (--numpy-samples N for the first N: the first 2,000 of Beauty have
      6 % shorter titles than the split, and a 0.2 s pass is a lucky window more often than a 15 s one).
  (b') NumPy writing the same shards: (b), then what ours does with each distribution before its clock
      stops (and (b) leaves out): per position the top k children by stored probability, then token id
      (np.argpartition and a stable np.argsort), every sample encoded with our MDS columns, and every 8,192
      samples a shard compressed in one call by python-zstandard (level 1, every core), hashed (sha256 of
      the raw and the compressed bytes) and written, as streaming's MDSWriter does; index.json last. Its
      first samples, read back, must match ours. This is the like-for-like peer: ours is timed until its
      last shard is written.
  (c) floor: the score sgemm alone, np.matmul(U_batch, V.T, out=reused) over every train sample in
      batches of 256, float32, on --threads threads and on 1 (each in its own process, OPENBLAS_NUM_THREADS).
  (d) ours: `tca run <pipeline> --only soft-labels --force soft-labels`; samples/s from its manifest's
      `metrics.compute_seconds` (scoring + labels + encoding + compression, inputs' loading excluded).

Agreement: on the first --check-samples samples every position's distribution of (a) and (b) must agree
within 1e-5, and ours (top-k children, as stored) with them; disagreements are printed loudly. The
official bf16 arithmetic is replayed on the same samples to show its error. Then our shards: bytes per
sample (zipped and raw), zstd ratio and speed at levels 1, 2, 3, 9, 19 on the decompressed raw shards, and
the Python reader's samples/s (trainer/tca_trainer/shards.py when importable, and this script's own MDS
parser).

    .venv/bin/python Benchmarks/softlabels_bench.py [--datasets toys,beauty] [--official-samples 300]
        [--numpy-samples 0 (all)] [--threads 2] [--repeat 3] [--output results.json] [--work DIR]

Timing: (b), (b'), (c), (d) and (d') take turns for --repeat rounds (default 3) and each keeps its best round,
so that the ratios compare runs made side by side (these machines' speed drifts by up to 2x within
minutes); (a) is the best of --repeat passes in one process, and each floor round the best of at least
3 passes. The load
average before and after each dataset is printed, since these machines are shared and the official
algorithm's many small multi-threaded PyTorch ops slow down most when another process takes a core.
Each peer runs in its own process with its thread count fixed before NumPy/PyTorch load. Ours uses every
core it is given (pinned with taskset when --threads is below the machine's count) and, when the system
OpenBLAS falls back to its generic Prescott kernels, runs with OPENBLAS_CORETYPE set to NumPy's kernel
(as ease_bench.py does); the table says which.
"""
from __future__ import annotations

import argparse
import ctypes
import glob
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
BIN = pathlib.Path(os.environ.get("TCA_BIN", ROOT / ".build" / "release")).resolve()
SHARED = pathlib.Path(os.environ.get("TCA_SHARED_DATA", os.environ.get("TCA_DATA", ROOT.parent / "shared" / "data")))
SHARED = SHARED.resolve()
DATASETS = {"toys": "toys-official-llama", "beauty": "beauty-llama"}
RAW_DATA = {"toys": "tca4rec-official/Toys_and_Games", "beauty": "amazon-beauty-processed"}
LEVELS = (1, 2, 3, 9, 19)
TOLERANCE = 1e-5
OFFICIAL_MICRO_BATCH = 4  # critical88/TCA4Rec main.py --micro_batch_size
SGEMM_BATCH = 256
SHARD_SAMPLES = 8192  # the stage's default shard_samples


# ------------------------------------------------------------------------------------------ driver side


def tca_environment(home: pathlib.Path, coretype: str | None = None) -> dict:
    environment = dict(os.environ, TCA_HOME=str(home), TCA_DATA=str(SHARED), TCA_PIPELINES=str(ROOT / "Pipelines"))
    if coretype:
        environment["OPENBLAS_CORETYPE"] = coretype
    return environment


def openblas_kernels() -> tuple[str, str]:
    """The kernels the system OpenBLAS (ours) and NumPy's bundled one pick here (ease_bench.py's probe)."""
    import numpy as np

    try:
        system = ctypes.CDLL("libopenblas.so.0").openblas_get_corename
        system.restype = ctypes.c_char_p
        system_name = system().decode()
    except OSError:
        system_name = "?"
    numpy_name = "?"
    for path in glob.glob(str(pathlib.Path(np.__file__).parent.parent / "numpy.libs" / "libscipy_openblas*.so")):
        library = ctypes.CDLL(path)
        for symbol in ("scipy_openblas_get_corename64_", "scipy_openblas_get_corename"):
            if hasattr(library, symbol):
                function = getattr(library, symbol)
                function.restype = ctypes.c_char_p
                numpy_name = function().decode()
                break
    return system_name, numpy_name


def run_tca(home: pathlib.Path, arguments: list[str], coretype: str | None = None,
            prefix: list[str] | None = None) -> tuple[int, str, str, float]:
    command = (prefix or []) + [str(BIN / "tca"), "run", "-q"] + arguments
    start = time.perf_counter()
    result = subprocess.run(command, env=tca_environment(home, coretype), capture_output=True, text=True)
    return result.returncode, result.stdout, result.stderr, time.perf_counter() - start


def write_pipelines(work: pathlib.Path, pipeline: str, epochs: int, ours: dict) -> tuple[pathlib.Path, pathlib.Path]:
    """Two files named after the pipeline (so runs/<pipeline>/ holds every stage): the shipped pipeline
    with a brief cf, and that one plus the soft-labels entry (kept apart, so a build without the stage
    still prepares the peers' inputs). `extends:` takes an absolute path (PipelineDefinition.swift)."""
    base = work / "pipelines" / "base" / f"{pipeline}.yaml"
    soft = work / "pipelines" / "soft" / f"{pipeline}.yaml"
    base.parent.mkdir(parents=True, exist_ok=True)
    soft.parent.mkdir(parents=True, exist_ok=True)
    base.write_text(f"extends: {ROOT / 'Pipelines' / (pipeline + '.yaml')}\n"
                    f"description: {pipeline} with a brief SASRec, for softlabels_bench.py.\n"
                    f"stages:\n  cf:\n    params:\n      max_epochs: {epochs}\n")
    lines = [f"extends: {base}", "description: soft labels for softlabels_bench.py.", "stages:", "  soft-labels:",
             "    params:"]
    lines += [f"      {key}: {json.dumps(value)}" for key, value in ours.items()]
    soft.write_text("\n".join(lines) + "\n")
    return base, soft


def prepare(home: pathlib.Path, base: pathlib.Path, pipeline: str) -> dict:
    code, _, stderr, seconds = run_tca(home, [str(base), "--only", "trie", "cf"])
    if code != 0:
        sys.exit(f"softlabels_bench: 'tca run {base} --only trie cf' failed:\n{stderr[-3000:]}")
    runs = home / "runs" / pipeline
    return {"samples": str((runs / "prepare").resolve()), "trie": str((runs / "trie").resolve()),
            "cf": str((runs / "cf").resolve()), "seconds": seconds}


def worker(kind: str, context: pathlib.Path, threads: int) -> dict:
    """Runs one peer in a child process whose BLAS/OpenMP thread count is fixed before NumPy loads."""
    environment = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
                       MKL_NUM_THREADS=str(threads))
    command = [sys.executable, __file__, "--worker", kind, "--context", str(context), "--threads", str(threads)]
    result = subprocess.run(command, env=environment, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"softlabels_bench: the {kind} worker failed:\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def run_ours(home: pathlib.Path, soft: pathlib.Path, pipeline: str, threads: int, coretype: str | None) -> dict:
    """Times the soft-labels stage alone; {'available': False, 'reason': …} when this build lacks it."""
    if not (BIN / "tca").exists():
        return {"available": False, "reason": f"no tca binary in {BIN} (set TCA_BIN)"}
    cores = os.cpu_count() or 1
    prefix = ["taskset", "-c", f"0-{threads - 1}"] if threads < cores and shutil.which("taskset") else None
    code, stdout, stderr, seconds = run_tca(home, [str(soft), "--only", "soft-labels", "--force", "soft-labels"],
                                            coretype, prefix)
    if code != 0:
        lines = [line for line in stderr.strip().splitlines() if line.strip()] or ["exit status %d" % code]
        reason = next((line for line in lines if "error" in line), lines[-1])
        return {"available": False, "reason": reason.strip(), "stderr": stderr[-3000:]}
    output = (home / "runs" / pipeline / "soft-labels").resolve()
    manifest = json.loads((output / "manifest.json").read_text())
    metrics = manifest.get("metrics", {})
    return {"available": True, "directory": str(output), "process_seconds": seconds, "metrics": metrics,
            "threads": metrics.get("threads", threads if prefix else cores), "coretype": coretype}


def shard_directory(output: pathlib.Path, split: str = "train") -> pathlib.Path:
    for candidate in (output / split, output):
        if (candidate / "index.json").exists():
            return candidate
    raise FileNotFoundError(f"no index.json under {output}/{split} or {output}")


def decode_ndarray(data: bytes, dtype: str):
    """MDS `ndarray:<dtype>` with a dynamic shape: [ndim << 2 | shape dtype] [shape] [values]."""
    import numpy as np

    byte = data[0]
    ndim, width = byte >> 2, 1 << (byte & 3)
    shape = np.frombuffer(data, {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}[width], ndim, 1)
    return np.frombuffer(data, dtype, offset=1 + ndim * width).reshape(shape)


def read_mds(directory: pathlib.Path, limit: int | None = None):
    """Yields the samples of an MDS directory as dicts, parsed from ARCHITECTURE.md §5 with NumPy + zstandard."""
    import numpy as np
    import zstandard

    index = json.loads((directory / "index.json").read_text())
    decompressor = zstandard.ZstdDecompressor()
    produced = 0
    for shard in index["shards"]:
        raw = shard_raw_bytes(directory, shard, decompressor)
        count = int(np.frombuffer(raw, np.uint32, 1)[0])
        offsets = np.frombuffer(raw, np.uint32, count + 1, 4).tolist()
        names, encodings, sizes = shard["column_names"], shard["column_encodings"], shard["column_sizes"]
        variable = sum(1 for size in sizes if not size)
        decoders = []
        for encoding in encodings:
            if encoding.startswith("ndarray:"):
                dtype = np.dtype(encoding.split(":")[1])
                decoders.append(lambda b, d=dtype: decode_ndarray(b, d))
            else:
                dtype = np.dtype(encoding)
                decoders.append(lambda b, d=dtype: np.frombuffer(b, d, 1)[0])
        for i in range(count):
            data = raw[offsets[i]:offsets[i + 1]]
            lengths = iter(np.frombuffer(data, np.uint32, variable).tolist())
            position = 4 * variable
            sample = {}
            for name, decode, size in zip(names, decoders, sizes):
                size = size or next(lengths)
                sample[name] = decode(data[position:position + size])
                position += size
            yield sample
            produced += 1
            if limit is not None and produced >= limit:
                return


def shard_raw_bytes(directory: pathlib.Path, shard: dict, decompressor=None) -> bytes:
    import zstandard

    if shard.get("zip_data"):
        compressed = (directory / shard["zip_data"]["basename"]).read_bytes()
        decompressor = decompressor or zstandard.ZstdDecompressor()
        return decompressor.decompress(compressed, max_output_size=shard["raw_data"]["bytes"])
    return (directory / shard["raw_data"]["basename"]).read_bytes()


def shard_sizes(directory: pathlib.Path) -> dict:
    index = json.loads((directory / "index.json").read_text())
    shards = index["shards"]
    return {"shards": len(shards), "samples": sum(s["samples"] for s in shards),
            "raw_bytes": sum(s["raw_data"]["bytes"] for s in shards),
            "zip_bytes": sum((s.get("zip_data") or s["raw_data"])["bytes"] for s in shards),
            "compression": sorted({s.get("compression") or "none" for s in shards})}


def compression_study(directory: pathlib.Path, limit_mb: float) -> dict:
    """Our raw shards (whole shards, up to limit_mb) recompressed with python-zstandard, one thread."""
    import zstandard

    index = json.loads((directory / "index.json").read_text())
    raws = []
    total = 0
    for shard in index["shards"]:
        raws.append(shard_raw_bytes(directory, shard))
        total += len(raws[-1])
        if total >= limit_mb * 1e6:
            break
    result = {"raw_bytes": total, "shards": len(raws), "levels": {}}
    for level in LEVELS:
        compressor = zstandard.ZstdCompressor(level=level)
        start = time.perf_counter()
        frames = [compressor.compress(raw) for raw in raws]
        compress_seconds = time.perf_counter() - start
        decompressor = zstandard.ZstdDecompressor()
        start = time.perf_counter()
        for frame in frames:
            decompressor.decompress(frame)
        decompress_seconds = time.perf_counter() - start
        zipped = sum(map(len, frames))
        result["levels"][str(level)] = {"bytes": zipped, "ratio": total / zipped,
                                        "compress_mb_s": total / 1e6 / compress_seconds,
                                        "decompress_mb_s": total / 1e6 / decompress_seconds}
    return result


def python_readers(directory: pathlib.Path) -> dict:
    """Samples/s of trainer/tca_trainer/shards.py's SoftLabelShards (if importable) and of read_mds."""
    result = {}
    start = time.perf_counter()
    count = sum(1 for _ in read_mds(directory))
    result["bench_parser"] = {"samples": count, "samples_per_second": count / (time.perf_counter() - start)}
    sys.path.insert(0, str(ROOT / "trainer"))
    try:
        from tca_trainer.shards import SoftLabelShards  # noqa: PLC0415 (optional, written elsewhere)
    except Exception as error:  # noqa: BLE001 (any import failure means: not available)
        result["trainer"] = {"available": False, "reason": f"{type(error).__name__}: {error}"}
        return result
    for verify in (True, False):
        key = "trainer" if verify else "trainer_unverified"
        try:
            start = time.perf_counter()
            count = sum(1 for _ in SoftLabelShards(str(directory), verify=verify))
            result[key] = {"available": True, "samples": count, "verify": verify,
                           "samples_per_second": count / (time.perf_counter() - start)}
        except Exception as error:  # noqa: BLE001
            result[key] = {"available": False, "reason": f"SoftLabelShards failed: {type(error).__name__}: {error}"}
    return result


def trainer_reader_samples(directory: pathlib.Path, limit: int):
    """The first `limit` samples through SoftLabelShards when it imports, else through read_mds."""
    sys.path.insert(0, str(ROOT / "trainer"))
    try:
        from tca_trainer.shards import SoftLabelShards  # noqa: PLC0415

        samples = []
        for sample in SoftLabelShards(str(directory)):
            samples.append(sample if isinstance(sample, dict) else vars(sample))
            if len(samples) >= limit:
                break
        return samples, "SoftLabelShards"
    except Exception:  # noqa: BLE001
        return list(read_mds(directory, limit)), "bench MDS parser"


# ------------------------------------------------------------------------------------------ agreement


def load_check(path: pathlib.Path) -> list[list[tuple]]:
    """[sample][position] = (child token ids ascending, probabilities float64)."""
    import numpy as np

    data = np.load(path)
    samples, positions, ids, probs = data["sample_offsets"], data["position_offsets"], data["ids"], data["probs"]
    result = []
    for s in range(len(samples) - 1):
        rows = []
        for p in range(samples[s], samples[s + 1]):
            rows.append((ids[positions[p]:positions[p + 1]], probs[positions[p]:positions[p + 1]]))
        result.append(rows)
    return result


def save_check(path: pathlib.Path, rows: list[list[tuple]]) -> None:
    import numpy as np

    sample_offsets, position_offsets, ids, probs = [0], [0], [], []
    for sample in rows:
        for token_ids, values in sample:
            ids.append(np.asarray(token_ids, np.int64))
            probs.append(np.asarray(values, np.float64))
            position_offsets.append(position_offsets[-1] + len(token_ids))
        sample_offsets.append(len(position_offsets) - 1)
    np.savez(path, sample_offsets=np.array(sample_offsets), position_offsets=np.array(position_offsets),
             ids=np.concatenate(ids) if ids else np.zeros(0, np.int64),
             probs=np.concatenate(probs) if probs else np.zeros(0))


def compare_full(reference: list, other: list, tolerance: float) -> dict:
    """Both give every child of every position (ids ascending): same ids, probabilities within tolerance."""
    import numpy as np

    worst, positions, bad, examples = 0.0, 0, 0, []
    for s, (left, right) in enumerate(zip(reference, other)):
        if len(left) != len(right):
            bad += 1
            examples.append(f"sample {s}: {len(left)} vs {len(right)} positions")
            continue
        for p, ((ids_a, pa), (ids_b, pb)) in enumerate(zip(left, right)):
            positions += 1
            if len(ids_a) != len(ids_b) or np.any(ids_a != ids_b):
                bad += 1
                examples.append(f"sample {s} position {p}: children differ ({len(ids_a)} vs {len(ids_b)})")
                continue
            difference = float(np.max(np.abs(pa - pb))) if len(pa) else 0.0
            worst = max(worst, difference)
            if not difference <= tolerance:
                bad += 1
                k = int(np.argmax(np.abs(pa - pb)))
                examples.append(f"sample {s} position {p} token {ids_a[k]}: {pa[k]:.9g} vs {pb[k]:.9g}")
    return {"positions": positions, "max_abs_diff": worst, "disagreements": bad, "examples": examples[:5],
            "samples": min(len(reference), len(other))}


def error_summary(reference: list, other: list, targets: list) -> dict:
    """How far `other` (the official bf16 arithmetic) is from the exact reference."""
    import numpy as np

    differences, target_relative = [], []
    for left, right, path in zip(reference, other, targets):
        for (ids, pa), (_, pb), token in zip(left, right, path):
            differences.append(np.abs(pa - pb))
            k = int(np.searchsorted(ids, token))
            if pa[k] > 0:
                target_relative.append(abs(pb[k] - pa[k]) / pa[k])
    flat = np.concatenate(differences) if differences else np.zeros(1)
    return {"max_abs_diff": float(flat.max()), "mean_abs_diff": float(flat.mean()),
            "target_max_rel_diff": float(max(target_relative, default=0.0)),
            "target_mean_rel_diff": float(np.mean(target_relative)) if target_relative else 0.0}


def compare_ours(reference: list, samples: list, targets: list, paths: list, users: list, dtype: str) -> dict:
    """Our stored top-k children (ordered by probability) against the exact distributions."""
    import numpy as np

    def field(sample, *names):
        for name in names:
            if name in sample:
                return sample[name]
        raise KeyError(f"none of {names} in our sample (has {sorted(sample)})")

    tolerance = TOLERANCE if dtype == "float32" else 1e-3
    worst, positions, bad, examples, truncated, aligned = 0.0, 0, 0, [], 0, 0
    for row, sample in enumerate(samples):
        sid = int(field(sample, "sample_id")) if "sample_id" in sample else row
        if sid >= len(reference):
            continue
        item = int(field(sample, "item"))
        if item != targets[sid] or ("user" in sample and int(sample["user"]) != users[sid]):
            bad += 1
            examples.append(f"sample_id {sid}: item {item} / user {sample.get('user')} != target {targets[sid]} / "
                            f"user {users[sid]}")
            continue
        aligned += 1
        labels = np.asarray(field(sample, "labels")).astype(np.int64)
        if labels.tolist() != paths[sid]:
            bad += 1
            examples.append(f"sample_id {sid}: labels {labels.tolist()[:8]}… != title path {paths[sid][:8]}…")
            continue
        offsets = np.asarray(field(sample, "soft_offsets")).astype(np.int64)
        ids = np.asarray(field(sample, "soft_ids")).astype(np.int64)
        probs = np.asarray(field(sample, "soft_probs")).astype(np.float64)
        for p, (exact_ids, exact) in enumerate(reference[sid]):
            positions += 1
            kept_ids, kept = ids[offsets[p]:offsets[p + 1]], probs[offsets[p]:offsets[p + 1]]
            where = np.searchsorted(exact_ids, kept_ids)
            where = np.minimum(where, len(exact_ids) - 1)
            if len(kept_ids) == 0 or np.any(exact_ids[where] != kept_ids):
                bad += 1
                examples.append(f"sample_id {sid} position {p}: kept ids are not children of the node")
                continue
            difference = np.abs(exact[where] - kept)
            allowed = tolerance * (1.0 if dtype == "float32" else np.maximum(exact[where], 1e-4))
            worst = max(worst, float(difference.max()))
            if len(kept_ids) < len(exact_ids):
                truncated += 1
                excluded = np.delete(exact, where)
                if excluded.max() > exact[where].min() + tolerance:
                    bad += 1
                    examples.append(f"sample_id {sid} position {p}: dropped a child of p {excluded.max():.6g} but kept "
                                    f"one of p {exact[where].min():.6g} (not the top {len(kept_ids)})")
                    continue
            if np.any(difference > allowed):
                bad += 1
                k = int(np.argmax(difference - allowed))
                examples.append(f"sample_id {sid} position {p} token {kept_ids[k]}: exact {exact[where][k]:.9g}, "
                                f"ours {kept[k]:.9g}")
    return {"samples": aligned, "positions": positions, "truncated_positions": truncated, "max_abs_diff": worst,
            "disagreements": bad, "examples": examples[:5], "tolerance": tolerance}


def compare_shards(peer: list, ours: list) -> dict:
    """(b')'s first samples, read back from its shards, against ours: the same labels, history, user, item
    and soft offsets (not the node ids: NumPy's trie numbers its nodes its own way), and per position the
    same kept children with probabilities within 1e-6 (float64 sums in another order can round a float32
    probability to its neighbour), in the same order except where such a rounding reorders tied children
    (then at most one child at the k-th place may differ)."""
    import numpy as np

    positions, worst, ties, bad = 0, 0.0, 0, []
    for number, (theirs, mine) in enumerate(zip(peer, ours)):
        field = lambda name: np.asarray(mine[name]).tolist()  # noqa: E731
        for name in ("labels", "history", "user", "item", "soft_offsets"):
            if np.asarray(theirs[name]).tolist() != field(name):
                bad.append(f"sample {number}: column {name} differs")
        offsets = field("soft_offsets")
        for position in range(len(offsets) - 1):
            positions += 1
            low, high = offsets[position], offsets[position + 1]
            ids_peer, ids_ours = theirs["soft_ids"][low:high], field("soft_ids")[low:high]
            p_peer = np.asarray(theirs["soft_probs"][low:high], np.float64)
            p_ours = np.asarray(mine["soft_probs"][low:high], np.float64)
            if ids_peer != ids_ours:
                common = set(ids_peer) & set(ids_ours)
                if len(common) < len(ids_ours) - 1 or not np.allclose(np.sort(p_peer), np.sort(p_ours), atol=1e-6):
                    bad.append(f"sample {number} position {position}: kept children differ")
                    continue
                ties += 1
                worst = max(worst, float(np.abs(np.sort(p_peer) - np.sort(p_ours)).max(initial=0)))
                continue
            difference = float(np.abs(p_peer - p_ours).max(initial=0))
            worst = max(worst, difference)
            if difference > 1e-6:
                bad.append(f"sample {number} position {position}: |Δp| {difference:.2e}")
    return {"samples": min(len(peer), len(ours)), "positions": positions, "max_abs_diff": worst,
            "tie_orders": ties, "disagreements": len(bad), "examples": bad[:5]}


# ------------------------------------------------------------------------------------------ workers


class Inputs:
    """What every peer reads: item token paths, the train split, the SASRec weights."""

    def __init__(self, context: dict):
        import numpy as np

        self.context = context
        trie, samples = pathlib.Path(context["trie"]), pathlib.Path(context["samples"])
        offsets = np.load(trie / "items.token_offsets.npy")
        tokens = np.load(trie / "items.tokens.npy")
        self.item_count = len(offsets) - 2
        self.paths = [None] + [tokens[offsets[i]:offsets[i + 1]].tolist() for i in range(1, self.item_count + 1)]
        self.targets = np.load(samples / "train.target.npy").astype(np.int64)
        self.users = np.load(samples / "train.user.npy").astype(np.int64)
        self.history_offsets = np.load(samples / "train.history.offsets.npy")
        self.history_values = np.load(samples / "train.history.values.npy")
        self.beta = float(context["beta"])
        self.vocabulary = int(context["vocabulary"])

    def histories(self, count: int) -> list[list[int]]:
        o, v = self.history_offsets, self.history_values
        return [v[o[i]:o[i + 1]].tolist() for i in range(count)]

    def sasrec(self):
        import torch

        sys.path.insert(0, str(ROOT / "trainer" / "tca_trainer"))
        from safetensors_io import load
        from sasrec_reference import SASRec

        card = json.loads((pathlib.Path(self.context["cf"]) / "model.json").read_text())
        parameters = card["hyperparameters"]
        weights, _ = load(str(pathlib.Path(self.context["cf"]) / "model.safetensors"))
        model = SASRec(card["item_count"], hidden=parameters["hidden"], blocks=parameters["blocks"],
                       heads=parameters["heads"], maxlen=parameters["max_length"], dropout=parameters["dropout"])
        model.load_state_dict({name: torch.from_numpy(value) for name, value in weights.items()})
        model.eval()
        return model, parameters["max_length"]


def worker_vectors(context: dict, threads: int) -> dict:
    """User vectors of every train sample (PyTorch SASRec, eval) and the item vectors, for (b) and (c)."""
    import numpy as np
    import torch

    sys.path.insert(0, str(ROOT / "trainer" / "tca_trainer"))
    from sasrec_reference import left_padded

    torch.set_num_threads(threads)
    inputs = Inputs(context)
    model, maxlen = inputs.sasrec()
    sequences = left_padded(inputs.histories(len(inputs.targets)), maxlen)
    start = time.perf_counter()
    with torch.no_grad():
        users = torch.cat([model.log2feats(sequences[b:b + 2048])[:, -1, :]
                           for b in range(0, len(sequences), 2048)]).numpy()
    seconds = time.perf_counter() - start
    work = pathlib.Path(context["work"])
    np.save(work / "user_vectors.npy", np.ascontiguousarray(users, np.float32))
    np.save(work / "item_vectors.npy", model.item_emb.weight.detach().numpy()[1:].astype(np.float32))
    # Valid and test too, so ours can import the same vectors as an `external` cf model (its metrics
    # need them) and run on exactly the scores the peers use.
    samples = pathlib.Path(context["samples"])
    for split in ("valid", "test"):
        o = np.load(samples / f"{split}.history.offsets.npy")
        v = np.load(samples / f"{split}.history.values.npy")
        histories = left_padded([v[o[i]:o[i + 1]].tolist() for i in range(len(o) - 1)], maxlen)
        with torch.no_grad():
            vectors = torch.cat([model.log2feats(histories[b:b + 2048])[:, -1, :]
                                 for b in range(0, len(histories), 2048)]).numpy()
        np.save(work / f"user_vectors_{split}.npy", np.ascontiguousarray(vectors, np.float32))
    return {"samples": len(users), "seconds": seconds, "samples_per_second": len(users) / seconds}


def write_vectors_pipeline(work: pathlib.Path, base: pathlib.Path, pipeline: str, vectors: pathlib.Path,
                           ours: dict) -> pathlib.Path:
    """The soft-labels entry over an `external` cf model holding the peers' own vectors: ours on exactly
    the scores (a) to (c) use, without our SASRec forward."""
    path = work / "pipelines" / "vectors" / f"{pipeline}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"extends: {base}", "description: soft labels over the peers' vectors, for softlabels_bench.py.",
             "stages:", "  cf-vectors:", "    uses: cf", "    params:", "      model: external",
             f"      item_vectors: {vectors / 'item_vectors.npy'}",
             f"      user_vectors_train: {vectors / 'user_vectors.npy'}",
             f"      user_vectors_valid: {vectors / 'user_vectors_valid.npy'}",
             f"      user_vectors_test: {vectors / 'user_vectors_test.npy'}",
             "  soft-labels:", "    inputs: {cf: cf-vectors}", "    params:"]
    lines += [f"      {key}: {json.dumps(value)}" for key, value in ours.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


# The official trie, as critical88/TCA4Rec models/LLM4Rec.py defines it (insert and the lookup used by the
# training forward; comments translated).
class TrieNode:
    def __init__(self):
        self.children = {}
        self.is_end_of_word = False
        self.token_item_pairs = ([], [])  # precomputed (all_tokens, all_item_ids)


class Trie:
    def __init__(self):
        self.root = TrieNode()
        self.path_cache = {}  # prefix tuple -> (node, is_end)

    def insert(self, word, item_id=None):
        node = self.root
        path = []
        for token in word:
            path.append(token)
            if item_id is not None:
                all_tokens, all_item_ids = node.token_item_pairs
                all_tokens.append(token)
                all_item_ids.append(item_id)
            if token not in node.children:
                node.children[token] = TrieNode()
            node = node.children[token]
            self.path_cache[tuple(path)] = (node, False)
        node.is_end_of_word = True
        self.path_cache[tuple(path)] = (node, True)

    def get_node_for_sequence(self, batch_idx, tokens):
        if not tokens.numel():
            return self.root, True
        token_tuple = tuple(token.item() for token in tokens)
        if token_tuple in self.path_cache:
            return self.path_cache[token_tuple][0], True
        return None, False


def worker_official(context: dict, threads: int) -> dict:
    import numpy as np
    import torch

    sys.path.insert(0, str(ROOT / "trainer" / "tca_trainer"))
    from sasrec_reference import left_padded

    try:
        from torch_scatter import scatter_sum
        scatter = "torch_scatter.scatter_sum"
    except ImportError:
        def scatter_sum(src, index, dim=-1, dim_size=None):  # what torch_scatter.scatter_sum does for 1-D input
            return torch.zeros(dim_size, dtype=src.dtype).scatter_add_(dim, index, src)
        scatter = "Tensor.scatter_add_ (torch_scatter not installed)"

    torch.set_num_threads(threads)
    inputs = Inputs(context)
    count = min(int(context["official_samples"]), len(inputs.targets))
    check = min(int(context["check_samples"]), count)
    model, maxlen = inputs.sasrec()
    vocabulary, beta, n_item = inputs.vocabulary, inputs.beta, inputs.item_count

    start = time.perf_counter()
    trie = Trie()
    for item_id in range(1, n_item + 1):  # official: trie.insert(token_ids + [eos], item_id); ours end in EOS
        trie.insert(inputs.paths[item_id], item_id)
    build_seconds = time.perf_counter() - start

    # The data loader's work (untimed): histories left-padded, the target title's tokens after BOS.
    hist_id = left_padded(inputs.histories(count), maxlen)
    generated = [torch.tensor(inputs.paths[int(t)], dtype=torch.long) for t in inputs.targets[:count]]

    clock = dict.fromkeys(("cf_logits", "dense_outputs", "trie_lookup", "list_to_tensor", "gather_softmax_scatter",
                           "dense_writes"), 0.0)
    now = time.perf_counter

    def forward(rows: range, dtype) -> tuple:
        """The soft-label part of LLM4Rec.forward for one micro-batch (labels/loss left out), with the time
        of each phase added to `clock`. The dense outputs span the title positions only (the original's
        span the whole prompt: zeros_like(logits))."""
        with torch.no_grad():
            t0 = now()
            user_embs = model.log2feats(hist_id[rows.start:rows.stop])[:, -1, :].to(dtype)
            item_embs = model.item_emb(torch.arange(n_item + 1)).to(dtype)
            cf_logits = torch.matmul(user_embs, item_embs.t())
            t1 = now()
            length = max(len(generated[r]) for r in rows)
            allowed_tokens_mask = torch.zeros((len(rows), length, vocabulary), dtype=torch.bool)
            token_cf_logits = torch.zeros((len(rows), length, vocabulary))
            t2 = now()
            clock["cf_logits"] += t1 - t0
            clock["dense_outputs"] += t2 - t1
            for batch_idx, row in enumerate(rows):
                generated_tokens = generated[row]
                for t in range(len(generated_tokens)):
                    t0 = now()
                    node, valid_path = trie.get_node_for_sequence(batch_idx, generated_tokens[:t])
                    if node.is_end_of_word or len(node.children) == 0:
                        clock["trie_lookup"] += now() - t0
                        continue
                    next_tokens = list(node.children.keys())
                    t1 = now()
                    allowed_tokens_mask[batch_idx, t, next_tokens] = True
                    all_tokens, all_item_ids = node.token_item_pairs
                    t2 = t3 = t4 = now()
                    if all_tokens:
                        all_tokens = torch.tensor(all_tokens)
                        all_item_ids = torch.tensor(all_item_ids)
                        t3 = now()
                        all_cf_logits = cf_logits[batch_idx][all_item_ids]
                        token_sums = scatter_sum((all_cf_logits / beta).softmax(dim=-1), all_tokens, dim=-1,
                                                 dim_size=vocabulary)
                        t4 = now()
                        token_cf_logits[batch_idx, t] = token_sums
                    t5 = now()
                    clock["trie_lookup"] += t1 - t0
                    clock["list_to_tensor"] += t3 - t2
                    clock["gather_softmax_scatter"] += t4 - t3
                    clock["dense_writes"] += (t2 - t1) + (t5 - t4)
        return token_cf_logits, allowed_tokens_mask

    positions = sum(len(g) for g in generated)
    forward(range(0, min(OFFICIAL_MICRO_BATCH, count)), torch.float32)  # warm-up (oneDNN, allocator)
    seconds, passes = float("inf"), []
    for _ in range(int(context["repeat"])):  # the best pass: these machines are shared
        clock.update(dict.fromkeys(clock, 0.0))
        start = time.perf_counter()
        for b in range(0, count, OFFICIAL_MICRO_BATCH):
            forward(range(b, min(b + OFFICIAL_MICRO_BATCH, count)), torch.float32)
        passes.append(time.perf_counter() - start)
        if passes[-1] < seconds:
            seconds = passes[-1]
            breakdown = {key: value / seconds for key, value in clock.items()}

    work = pathlib.Path(context["work"])
    for dtype, name in ((torch.float32, "official"), (torch.bfloat16, "official_bf16")):
        rows_out = []
        for b in range(0, check, OFFICIAL_MICRO_BATCH):
            rows = range(b, min(b + OFFICIAL_MICRO_BATCH, check))
            dense, _ = forward(rows, dtype)
            for batch_idx, row in enumerate(rows):
                sample = []
                for t in range(len(generated[row])):
                    node = trie.get_node_for_sequence(0, generated[row][:t])[0]
                    ids = np.array(sorted(node.children), np.int64)
                    sample.append((ids, dense[batch_idx, t, ids].double().numpy()))
                rows_out.append(sample)
        save_check(work / f"check_{name}.npz", rows_out)

    distinct = sum(1 for key, (node, end) in trie.path_cache.items() if end)
    return {"samples": count, "positions": positions, "seconds": seconds, "samples_per_second": count / seconds,
            "positions_per_second": positions / seconds, "trie_build_seconds": build_seconds,
            "trie_nodes": len(trie.path_cache) + 1, "distinct_titles": distinct, "items": n_item,
            "micro_batch": OFFICIAL_MICRO_BATCH, "scatter": scatter, "dtype": "float32",
            "time_shares": breakdown, "passes_seconds": passes}


def build_numpy_trie(paths: list, item_count: int):
    """Per node: the items under it (as score indices) sorted by next token, the segment starts and tokens;
    single-child nodes keep only their token. Per item: the node before each token of its path."""
    import numpy as np

    child_of: dict[tuple[int, int], int] = {}
    pair_tokens: list[list[int]] = [[]]
    pair_items: list[list[int]] = [[]]
    item_nodes: list[list[int] | None] = [None] * (item_count + 1)
    for item in range(1, item_count + 1):
        node, visited = 0, []
        for token in paths[item]:
            visited.append(node)
            pair_tokens[node].append(token)
            pair_items[node].append(item - 1)
            child = child_of.get((node, token))
            if child is None:
                child = child_of[(node, token)] = len(pair_tokens)
                pair_tokens.append([])
                pair_items.append([])
            node = child
        item_nodes[item] = visited
    single: dict[int, int] = {}
    branching: dict[int, tuple] = {}
    for node, tokens in enumerate(pair_tokens):
        if not tokens:
            continue
        tokens = np.asarray(tokens, np.int64)
        order = np.argsort(tokens, kind="stable")
        tokens = tokens[order]
        unique, starts = np.unique(tokens, return_index=True)
        if len(unique) == 1:
            single[node] = int(unique[0])
        else:
            branching[node] = (np.asarray(pair_items[node], np.intp)[order], starts, unique)
    return single, branching, item_nodes, len(pair_tokens)


def worker_numpy(context: dict, threads: int) -> dict:
    """(b): every branching position's full distribution, kept in memory and dropped."""
    return numpy_peer(context, shards=False)


def worker_numpy_shards(context: dict, threads: int) -> dict:
    """(b'): (b), then what the stage does with each distribution before its clock stops: the top k,
    written as MDS shards."""
    return numpy_peer(context, shards=True)


def mds_ndarray(values) -> bytes:
    """A 1-D array as MDS `ndarray:<dtype>` bytes: (1 << 2 | shape width code), the shape, the values."""
    count = len(values)
    if count < 1 << 8:
        head = bytes((4, count))
    elif count < 1 << 16:
        head = bytes((5,)) + count.to_bytes(2, "little")
    else:
        head = bytes((6,)) + count.to_bytes(4, "little")
    return head + values.tobytes()


class NumpyShardWriter:
    """(b')'s output: MDS shards with the stage's columns (ARCHITECTURE.md §5), written as streaming's
    MDSWriter writes them: each shard's raw bytes assembled in memory, compressed in one call with
    python-zstandard (level 1, as ours, content size in the frame, threads=-1: every core), hashed
    (sha256 of the raw and the compressed bytes, for index.json) and written to a file; index.json last."""

    COLUMNS = (["history", "item", "labels", "nodes", "sample_id", "soft_ids", "soft_offsets", "soft_probs", "user"],
               ["ndarray:uint32", "uint32", "ndarray:uint32", "ndarray:uint32", "uint64", "ndarray:uint32",
                "ndarray:uint32", "ndarray:float32", "uint32"],
               [None, 4, None, None, 8, None, None, None, 4])

    def __init__(self, directory: pathlib.Path, shard_samples: int, level: int, dtype: str):
        import zstandard

        self.directory, self.shard_samples, self.level = directory, shard_samples, level
        self.compressor = zstandard.ZstdCompressor(level=level, write_content_size=True, threads=-1)
        names, encodings, sizes = self.COLUMNS
        encodings = [f"ndarray:{dtype}" if name == "soft_probs" else encoding
                     for name, encoding in zip(names, encodings)]
        self.config = {"column_encodings": encodings, "column_names": names, "column_sizes": sizes,
                       "compression": f"zstd:{level}", "format": "mds", "hashes": ["sha256"], "size_limit": None,
                       "version": 2}
        self.samples: list[bytes] = []
        self.shards: list[dict] = []

    def append(self, sample_id: int, user: int, item: int, history, labels, nodes, offsets, ids, probabilities):
        import struct

        variable = [mds_ndarray(history), mds_ndarray(labels), mds_ndarray(nodes), mds_ndarray(ids),
                    mds_ndarray(offsets), mds_ndarray(probabilities)]
        self.samples.append(b"".join([struct.pack("<6I", *map(len, variable)), variable[0], struct.pack("<I", item),
                                      variable[1], variable[2], struct.pack("<Q", sample_id), variable[3],
                                      variable[4], variable[5], struct.pack("<I", user)]))
        if len(self.samples) == self.shard_samples:
            self.flush()

    def flush(self):
        import hashlib

        import numpy as np

        if not self.samples:
            return
        config = json.dumps(self.config, sort_keys=True).encode()
        header = 4 + 4 * (len(self.samples) + 1) + len(config)
        offsets = np.empty(len(self.samples) + 1, np.uint32)
        offsets[0] = header
        np.cumsum([len(sample) for sample in self.samples], out=offsets[1:])
        offsets[1:] += header
        raw = b"".join([np.uint32(len(self.samples)).tobytes(), offsets.tobytes(), config] + self.samples)
        zipped = self.compressor.compress(raw)
        name = f"shard.{len(self.shards):05d}.mds"
        (self.directory / f"{name}.zstd").write_bytes(zipped)
        self.shards.append(dict(self.config, raw_data={"basename": name, "bytes": len(raw),
                                                       "hashes": {"sha256": hashlib.sha256(raw).hexdigest()}},
                                zip_data={"basename": f"{name}.zstd", "bytes": len(zipped),
                                          "hashes": {"sha256": hashlib.sha256(zipped).hexdigest()}},
                                samples=len(self.samples)))
        self.samples = []

    def close(self):
        self.flush()
        (self.directory / "index.json").write_text(json.dumps({"shards": self.shards, "version": 2}, sort_keys=True))


def numpy_peer(context: dict, shards: bool) -> dict:
    """(b), or with `shards` (b'): the same distributions, then per position the top k children by stored
    (float32) probability, then token id, as the stage keeps them (np.argpartition for the k largest, every
    child tied with the k-th added, a stable np.argsort), written as the stage's MDS shards
    (NumpyShardWriter)."""
    import numpy as np

    inputs = Inputs(context)
    work = pathlib.Path(context["work"])
    users = np.load(work / "user_vectors.npy")
    items = np.load(work / "item_vectors.npy")
    count = numpy_sample_count(int(context["numpy_samples"]), len(inputs.targets))
    check = min(int(context["check_samples"]), count)
    beta = inputs.beta
    k = context.get("k", 64)
    k = None if k == "all" else int(k)
    start = time.perf_counter()
    single, branching, item_nodes, nodes = build_numpy_trie(inputs.paths, inputs.item_count)
    build_seconds = time.perf_counter() - start
    one = np.ones(1)
    stored = np.dtype(context.get("dtype", "float32"))  # float16 rounds to nearest here (ours: toward 0)
    def top(tokens, probabilities):
        """The kept children: by probability descending, then token id (a node's tokens ascend, so a stable
        sort of the negated probabilities breaks ties by token)."""
        if k is not None and len(probabilities) > k:
            kth = probabilities[np.argpartition(probabilities, len(probabilities) - k)[len(probabilities) - k]]
            candidates = np.flatnonzero(probabilities >= kth)
            order = candidates[np.argsort(-probabilities[candidates], kind="stable")[:k]]
        else:
            order = np.argsort(-probabilities, kind="stable")
        return tokens[order], probabilities[order]

    if shards:  # (b')'s columns as arrays, and a sample's kept children's buffers: set up untimed, as (b)'s trie
        paths = [None] + [np.asarray(path, np.uint32) for path in inputs.paths[1:]]
        nodes_of = [None] + [np.asarray(visited, np.uint32) for visited in item_nodes[1:]]
        history_offsets, history_values = inputs.history_offsets, inputs.history_values.astype(np.uint32)
        widest = max((len(tokens) for _, _, tokens in branching.values()), default=1)
        longest = max(len(path) for path in inputs.paths[1:])
        ids_buffer = np.empty(longest * min(widest, k or widest), np.uint32)
        probabilities_buffer = np.empty(len(ids_buffer), stored)
        node_tokens = {node: tokens.astype(np.uint32) for node, (_, _, tokens) in branching.items()}

    def labels(rows: range, keep: bool, writer: NumpyShardWriter | None):
        buffer = np.empty((SGEMM_BATCH, inputs.item_count), np.float32)
        scratch = np.empty(inputs.item_count, np.float32)
        output = []
        for b in range(rows.start, rows.stop, SGEMM_BATCH):
            n = min(SGEMM_BATCH, rows.stop - b)
            scores = buffer[:n]
            np.matmul(users[b:b + n], items.T, out=scores)
            for r in range(n):
                s = scores[r]
                np.subtract(s, s.max(), out=scratch)
                if beta != 1.0:
                    scratch /= beta
                e = np.exp(scratch, out=scratch)
                sample = []
                target = int(inputs.targets[b + r])
                for node in item_nodes[target]:
                    token = single.get(node)
                    if token is not None:
                        sample.append((token, one))
                        continue
                    indices, starts, tokens = branching[node]
                    if writer is not None:
                        tokens = node_tokens[node]
                    masses = np.add.reduceat(e[indices], starts, dtype=np.float64)
                    total = masses.sum()
                    if not total > 1e-30:  # every item of the node underflowed: use the node's own maximum
                        local = s[indices].astype(np.float64)
                        masses = np.add.reduceat(np.exp((local - local.max()) / beta), starts)
                        total = masses.sum()
                    sample.append((tokens, masses / total))
                if writer is not None:
                    offsets, used = [0], 0
                    for token, probabilities in sample:
                        if probabilities is one:
                            ids_buffer[used] = token
                            probabilities_buffer[used] = 1
                            used += 1
                        else:
                            ids, kept = top(token, probabilities.astype(stored))
                            ids_buffer[used:used + len(ids)] = ids
                            probabilities_buffer[used:used + len(ids)] = kept
                            used += len(ids)
                        offsets.append(used)
                    index = b + r
                    writer.append(index, int(inputs.users[index]), target,
                                  history_values[history_offsets[index]:history_offsets[index + 1]], paths[target],
                                  nodes_of[target], np.asarray(offsets, np.uint32), ids_buffer[:used],
                                  probabilities_buffer[:used])
                if keep:
                    output.append(sample)
        if writer is not None:
            writer.close()
        return output

    positions = sum(len(inputs.paths[int(t)]) for t in inputs.targets[:count])
    passes = []
    output = pathlib.Path(tempfile.mkdtemp(prefix="numpy-shards-", dir=work)) if shards else None
    try:
        for _ in range(int(context["numpy_passes"])):
            writer = NumpyShardWriter(output, int(context.get("shard_samples", SHARD_SAMPLES)),
                                      int(context.get("zstd_level", 1)), stored.name) if shards else None
            start = time.perf_counter()
            labels(range(0, count), keep=False, writer=writer)
            passes.append(time.perf_counter() - start)
        result = {"samples": count, "positions": positions, "seconds": min(passes),
                  "samples_per_second": count / min(passes), "positions_per_second": positions / min(passes),
                  "setup_seconds": build_seconds, "trie_nodes": nodes, "branching_nodes": len(branching),
                  "passes_seconds": passes}
        if shards:
            index = json.loads((output / "index.json").read_text())
            result["shards"] = len(index["shards"])
            result["zip_bytes"] = sum(shard["zip_data"]["bytes"] for shard in index["shards"])
            result["raw_bytes"] = sum(shard["raw_data"]["bytes"] for shard in index["shards"])
            result["check"] = [{name: sample[name].tolist() for name in ("labels", "soft_offsets", "soft_ids",
                                                                          "soft_probs", "history", "user", "item")}
                               for sample in read_mds(output, check)]
    finally:
        if output is not None:
            shutil.rmtree(output, ignore_errors=True)
    if not shards:
        checked = labels(range(0, check), keep=True, writer=None)
        save_check(work / "check_numpy.npz",
                   [[(np.atleast_1d(ids), probs) for ids, probs in sample] for sample in checked])
    return result


def numpy_sample_count(requested: int, available: int) -> int:
    """(b)'s sample count: the first `requested` train samples, or every one for 0."""
    return available if requested <= 0 else min(requested, available)


def worker_floor(context: dict, threads: int) -> dict:
    import numpy as np

    work = pathlib.Path(context["work"])
    users = np.load(work / "user_vectors.npy")
    items = np.load(work / "item_vectors.npy")
    buffer = np.empty((SGEMM_BATCH, len(items)), np.float32)
    best, repetitions, spent = float("inf"), 0, 0.0
    while repetitions < 3 or (spent < 2.0 and repetitions < 20):
        start = time.perf_counter()
        for b in range(0, len(users), SGEMM_BATCH):
            n = min(SGEMM_BATCH, len(users) - b)
            np.matmul(users[b:b + n], items.T, out=buffer[:n])
        elapsed = time.perf_counter() - start
        best, spent, repetitions = min(best, elapsed), spent + elapsed, repetitions + 1
    return {"samples": len(users), "seconds": best, "samples_per_second": len(users) / best,
            "repetitions": repetitions, "threads": threads, "blas_threads": numpy_blas_threads(),
            "items": len(items), "dims": items.shape[1]}


def numpy_blas_threads() -> int | None:
    """The thread count NumPy's bundled OpenBLAS runs with (checks that OPENBLAS_NUM_THREADS took)."""
    import numpy as np

    for path in glob.glob(str(pathlib.Path(np.__file__).parent.parent / "numpy.libs" / "libscipy_openblas*.so")):
        library = ctypes.CDLL(path)
        for symbol in ("scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads"):
            if hasattr(library, symbol):
                return int(getattr(library, symbol)())
    return None


WORKERS = {"vectors": worker_vectors, "official": worker_official, "numpy": worker_numpy,
           "numpy-shards": worker_numpy_shards, "floor": worker_floor}


# ------------------------------------------------------------------------------------------ one dataset


def bench_dataset(name: str, args, work: pathlib.Path, home: pathlib.Path, coretype: str | None) -> dict:
    import numpy as np

    pipeline = DATASETS[name]
    ours_params = {"splits": ["train"], "k": args.k if args.k == "all" else int(args.k), "beta": args.beta,
                   "dtype": args.dtype, "zstd_level": args.zstd_level}
    base, soft = write_pipelines(work, pipeline, args.cf_epochs, ours_params)
    print(f"softlabels_bench: {pipeline}: data stages and a {args.cf_epochs}-epoch SASRec (tca run --only trie cf)…",
          file=sys.stderr)
    inputs = prepare(home, base, pipeline)
    special = json.loads((pathlib.Path(inputs["trie"]) / "special_tokens.json").read_text())
    directory = work / pipeline
    directory.mkdir(parents=True, exist_ok=True)
    context = dict(inputs, work=str(directory), beta=args.beta, vocabulary=special["vocab_size"],
                   official_samples=args.official_samples, numpy_samples=args.numpy_samples,
                   check_samples=args.check_samples, repeat=args.repeat, numpy_passes=1, k=args.k,
                   dtype=args.dtype, zstd_level=args.zstd_level, shard_samples=SHARD_SAMPLES)
    context_path = directory / "context.json"
    context_path.write_text(json.dumps(context))

    targets = np.load(pathlib.Path(inputs["samples"]) / "train.target.npy").astype(np.int64)
    users = np.load(pathlib.Path(inputs["samples"]) / "train.user.npy").astype(np.int64)
    offsets = np.load(pathlib.Path(inputs["trie"]) / "items.token_offsets.npy")
    tokens = np.load(pathlib.Path(inputs["trie"]) / "items.tokens.npy")
    lengths = np.diff(offsets.astype(np.int64))
    result = {"pipeline": pipeline, "items": len(offsets) - 2, "train_samples": len(targets),
              "positions": int(lengths[targets].sum()), "mean_positions": float(lengths[targets].mean()),
              "vocabulary": special["vocab_size"], "eos": special["eos"]["id"], "setup_seconds": inputs["seconds"]}

    step = lambda label: print(f"softlabels_bench: {pipeline}: {label}…", file=sys.stderr)  # noqa: E731
    result["load_average_before"] = os.getloadavg()[0]
    step("user vectors (PyTorch SASRec)")
    result["user_vectors"] = worker("vectors", context_path, args.threads)
    step(f"(a) official on {min(args.official_samples, len(targets))} samples")
    result["official"] = worker("official", context_path, args.threads)
    # (b), (b'), (c), (d) and (d') take turns, round after round, and each keeps its best round: this
    # machine's speed drifts by up to 2x within minutes, and the ratios compare rounds run side by side.
    vectors_pipeline = write_vectors_pipeline(work, base, pipeline, directory, ours_params)
    fastest = lambda runs: max(runs, key=lambda run: run["samples_per_second"])  # noqa: E731
    best_ours = lambda runs: next((run for run in runs if not run["available"]), None) or min(  # noqa: E731
        runs, key=lambda run: run["metrics"].get("compute_seconds", float("inf")))
    numpy_runs, shards_runs, floor_runs, floor1_runs, ours_runs, vectors_runs = [], [], [], [], [], []
    for round_number in range(1, args.repeat + 1):
        step(f"round {round_number}/{args.repeat}: (b) NumPy on "
             f"{numpy_sample_count(args.numpy_samples, len(targets)):,} samples, (b') NumPy writing shards, "
             "(c) sgemm floor, (d) ours (tca soft-labels), (d') ours on the peers' vectors")
        numpy_runs.append(worker("numpy", context_path, args.threads))
        shards_runs.append(worker("numpy-shards", context_path, args.threads))
        floor_runs.append(worker("floor", context_path, args.threads))
        if args.threads != 1:
            floor1_runs.append(worker("floor", context_path, 1))
        ours_runs.append(run_ours(home, soft, pipeline, args.threads, coretype))
        if ours_runs[-1]["available"]:
            vectors_runs.append(run_ours(home, vectors_pipeline, pipeline, args.threads, coretype))
    result["numpy"] = fastest(numpy_runs)
    result["numpy"]["rounds_samples_per_second"] = [run["samples_per_second"] for run in numpy_runs]
    result["numpy_shards"] = fastest(shards_runs)
    result["numpy_shards"]["rounds_samples_per_second"] = [run["samples_per_second"] for run in shards_runs]
    peer_check = result["numpy_shards"].pop("check")
    for run in shards_runs:
        run.pop("check", None)
    result["floor"] = {str(args.threads): fastest(floor_runs)}
    result["floor"][str(args.threads)]["rounds_samples_per_second"] = [run["samples_per_second"] for run in floor_runs]
    if floor1_runs:
        result["floor"]["1"] = fastest(floor1_runs)
    ours = best_ours(ours_runs)
    if ours["available"]:  # the shards are the last run's (byte-identical by design)
        ours["passes_compute_seconds"] = [run["metrics"].get("compute_seconds") for run in ours_runs]
        ours["directory"] = ours_runs[-1]["directory"]
    result["ours"] = ours
    if vectors_runs:
        result["ours_vectors"] = best_ours(vectors_runs)
        result["ours_vectors"]["passes_compute_seconds"] = [run["metrics"].get("compute_seconds")
                                                            for run in vectors_runs if run["available"]]
    for entry in (ours, result.get("ours_vectors")):
        if not entry or not entry["available"]:
            continue
        metrics = entry["metrics"]
        missing = [key for key in ("samples", "positions", "compute_seconds") if key not in metrics]
        if missing:
            entry.update(available=False, reason=f"manifest metrics lack {', '.join(missing)}")
        else:
            entry["samples_per_second"] = metrics["samples"] / metrics["compute_seconds"]
            entry["positions_per_second"] = metrics["positions"] / metrics["compute_seconds"]

    # Agreement on the first samples.
    official = load_check(directory / "check_official.npz")
    numpy_rows = load_check(directory / "check_numpy.npz")
    bf16 = load_check(directory / "check_official_bf16.npz")
    paths = [tokens[offsets[t]:offsets[t + 1]].astype(np.int64).tolist() for t in targets[:args.check_samples]]
    agreement = {"official_vs_numpy": compare_full(numpy_rows, official, TOLERANCE),
                 "official_bf16_vs_exact": error_summary(numpy_rows, bf16, paths)}
    if ours["available"]:
        try:
            shards = shard_directory(pathlib.Path(ours["directory"]))
            samples, reader = trainer_reader_samples(shards, args.check_samples)
            agreement["ours_vs_numpy"] = compare_ours(numpy_rows, samples, targets.tolist(), paths, users.tolist(),
                                                      args.dtype)
            agreement["ours_vs_numpy"]["reader"] = reader
            agreement["numpy_shards_vs_ours"] = compare_shards(peer_check, samples)
            sizes = shard_sizes(shards)
            ours["shards"] = sizes
            ours["zip_bytes_per_sample"] = sizes["zip_bytes"] / max(sizes["samples"], 1)
            ours["raw_bytes_per_sample"] = sizes["raw_bytes"] / max(sizes["samples"], 1)
            step("zstd levels on our raw shards")
            ours["zstd"] = compression_study(shards, args.compress_mb)
            step("Python readers")
            ours["readers"] = python_readers(shards)
        except Exception as error:  # noqa: BLE001 (a stage still being written: say what broke, carry on)
            ours["shard_error"] = f"{type(error).__name__}: {error}"
    result["agreement"] = agreement
    vectors_rate = result["user_vectors"]["samples_per_second"]
    result["numpy_with_user_vectors_samples_per_second"] = 1 / (1 / result["numpy"]["samples_per_second"]
                                                                + 1 / vectors_rate)
    if ours["available"]:
        rate_ours = ours["samples_per_second"]
        result["ratios"] = {
            "ours_over_official": rate_ours / result["official"]["samples_per_second"],
            "ours_over_numpy": rate_ours / result["numpy"]["samples_per_second"],
            "ours_over_numpy_with_user_vectors": rate_ours / result["numpy_with_user_vectors_samples_per_second"],
            "floor_over_ours": result["floor"][str(args.threads)]["samples_per_second"] / rate_ours,
            "ours_over_numpy_shards": rate_ours / result["numpy_shards"]["samples_per_second"],
        }
    same = result.get("ours_vectors")
    if same and same["available"]:
        rate_same = same["samples_per_second"]
        result["ratios_vectors"] = {
            "ours_over_official": rate_same / result["official"]["samples_per_second"],
            "ours_over_numpy": rate_same / result["numpy"]["samples_per_second"],
            "ours_over_numpy_shards": rate_same / result["numpy_shards"]["samples_per_second"],
            "floor_over_ours": result["floor"][str(args.threads)]["samples_per_second"] / rate_same,
        }
    result["load_average_after"] = os.getloadavg()[0]
    return result


# ------------------------------------------------------------------------------------------ report


def rate(value: float | None) -> str:
    return "—" if value is None else (f"{value:,.0f}" if value >= 100 else f"{value:,.1f}")


def report(result: dict, threads: int) -> None:
    official, numpy_result, floor, ours = result["official"], result["numpy"], result["floor"], result["ours"]
    mean = result["mean_positions"]
    print(f"\nsoft labels on {result['pipeline']}: {result['items']:,} items, "
          f"{result['train_samples']:,} train samples, "
          f"{mean:.2f} positions/sample (title + EOS), vocabulary {result['vocabulary']:,}; {threads} threads; "
          f"load average {result['load_average_before']:.1f} → {result['load_average_after']:.1f} "
          f"on {os.cpu_count()} cores")
    print(f"  {'implementation':<44} {'samples':>8} {'samples/s':>11} {'positions/s':>12}")
    rows = [("(a) official (PyTorch fp32, per position)", official),
            ("(b) NumPy (gather + reduceat per node)", numpy_result),
            ("(b') NumPy writing the same shards", result["numpy_shards"]),
            (f"(c) sgemm floor, {threads} thread(s)", floor[str(threads)])]
    if "1" in floor and threads != 1:
        rows.append(("(c) sgemm floor, 1 thread", floor["1"]))
    for label, entry in rows:
        positions = entry.get("positions_per_second", entry["samples_per_second"] * mean)
        print(f"  {label:<44} {entry['samples']:>8,} {rate(entry['samples_per_second']):>11} {rate(positions):>12}")
    if ours["available"]:
        label = f"(d) ours (tca soft-labels, {ours['threads']} threads)"
        print(f"  {label:<44} {ours['metrics']['samples']:>8,} {rate(ours['samples_per_second']):>11} "
              f"{rate(ours['positions_per_second']):>12}")
        ours_rate, top = ours["samples_per_second"], floor[str(threads)]["samples_per_second"]
        print(f"  ours / official {ours_rate / official['samples_per_second']:,.0f}x, ours / NumPy "
              f"{ours_rate / numpy_result['samples_per_second']:,.1f}x (writing shards "
              f"{ours_rate / result['numpy_shards']['samples_per_second']:,.1f}x), floor / ours {top / ours_rate:.2f}x"
              f"   (ours: compute_seconds {ours['metrics']['compute_seconds']:.2f} s, process "
              f"{ours['process_seconds']:.2f} s"
              f"{', OPENBLAS_CORETYPE=' + ours['coretype'] if ours['coretype'] else ''})")
    else:
        print(f"  ours: unavailable ({ours['reason']})")
    same = result.get("ours_vectors")
    if same and same["available"]:
        same_rate, top = same["samples_per_second"], floor[str(threads)]["samples_per_second"]
        label = "(d') ours on the peers' vectors (no SASRec)"
        print(f"  {label:<44} {same['metrics']['samples']:>8,} {rate(same_rate):>11} "
              f"{rate(same['positions_per_second']):>12}")
        print(f"  same scores as (a)-(c): ours / official {same_rate / official['samples_per_second']:,.0f}x, "
              f"ours / NumPy {same_rate / numpy_result['samples_per_second']:,.1f}x (writing shards "
              f"{same_rate / result['numpy_shards']['samples_per_second']:,.1f}x), floor / ours {top / same_rate:.2f}x")
    elif same:
        print(f"  (d') ours on the peers' vectors: unavailable ({same['reason']})")
    shares = sorted(official.get("time_shares", {}).items(), key=lambda pair: -pair[1])
    if shares:
        print("  official's time: "
              + ", ".join(f"{name.replace('_', ' ')} {100 * share:.0f}%" for name, share in shares)
              + f" (scatter: {official['scatter']})")
    vectors = result["user_vectors"]
    with_vectors = 1 / (1 / numpy_result["samples_per_second"] + 1 / vectors["samples_per_second"])
    print(f"  not in (b)/(c): user vectors by PyTorch SASRec {rate(vectors['samples_per_second'])} samples/s "
          f"((b) with them: {rate(with_vectors)} samples/s); "
          f"setup: official trie {official['trie_build_seconds']:.2f} s, "
          f"NumPy per-node arrays {numpy_result['setup_seconds']:.2f} s")

    agreement = result["agreement"]
    full = agreement["official_vs_numpy"]
    verdict = "agree" if full["disagreements"] == 0 else "DISAGREE"
    print(f"  agreement, first {full['samples']} samples: official vs NumPy {verdict} on {full['positions']} positions "
          f"(max |Δp| {full['max_abs_diff']:.2e}, tolerance {TOLERANCE:g})")
    for example in full["examples"]:
        print(f"    !! {example}")
    if "ours_vs_numpy" in agreement:
        mine = agreement["ours_vs_numpy"]
        verdict = "agree" if mine["disagreements"] == 0 and mine["positions"] else "DISAGREE"
        print(f"  agreement: ours vs NumPy {verdict} on {mine['positions']} positions of {mine['samples']} samples "
              f"({mine['truncated_positions']} cut to top-k; max |Δp| {mine['max_abs_diff']:.2e}, tolerance "
              f"{mine['tolerance']:g}; read with {mine['reader']})")
        for example in mine["examples"]:
            print(f"    !! {example}")
    if "numpy_shards_vs_ours" in agreement:
        peer = agreement["numpy_shards_vs_ours"]
        verdict = "agree" if peer["disagreements"] == 0 else "DISAGREE"
        print(f"  (b')'s shards vs ours, first {peer['samples']} samples: {verdict} on {peer['positions']} positions "
              f"(max |Δp| {peer['max_abs_diff']:.2e}; {peer['tie_orders']} differ only in the order of tied "
              f"children); (b') wrote {result['numpy_shards']['zip_bytes'] / result['numpy_shards']['samples']:,.0f} "
              f"B/sample zipped")
        for example in peer["examples"]:
            print(f"    !! {example}")
    bf16 = agreement["official_bf16_vs_exact"]
    print(f"  the official bf16 arithmetic (cf logits, softmax, scatter in bf16) vs exact: max |Δp| "
          f"{bf16['max_abs_diff']:.2e}, mean {bf16['mean_abs_diff']:.2e}; target token's p off by up to "
          f"{100 * bf16['target_max_rel_diff']:.1f}% (mean {100 * bf16['target_mean_rel_diff']:.2f}%)")

    if ours["available"] and "shards" in ours:
        sizes = ours["shards"]
        print(f"  our shards: {sizes['shards']} shard(s), {sizes['samples']:,} samples, "
              f"{ours['zip_bytes_per_sample']:,.0f} B/sample zipped ({', '.join(sizes['compression'])}), "
              f"{ours['raw_bytes_per_sample']:,.0f} B/sample raw, ratio {sizes['raw_bytes'] / sizes['zip_bytes']:.2f}")
        study = ours["zstd"]
        levels = ", ".join(f"{level}: ×{entry['ratio']:.2f} at {entry['compress_mb_s']:,.0f} MB/s "
                           f"(decompress {entry['decompress_mb_s']:,.0f})" for level, entry in study["levels"].items())
        print(f"  python-zstandard on {study['raw_bytes'] / 1e6:.1f} MB of our raw shards, one thread: {levels}")
        readers = ours["readers"]
        trainer = readers["trainer"]
        trainer_text = (f"SoftLabelShards {rate(trainer['samples_per_second'])} samples/s" if trainer["available"]
                        else f"SoftLabelShards unavailable ({trainer['reason']})")
        unverified = readers.get("trainer_unverified", {})
        if unverified.get("available"):
            trainer_text += f" ({rate(unverified['samples_per_second'])} with verify=False)"
        print(f"  Python readers: {trainer_text}; this script's MDS parser "
              f"{rate(readers['bench_parser']['samples_per_second'])} samples/s")
    elif ours.get("shard_error"):
        print(f"  our shards: could not be read ({ours['shard_error']})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default="toys,beauty", help="comma-separated: toys, beauty")
    parser.add_argument("--official-samples", type=int, default=300)
    parser.add_argument("--numpy-samples", type=int, default=0, help="(b) on the first N train samples (0: all)")
    parser.add_argument("--check-samples", type=int, default=50, help="samples checked for agreement")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3, help="timed passes of (a), (b) and ours; the best counts")
    parser.add_argument("--beta", type=float, default=1.0)
    parser.add_argument("--k", default="64", help="ours: children kept per position (a number or 'all')")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float16"], help="ours: stored probabilities")
    parser.add_argument("--zstd-level", type=int, default=1, help="ours: shard compression level (the stage's default)")
    parser.add_argument("--cf-epochs", type=int, default=3, help="SASRec epochs (throughput does not depend on them)")
    parser.add_argument("--compress-mb", type=float, default=16, help="raw MB of our shards recompressed per level")
    parser.add_argument("--output", help="write the results as JSON to this file")
    parser.add_argument("--work", help="keep the store and intermediates here (reused by the next run)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--context", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(WORKERS[args.worker](json.loads(pathlib.Path(args.context).read_text()), args.threads)))
        return
    names = [name.strip() for name in args.datasets.split(",") if name.strip()]
    for name in names:
        if name not in DATASETS:
            sys.exit(f"softlabels_bench: unknown dataset '{name}'; choose from {', '.join(DATASETS)}")
        if not (SHARED / RAW_DATA[name]).exists():
            sys.exit(f"softlabels_bench: {name} not found under {SHARED}; set TCA_SHARED_DATA")
    if not (BIN / "tca").exists():
        sys.exit(f"softlabels_bench: no tca binary in {BIN}; build it (swift build -c release) or set TCA_BIN")
    ours_kernel, numpy_kernel = openblas_kernels()
    coretype = None
    if ours_kernel == "Prescott" and numpy_kernel not in ("Prescott", "?") and "OPENBLAS_CORETYPE" not in os.environ:
        coretype = numpy_kernel

    temporary = None if args.work else tempfile.TemporaryDirectory(prefix="softlabels-bench-")
    work = pathlib.Path(args.work or temporary.name).resolve()
    work.mkdir(parents=True, exist_ok=True)
    results = {"threads": args.threads, "beta": args.beta, "ours_params": {"k": args.k, "dtype": args.dtype,
               "zstd_level": args.zstd_level}, "openblas": {"system": ours_kernel, "numpy": numpy_kernel,
               "ours_coretype": coretype}, "tca_bin": str(BIN), "datasets": {}}
    try:
        for name in names:
            results["datasets"][name] = bench_dataset(name, args, work, work / "home", coretype)
    finally:
        if temporary is not None:
            temporary.cleanup()
    for name in names:
        report(results["datasets"][name], args.threads)
    if args.output:
        path = pathlib.Path(args.output)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
        print(f"\nsoftlabels_bench: results in {path}")


if __name__ == "__main__":
    main()
