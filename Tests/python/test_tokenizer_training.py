"""Our trained byte-level BPE tokenizers against Hugging Face `tokenizers`.

`tca-tokenize` (mode train) must write a tokenizer.json that `tokenizers.Tokenizer.from_file` loads and
then encodes every title exactly as `tca encode` does, and, since our tie rule is BpeTrainer's, the same
vocabulary and merges as `tokenizers`' BpeTrainer trained on the same titles.
"""
import json
import pathlib
import subprocess

import pytest
from conftest import BIN, SHARED, need_shared

ADVERSARIAL = [
    "", " ", "   ", "a  b   c", "\t\ttabs\tand\nnewlines\n\n", "trailing space ", " leading space",
    "0", "12", "123", "1234", "12345678901234567890", "it's I'M we'Ve they'LL", "CAN'T won't",
    "日本語のおもちゃ", "中文 标题", "emoji 😀👍🏽👨‍👩‍👧", "e\u0301 combining \u0308", "Crème Brûlée Café",
    "עברית ומספרים 123", "العربية", "x" * 300, "<|endoftext|>", "a<|endoftext|>b", "<|endoftext|> spaced",
    "LEGO® Star Wars™ (75037) — 50% off!!!", "\r\n", "ﬁ ligature and ß",
]


def tokenize(samples: pathlib.Path, output: pathlib.Path, params: dict) -> pathlib.Path:
    params_file = output.parent / f"{output.name}.params.json"
    params_file.write_text(json.dumps(params))
    result = subprocess.run(
        [str(BIN / "tca-tokenize"), "-q", "--params", str(params_file), "--input", f"samples={samples}",
         "--output", str(output)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return output


def titles_of(samples: pathlib.Path) -> list[str]:
    titles = []
    for line in (samples / "items.jsonl").read_text(encoding="utf-8").splitlines():
        title = json.loads(line).get("title")
        if title is not None:
            titles.append(title)
    return titles


def our_encoding(tokenizer: pathlib.Path, texts: list[str]) -> list[list[int]]:
    probe = subprocess.run([str(BIN / "tca"), "encode", "--help"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip("this tca has no 'encode' command")
    result = subprocess.run(
        [str(BIN / "tca"), "encode", "--tokenizer", str(tokenizer)],
        input="".join(json.dumps(text) + "\n" for text in texts), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(texts)
    return [json.loads(line) for line in lines]


def peer_training(titles: list[str], params: dict) -> dict:
    """`tokenizers`' BpeTrainer on the same titles, with our settings and the full byte-level alphabet."""
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    preset = params.get("preset", "gpt2")
    if preset == "gpt2":
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    else:
        digits = r"\p{N}{1,3}" if preset == "llama3" else r"\p{N}"
        pattern = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|" + digits
                   + r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
        tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(pattern), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ])
    trainer = trainers.BpeTrainer(
        vocab_size=params["vocab_size"], min_frequency=params["min_frequency"],
        special_tokens=params.get("special_tokens", ["<|endoftext|>"]),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tokenizer.train_from_iterator(titles, trainer)
    return json.loads(tokenizer.to_str())


def merges_of(tokenizer_json: dict) -> list[str]:
    return [merge if isinstance(merge, str) else " ".join(merge) for merge in tokenizer_json["model"]["merges"]]


def check_against_peer(samples: pathlib.Path, output: pathlib.Path, params: dict) -> None:
    from tokenizers import Tokenizer

    tokenize(samples, output, params)
    titles = titles_of(samples)
    ours = json.loads((output / "tokenizer.json").read_text(encoding="utf-8"))
    peer = peer_training(titles, params)
    assert ours["model"]["vocab"] == peer["model"]["vocab"]
    assert merges_of(ours) == merges_of(peer)

    loaded = Tokenizer.from_file(str(output / "tokenizer.json"))
    texts = titles + ADVERSARIAL
    expected = [encoding.ids for encoding in loaded.encode_batch(texts)]
    actual = our_encoding(output, texts)
    mismatches = [(text, want, got) for text, want, got in zip(texts, expected, actual) if want != got]
    assert not mismatches, f"{len(mismatches)} texts differ, first: {mismatches[0]!r}"
    for text, ids in zip(texts, expected):
        assert loaded.decode(ids, skip_special_tokens=False) == text


@pytest.mark.parametrize("preset", ["gpt2", "llama3", "qwen2"])
def test_demo_titles_train_the_same_tokenizer_as_bpe_trainer(pipeline_runs, tmp_path, preset):
    samples = pipeline_runs["demo"] / "prepare"
    params = {"mode": "train", "vocab_size": 1000, "min_frequency": 2, "preset": preset}
    check_against_peer(samples, tmp_path / f"demo-{preset}", params)


def test_special_tokens_come_first_and_min_frequency_stops_training(pipeline_runs, tmp_path):
    from tokenizers import Tokenizer

    samples = pipeline_runs["demo"] / "prepare"
    params = {"mode": "train", "vocab_size": 100000, "min_frequency": 50,
              "special_tokens": ["<|endoftext|>", "<|pad|>"], "pad_token": "<|pad|>"}
    output = tokenize(samples, tmp_path / "special", params)
    report = json.loads((output / "report.json").read_text())
    assert report["training"]["stop_reason"] == "min-frequency"
    special = json.loads((output / "special_tokens.json").read_text())
    assert special["eos"] == {"id": 0, "token": "<|endoftext|>"}
    assert special["pad"] == {"id": 1, "token": "<|pad|>"}
    assert special["bos"] is None
    loaded = Tokenizer.from_file(str(output / "tokenizer.json"))
    assert special["vocab_size"] == loaded.get_vocab_size() == report["vocab_size"] < 100000
    assert loaded.encode("a<|pad|>b").ids[1] == 1
    check_against_peer(samples, tmp_path / "special-peer", params)


@pytest.mark.parametrize("pipeline,marker", [
    ("toys-official", "tca4rec-official/Toys_and_Games/item.csv"),
    ("beauty", "amazon-beauty-processed/dh-r-LLM-Sequential-Recommendation/products_lookup.csv"),
])
def test_real_titles_train_the_same_8k_tokenizer_as_bpe_trainer(pipeline_runs, tmp_path, pipeline, marker):
    need_shared(marker)
    samples = pipeline_runs[pipeline] / "prepare"
    params = {"mode": "train", "vocab_size": 8192, "min_frequency": 2}
    check_against_peer(samples, tmp_path / pipeline, params)
