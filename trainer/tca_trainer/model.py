"""The language model side: a Hugging Face causal LM (or a tiny random Llama for CPU runs) with LoRA adapters.

`load_base_model` loads any `AutoModelForCausalLM` directory (bf16 on a GPU, float32 on CPU) or, with
`tiny:`, builds a randomly initialised Llama (`transformers.LlamaConfig`) whose vocabulary is the artifact's
tokenizer, seeded so the same seed gives the same weights. `add_lora` wraps it with PEFT LoRA (the official
r 8, alpha 16, dropout 0.05 on q/k/v/o projections). `label_logits` runs the model and returns float32 logits
for the supervised positions only (the last `keep` columns, through `logits_to_keep` when the model has it).
"""
from __future__ import annotations

import inspect
import pathlib
from dataclasses import dataclass
from typing import Any

import torch

from .artifact import SoftLabelArtifact
from .data import Batch

__all__ = ["TinyModel", "add_lora", "attention_implementation", "label_logits", "load_base_model", "parse_tiny"]


@dataclass(frozen=True)
class TinyModel:
    """A tiny Llama: `tiny:LAYERS:HIDDEN` (default `tiny` = 2 layers, hidden 64, 4 heads, MLP 4×hidden)."""

    layers: int = 2
    hidden: int = 64
    heads: int = 4

    def config(self, vocab_size: int, special: Any, max_positions: int = 4096) -> Any:
        from transformers import LlamaConfig

        return LlamaConfig(
            vocab_size=vocab_size, hidden_size=self.hidden, intermediate_size=4 * self.hidden,
            num_hidden_layers=self.layers, num_attention_heads=self.heads, num_key_value_heads=self.heads,
            max_position_embeddings=max_positions, bos_token_id=special.bos, eos_token_id=special.eos,
            pad_token_id=special.pad if special.pad is not None else special.eos, tie_word_embeddings=False)


def parse_tiny(name: str) -> TinyModel | None:
    """`tiny`, `tiny:LAYERS:HIDDEN` → TinyModel; anything else → None (a model path)."""
    if name != "tiny" and not name.startswith("tiny:"):
        return None
    parts = name.split(":")[1:]
    try:
        numbers = [int(part) for part in parts]
    except ValueError:
        raise ValueError(f"model {name!r}: expected tiny or tiny:LAYERS:HIDDEN with integers") from None
    if len(numbers) not in (0, 2) or any(n <= 0 for n in numbers):
        raise ValueError(f"model {name!r}: expected tiny or tiny:LAYERS:HIDDEN with positive integers")
    if numbers:
        return TinyModel(layers=numbers[0], hidden=numbers[1], heads=max(1, numbers[1] // 16))
    return TinyModel()


def attention_implementation(choice: str, device: torch.device) -> str:
    """`auto` → `eager` on CUDA, `sdpa` elsewhere; otherwise the choice itself.

    Why eager on CUDA: with left padding, the padding rows of a batch attend to no key at all, and PyTorch's
    fused SDPA kernels on CUDA (torch 2.11, bf16) return finite outputs for such rows but NaN gradients, which
    poison the LoRA weights within a few steps (seen on an H200 with trainer/gpu_check.py; eager does not).
    """
    if choice == "auto":
        return "eager" if device.type == "cuda" else "sdpa"
    return choice


def load_base_model(name: str, artifact: SoftLabelArtifact, device: torch.device, seed: int,
                    attention: str = "auto") -> tuple[Any, dict]:
    """The base causal LM and a description of it (for metrics.json).

    - Parameters:
      - name: `tiny[:LAYERS:HIDDEN]` or a Hugging Face model directory (config.json + weights).
      - artifact: gives the vocabulary size and special tokens (the tiny model's vocabulary is the artifact's
        tokenizer; a real model's vocabulary must cover it).
      - device: bf16 weights on CUDA, float32 elsewhere.
      - seed: initialises the tiny model.
      - attention: the attention implementation (`attention_implementation`).
    - Raises: ValueError when the model cannot hold the artifact's token ids.
    """
    from transformers import AutoModelForCausalLM

    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    implementation = attention_implementation(attention, device)
    tiny = parse_tiny(name)
    if tiny is not None:
        torch.manual_seed(seed)
        config = tiny.config(artifact.special.vocab_size, artifact.special)
        model = AutoModelForCausalLM.from_config(config, attn_implementation=implementation)
        description = {"kind": "tiny-random-llama", "layers": tiny.layers, "hidden": tiny.hidden,
                       "heads": tiny.heads, "vocab_size": artifact.special.vocab_size, "seed": seed,
                       "parameters": sum(p.numel() for p in model.parameters())}
    else:
        path = pathlib.Path(name)
        if not (path / "config.json").exists():
            raise ValueError(f"model '{name}' is not a Hugging Face model directory (no config.json); pass "
                             f"MODEL=PATH to a local model (weights cannot be downloaded here) or MODEL=tiny")
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype, attn_implementation=implementation)
        description = {"kind": "pretrained", "path": str(path.resolve()), "model_type": model.config.model_type,
                       "parameters": sum(p.numel() for p in model.parameters())}
    vocabulary = model.get_input_embeddings().weight.shape[0]
    if vocabulary < artifact.special.vocab_size:
        raise ValueError(f"model '{name}' has {vocabulary} token embeddings but the artifact's tokenizer "
                         f"('{artifact.directory / 'tokenizer.json'}') has {artifact.special.vocab_size} tokens; use "
                         f"the model's own tokenizer in the pipeline (tokenizer: mode: pretrained)")
    model.config.use_cache = False
    description["dtype"] = str(dtype).removeprefix("torch.")
    description["attention"] = implementation
    return model.to(device=device, dtype=dtype), description


def add_lora(model: Any, r: int = 8, alpha: int = 16, dropout: float = 0.05,
             targets: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")) -> Any:
    """The model wrapped with LoRA adapters (PEFT); only the adapters train."""
    import warnings

    from peft import LoraConfig, get_peft_model

    config = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=list(targets), bias="none",
                        task_type="CAUSAL_LM")
    with warnings.catch_warnings():
        # peft 0.21 asks transformers 5 for a renamed attribute; harmless, and said on every run otherwise.
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        return get_peft_model(model, config)


def _accepts_logits_to_keep(model: Any) -> bool:
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return "logits_to_keep" in inspect.signature(base.forward).parameters


def label_logits(model: Any, batch: Batch) -> torch.Tensor:
    """float32 logits [S, V] at the batch's supervised positions (logits for the last `keep` columns only)."""
    arguments: dict[str, Any] = dict(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                                     position_ids=batch.position_ids, use_cache=False)
    if _accepts_logits_to_keep(model):
        arguments["logits_to_keep"] = batch.keep
        logits = model(**arguments).logits
    else:
        logits = model(**arguments).logits[:, -batch.keep:, :]
    return logits[batch.rows, batch.columns].float()
