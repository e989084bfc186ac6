"""Soft-label shards: a NumPy + zstandard reader for the MDS shards the soft-labels stage writes.

The shards are MosaicML Streaming's MDS format, version 2 (ARCHITECTURE.md §5), so that
`streaming.StreamingDataset(local=DIR)` reads them too; this module reads them without that package.

Layout
------
An artifact directory holds a root `index.json` over every split, whose basenames carry the split's
folder (`train/shard.00000.mds.zstd`, as streaming's `merge_index` writes them), and one folder per
computed split with its own `index.json` (basenames without the folder) and its shards. Basenames are
resolved against the folder of the `index.json` that lists them, so both indexes read the same files.

`index.json` is `{"shards": [...], "version": 2}`; each shard entry has exactly the keys
`column_encodings, column_names, column_sizes, compression ("zstd:LEVEL"), format ("mds"), hashes,
raw_data {basename, bytes, hashes}, samples, size_limit, version (2), zip_data {basename, bytes, hashes}`.

A shard file (`zip_data`) is one zstd frame holding the raw shard (`raw_data`):

    uint32 n                      sample count (little-endian, like every number here)
    uint32 offsets[n + 1]         absolute byte offsets of the samples in the raw shard; offsets[n] = its size
    config JSON                   the writer's settings, up to offsets[0]
    samples                       sample i is raw[offsets[i]:offsets[i + 1]]

A sample is, for each variable-size column in column order (names sorted), a uint32 byte size; then
every column's bytes in the same order. Encodings read here: the numeric scalars (`uint32`, `uint64`, …:
the value, fixed size) and `ndarray:<dtype>` (static dtype, dynamic shape: one byte `(ndim << 2) | code`
where code 0, 1, 2, 3 means the shape is stored as uint8, uint16, uint32, uint64; the shape; the values
in C order). An empty 1-D array is ndim 1 with shape `[0]` and no values.

Soft-label columns: `sample_id` (uint64, the sample's index in its split), `user`, `item` (uint32),
`history` (ndarray:uint32, oldest first), `labels` (ndarray:uint32, P positions: the target title's
tokens + EOS), `nodes` (ndarray:uint32, P: the trie node before each label), `soft_offsets`
(ndarray:uint32, P + 1), `soft_ids` (ndarray:uint32) and `soft_probs` (ndarray:float32 or float16):
position p keeps `soft_ids[soft_offsets[p]:soft_offsets[p + 1]]` with those probabilities, ordered by
probability descending then token id; optionally `input_ids` (ndarray:uint32, the prompt's tokens).

Sharding rule
-------------
`SoftLabelShards.iter(rank, world_size, worker, num_workers)` gives slot `rank * num_workers + worker`
of `slots = world_size * num_workers`:
- when there are at least as many shards as slots, whole shards round-robin: shard s goes to slot
  `s % slots` (each slot decompresses only its own shards; shares differ by at most one shard);
- otherwise samples strided: the sample with global index g (shards in index order) goes to slot
  `g % slots` (shares differ by at most one sample).
Either way the order is deterministic (index order) and the shares over all slots are disjoint and cover
every sample exactly once. A trainer that needs equal steps per rank must pad or truncate itself.
`SoftLabelIterableDataset` (a torch `IterableDataset`, defined on first use when torch imports) takes the
rank and world size from `torch.distributed` (else RANK / WORLD_SIZE) and the worker from
`get_worker_info()`.

Command line: `python -m tca_trainer.shards DIR [--split S] [--verify]`.
"""
from __future__ import annotations

import argparse
import bisect
import hashlib
import json
import os
import pathlib
import re
import sys
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, Sequence, Union

import numpy as np
import zstandard

__all__ = [
    "FileInfo",
    "Sample",
    "ShardEntry",
    "ShardFormatError",
    "ShardIndex",
    "SoftLabelShards",
    "read_shard",
    "soft_labels",
    "to_torch",
    "validate_soft_label_sample",
]

INDEX_BASENAME = "index.json"
MDS_VERSION = 2
ENTRY_KEYS = frozenset({
    "column_encodings", "column_names", "column_sizes", "compression", "format", "hashes", "raw_data",
    "samples", "size_limit", "version", "zip_data",
})
FILE_KEYS = frozenset({"basename", "bytes", "hashes"})
# The value dtypes MDS knows (streaming's NDArray._value_dtype2int and its scalar encodings).
NUMERIC_DTYPES = ("uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64",
                  "float16", "float32", "float64")
# Hash algorithms we can check: hashlib's guaranteed ones (streaming also knows xxhash, which we do not).
HASHES = frozenset(name for name in hashlib.algorithms_guaranteed if not name.startswith("shake_"))
SHAPE_DTYPES = (np.dtype("<u1"), np.dtype("<u2"), np.dtype("<u4"), np.dtype("<u8"))

# The soft-labels stage's columns: name → accepted encodings.
SOFT_LABEL_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "history": ("ndarray:uint32",),
    "item": ("uint32",),
    "labels": ("ndarray:uint32",),
    "nodes": ("ndarray:uint32",),
    "sample_id": ("uint64",),
    "soft_ids": ("ndarray:uint32",),
    "soft_offsets": ("ndarray:uint32",),
    "soft_probs": ("ndarray:float32", "ndarray:float16"),
    "user": ("uint32",),
}
OPTIONAL_SOFT_LABEL_COLUMNS: Mapping[str, tuple[str, ...]] = {"input_ids": ("ndarray:uint32",)}

Sample = dict[str, Any]
"""One decoded sample: column name → read-only NumPy array (ndarray columns) or NumPy scalar."""

PathLike = Union[str, "os.PathLike[str]"]


class ShardFormatError(ValueError):
    """A shard or index that does not follow the format; the message names the file, shard and field."""


def _type_name(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class FileInfo:
    """One file of a shard as the index describes it.

    `basename` is relative to the folder of the `index.json` that lists it (it may contain a split's
    folder, `train/shard.00000.mds.zstd`); `hashes` maps algorithm → lowercase hex digest.
    """

    basename: str
    bytes: int
    hashes: Mapping[str, str]


@dataclass(frozen=True)
class ShardEntry:
    """One validated shard entry of an `index.json`.

    `number` is the entry's position in the index's `shards` list (used in messages); `index_path` is
    the `index.json` that lists it.
    """

    number: int
    index_path: pathlib.Path
    column_encodings: tuple[str, ...]
    column_names: tuple[str, ...]
    column_sizes: tuple[int | None, ...]
    compression: str
    hashes: tuple[str, ...]
    raw_data: FileInfo
    samples: int
    size_limit: int | None
    zip_data: FileInfo

    @property
    def columns(self) -> dict[str, str]:
        """Column name → encoding, in column order."""
        return dict(zip(self.column_names, self.column_encodings))

    def where(self, field: str | None = None) -> str:
        """`'…/index.json' shard N[, field F]`, the prefix of messages about this entry."""
        text = f"'{self.index_path}' shard {self.number}"
        return f"{text}, field '{field}'" if field else text


# ------------------------------------------------------------------------------------------------
# Index


class ShardIndex:
    """A validated MDS `index.json`: its shard entries and the folder their basenames are relative to.

    Validation is strict, because streaming's reader breaks on what it does not expect: exactly the keys
    of the format at both levels, version 2, format `mds`, `zstd[:LEVEL]` compression, encodings this
    module decodes, consistent column lists, byte sizes and hex digests for every listed hash, and safe,
    unique relative basenames.
    """

    def __init__(self, path: pathlib.Path, shards: Sequence[ShardEntry]) -> None:
        self.path = path
        self.directory = path.parent
        self.shards: tuple[ShardEntry, ...] = tuple(shards)
        starts = [0]
        for entry in self.shards:
            starts.append(starts[-1] + entry.samples)
        self._starts = starts

    @classmethod
    def load(cls, directory: PathLike, split: str | None = None) -> ShardIndex:
        """Read and validate `directory/index.json`, or `directory/split/index.json` when `split` is given.

        - Raises: `ShardFormatError` naming the file (and the shard and field) when the index is missing,
          is not JSON or breaks the format.
        """
        folder = pathlib.Path(directory)
        if split is not None:
            if not split or split in (".", "..") or "/" in split or "\\" in split:
                raise ShardFormatError(f"split {split!r} is not a folder name; pass a split such as 'train'")
            folder = folder / split
        path = folder / INDEX_BASENAME
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            splits = sorted(p.parent.name for p in pathlib.Path(directory).glob(f"*/{INDEX_BASENAME}"))
            hint = f"splits with an index here: {', '.join(repr(s) for s in splits)}" if splits else \
                "pass the soft-labels artifact directory"
            raise ShardFormatError(f"'{path}' does not exist; {hint}") from None
        except (OSError, UnicodeDecodeError) as error:
            raise ShardFormatError(f"'{path}' cannot be read ({error})") from None
        try:
            document = json.loads(text)
        except json.JSONDecodeError as error:
            raise ShardFormatError(f"'{path}' is not JSON ({error}); rewrite the artifact") from None
        return cls.parse(document, path)

    @classmethod
    def parse(cls, document: object, path: PathLike) -> ShardIndex:
        """Validate a decoded `index.json` document; `path` is where it was read from (basenames are
        relative to its folder, and messages name it)."""
        path = pathlib.Path(path)
        if not isinstance(document, dict):
            raise ShardFormatError(f"'{path}' is a JSON {_type_name(document)}, not an object")
        keys = set(document)
        if keys != {"shards", "version"}:
            raise ShardFormatError(f"'{path}' has keys {sorted(keys)}; an MDS index has exactly "
                                   f"['shards', 'version']")
        if document["version"] != MDS_VERSION or not _is_int(document["version"]):
            raise ShardFormatError(f"'{path}', field 'version': {document['version']!r} is not {MDS_VERSION}")
        raw_shards = document["shards"]
        if not isinstance(raw_shards, list):
            raise ShardFormatError(f"'{path}', field 'shards': a JSON {_type_name(raw_shards)}, not a list")
        shards = [_parse_entry(number, raw, path) for number, raw in enumerate(raw_shards)]
        seen: dict[str, int] = {}
        for entry in shards:
            for info, field in ((entry.raw_data, "raw_data"), (entry.zip_data, "zip_data")):
                other = seen.setdefault(info.basename, entry.number)
                if other != entry.number or (field == "zip_data" and info.basename == entry.raw_data.basename):
                    raise ShardFormatError(f"{entry.where(field + '.basename')}: '{info.basename}' is also "
                                           f"listed by shard {other}; every shard file must be distinct")
        return cls(path, shards)

    def __len__(self) -> int:
        """The number of shards."""
        return len(self.shards)

    def __iter__(self) -> Iterator[ShardEntry]:
        return iter(self.shards)

    def __getitem__(self, number: int) -> ShardEntry:
        return self.shards[number]

    @property
    def samples(self) -> int:
        """The number of samples over every shard."""
        return self._starts[-1]

    @property
    def zip_bytes(self) -> int:
        """The total size of the compressed shard files."""
        return sum(entry.zip_data.bytes for entry in self.shards)

    @property
    def raw_bytes(self) -> int:
        """The total size of the decompressed shards."""
        return sum(entry.raw_data.bytes for entry in self.shards)

    def start(self, number: int) -> int:
        """The global index of shard `number`'s first sample (shards in index order)."""
        return self._starts[number]

    def locate(self, index: int) -> tuple[int, int]:
        """(shard number, index within the shard) of global sample `index`, 0 ≤ index < samples.

        - Complexity: O(log shards).
        """
        if not 0 <= index < self.samples:
            raise IndexError(f"sample {index} is out of range for {self.samples} samples in '{self.path}'")
        number = bisect.bisect_right(self._starts, index) - 1
        return number, index - self._starts[number]

    def read(self, number: int, verify: bool = True) -> list[Sample]:
        """The decoded samples of shard `number` (see `read_shard`)."""
        return read_shard(self.directory, self.shards[number], verify=verify)


def _parse_entry(number: int, raw: object, path: pathlib.Path) -> ShardEntry:
    def fail(field: str | None, problem: str) -> ShardFormatError:
        place = f"'{path}' shard {number}" + (f", field '{field}'" if field else "")
        return ShardFormatError(f"{place}: {problem}")

    if not isinstance(raw, dict):
        raise fail(None, f"a JSON {_type_name(raw)}, not an object")
    keys = set(raw)
    if keys != ENTRY_KEYS:
        extra, missing = sorted(keys - ENTRY_KEYS), sorted(ENTRY_KEYS - keys)
        parts = ([f"unexpected keys {extra}"] if extra else []) + ([f"missing keys {missing}"] if missing else [])
        raise fail(None, f"{' and '.join(parts)}; an MDS shard entry has exactly {sorted(ENTRY_KEYS)} "
                         f"(lineage goes in manifest.json)")
    if raw["version"] != MDS_VERSION or not _is_int(raw["version"]):
        raise fail("version", f"{raw['version']!r} is not {MDS_VERSION}")
    if raw["format"] != "mds":
        raise fail("format", f"{raw['format']!r} is not 'mds'")

    compression = raw["compression"]
    match = re.fullmatch(r"zstd(?::(\d+))?", compression) if isinstance(compression, str) else None
    if match is None or (match.group(1) is not None and not 1 <= int(match.group(1)) <= 22):
        raise fail("compression", f"{compression!r} is not 'zstd' or 'zstd:LEVEL' with LEVEL in 1…22")

    names, encodings, sizes = raw["column_names"], raw["column_encodings"], raw["column_sizes"]
    for field, value in (("column_names", names), ("column_encodings", encodings), ("column_sizes", sizes)):
        if not isinstance(value, list):
            raise fail(field, f"a JSON {_type_name(value)}, not a list")
    if not len(names) == len(encodings) == len(sizes):
        raise fail("column_names", f"{len(names)} names, {len(encodings)} encodings and {len(sizes)} sizes "
                                   f"differ in length")
    if not all(isinstance(name, str) and name for name in names):
        raise fail("column_names", f"{names!r} are not all non-empty strings")
    if names != sorted(set(names)):
        raise fail("column_names", f"{names!r} are not sorted and unique (MDS orders columns by name)")
    for position, (name, encoding, size) in enumerate(zip(names, encodings, sizes)):
        expected = _encoded_size(encoding)
        if expected is False:
            raise fail(f"column_encodings[{position}]", f"column {name!r} has encoding {encoding!r}; this reader "
                                                        f"knows {', '.join(NUMERIC_DTYPES)} and ndarray:<dtype>")
        if size != expected or isinstance(size, bool):
            raise fail(f"column_sizes[{position}]", f"column {name!r} ({encoding}) has size {size!r}, "
                                                    f"expected {expected!r}")

    hashes = raw["hashes"]
    if not isinstance(hashes, list) or not all(isinstance(h, str) for h in hashes):
        raise fail("hashes", f"{hashes!r} is not a list of algorithm names")
    if hashes != sorted(set(hashes)):
        raise fail("hashes", f"{hashes!r} is not sorted and unique")
    unknown = [h for h in hashes if h not in HASHES]
    if unknown:
        raise fail("hashes", f"{unknown!r} cannot be checked by this reader; use sha256")

    samples = raw["samples"]
    if not _is_int(samples) or samples < 0:
        raise fail("samples", f"{samples!r} is not a non-negative integer")
    size_limit = raw["size_limit"]
    if size_limit is not None and (not _is_int(size_limit) or size_limit <= 0):
        raise fail("size_limit", f"{size_limit!r} is not a positive integer or null")

    files = {field: _parse_file(raw[field], field, hashes, fail) for field in ("raw_data", "zip_data")}
    return ShardEntry(
        number=number, index_path=path, column_encodings=tuple(encodings), column_names=tuple(names),
        column_sizes=tuple(sizes), compression=compression, hashes=tuple(hashes), raw_data=files["raw_data"],
        samples=samples, size_limit=size_limit, zip_data=files["zip_data"])


def _parse_file(raw: object, field: str, hashes: list[str],
                fail: Callable[[str | None, str], ShardFormatError]) -> FileInfo:
    if not isinstance(raw, dict):
        raise fail(field, f"a JSON {_type_name(raw)}, not an object with {sorted(FILE_KEYS)}")
    if set(raw) != FILE_KEYS:
        raise fail(field, f"has keys {sorted(raw)}; expected exactly {sorted(FILE_KEYS)}")
    basename = raw["basename"]
    if not isinstance(basename, str) or not _safe_relative(basename):
        raise fail(f"{field}.basename", f"{basename!r} is not a relative path inside the dataset")
    size = raw["bytes"]
    if not _is_int(size) or size < 0:
        raise fail(f"{field}.bytes", f"{size!r} is not a non-negative integer")
    digests = raw["hashes"]
    if not isinstance(digests, dict) or set(digests) != set(hashes):
        listed = sorted(digests) if isinstance(digests, dict) else digests
        raise fail(f"{field}.hashes", f"has {listed!r}; expected exactly the entry's hashes {hashes!r}")
    for algorithm, digest in digests.items():
        length = 2 * hashlib.new(algorithm).digest_size
        if not isinstance(digest, str) or not re.fullmatch(f"[0-9a-f]{{{length}}}", digest):
            raise fail(f"{field}.hashes.{algorithm}", f"{digest!r} is not {length} lowercase hex digits")
    return FileInfo(basename=basename, bytes=size, hashes=dict(digests))


def _safe_relative(basename: str) -> bool:
    if not basename or basename.startswith("/") or "\\" in basename or "\0" in basename:
        return False
    return all(part not in ("", ".", "..") for part in basename.split("/"))


def _encoded_size(encoding: object) -> int | None | bool:
    """The fixed size of a known encoding, None for a variable-size one, False for an unknown one."""
    if not isinstance(encoding, str):
        return False
    if encoding in NUMERIC_DTYPES:
        return np.dtype(encoding).itemsize
    if encoding.startswith("ndarray:") and encoding[len("ndarray:"):] in NUMERIC_DTYPES:
        return None
    return False


# ------------------------------------------------------------------------------------------------
# Shards


@dataclass(frozen=True)
class _Column:
    name: str
    dtype: np.dtype
    is_array: bool


def _columns(entry: ShardEntry) -> tuple[_Column, ...]:
    columns = []
    for name, encoding in zip(entry.column_names, entry.column_encodings):
        is_array = encoding.startswith("ndarray:")
        dtype = np.dtype(encoding[len("ndarray:"):] if is_array else encoding).newbyteorder("<")
        columns.append(_Column(name, dtype, is_array))
    return tuple(columns)


def read_shard(directory: PathLike, entry: ShardEntry, verify: bool = True) -> list[Sample]:
    """Read, check, decompress and decode one shard.

    - Parameters:
      - directory: the folder of the `index.json` that lists `entry` (basenames are relative to it).
      - entry: the shard's validated index entry (`ShardIndex.load(...).shards[n]`).
      - verify: also check every hash the index lists, of the compressed file and of the raw shard
        (sizes, frame and layout are always checked).
    - Returns: the samples in shard order; arrays are read-only views into the decompressed shard,
      scalars NumPy scalars (`np.uint32`, `np.uint64`, …).
    - Raises: `ShardFormatError` naming the file (and the index's shard and field) when the file is
      missing, its size or a hash differs from the index, or its content is malformed.
    """
    path = pathlib.Path(directory) / entry.zip_data.basename
    try:
        compressed = path.read_bytes()
    except FileNotFoundError:
        raise ShardFormatError(f"'{path}' does not exist but {entry.where('zip_data.basename')} lists it; "
                               f"copy the whole artifact directory") from None
    except OSError as error:
        raise ShardFormatError(f"'{path}' cannot be read ({error})") from None
    if len(compressed) != entry.zip_data.bytes:
        raise ShardFormatError(f"'{path}' has {len(compressed)} bytes but {entry.where('zip_data.bytes')} says "
                               f"{entry.zip_data.bytes}; the file is truncated or the index is stale")
    if verify:
        _check_hashes(compressed, entry.zip_data, path, entry, "zip_data")
    raw = _decompress(compressed, entry, path)
    if verify:
        _check_hashes(raw, entry.raw_data, path, entry, "raw_data", what="decompressed content")
    return _decode_shard(raw, entry, path)


def _check_hashes(data: bytes, info: FileInfo, path: pathlib.Path, entry: ShardEntry, field: str,
                  what: str = "content") -> None:
    for algorithm, expected in sorted(info.hashes.items()):
        actual = hashlib.new(algorithm, data).hexdigest()
        if actual != expected:
            raise ShardFormatError(f"'{path}': the {what} has {algorithm} {actual} but "
                                   f"{entry.where(f'{field}.hashes.{algorithm}')} says {expected}; "
                                   f"the file is corrupt or the index is stale")


def _decompress(compressed: bytes, entry: ShardEntry, path: pathlib.Path) -> bytes:
    expected = entry.raw_data.bytes
    try:
        recorded = zstandard.frame_content_size(compressed)
    except zstandard.ZstdError as error:
        raise ShardFormatError(f"'{path}' does not start with a zstd frame ({error})") from None
    # A frame that records its content size must agree with the index; one that does not (a streamed
    # frame) is still read, as streaming's reader does, bounded by the index's size.
    if recorded not in (-1, expected):
        raise ShardFormatError(f"'{path}': the zstd frame records {recorded} bytes of content but "
                               f"{entry.where('raw_data.bytes')} says {expected}")
    if expected == 0:
        raise ShardFormatError(f"{entry.where('raw_data.bytes')}: 0 bytes cannot hold a shard header")
    try:
        raw = zstandard.ZstdDecompressor().decompress(compressed, max_output_size=expected,
                                                     allow_extra_data=False)
    except zstandard.ZstdError as error:
        raise ShardFormatError(f"'{path}' is not one valid zstd frame ({error}); the file is corrupt") from None
    if len(raw) != expected:
        raise ShardFormatError(f"'{path}' decompresses to {len(raw)} bytes but {entry.where('raw_data.bytes')} "
                               f"says {expected}")
    return raw


def _decode_shard(raw: bytes, entry: ShardEntry, path: pathlib.Path) -> list[Sample]:
    def fail(problem: str) -> ShardFormatError:
        return ShardFormatError(f"'{path}' ({entry.where()}): {problem}; the shard is corrupt")

    if len(raw) < 4:
        raise fail(f"{len(raw)} bytes cannot hold the sample count")
    count = int(np.frombuffer(raw, "<u4", 1)[0])
    if count != entry.samples:
        raise fail(f"the shard holds {count} samples but field 'samples' says {entry.samples}")
    header_end = 4 + 4 * (count + 1)
    if len(raw) < header_end:
        raise fail(f"{len(raw)} bytes cannot hold the offsets of {count} samples")
    offsets = np.frombuffer(raw, "<u4", count + 1, 4).astype(np.int64)
    if offsets[0] < header_end or offsets[-1] != len(raw) or np.any(np.diff(offsets) < 0):
        raise fail(f"the sample offsets (first {offsets[0]}, last {offsets[-1]}) are not increasing from "
                   f"{header_end} to the shard's size {len(raw)}")
    _check_config(raw[header_end:int(offsets[0])], entry, fail)

    columns = _columns(entry)
    variable = sum(1 for column in columns if column.is_array)
    samples = []
    bounds = offsets.tolist()
    for index in range(count):
        try:
            samples.append(_decode_sample(raw, bounds[index], bounds[index + 1], columns, variable))
        except ValueError as error:
            raise fail(f"sample {index}: {error}") from None
    return samples


def _check_config(config: bytes, entry: ShardEntry, fail: Callable[[str], ShardFormatError]) -> None:
    try:
        document = json.loads(config)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise fail("the shard's config is not JSON") from None
    if not isinstance(document, dict):
        raise fail("the shard's config is not a JSON object")
    for key in ("column_names", "column_encodings", "column_sizes"):
        if key in document and document[key] != list(getattr(entry, key)):
            raise fail(f"the shard's config has {key} {document[key]!r} but the index says "
                       f"{list(getattr(entry, key))!r}")


def _decode_sample(raw: bytes, begin: int, end: int, columns: Sequence[_Column], variable: int) -> Sample:
    if end - begin < 4 * variable:
        raise ValueError(f"{end - begin} bytes cannot hold {variable} column sizes")
    sizes = np.frombuffer(raw, "<u4", variable, begin).tolist()
    position = begin + 4 * variable
    sample: Sample = {}
    next_size = iter(sizes)
    for column in columns:
        size = next(next_size) if column.is_array else column.dtype.itemsize
        stop = position + size
        if stop > end:
            raise ValueError(f"column {column.name!r} ({size} bytes) runs past the sample's end")
        if column.is_array:
            sample[column.name] = _decode_array(raw, position, stop, column)
        else:
            sample[column.name] = np.frombuffer(raw, column.dtype, 1, position)[0]
        position = stop
    if position != end:
        raise ValueError(f"{end - position} bytes follow the last column")
    return sample


def _decode_array(raw: bytes, begin: int, end: int, column: _Column) -> np.ndarray:
    if begin >= end:
        raise ValueError(f"column {column.name!r} is empty (no shape byte)")
    code = raw[begin]
    ndim, shape_dtype = code >> 2, SHAPE_DTYPES[code & 3]
    if ndim == 0:
        raise ValueError(f"column {column.name!r} has 0 dimensions (MDS arrays have at least one)")
    values_at = begin + 1 + ndim * shape_dtype.itemsize
    if values_at > end:
        raise ValueError(f"column {column.name!r}: {end - begin} bytes cannot hold a {ndim}-D shape")
    shape = tuple(int(d) for d in np.frombuffer(raw, shape_dtype, ndim, begin + 1))
    count = 1
    for dimension in shape:
        count *= dimension
    if count * column.dtype.itemsize != end - values_at:
        raise ValueError(f"column {column.name!r}: shape {shape} of {column.dtype.name} needs "
                         f"{count * column.dtype.itemsize} bytes, the column has {end - values_at}")
    array = np.frombuffer(raw, column.dtype, count, values_at)
    return array.reshape(shape) if ndim > 1 else array


# ------------------------------------------------------------------------------------------------
# Soft labels


def soft_labels(sample: Mapping[str, Any], position: int) -> tuple[np.ndarray, np.ndarray]:
    """(kept token ids, their probabilities) at label `position` of a soft-label sample.

    Ordered by probability descending, then token id; the slice `soft_offsets[position]` to
    `soft_offsets[position + 1]` of `soft_ids` and `soft_probs`.
    """
    offsets = sample["soft_offsets"]
    positions = len(offsets) - 1
    if not 0 <= position < positions:
        raise IndexError(f"position {position} is out of range for {positions} label positions")
    begin, end = int(offsets[position]), int(offsets[position + 1])
    return sample["soft_ids"][begin:end], sample["soft_probs"][begin:end]


def validate_soft_label_sample(sample: Mapping[str, Any]) -> None:
    """Check that a sample's soft-label columns fit together; raises ValueError saying which do not.

    `labels`, `nodes` and `soft_offsets` are 1-D with P, P and P + 1 entries; `soft_offsets` rises from
    0 to the common length of `soft_ids` and `soft_probs`; `history` and `input_ids` are 1-D.
    """
    for name in ("history", "labels", "nodes", "soft_offsets", "soft_ids", "soft_probs", "input_ids"):
        if name in sample and np.ndim(sample[name]) != 1:
            raise ValueError(f"column {name!r} has shape {np.shape(sample[name])}, not 1-D")
    positions = len(sample["labels"])
    if len(sample["nodes"]) != positions:
        raise ValueError(f"{len(sample['nodes'])} nodes for {positions} labels")
    offsets = sample["soft_offsets"]
    if len(offsets) != positions + 1:
        raise ValueError(f"{len(offsets)} soft_offsets for {positions} labels (expected {positions + 1})")
    kept = len(sample["soft_ids"])
    if len(sample["soft_probs"]) != kept:
        raise ValueError(f"{len(sample['soft_probs'])} soft_probs for {kept} soft_ids")
    if offsets[0] != 0 or offsets[-1] != kept or np.any(offsets[1:] < offsets[:-1]):
        raise ValueError(f"soft_offsets do not rise from 0 to {kept} soft_ids")


class SoftLabelShards:
    """The soft-label samples of an artifact directory (one split, or every split via the root index).

    Iterating gives every sample in index order; `iter(rank, world_size, worker, num_workers)` gives one
    slot's deterministic share (the sharding rule in the module docstring). `shards[i]` decodes the shard
    holding global sample i (the last decoded shard is kept).

    - Parameters:
      - directory: the soft-labels artifact directory (the one with the root `index.json`).
      - split: read `directory/split/index.json` instead of the root index.
      - verify: check the hashes of every shard read and the structure of every sample.
    - Raises: `ShardFormatError` when the index breaks the format or lacks a soft-label column.
    """

    def __init__(self, directory: PathLike, split: str | None = None, verify: bool = True) -> None:
        self.index = ShardIndex.load(directory, split)
        self.verify = verify
        self.columns = _soft_label_columns(self.index)
        self._cached: tuple[int, list[Sample]] | None = None

    def __len__(self) -> int:
        return self.index.samples

    def __iter__(self) -> Iterator[Sample]:
        return self.iter()

    def __getitem__(self, index: int) -> Sample:
        if index < 0:
            index += len(self)
        number, offset = self.index.locate(index)
        return self.read(number)[offset]

    def read(self, number: int) -> list[Sample]:
        """The decoded samples of shard `number` (checked as `verify` says)."""
        if self._cached is not None and self._cached[0] == number:
            return self._cached[1]
        entry = self.index.shards[number]
        samples = read_shard(self.index.directory, entry, verify=self.verify)
        if self.verify:
            path = self.index.directory / entry.zip_data.basename
            for offset, sample in enumerate(samples):
                try:
                    validate_soft_label_sample(sample)
                except ValueError as error:
                    raise ShardFormatError(f"'{path}' ({entry.where()}) sample {offset}: {error}") from None
        self._cached = (number, samples)
        return samples

    def iter(self, rank: int = 0, world_size: int = 1, worker: int = 0, num_workers: int = 1) -> Iterator[Sample]:
        """The share of slot `rank * num_workers + worker` out of `world_size * num_workers`.

        Whole shards round-robin when there are at least as many shards as slots, else every
        `slots`-th sample; see the module docstring. Disjoint over slots, complete, deterministic.
        """
        slot, slots = _slot(rank, world_size, worker, num_workers)
        shards = len(self.index)
        if shards >= slots:
            for number in range(slot, shards, slots):
                yield from self.read(number)
            return
        for number, entry in enumerate(self.index.shards):
            first = (slot - self.index.start(number)) % slots
            if first < entry.samples:  # a shard with none of this slot's samples is not even read
                yield from self.read(number)[first::slots]


def _slot(rank: int, world_size: int, worker: int, num_workers: int) -> tuple[int, int]:
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} is not in [0, world_size {world_size})")
    if num_workers < 1 or not 0 <= worker < num_workers:
        raise ValueError(f"worker {worker} is not in [0, num_workers {num_workers})")
    return rank * num_workers + worker, world_size * num_workers


def _soft_label_columns(index: ShardIndex) -> dict[str, str]:
    if not index.shards:
        return {}
    first = index.shards[0]
    for entry in index.shards[1:]:
        if entry.columns != first.columns:
            raise ShardFormatError(f"{entry.where('column_encodings')}: columns {entry.columns} differ from "
                                   f"shard 0's {first.columns}; every shard must have the same columns")
    columns = first.columns
    accepted = {**SOFT_LABEL_COLUMNS, **OPTIONAL_SOFT_LABEL_COLUMNS}
    for name, encodings in accepted.items():
        if name not in columns:
            if name in SOFT_LABEL_COLUMNS:
                raise ShardFormatError(f"{first.where('column_names')}: no column {name!r}; soft-label shards "
                                       f"have {sorted(SOFT_LABEL_COLUMNS)}")
        elif columns[name] not in encodings:
            position = first.column_names.index(name)
            raise ShardFormatError(f"{first.where(f'column_encodings[{position}]')}: column {name!r} has "
                                   f"encoding {columns[name]!r}, expected {' or '.join(encodings)}")
    return columns


# ------------------------------------------------------------------------------------------------
# PyTorch (optional: imported only when SoftLabelIterableDataset or to_torch is used, so that NumPy-only
# readers and the command line do not pay for importing torch)


def _distributed_rank() -> tuple[int, int]:
    """(rank, world size): from torch.distributed when initialised, else env RANK / WORLD_SIZE, else (0, 1)."""
    torch = sys.modules.get("torch")  # a process that never imported torch cannot have initialised it
    distributed = getattr(torch, "distributed", None)
    if distributed is not None and distributed.is_available() and distributed.is_initialized():
        return distributed.get_rank(), distributed.get_world_size()
    try:
        return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        raise ValueError(f"RANK={os.environ.get('RANK')!r} and WORLD_SIZE={os.environ.get('WORLD_SIZE')!r} "
                         f"are not integers") from None


def to_torch(sample: Mapping[str, Any]) -> dict[str, Any]:
    """A sample with torch tensors: integer arrays as int64, float arrays in their own dtype (copies, so
    writable), scalars as Python numbers. Needs torch."""
    import torch

    converted: dict[str, Any] = {}
    for name, value in sample.items():
        if isinstance(value, np.ndarray):
            dtype = np.int64 if value.dtype.kind in "iu" else value.dtype
            converted[name] = torch.from_numpy(np.array(value, dtype=dtype))
        else:
            converted[name] = value.item() if isinstance(value, np.generic) else value
    return converted


def _make_iterable_dataset() -> type:
    import torch.utils.data

    class SoftLabelIterableDataset(torch.utils.data.IterableDataset):
        """Soft-label samples for a `torch.utils.data.DataLoader`, each process and worker its own share.

        Rank and world size come from `torch.distributed` when it is initialised, else from the RANK and
        WORLD_SIZE environment variables (default 0 and 1); the worker from `get_worker_info()`. The share
        follows `SoftLabelShards.iter`. Samples pass through `transform` (default `to_torch`; `None`
        yields NumPy samples). Variable-length columns need a collate function or `batch_size=None`.
        """

        def __init__(self, directory: PathLike, split: str | None = None, verify: bool = True,
                     transform: Callable[[Sample], Any] | None = to_torch) -> None:
            super().__init__()
            self.shards = SoftLabelShards(directory, split, verify)
            self.transform = transform

        def __iter__(self) -> Iterator[Any]:
            rank, world_size = _distributed_rank()
            info = torch.utils.data.get_worker_info()
            worker, num_workers = (info.id, info.num_workers) if info is not None else (0, 1)
            for sample in self.shards.iter(rank, world_size, worker, num_workers):
                yield sample if self.transform is None else self.transform(sample)

    # Pickled by reference (DataLoader workers under spawn) as tca_trainer.shards.SoftLabelIterableDataset.
    SoftLabelIterableDataset.__module__ = __name__
    SoftLabelIterableDataset.__qualname__ = SoftLabelIterableDataset.__name__
    return SoftLabelIterableDataset


def __getattr__(name: str) -> Any:
    """`SoftLabelIterableDataset` is defined on first use, when torch imports (PEP 562)."""
    if name == "SoftLabelIterableDataset":
        try:
            cls = _make_iterable_dataset()
        except ImportError as error:
            raise AttributeError(f"SoftLabelIterableDataset needs torch ({error}); install torch or iterate "
                                 f"SoftLabelShards") from None
        globals()[name] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ------------------------------------------------------------------------------------------------
# Command line


def _summary(sample: Mapping[str, Any]) -> list[str]:
    def show(array: np.ndarray, limit: int = 8) -> str:
        text = "{:.4g}" if array.dtype.kind == "f" else "{}"
        values = ", ".join(text.format(v) for v in array[:limit].tolist())
        return f"[{values}{', …' if len(array) > limit else ''}] ({len(array)})"

    lines = []
    for name, value in sample.items():
        if isinstance(value, np.ndarray):
            text = show(value) if value.ndim == 1 else f"shape {value.shape}"
            lines.append(f"  {name}: {value.dtype.name} {text}")
        else:
            lines.append(f"  {name}: {value}")
    if {"soft_offsets", "soft_ids", "soft_probs"} <= set(sample):
        positions = len(sample["soft_offsets"]) - 1
        for position in range(min(positions, 3)):
            ids, probs = soft_labels(sample, position)
            pairs = ", ".join(f"{i}:{p:.4f}" for i, p in zip(ids[:5].tolist(), probs[:5].tolist()))
            lines.append(f"  position {position}: {len(ids)} kept, {pairs}{', …' if len(ids) > 5 else ''}")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m tca_trainer.shards DIR [--split S] [--verify]`: print the shards' counts and sizes and
    the first sample; `--verify` reads every shard and checks sizes, hashes and every sample."""
    parser = argparse.ArgumentParser(prog="tca_trainer.shards", description=main.__doc__)
    parser.add_argument("directory", help="the soft-labels artifact directory")
    parser.add_argument("--split", help="read DIR/SPLIT/index.json instead of the root index")
    parser.add_argument("--verify", action="store_true",
                        help="read every shard, checking sizes, hashes and every sample")
    arguments = parser.parse_args(argv)
    try:
        shards = SoftLabelShards(arguments.directory, arguments.split, verify=arguments.verify)
        index = shards.index
        print(f"index: {index.path}")
        print(f"shards: {len(index)}")
        print(f"samples: {index.samples}")
        print(f"bytes: {index.zip_bytes} compressed, {index.raw_bytes} raw")
        print(f"columns: {', '.join(f'{n} {e}' for n, e in shards.columns.items())}")
        if arguments.verify:
            for number in range(len(index)):
                shards.read(number)
            print(f"verified: {len(index)} shards, {index.samples} samples")
        if index.samples:
            print("sample 0:")
            print("\n".join(_summary(shards[0])))
    except ShardFormatError as error:
        print(f"tca_trainer.shards: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
