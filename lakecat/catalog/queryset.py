"""QuerySet: a lazy, immutable query over one registry.

Building a queryset (`filter`, `exclude`, `order_by`, slicing) collects nothing.
`filter()` and `exclude()` compile their conditions right away, so mistakes fail
where they are written, and keep the compiled expression with the table snapshots
it was built from; evaluation reuses it while those snapshots are current and
compiles again otherwise. Evaluating is one lazy Polars plan over the registry's
cached frame (conditions, default scoping, ordering, slicing), collected once;
`count()`, `exists()`, `first()` and indexing collect only what they need.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import polars as pl

from lakecat.catalog import instance
from lakecat.engine import errors
from lakecat.engine.compiler import Compiler, canonical_key, unknown_field
from lakecat.engine.lookups import Q
from lakecat.schemas import RegistrySchema

if TYPE_CHECKING:
    import pandas as pd

    from lakecat.catalog.record import SQLRecord

__all__ = ["QuerySet"]

logger = logging.getLogger(__name__)

#: keys that name an exact row and so lift default branch scoping
EXACT_KEYS = frozenset({"id", "uid", "hash", "id__in", "uid__in", "hash__in"})
RUN_KIND = "__lamindb_run__"
#: helper columns of ordered and sliced plans
ROW, RANK = "__lakecat_row", "__lakecat_rank"
#: sliced orderings up to this many rows sort only the rows that can make the cut
TOP_LIMIT = 100_000
#: registries whose `filter(**kwargs)` also understands feature names
FEATURE_REGISTRIES = frozenset({"Artifact"})


@dataclass(frozen=True)
class _Node:
    """One `filter()` or `exclude()` argument group."""

    q: Q
    #: keyword arguments of `filter()`: features apply, exact keys lift scoping
    kwargs: bool
    #: from `filter()` (True) or `exclude()` (False)
    positive: bool
    #: what it names that lifts default scoping: (a branch, an exact row, `kind`)
    lifts: tuple[bool, bool, bool] = (False, False, False)

    @classmethod
    def make(cls, registry: str, q: Q, *, kwargs: bool, positive: bool) -> _Node:
        node = cls(q, kwargs, positive)
        return cls(
            q, kwargs, positive, _mentions(registry, node) if positive else node.lifts
        )


@dataclass(frozen=True)
class _Compiled:
    """Compiled conditions and the table snapshots they were built from."""

    exprs: tuple[pl.Expr, ...]
    deps: tuple[tuple[str, pl.DataFrame], ...]


#: scoping expressions by (registry, current branch, scope branch, hide run kind)
_SCOPES: dict[tuple[str, int, bool, bool], tuple[pl.Expr, ...]] = {}


def _scope_exprs(registry: str, branch: int, by_branch: bool, hide_runs: bool):
    exprs = []
    if by_branch:
        column = pl.col("branch_id")
        exprs.append(column == 1 if branch == 1 else column.is_in([1, branch]))
    if registry == "Artifact" and hide_runs:
        exprs.append(pl.col("kind").ne_missing(RUN_KIND))
    return tuple(exprs)


def _mentions(registry: str, node: _Node) -> tuple[bool, bool, bool]:
    """Whether a `filter()` group names a branch, an exact row key, or `kind`.

    A branch anywhere in the tree lifts branch scoping; exact keys (`uid=`) and
    `kind` count only as keyword arguments of `filter()`, as in LaminDB.
    """
    keys = [canonical_key(registry, key) for key in node.q.lookup_keys()]
    branch = any(key.split("__", 1)[0] in ("branch", "branch_id") for key in keys)
    if not node.kwargs:
        return branch, False, False
    exact = any(key in EXACT_KEYS for key in keys)
    kind = any(key.startswith("kind") for key in node.q.lookup_keys())
    return branch, exact, kind


class QuerySet:
    """A lazy query over one registry; every method returns a new queryset.

    Examples
    --------
    >>> qs = lc.Artifact.filter(suffix=".h5ad").order_by("-created_at")  # doctest: +SKIP
    >>> qs[:10].to_dataframe()  # doctest: +SKIP
    """

    def __init__(
        self,
        model: type[SQLRecord],
        *,
        scoped: bool = True,
        nodes: tuple[_Node, ...] = (),
        order: tuple[str, ...] = (),
        window: tuple[int, int | None] | None = None,
        ranked: tuple[int, ...] | None = None,
        compiled: _Compiled | None = None,
        catalog: instance.Catalog | None = None,
    ) -> None:
        self.model = model
        #: a catalog pinned by `as_of()`; otherwise the connected one
        self._pinned = catalog
        self._scoped = scoped
        self._nodes = nodes
        self._order = order
        self._window = window
        self._ranked = ranked
        self._compiled = compiled if compiled is not None else _Compiled((), ())
        self._cache: (
            tuple[tuple[tuple[str, pl.DataFrame], ...], pl.DataFrame] | None
        ) = None
        self._plan_deps: tuple[tuple[str, pl.DataFrame], ...] = ()

    def _clone(self, **changes: Any) -> QuerySet:
        state: dict[str, Any] = {
            "scoped": self._scoped,
            "nodes": self._nodes,
            "order": self._order,
            "window": self._window,
            "ranked": self._ranked,
            "compiled": self._compiled,
            "catalog": self._pinned,
        }
        state.update(changes)
        return QuerySet(self.model, **state)

    @property
    def _schema(self) -> RegistrySchema:
        return self.model._schema

    @property
    def _catalog(self) -> instance.Catalog:
        return self._pinned if self._pinned is not None else instance.current()

    def as_of(self, when: Any) -> QuerySet:
        """The same query on the catalog as it was at `when` (read-only).

        `when` is a datetime or an ISO string (naive means UTC). Outside the
        retention window of the catalog's history this raises `StorageError`.
        Records it returns resolve their relations in the present catalog.
        """
        return self._clone(catalog=self._catalog.at(when), compiled=None)

    # building

    def filter(self, *queries: Any, **kwargs: Any) -> QuerySet:
        """Narrow the queryset by field lookups, relation paths, features and Q objects."""
        self._check_unsliced("filter")
        name = self._schema.name
        for query in queries:
            if isinstance(query, str):
                msg = (
                    f"{name}.filter() takes keyword lookups and Q objects, got the "
                    f"string {query!r}; to fetch one record by uid use "
                    f"{name}.get({query!r})"
                )
                raise TypeError(msg)
            if not isinstance(query, Q):
                msg = f"{name}.filter() takes Q objects and keyword lookups, got {query!r}"
                raise TypeError(msg)
        for key in ("using", "_using_key"):
            if key in kwargs and kwargs.pop(key) is not None:
                msg = "querying another catalog with `using=` is not supported"
                raise errors.UnsupportedError(msg)
        nodes = []
        if queries:
            nodes.append(_Node.make(name, Q(*queries), kwargs=False, positive=True))
        if kwargs:
            nodes.append(_Node.make(name, Q(**kwargs), kwargs=True, positive=True))
        return self._extended(tuple(nodes))

    def exclude(self, *queries: Any, **kwargs: Any) -> QuerySet:
        """Rows for which the condition is not true (rows with nulls included)."""
        self._check_unsliced("filter")
        node = _Node.make(
            self._schema.name, ~Q(*queries, **kwargs), kwargs=False, positive=False
        )
        return self._extended((node,))

    def _extended(self, nodes: tuple[_Node, ...]) -> QuerySet:
        exprs, deps = self._compile(nodes)
        compiled = _Compiled(self._compiled.exprs + exprs, self._compiled.deps + deps)
        return self._clone(nodes=self._nodes + nodes, compiled=compiled)

    def order_by(self, *fields: str) -> QuerySet:
        """Order by fields or paths; `-` for descending; nulls first ascending."""
        self._check_unsliced("reorder")
        for name in fields:
            if not isinstance(name, str):
                msg = f"order_by() takes field names, got {name!r}"
                raise TypeError(msg)
            self._order_target(name.removeprefix("-"))
        return self._clone(order=tuple(fields), ranked=None)

    def _check_unsliced(self, action: str) -> None:
        if self._window is not None:
            msg = f"Cannot {action} a query once a slice has been taken."
            raise TypeError(msg)

    def distinct(self, *fields: str) -> QuerySet:
        """Rows are already distinct: to-many filters are semi-joins."""
        return self

    def all(self) -> QuerySet:
        return self

    def latest_version(self) -> QuerySet:
        """Only the latest version of each versioned family."""
        if not self._schema.versioned:
            msg = f"{self._schema.name} is not versioned"
            raise ValueError(msg)
        return self.filter(is_latest=True)

    def __getitem__(self, item: int | slice) -> Any:
        if isinstance(item, slice):
            return self._clone(window=self._slice(item))
        if isinstance(item, bool) or not isinstance(item, int):
            msg = f"QuerySet indices must be integers or slices, got {item!r}"
            raise TypeError(msg)
        if item < 0:
            msg = "Negative indexing is not supported."
            raise ValueError(msg)
        rows = self._cached()
        if rows is None:
            rows = self._head(item + 1)
        if item >= rows.height:
            msg = f"{self._schema.name} queryset index {item} is out of range"
            raise IndexError(msg)
        return self.model._from_row(rows.row(item, named=True))

    def _slice(self, item: slice) -> tuple[int, int | None]:
        if item.step not in (None, 1):
            msg = "slicing a QuerySet with a step is not supported"
            raise ValueError(msg)
        start, stop = item.start or 0, item.stop
        if start < 0 or (stop is not None and stop < 0):
            msg = "Negative indexing is not supported."
            raise ValueError(msg)
        if stop is not None:
            stop = max(stop, start)
        if self._window is None:
            return start, stop
        base, end = self._window
        start += base
        stop = end if stop is None else base + stop
        if end is not None:
            start, stop = min(start, end), min(stop, end)
        return start, stop

    # compiling

    def _compile(
        self, nodes: tuple[_Node, ...]
    ) -> tuple[tuple[pl.Expr, ...], tuple[tuple[str, pl.DataFrame], ...]]:
        catalog = self._catalog
        deps: list[tuple[str, pl.DataFrame]] = []

        def frame(table: str) -> pl.DataFrame:
            current = catalog.frame(table)
            deps.append((table, current))
            return current

        compiler = Compiler(catalog.index, frame, catalog.compiler.features)
        registry = self._schema.qualified_name
        features = self._schema.name in FEATURE_REGISTRIES
        exprs = tuple(
            compiler.predicate(registry, node.q, features=node.kwargs and features)
            for node in nodes
        )
        return exprs, tuple(deps)

    def _conditions(self) -> list[pl.Expr]:
        """Compiled conditions, recompiled if a table they read has moved."""
        compiled = self._compiled
        if not _current(self._catalog, compiled.deps):
            exprs, deps = self._compile(self._nodes)
            compiled = self._compiled = _Compiled(exprs, deps)
        return [*compiled.exprs, *self._scope()]

    def _scope(self) -> tuple[pl.Expr, ...]:
        """Default scoping: main (and current) branch; no run artifacts."""
        if not self._scoped:
            return ()
        schema = self._schema
        registry = schema.name
        branch = self._catalog.branch_id
        lifted = kind = False
        for node in self._nodes:
            node_branch, node_exact, node_kind = node.lifts
            lifted = lifted or node_branch or node_exact
            kind = kind or node_kind
        key = (registry, branch, schema.has_branch and not lifted, not kind)
        exprs = _SCOPES.get(key)
        if exprs is None:
            exprs = _SCOPES[key] = _scope_exprs(*key)
        return exprs

    # evaluating

    def _base(self) -> tuple[pl.DataFrame, pl.Expr | None]:
        """The registry frame and the combined condition (None: every row)."""
        conditions = self._conditions()
        table = self._schema.table
        main = self._catalog.frame(table)
        self._plan_deps = (*self._compiled.deps, (table, main))
        condition = conditions[0] if conditions else None
        for other in conditions[1:]:
            condition = condition & other
        return main, condition

    @property
    def _reshaped(self) -> bool:
        return self._ranked is not None or bool(self._order) or self._window is not None

    def _plan(self) -> pl.LazyFrame:
        """Conditions, ordering and slicing over the registry frame.

        Without ordering or slicing the plan stays lazy. With them, the row
        positions are found on the few columns the conditions and sort keys need
        and only the chosen rows are gathered: `order_by(...)[:100]` never
        materializes the other columns of a million filtered rows.
        """
        main, condition = self._base()
        if not self._reshaped:
            plan = main.lazy()
            return plan if condition is None else plan.filter(condition)
        plan = main.lazy().with_row_index(ROW)
        if condition is not None:
            plan = plan.filter(condition)
        if self._ranked is not None:
            ranks = pl.LazyFrame(
                {"id": list(self._ranked), RANK: range(len(self._ranked))},
                schema={"id": pl.Int64, RANK: pl.Int64},
            )
            plan = plan.join(ranks, on="id", how="inner").sort(RANK)
        elif self._order:
            plan, keys, descending = self._sort_keys(plan)
            limit = None if self._window is None else self._window[1]
            if limit is not None and limit <= TOP_LIMIT:
                plan = _top(plan, keys, descending, limit)
            else:
                plan = plan.sort(keys, descending=descending, nulls_last=descending)
        if self._window is not None:
            start, stop = self._window
            plan = plan.slice(start, None if stop is None else stop - start)
        positions = plan.select(ROW).collect().get_column(ROW)
        return main[positions].lazy()

    def _head(self, n: int, *, last: bool = False) -> pl.DataFrame:
        """At most `n` rows from the start (or the end) of the result."""
        rows = self._cached()
        if rows is not None:
            return rows.tail(n) if last else rows.head(n)
        if self._reshaped:
            plan = self._plan()
            return (plan.tail(n) if last else plan.head(n)).collect()
        main, condition = self._base()
        if condition is None:
            return main.tail(n) if last else main.head(n)
        found = condition.arg_true()
        found = found.tail(n) if last else found.head(n)
        return main[main.select(found).to_series()]

    def _cached(self) -> pl.DataFrame | None:
        if self._cache is None:
            return None
        deps, rows = self._cache
        return rows if _current(self._catalog, deps) else None

    def _rows(self) -> pl.DataFrame:
        """The matching rows, ordered and sliced (all stored columns)."""
        rows = self._cached()
        if rows is None:
            if self._reshaped:
                rows = self._plan().collect()
            else:
                # an in-memory frame filters faster eagerly than through the optimizer
                main, condition = self._base()
                rows = main if condition is None else main.filter(condition)
            self._cache = (self._plan_deps, rows)
        return rows

    def _order_target(self, path: str) -> tuple[list[tuple[str, str]], str]:
        """The foreign-key hops and final column of an order path."""
        index = self._catalog.index
        registry = self._schema.qualified_name
        parts = canonical_key(self._schema.name, path).split("__")
        hops: list[tuple[str, str]] = []
        for i, part in enumerate(parts):
            schema = index.registry(registry)
            last = i == len(parts) - 1
            if last and schema.field(part) is not None:
                return hops, part
            relation = index.relations[registry].get(part)
            if relation is None:
                names = index.query_names(registry)
                raise unknown_field(schema, part, names, key=path)
            if relation.kind != "fk":
                msg = (
                    f"cannot order {self._schema.name} by {path!r}: {part!r} is a "
                    "to-many relation; order by a field or a foreign-key path"
                )
                raise errors.UnsupportedError(msg)
            assert relation.column is not None
            hops.append((relation.column, relation.target))
            registry = relation.target
            if last:
                return hops, "id"
        raise AssertionError(path)

    def _sort_keys(
        self, plan: pl.LazyFrame
    ) -> tuple[pl.LazyFrame, list[str], list[bool]]:
        """`plan` with a column per order key (joined along foreign keys), the keys."""
        catalog = self._catalog
        keys: list[str] = []
        descending: list[bool] = []
        for n, spec in enumerate(self._order):
            hops, column = self._order_target(spec.removeprefix("-"))
            if not hops:
                key = column
            else:
                key = f"__order{n}"
                plan = plan.with_columns(pl.col(hops[0][0]).alias(f"{key}_0"))
                for h, (_, target) in enumerate(hops):
                    nxt = hops[h + 1][0] if h + 1 < len(hops) else column
                    right = catalog.frame(catalog.index.registry(target).table).lazy()
                    right = right.select(
                        pl.col("id").alias(f"{key}_{h}"),
                        pl.col(nxt).alias(f"{key}_{h + 1}"),
                    )
                    plan = plan.join(
                        right, on=f"{key}_{h}", how="left", maintain_order="left"
                    )
                key = f"{key}_{len(hops)}"
            keys.append(key)
            descending.append(spec.startswith("-"))
        if "id" not in keys:  # ties in ascending id, whatever the sort algorithm
            keys.append("id")
            descending.append(False)
        return plan, keys, descending

    def __lakecat_ids__(self) -> tuple[str, pl.Series]:
        rows = self._cached()
        ids = rows.get_column("id") if rows is not None else self._column("id")
        return self._schema.qualified_name, ids

    def _column(self, name: str) -> pl.Series:
        return self._plan().select(name).collect().get_column(name)

    # results

    def __iter__(self) -> Iterator[SQLRecord]:
        from_row = self.model._from_row
        return (from_row(row) for row in self._rows().iter_rows(named=True))

    def __len__(self) -> int:
        return self.count()

    def __bool__(self) -> bool:
        return self.exists()

    def __contains__(self, record: object) -> bool:
        pk = getattr(record, "id", None)
        if not isinstance(record, self.model) or pk is None:
            return False
        rows = self._cached()
        if rows is not None:
            return bool(rows.get_column("id").is_in([pk]).any())
        return (
            self._plan().filter(pl.col("id") == pk).select(pl.len()).collect().item()
            > 0
        )

    def count(self) -> int:
        """How many records match (each once)."""
        rows = self._cached()
        if rows is not None:
            return rows.height
        if self._reshaped:
            return self._plan().select(pl.len()).collect().item()
        main, condition = self._base()
        return main.height if condition is None else main.select(condition.sum()).item()

    def exists(self) -> bool:
        return self._head(1).height > 0

    def first(self) -> SQLRecord | None:
        """The first record in the current order (ascending id if unordered)."""
        rows = self._head(1)
        return self.model._from_row(rows.row(0, named=True)) if rows.height else None

    def last(self) -> SQLRecord | None:
        """The last record in the current order (highest id if unordered)."""
        rows = self._head(1, last=True)
        return self.model._from_row(rows.row(-1, named=True)) if rows.height else None

    def one(self) -> SQLRecord:
        """Exactly one record, else `DoesNotExist` or `MultipleResultsFound`."""
        rows = self._at_most_two()
        if rows.height == 0:
            msg = f"No {self._schema.name} matches {self!r}."
            raise self.model.DoesNotExist(msg)
        if rows.height > 1:
            msg = f"Several {self._schema.name} records match; expected one: {self!r}"
            raise self.model.MultipleObjectsReturned(msg)
        return self.model._from_row(rows.row(0, named=True))

    def one_or_none(self) -> SQLRecord | None:
        """The one matching record, None if there is none, else `MultipleResultsFound`."""
        rows = self._at_most_two()
        if rows.height > 1:
            msg = f"Several {self._schema.name} records match; expected at most one: {self!r}"
            raise self.model.MultipleObjectsReturned(msg)
        return self.model._from_row(rows.row(0, named=True)) if rows.height else None

    def _at_most_two(self) -> pl.DataFrame:
        return self._head(2)

    def to_list(self, field: str | None = None) -> list[Any]:
        """The records, or the values of one field, in order."""
        if field is None:
            return list(self)
        return self.values_list(field, flat=True)

    def list(self, field: str | None = None) -> list[Any]:
        """Deprecated alias of `to_list()`."""
        return self.to_list(field)

    def values_list(self, *fields: str, flat: bool = False) -> list[Any]:
        """Tuples of field values (or plain values with `flat=True` and one field)."""
        if flat and len(fields) != 1:
            msg = "values_list(flat=True) takes exactly one field"
            raise TypeError(msg)
        frame = self._values_frame(fields)
        return frame.to_series(0).to_list() if flat else frame.rows()

    def values(self, *fields: str) -> list[dict[str, Any]]:
        """Dicts of field values, one per record."""
        return self._values_frame(fields).to_dicts()

    def _values_frame(self, fields: tuple[str, ...]) -> pl.DataFrame:
        from lakecat.catalog.dataframe import related_values

        schema = self._schema
        names = fields or tuple(c for c in schema.column_names if c != "updated_at")
        own = [n for n in dict.fromkeys(names) if schema.field(n) is not None]
        needs_ids = len(own) < len(set(names))
        rows = self._cached()
        if rows is None:
            selected = list(dict.fromkeys([*own, "id"] if needs_ids else own))
            rows = self._plan().select(selected).collect()
        columns = []
        for name in names:
            if schema.field(name) is not None:
                columns.append(rows.get_column(name))
            else:
                values = related_values(
                    self._catalog, schema.qualified_name, rows.get_column("id"), name
                )
                columns.append(pl.Series(name, values, dtype=pl.Object if any(
                    isinstance(v, set) for v in values) else None))  # fmt: skip
        return pl.DataFrame(columns)

    def to_polars(self) -> pl.DataFrame:
        """The rows as a Polars DataFrame: `id` and the display columns."""
        rows = self._rows().clone()
        for name in _hidden(self._schema):
            rows.drop_in_place(name)
        return rows

    def to_lazy(self) -> pl.LazyFrame:
        """The query as a Polars LazyFrame (`id` and the display columns)."""
        rows = self._cached()
        plan = rows.lazy() if rows is not None else self._plan()
        return plan.drop(_hidden(self._schema))

    def to_dataframe(self, include=None, features=False) -> pd.DataFrame:
        """The rows as a pandas DataFrame indexed by `id`, LaminDB's columns."""
        from lakecat.catalog.dataframe import to_dataframe

        return to_dataframe(self, include=include, features=features)

    def df(self, include=None, features=False) -> pd.DataFrame:
        """Deprecated alias of `to_dataframe()`."""
        from lakecat.catalog.messages import warn_user

        warn_user("`df()` is deprecated, use `to_dataframe()`", DeprecationWarning)
        return self.to_dataframe(include=include, features=features)

    def get(self, idlike: int | str | None = None, **kwargs: Any) -> SQLRecord:
        """One record by id, uid (or uid prefix) or field lookups."""
        from lakecat.catalog.getting import get

        return get(self, idlike, **kwargs)

    def search(self, string: str | None, *, field=None, limit: int | None = 20,
               case_sensitive: bool = False) -> QuerySet:  # fmt: skip
        """Ranked text search over this queryset (see `lakecat.engine.search`)."""
        from lakecat.catalog.discovery import search

        return search(
            self, string, field=field, limit=limit, case_sensitive=case_sensitive
        )

    def lookup(self, field=None, return_field=None, keep="first"):
        """An auto-complete object whose attributes are the records' names."""
        from lakecat.catalog.discovery import lookup

        return lookup(self, field, return_field, keep=keep)

    def delete(self, permanent: bool | None = None) -> None:
        """Move the records to the trash, or remove them with `permanent=True`."""
        from lakecat.catalog.getting import delete_queryset

        delete_queryset(self, permanent)

    def __repr__(self) -> str:
        parts = [repr(node.q) for node in self._nodes]
        conditions = " & ".join(parts) or "all"
        extra = f", order_by={list(self._order)}" if self._order else ""
        if self._window is not None:
            start, stop = self._window
            extra += f", [{start}:{'' if stop is None else stop}]"
        return f"<QuerySet {self._schema.name}: {conditions}{extra}>"


def _top(
    plan: pl.LazyFrame, keys: list[str], descending: list[bool], limit: int
) -> pl.LazyFrame:
    """The first `limit` rows of `plan` in key order, without sorting all of it.

    A sort on several keys costs several times one on a single key, so the
    `limit`-th value of the first key is found first (a single-key top-k) and only
    rows at or before it are sorted on every key: ties on it are all kept.
    """
    narrow = plan.select([ROW, *dict.fromkeys(keys)]).collect()
    if narrow.height > limit:
        first, desc = keys[0], descending[0]
        cut = (
            narrow.lazy()
            .select(first)
            .sort(first, descending=desc, nulls_last=desc)
            .slice(limit - 1, 1)
            .collect()
            .item()
        )
        if cut is not None:
            column = pl.col(first)
            narrow = narrow.filter(
                column >= cut if desc else column.is_null() | (column <= cut)
            )
    return narrow.lazy().sort(keys, descending=descending, nulls_last=descending)


def _hidden(schema: RegistrySchema) -> list[str]:
    """Stored columns `to_polars()` leaves out (the display columns keep table order)."""
    return [f.name for f in schema.fields if f.hidden]


def _current(
    catalog: instance.Catalog, deps: tuple[tuple[str, pl.DataFrame], ...]
) -> bool:
    """Whether every table snapshot in `deps` is still the one the catalog serves."""
    return all(catalog.frame(table) is frame for table, frame in deps)
