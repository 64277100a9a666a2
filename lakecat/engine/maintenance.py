"""Keeping tables fast as commits pile up: compaction, checkpoints, vacuum.

Three mechanisms keep the first query of a fresh process cheap however many
commits a table has seen:

- **Checkpoints**: every table has `delta.checkpointInterval = 100`; delta-rs
  writes a checkpoint after every 100th commit, so opening a table reads one
  Parquet checkpoint and at most 99 JSON entries.
- **Automatic compaction**: a single-record save adds one data file. After a write
  (`TableStore._after_write`), a table with more than `SMALL_FILES` data files is
  compacted. Counting files costs a list length on the open table, so the check
  runs on every write while the rewrite runs once per ~`SMALL_FILES` commits. A
  table up to `RESORT_BYTES` is rewritten whole, sorted by id (what direct readers
  and the snapshot cache's sorted fast path like); a larger one only has its tail
  rewritten (the rows above the highest id held in a file of `LARGE_FILE_BYTES`),
  so the cost stays bounded; `lc.optimize()` rewrites it whole.
- **`lc.optimize()`**: compact and sort every table, checkpoint, vacuum data files
  removed longer ago than the retention window (`RETENTION_HOURS`, default 7
  days), and drop expired log entries (`delta.logRetentionDuration`, 30 days).
  Time travel works inside both windows.

A compaction is an overwrite of an id range (`replaceWhere`) with the same rows,
sorted, read from the very table state the commit is checked against. It is not
delta-rs' `optimize`: in deltalake 1.6 two concurrent `optimize` commits that
remove the same files both succeed, and every row of those files is then there
twice. An overwrite reads what it replaces, so two compactions, or a compaction
and a merge or delete of the same files, conflict and one of them retries; an
append of new ids never conflicts with it and is never lost. A compaction that
keeps losing is skipped (auto) or reported (`optimize`).

A vacuum window shorter than the longest write in flight can delete the files of
a commit that is about to land; keep it at hours, not seconds, while writers run.
"""

from __future__ import annotations

import logging
import random
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl
    from deltalake import DeltaTable

    from lakecat.engine.tables import TableStore

logger = logging.getLogger(__name__)

#: compact a table once it has more than this many data files (one per small commit)
SMALL_FILES = 48
#: tables up to this size are rewritten whole, sorted by id; larger ones by their tail
RESORT_BYTES = 256 * 2**20
#: a data file this large is left alone by automatic compaction of a large table
LARGE_FILE_BYTES = 64 * 2**20
#: vacuum keeps removed files this long, so time travel works inside the window
RETENTION_HOURS = 168.0
#: attempts of one compaction against concurrent merges, deletes and compactions
COMPACT_ATTEMPTS = 4


def compact(
    store: TableStore,
    table: str,
    *,
    everything: bool = False,
    above: int | None = None,
) -> dict[str, Any]:
    """Rewrite a table's small files into few, sorted by id; returns what it did.

    The whole table when `everything` or when it is at most `RESORT_BYTES`, else
    its tail. With `above`, a table with that many files or fewer is left alone
    (another writer compacted it first). Gives up quietly, returning
    `{"skipped": ...}`, when concurrent writers keep rewriting the same files.
    """
    import polars as pl
    from deltalake import DeltaTable
    from deltalake.exceptions import CommitFailedError

    store._check_writable()
    for attempt in range(COMPACT_ATTEMPTS):
        delta = DeltaTable(store.uri(table), storage_options=store._options)
        files = pl.DataFrame(delta.get_add_actions(flatten=True))
        if above is not None and files.height <= above:
            return {"skipped": "compacted already"}
        span = _span(files, everything)
        if span is None:
            return {"numFilesRemoved": 0}
        try:
            metrics = _rewrite(store, delta, files, *span)
        except CommitFailedError as error:
            logger.debug("compaction of %s conflicted (%d): %s", table, attempt, error)
            time.sleep(0.01 * 2**attempt * (0.5 + random.random()))
            continue
        logger.debug("compacted %s: %s", table, metrics)
        return metrics
    return {"skipped": "conflict"}


def _span(files: pl.DataFrame, everything: bool) -> tuple[int, int] | None:
    """The id range to rewrite, or None when there is nothing to gain."""
    import polars as pl

    if files.is_empty():
        return None
    if not {"min.id", "max.id"} <= set(files.columns) or files["min.id"].has_nulls():
        # files without statistics (another writer): rewrite everything
        return (-(2**63), 2**63 - 1) if files.height > 1 or everything else None
    low, high = files.get_column("min.id").min(), files.get_column("max.id").max()
    if not everything and files.get_column("size_bytes").sum() > RESORT_BYTES:
        large = files.filter(pl.col("size_bytes") >= LARGE_FILE_BYTES)
        if not large.is_empty():
            low = large.get_column("max.id").max() + 1
    tail = files.filter(pl.col("max.id") >= low)
    if low > high or (tail.height < 2 and not everything):
        return None
    return int(low), int(high)  # type: ignore[arg-type]


def _rewrite(
    store: TableStore, delta: DeltaTable, files: pl.DataFrame, low: int, high: int
) -> dict[str, Any]:
    """Replace the rows with ids in [low, high] by the same rows, sorted, at once."""
    import polars as pl
    import pyarrow as pa
    from deltalake import write_deltalake

    # the table's own schema, so columns of a newer lakecat survive the rewrite
    schema = pl.DataFrame(pa.schema(delta.schema().to_arrow()).empty_table()).schema
    rows = (
        pl.scan_parquet(
            delta.file_uris(),
            schema=schema,
            missing_columns="insert",
            storage_options=store._options,
        )
        .filter(pl.col("id").is_between(low, high))
        .sort("id")
        .collect()
    )
    # one record batch: delta-rs spreads batches over parallel writers, which
    # would interleave them in the file
    write_deltalake(
        delta,
        rows.rechunk().to_arrow().combine_chunks(),
        mode="overwrite",
        predicate=f"id >= {low} AND id <= {high}",
    )
    removed = files.filter((pl.col("max.id") >= low) & (pl.col("min.id") <= high))
    return {"numFilesRemoved": removed.height, "rowsRewritten": rows.height}


def optimize_table(
    store: TableStore, table: str, *, vacuum_hours: float | None = None
) -> dict[str, Any]:
    """Compact and sort by id, checkpoint and vacuum one table."""
    from deltalake import DeltaTable

    store._check_writable()
    options = store._options
    delta = DeltaTable(store.uri(table), storage_options=options)
    files = len(delta.file_uris())
    report: dict[str, Any] = {"table": table, "files_before": files, "compacted": 0}
    if files > 1 or not _sorted(delta, options):
        metrics = compact(store, table, everything=True)
        report["compacted"] = metrics.get("numFilesRemoved", 0)
        if "skipped" in metrics:
            report["skipped"] = metrics["skipped"]
    delta = DeltaTable(store.uri(table), storage_options=options)
    delta.create_checkpoint()
    hours = RETENTION_HOURS if vacuum_hours is None else vacuum_hours
    removed = delta.vacuum(
        retention_hours=int(hours), enforce_retention_duration=False, dry_run=False
    )
    delta.cleanup_metadata()
    report["vacuumed"] = len(removed)
    report["files_after"] = len(delta.file_uris())
    return report


def _sorted(delta: DeltaTable, options: dict[str, str] | None) -> bool:
    """Whether the table's only data file (if any) is in id order."""
    import polars as pl

    uris = delta.file_uris()
    if not uris:
        return True
    ids = pl.scan_parquet(uris[0], storage_options=options).select("id").collect()
    return ids.get_column("id").is_sorted()


def optimize_tables(
    store: TableStore, *, vacuum_hours: float | None = None
) -> dict[str, Any]:
    """Optimize every table of a catalog; returns a report per table."""
    reports = {
        t: optimize_table(store, t, vacuum_hours=vacuum_hours) for t in store.specs
    }
    logger.debug("optimized %d tables", len(reports))
    return reports
