"""Encoding speed of `tca encode` against Hugging Face `tokenizers` and tiktoken, side by side, on the
same inputs in one run: every item title of the shared datasets and the official TCA4Rec prompts of
the official Toys and Office splits (the texts Tests/python/test_tokenizer_oracle.py checks for
identical ids). One thread first, then both cores. Prints MB/s (10^6 bytes of UTF-8 input per second
of encoding; loading excluded) and the ratios ours / peer.

    .venv/bin/python Benchmarks/tokenizer_bench.py        # ours from $TCA_BIN, default .build/release

Peers run in child processes because `tokenizers` reads RAYON_NUM_THREADS when it is imported. For
`tokenizers` the faster of `encode_batch` and a loop of `encode` counts; for tiktoken the faster of a
loop of `encode_ordinary` and `encode_ordinary_batch` (one thread), `encode_ordinary_batch` on two.
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
SHARED = pathlib.Path(os.environ.get("TCA_SHARED_DATA", ROOT.parent / "shared" / "data")).resolve()
BIN = pathlib.Path(os.environ.get("TCA_BIN", ROOT / ".build" / "release")).resolve()
TOKENIZERS = SHARED / "tokenizers"
TIKTOKEN_GPT2_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""


def our_arguments(tokenizer: str) -> list[str]:
    if tokenizer == "llama3.2":
        return ["--tokenizer", str(TOKENIZERS / "llama3.2" / "tokenizer.json")]
    if tokenizer == "gpt2":
        directory = TOKENIZERS / "gpt2"
        return ["--vocabulary", str(directory / "vocab.json"), "--merges", str(directory / "merges.txt"),
                "--preset", "gpt2"]
    return ["--tiktoken", str(TOKENIZERS / "llama3" / "tokenizer.model"), "--preset", "llama3"]


def run_ours(tokenizer: str, path: pathlib.Path, threads: int) -> float:
    result = subprocess.run(
        [str(BIN / "tca"), "encode", *our_arguments(tokenizer), "--input", str(path), "--threads", str(threads),
         "--benchmark", "-q"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=True)
    match = re.search(r"(\d+) bytes, ([\d.]+) s", result.stderr)
    return int(match.group(1)) / float(match.group(2)) / 1e6


def run_peer(peer: str, tokenizer: str, path: pathlib.Path, threads: int) -> float:
    environment = dict(os.environ, RAYON_NUM_THREADS=str(threads), TOKENIZERS_PARALLELISM="true")
    result = subprocess.run(
        [sys.executable, __file__, "--peer", peer, "--tokenizer", tokenizer, "--input", str(path),
         "--threads", str(threads)],
        env=environment, capture_output=True, text=True, check=True)
    return json.loads(result.stdout)["mb_per_s"]


# ------------------------------------------------------------------------------------------ peer side


def hugging_face(tokenizer: str):
    from tokenizers import Tokenizer, decoders, pre_tokenizers
    from tokenizers.models import BPE

    if tokenizer == "llama3.2":
        return Tokenizer.from_file(str(TOKENIZERS / "llama3.2" / "tokenizer.json"))
    directory = TOKENIZERS / "gpt2"
    model = Tokenizer(BPE.from_file(str(directory / "vocab.json"), str(directory / "merges.txt")))
    model.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    model.decoder = decoders.ByteLevel()
    return model


def tiktoken_encoding(tokenizer: str):
    import tiktoken
    from tiktoken.load import load_tiktoken_bpe

    sys.path.insert(0, str(ROOT / "Tests" / "python"))
    from test_tokenizer_oracle import LLAMA3_PATTERN, llama3_special_tokens

    if tokenizer == "llama3":
        ranks = load_tiktoken_bpe(str(TOKENIZERS / "llama3" / "tokenizer.model"))
        return tiktoken.Encoding("llama3", pat_str=LLAMA3_PATTERN, mergeable_ranks=ranks,
                                 special_tokens=llama3_special_tokens())
    # GPT-2's ranks are its vocabulary ids, spelled as bytes (r50k_base is built the same way).
    byte_of = {character: byte for byte, character in bytes_to_unicode().items()}
    vocabulary = json.loads((TOKENIZERS / "gpt2" / "vocab.json").read_text())
    ranks = {bytes(byte_of[c] for c in token): id for token, id in vocabulary.items() if token != "<|endoftext|>"}
    return tiktoken.Encoding("gpt2", pat_str=TIKTOKEN_GPT2_PATTERN, mergeable_ranks=ranks,
                             special_tokens={"<|endoftext|>": vocabulary["<|endoftext|>"]})


def bytes_to_unicode() -> dict[int, str]:
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    characters = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            characters.append(256 + extra)
            extra += 1
    return {byte: chr(code) for byte, code in zip(printable, characters)}


def timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def peer_main(arguments) -> None:
    texts = [json.loads(line) for line in pathlib.Path(arguments.input).read_text().splitlines()]
    size = sum(len(text.encode()) for text in texts)
    if arguments.peer == "tokenizers":
        model = hugging_face(arguments.tokenizer)
        model.encode_batch(texts[:100])
        seconds = timed(lambda: model.encode_batch(texts, add_special_tokens=False))
        if arguments.threads == 1:
            seconds = min(seconds, timed(lambda: [model.encode(text, add_special_tokens=False) for text in texts]))
    else:
        encoding = tiktoken_encoding(arguments.tokenizer)
        encoding.encode_ordinary_batch(texts[:100], num_threads=arguments.threads)
        seconds = timed(lambda: encoding.encode_ordinary_batch(texts, num_threads=arguments.threads))
        if arguments.threads == 1:
            seconds = min(seconds, timed(lambda: [encoding.encode_ordinary(text) for text in texts]))
    print(json.dumps({"mb_per_s": size / seconds / 1e6, "seconds": seconds, "bytes": size}))


# ------------------------------------------------------------------------------------------ main


def main() -> None:
    sys.path.insert(0, str(ROOT / "Tests" / "python"))
    import test_tokenizer_oracle as oracle

    if not (BIN / "tca").exists():
        sys.exit(f"tokenizer_bench: {BIN / 'tca'} not found; build with `swift build -c release` or set TCA_BIN")
    inputs = {"titles": oracle.item_titles(), "prompts": oracle.official_prompts()}
    # (our tokenizer, the tokenizers model, the tiktoken ranks that encode the same way)
    setups = [("llama3.2", "llama3.2", "llama3"), ("gpt2", "gpt2", "gpt2"), ("llama3 tiktoken", None, "llama3")]
    print(f"tca encode ({BIN / 'tca'}) vs tokenizers and tiktoken; MB/s of UTF-8 input, loading excluded")
    print(f"{'tokenizer':<16}{'input':<9}{'threads':>8}{'ours':>9}{'tokenizers':>12}{'tiktoken':>10}"
          f"{'ours/tok':>10}{'ours/tik':>10}")
    with tempfile.TemporaryDirectory() as directory:
        paths = {}
        for name, texts in inputs.items():
            paths[name] = pathlib.Path(directory) / f"{name}.jsonl"
            paths[name].write_text("".join(json.dumps(text) + "\n" for text in texts))
        for threads in [1, 2]:
            for label, hf_name, tiktoken_name in setups:
                ours_name = "llama3" if label == "llama3 tiktoken" else label
                for name, path in paths.items():
                    ours = run_ours(ours_name, path, threads)
                    hf = run_peer("tokenizers", hf_name, path, threads) if hf_name else None
                    tik = run_peer("tiktoken", tiktoken_name, path, threads)
                    print(f"{label:<16}{name:<9}{threads:>8}{ours:>9.2f}"
                          f"{(f'{hf:.2f}' if hf else '-'):>12}{tik:>10.2f}"
                          f"{(f'{ours / hf:.2f}x' if hf else '-'):>10}{ours / tik:>9.2f}x", flush=True)
        sizes = ", ".join(f"{len(texts)} {name} ({sum(len(t.encode()) for t in texts) / 1e6:.1f} MB)"
                          for name, texts in inputs.items())
        print(f"inputs: {sizes}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer", choices=["tokenizers", "tiktoken"])
    parser.add_argument("--tokenizer")
    parser.add_argument("--input")
    parser.add_argument("--threads", type=int, default=1)
    parsed = parser.parse_args()
    if parsed.peer:
        peer_main(parsed)
    else:
        main()
