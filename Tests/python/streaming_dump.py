"""Dump every sample of an MDS dataset as mosaicml-streaming reads it, for tests that compare readers.

Run with the streaming virtual environment's Python (`.venv-streaming/bin/python`, `make deps-python`):

    streaming_dump.py DIR OUT.npz [--split S]

iterates `streaming.StreamingDataset(local=DIR, split=S, shuffle=False, batch_size=1)` and saves, for each
column C, `C` (the samples' values in iteration order, concatenated) and, for array columns, `C.lengths`
(each sample's element count; arrays must be 1-D, as every soft-label column is). streaming decompresses
shards into `local`, so pass a copy of the artifact directory.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np


def pack(samples: list[dict]) -> dict[str, np.ndarray]:
    """Samples as this script dumps them: columns concatenated, with `C.lengths` for array columns (what
    the tests compare our reader's samples with)."""
    packed = {}
    for name in samples[0]:
        if isinstance(samples[0][name], np.ndarray):
            packed[name] = np.concatenate([s[name] for s in samples])
            packed[f"{name}.lengths"] = np.array([len(s[name]) for s in samples], dtype=np.int64)
        else:
            packed[name] = np.array([s[name] for s in samples])
    return packed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", help="a copy of the MDS dataset directory (streaming writes into it)")
    parser.add_argument("output", help="the .npz file to write")
    parser.add_argument("--split", help="the split folder to read (default: the root index)")
    arguments = parser.parse_args(argv)

    from streaming import StreamingDataset

    dataset = StreamingDataset(local=arguments.directory, split=arguments.split, shuffle=False, batch_size=1)
    values: dict[str, list[np.ndarray]] = {}
    lengths: dict[str, list[int]] = {}
    count = 0
    for sample in dataset:
        for name, value in sample.items():
            if isinstance(value, np.ndarray):
                if value.ndim != 1:
                    raise SystemExit(f"streaming_dump: error: column {name!r} has shape {value.shape}; "
                                     f"only 1-D arrays are dumped")
                lengths.setdefault(name, []).append(len(value))
                values.setdefault(name, []).append(value)
            else:
                values.setdefault(name, []).append(np.asarray(value).reshape(1))
        count += 1
    if count != dataset.num_samples:
        raise SystemExit(f"streaming_dump: error: iterated {count} of {dataset.num_samples} samples")

    arrays: dict[str, np.ndarray] = {}
    for name, parts in values.items():
        arrays[name] = np.concatenate(parts)
        if name in lengths:
            arrays[f"{name}.lengths"] = np.asarray(lengths[name], dtype=np.int64)
    np.savez(arguments.output, **arrays)
    print(f"streaming_dump: {count} samples, columns {sorted(values)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
