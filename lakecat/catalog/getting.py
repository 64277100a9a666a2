"""`get()` by id, uid prefix or field lookups, and bulk delete of a queryset."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import polars as pl

from lakecat.catalog import instance
from lakecat.engine import errors
from lakecat.engine.compiler import unknown_field
from lakecat.engine.lookups import Lookup

if TYPE_CHECKING:
    from lakecat.catalog.queryset import QuerySet
    from lakecat.catalog.record import SQLRecord


def get(qs: QuerySet, idlike: int | str | None = None, **kwargs: Any) -> SQLRecord:
    model = qs.model
    schema = model._schema
    if idlike is not None and kwargs:
        msg = f"{schema.name}.get() takes an id/uid or keyword lookups, not both"
        raise TypeError(msg)
    if isinstance(idlike, bool):
        msg = f"{schema.name}.get() takes an int id or a str uid, got {idlike!r}"
        raise TypeError(msg)
    if isinstance(idlike, int):
        return _one(qs._clone(scoped=False).filter(id=idlike), f"id={idlike}")
    if isinstance(idlike, str):
        return _by_uid(qs, idlike)
    if idlike is not None:
        msg = f"{schema.name}.get() takes an int id or a str uid, got {idlike!r}"
        raise TypeError(msg)
    if not kwargs:
        msg = f"{schema.name}.get() needs an id, a uid or keyword lookups"
        raise TypeError(msg)
    _check_fields(qs, kwargs)
    if schema.versioned and not any(k.split("__")[0] == "is_latest" for k in kwargs):
        latest = qs.filter(is_latest=True, **kwargs)
        rows = latest._rows()
        if rows.height == 1:
            return model._from_row(rows.row(0, named=True))
        if rows.height > 1:
            _multiple(model, rows.height)
        rows = qs.filter(**kwargs)._rows()
        if rows.height == 0:
            raise model.DoesNotExist(f"{schema.name} matching query does not exist.")
        newest = rows.sort("created_at", descending=True, maintain_order=True).row(0, named=True)
        return model._from_row(newest)
    return _one(qs.filter(**kwargs), None)


def _check_fields(qs: QuerySet, kwargs: dict[str, Any]) -> None:
    """`get()` does not interpret features: every name must be a field or relation."""
    catalog = instance.current()
    registry = qs.model._schema.qualified_name
    schema = qs.model._schema
    for key in kwargs:
        head = Lookup.parse(key, None).path[0]
        if head in ("visibility", "_branch_code", "transform"):
            continue
        if schema.field(head) is None and head not in catalog.index.relations[registry]:
            raise unknown_field(schema, head, catalog.index.query_names(registry))


def _one(qs: QuerySet, described: str | None) -> SQLRecord:
    model = qs.model
    rows = qs._rows()
    if rows.height == 0:
        raise model.DoesNotExist(f"{model._schema.name} matching query does not exist.")
    if rows.height > 1:
        _multiple(model, rows.height)
    return model._from_row(rows.row(0, named=True))


def _multiple(model, n: int) -> None:
    name = model._schema.name
    raise model.MultipleObjectsReturned(f"get() returned more than one {name} -- it returned {n}!")


def _by_uid(qs: QuerySet, idlike: str) -> SQLRecord:
    """uid or uid prefix, across all branches (trash included)."""
    model = qs.model
    schema = model._schema
    base = qs._clone(scoped=False)
    rows = base._rows().filter(pl.col("uid").str.starts_with(idlike))
    if schema.versioned and len(idlike) <= (schema.uid_stem_length or 0):
        latest = rows.filter(pl.col("is_latest"))
        rows = latest if latest.height else rows.sort("created_at", descending=True)
        if rows.height:
            return model._from_row(rows.row(0, named=True))
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


def delete_queryset(qs: QuerySet, permanent: bool | None) -> None:
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
        warnings.warn("moved records to trash (branch_id = -1)", UserWarning, stacklevel=3)
