#!/usr/bin/env python3
"""A short check of the trainer on a CUDA GPU (a few minutes): run it where a GPU machine is available.

    PYTHONPATH=trainer python3 trainer/gpu_check.py ARTIFACT [--model tiny:4:256|PATH] [--steps 60]
        [--eval-samples 200] [--output DIR]

ARTIFACT is a soft-labels artifact with prompts (e.g. `.tca/runs/demo-train/soft-labels` after
`make train DATASET=demo`, or a copy of it). Checks, each printed as `ok`/`FAILED` with numbers:

1. CUDA is there and does bf16;
2. the loss on the GPU (float32 logits) equals a float64 CPU evaluation within 1e-5, with and without MSL,
   and its gradients agree within 1e-5;
3. a bf16 training run (`tca_trainer.train`: LoRA, the official optimiser settings but --learning-rate,
   `--model`, default a random 4-layer, hidden-256 Llama over the artifact's tokenizer) for --steps steps:
   the loss falls, the adapter, curve, predictions and metrics are written, evaluation returns only titles that
   exist; the step time and the evaluation's samples/s are reported.
Exit status 1 when a check fails. `--output` (default /tmp/tca-gpu-check) receives the run and `gpu_check.json`.
"""
from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time

import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from tca_trainer.loss import soft_ntp_loss  # noqa: E402
from tca_trainer.train import TrainConfig, train  # noqa: E402


def loss_parity(device: torch.device) -> dict:
    generator = torch.Generator().manual_seed(0)
    positions, vocabulary, width = 64, 32_000, 16
    logits = torch.randn(positions, vocabulary, generator=generator) * 4
    targets = torch.randint(0, vocabulary, (positions,), generator=generator)
    ids = torch.randint(0, vocabulary, (positions, width), generator=generator)
    ids[:, 0] = targets
    probs = torch.rand(positions, width, generator=generator)
    probs = probs / probs.sum(1, keepdim=True) * 0.9
    allowed = torch.randint(0, vocabulary, (positions, 40), generator=generator)
    allowed[:, :width] = ids
    mask = torch.ones_like(allowed, dtype=torch.bool)
    result = {}
    for name, extra in (("plain", (None, None)), ("msl", (allowed, mask))):
        tau = 4.5 if name == "msl" else 1.0
        cpu = logits.detach().double().requires_grad_(True)
        reference = soft_ntp_loss(cpu, targets, ids, probs.double(), 0.5, tau, *extra)
        reference.backward()
        gpu = logits.detach().clone().to(device).requires_grad_(True)
        moved = [None if e is None else e.to(device) for e in extra]
        value = soft_ntp_loss(gpu, targets.to(device), ids.to(device), probs.to(device), 0.5, tau, *moved)
        value.backward()
        result[name] = {"loss_difference": abs(value.item() - reference.item()),
                        "gradient_difference": float((gpu.grad.double().cpu() - cpu.grad).abs().max())}
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("artifact")
    parser.add_argument("--model", default="tiny:4:256")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--eval-samples", type=int, default=200)
    parser.add_argument("--attention", default="auto", help="auto (eager on CUDA), eager or sdpa")
    parser.add_argument("--output", default="/tmp/tca-gpu-check")
    args = parser.parse_args()
    output = pathlib.Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    report: dict = {"checks": {}}
    failed = False

    def check(name: str, ok: bool, detail: str) -> None:
        nonlocal failed
        failed |= not ok
        report["checks"][name] = {"ok": ok, "detail": detail}
        print(f"gpu_check: {name}: {'ok' if ok else 'FAILED'} ({detail})", flush=True)

    available = torch.cuda.is_available()
    check("cuda", available and torch.cuda.is_bf16_supported(),
          f"{torch.cuda.get_device_name(0) if available else 'no CUDA device'}, torch {torch.__version__}")
    if not available:
        return 1
    device = torch.device("cuda")
    parity = loss_parity(device)
    for name, values in parity.items():
        check(f"loss parity ({name})", values["loss_difference"] < 1e-5 and values["gradient_difference"] < 1e-5,
              f"|Δloss| {values['loss_difference']:.2e}, max |Δgrad| {values['gradient_difference']:.2e}")

    config = TrainConfig(artifact=args.artifact, output=str(output / "run"), model=args.model, device="cuda",
                         max_steps=args.steps, learning_rate=args.learning_rate, warmup_steps=5,
                         eval_samples=args.eval_samples, eval_batch_size=32, log_every=20,
                         attention=args.attention)
    start = time.perf_counter()
    metrics = train(config)
    seconds = time.perf_counter() - start
    step_seconds = metrics["train_seconds"] / max(metrics["steps"], 1)
    check("training run", metrics["loss_end"] < metrics["loss_start"],
          f"{metrics['base_model']['kind']} {metrics['base_model'].get('dtype')}, loss {metrics['loss_start']:.4f} → "
          f"{metrics['loss_end']:.4f} over {metrics['steps']} steps, {1000 * step_seconds:.1f} ms/step of "
          f"{config.batch_size} samples")
    titles = {json.loads(line)["title"] for line in
              (pathlib.Path(args.artifact) / "items.jsonl").read_text(encoding="utf-8").splitlines() if line}
    predictions = [json.loads(line) for line in (output / "run" / "predictions.jsonl").read_text().splitlines()]
    existing = all(p["title"] in titles for row in predictions for p in row["predictions"])
    evaluation = metrics["evaluation"]
    check("evaluation", existing and len(predictions) == evaluation["metrics"]["samples"],
          f"{len(predictions)} samples in {evaluation['seconds']:.1f} s "
          f"({len(predictions) / max(evaluation['seconds'], 1e-9):.1f} samples/s, {evaluation['num_beams']} beams); "
          + ", ".join(f"{k} {v:.4f}" for k, v in evaluation["metrics"].items() if k != "samples"))
    report.update(parity=parity, metrics=metrics, seconds=seconds, step_seconds=step_seconds)
    (output / "gpu_check.json").write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    print(f"gpu_check: {'FAILED' if failed else 'all checks passed'}; report in {output / 'gpu_check.json'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
