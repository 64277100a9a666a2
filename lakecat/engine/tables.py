"""Delta tables of one catalog: create, read through a snapshot cache, write.

A process keeps, per table, the open `DeltaTable` and its rows as a Polars frame,
with the data file each row came from. Before a read it asks whether the table
moved (locally: does the next log entry exist, one `stat`); only then it updates,
dropping the rows of removed files and reading just the added ones. A query
therefore re-reads no unchanged table, and a merge that rewrote one file costs
one file.

Writes go through one `DeltaTable` per table that is updated incrementally rather
than reopened. Appends never conflict. A merge or delete conflicts with a commit
that landed since the state it read if that commit removed a file it read or
added a file whose statistics overlap what it reads; so a merge names what it
reads in its predicate (the ids it writes, and for versioned rows their family,
e.g. `key`), else delta-rs would treat it as reading the whole table and every
concurrent append would make it fail. Conflicting writes are retried from a fresh
state with jittered backoff and give up with `ConflictError`. A write whose rows
depend on the table (a new version and its predecessor) passes a function of the
committed rows, which is called again on every attempt.

A catalog opened `as_of` a datetime reads every table at its latest version
committed at or before then (the store's last-modified time of each log entry, at
millisecond resolution; an object store may round to the second).
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
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

#: how often a conflicting write is retried before `ConflictError` (0: never)
MAX_RETRIES = 12

#: storage option keys (lower case) by which a caller already chose how S3 commits
S3_COMMIT_KEYS = frozenset({
    "conditional_put",
    "aws_conditional_put",
    "aws_s3_locking_provider",
    "aws_s3_allow_unsafe_rename",
})  # fmt: skip

#: a merge lists at most this many ids in its predicate, else it reads their range
LISTED_IDS = 1000

#: the hidden column that says which data file a cached row came from
_ORIGIN = "__lakecat_origin"

#: the rows a conditional write commits, computed from the table's committed rows
RowsFunction = Callable[[pl.DataFrame], pl.DataFrame]


def delta_options(root: str, storage_options: dict[str, str] | None) -> dict[str, str]:
    """Storage options for deltalake and polars, with safe commits on S3.

    A Delta commit is a create-if-absent of the next log entry. On S3 that needs
    a conditional put (`If-None-Match: *`), which delta-rs 1.x also turns on by
    itself; lakecat states it for every `s3://` root so a change of default cannot
    make two writers overwrite each other's commit. A caller that chose a commit
    mode (`conditional_put`, a locking provider, unsafe rename) keeps it.
    """
    options = dict(storage_options or {})
    if root.startswith(("s3://", "s3a://")) and not {k.lower() for k in options} & (
        S3_COMMIT_KEYS
    ):
        options["conditional_put"] = "etag"
    return options


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


def _quoted(column: str) -> str:
    return f'"{column}"'


def _literal(value: Any) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return str(int(value))


def merge_predicate(frame: pl.DataFrame, family: Iterable[str] = ()) -> str:
    """Match rows by id, and say what the merge reads so conflicts stay narrow.

    The merge reads the rows with these ids and, for each `family` column, the
    rows sharing a value with the source: a concurrent commit that adds a row of
    the same family (a rival new version) then conflicts, one far away does not.
    """
    ids = frame.get_column("id").unique().sort()
    if len(ids) <= LISTED_IDS:
        scope = [f"t.id IN ({', '.join(map(str, ids.to_list()))})"]
    else:
        scope = [f"t.id BETWEEN {ids.min()} AND {ids.max()}"]
    for column in family:
        values = frame.get_column(column).drop_nulls().unique().sort().to_list()
        if values:
            listed = ", ".join(_literal(v) for v in values)
            scope.append(f"t.{_quoted(column)} IN ({listed})")
    return f"t.id = s.id AND ({' OR '.join(scope)})"


@dataclass
class Snapshot:
    """One table as this process last saw it.

    `rows` holds the table's columns plus `_ORIGIN`, the number of the data file
    each row came from (`files` maps file URIs to those numbers); `frame` is
    `rows` without it, what queries see.
    """

    table: DeltaTable
    version: int
    files: dict[str, int]
    rows: pl.DataFrame
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
        as_of: datetime | None = None,
    ) -> None:
        self.root = root.rstrip("/")
        self.local = "://" not in self.root or self.root.startswith("file://")
        self.storage_options = delta_options(self.root, storage_options)
        self.specs = {spec.name: spec for spec in specs}
        self.schemas = {name: polars_schema(s.fields) for name, s in self.specs.items()}
        self.read_only = read_only or as_of is not None
        self.as_of = as_of
        #: compact a table after a write once it has too many small files
        self.auto_compact = True
        self._snapshots: dict[str, Snapshot] = {}
        self._writers: dict[str, DeltaTable] = {}
        self._next_file = 0
        #: counts table (re)reads, so tests can see that warm queries read nothing
        self.reads: dict[str, int] = {}

    # paths

    def uri(self, table: str) -> str:
        spec = self.specs[table]
        return f"{self.root}/tables/{spec.module}/{spec.name}"

    def log_entry(self, table: str, version: int) -> str:
        return f"{self.uri(table)}/_delta_log/{version:020d}.json"

    @property
    def _options(self) -> dict[str, str] | None:
        return self.storage_options or None

    # creation

    def create_all(self) -> None:
        from deltalake import DeltaTable

        self._check_writable()
        for name in self.specs:
            arrow_schema = pl.DataFrame(schema=self.schemas[name]).to_arrow().schema
            try:
                DeltaTable.create(
                    self.uri(name),
                    schema=arrow_schema,
                    mode="ignore",
                    configuration=TABLE_CONFIGURATION,
                    storage_options=self._options,
                )
            except OSError as error:
                raise self._storage_error("create", name, error) from error

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
            self._refresh(table, snapshot, updated=not self.local)
        return snapshot.frame

    def version(self, table: str) -> int:
        self.frame(table)
        return self._snapshots[table].version

    def max_id(self, table: str) -> int:
        ids = self.frame(table).get_column("id")
        return 0 if ids.is_empty() else int(ids.max())  # type: ignore[arg-type]

    def _open(self, table: str) -> Snapshot:
        from deltalake import DeltaTable
        from deltalake.exceptions import DeltaError, TableNotFoundError

        try:
            delta = DeltaTable(self.uri(table), storage_options=self._options)
            if self.as_of is not None:
                delta.load_as_version(self.as_of)
        except TableNotFoundError as error:
            msg = f"table `{table}` is missing at {self.uri(table)}: {error}"
            raise StorageError(msg) from error
        except (DeltaError, OSError) as error:
            raise self._storage_error("open", table, error) from error
        if self.as_of is not None:
            self._check_as_of(table, delta)
        snapshot = Snapshot(delta, delta.version(), {}, pl.DataFrame(), pl.DataFrame())
        self._load(table, snapshot, delta.file_uris())
        self._snapshots[table] = snapshot
        return snapshot

    def _moved(self, table: str, snapshot: Snapshot) -> bool:
        if self.local:
            nxt = self.log_entry(table, snapshot.version + 1)
            return os.path.exists(nxt.removeprefix("file://"))
        # remote: ask the log at most every 50 ms per table
        now = time.monotonic()
        if now - snapshot.checked_at < 0.05:
            return False
        snapshot.checked_at = now
        self._update(table, snapshot.table)
        return snapshot.table.version() != snapshot.version

    def _refresh(
        self, table: str, snapshot: Snapshot, *, updated: bool = False
    ) -> None:
        if not updated:
            self._update(table, snapshot.table)
        self._load(table, snapshot, snapshot.table.file_uris())
        snapshot.version = snapshot.table.version()
        logger.debug("refreshed %s to version %d", table, snapshot.version)

    def _fresh(self, table: str, version: int) -> pl.DataFrame:
        """The table's rows at `version` or later (never older, unlike `frame`)."""
        snapshot = self._snapshots.get(table)
        if snapshot is None:
            snapshot = self._open(table)
        if snapshot.version < version:
            self._refresh(table, snapshot)
        return snapshot.frame

    def _update(self, table: str, delta: DeltaTable) -> None:
        from deltalake.exceptions import DeltaError

        try:
            delta.update_incremental()
        except (DeltaError, OSError) as error:
            raise self._storage_error("update", table, error) from error

    def _load(self, table: str, snapshot: Snapshot, uris: list[str]) -> None:
        """Bring the snapshot's rows to exactly the data files `uris`."""
        current = set(uris)
        removed = [snapshot.files[u] for u in snapshot.files if u not in current]
        added = [u for u in uris if u not in snapshot.files]
        if not removed and not added and snapshot.files:
            return
        rows = snapshot.rows
        if removed:
            rows = rows.filter(~pl.col(_ORIGIN).is_in(removed))
        for uri in [u for u in snapshot.files if u not in current]:
            del snapshot.files[uri]
        if added:
            numbers = range(self._next_file, self._next_file + len(added))
            self._next_file += len(added)
            snapshot.files.update(zip(added, numbers, strict=True))
            new = self._read_files(table, dict(zip(added, numbers, strict=True)))
            rows = new if rows.width == 0 else pl.concat([rows, new], rechunk=False)
        if rows.width == 0:
            rows = self._read_files(table, {})
        snapshot.rows = _by_id(rows)
        snapshot.frame = snapshot.rows.drop(_ORIGIN)

    def _read_files(self, table: str, files: dict[str, int]) -> pl.DataFrame:
        """Rows of these data files, each tagged with its file's number."""
        self.reads[table] = self.reads.get(table, 0) + 1
        schema = self.schemas[table]
        if not files:
            return pl.DataFrame(schema=schema).with_columns(
                pl.lit(None, dtype=pl.UInt32).alias(_ORIGIN)
            )
        by_name = {uri.rsplit("/", 1)[-1]: number for uri, number in files.items()}
        try:
            frame = pl.scan_parquet(
                list(files),
                schema=schema,
                missing_columns="insert",
                extra_columns="ignore",
                include_file_paths=_ORIGIN,
                storage_options=self._options,
            ).collect()
        except (OSError, pl.exceptions.PolarsError) as error:
            raise self._storage_error("read", table, error) from error
        origin = frame.get_column(_ORIGIN).str.split("/").list.last()
        origin = origin.replace_strict(by_name, return_dtype=pl.UInt32)
        return conform(frame, schema).with_columns(origin)

    def _check_as_of(self, table: str, delta: DeltaTable) -> None:
        """Refuse a version newer than `as_of`: the older ones were cleaned up."""
        from lakecat.engine.objects import ObjectStore

        version = delta.version()
        if version == 0:  # the empty table lakecat creates: nothing to miss
            return
        objects = ObjectStore(self.storage_options)
        entry = self.log_entry(table, version)
        if not objects.exists(entry):
            return
        committed = objects.modified(entry)
        if committed.replace(microsecond=committed.microsecond // 1000 * 1000) > (
            self.as_of  # type: ignore[operator]
        ):
            msg = (
                f"table `{table}` has no version as of {self.as_of.isoformat()}: "  # type: ignore[union-attr]
                f"its oldest kept version {version} is from {committed.isoformat()}; "
                "the time is outside the retention window"
            )
            raise StorageError(msg)

    # writes

    def _check_writable(self) -> None:
        if self.read_only:
            what = f"as of {self.as_of.isoformat()}" if self.as_of is not None else ""
            msg = f"catalog at {self.root} is open read-only {what}".rstrip()
            raise StorageError(msg)

    def append(self, table: str, rows: pl.DataFrame) -> None:
        """Append rows in one commit."""
        from deltalake import write_deltalake

        self._check_writable()
        if rows.is_empty():
            return
        data = conform(rows, self.schemas[table]).to_arrow()

        def write(delta: DeltaTable) -> None:
            # "merge" adds columns a table of an older lakecat lacks, in this commit
            write_deltalake(delta, data, mode="append", schema_mode="merge")

        self._retrying(table, write)
        logger.debug("appended %d rows to %s", rows.height, table)

    def update(
        self,
        table: str,
        rows: pl.DataFrame | RowsFunction,
        *,
        insert: bool = False,
        keep: Iterable[str] = (),
        family: Iterable[str] = (),
    ) -> None:
        """Replace the rows with these ids in one commit.

        With `insert=True` rows whose id is new are inserted in the same commit
        (how a new version and its predecessor's `is_latest=False` land together).
        `keep` names columns a matched row keeps (its committed value wins).
        `family` names columns whose values in `rows` the merge also reads, so it
        conflicts with a concurrent commit of rows sharing them (see
        `merge_predicate`).
        `rows` may be a function of the table's committed rows; it is called on
        every attempt, with rows at least as new as the state the merge commits
        against, so a retry after a conflict recomputes what to write.
        """
        self._check_writable()
        schema = self.schemas[table]
        kept = set(keep)
        families = tuple(family)
        if isinstance(rows, pl.DataFrame) and rows.is_empty():
            return

        def merge(delta: DeltaTable) -> None:
            frame = (
                rows(self._fresh(table, delta.version())) if callable(rows) else rows
            )
            if frame.is_empty():
                return
            frame = conform(frame, schema).unique(
                "id", keep="last", maintain_order=True
            )
            builder = delta.merge(
                frame.to_arrow(),
                predicate=merge_predicate(frame, families),
                source_alias="s",
                target_alias="t",
                merge_schema=True,
            )
            if kept:
                columns = [c for c in schema if c not in kept]
                updates = {_quoted(c): f"s.{_quoted(c)}" for c in columns}
                builder = builder.when_matched_update(updates=updates)
            else:
                builder = builder.when_matched_update_all()
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
        predicate = f"{_quoted(column)} IN ({', '.join(map(str, values))})"
        self._retrying(table, lambda delta: delta.delete(predicate))

    def _writer(self, table: str) -> DeltaTable:
        """The table as this process writes it, brought up to date."""
        from deltalake import DeltaTable

        delta = self._writers.get(table)
        if delta is None:
            delta = DeltaTable(self.uri(table), storage_options=self._options)
            self._writers[table] = delta
        else:
            delta.update_incremental()
        return delta

    def _retrying(self, table: str, operation: Callable[[DeltaTable], None]) -> None:
        from deltalake.exceptions import (
            CommitFailedError,
            DeltaError,
            TableNotFoundError,
        )

        last: Exception | None = None
        for attempt in range(MAX_RETRIES + 1):
            try:
                delta = self._writer(table)
                operation(delta)
            except CommitFailedError as error:
                last = error
                logger.debug(
                    "conflict writing %s (attempt %d): %s", table, attempt, error
                )
                if attempt < MAX_RETRIES:
                    time.sleep(min(0.5, 0.005 * 2**attempt) * (0.5 + random.random()))
                continue
            except (TableNotFoundError, DeltaError, OSError) as error:
                self._writers.pop(table, None)
                raise self._storage_error("write", table, error) from error
            self._after_write(table, delta)
            return
        msg = (
            f"gave up writing table `{table}` after {MAX_RETRIES + 1} attempts: "
            "concurrent writers kept committing first; nothing was written, retry"
        )
        raise ConflictError(msg, table=table) from last

    def _after_write(self, table: str, delta: DeltaTable) -> None:
        """Let the next read see this write; compact when small files piled up."""
        from lakecat.engine import maintenance

        snapshot = self._snapshots.get(table)
        if snapshot is not None:  # read your own writes, also within the 50 ms
            snapshot.checked_at = float("-inf")

        small = maintenance.SMALL_FILES
        if self.auto_compact and len(delta.file_uris()) > small:
            maintenance.compact(self, table, above=small)

    def _storage_error(self, action: str, table: str, error: Exception) -> StorageError:
        if isinstance(error, StorageError):
            return error
        reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
        if (
            isinstance(error, PermissionError)
            or "ermission denied" in reason
            or ("not permitted" in reason)
        ):
            reason = f"the storage is read-only or not writable ({reason})"
        if self.as_of is not None and isinstance(error, FileNotFoundError):
            reason += (
                "; files of that time were vacuumed (outside the retention window)"
            )
        msg = f"cannot {action} table `{table}` at {self.uri(table)}: {reason}"
        return StorageError(msg)

    def forget(self) -> None:
        """Drop every cached snapshot (the next read opens tables afresh)."""
        self._snapshots.clear()
        self._writers.clear()
