"""Buffered writes: `with lc.batch(): ...` commits everything at the end.

Inside the block every insert, update and delete is kept in memory; queries in the
same process see the buffer laid over the committed rows. On exit the buffer is
written with one commit per table touched, link tables and labels before the
records that own them, so that the owner's commit is the point at which a reader
sees the whole record. If the block raises, nothing is written.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import polars as pl

if TYPE_CHECKING:
    from lakecat.catalog.instance import Catalog

logger = logging.getLogger(__name__)

#: ids reserved per table at a time inside a batch; unused ones become a gap
ID_BLOCK = 512

#: tables committed last, in this order: the owners that make a record visible
OWNERS = ("run", "collection", "artifact")


class Batch:
    """The pending writes of one `lc.batch()` block."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.inserts: dict[str, list[dict[str, Any]]] = {}
        self.updates: dict[str, dict[int, dict[str, Any]]] = {}
        self.deletes: dict[str, list[tuple[str, list[int]]]] = {}
        self._ids: dict[str, range] = {}
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
        self._generation += 1

    def update(self, table: str, rows: list[dict[str, Any]]) -> None:
        pending = {row["id"]: row for row in self.inserts.get(table, [])}
        for row in rows:
            if row["id"] in pending:
                pending[row["id"]].update(row)
            else:
                self.updates.setdefault(table, {})[row["id"]] = row
        self._generation += 1

    def delete(self, table: str, column: str, ids: list[int]) -> None:
        doomed = set(ids)
        if table in self.inserts:
            self.inserts[table] = [r for r in self.inserts[table] if r.get(column) not in doomed]
        if column == "id" and table in self.updates:
            for i in doomed:
                self.updates[table].pop(i, None)
        self.deletes.setdefault(table, []).append((column, ids))
        self._generation += 1

    def overlay(self, table: str, base: pl.DataFrame) -> pl.DataFrame:
        """`base` with this batch's pending changes applied."""
        if table not in self.inserts and table not in self.updates and table not in self.deletes:
            return base
        cached = self._overlays.get(table)
        if cached is not None and cached[0] == self._generation and cached[1] is base:
            return cached[2]
        frame = base
        for column, ids in self.deletes.get(table, []):
            frame = frame.filter(~pl.col(column).is_in(ids))
        schema = self.catalog.tables.schemas[table]
        if self.updates.get(table):
            changed = pl.DataFrame(list(self.updates[table].values()), schema=schema, strict=False)
            frame = frame.update(changed, on="id", include_nulls=True)
        if self.inserts.get(table):
            added = pl.DataFrame(self.inserts[table], schema=schema, strict=False)
            frame = pl.concat([frame, added])
        self._overlays[table] = (self._generation, base, frame)
        return frame

    def commit(self) -> None:
        catalog = self.catalog
        tables = set(self.inserts) | set(self.updates) | set(self.deletes)
        order = sorted(tables, key=lambda t: (t in OWNERS, OWNERS.index(t) if t in OWNERS else 0, t))
        for table in order:
            for column, ids in self.deletes.get(table, []):
                catalog.tables.delete(table, column, ids)
            updates = list(self.updates.get(table, {}).values())
            inserts = self.inserts.get(table, [])
            if updates:
                # one merge, so new rows and changed rows become visible together
                frame = catalog._frame_of(table, updates + inserts)
                catalog.tables.update(table, frame, insert=bool(inserts))
            elif inserts:
                catalog.tables.append(table, catalog._frame_of(table, inserts))
        logger.debug("committed batch over %d tables", len(order))
