"""Features: typed annotations of artifacts, and filtering and reporting by them.

Storage layout:

- a categorical value (`cat[Record]`, `cat[bionty.CellType]`, …) is a row in the
  artifact's link table to that registry, carrying the feature's id;
- any other value is a `FeatureValue` row, one per distinct (feature, value), linked
  through `artifact_featurevalue`. The value is kept as exact JSON text (orjson),
  plus hidden typed columns (`_kind`, `_number`, `_text`) so that numbers compare
  as numbers and text as text without decoding JSON per query.

Nested dict keys (`study_metadata__detail1="123"`) are evaluated over the distinct
values of that feature, with typed JSON comparison ("123" is not 123).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import math
import re
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING, Any

import orjson
import polars as pl

from lakecat.catalog import instance
from lakecat.catalog.messages import inform
from lakecat.catalog.record import REGISTRY_CLASSES, SQLRecord
from lakecat.catalog.registries import _Named
from lakecat.engine import errors
from lakecat.engine.comparators import COLUMN_COMPARATORS, json_get, python_compare
from lakecat.engine.lookups import Lookup
from lakecat.schemas import core

if TYPE_CHECKING:
    from lakecat.catalog.artifact import Artifact

logger = logging.getLogger(__name__)

SCALAR_DTYPES = ("str", "int", "float", "num", "bool", "date", "datetime", "dict", "path")
NUMERIC = frozenset({"int", "float", "num"})
CAT_PATTERN = re.compile(
    r"^(?:list\[)?cat\[(?P<registry>[A-Za-z_.]+?)(?:\[(?P<subtype>[^\]]+)\])?"
    r"(?:\.(?P<field>[a-z_]+))?\]\]?$"
)


@dataclass(frozen=True)
class CatDtype:
    """A parsed `cat[...]` dtype: which registry, which field, which subtype."""

    registry: str
    field: str
    subtype: str | None
    many: bool


def parse_cat(dtype: str) -> CatDtype | None:
    """`cat[bionty.Gene.ensembl_gene_id]` → registry `bio.Gene`, field `ensembl_gene_id`."""
    match = CAT_PATTERN.match(dtype or "")
    if match is None:
        return None
    name = match["registry"]
    field = match["field"]
    if name.count(".") == 2:  # bionty.Gene.symbol
        name, field = name.rsplit(".", 1)
    if name.startswith(("bionty.", "bt.")):
        name = "bio." + name.split(".", 1)[1]
    elif "." in name and not name.startswith("bio."):
        name, field = name.split(".", 1)
    registry = REGISTRY_CLASSES.get(name)
    if field is None:
        field = registry._schema.default_name_field if registry else "name"
    return CatDtype(name, field, match["subtype"], dtype.startswith("list["))


def dtype_string(dtype: Any) -> str:
    """Normalise what users pass as `dtype=` (python types, registries, strings)."""
    simple = {str: "str", int: "int", float: "float", bool: "bool", dict: "dict",
              date: "date", datetime: "datetime"}  # fmt: skip
    if dtype in simple:
        return simple[dtype]
    if isinstance(dtype, type) and issubclass(dtype, SQLRecord):
        schema = dtype._schema
        prefix = "bionty." if schema.module == "bio" else ""
        return f"cat[{prefix}{schema.name}]"
    if isinstance(dtype, str):
        base = dtype.removeprefix("list[").removesuffix("]") if dtype.startswith("list[") and not dtype.startswith("list[cat") else dtype
        if base in SCALAR_DTYPES or base == "cat" or parse_cat(dtype) is not None:
            return dtype
    msg = (
        f"Feature dtype {dtype!r} is not supported; use one of {', '.join(SCALAR_DTYPES)}, "
        "a registry (lc.Record, bt.CellType) or a string such as 'cat[Record]'"
    )
    raise errors.ValidationError(msg, registry="Feature", field="dtype")


class Feature(_Named, schema=core.FEATURE):
    """A typed dimension that artifacts are annotated with.

    `dtype` is a Python type (`float`, `dict`), a registry (`lc.Record`,
    `bt.CellType`) or a dtype string (`"cat[Record]"`, `"list[int]"`).
    """

    def __init__(self, *, name: str, dtype: Any = None, **kwargs: Any) -> None:
        if dtype is None:
            msg = f"Feature {name!r} needs a dtype, e.g. lc.Feature(name={name!r}, dtype=float)"
            raise errors.ValidationError(msg, registry="Feature", field="dtype")
        super().__init__(name=name, dtype=dtype_string(dtype), **kwargs)

    @classmethod
    def _existing(cls, *args: Any, **kwargs: Any):
        existing = super()._existing(*args, **kwargs)
        if existing is not None and "dtype" in kwargs:
            wanted = dtype_string(kwargs["dtype"])
            if existing.dtype != wanted:
                msg = (
                    f"Feature {existing.name!r} exists with dtype {existing.dtype!r}, "
                    f"not {wanted!r}"
                )
                raise errors.ValidationError(msg, registry="Feature", field="dtype")
        return existing


# values


def _check_json(value: Any, where: str) -> None:
    """Refuse what JSON cannot hold exactly: NaN, infinities, integers past 64 bits."""
    if isinstance(value, float) and not math.isfinite(value):
        msg = f"{where}: {value!r} cannot be stored as JSON; use None for missing values"
        raise errors.ValidationError(msg, registry="FeatureValue", field="value")
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**64:
        msg = f"{where}: the integer {value} does not fit in 64 bits"
        raise errors.ValidationError(msg, registry="FeatureValue", field="value")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                msg = f"{where}: dict keys must be strings, got {key!r}"
                raise errors.ValidationError(msg, registry="FeatureValue", field="value")
            _check_json(item, where)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _check_json(item, where)


def normalize_value(feature: Feature, value: Any) -> Any:
    """Check a non-categorical value against the feature's dtype; return its JSON form."""
    dtype = feature.dtype
    where = f"feature {feature.name!r} ({dtype})"
    if dtype.startswith("list[") and not dtype.startswith("list[cat"):
        if not isinstance(value, (list, tuple)):
            msg = f"{where} takes a list, got {value!r}"
            raise errors.ValidationError(msg, registry="Feature", field=feature.name)
        inner = Feature._from_row({"name": feature.name, "dtype": dtype[5:-1]})
        return [normalize_value(inner, v) for v in value]
    ok = True
    if dtype in ("int",):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif dtype in ("float", "num"):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif dtype in ("str", "path"):
        ok = isinstance(value, str)
    elif dtype == "bool":
        ok = isinstance(value, bool)
    elif dtype == "date":
        if isinstance(value, datetime):
            ok = False
        elif isinstance(value, date):
            value = value.isoformat()
        elif isinstance(value, str):
            try:
                value = date.fromisoformat(value).isoformat()
            except ValueError:
                ok = False
        else:
            ok = False
    elif dtype == "datetime":
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value)
            except ValueError:
                ok = False
        if ok and isinstance(value, datetime):
            if value.tzinfo is None:
                value = value.replace(tzinfo=timezone.utc)
            value = value.isoformat()
        elif ok:
            ok = False
    elif dtype == "dict":
        ok = isinstance(value, dict)
    if not ok:
        msg = f"{where} cannot take {type(value).__name__} {value!r}"
        raise errors.ValidationError(msg, registry="Feature", field=feature.name)
    _check_json(value, where)
    return value


def value_hash(value: Any) -> str:
    text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    return base64.urlsafe_b64encode(hashlib.md5(text).digest()).decode().rstrip("=")


def typed_columns(value: Any) -> dict[str, Any]:
    """The hidden columns that let queries compare without decoding JSON."""
    if isinstance(value, bool):
        return {"_kind": "bool", "_number": float(value), "_text": None}
    if isinstance(value, (int, float)):
        return {"_kind": "number", "_number": float(value), "_text": None}
    if isinstance(value, str):
        return {"_kind": "string", "_number": None, "_text": value}
    kind = "dict" if isinstance(value, dict) else "list" if isinstance(value, list) else "null"
    return {"_kind": kind, "_number": None, "_text": None}


# the accessor


class FeatureManager:
    """`artifact.features`: add, read and remove feature values of one artifact."""

    def __init__(self, artifact: Artifact) -> None:
        self.artifact = artifact

    def _features(self, names) -> dict[str, Feature]:
        names = list(dict.fromkeys(names))
        found = {f.name: f for f in Feature.filter(name__in=names)}
        missing = [n for n in names if n not in found]
        if missing:
            msg = (
                f"Feature registry has no feature named {', '.join(map(repr, missing))}; "
                "create it first, e.g. lc.Feature(name=..., dtype=...).save()"
            )
            raise errors.ValidationError(msg, registry="Feature", field=missing[0])
        return found

    def add_values(self, values: dict[str, Any]) -> None:
        """Annotate the artifact: `{"temperature": 21.6, "perturbation": "DMSO"}`."""
        artifact = self.artifact
        if artifact.id is None:
            msg = "save the artifact before adding feature values"
            raise ValueError(msg)
        features = self._features(values)
        plan_links: list[tuple[Feature, Any, list[SQLRecord]]] = []
        plan_values: list[tuple[Feature, Any]] = []
        for name, value in values.items():  # validate everything before writing
            feature = features[name]
            cat = parse_cat(feature.dtype)
            if cat is not None:
                plan_links.append((feature, cat, resolve_labels(feature, cat, value)))
            elif value is not None:
                plan_values.append((feature, normalize_value(feature, value)))
        catalog = instance.current()
        with catalog.batching():
            for feature, cat, labels in plan_links:
                relation = _label_relation(catalog, cat)
                getattr(artifact, relation.name).add(*labels, feature=feature)
            if plan_values:
                _link_values(catalog, artifact.id, plan_values)

    def get_values(self) -> dict[str, Any]:
        """Feature name → value (a set where several labels or values are linked)."""
        import pandas as pd

        catalog = instance.current()
        ids = pl.Series("id", [self.artifact.id], dtype=pl.Int64)
        columns = feature_columns(catalog, type(self.artifact), ids, "all", quiet=True)
        out = {}
        for name, values in columns.items():
            value = values[0]
            if not (isinstance(value, float) and pd.isna(value)):
                out[name] = value
        return out

    def remove_values(self, names: str | list[str], *, value: Any = None) -> None:
        """Remove the values of one or several features (or only `value`)."""
        catalog = instance.current()
        names = [names] if isinstance(names, str) else list(names)
        features = self._features(names)
        with catalog.batching():
            for feature in features.values():
                cat = parse_cat(feature.dtype)
                if cat is not None:
                    relation = _label_relation(catalog, cat)
                    links = catalog.frame(relation.link.table).filter(
                        (pl.col(relation.source_column) == self.artifact.id)
                        & (pl.col("feature_id") == feature.id)
                    )
                    if value is not None:
                        labels = resolve_labels(feature, cat, value)
                        links = links.filter(pl.col(relation.target_column).is_in([r.id for r in labels]))
                    catalog.delete_rows(relation.link.table, "id", links["id"].to_list())
                    continue
                values = catalog.frame("featurevalue").filter(pl.col("feature_id") == feature.id)
                if value is not None:
                    values = values.filter(pl.col("hash") == value_hash(normalize_value(feature, value)))
                links = catalog.frame("artifact_featurevalue").filter(
                    (pl.col("artifact_id") == self.artifact.id)
                    & pl.col("featurevalue_id").is_in(values["id"])
                )
                catalog.delete_rows("artifact_featurevalue", "id", links["id"].to_list())

    def __repr__(self) -> str:
        return f"<features of {self.artifact.key or self.artifact.uid}: {self.get_values()}>"


def _label_relation(catalog, cat: CatDtype):
    for relation in catalog.index.relations["Artifact"].values():
        if relation.kind == "m2m" and relation.target == cat.registry and relation.link.table.startswith("artifact_"):
            return relation
    msg = f"artifacts cannot be annotated with {cat.registry} labels (is the bio module on?)"
    raise errors.UnsupportedError(msg)


def resolve_labels(feature: Feature, cat: CatDtype, value: Any) -> list[SQLRecord]:
    """Records for a categorical value given as names, records, or a list of them."""
    registry = REGISTRY_CLASSES.get(cat.registry)
    if registry is None:
        msg = f"feature {feature.name!r} points to {cat.registry}, which this catalog lacks"
        raise errors.ValidationError(msg, registry="Feature", field=feature.name)
    items = list(value) if isinstance(value, (list, tuple, set)) else [value]
    records, names = [], []
    for item in items:
        if isinstance(item, SQLRecord):
            if not isinstance(item, registry):
                msg = (
                    f"feature {feature.name!r} takes {registry.__name__} labels, "
                    f"got {type(item).__name__} {item!r}"
                )
                raise errors.ValidationError(msg, registry="Feature", field=feature.name)
            records.append(item)
        elif isinstance(item, str):
            names.append(item)
        else:
            msg = f"feature {feature.name!r} takes label names or records, got {item!r}"
            raise errors.ValidationError(msg, registry="Feature", field=feature.name)
    if names:
        qs = registry.filter(**{f"{cat.field}__in": names})
        if cat.subtype:
            qs = qs.filter(type__name=cat.subtype)
        found = {getattr(r, cat.field): r for r in qs}
        missing = [n for n in names if n not in found]
        if missing:
            msg = (
                f"{len(missing)} value(s) of feature {feature.name!r} not found in "
                f"{registry.__name__}.{cat.field}: {', '.join(map(repr, missing))}; "
                f"create them first, e.g. {registry.__name__}({cat.field}={missing[0]!r}).save()"
            )
            raise errors.ValidationError(msg, registry=registry.__name__, field=cat.field)
        records += [found[n] for n in names]
    return records


def _link_values(catalog, artifact_id: int, values: list[tuple[Feature, Any]]) -> None:
    existing = catalog.frame("featurevalue").select("id", "feature_id", "hash")
    known = {(f, h): i for i, f, h in existing.iter_rows()}
    now = instance.now()
    new_rows, link_targets = [], []
    for feature, value in values:
        key = (feature.id, value_hash(value))
        if key not in known:
            fv_id = catalog.allocate_ids("featurevalue", 1)[0]
            known[key] = fv_id
            new_rows.append({
                "id": fv_id, "value": orjson.dumps(value).decode(), "hash": key[1],
                "space_id": 1, "feature_id": feature.id, "is_locked": False,
                "run_id": catalog.run_id, "created_at": now, "created_by_id": catalog.user_id,
                "branch_id": 1, **typed_columns(value),
            })  # fmt: skip
        link_targets.append(known[key])
    catalog.insert("featurevalue", new_rows)
    present = set(
        catalog.frame("artifact_featurevalue")
        .filter(pl.col("artifact_id") == artifact_id)["featurevalue_id"]
        .to_list()
    )
    targets = [t for t in dict.fromkeys(link_targets) if t not in present]
    if targets:
        ids = catalog.allocate_ids("artifact_featurevalue", len(targets))
        catalog.insert("artifact_featurevalue", [
            {"id": i, "artifact_id": artifact_id, "featurevalue_id": t, "created_at": now}
            for i, t in zip(ids, targets)
        ])  # fmt: skip


# filtering


def _feature_row(catalog, name: str) -> dict[str, Any] | None:
    frame = catalog.frame("feature").filter(
        (pl.col("name") == name) & (pl.col("branch_id") == 1)
    )
    return frame.row(0, named=True) if frame.height else None


def feature_predicate(catalog, registry: str, lookup: Lookup) -> pl.Expr | None:
    """An expression over artifact rows for a lookup on a feature; None if no feature."""
    if registry != "Artifact":
        return None
    feature = _feature_row(catalog, lookup.path[0])
    if feature is None:
        return None
    cat = parse_cat(feature["dtype"] or "")
    if cat is not None:
        return _categorical(catalog, feature, cat, lookup)
    return _scalar(catalog, feature, lookup)


def _categorical(catalog, feature: dict, cat: CatDtype, lookup: Lookup) -> pl.Expr:
    relation = _label_relation(catalog, cat)
    links = catalog.frame(relation.link.table).filter(pl.col("feature_id") == feature["id"])
    if lookup.comparator == "isnull" and len(lookup.path) == 1:
        has = pl.col("id").is_in(links[relation.source_column])
        return ~has if lookup.value else has
    registry = REGISTRY_CLASSES[cat.registry]
    value = lookup.value
    if lookup.comparator == "exact" and isinstance(value, (list, tuple, set)):
        msg = f"feature {feature['name']!r} got a list; use `{feature['name']}__in=[...]`"
        raise TypeError(msg)
    field_path = "__".join(lookup.path[1:]) or cat.field
    items = value if lookup.comparator == "in" else [value]
    records = [v for v in items if isinstance(v, SQLRecord)]
    if records and len(records) == len(items):
        label_ids = [_ref_id(feature, registry, r) for r in records]
    else:
        comparator = "" if lookup.comparator == "exact" else f"__{lookup.comparator}"
        conditions = {f"{field_path}{comparator}": value}
        qs = registry.filter(**conditions)
        if cat.subtype:
            qs = qs.filter(type__name=cat.subtype)
        label_ids = qs.values_list("id", flat=True)
        if not label_ids:
            msg = f"Did not find a {registry.__name__} matching `{field_path}{comparator}={value}`"
            raise errors.DoesNotExist(msg)
    sources = links.filter(pl.col(relation.target_column).is_in(label_ids))[relation.source_column]
    return pl.col("id").is_in(sources)


def _ref_id(feature: dict, registry, record: SQLRecord) -> int:
    if not isinstance(record, registry) or record.id is None:
        msg = f"feature {feature['name']!r} takes saved {registry.__name__} records, got {record!r}"
        raise TypeError(msg)
    return record.id


def _scalar(catalog, feature: dict, lookup: Lookup) -> pl.Expr:
    values = catalog.frame("featurevalue").filter(pl.col("feature_id") == feature["id"])
    links = catalog.frame("artifact_featurevalue")
    if lookup.comparator == "isnull" and len(lookup.path) == 1:
        has = pl.col("id").is_in(links.filter(pl.col("featurevalue_id").is_in(values["id"]))["artifact_id"])
        return ~has if lookup.value else has
    matching = values.filter(_value_condition(feature, lookup, values))["id"]
    sources = links.filter(pl.col("featurevalue_id").is_in(matching))["artifact_id"]
    return pl.col("id").is_in(sources)


def _value_condition(feature: dict, lookup: Lookup, values: pl.DataFrame) -> pl.Expr:
    dtype = feature["dtype"]
    keys = lookup.path[1:]
    comparator, operand = lookup.comparator, lookup.value
    where = f"feature {feature['name']!r} ({dtype})"
    if keys or dtype not in NUMERIC | {"str", "path", "date", "datetime", "bool"}:
        if keys and dtype != "dict":
            msg = f"{where} has no nested keys; `{'__'.join(lookup.path)}` needs a dict feature"
            raise errors.FieldError(msg, registry="Artifact", field=lookup.key)
        matching = [
            text for text in values["value"].unique().to_list()
            if python_compare(comparator, json_get(orjson.loads(text), keys), operand)
        ]  # fmt: skip
        return pl.col("value").is_in(matching)
    if comparator not in COLUMN_COMPARATORS:
        msg = f"{where} does not support `__{comparator}`"
        raise errors.FieldTypeError(msg, registry="Artifact", field=feature["name"])
    if dtype in NUMERIC or dtype == "bool":
        operand = _typed_operand(where, dtype, comparator, operand)
        kind = "bool" if dtype == "bool" else "number"
        return (pl.col("_kind") == kind) & COLUMN_COMPARATORS[comparator](pl.col("_number"), operand)
    if dtype in ("date", "datetime"):
        operand = _iso_operand(where, dtype, comparator, operand)
    elif comparator not in ("isnull",) and not _all_strings(operand, comparator):
        msg = f"{where} compares with strings, got {operand!r}"
        raise errors.FieldValueError(msg, registry="Artifact", field=feature["name"])
    return (pl.col("_kind") == "string") & COLUMN_COMPARATORS[comparator](pl.col("_text"), operand)


def _all_strings(operand: Any, comparator: str) -> bool:
    if comparator in ("in", "range"):
        return all(isinstance(v, str) for v in operand)
    return isinstance(operand, str)


def _typed_operand(where: str, dtype: str, comparator: str, operand: Any) -> Any:
    def one(v: Any) -> float:
        if dtype == "bool":
            if not isinstance(v, bool):
                msg = f"{where} compares with True or False, got {v!r}"
                raise errors.FieldValueError(msg, registry="Artifact", field=where)
            return float(v)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            msg = f"{where} compares with numbers, got {type(v).__name__} {v!r}"
            raise errors.FieldValueError(msg, registry="Artifact", field=where)
        return float(v)

    if comparator == "isnull":
        return operand
    if comparator in ("in", "range"):
        return [one(v) for v in operand]
    return one(operand)


def _iso_operand(where: str, dtype: str, comparator: str, operand: Any) -> Any:
    def one(v: Any) -> str:
        if isinstance(v, datetime):
            return (v if v.tzinfo else v.replace(tzinfo=timezone.utc)).isoformat()
        if isinstance(v, date):
            return v.isoformat()
        if isinstance(v, str):
            return v
        msg = f"{where} compares with dates or ISO strings, got {v!r}"
        raise errors.FieldValueError(msg, registry="Artifact", field=where)

    if comparator == "isnull":
        return operand
    if comparator in ("in", "range"):
        return [one(v) for v in operand]
    return one(operand)


# reporting


def candidate_features(catalog, selection) -> list[dict[str, Any]]:
    """Features for `to_dataframe(features=...)`, in Feature id order."""
    frame = catalog.frame("feature").filter(pl.col("branch_id") == 1).sort("id")
    rows = frame.to_dicts()
    if selection is True:
        return [
            r for r in rows
            if parse_cat(r["dtype"] or "") is None
            or (r["dtype"] or "").replace("list[", "").startswith(("cat[ULabel", "cat[Record"))
        ]  # fmt: skip
    if selection == "all":
        return rows
    names = [selection] if isinstance(selection, str) else list(selection)
    by_name = {r["name"]: r for r in rows}
    missing = [n for n in names if n not in by_name]
    if missing:
        msg = f"unknown feature(s) {missing}; available: {sorted(by_name)}"
        raise errors.InvalidArgument(msg, registry="Feature", names=missing)
    return [by_name[n] for n in names]


def feature_columns(catalog, model, ids: pl.Series, selection, *, quiet: bool = False) -> dict[str, list[Any]]:
    """One list per feature that has a value among `ids`, aligned with `ids`."""
    if model._schema.name != "Artifact":
        msg = f"features=True is only applicable for Artifact and Record, not {model._schema.name}"
        raise ValueError(msg)
    candidates = candidate_features(catalog, selection)
    if selection is True and not quiet:
        names = [r["name"] for r in candidates]
        inform(
            "queried for all categorical features with dtype ULabel or Record and "
            f"non-categorical features: ({len(names)}) {names}"
        )
    nan = float("nan")
    columns: dict[str, list[Any]] = {}
    for feature in candidates:
        cat = parse_cat(feature["dtype"] or "")
        per_id = _cat_values(catalog, feature, cat, ids) if cat else _json_values(catalog, feature, ids)
        if not per_id:
            continue
        out = []
        for i in ids.to_list():
            values = per_id.get(i)
            if not values:
                out.append(nan)
            elif cat is None and feature["dtype"] == "dict":
                out.append(values[0])
            else:
                unique = list(dict.fromkeys(values))
                out.append(unique[0] if len(unique) == 1 else set(unique))
        columns[feature["name"]] = out
    return columns


def _cat_values(catalog, feature, cat: CatDtype, ids: pl.Series) -> dict[int, list[Any]]:
    relation = _label_relation(catalog, cat)
    links = catalog.frame(relation.link.table).filter(
        (pl.col("feature_id") == feature["id"]) & pl.col(relation.source_column).is_in(ids)
    )
    if links.is_empty():
        return {}
    labels = catalog.frame(catalog.index.registry(cat.registry).table).select(
        pl.col("id").alias(relation.target_column), pl.col(cat.field).alias("__label")
    )
    joined = links.join(labels, on=relation.target_column, how="inner").sort("id")
    grouped = joined.group_by(relation.source_column, maintain_order=True).agg("__label")
    return dict(zip(grouped[relation.source_column].to_list(), grouped["__label"].to_list()))


def _json_values(catalog, feature, ids: pl.Series) -> dict[int, list[Any]]:
    values = catalog.frame("featurevalue").filter(pl.col("feature_id") == feature["id"])
    links = catalog.frame("artifact_featurevalue").filter(
        pl.col("artifact_id").is_in(ids) & pl.col("featurevalue_id").is_in(values["id"])
    )
    if links.is_empty():
        return {}
    joined = links.join(
        values.select(pl.col("id").alias("featurevalue_id"), "value"), on="featurevalue_id"
    ).sort("id")
    grouped = joined.group_by("artifact_id", maintain_order=True).agg("value")
    decoded: dict[str, Any] = {}
    out = {}
    for artifact_id, texts in zip(grouped["artifact_id"].to_list(), grouped["value"].to_list()):
        items = []
        for text in texts:
            if text not in decoded:
                decoded[text] = orjson.loads(text)
            items.append(decoded[text])
        out[artifact_id] = items
    return out


__all__ = ["Feature", "FeatureManager"]
