"""Time `lakecat.engine.search.rank` against SQLite's ``LIKE '%q%'`` on the same rows.

Synthetic registry-like rows with three string columns (name, description,
synonyms) at 10k and 1M rows; queries with a handful of hits and with about 10% of
rows hitting. Each timing is the median of 7 interleaved runs after a warm-up.
SQLite runs on an in-memory database and only filters (no ranking), which is the
floor a search could reach with a plain index-free scan. The load average is
printed first: other work on the machine moves the figures.

Run from the repository root:
``.venv/bin/python -m benchmarks.bench_search [--sizes 10000 1000000]``
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import time
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from lakecat.engine.search import rank

if TYPE_CHECKING:
    from collections.abc import Callable

RUNS = 7
SEED = 0
FIELDS = ["name", "description", "synonyms"]
VOCABULARY_SIZE = 2_000
# a word planted in this share of names makes the "~10% hits" query
COMMON_SHARE = 0.10
# rows that hold the rare phrase make the "few hits" query
RARE_ROWS = 5

QUERIES = {
    "few hits": "kidney epithelium",
    "few hits, typo": "kidny epithelium",
    "~10% hits": "cortex",
}


def make_rows(n: int, seed: int = SEED) -> pl.DataFrame:
    """Registry-like rows: words from a random vocabulary plus an id number."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    lengths = rng.integers(4, 11, VOCABULARY_SIZE)
    vocabulary = np.array(
        ["".join(rng.choice(letters, size)) for size in lengths], dtype=object
    )

    def phrase(words: int) -> pl.Series:
        picks = rng.integers(0, VOCABULARY_SIZE, (n, words))
        return pl.Series([" ".join(vocabulary[row]) for row in picks], dtype=pl.String)

    numbers = pl.Series(rng.integers(0, 10**7, n)).cast(pl.String)
    name = phrase(2) + " " + numbers
    common = pl.Series(rng.random(n) < COMMON_SHARE)
    name = pl.select(pl.when(common).then(name + " cortex").otherwise(name)).to_series()
    rare = rng.choice(n, RARE_ROWS, replace=False)
    name = name.scatter(rare, [f"Kidney epithelium {i}" for i in range(RARE_ROWS)])

    synonyms = phrase(2) + "|" + phrase(1) + "|" + phrase(1).str.to_uppercase()
    return pl.DataFrame(
        {
            "id": np.arange(1, n + 1),
            "name": name,
            "description": phrase(6),
            "synonyms": synonyms,
        }
    )


def sqlite_search(rows: pl.DataFrame) -> Callable[[str], list]:
    """An in-memory SQLite table of `rows` and a LIKE search over the fields."""
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name, description, synonyms)")
    db.executemany("INSERT INTO t VALUES (?, ?, ?, ?)", rows.iter_rows())
    where = " OR ".join(f"{f} LIKE ? ESCAPE '\\'" for f in FIELDS)
    sql = f"SELECT * FROM t WHERE {where}"

    def search(query: str) -> list:
        escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return db.execute(sql, [f"%{escaped}%"] * len(FIELDS)).fetchall()

    return search


def median_ms(calls: list[Callable[[], object]]) -> list[float]:
    """Median wall time of each call in milliseconds over `RUNS` interleaved rounds."""
    for call in calls:
        call()  # warm up: lazy imports, caches
    times: list[list[float]] = [[] for _ in calls]
    for _ in range(RUNS):
        # interleaved, so that load from other work hits every contender alike
        for call, spent in zip(calls, times, strict=True):
            start = time.perf_counter()
            call()
            spent.append(time.perf_counter() - start)
    return [statistics.median(spent) * 1000 for spent in times]


def measure(rows: pl.DataFrame, like: Callable[[str], list], query: str) -> tuple:
    """Hits and median milliseconds of rank, rank without typos, and SQLite."""
    ranked, literal, sql = median_ms(
        [
            lambda: rank(rows, query, FIELDS),
            lambda: rank(rows, query, FIELDS, typo_tolerance=False),
            lambda: like(query),
        ]
    )

    # same rows as SQLite: the data is ASCII, where LIKE folds case as we do
    hits = len(like(query))
    every = rank(rows, query, FIELDS, limit=None, typo_tolerance=False)
    assert every.height == hits, (every.height, hits)
    return hits, ranked, literal, sql


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000])
    args = parser.parse_args()

    header = (
        f"{'rows':>9}  {'query':<16} {'hits':>7}  {'rank ms':>8}  "
        f"{'no typo ms':>10}  {'sqlite ms':>9}  {'rank/sqlite':>11}"
    )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"cpus {os.cpu_count()}, load average {load}, polars {pl.__version__}")
    print(header)
    print("-" * len(header))
    for n in args.sizes:
        rows = make_rows(n)
        like = sqlite_search(rows)
        for label, query in QUERIES.items():
            hits, ranked, literal, sql = measure(rows, like, query)
            print(
                f"{n:>9}  {label:<16} {hits:>7}  {ranked:>8.1f}  {literal:>10.1f}  "
                f"{sql:>9.1f}  {ranked / sql:>11.2f}"
            )


if __name__ == "__main__":
    main()
