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
  and the snapshot cache's sorted fast path like); a larger one only has its
  small files bin-packed, so the cost stays bounded; `lc.optimize()` re-sorts it.
- **`lc.optimize()`**: compact and sort every table, checkpoint, vacuum data files
  removed longer ago than the retention window (`RETENTION_HOURS`, default 7
  days), and drop expired log entries (`delta.logRetentionDuration`, 30 days).
  Time travel works inside both windows.

Compaction only rewrites data (`dataChange=false`): a concurrent append is not
lost; a concurrent merge or delete of the same files makes one of the two retry.
A compaction that keeps losing is skipped (auto) or reported (`optimize`).
A vacuum window shorter than the longest write in flight can delete the files of
a commit that is about to land; keep it at hours, not seconds, while writers run.
"""

from __future__ import annotations

import logging
import random
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from deltalake import DeltaTable

    from lakecat.engine.tables import TableStore

logger = logging.getLogger(__name__)

#: compact a table once it has more than this many data files (one per small commit)
SMALL_FILES = 48
#: tables up to this size are rewritten sorted by id; larger ones only bin-packed
RESORT_BYTES = 256 * 2**20
#: vacuum keeps removed files this long, so time travel works inside the window
RETENTION_HOURS = 168.0
#: attempts of one compaction against concurrent merges and deletes
COMPACT_ATTEMPTS = 4


def compact(
    store: TableStore,
    table: str,
    *,
    resort: bool | None = None,
    above: int | None = None,
) -> dict[str, Any]:
    """Rewrite a table's small files into few, sorted by id; returns the metrics.

    `resort=None` sorts tables up to `RESORT_BYTES` and bin-packs larger ones.
    With `above`, a table with that many files or fewer is left alone (another
    writer compacted it first). Gives up quietly (returns `{"skipped": ...}`)
    when concurrent merges keep rewriting the same files.
    """
    from deltalake import DeltaTable
    from deltalake.exceptions import CommitFailedError

    store._check_writable()
    for attempt in range(COMPACT_ATTEMPTS):
        delta = DeltaTable(store.uri(table), storage_options=store._options)
        if above is not None and len(delta.file_uris()) <= above:
            return {"skipped": "compacted already"}
        try:
            metrics = _rewrite(delta, resort)
        except CommitFailedError as error:
            logger.debug(
                "compaction of %s conflicted (attempt %d): %s", table, attempt, error
            )
            time.sleep(0.01 * 2**attempt * (0.5 + random.random()))
            continue
        logger.debug("compacted %s: %s", table, metrics)
        return metrics
    return {"skipped": "conflict"}


def _rewrite(delta: DeltaTable, resort: bool | None) -> dict[str, Any]:
    if resort is None:
        import polars as pl

        actions = pl.DataFrame(delta.get_add_actions(flatten=True))
        resort = actions.get_column("size_bytes").sum() <= RESORT_BYTES
    if resort:
        # a z-order over one column is a sort by that column
        return delta.optimize.z_order(["id"])
    return delta.optimize.compact()


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
        metrics = compact(store, table, resort=True)
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
