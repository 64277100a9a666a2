"""Finding records: ranked `search()`, auto-complete `lookup()`, and `view()`.

One scope rule for `search()`, `lookup()`, `filter()` and `get(**kwargs)`: the
trash and the archive are hidden unless asked for, by filtering on a branch first
(`Record.filter(branch_id=-1).search(...)`, or `branch=None` for every branch).
LaminDB's registry-level `search()` and `lookup()` also see trashed rows; lakecat
does not. Naming an exact row (`get("<uid>")`, `get(id=...)`) finds it anywhere.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lakecat.catalog import instance
from lakecat.catalog.record import REGISTRY_CLASSES, FieldRef
from lakecat.engine import errors

if TYPE_CHECKING:
    import pandas as pd

    from lakecat.catalog.queryset import QuerySet

#: how many rows `view()` shows per registry
VIEW_LIMIT = 7
#: registries `view()` never shows: not records, or link tables
VIEW_SKIP = frozenset({"User", "Space", "Branch"})


def _field_names(qs: QuerySet, field: Any) -> list[str]:
    schema = qs.model._schema
    if field is None:
        return list(schema.search_fields)
    items = field if isinstance(field, (list, tuple)) else [field]
    names = []
    for item in items:
        if isinstance(item, FieldRef):
            item = item.name
        if not isinstance(item, str):
            msg = f"search(field=...) takes a field name or a field such as lc.Record.name, got {item!r}"
            raise TypeError(msg)
        if schema.field(item) is None:
            from lakecat.engine.compiler import unknown_field

            raise unknown_field(schema, item, [f.name for f in schema.fields])
        names.append(item)
    return names


def search(qs: QuerySet, string: str | None, *, field=None, limit: int | None = 20,
           case_sensitive: bool = False) -> QuerySet:  # fmt: skip
    """Rank the queryset's rows by how well `string` matches their text fields."""
    from lakecat.engine.search import rank

    if string is None:
        msg = "Cannot search for None value! Please pass a valid string."
        raise ValueError(msg)
    fields = _field_names(qs, field)
    rows = qs._rows().select(["id", *dict.fromkeys(fields)])
    ranked = rank(rows, string, fields, case_sensitive=case_sensitive, limit=limit)
    ids = tuple(ranked.get_column("id").to_list())
    return qs._clone(order=(), window=(0, None), ranked=ids)


def lookup(qs: QuerySet, field=None, return_field=None, *, keep: str | bool = "first"):
    """An object whose attributes are the records' names, e.g. `records.experiment_1`."""
    from lakecat.engine.naming import Lookup

    schema = qs.model._schema
    name = field.name if isinstance(field, FieldRef) else field
    name = name or schema.default_name_field
    if schema.field(name) is None:
        from lakecat.engine.compiler import unknown_field

        raise unknown_field(schema, name, [f.name for f in schema.fields])
    returned = return_field.name if isinstance(return_field, FieldRef) else return_field
    records = list(qs)
    pairs = [(r._values.get(name), r) for r in records]
    pairs = [(v, r) for v, r in pairs if isinstance(v, str) and v]
    values = None
    if returned is not None:
        values = [r._values.get(returned) for _, r in pairs]
    return Lookup(pairs, keep=keep, returns=values, prefix="ln_")


def _registries_of(module: str, wanted: list[str] | None = None) -> list[str]:
    """A module's registries sorted by class name; all of `wanted` or the usual ones."""
    catalog = instance.current()
    names = [
        qualified
        for qualified, schema in catalog.index.registries.items()
        if schema.module == module
        and (
            schema.name in wanted
            if wanted is not None
            else schema.name not in VIEW_SKIP
        )
    ]
    return sorted(names, key=lambda q: catalog.index.registry(q).name)


def view(df: pd.DataFrame | None = None, *, limit: int = VIEW_LIMIT, modules=None,
         registries=None) -> None:  # fmt: skip
    """Print the newest rows of every non-empty registry, or `df` with its dtypes."""
    if df is not None:
        print(_with_dtypes(df))
        return
    catalog = instance.current()
    modules = list(modules or catalog.modules)
    for module in modules:
        if module not in catalog.modules:
            msg = f"module {module!r} is not on this catalog; it has {list(catalog.modules)}"
            raise errors.InvalidArgument(msg)
    for module in modules:
        shown = []
        for qualified in _registries_of(module, registries):
            frame = REGISTRY_CLASSES[qualified].to_dataframe(limit=limit)
            if not frame.empty:
                shown.append((catalog.index.registry(qualified).name, frame))
        if shown and len(modules) > 1:
            middle = f"* module: {'bionty' if module == 'bio' else module} *"
            print("*" * len(middle), middle, "*" * len(middle), sep="\n")
        for name, frame in shown:
            print(name)
            print(_text(frame))


def _text(frame: pd.DataFrame) -> str:
    import pandas as pd

    with pd.option_context("display.max_columns", None, "display.width", 10_000,
                           "display.max_colwidth", 50):  # fmt: skip
        return frame.to_string()


DTYPE_LABELS = {"object": "str", "string": "str", "category": "cat", "bool": "bool"}


def _pandas_dtype_label(dtype) -> str:
    kind = getattr(dtype, "kind", "O")
    if str(dtype) == "category":
        return "cat"
    return {"i": "int", "u": "int", "f": "float", "b": "bool", "M": "datetime"}.get(
        kind, "str"
    )


def _with_dtypes(df: pd.DataFrame) -> str:
    """`df` as text with a row of dtypes under the header (features override pandas)."""
    import pandas as pd

    catalog = instance.current()
    features = catalog.frame("feature").select("name", "dtype")
    dtypes = dict(
        zip(features["name"].to_list(), features["dtype"].to_list(), strict=True)
    )
    labels = [dtypes.get(c) or _pandas_dtype_label(df[c].dtype) for c in df.columns]
    header = pd.MultiIndex.from_arrays([list(df.columns), labels])
    shown = df.copy()
    shown.columns = header
    shown.index.name = df.index.name
    return _text(shown)
