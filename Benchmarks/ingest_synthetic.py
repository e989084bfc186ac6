"""A synthetic Amazon 2018 category (reviews + meta as JSON lines, plain and gzip -6) for ingest_bench.py.

Deterministic for given (size, users, items, seed): review lines in the real key order and fields of
the 2018 dump (`overall, [vote,] verified, reviewTime, reviewerID, asin, [style,] reviewerName,
reviewText, summary, unixReviewTime`, a few with `image` first or in the older field order), users and
items drawn with Zipf-like popularity (rank r has weight 1 / (r + 10)^a: users a = 0.8, items 0.9),
review days over 2000–2018 with more recent years denser (day granularity, so many ties in time), review
text from a Zipf vocabulary of common English words and syllable-built ones (gzip -6 compresses the
file about 3.5x, like the real files), occasional JSON escapes (\\" \\\\ \\n \\u00e9 \\u2019 and
emoji as surrogate pairs). The meta file has a line for about 97 % of the reviewed items plus some never
reviewed, titles for about 95 % of its lines (some with entities, escapes, non-ASCII or longer than 50
characters), brands, categories, and about 1.5 % duplicated asins.

    .venv/bin/python Benchmarks/ingest_synthetic.py --size-gb 1.0 --work Benchmarks/.work/ingest

writes <work>/<key>/amazon-2018/Office_Products/{Office_Products.json[.gz], meta_Office_Products.json[.gz]}
and <work>/<key>/info.json (sizes, line counts, users and items, the share of interactions that survive
the official filters), where <key> names the generation parameters; an existing complete one is reused.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import subprocess
import sys
import time

import numpy as np

VERSION = 2
CATEGORY = "Office_Products"
USERS_PER_GB = 500_000
ITEMS_PER_GB = 100_000
CHUNK_LINES = 100_000
PHRASES_MEDIAN = 8.5
USER_EXPONENT, ITEM_EXPONENT, RANK_OFFSET = 0.8, 0.9, 10

COMMON = (
    "the I and a to it is this for of my was in that with not but on have you very they are so great "
    "as be one use just had would good all can like at well if an or product these them it's out when "
    "from does more than time only will get work used really works up what nice had easy after much "
    "little quality no love price some which there were other because also about do been bought well "
    "recommend perfect did back has pen paper ink printer desk office chair size color better first me "
    "your we well could make any even two set still fit buy over made looks pens each still cheap again "
    "around enough small right since need using happy value box long off never same see into then way "
    "expected ordered arrived day loves fine now too many excellent far best purchase years what's "
    "don't doesn't didn't can't isn't cartridge stapler notebook folder labels tape binder calendar"
).split()
SYLLABLES = ("ba be bi bo bu ca co cu da de di do fa fe fi fo ga ge go ha he hi ho ka ke ki ko la le li lo "
             "lu ma me mi mo mu na ne ni no pa pe pi po ra re ri ro ru sa se si so su ta te ti to tu va ve "
             "vi vo wa we wi za ze zo ar er ir or ur al el il ol an en in on un st tr pr pl br gr cl sh th "
             "ch ck ng ss ll tt nt rt").split()
ESCAPED = ['\\"great\\"', '8.5\\"', '\\\\', 'caf\\u00e9', '\\ud83d\\ude0a', '\\ud83d\\udc4d', 'it\\u2019s',
           '\\n', '\\n\\n', 'd\\u00e9cor', '\\"best\\"', '12\\"']
SUMMARIES = ["Five Stars", "Four Stars", "Three Stars", "Two Stars", "One Star", "Great product", "Love it",
             "Great", "Works great", "Perfect", "Nice", "Good product", "Excellent", "As described",
             "Great value", "Not what I expected", "Disappointed", "Good quality", "Very nice", "Awesome"]
STYLES = ['{"Color:": " Black"}', '{"Color:": " Blue"}', '{"Size:": " 1 Pack"}', '{"Size:": " Small"}',
          '{"Color:": " Red", "Size:": " 12 Count"}', '{"Style:": " Standard"}', '{"Package Quantity:": " 1"}',
          '{"Size:": " 8.5\\" x 11\\""}', '{"Color:": " Assorted"}', '{"Style Name:": " Wide Ruled"}',
          '{"Format:": " Paperback"}', '{"Size:": " Pack of 2", "Color:": " White"}']
FIRST_NAMES = ("John Mary James Linda Robert Susan Michael Karen David Lisa William Nancy Richard Betty Joe "
               "Sandra Tom Donna Chris Carol Mark Ruth Paul Sharon Steve Laura Kevin Amy Brian Anna Jos\\u00e9 "
               "Ren\\u00e9e Zo\\u00eb").split()
BRANDS = ["AmazonBasics", "Avery", "BIC", "Sharpie", "Pilot", "Post-it", "Swingline", "Scotch", "Staples",
          "HP", "Canon", "Epson", "Brother", "Pentel", "Paper Mate", "Mead", "Five Star", "Fellowes", "3M",
          "Smead", "Uni-ball", "Expo", "Elmer's", "Bostitch", "Texas Instruments", "Casio", "Moleskine",
          "Rocketbook", "Zebra", "Crayola", "Ticonderoga", "Duck", "Oxford", "Cambridge", "Quartet", "ACCO"]


def zipf_cdf(n: int, exponent: float, offset: float = RANK_OFFSET) -> np.ndarray:
    weights = 1.0 / (np.arange(n, dtype=np.float64) + offset) ** exponent
    cdf = np.cumsum(weights)
    return cdf / cdf[-1]


def draw(rng: np.random.Generator, cdf: np.ndarray, count: int) -> np.ndarray:
    return np.minimum(np.searchsorted(cdf, rng.random(count)), len(cdf) - 1)


def random_strings(rng: np.random.Generator, count: int, length: int, alphabet: bytes) -> list[str]:
    table = np.frombuffer(alphabet, dtype=np.uint8)
    codes = table[rng.integers(0, len(table), size=(count, length))]
    return [bytes(row).decode() for row in codes.view(f"S{length}").ravel()]


class Vocabulary:
    """Words with Zipf weights (common English first, then syllable-built), with punctuation, capitals
    and a few JSON-escaped tokens as extra entries; `text` cuts one token stream into per-line texts."""

    def __init__(self, rng: np.random.Generator, size: int = 40_000):
        words = list(dict.fromkeys(COMMON))
        syllables = np.array(SYLLABLES, dtype=object)
        seen = set(words)
        while len(words) < size:
            parts = syllables[rng.integers(0, len(syllables), size=rng.integers(2, 5))]
            word = "".join(parts)
            if word not in seen:
                seen.add(word)
                words.append(word)
        base = 1.0 / (np.arange(len(words)) + 2.7) ** 1.0
        forms, weights = [], []
        for share, make in [(0.80, lambda w: w), (0.07, lambda w: w + "."), (0.05, lambda w: w + ","),
                            (0.05, lambda w: w[:1].upper() + w[1:]), (0.02, lambda w: w + "!"),
                            (0.01, lambda w: w.upper())]:
            forms.extend(make(word) for word in words)
            weights.append(base * share)
        weights = np.concatenate(weights)
        escaped = np.full(len(ESCAPED), weights.sum() * 4e-4)
        forms.extend(ESCAPED)
        weights = np.concatenate([weights, escaped])
        self.words = np.array(forms, dtype=object)
        self.lengths = np.array([len(word) + 1 for word in forms], dtype=np.int64)
        self.cdf = np.cumsum(weights) / weights.sum()

    def texts(self, rng: np.random.Generator, counts: np.ndarray) -> list[str]:
        """One text of counts[k] words per k."""
        return self._cut(draw(rng, self.cdf, int(counts.sum())), counts, self.words, self.lengths)

    def build_phrases(self, rng: np.random.Generator, count: int = 60_000, exponent: float = 1.0) -> None:
        """A pool of 1–5 word phrases with Zipf weights, so frequent phrases repeat within gzip's window as
        real review language does; `review_texts` draws from it through a lookup table (fast)."""
        self.phrases = np.array(self.texts(rng, rng.integers(1, 6, size=count)), dtype=object)
        self.phrase_lengths = np.array([len(p) + 1 for p in self.phrases.tolist()], dtype=np.int64)
        cdf = zipf_cdf(count, exponent, 5)
        self.phrase_table = np.minimum(np.searchsorted(cdf, (np.arange(1 << 22) + 0.5) / (1 << 22)), count - 1)

    def review_texts(self, rng: np.random.Generator, counts: np.ndarray) -> list[str]:
        """One text of counts[k] phrases per k."""
        tokens = self.phrase_table[rng.integers(0, 1 << 22, size=int(counts.sum()))]
        return self._cut(tokens, counts, self.phrases, self.phrase_lengths)

    @staticmethod
    def _cut(tokens: np.ndarray, counts: np.ndarray, words: np.ndarray, lengths: np.ndarray) -> list[str]:
        joined = " ".join(words[tokens].tolist())
        ends = np.concatenate([[0], np.cumsum(lengths[tokens])])
        bounds = np.concatenate([[0], np.cumsum(counts)])
        starts, stops = ends[bounds[:-1]].tolist(), (ends[bounds[1:]] - 1).tolist()
        return [joined[a:b] for a, b in zip(starts, stops)]


class Generator:
    def __init__(self, users: int, items: int, seed: int):
        setup = np.random.default_rng([seed, 0])
        self.seed = seed
        self.user_ids = [f"A{s}" for s in random_strings(setup, users, 13, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")]
        books = setup.random(items) < 0.08
        asins = random_strings(setup, items, 8, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        digits = random_strings(setup, items, 10, b"0123456789")
        self.asins = [digits[k] if books[k] else f"B0{asins[k]}" for k in range(items)]
        if len(set(self.user_ids)) != users or len(set(self.asins)) != items:
            raise SystemExit("ingest_synthetic: id collision; choose another seed")
        self.user_cdf = zipf_cdf(users, USER_EXPONENT)
        self.item_cdf = zipf_cdf(items, ITEM_EXPONENT)
        names = [f"{first} {last}" for first in FIRST_NAMES for last in
                 ["Smith", "J.", "K", "Miller", "Brown", "Lee", "Garcia", "O'Neil", "W.", "Nguyen", "Davis"]]
        names += ["Amazon Customer"] * 40 + ["Kindle Customer"] * 4 + ["Reader", "Teacher", "Mom of 3"]
        picks = setup.integers(0, len(names), size=users)
        self.user_names = [names[k] for k in picks]
        first = datetime.date(2000, 1, 1)
        self.days = (datetime.date(2018, 10, 1) - first).days
        dates = [first + datetime.timedelta(days=d) for d in range(self.days)]
        self.review_times = [f"{d.month:02d} {d.day}, {d.year}" for d in dates]
        self.unix_days = [int(datetime.datetime(d.year, d.month, d.day, tzinfo=datetime.timezone.utc).timestamp())
                          for d in dates]
        day_weights = np.exp(np.arange(self.days) / (365.0 * 2.5))
        self.day_cdf = np.cumsum(day_weights) / day_weights.sum()
        self.vocabulary = Vocabulary(setup)
        self.vocabulary.build_phrases(setup)
        summary_words = self.vocabulary.texts(setup, setup.integers(1, 6, size=30_000))
        self.summaries = np.array(SUMMARIES + [s[:1].upper() + s[1:] for s in summary_words], dtype=object)
        summary_weights = np.concatenate([np.full(len(SUMMARIES), 40.0), np.ones(len(summary_words))])
        self.summary_cdf = np.cumsum(summary_weights) / summary_weights.sum()

    def reviews(self, chunk: int, count: int) -> tuple[bytes, np.ndarray, np.ndarray]:
        """`count` review lines of chunk `chunk` (its own seeded stream) and their user and item ranks."""
        rng = np.random.default_rng([self.seed, 1, chunk])
        users = draw(rng, self.user_cdf, count)
        items = draw(rng, self.item_cdf, count)
        days = draw(rng, self.day_cdf, count).tolist()
        ratings = np.array(["5.0", "4.0", "3.0", "2.0", "1.0"], dtype=object)[
            np.searchsorted(np.cumsum([0.60, 0.20, 0.08, 0.05, 0.07]), rng.random(count) * 0.99999)].tolist()
        verified = np.where(rng.random(count) < 0.85, "true", "false").tolist()
        phrase_counts = np.clip(rng.lognormal(np.log(PHRASES_MEDIAN), 0.95, size=count), 1, 700).astype(np.int64)
        texts = self.vocabulary.review_texts(rng, phrase_counts)
        summaries = self.summaries[draw(rng, self.summary_cdf, count)].tolist()
        votes = [""] * count
        for k in np.flatnonzero(rng.random(count) < 0.12).tolist():
            votes[k] = f'"vote": "{int(rng.geometric(0.3)) + 1}", '
        styles = [""] * count
        for k, s in zip(np.flatnonzero(rng.random(count) < 0.55).tolist(), rng.integers(0, len(STYLES), count).tolist()):
            styles[k] = f'"style": {STYLES[s]}, '
        user_ids = [self.user_ids[u] for u in users.tolist()]
        names = [self.user_names[u] for u in users.tolist()]
        asins = [self.asins[i] for i in items.tolist()]
        times, unix = self.review_times, self.unix_days
        lines = [
            f'{{"overall": {r}, {v}"verified": {ve}, "reviewTime": "{times[d]}", "reviewerID": "{u}", '
            f'"asin": "{a}", {s}"reviewerName": "{n}", "reviewText": "{t}", "summary": "{m}", '
            f'"unixReviewTime": {unix[d]}}}'
            for r, v, ve, d, u, a, s, n, t, m in zip(ratings, votes, verified, days, user_ids, asins, styles, names,
                                                     texts, summaries)]
        variants = rng.random(count)
        for k in np.flatnonzero(variants < 0.03).tolist():  # the older field order of some 2018 lines
            d = days[k]
            lines[k] = (f'{{"reviewerID": "{user_ids[k]}", "asin": "{asins[k]}", "reviewerName": "{names[k]}", '
                        f'"verified": {verified[k]}, "reviewText": "{texts[k]}", "overall": {ratings[k]}, '
                        f'"reviewTime": "{times[d]}", "summary": "{summaries[k]}", "unixReviewTime": {unix[d]}}}')
        for k in np.flatnonzero((variants >= 0.03) & (variants < 0.045)).tolist():
            lines[k] = ('{"image": ["https://images-na.ssl-images-amazon.com/images/I/'
                        f'{asins[k][-6:]}{k % 97}L._SY88.jpg"], ' + lines[k][1:])
        for k in np.flatnonzero((variants >= 0.045) & (variants < 0.048)).tolist():  # no reviewText
            lines[k] = lines[k].replace(f', "reviewText": "{texts[k]}"', "", 1)
        return ("\n".join(lines) + "\n").encode(), users, items

    def meta(self) -> tuple[bytes, np.ndarray]:
        """The meta lines and, per item rank, whether the official filter keeps it (a line with a title)."""
        rng = np.random.default_rng([self.seed, 2])
        items = len(self.asins)
        present = rng.random(items) < 0.97
        titled = present & (rng.random(items) < 0.95)
        extra = [f"B0{s}" for s in random_strings(rng, items // 10, 8, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")]
        known = set(self.asins)
        extra = [a for a in extra if a not in known]
        order = [(self.asins[k], bool(titled[k])) for k in np.flatnonzero(present).tolist()]
        order += [(a, bool(rng.random() < 0.95)) for a in extra]
        duplicates = [order[k] for k in rng.integers(0, len(order), size=len(order) * 3 // 200).tolist()]
        order += duplicates
        permutation = rng.permutation(len(order)).tolist()
        order = [order[k] for k in permutation]
        count = len(order)
        vocabulary = self.vocabulary
        title_words = vocabulary.texts(rng, rng.integers(3, 16, size=count))
        descriptions = vocabulary.texts(rng, np.clip(rng.lognormal(np.log(25), 0.8, size=count), 3, 300).astype(np.int64))
        features = vocabulary.texts(rng, rng.integers(4, 20, size=count * 2))
        brands = rng.integers(0, len(BRANDS), size=count).tolist()
        specials = rng.random(count)
        lines = []
        titled_asins = set()
        for k, (asin, has_title) in enumerate(order):
            brand = BRANDS[brands[k]]
            title = ""
            if has_title:
                words = title_words[k].replace("\\n", "").replace("\\\\", "")
                title = f"{brand} {words[:1].upper()}{words[1:]}"
                s = specials[k]
                if s < 0.03:
                    title = title.replace(" ", " &amp; ", 1)
                elif s < 0.05:
                    title += ", 8.5\\\" x 11\\\", 100 Sheets"
                elif s < 0.06:
                    title += " \\u2122 Edition"
                elif s < 0.065:
                    title = "Caf\\u00e9 " + title
                elif s < 0.07:
                    title = "unknown"
            if title not in ("", "unknown", "None"):
                titled_asins.add(asin)
            also = [self.asins[j] for j in rng.integers(0, items, size=int(rng.integers(0, 6))).tolist()]
            lines.append(
                f'{{"category": ["Office Products", "Office & School Supplies", "Writing & Correction Supplies"], '
                f'"tech1": "", "description": ["{descriptions[k]}"], "fit": "", "title": "{title}", '
                f'"also_buy": {json.dumps(also)}, "image": [], "tech2": "", "brand": "{brand}", '
                f'"feature": ["{features[2 * k]}", "{features[2 * k + 1]}"], '
                f'"rank": "{int(rng.integers(1, 900_000)):,} in Office Products (", "also_view": [], '
                f'"details": {{"ASIN: ": "{asin}"}}, "main_cat": "Office Products", "similar_item": "", '
                f'"date": "", "price": "${int(rng.integers(1, 90))}.99", "asin": "{asin}"}}')
        keeps = np.array([asin in titled_asins for asin in self.asins], dtype=bool)
        return ("\n".join(lines) + "\n").encode(), keeps


def survival(users: np.ndarray, items: np.ndarray, keeps: np.ndarray, user_core: int = 10,
             item_core: int = 5) -> dict:
    """The official filters on the generated ranks: reviews of items with a meta title, then k-core."""
    kept = keeps[items]
    u, i = users[kept], items[kept]
    alive = np.ones(len(u), dtype=bool)
    while True:
        user_counts = np.bincount(u[alive], minlength=int(users.max()) + 1)
        item_counts = np.bincount(i[alive], minlength=len(keeps))
        new = alive & (user_counts[u] >= user_core) & (item_counts[i] >= item_core)
        if new.sum() == alive.sum():
            break
        alive = new
    final = int(alive.sum())
    final_users = int(len(np.unique(u[alive])))
    return {"lines": int(len(users)), "with_titled_item": int(kept.sum()), "k_core": final,
            "k_core_share": final / len(users), "k_core_users": final_users,
            "k_core_items": int(len(np.unique(i[alive]))), "samples": final - 10 * final_users,
            "distinct_users": int(len(np.unique(users))), "distinct_items": int(len(np.unique(items)))}


def key(size_gb: float, users: int, items: int, seed: int) -> str:
    return f"v{VERSION}-{size_gb:g}gb-u{users}-i{items}-s{seed}"


def directory(work: pathlib.Path, size_gb: float, users: int, items: int, seed: int) -> pathlib.Path:
    return work / key(size_gb, users, items, seed)


def generate(work: pathlib.Path, size_gb: float, users: int, items: int, seed: int, gz: bool) -> dict:
    root = directory(work, size_gb, users, items, seed)
    data = root / "amazon-2018" / CATEGORY
    info_path = root / "info.json"
    if info_path.exists():
        info = json.loads(info_path.read_text())
        if not gz or info.get("gz"):
            return info
        compress_existing(data, info)
        info_path.write_text(json.dumps(info, indent=2))
        return info
    data.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    generator = Generator(users, items, seed)
    meta, keeps = generator.meta()
    (data / f"meta_{CATEGORY}.json").write_bytes(meta)
    target = int(size_gb * 1e9)
    reviews_path = data / f"{CATEGORY}.json"
    gzip_process = None
    if gz:
        gzip_file = open(data / f"{CATEGORY}.json.gz.partial", "wb")
        gzip_process = subprocess.Popen(["gzip", "-6", "-c"], stdin=subprocess.PIPE, stdout=gzip_file)
    written, chunk, user_ranks, item_ranks = 0, 0, [], []
    with open(reviews_path, "wb") as out:
        while written < target:
            block, users_drawn, items_drawn = generator.reviews(chunk, CHUNK_LINES)
            if written + len(block) > target:  # cut the last chunk at a line end
                cut = block.rfind(b"\n", 0, target - written) + 1 or block.find(b"\n") + 1
                lines = block[:cut].count(b"\n")
                block, users_drawn, items_drawn = block[:cut], users_drawn[:lines], items_drawn[:lines]
            out.write(block)
            if gzip_process:
                gzip_process.stdin.write(block)
            written += len(block)
            user_ranks.append(users_drawn.astype(np.int32))
            item_ranks.append(items_drawn.astype(np.int32))
            chunk += 1
    generated = time.perf_counter() - start
    if gzip_process:
        gzip_process.stdin.close()
        gzip_process.wait()
        gzip_file.close()
        os.replace(data / f"{CATEGORY}.json.gz.partial", data / f"{CATEGORY}.json.gz")
    info = {
        "version": VERSION, "size_gb": size_gb, "users": users, "items": items, "seed": seed,
        "category": CATEGORY, "reviews_bytes": written, "meta_bytes": len(meta),
        "meta_lines": meta.count(b"\n"), "titled_items": int(keeps.sum()),
        "generate_seconds": generated, "seconds": time.perf_counter() - start,
        **survival(np.concatenate(user_ranks), np.concatenate(item_ranks), keeps),
    }
    if gz:
        compress_meta(data)
        info["gz"] = True
        info["reviews_gz_bytes"] = (data / f"{CATEGORY}.json.gz").stat().st_size
        info["meta_gz_bytes"] = (data / f"meta_{CATEGORY}.json.gz").stat().st_size
    info_path.write_text(json.dumps(info, indent=2))
    return info


def compress_meta(data: pathlib.Path) -> None:
    with open(data / f"meta_{CATEGORY}.json.gz.partial", "wb") as out:
        subprocess.run(["gzip", "-6", "-c", str(data / f"meta_{CATEGORY}.json")], stdout=out, check=True)
    os.replace(data / f"meta_{CATEGORY}.json.gz.partial", data / f"meta_{CATEGORY}.json.gz")


def compress_existing(data: pathlib.Path, info: dict) -> None:
    with open(data / f"{CATEGORY}.json.gz.partial", "wb") as out:
        subprocess.run(["gzip", "-6", "-c", str(data / f"{CATEGORY}.json")], stdout=out, check=True)
    os.replace(data / f"{CATEGORY}.json.gz.partial", data / f"{CATEGORY}.json.gz")
    compress_meta(data)
    info["gz"] = True
    info["reviews_gz_bytes"] = (data / f"{CATEGORY}.json.gz").stat().st_size
    info["meta_gz_bytes"] = (data / f"meta_{CATEGORY}.json.gz").stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=pathlib.Path, default=pathlib.Path(__file__).resolve().parent / ".work" / "ingest")
    parser.add_argument("--size-gb", type=float, default=1.0)
    parser.add_argument("--users", type=int, help=f"default {USERS_PER_GB:,} per GB")
    parser.add_argument("--items", type=int, help=f"default {ITEMS_PER_GB:,} per GB")
    parser.add_argument("--seed", type=int, default=2018)
    parser.add_argument("--no-gzip", action="store_true")
    arguments = parser.parse_args()
    users = arguments.users or int(USERS_PER_GB * arguments.size_gb)
    items = arguments.items or int(ITEMS_PER_GB * arguments.size_gb)
    info = generate(arguments.work.resolve(), arguments.size_gb, users, items, arguments.seed, not arguments.no_gzip)
    info["root"] = str(directory(arguments.work.resolve(), arguments.size_gb, users, items, arguments.seed))
    json.dump(info, sys.stdout)


if __name__ == "__main__":
    main()
