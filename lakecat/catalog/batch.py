"""Buffered writes: `with lc.batch(): ...` commits everything at the end.

Inside the block every insert, update and delete is kept in memory; queries in the
same process see the buffer laid over the committed rows. On exit the buffer is
written with one commit per table touched, link tables and labels before the
records that own them, so that the owner's commit is the point at which a reader
sees the whole record: a crash before it leaves only unreachable link rows (their
owner's id is never reused), never an owner without its links. If the block
raises, nothing is written.

New versions (`Catalog.insert_version`) are kept as the functions that compute
them; at commit they run again on the freshly committed rows, and after a
conflict once more, so a batch never makes a stale version the latest.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import polars as pl

if TYPE_CHECKING:
    from lakecat.catalog.instance import Catalog

logger = logging.getLogger(__name__)

#: ids reserved per table at a time inside a batch; the unused tail is given
#: back at the end unless another writer claimed after it (then it is a gap)
ID_BLOCK = 512

#: tables committed last, in this order: the owners that make a record visible
OWNERS = ("run", "collection", "artifact")

Resolver = Callable[[pl.DataFrame], list[dict[str, Any]]]


class Batch:
    """The pending writes of one `lc.batch()` block."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.inserts: dict[str, list[dict[str, Any]]] = {}
        self.updates: dict[str, dict[int, dict[str, Any]]] = {}
        #: per table and id, the columns whose committed value an update keeps
        self.kept: dict[str, dict[int, frozenset[str]]] = {}
        self.deletes: dict[str, list[tuple[str, list[int]]]] = {}
        self.versions: dict[str, list[Resolver]] = {}
        #: per table, the columns that name a version family (see `TableStore.update`)
        self.families: dict[str, set[str]] = {}
        #: the rows the resolvers last produced, for the overlay
        self._versioned: dict[str, dict[int, dict[str, Any]]] = {}
        self._ids: dict[str, range] = {}
        #: pending inserts per table as one frame, kept in step with `inserts`
        self._inserted: dict[str, pl.DataFrame] = {}
        self._overlays: dict[str, tuple[int, pl.DataFrame, pl.DataFrame]] = {}
        self._generation = 0

    def allocate(self, table: str, count: int) -> range:
        block = self._ids.get(table, range(0))
        if len(block) < count:
            catalog = self.catalog
            size = max(count, ID_BLOCK)
            block = catalog.ids.allocate(table, size, catalog.tables.max_id(table))
        self._ids[table] = block[count:]
        return block[:count]

    def insert(self, table: str, rows: list[dict[str, Any]]) -> None:
        self.inserts.setdefault(table, []).extend(rows)
        cached = self._inserted.get(table)
        if cached is not None:
            # grow the frame of pending inserts instead of rebuilding it per query
            grown = pl.concat(
                [cached, self.catalog._frame_of(table, rows)], rechunk=False
            )
            # many small chunks slow every scan; merge them now and then
            self._inserted[table] = grown.rechunk() if grown.n_chunks() > 32 else grown
        self._generation += 1

    def update(
        self, table: str, rows: list[dict[str, Any]], *, keep: Iterable[str] = ()
    ) -> None:
        kept = frozenset(keep)
        pending = {row["id"]: row for row in self.inserts.get(table, [])}
        for row in rows:
            if row["id"] in pending:
                self._inserted.pop(table, None)
                pending[row["id"]].update(
                    {k: v for k, v in row.items() if k not in kept}
                )
            else:
                self.updates.setdefault(table, {})[row["id"]] = row
                self.kept.setdefault(table, {})[row["id"]] = kept
        self._generation += 1

    def insert_version(
        self, table: str, resolve: Resolver, *, family: Iterable[str] = ()
    ) -> None:
        rows = resolve(self.catalog.frame(table))
        self.versions.setdefault(table, []).append(resolve)
        self.families.setdefault(table, set()).update(family)
        produced = self._versioned.setdefault(table, {})
        produced.update((row["id"], row) for row in rows)
        self._generation += 1

    def delete(self, table: str, column: str, ids: list[int]) -> None:
        doomed = set(ids)
        self._inserted.pop(table, None)
        if table in self.inserts:
            self.inserts[table] = [
                r for r in self.inserts[table] if r.get(column) not in doomed
            ]
        if column == "id" and table in self.updates:
            for i in doomed:
                self.updates[table].pop(i, None)
        self.deletes.setdefault(table, []).append((column, ids))
        self._generation += 1

    def overlay(self, table: str, base: pl.DataFrame) -> pl.DataFrame:
        """`base` with this batch's pending changes applied."""
        if not any(table in pending for pending in self._pending()):
            return base
        cached = self._overlays.get(table)
        if cached is not None and cached[0] == self._generation and cached[1] is base:
            return cached[2]
        frame = base
        for column, ids in self.deletes.get(table, []):
            frame = frame.filter(~pl.col(column).is_in(ids))
        frame = self._apply(table, frame, list(self._versioned.get(table, {}).values()))
        self._overlays[table] = (self._generation, base, frame)
        return frame

    def commit(self) -> None:
        catalog = self.catalog
        tables = set().union(*self._pending())
        order = sorted(
            tables,
            key=lambda t: (t in OWNERS, OWNERS.index(t) if t in OWNERS else 0, t),
        )
        for table in order:
            for column, ids in self.deletes.get(table, []):
                catalog.tables.delete(table, column, ids)
            if self.updates.get(table) or self.versions.get(table):
                # one merge, so new rows, new versions and changed rows land together
                catalog.tables.update(
                    table,
                    lambda committed, t=table: self._rows(t, committed),
                    insert=bool(self.inserts.get(table) or self.versions.get(table)),
                    family=sorted(self.families.get(table, ())),
                )
            elif self.inserts.get(table):
                catalog.tables.append(
                    table, catalog._frame_of(table, self.inserts[table])
                )
        self.release_ids()
        logger.debug("committed batch over %d tables", len(order))

    def release_ids(self) -> None:
        """Return reserved ids this batch did not use, keeping ids dense."""
        for table, unused in self._ids.items():
            self.catalog.ids.release(table, unused)
        self._ids.clear()

    # helpers

    def _pending(self) -> tuple[dict[str, Any], ...]:
        return self.inserts, self.updates, self.deletes, self.versions

    def _rows(self, table: str, committed: pl.DataFrame) -> pl.DataFrame:
        """Everything to merge into `table`, new versions recomputed on `committed`."""
        catalog = self.catalog
        inserts = self.inserts.get(table, [])
        produced: dict[int, dict[str, Any]] = {}
        working = self._upsert(table, committed, inserts)
        for resolve in self.versions.get(table, []):
            rows = resolve(working)
            produced.update((row["id"], row) for row in rows)
            working = self._upsert(table, working, rows)
        self._versioned[table] = produced
        updates = self._kept_from(table, working)
        return catalog._frame_of(table, [*inserts, *produced.values(), *updates])

    def _apply(
        self, table: str, frame: pl.DataFrame, versioned: list[dict[str, Any]]
    ) -> pl.DataFrame:
        """Pending inserts, then resolved versions, then updates, over `frame`."""
        frame = self._upsert(table, frame, self.inserts.get(table, []), cache=True)
        frame = self._upsert(table, frame, versioned)
        updates = self._kept_from(table, frame)
        if updates:
            changed = self.catalog._frame_of(table, updates)
            frame = frame.update(changed, on="id", include_nulls=True)
        return frame

    def _upsert(
        self,
        table: str,
        frame: pl.DataFrame,
        rows: list[dict[str, Any]],
        *,
        cache: bool = False,
    ) -> pl.DataFrame:
        if not rows:
            return frame
        if cache:
            # pending inserts carry freshly allocated ids: nothing to replace
            if table not in self._inserted:
                self._inserted[table] = self.catalog._frame_of(table, rows)
            return pl.concat([frame, self._inserted[table]], rechunk=False)
        new = self.catalog._frame_of(table, rows)
        new = new.unique("id", keep="last", maintain_order=True)
        kept = frame.filter(~pl.col("id").is_in(new.get_column("id").implode()))
        return pl.concat([kept, new])

    def _kept_from(self, table: str, frame: pl.DataFrame) -> list[dict[str, Any]]:
        """The pending updates of `table`, kept columns taken from `frame`."""
        updates = self.updates.get(table, {})
        kept = self.kept.get(table, {})
        ids = [i for i in updates if kept.get(i)]
        current = {}
        if ids:
            rows = frame.filter(pl.col("id").is_in(ids)).iter_rows(named=True)
            current = {row["id"]: row for row in rows}
        out = []
        for i, row in updates.items():
            row = dict(row)
            for column in kept.get(i, ()):
                if i in current:
                    row[column] = current[i][column]
            out.append(row)
        return out
