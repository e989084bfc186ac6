"""Train LoRA adapters with the soft next-token loss on a soft-label artifact, then evaluate by constrained
beam search. `python -m tca_trainer.train ARTIFACT --output DIR [options]` (`make train DATASET=…`).

Outputs in `--output`:
- `adapter/`: the LoRA adapter only (PEFT `adapter_config.json` + `adapter_model.safetensors`);
- `base_model.json`: what the adapter sits on (a model path, or the tiny random Llama's shape and seed);
- `curve.jsonl`: one line per optimizer step: step, epoch, loss (mean over the step's micro-batches), lr,
  supervised positions, seconds since the start;
- `predictions.jsonl`: one line per evaluated sample: split, sample_id, user, item, target title, hit rank
  (or null) and the generated titles with their scores, best first;
- `metrics.json`: configuration, base model, loss at the start and end, HR@K/NDCG@K, timings.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import pathlib
import random
import sys
import time
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch

from .artifact import ArtifactError, SoftLabelArtifact
from .data import BatchOptions, ShardBatches
from .evaluate import KS, constrained_beam_search, ranking_metrics
from .loss import soft_ntp_loss
from .model import add_lora, label_logits, load_base_model
from .shards import ShardFormatError

__all__ = ["TrainConfig", "main", "train"]


@dataclass
class TrainConfig:
    """Every setting of a run; the defaults are the official TCA4Rec values (critical88/TCA4Rec main.py and
    models/LLM4Rec.py), except where a comment says otherwise."""

    artifact: str = ""
    output: str = ""
    model: str = "tiny"
    alpha: float = 0.5          # the official default is 0 (plain NTP); the paper sweeps it
    tau: float | None = None    # None: 4.5 with MSL, 1 without (official main.py)
    msl: bool = False
    official_positions: bool = False
    separator_bos: bool = True
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    learning_rate: float = 2e-5
    adam_epsilon: float = 1e-6
    weight_decay: float = 0.01
    warmup_steps: int = 20
    batch_size: int = 16        # effective batch: micro_batch_size × accumulation steps
    micro_batch_size: int = 4
    epochs: int = 10
    max_steps: int | None = None
    train_samples: int | None = None
    shuffle_buffer: int = 4096
    max_prompt_tokens: int | None = None
    eval_split: str = "test"
    eval_samples: int | None = None
    eval_batch_size: int = 8
    num_beams: int = 10
    num_workers: int = 0
    seed: int = 42
    device: str = "auto"
    attention: str = "auto"     # auto: eager on CUDA (SDPA gives NaN gradients with left padding), sdpa on CPU
    threads: int | None = None
    log_every: int = 10
    verify: bool = True

    @property
    def temperature(self) -> float:
        return self.tau if self.tau is not None else (4.5 if self.msl else 1.0)

    @property
    def accumulation(self) -> int:
        return max(1, self.batch_size // self.micro_batch_size)


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _optimizer(model: Any, config: TrainConfig) -> torch.optim.Optimizer:
    """AdamW over the trainable parameters, no weight decay on biases and LayerNorm weights (official groups)."""
    no_decay = ("bias", "LayerNorm.weight", "norm.weight")
    decay, plain = [], []
    for name, parameter in model.named_parameters():
        if parameter.requires_grad:
            (plain if any(part in name for part in no_decay) else decay).append(parameter)
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": plain, "weight_decay": 0.0}]
    return torch.optim.AdamW([g for g in groups if g["params"]], lr=config.learning_rate, eps=config.adam_epsilon)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def step_loss(model: Any, batch: Any, config: TrainConfig) -> torch.Tensor:
    """The mean soft NTP loss of one micro-batch."""
    logits = label_logits(model, batch)
    return soft_ntp_loss(logits, batch.targets, batch.soft_ids, batch.soft_probs, config.alpha, config.temperature,
                         batch.allowed_ids, batch.allowed_mask)


def _log(message: str) -> None:
    print(f"tca-train: {message}", file=sys.stderr, flush=True)


def train(config: TrainConfig) -> dict:
    """Run training and evaluation as `config` says; returns the metrics written to metrics.json."""
    seed_everything(config.seed)
    if config.threads:
        torch.set_num_threads(config.threads)
    device = _device(config.device)
    output = pathlib.Path(config.output)
    output.mkdir(parents=True, exist_ok=True)
    artifact = SoftLabelArtifact(config.artifact)
    if not artifact.has_prompts:
        raise ValueError(f"'{artifact.directory}' was computed without a prompt (report.json has no "
                         f"prompt_template); rerun the soft-labels stage with prompt: official (Pipelines/demo-train.yaml)")
    options = BatchOptions(separator_bos=config.separator_bos, official_positions=config.official_positions,
                           msl=config.msl, max_prompt_tokens=config.max_prompt_tokens)
    train_data = ShardBatches(config.artifact, "train", config.micro_batch_size, options,
                              shuffle_buffer=config.shuffle_buffer, seed=config.seed, limit=config.train_samples,
                              verify=config.verify)
    base, description = load_base_model(config.model, artifact, device, config.seed, config.attention)
    (output / "base_model.json").write_text(json.dumps(description, indent=2, sort_keys=True) + "\n")
    model = add_lora(base, config.lora_r, config.lora_alpha, config.lora_dropout)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    samples = min(len(train_data.shards), config.train_samples or len(train_data.shards))
    steps_per_epoch = max(1, math.ceil(samples / config.batch_size))
    total_steps = steps_per_epoch * config.epochs
    if config.max_steps is not None:
        total_steps = min(total_steps, config.max_steps)
    optimizer = _optimizer(model, config)
    from transformers import get_linear_schedule_with_warmup

    scheduler = get_linear_schedule_with_warmup(optimizer, num_warmup_steps=config.warmup_steps,
                                                num_training_steps=total_steps)
    _log(f"{description['kind']} model, {trainable:,} trainable LoRA parameters on {device}; {samples:,} train "
         f"samples, {total_steps} steps of {config.batch_size} ({config.accumulation} × {config.micro_batch_size}); "
         f"alpha {config.alpha}, tau {config.temperature}, msl {config.msl}")

    curve_path = output / "curve.jsonl"
    curve = curve_path.open("w", encoding="utf-8")
    start = time.perf_counter()
    step, micro, accumulated, positions = 0, 0, 0.0, 0
    first_losses: list[float] = []
    last_losses: list[float] = []
    model.train()
    epoch = 0
    while step < total_steps and epoch < config.epochs:
        train_data.set_epoch(epoch)
        loader = torch.utils.data.DataLoader(train_data, batch_size=None, num_workers=config.num_workers,
                                             pin_memory=device.type == "cuda")
        for batch in loader:
            batch = batch.to(device)
            loss = step_loss(model, batch, config)
            (loss / config.accumulation).backward()
            accumulated += float(loss.detach())
            positions += batch.positions
            micro += 1
            if micro % config.accumulation:
                continue
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            mean = accumulated / config.accumulation
            record = {"step": step, "epoch": epoch, "loss": mean, "lr": scheduler.get_last_lr()[0],
                      "positions": positions, "seconds": round(time.perf_counter() - start, 3)}
            curve.write(json.dumps(record) + "\n")
            if len(first_losses) < 10:
                first_losses.append(mean)
            last_losses = (last_losses + [mean])[-10:]
            if step % config.log_every == 0 or step == total_steps:
                _log(f"step {step}/{total_steps} loss {mean:.4f} lr {record['lr']:.2e} ({record['seconds']:.1f} s)")
            accumulated, positions = 0.0, 0
            if step >= total_steps:
                break
        epoch += 1
    curve.close()
    train_seconds = time.perf_counter() - start
    model.save_pretrained(str(output / "adapter"))

    evaluation = evaluate(model, artifact, config, options, device, output / "predictions.jsonl")
    metrics = {
        "configuration": dataclasses.asdict(config) | {"tau_used": config.temperature},
        "base_model": description,
        "trainable_parameters": trainable,
        "steps": step,
        "train_samples": samples,
        "loss_start": float(np.mean(first_losses)) if first_losses else None,
        "loss_end": float(np.mean(last_losses)) if last_losses else None,
        "loss_first_step": first_losses[0] if first_losses else None,
        "loss_last_step": last_losses[-1] if last_losses else None,
        "train_seconds": train_seconds,
        "evaluation": evaluation,
        "device": str(device),
        "torch": torch.__version__,
    }
    (output / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    _log(f"loss {metrics['loss_start']} → {metrics['loss_end']} (means of the first and last 10 steps); "
         f"{config.eval_split}: " + ", ".join(f"{k} {v:.4f}" for k, v in evaluation["metrics"].items()
                                              if k != "samples") + f"; outputs in {output}")
    return metrics


@torch.no_grad()
def evaluate(model: Any, artifact: SoftLabelArtifact, config: TrainConfig, options: BatchOptions,
             device: torch.device, predictions_path: pathlib.Path) -> dict:
    """Constrained beam search over the evaluation split; writes predictions.jsonl, returns the metrics."""
    model.eval()
    data = ShardBatches(config.artifact, config.eval_split, config.eval_batch_size,
                        dataclasses.replace(options, msl=False), limit=config.eval_samples, verify=config.verify)
    start = time.perf_counter()
    rankings, targets = [], []
    with predictions_path.open("w", encoding="utf-8") as lines:
        for batch in data:
            batch = batch.to(device)
            results = constrained_beam_search(model, batch, artifact, config.num_beams)
            for row, predictions in enumerate(results):
                item = int(batch.items[row])
                target = artifact.item_title(item)
                titles = [p["title"] for p in predictions]
                rankings.append(titles)
                targets.append(target)
                rank = titles.index(target) + 1 if target in titles else None
                lines.write(json.dumps({
                    "split": config.eval_split, "sample_id": int(batch.sample_ids[row]),
                    "user": int(batch.users[row]), "item": item, "target": target, "hit_rank": rank,
                    "predictions": [{"title": p["title"], "score": p["score"]} for p in predictions]},
                    ensure_ascii=False) + "\n")
    seconds = time.perf_counter() - start
    metrics = ranking_metrics(rankings, targets, KS)
    _log(f"evaluated {metrics['samples']} {config.eval_split} samples in {seconds:.1f} s")
    return {"split": config.eval_split, "metrics": metrics, "seconds": seconds, "num_beams": config.num_beams}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tca_trainer.train", description=__doc__.split("\n\n")[0])
    defaults = TrainConfig()
    parser.add_argument("artifact", help="the soft-labels artifact directory (with prompts: input_ids)")
    parser.add_argument("--output", "-o", required=True, help="the run's output directory")
    for field in dataclasses.fields(TrainConfig):
        if field.name in ("artifact", "output"):
            continue
        flag = "--" + field.name.replace("_", "-")
        default = getattr(defaults, field.name)
        if isinstance(default, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=default)
        else:
            kind = {"tau": float, "max_steps": int, "train_samples": int, "eval_samples": int,
                    "max_prompt_tokens": int, "threads": int}.get(field.name, type(default))
            parser.add_argument(flag, type=kind, default=default, help=f"default {default}")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: train, evaluate, write the outputs; exit 1 with a message on a bad artifact or model."""
    arguments = vars(_parser().parse_args(argv))
    config = TrainConfig(**arguments)
    try:
        train(config)
    except (ArtifactError, ShardFormatError, ValueError) as error:
        print(f"tca-train: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
