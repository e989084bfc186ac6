"""Ingest + prepare of Amazon 2018 review JSON with the official TCA4Rec preprocessing (Office_Products:
titles, item 5-core / user 10-core to a fixpoint, sliding window of 10, 80/10/10), ours against the
official Python, polars, DuckDB and `zcat`/`cat`, side by side on the same input and cores, in one run.

Input: a synthetic Amazon 2018 category (Benchmarks/ingest_synthetic.py: real key order and fields,
Zipf users and items, review text that gzip -6 compresses about 3.3x), --size-gb of review JSON (default
1.0) as plain JSON lines and as gzip -6, generated once (seeded) and cached under --work (default
Benchmarks/.work/ingest/) by its generation parameters.

  ours      `tca run -q <pipeline> --only ingest --only prepare --force ingest --force prepare` in a fresh
            TCA_HOME (source amazon-2018, preset tca4rec; prepare sliding-window, tie_break tca4rec,
            export tca4rec-csv), TCA_DATA = the generated data's root. Parameters this `tca` build does
            not list in `tca stages` are left out, and the output says so.
  official  Tests/python/oracles/tca4rec_preprocess.py `preprocess(per_row_loc=True)` (json.loads per line
            into pandas, each kept review's item looked up with DataFrame.loc, as the official
            utils/preprocess.py does), on the gzip input, once (--skip-official skips it).
  polars    scan_ndjson of the needed columns (asin, title from meta; reviewerID, asin, overall,
            unixReviewTime from reviews), the same steps in polars' expression API, CSVs by write_csv.
  duckdb    read_json with the same columns, the same steps in SQL (k-core as a loop of queries), CSVs by
            COPY. Both read the .gz directly (if polars cannot, it gets the bytes decompressed by Python's
            gzip module, and the output says so) and use all of --cores.
  floor     `zcat FILE.gz >/dev/null` and `cat FILE >/dev/null`.

Every method runs in its own child process, pinned with taskset to --cores cores when the machine has more;
times are the child's wall time (start-up included), MB/s are 10^6 bytes of decompressed review JSON per
second, peak RSS is the child's (os.wait4). The page cache is warmed before timing. Ours, polars and DuckDB
(and the official when run) must report the same number of samples per split; a warning line says if not.
--memory-gb N also generates an N GB plain input with the same users and items (more lines per user) and
reports our peak RSS on it against the --size-gb input's.

    .venv/bin/python Benchmarks/ingest_bench.py                 # 1 GB, ours from $TCA_BIN
    .venv/bin/python Benchmarks/ingest_bench.py --quick         # 50 MB smoke run
    .venv/bin/python Benchmarks/ingest_bench.py --memory-gb 4 --skip-official
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
BIN = pathlib.Path(os.environ.get("TCA_BIN", ROOT / ".build" / "release")).resolve()
ORACLE = ROOT / "Tests" / "python" / "oracles" / "tca4rec_preprocess.py"
WORK = pathlib.Path(__file__).resolve().parent / ".work" / "ingest"
TIME = os.path.exists("/usr/bin/time")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import ingest_synthetic as synthetic  # noqa: E402

USER_CORE, ITEM_CORE, HISTORY = 10, 5, 10
SAMPLE_SIZES = {"train": 10_000, "valid": 5_000, "test": 5_000}
CSV_COLUMNS = ["uid", "iid", "his_len", "hist_id", "rating", "label", "hist_rating", "hist_label", "timestamp"]
# The official filter_title (utils/preprocess.py) after html.unescape: replacements, then characters → space.
TITLE_REPLACEMENTS = [("“", '"'), ("”", '"'), ("‘", "'"), ("’", "'"), ("–", "-"), ("\n", " "), ("\r", " "),
                      ("…", ""), ("‚", ","), ("´", "'"), ("&ndash;", "-"), ("&lt;", "<"), ("&gt;", ">"),
                      ("&amp;", "&"), ("&quot;", '"'), ("&nbsp;", " "), ("&copy;", "©"), ("″", '"'), ("【", "["),
                      ("】", "]"), ("—", "-"), ("−", "-")] + [
    (chr(c), " ") for c in [127, 174, 160, 170, 8482, 188, 162, 189, 8594, 169, 235, 168, 957, 12288, 8222,
                            179, 190, 173, 186, 8225]]
DELETE_FLAG = ("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
               "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \t\n\r\x0b\x0c")
NOT_PRINTABLE = r"[^\x20-\x7E\t\n\r\x0B\x0C]"

PIPELINE = {
    "ingest": {"source": "amazon-2018", "path": None, "reviews_file": None, "meta_file": None,
               "category": synthetic.CATEGORY, "preset": "tca4rec"},
    "prepare": {"protocol": "sliding-window", "tie_break": "tca4rec", "window_months": 0,
                "user_k_core": USER_CORE, "item_k_core": ITEM_CORE, "min_history": HISTORY,
                "max_history": HISTORY, "export": "tca4rec-csv"},
}


# ------------------------------------------------------------------------------------------ children


def timed_child(command: list[str], environment: dict | None = None) -> dict:
    """Runs `command`; returns its wall seconds, peak RSS (bytes), exit code and the tail of its stderr.

    The peak RSS comes from GNU time (`/usr/bin/time -f %M`) when there is one: a child forked from this
    Python process keeps the parent's high-water RSS until exec, so os.wait4 would report at least this
    process's RSS for a small command such as zcat."""
    with tempfile.TemporaryFile("w+") as err, tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        prefix = ["/usr/bin/time", "-f", "%M", "-o", rss.name] if TIME else []
        start = time.perf_counter()
        process = subprocess.Popen([*prefix, *command], env=environment, stdout=subprocess.DEVNULL, stderr=err,
                                   text=True)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        err.seek(0)
        stderr = err.read()
        peak = usage.ru_maxrss * 1024
        if TIME:
            lines = pathlib.Path(rss.name).read_text().split()
            peak = int(lines[-1]) * 1024 if lines and lines[-1].isdigit() else peak
    return {"seconds": seconds, "peak_rss": peak, "rc": os.waitstatus_to_exitcode(status), "stderr": stderr[-3000:]}


def pinned(command: list[str], cores: int) -> list[str]:
    if (os.cpu_count() or 1) > cores and shutil.which("taskset"):
        return ["taskset", "-c", f"0-{cores - 1}", *command]
    return command


def tca_parameters() -> dict[str, set[str]]:
    """The parameters `tca stages` lists, per stage."""
    result = subprocess.run([str(BIN / "tca"), "stages"], capture_output=True, text=True)
    stages, current = {}, None
    for line in result.stdout.splitlines():
        header = re.match(r"^(\S+) \(version \d+\)", line)
        if header:
            current = stages.setdefault(header.group(1), set())
        elif current is not None:
            parameter = re.match(r"^  ([a-z_0-9]+)\s{2,}", line)
            if parameter:
                current.add(parameter.group(1))
    return stages


def run_ours(data_root: pathlib.Path, reviews: str, meta: str, home_parent: pathlib.Path, cores: int,
             known: dict[str, set[str]]) -> dict:
    stages = {name: dict(params) for name, params in PIPELINE.items()}
    stages["ingest"].update(path=f"amazon-2018/{synthetic.CATEGORY}", reviews_file=reviews, meta_file=meta)
    dropped = [f"{stage}.{key}" for stage, params in stages.items() for key in params
               if known.get(stage) and key not in known[stage]]
    for name in dropped:
        stage, key = name.split(".")
        del stages[stage][key]
    home = pathlib.Path(tempfile.mkdtemp(prefix="tca-home-", dir=home_parent))
    try:
        pipeline = home / "ingest-bench.yaml"
        pipeline.write_text(json.dumps({"description": "ingest bench",
                                        "stages": {name: {"params": params} for name, params in stages.items()}},
                                       indent=2))
        environment = dict(os.environ, TCA_HOME=str(home), TCA_DATA=str(data_root),
                           TCA_PIPELINES=str(ROOT / "Pipelines"))
        command = pinned([str(BIN / "tca"), "run", "-q", str(pipeline), "--only", "ingest", "--only", "prepare",
                          "--force", "ingest", "--force", "prepare"], cores)
        result = timed_child(command, environment)
        result["dropped"] = dropped
        reports = sorted(home.glob("runs/*/prepare/report.json"))
        if result["rc"] == 0 and reports:
            report = json.loads(reports[0].read_text())
            result["counts"] = {split: int(report["samples"].get(split, 0)) for split in ("train", "valid", "test")}
            final = next((step for step in report.get("steps", []) if step.get("step") == "final"), None)
            if final:
                result.update(users=final["users"], items=final["items"], interactions=final["events"])
        return result
    finally:
        shutil.rmtree(home, ignore_errors=True)


def run_peer(peer: str, reviews: pathlib.Path, meta: pathlib.Path, scratch: pathlib.Path, cores: int,
             keep: bool) -> dict:
    out = pathlib.Path(tempfile.mkdtemp(prefix=f"{peer}-", dir=scratch))
    result_path = out / "result.json"
    environment = dict(os.environ, POLARS_MAX_THREADS=str(cores), OMP_NUM_THREADS=str(cores))
    command = pinned([sys.executable, __file__, "--peer", peer, "--reviews", str(reviews), "--meta", str(meta),
                      "--out", str(out / "data"), "--result", str(result_path), "--cores", str(cores)], cores)
    result = timed_child(command, environment)
    if result["rc"] == 0 and result_path.exists():
        result.update(json.loads(result_path.read_text()))
    if not keep:
        shutil.rmtree(out, ignore_errors=True)
    else:
        result["out"] = str(out / "data")
    return result


# ------------------------------------------------------------------------------------------ polars


def polars_main(arguments) -> None:
    import polars as pl

    start = time.perf_counter()
    notes = []

    def read(path: str, schema: dict):
        try:
            return pl.scan_ndjson(path, schema=schema).collect()
        except Exception as error:  # noqa: BLE001 - an older polars without gzip support
            if not path.endswith(".gz"):
                raise
            notes.append(f"polars could not read .gz itself ({type(error).__name__}); decompressed in Python "
                         "with the gzip module into memory")
            with gzip.open(path, "rb") as handle:
                return pl.read_ndjson(io.BytesIO(handle.read()), schema=schema)

    title = pl.col("title").str.slice(0, 50).str.replace_many(
        [a for a, _ in TITLE_REPLACEMENTS], [b for _, b in TITLE_REPLACEMENTS])
    title = title.str.replace_all(" {2,}", " ").str.strip_chars()
    title = pl.when(title.str.to_lowercase().str.contains("abcdefg", literal=True)).then(pl.lit("unknown title")).otherwise(title)
    title = (pl.when(title.str.contains(NOT_PRINTABLE) | ~title.str.contains("[A-Za-z]") | (title.str.len_chars() < 3))
             .then(pl.lit(DELETE_FLAG)).otherwise(title))
    items = (read(arguments.meta, {"asin": pl.String, "title": pl.String})
             .filter(pl.col("title").is_not_null() & (pl.col("title") != "") & ~pl.col("title").is_in(["unknown", "None"]))
             .unique("asin", keep="first", maintain_order=True)
             .with_columns(title=title))
    reviews = (read(arguments.reviews, {"reviewerID": pl.String, "asin": pl.String, "overall": pl.Float64,
                                        "unixReviewTime": pl.Int64})
               .with_row_index("pos")
               .filter(pl.col("asin").is_in(items["asin"].implode())))
    read_seconds = time.perf_counter() - start
    passes = 0
    while True:
        before = reviews.height
        reviews = reviews.filter((pl.len().over("asin") >= ITEM_CORE) & (pl.len().over("reviewerID") >= USER_CORE))
        passes += 1
        if reviews.height == before:
            break
    # Ids from 1 by first appearance in (timestamp, user, item) order; then the official second sort by
    # (timestamp, uid, iid) on the new ids, stable.
    events = (reviews.sort(["unixReviewTime", "reviewerID", "asin", "pos"])
              .with_row_index("order")
              .with_columns(uid=pl.col("order").min().over("reviewerID").rank("dense").cast(pl.Int64),
                            iid=pl.col("order").min().over("asin").rank("dense").cast(pl.Int64))
              .sort(["unixReviewTime", "uid", "iid"], maintain_order=True)
              .with_columns(label=(pl.col("overall") > 4).cast(pl.Int64)))

    def history(column: str):
        return pl.concat_list([pl.col(column).shift(k) for k in range(HISTORY, 0, -1)]).over("uid")

    def as_text(column: str):
        return pl.lit("[") + pl.col(column).list.eval(pl.element().cast(pl.String)).list.join(", ") + pl.lit("]")

    samples = (events.with_columns(before=pl.int_range(pl.len()).over("uid"), hist_id=history("iid"),
                                   hist_rating=history("overall"), hist_label=history("label"))
               .filter(pl.col("before") >= HISTORY)
               .select(pl.col("uid"), pl.col("iid"), pl.lit(HISTORY).alias("his_len"), as_text("hist_id").alias("hist_id"),
                       pl.col("overall").alias("rating"), pl.col("label"), as_text("hist_rating").alias("hist_rating"),
                       as_text("hist_label").alias("hist_label"), pl.col("unixReviewTime").alias("timestamp")))
    total = samples.height
    train, valid = int(total * 0.8), total // 10
    splits = {"train": samples.slice(0, train), "valid": samples.slice(train, valid),
              "test": samples.slice(train + valid)}
    out = pathlib.Path(arguments.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in splits.items():
        frame.write_csv(out / f"{name}.csv")
        size = SAMPLE_SIZES[name]
        (frame.sample(size, seed=42) if frame.height > size else frame).write_csv(out / f"{name}_{size}.csv")
    item_ids = events.group_by("asin").agg(pl.col("iid").first())
    (items.join(item_ids, on="asin").sort("iid").select(pl.col("asin").alias("rawid"), "title", "iid")
     .write_csv(out / "item.csv"))
    write_result(arguments, {
        "counts": {name: frame.height for name, frame in splits.items()}, "interactions": events.height,
        "users": int(events["uid"].max() or 0), "items": int(events["iid"].max() or 0), "k_core_passes": passes,
        "inner_seconds": time.perf_counter() - start, "read_seconds": read_seconds, "notes": notes,
        "hashes": split_hashes(out)})


# ------------------------------------------------------------------------------------------ DuckDB


def sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def duckdb_main(arguments) -> None:
    import duckdb

    start = time.perf_counter()
    connection = duckdb.connect()
    connection.execute(f"SET threads = {arguments.cores}")
    title = "left(title, 50)"
    for old, new in TITLE_REPLACEMENTS:
        title = f"replace({title}, {sql_literal(old)}, {sql_literal(new)})"
    title = f"regexp_replace(regexp_replace({title}, ' {{2,}}', ' ', 'g'), '^\\s+|\\s+$', '', 'g')"
    connection.execute(f"""
        CREATE TABLE meta AS SELECT row_number() OVER () AS pos, asin, title
        FROM read_json({sql_literal(arguments.meta)}, format = 'newline_delimited',
                       columns = {{asin: 'VARCHAR', title: 'VARCHAR'}})""")
    connection.execute(f"""
        CREATE TABLE items AS
        WITH first AS (
            SELECT asin, arg_min(title, pos) AS title, min(pos) AS pos FROM meta
            WHERE title IS NOT NULL AND title <> '' AND title NOT IN ('unknown', 'None') GROUP BY asin),
        cleaned AS (SELECT asin, pos, {title} AS title FROM first),
        marked AS (SELECT asin, pos, CASE WHEN contains(lower(title), 'abcdefg') THEN 'unknown title'
                                          ELSE title END AS title FROM cleaned)
        SELECT asin, pos, CASE WHEN regexp_matches(title, {sql_literal(NOT_PRINTABLE)})
                                    OR NOT regexp_matches(title, '[A-Za-z]') OR length(title) < 3
                               THEN {sql_literal(DELETE_FLAG)} ELSE title END AS title
        FROM marked""")
    connection.execute(f"""
        CREATE TABLE r0 AS
        SELECT row_number() OVER () AS pos, reviewerID AS u, asin AS i, overall AS rating, unixReviewTime AS ts
        FROM read_json({sql_literal(arguments.reviews)}, format = 'newline_delimited',
                       columns = {{reviewerID: 'VARCHAR', asin: 'VARCHAR', overall: 'DOUBLE',
                                   unixReviewTime: 'BIGINT'}})
        WHERE asin IN (SELECT asin FROM items)""")
    read_seconds = time.perf_counter() - start
    count = connection.execute("SELECT count(*) FROM r0").fetchone()[0]
    passes, current = 0, "r0"
    while True:
        following = f"r{passes + 1}"
        connection.execute(f"""
            CREATE TABLE {following} AS SELECT * FROM {current}
            WHERE u IN (SELECT u FROM {current} GROUP BY u HAVING count(*) >= {USER_CORE})
              AND i IN (SELECT i FROM {current} GROUP BY i HAVING count(*) >= {ITEM_CORE})""")
        connection.execute(f"DROP TABLE {current}")
        passes, current = passes + 1, following
        kept = connection.execute(f"SELECT count(*) FROM {current}").fetchone()[0]
        if kept == count:
            break
        count = kept
    connection.execute(f"CREATE TABLE s AS SELECT *, row_number() OVER (ORDER BY ts, u, i, pos) AS o FROM {current}")
    connection.execute("CREATE TABLE um AS SELECT u, row_number() OVER (ORDER BY min(o)) AS uid FROM s GROUP BY u")
    connection.execute("CREATE TABLE im AS SELECT i, row_number() OVER (ORDER BY min(o)) AS iid FROM s GROUP BY i")
    # The official second sort by (timestamp, uid, iid) on the new ids, stable: ties keep the first order.
    connection.execute(f"""
        CREATE TABLE samples AS
        WITH e AS (
            SELECT um.uid, im.iid, s.rating, (s.rating > 4)::BIGINT AS label, s.ts, s.o
            FROM s JOIN um USING (u) JOIN im USING (i)),
        h AS (
            SELECT uid, iid, rating, label, ts, o,
                   count(*) OVER (PARTITION BY uid ORDER BY ts, iid, o
                                  ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before,
                   list(iid) OVER w AS hist_id, list(rating) OVER w AS hist_rating, list(label) OVER w AS hist_label
            FROM e
            WINDOW w AS (PARTITION BY uid ORDER BY ts, iid, o ROWS BETWEEN {HISTORY} PRECEDING AND 1 PRECEDING))
        SELECT row_number() OVER (ORDER BY ts, uid, iid, o) AS g, uid, iid, {HISTORY} AS his_len,
               hist_id::VARCHAR AS hist_id, rating, label, hist_rating::VARCHAR AS hist_rating,
               hist_label::VARCHAR AS hist_label, ts AS timestamp
        FROM h WHERE before >= {HISTORY}""")
    total = connection.execute("SELECT count(*) FROM samples").fetchone()[0]
    train, valid = int(total * 0.8), total // 10
    bounds = {"train": (0, train), "valid": (train, train + valid), "test": (train + valid, total)}
    out = pathlib.Path(arguments.out)
    out.mkdir(parents=True, exist_ok=True)
    columns = ", ".join(CSV_COLUMNS)
    for name, (low, high) in bounds.items():
        connection.execute(f"CREATE TABLE split_{name} AS SELECT {columns} FROM samples "
                           f"WHERE g > {low} AND g <= {high} ORDER BY g")
        connection.execute(f"COPY split_{name} TO {sql_literal(str(out / f'{name}.csv'))} (HEADER)")
        size = SAMPLE_SIZES[name]
        connection.execute(f"COPY (SELECT * FROM split_{name} USING SAMPLE reservoir({size} ROWS) REPEATABLE (42)) "
                           f"TO {sql_literal(str(out / f'{name}_{size}.csv'))} (HEADER)")
    connection.execute(f"""COPY (SELECT items.asin AS rawid, items.title, im.iid FROM items JOIN im ON items.asin = im.i
                           ORDER BY im.iid) TO {sql_literal(str(out / 'item.csv'))} (HEADER)""")
    users, items, interactions = connection.execute(
        "SELECT (SELECT count(*) FROM um), (SELECT count(*) FROM im), (SELECT count(*) FROM s)").fetchone()
    write_result(arguments, {
        "counts": {name: high - low for name, (low, high) in bounds.items()}, "interactions": interactions,
        "users": users, "items": items, "k_core_passes": passes, "inner_seconds": time.perf_counter() - start,
        "read_seconds": read_seconds, "notes": [], "hashes": split_hashes(out)})


# ------------------------------------------------------------------------------------------ official


def official_main(arguments) -> None:
    import importlib.util

    specification = importlib.util.spec_from_file_location("tca4rec_preprocess", ORACLE)
    module = importlib.util.module_from_spec(specification)
    specification.loader.exec_module(module)
    start = time.perf_counter()
    out = pathlib.Path(arguments.out)
    # per_row_loc: each kept review looks its item up with DataFrame.loc, as utils/preprocess.py does.
    returned = module.preprocess(arguments.reviews, arguments.meta, str(out), synthetic.CATEGORY, max_len=HISTORY,
                                 sample_sizes=tuple(SAMPLE_SIZES.values()), per_row_loc=True)
    inner = time.perf_counter() - start
    counts = find_counts(returned)
    if counts is None:
        counts = {}
        for name in ("train", "valid", "test"):
            path = next((p for p in [out / f"{name}.csv", out / synthetic.CATEGORY / f"{name}.csv"] if p.exists()), None)
            if path is not None:
                with open(path, "rb") as handle:
                    counts[name] = sum(1 for _ in handle) - 1
        counts = counts or None
    write_result(arguments, {"counts": counts, "inner_seconds": inner, "returned": returned, "notes": [],
                             "hashes": split_hashes(out)})


def find_counts(value) -> dict | None:
    """{train, valid, test} sample counts from the oracle's returned dict, wherever they sit."""
    if isinstance(value, dict):
        for prefix in ("", "n_", "num_"):
            if all(isinstance(value.get(prefix + name), int) for name in ("train", "valid", "test")):
                return {name: value[prefix + name] for name in ("train", "valid", "test")}
        for inner in value.values():
            found = find_counts(inner)
            if found:
                return found
    return None


# ------------------------------------------------------------------------------------------ shared


def split_hashes(out: pathlib.Path) -> dict:
    hashes = {}
    for name in ("train", "valid", "test"):
        path = out / f"{name}.csv"
        if path.exists():
            digest = hashlib.sha256()
            with open(path, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 22), b""):
                    digest.update(block)
            hashes[name] = digest.hexdigest()
    return hashes


def write_result(arguments, result: dict) -> None:
    pathlib.Path(arguments.result).write_text(json.dumps(result, default=str))


# ------------------------------------------------------------------------------------------ main


def dataset(work: pathlib.Path, size_gb: float, users: int, items: int, seed: int, gz: bool) -> dict:
    """The generated input (cached); generation runs in a child process."""
    command = [sys.executable, str(pathlib.Path(synthetic.__file__)), "--work", str(work), "--size-gb", f"{size_gb:g}",
               "--users", str(users), "--items", str(items), "--seed", str(seed)] + ([] if gz else ["--no-gzip"])
    cached = (synthetic.directory(work, size_gb, users, items, seed) / "info.json").exists()
    if not cached:
        print(f"generating {size_gb:g} GB of synthetic Amazon 2018 reviews ({users:,} users, {items:,} items) "
              f"under {work} …", flush=True)
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"ingest_bench: generation failed:\n{result.stderr}")
    info = json.loads(result.stdout)
    info["cached"] = cached
    return info


def warm(paths: list[pathlib.Path]) -> None:
    for path in paths:
        with open(path, "rb") as handle:
            while handle.read(1 << 24):
                pass


def best(runs: list[dict]) -> dict:
    good = [run for run in runs if run["rc"] == 0]
    return min(good, key=lambda run: run["seconds"]) if good else runs[-1]


def main(arguments) -> None:
    work = arguments.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    size = 0.05 if arguments.quick else arguments.size_gb
    users = int(synthetic.USERS_PER_GB * size)
    items = int(synthetic.ITEMS_PER_GB * size)
    info = dataset(work, size, users, items, arguments.seed, gz=True)
    root = pathlib.Path(info["root"])
    data = root / "amazon-2018" / synthetic.CATEGORY
    reviews = {"plain": data / f"{synthetic.CATEGORY}.json", "gz": data / f"{synthetic.CATEGORY}.json.gz"}
    metas = {"plain": data / f"meta_{synthetic.CATEGORY}.json", "gz": data / f"meta_{synthetic.CATEGORY}.json.gz"}
    megabytes = info["reviews_bytes"] / 1e6
    cores = arguments.cores
    scratch = pathlib.Path(tempfile.mkdtemp(prefix="run-", dir=work))
    have_tca = (BIN / "tca").exists()
    known = tca_parameters() if have_tca else {}
    print(f"Amazon 2018 synthetic {synthetic.CATEGORY}: {info['reviews_bytes'] / 1e9:.2f} GB review JSON, "
          f"{info['lines']:,} lines ({info['reviews_gz_bytes'] / 1e6:,.0f} MB as gzip -6, "
          f"{info['reviews_bytes'] / info['reviews_gz_bytes']:.2f}x), meta {info['meta_bytes'] / 1e6:,.0f} MB "
          f"({info['meta_lines']:,} lines); {info['distinct_users']:,} users and {info['distinct_items']:,} items "
          f"reviewed; official filters keep {info['k_core']:,} interactions ({info['k_core_share']:.1%}: "
          f"{info['k_core_users']:,} users, {info['k_core_items']:,} items); "
          + ("cached" if info["cached"] else f"generated in {info['seconds']:.0f} s"))
    print(f"{os.cpu_count()} cores on the machine, every method on {cores}"
          + (" (taskset)" if (os.cpu_count() or 1) > cores else "") + f"; best of {arguments.repeat}"
          + ("" if arguments.repeat == 1 else " (official: one run)"), flush=True)
    warm([*reviews.values(), *metas.values()])

    results: dict[tuple[str, str], dict] = {}
    try:
        for _ in range(arguments.repeat):
            for kind, command in [("gz", ["zcat", str(reviews["gz"])]), ("plain", ["cat", str(reviews["plain"])])]:
                results.setdefault(("floor", kind), []).append(timed_child(pinned(command, cores)))
            for kind in ("plain", "gz"):
                if have_tca:
                    results.setdefault(("ours", kind), []).append(
                        run_ours(root, reviews[kind].name, metas[kind].name, scratch, cores, known))
                for peer in ("polars", "duckdb"):
                    results.setdefault((peer, kind), []).append(
                        run_peer(peer, reviews[kind], metas[kind], scratch, cores, arguments.keep))
        if not arguments.skip_official:
            if ORACLE.exists():
                print("running the official preprocessing once (slow) …", flush=True)
                results[("official", "gz")] = [run_peer("official", reviews["gz"], metas["gz"], scratch, cores,
                                                        arguments.keep)]
            else:
                print(f"official: {ORACLE.relative_to(ROOT)} not found; skipped")
        results = {key: best(runs) for key, runs in results.items()}
        report(results, megabytes, info, have_tca)
        if arguments.memory_gb:
            memory(arguments, work, size, users, items, results.get(("ours", "plain")), info, scratch, cores, known,
                   have_tca)
    finally:
        if not arguments.keep:
            shutil.rmtree(scratch, ignore_errors=True)
        else:
            print(f"outputs kept under {scratch}")


def report(results: dict, megabytes: float, info: dict, have_tca: bool) -> None:
    def seconds(key):
        run = results.get(key)
        return run["seconds"] if run and run["rc"] == 0 else None

    def cell(key):
        run = results.get(key)
        if not run:
            return f"{'-':>8}{'-':>9}{'-':>10}"
        if run["rc"] != 0:
            return f"{'failed':>8}{'':>9}{'':>10}"
        return f"{run['seconds']:>8.2f}{megabytes / run['seconds']:>9.1f}{run['peak_rss'] / 2**20:>7,.0f} MB"

    names = {"floor": "zcat / cat", "ours": "ours (tca run)", "official": "official (pandas)",
             "polars": "polars", "duckdb": "duckdb"}
    print()
    print(f"{'':<20}{'plain JSON':^27}   {'gzip -6':^27}")
    print(f"{'method':<20}{'s':>8}{'MB/s':>9}{'peak RSS':>10}   {'s':>8}{'MB/s':>9}{'peak RSS':>10}   samples train/valid/test")
    for method in ("floor", "ours", "polars", "duckdb", "official"):
        if not any((method, kind) in results for kind in ("plain", "gz")):
            continue
        counts = next((results[(method, kind)].get("counts") for kind in ("plain", "gz")
                       if (method, kind) in results and results[(method, kind)].get("counts")), None)
        shown = "/".join(f"{counts[s]:,}" for s in ("train", "valid", "test")) if counts else ""
        print(f"{names[method]:<20}{cell((method, 'plain'))}   {cell((method, 'gz'))}   {shown}")
    print("MB/s: 10^6 bytes of decompressed review JSON per second; peak RSS: the child's max RSS")

    ratios = []
    for peer in ("official", "polars", "duckdb"):
        for kind in ("plain", "gz"):
            ours, theirs = seconds(("ours", kind)), seconds((peer, kind))
            if ours and theirs:
                ratios.append(f"{peer}/ours {kind} {theirs / ours:.2f}x")
    ours_gz, zcat = seconds(("ours", "gz")), seconds(("floor", "gz"))
    if ours_gz and zcat:
        ratios.append(f"ours.gz/zcat {ours_gz / zcat:.2f}x")
    ours_plain, cat = seconds(("ours", "plain")), seconds(("floor", "plain"))
    if ours_plain and cat:
        ratios.append(f"ours.plain/cat {ours_plain / cat:.1f}x")
    if ratios:
        print("ratios (time): " + ", ".join(ratios))
    memory_ratios = []
    for peer in ("official", "polars", "duckdb"):
        for kind in ("plain", "gz"):
            ours, theirs = results.get(("ours", kind)), results.get((peer, kind))
            if ours and theirs and ours["rc"] == 0 and theirs["rc"] == 0:
                memory_ratios.append(f"{peer}/ours {kind} {theirs['peak_rss'] / ours['peak_rss']:.1f}x")
    if memory_ratios:
        print("ratios (peak RSS): " + ", ".join(memory_ratios))

    dropped = set()
    for method in ("ours", "polars", "duckdb", "official"):
        for kind in ("plain", "gz"):
            run = results.get((method, kind))
            if not run:
                continue
            if run["rc"] != 0:
                print(f"warning: {names[method]} on {kind} failed (exit {run['rc']}): "
                      + " | ".join(run["stderr"].strip().splitlines()[-4:]))
            for note in run.get("notes") or []:
                print(f"note: {method} {kind}: {note}")
            dropped.update(run.get("dropped") or [])
            if "inner_seconds" in run:
                print(f"  {method} {kind}: {run['inner_seconds']:.2f} s inside the child"
                      + (f" (reading {run['read_seconds']:.2f} s)" if "read_seconds" in run else "")
                      + (f", {run['interactions']:,} interactions, {run['users']:,} users, {run['items']:,} items, "
                         f"{run['k_core_passes']} k-core passes" if "k_core_passes" in run else ""))
    if dropped:
        print(f"warning: this tca build does not list {', '.join(sorted(dropped))} in `tca stages`; ours ran "
              "without them (not the official preprocessing)")
    if not TIME:
        print("note: no /usr/bin/time; peak RSS from os.wait4, which counts this Python process's RSS for small "
              "children")
    if not have_tca:
        print(f"warning: {BIN / 'tca'} not found; ours not run (set TCA_BIN or build)")

    counted = {f"{method} {kind}": tuple(run["counts"][s] for s in ("train", "valid", "test"))
               for (method, kind), run in results.items() if run.get("counts")}
    failed = [f"{method} {kind}" for (method, kind), run in results.items() if method != "floor" and not run.get("counts")]
    expected = info["samples"]
    if len(set(counted.values())) > 1:
        print("warning: the sample counts differ: " + "; ".join(f"{name} {'/'.join(map(str, c))}"
                                                                for name, c in sorted(counted.items())))
    elif counted:
        agreed = next(iter(counted.values()))
        print(f"agreement: {', '.join(sorted(counted))} report the same samples per split "
              f"({'/'.join(f'{c:,}' for c in agreed)})"
              + ("" if sum(agreed) == expected else f"; warning: the generator expects {expected:,} in all"))
    if failed:
        print(f"warning: no sample counts from {', '.join(sorted(failed))}")
    hashes = {f"{method} {kind}": run["hashes"] for (method, kind), run in results.items() if run.get("hashes")}
    peers = {name: h for name, h in hashes.items() if name.split()[0] in ("polars", "duckdb") and h}
    if len(peers) > 1:
        same = len({json.dumps(h, sort_keys=True) for h in peers.values()}) == 1
        print(f"polars and duckdb train/valid/test.csv: {'byte-identical' if same else 'differ'}")
        official = hashes.get("official gz")
        if official and same:
            identical = official == next(iter(peers.values()))
            print(f"official train/valid/test.csv: {'byte-identical to' if identical else 'differ from'} polars/duckdb's")


def memory(arguments, work, size, users, items, base, info, scratch, cores, known, have_tca) -> None:
    print()
    if not have_tca or not base or base["rc"] != 0:
        print("memory: ours did not run on the base input; skipped")
        return
    big = dataset(work, arguments.memory_gb, users, items, arguments.seed, gz=False)
    data = pathlib.Path(big["root"]) / "amazon-2018" / synthetic.CATEGORY
    warm([data / f"{synthetic.CATEGORY}.json"])
    run = run_ours(pathlib.Path(big["root"]), f"{synthetic.CATEGORY}.json", f"meta_{synthetic.CATEGORY}.json",
                   scratch, cores, known)
    print(f"memory: the same {users:,} users and {items:,} items (Zipf), more lines per user in the bigger input")
    print(f"{'input':<28}{'lines':>14}{'kept':>14}{'s':>9}{'peak RSS':>12}")
    base_label, big_label = f"{size:g} GB plain", f"{arguments.memory_gb:g} GB plain"
    print(f"{base_label:<28}{info['lines']:>14,}{info['k_core']:>14,}{base['seconds']:>9.2f}"
          f"{base['peak_rss'] / 2**20:>9,.0f} MB")
    if run["rc"] != 0:
        print(f"{big_label:<28} failed: {run['stderr'].strip().splitlines()[-1:]}")
        return
    print(f"{big_label:<28}{big['lines']:>14,}{big['k_core']:>14,}{run['seconds']:>9.2f}"
          f"{run['peak_rss'] / 2**20:>9,.0f} MB")
    print(f"peak RSS grows {run['peak_rss'] / base['peak_rss']:.2f}x for {big['reviews_bytes'] / info['reviews_bytes']:.1f}x "
          f"the review bytes ({big['lines'] / info['lines']:.1f}x the lines, "
          f"{big['k_core'] / max(info['k_core'], 1):.1f}x the interactions kept)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-gb", type=float, default=1.0, help="review JSON to generate (default 1.0)")
    parser.add_argument("--quick", action="store_true", help="a 50 MB input, for a smoke run")
    parser.add_argument("--memory-gb", type=float, help="also run ours on an N GB plain input with the same users/items")
    parser.add_argument("--skip-official", action="store_true", help="do not run the official preprocessing")
    parser.add_argument("--work", type=pathlib.Path, default=WORK, help=f"cache and scratch (default {WORK})")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1, help="best of N runs (the official runs once)")
    parser.add_argument("--seed", type=int, default=2018)
    parser.add_argument("--keep", action="store_true", help="keep the peers' outputs")
    parser.add_argument("--peer", choices=["polars", "duckdb", "official"], help=argparse.SUPPRESS)
    parser.add_argument("--reviews", help=argparse.SUPPRESS)
    parser.add_argument("--meta", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    parsed = parser.parse_args()
    if parsed.peer:
        {"polars": polars_main, "duckdb": duckdb_main, "official": official_main}[parsed.peer](parsed)
    else:
        main(parsed)
