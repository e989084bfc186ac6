"""The oracle for Sources/ArtifactFormats/MDS.swift: mosaicml-streaming's own MDS writer and reader.

    python mds_reference_writer.py write SPEC.json OUT_DIR   # streaming.MDSWriter writes the samples
    python mds_reference_writer.py read DATASET_DIR           # streaming.StreamingDataset reads them; JSON on stdout

SPEC.json: {"columns": {name: encoding}, "compression": "zstd:3", "hashes": ["sha256"],
"size_limit": int or null, "samples": [{name: value}]}. Values: an int for uint32, a decimal string for
uint64 (JSON readers lose integers past 2^63), a list of ints for ndarray:uint32, a list of IEEE bit patterns (ints) for ndarray:float32 and ndarray:float16,
so that both sides see exactly the same floats. `read` prints the samples in the same form, one
object per sample, in dataset order, so a reader's output can be compared with SPEC's samples.

Run it with the Python that has mosaicml-streaming 0.13 installed (the byte-compatibility check of
MDS.swift writes the same samples with our writer and compares raw shards and index.json).
"""
import json
import sys

import numpy as np

# ndarray dtype -> the unsigned type whose bit patterns the spec holds.
BITS = {"uint32": np.uint32, "float32": np.uint32, "float16": np.uint16}


def to_python_value(encoding: str, value):
    if encoding == "uint32":
        return np.uint32(value)
    if encoding == "uint64":
        return np.uint64(int(value))
    dtype = encoding.split(":")[1]
    return np.array(value, dtype=BITS[dtype]).view(dtype)


def to_spec_value(value):
    if isinstance(value, np.ndarray):
        bits = BITS[value.dtype.name]
        assert value.ndim == 1, value.shape
        return [int(x) for x in value.view(bits)]
    if isinstance(value, np.uint64):
        return str(int(value))
    return int(value)


def write(spec_path: str, out: str) -> None:
    from streaming import MDSWriter

    with open(spec_path) as file:
        spec = json.load(file)
    columns = spec["columns"]
    with MDSWriter(columns=columns, out=out, compression=spec["compression"], hashes=spec["hashes"],
                   size_limit=spec["size_limit"]) as writer:
        for sample in spec["samples"]:
            writer.write({name: to_python_value(columns[name], value) for name, value in sample.items()})


def read(directory: str) -> None:
    from streaming import StreamingDataset

    dataset = StreamingDataset(local=directory, batch_size=1, shuffle=False)
    samples = [{name: to_spec_value(value) for name, value in dataset[index].items()}
               for index in range(len(dataset))]
    json.dump(samples, sys.stdout, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "write":
        write(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 3 and sys.argv[1] == "read":
        read(sys.argv[2])
    else:
        sys.exit(__doc__)
