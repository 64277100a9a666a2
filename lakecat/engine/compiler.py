"""Compile Q trees into Polars expressions over a registry's frame.

One short function per node kind:

- a Q node combines its children with AND/OR and negates null-safely (a row whose
  condition is null counts as "not true", so `~Q(kind="x")` keeps `kind=None`);
- the lookups of one Q node are grouped by their first relation, so conditions on
  the same to-many path hold on the same related row;
- a relation group becomes a semi-join: the ids of matching related rows, then
  `is_in` on the foreign key or the link table, so each row appears once;
- a column lookup becomes one comparator from `comparators.COLUMN_COMPARATORS`;
- a JSON-path lookup is evaluated over the distinct JSON values of the column;
- anything else goes to the feature resolver, when one is given, or is an error.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable
from datetime import date, datetime, timezone
from typing import Any, Protocol

import orjson
import polars as pl

from lakecat.engine.comparators import (
    COLUMN_COMPARATORS,
    ORDER_COMPARATORS,
    TEXT_COMPARATORS,
    json_get,
    python_compare,
)
from lakecat.engine.errors import FieldError, FieldTypeError, FieldValueError, InvalidArgument
from lakecat.engine.lookups import Lookup, Q
from lakecat.schemas import Field, Relation, RegistrySchema, SchemaIndex

logger = logging.getLogger(__name__)

#: comparators allowed after a date part
TRANSFORM_DTYPES = {"date": "date", "year": "int", "month": "int", "day": "int"}


class FeatureResolver(Protocol):
    def __call__(self, registry: str, lookup: Lookup) -> pl.Expr | None:
        """An expression over the registry frame, or None if not a feature."""


def record_ref(value: Any) -> tuple[str, int | None] | None:
    """(registry, id) of a record object, or None for anything else."""
    ref = getattr(value, "__lakecat_ref__", None)
    return ref() if callable(ref) else None


def queryset_ids(value: Any) -> tuple[str, pl.Series] | None:
    ids = getattr(value, "__lakecat_ids__", None)
    return ids() if callable(ids) else None


class Compiler:
    """Turns Q trees on one catalog into expressions; reads frames via `frame`."""

    def __init__(
        self,
        index: SchemaIndex,
        frame: Callable[[str], pl.DataFrame],
        features: FeatureResolver | None = None,
    ) -> None:
        self.index = index
        self.frame = frame
        self.features = features

    # public entries

    def predicate(self, registry: str, node: Q, *, features: bool = False) -> pl.Expr:
        """An expression over `registry`'s frame that is True for matching rows."""
        parts = [self._lookups(registry, node.lookups, features=features)]
        parts += [self.predicate(registry, child, features=features) for child in node.children]
        parts = [p for p in parts if p is not None]
        if not parts:
            expr = pl.lit(True)
        elif node.connector == "AND":
            expr = pl.all_horizontal(parts) if len(parts) > 1 else parts[0]
        else:
            expr = pl.any_horizontal(parts) if len(parts) > 1 else parts[0]
        if node.negated:
            expr = ~expr.fill_null(False)
        return expr

    def ids(self, registry: str, node: Q) -> pl.Series:
        """Ids of `registry` rows matching `node` (no default scoping)."""
        frame = self.frame(self.index.registry(registry).table)
        return frame.filter(self.predicate(registry, node)).get_column("id")

    # lookups of one node

    def _lookups(
        self, registry: str, lookups: tuple[Lookup, ...], *, features: bool
    ) -> pl.Expr | None:
        if not lookups:
            return None
        schema = self.index.registry(registry)
        relations = self.index.relations[registry]
        groups: dict[str, list[Lookup]] = {}
        exprs: list[pl.Expr] = []
        unknown: list[Lookup] = []
        for lookup in lookups:
            head = lookup.path[0]
            if schema.field(head) is not None:
                exprs.append(self._column(schema, lookup))
            elif head in relations:
                groups.setdefault(head, []).append(lookup)
            else:
                unknown.append(lookup)
        for head, group in groups.items():
            exprs.append(self._relation(schema, relations[head], group))
        if unknown:
            exprs.extend(self._unknown(schema, unknown, features=features))
        return pl.all_horizontal(exprs) if len(exprs) > 1 else exprs[0]

    def _unknown(
        self, schema: RegistrySchema, lookups: list[Lookup], *, features: bool
    ) -> list[pl.Expr]:
        names = self.index.query_names(schema.qualified_name)
        if features and self.features is not None:
            exprs, invalid = [], []
            for lookup in lookups:
                expr = self.features(schema.qualified_name, lookup)
                if expr is None:
                    invalid.append(lookup.path[0])
                else:
                    exprs.append(expr)
            if not invalid:
                return exprs
            msg = (
                f"You can query either by available fields: {', '.join(names)}\n"
                f"Or fix invalid feature names: {', '.join(sorted(invalid))}"
            )
            raise InvalidArgument(msg, registry=schema.name, names=invalid)
        name = lookups[0].path[0]
        raise unknown_field(schema, name, names)

    # columns

    def _column(self, schema: RegistrySchema, lookup: Lookup) -> pl.Expr:
        field = schema.field(lookup.path[0])
        assert field is not None
        if field.dtype == "json":
            return self._json(schema, field, lookup)
        if len(lookup.path) > 1:
            msg = (
                f"{schema.name}.{field.name} is a {field.dtype} column and has no "
                f"field {lookup.path[1]!r}; only JSON columns take nested keys"
            )
            raise FieldError(msg, registry=schema.name, field=lookup.key)
        column = pl.col(field.name)
        dtype: str = field.dtype
        if lookup.transform is not None:
            column, dtype = _apply_transform(schema, field, lookup.transform, column)
        allowed = _allowed(dtype)
        if lookup.comparator not in allowed:
            msg = (
                f"{schema.name}.{field.name} ({dtype}) does not support "
                f"`__{lookup.comparator}`; allowed: {', '.join(allowed)}"
            )
            raise FieldTypeError(msg, registry=schema.name, field=field.name, allowed=allowed)
        value = coerce_value(schema, field.name, dtype, lookup.comparator, lookup.value)
        return COLUMN_COMPARATORS[lookup.comparator](column, value)

    def _json(self, schema: RegistrySchema, field: Field, lookup: Lookup) -> pl.Expr:
        keys = lookup.path[1:]
        column = pl.col(field.name)
        if not keys and lookup.comparator == "isnull":
            return column.is_null() if lookup.value else column.is_not_null()
        values = self.frame(schema.table).get_column(field.name).drop_nulls().unique()
        matching = [
            text
            for text in values.to_list()
            if python_compare(
                lookup.comparator, json_get(orjson.loads(text), keys), lookup.value
            )
        ]
        expr = column.is_in(matching)
        if lookup.comparator == "isnull" and lookup.value:
            expr = expr | column.is_null()
        return expr

    # relations

    def _relation(
        self, schema: RegistrySchema, relation: Relation, lookups: list[Lookup]
    ) -> pl.Expr:
        target = self.index.registry(relation.target)
        exprs: list[pl.Expr] = []
        nested: list[Lookup] = []
        for lookup in lookups:
            if len(lookup.path) > 1:
                nested.append(lookup.rest())
            elif lookup.comparator == "isnull":
                exprs.append(self._relation_isnull(relation, bool(lookup.value)))
            else:
                nested.append(self._relation_to_id(schema, relation, lookup))
        if nested:
            frame = self.frame(target.table)
            node = Q()
            node.lookups = tuple(nested)
            ids = frame.filter(self.predicate(relation.target, node)).get_column("id")
            exprs.append(self._semi_join(relation, ids))
        return pl.all_horizontal(exprs) if len(exprs) > 1 else exprs[0]

    def _relation_to_id(
        self, schema: RegistrySchema, relation: Relation, lookup: Lookup
    ) -> Lookup:
        """`records=study1`, `records=3`, `records__in=[a, b]` → a lookup on `id`."""
        target = self.index.registry(relation.target)
        value = lookup.value
        if lookup.comparator == "in":
            ids_of = queryset_ids(value)
            if ids_of is not None:
                value = ids_of[1].to_list()
            else:
                value = [_pk(schema, relation, target, v) for v in value]
        elif lookup.comparator == "exact":
            if isinstance(value, (list, tuple, set)):
                msg = (
                    f"{schema.name}.{relation.name} got a list; use "
                    f"`{relation.name}__in=[...]` to match any of several"
                )
                raise TypeError(msg)
            value = _pk(schema, relation, target, value)
        return Lookup(lookup.key, ("id",), lookup.comparator, value, None, True)

    def _relation_isnull(self, relation: Relation, isnull: bool) -> pl.Expr:
        if relation.kind == "fk":
            column = pl.col(relation.column)
            return column.is_null() if isnull else column.is_not_null()
        linked = self._linked_sources(relation, None)
        has = pl.col("id").is_in(linked)
        return ~has if isnull else has

    def _semi_join(self, relation: Relation, target_ids: pl.Series) -> pl.Expr:
        if relation.kind == "fk":
            return pl.col(relation.column).is_in(target_ids)
        return pl.col("id").is_in(self._linked_sources(relation, target_ids))

    def _linked_sources(self, relation: Relation, target_ids: pl.Series | None) -> pl.Series:
        """Ids on the source side that link to any of `target_ids` (or to anything)."""
        if relation.kind == "reverse_fk":
            frame = self.frame(self.index.registry(relation.target).table)
            if target_ids is not None:
                frame = frame.filter(pl.col("id").is_in(target_ids))
            return frame.get_column(relation.column).drop_nulls()
        assert relation.link is not None
        links = self.frame(relation.link.table)
        if target_ids is not None:
            links = links.filter(pl.col(relation.target_column).is_in(target_ids))
        return links.get_column(relation.source_column)


def _allowed(dtype: str) -> tuple[str, ...]:
    from lakecat.schemas import COMPARATORS_BY_DTYPE

    return COMPARATORS_BY_DTYPE[dtype]


def _apply_transform(schema: RegistrySchema, field: Field, transform: str, column: pl.Expr):
    if field.dtype not in ("datetime", "date") or (
        transform == "date" and field.dtype != "datetime"
    ):
        msg = (
            f"{schema.name}.{field.name} ({field.dtype}) has no `__{transform}`; "
            "date parts apply to datetime and date fields"
        )
        raise FieldTypeError(msg, registry=schema.name, field=field.name)
    parts = {
        "date": lambda c: c.dt.date(),
        "year": lambda c: c.dt.year().cast(pl.Int64),
        "month": lambda c: c.dt.month().cast(pl.Int64),
        "day": lambda c: c.dt.day().cast(pl.Int64),
    }
    return parts[transform](column), TRANSFORM_DTYPES[transform]


def _pk(schema: RegistrySchema, relation: Relation, target: RegistrySchema, value: Any) -> int:
    ref = record_ref(value)
    if ref is not None:
        registry, pk = ref
        if registry != target.qualified_name:
            msg = (
                f"{schema.name}.{relation.name} expects a {target.name}, "
                f"got a {registry.rsplit('.', 1)[-1]}"
            )
            raise TypeError(msg)
        if pk is None:
            msg = f"{schema.name}.{relation.name}: the {target.name} is not saved yet; save() it first"
            raise ValueError(msg)
        return pk
    if isinstance(value, bool):
        msg = f"{schema.name}.{relation.name} expects a {target.name} or an id, got {value!r}"
        raise TypeError(msg)
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        if value.replace("-", "").isalpha():
            msg = f"Invalid lookup '{value}' for {relation.name}. Did you mean {relation.name}__name?"
            raise FieldError(msg, registry=schema.name, field=relation.name)
        if value.strip().isdigit():
            return int(value)
        msg = f"Field 'id' expected a number but got {value!r}."
        raise FieldValueError(msg, registry=schema.name, field=relation.name)
    msg = f"{schema.name}.{relation.name} expects a {target.name} or an id, got {value!r}"
    raise TypeError(msg)


def unknown_field(schema: RegistrySchema, name: str, names: list[str]) -> FieldError:
    close = difflib.get_close_matches(name, names, n=3)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    msg = f"Unknown field '{name}'. Available fields: {', '.join(names)}.{hint}"
    return FieldError(msg, registry=schema.name, field=name, allowed=names)


def _number(schema: RegistrySchema, field: str, dtype: str, value: Any) -> int | float:
    if isinstance(value, bool):
        msg = f"Field '{field}' of {schema.name} expected a number but got {value!r}."
        raise FieldValueError(msg, registry=schema.name, field=field)
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        try:
            return int(value) if dtype == "int" else float(value)
        except ValueError:
            pass
    msg = f"Field '{field}' expected a number but got {value!r}."
    raise FieldValueError(msg, registry=schema.name, field=field)


def _when(schema: RegistrySchema, field: str, dtype: str, value: Any):
    if dtype == "date":
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value)
            except ValueError:
                pass
    else:
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        if isinstance(value, date):
            return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
        if isinstance(value, str):
            try:
                return _when(schema, field, dtype, datetime.fromisoformat(value))
            except ValueError:
                pass
    msg = f"Field '{field}' of {schema.name} expected a {dtype} but got {value!r}."
    raise FieldValueError(msg, registry=schema.name, field=field)


def coerce_value(schema: RegistrySchema, field: str, dtype: str, comparator: str, value: Any):
    """Check and convert a lookup value to the column's type."""
    if comparator == "isnull":
        if not isinstance(value, bool):
            msg = f"`{field}__isnull` takes True or False, got {value!r}"
            raise FieldValueError(msg, registry=schema.name, field=field)
        return value
    if value is None:
        if comparator in ("exact", "iexact"):
            return None
        msg = f"`{field}__{comparator}` cannot compare with None; use `{field}__isnull=True`"
        raise FieldValueError(msg, registry=schema.name, field=field)
    if comparator in TEXT_COMPARATORS:
        if not isinstance(value, str):
            msg = (
                f"`{schema.name}.{field}__{comparator}` takes a string, "
                f"got {type(value).__name__} {value!r}"
            )
            raise FieldValueError(msg, registry=schema.name, field=field)
        return value
    if comparator == "in":
        ids_of = queryset_ids(value)
        if ids_of is not None and field == "id":
            return ids_of[1].to_list()
        if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
            msg = f"`{schema.name}.{field}__in` takes a list, got {value!r}"
            raise FieldValueError(msg, registry=schema.name, field=field)
        return [
            None if v is None else coerce_value(schema, field, dtype, "exact", v)
            for v in value
        ]
    if comparator == "range":
        if not isinstance(value, (list, tuple)) or len(value) != 2:
            msg = f"`{schema.name}.{field}__range` takes (low, high), got {value!r}"
            raise FieldValueError(msg, registry=schema.name, field=field)
        return tuple(coerce_value(schema, field, dtype, "exact", v) for v in value)
    if dtype in ("int", "float"):
        ref = record_ref(value)
        if ref is not None and field.endswith("id"):
            return ref[1]
        return _number(schema, field, dtype, value)
    if dtype in ("datetime", "date"):
        return _when(schema, field, dtype, value)
    if dtype == "bool":
        if not isinstance(value, bool):
            msg = f"Field '{field}' of {schema.name} expected True or False but got {value!r}."
            raise FieldValueError(msg, registry=schema.name, field=field)
        return value
    if dtype == "str" and not isinstance(value, str):
        msg = f"Field '{field}' of {schema.name} expected a string but got {value!r}."
        raise FieldValueError(msg, registry=schema.name, field=field)
    if comparator in ORDER_COMPARATORS:
        return value
    return value
