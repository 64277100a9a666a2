"""Features: typed annotations of artifacts, and filtering and reporting by them.

Storage
-------
- A categorical value (`cat[Record]`, `cat[bionty.CellType]`, …) is a row of the
  artifact's link table to that registry, carrying the feature's id.
- Any other value is a `FeatureValue` row, one per distinct (feature, value), linked
  through `artifact_featurevalue`. `value` is the exact JSON text (orjson); hidden
  columns (`_kind`, `_number`, `_integer`, `_text`) hold what comparisons need, so
  numbers compare as numbers and text as text without decoding JSON.
- The nodes inside a dict or list value (every key and list item, at any depth)
  are rows of the hidden table `featurevalue_path`, written once with the value. A
  nested lookup (`meta__model__name="resnet"`) filters that long table and joins
  to the artifacts. Measured at 1M artifacts with distinct dicts: decoding JSON per
  query took 1.7–3.4 s, the long table takes milliseconds and handles any mix of
  dict shapes.

Decisions
---------
- JSON comparison is typed: the string "123" is not the number 123, True is not
  1, and 1 equals 1.0.
- Integers must fit in a signed 64-bit integer; they are compared exactly as
  int64 (floats as float64). JSON could carry larger integers, but every reader
  of these tables (Polars, DuckDB) would round or refuse them, so they are
  refused with an error that suggests storing them as strings. NaN and infinities
  are not JSON and are refused too: `None` means "no value".
- Text comparators on features are literal and case-sensitive (`contains`,
  `startswith`); LaminDB 1.13 silently turns them into `icontains`, lakecat does not.
- Datetimes are stored as ISO text in UTC, so text order is time order.
- Every feature condition is computed from whole columns (filters and joins over
  link and value tables), never per artifact.
"""

from __future__ import annotations

import base64
import functools
import gc
import hashlib
import itertools
import json
import logging
import math
import operator
import os
import re
import typing
import weakref
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING, Any

import orjson
import polars as pl

from lakecat.catalog import instance, related
from lakecat.catalog.messages import inform
from lakecat.catalog.record import FULL_INDEX, REGISTRY_CLASSES, SQLRecord
from lakecat.catalog.registries import _Named
from lakecat.catalog.related import derived, rows_where_in
from lakecat.engine import errors
from lakecat.engine.comparators import (
    COLUMN_COMPARATORS,
    MISSING,
    TEXT_COMPARATORS,
    json_get,
    python_compare,
)
from lakecat.engine.lookups import Lookup
from lakecat.schemas import COMPARATORS_BY_DTYPE, core

if TYPE_CHECKING:
    from lakecat.catalog.artifact import Artifact
    from lakecat.catalog.instance import Catalog

__all__ = ["Feature", "FeatureManager", "add_values_bulk"]

logger = logging.getLogger(__name__)

SCALAR_DTYPES = (
    "str",
    "int",
    "float",
    "num",
    "bool",
    "date",
    "datetime",
    "dict",
    "path",
)
NUMERIC = frozenset({"int", "float", "num"})
TEXTUAL = frozenset({"str", "path"})
TEMPORAL = frozenset({"date", "datetime"})
CAT_PATTERN = re.compile(
    r"^(?:list\[)?cat\[(?P<registry>[A-Za-z_.]+?)(?:\[(?P<subtype>[^\]]+)\])?"
    r"(?:\.(?P<field>[a-z_]+))?\]\]?$"
)
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
PATHS = "featurevalue_path"
#: list items past this many are not indexed; lookups into them decode JSON instead
MAX_INDEXED_ITEMS = 1000
#: dict features: comparators on the whole value (keys take every comparator)
DICT_ROOT_COMPARATORS = ("exact", "isnull", "has_key")
#: comparators after a date part (`date_of_study__year__gte=2024`)
PART_COMPARATORS = ("exact", "in", "gt", "gte", "lt", "lte", "range")
TRANSFORMS = frozenset({"date", "year", "month", "day"})
#: where the date parts sit in an ISO text: year, month, day
DATE_PARTS = {"year": (0, 4), "month": (5, 2), "day": (8, 2)}


# dtypes


@dataclass(frozen=True)
class CatDtype:
    """A parsed `cat[...]` dtype: which registry, which field, which subtype."""

    registry: str
    field: str
    subtype: str | None
    many: bool


@functools.lru_cache(maxsize=512)
def parse_cat(dtype: str) -> CatDtype | None:
    """`cat[bionty.Gene.ensembl_gene_id]` → registry `bio.Gene`, field `ensembl_gene_id`.

    >>> parse_cat("cat[Record[Experiment]]")
    CatDtype(registry='Record', field='name', subtype='Experiment', many=False)
    """
    match = CAT_PATTERN.match(dtype or "")
    if match is None:
        return None
    name = match["registry"]
    field = match["field"]
    if name.startswith(("bionty.", "bt.")):
        name = "bio." + name.split(".", 1)[1]
    if name.count(".") == 2:  # bio.Gene.symbol
        name, field = name.rsplit(".", 1)
    elif "." in name and not name.startswith("bio."):
        name, field = name.split(".", 1)
    schema = FULL_INDEX.registries.get(name)
    if field is None:
        field = schema.default_name_field if schema is not None else "name"
    return CatDtype(name, field, match["subtype"], dtype.startswith("list["))


def dtype_string(dtype: Any) -> str:
    """Normalise what users pass as `dtype=`: Python types, registries, record
    types (`Record(name="Experiment", is_type=True)`), `list[...]` or strings."""
    simple = {str: "str", int: "int", float: "float", bool: "bool", dict: "dict",
              date: "date", datetime: "datetime"}  # fmt: skip
    if dtype in simple:
        return simple[dtype]
    if typing.get_origin(dtype) is list:
        (inner,) = typing.get_args(dtype)
        return f"list[{dtype_string(inner)}]"
    if isinstance(dtype, type) and issubclass(dtype, SQLRecord):
        return f"cat[{_registry_label(dtype._schema)}]"
    if isinstance(dtype, SQLRecord) and dtype._values.get("is_type"):
        return f"cat[{_registry_label(dtype._schema)}[{dtype.name}]]"
    if isinstance(dtype, str):
        _check_dtype_string(dtype)
        return dtype
    msg = (
        f"Feature dtype {dtype!r} is not supported; use one of "
        f"{', '.join(SCALAR_DTYPES)}, a registry (lc.Record, bt.CellType), a record "
        "type, or a string such as 'cat[Record]' or 'list[int]'"
    )
    raise errors.ValidationError(msg, registry="Feature", field="dtype")


def _registry_label(schema) -> str:
    return f"bionty.{schema.name}" if schema.module == "bio" else schema.name


def _check_dtype_string(dtype: str) -> None:
    cat = parse_cat(dtype)
    if cat is not None:
        schema = FULL_INDEX.registries.get(cat.registry)
        if schema is None or schema.field(cat.field) is None:
            what = "registry" if schema is None else f"field {cat.field!r} of"
            msg = (
                f"Feature dtype {dtype!r} names an unknown {what} {cat.registry}; "
                f"registries: {', '.join(sorted(FULL_INDEX.registries))}"
            )
            raise errors.ValidationError(msg, registry="Feature", field="dtype")
        return
    inner = dtype[5:-1] if dtype.startswith("list[") and dtype.endswith("]") else dtype
    if inner not in SCALAR_DTYPES:
        msg = (
            f"Feature dtype {dtype!r} is not supported; use one of "
            f"{', '.join(SCALAR_DTYPES)}, list[...] of a scalar, or cat[Registry]"
        )
        raise errors.ValidationError(msg, registry="Feature", field="dtype")


class Feature(_Named, schema=core.FEATURE):
    """A typed dimension that artifacts are annotated with.

    `dtype` is a Python type (`float`, `dict`, `list[int]`), a registry
    (`lc.Record`, `bt.CellType`), a record type (restricting labels to its
    members) or a dtype string (`"cat[Record[Experiment]]"`, `"list[str]"`).

    Examples
    --------
    >>> lc.Feature(name="temperature", dtype=float).save()  # doctest: +SKIP
    """

    def __init__(self, *, name: str, dtype: Any = None, **kwargs: Any) -> None:
        if dtype is None:
            msg = (
                f"Feature {name!r} needs a dtype, "
                f"e.g. lc.Feature(name={name!r}, dtype=float)"
            )
            raise errors.ValidationError(msg, registry="Feature", field="dtype")
        super().__init__(name=name, dtype=dtype_string(dtype), **kwargs)

    @classmethod
    def _existing(cls, *args: Any, **kwargs: Any):
        existing = super()._existing(*args, **kwargs)
        if existing is not None and "dtype" in kwargs:
            wanted = dtype_string(kwargs["dtype"])
            if existing.dtype != wanted:
                msg = (
                    f"Feature {existing.name!r} exists with dtype "
                    f"{existing.dtype!r}, not {wanted!r}"
                )
                raise errors.ValidationError(msg, registry="Feature", field="dtype")
        return existing


# values: validation and encoding


def _invalid(where: str, message: str) -> errors.ValidationError:
    return errors.ValidationError(f"{where}: {message}", registry="FeatureValue",
                                  field="value")  # fmt: skip


def json_ready(value: Any, where: str) -> Any:
    """`value` as plain JSON data (tuples become lists, numpy scalars Python ones).

    Refuses what JSON cannot hold exactly: NaN, infinities, integers outside int64,
    non-string dict keys and objects that are not JSON (dates inside a dict, sets).
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise _invalid(
                where,
                f"the integer {value} does not fit in 64 bits; lakecat stores and "
                "compares integers as int64 (-2**63 … 2**63-1), store it as a string",
            )
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            msg = f"{value!r} is not a JSON number; use None for a missing value"
            raise _invalid(where, msg)
        return value
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise _invalid(where, f"dict keys must be strings, got {key!r}")
            out[key] = json_ready(item, where)
        return out
    if isinstance(value, (list, tuple)):
        return [json_ready(item, where) for item in value]
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        return json_ready(value.item(), where)
    msg = (
        f"{type(value).__name__} {value!r} is not JSON; use dict, list, str, int, "
        "float, bool or None"
    )
    raise _invalid(where, msg)


#: a run of digits long enough to be an integer near or past the int64 limits
_LONG_DIGITS = re.compile(rb"\d{19,}")


def _checked_container(value: Any, where: str) -> Any:
    """`json_ready` for dicts and lists, taking a fast path for plain JSON data.

    orjson writes what it can (NaN as null, dates as text, tuples as lists), so a
    value is plain JSON if reading its text back gives an equal value and no
    integer could be near the int64 limits; anything else takes the slow path,
    which converts or refuses with a precise message.
    """
    text = orjson.dumps(value)
    if not _LONG_DIGITS.search(text) and orjson.loads(text) == value:
        return value
    return json_ready(value, where)


def _utc_iso(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat()


def normalize_value(feature: Feature | dict[str, Any], value: Any) -> Any:
    """Check a non-categorical value against the feature's dtype; its JSON form."""
    name, dtype = _name_dtype(feature)
    return _normalize(name, dtype, value)


def _name_dtype(feature: Feature | dict[str, Any]) -> tuple[str, str]:
    if isinstance(feature, dict):
        return feature["name"], feature["dtype"] or ""
    return feature.name, feature.dtype or ""


def _normalize(name: str, dtype: str, value: Any) -> Any:
    where = f"feature {name!r} ({dtype})"
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        value = value.item()
    if dtype.startswith("list["):
        if not isinstance(value, (list, tuple)):
            msg = f"{where} takes a list, got {type(value).__name__} {value!r}"
            raise errors.ValidationError(msg, registry="Feature", field=name)
        return [_normalize(name, dtype[5:-1], item) for item in value]
    ok = True
    if dtype == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif dtype in ("float", "num"):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif dtype == "str":
        ok = isinstance(value, str)
    elif dtype == "path":
        ok = isinstance(value, (str, os.PathLike))
        value = os.fspath(value) if ok else value
    elif dtype == "bool":
        ok = isinstance(value, bool)
    elif dtype == "date":
        value, ok = _date_text(value)
    elif dtype == "datetime":
        value, ok = _datetime_text(value)
    elif dtype == "dict":
        ok = isinstance(value, dict)
    else:
        msg = f"{where}: values of this dtype cannot be stored; recreate the feature"
        raise errors.ValidationError(msg, registry="Feature", field=name)
    if not ok:
        msg = f"{where} cannot take {type(value).__name__} {value!r}"
        raise errors.ValidationError(msg, registry="Feature", field=name)
    if isinstance(value, (dict, list)):
        try:
            return _checked_container(value, where)
        except (TypeError, orjson.JSONEncodeError):
            return json_ready(value, where)
    return json_ready(value, where)


def _date_text(value: Any) -> tuple[Any, bool]:
    if isinstance(value, datetime):
        return value, False
    if isinstance(value, date):
        return value.isoformat(), True
    if isinstance(value, str):
        try:
            return date.fromisoformat(value).isoformat(), True
        except ValueError:
            return value, False
    return value, False


def _datetime_text(value: Any) -> tuple[Any, bool]:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value, False
    if isinstance(value, datetime):
        return _utc_iso(value), True
    return value, False


def value_hash(value: Any) -> str:
    """LaminDB's hash of a feature value: md5 of the text, or of sorted-key JSON."""
    if isinstance(value, str):
        data = value.encode()
    else:
        data = json.dumps(value, sort_keys=True).encode()
    return base64.urlsafe_b64encode(hashlib.md5(data).digest()).decode().rstrip("=")


def canonical(value: Any) -> str:
    """JSON text that is equal for equal values (dict keys sorted)."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def typed(value: Any) -> tuple[str, float | None, int | None, str | None]:
    """(kind, number, integer, text) of one JSON value: what comparisons read."""
    if value is None:
        return "null", None, None, None
    if isinstance(value, bool):
        return "bool", float(value), None, None
    if isinstance(value, int):
        return "number", float(value), value, None
    if isinstance(value, float):
        return "number", value, None, None
    if isinstance(value, str):
        return "string", None, None, value
    return ("dict" if isinstance(value, dict) else "list"), None, None, canonical(value)


def flatten(value: Any) -> list[tuple[str, str, float | None, int | None, str | None]]:
    """(path, kind, number, integer, text) of every node inside a dict or list.

    Paths are JSON arrays: keys as strings, list positions as integers.

    >>> [row[:2] for row in flatten({"model": {"name": "resnet"}, "tags": ["a"]})]
    [('["model"]', 'dict'), ('["model","name"]', 'string'), ('["tags"]', 'list'), ('["tags",0]', 'string')]
    """
    rows: list[tuple[str, str, float | None, int | None, str | None]] = []
    _flatten_into(rows, value, "[")
    return rows


def _flatten_into(rows: list, node: Any, prefix: str) -> None:
    items = (
        node.items() if isinstance(node, dict) else enumerate(node[:MAX_INDEXED_ITEMS])
    )
    for key, child in items:
        step = orjson.dumps(key).decode() if isinstance(key, str) else str(key)
        path = prefix + step
        kind = type(child)  # exact types first: this runs once per node
        if kind is str:
            rows.append((path + "]", "string", None, None, child))
        elif kind is float:
            rows.append((path + "]", "number", child, None, None))
        elif kind is int:
            rows.append((path + "]", "number", float(child), child, None))
        else:
            rows.append((path + "]", *typed(child)))
            if isinstance(child, (dict, list)) and child:
                _flatten_into(rows, child, path + ",")


@dataclass(frozen=True)
class Encoded:
    """A normalised value, ready to be a `FeatureValue` row."""

    value: Any
    text: str
    hash: str
    kind: str

    @classmethod
    def of(cls, value: Any) -> Encoded:
        return cls(value, orjson.dumps(value).decode(), value_hash(value),
                   typed(value)[0])  # fmt: skip


#: loops over more items than this pause the garbage collector (see `_bulk`)
BULK_ITEMS = 10_000


@contextmanager
def _bulk(items: int) -> Iterator[None]:
    """Pause the cyclic garbage collector while a loop makes many containers.

    Decoding or encoding a million small dicts triggers collections that scan
    everything alive, which made such loops about 6× slower; nothing these loops
    make is cyclic, so reference counting frees it all the same.
    """
    if items < BULK_ITEMS or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


# reading with per-snapshot indexes


def _tables_frame(catalog: Catalog, table: str) -> pl.DataFrame:
    """Rows of `table`; creates the hidden path table in catalogs made without it."""
    if table == PATHS:
        _ensure_paths_table(catalog)
    return catalog.frame(table)


#: table stores known to have the path table
_PATHS_READY: weakref.WeakSet[Any] = weakref.WeakSet()


def _ensure_paths_table(catalog: Catalog) -> None:
    if catalog.tables in _PATHS_READY:
        return
    try:
        catalog.tables.frame(PATHS)
    except errors.StorageError:
        if catalog.read_only:
            raise
        _create_paths_table(catalog)
    _PATHS_READY.add(catalog.tables)


def _create_paths_table(catalog: Catalog) -> None:
    """Create `featurevalue_path` and index the dict values saved before it existed."""
    catalog.tables.create_all()
    values = catalog.tables.frame("featurevalue").filter(
        pl.col("_kind").is_in(["dict", "list"])
    )
    fv_ids, feature_ids, texts = values.select("id", "feature_id", "value")
    columns = _path_columns(fv_ids.to_list(), feature_ids.to_list(),
                            [orjson.loads(t) for t in texts])  # fmt: skip
    count = len(columns["path"])
    if count:
        ids = catalog.ids.allocate(PATHS, count, 0)
        related.write(catalog, [related.Rows(PATHS, {"id": list(ids), **columns})])
    logger.info("created %s with %d rows", PATHS, count)


def _path_columns(
    fv_ids: list[int], feature_ids: list[int], values: list[Any]
) -> dict[str, list[Any]]:
    """`featurevalue_path` columns (but `id`) for the nodes of dict and list values."""
    names = (
        "featurevalue_id",
        "feature_id",
        "path",
        "kind",
        "number",
        "integer",
        "text",
    )
    columns: dict[str, list[Any]] = {name: [] for name in names}
    for fv_id, feature_id, value in zip(fv_ids, feature_ids, values, strict=True):
        if not isinstance(value, (dict, list)):
            continue
        nodes = flatten(value)
        columns["featurevalue_id"] += [fv_id] * len(nodes)
        columns["feature_id"] += [feature_id] * len(nodes)
        for name, parts in zip(names[2:], zip(*nodes, strict=True), strict=True):
            columns[name] += parts
    return columns


# the accessor


class FeatureManager:
    """`artifact.features`: add, read and remove the feature values of one artifact.

    Examples
    --------
    >>> artifact.features.add_values({"temperature": 21.6, "perturbation": "DMSO"})
    ... # doctest: +SKIP
    >>> artifact.features.get_values()  # doctest: +SKIP
    {'perturbation': 'DMSO', 'temperature': 21.6}
    """

    def __init__(self, artifact: Artifact) -> None:
        self.artifact = artifact

    def add_values(self, values: dict[str | Feature, Any]) -> None:
        """Annotate the artifact; categorical values are names, records or lists.

        Everything is validated before anything is written; inside `lc.batch()` the
        rows join the batch, otherwise they are committed together.
        """
        artifact_id = self._saved_id()
        add_values_bulk([artifact_id], {k: [v] for k, v in values.items()})

    def get_values(self) -> dict[str, Any]:
        """Feature name → value; a set where several labels or values are linked.

        Dates come back as `date`, datetimes as UTC `datetime`, dicts as dicts.
        """
        catalog = instance.current()
        ids = pl.Series("id", [self._saved_id()], dtype=pl.Int64)
        features = {r["name"]: r for r in candidate_features(catalog, "all")}
        out = {}
        for name, cells in _feature_cells(catalog, ids, list(features.values())):
            value = cells[0]
            if value is _MISSING:
                continue
            dtype = features[name]["dtype"] or ""
            out[name] = _python_value(dtype, value)
        return out

    def remove_values(
        self, features: str | Feature | Sequence[str | Feature], *, value: Any = None
    ) -> None:
        """Unlink the values of one or several features, or only `value`."""
        catalog = instance.current()
        artifact_id = self._saved_id()
        if isinstance(features, (str, Feature)):
            features = [features]
        rows = _features_by_name(catalog, [_feature_name(f) for f in features])
        with catalog.batching():
            for feature in rows.values():
                cat = parse_cat(feature["dtype"] or "")
                if cat is not None:
                    _remove_labels(catalog, artifact_id, feature, cat, value)
                else:
                    _remove_json_values(catalog, artifact_id, feature, value)

    def _saved_id(self) -> int:
        if self.artifact.id is None:
            msg = "save the artifact before adding or reading feature values"
            raise ValueError(msg)
        return self.artifact.id

    def __repr__(self) -> str:
        key = self.artifact.key or self.artifact.uid
        return f"<features of {key}: {self.get_values()}>"


def _python_value(dtype: str, value: Any) -> Any:
    if isinstance(value, set):
        return {_python_value(dtype, v) for v in value}
    if dtype == "date" and isinstance(value, str):
        return date.fromisoformat(value)
    if dtype == "datetime" and isinstance(value, str):
        return datetime.fromisoformat(value)
    return value


def _feature_name(feature: str | Feature) -> str:
    return feature.name if isinstance(feature, Feature) else feature


def _remove_labels(catalog, artifact_id: int, feature, cat: CatDtype, value) -> None:
    relation = _label_relation(catalog, cat)
    links = catalog.frame(relation.link.table).filter(
        (pl.col(relation.source_column) == artifact_id)
        & (pl.col("feature_id") == feature["id"])
    )
    if value is not None:
        items = list(value) if isinstance(value, (list, tuple, set)) else [value]
        labels = _resolve_labels(catalog, feature, cat, items)
        links = links.filter(pl.col(relation.target_column).is_in(labels))
    catalog.delete_rows(relation.link.table, "id", links["id"].to_list())


def _remove_json_values(catalog, artifact_id: int, feature, value) -> None:
    values = catalog.frame("featurevalue").filter(pl.col("feature_id") == feature["id"])
    if value is not None:
        wanted = Encoded.of(normalize_value(feature, value))
        values = values.filter(pl.col("hash") == wanted.hash)
    links = catalog.frame("artifact_featurevalue").filter(
        (pl.col("artifact_id") == artifact_id)
        & pl.col("featurevalue_id").is_in(values["id"].to_list())
    )
    catalog.delete_rows("artifact_featurevalue", "id", links["id"].to_list())


# writing


def add_values_bulk(
    artifacts: Iterable[int | Artifact] | Any,
    values: dict[str | Feature, Sequence[Any]],
) -> None:
    """Annotate many artifacts at once: one sequence of values per feature.

    `values[name][i]` annotates the i-th artifact (`None` skips it); categorical
    values are names, records or lists of them. All values are validated first,
    then written with one commit per table (or into the open `lc.batch()`).

    Examples
    --------
    >>> add_values_bulk(lc.Artifact.filter(suffix=".h5ad"),
    ...                 {"temperature": [21.6, 22.6]})  # doctest: +SKIP
    """
    catalog = instance.current()
    ids = _artifact_ids(artifacts)
    names = [_feature_name(k) for k in values]
    columns = dict(zip(names, values.values(), strict=True))
    for name, column in columns.items():
        if len(column) != len(ids):
            msg = f"feature {name!r} has {len(column)} values for {len(ids)} artifacts"
            raise ValueError(msg)
    features = _features_by_name(catalog, names)
    with _bulk(len(ids) * len(columns)):
        labels, json_values = _prepared(catalog, features, ids, columns)
        exact = catalog.batch is None
        writes = _json_value_rows(catalog, json_values, exact=exact)
        for relation, keys in labels.values():
            writes.append(related.new_links(catalog, relation, keys, exact=exact))
    related.write(catalog, writes)  # values first: the links make them visible


def _prepared(catalog: Catalog, features, ids: list[int], columns) -> tuple[dict, list]:
    """Validated label links per link table, and encoded values per feature."""
    labels: dict[str, tuple[Any, list[related.LinkKey]]] = {}
    json_values: list[tuple[dict[str, Any], list[int], list[Encoded]]] = []
    for name, column in columns.items():
        feature = features[name]
        cat = parse_cat(feature["dtype"] or "")
        if cat is not None:
            relation = _label_relation(catalog, cat)
            keys = labels.setdefault(relation.link.table, (relation, []))[1]
            pairs = _label_pairs(catalog, feature, cat, ids, column)
            keys += [(a, label, feature["id"]) for a, label in pairs]
        else:
            present = [
                (i, v) for i, v in zip(ids, column, strict=True) if v is not None
            ]
            encoded = _encode_all(feature, [v for _, v in present])
            json_values.append((feature, [i for i, _ in present], encoded))
    return labels, json_values


def _artifact_ids(artifacts: Any) -> list[int]:
    ids_of = getattr(artifacts, "__lakecat_ids__", None)
    if callable(ids_of):
        return ids_of()[1].to_list()
    if isinstance(artifacts, pl.Series):
        return artifacts.to_list()
    out = []
    for item in artifacts:
        if isinstance(item, SQLRecord):
            if item._schema.name != "Artifact" or item.id is None:
                msg = f"expected saved artifacts, got {item!r}"
                raise ValueError(msg)
            out.append(item.id)
        else:
            out.append(int(item))
    return out


def _encode_all(feature: dict[str, Any], values: list[Any]) -> list[Encoded]:
    name, dtype = _name_dtype(feature)
    cache: dict[Any, Encoded] = {}
    out = []
    for value in values:
        key = (type(value), value) if isinstance(value, (str, int, float)) else None
        encoded = cache.get(key) if key is not None else None
        if encoded is None:
            encoded = Encoded.of(_normalize(name, dtype, value))
            if key is not None:
                cache[key] = encoded
        out.append(encoded)
    return out


def _json_value_rows(
    catalog: Catalog,
    values: list[tuple[dict[str, Any], list[int], list[Encoded]]],
    *,
    exact: bool,
) -> list[related.Rows]:
    """Rows for the feature values that do not exist yet, and the links to them."""
    if not values:
        return []
    created: list[tuple[int, tuple[str, str], Encoded]] = []
    links: list[tuple[int, int]] = []  # (artifact, placeholder or value id)
    knowns: dict[int, dict[tuple[str, str], int]] = {}
    for feature, artifact_ids, encoded in values:
        keys = {(e.kind, e.hash) for e in encoded}
        known = knowns[feature["id"]] = _known_values(catalog, feature["id"], keys)
        for e in encoded:
            key = (e.kind, e.hash)
            if key not in known:
                known[key] = -len(created) - 1  # placeholder until ids are claimed
                created.append((feature["id"], key, e))
        links += [(a, known[(e.kind, e.hash)])
                  for a, e in zip(artifact_ids, encoded, strict=True)]  # fmt: skip
    value_rows = related.Rows("featurevalue", dicts=[])
    path_rows = related.Rows(PATHS, dicts=[])
    if created:
        ids = list(related.allocate(catalog, "featurevalue", len(created), exact=exact))
        for fv_id, (feature_id, key, _) in zip(ids, created, strict=True):
            knowns[feature_id][key] = fv_id
        links = [(a, v if v > 0 else ids[-v - 1]) for a, v in links]
        value_rows = _value_rows(catalog, ids, created)
        path_rows = _path_rows(catalog, ids, created, exact=exact)
    relation = catalog.index.relations["Artifact"]["_feature_values"]
    keys = [(a, v, None) for a, v in links]
    return [
        value_rows,
        path_rows,
        related.new_links(catalog, relation, keys, exact=exact),
    ]


def _value_rows(catalog: Catalog, ids: list[int], created) -> related.Rows:
    if len(ids) > related.SMALL:
        return related.Rows("featurevalue", _value_columns(catalog, ids, created))
    common = {"space_id": 1, "is_locked": False, "run_id": catalog.run_id,
              "created_at": instance.now(), "created_by_id": catalog.user_id,
              "branch_id": 1}  # fmt: skip
    rows = []
    for fv_id, (feature_id, _, e) in zip(ids, created, strict=True):
        if e.kind in ("dict", "list"):
            kind, number, integer, text = e.kind, None, None, None
        else:
            kind, number, integer, text = typed(e.value)
        rows.append({"id": fv_id, "value": e.text, "hash": e.hash,
                     "feature_id": feature_id, **common, "_kind": kind,
                     "_number": number, "_integer": integer, "_text": text})  # fmt: skip
    return related.Rows("featurevalue", dicts=rows)


def _path_rows(catalog: Catalog, ids: list[int], created, *, exact: bool):
    """`featurevalue_path` rows for the new dict and list values."""
    containers = [(i, f, e.value) for i, (f, _, e) in zip(ids, created, strict=True)
                  if e.kind in ("dict", "list")]  # fmt: skip
    if not containers:
        return related.Rows(PATHS, dicts=[])
    _ensure_paths_table(catalog)
    if len(containers) > related.SMALL:
        columns = _path_columns(*(list(c) for c in zip(*containers, strict=True)))
        count = len(columns["path"])
        path_ids = related.allocate(catalog, PATHS, count, exact=exact)
        return related.Rows(PATHS, {"id": list(path_ids), **columns})
    nodes = [(fv_id, feature_id, node) for fv_id, feature_id, value in containers
             for node in flatten(value)]  # fmt: skip
    path_ids = related.allocate(catalog, PATHS, len(nodes), exact=exact)
    rows = [
        {"id": i, "featurevalue_id": fv_id, "feature_id": feature_id, "path": path,
         "kind": kind, "number": number, "integer": integer, "text": text}
        for i, (fv_id, feature_id, (path, kind, number, integer, text))
        in zip(path_ids, nodes, strict=True)
    ]  # fmt: skip
    return related.Rows(PATHS, dicts=rows)


def _value_columns(catalog, ids: list[int], created) -> dict[str, list[Any]]:
    n = len(ids)
    typed_parts = [
        (e.kind, None, None, None) if e.kind in ("dict", "list") else typed(e.value)
        for _, _, e in created
    ]
    return {
        "id": ids,
        "value": [e.text for _, _, e in created],
        "hash": [e.hash for _, _, e in created],
        "space_id": [1] * n,
        "feature_id": [feature_id for feature_id, _, _ in created],
        "is_locked": [False] * n,
        "run_id": [catalog.run_id] * n,
        "created_at": [instance.now()] * n,
        "created_by_id": [catalog.user_id] * n,
        "branch_id": [1] * n,
        "_kind": [t[0] for t in typed_parts],
        "_number": [t[1] for t in typed_parts],
        "_integer": [t[2] for t in typed_parts],
        # the whole of a dict or list is in `value`; equality goes by `hash`
        "_text": [None if t[0] in ("dict", "list") else t[3] for t in typed_parts],
    }


class _ValuesWriter:
    """The values of each feature that one batch knows: (kind, hash) → id.

    Filled once per feature from the committed rows, then kept up to date with
    the values the batch creates, so `add_values` in a loop never rescans the
    value table or rebuilds the batch's overlay of it.
    """

    def __init__(self) -> None:
        self.known: dict[int, dict[tuple[str, str], int]] = {}


_VALUE_WRITERS: weakref.WeakKeyDictionary[Any, _ValuesWriter] = (
    weakref.WeakKeyDictionary()
)


def _known_values(
    catalog: Catalog, feature_id: int, keys: set[tuple[str, str]]
) -> dict[tuple[str, str], int]:
    """Ids of the existing values of a feature among `keys` (kind, hash)."""
    batch = catalog.batch
    if batch is None or "featurevalue" in batch.deletes:
        frame = catalog.frame("featurevalue").filter(
            (pl.col("feature_id") == feature_id)
            & pl.col("hash").is_in([h for _, h in keys])
        )
        found = {(k, h): i for i, k, h in frame.select("id", "_kind", "hash").rows()}
        return {k: found[k] for k in keys if k in found}
    writer = _VALUE_WRITERS.setdefault(batch, _ValuesWriter())
    known = writer.known.get(feature_id)
    if known is None:
        committed = catalog.tables.frame("featurevalue").filter(
            pl.col("feature_id") == feature_id
        )
        rows = committed.select("_kind", "hash", "id").rows()
        known = writer.known[feature_id] = {(k, h): i for k, h, i in rows}
    return known  # the caller adds what it creates


def _label_pairs(
    catalog: Catalog, feature: dict[str, Any], cat: CatDtype, ids: list[int],
    column: Sequence[Any],
) -> list[tuple[int, int]]:  # fmt: skip
    """(artifact, label) pairs for categorical values; every name must exist."""
    flat: list[tuple[int, Any]] = []
    for artifact_id, value in zip(ids, column, strict=True):
        if value is None:
            continue
        items = list(value) if isinstance(value, (list, tuple, set)) else [value]
        flat += [(artifact_id, item) for item in items]
    label_ids = _resolve_labels(catalog, feature, cat, [item for _, item in flat])
    return [(a, label) for (a, _), label in zip(flat, label_ids, strict=True)]


def _resolve_labels(
    catalog: Catalog, feature: dict[str, Any], cat: CatDtype, items: list[Any]
) -> list[int]:
    """Label ids for names or records, in order; errors name what was searched."""
    registry = _registry_class(catalog, feature, cat)
    members = _type_members(catalog, feature, cat)
    names = _label_names(catalog, cat, members)
    out, missing, ambiguous = [], [], []
    for item in items:
        if isinstance(item, SQLRecord):
            out.append(_label_record_id(feature, cat, registry, members, item))
        elif isinstance(item, str):
            found = names.get(item, ())
            if len(found) != 1:
                (missing if not found else ambiguous).append(item)
                continue
            out.append(found[0])
        else:
            msg = (
                f"feature {feature['name']!r} ({feature['dtype']}) takes "
                f"{registry.__name__} names or records, got {item!r}"
            )
            raise errors.ValidationError(msg, registry="Feature", field=feature["name"])
    where = f"{registry.__name__}.{cat.field}"
    if cat.subtype:
        where += f" among the members of type {cat.subtype!r}"
    if missing:
        shown = ", ".join(repr(n) for n in dict.fromkeys(missing))
        msg = (
            f"{len(set(missing))} value(s) of feature {feature['name']!r} not found "
            f"in {where}: {shown}; create them first, e.g. "
            f"{registry.__name__}({cat.field}={missing[0]!r}).save()"
        )
        raise errors.ValidationError(msg, registry=registry.__name__, field=cat.field)
    if ambiguous:
        msg = (
            f"several records in {where} are named {ambiguous[0]!r}; pass the record "
            f"itself or restrict the feature to a type, e.g. cat[Record[MyType]]"
        )
        raise errors.ValidationError(msg, registry=registry.__name__, field=cat.field)
    return out


def _registry_class(catalog: Catalog, feature: dict[str, Any], cat: CatDtype):
    registry = REGISTRY_CLASSES.get(cat.registry)
    if registry is None or cat.registry not in catalog.index.registries:
        msg = (
            f"feature {feature['name']!r} points to {cat.registry}, which this "
            f"catalog lacks (modules: {', '.join(catalog.modules)})"
        )
        raise errors.ValidationError(msg, registry="Feature", field=feature["name"])
    return registry


def _label_record_id(feature, cat: CatDtype, registry, members, record) -> int:
    if not isinstance(record, registry):
        msg = (
            f"feature {feature['name']!r} takes {registry.__name__} labels, "
            f"got {type(record).__name__} {record!r}"
        )
        raise errors.ValidationError(msg, registry="Feature", field=feature["name"])
    if record.id is None:
        msg = f"save the {registry.__name__} {record!r} before using it as a label"
        raise errors.ValidationError(msg, registry="Feature", field=feature["name"])
    if members is not None and record.id not in members:
        msg = (
            f"feature {feature['name']!r} ({feature['dtype']}) takes members of type "
            f"{cat.subtype!r}; {record!r} is not one"
        )
        raise errors.ValidationError(msg, registry="Feature", field=feature["name"])
    return record.id


def _scope(catalog: Catalog, schema) -> pl.Expr:
    if not schema.has_branch:
        return pl.lit(True)
    return pl.col("branch_id").is_in(sorted({1, catalog.branch_id}))


def _label_names(
    catalog: Catalog, cat: CatDtype, members: frozenset[int] | None
) -> dict[Any, tuple[int, ...]]:
    """Visible labels of a registry by their name field (several ids if ambiguous)."""
    schema = catalog.index.registry(cat.registry)
    frame = related.snapshot(catalog, schema.table)

    def build() -> dict[Any, tuple[int, ...]]:
        rows = frame.filter(_scope(catalog, schema)).select(cat.field, "id")
        if members is not None:
            rows = rows.filter(pl.col("id").is_in(list(members)))
        grouped = rows.group_by(cat.field).agg("id")
        return {k: tuple(v) for k, v in grouped.rows()}

    key = ("names", cat.field, members, catalog.branch_id)
    return derived(frame, key, build)


def _type_members(
    catalog: Catalog, feature: dict[str, Any], cat: CatDtype
) -> frozenset[int] | None:
    """Ids of the records under type `cat.subtype`, at any depth; None if no subtype."""
    if cat.subtype is None:
        return None
    schema = catalog.index.registry(cat.registry)
    if schema.field("type_id") is None:
        msg = f"{schema.name} has no types; feature {feature['name']!r} cannot use one"
        raise errors.ValidationError(msg, registry="Feature", field=feature["name"])
    frame = related.snapshot(catalog, schema.table)

    def build() -> frozenset[int] | None:
        visible = frame.filter(_scope(catalog, schema))
        parents = visible.filter(
            (pl.col("name") == cat.subtype) & pl.col("is_type").fill_null(False)
        )["id"].to_list()
        if not parents:
            return None
        members: set[int] = set()
        while parents:
            children = visible.filter(pl.col("type_id").is_in(parents))["id"].to_list()
            parents = [c for c in children if c not in members]
            members.update(parents)
        return frozenset(members)

    members = derived(frame, ("members", cat.subtype, catalog.branch_id), build)
    if members is None:
        msg = (
            f"feature {feature['name']!r} ({feature['dtype']}) needs a {schema.name} "
            f"type named {cat.subtype!r}; create it with "
            f"{schema.name}(name={cat.subtype!r}, is_type=True).save()"
        )
        raise errors.ValidationError(msg, registry=schema.name, field="type")
    return members


#: (schema index, registry) → the artifact's label relation to it
_LABEL_RELATIONS: dict[tuple[int, str], Any] = {}


def _label_relation(catalog: Catalog, cat: CatDtype):
    """The artifact's link relation to the feature's registry."""
    found = _LABEL_RELATIONS.get((id(catalog.index), cat.registry))
    if found is not None:
        return found
    for relation in catalog.index.relations["Artifact"].values():
        if (
            relation.kind == "m2m"
            and relation.target == cat.registry
            and relation.link is not None
            and any(f.name == "feature_id" for f in relation.link.extra)
        ):
            _LABEL_RELATIONS[(id(catalog.index), cat.registry)] = relation
            return relation
    msg = f"artifacts cannot be annotated with {cat.registry} labels" + (
        " (is the bio module on?)" if cat.registry.startswith("bio.") else ""
    )
    raise errors.UnsupportedError(msg)


# filtering


def _features_by_name(catalog: Catalog, names: Iterable[str]) -> dict[str, dict]:
    """Feature rows by name; every name must exist (and be unambiguous)."""
    names = list(dict.fromkeys(names))
    known = _feature_index(catalog)
    missing = [n for n in names if n not in known]
    if missing:
        msg = (
            f"Feature registry has no feature named {', '.join(map(repr, missing))}; "
            "create it first, e.g. lc.Feature(name=..., dtype=...).save()"
        )
        raise errors.ValidationError(msg, registry="Feature", field=missing[0])
    return {n: _one_feature(known[n]) for n in names}


def _one_feature(rows: list[dict[str, Any]]) -> dict[str, Any]:
    if len(rows) > 1:
        msg = (
            f"feature name {rows[0]['name']!r} is ambiguous: features "
            f"{[r['id'] for r in rows]} share it"
        )
        raise errors.InvalidArgument(msg, registry="Feature", names=[rows[0]["name"]])
    return rows[0]


def _feature_index(catalog: Catalog) -> dict[str, list[dict[str, Any]]]:
    frame = related.snapshot(catalog, "feature")

    def build() -> dict[str, list[dict[str, Any]]]:
        index: dict[str, list[dict[str, Any]]] = {}
        visible = frame.filter(_scope(catalog, core.FEATURE)).sort("id")
        for row in visible.to_dicts():
            index.setdefault(row["name"], []).append(row)
        return index

    return derived(frame, ("features", catalog.branch_id), build)


def feature_predicate(
    catalog: Catalog, registry: str, lookup: Lookup
) -> pl.Expr | None:
    """An expression over artifact rows for a lookup on a feature; None if no feature.

    This is the compiler's hook for names that are neither fields nor relations.
    """
    if registry != "Artifact":
        return None
    rows = _feature_index(catalog).get(lookup.path[0])
    if rows is None:
        return None
    feature = _one_feature(rows)
    cached = _PREDICATES.get(catalog, feature, lookup)
    if cached is not None:
        return cached
    reads = _Reads(catalog)
    cat = parse_cat(feature["dtype"] or "")
    if cat is not None:
        ids, negate = _categorical(reads, feature, cat, lookup)
    else:
        ids, negate = _json_feature(reads, feature, lookup)
    expr = pl.col("id").is_in(pl.lit(ids.unique()).implode())
    expr = ~expr if negate else expr
    _PREDICATES.put(catalog, feature, lookup, reads, expr)
    return expr


class _Reads:
    """The tables one predicate read, to tell later whether it went stale."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.frames: dict[str, pl.DataFrame] = {}

    def frame(self, table: str) -> pl.DataFrame:
        if table not in self.frames:
            self.frames[table] = _tables_frame(self.catalog, table)
        return self.frames[table]

    def current(self) -> bool:
        return all(self.catalog.frame(t) is f for t, f in self.frames.items())


class _PredicateCache:
    """Recent feature predicates per catalog, valid while the tables they read are.

    `filter()` compiles once to check names and again to evaluate; this makes the
    second compile (and repeated queries) free.
    """

    SIZE = 16

    def __init__(self) -> None:
        self.entries: dict[tuple[Any, ...], tuple[_Reads, pl.Expr]] = {}

    def key(self, catalog, feature, lookup: Lookup) -> tuple[Any, ...] | None:
        value = _freeze(lookup.value)
        if value is _UNFROZEN:
            return None
        return (id(catalog), catalog.branch_id, feature["id"], feature["dtype"],
                lookup.key, lookup.path, lookup.transform, lookup.comparator, value)  # fmt: skip

    def get(self, catalog, feature, lookup: Lookup) -> pl.Expr | None:
        key = self.key(catalog, feature, lookup)
        entry = self.entries.get(key) if key is not None else None
        if entry is None:
            return None
        if entry[0].catalog is not catalog or not entry[0].current():
            del self.entries[key]
            return None
        return entry[1]

    def put(self, catalog, feature, lookup: Lookup, reads: _Reads, expr) -> None:
        key = self.key(catalog, feature, lookup)
        if key is None:
            return
        for old in [k for k, (r, _) in self.entries.items() if not r.current()]:
            del self.entries[old]
        while len(self.entries) >= self.SIZE:
            del self.entries[next(iter(self.entries))]
        self.entries[key] = (reads, expr)


_UNFROZEN = object()
_PREDICATES = _PredicateCache()


def _freeze(value: Any) -> Any:
    """A hashable stand-in for a lookup value, or `_UNFROZEN`."""
    if isinstance(value, SQLRecord):
        return ("record", value._schema.qualified_name, value.id)
    if value is None or isinstance(value, (bool, int, float, str)):
        return (type(value).__name__, value)
    if isinstance(value, (date, datetime)):
        return (type(value).__name__, value.isoformat())
    if isinstance(value, (list, tuple, set, frozenset)):
        items = tuple(_freeze(v) for v in value)
        if any(i is _UNFROZEN for i in items):
            return _UNFROZEN
        return (type(value).__name__, tuple(sorted(items, key=repr)) if
                isinstance(value, (set, frozenset)) else items)  # fmt: skip
    if isinstance(value, dict):
        try:
            return ("dict", canonical(value))
        except TypeError:
            return _UNFROZEN
    return _UNFROZEN


def _categorical(
    reads: _Reads, feature: dict[str, Any], cat: CatDtype, lookup: Lookup
) -> tuple[pl.Series, bool]:
    """Artifacts with a link under this feature to a matching label."""
    catalog = reads.catalog
    relation = _label_relation(catalog, cat)
    source, target = relation.source_column, relation.target_column
    links = reads.frame(relation.link.table).select(source, target, "feature_id")
    links = links.filter(pl.col("feature_id") == feature["id"])
    plain = len(lookup.path) == 1 and not lookup.transform
    if plain and lookup.comparator == "isnull":
        _check_bool(feature, lookup)
        return links.get_column(source), bool(lookup.value)
    if plain and lookup.comparator == "exact" and lookup.value is None:
        return links.get_column(source), True  # `feature=None`: not annotated
    label_ids = _matching_labels(reads, feature, cat, lookup)
    sources = links.filter(pl.col(target).is_in(label_ids)).get_column(source)
    return sources, False


def _check_bool(feature: dict[str, Any], lookup: Lookup) -> None:
    if not isinstance(lookup.value, bool):
        msg = f"`{lookup.key}` takes True or False, got {lookup.value!r}"
        raise errors.FieldValueError(msg, registry="Artifact", field=feature["name"])


def _matching_labels(
    reads: _Reads, feature: dict[str, Any], cat: CatDtype, lookup: Lookup
) -> list[int]:
    """Ids of the labels a categorical condition names (records, names, lookups)."""
    catalog = reads.catalog
    registry = _registry_class(catalog, feature, cat)
    members = _type_members(catalog, feature, cat)
    reads.frame(catalog.index.registry(cat.registry).table)
    value = lookup.value
    plain = len(lookup.path) == 1 and lookup.transform is None
    if plain and lookup.comparator == "exact" and isinstance(value, (list, tuple, set)):
        msg = (
            f"feature {feature['name']!r} got a list; use "
            f"`{feature['name']}__in=[...]` to match any of several labels"
        )
        raise TypeError(msg)
    if plain and lookup.comparator in ("exact", "in"):
        items = list(value) if lookup.comparator == "in" else [value]
        if isinstance(value, str) and lookup.comparator == "in":
            msg = f"`{lookup.key}` takes a list, got {value!r}"
            raise errors.FieldValueError(
                msg, registry="Artifact", field=feature["name"]
            )
        if all(isinstance(i, (str, SQLRecord)) or i is None for i in items):
            return _labels_by_name_or_record(catalog, feature, cat, registry, members,
                                             lookup, items)  # fmt: skip
    segments = list(lookup.path[1:]) or [cat.field]
    if lookup.transform:
        segments.append(lookup.transform)
    if lookup.comparator != "exact" or lookup.explicit:
        segments.append(lookup.comparator)
    condition = "__".join(segments)
    qs = registry.filter(**{condition: value})
    if members is not None:
        qs = qs.filter(id__in=sorted(members))
    label_ids = qs.values_list("id", flat=True)
    if not label_ids:
        msg = f"Did not find a {registry.__name__} matching `{condition}={value}`"
        raise errors.DoesNotExist(msg)
    return label_ids


def _labels_by_name_or_record(
    catalog, feature, cat: CatDtype, registry, members, lookup: Lookup, items
) -> list[int]:
    names = _label_names(catalog, cat, members)
    out, missing = [], []
    for item in items:
        if item is None:
            continue
        if isinstance(item, SQLRecord):
            if not isinstance(item, registry) or item.id is None:
                msg = (
                    f"feature {feature['name']!r} takes saved {registry.__name__} "
                    f"records, got {item!r}"
                )
                raise TypeError(msg)
            out.append(item.id)
        elif item in names:
            out += names[item]
        else:
            missing.append(item)
    if missing:
        shown = missing[0] if lookup.comparator == "exact" else missing
        comparator = "" if lookup.comparator == "exact" else "__in"
        msg = f"Did not find a {registry.__name__} matching `{cat.field}{comparator}={shown}`"
        raise errors.DoesNotExist(msg)
    return out


def _json_feature(
    reads: _Reads, feature: dict[str, Any], lookup: Lookup
) -> tuple[pl.Series, bool]:
    """Artifacts linked to a value of this feature that satisfies the lookup."""
    dtype = feature["dtype"] or ""
    keys = lookup.path[1:]
    transform = lookup.transform
    if transform is not None and dtype not in TEMPORAL:
        keys, transform = (*keys, transform), None  # a dict key named like a date part
    if lookup.comparator == "has_key" and dtype == "dict":
        return _nested(reads, feature, keys, lookup)
    if keys:
        if dtype != "dict" and not dtype.startswith("list["):
            msg = (
                f"feature {feature['name']!r} ({dtype}) has no keys; "
                f"`{lookup.key}` needs a dict feature"
            )
            raise errors.FieldError(msg, registry="Artifact", field=lookup.key)
        return _nested(reads, feature, keys, lookup)
    values = reads.frame("featurevalue").filter(pl.col("feature_id") == feature["id"])
    if lookup.comparator == "isnull" and transform is None:
        _check_bool(feature, lookup)
        return _linked(reads, values.get_column("id")), bool(lookup.value)
    if lookup.comparator == "exact" and lookup.value is None:
        return _linked(reads, values.get_column("id")), True
    condition = _root_condition(feature, dtype, transform, lookup)
    return _linked(reads, values.filter(condition).get_column("id")), False


def _linked(reads: _Reads, value_ids: pl.Series) -> pl.Series:
    """Artifacts linked to any of these feature values."""
    links = reads.frame("artifact_featurevalue").select(
        "artifact_id", "featurevalue_id"
    )
    if value_ids.is_empty():
        return links.get_column("artifact_id").clear()
    wanted = value_ids.unique().implode()
    return links.filter(pl.col("featurevalue_id").is_in(wanted)).get_column(
        "artifact_id"
    )


@dataclass(frozen=True)
class _Columns:
    """Where the typed parts of a value live in one table."""

    kind: str
    number: str
    integer: str
    text: str

    @property
    def names(self) -> list[str]:
        return [self.kind, self.number, self.integer, self.text]


FV_COLUMNS = _Columns("_kind", "_number", "_integer", "_text")
PATH_COLUMNS = _Columns("kind", "number", "integer", "text")


def _not_supported(
    feature, dtype: str, comparator: str, allowed
) -> errors.FieldTypeError:
    msg = (
        f"feature {feature['name']!r} ({dtype}) does not support `__{comparator}`; "
        f"allowed: {', '.join(allowed)}"
    )
    return errors.FieldTypeError(msg, registry="Artifact", field=feature["name"],
                                 allowed=allowed)  # fmt: skip


def _root_condition(
    feature: dict[str, Any], dtype: str, transform: str | None, lookup: Lookup
) -> pl.Expr:
    """A condition on `FeatureValue` rows for a lookup on the whole value."""
    comparator, operand = lookup.comparator, lookup.value
    where = f"feature {feature['name']!r} ({dtype})"
    if transform is not None:
        return _date_part(feature, dtype, transform, lookup)
    if dtype == "dict" or dtype.startswith("list["):
        allowed = DICT_ROOT_COMPARATORS if dtype == "dict" else ("exact", "isnull")
        if comparator not in allowed:
            raise _not_supported(feature, dtype, comparator, allowed)
        wanted = Encoded.of(_normalize(feature["name"], dtype, operand))
        return pl.col("hash") == wanted.hash
    base = "str" if dtype in TEXTUAL else "float" if dtype in NUMERIC else dtype
    allowed = tuple(c for c in COMPARATORS_BY_DTYPE[base] if c not in TRANSFORMS)
    if comparator not in allowed:
        raise _not_supported(feature, dtype, comparator, allowed)
    operand = _scalar_operand(where, feature, dtype, comparator, operand)
    return _typed_condition(FV_COLUMNS, comparator, operand, where, feature["name"])


def _scalar_operand(where: str, feature, dtype: str, comparator: str, operand: Any):
    """Check a lookup value against a scalar feature's dtype; its stored form."""

    def one(value: Any) -> Any:
        if dtype in NUMERIC:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            expected = "numbers"
        elif dtype == "bool":
            ok, expected = isinstance(value, bool), "True or False"
        elif dtype == "date":
            value, ok = _date_text(value)
            expected = "dates or ISO date strings"
        elif dtype == "datetime":
            if isinstance(value, date) and not isinstance(value, datetime):
                value = datetime(value.year, value.month, value.day)
            value, ok = _datetime_text(value)
            expected = "datetimes or ISO strings"
        else:
            ok, expected = isinstance(value, str), "strings"
        if not ok:
            msg = f"{where} compares with {expected}, got {type(value).__name__} {value!r}"
            raise errors.FieldValueError(
                msg, registry="Artifact", field=feature["name"]
            )
        return value

    if comparator in ("in", "range"):
        if isinstance(operand, str) or not isinstance(operand, Iterable):
            msg = f"{where}: `__{comparator}` takes a list, got {operand!r}"
            raise errors.FieldValueError(
                msg, registry="Artifact", field=feature["name"]
            )
        items = [one(v) for v in operand if v is not None]
        if comparator == "range" and len(items) != 2:
            msg = f"{where}: `__range` takes (low, high), got {operand!r}"
            raise errors.FieldValueError(
                msg, registry="Artifact", field=feature["name"]
            )
        return items
    return one(operand)


def _date_part(feature, dtype: str, part: str, lookup: Lookup) -> pl.Expr:
    """`date_of_study__year=2024`: a date part read from the stored ISO text."""
    parts = ["date", *DATE_PARTS] if dtype == "datetime" else list(DATE_PARTS)
    if part not in parts or lookup.comparator not in PART_COMPARATORS:
        allowed = [f"{p}__{c}" for p in parts for c in PART_COMPARATORS]
        raise _not_supported(feature, dtype, f"{part}__{lookup.comparator}", allowed)
    where = f"feature {feature['name']!r} ({dtype})"
    text = pl.col("_text")
    if part == "date":
        operand = _scalar_operand(
            where, feature, "date", lookup.comparator, lookup.value
        )
        return COLUMN_COMPARATORS[lookup.comparator](text.str.slice(0, 10), operand)
    start, length = DATE_PARTS[part]
    value = lookup.value
    values = list(value) if lookup.comparator in ("in", "range") else [value]
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        msg = f"{where}: `__{part}` compares with integers, got {value!r}"
        raise errors.FieldValueError(msg, registry="Artifact", field=feature["name"])
    number = text.str.slice(start, length).cast(pl.Int64, strict=False)
    return COLUMN_COMPARATORS[lookup.comparator](number, value)


# typed comparison over (kind, number, integer, text) columns


_ORDER = {"exact": operator.eq, "gt": operator.gt, "gte": operator.ge,
          "lt": operator.lt, "lte": operator.le}  # fmt: skip


def _integral(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return INT64_MIN <= value <= INT64_MAX
    return isinstance(value, float) and value.is_integer() and abs(value) < 2**63


def _numeric(cols: _Columns, op: str, value: int | float) -> pl.Expr:
    """Compare numbers exactly: int64 against stored integers, float64 otherwise."""
    compare = _ORDER[op]
    number = pl.col(cols.number)
    if _integral(value):
        exact = int(value)
        integer = pl.col(cols.integer)
        return (
            pl.when(integer.is_not_null())
            .then(compare(integer, exact))
            .otherwise(compare(number, float(exact)))
        )
    return compare(number, float(value))


def _json_operand(value: Any, where: str, name: str) -> Any:
    if isinstance(value, datetime):
        return _utc_iso(value)
    if isinstance(value, date):
        return value.isoformat()
    try:
        return json_ready(value, where)
    except errors.ValidationError as error:
        raise errors.FieldValueError(
            str(error), registry="Artifact", field=name
        ) from None


def _equals(cols: _Columns, value: Any) -> pl.Expr:
    kind = pl.col(cols.kind)
    if isinstance(value, bool):
        return (kind == "bool") & (pl.col(cols.number) == float(value))
    if isinstance(value, (int, float)):
        return (kind == "number") & _numeric(cols, "exact", value)
    if isinstance(value, str):
        return (kind == "string") & (pl.col(cols.text) == value)
    container = "dict" if isinstance(value, dict) else "list"
    return (kind == container) & (pl.col(cols.text) == canonical(value))


def _equals_any(cols: _Columns, values: list[Any]) -> pl.Expr:
    """Equal to one of `values`, grouped by type so each group is one `is_in`."""
    kind, text = pl.col(cols.kind), pl.col(cols.text)
    strings = [v for v in values if isinstance(v, str)]
    bools = [float(v) for v in values if isinstance(v, bool)]
    numbers = [
        v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)
    ]
    containers = [canonical(v) for v in values if isinstance(v, (dict, list))]
    parts = []
    if strings:
        parts.append((kind == "string") & text.is_in(strings))
    if bools:
        parts.append((kind == "bool") & pl.col(cols.number).is_in(bools))
    if numbers:
        integers = [int(v) for v in numbers if _integral(v)]
        floats = [float(v) for v in numbers]
        integer = pl.col(cols.integer)
        parts.append(
            (kind == "number")
            & pl.when(integer.is_not_null())
            .then(integer.is_in(integers) if integers else pl.lit(False))
            .otherwise(pl.col(cols.number).is_in(floats))
        )
    if containers:
        parts.append(kind.is_in(["dict", "list"]) & text.is_in(containers))
    if not parts:
        return pl.lit(False)
    return pl.any_horizontal(parts) if len(parts) > 1 else parts[0]


def _ordered(cols: _Columns, op: str, value: Any, where: str, name: str) -> pl.Expr:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (pl.col(cols.kind) == "number") & _numeric(cols, op, value)
    if isinstance(value, str):
        return (pl.col(cols.kind) == "string") & _ORDER[op](pl.col(cols.text), value)
    msg = f"{where}: `__{op}` compares numbers or strings, got {value!r}"
    raise errors.FieldValueError(msg, registry="Artifact", field=name)


def _typed_condition(
    cols: _Columns, comparator: str, operand: Any, where: str, name: str
) -> pl.Expr:
    """A typed JSON comparison: "123" is not 123, True is not 1, 1 equals 1.0."""
    if comparator in TEXT_COMPARATORS:
        if not isinstance(operand, str):
            msg = f"{where}: `__{comparator}` takes a string, got {operand!r}"
            raise errors.FieldValueError(msg, registry="Artifact", field=name)
        if comparator in ("regex", "iregex"):
            try:
                re.compile(operand)
            except re.error as error:
                msg = f"{where}: invalid regular expression {operand!r}: {error}"
                raise errors.FieldValueError(
                    msg, registry="Artifact", field=name
                ) from None
        text = pl.col(cols.text)
        return (pl.col(cols.kind) == "string") & COLUMN_COMPARATORS[comparator](
            text, operand
        )
    if comparator == "exact":
        return _equals(cols, _json_operand(operand, where, name))
    if comparator == "in":
        if isinstance(operand, (str, bytes, dict)) or not isinstance(operand, Iterable):
            msg = f"{where}: `__in` takes a list, got {operand!r}"
            raise errors.FieldValueError(msg, registry="Artifact", field=name)
        values = [_json_operand(v, where, name) for v in operand if v is not None]
        return _equals_any(cols, values)
    if comparator in _ORDER:
        if operand is None:
            msg = f"{where}: `__{comparator}` cannot compare with None; use `__isnull`"
            raise errors.FieldValueError(msg, registry="Artifact", field=name)
        return _ordered(
            cols, comparator, _json_operand(operand, where, name), where, name
        )
    if comparator == "range":
        if isinstance(operand, (str, bytes)) or len(operand) != 2:
            msg = f"{where}: `__range` takes (low, high), got {operand!r}"
            raise errors.FieldValueError(msg, registry="Artifact", field=name)
        low, high = (_json_operand(v, where, name) for v in operand)
        if not _same_order_kind(low, high):
            msg = f"{where}: `__range` bounds must both be numbers or strings"
            raise errors.FieldValueError(msg, registry="Artifact", field=name)
        return _ordered(cols, "gte", low, where, name) & _ordered(cols, "lte", high,
                                                                  where, name)  # fmt: skip
    msg = f"{where} does not support `__{comparator}`"
    raise errors.FieldTypeError(msg, registry="Artifact", field=name)


def _same_order_kind(a: Any, b: Any) -> bool:
    def kind(v: Any) -> str:
        if isinstance(v, str):
            return "string"
        return (
            "number" if isinstance(v, (int, float)) and not isinstance(v, bool) else "?"
        )

    return kind(a) == kind(b) != "?"


# nested keys of dict (and list) features


def _nested(
    reads: _Reads, feature: dict[str, Any], keys: tuple[str, ...], lookup: Lookup
) -> tuple[pl.Series, bool]:
    """Artifacts whose value of this feature satisfies the lookup at `keys`."""
    comparator, operand = lookup.comparator, lookup.value
    where = f"feature {feature['name']!r} ({feature['dtype']})"
    allowed = (*COLUMN_COMPARATORS, "has_key")
    if comparator not in allowed:
        raise _not_supported(feature, feature["dtype"], comparator, allowed)
    if any(_negative(k) or _beyond_index(k) for k in keys):
        return _nested_decoded(reads, feature, keys, lookup)
    if comparator == "has_key":
        if not isinstance(operand, str):
            msg = f"{where}: `__has_key` takes a string, got {operand!r}"
            raise errors.FieldValueError(
                msg, registry="Artifact", field=feature["name"]
            )
        at = _nodes_at(reads, feature["id"], _path_texts(keys, last=operand))
        return at.get_column("artifact_id"), False
    at = _nodes_at(reads, feature["id"], _path_texts(keys))
    if comparator == "isnull" or (comparator == "exact" and operand is None):
        if comparator == "isnull":
            _check_bool(feature, lookup)
        isnull = operand is None or bool(operand)
        present = at.filter(pl.col("kind") != "null").get_column("artifact_id")
        return present, isnull
    condition = _typed_condition(
        PATH_COLUMNS, comparator, operand, where, feature["name"]
    )
    return at.filter(condition).get_column("artifact_id"), False


#: path tables this large keep the nodes of recently queried paths, with their
#: artifacts, as long as neither the path table nor the links change
PATH_CACHE_ROWS = 500_000
PATH_CACHE_SIZE = 8


def _nodes_at(reads: _Reads, feature_id: int, paths: list[str]) -> pl.DataFrame:
    """The nodes of a feature's values at any of `paths`, one row per artifact
    linked to the value: artifact_id and the typed columns."""
    frame = reads.frame(PATHS)
    links = reads.frame("artifact_featurevalue")

    def build() -> pl.DataFrame:
        at = (pl.col("feature_id") == feature_id) & pl.col("path").is_in(paths)
        nodes = frame.lazy().filter(at).select("featurevalue_id", *PATH_COLUMNS.names)
        linked = links.lazy().select("artifact_id", "featurevalue_id")
        return (
            nodes.join(linked, on="featurevalue_id").drop("featurevalue_id").collect()
        )

    if frame.height < PATH_CACHE_ROWS:
        return build()
    cache = related.derived(frame, "nodes at paths", dict)
    key = (feature_id, tuple(paths))
    entry = cache.pop(key, None)
    if entry is None or entry[0] is not links:
        entry = (links, build())
    cache[key] = entry  # most recently used last
    while len(cache) > PATH_CACHE_SIZE:
        del cache[next(iter(cache))]
    return entry[1]


def _negative(key: str) -> bool:
    return key.startswith("-") and key[1:].isdigit()


def _beyond_index(key: str) -> bool:
    return key.isdigit() and int(key) >= MAX_INDEXED_ITEMS


def _path_texts(keys: tuple[str, ...], last: str | None = None) -> list[str]:
    """The stored paths a lookup's keys can mean: a digit is a key or a position."""
    options = [[k, int(k)] if k.isdigit() else [k] for k in keys]
    if last is not None:
        options.append([last])
    return [orjson.dumps(list(p)).decode() for p in itertools.product(*options)]


def _nested_decoded(
    reads: _Reads, feature: dict[str, Any], keys: tuple[str, ...], lookup: Lookup
) -> tuple[pl.Series, bool]:
    """Keys the path table cannot answer (negative or far list positions): decode."""
    values = reads.frame("featurevalue").filter(pl.col("feature_id") == feature["id"])
    comparator, operand = lookup.comparator, lookup.value
    if comparator == "isnull" or (comparator == "exact" and operand is None):
        present = [
            i for i, text in values.select("id", "value").rows()
            if json_get(orjson.loads(text), keys) not in (None, MISSING)
        ]  # fmt: skip
        isnull = operand is None or bool(operand)
        return _linked(reads, pl.Series(present, dtype=pl.Int64)), isnull
    matching = [
        i for i, text in values.select("id", "value").rows()
        if python_compare(comparator, json_get(orjson.loads(text), keys), operand)
    ]  # fmt: skip
    return _linked(reads, pl.Series(matching, dtype=pl.Int64)), False


# reporting: to_dataframe(features=...)


def candidate_features(catalog: Catalog, selection: Any) -> list[dict[str, Any]]:
    """Features for `to_dataframe(features=...)`, in Feature id order."""
    rows = [r for rs in _feature_index(catalog).values() for r in rs]
    rows.sort(key=lambda r: r["id"])
    if selection is True:
        return [r for r in rows if _reported_by_default(r["dtype"] or "")]
    if selection in ("all", "queryset"):
        return rows
    names = [selection] if isinstance(selection, str) else list(selection)
    by_name = {r["name"]: r for r in rows}
    missing = [n for n in names if n not in by_name]
    if missing:
        msg = (
            f"features={names!r}: unknown feature(s) {', '.join(map(repr, missing))}; "
            f"available: {', '.join(sorted(by_name))}"
        )
        raise errors.InvalidArgument(msg, registry="Feature", names=missing)
    return [by_name[n] for n in names]


def _reported_by_default(dtype: str) -> bool:
    """`features=True`: non-categorical features, and those on ULabel or Record."""
    if parse_cat(dtype) is None:
        return True
    return dtype.removeprefix("list[").startswith(("cat[ULabel", "cat[Record"))


def feature_columns(
    catalog: Catalog, model, ids: pl.Series, selection: Any, *, quiet: bool = False
) -> dict[str, Any]:
    """One column per feature that has a value among `ids`, aligned with `ids`.

    Categorical cells are the label name, or a set of names; values likewise (a
    dict feature shows its first dict); missing cells are NaN. Columns of
    datetime features are pandas datetimes.
    """
    name = model._schema.name
    if name != "Artifact":
        if name == "Record":
            msg = (
                "features= for Record is not supported: records carry no feature values"
            )
            raise errors.UnsupportedError(msg)
        msg = f"features=True is only applicable for Artifact and Record, not {name}"
        raise ValueError(msg)
    candidates = candidate_features(catalog, selection)
    if selection is True and not quiet:
        names = [r["name"] for r in candidates]
        inform(
            "queried for all categorical features with dtype ULabel or Record and "
            f"non-categorical features: ({len(names)}) {names}"
        )
    dtypes = {r["name"]: r["dtype"] or "" for r in candidates}
    return {
        feature: _pandas_column(dtypes[feature], cells)
        for feature, cells in _feature_cells(catalog, ids, candidates)
    }


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING = _Missing()


def _pandas_column(dtype: str, cells: list[Any]) -> Any:
    import pandas as pd

    nan = float("nan")
    values = [nan if c is _MISSING else c for c in cells]
    if dtype == "datetime":
        return pd.to_datetime(
            pd.Series(values, dtype=object), utc=True, format="ISO8601"
        ).array
    if parse_cat(dtype) is not None and not any(isinstance(v, set) for v in values):
        return pd.Categorical(values)
    return values


def _feature_cells(
    catalog: Catalog, ids: pl.Series, features: list[dict[str, Any]]
) -> list[tuple[str, list[Any]]]:
    """Cells per feature (only features with a value), in `features` order."""
    wanted = ids.to_list()
    parts: dict[int, pl.DataFrame] = {}
    by_table: dict[str, list[tuple[dict, CatDtype]]] = {}
    plain = []
    for feature in features:
        cat = parse_cat(feature["dtype"] or "")
        if cat is None:
            plain.append(feature)
        elif cat.registry in catalog.index.registries:
            table = _label_relation(catalog, cat).link.table
            by_table.setdefault(table, []).append((feature, cat))
    for group in by_table.values():
        parts.update(_label_parts(catalog, wanted, group))
    if plain:
        parts.update(_value_parts(catalog, wanted, plain))
    out = []
    for feature in features:
        part = parts.get(feature["id"])
        if part is not None and not part.is_empty():
            first = feature["dtype"] == "dict"  # a dict feature shows its first dict
            out.append((feature["name"], _cells(ids, part, first=first)))
    return out


#: parts up to this many rows are gathered in Python: fewer Polars calls
SMALL_PART = 5_000


def _cells(ids: pl.Series, part: pl.DataFrame, *, first: bool) -> list[Any]:
    """One cell per id from `part` (`__id`, `__key` and, for values, the typed
    columns), rows in link order: missing, the one value, or a set of several."""
    typed_columns = [c for c in FV_COLUMNS.names if c in part.columns]
    if part.height <= SMALL_PART:
        return _cells_small(ids, part, typed_columns, first=first)
    summary = part.group_by("__id", maintain_order=True).agg(
        pl.col("__key").n_unique().alias("__n"),
        pl.col("__key").first(),
        *[pl.col(c).first() for c in typed_columns],
    )
    aligned = pl.DataFrame({"__id": ids}).join(
        summary, on="__id", how="left", maintain_order="left"
    )
    counts = aligned.get_column("__n").to_list()
    if typed_columns:
        columns = [aligned.get_column(c).to_list() for c in ["__key", *typed_columns]]
        with _bulk(len(ids)):
            values = [_from_typed(*row) for row in zip(*columns, strict=True)]
    else:
        values = aligned.get_column("__key").to_list()
    several = {}
    if not first and any(n is not None and n > 1 for n in counts):
        many = part.group_by("__id").agg(pl.col("__key").unique(maintain_order=True))
        several = dict(many.filter(pl.col("__key").list.len() > 1).rows())
    out: list[Any] = []
    for i, n, value in zip(ids.to_list(), counts, values, strict=True):
        if n is None:
            out.append(_MISSING)
        elif n == 1 or first:
            out.append(value)
        else:
            out.append(_several(several[i], decode=bool(typed_columns)))
    return out


def _cells_small(
    ids: pl.Series, part: pl.DataFrame, typed_columns: list[str], *, first: bool
) -> list[Any]:
    grouped: dict[int, list[tuple[Any, ...]]] = {}
    for row in part.select("__id", "__key", *typed_columns).rows():
        grouped.setdefault(row[0], []).append(row[1:])
    out: list[Any] = []
    for i in ids.to_list():
        items = grouped.get(i)
        if not items:
            out.append(_MISSING)
            continue
        keys = list(dict.fromkeys(item[0] for item in items))
        if len(keys) == 1 or first:
            out.append(_from_typed(*items[0]) if typed_columns else items[0][0])
        else:
            out.append(_several(keys, decode=bool(typed_columns)))
    return out


def _from_typed(text, kind, number, integer, string) -> Any:
    """A value from its typed columns; only dicts and lists decode JSON."""
    if kind == "number":
        return integer if integer is not None else number
    if kind == "string":
        return string
    if kind == "bool":
        return bool(number)
    if kind == "null" or text is None:
        return None
    return orjson.loads(text)


def _several(keys: list[Any], *, decode: bool) -> Any:
    values = [orjson.loads(k) for k in keys] if decode else keys
    if any(isinstance(v, (dict, list)) for v in values):
        return values  # several dicts or lists: no set can hold them
    return set(values)


def _label_parts(
    catalog: Catalog, ids: list[int], group: list[tuple[dict, CatDtype]]
) -> dict[int, pl.DataFrame]:
    """Per feature: (`__id`, `__key` = label name) in link order."""
    relation = _label_relation(catalog, group[0][1])
    source, target = relation.source_column, relation.target_column
    links = rows_where_in(catalog.frame(relation.link.table), source, ids)
    links = links.filter(pl.col("feature_id").is_in([f["id"] for f, _ in group]))
    out: dict[int, pl.DataFrame] = {}
    if links.is_empty():
        return out
    links = links.sort("id")
    labels = catalog.frame(catalog.index.registry(relation.target).table)
    labels = rows_where_in(labels, "id", links.get_column(target))
    for field in {cat.field for _, cat in group}:
        feature_ids = [f["id"] for f, cat in group if cat.field == field]
        named = links.filter(pl.col("feature_id").is_in(feature_ids)).join(
            labels.select(pl.col("id").alias(target), pl.col(field).alias("__key")),
            on=target,
            how="inner",
            maintain_order="left",
        )
        parts = named.select(pl.col(source).alias("__id"), "__key", "feature_id")
        for (feature_id,), part in parts.partition_by(
            "feature_id", as_dict=True, maintain_order=True
        ).items():
            out[feature_id] = part.drop("feature_id")
    return out


def _value_parts(
    catalog: Catalog, ids: list[int], features: list[dict[str, Any]]
) -> dict[int, pl.DataFrame]:
    """Per feature: (`__id`, `__key` = JSON text, typed columns) in link order."""
    links = rows_where_in(catalog.frame("artifact_featurevalue"), "artifact_id", ids)
    out: dict[int, pl.DataFrame] = {}
    if links.is_empty():
        return out
    links = links.sort("id")
    values = rows_where_in(
        catalog.frame("featurevalue"), "id", links.get_column("featurevalue_id")
    ).filter(pl.col("feature_id").is_in([f["id"] for f in features]))
    joined = links.select(pl.col("artifact_id").alias("__id"), "featurevalue_id").join(
        values.select(
            pl.col("id").alias("featurevalue_id"),
            "feature_id",
            pl.col("value").alias("__key"),
            *FV_COLUMNS.names,
        ),
        on="featurevalue_id",
        how="inner",
        maintain_order="left",
    )
    for (feature_id,), part in joined.partition_by(
        "feature_id", as_dict=True, maintain_order=True
    ).items():
        out[feature_id] = part.drop("feature_id", "featurevalue_id")
    return out
