"""The official TCA4Rec preprocessing (critical88/TCA4Rec `utils/preprocess.py` with the helpers of
`utils/preprocess_utils.py`), restated independently in pandas.

It is the oracle of Tests/python/test_tca4rec_preset.py (our `tca4rec` preset must write the same bytes)
and the "official approach" peer of the benchmark, so it works the way the official script works: every
raw line goes through `json.loads`, the tables are pandas DataFrames, ids are remapped and histories built
in Python loops over `to_dict('records')`, and every file is written by pandas' `to_csv` (or `json.dumps`
for data_stat.json).

The title and brand cleaning (official `filter_title` / `convert_brand`) is not restated here: it comes
from Tests/python/tca4rec_text_oracle.py, the oracle our TCA4RecText is already checked against.

Where the official run differs on purpose (all without effect on what is written):
- no `<dataset>_rating_cache.csv` is written or read (a first official run builds the ratings in memory;
  a rerun reading that cache back would re-infer column types from CSV);
- the `mapping_iid` each kept review carries along (never written) comes from a dict, not from a
  per-row `DataFrame.loc` (unless `per_row_loc`, which the benchmark sets to time the official method);
- lines are read one at a time instead of `readlines()` (the same lines: split on b"\\n" only).

Cases where the official script raises (the oracle raises too, with a clearer message):
- an item whose brand list is empty (no brand key at the top level or in details) under the
  Toys_and_Games / Sports_and_Outdoors rules: `convert_brand` indexes `x[0]`;
- no interaction left after the k-core: `int(rating_df['uid'].max())` of NaN.
A brand longer than 150 characters whose first 150 hold no space makes the official `convert_brand`
raise IndexError; the shared text oracle returns "" there instead (as our TCA4RecText does), and the
empty brand keeps the item.
When no sample has a full history the official script writes item.csv, user.csv and data_stat.json and
returns before any split file; so does the oracle.
"""
import argparse
import gzip
import importlib.util
import io
import json
import pathlib
import sys
from collections import defaultdict

import pandas as pd

RANDOM_SEED = 42
K_CORE = 5
SECONDS_PER_MONTH = 30 * 24 * 60 * 60
DELETE_FLAG_MARK = "abcde"

# Official `detailKeys`: output column -> raw keys looked up, per category; other categories have none.
DETAIL_KEYS = {
    "Toys_and_Games": {"brand": ["Brand", "brand"]},
    "Sports_and_Outdoors": {
        "brand": ["Brand", "brand"],
        "style": ["Style"],
        "category": ["Category", "category", "Categories", "categories", "cate", "cates"],
    },
}
# Official `duration`: months of reviews kept before the newest one; -1 keeps everything.
FIXED_DURATION = {"Toys_and_Games": 48, "Sports_and_Outdoors": 48, "Office_Products": -1}


def _load_text_oracle():
    """Tests/python/tca4rec_text_oracle.py as a module. It is a stdin filter with its loop at top level,
    so it is executed with an empty stdin: the loop runs zero times and its `clean` stays behind."""
    path = pathlib.Path(__file__).resolve().parents[1] / "tca4rec_text_oracle.py"
    spec = importlib.util.spec_from_file_location("tca4rec_text_oracle", path)
    module = importlib.util.module_from_spec(spec)
    saved = sys.stdin
    sys.stdin = io.StringIO("")
    try:
        spec.loader.exec_module(module)
    finally:
        sys.stdin = saved
    return module


_TEXT = _load_text_oracle()


def filter_title(text):
    """Official `filter_title` (preprocess.py), via the shared text oracle."""
    return _TEXT.clean(text, "unknown title", False)


def convert_brand(value, asin=None):
    """Official `convert_brand` (preprocess.py): the first element of a list, then the brand cleaning."""
    if isinstance(value, list):
        if not value:
            raise ValueError(
                f"item {asin!r} has no brand; the official convert_brand raises IndexError on an empty brand list")
        value = value[0]
    if not isinstance(value, str):
        raise TypeError(f"item {asin!r}: brand {value!r} is not a string; the official convert_brand raises too")
    return _TEXT.clean(value, "unknown brand", True)


def convert_category(value):
    """Official `convert_category` (preprocess.py): a list loses its first element and keeps the stripped
    next one as a one-element list; anything else, or nothing left, is ['unknown category']."""
    if not isinstance(value, list):
        return ["unknown category"]
    rest = value[1:]
    return [rest[0].strip()] if rest else ["unknown category"]


def json_lines(path):
    """Each line of a gzip'd (name ends in .gz) or plain JSON-lines file, decoded and `json.loads`'d,
    as the official `gzip.open(...).readlines()` loop does (binary lines, so only b"\\n" ends a line)."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as handle:
        for raw in handle:
            yield json.loads(raw.decode())


def _extra_values(line, names):
    """One `detailKeys` entry of the official meta loop: the values of `names` at the top level (a string
    appended, anything else extended), replaced by the first of `names` found in a non-null `details`."""
    values = []
    for name in names:
        if name in line:
            found = line[name]
            if type(found) == str:  # noqa: E721 -- the official test is on the exact type
                values.append(found)
            else:
                values.extend(found)
    details = line.get("details")
    if "details" in line and details is not None:
        for name in names:
            if name in details:
                found = details[name]
                values = [found] if type(found) == str else found  # noqa: E721
                break
    return values


def read_meta(meta_path, detail_keys):
    """The official meta loop and the item table built from it (preprocess.py, from `with gzip.open(meta_file)`
    to `drop_duplicates("iid")`): skip lines without a usable title, cut titles to 50 code points, collect the
    extra keys, map each cut title to the asin of its first line, then clean titles (`filter_title`), convert
    categories, drop items whose converted brand carries the delete flag, and keep each asin's first row."""
    keys = list(detail_keys)
    first_asin_of_title = {}
    rows = []
    for line in json_lines(meta_path):
        if "title" not in line or not line["title"] or line["title"] in ("unknown", "None"):
            continue
        title = line["title"][:50]
        extras = [_extra_values(line, detail_keys[key]) for key in keys]
        asin = line["asin"] if line.get("asin") is not None else line["parent_asin"]
        mapping_iid = first_asin_of_title.setdefault(title, asin)
        rows.append([asin, title, mapping_iid] + extras)
    meta = pd.DataFrame(rows, columns=["iid", "title", "mapping_iid"] + keys)
    meta["title"] = meta["title"].apply(filter_title)
    if "category" in meta.columns:
        meta["category"] = meta["category"].apply(convert_category)
    if "brand" in meta.columns:
        meta["brand"] = [convert_brand(brand, asin) for brand, asin in zip(meta["brand"], meta["iid"])]
        keep = meta["brand"].apply(lambda brand: DELETE_FLAG_MARK not in brand.lower())
        meta = meta[keep.astype(bool)]
    return meta.drop_duplicates("iid").reset_index(drop=True)


def read_reviews(reviews_path, meta, per_row_loc=False):
    """The official rating loop (preprocess.py, `with gzip.open(rating_file)`): every review of an item that
    survived the meta filtering, as (uid, iid, mapping_iid, rating, timestamp) with the raw string ids.
    With `per_row_loc` each kept review looks its item up with `DataFrame.loc` on the iid-indexed meta table,
    as the official loop does (`item_meta_df_dict.loc[item]`); the benchmark uses that, the tests the dict."""
    table = meta.reset_index().set_index("iid") if per_row_loc else None
    mapping_of_item = dict(zip(meta["iid"], meta["mapping_iid"]))
    rows = []
    for line in json_lines(reviews_path):
        item = line["asin"] if line.get("asin") is not None else line["parent_asin"]
        if item not in mapping_of_item:
            continue
        mapping = table.loc[item]["mapping_iid"] if per_row_loc else mapping_of_item[item]
        rating = line["overall"]
        user = line["user_id"] if "user_id" in line else line["reviewerID"]
        timestamp = line["timestamp"] if "timestamp" in line else line["unixReviewTime"]
        rows.append([user, item, mapping, rating, timestamp])
    return pd.DataFrame(rows, columns=["uid", "iid", "mapping_iid", "rating", "timestamp"])


def keep_recent(ratings, months):
    """The official `duration` window (preprocess.py, `if duration >= 0`): reviews strictly newer than the
    newest one minus `months` × 30 days; months < 0 keeps everything."""
    if months < 0:
        return ratings
    cutoff = ratings["timestamp"].max() - months * SECONDS_PER_MONTH
    return ratings[ratings["timestamp"] > cutoff]


def k_core(ratings, max_len, k=K_CORE):
    """Official `filter_Ncore` (preprocess_utils.py): count each item's and each user's rows, keep the rows
    whose item has at least k and whose user at least max(max_len, k), until a pass removes nothing.
    Repeated (user, item) rows all count; nothing is de-duplicated."""
    user_threshold = max(max_len, k)
    while True:
        before = len(ratings)
        item_count = ratings["iid"].map(ratings["iid"].value_counts())
        user_count = ratings["uid"].map(ratings["uid"].value_counts())
        ratings = ratings[(item_count >= k) & (user_count >= user_threshold)].reset_index(drop=True)
        if len(ratings) == before:
            return ratings


def remap(ratings):
    """Official `remap` (preprocess_utils.py, start_from_one): 1-based ids by first appearance, walking the
    rows in their current order; users and items numbered separately."""
    users, items = {}, {}
    for row in ratings.to_dict("records"):
        if row["uid"] not in users:
            users[row["uid"]] = len(users) + 1
        if row["iid"] not in items:
            items[row["iid"]] = len(items) + 1
    return users, items


def with_histories(ratings, max_len):
    """`collect_data` of the official `save_llmcode_hist` (preprocess_utils.py): sort by (timestamp, uid, iid)
    on the integer ids (a multi-column sort_values is a lexsort, stable for ties), then give each row the
    last max_len (iid, label, rating) of its user's earlier rows."""
    data = ratings.sort_values(["timestamp", "uid", "iid"])
    earlier = defaultdict(list)
    hist_id, hist_rating, hist_label = [], [], []
    for row in data.to_dict("records"):
        recent = earlier[row["uid"]][-max_len:]
        hist_id.append([entry[0] for entry in recent])
        hist_label.append([entry[1] for entry in recent])
        hist_rating.append([entry[2] for entry in recent])
        earlier[row["uid"]].append((row["iid"], row["label"], row["rating"]))
    data["hist_id"] = hist_id
    data["hist_rating"] = hist_rating
    data["hist_label"] = hist_label
    data["his_len"] = data["hist_id"].map(len)
    columns = ["uid", "iid", "his_len", "hist_id", "rating", "label", "hist_rating", "hist_label", "timestamp"]
    return data[columns].reset_index(drop=True)


def split_by_position(samples):
    """Official `partition` (preprocess_utils.py): first int(0.8 n) train, next n // 10 valid, rest test."""
    n = len(samples)
    train_size = int(n * 0.8)
    valid_size = n // 10
    return (samples.iloc[:train_size], samples.iloc[train_size:train_size + valid_size],
            samples.iloc[train_size + valid_size:])


def write_split(data, path, sample_num=-1):
    """`save_file` of the official `save_llmcode_hist`: a seeded `DataFrame.sample` when the split is larger
    than sample_num, written without the index."""
    if sample_num > 0 and len(data) > sample_num:
        data = data.sample(sample_num, random_state=RANDOM_SEED)
    data.to_csv(path, index=False)


def preprocess(reviews_path, meta_path, out_dir, dataset, max_len=10, sample_sizes=(10000, 5000, 5000),
               duration=-1, per_row_loc=False):
    """The whole official script for one dataset (preprocess.py top to bottom): writes item.csv, user.csv,
    data_stat.json, train.csv, valid.csv, test.csv and train_<a>.csv, valid_<b>.csv, test_<c>.csv into out_dir
    and returns the counts of each step. `dataset` picks the per-category rules as the official `--dataset`
    does; `duration` is the official `--duration`, used only by categories without a fixed window."""
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    detail_keys = DETAIL_KEYS.get(dataset, {})
    months = FIXED_DURATION.get(dataset, duration)
    counts = {}

    meta = read_meta(meta_path, detail_keys)
    counts["meta_items"] = len(meta)
    ratings = read_reviews(reviews_path, meta, per_row_loc=per_row_loc)
    counts["reviews_kept"] = len(ratings)
    ratings = keep_recent(ratings, months)
    counts["after_window"] = len(ratings)

    ratings = k_core(ratings, max_len)
    counts["kcore_users"] = int(ratings["uid"].nunique())
    counts["kcore_items"] = int(ratings["iid"].nunique())
    counts["kcore_interactions"] = len(ratings)
    if len(ratings) == 0:
        raise ValueError(
            f"no interaction survives the k-core (items >= {K_CORE}, users >= {max(max_len, K_CORE)}); "
            "the official script fails here too")

    # String ids -> integer ids, in (timestamp, uid, iid) order of the raw strings (preprocess.py).
    ratings = ratings.sort_values(["timestamp", "uid", "iid"]).reset_index(drop=True)
    items = meta[meta["iid"].isin(ratings["iid"].unique())].rename(columns={"iid": "rawid"})
    users_of, items_of = remap(ratings)
    items["iid"] = items["rawid"].map(items_of)
    items = items.sort_values("iid").reset_index(drop=True)
    users = pd.DataFrame(ratings["uid"].unique(), columns=["rawid"])
    ratings["iid"] = ratings["iid"].map(items_of)
    ratings["uid"] = ratings["uid"].map(users_of)
    ratings["label"] = ratings.apply(lambda row: 1 if row["rating"] > 4 else 0, axis=1)
    users["uid"] = users["rawid"].map(users_of)
    users = users.sort_values("uid").reset_index(drop=True)

    # save_item_data, save_user_data, save_stat_data (preprocess_utils.py).
    items.to_csv(out_dir / "item.csv")
    users.to_csv(out_dir / "user.csv")
    stat = {"num_user": int(ratings["uid"].max()), "num_item": int(ratings["iid"].max())}
    with open(out_dir / "data_stat.json", "w") as handle:
        handle.write(json.dumps(stat, indent=2))

    # save_llmcode_hist (preprocess_utils.py).
    samples = with_histories(ratings, max_len)
    counts["rows_with_history"] = len(samples)
    samples = samples[samples["his_len"] >= max_len]
    counts["samples"] = len(samples)
    if len(samples) == 0:
        counts.update(train=0, valid=0, test=0)
        return counts
    train, valid, test = split_by_position(samples)
    counts.update(train=len(train), valid=len(valid), test=len(test))
    train_k, valid_k, test_k = sample_sizes
    write_split(train, out_dir / "train.csv")
    write_split(train, out_dir / f"train_{train_k}.csv", sample_num=train_k)
    write_split(valid, out_dir / "valid.csv")
    write_split(valid, out_dir / f"valid_{valid_k}.csv", sample_num=valid_k)
    write_split(test, out_dir / "test.csv")
    write_split(test, out_dir / f"test_{test_k}.csv", sample_num=test_k)
    return counts


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reviews", required=True, help="<Category>.json.gz (or a plain JSON-lines file)")
    parser.add_argument("--meta", required=True, help="meta_<Category>.json.gz (or a plain JSON-lines file)")
    parser.add_argument("--out", required=True, help="folder for the CSV files and data_stat.json")
    parser.add_argument("--dataset", required=True, help="category name; picks the per-category rules")
    parser.add_argument("--max-len", type=int, default=10)
    parser.add_argument("--sample-sizes", type=int, nargs=3, default=[10000, 5000, 5000], metavar=("TRAIN", "VALID", "TEST"))
    parser.add_argument("--duration", type=int, default=-1,
                        help="months kept, for categories without a fixed window (official --duration)")
    args = parser.parse_args(argv)
    counts = preprocess(args.reviews, args.meta, args.out, args.dataset, max_len=args.max_len,
                        sample_sizes=tuple(args.sample_sizes), duration=args.duration)
    print(json.dumps(counts, indent=2))


if __name__ == "__main__":
    main()
