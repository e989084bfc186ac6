"""A minimal safetensors reader and writer (NumPy only), byte-compatible with the format's spec.

8-byte little-endian header length, a JSON header {name: {dtype, shape, data_offsets}, "__metadata__"},
padded with spaces to a multiple of 8, then the raw little-endian tensors. The `safetensors` package
reads what this writes; this reads what it writes.
"""
from __future__ import annotations

import json
import struct

import numpy as np

_DTYPES = {"F32": "<f4", "F64": "<f8", "F16": "<f2", "I64": "<i8", "I32": "<i4", "U8": "|u1"}
_NAMES = {np.dtype(v).str: k for k, v in _DTYPES.items()}


def encode(tensors: dict[str, np.ndarray], metadata: dict[str, str] | None = None) -> bytes:
    """The file's bytes; tensors are written in name order."""
    header: dict[str, object] = {}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        array = np.ascontiguousarray(tensors[name])
        dtype = array.dtype.newbyteorder("<") if array.dtype.byteorder == ">" else array.dtype
        key = _NAMES.get(np.dtype(dtype).str)
        if key is None:
            raise ValueError(f"tensor {name!r}: dtype {array.dtype} is not supported")
        blob = array.astype(dtype, copy=False).tobytes()
        header[name] = {"dtype": key, "shape": list(array.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    text = json.dumps(header, separators=(",", ":"), sort_keys=True).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def save(tensors: dict[str, np.ndarray], path: str, metadata: dict[str, str] | None = None) -> None:
    with open(path, "wb") as handle:
        handle.write(encode(tensors, metadata))


def load(path: str) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """(tensors by name, metadata); raises ValueError naming the file and the problem."""
    with open(path, "rb") as handle:
        data = handle.read()
    if len(data) < 8:
        raise ValueError(f"{path}: shorter than the 8-byte header length")
    (length,) = struct.unpack("<Q", data[:8])
    if 8 + length > len(data):
        raise ValueError(f"{path}: header length {length} runs past the end of the file")
    header = json.loads(data[8 : 8 + length])
    metadata = header.pop("__metadata__", {}) or {}
    start = 8 + length
    tensors = {}
    for name, entry in header.items():
        begin, end = entry["data_offsets"]
        dtype = np.dtype(_DTYPES[entry["dtype"]])
        if start + end > len(data):
            raise ValueError(f"{path}: tensor {name!r} runs past the end of the file")
        tensors[name] = np.frombuffer(data[start + begin : start + end], dtype=dtype).reshape(entry["shape"]).copy()
    return tensors, metadata
