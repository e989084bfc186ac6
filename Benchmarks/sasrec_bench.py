#!/usr/bin/env python3
"""SASRec epoch time: `tca-train-cf` (Swift, OpenBLAS, hand-written backward) against PyTorch on CPU
with the official module definition (trainer/tca_trainer/sasrec_reference.py, critical88/TCA4Rec
sasrec/model.py restated), the same hyperparameters (d 64, 2 blocks, 1 head, maxlen 10, dropout 0.5,
Adam lr 1e-3, batch 256, BCE with one uniform negative), the same threads and the same data: the train
samples of Amazon Beauty leave-one-out (`tca run beauty --only prepare`: 131,413 samples, 12,101 items).

Each side runs in its own process; the epoch time is the training loop alone (valid evaluation
excluded; ours from the per-epoch lines the stage logs), the peak memory its process's max RSS.
With --quality both train to early stopping (valid NDCG@10, patience 10, at most --max-epochs) and
report test HR@10 / NDCG@10 (full ranking over all items, a tie counts against the target).

    .venv/bin/python Benchmarks/sasrec_bench.py [--epochs 3] [--threads 2] [--quality]
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
BIN = pathlib.Path(os.environ.get("TCA_BIN", ROOT / ".build" / "release")).resolve()
SHARED = pathlib.Path(os.environ.get("TCA_SHARED_DATA", ROOT.parent / "shared" / "data")).resolve()
EPOCH_LINE = re.compile(r"epoch (\d+)\b.*?train ([0-9.]+) s")


def prepare(home: pathlib.Path, pipeline: str) -> pathlib.Path:
    env = dict(os.environ, TCA_HOME=str(home), TCA_DATA=str(SHARED), TCA_PIPELINES=str(ROOT / "Pipelines"))
    result = subprocess.run([str(BIN / "tca"), "run", "-q", pipeline, "--only", "prepare"], env=env,
                            capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"sasrec_bench: 'tca run {pipeline} --only prepare' failed:\n{result.stderr}")
    return (home / "runs" / pipeline / "prepare").resolve()


def run_measured(command: list[str], env: dict | None = None) -> tuple[str, str, float, int]:
    """(stdout, stderr, seconds, peak RSS in MiB) of a child process."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    stdout, stderr = process.communicate()
    seconds = time.perf_counter() - start
    if process.returncode != 0:
        sys.exit(f"sasrec_bench: {' '.join(command[:3])} failed:\n{stderr[-3000:]}")
    peak = _peak_rss(stderr)
    return stdout, stderr, seconds, peak


def _peak_rss(stderr: str) -> int:
    match = re.search(r"PEAK_RSS_KB (\d+)", stderr)
    return int(match.group(1)) // 1024 if match else -1


def ours(samples: pathlib.Path, work: pathlib.Path, epochs: int, threads: int, patience: int) -> dict:
    params = work / "cf.json"
    params.write_text(json.dumps({"model": "sasrec", "max_epochs": epochs, "patience": patience}))
    output = work / f"ours-{epochs}-{patience}"
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads))
    # A tiny Python shim runs the stage and reports its child's max RSS.
    shim = ("import resource,subprocess,sys;r=subprocess.run(sys.argv[1:]);"
            "sys.stderr.write('PEAK_RSS_KB %d\\n'%resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss);"
            "sys.exit(r.returncode)")
    command = [sys.executable, "-c", shim, str(BIN / "tca-train-cf"), "-v", "--params", str(params),
               "--input", f"samples={samples}", "--output", str(output)]
    _, stderr, seconds, peak = run_measured(command, env)
    epoch_seconds = [float(m.group(2)) for m in EPOCH_LINE.finditer(stderr)]
    metrics = json.loads((output / "metrics.json").read_text())
    return {"epoch_seconds": epoch_seconds, "process_seconds": seconds, "peak_mib": peak,
            "test": metrics["test"], "epochs": metrics["epochs"], "best_epoch": metrics["best_epoch"]}


def pytorch_worker(samples: str, epochs: int, threads: int, patience: int, seed: int) -> None:
    """Runs in a child process: trains the official definition, prints one JSON line."""
    import resource

    import numpy as np
    import torch

    sys.path.insert(0, str(ROOT / "trainer" / "tca_trainer"))
    from sasrec_reference import SASRec, left_padded

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    directory = pathlib.Path(samples)

    def load(split):
        targets = np.load(directory / f"{split}.target.npy").astype(np.int64)
        offsets = np.load(directory / f"{split}.history.offsets.npy")
        values = np.load(directory / f"{split}.history.values.npy")
        histories = [values[offsets[i]:offsets[i + 1]].tolist() for i in range(len(targets))]
        return left_padded(histories, 10), torch.from_numpy(targets)

    with open(directory / "items.jsonl", "rb") as handle:
        items = sum(1 for _ in handle)
    train_seq, train_pos = load("train")
    valid_seq, valid_pos = load("valid")
    test_seq, test_pos = load("test")
    model = SASRec(items, hidden=64, blocks=2, heads=1, maxlen=10, dropout=0.5)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def evaluate(seq, pos):
        model.eval()
        ranks = []
        with torch.no_grad():
            for start in range(0, len(pos), 1024):
                logits = model(seq[start:start + 1024])[:, 1:]
                target = logits.gather(1, (pos[start:start + 1024] - 1).unsqueeze(1))
                ranks.append(((logits >= target).sum(1) - 1))
        ranks = torch.cat(ranks).double()
        result = {}
        for k in (1, 5, 10, 20):
            hit = ranks < k
            result[f"HR@{k}"] = hit.double().mean().item()
            result[f"NDCG@{k}"] = (hit.double() / torch.log2(ranks + 2)).mean().item()
        return result

    epoch_seconds, best, best_epoch, best_state, waited = [], -1.0, 0, None, 0
    for epoch in range(1, epochs + 1):
        model.train()
        order = torch.randperm(len(train_pos))
        start = time.perf_counter()
        for batch in range(0, len(order), 256):
            index = order[batch:batch + 256]
            loss = model.compute_loss(train_seq[index], train_pos[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        epoch_seconds.append(time.perf_counter() - start)
        score = evaluate(valid_seq, valid_pos)["NDCG@10"]
        if score > best:
            best, best_epoch, waited = score, epoch, 0
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
        else:
            waited += 1
            if waited >= patience:
                break
    model.load_state_dict(best_state)
    print(json.dumps({"epoch_seconds": epoch_seconds, "test": evaluate(test_seq, test_pos), "epochs": len(epoch_seconds),
                      "best_epoch": best_epoch}))
    sys.stderr.write("PEAK_RSS_KB %d\n" % resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def pytorch(samples: pathlib.Path, epochs: int, threads: int, patience: int) -> dict:
    command = [sys.executable, __file__, "--worker", str(samples), "--epochs", str(epochs), "--threads", str(threads),
               "--patience", str(patience)]
    stdout, _, seconds, peak = run_measured(command)
    result = json.loads(stdout.strip().splitlines()[-1])
    result.update(process_seconds=seconds, peak_mib=peak)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=3, help="epochs to time (both sides; no early stop)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--pipeline", default="beauty")
    parser.add_argument("--quality", action="store_true", help="train both to early stopping and compare test metrics")
    parser.add_argument("--max-epochs", type=int, default=200)
    parser.add_argument("--patience", type=int, default=10)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args()
    if args.worker:
        pytorch_worker(args.worker, args.epochs, args.threads, args.patience, args.seed)
        return
    if not (SHARED / "amazon-beauty-processed").exists():
        sys.exit(f"sasrec_bench: Beauty not found under {SHARED}; set TCA_SHARED_DATA")
    with tempfile.TemporaryDirectory(prefix="sasrec-bench-") as temporary:
        work = pathlib.Path(temporary)
        samples = prepare(work / "home", args.pipeline)
        epochs, patience = (args.max_epochs, args.patience) if args.quality else (args.epochs, args.epochs + 1)
        swift = ours(samples, work, epochs, args.threads, patience)
        torch_result = pytorch(samples, epochs, args.threads, patience)
    ours_epoch = min(swift["epoch_seconds"]) if swift["epoch_seconds"] else swift["process_seconds"] / max(swift["epochs"], 1)
    torch_epoch = min(torch_result["epoch_seconds"])
    print(f"SASRec on {args.pipeline} train samples, {args.threads} threads, official hyperparameters")
    print(f"  epoch (best of {len(torch_result['epoch_seconds'])}): PyTorch {torch_epoch:.2f} s, ours {ours_epoch:.2f} s"
          f" -> {torch_epoch / ours_epoch:.1f}x")
    print(f"  peak memory: PyTorch {torch_result['peak_mib']} MiB, ours {swift['peak_mib']} MiB")
    if args.quality:
        for name, result in (("PyTorch", torch_result), ("ours", swift)):
            test = result["test"]
            print(f"  {name}: {result['epochs']} epochs, best {result['best_epoch']}: test NDCG@10 {test['NDCG@10']:.4f}"
                  f" HR@10 {test['HR@10']:.4f}")
        ratio = swift["test"]["NDCG@10"] / torch_result["test"]["NDCG@10"]
        print(f"  ours / PyTorch NDCG@10: {ratio:.3f}")


if __name__ == "__main__":
    main()
