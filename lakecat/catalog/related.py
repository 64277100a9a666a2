"""Managers of to-many relations: `artifact.records`, `record.parents`, `type.records`.

Link rows are written by `link_rows`, which `add()` and feature annotation share:
a pair that is already linked (under the same feature) is not linked twice. The
check reads committed links once per owner and, inside `lc.batch()`, keeps the
batch's own link rows in a set, so annotating thousands of records in one batch
never rescans the buffered rows.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import polars as pl

from lakecat.catalog import instance
from lakecat.engine.lookups import Q

if TYPE_CHECKING:
    from lakecat.catalog.batch import Batch
    from lakecat.catalog.instance import Catalog
    from lakecat.catalog.queryset import QuerySet
    from lakecat.catalog.record import SQLRecord
    from lakecat.schemas import Relation

__all__ = [
    "LinkKey",
    "RelatedManager",
    "Rows",
    "allocate",
    "derived",
    "link_rows",
    "new_links",
    "rows_where_in",
    "snapshot",
    "write",
]

#: a link's identity for duplicate checks: (source id, target id, feature id)
LinkKey = tuple[int, int, int | None]


class RelatedManager:
    """The records on the other side of one to-many relation of one record.

    Behaves as a QuerySet (`filter`, `to_dataframe`, `count`, iteration, …) and adds
    `add()`, `remove()` and `set()` for many-to-many relations.
    """

    def __init__(self, owner: SQLRecord, name: str) -> None:
        self.owner = owner
        self.name = name
        catalog = instance.current()
        self.relation = catalog.index.relations[owner._schema.qualified_name][name]

    def _queryset(self) -> QuerySet:
        from lakecat.catalog.queryset import QuerySet
        from lakecat.catalog.record import REGISTRY_CLASSES

        target = REGISTRY_CLASSES[self.relation.target]
        reverse = _reverse_name(self.relation)
        if self.owner.id is None:
            return QuerySet(target, scoped=False).filter(Q(id__in=[]))
        if reverse is not None:
            return QuerySet(target, scoped=False).filter(Q(**{reverse: self.owner.id}))
        return QuerySet(target, scoped=False).filter(Q(id__in=self._target_ids()))

    def _target_ids(self) -> list[int]:
        catalog = instance.current()
        relation = self.relation
        if relation.kind == "reverse_fk":
            frame = catalog.frame(catalog.index.registry(relation.target).table)
            return frame.filter(pl.col(relation.column) == self.owner.id)[
                "id"
            ].to_list()
        links = catalog.frame(relation.link.table)
        links = links.filter(pl.col(relation.source_column) == self.owner.id)
        return links[relation.target_column].to_list()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._queryset(), name)

    def __iter__(self):
        return iter(self._queryset())

    def __len__(self) -> int:
        return len(self._queryset())

    def __repr__(self) -> str:
        return f"<{type(self.owner).__name__}.{self.name}: {self._queryset()!r}>"

    def all(self) -> QuerySet:
        return self._queryset()

    def add(self, *records: SQLRecord, feature: SQLRecord | None = None) -> None:
        """Link records (once each); `feature` says which feature they annotate.

        Examples
        --------
        >>> artifact.records.add(dmso, feature=perturbation)  # doctest: +SKIP
        """
        catalog = instance.current()
        relation = self.relation
        if relation.kind != "m2m":
            msg = (
                f"{type(self.owner).__name__}.{self.name} is not many-to-many; "
                "set the foreign key on the other side"
            )
            raise TypeError(msg)
        owner_id = self._saved_id()
        targets = [_checked(self, r) for r in _flatten(records)]
        feature_id = None
        if feature is not None:
            if not _has_feature(relation):
                msg = (
                    f"{type(self.owner).__name__}.{self.name} links carry no feature; "
                    "call add() without `feature=`"
                )
                raise TypeError(msg)
            feature_id = _feature_id(feature)
        keys = [(owner_id, t, feature_id) for t in targets]
        link_rows(catalog, relation, keys, exact=catalog.batch is None)

    def remove(self, *records: SQLRecord) -> None:
        """Unlink records (under any feature)."""
        catalog = instance.current()
        relation = self.relation
        owner_id = self._saved_id()
        targets = {_checked(self, r) for r in _flatten(records)}
        links = catalog.frame(relation.link.table).filter(
            (pl.col(relation.source_column) == owner_id)
            & pl.col(relation.target_column).is_in(list(targets))
        )
        catalog.delete_rows(relation.link.table, "id", links["id"].to_list())

    def set(self, records) -> None:
        """Replace the linked records by `records`."""
        with instance.current().batching():
            self.remove(*self.all())
            self.add(*records)

    def _saved_id(self) -> int:
        if self.owner.id is None:
            msg = f"save the {type(self.owner).__name__} before linking records to it"
            raise ValueError(msg)
        return self.owner.id


# reading with per-snapshot indexes

#: id(frame) → (a weak reference to it, data derived from it); frames are not
#: hashable, and an entry goes when its frame does (a snapshot moved on)
_DERIVED: dict[int, tuple[weakref.ref, dict[Any, Any]]] = {}


def _slot(frame: pl.DataFrame) -> dict[Any, Any]:
    key = id(frame)
    entry = _DERIVED.get(key)
    if entry is None or entry[0]() is not frame:

        def forget(ref: weakref.ref, key: int = key) -> None:
            if key in _DERIVED and _DERIVED[key][0] is ref:
                del _DERIVED[key]

        entry = _DERIVED[key] = (weakref.ref(frame, forget), {})
    return entry[1]


def derived(frame: pl.DataFrame, key: Any, build: Callable[[], Any]) -> Any:
    """Data computed from `frame`, kept as long as the frame is the current one."""
    slot = _slot(frame)
    if key not in slot:
        slot[key] = build()
    return slot[key]


def rows_where_in(
    frame: pl.DataFrame, column: str, keys: Sequence[int] | pl.Series
) -> pl.DataFrame:
    """Rows of `frame` whose integer `column` is one of `keys`, in frame order.

    A large frame asked for a few keys twice gets an index (its row order by
    `column`), so later calls cost a binary search per key instead of a scan.
    """
    dtype = frame.schema[column]
    keys = pl.Series("key", keys, dtype=dtype).unique().sort()
    if keys.is_empty() or frame.is_empty():
        return frame.clear()
    if frame.height < 200_000 or keys.len() * 20 > frame.height:
        return frame.filter(pl.col(column).is_in(keys.implode()))
    slot = _slot(frame)
    index = slot.get(("sorted", column))
    if index is None:
        slot[("asked", column)] = slot.get(("asked", column), 0) + 1
        if slot[("asked", column)] < 2:
            return frame.filter(pl.col(column).is_in(keys.implode()))
        order = frame.get_column(column).arg_sort()
        ordered = frame.get_column(column).gather(order)
        index = slot[("sorted", column)] = (order, ordered)
    order, ordered = index
    low = ordered.search_sorted(keys, side="left").to_numpy()
    high = ordered.search_sorted(keys, side="right").to_numpy()
    import numpy as np

    counts = high - low
    total = int(counts.sum())
    if total == 0:
        return frame.clear()
    starts = np.repeat(low - np.concatenate(([0], np.cumsum(counts)[:-1])), counts)
    positions = starts + np.arange(total)
    return frame[order.gather(positions).sort()]


# writing link rows


def allocate(catalog: Catalog, table: str, count: int, *, exact: bool) -> range:
    """Ids for new rows: a block of the open batch, or exactly `count` claimed now.

    `exact` keeps ids dense when a single call opens its own batch (the guide's
    feature values are 1…7); a long batch takes blocks to claim less often.
    """
    if exact or catalog.batch is None:
        return catalog.ids.allocate(table, count, catalog.tables.max_id(table))
    return catalog.allocate_ids(table, count)


def snapshot(catalog: Catalog, table: str) -> pl.DataFrame:
    """Rows of `table` as this process sees them, cheaply inside a batch.

    Inside a batch, a table the batch has not touched is read once and kept for
    the rest of the batch (no storage check per call); a touched one is the
    batch's overlay.
    """
    batch = catalog.batch
    if batch is None or _touched(batch, table):
        return catalog.frame(table)
    return _session(batch).committed(table)


def _touched(batch: Batch, table: str) -> bool:
    pending = (
        batch.inserts,
        batch.updates,
        batch.deletes,
        getattr(batch, "versions", {}),
    )
    return any(table in changes for changes in pending)


class Rows:
    """New rows for one table: as dicts (what a batch buffers) or by column (what
    becomes one frame for a large write)."""

    def __init__(
        self,
        table: str,
        columns: dict[str, list[Any]] | None = None,
        keys: list[LinkKey] | None = None,
        *,
        dicts: list[dict[str, Any]] | None = None,
    ) -> None:
        self.table = table
        self.columns = columns
        self.rows = dicts
        #: for link tables: the (source, target, feature) key of each row
        self.keys = keys

    def __len__(self) -> int:
        if self.rows is not None:
            return len(self.rows)
        return len(self.columns["id"]) if self.columns else 0

    def dicts(self) -> list[dict[str, Any]]:
        if self.rows is not None:
            return self.rows
        names = list(self.columns)
        rows = zip(*self.columns.values(), strict=True)
        return [dict(zip(names, row, strict=True)) for row in rows]

    def frame(self, schema: pl.Schema) -> pl.DataFrame:
        if self.rows is not None:
            return pl.DataFrame(self.rows, schema=schema, strict=False)
        return pl.DataFrame(self.columns, schema={c: schema[c] for c in self.columns})


def write(catalog: Catalog, rows: Iterable[Rows]) -> None:
    """Write rows table by table, in the order given (the last is the point of
    visibility): into the open batch, or one append per table."""
    for part in rows:
        if not len(part):
            continue
        batch = catalog.batch
        if batch is None:
            frame = part.frame(catalog.tables.schemas[part.table])
            catalog.tables.append(part.table, frame)
            continue
        catalog.insert(part.table, part.dicts())
        if part.keys is not None:
            _session(batch).inserted(part.table, part.keys)


def link_rows(
    catalog: Catalog, relation: Relation, keys: Iterable[LinkKey], *, exact: bool
) -> int:
    """Insert a link row per (source, target, feature) key that is not linked yet.

    The feature is ignored (None) for link tables without a `feature_id` column.
    Returns how many rows were inserted.
    """
    rows = new_links(catalog, relation, keys, exact=exact)
    write(catalog, [rows])
    return len(rows)


#: writes of up to this many rows are built as dicts, larger ones by column
SMALL = 64


def new_links(
    catalog: Catalog, relation: Relation, keys: Iterable[LinkKey], *, exact: bool
) -> Rows:
    """Link rows for the keys that are not linked yet, with ids claimed."""
    link = relation.link
    assert link is not None
    has_feature = _has_feature(relation)
    if has_feature:
        wanted = list(dict.fromkeys(keys))
    else:
        wanted = list(dict.fromkeys((s, t, None) for s, t, _ in keys))
    new = _missing(catalog, relation, wanted, has_feature) if wanted else []
    if not new:
        return Rows(link.table, dicts=[], keys=[])
    ids = allocate(catalog, link.table, len(new), exact=exact)
    source, target = relation.source_column, relation.target_column
    now = instance.now()
    if len(new) <= SMALL:
        if has_feature:
            rows = [{"id": i, source: s, target: t, "feature_id": f, "created_at": now}
                    for i, (s, t, f) in zip(ids, new, strict=True)]  # fmt: skip
        else:
            rows = [{"id": i, source: s, target: t, "created_at": now}
                    for i, (s, t, _) in zip(ids, new, strict=True)]  # fmt: skip
        return Rows(link.table, dicts=rows, keys=new)
    columns: dict[str, list[Any]] = {
        "id": list(ids), source: [k[0] for k in new], target: [k[1] for k in new],
    }  # fmt: skip
    if has_feature:
        columns["feature_id"] = [k[2] for k in new]
    columns["created_at"] = [now] * len(new)
    return Rows(link.table, columns, new)


#: above this many keys, existing links are found with a join instead of a set
BULK_KEYS = 50_000


def _missing(
    catalog: Catalog, relation: Relation, wanted: list[LinkKey], has_feature: bool
) -> list[LinkKey]:
    """The `wanted` links that exist neither committed nor buffered in the batch."""
    table = relation.link.table
    source, target = relation.source_column, relation.target_column
    batch = catalog.batch
    pending: set[LinkKey] = set()
    if batch is None or table in batch.deletes or table in batch.updates:
        frame = catalog.frame(table)  # with a batch: its overlay
    else:
        session = _session(batch)
        frame = session.committed(table)
        pending = session.pending(table, source, target)
    if pending:
        wanted = [k for k in wanted if k not in pending]
    if frame.is_empty() or not wanted:
        return wanted
    sources = sorted({s for s, _, _ in wanted})
    if sources[-1] < _min(frame, source) or sources[0] > _max(frame, source):
        return wanted
    columns = [source, target, "feature_id"] if has_feature else [source, target]
    if len(wanted) > BULK_KEYS:
        keys = pl.DataFrame(
            [list(c) for c in zip(*wanted, strict=True)][: len(columns)],
            schema=dict.fromkeys(columns, pl.Int64),
            orient="col",
        )
        committed = frame.select(columns)
        left = keys.join(committed, on=columns, how="anti", nulls_equal=True,
                         maintain_order="left")  # fmt: skip
        return [(*row, None) if not has_feature else row for row in left.rows()]
    rows = rows_where_in(frame, source, sources).select(columns).rows()
    found = {(r[0], r[1], r[2] if has_feature else None) for r in rows}
    return [k for k in wanted if k not in found]


def _max(frame: pl.DataFrame, column: str) -> int:
    return derived(frame, ("max", column), lambda: frame.get_column(column).max())


def _min(frame: pl.DataFrame, column: str) -> int:
    return derived(frame, ("min", column), lambda: frame.get_column(column).min())


class _Session:
    """What link writing keeps for one batch: committed snapshots, and the keys of
    the link rows the batch holds, per table."""

    def __init__(self, batch: Batch) -> None:
        self.batch = batch
        self.frames: dict[str, pl.DataFrame] = {}
        #: table → (the batch's row list, its length when last seen, keys)
        self.keys: dict[str, tuple[list[dict[str, Any]], int, set[LinkKey]]] = {}

    def committed(self, table: str) -> pl.DataFrame:
        frame = self.frames.get(table)
        if frame is None:
            frame = self.frames[table] = self.batch.catalog.tables.frame(table)
        return frame

    def pending(self, table: str, source: str, target: str) -> set[LinkKey]:
        rows = self.batch.inserts.get(table, [])
        seen = self.keys.get(table)
        if seen is None or seen[0] is not rows or seen[1] != len(rows):
            keys = {(r[source], r[target], r.get("feature_id")) for r in rows}
            self.keys[table] = seen = (rows, len(rows), keys)
        return seen[2]

    def inserted(self, table: str, keys: list[LinkKey]) -> None:
        """Keep the key set in step with rows this module just inserted."""
        rows = self.batch.inserts.get(table, [])
        seen = self.keys.get(table)
        if seen is not None and seen[0] is rows and seen[1] + len(keys) == len(rows):
            seen[2].update(keys)
            self.keys[table] = (rows, len(rows), seen[2])


_SESSIONS: weakref.WeakKeyDictionary[Batch, _Session] = weakref.WeakKeyDictionary()


def _session(batch: Batch) -> _Session:
    session = _SESSIONS.get(batch)
    if session is None:
        session = _SESSIONS[batch] = _Session(batch)
    return session


@functools.lru_cache(maxsize=256)
def _has_feature(relation: Relation) -> bool:
    return relation.link is not None and any(
        f.name == "feature_id" for f in relation.link.extra
    )


def _feature_id(feature: Any) -> int:
    if getattr(feature, "_schema", None) is None or feature._schema.name != "Feature":
        msg = f"`feature=` takes a Feature, got {feature!r}"
        raise TypeError(msg)
    if feature.id is None:
        msg = f"save the feature {feature.name!r} before linking labels under it"
        raise ValueError(msg)
    return feature.id


def _reverse_name(relation) -> str | None:
    """For a reverse foreign key, the forward lookup on the target (`type`)."""
    if relation.kind == "reverse_fk":
        return relation.column
    return None


def _flatten(records) -> list:
    flat = []
    for r in records:
        if isinstance(r, (list, tuple, set)) or hasattr(r, "__lakecat_ids__"):
            flat.extend(r)
        else:
            flat.append(r)
    return flat


def _checked(manager: RelatedManager, record: Any) -> int:
    from lakecat.catalog.record import REGISTRY_CLASSES

    target = REGISTRY_CLASSES[manager.relation.target]
    if not isinstance(record, target):
        msg = (
            f"{type(manager.owner).__name__}.{manager.name} takes {target.__name__} "
            f"records, got {record!r}"
        )
        raise TypeError(msg)
    if record.id is None:
        msg = f"save the {target.__name__} {record!r} before linking it"
        raise ValueError(msg)
    return record.id
