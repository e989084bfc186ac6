"""The `tca4rec` preset against the official TCA4Rec preprocessing: our ingest + prepare (export
tca4rec-csv) must write byte for byte what critical88/TCA4Rec `utils/preprocess.py` writes (item.csv,
user.csv, data_stat.json, train/valid/test.csv and the sampled train_<a>/valid_<b>/test_<c>.csv), here
as restated by the pandas oracle Tests/python/oracles/tca4rec_preprocess.py.

- test_real_data: the Amazon 2018 Gift_Cards and Magazine_Subscriptions 5-core files under the shared
  data, with the category rules of Office_Products (no extra keys, no window), Toys_and_Games (brand,
  48-month window) and Sports_and_Outdoors (brand, style, category, 48-month window), several max_len
  and sample sizes (small ones so the seeded sampler runs; the default ones, larger than the splits,
  so whole splits are copied and the default file names are used). max_len 10 leaves nothing in these
  small files, so it is covered by the synthetic case.
- test_synthetic: a small gzip'd JSON-lines dataset written here that goes through the tricky paths
  (see write_synthetic), for each category rule, max_len 2 and 10; a second variant mixes the review
  key spellings (user_id / timestamp / parent_asin with a null asin).
- test_oracle_synthetic_semantics: the oracle itself on the synthetic data, against facts worked out by
  hand from the official code, so a wrong oracle cannot make the comparisons pass;
  test_oracle_fails_where_the_official_code_fails: the inputs the official script crashes on.

Our side runs as `tca run -q <tmp>/<stem>.yaml --only ingest prepare` with TCA_HOME and TCA_DATA in
tmp (or TCA_DATA the shared data); the files are compared in <TCA_HOME>/runs/<stem>/prepare/tca4rec/.
The pipeline file comes from tca4rec_pipeline_yaml, the one place to adjust the preset's parameters.

Run against a build of your own with TCA_BIN=.build-x/release (default .build/release)."""
import gzip
import json
import os
import random
import subprocess

import pandas as pd
import pytest

from conftest import BIN, ROOT, SHARED, need_shared
from oracles.tca4rec_preprocess import preprocess

AMAZON = "amazon-2018"
DEFAULT_SAMPLES = (10000, 5000, 5000)
WINDOWED = ("Toys_and_Games", "Sports_and_Outdoors")

# ------------------------------------------------------------------------------------------ our side


def tca4rec_pipeline_yaml(*, path, reviews_file, meta_file, category, max_len, sample_sizes) -> str:
    """The pipeline file of the `tca4rec` preset for one configuration (the contract with the preset;
    adjust it here only). `path` is relative to TCA_DATA."""
    train, valid, test = sample_sizes
    return "\n".join([
        "description: tca4rec preset test",
        "stages:",
        "  ingest:",
        "    params:",
        "      source: amazon-2018",
        f"      path: {json.dumps(str(path))}",
        f"      reviews_file: {json.dumps(reviews_file)}",
        f"      meta_file: {json.dumps(meta_file)}",
        f"      category: {json.dumps(category)}",
        "      preset: tca4rec",
        "  prepare:",
        "    params:",
        "      protocol: sliding-window",
        "      tie_break: tca4rec",
        f"      window_months: {48 if category in WINDOWED else 0}",
        f"      user_k_core: {max(max_len, 5)}",
        "      item_k_core: 5",
        f"      min_history: {max_len}",
        f"      max_history: {max_len}",
        "      export: tca4rec-csv",
        f"      export_samples: [{train}, {valid}, {test}]",
        "",
    ])


def run_ours(tmp_path, data_root, stem, **configuration):
    """Runs ingest and prepare of a generated pipeline file in a fresh store; returns the export folder."""
    binary = BIN / "tca"
    if not binary.exists():
        pytest.skip(f"{binary} not built; build it or set TCA_BIN")
    pipeline = tmp_path / f"{stem}.yaml"
    pipeline.write_text(tca4rec_pipeline_yaml(**configuration))
    home = tmp_path / "tca-home"
    env = dict(os.environ, TCA_HOME=str(home), TCA_DATA=str(data_root), TCA_PIPELINES=str(ROOT / "Pipelines"))
    for variable in ("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN", "JOB_COMPLETION_INDEX"):
        env.pop(variable, None)
    command = [str(binary), "run", "-q", str(pipeline), "--only", "ingest", "prepare"]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stderr}{result.stdout}"
    export = home / "runs" / stem / "prepare" / "tca4rec"
    assert export.is_dir(), f"no export folder {export}; stdout:\n{result.stdout}"
    return export


# ------------------------------------------------------------------------------------------ comparison


def first_difference(name, expected: bytes, actual: bytes) -> str:
    """Where two files first differ, line by line (lines as the bytes between b"\\n")."""
    expected_lines = expected.split(b"\n")
    actual_lines = actual.split(b"\n")
    for number, (want, got) in enumerate(zip(expected_lines, actual_lines), start=1):
        if want != got:
            column = next((i for i, (a, b) in enumerate(zip(want, got)) if a != b), min(len(want), len(got)))
            return (f"{name}: first difference on line {number}, byte {column + 1} of the line "
                    f"({len(expected_lines)} expected lines, {len(actual_lines)} ours)\n"
                    f"  expected: {want[:300]!r}\n  ours:     {got[:300]!r}")
    shorter = "ours" if len(actual_lines) < len(expected_lines) else "expected"
    extra = (expected_lines if shorter == "ours" else actual_lines)[min(len(expected_lines), len(actual_lines))]
    return (f"{name}: {shorter} ends early: {len(expected_lines)} expected lines, {len(actual_lines)} ours; "
            f"next line of the longer one: {extra[:300]!r}")


def assert_same_exports(expected_dir, actual_dir):
    expected = sorted(p.name for p in expected_dir.iterdir() if p.is_file())
    actual = sorted(p.name for p in actual_dir.iterdir() if p.is_file())
    assert actual == expected, (f"file names differ: missing {sorted(set(expected) - set(actual))}, "
                                f"unexpected {sorted(set(actual) - set(expected))}")
    problems = []
    for name in expected:
        want = (expected_dir / name).read_bytes()
        got = (actual_dir / name).read_bytes()
        if want != got:
            problems.append(first_difference(name, want, got))
    assert not problems, "\n".join(problems)


def compare(tmp_path, *, data_root, path, reviews_file, meta_file, category, max_len, sample_sizes):
    directory = data_root / path
    expected_dir = tmp_path / "oracle"
    counts = preprocess(directory / reviews_file, directory / meta_file, expected_dir, category,
                        max_len=max_len, sample_sizes=sample_sizes)
    assert counts["samples"] > 0, f"choose a configuration that leaves samples: {counts}"
    stem = f"tca4rec-{category}-{max_len}".replace("_", "-").lower()
    actual_dir = run_ours(tmp_path, data_root, stem, path=path, reviews_file=reviews_file, meta_file=meta_file,
                          category=category, max_len=max_len, sample_sizes=sample_sizes)
    assert_same_exports(expected_dir, actual_dir)
    return counts


# ------------------------------------------------------------------------------------------ real data

REAL_CASES = [
    ("Gift_Cards", "Office_Products", 2, (50, 20, 20)),
    ("Gift_Cards", "Office_Products", 7, DEFAULT_SAMPLES),
    ("Gift_Cards", "Toys_and_Games", 3, (50, 20, 20)),
    ("Gift_Cards", "Sports_and_Outdoors", 5, (50, 20, 20)),
    ("Gift_Cards", "Toys_and_Games", 7, (10, 2, 2)),
    ("Magazine_Subscriptions", "Office_Products", 3, DEFAULT_SAMPLES),
    ("Magazine_Subscriptions", "Office_Products", 7, (50, 20, 20)),
    ("Magazine_Subscriptions", "Toys_and_Games", 5, (50, 20, 20)),
    ("Magazine_Subscriptions", "Sports_and_Outdoors", 2, (50, 20, 20)),
]


@pytest.mark.parametrize("source,category,max_len,sample_sizes", REAL_CASES,
                         ids=[f"{s}-{c}-{m}-{'x'.join(map(str, k))}" for s, c, m, k in REAL_CASES])
def test_real_data(tmp_path, source, category, max_len, sample_sizes):
    reviews_file, meta_file = f"{source}_5.json.gz", f"meta_{source}.json.gz"
    need_shared(f"{AMAZON}/{source}/{reviews_file}")
    need_shared(f"{AMAZON}/{source}/{meta_file}")
    compare(tmp_path, data_root=SHARED, path=f"{AMAZON}/{source}", reviews_file=reviews_file, meta_file=meta_file,
            category=category, max_len=max_len, sample_sizes=sample_sizes)


# ------------------------------------------------------------------------------------------ synthetic data

T0 = 1_500_000_000
DAY = 24 * 3600
WINDOW = 48 * 30 * DAY
T_MAX = T0 + 400 * DAY
T_TIE = T0 + 70 * DAY  # after every random review, so only the rows placed there share it
SYNTHETIC_REVIEWS = "Synthetic_5.json.gz"
SYNTHETIC_META = "meta_Synthetic.json.gz"
# "&amp;" across the 50-character cut: the cut leaves "&amp", which html.unescape still reads as "&".
AMP_TITLE = "Wooden Stacking Ring Learning Toy Set Rainbow &amp; Pegs"
assert AMP_TITLE.index("&amp;") == 46
LONG_TITLE = "An Extremely Long Wooden Train Set With Bridges And Tunnels, Version "

META = [
    # First line of B00DUP: brand "" is flagged, so under the brand rules this row goes and the later
    # B00DUP line is the one kept; without brand rules this first line wins drop_duplicates.
    {"asin": "B00DUP", "title": "Duplicate Puzzle Box", "brand": "", "category": ["Toys", "Puzzles"]},
    {"asin": "B00ENT", "title": "Lego &amp; Friends &quot;Castle&quot; &#8211; Big", "brand": "LEGO",
     "category": ["Sports & Outdoors", "  Outdoor Recreation  ", "Camping"], "Categories": ["Extra"]},
    {"asin": "B00CQT", "title": "\u201cSuper\u201d Puzzle \u2018Deluxe\u2019 Edition \u2013 Blue\u2026",
     "brand": "Ravensburger", "details": {"Style": "Modern"}},
    # Non-ASCII title: the delete flag (100 characters with quotes, commas and line breaks) is its title.
    {"asin": "B00NAS", "title": "Caf\u00e9 Racer Toy Car", "brand": "Maisto", "Style": ["Red", "Blue"]},
    {"asin": "B00TM", "title": "  Nerf\u2122  Blaster   Elite \u00ae ", "brand": "Hasbro",
     "details": {"Category": "Camping"}},
    {"asin": "B00LG1", "title": LONG_TITLE + "1", "brand": "Brio"},
    # Same 50-character cut as B00LG1; details hold both brand keys ("Brand" is looked up first).
    {"asin": "B00LG2", "title": LONG_TITLE + "2 Deluxe", "brand": "Brio",
     "details": {"brand": "lower detail", "Brand": "Upper Detail"}},
    {"asin": "B00UNK", "title": "unknown", "brand": "Nobody"},
    {"asin": "B00NON", "title": "None", "brand": "Nobody"},
    {"asin": "B00EMP", "title": "", "brand": "Nobody"},
    {"asin": "B00NOT", "brand": "Nobody"},
    {"asin": "B00DTL", "title": "Remote Control Helicopter", "brand": "Wrong Brand",
     "details": {"Brand": "Syma", "Style": ["Modern", "Compact"]}},
    {"asin": None, "parent_asin": "B00PAR", "title": "Parent Only Kite", "brand": "Kitey", "details": None},
    {"parent_asin": "B00PA2", "title": "Missing Asin Frisbee", "brand": "Wham-O", "category": ["Only One"]},
    {"asin": "B00DP2", "title": "Duplicate Puzzle Box", "brand": "Melissa & Doug"},  # mapping_iid B00DUP
    {"asin": "B00DUP", "title": "Duplicate Puzzle Box Deluxe", "brand": "Hasbro"},
    {"asin": "B00ABC", "title": "abcdefg Mystery Toy", "brand": "abcdefg inc"},
    {"asin": "B00BAD", "title": "Bad Brand Blocks", "brand": "\u00dcn\u00efcode Brand"},  # flagged brand
    {"asin": "B00LST", "title": "List Brand Yo-Yo", "brand": ["Duncan", "Other"], "category": []},
    {"asin": "B00BRB", "title": "Two Brand Keys Ball", "Brand": "First Brand", "brand": "Second Brand"},
    {"asin": "B00DBL", "title": "Details Brand List Doll", "brand": "Top Brand",
     "details": {"brand": ["Detail Brand", "Other"]}},
    {"asin": "B00AAA", "title": "Alpha Toy Drum", "brand": "Alpha Co"},
    {"asin": "B00ZZZ", "title": "Zulu Toy Flute", "brand": "Zulu Co"},
    {"asin": "B00AMP", "title": AMP_TITLE, "brand": "Pegs &amp; Co"},
    {"asin": "B00ENT", "title": "Second Line Of An Asin Already Kept", "brand": "LEGO"},
]
RANDOM_ITEMS = ["B00ENT", "B00CQT", "B00NAS", "B00TM", "B00LG1", "B00LG2", "B00DTL", "B00PAR", "B00PA2", "B00DP2",
                "B00DUP", "B00ABC", "B00BAD", "B00LST", "B00BRB", "B00DBL", "B00AMP"]
USERS = [f"A{n}" for n in range(1, 15)]


def synthetic_reviews():
    """(user, item, rating, timestamp) rows, in file order."""
    rng = random.Random(2024)
    rows = [("A2", "B00ZZZ", 5.0, T0)]  # A2 is the first user and B00ZZZ an early item: uid/iid orders differ from string orders
    for user in USERS:
        for item in rng.sample(RANDOM_ITEMS, rng.randint(9, 14)):
            rows.append((user, item, rng.choice([1.0, 2.0, 3.0, 4.0, 4.0, 5.0, 5.0]), T0 + DAY * rng.randint(1, 60)))
    rows += [
        # One user, one second, several items: "B00AAA" < "B00ZZZ" as strings, but B00ZZZ gets the smaller id.
        ("A9", "B00AAA", 4.0, T_TIE), ("A9", "B00ZZZ", 5.0, T_TIE), ("A9", "B00LG1", 3.0, T_TIE),
        # Users "A10" < "A2" as strings, but A2 gets the smaller id.
        ("A10", "B00ZZZ", 5.0, T_TIE), ("A2", "B00AAA", 2.0, T_TIE), ("A10", "B00AAA", 4.5, T_TIE),
        # Duplicate reviews (same user, item and second, different ratings; and at another second).
        ("A3", "B00ENT", 5.0, T0 + 61 * DAY), ("A3", "B00ENT", 3.0, T0 + 61 * DAY), ("A3", "B00ENT", 4.0, T0 + 62 * DAY),
        ("A4", "B00CQT", 4.0, T0 + 12 * DAY), ("A4", "B00CQT", 4.0, T0 + 12 * DAY),
        # Window edges under the 48-month rule: exactly at the cutoff goes, one second later stays.
        ("A11", "B00ENT", 5.0, T_MAX - WINDOW), ("A12", "B00CQT", 5.0, T_MAX - WINDOW + 1),
        ("A13", "B00TM", 1.0, T_MAX - WINDOW - 5 * DAY), ("A1", "B00DTL", 5.0, T_MAX),
        # Reviews of items without a (usable) meta line.
        ("A5", "B00UNK", 5.0, T0 + 3 * DAY), ("A5", "B00NOT", 5.0, T0 + 3 * DAY), ("A6", "B0NOMETA", 2.0, T0 + 4 * DAY),
        ("A6", "B00EMP", 3.0, T0 + 4 * DAY), ("A7", "B00NON", 3.0, T0 + 5 * DAY),
        # A user with four reviews, under the user threshold.
        ("A99", "B00ENT", 5.0, T0 + 7 * DAY), ("A99", "B00CQT", 5.0, T0 + 8 * DAY),
        ("A99", "B00TM", 5.0, T0 + 9 * DAY), ("A99", "B00LST", 5.0, T0 + 9 * DAY),
    ]
    for user in ["A5", "A6", "A7", "A8"]:  # enough reviews for B00AAA and B00ZZZ, all after T_TIE
        rows += [(user, "B00AAA", 5.0, T_TIE + DAY * rng.randint(1, 5)), (user, "B00ZZZ", 3.0, T_TIE + DAY * rng.randint(1, 5))]
    return rows


def write_synthetic(directory, mixed_keys=False):
    """Writes the synthetic reviews and meta as .json.gz; with mixed_keys every third review spells its
    keys the Amazon 2023 way (user_id, timestamp, parent_asin with a null asin)."""
    directory.mkdir(parents=True, exist_ok=True)
    with gzip.open(directory / SYNTHETIC_META, "wt", encoding="utf-8") as handle:
        for line in META:
            handle.write(json.dumps(line) + "\n")
    with gzip.open(directory / SYNTHETIC_REVIEWS, "wt", encoding="utf-8") as handle:
        for index, (user, item, rating, timestamp) in enumerate(synthetic_reviews()):
            if mixed_keys and index % 3 == 0:
                line = {"overall": rating, "user_id": user, "asin": None, "parent_asin": item, "timestamp": timestamp}
            else:
                line = {"overall": rating, "verified": True, "reviewerID": user, "asin": item, "unixReviewTime": timestamp}
            handle.write(json.dumps(line) + "\n")
    return directory


SYNTHETIC_CASES = [
    (category, max_len, sizes, False)
    for category in ["Office_Products", "Toys_and_Games", "Sports_and_Outdoors"]
    for max_len, sizes in [(2, (40, 5, 5)), (10, (10, 1, 2))]
] + [("Toys_and_Games", 2, (40, 5, 5), True)]


@pytest.mark.parametrize("category,max_len,sample_sizes,mixed_keys", SYNTHETIC_CASES,
                         ids=[f"{c}-{m}{'-mixed' if x else ''}" for c, m, _, x in SYNTHETIC_CASES])
def test_synthetic(tmp_path, category, max_len, sample_sizes, mixed_keys):
    data_root = tmp_path / "data"
    write_synthetic(data_root / "synthetic", mixed_keys=mixed_keys)
    counts = compare(tmp_path, data_root=data_root, path="synthetic", reviews_file=SYNTHETIC_REVIEWS,
                     meta_file=SYNTHETIC_META, category=category, max_len=max_len, sample_sizes=sample_sizes)
    # The sampler must actually run on every split.
    assert counts["train"] > sample_sizes[0] and counts["valid"] > sample_sizes[1] and counts["test"] > sample_sizes[2], counts


def read_csv_text(path):
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def test_oracle_synthetic_semantics(tmp_path):
    """Facts of the official code on the synthetic data, worked out by hand."""
    source = write_synthetic(tmp_path / "data")
    toys, office, sports = tmp_path / "toys", tmp_path / "office", tmp_path / "sports"
    toys_counts = preprocess(source / SYNTHETIC_REVIEWS, source / SYNTHETIC_META, toys, "Toys_and_Games", max_len=2,
                             sample_sizes=(40, 5, 5))
    office_counts = preprocess(source / SYNTHETIC_REVIEWS, source / SYNTHETIC_META, office, "Office_Products",
                               max_len=2, sample_sizes=(40, 5, 5))
    preprocess(source / SYNTHETIC_REVIEWS, source / SYNTHETIC_META, sports, "Sports_and_Outdoors", max_len=2,
               sample_sizes=(40, 5, 5))
    reviews = synthetic_reviews()

    # Meta: 25 lines, 4 without a usable title; B00DUP's first line and B00BAD go for their flagged brands,
    # the second B00DUP and B00ENT lines for drop_duplicates (after the brand filter).
    assert toys_counts["meta_items"] == 25 - 4 - 2 - 1
    assert office_counts["meta_items"] == 25 - 4 - 2
    # Window: only the reviews at the cutoff and before it go.
    assert toys_counts["after_window"] == toys_counts["reviews_kept"] - 2
    assert office_counts["after_window"] == office_counts["reviews_kept"]
    assert office_counts["reviews_kept"] == sum(item not in {"B00UNK", "B00NOT", "B0NOMETA", "B00EMP", "B00NON"}
                                                for _, item, _, _ in reviews)

    items = {row["rawid"]: row for _, row in read_csv_text(toys / "item.csv").iterrows()}
    office_items = {row["rawid"]: row for _, row in read_csv_text(office / "item.csv").iterrows()}
    sports_items = {row["rawid"]: row for _, row in read_csv_text(sports / "item.csv").iterrows()}
    def header(path):
        return path.read_text().split("\n")[0]
    assert header(toys / "item.csv") == ",rawid,title,mapping_iid,brand,iid"
    assert header(office / "item.csv") == ",rawid,title,mapping_iid,iid"
    assert header(sports / "item.csv") == ",rawid,title,mapping_iid,brand,style,category,iid"
    assert header(toys / "user.csv") == ",rawid,uid"
    assert items["B00DUP"]["title"] == "Duplicate Puzzle Box Deluxe" and items["B00DUP"]["brand"] == "Hasbro"
    assert office_items["B00DUP"]["title"] == "Duplicate Puzzle Box"
    assert items["B00DP2"]["mapping_iid"] == "B00DUP"
    assert items["B00LG2"]["mapping_iid"] == "B00LG1" and items["B00LG2"]["title"] == LONG_TITLE[:50].strip()
    assert items["B00ENT"]["title"] == 'Lego & Friends "Castle" - Big'
    assert items["B00ENT"]["brand"] == "LEGO"
    assert items["B00CQT"]["title"] == "\"Super\" Puzzle 'Deluxe' Edition - Blue"
    assert items["B00NAS"]["title"].startswith("abcdefghijklmnopqrstuvwxyz") and len(items["B00NAS"]["title"]) == 100
    assert items["B00TM"]["title"] == "Nerf Blaster Elite"
    assert items["B00DTL"]["brand"] == "Syma"
    assert items["B00PAR"]["title"] == "Parent Only Kite" and "B00PA2" in items
    assert items["B00ABC"]["title"] == "unknown title" and items["B00ABC"]["brand"] == "unknown brand"
    assert items["B00LST"]["brand"] == "Duncan"
    assert items["B00BRB"]["brand"] == "First Brand"
    assert items["B00DBL"]["brand"] == "Detail Brand"
    assert items["B00AMP"]["title"] == "Wooden Stacking Ring Learning Toy Set Rainbow &"
    assert items["B00AMP"]["brand"] == "Pegs & Co"
    assert "B00BAD" not in items and "B00BAD" in office_items
    assert sports_items["B00ENT"]["category"] == "['Outdoor Recreation']"
    assert sports_items["B00TM"]["category"] == "['unknown category']"
    assert sports_items["B00PA2"]["category"] == "['unknown category']"
    assert sports_items["B00CQT"]["style"] == "['Modern']" and sports_items["B00NAS"]["style"] == "['Red', 'Blue']"
    assert sports_items["B00DTL"]["style"] == "['Modern', 'Compact']" and sports_items["B00LG1"]["style"] == "[]"
    assert int(items["B00ZZZ"]["iid"]) < int(items["B00AAA"]["iid"])

    users = read_csv_text(toys / "user.csv")
    assert "A99" not in set(users["rawid"])
    uid = dict(zip(users["rawid"], users["uid"].astype(int)))
    assert uid["A2"] < uid["A10"]
    stat = (toys / "data_stat.json").read_text()
    assert stat == json.dumps({"num_user": len(users), "num_item": len(items)}, indent=2)

    samples = pd.concat([pd.read_csv(toys / f"{split}.csv") for split in ["train", "valid", "test"]])
    assert len(samples) == toys_counts["samples"]
    assert list(samples.columns) == ["uid", "iid", "his_len", "hist_id", "rating", "label", "hist_rating",
                                     "hist_label", "timestamp"]
    assert (samples["label"] == (samples["rating"] > 4).astype(int)).all()
    assert ((samples["rating"] == 4.0) & (samples["label"] == 0)).any()
    assert (samples["his_len"] == 2).all()
    assert list(samples["timestamp"]) == sorted(samples["timestamp"])
    # A9 at T_TIE reviews B00AAA, B00ZZZ and B00LG1: string order puts B00AAA first, integer order last
    # (B00AAA is the last item to appear), so B00AAA's history is the other two.
    zzz, aaa, lg1 = (int(items[asin]["iid"]) for asin in ["B00ZZZ", "B00AAA", "B00LG1"])
    assert aaa == max(int(row["iid"]) for row in items.values())
    a9 = samples[(samples["uid"] == uid["A9"]) & (samples["timestamp"] == T_TIE)]
    assert sorted(a9["iid"]) == sorted([zzz, aaa, lg1])
    assert set(json.loads(a9[a9["iid"] == aaa]["hist_id"].iloc[0])) == {zzz, lg1}
    # A3's duplicate B00ENT reviews at one second stay in file order (5.0, then 3.0) and both count.
    ent = int(items["B00ENT"]["iid"])
    a3 = samples[(samples["uid"] == uid["A3"]) & (samples["iid"] == ent)]
    assert list(a3[a3["timestamp"] == T0 + 61 * DAY]["rating"]) == [5.0, 3.0]
    after = a3[a3["timestamp"] == T0 + 62 * DAY]
    assert json.loads(after["hist_rating"].iloc[0]) == [5.0, 3.0] and json.loads(after["hist_id"].iloc[0]) == [ent, ent]
    assert json.loads(after["hist_label"].iloc[0]) == [1, 0] and after["label"].iloc[0] == 0
    # Sampled files: the sizes asked for, rows of their split.
    train = pd.read_csv(toys / "train.csv", dtype=str)
    train_40 = pd.read_csv(toys / "train_40.csv", dtype=str)
    assert len(train_40) == 40 and len(train_40.merge(train)) >= 40
    assert len(pd.read_csv(toys / "valid_5.csv")) == 5 and len(pd.read_csv(toys / "test_5.csv")) == 5


def test_oracle_fails_where_the_official_code_fails(tmp_path):
    """Under the brand rules a meta line without any brand makes the official convert_brand index an empty
    list; the oracle refuses it too instead of inventing a rule (brand "" is the Amazon 2018 way to say none)."""
    source = tmp_path / "data"
    source.mkdir()
    with gzip.open(source / SYNTHETIC_META, "wt") as handle:
        handle.write(json.dumps({"asin": "B1", "title": "No Brand Here"}) + "\n")
    with gzip.open(source / SYNTHETIC_REVIEWS, "wt") as handle:
        handle.write(json.dumps({"overall": 5.0, "reviewerID": "A", "asin": "B1", "unixReviewTime": T0}) + "\n")
    with pytest.raises(ValueError, match="no brand"):
        preprocess(source / SYNTHETIC_REVIEWS, source / SYNTHETIC_META, tmp_path / "out", "Toys_and_Games")
    with pytest.raises(ValueError, match="k-core"):
        preprocess(source / SYNTHETIC_REVIEWS, source / SYNTHETIC_META, tmp_path / "out", "Office_Products")
