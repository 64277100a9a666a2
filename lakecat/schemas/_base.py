"""The vocabulary of declarative table definitions: fields, relations, registries.

Everything here is plain frozen data. The engine reads it to build Delta tables and
to resolve query paths; the catalog reads it to build record classes, error
messages, search and lookup defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Dtype = Literal["str", "int", "float", "bool", "datetime", "date", "json"]

#: Comparators each dtype accepts; the query compiler and its errors read this.
COMPARATORS_BY_DTYPE: dict[str, tuple[str, ...]] = {
    "str": (
        "exact", "iexact", "contains", "icontains", "startswith", "istartswith",
        "endswith", "iendswith", "in", "gt", "gte", "lt", "lte", "range", "isnull",
        "regex", "iregex",
    ),
    "int": ("exact", "in", "gt", "gte", "lt", "lte", "range", "isnull"),
    "float": ("exact", "in", "gt", "gte", "lt", "lte", "range", "isnull"),
    "bool": ("exact", "in", "isnull"),
    "datetime": (
        "exact", "in", "gt", "gte", "lt", "lte", "range", "isnull",
        "date", "year", "month", "day",
    ),
    "date": (
        "exact", "in", "gt", "gte", "lt", "lte", "range", "isnull",
        "year", "month", "day",
    ),
    "json": ("exact", "isnull", "has_key", "contains", "icontains"),
}  # fmt: skip


@dataclass(frozen=True)
class Field:
    """One stored column."""

    name: str
    dtype: Dtype
    nullable: bool = True
    default: object = None
    #: hidden columns are stored and queryable but never shown by `to_dataframe()`
    hidden: bool = False
    doc: str = ""

    @property
    def comparators(self) -> tuple[str, ...]:
        return COMPARATORS_BY_DTYPE[self.dtype]


@dataclass(frozen=True)
class ForeignKey:
    """A to-one relation stored as `<name>_id` on the declaring registry."""

    name: str
    target: str
    related_name: str | None = None

    @property
    def column(self) -> str:
        return f"{self.name}_id"


@dataclass(frozen=True)
class LinkTable:
    """A many-to-many link table; `extra` columns such as `feature_id` ride along."""

    table: str
    module: str
    source_column: str
    target_column: str
    extra: tuple[Field, ...] = ()

    @property
    def fields(self) -> tuple[Field, ...]:
        return (
            Field("id", "int", nullable=False),
            Field(self.source_column, "int", nullable=False),
            Field(self.target_column, "int", nullable=False),
            *self.extra,
            Field("created_at", "datetime"),
        )


@dataclass(frozen=True)
class ManyToMany:
    """A many-to-many relation from the declaring registry to `target`."""

    name: str
    target: str
    link: LinkTable
    related_name: str | None = None


@dataclass(frozen=True)
class Relation:
    """A resolved relation as seen from one registry (forward or reverse)."""

    name: str
    kind: Literal["fk", "reverse_fk", "m2m"]
    source: str
    target: str
    #: fk: the column on `source`; reverse_fk: the column on `target`
    column: str | None = None
    #: m2m: the link table and which of its columns point to source and target
    link: LinkTable | None = None
    source_column: str | None = None
    target_column: str | None = None

    @property
    def to_many(self) -> bool:
        return self.kind != "fk"


@dataclass(frozen=True)
class RegistrySchema:
    """A registry: one Delta table plus its relations.

    `fields` are declared in the order `to_dataframe()` shows them, with `id` first
    and hidden columns (such as `updated_at`) anywhere.
    """

    name: str
    module: str
    table: str
    fields: tuple[Field, ...]
    foreign_keys: tuple[ForeignKey, ...] = ()
    many_to_many: tuple[ManyToMany, ...] = ()
    uid_length: int | None = None
    #: versioned registries share a uid stem across versions; the rest is a counter
    uid_stem_length: int | None = None
    name_field: str | None = None
    doc: str = ""
    _by_name: dict[str, Field] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_name.update({f.name: f for f in self.fields})

    @property
    def qualified_name(self) -> str:
        return self.name if self.module == "core" else f"{self.module}.{self.name}"

    @property
    def versioned(self) -> bool:
        return self.uid_stem_length is not None

    @property
    def has_branch(self) -> bool:
        return "branch_id" in self._by_name

    @property
    def has_updated_at(self) -> bool:
        return "updated_at" in self._by_name

    def field(self, name: str) -> Field | None:
        return self._by_name.get(name)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def display_columns(self) -> tuple[str, ...]:
        """Columns of `to_dataframe()` after the `id` index, in order."""
        return tuple(f.name for f in self.fields if f.name != "id" and not f.hidden)

    @property
    def search_fields(self) -> tuple[str, ...]:
        """Every string column; what `search()` looks at by default."""
        return tuple(
            f.name
            for f in self.fields
            if f.dtype == "str" and not f.hidden and not f.name.endswith("_id")
        )

    @property
    def default_name_field(self) -> str:
        """The field `lookup()` and error hints use (declared, `name`, first string)."""
        if self.name_field is not None:
            return self.name_field
        if "name" in self._by_name:
            return "name"
        for f in self.fields:
            if f.dtype == "str" and "id" not in f.name and f.name != "uid":
                return f.name
        msg = f"{self.name} has no name field; pass `field=`"
        raise ValueError(msg)
