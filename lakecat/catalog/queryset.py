"""QuerySet: a lazy, immutable query over one registry.

Building a queryset (`filter`, `exclude`, `order_by`, slicing) reads nothing but
validates every name at once, so mistakes fail where they are written. Evaluating
it compiles the conditions to one Polars expression over the registry's cached
frame (see `engine.compiler`), applies ordering and slicing in one lazy plan, and
collects once. Results are cached with the frames they came from and reused while
those frames are current.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import polars as pl

from lakecat.catalog import instance
from lakecat.engine import errors
from lakecat.engine.compiler import Compiler
from lakecat.engine.lookups import Q

if TYPE_CHECKING:
    import pandas as pd

    from lakecat.catalog.record import SQLRecord

logger = logging.getLogger(__name__)

#: keys that name an exact row and so lift default branch scoping
EXACT_KEYS = frozenset({"id", "uid", "hash", "id__in", "uid__in", "hash__in"})
RUN_KIND = "__lamindb_run__"


def _mentions_branch(keys: list[str]) -> bool:
    for key in keys:
        if key in ("branch", "branch_id") or key.startswith(("branch__", "branch_id__")):
            return True
        if key in EXACT_KEYS:
            return True
    return False


def _aliases(schema_name: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """LaminDB's backward-compatible names (`visibility`, Artifact `transform`)."""
    out = {}
    for key, value in kwargs.items():
        head, _, rest = key.partition("__")
        if head in ("visibility", "_branch_code") and schema_name in (
            "Artifact", "Collection", "Transform",
        ):  # fmt: skip
            key = "branch_id" + (f"__{rest}" if rest else "")
        elif head == "transform" and schema_name == "Artifact":
            key = f"run__{key}"
        out[key] = value
    return out


class QuerySet:
    """A lazy query over one registry; every method returns a new queryset."""

    def __init__(
        self,
        model: type[SQLRecord],
        *,
        scoped: bool = True,
        nodes: tuple[tuple[Q, bool], ...] = (),
        order: tuple[str, ...] = (),
        window: tuple[int, int | None] | None = None,
        ranked: tuple[int, ...] | None = None,
    ) -> None:
        self.model = model
        self._scoped = scoped
        self._nodes = nodes
        self._order = order
        self._window = window
        self._ranked = ranked
        self._cache: tuple[dict[str, pl.DataFrame], pl.DataFrame] | None = None

    def _clone(self, **changes: Any) -> QuerySet:
        state = {
            "scoped": self._scoped,
            "nodes": self._nodes,
            "order": self._order,
            "window": self._window,
            "ranked": self._ranked,
        }
        state.update(changes)
        return QuerySet(self.model, **state)

    @property
    def _schema(self):
        return self.model._schema

    @property
    def _catalog(self) -> instance.Catalog:
        return instance.current()

    # building

    def filter(self, *queries: Any, **kwargs: Any) -> QuerySet:
        """Narrow the queryset by field lookups, relation paths, features and Q objects."""
        if self._window is not None:
            msg = "Cannot filter a query once a slice has been taken."
            raise TypeError(msg)
        for query in queries:
            if isinstance(query, str):
                msg = (
                    f"{self._schema.name}.filter() takes keyword lookups and Q objects, "
                    f"got the string {query!r}; to fetch by uid use "
                    f"{self._schema.name}.get({query!r})"
                )
                raise TypeError(msg)
            if not isinstance(query, Q):
                msg = f"{self._schema.name}.filter() takes Q objects, got {query!r}"
                raise TypeError(msg)
        nodes = list(self._nodes)
        if queries:
            nodes.append((Q(*queries), False))
        if kwargs:
            if "using" in kwargs or "_using_key" in kwargs:
                msg = "querying another catalog with `using=` is not supported"
                raise errors.UnsupportedError(msg)
            nodes.append((Q(**_aliases(self._schema.name, kwargs)), True))
        qs = self._clone(nodes=tuple(nodes))
        qs._compile()  # fail early on unknown names and bad values
        return qs

    def exclude(self, *queries: Any, **kwargs: Any) -> QuerySet:
        """Rows for which the condition is not true (rows with nulls included)."""
        if self._window is not None:
            msg = "Cannot filter a query once a slice has been taken."
            raise TypeError(msg)
        node = ~Q(*queries, **_aliases(self._schema.name, kwargs))
        qs = self._clone(nodes=(*self._nodes, (node, False)))
        qs._compile()
        return qs

    def order_by(self, *fields: str) -> QuerySet:
        """Order by fields or paths; `-` for descending; nulls first ascending."""
        if self._window is not None:
            msg = "Cannot reorder a query once a slice has been taken."
            raise TypeError(msg)
        for name in fields:
            self._order_column_check(name.removeprefix("-"))
        return self._clone(order=tuple(fields), ranked=None)

    def distinct(self, *fields: str) -> QuerySet:
        """Rows are already distinct: to-many filters are semi-joins."""
        return self

    def all(self) -> QuerySet:
        return self

    def latest_version(self) -> QuerySet:
        if not self._schema.versioned:
            msg = f"{self._schema.name} is not versioned"
            raise ValueError(msg)
        return self.filter(is_latest=True)

    def __getitem__(self, item: int | slice) -> Any:
        if isinstance(item, slice):
            if item.step not in (None, 1):
                msg = "slicing with a step is not supported"
                raise ValueError(msg)
            start, stop = item.start or 0, item.stop
            if start < 0 or (stop is not None and stop < 0):
                msg = "Negative indexing is not supported."
                raise ValueError(msg)
            if self._window is not None:
                base, end = self._window
                start += base
                stop = end if stop is None else min(base + stop, end if end is not None else base + stop)
            return self._clone(window=(start, stop))
        if not isinstance(item, int):
            msg = f"QuerySet indices must be integers or slices, got {item!r}"
            raise TypeError(msg)
        if item < 0:
            msg = "Negative indexing is not supported."
            raise ValueError(msg)
        rows = self._rows()
        if item >= rows.height:
            msg = f"{self._schema.name} queryset index {item} out of range ({rows.height} rows)"
            raise IndexError(msg)
        return self.model._from_row(rows.row(item, named=True))

    # compiling and evaluating

    def _keys(self) -> list[str]:
        return [key for node, _ in self._nodes for key in node.keys()]

    def _compile(self) -> tuple[pl.Expr, dict[str, pl.DataFrame]]:
        catalog = self._catalog
        deps: dict[str, pl.DataFrame] = {}

        def frame(table: str) -> pl.DataFrame:
            deps[table] = catalog.frame(table)
            return deps[table]

        compiler = Compiler(catalog.index, frame, catalog.compiler.features)
        registry = self._schema.qualified_name
        exprs = [compiler.predicate(registry, node, features=f) for node, f in self._nodes]
        exprs += self._scope()
        if self._ranked is not None:
            exprs.append(pl.col("id").is_in(list(self._ranked)))
        expr = pl.all_horizontal(exprs) if exprs else pl.lit(True)
        return expr, deps

    def _scope(self) -> list[pl.Expr]:
        if not self._scoped:
            return []
        schema = self._schema
        keys = self._keys()
        exprs = []
        if schema.has_branch and not _mentions_branch(keys):
            branches = sorted({1, self._catalog.branch_id})
            exprs.append(pl.col("branch_id").is_in(branches))
        if schema.name == "Artifact" and not any(k.startswith("kind") for k in keys):
            exprs.append(pl.col("kind").ne_missing(RUN_KIND))
        return exprs

    def _rows(self) -> pl.DataFrame:
        """The matching rows, ordered and sliced (all stored columns)."""
        catalog = self._catalog
        table = self._schema.table
        if self._cache is not None:
            deps, rows = self._cache
            if all(catalog.frame(t) is f for t, f in deps.items()):
                return rows
        expr, deps = self._compile()
        deps[table] = catalog.frame(table)
        plan = deps[table].lazy().filter(expr)
        if self._ranked is not None:
            ranks = pl.LazyFrame(
                {"id": list(self._ranked), "__rank": range(len(self._ranked))},
                schema={"id": pl.Int64, "__rank": pl.Int64},
            )
            plan = plan.join(ranks, on="id", how="left").sort("__rank").drop("__rank")
        elif self._order:
            plan = self._ordered(plan)
        if self._window is not None:
            start, stop = self._window
            plan = plan.slice(start, None if stop is None else max(stop - start, 0))
        rows = plan.collect()
        self._cache = (deps, rows)
        return rows

    def _order_column_check(self, path: str) -> None:
        self._order_target(path)

    def _order_target(self, path: str) -> tuple[list[tuple[str, str]], str]:
        """The foreign-key hops and final column of an order path."""
        index = self._catalog.index
        registry = self._schema.qualified_name
        parts = path.split("__")
        hops = []
        for i, part in enumerate(parts):
            schema = index.registry(registry)
            if i == len(parts) - 1 and schema.field(part) is not None:
                return hops, part
            relation = index.relations[registry].get(part)
            if relation is None:
                from lakecat.engine.compiler import unknown_field

                raise unknown_field(schema, part, index.query_names(registry))
            if relation.kind != "fk":
                msg = f"cannot order {self._schema.name} by the to-many path {path!r}"
                raise errors.UnsupportedError(msg)
            hops.append((relation.column, relation.target))
            registry = relation.target
            if i == len(parts) - 1:
                return hops, "id"
        raise AssertionError(path)

    def _ordered(self, plan: pl.LazyFrame) -> pl.LazyFrame:
        catalog = self._catalog
        keys, descending = [], []
        for n, spec in enumerate(self._order):
            desc = spec.startswith("-")
            hops, column = self._order_target(spec.removeprefix("-"))
            if not hops:
                keys.append(column)
            else:
                name = f"__order{n}"
                current = pl.col(hops[0][0])
                plan = plan.with_columns(current.alias(f"{name}_k0"))
                for h, (fk, target) in enumerate(hops):
                    table = catalog.index.registry(target).table
                    nxt = hops[h + 1][0] if h + 1 < len(hops) else column
                    right = catalog.frame(table).lazy().select(
                        pl.col("id").alias(f"{name}_k{h}"), pl.col(nxt).alias(f"{name}_k{h + 1}")
                    )
                    plan = plan.join(right, on=f"{name}_k{h}", how="left", maintain_order="left")
                keys.append(f"{name}_k{len(hops)}")
            descending.append(desc)
        plan = plan.sort(keys, descending=descending, nulls_last=descending, maintain_order=True)
        extra = [k for k in plan.collect_schema().names() if k.startswith("__order")]
        return plan.drop(extra) if extra else plan

    def __lakecat_ids__(self) -> tuple[str, pl.Series]:
        return self._schema.qualified_name, self._rows().get_column("id")

    # results

    def __iter__(self) -> Iterator[SQLRecord]:
        from_row = self.model._from_row
        return (from_row(row) for row in self._rows().iter_rows(named=True))

    def __len__(self) -> int:
        return self._rows().height

    def __bool__(self) -> bool:
        return self.exists()

    def __contains__(self, record: object) -> bool:
        return getattr(record, "id", None) in set(self._rows()["id"].to_list())

    def count(self) -> int:
        return len(self)

    def exists(self) -> bool:
        return self._rows().height > 0

    def first(self) -> SQLRecord | None:
        rows = self._rows()
        return self.model._from_row(rows.row(0, named=True)) if rows.height else None

    def last(self) -> SQLRecord | None:
        rows = self._rows()
        return self.model._from_row(rows.row(-1, named=True)) if rows.height else None

    def one(self) -> SQLRecord:
        """Exactly one record, else `DoesNotExist` or `MultipleResultsFound`."""
        rows = self._rows()
        if rows.height == 0:
            msg = f"No {self._schema.name} matches this query."
            raise self.model.DoesNotExist(msg)
        if rows.height > 1:
            msg = f"{rows.height} {self._schema.name} records match; expected one: {self!r}"
            raise self.model.MultipleObjectsReturned(msg)
        return self.model._from_row(rows.row(0, named=True))

    def one_or_none(self) -> SQLRecord | None:
        rows = self._rows()
        if rows.height > 1:
            msg = f"{rows.height} {self._schema.name} records match; expected at most one"
            raise self.model.MultipleObjectsReturned(msg)
        return self.model._from_row(rows.row(0, named=True)) if rows.height else None

    def to_list(self, field: str | None = None) -> list[Any]:
        """The records, or the values of one field, in order."""
        if field is None:
            return list(self)
        return self.values_list(field, flat=True)

    def list(self, field: str | None = None) -> list[Any]:
        return self.to_list(field)

    def values_list(self, *fields: str, flat: bool = False) -> list[Any]:
        frame = self._values_frame(fields)
        if flat:
            if len(fields) != 1:
                msg = "values_list(flat=True) takes exactly one field"
                raise TypeError(msg)
            return frame.to_series(0).to_list()
        return frame.rows()

    def values(self, *fields: str) -> list[dict[str, Any]]:
        return self._values_frame(fields).to_dicts()

    def _values_frame(self, fields: tuple[str, ...]) -> pl.DataFrame:
        from lakecat.catalog.dataframe import related_values

        rows = self._rows()
        fields = fields or tuple(c for c in self._schema.column_names if c != "updated_at")
        columns = []
        for name in fields:
            if self._schema.field(name) is not None:
                columns.append(rows.get_column(name))
            else:
                values = related_values(self._catalog, self._schema.qualified_name, rows["id"], name)
                columns.append(pl.Series(name, values))
        return pl.DataFrame(columns)

    def to_polars(self) -> pl.DataFrame:
        """The rows as a Polars DataFrame with the display columns (and `id`)."""
        columns = ["id", *self._schema.display_columns]
        return self._rows().select(columns)

    def to_lazy(self) -> pl.LazyFrame:
        """The rows as a Polars LazyFrame, to go on in Polars."""
        return self.to_polars().lazy()

    def to_dataframe(self, include=None, features=False) -> pd.DataFrame:
        """The rows as a pandas DataFrame indexed by `id`, LaminDB's columns."""
        from lakecat.catalog.dataframe import to_dataframe

        return to_dataframe(self, include=include, features=features)

    def df(self, include=None, features=False) -> pd.DataFrame:
        """Deprecated alias of `to_dataframe()`."""
        import warnings

        warnings.warn("`df()` is deprecated, use `to_dataframe()`", DeprecationWarning, stacklevel=2)
        return self.to_dataframe(include=include, features=features)

    def get(self, idlike: int | str | None = None, **kwargs: Any) -> SQLRecord:
        """One record by id, uid (or uid prefix) or field lookups."""
        from lakecat.catalog.getting import get

        return get(self, idlike, **kwargs)

    def search(self, string: str | None, *, field=None, limit: int | None = 20,
               case_sensitive: bool = False) -> QuerySet:  # fmt: skip
        """Ranked text search over this queryset (see `lakecat.engine.search`)."""
        from lakecat.catalog.discovery import search

        return search(self, string, field=field, limit=limit, case_sensitive=case_sensitive)

    def lookup(self, field=None, return_field=None, keep="first"):
        """An auto-complete object whose attributes are the records' names."""
        from lakecat.catalog.discovery import lookup

        return lookup(self, field, return_field, keep=keep)

    def delete(self, permanent: bool | None = None) -> None:
        """Move the records to the trash, or remove them with `permanent=True`."""
        from lakecat.catalog.getting import delete_queryset

        delete_queryset(self, permanent)

    def __repr__(self) -> str:
        conditions = " & ".join(repr(node) for node, _ in self._nodes) or "all"
        extra = f", order_by={list(self._order)}" if self._order else ""
        if self._window is not None:
            extra += f", [{self._window[0]}:{self._window[1] if self._window[1] is not None else ''}]"
        return f"<QuerySet {self._schema.name}: {conditions}{extra}>"

