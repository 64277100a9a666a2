"""Record classes: one Python class per registry, built from its schema.

A record is a plain object over a dict of column values. Class attributes are
`FieldRef`s (`lc.Record.name`, for `search(field=...)`), instance attributes are
values; foreign keys read as related records and to-many relations as managers
(`artifact.records.add(r)`). Class methods (`filter`, `get`, `to_dataframe`,
`search`, `lookup`) build querysets; they hold no query logic themselves.
"""

from __future__ import annotations

import logging
import math
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING, Any, ClassVar

import orjson

from lakecat.catalog import instance
from lakecat.engine import errors
from lakecat.engine.compiler import unknown_field
from lakecat.engine.ids import random_uid
from lakecat.schemas import Field, RegistrySchema, index_for

if TYPE_CHECKING:
    from lakecat.catalog.queryset import QuerySet

logger = logging.getLogger(__name__)


class _Classes(dict):
    """Registry classes by qualified name; bio classes load on first use."""

    def __missing__(self, name: str):
        if name.startswith("bio."):
            import lakecat.bio  # noqa: F401  (defines and registers the classes)

            if name in self:
                return self[name]
        raise KeyError(name)

    def get(self, name, default=None):
        try:
            return self[name]
        except KeyError:
            return default


#: every registry class by qualified name (`Artifact`, `bio.CellType`)
REGISTRY_CLASSES: dict[str, type[SQLRecord]] = _Classes()

#: the index with every module, used to give classes all their relation attributes
FULL_INDEX = index_for(("core", "bio"))

#: fields a repr never shows
REPR_SKIP = frozenset({"id", "updated_at", "source_code"})


class FieldRef:
    """A registry field as a value: `lc.Record.name`."""

    __slots__ = ("name", "registry")

    def __init__(self, registry: type[SQLRecord], name: str) -> None:
        self.registry = registry
        self.name = name

    def __repr__(self) -> str:
        return f"{self.registry.__name__}.{self.name}"


class _Column:
    """Descriptor of a stored column."""

    def __init__(self, field: Field) -> None:
        self.field = field

    def __get__(self, obj: SQLRecord | None, owner: type[SQLRecord]):
        if obj is None:
            return FieldRef(owner, self.field.name)
        return obj._values.get(self.field.name)

    def __set__(self, obj: SQLRecord, value: Any) -> None:
        obj._values[self.field.name] = check_value(type(obj)._schema, self.field, value)


class _ForeignKey:
    """Descriptor of a to-one relation: reads the related record, sets the id."""

    def __init__(self, name: str, column: str, target: str) -> None:
        self.name = name
        self.column = column
        self.target = target

    def __get__(self, obj: SQLRecord | None, owner: type[SQLRecord]):
        if obj is None:
            return FieldRef(owner, self.name)
        pk = obj._values.get(self.column)
        if pk is None:
            return None
        cached = obj._related.get(self.name)
        if cached is None or cached.id != pk:
            cached = REGISTRY_CLASSES[self.target].objects.get(id=pk)
            obj._related[self.name] = cached
        return cached

    def __set__(self, obj: SQLRecord, value: SQLRecord | None) -> None:
        if value is not None and not isinstance(value, REGISTRY_CLASSES[self.target]):
            msg = (
                f"{type(obj).__name__}.{self.name} takes a "
                f"{self.target.rsplit('.', 1)[-1]}, got {value!r}"
            )
            raise TypeError(msg)
        if value is not None and value.id is None:
            msg = f"{type(obj).__name__}.{self.name}: save the {type(value).__name__} first"
            raise ValueError(msg)
        obj._values[self.column] = None if value is None else value.id
        obj._related[self.name] = value


class _ToMany:
    """Descriptor of a to-many relation: a manager over the related records."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, obj: SQLRecord | None, owner: type[SQLRecord]):
        if obj is None:
            return FieldRef(owner, self.name)
        from lakecat.catalog.related import RelatedManager

        return RelatedManager(obj, self.name)


class _Manager:
    """`Registry.objects`: raw access without default scoping."""

    def __get__(self, obj, owner: type[SQLRecord]) -> QuerySet:
        from lakecat.catalog.queryset import QuerySet

        return QuerySet(owner, scoped=False)


class Registry(type):
    """Metaclass of record classes: lets a constructor return an existing record."""

    def __call__(cls, *args: Any, **kwargs: Any):
        existing = cls._existing(*args, **kwargs)
        if existing is not None:
            return existing
        return super().__call__(*args, **kwargs)

    def __repr__(cls) -> str:
        schema = getattr(cls, "_schema", None)
        if schema is None:
            return super().__repr__()
        return (
            f"<registry {schema.qualified_name}: {', '.join(schema.display_columns)}>"
        )


class SQLRecord(metaclass=Registry):
    """Base class of every registry's records."""

    _schema: ClassVar[RegistrySchema]
    objects = _Manager()
    DoesNotExist: ClassVar[type[errors.DoesNotExist]]
    MultipleObjectsReturned: ClassVar[type[errors.MultipleResultsFound]]

    def __init_subclass__(
        cls, schema: RegistrySchema | None = None, **kwargs: Any
    ) -> None:
        super().__init_subclass__(**kwargs)
        if schema is None:
            return
        cls._schema = schema
        for f in schema.fields:
            setattr(cls, f.name, _Column(f))
        relations = FULL_INDEX.relations.get(schema.qualified_name, {})
        for name, relation in relations.items():
            if hasattr(cls, name) and not isinstance(
                getattr(cls, name, None), FieldRef
            ):
                continue
            if relation.kind == "fk":
                setattr(cls, name, _ForeignKey(name, relation.column, relation.target))
            else:
                setattr(cls, name, _ToMany(name))
        cls.DoesNotExist = type(
            "DoesNotExist", (errors.DoesNotExist,), {"__module__": cls.__module__}
        )
        cls.MultipleObjectsReturned = type(
            "MultipleObjectsReturned",
            (errors.MultipleResultsFound,),
            {"__module__": cls.__module__},
        )
        REGISTRY_CLASSES[schema.qualified_name] = cls

    def __init__(self, **kwargs: Any) -> None:
        schema = self._schema
        self._values: dict[str, Any] = {f.name: f.default for f in schema.fields}
        self._values["id"] = None
        self._related: dict[str, Any] = {}
        relations = FULL_INDEX.relations.get(schema.qualified_name, {})
        for key, value in kwargs.items():
            field = schema.field(key)
            if field is not None and key != "id":
                self._values[key] = check_value(schema, field, value)
            elif key in relations and relations[key].kind == "fk":
                setattr(self, key, value)
            else:
                names = sorted(
                    {
                        f.name
                        for f in schema.fields
                        if f.name not in ("id", "updated_at")
                    }
                    | {n for n, r in relations.items() if r.kind == "fk"}
                )
                names = [n for n in names if not n.startswith("_")]
                error = unknown_field(schema, key, names)
                msg = str(error).replace(
                    "Unknown field", f"{schema.name}() got an unknown field", 1
                )
                raise errors.FieldError(
                    msg, registry=schema.name, field=key, allowed=names
                )

    @classmethod
    def _existing(cls, *args: Any, **kwargs: Any) -> SQLRecord | None:
        """An already saved record the constructor should return instead."""
        return None

    @classmethod
    def _from_row(cls, row: dict[str, Any]) -> SQLRecord:
        obj = object.__new__(cls)
        values = dict(row)
        for f in cls._schema.fields:
            if f.dtype == "json" and isinstance(values.get(f.name), str):
                values[f.name] = orjson.loads(values[f.name])
        obj._values = values
        obj._related = {}
        return obj

    # identity

    @property
    def id(self) -> int | None:
        return self._values.get("id")

    def __lakecat_ref__(self) -> tuple[str, int | None]:
        return self._schema.qualified_name, self.id

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SQLRecord) or other._schema is not self._schema:
            return NotImplemented
        if self.id is None:
            return self is other
        return self.id == other.id

    def __hash__(self) -> int:
        return hash(
            (self._schema.qualified_name, self.id if self.id is not None else id(self))
        )

    def __repr__(self) -> str:
        schema = self._schema
        fk_columns = {fk.column for fk in schema.foreign_keys}
        own, fks = [], []
        for f in schema.fields:
            name = f.name
            if (
                name in REPR_SKIP
                or name.startswith("_")
                or name in ("uid", "created_at", "is_locked")
            ):
                continue
            (fks if name in fk_columns else own).append(name)
        first = [n for n in ("branch_id", "space_id") if n in fks]
        last = [n for n in ("created_by_id", "run_id") if n in fks]
        middle = [n for n in fks if n not in first and n not in last]
        order = ["uid", *own, *first, *middle, *last, "created_at", "is_locked"]
        parts = []
        for name in order:
            if schema.field(name) is None:
                continue
            value = self._values.get(name)
            if value is None:
                continue
            parts.append(f"{name}={format_value(value)}")
        return f"{type(self).__name__}({', '.join(parts)})"

    # persistence

    def _row(self) -> dict[str, Any]:
        row = {}
        for f in self._schema.fields:
            value = self._values.get(f.name)
            if f.dtype == "json" and value is not None:
                value = orjson.dumps(value).decode()
            row[f.name] = value
        return row

    def _fill_defaults(self, catalog: instance.Catalog) -> None:
        schema = self._schema
        values = self._values
        t = instance.now()
        if schema.uid_length and not values.get("uid"):
            stem = schema.uid_stem_length or schema.uid_length
            values["uid"] = random_uid(stem) + "0" * (schema.uid_length - stem)
        if schema.field("created_at") is not None and values.get("created_at") is None:
            values["created_at"] = t
        if schema.field("updated_at") is not None:
            values["updated_at"] = t
        if (
            schema.field("created_by_id") is not None
            and values.get("created_by_id") is None
        ):
            values["created_by_id"] = catalog.user_id
        if (
            schema.field("run_id") is not None
            and values.get("run_id") is None
            and self.id is None
        ):
            values["run_id"] = catalog.run_id
        if schema.has_branch and values.get("branch_id") is None:
            values["branch_id"] = catalog.branch_id
        missing = [
            f.name
            for f in schema.fields
            if not f.nullable and f.name != "id" and values.get(f.name) is None
        ]
        if missing:
            msg = f"{schema.name} cannot be saved without {', '.join(missing)}"
            raise errors.ValidationError(msg, registry=schema.name, field=missing[0])

    def save(self) -> SQLRecord:
        """Insert the record, or write its changed values if it exists."""
        catalog = instance.current()
        table = self._schema.table
        self._fill_defaults(catalog)
        if self.id is None:
            self._values["id"] = catalog.allocate_ids(table, 1)[0]
            catalog.insert(table, [self._row()])
        else:
            catalog.update(table, [self._row()])
        return self

    def delete(self, permanent: bool | None = None) -> None:
        """Move to the trash (branch -1); `permanent=True` removes the row."""
        catalog = instance.current()
        if self.id is None:
            msg = f"cannot delete an unsaved {self._schema.name}"
            raise ValueError(msg)
        if permanent or not self._schema.has_branch:
            self._delete_permanently(catalog)
            return
        self._values["branch_id"] = -1
        self.save()

    def restore(self) -> None:
        """Bring a record back from the trash or archive."""
        self._values["branch_id"] = 1
        self.save()

    def _delete_permanently(self, catalog: instance.Catalog) -> None:
        name = self._schema.qualified_name
        with catalog.batching():
            for relation in catalog.index.relations[name].values():
                if relation.kind == "m2m" and relation.link is not None:
                    catalog.delete_rows(
                        relation.link.table, relation.source_column, [self.id]
                    )
            catalog.delete_rows(self._schema.table, "id", [self.id])
        self._values["id"] = None

    # queries

    @classmethod
    def filter(cls, *queries: Any, **kwargs: Any) -> QuerySet:
        from lakecat.catalog.queryset import QuerySet

        return QuerySet(cls).filter(*queries, **kwargs)

    @classmethod
    def get(cls, idlike: int | str | None = None, **kwargs: Any) -> SQLRecord:
        from lakecat.catalog.queryset import QuerySet

        return QuerySet(cls).get(idlike, **kwargs)

    @classmethod
    def to_dataframe(cls, include=None, features=False, limit: int | None = 100):
        """The `limit` most recently updated records as a pandas DataFrame."""
        from lakecat.catalog.queryset import QuerySet

        qs = QuerySet(cls)
        if cls._schema.has_updated_at:
            qs = qs.order_by("-updated_at")
        if limit is not None:
            qs = qs[:limit]
        return qs.to_dataframe(include=include, features=features)

    @classmethod
    def df(cls, include=None, features=False, limit: int | None = 100):
        """Deprecated alias of `to_dataframe()`."""
        import warnings

        warnings.warn(
            "`df()` is deprecated, use `to_dataframe()`",
            DeprecationWarning,
            stacklevel=2,
        )
        return cls.to_dataframe(include=include, features=features, limit=limit)

    @classmethod
    def search(cls, string: str | None, **kwargs: Any) -> QuerySet:
        from lakecat.catalog.queryset import QuerySet

        return QuerySet(cls).search(string, **kwargs)

    @classmethod
    def lookup(cls, field=None, return_field=None, keep="first"):
        from lakecat.catalog.queryset import QuerySet

        return QuerySet(cls).lookup(field, return_field, keep=keep)


def format_value(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    return repr(value) if not isinstance(value, bool) else str(value)


def check_value(schema: RegistrySchema, field: Field, value: Any) -> Any:
    """Validate a value for a field, converting where it is lossless."""
    if value is None:
        return None
    dtype = field.dtype
    ok = True
    if dtype == "str":
        ok = isinstance(value, str)
    elif dtype == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
        if ok and not -(2**63) <= value < 2**63:
            ok = False
    elif dtype == "float":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
        if ok and not math.isfinite(value):
            ok = False
    elif dtype == "bool":
        ok = isinstance(value, bool)
    elif dtype == "datetime":
        ok = isinstance(value, datetime)
        if ok and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        if ok:
            value = value.astimezone(timezone.utc)
    elif dtype == "date":
        ok = isinstance(value, date) and not isinstance(value, datetime)
    elif dtype == "json":
        try:
            orjson.dumps(value)
        except TypeError:
            ok = False
    if not ok:
        msg = (
            f"{schema.name}.{field.name} takes a {dtype} value, "
            f"got {type(value).__name__} {value!r}"
        )
        raise errors.ValidationError(msg, registry=schema.name, field=field.name)
    return value
