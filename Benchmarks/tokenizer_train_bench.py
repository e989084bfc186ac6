#!/usr/bin/env python3
"""Training a byte-level BPE on item titles: `tca-tokenize` (train mode) against `tokenizers`' BpeTrainer.

Same titles, vocabulary size, minimum frequency, special tokens and pre-tokenizer (GPT-2's ByteLevel
regex, the full 256-byte alphabet) for both, on the same machine in one run; prints seconds and the ratio
(CONVENTIONS.md §15). Ours is timed two ways: the training itself (pre-tokenize, count, merge), as the
stage reports it on stderr, and the whole `tca-tokenize` process (reading items.jsonl, writing
tokenizer.json, validation). The peer's figure is `train_from_iterator` alone, on its default thread
pool (both cores). Also checks that both learn the same merges, which they should: our tie rule is theirs.

The titles are those of the `samples` artifact of each pipeline (`tca run PIPELINE --only prepare`):
toys-official (20,669 titles of the official item.csv) and beauty (12,101 products_lookup.csv names).

    .venv/bin/python Benchmarks/tokenizer_train_bench.py [--vocab-size 8192] [--repeat 5]
"""
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
DATASETS = [
    ("toys-official", "tca4rec-official/Toys_and_Games/item.csv"),
    ("beauty", "amazon-beauty-processed/dh-r-LLM-Sequential-Recommendation/products_lookup.csv"),
]
TRAINING_LINE = re.compile(r"training took ([0-9.]+) s \(pre-tokenize and count ([0-9.]+) s, merges ([0-9.]+) s\)")


def prepare_samples(pipeline: str, home: pathlib.Path) -> pathlib.Path:
    env = dict(os.environ, TCA_HOME=str(home), TCA_DATA=str(SHARED), TCA_PIPELINES=str(ROOT / "Pipelines"))
    result = subprocess.run(
        [str(BIN / "tca"), "run", "-q", pipeline, "--only", "prepare"], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"tokenizer_train_bench: 'tca run {pipeline} --only prepare' failed:\n{result.stderr}")
    return (home / "runs" / pipeline / "prepare").resolve()


def read_titles(samples: pathlib.Path) -> list[str]:
    titles = []
    with open(samples / "items.jsonl", encoding="utf-8") as lines:
        for line in lines:
            title = json.loads(line).get("title")
            if title is not None:
                titles.append(title)
    return titles


def run_ours(samples: pathlib.Path, params: pathlib.Path, work: pathlib.Path, repeat: int):
    best_training, best_process, split, output = None, None, None, None
    for attempt in range(repeat):
        output = work / f"ours-{attempt}"
        start = time.perf_counter()
        result = subprocess.run(
            [str(BIN / "tca-tokenize"), "--params", str(params), "--input", f"samples={samples}",
             "--output", str(output)], capture_output=True, text=True)
        process = time.perf_counter() - start
        if result.returncode != 0:
            sys.exit(f"tokenizer_train_bench: tca-tokenize failed:\n{result.stderr}")
        match = TRAINING_LINE.search(result.stderr)
        if match is None:
            sys.exit(f"tokenizer_train_bench: no training time in tca-tokenize's diagnostics:\n{result.stderr}")
        training = float(match.group(1))
        if best_training is None or training < best_training:
            best_training, split = training, (float(match.group(2)), float(match.group(3)))
        best_process = process if best_process is None else min(best_process, process)
    return best_training, split, best_process, output


def run_peer(titles: list[str], vocab_size: int, min_frequency: int, special_tokens: list[str], repeat: int):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    best, tokenizer = None, None
    for _ in range(repeat):
        tokenizer = Tokenizer(models.BPE())
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=special_tokens,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
        start = time.perf_counter()
        tokenizer.train_from_iterator(titles, trainer)
        seconds = time.perf_counter() - start
        best = seconds if best is None else min(best, seconds)
    return best, json.loads(tokenizer.to_str())


def merges_of(tokenizer_json: dict) -> list[str]:
    return [m if isinstance(m, str) else " ".join(m) for m in tokenizer_json["model"]["merges"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vocab-size", type=int, default=8192)
    parser.add_argument("--min-frequency", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5, help="runs of each side; the fastest counts")
    arguments = parser.parse_args()
    for tool in ("tca", "tca-tokenize"):
        if not (BIN / tool).exists():
            sys.exit(f"tokenizer_train_bench: {BIN / tool} not found; run `swift build -c release` or set TCA_BIN")
    import tokenizers

    special_tokens = ["<|endoftext|>"]
    print(f"BPE training, vocabulary {arguments.vocab_size}, min_frequency {arguments.min_frequency}, "
          f"best of {arguments.repeat}; tokenizers {tokenizers.__version__} on its default thread pool, "
          f"{os.cpu_count()} CPUs")
    header = (f"{'dataset':<15}{'titles':>8}{'MB':>7}{'ours train s':>14}{'(count+merge)':>17}"
              f"{'ours process s':>16}{'tokenizers s':>14}{'ratio':>8}{'ratio proc':>12}  same merges")
    print(header)
    with tempfile.TemporaryDirectory(prefix="tca-bench-") as temporary:
        work = pathlib.Path(temporary)
        params = work / "params.json"
        params.write_text(json.dumps({
            "mode": "train", "vocab_size": arguments.vocab_size, "min_frequency": arguments.min_frequency,
            "special_tokens": special_tokens, "preset": "gpt2"}))
        for pipeline, marker in DATASETS:
            if not (SHARED / marker).exists():
                print(f"{pipeline:<15}skipped: {marker} not found under {SHARED}")
                continue
            samples = prepare_samples(pipeline, work / "home")
            titles = read_titles(samples)
            megabytes = sum(len(title.encode()) for title in titles) / 1e6
            training, (counting, merging), process, output = run_ours(
                samples, params, work / pipeline, arguments.repeat)
            peer, peer_json = run_peer(
                titles, arguments.vocab_size, arguments.min_frequency, special_tokens, arguments.repeat)
            ours_json = json.loads((output / "tokenizer.json").read_text(encoding="utf-8"))
            same = merges_of(ours_json) == merges_of(peer_json) and ours_json["model"]["vocab"] == peer_json["model"]["vocab"]
            print(f"{pipeline:<15}{len(titles):>8}{megabytes:>7.2f}{training:>14.4f}"
                  f"{f'({counting:.3f}+{merging:.3f})':>17}{process:>16.3f}{peer:>14.3f}"
                  f"{peer / training:>7.1f}x{peer / process:>11.1f}x  {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
