"""Delta tables of one catalog: create, read through a snapshot cache, write.

A process keeps, per table, the open `DeltaTable` and its rows as a Polars frame.
Before a read it asks whether the table moved (locally: does the next log entry
exist, one `stat`); only then it updates, reading just the new files when the
change was append-only. A query therefore re-reads no unchanged table.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import polars as pl

from lakecat.engine.errors import ConflictError, StorageError

if TYPE_CHECKING:
    from deltalake import DeltaTable

    from lakecat.schemas import Field, TableSpec

logger = logging.getLogger(__name__)

POLARS_DTYPES: dict[str, pl.DataType] = {
    "str": pl.String(),
    "int": pl.Int64(),
    "float": pl.Float64(),
    "bool": pl.Boolean(),
    "datetime": pl.Datetime("us", "UTC"),
    "date": pl.Date(),
    "json": pl.String(),
}

#: table properties every catalog table gets; direct readers rely on the plain layout
TABLE_CONFIGURATION = {
    "delta.checkpointInterval": "100",
    "delta.logRetentionDuration": "interval 30 days",
    "delta.deletedFileRetentionDuration": "interval 7 days",
}

#: how often a conflicting merge or delete is retried before `ConflictError`
MAX_RETRIES = 12


def polars_schema(fields: Iterable[Field]) -> pl.Schema:
    return pl.Schema({f.name: POLARS_DTYPES[f.dtype] for f in fields})


def conform(frame: pl.DataFrame, schema: pl.Schema) -> pl.DataFrame:
    """Give `frame` exactly the columns of `schema`, adding missing ones as nulls.

    Tables written by an older lakecat may lack a column; their rows read as null.
    """
    exprs = []
    for name, dtype in schema.items():
        if name in frame.columns:
            column = pl.col(name)
            if frame.schema[name] != dtype:
                column = column.cast(dtype)
            exprs.append(column)
        else:
            exprs.append(pl.lit(None, dtype=dtype).alias(name))
    return frame.select(exprs)


def _by_id(frame: pl.DataFrame) -> pl.DataFrame:
    """Rows in id order, so unordered query results come in ascending id."""
    if "id" not in frame.columns or frame.get_column("id").is_sorted():
        return frame
    return frame.sort("id")


@dataclass
class Snapshot:
    """One table as this process last saw it."""

    table: DeltaTable
    version: int
    files: frozenset[str]
    frame: pl.DataFrame
    checked_at: float = field(default_factory=time.monotonic)


class TableStore:
    """The Delta tables of one catalog root, with a per-process snapshot cache."""

    def __init__(
        self,
        root: str,
        specs: Iterable[TableSpec],
        storage_options: dict[str, str] | None = None,
        *,
        read_only: bool = False,
        as_of: int | str | None = None,
    ) -> None:
        self.root = root.rstrip("/")
        self.local = "://" not in self.root or self.root.startswith("file://")
        self.storage_options = dict(storage_options or {})
        self.specs = {spec.name: spec for spec in specs}
        self.schemas = {name: polars_schema(s.fields) for name, s in self.specs.items()}
        self.read_only = read_only or as_of is not None
        self.as_of = as_of
        self._snapshots: dict[str, Snapshot] = {}
        #: counts table (re)reads, so tests can see that warm queries read nothing
        self.reads: dict[str, int] = {}

    # paths

    def uri(self, table: str) -> str:
        spec = self.specs[table]
        return f"{self.root}/tables/{spec.module}/{spec.name}"

    # creation

    def create_all(self) -> None:
        from deltalake import DeltaTable

        for name in self.specs:
            arrow_schema = pl.DataFrame(schema=self.schemas[name]).to_arrow().schema
            DeltaTable.create(
                self.uri(name),
                schema=arrow_schema,
                mode="ignore",
                configuration=TABLE_CONFIGURATION,
                storage_options=self.storage_options or None,
            )

    def ensure(self, specs: Iterable[TableSpec]) -> None:
        """Register and create tables added by a module turned on later."""
        new = [s for s in specs if s.name not in self.specs]
        for spec in new:
            self.specs[spec.name] = spec
            self.schemas[spec.name] = polars_schema(spec.fields)
        if new and not self.read_only:
            self.create_all()

    # reads

    def frame(self, table: str) -> pl.DataFrame:
        """The table's current rows (from cache when the table has not moved)."""
        snapshot = self._snapshots.get(table)
        if snapshot is None:
            snapshot = self._open(table)
        elif self.as_of is None and self._moved(table, snapshot):
            self._refresh(table, snapshot)
        return snapshot.frame

    def version(self, table: str) -> int:
        self.frame(table)
        return self._snapshots[table].version

    def max_id(self, table: str) -> int:
        ids = self.frame(table).get_column("id")
        return 0 if ids.is_empty() else int(ids.max())  # type: ignore[arg-type]

    def _open(self, table: str) -> Snapshot:
        from deltalake import DeltaTable
        from deltalake.exceptions import TableNotFoundError

        kwargs: dict[str, Any] = {"storage_options": self.storage_options or None}
        try:
            if isinstance(self.as_of, int):
                delta = DeltaTable(self.uri(table), version=self.as_of, **kwargs)
            else:
                delta = DeltaTable(self.uri(table), **kwargs)
                if self.as_of is not None:
                    delta.load_as_version(self.as_of)
        except TableNotFoundError as error:
            msg = f"table `{table}` is missing at {self.uri(table)}: {error}"
            raise StorageError(msg) from error
        files = frozenset(delta.file_uris())
        frame = self._read_files(table, sorted(files))
        snapshot = Snapshot(delta, delta.version(), files, frame)
        self._snapshots[table] = snapshot
        return snapshot

    def _moved(self, table: str, snapshot: Snapshot) -> bool:
        if self.local:
            nxt = f"{self.uri(table)}/_delta_log/{snapshot.version + 1:020d}.json"
            return os.path.exists(nxt.removeprefix("file://"))
        # remote: ask the log at most every 50 ms per table
        now = time.monotonic()
        if now - snapshot.checked_at < 0.05:
            return False
        snapshot.checked_at = now
        snapshot.table.update_incremental()
        return snapshot.table.version() != snapshot.version

    def _refresh(self, table: str, snapshot: Snapshot) -> None:
        delta = snapshot.table
        delta.update_incremental()
        files = frozenset(delta.file_uris())
        if snapshot.files <= files:
            added = sorted(files - snapshot.files)
            if added:
                new = self._read_files(table, added)
                snapshot.frame = _by_id(pl.concat([snapshot.frame, new], rechunk=False))
        else:
            snapshot.frame = self._read_files(table, sorted(files))
        snapshot.files = files
        snapshot.version = delta.version()
        logger.debug("refreshed %s to version %d", table, snapshot.version)

    def _read_files(self, table: str, files: list[str]) -> pl.DataFrame:
        self.reads[table] = self.reads.get(table, 0) + 1
        schema = self.schemas[table]
        if not files:
            return pl.DataFrame(schema=schema)
        options = self.storage_options or None
        frames = pl.scan_parquet(
            files, schema=schema, missing_columns="insert", storage_options=options
        ).collect()
        return _by_id(conform(frames, schema))

    # writes

    def _check_writable(self) -> None:
        if self.read_only:
            msg = f"catalog at {self.root} is open read-only"
            raise StorageError(msg)

    def append(self, table: str, rows: pl.DataFrame) -> None:
        """Append rows in one commit."""
        from deltalake import write_deltalake

        self._check_writable()
        if rows.is_empty():
            return
        rows = conform(rows, self.schemas[table])
        write_deltalake(
            self.uri(table),
            rows.to_arrow(),
            mode="append",
            storage_options=self.storage_options or None,
        )
        logger.debug("appended %d rows to %s", rows.height, table)

    def update(self, table: str, rows: pl.DataFrame, *, insert: bool = False) -> None:
        """Replace the rows with these ids (all columns) in one commit.

        With `insert=True` rows whose id is new are inserted in the same commit
        (how a new version and its predecessor's `is_latest=False` land together).
        Conflicting commits are retried from a fresh table state.
        """
        self._check_writable()
        if rows.is_empty():
            return
        source = conform(rows, self.schemas[table]).to_arrow()

        def merge(delta: DeltaTable) -> None:
            builder = delta.merge(
                source, predicate="t.id = s.id", source_alias="s", target_alias="t"
            ).when_matched_update_all()
            if insert:
                builder = builder.when_not_matched_insert_all()
            builder.execute()

        self._retrying(table, merge)

    def delete(self, table: str, column: str, values: Iterable[int]) -> None:
        """Delete rows whose integer `column` is in `values`."""
        self._check_writable()
        values = sorted({int(v) for v in values})
        if not values:
            return
        predicate = f"{column} IN ({', '.join(map(str, values))})"
        self._retrying(table, lambda delta: delta.delete(predicate))

    def _retrying(self, table: str, operation) -> None:
        from deltalake import DeltaTable
        from deltalake.exceptions import CommitFailedError

        for attempt in range(MAX_RETRIES):
            delta = DeltaTable(self.uri(table), storage_options=self.storage_options or None)
            try:
                operation(delta)
                return
            except CommitFailedError as error:
                last = error
                time.sleep(min(0.5, 0.005 * 2**attempt) * (0.5 + random.random()))
        msg = f"gave up writing table `{table}` after {MAX_RETRIES} conflicting commits"
        raise ConflictError(msg, table=table) from last

    def forget(self) -> None:
        """Drop every cached snapshot (the next read opens tables afresh)."""
        self._snapshots.clear()
