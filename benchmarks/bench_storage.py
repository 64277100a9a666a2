"""Storage costs: single saves, bulk saves, concurrent commits, first queries.

- single-record save latency (a `Record` and a small-file `Artifact` with a key),
  local and on the S3 emulator (moto on 127.0.0.1);
- bulk throughput: 100k artifact rows through the engine path `lc.save` uses
  (ids from one claim, one append), and `lc.save` of 10k `Record` objects;
- commits per second with 4 writer processes saving records at once;
- first-query latency of a fresh process after 100 and after 2,000 single-record
  commits with maintenance (checkpoints every 100 commits, automatic compaction),
  and after 100 and 500 without (no checkpoints, no compaction: such a table gets
  slower to write with every commit, so 2,000 would take minutes to build).

Medians of repeated runs; the load average is printed first, as other work on the
machine moves the figures. Targets: single save < 50 ms local, 100k rows < 2 s,
first query after 2,000 commits < 2x after 100 (with maintenance).

Run from the repository root: ``.venv/bin/python benchmarks/bench_storage.py``
(``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import polars as pl  # noqa: E402

import lakecat as lc  # noqa: E402
from lakecat.catalog.instance import Catalog  # noqa: E402
from lakecat.engine import tables  # noqa: E402

#: the first query a fresh process runs, timed after its imports
FIRST_QUERY = """
import json, sys, time
import lakecat as lc
root = sys.argv[1]
start = time.perf_counter()
catalog = lc.connect(root, read_only=True)
count = lc.Record.filter(name__startswith="r1").count()
print(json.dumps({"seconds": time.perf_counter() - start, "count": count}))
"""

#: a writer process for the concurrent-commit figure
WRITER = """
import json, sys, time
import lakecat as lc
root, worker, count, start_at = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
lc.connect(root)
time.sleep(max(0.0, start_at - time.time()))
for i in range(count):
    lc.Record(name=f"w{worker}-{i}").save()
print(json.dumps({"end": time.time()}))
"""


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def single_saves(root: str, options: dict | None, count: int, files: Path) -> dict:
    """Median latency of one record save and one keyed artifact save."""
    lc.init(storage=root, storage_options=options)
    records, artifacts = [], []
    for i in range(count):
        start = time.perf_counter()
        lc.Record(name=f"single {i}").save()
        records.append(time.perf_counter() - start)
        path = files / f"single-{i}.txt"
        path.write_text(f"single file {i} {root}")
        start = time.perf_counter()
        lc.Artifact(path, key=f"single/{i}.txt").save()
        artifacts.append(time.perf_counter() - start)
    return {"record_ms": median_ms(records), "artifact_ms": median_ms(artifacts)}


def bulk_rows(root: str, n: int) -> dict:
    """100k artifact rows through allocate + one append, and lc.save of records."""
    catalog = lc.init(storage=root)
    t = datetime.now(timezone.utc)
    start = time.perf_counter()
    ids = catalog.allocate_ids("artifact", n)
    frame = pl.DataFrame({
        "id": list(ids),
        "uid": [f"{i:016d}0000" for i in ids],
        "key": [f"bulk/{i}.parquet" for i in ids],
        "suffix": ".parquet",
        "size": 1000,
        "hash": [f"h{i}" for i in ids],
        "is_latest": True,
        "branch_id": 1,
        "space_id": 1,
        "storage_id": 1,
        "created_by_id": 1,
        "created_at": t,
        "updated_at": t,
    })  # fmt: skip
    catalog.tables.append("artifact", frame)
    engine = time.perf_counter() - start
    start = time.perf_counter()
    query = lc.Artifact.filter(key="bulk/5.parquet").count()
    first_query = time.perf_counter() - start
    records = [lc.Record(name=f"bulk {i}") for i in range(n // 10)]
    start = time.perf_counter()
    lc.save(records)
    api = time.perf_counter() - start
    assert query == 1
    return {
        "engine_rows": n,
        "engine_s": engine,
        "engine_rows_per_s": n / engine,
        "api_records": len(records),
        "api_s": api,
        "api_rows_per_s": len(records) / api,
        "query_after_bulk_ms": first_query * 1000,
    }


def concurrent_commits(root: str, writers: int, count: int) -> dict:
    lc.init(storage=root)
    start_at = time.time() + 3.0
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, root, str(w), str(count), str(start_at)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for w in range(writers)
    ]
    ends = [
        json.loads(p.communicate(timeout=300)[0].splitlines()[-1])["end"]
        for p in processes
    ]
    elapsed = max(ends) - start_at
    assert Catalog.open(root).frame("record").height == writers * count
    return {
        "commits": writers * count,
        "seconds": elapsed,
        "commits_per_s": writers * count / elapsed,
    }


def grow(root: str, marks: tuple[int, ...], *, maintained: bool, repeats: int) -> dict:
    """Single-row commits to `record`; the first-query cost at each mark (ms).

    Unmaintained means no checkpoints and no compaction. Growth is timed too: on
    an unmaintained table every commit replays the whole log, so it slows down
    as the table ages.
    """
    if not maintained:
        tables.TABLE_CONFIGURATION["delta.checkpointInterval"] = str(10**9)
    try:
        catalog = lc.init(storage=root)
    finally:
        tables.TABLE_CONFIGURATION["delta.checkpointInterval"] = "100"
    catalog.tables.auto_compact = maintained
    t = datetime.now(timezone.utc)
    schema = catalog.tables.schemas["record"]
    out, done, spent = {}, 0, 0.0
    for mark in marks:
        start = time.perf_counter()
        for i in range(done + 1, mark + 1):
            row = {"id": i, "uid": f"{i:016d}", "name": f"r{i}", "created_at": t,
                   "branch_id": 1}  # fmt: skip
            catalog.tables.append("record", pl.DataFrame([row], schema=schema))
        spent += time.perf_counter() - start
        out[mark] = first_query(root, repeats)
        out[f"commit_ms_{mark}"] = spent / mark * 1000
        done = mark
    return out


def first_query(root: str, repeats: int) -> float:
    """Median over fresh processes, after one unmeasured run (a cold page cache)."""
    samples = []
    for _ in range(repeats + 1):
        out = subprocess.run(
            [sys.executable, "-c", FIRST_QUERY, root],
            capture_output=True,
            text=True,
            check=True,
        )
        samples.append(json.loads(out.stdout.splitlines()[-1])["seconds"])
    return median_ms(samples[1:])


def s3_single_saves(count: int, files: Path) -> dict:
    from tests.emulators import S3Emulator

    with S3Emulator() as s3:
        s3.create_bucket("lakecat-bench")
        return single_saves(
            "s3://lakecat-bench/catalog", s3.storage_options(), count, files
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke run")
    args = parser.parse_args()
    quick = args.quick
    os.environ.setdefault(
        "LAKECAT_HOME", tempfile.mkdtemp(prefix="lakecat-bench-home-")
    )
    print(
        f"load average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cpus", flush=True
    )
    with tempfile.TemporaryDirectory(prefix="lakecat-bench-") as tmp:
        folder = Path(tmp)
        files = folder / "files"
        files.mkdir()

        local = single_saves(str(folder / "single"), None, 20 if quick else 50, files)
        print(f"single save, local: record {local['record_ms']:.1f} ms, "
              f"artifact {local['artifact_ms']:.1f} ms (median; target < 50 ms)", flush=True)  # fmt: skip
        remote = s3_single_saves(5 if quick else 20, files)
        print(f"single save, S3 emulator: record {remote['record_ms']:.1f} ms, "
              f"artifact {remote['artifact_ms']:.1f} ms (median)", flush=True)  # fmt: skip

        bulk = bulk_rows(str(folder / "bulk"), 10_000 if quick else 100_000)
        print(f"bulk: {bulk['engine_rows']} artifact rows in {bulk['engine_s']:.2f} s "
              f"({bulk['engine_rows_per_s']:,.0f} rows/s; target < 2 s), first query "
              f"after {bulk['query_after_bulk_ms']:.0f} ms; lc.save of "
              f"{bulk['api_records']} records {bulk['api_s']:.2f} s "
              f"({bulk['api_rows_per_s']:,.0f} rows/s)", flush=True)  # fmt: skip

        commits = concurrent_commits(str(folder / "concurrent"), 4, 10 if quick else 25)
        print(f"4 writers: {commits['commits']} record saves in {commits['seconds']:.2f} s "
              f"({commits['commits_per_s']:.1f} commits/s)", flush=True)  # fmt: skip

        marks = (50, 300) if quick else (100, 2000)
        bare = (50, 150) if quick else (100, 500)
        repeats = 3
        kept = grow(str(folder / "maintained"), marks, maintained=True, repeats=repeats)
        print(f"first query, maintained: after {marks[0]} commits {kept[marks[0]]:.0f} "
              f"ms, after {marks[1]} {kept[marks[1]]:.0f} ms, ratio "
              f"{kept[marks[1]] / kept[marks[0]]:.2f} (target < 2; median of fresh "
              f"processes); growing it cost {kept[f'commit_ms_{marks[1]}']:.1f} "
              "ms/commit", flush=True)  # fmt: skip
        left = grow(str(folder / "bare"), bare, maintained=False, repeats=repeats)
        print(f"first query, no checkpoints or compaction: after {bare[0]} commits "
              f"{left[bare[0]]:.0f} ms, after {bare[1]} {left[bare[1]]:.0f} ms, ratio "
              f"{left[bare[1]] / left[bare[0]]:.2f}; growing it cost "
              f"{left[f'commit_ms_{bare[1]}']:.1f} ms/commit (not grown to "
              f"{marks[1]}: each commit replays the whole log)", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
