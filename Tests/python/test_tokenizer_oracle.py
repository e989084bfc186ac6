"""Token ids of `tca encode` against the real peers, on every title and official prompt of the shared
datasets, an adversarial set, every Unicode scalar in a few contexts, and thousands of seeded random
strings: Hugging Face `tokenizers` for GPT-2 (vocab.json + merges.txt), Llama 3.2 (tokenizer.json) and
Qwen 2 (vocab.json + merges.txt with Qwen 2's regex and special tokens), tiktoken for the Llama 3 rank
file, and `tokenizers` again on the tokenizer.json files we write. Every string must give identical
ids, and decoding our ids must give the string back.

Run against a build of your own with TCA_BIN=.build-tok/debug (default .build/release).
RECORD_SNAPSHOTS=1 rewrites Sources/BPETokenizer/Encoder/UnicodeClassTable+Ranges.swift from what the
library's Oniguruma matches."""
import csv
import functools
import io
import json
import os
import random
import subprocess

import pytest

from conftest import BIN, ROOT, SHARED, need_shared

TOKENIZERS = "tokenizers"
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
LLAMA3_PATTERN = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+"""
    r"""|\s+(?!\S)|\s+"""
)
QWEN2_PATTERN = LLAMA3_PATTERN.replace(r"\p{N}{1,3}", r"\p{N}")
QWEN2_SPECIAL = {"<|endoftext|>": 151643, "<|im_start|>": 151644, "<|im_end|>": 151645}
CLASS_TABLE = ROOT / "Sources" / "BPETokenizer" / "Encoder" / "UnicodeClassTable+Ranges.swift"
SCALARS = [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]


def llama3_special_tokens() -> dict[str, int]:
    """Meta's Llama 3 tokenizer.py: 10 named tokens, then reserved ones up to 256 in all."""
    names = [
        "<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>", "<|reserved_special_token_1|>",
        "<|reserved_special_token_2|>", "<|reserved_special_token_3|>", "<|start_header_id|>",
        "<|end_header_id|>", "<|reserved_special_token_4|>", "<|eot_id|>",
    ] + [f"<|reserved_special_token_{i}|>" for i in range(5, 256 - 5)]
    return {name: 128000 + index for index, name in enumerate(names)}


# ---------------------------------------------------------------------------------------------- texts


def item_titles() -> list[str]:
    """Every item title of the shared datasets (MovieLens 100K, Beauty, official Toys and Office)."""
    titles = []
    with open(need_shared("movielens/ml-100k/u.item"), encoding="latin-1") as file:
        titles += [line.split("|")[1] for line in file if line.strip()]
    with open(need_shared("amazon-beauty-processed/dh-r-LLM-Sequential-Recommendation/products_lookup.csv")) as file:
        titles += [row["name"] for row in csv.DictReader(file)]
    for dataset in ["Toys_and_Games", "Office_Products"]:
        with open(need_shared(f"tca4rec-official/{dataset}/item.csv")) as file:
            titles += [row["title"] for row in csv.DictReader(file)]
    return titles


OFFICIAL_TEMPLATE = (
    "###Instruction:\nGiven the user interaction history, please recommendate the {domain} that user is most likely "
    "to view.\n\n###Input:\nUser Interaction Histories: {history}.\n\nThen the movie that user is most likely to "
    "watch is:\n###Response:"
)


def official_prompts() -> list[str]:
    """The official TCA4Rec prompt (critical88/TCA4Rec utils/LLM4Rec_data.py) of every train, valid and
    test row of the official Toys and Office splits: history titles oldest first, double-quoted, joined
    by ", ", the whole stripped."""
    prompts = []
    for dataset, domain in [("Toys_and_Games", "games"), ("Office_Products", "office products")]:
        with open(need_shared(f"tca4rec-official/{dataset}/item.csv")) as file:
            titles = {int(row["iid"]): row["title"] for row in csv.DictReader(file)}
        for split in ["train_10000", "valid_5000", "test_5000"]:
            with open(need_shared(f"tca4rec-official/{dataset}/{split}.csv")) as file:
                for row in csv.DictReader(file):
                    history = ", ".join(f'"{titles[int(i)]}"' for i in json.loads(row["hist_id"]))
                    prompts.append(OFFICIAL_TEMPLATE.format(domain=domain, history=history).strip())
    return prompts


def adversarial_texts() -> list[str]:
    texts = ["", " ", "  ", "\t", "\n", "\r\n", " \n", "\n ", "a", "'", "''", "'s", "\x00", "\x00a\x01 \x7f"]
    for run in ["  ", "   ", "\t\t", "\n\n", "\r\n\r\n", " \t \n", "\u3000\u3000", "\xa0\xa0", "\u2028", "\u0085 "]:
        texts += [run, "a" + run, run + "a", "a" + run + "b", "!" + run + "!", "1" + run + "2", run + "'s"]
        texts += [f"word{run}{run}word{run}", f"{run}x{run}"]
    texts += ["1" * n for n in range(1, 21)] + ["x" + "9" * n + "y" for n in range(1, 21)]
    texts += ["١٢٣٤٥", "²³¹", "ⅫⅪ", "12,345.678", "3.14159", "v1.2.3", "2024-01-31", "½¾", "🔟"]
    for contraction in ["s", "t", "re", "ve", "m", "ll", "d"]:
        for variant in {contraction, contraction.upper(), contraction.capitalize(), contraction[::-1]}:
            texts += [f"it'{variant}", f"IT'{variant} ok", f"'{variant}", f"x '{variant}x", f"''{variant}"]
    texts += ["he's", "HE'S", "we'LL", "They'Re", "I'M", "y'all", "rock'n'roll", "'ſ", "it'ſ", "’s", "l'été"]
    texts += ["日本語のテキスト", "中文标题 测试", "한국어 제목", "ｆｕｌｌｗｉｄｔｈ　ｓｐａｃｅ", "ǅungla ǈ ǋ"]
    texts += ["😀", "👨‍👩‍👧‍👦 family", "🏳️‍🌈", "👍🏽👍🏿", "❤️", "a😀b", " 😀 ", "🇺🇸🇫🇷", "👩🏽‍💻x"]
    texts += ["e\u0301", "cafe\u0301", "ñ n\u0303", "\u0301\u0301a", "Ä Ö Ü ß ẞ", "Ωμέγα", "Ελληνικά"]
    texts += ["zażółć gęślą jaźń", "Crème brûlée", "naïve façade", "Øresund Åland"]
    texts += ["مرحبا بالعالم", "שלום עולם", "abc مرحبا 123", "\u200f\u200e\u202e", "\u200b\u200c\u200d", "\ufeff"]
    texts += ["x" * 10000, "é" * 5000, "😀" * 3000, "ab" * 5000, " " * 3000, "\n" * 1000, "1" * 10000]
    texts += ["Supercalifragilisticexpialidocious" * 300, "-" * 4000, "a b " * 2000]
    texts += ["<|endoftext|>", "<|begin_of_text|>", "<|im_start|>user\nhi<|im_end|>", "<|eot_id|><|eot_id|>"]
    texts += ["a<|endoftext|>b", " <|endoftext|> ", "<|endoftext", "<|end_of_text|>x", "<<|begin_of_text|>>"]
    texts += ["<|reserved_special_token_10|><|reserved_special_token_1|>", "<|image|>", "<|python_tag|>"]
    texts += ["Hello, World!", "LEGO Star Wars 75037 (Discontinued)", "HP 61XL Ink, Black", "Toy Story (1995)"]
    texts += ["\t\tindented\n\tcode();\n", "line1\r\nline2\rline3\n", "trailing   ", "   leading", "a  b   c"]
    return texts


RANDOM_POOLS = [
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "0123456789",
    " " * 6 + "\t\n\r\u3000\xa0\u2028\u0085\u000b\u000c",
    "'''sStTrReEvVmMlLdDſ",
    "!\"#$%&()*+,-./:;<=>?@[\\]^_`{|}~",
    "日本語中文标题한국어テスト漢字",
    "😀👨👩👧🏽🏿‍️🇺🇸❤🔟",
    "\u0301\u0303\u0308\u0327\u20dd\u093f",
    "éèêëàâäôöûüçñßÆØÅœ",
    "مرحباשלוםعالם",
    "²³¹¼½١٢٣ⅫⅪ߀",
    "\x00\x01\x07\x1b\x7f\x80\x9f\u200b\u200d\ufeff\U0001f000\U000e0001\U0010fffd",
]
SPECIAL_SNIPPETS = ["<|endoftext|>", "<|begin_of_text|>", "<|im_start|>", "<|im_end|>", "<|eot_id|>", "<|"]


def random_texts(count: int = 4000, seed: int = 20240531) -> list[str]:
    """Seeded random strings mixing the character classes above, and now and then a special token."""
    generator = random.Random(seed)
    texts = []
    for _ in range(count):
        parts = []
        for _ in range(generator.randint(1, 12)):
            if generator.random() < 0.04:
                parts.append(generator.choice(SPECIAL_SNIPPETS))
                continue
            pool = generator.choice(RANDOM_POOLS)
            parts.append("".join(generator.choice(pool) for _ in range(generator.randint(1, 6))))
        texts.append("".join(parts))
    return texts


def scalar_texts() -> list[str]:
    """Every Unicode scalar c in one string of contexts that exercise the regex alternatives around it:
    between letters, after a space, doubled, before a digit, after an apostrophe, before a newline."""
    return [f"a{c}b {c}{c}1'{c}x\n" for c in map(chr, SCALARS)]


@functools.cache
def corpus() -> dict[str, list[str]]:
    return {
        "titles": item_titles(),
        "prompts": official_prompts(),
        "adversarial": adversarial_texts(),
        "random": random_texts(),
        "scalars": scalar_texts(),
    }


# ---------------------------------------------------------------------------------------------- runners


@functools.cache
def encode_command_available() -> bool:
    return subprocess.run([str(BIN / "tca"), "encode", "--help"], capture_output=True).returncode == 0


def tca(arguments: list[str], payload: str) -> list[str]:
    binary = BIN / "tca"
    if not binary.exists():
        pytest.skip(f"{binary} not built; build it or set TCA_BIN")
    if not encode_command_available():
        pytest.skip(f"{binary} has no 'encode' subcommand (EncodeCommand is not registered in DriverCommand)")
    result = subprocess.run(
        [str(binary), "encode", *arguments], input=payload.encode(), capture_output=True, timeout=1800
    )
    assert result.returncode == 0, result.stderr.decode()
    # split("\n"), not splitlines(): decoded strings may hold U+2028, U+0085 and other line breaks.
    lines = result.stdout.decode().split("\n")
    assert lines.pop() == ""
    return lines


def tca_encode(arguments: list[str], texts: list[str]) -> list[list[int]]:
    lines = tca(arguments, "".join(json.dumps(text) + "\n" for text in texts))
    assert len(lines) == len(texts)
    return [json.loads(line) for line in lines]


def tca_decode(arguments: list[str], ids: list[list[int]]) -> list[str]:
    lines = tca([*arguments, "--decode"], "".join(json.dumps(row) + "\n" for row in ids))
    assert len(lines) == len(ids)
    return [json.loads(line) for line in lines]


def hf_gpt2():
    from tokenizers import Tokenizer, decoders, pre_tokenizers
    from tokenizers.models import BPE

    directory = need_shared(f"{TOKENIZERS}/gpt2")
    tokenizer = Tokenizer(BPE.from_file(str(directory / "vocab.json"), str(directory / "merges.txt")))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    return tokenizer


def hf_llama32():
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(need_shared(f"{TOKENIZERS}/llama3.2/tokenizer.json")))


def hf_qwen2():
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, pre_tokenizers
    from tokenizers.models import BPE

    directory = need_shared(f"{TOKENIZERS}/qwen2")
    tokenizer = Tokenizer(BPE.from_file(str(directory / "vocab.json"), str(directory / "merges.txt")))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN2_PATTERN), "isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    tokens = sorted(QWEN2_SPECIAL.items(), key=lambda item: item[1])
    tokenizer.add_special_tokens([AddedToken(content, special=True, normalized=False) for content, _ in tokens])
    assert [tokenizer.token_to_id(content) for content, _ in tokens] == [id for _, id in tokens]
    return tokenizer


class HuggingFacePeer:
    def __init__(self, tokenizer):
        self.tokenizer = tokenizer

    def encode(self, texts: list[str], add_special_tokens: bool = False) -> list[list[int]]:
        return [e.ids for e in self.tokenizer.encode_batch(texts, add_special_tokens=add_special_tokens)]

    def decode(self, ids: list[list[int]]) -> list[str]:
        return self.tokenizer.decode_batch(ids, skip_special_tokens=False)


class TiktokenPeer:
    def __init__(self):
        import tiktoken
        from tiktoken.load import load_tiktoken_bpe

        path = need_shared(f"{TOKENIZERS}/llama3/tokenizer.model")
        self.encoding = tiktoken.Encoding(
            name="llama3", pat_str=LLAMA3_PATTERN, mergeable_ranks=load_tiktoken_bpe(str(path)),
            special_tokens=llama3_special_tokens(),
        )

    def encode(self, texts: list[str], add_special_tokens: bool = False) -> list[list[int]]:
        assert not add_special_tokens
        return [self.encoding.encode(text, allowed_special="all") for text in texts]

    def decode(self, ids: list[list[int]]) -> list[str]:
        return [self.encoding.decode(row) for row in ids]


def gpt2_arguments() -> list[str]:
    directory = need_shared(f"{TOKENIZERS}/gpt2")
    return ["--vocabulary", str(directory / "vocab.json"), "--merges", str(directory / "merges.txt"), "--preset", "gpt2"]


def qwen2_arguments() -> list[str]:
    directory = need_shared(f"{TOKENIZERS}/qwen2")
    return ["--vocabulary", str(directory / "vocab.json"), "--merges", str(directory / "merges.txt"), "--preset", "qwen2"]


# Every scalar goes through each scanner at least once: GPT-2's with gpt2, Llama 3's with llama3.2. Qwen 2
# (Llama 3's scanner with single digits) and tiktoken (a minute for all: slow on exotic strings) see every
# fourth scalar.
SCALAR_STRIDE = {"llama3-tiktoken": 4, "qwen2": 4}

TOKENIZER_SETUPS = {
    "gpt2": (gpt2_arguments, lambda: HuggingFacePeer(hf_gpt2())),
    "llama3.2": (
        lambda: ["--tokenizer", str(need_shared(f"{TOKENIZERS}/llama3.2/tokenizer.json"))],
        lambda: HuggingFacePeer(hf_llama32()),
    ),
    "qwen2": (qwen2_arguments, lambda: HuggingFacePeer(hf_qwen2())),
    "llama3-tiktoken": (
        lambda: ["--tiktoken", str(need_shared(f"{TOKENIZERS}/llama3/tokenizer.model")), "--preset", "llama3"],
        TiktokenPeer,
    ),
}


@functools.cache
def comparison(name: str) -> dict:
    """Our ids and the peer's for every text of the corpus, computed once per tokenizer."""
    arguments_of, peer_of = TOKENIZER_SETUPS[name]
    arguments = arguments_of()
    peer = peer_of()
    stride = {"scalars": SCALAR_STRIDE.get(name, 1)}
    selected = {group: texts[:: stride.get(group, 1)] for group, texts in corpus().items()}
    texts = [text for group in selected.values() for text in group]
    groups = [group for group, members in selected.items() for _ in members]
    return {"arguments": arguments, "peer": peer, "texts": texts, "groups": groups,
            "ours": tca_encode(arguments, texts), "theirs": peer.encode(texts)}


def mismatches(texts, ours, theirs, limit=5) -> list[str]:
    differing = [i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b]
    return [f"{len(differing)} of {len(texts)} differ"] + [
        f"{texts[i][:120]!r}: ours {ours[i][:30]} peer {theirs[i][:30]}" for i in differing[:limit]
    ]


# ---------------------------------------------------------------------------------------------- tests


def test_unicode_class_table_matches_oniguruma():
    """The letter, number and whitespace ranges compiled into the Swift scanner are exactly the scalars
    that `\\p{L}`, `\\p{N}` and `\\s` match in `tokenizers` (so the scanners split like the regexes)."""
    from tokenizers import Regex, pre_tokenizers

    everything = "".join(map(chr, SCALARS))

    def ranges(pattern: str) -> list[tuple[int, int]]:
        outside = set()
        for piece, _ in pre_tokenizers.Split(Regex(pattern), "removed").pre_tokenize_str(everything):
            outside.update(map(ord, piece))
        result: list[list[int]] = []
        for code in SCALARS:
            if code in outside:
                continue
            if result and result[-1][1] == code - 1:
                result[-1][1] = code
            else:
                result.append([code, code])
        return [tuple(pair) for pair in result]

    expected = {"letter": ranges(r"\p{L}"), "number": ranges(r"\p{N}"), "whitespace": ranges(r"\s")}
    text = render_class_table(expected)
    if os.environ.get("RECORD_SNAPSHOTS") == "1":
        CLASS_TABLE.write_text(text)
    assert CLASS_TABLE.read_text() == text, "the class ranges differ from Oniguruma's; RECORD_SNAPSHOTS=1 rewrites them"


def render_class_table(classes: dict[str, list[tuple[int, int]]]) -> str:
    import tokenizers

    docs = {
        "letter": "Inclusive code point ranges (first, last, first, last, …) that `\\p{L}` matches.",
        "number": "Inclusive code point ranges that `\\p{N}` matches.",
        "whitespace": "Inclusive code point ranges that `\\s` matches.",
    }
    out = [
        f"// Generated from what `tokenizers` {tokenizers.__version__} (Oniguruma) matches with `\\p{{L}}`, `\\p{{N}}` and `\\s`,",
        "// by Tests/python/test_tokenizer_oracle.py (RECORD_SNAPSHOTS=1 rewrites it); do not edit by hand.",
        "",
        "extension UnicodeClassTable {",
    ]
    for index, (name, pairs) in enumerate(classes.items()):
        if index:
            out.append("")
        out.append(f"  /// {docs[name]}")
        out.append(f"  static let {name}Ranges: [UInt32] = [")
        flat = [f"0x{value:X}" for pair in pairs for value in pair]
        for start in range(0, len(flat), 12):
            out.append("    " + ", ".join(flat[start:start + 12]) + ",")
        out.append("  ]")
    out.append("}")
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("name", list(TOKENIZER_SETUPS))
@pytest.mark.parametrize("group", ["titles", "prompts", "adversarial", "random", "scalars"])
def test_ids_identical_to_peer(name, group):
    result = comparison(name)
    chosen = [i for i, g in enumerate(result["groups"]) if g == group]
    texts = [result["texts"][i] for i in chosen]
    ours = [result["ours"][i] for i in chosen]
    theirs = [result["theirs"][i] for i in chosen]
    assert texts, f"no {group} texts"
    assert ours == theirs, "\n".join(mismatches(texts, ours, theirs))


@pytest.mark.parametrize("name", list(TOKENIZER_SETUPS))
def test_decode_inverts_encode(name):
    result = comparison(name)
    decoded = tca_decode(result["arguments"], result["ours"])
    differing = [i for i, (a, b) in enumerate(zip(decoded, result["texts"])) if a != b]
    assert not differing, f"{len(differing)} differ, first {result['texts'][differing[0]][:80]!r}"
    # The peer decodes our ids to the same text (where special tokens decode to their content).
    sample = list(range(0, len(result["texts"]), 7))
    peer_decoded = result["peer"].decode([result["ours"][i] for i in sample])
    assert peer_decoded == [result["texts"][i] for i in sample]


def test_llama32_special_tokens_match_post_processor():
    result = comparison("llama3.2")
    texts = corpus()["titles"][:500] + corpus()["adversarial"]
    ours = tca_encode([*result["arguments"], "--add-special-tokens"], texts)
    assert ours == result["peer"].encode(texts, add_special_tokens=True)
    assert all(row[0] == 128000 for row in ours)


@pytest.mark.parametrize("name", list(TOKENIZER_SETUPS))
def test_written_tokenizer_json_loads_in_tokenizers_and_encodes_identically(name, tmp_path):
    """The tokenizer.json we write, loaded by `tokenizers.Tokenizer.from_file`, gives our ids."""
    from tokenizers import Tokenizer

    result = comparison(name)
    path = tmp_path / "tokenizer.json"
    tca([*result["arguments"], "--write-tokenizer-json", str(path)], "")
    reloaded = Tokenizer.from_file(str(path))
    # Every text but the scalar strings, of which every 16th.
    chosen = [i for i, group in enumerate(result["groups"]) if group != "scalars" or i % 16 == 0]
    texts = [result["texts"][i] for i in chosen]
    ours = [result["ours"][i] for i in chosen]
    theirs = [e.ids for e in reloaded.encode_batch(texts, add_special_tokens=False)]
    assert theirs == ours, "\n".join(mismatches(texts, ours, theirs))
    # And our own loader reads it back to the same ids.
    assert tca_encode(["--tokenizer", str(path)], texts[::5]) == ours[::5]


def variant_gpt2_prefix_space():
    from tokenizers import pre_tokenizers

    tokenizer = hf_gpt2()
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    return tokenizer


def variant_split_then_byte_level_regex():
    """Llama 3's Split, then a ByteLevel that adds a prefix space and splits again with GPT-2's regex."""
    from tokenizers import Regex, pre_tokenizers

    tokenizer = hf_gpt2()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Split(Regex(LLAMA3_PATTERN), "isolated"),
         pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=True)]
    )
    return tokenizer


def variant_added_token_flags():
    """Added tokens with every flag, matched before and after normalization."""
    from tokenizers import AddedToken

    tokenizer = hf_gpt2()
    tokenizer.add_special_tokens([AddedToken("<mask>", lstrip=True, special=True, normalized=False),
                                  AddedToken("<|endoftext|>", special=True, normalized=False)])
    tokenizer.add_tokens([
        AddedToken("Star", single_word=True, normalized=False),
        AddedToken(" Wars", rstrip=True, normalized=True),
        AddedToken("ing", single_word=True, lstrip=True, rstrip=True),
        AddedToken("日本", normalized=True),
        AddedToken("'s", lstrip=True, normalized=False),
    ])
    return tokenizer


def variant_unknown_and_byte_fallback(fuse: bool):
    """A small model that lacks most bytes: <0xXX> tokens for some, <unk> for the rest."""
    from tokenizers import Tokenizer, decoders, pre_tokenizers
    from tokenizers.models import BPE

    alphabet = [chr(c) for c in range(ord("a"), ord("z") + 1)] + ["Ġ", "Ċ"]
    vocabulary = {"<unk>": 0}
    for token in alphabet + [f"<0x{b:02X}>" for b in range(0x30, 0x3A)] + ["<0xC4>", "<0xA0>"]:
        vocabulary[token] = len(vocabulary)
    merges = [("t", "h"), ("th", "e"), ("Ġ", "a"), ("i", "n"), ("in", "g"), ("Ġ", "th")]
    for left, right in merges:
        vocabulary.setdefault(left + right, len(vocabulary))
    model = BPE(vocab=vocabulary, merges=merges, unk_token="<unk>", fuse_unk=fuse, byte_fallback=True)
    tokenizer = Tokenizer(model)
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    return tokenizer


def variant_llama32_ignore_merges():
    from tokenizers import Tokenizer

    document = json.loads(need_shared(f"{TOKENIZERS}/llama3.2/tokenizer.json").read_text())
    document["model"]["ignore_merges"] = True
    return Tokenizer.from_str(json.dumps(document))


VARIANTS = {
    "gpt2-add-prefix-space": variant_gpt2_prefix_space,
    "split-then-byte-level-regex": variant_split_then_byte_level_regex,
    "added-token-flags": variant_added_token_flags,
    "unk-and-byte-fallback": lambda: variant_unknown_and_byte_fallback(fuse=False),
    "fused-unk-and-byte-fallback": lambda: variant_unknown_and_byte_fallback(fuse=True),
    "llama3.2-ignore-merges": variant_llama32_ignore_merges,
}


@pytest.mark.parametrize("name", list(VARIANTS))
def test_tokenizer_json_options_identical_to_tokenizers(name, tmp_path):
    """tokenizer.json files saved by `tokenizers` with the options the shared tokenizers leave off."""
    tokenizer = VARIANTS[name]()
    path = tmp_path / "tokenizer.json"
    tokenizer.save(str(path))
    texts = corpus()["titles"][::10] + corpus()["adversarial"] + corpus()["random"]
    texts += ["Star Wars", "a Star b", "Stars", "xStar", "going in", "ing", " ing ", "it's 's", "a <mask> b",
              " <mask>", "日本語", "say Wars  now", "<|endoftext|> <mask>ing"]
    ours = tca_encode(["--tokenizer", str(path)], texts)
    theirs = [e.ids for e in tokenizer.encode_batch(texts, add_special_tokens=False)]
    assert ours == theirs, "\n".join(mismatches(texts, ours, theirs))
    with_special = [e.ids for e in tokenizer.encode_batch(texts, add_special_tokens=True)]
    assert tca_encode(["--tokenizer", str(path), "--add-special-tokens"], texts) == with_special
    decoded = tca_decode(["--tokenizer", str(path)], ours)
    assert decoded == tokenizer.decode_batch(ours, skip_special_tokens=False)
    skipped = tca_decode(["--tokenizer", str(path), "--skip-special-tokens"], ours)
    assert skipped == tokenizer.decode_batch(ours, skip_special_tokens=True)


@pytest.mark.parametrize("name", ["gpt2", "llama3.2"])
def test_decoding_prefixes_replaces_broken_utf8_like_tokenizers(name):
    """Every prefix of the ids of multi-byte text: cut characters become U+FFFD exactly as
    `tokenizers` (Rust's from_utf8_lossy) writes them."""
    arguments_of, peer_of = TOKENIZER_SETUPS[name]
    arguments, peer = arguments_of(), peer_of()
    texts = ["日本語 😀 café", "👨‍👩‍👧‍👦 family", "Ελληνικά मराठी", "\U0010fffd\u0800\x80", "ǅ🏳️‍🌈 ẞ"]
    ids = tca_encode(arguments, texts)
    prefixes = [row[:end] for row in ids for end in range(len(row) + 1)]
    prefixes += [row[start:] for row in ids for start in range(len(row))]
    assert tca_decode(arguments, prefixes) == peer.decode(prefixes)
