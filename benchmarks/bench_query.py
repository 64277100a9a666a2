"""Time lakecat queries against hand-written Polars and indexed SQLite on the same rows.

A catalog of N artifacts is written in bulk through the engine (one Delta commit
per table): realistic columns, N/100 records, and two record links per artifact
in `artifact_record`; 1% of artifacts are trashed and 0.1% are run reports, so
default scoping has work to do. Each query then runs three ways on the same
rows, warm (the tables already in memory):

- lakecat: the public API (`lc.Artifact.filter(...).to_polars()`, `.get()`,
  `.count()`), compiled and evaluated per call;
- polars: the same query written by hand over the very frames lakecat holds, with
  the same default scoping: the floor lakecat's engine can reach;
- sqlite: stdlib `sqlite3` in memory with an index on every filtered column.

Every engine returns the matching rows (the full rows, ordered where the query
orders), so the work compared is the same. Medians of RUNS warm runs after two
warm-ups; the engines take turns run by run, so background load hits all alike.
Also measured: a fresh process (import, connect, one filter) and, in a separate
process that only runs the lakecat queries, its peak resident memory.

Run from the repository root:
``.venv/bin/python benchmarks/bench_query.py [--n 10000] [--n 1000000]``
"""

from __future__ import annotations

import argparse
import inspect
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import polars as pl

RUNS = 9
WARMUPS = 2
SEED = 0
SUFFIXES = [".h5ad", ".parquet", ".csv", ".fastq.gz", ".jpg", ".zarr"]
STUDIES = 997
PROJECTS = 1000
LINKS_PER_ARTIFACT = 2
TARGETS_MS = {10_000: 5.0, 1_000_000: 100.0}
BASE62 = np.frombuffer(
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", dtype=np.uint8
)


def random_uids(
    rng: np.random.Generator, n: int, length: int, suffix: str
) -> pl.Series:
    """`n` random base62 uids of `length` characters plus a fixed suffix."""
    codes = BASE62[rng.integers(0, 62, (n, length))]
    stems = codes.view(f"S{length}").ravel().astype(str)
    return pl.Series("uid", stems, dtype=pl.String) + suffix


def build(root: Path, n: int) -> dict[str, float]:
    """A catalog at `root` with `n` artifacts; returns timings of the build."""
    import lakecat as lc

    timings = {}
    start = time.perf_counter()
    catalog = lc.init(storage=root, user="bench", user_name="Bench User")
    rng = np.random.default_rng(SEED)
    ids = catalog.ids.allocate("artifact", n, catalog.tables.max_id("artifact"))
    i = pl.Series("i", np.arange(n))
    suffix = pl.Series(np.array(SUFFIXES)[rng.integers(0, len(SUFFIXES), n)])
    t0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
    created = pl.Series(np.arange(n) * 1_000_000).cast(pl.Duration("us")) + t0
    draw = rng.random(n)
    kind = pl.Series(np.where(draw < 0.8, "dataset", "")).replace("", None)
    kind = pl.select(
        pl.when(pl.Series(draw > 0.999)).then(pl.lit("__lamindb_run__")).otherwise(kind)
    ).to_series()
    branch = np.where(rng.random(n) < 0.01, -1, 1)
    artifacts = pl.DataFrame(
        {
            "id": pl.Series(ids, dtype=pl.Int64),
            "uid": random_uids(rng, n, 16, "0000"),
            "key": "project_"
            + (i % PROJECTS).cast(pl.String)
            + "/sample_"
            + i.cast(pl.String)
            + "/data"
            + suffix,
            "description": "Sample " + i.cast(pl.String) + " from study S"
            + (i % STUDIES).cast(pl.String) + ".",
            "suffix": suffix,
            "kind": kind,
            "otype": pl.select(pl.when(suffix == ".h5ad").then(pl.lit("AnnData"))).to_series(),
            "size": pl.Series(rng.integers(0, 10**9, n)),
            "hash": random_uids(rng, n, 22, ""),
            "n_observations": pl.Series(rng.integers(1, 10**6, n)),
            "_hash_type": "md5",
            "_key_is_virtual": True,
            "_overwrite_versions": False,
            "space_id": 1,
            "storage_id": 1,
            "is_latest": True,
            "is_locked": False,
            "created_at": created,
            "created_by_id": 1,
            "branch_id": pl.Series(branch),
            "updated_at": created,
        }
    )  # fmt: skip
    n_records = max(n // 100, 10)
    record_ids = catalog.ids.allocate(
        "record", n_records, catalog.tables.max_id("record")
    )
    j = pl.Series(np.arange(n_records))
    records = pl.DataFrame(
        {
            "id": pl.Series(record_ids, dtype=pl.Int64),
            "uid": random_uids(rng, n_records, 16, ""),
            "name": "record_" + j.cast(pl.String),
            "is_type": False,
            "space_id": 1,
            "is_locked": False,
            "created_at": t0,
            "created_by_id": 1,
            "branch_id": 1,
            "updated_at": t0,
        }
    )
    n_links = n * LINKS_PER_ARTIFACT
    link_ids = catalog.ids.allocate("artifact_record", n_links, 0)
    links = pl.DataFrame(
        {
            "id": pl.Series(link_ids, dtype=pl.Int64),
            "artifact_id": artifacts["id"].gather(
                np.repeat(np.arange(n), LINKS_PER_ARTIFACT)
            ),
            "record_id": records["id"].gather(rng.integers(0, n_records, n_links)),
            "created_at": t0,
        }
    )
    timings["frames"] = time.perf_counter() - start
    start = time.perf_counter()
    catalog.tables.append("artifact", artifacts)
    catalog.tables.append("record", records)
    catalog.tables.append("artifact_record", links)
    timings["write"] = time.perf_counter() - start
    return timings


def queries(n: int, sample_uid: str) -> dict[str, str]:
    """lakecat source of each benchmark query."""
    size = int(0.9 * 10**9)
    return {
        "key startswith": 'lc.Artifact.filter(key__startswith="project_7/").to_polars()',
        "description icontains": (
            'lc.Artifact.filter(description__icontains="FROM STUDY S42.").to_polars()'
        ),
        "size > x": f"lc.Artifact.filter(size__gt={size}).to_polars()",
        "suffix in [...]": (
            'lc.Artifact.filter(suffix__in=[".h5ad", ".zarr"]).to_polars()'
        ),
        "records__name": 'lc.Artifact.filter(records__name="record_7").to_polars()',
        'order_by("-created_at")[:100]': (
            'lc.Artifact.filter().order_by("-created_at")[:100].to_polars()'
        ),
        "get(uid)": f'lc.Artifact.get("{sample_uid}")',
        "count()": "lc.Artifact.filter().count()",
    }


def polars_queries(catalog, sample_uid: str) -> dict[str, Callable[[], object]]:
    """The same queries by hand over the frames lakecat holds."""
    art = catalog.tables.frame("artifact")
    rec = catalog.tables.frame("record")
    links = catalog.tables.frame("artifact_record")
    columns = ["id", *catalog.index.registry("Artifact").display_columns]
    scope = (pl.col("branch_id") == 1) & pl.col("kind").ne_missing("__lamindb_run__")
    size = int(0.9 * 10**9)

    def rows(condition: pl.Expr) -> pl.DataFrame:
        return art.filter(condition & scope).select(columns)

    def by_record() -> pl.DataFrame:
        record_ids = rec.filter(pl.col("name") == "record_7")["id"]
        linked = links.filter(pl.col("record_id").is_in(record_ids.implode()))
        return rows(pl.col("id").is_in(linked["artifact_id"].implode()))

    return {
        "key startswith": lambda: rows(pl.col("key").str.starts_with("project_7/")),
        "description icontains": lambda: rows(
            pl.col("description").str.to_lowercase().str.contains("from study s42.", literal=True)
        ),
        "size > x": lambda: rows(pl.col("size") > size),
        "suffix in [...]": lambda: rows(pl.col("suffix").is_in([".h5ad", ".zarr"])),
        "records__name": by_record,
        'order_by("-created_at")[:100]': lambda: art.lazy()
        .filter(scope)
        .sort("created_at", descending=True, nulls_last=True)
        .head(100)
        .select(columns)
        .collect(),
        "get(uid)": lambda: art.filter(pl.col("uid") == sample_uid).row(0, named=True),
        "count()": lambda: art.lazy().filter(scope).select(pl.len()).collect().item(),
    }  # fmt: skip


def sqlite_queries(catalog, sample_uid: str) -> dict[str, Callable[[], object]]:
    """The same queries on an indexed in-memory SQLite database."""
    db = sqlite3.connect(":memory:")
    art = catalog.tables.frame("artifact")
    names = ["id", "uid", "key", "description", "suffix", "kind", "otype", "size",
             "hash", "n_observations", "created_at", "created_by_id", "branch_id"]  # fmt: skip
    frame = art.select(names).with_columns(pl.col("created_at").dt.epoch("us"))
    db.execute(f"CREATE TABLE artifact ({', '.join(names)}, PRIMARY KEY (id))")
    db.executemany(
        f"INSERT INTO artifact VALUES ({', '.join('?' * len(names))})",
        frame.iter_rows(),
    )
    db.execute("CREATE TABLE record (id INTEGER PRIMARY KEY, name TEXT)")
    db.executemany(
        "INSERT INTO record VALUES (?, ?)",
        catalog.tables.frame("record").select("id", "name").iter_rows(),
    )
    db.execute("CREATE TABLE artifact_record (artifact_id INTEGER, record_id INTEGER)")
    db.executemany(
        "INSERT INTO artifact_record VALUES (?, ?)",
        catalog.tables.frame("artifact_record")
        .select("artifact_id", "record_id")
        .iter_rows(),
    )
    for column in ("uid", "key", "suffix", "size", "created_at", "branch_id"):
        db.execute(f"CREATE INDEX artifact_{column} ON artifact ({column})")
    db.execute("CREATE INDEX record_name ON record (name)")
    db.execute("CREATE INDEX artifact_record_record ON artifact_record (record_id)")
    db.execute("ANALYZE")
    scope = "branch_id = 1 AND (kind IS NULL OR kind != '__lamindb_run__')"
    size = int(0.9 * 10**9)

    def rows(where: str, *params: object, tail: str = "") -> list[tuple]:
        sql = f"SELECT * FROM artifact WHERE {where} AND {scope} {tail}"
        return db.execute(sql, params).fetchall()

    return {
        # a range on the index, as an ORM would write an anchored prefix
        "key startswith": lambda: rows(
            "key >= ? AND key < ?", "project_7/", "project_70"
        ),
        "description icontains": lambda: rows(
            "lower(description) LIKE ? ESCAPE '\\'", "%from study s42.%"
        ),
        "size > x": lambda: rows("size > ?", size),
        "suffix in [...]": lambda: rows("suffix IN (?, ?)", ".h5ad", ".zarr"),
        "records__name": lambda: rows(
            "id IN (SELECT artifact_id FROM artifact_record WHERE record_id IN "
            "(SELECT id FROM record WHERE name = ?))",
            "record_7",
        ),
        'order_by("-created_at")[:100]': lambda: rows(
            "1", tail="ORDER BY created_at DESC LIMIT 100"
        ),
        "get(uid)": lambda: db.execute(
            "SELECT * FROM artifact WHERE uid = ?", (sample_uid,)
        ).fetchall(),
        "count()": lambda: db.execute(
            f"SELECT count(*) FROM artifact WHERE {scope}"
        ).fetchone(),
    }


def medians_ms(*runs: Callable[[], object]) -> list[float]:
    """Median wall time of each callable; runs interleave so load hits all alike."""
    for run in runs:
        for _ in range(WARMUPS):
            run()
    times: list[list[float]] = [[] for _ in runs]
    for _ in range(RUNS):
        for run, spent in zip(runs, times, strict=True):
            start = time.perf_counter()
            run()
            spent.append(time.perf_counter() - start)
    return [statistics.median(spent) * 1000 for spent in times]


def fresh_process(root: Path, home: Path) -> float:
    """Wall time of a new interpreter: import lakecat, connect, one filter."""
    code = textwrap.dedent(
        f"""
        import lakecat as lc
        lc.connect({str(root)!r})
        lc.Artifact.filter(suffix=".h5ad").count()
        """
    )
    env = {**os.environ, "LAKECAT_HOME": str(home)}
    times = []
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, env=env)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def peak_rss_kb() -> int:
    """Peak resident memory of this process in KiB (`VmHWM`)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def lakecat_process_rss(root: Path, home: Path, sample_uid: str, n: int) -> float:
    """Peak RSS (MB) of a process that connects and runs every lakecat query."""
    calls = "\n".join(
        f"for _ in range(3): {q}" for q in queries(n, sample_uid).values()
    )
    # VmHWM, not ru_maxrss: Linux carries the parent's ru_maxrss into a child
    code = (
        f"import lakecat as lc\nlc.connect({str(root)!r})\n{calls}\n"
        "print(peak_rss_kb())"
    )
    code = f"{textwrap.dedent(inspect.getsource(peak_rss_kb))}\n{code}"
    env = {**os.environ, "LAKECAT_HOME": str(home)}
    out = subprocess.run(
        [sys.executable, "-c", code],
        check=True,
        env=env,
        capture_output=True,
        text=True,
    )
    return int(out.stdout.split()[-1]) / 1024


def run(n: int, workdir: Path) -> None:
    import lakecat as lc
    from lakecat.catalog import instance

    root = workdir / f"catalog-{n}"
    home = workdir / "home"
    os.environ["LAKECAT_HOME"] = str(home)
    built = build(root, n)
    catalog = instance.current()
    art = catalog.tables.frame("artifact")
    sample_uid = art["uid"][n // 2]
    print(
        f"\n## N = {n:,} artifacts, {catalog.tables.frame('artifact_record').height:,} "
        f"links (frames {built['frames']:.1f} s, Delta write {built['write']:.1f} s)"
    )
    start = time.perf_counter()
    lite = sqlite_queries(catalog, sample_uid)
    print(f"sqlite load + indexes: {time.perf_counter() - start:.1f} s")
    hand = polars_queries(catalog, sample_uid)
    namespace = {"lc": lc}
    target = TARGETS_MS.get(n)
    header = f"{'query':32} {'rows':>8} {'lakecat':>9} {'polars':>9} {'sqlite':>9} {'lc/pl':>6} {'lc/sq':>6}"
    print(header)
    print("-" * len(header))
    for name, source in queries(n, sample_uid).items():
        compiled = compile(source, name, "eval")
        result = eval(compiled, namespace)
        count = result.height if isinstance(result, pl.DataFrame) else 1
        ours, floor, other = medians_ms(
            lambda c=compiled: eval(c, namespace), hand[name], lite[name]
        )
        flag = " !" if target is not None and ours > target else ""
        print(
            f"{name:32} {count:>8} {ours:>8.2f}  {floor:>8.2f}  {other:>8.2f}  "
            f"{ours / floor:>5.2f}  {ours / other:>5.2f}{flag}"
        )
    reads = sum(catalog.tables.reads.values())
    medians_ms(lambda: lc.Artifact.filter(records__name="record_7").count())
    assert sum(catalog.tables.reads.values()) == reads, "warm queries re-read a table"
    fresh = fresh_process(root, home)
    print(f"fresh process (import, connect, one filter): {fresh:.2f} s")
    rss = lakecat_process_rss(root, home, sample_uid, n)
    print(f"peak RSS of a lakecat-only process running every query: {rss:,.0f} MB")
    own = peak_rss_kb() / 1024
    print(f"peak RSS of this process (builder + sqlite + all engines): {own:,.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--n", type=int, action="append", help="artifacts (repeatable)")
    args = parser.parse_args()
    sizes = args.n or [10_000]
    print(f"medians of {RUNS} warm runs, ms; targets: warm <= 2x polars, "
          f"10k < 5 ms, 1M < 100 ms, get(uid) < 1 ms")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="lakecat-bench-") as workdir:
        for n in sizes:
            run(n, Path(workdir))


if __name__ == "__main__":
    main()
