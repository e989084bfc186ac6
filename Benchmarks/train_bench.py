#!/usr/bin/env python3
"""The trainer's step time: soft labels streamed from the shards against the official online computation and
plain one-hot labels, side by side on the same batches in one run, and the shard loader's samples/s.

Data: the demo pipeline with prompts (Pipelines/demo-train.yaml: 744 items, the official TCA4Rec prompt, a
SASRec cf model), run with `tca run` into a temporary store (or --work). Model: the trainer's tiny random Llama
(2 layers, hidden 64, the demo's 1,026-token vocabulary) with LoRA, float32 on CPU, --threads threads. The same
--steps micro-batches of --micro-batch samples (collated once from the train shards, untimed) go through
three training steps (forward, loss, backward, AdamW step), each timed per micro-batch:

  (a) streamed: the soft NTP loss from the batch's sparse soft labels (tca_trainer.loss.soft_ntp_loss, α 0.5);
  (b) official online: what critical88/TCA4Rec models/LLM4Rec.py `forward` does inside every step, on CPU in
      float32: the SASRec user vectors of the micro-batch's histories and the cf logits over all items (one
      matmul), then per sample and title position the trie lookup of the prefix (the official dict trie with
      its path cache: Benchmarks/softlabels_bench.py's restatement), `torch.tensor` of the node's (token, item)
      pairs, gather of the items' cf logits, softmax, scatter-sum by next token into a dense vocabulary row
      (plus the allowed-token mask), and the loss from the dense soft labels (official formula, α 0.5). As in
      the original, the dense soft labels and the mask are allocated like its logits, over every column of the
      batch (prompt included) and the whole vocabulary (`torch.zeros_like(logits)`), and shifted by one column
      with `.contiguous()` before the supervised rows are picked. The model's forward is the same in all three
      modes (logits at the supervised columns only), which favours the official: its forward computes the
      output layer at every column;
  (c) one-hot: plain cross-entropy on the labels (torch.nn.functional.cross_entropy).

The modes take turns on every micro-batch (rotating which goes first), for --repeat rounds; each micro-batch
keeps its best time per mode, and a mode's step time is the mean over micro-batches of those, so that the
drift of these shared machines hits every mode alike. The loader: `ShardBatches` (read, decompress, verify hashes,
collate) over the train split, samples/s, against the samples/s the streamed step consumes.

    .venv/bin/python Benchmarks/train_bench.py [--steps 40] [--micro-batch 4] [--repeat 3] [--threads 2]
        [--work DIR] [--output results.json]
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
BIN = pathlib.Path(os.environ.get("TCA_BIN", ROOT / ".build" / "release")).resolve()
SHARED = pathlib.Path(os.environ.get("TCA_SHARED_DATA", os.environ.get("TCA_DATA", ROOT.parent / "shared" / "data")))
SHARED = SHARED.resolve()
PIPELINE = "train-bench"
ALPHA = 0.5


# Per dataset: the pipeline the test file extends, extra stage parameters, and the raw data it needs.
DATASETS = {
    "demo": ("demo-train.yaml", "", None),
    "toys": ("toys-official-llama.yaml",
             "  soft-labels:\n    params:\n      prompt: official\n      domain: games\n",
             "tca4rec-official/Toys_and_Games/item.csv"),
}


def build_artifact(work: pathlib.Path, dataset: str) -> pathlib.Path:
    """`tca run` of the dataset's pipeline with prompted train soft labels (cf 5 epochs: throughput does not
    depend on its quality) into work/home; returns runs/<pipeline>."""
    parent, extra, _ = DATASETS[dataset]
    name = f"{PIPELINE}-{dataset}"
    pipeline = work / f"{name}.yaml"
    pipeline.write_text(f"extends: {ROOT / 'Pipelines' / parent}\n"
                        f"description: {dataset} for train_bench.py.\nstages:\n  cf:\n    params:\n      max_epochs: 5\n"
                        + extra)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_ARRAY", "JOB_COMPLETION"))}
    env.update(TCA_HOME=str(work / "home"), TCA_PIPELINES=str(ROOT / "Pipelines"), TCA_DATA=str(SHARED))
    if not (BIN / "tca").exists():
        sys.exit(f"train_bench: no tca binary in {BIN}; build it (swift build -c release) or set TCA_BIN")
    result = subprocess.run([str(BIN / "tca"), "run", "-q", str(pipeline)], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"train_bench: 'tca run {pipeline}' failed:\n{result.stderr[-3000:]}")
    return work / "home" / "runs" / name


class OfficialSoftLabels:
    """The official online soft labels (models/LLM4Rec.py `forward`), from softlabels_bench.py's restatement of
    its trie, with the SASRec cf model of the pipeline."""

    def __init__(self, runs: pathlib.Path, vocabulary: int) -> None:
        import torch

        sys.path.insert(0, str(ROOT / "Benchmarks"))
        from softlabels_bench import Inputs, Trie  # noqa: PLC0415

        context = {"trie": str((runs / "trie").resolve()), "samples": str((runs / "prepare").resolve()),
                   "cf": str((runs / "cf").resolve()), "beta": 1.0, "vocabulary": vocabulary}
        inputs = Inputs(context)
        self.model, self.maxlen = inputs.sasrec()
        self.item_count = inputs.item_count
        self.vocabulary = vocabulary
        self.trie = Trie()
        for item in range(1, inputs.item_count + 1):      # official: insert(token_ids + [eos], item_id)
            self.trie.insert(inputs.paths[item], item)
        self.torch = torch
        try:
            from torch_scatter import scatter_sum  # noqa: PLC0415
        except ImportError:
            def scatter_sum(src, index, dim=-1, dim_size=None):  # torch_scatter.scatter_sum for 1-D input
                return torch.zeros(dim_size, dtype=src.dtype).scatter_add_(dim, index, src)
        self.scatter_sum = scatter_sum

    def dense(self, samples: list, batch) -> tuple:
        """(soft labels [S, V], allowed mask [S, V]) for the batch's supervised positions, computed online."""
        torch = self.torch
        sys.path.insert(0, str(ROOT / "trainer" / "tca_trainer"))
        from sasrec_reference import left_padded  # noqa: PLC0415

        with torch.no_grad():
            histories = left_padded([s["history"].astype("int64").tolist()[-self.maxlen:] for s in samples],
                                    self.maxlen)
            user = self.model.log2feats(histories)[:, -1, :]
            items = self.model.item_emb(torch.arange(self.item_count + 1))
            cf_logits = torch.matmul(user, items.t())
            # The original's input ends with EOS, one column more than our batch, whose last column predicts it.
            rows, keep, width = len(samples), batch.keep, batch.input_ids.shape[1] + 1
            token_cf = torch.zeros((rows, width, self.vocabulary))
            allowed = torch.zeros((rows, width, self.vocabulary), dtype=torch.bool)
            for row, sample in enumerate(samples):
                generated = torch.from_numpy(sample["labels"].astype("int64"))
                offset = width - 1 - len(generated)
                for t in range(len(generated)):
                    node, _ = self.trie.get_node_for_sequence(row, generated[:t])
                    if node.is_end_of_word or len(node.children) == 0:
                        continue
                    allowed[row, offset + t, list(node.children.keys())] = True
                    tokens, item_ids = node.token_item_pairs
                    tokens, item_ids = torch.tensor(tokens), torch.tensor(item_ids)
                    logits = cf_logits[row][item_ids]
                    token_cf[row, offset + t] = self.scatter_sum(logits.softmax(dim=-1), tokens, dim=-1,
                                                                 dim_size=self.vocabulary)
            shifted = token_cf[..., :-1, :].contiguous()
            columns = batch.columns + (width - 1 - keep)
        return shifted[batch.rows, columns], allowed[batch.rows, columns]


def official_loss(logits, targets, token_cf, alpha: float):
    """The official loss from dense soft labels (no MSL, τ 1)."""
    import torch

    one_hot = torch.nn.functional.one_hot(targets, num_classes=logits.size(-1)).to(logits.dtype)
    soft = (1 - alpha) * one_hot + alpha * token_cf
    shifted = logits - logits.max(dim=-1, keepdim=True).values
    exp = torch.exp(shifted)
    return (-torch.log((exp * soft).sum(-1)) + torch.log(exp.sum(-1))).mean()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=40, help="micro-batches per mode and round")
    parser.add_argument("--micro-batch", type=int, default=4, help="samples per micro-batch (official: 4)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the best round of each mode counts")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--work", help="keep the store here (reused by the next run)")
    parser.add_argument("--output", help="write the results as JSON to this file")
    parser.add_argument("--datasets", default="demo,toys",
                        help="comma-separated: demo (always there), toys (needs the shared data; skipped without it)")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    temporary = None if args.work else tempfile.TemporaryDirectory(prefix="train-bench-")
    work = pathlib.Path(args.work or temporary.name).resolve()
    work.mkdir(parents=True, exist_ok=True)
    results = {}
    try:
        for dataset in [name.strip() for name in args.datasets.split(",") if name.strip()]:
            if dataset not in DATASETS:
                sys.exit(f"train_bench: unknown dataset '{dataset}'; choose from {', '.join(DATASETS)}")
            marker = DATASETS[dataset][2]
            if marker and not (SHARED / marker).exists():
                print(f"train_bench: {dataset}: skipped, '{marker}' not under {SHARED} (set TCA_SHARED_DATA)")
                continue
            results[dataset] = bench_dataset(dataset, args, work)
    finally:
        if temporary is not None:
            temporary.cleanup()
    if args.output:
        path = pathlib.Path(args.output)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
        print(f"train_bench: results in {path}")


def bench_dataset(dataset: str, args: argparse.Namespace, work: pathlib.Path) -> dict:
    """Build the dataset's artifact, time the three steps and the loader, print the table; returns the numbers."""
    import torch

    sys.path.insert(0, str(ROOT / "trainer"))
    from tca_trainer.artifact import SoftLabelArtifact  # noqa: PLC0415
    from tca_trainer.data import BatchOptions, ShardBatches, collate  # noqa: PLC0415
    from tca_trainer.loss import soft_ntp_loss  # noqa: PLC0415
    from tca_trainer.model import add_lora, label_logits, load_base_model  # noqa: PLC0415
    from tca_trainer.shards import SoftLabelShards  # noqa: PLC0415

    runs = build_artifact(work, dataset)
    directory = (runs / "soft-labels").resolve()
    artifact = SoftLabelArtifact(directory)
    options = BatchOptions()
    shards = SoftLabelShards(directory, split="train")
    count = args.steps * args.micro_batch
    samples = [shards[i] for i in range(count)]
    groups = [samples[i:i + args.micro_batch] for i in range(0, count, args.micro_batch)]
    batches = [collate(group, artifact, options) for group in groups]
    official = OfficialSoftLabels(runs, artifact.special.vocab_size)

    base, description = load_base_model("tiny", artifact, torch.device("cpu"), seed=0)
    model = add_lora(base)
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4, eps=1e-6)

    def step(mode: str, group: list, batch) -> None:
        logits = label_logits(model, batch)
        if mode == "streamed":
            loss = soft_ntp_loss(logits, batch.targets, batch.soft_ids, batch.soft_probs, ALPHA, 1.0)
        elif mode == "official":
            token_cf, _ = official.dense(group, batch)
            loss = official_loss(logits, batch.targets, token_cf, ALPHA)
        else:
            loss = torch.nn.functional.cross_entropy(logits, batch.targets)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    modes = ("streamed", "official", "one-hot")
    for mode in modes:                               # warm-up (allocator, oneDNN)
        for group, batch in list(zip(groups, batches))[:3]:
            step(mode, group, batch)
    # Modes take turns on every micro-batch (in a rotating order), and each batch keeps its best time per
    # mode over the rounds: the machine's drift then hits every mode alike.
    times = {mode: [[] for _ in batches] for mode in modes}
    for round_number in range(args.repeat):
        for index, (group, batch) in enumerate(zip(groups, batches)):
            shift = (index + round_number) % len(modes)
            for mode in modes[shift:] + modes[:shift]:
                start = time.perf_counter()
                step(mode, group, batch)
                times[mode][index].append(time.perf_counter() - start)
    per_batch = {mode: [min(values) for values in times[mode]] for mode in modes}
    best = {mode: sum(per_batch[mode]) / len(batches) for mode in modes}
    rounds = {mode: [sum(values[r] for values in times[mode]) / len(batches) for r in range(args.repeat)]
              for mode in modes}
    # Only the official's soft labels, on the same batches (the part of (b) beyond (c)).
    start = time.perf_counter()
    for group, batch in zip(groups, batches):
        official.dense(group, batch)
    official_labels = (time.perf_counter() - start) / len(batches)

    loader_best = 0.0
    loader_samples = 0
    for _ in range(2):
        data = ShardBatches(str(directory), "train", batch_size=args.micro_batch, options=options,
                            shuffle_buffer=4096, seed=0)
        start = time.perf_counter()
        loader_samples = sum(batch.size for batch in data)
        loader_best = max(loader_best, loader_samples / (time.perf_counter() - start))

    positions = sum(batch.positions for batch in batches) / len(batches)
    tokens = sum(int(batch.attention_mask.sum()) for batch in batches) / len(batches)
    consumed = args.micro_batch / best["streamed"]
    result = {"dataset": dataset, "items": artifact.item_count, "threads": args.threads, "micro_batch": args.micro_batch, "steps": args.steps, "repeat": args.repeat,
              "model": description, "tokens_per_micro_batch": tokens, "positions_per_micro_batch": positions,
              "seconds_per_step": best, "rounds": rounds, "official_soft_labels_seconds_per_step": official_labels,
              "ratios": {"streamed/one-hot": best["streamed"] / best["one-hot"],
                         "official/one-hot": best["official"] / best["one-hot"],
                         "official/streamed": best["official"] / best["streamed"]},
              "loader_samples_per_second": loader_best, "loader_samples": loader_samples,
              "step_samples_per_second": consumed, "loader/step": loader_best / consumed}
    print(f"train_bench: {dataset} ({artifact.item_count:,} items, {artifact.node_count:,} trie nodes); tiny Llama ({description['layers']} layers, hidden {description['hidden']}, vocabulary "
          f"{description['vocab_size']}) + LoRA, CPU float32, {args.threads} threads; {args.steps} micro-batches of "
          f"{args.micro_batch} (mean {tokens:.0f} tokens, {positions:.1f} supervised positions), best of {args.repeat}")
    names = {"streamed": "(a) soft labels streamed from shards",
             "official": "(b) official online (trie walk, gather, softmax, scatter)", "one-hot": "(c) one-hot"}
    width = max(len(name) for name in names.values())
    print(f"  {'labels':<{width}} {'ms/step':>9} {'vs one-hot':>11}")
    for mode in modes:
        print(f"  {names[mode]:<{width}} {1000 * best[mode]:>9.1f} {best[mode] / best['one-hot']:>10.2f}x")
    print(f"  streamed costs {100 * (best['streamed'] / best['one-hot'] - 1):+.1f}% over one-hot; the official online "
          f"computation {best['official'] / best['streamed']:.1f}x the streamed step (its soft labels alone "
          f"{1000 * official_labels:.1f} ms/step)")
    print(f"  loader (ShardBatches: read, verify, decompress, collate, one process): {loader_best:,.0f} samples/s "
          f"over {loader_samples:,} samples; the streamed step consumes {consumed:,.0f} samples/s "
          f"(loader/step {loader_best / consumed:.1f}x)")
    return result


if __name__ == "__main__":
    main()
