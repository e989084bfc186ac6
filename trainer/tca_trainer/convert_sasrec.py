"""Convert an official TCA4Rec SASRec checkpoint (a PyTorch state_dict saved with torch.save, as
critical88/TCA4Rec sasrec/main.py writes best_model.pth) to safetensors with the official parameter
names, which the cf stage imports with `model: external, checkpoint: FILE`; and back.

    python trainer/tca_trainer/convert_sasrec.py best_model.pth sasrec.safetensors
    python trainer/tca_trainer/convert_sasrec.py --to-pt sasrec.safetensors best_model.pth

Also prints the architecture it finds (items, hidden, blocks, max_length), which the cf stage's
parameters must match. Only `torch` (for reading/writing .pt) and NumPy are needed.
"""
from __future__ import annotations

import argparse
import pathlib
import re
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import safetensors_io  # noqa: E402

_PER_BLOCK = [
    "attention_layernorms.{i}.weight", "attention_layernorms.{i}.bias",
    "attention_layers.{i}.in_proj_weight", "attention_layers.{i}.in_proj_bias",
    "attention_layers.{i}.out_proj.weight", "attention_layers.{i}.out_proj.bias",
    "forward_layernorms.{i}.weight", "forward_layernorms.{i}.bias",
    "forward_layers.{i}.conv1.weight", "forward_layers.{i}.conv1.bias",
    "forward_layers.{i}.conv2.weight", "forward_layers.{i}.conv2.bias",
]
_GLOBAL = ["item_emb.weight", "pos_emb.weight", "last_layernorm.weight", "last_layernorm.bias"]


def expected_names(blocks: int) -> list[str]:
    return _GLOBAL + [name.format(i=i) for i in range(blocks) for name in _PER_BLOCK]


def architecture(tensors: dict[str, np.ndarray]) -> dict[str, int]:
    """items (N, without padding), hidden, blocks, max_length, checked against every expected name."""
    if "item_emb.weight" not in tensors or "pos_emb.weight" not in tensors:
        raise ValueError("not a SASRec state_dict: item_emb.weight or pos_emb.weight is missing")
    rows, hidden = tensors["item_emb.weight"].shape
    blocks = 1 + max((int(m.group(1)) for name in tensors if (m := re.match(r"attention_layers\.(\d+)\.", name))), default=-1)
    names = expected_names(blocks)
    missing = [name for name in names if name not in tensors]
    extra = sorted(set(tensors) - set(names))
    if missing or extra:
        raise ValueError(f"state_dict does not have the official names: missing {missing}, unexpected {extra}")
    return {"items": rows - 1, "hidden": hidden, "blocks": blocks, "max_length": tensors["pos_emb.weight"].shape[0]}


def from_state_dict(state: dict) -> dict[str, np.ndarray]:
    """NumPy float32 arrays with the official names (a 'module.' prefix from DataParallel is dropped)."""
    if "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    tensors = {}
    for name, value in state.items():
        name = name.removeprefix("module.")
        array = value.detach().cpu().float().numpy() if hasattr(value, "detach") else np.asarray(value, np.float32)
        tensors[name] = np.ascontiguousarray(array, dtype=np.float32)
    architecture(tensors)
    return tensors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source")
    parser.add_argument("destination")
    parser.add_argument("--to-pt", action="store_true", help="convert safetensors back to a .pt state_dict")
    args = parser.parse_args(argv)
    import torch

    if args.to_pt:
        tensors, _ = safetensors_io.load(args.source)
        shape = architecture(tensors)
        torch.save({name: torch.from_numpy(array.copy()) for name, array in tensors.items()}, args.destination)
    else:
        state = torch.load(args.source, map_location="cpu", weights_only=True)
        tensors = from_state_dict(state)
        shape = architecture(tensors)
        safetensors_io.save(tensors, args.destination, {"format": "pt", "source": "critical88/TCA4Rec sasrec"})
    print(
        f"{args.destination}: items {shape['items']}, hidden {shape['hidden']}, blocks {shape['blocks']}, "
        f"max_length {shape['max_length']} (set these as the cf stage's parameters)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
