"""`get()` by id, uid prefix or field lookups, and bulk delete of a queryset.

Point reads avoid scanning: ids are found by binary search in the id-sorted table
frame, and uids through a sorted index built per table snapshot. The index costs
one sort of the uid column, so it is built only when a snapshot is asked by uid a
second time (a process that writes between every `get()` never pays for it) and
only for tables large enough for a scan to matter.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import polars as pl

from lakecat.catalog import instance
from lakecat.catalog.messages import warn_user
from lakecat.engine.compiler import available_names, unknown_field
from lakecat.engine.lookups import Lookup

if TYPE_CHECKING:
    from lakecat.catalog.queryset import QuerySet
    from lakecat.catalog.record import SQLRecord

__all__ = ["delete_queryset", "get"]

#: below this many rows a uid scan is as fast as the index
INDEX_MIN_ROWS = 20_000
#: the largest code point: `prefix + TOP` sorts after every string with that prefix
TOP = "\U0010ffff"


def get(qs: QuerySet, idlike: int | str | None = None, **kwargs: Any) -> SQLRecord:
    """One record of `qs` by id, uid (prefix) or field lookups; see `QuerySet.get`."""
    model = qs.model
    schema = model._schema
    if idlike is not None and kwargs:
        msg = f"{schema.name}.get() takes an id/uid or keyword lookups, not both"
        raise TypeError(msg)
    if isinstance(idlike, bool) or (
        idlike is not None and not isinstance(idlike, (int, str))
    ):
        msg = f"{schema.name}.get() takes an int id or a str uid, got {idlike!r}"
        raise TypeError(msg)
    if isinstance(idlike, int):
        return _by_id(qs, idlike)
    if isinstance(idlike, str):
        return _by_uid(qs, idlike)
    if not kwargs:
        msg = f"{schema.name}.get() needs an id, a uid or keyword lookups"
        raise TypeError(msg)
    _check_fields(qs, kwargs)
    if _plain(qs) and len(kwargs) == 1:
        ((key, value),) = kwargs.items()
        if key == "uid" and isinstance(value, str):
            return _one_uid(qs, value)
        if key == "id" and isinstance(value, int) and not isinstance(value, bool):
            return _by_id(qs, value)
    if schema.versioned and not any(k.split("__")[0] == "is_latest" for k in kwargs):
        rows = qs.filter(is_latest=True, **kwargs)._at_most_two()
        if rows.height == 1:
            return model._from_row(rows.row(0, named=True))
        if rows.height > 1:
            _multiple(model, qs.filter(is_latest=True, **kwargs).count())
        rows = qs.filter(**kwargs).order_by("-created_at")[:1]._rows()
        if rows.height == 0:
            raise _missing(model)
        return model._from_row(rows.row(0, named=True))
    return _one(qs.filter(**kwargs))


def _plain(qs: QuerySet) -> bool:
    """An unfiltered registry queryset, whose rows are the whole table frame."""
    return not qs._nodes and qs._window is None and qs._ranked is None


def _check_fields(qs: QuerySet, kwargs: dict[str, Any]) -> None:
    """`get()` does not interpret features: every name must be a field or relation."""
    catalog = instance.current()
    schema = qs.model._schema
    registry = schema.qualified_name
    relations = catalog.index.relations[registry]
    for key in kwargs:
        head = Lookup.parse(key, None).path[0]
        if head in ("visibility", "_branch_code", "transform"):
            continue
        if schema.field(head) is None and head not in relations:
            raise unknown_field(
                schema, head, available_names(catalog.index, registry), key=key
            )


def _missing(model) -> Exception:
    return model.DoesNotExist(f"{model._schema.name} matching query does not exist.")


def _one(qs: QuerySet) -> SQLRecord:
    model = qs.model
    rows = qs._at_most_two()
    if rows.height == 0:
        raise _missing(model)
    if rows.height > 1:
        _multiple(model, qs.count())
    return model._from_row(rows.row(0, named=True))


def _multiple(model, n: int) -> None:
    name = model._schema.name
    msg = f"get() returned more than one {name} -- it returned {n}!"
    raise model.MultipleObjectsReturned(msg)


def _by_id(qs: QuerySet, pk: int) -> SQLRecord:
    """The row with this id, in any branch."""
    model = qs.model
    if not _plain(qs):
        return _one(qs._clone(scoped=False).filter(id=pk))
    catalog = instance.current()
    table = model._schema.table
    frame = catalog.frame(table)
    ids = frame.get_column("id")
    if _sorted_ids(catalog, table, frame):
        position = ids.search_sorted(pk, side="left")
        if position < frame.height and ids[position] == pk:
            return model._from_row(frame.row(position, named=True))
        raise _missing(model)
    rows = frame.filter(pl.col("id") == pk)
    if rows.height == 0:
        raise _missing(model)
    return model._from_row(rows.row(0, named=True))


#: per (catalog, table): the last snapshot whose ids were checked to be sorted
_SORTED_IDS: dict[tuple[int, str], weakref.ref[pl.DataFrame]] = {}


def _sorted_ids(catalog, table: str, frame: pl.DataFrame) -> bool:
    """Whether the frame's ids ascend (checked once per snapshot), for binary search."""
    ids = frame.get_column("id")
    if ids.flags["SORTED_ASC"]:
        return True
    key = (id(catalog), table)
    seen = _SORTED_IDS.get(key)
    if seen is not None and seen() is frame:
        return True
    if ids.is_sorted():
        _SORTED_IDS[key] = weakref.ref(frame)
        return True
    return False


def _one_uid(qs: QuerySet, uid: str) -> SQLRecord:
    model = qs.model
    rows = _uid_rows(qs, uid, exact=True)
    if rows.height == 0:
        raise _missing(model)
    if rows.height > 1:
        _multiple(model, rows.height)
    return model._from_row(rows.row(0, named=True))


def _by_uid(qs: QuerySet, idlike: str) -> SQLRecord:
    """uid or uid prefix, across all branches (trash included)."""
    model = qs.model
    schema = model._schema
    rows = _uid_rows(qs, idlike, exact=False)
    if (
        schema.versioned
        and len(idlike) <= (schema.uid_stem_length or 0)
        and rows.height
    ):
        latest = rows.filter(pl.col("is_latest"))
        if latest.height:
            return model._from_row(latest.row(0, named=True))
        newest = rows.sort(["created_at", "id"], descending=[True, False])
        return model._from_row(newest.row(0, named=True))
    if rows.height == 1:
        return model._from_row(rows.row(0, named=True))
    if rows.height > 1:
        msg = f"{rows.height} {schema.name} records have a uid starting with {idlike!r}"
        raise model.MultipleObjectsReturned(msg)
    name_field = schema.name_field or "name"
    msg = (
        f"No record found with uid '{idlike}'. Did you forget a keyword as in "
        f"{schema.name}.get({name_field}='{idlike}')?"
    )
    raise model.DoesNotExist(msg)


def _uid_rows(qs: QuerySet, text: str, *, exact: bool) -> pl.DataFrame:
    """Rows of `qs` (ignoring branches) whose uid is `text` or starts with it."""
    if not _plain(qs):
        column = pl.col("uid")
        match = column == text if exact else column.str.starts_with(text)
        return qs._clone(scoped=False)._plan().filter(match).collect()
    catalog = instance.current()
    table = qs.model._schema.table
    frame = catalog.frame(table)
    index = _uid_index(catalog, table, frame)
    if index is None:
        column = pl.col("uid")
        match = column == text if exact else column.str.starts_with(text)
        return frame.filter(match)
    return index.rows(frame, text, exact=exact)


@dataclass
class _UidIndex:
    """The uid column sorted, with each entry's row position in the frame."""

    frame: weakref.ref[pl.DataFrame]
    uids: pl.Series | None = None
    positions: pl.Series | None = None

    def rows(self, frame: pl.DataFrame, text: str, *, exact: bool) -> pl.DataFrame:
        if self.uids is None:
            order = frame.get_column("uid").arg_sort()
            self.uids = frame.get_column("uid").gather(order).set_sorted()
            self.positions = order
        assert self.positions is not None
        low = self.uids.search_sorted(text, side="left")
        high = self.uids.search_sorted(text if exact else text + TOP, side="right")
        if high <= low:
            return frame.clear()
        return frame[self.positions.slice(low, high - low).sort()]


#: per (catalog, table): the index of the snapshot last asked by uid
_UID_INDEXES: dict[tuple[int, str], _UidIndex] = {}


def _uid_index(catalog, table: str, frame: pl.DataFrame) -> _UidIndex | None:
    """The uid index of this snapshot, if it is big and asked for a second time."""
    if frame.height < INDEX_MIN_ROWS:
        return None
    key = (id(catalog), table)
    index = _UID_INDEXES.get(key)
    if index is None or index.frame() is not frame:
        _UID_INDEXES[key] = _UidIndex(weakref.ref(frame))
        return None
    return index


def delete_queryset(qs: QuerySet, permanent: bool | None) -> None:
    """Trash (or with `permanent=True` remove) every record of `qs`."""
    schema = qs.model._schema
    if schema.name in ("Storage", "Branch") and permanent is False:
        msg = f"{schema.name} records can only be deleted permanently (permanent=True)"
        raise ValueError(msg)
    records = list(qs)
    catalog = instance.current()
    with catalog.batching():
        for record in records:
            record.delete(permanent=permanent)
    if records and not permanent and schema.has_branch:
        warn_user("moved records to trash (branch_id = -1)")
