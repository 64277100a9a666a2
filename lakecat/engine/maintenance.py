"""Keeping tables fast as commits pile up: compaction, checkpoints, vacuum."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lakecat.engine.tables import TableStore

logger = logging.getLogger(__name__)

#: compact a table once it has this many data files; one file per commit is typical
SMALL_FILES = 32
#: vacuum keeps removed files this long, so time travel works inside the window
RETENTION_HOURS = 168.0


def optimize_table(store: TableStore, table: str, *, vacuum_hours: float | None = None,
                   force: bool = False) -> dict[str, Any]:  # fmt: skip
    """Compact (z-ordered by nothing, sorted by id), checkpoint and vacuum one table."""
    from deltalake import DeltaTable

    store._check_writable()
    delta = DeltaTable(store.uri(table), storage_options=store.storage_options or None)
    files = len(delta.file_uris())
    report: dict[str, Any] = {"table": table, "files_before": files}
    if force or files >= SMALL_FILES:
        metrics = delta.optimize.compact()
        report["compacted"] = metrics.get("numFilesRemoved", 0)
    delta = DeltaTable(store.uri(table), storage_options=store.storage_options or None)
    delta.create_checkpoint()
    hours = RETENTION_HOURS if vacuum_hours is None else vacuum_hours
    removed = delta.vacuum(
        retention_hours=int(hours), enforce_retention_duration=False, dry_run=False
    )
    delta.cleanup_metadata()
    report["vacuumed"] = len(removed)
    report["files_after"] = len(delta.file_uris())
    return report


def optimize_tables(store: TableStore, *, vacuum_hours: float | None = None) -> dict[str, Any]:
    """Optimize every table of a catalog; returns a report per table."""
    reports = {t: optimize_table(store, t, vacuum_hours=vacuum_hours) for t in store.specs}
    logger.debug("optimized %d tables", len(reports))
    return reports
