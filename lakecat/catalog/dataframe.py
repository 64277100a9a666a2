"""`to_dataframe()`: a queryset's rows as a pandas DataFrame shaped like LaminDB's.

Base columns follow the registry schema; `include=` adds columns from related
registries (sets for to-many paths, `{None}` where nothing is linked, scalars for
to-one paths); `features=` adds one column per feature (see `features.py`).
Related values are computed with joins over whole id columns, never per row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
import polars as pl

from lakecat.catalog import instance
from lakecat.engine.compiler import available_names, unknown_field

if TYPE_CHECKING:
    import pandas as pd

    from lakecat.catalog.queryset import QuerySet


def to_dataframe(qs: QuerySet, *, include=None, features=False) -> pd.DataFrame:
    schema = qs.model._schema
    catalog = instance.current()
    registry = schema.qualified_name
    if isinstance(include, str):
        include = [include]
    include = list(include or [])
    rows = qs._rows()
    base = list(schema.display_columns)
    if include or features:
        paths = [p for p in include if p not in base]
        plain = [p for p in include if p in base]
        base = base[:2]
        base += [p for p in plain if p not in base]
    else:
        paths = []
    if rows.height == 0:
        import pandas as pd

        return pd.DataFrame(columns=[*base[:2], *paths, *base[2:]])
    frame = _pandas(rows.select(["id", *base]), schema)
    ids = rows.get_column("id")
    position = 3  # after id, uid and the registry's second column
    for path in paths:
        values = related_values(catalog, registry, ids, path)
        frame.insert(position, path, values)
        position += 1
    if features:
        from lakecat.catalog.features import feature_columns

        for name, values in feature_columns(catalog, qs.model, ids, features).items():
            frame.insert(position, name, values)
            position += 1
    return frame.set_index("id")


def _pandas(frame: pl.DataFrame, schema) -> pd.DataFrame:
    """Polars → pandas with LaminDB's cell types: dicts for JSON, None for empty."""
    import pandas as pd

    json_columns = [
        f.name for f in schema.fields if f.dtype == "json" and f.name in frame.columns
    ]
    out = frame.drop(json_columns).to_pandas()
    for name in json_columns:
        out[name] = _decode_json(frame.get_column(name))
    for name in frame.columns:
        column = frame.get_column(name)
        if column.null_count() == frame.height and frame.height:
            out[name] = pd.Series([None] * frame.height, dtype=object)
        elif column.dtype == pl.Boolean and column.null_count():
            out[name] = pd.Series(column.to_list(), dtype=object)
    return out[frame.columns]


def _decode_json(column: pl.Series) -> list[Any]:
    cache: dict[str, Any] = {}
    out = []
    for text in column.to_list():
        if text is None:
            out.append(None)
        else:
            if text not in cache:
                cache[text] = orjson.loads(text)
            out.append(cache[text])
    return out


def related_values(catalog, registry: str, ids: pl.Series, path: str) -> list[Any]:
    """Values of `path` for each id, in the order of `ids`; sets for to-many paths."""
    index = catalog.index
    parts = path.split("__")
    current = pl.DataFrame({"__src": ids, "__key": ids})
    many = False
    for i, part in enumerate(parts):
        schema = index.registry(registry)
        last = i == len(parts) - 1
        if last and schema.field(part) is not None:
            values = catalog.frame(schema.table).select(
                pl.col("id").alias("__key"), pl.col(part).alias("__value")
            )
            current = current.join(
                values, on="__key", how="left", maintain_order="left"
            )
            break
        relation = index.relations[registry].get(part)
        if relation is None:
            raise unknown_field(
                schema, part, available_names(index, registry), key=path
            )
        current = _hop(catalog, relation, current)
        many = many or relation.to_many
        registry = relation.target
        if last:
            current = current.with_columns(pl.col("__key").alias("__value"))
    target_field = index.registry(registry).field(parts[-1])
    is_json = target_field is not None and target_field.dtype == "json"
    if not many:
        values = current.get_column("__value").to_list()
        return [orjson.loads(v) if is_json and v is not None else v for v in values]
    grouped = current.group_by("__src", maintain_order=True).agg(pl.col("__value"))
    lookup = dict(
        zip(grouped["__src"].to_list(), grouped["__value"].to_list(), strict=True)
    )
    out = []
    for i in ids.to_list():
        values = lookup.get(i) or [None]
        out.append({_hashable(v) for v in values})
    return out


def _hashable(value: Any) -> Any:
    return (
        value if not isinstance(value, (list, dict)) else orjson.dumps(value).decode()
    )


def _hop(catalog, relation, current: pl.DataFrame) -> pl.DataFrame:
    """Follow one relation from `__key` (ids of its source) to ids of its target."""
    index = catalog.index
    if relation.kind == "fk":
        source = catalog.frame(index.registry(relation.source).table).select(
            pl.col("id").alias("__key"), pl.col(relation.column).alias("__next")
        )
    elif relation.kind == "reverse_fk":
        source = catalog.frame(index.registry(relation.target).table).select(
            pl.col(relation.column).alias("__key"), pl.col("id").alias("__next")
        )
    else:
        source = catalog.frame(relation.link.table).select(
            pl.col(relation.source_column).alias("__key"),
            pl.col(relation.target_column).alias("__next"),
        )
    joined = current.join(source, on="__key", how="left", maintain_order="left")
    return joined.drop("__key").rename({"__next": "__key"})
