"""Time feature annotation, feature filters and feature columns against SQLite.

N artifacts (10k by default; ``--sizes 10000 1000000`` for both) are written in
bulk through the engine (frames appended with ``catalog.tables.append``, ids from
``catalog.ids.allocate``). Each is then annotated with a float feature, a
categorical feature (one of 50 records; every 10th artifact has none), a dict
feature with nested keys (distinct per artifact) and two labels: at 10k with one
``add_values`` per artifact inside one ``lc.batch()``, at 1M through
``add_values_bulk``. The same rows then go into an indexed SQLite database (JSON1
for the dict), and each operation runs on both: medians of ``--runs`` runs after
one warm-up; the cold column is the first run, which may read tables from
storage or build an in-memory index (a large path table keeps the nodes of the
paths last queried). Both sides fetch the matching artifact rows with every
column (lakecat: `filter(...).to_polars()`).

Targets: annotating 10k in a batch < 2 s; each filter < 10 ms at 10k and < 150 ms
at 1M; ``to_dataframe(features=True)`` on 100 rows < 20 ms.

Run from the repository root:
``.venv/bin/python -m benchmarks.bench_features [--sizes 10000 1000000]``
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import orjson
import polars as pl

import lakecat as lc
from lakecat.catalog.features import _PREDICATES, add_values_bulk

RUNS = 5
SEED = 0
N_RECORDS = 50
N_ULABELS = 10
MODELS = ("resnet", "vit", "unet", "bert")
TARGETS_MS = {
    ("annotate in one batch", 10_000): 2_000,
    ("features=True, 100 rows", None): 20,
}
FILTER_TARGET_MS = {10_000: 10, 1_000_000: 150}

FILTERS: dict[str, dict[str, Any]] = {
    "filter categorical": {"perturbation": "P07"},
    "filter nested dict key": {"meta__model__name": "vit"},
    "filter nested key, number": {"meta__lr__lt": 0.05},
    "filter float __gt": {"temperature__gt": 29.0},
    "filter __isnull=True": {"perturbation__isnull": True},
}


# data


def values_for(i: int, rng: random.Random) -> dict[str, Any]:
    """The feature values of artifact number `i` (0-based)."""
    meta: dict[str, Any] = {
        "model": {"name": MODELS[i % 4], "layers": 10 + i % 90},
        "run": i,
        "tags": ["a", str(i % 13)],
    }
    if i % 5:  # some dicts have no learning rate
        meta["lr"] = round(rng.uniform(0.001, 0.1), 4)
    if i % 11 == 0:  # and some carry another shape
        meta["extra"] = {"note": f"n{i % 17}", "ok": bool(i % 2)}
    return {
        "temperature": round(rng.uniform(15.0, 30.0), 3),
        "perturbation": None if i % 10 == 0 else f"P{i % N_RECORDS:02d}",
        "meta": meta,
    }


def build(root: str, n: int) -> tuple[lc.instance.Catalog, list[int]]:
    """A catalog with features, records, labels and `n` bare artifacts."""
    catalog = lc.init(storage=root, user="bench", user_name="Bench")
    lc.Feature(name="temperature", dtype=float).save()
    lc.Feature(name="perturbation", dtype="cat[Record]").save()
    lc.Feature(name="meta", dtype=dict).save()
    lc.save([lc.Record(name=f"P{i:02d}") for i in range(N_RECORDS)])
    lc.save([lc.ULabel(name=f"label{i}") for i in range(N_ULABELS)])
    ids = catalog.ids.allocate("artifact", n, catalog.tables.max_id("artifact"))
    now = datetime.now(timezone.utc)
    numbers = pl.Series("i", list(ids), dtype=pl.Int64)
    frame = pl.DataFrame({"id": numbers}).with_columns(
        uid=pl.format("{}0000", pl.col("id").cast(pl.String).str.zfill(16)),
        key=pl.format("data/{}.parquet", pl.col("id")),
        suffix=pl.lit(".parquet"),
        kind=pl.lit("dataset"),
        otype=pl.lit("DataFrame"),
        size=pl.col("id") * 10,
        hash=pl.format("h{}", pl.col("id")),
        _hash_type=pl.lit("md5"),
        _key_is_virtual=pl.lit(True),
        _overwrite_versions=pl.lit(False),
        space_id=pl.lit(1),
        storage_id=pl.lit(1),
        is_latest=pl.lit(True),
        is_locked=pl.lit(False),
        created_at=pl.lit(now),
        created_by_id=pl.lit(1),
        branch_id=pl.lit(1),
        updated_at=pl.lit(now),
    )
    catalog.tables.append("artifact", frame)
    return catalog, list(ids)


def annotate_in_batch(artifacts: list[lc.Artifact]) -> None:
    """One `add_values` and one `ulabels.add` per artifact, in one batch."""
    rng = random.Random(SEED)
    labels = list(lc.ULabel.filter())
    with lc.batch():
        for n, artifact in enumerate(artifacts):
            values = values_for(n, rng)
            if values["perturbation"] is None:
                del values["perturbation"]
            artifact.features.add_values(values)
            artifact.ulabels.add(labels[n % N_ULABELS], labels[(n + 1) % N_ULABELS])


def annotate_bulk(catalog, ids: list[int]) -> None:
    """The same annotation through `add_values_bulk`, labels as one frame."""
    rng = random.Random(SEED)
    rows = [values_for(n, rng) for n in range(len(ids))]
    add_values_bulk(ids, {k: [r[k] for r in rows] for k in rows[0]})
    label_ids = lc.ULabel.filter().values_list("id", flat=True)
    link = pl.DataFrame(
        {
            "artifact_id": ids + ids,
            "ulabel_id": [label_ids[n % N_ULABELS] for n in range(len(ids))]
            + [label_ids[(n + 1) % N_ULABELS] for n in range(len(ids))],
        }
    )
    first = catalog.ids.allocate(
        "artifact_ulabel", link.height, catalog.tables.max_id("artifact_ulabel")
    )
    link = link.with_columns(
        id=pl.Series(list(first)), created_at=pl.lit(datetime.now(timezone.utc))
    )
    catalog.tables.append("artifact_ulabel", link)


# sqlite


def _sqlite_type(dtype: pl.DataType) -> str:
    if dtype.is_integer() or dtype == pl.Boolean:
        return "INTEGER"
    return "REAL" if dtype.is_float() else "TEXT"


def _copy(db: sqlite3.Connection, catalog, table: str) -> None:
    frame = catalog.frame(table)
    columns = [
        c for c in frame.columns if not c.startswith("_") or table != "featurevalue"
    ]
    frame = frame.select(columns).with_columns(
        pl.col(c).cast(pl.String) for c, t in frame.schema.items() if t.is_temporal()
    )
    spec = ", ".join(f'"{c}" {_sqlite_type(t)}' for c, t in frame.schema.items())
    db.execute(f'CREATE TABLE "{table}" ({spec}, PRIMARY KEY (id))')
    marks = ", ".join("?" * len(columns))
    db.executemany(f'INSERT INTO "{table}" VALUES ({marks})', frame.iter_rows())


SQLITE_INDEXES = (
    "CREATE INDEX ar_a ON artifact_record (artifact_id)",
    "CREATE INDEX ar_rf ON artifact_record (record_id, feature_id)",
    "CREATE INDEX ar_f ON artifact_record (feature_id)",
    "CREATE INDEX au_a ON artifact_ulabel (artifact_id)",
    "CREATE INDEX afv_a ON artifact_featurevalue (artifact_id)",
    "CREATE INDEX afv_v ON artifact_featurevalue (featurevalue_id)",
    "CREATE INDEX fv_fh ON featurevalue (feature_id, hash)",
    "CREATE INDEX record_name ON record (name)",
    "CREATE INDEX feature_name ON feature (name)",
)
SQLITE_TABLES = (
    "artifact", "feature", "record", "ulabel", "featurevalue", "artifact_record",
    "artifact_ulabel", "artifact_featurevalue",
)  # fmt: skip


def sqlite_mirror(catalog, path: str) -> sqlite3.Connection:
    """The catalog's rows (same ids) in an indexed SQLite file."""
    db = sqlite3.connect(path)
    for table in SQLITE_TABLES:
        _copy(db, catalog, table)
    for statement in SQLITE_INDEXES:
        db.execute(statement)
    db.commit()
    db.execute("ANALYZE")
    return db


def _feature_id(db, name: str) -> int:
    return db.execute("SELECT id FROM feature WHERE name = ?", (name,)).fetchone()[0]


SQLITE_FILTERS = {
    "filter categorical": (
        "SELECT * FROM artifact WHERE branch_id = 1 AND id IN ("
        " SELECT l.artifact_id FROM artifact_record l JOIN record r ON r.id = l.record_id"
        " WHERE l.feature_id = :perturbation AND r.name = 'P07' AND r.branch_id = 1)"
    ),
    "filter nested dict key": (
        "SELECT * FROM artifact WHERE branch_id = 1 AND id IN ("
        " SELECT l.artifact_id FROM artifact_featurevalue l"
        " JOIN featurevalue v ON v.id = l.featurevalue_id WHERE v.feature_id = :meta"
        " AND json_type(v.value, '$.model.name') = 'text'"
        " AND json_extract(v.value, '$.model.name') = 'vit')"
    ),
    "filter nested key, number": (
        "SELECT * FROM artifact WHERE branch_id = 1 AND id IN ("
        " SELECT l.artifact_id FROM artifact_featurevalue l"
        " JOIN featurevalue v ON v.id = l.featurevalue_id WHERE v.feature_id = :meta"
        " AND json_type(v.value, '$.lr') IN ('integer', 'real')"
        " AND json_extract(v.value, '$.lr') < 0.05)"
    ),
    "filter float __gt": (
        "SELECT * FROM artifact WHERE branch_id = 1 AND id IN ("
        " SELECT l.artifact_id FROM artifact_featurevalue l"
        " JOIN featurevalue v ON v.id = l.featurevalue_id"
        " WHERE v.feature_id = :temperature"
        " AND json_type(v.value) IN ('integer', 'real') AND v.value + 0 > 29.0)"
    ),
    "filter __isnull=True": (
        "SELECT * FROM artifact a WHERE branch_id = 1 AND NOT EXISTS ("
        " SELECT 1 FROM artifact_record l WHERE l.artifact_id = a.id"
        " AND l.feature_id = :perturbation)"
    ),
}


def sqlite_features(db, ids: list[int] | None) -> dict[int, dict[str, Any]]:
    """Feature values per artifact as `to_dataframe(features=True)` shows them."""
    where = "" if ids is None else f"AND l.artifact_id IN ({','.join(map(str, ids))})"
    out: dict[int, dict[str, Any]] = {}
    labels = db.execute(
        "SELECT l.artifact_id, f.name, r.name FROM artifact_record l"
        " JOIN feature f ON f.id = l.feature_id JOIN record r ON r.id = l.record_id"
        f" WHERE 1 = 1 {where} ORDER BY l.id"
    )
    for artifact, feature, label in labels:
        out.setdefault(artifact, {}).setdefault(feature, set()).add(label)
    values = db.execute(
        "SELECT l.artifact_id, f.name, v.value FROM artifact_featurevalue l"
        " JOIN featurevalue v ON v.id = l.featurevalue_id"
        f" JOIN feature f ON f.id = v.feature_id WHERE 1 = 1 {where} ORDER BY l.id"
    )
    for artifact, feature, text in values:
        out.setdefault(artifact, {}).setdefault(feature, orjson.loads(text))
    return out


def sqlite_annotate(db, ids: list[int]) -> None:
    """What an ORM does per artifact: look up, insert if new, link; one transaction."""
    rng = random.Random(SEED)
    features = {n: _feature_id(db, n) for n in ("temperature", "perturbation", "meta")}
    labels = [r[0] for r in db.execute("SELECT id FROM ulabel ORDER BY id")]
    cursor = db.cursor()
    for n, artifact in enumerate(ids):
        values = values_for(n, rng)
        for name in ("temperature", "meta"):
            value = values[name]
            digest = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
            row = cursor.execute(
                "SELECT id FROM featurevalue WHERE feature_id = ? AND hash = ?",
                (features[name], digest),
            ).fetchone()
            if row is None:
                cursor.execute(
                    "INSERT INTO featurevalue (feature_id, value, hash) VALUES (?, ?, ?)",
                    (features[name], orjson.dumps(value).decode(), digest),
                )
                value_id = cursor.lastrowid
            else:
                value_id = row[0]
            cursor.execute(
                "INSERT INTO artifact_featurevalue (artifact_id, featurevalue_id)"
                " VALUES (?, ?)",
                (artifact, value_id),
            )
        if values["perturbation"] is not None:
            record = cursor.execute(
                "SELECT id FROM record WHERE name = ?", (values["perturbation"],)
            ).fetchone()[0]
            cursor.execute(
                "INSERT INTO artifact_record (artifact_id, record_id, feature_id)"
                " VALUES (?, ?, ?)",
                (artifact, record, features["perturbation"]),
            )
        for label in (labels[n % N_ULABELS], labels[(n + 1) % N_ULABELS]):
            cursor.execute(
                "INSERT INTO artifact_ulabel (artifact_id, ulabel_id) VALUES (?, ?)",
                (artifact, label),
            )
    db.commit()


# timing


def rows_of(kwargs: dict[str, Any]) -> int:
    """Evaluate a filter to its rows (all display columns); how many there are."""
    return lc.Artifact.filter(**kwargs).to_polars().height


def timed(fn: Callable[[], Any], runs: int) -> tuple[float, float]:
    """(cold first run, median of `runs` further runs), in milliseconds.

    lakecat keeps recent feature predicates while their tables are unchanged;
    they are forgotten before every run so each run computes its query afresh.
    """
    times = []
    for _ in range(runs + 1):
        _PREDICATES.entries.clear()
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return times[0], statistics.median(times[1:])


def report(rows: list[tuple[str, int, float, float, float, float | None]]) -> None:
    print(f"\n{'operation':34} {'N':>9} {'lakecat ms':>11} {'(cold)':>9} "
          f"{'sqlite ms':>10} {'ratio':>7} {'target':>8}")  # fmt: skip
    for name, n, ours, cold, theirs, target in rows:
        ratio = ours / theirs if theirs else float("nan")
        mark = "" if target is None else (" ok" if ours < target else " MISSED")
        shown = "" if target is None else f"<{target:g}"
        print(f"{name:34} {n:>9,} {ours:>11.1f} {cold:>9.1f} {theirs:>10.1f} "
              f"{ratio:>7.2f} {shown:>8}{mark}", flush=True)  # fmt: skip


def run(n: int, runs: int, folder: str) -> list[tuple]:
    rows: list[tuple] = []
    print(f"\n== {n:,} artifacts", flush=True)
    start = time.perf_counter()
    catalog, ids = build(f"{folder}/catalog-{n}", n)
    print(f"built in {time.perf_counter() - start:.1f} s", flush=True)

    plain = sqlite_mirror(catalog, f"{folder}/plain-{n}.sqlite")
    artifacts = lc.Artifact.filter(id__in=ids).to_list() if n <= 100_000 else []
    start, cpu = time.perf_counter(), time.process_time()
    if n <= 100_000:
        annotate_in_batch(artifacts)
        name = "annotate in one batch"
    else:
        annotate_bulk(catalog, ids)
        name = "annotate, bulk path"
    ours = (time.perf_counter() - start) * 1000
    ours_cpu = (time.process_time() - cpu) * 1000
    start, cpu = time.perf_counter(), time.process_time()
    sqlite_annotate(plain, ids)
    theirs = (time.perf_counter() - start) * 1000
    theirs_cpu = (time.process_time() - cpu) * 1000
    target = TARGETS_MS.get((name, n))
    rows.append((name, n, ours, ours, theirs, target))
    rows.append((f"{name} (CPU time)", n, ours_cpu, ours_cpu, theirs_cpu, target))
    plain.close()

    db = sqlite_mirror(catalog, f"{folder}/annotated-{n}.sqlite")
    params = {k: _feature_id(db, k) for k in ("perturbation", "meta", "temperature")}
    extra = lc.Artifact.filter(id__in=ids[: runs + 1]).to_list()
    turn = iter(extra)

    def one_add() -> None:
        next(turn).features.add_values({"temperature": 99.5})

    cold, ours = timed(one_add, runs)
    extra_ids = iter(a.id for a in extra)

    def sqlite_one() -> None:
        value = db.execute(
            "INSERT INTO featurevalue (feature_id, value, hash) VALUES (?, '99.5', ?)",
            (params["temperature"], f"x{time.perf_counter()}"),
        ).lastrowid
        db.execute(
            "INSERT INTO artifact_featurevalue (artifact_id, featurevalue_id) "
            "VALUES (?, ?)",
            (next(extra_ids), value),
        )
        db.commit()

    rows.append(("add_values outside a batch", n, ours, cold,
                 timed(sqlite_one, runs)[1], None))  # fmt: skip

    for name, kwargs in FILTERS.items():
        start = time.perf_counter()
        count = rows_of(kwargs)  # the first query of its kind
        cold = (time.perf_counter() - start) * 1000
        ours = timed(lambda kw=kwargs: rows_of(kw), runs)[1]
        sql = SQLITE_FILTERS[name]
        expected = len(db.execute(sql, params).fetchall())
        assert count == expected, (name, count, expected)
        theirs = timed(lambda s=sql: db.execute(s, params).fetchall(), runs)[1]
        rows.append((f"{name} ({count:,})", n, ours, cold, theirs, FILTER_TARGET_MS[n]))

    sample = random.Random(SEED).sample(ids, 100)
    cold, ours = timed(
        lambda: lc.Artifact.filter(id__in=sample).to_dataframe(features=True), runs
    )
    theirs = timed(lambda: sqlite_features(db, sample), runs)[1]
    rows.append(("features=True, 100 rows", n, ours, cold, theirs, 20))
    all_runs = runs if n <= 100_000 else 1
    cold, ours = timed(
        lambda: lc.Artifact.filter().to_dataframe(features=True), all_runs
    )
    theirs = timed(lambda: sqlite_features(db, None), all_runs)[1]
    rows.append(("features=True, all rows", n, ours, cold, theirs, None))
    db.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000])
    parser.add_argument("--runs", type=int, default=RUNS)
    args = parser.parse_args()
    print(f"load average: {os.getloadavg()} on {os.cpu_count()} CPUs")
    lc.settings.verbosity = "WARNING"
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-features-") as folder:
        os.environ["LAKECAT_HOME"] = folder
        for n in args.sizes:
            rows += run(n, args.runs, folder)
    report(rows)
    print(f"load average: {os.getloadavg()}")


if __name__ == "__main__":
    main()
