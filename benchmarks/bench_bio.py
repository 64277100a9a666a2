"""Bio module: ontology imports, search on whole ontologies, gene validation.

Each figure is the median of several runs; baselines in the same run: SQLite
`LIKE` over the same names and synonyms (all matches, unranked), and a Python set
for validation.

    python benchmarks/bench_bio.py
"""

from __future__ import annotations

import os
import sqlite3
import statistics
import sys
import tempfile
import time

os.environ.setdefault("LAKECAT_VERBOSITY", "WARNING")
os.environ["LAKECAT_HOME"] = tempfile.mkdtemp(prefix="lakecat-bench-home-")

import lakecat as lc
import lakecat.bio as bt

RUNS = 7


def median_ms(fn, runs: int = RUNS) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def sqlite_like(rows: list[tuple[str, str | None]], query: str):
    db = sqlite3.connect(":memory:")
    db.execute("create table t (id integer primary key, name text, synonyms text)")
    db.executemany("insert into t (name, synonyms) values (?, ?)", rows)
    pattern = f"%{query}%"

    def run():
        return db.execute(
            "select id from t where name like ? or synonyms like ?", (pattern, pattern)
        ).fetchall()

    return run


def main() -> int:
    root = tempfile.mkdtemp(prefix="lakecat-bench-bio-") + "/catalog"
    lc.init(storage=root, modules=["bio"])
    print(f"{'step':<44}{'median ms':>12}{'baseline ms':>14}{'ratio':>8}")

    imports = {}
    for registry in (bt.CellType, bt.Tissue, bt.Disease):
        start = time.perf_counter()
        n = registry.import_source()
        imports[registry.__name__] = (n, (time.perf_counter() - start) * 1000)
    for name, (n, ms) in imports.items():
        print(
            f"{'import_source ' + name + f' ({n} terms)':<44}{ms:>12.1f}{'':>14}{'':>8}"
        )

    public = bt.Disease.public()
    public.search("alzheimer")  # warm the frame
    for query in ("alzheimer", "carcinoma"):
        ms = median_ms(lambda q=query: public.search(q, limit=20))
        print(
            f"{'Disease.public().search(' + repr(query) + ')':<44}{ms:>12.1f}{'':>14}{'':>8}"
        )

    names = bt.Disease.filter().values_list("name", "synonyms")
    for query in ("alzheimer", "carcinoma"):
        baseline = median_ms(sqlite_like(names, query))
        bt.Disease.search(query).to_list()
        ms = median_ms(lambda q=query: bt.Disease.search(q).to_list())
        print(
            f"{'Disease.search(' + repr(query) + ')':<44}{ms:>12.1f}{baseline:>14.2f}{ms / baseline:>8.1f}"
        )
    cells = bt.CellType.filter().values_list("name", "synonyms")
    baseline = median_ms(sqlite_like(cells, "t cell"))
    ms = median_ms(lambda: bt.CellType.search("t cell").to_list())
    label = "CellType.search('t cell')"
    print(f"{label:<44}{ms:>12.1f}{baseline:>14.2f}{ms / baseline:>8.1f}")

    bt.Gene.import_source()
    symbols = (
        bt.Gene.public().frame["symbol"].drop_nulls().unique().head(20_000).to_list()
    )
    known = set(bt.Gene.filter().values_list("symbol", flat=True))
    baseline = median_ms(lambda: [s in known for s in symbols])
    bt.Gene.validate(symbols)
    ms = median_ms(lambda: bt.Gene.validate(symbols))
    print(
        f"{'Gene.validate(20k symbols)':<44}{ms:>12.1f}{baseline:>14.2f}{ms / baseline:>8.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
