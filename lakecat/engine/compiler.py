"""Compile Q trees into Polars expressions over a registry's frame.

One short function per node kind:

- a Q node combines its children with AND/OR and negates null-safely (a row whose
  condition is null counts as "not true", so `~Q(kind="x")` keeps `kind=None`);
- the lookups of one Q node are grouped by their first relation, so conditions on
  the same to-many path hold on the same related row;
- a relation group becomes a semi-join: the ids of matching related rows, then
  `is_in` on the foreign key or the link table, so each row appears once; a group
  that only names ids (`records=study1`, `created_by=1`) skips the related table;
- a column lookup becomes one comparator from `comparators.COLUMN_COMPARATORS`;
- a JSON-path lookup is evaluated over the distinct JSON values of the column;
- anything else goes to the feature resolver, when one is given, or is an error.

Related tables are read through the `frame` callable, so the caller knows which
table snapshots an expression was built from and can tell when it went stale.
"""

from __future__ import annotations

import contextlib
import difflib
import logging
from collections.abc import Callable, Iterable
from datetime import date, datetime, timezone
from typing import Any, Protocol

import orjson
import polars as pl

from lakecat.engine.comparators import (
    COLUMN_COMPARATORS,
    PYTHON_COMPARATORS,
    REGEX_COMPARATORS,
    TEXT_COMPARATORS,
    json_get,
    python_compare,
)
from lakecat.engine.errors import (
    FieldError,
    FieldTypeError,
    FieldValueError,
    InvalidArgument,
)
from lakecat.engine.lookups import Lookup, Q
from lakecat.schemas import (
    COMPARATORS_BY_DTYPE,
    Field,
    RegistrySchema,
    Relation,
    SchemaIndex,
)

__all__ = [
    "ALIASES",
    "Compiler",
    "FeatureResolver",
    "UnknownFieldOrFeature",
    "canonical_key",
    "coerce_value",
    "is_in",
    "unknown_field",
]

logger = logging.getLogger(__name__)

#: the dtype of a date part, which decides the comparators allowed after it
TRANSFORM_DTYPES = {"date": "date", "year": "int", "month": "int", "day": "int"}
_TRANSFORMS: dict[str, Callable[[pl.Expr], pl.Expr]] = {
    "date": lambda c: c.dt.date(),
    "year": lambda c: c.dt.year().cast(pl.Int64),
    "month": lambda c: c.dt.month().cast(pl.Int64),
    "day": lambda c: c.dt.day().cast(pl.Int64),
}

_BRANCH_ALIASES = {"visibility": ("branch_id",), "_branch_code": ("branch_id",)}
#: LaminDB's backward-compatible names, rewritten before resolution
ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    "Artifact": {**_BRANCH_ALIASES, "transform": ("run", "transform")},
    "Collection": _BRANCH_ALIASES,
    "Transform": _BRANCH_ALIASES,
}

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class FeatureResolver(Protocol):
    def __call__(self, registry: str, lookup: Lookup) -> pl.Expr | None:
        """An expression over the registry frame, or None if not a feature."""


class UnknownFieldOrFeature(InvalidArgument, FieldError):
    """A filter name that is neither a field, a relation nor a feature.

    Both LaminDB's `InvalidArgument` and a `FieldError`, so either catch works.
    """

    def __init__(self, message: str, *, registry: str, names: list[str],
                 allowed: list[str]) -> None:  # fmt: skip
        InvalidArgument.__init__(self, message, registry=registry, names=names)
        self.field = names[0]
        self.allowed = allowed


def record_ref(value: Any) -> tuple[str, int | None] | None:
    """(registry, id) of a record object, or None for anything else."""
    ref = getattr(value, "__lakecat_ref__", None)
    return ref() if callable(ref) else None


def queryset_ids(value: Any) -> tuple[str, pl.Series] | None:
    """(registry, ids) of a queryset, or None for anything else."""
    ids = getattr(value, "__lakecat_ids__", None)
    return ids() if callable(ids) else None


def is_in(column: pl.Expr, ids: pl.Series) -> pl.Expr:
    """`column` is one of `ids`, without Polars' ambiguous Series form."""
    return column.is_in(pl.lit(ids).implode())


def canonical_key(registry: str, key: str) -> str:
    """`key` with a backward-compatible alias rewritten (`visibility` → `branch_id`)."""
    head, sep, rest = key.partition("__")
    alias = ALIASES.get(registry, {}).get(head)
    if alias is None:
        return key
    return "__".join(alias) + sep + rest


def available_names(index: SchemaIndex, registry: str) -> list[str]:
    """Public query names of a registry, aliases included; for error messages."""
    names = set(index.query_names(registry))
    names.update(a for a in ALIASES.get(registry, {}) if not a.startswith("_"))
    return sorted(names)


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
        parts = []
        if node.lookups:
            parts.append(self._lookups(registry, node.lookups, features=features))
        parts += [self.predicate(registry, child) for child in node.children]
        if not parts:
            expr = pl.lit(True)
        elif node.connector == "AND":
            expr = _all(parts)
        else:
            expr = _any(parts)
        if node.negated:
            expr = ~expr.fill_null(False)
        return expr

    def ids(self, registry: str, node: Q) -> pl.Series:
        """Ids of `registry` rows matching `node` (no default scoping)."""
        frame = self.frame(self.index.registry(registry).table)
        return frame.filter(self.predicate(registry, node)).get_column("id")

    # lookups of one node

    def _lookups(
        self, registry: str, lookups: tuple[Lookup, ...], *, features: bool = False
    ) -> pl.Expr:
        schema = self.index.registry(registry)
        relations = self.index.relations[registry]
        aliases = ALIASES.get(schema.name, {})
        groups: dict[str, list[Lookup]] = {}
        exprs: list[pl.Expr] = []
        unknown: list[Lookup] = []
        for lookup in lookups:
            alias = aliases.get(lookup.path[0])
            if alias is not None:
                lookup = lookup.with_path(alias + lookup.path[1:])
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
        return _all(exprs)

    def _unknown(
        self, schema: RegistrySchema, lookups: list[Lookup], *, features: bool
    ) -> list[pl.Expr]:
        registry = schema.qualified_name
        names = available_names(self.index, registry)
        if not (features and self.features is not None):
            lookup = lookups[0]
            raise unknown_field(schema, lookup.path[0], names, key=lookup.key)
        exprs, invalid = [], []
        for lookup in lookups:
            expr = self.features(registry, lookup)
            if expr is None:
                invalid.append(lookup.path[0])
            else:
                exprs.append(expr)
        if not invalid:
            self._touch_feature_tables(registry)
            return exprs
        hints = [_closest(name, names) for name in invalid]
        hint = "".join(
            f"{schema.name} has no field {name!r}. Did you mean {close}?\n"
            for name, close in zip(invalid, hints, strict=True)
            if close
        )
        msg = (
            f"You can query either by available fields: {', '.join(names)}\n"
            f"{hint}Or fix invalid feature names: {', '.join(sorted(invalid))}"
        )
        raise UnknownFieldOrFeature(
            msg, registry=schema.name, names=invalid, allowed=names
        )

    def _touch_feature_tables(self, registry: str) -> None:
        """Record the tables a feature condition was built from, to see it go stale."""
        self.frame("feature")
        self.frame("featurevalue")
        for relation in self.index.relations[registry].values():
            if relation.kind == "m2m" and relation.link is not None:
                self.frame(relation.link.table)

    # columns

    def _column(self, schema: RegistrySchema, lookup: Lookup) -> pl.Expr:
        field = schema.field(lookup.path[0])
        assert field is not None
        if field.dtype == "json":
            return self._json(schema, field, lookup)
        if len(lookup.path) > 1:
            raise _bad_comparator(schema, field, lookup.path[1], field.dtype)
        if _all_branches(schema, field.name, lookup):
            return pl.lit(True)
        column = pl.col(field.name)
        dtype: str = field.dtype
        if lookup.transform is not None:
            column, dtype = _apply_transform(schema, field, lookup.transform, column)
        if lookup.comparator not in COMPARATORS_BY_DTYPE[dtype]:
            raise _bad_comparator(schema, field, lookup.comparator, dtype)
        value = coerce_value(schema, field.name, dtype, lookup.comparator, lookup.value)
        if lookup.comparator in REGEX_COMPARATORS:
            _check_regex(schema, field.name, lookup.comparator, value)
        if isinstance(value, pl.Series):
            return is_in(column, value)
        return COLUMN_COMPARATORS[lookup.comparator](column, value)

    def _json(self, schema: RegistrySchema, field: Field, lookup: Lookup) -> pl.Expr:
        keys = lookup.path[1:] + ((lookup.transform,) if lookup.transform else ())
        column = pl.col(field.name)
        comparator, value = lookup.comparator, lookup.value
        if comparator not in PYTHON_COMPARATORS:
            allowed = tuple(PYTHON_COMPARATORS)
            msg = (
                f"{schema.name}.{field.name} (json) does not support `__{comparator}`; "
                f"allowed: {', '.join(allowed)}"
            )
            raise FieldTypeError(
                msg, registry=schema.name, field=field.name, allowed=allowed
            )
        if comparator == "isnull" and not isinstance(value, bool):
            msg = f"`{lookup.key}` takes True or False, got {value!r}"
            raise FieldValueError(msg, registry=schema.name, field=field.name)
        if not keys and comparator == "isnull":
            return column.is_null() if value else column.is_not_null()
        if comparator in TEXT_COMPARATORS and not isinstance(value, str):
            msg = f"`{schema.name}.{lookup.key}` takes a string, got {value!r}"
            raise FieldValueError(msg, registry=schema.name, field=field.name)
        if not keys and comparator in ("contains", "icontains"):
            # on a whole JSON value these search its text, as SQLite does
            return COLUMN_COMPARATORS[comparator](column, value)
        if value is None and comparator not in ("exact", "isnull"):
            msg = f"`{lookup.key}` cannot compare with None; use `__isnull=True`"
            raise FieldValueError(msg, registry=schema.name, field=field.name)
        # TODO: decode JSON in Polars (json_path_match loses the value's type, so
        # "1" and 1 would compare equal); for now one Python call per distinct value
        texts = self.frame(schema.table).get_column(field.name).drop_nulls().unique()
        matching = [
            text
            for text in texts.to_list()
            if python_compare(comparator, json_get(orjson.loads(text), keys), value)
        ]
        expr = column.is_in(matching) if matching else pl.lit(False)
        if comparator in ("isnull", "exact") and (value is True or value is None):
            expr = expr | column.is_null()
        return expr

    # relations

    def _relation(
        self, schema: RegistrySchema, relation: Relation, lookups: list[Lookup]
    ) -> pl.Expr:
        exprs: list[pl.Expr] = []
        nested: list[Lookup] = []
        for lookup in lookups:
            if len(lookup.path) > 1:
                nested.append(lookup.rest())
            elif lookup.comparator == "isnull":
                isnull = _bool(schema, lookup)
                exprs.append(self._relation_isnull(relation, isnull))
            elif lookup.comparator == "exact" and lookup.value is None:
                if relation.name == "branch" and schema.has_branch:
                    exprs.append(pl.lit(True))  # `branch=None`: every branch
                else:
                    exprs.append(self._relation_isnull(relation, True))
            else:
                nested.append(self._relation_to_id(schema, relation, lookup))
        if nested:
            exprs.append(self._related(schema, relation, nested))
        return _all(exprs)

    def _related(
        self, schema: RegistrySchema, relation: Relation, nested: list[Lookup]
    ) -> pl.Expr:
        """Rows with a related row matching all `nested` lookups."""
        target = self.index.registry(relation.target)
        only_ids = all(lk.path == ("id",) and lk.transform is None for lk in nested)
        if only_ids and relation.kind == "fk":
            column = relation.column
            assert column is not None
            return _all(
                [self._column(schema, lk.with_path((column,))) for lk in nested]
            )
        if only_ids and relation.kind == "m2m" and len(nested) == 1:
            ids = _id_values(target, nested[0])
            if ids is not None:
                return self._semi_join(relation, ids)
        frame = self.frame(target.table)
        condition = self._lookups(relation.target, tuple(nested))
        matching = frame.filter(condition)
        if relation.kind == "reverse_fk":
            sources = matching.get_column(relation.column).drop_nulls()
            return is_in(pl.col("id"), sources)
        return self._semi_join(relation, matching.get_column("id"))

    def _relation_to_id(
        self, schema: RegistrySchema, relation: Relation, lookup: Lookup
    ) -> Lookup:
        """`records=study1`, `records=3`, `records__in=[a, b]` → a lookup on `id`."""
        target = self.index.registry(relation.target)
        value = lookup.value
        if lookup.comparator == "in":
            value = _pks(schema, relation, target, value)
        elif lookup.comparator == "exact":
            if isinstance(value, (list, tuple, set)) or queryset_ids(value) is not None:
                msg = (
                    f"{schema.name}.{relation.name} got several values; use "
                    f"`{relation.name}__in=[...]` to match any of them"
                )
                raise TypeError(msg)
            value = _pk(schema, relation, target, value)
        return Lookup(lookup.key, ("id",), lookup.comparator, value, None, True)

    def _relation_isnull(self, relation: Relation, isnull: bool) -> pl.Expr:
        if relation.kind == "fk":
            column = pl.col(relation.column)
            return column.is_null() if isnull else column.is_not_null()
        has = is_in(pl.col("id"), self._linked_sources(relation, None))
        return ~has if isnull else has

    def _semi_join(self, relation: Relation, target_ids: pl.Series) -> pl.Expr:
        if relation.kind == "fk":
            return is_in(pl.col(relation.column), target_ids)
        return is_in(pl.col("id"), self._linked_sources(relation, target_ids))

    def _linked_sources(
        self, relation: Relation, target_ids: pl.Series | None
    ) -> pl.Series:
        """Ids on the source side that link to any of `target_ids` (or to anything)."""
        if relation.kind == "reverse_fk":
            frame = self.frame(self.index.registry(relation.target).table)
            if target_ids is not None:
                frame = frame.filter(is_in(pl.col("id"), target_ids))
            return frame.get_column(relation.column).drop_nulls()
        assert relation.link is not None
        links = self.frame(relation.link.table)
        if target_ids is not None:
            links = links.filter(is_in(pl.col(relation.target_column), target_ids))
        return links.get_column(relation.source_column)


def _all(exprs: list[pl.Expr]) -> pl.Expr:
    expr = exprs[0]
    for other in exprs[1:]:
        expr = expr & other
    return expr


def _any(exprs: list[pl.Expr]) -> pl.Expr:
    expr = exprs[0]
    for other in exprs[1:]:
        expr = expr | other
    return expr


def _all_branches(schema: RegistrySchema, name: str, lookup: Lookup) -> bool:
    """`branch_id=None` lifts the branch condition instead of matching nothing."""
    return (
        name == "branch_id"
        and schema.has_branch
        and lookup.comparator == "exact"
        and lookup.value is None
        and lookup.transform is None
    )


def _bool(schema: RegistrySchema, lookup: Lookup) -> bool:
    if not isinstance(lookup.value, bool):
        msg = f"`{lookup.key}` takes True or False, got {lookup.value!r}"
        raise FieldValueError(msg, registry=schema.name, field=lookup.path[0])
    return lookup.value


def _closest(name: str, names: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(names), n=3, cutoff=0.6)
    return " or ".join(repr(c) for c in close)


def _bad_comparator(
    schema: RegistrySchema, field: Field, given: str, dtype: str
) -> FieldTypeError:
    allowed = COMPARATORS_BY_DTYPE[dtype]
    close = _closest(given, allowed)
    hint = f"; did you mean {close}?" if close else ""
    msg = (
        f"{schema.name}.{field.name} ({dtype}) does not support `__{given}`; "
        f"allowed: {', '.join(allowed)}{hint}"
    )
    return FieldTypeError(msg, registry=schema.name, field=field.name, allowed=allowed)


def _check_regex(
    schema: RegistrySchema, field: str, comparator: str, pattern: str
) -> None:
    try:
        pl.select(COLUMN_COMPARATORS[comparator](pl.lit(""), pattern))
    except pl.exceptions.ComputeError as error:
        first = str(error).strip().splitlines()[0]
        msg = (
            f"`{schema.name}.{field}__{comparator}`: invalid regular expression "
            f"{pattern!r} ({first}); look-around and back-references are not supported"
        )
        raise FieldValueError(msg, registry=schema.name, field=field) from error


def _apply_transform(
    schema: RegistrySchema, field: Field, transform: str, column: pl.Expr
) -> tuple[pl.Expr, str]:
    if field.dtype not in ("datetime", "date") or (
        transform == "date" and field.dtype != "datetime"
    ):
        msg = (
            f"{schema.name}.{field.name} ({field.dtype}) has no `__{transform}`; "
            "date parts apply to datetime and date fields"
        )
        raise FieldTypeError(msg, registry=schema.name, field=field.name)
    return _TRANSFORMS[transform](column), TRANSFORM_DTYPES[transform]


def _id_values(target: RegistrySchema, lookup: Lookup) -> pl.Series | None:
    """The ids an `id` lookup names directly, or None if it needs the table."""
    if lookup.comparator == "exact":
        value = coerce_value(target, "id", "int", "exact", lookup.value)
        return pl.Series([value], dtype=pl.Int64)
    if lookup.comparator == "in":
        value = coerce_value(target, "id", "int", "in", lookup.value)
        if isinstance(value, pl.Series):
            return value
        return pl.Series([v for v in value if v is not None], dtype=pl.Int64)
    return None


def _same_registry(
    schema: RegistrySchema, relation: Relation, target: RegistrySchema, registry: str,
    what: str,
) -> None:  # fmt: skip
    if registry != target.qualified_name:
        msg = (
            f"{schema.name}.{relation.name} expects {target.name} records, "
            f"got a {registry.rsplit('.', 1)[-1]}{what}"
        )
        raise TypeError(msg)


def _pks(
    schema: RegistrySchema, relation: Relation, target: RegistrySchema, value: Any
) -> pl.Series | list[int]:
    ids_of = queryset_ids(value)
    if ids_of is not None:
        _same_registry(schema, relation, target, ids_of[0], " queryset")
        return ids_of[1]
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        msg = f"`{schema.name}.{relation.name}__in` takes a list, got {value!r}"
        raise FieldValueError(msg, registry=schema.name, field=relation.name)
    return [_pk(schema, relation, target, v) for v in value if v is not None]


def _pk(
    schema: RegistrySchema, relation: Relation, target: RegistrySchema, value: Any
) -> int:
    ref = record_ref(value)
    if ref is not None:
        registry, pk = ref
        _same_registry(schema, relation, target, registry, "")
        if pk is None:
            msg = (
                f"{schema.name}.{relation.name}: the {target.name} is not saved yet; "
                "save() it first"
            )
            raise ValueError(msg)
        return pk
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        if value.replace("-", "").isalpha():
            msg = (
                f"Invalid lookup '{value}' for {relation.name}. "
                f"Did you mean {relation.name}__name?"
            )
            raise FieldError(msg, registry=schema.name, field=relation.name)
        if value.strip().isdigit():
            return int(value)
        msg = f"Field 'id' expected a number but got {value!r}."
        raise FieldValueError(msg, registry=schema.name, field=relation.name)
    msg = (
        f"{schema.name}.{relation.name} expects a {target.name} or an id, got {value!r}"
    )
    raise TypeError(msg)


def unknown_field(
    schema: RegistrySchema, name: str, names: list[str], *, key: str | None = None
) -> FieldError:
    """`FieldError` for a name `schema` lacks, listing `names` and the closest ones."""
    close = _closest(name, names)
    where = f" (in {key!r})" if key is not None and key != name else ""
    hint = f". Did you mean {close}?" if close else "."
    msg = (
        f"Unknown field '{name}'. Available fields: {', '.join(names)}. "
        f"{schema.name} has no field '{name}'{where}{hint}"
    )
    return FieldError(msg, registry=schema.name, field=name, allowed=names)


def _number(schema: RegistrySchema, field: str, dtype: str, value: Any) -> int | float:
    if isinstance(value, bool):
        msg = f"Field '{field}' of {schema.name} expected a number but got {value!r}."
        raise FieldValueError(msg, registry=schema.name, field=field)
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = int(value) if dtype == "int" else float(value)
    if isinstance(value, int):
        if dtype == "int" and not INT64_MIN <= value <= INT64_MAX:
            msg = f"Field '{field}' of {schema.name} is a 64-bit integer; got {value}."
            raise FieldValueError(msg, registry=schema.name, field=field)
        return value
    if isinstance(value, float):
        return value
    msg = f"Field '{field}' expected a number but got {value!r}."
    raise FieldValueError(msg, registry=schema.name, field=field)


def _when(
    schema: RegistrySchema, field: str, dtype: str, value: Any
) -> date | datetime:
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


def _in_values(
    schema: RegistrySchema, field: str, dtype: str, value: Any
) -> pl.Series | list[Any]:
    ids_of = queryset_ids(value)
    if ids_of is not None:
        if dtype != "int" or not field.endswith("id"):
            msg = f"`{schema.name}.{field}__in` takes a list of values, got a queryset"
            raise FieldValueError(msg, registry=schema.name, field=field)
        return ids_of[1]
    if isinstance(value, pl.Series):
        return value
    if isinstance(value, (str, bytes, dict)) or not isinstance(value, Iterable):
        msg = f"`{schema.name}.{field}__in` takes a list, got {value!r}"
        raise FieldValueError(msg, registry=schema.name, field=field)
    return [
        coerce_value(schema, field, dtype, "exact", v) for v in value if v is not None
    ]


def coerce_value(
    schema: RegistrySchema, field: str, dtype: str, comparator: str, value: Any
) -> Any:
    """Check and convert a lookup value to the column's type."""
    if comparator == "isnull":
        if not isinstance(value, bool):
            msg = f"`{field}__isnull` takes True or False, got {value!r}"
            raise FieldValueError(msg, registry=schema.name, field=field)
        return value
    if value is None:
        if comparator in ("exact", "iexact"):
            return None
        msg = (
            f"`{schema.name}.{field}__{comparator}` cannot compare with None; "
            f"use `{field}__isnull=True`"
        )
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
        return _in_values(schema, field, dtype, value)
    if comparator == "range":
        if not isinstance(value, (list, tuple)) or len(value) != 2:
            msg = f"`{schema.name}.{field}__range` takes (low, high), got {value!r}"
            raise FieldValueError(msg, registry=schema.name, field=field)
        return tuple(coerce_value(schema, field, dtype, "gte", v) for v in value)
    return _scalar(schema, field, dtype, value)


def _scalar(schema: RegistrySchema, field: str, dtype: str, value: Any) -> Any:
    if dtype in ("int", "float"):
        ref = record_ref(value)
        if ref is not None and field.endswith("id"):
            if ref[1] is None:
                msg = f"`{schema.name}.{field}` got an unsaved record; save() it first"
                raise ValueError(msg)
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
    return value
