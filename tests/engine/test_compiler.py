"""Golden tests of the compiler over in-memory frames: (registry, Q) → matching ids.

No catalog and no Delta tables: the compiler reads frames through a dict, so these
pin the semantics of each node kind (columns, null-safe negation, semi-joins,
same-row grouping) independently of storage.
"""

from __future__ import annotations

import polars as pl
import pytest

from lakecat.engine.comparators import (
    COLUMN_COMPARATORS,
    literal_pattern,
    python_compare,
)
from lakecat.engine.compiler import Compiler, canonical_key, coerce_value, unknown_field
from lakecat.engine.errors import (
    FieldError,
    FieldTypeError,
    FieldValueError,
    InvalidArgument,
)
from lakecat.engine.lookups import Lookup, Q
from lakecat.engine.tables import polars_schema
from lakecat.schemas import index_for

INDEX = index_for(("core",))


def table(registry: str, rows: list[dict]) -> pl.DataFrame:
    schema = polars_schema(INDEX.registry(registry).fields)
    return pl.DataFrame(rows, schema=schema, strict=False)


def link_table(name: str, rows: list[tuple[int, int, int, int | None]]) -> pl.DataFrame:
    link = INDEX.link_tables()[name]
    schema = polars_schema(link.fields)
    columns = ["id", link.source_column, link.target_column, "feature_id"]
    return pl.DataFrame(
        [dict(zip(columns, r, strict=True)) for r in rows], schema=schema
    )


FRAMES = {
    "artifact": table(
        "Artifact",
        [
            {"id": 1, "uid": "a1", "key": "a/x.csv", "suffix": ".csv", "size": 10, "kind": None, "run_id": 1, "created_by_id": 1},
            {"id": 2, "uid": "a2", "key": "A/y.CSV", "suffix": ".csv", "size": 20, "kind": "dataset", "run_id": 2, "created_by_id": 1},
            {"id": 3, "uid": "a3", "key": None, "suffix": ".h5ad", "size": None, "kind": "model", "run_id": None, "created_by_id": 2},
            {"id": 4, "uid": "a4", "key": "b/Äpfel.txt", "suffix": "", "size": 40, "kind": "dataset", "run_id": 2, "created_by_id": 2},
        ],
    ),
    "record": table(
        "Record",
        [
            {"id": 1, "uid": "r1", "name": "T", "is_type": True},
            {"id": 2, "uid": "r2", "name": "x", "type_id": 1},
            {"id": 3, "uid": "r3", "name": "y", "type_id": None},
        ],
    ),
    "artifact_record": link_table("artifact_record", [(1, 1, 2, None), (2, 2, 3, None), (3, 2, 2, 7)]),
    "run": table("Run", [{"id": 1, "uid": "u1", "transform_id": 1, "params": '{"lr": 0.1}'}, {"id": 2, "uid": "u2", "transform_id": 2}]),
    "transform": table("Transform", [{"id": 1, "uid": "t1", "key": "p.py"}, {"id": 2, "uid": "t2", "key": "n.ipynb"}]),
    "user": table("User", [{"id": 1, "uid": "us1", "handle": "ann"}, {"id": 2, "uid": "us2", "handle": "bob"}]),
}  # fmt: skip


@pytest.fixture
def compiler():
    reads: list[str] = []

    def frame(name: str) -> pl.DataFrame:
        reads.append(name)
        return FRAMES[name]

    compiler = Compiler(INDEX, frame)
    compiler.reads = reads
    return compiler


def ids(compiler: Compiler, registry: str, node: Q) -> list[int]:
    return compiler.ids(registry, node).to_list()


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        (Q(suffix=".csv"), [1, 2]),
        (Q(key__icontains="a/"), [1, 2]),
        (Q(key__startswith="a/"), [1]),
        (Q(key__iendswith=".csv"), [1, 2]),
        (Q(key__icontains="äpfel"), [4]),
        (Q(key=None), [3]),
        (Q(size__gt=15), [2, 4]),
        (~Q(size__gt=15), [1, 3]),
        (~Q(kind="dataset"), [1, 3]),
        (~Q(key__contains="x"), [2, 3]),
        (Q(kind__in=["model", None]), [3]),
        (Q(suffix="") | Q(size=None), [3, 4]),
        (~(Q(suffix=".csv") & Q(size__lt=15)), [2, 3, 4]),
        (Q(created_by__handle="bob"), [3, 4]),
        (~Q(created_by__handle="bob"), [1, 2]),
        (Q(run__transform__key="n.ipynb"), [2, 4]),
        (~Q(run__transform__key="n.ipynb"), [1, 3]),
        (Q(transform__key="p.py"), [1]),
        (Q(records__name="x"), [1, 2]),
        (Q(records=3), [2]),
        (Q(records__in=[2, 3]), [1, 2]),
        (~Q(records__name="x"), [3, 4]),
        (Q(records__isnull=True), [3, 4]),
        (Q(records__type__name="T"), [1, 2]),
        (Q(records__name="y", records__type__isnull=False), []),
        (Q(records__name="y") & Q(records__type__isnull=False), [2]),
        (Q(run__params__lr=0.1), [1]),
        (Q(), [1, 2, 3, 4]),
    ],
)
def test_compiler_predicate_golden(compiler, node, expected):
    assert ids(compiler, "Artifact", node) == expected


def test_compiler_reverse_relations(compiler):
    assert ids(compiler, "Record", Q(artifacts__suffix=".csv")) == [2, 3]
    assert ids(compiler, "Record", Q(records__name="x")) == [1]
    assert ids(compiler, "Record", ~Q(records__name="x")) == [2, 3]
    assert ids(compiler, "Run", Q(output_artifacts__size__gt=30)) == [2]
    assert ids(compiler, "User", Q(created_artifacts__isnull=True)) == []


def test_compiler_id_only_relation_skips_target_table(compiler):
    ids(compiler, "Artifact", Q(records=2))
    ids(compiler, "Artifact", Q(created_by=2))
    assert "record" not in compiler.reads
    assert "user" not in compiler.reads


def test_compiler_alias_branch_none_lifts_condition(compiler):
    assert ids(compiler, "Artifact", Q(branch=None)) == [1, 2, 3, 4]
    assert ids(compiler, "Artifact", Q(visibility=None)) == [1, 2, 3, 4]
    assert canonical_key("Artifact", "visibility__in") == "branch_id__in"
    assert canonical_key("Artifact", "transform__key") == "run__transform__key"
    assert canonical_key("Record", "transform__key") == "transform__key"


def test_compiler_unknown_without_features_is_field_error(compiler):
    with pytest.raises(
        FieldError, match=r"Unknown field 'sufix'.*Did you mean 'suffix'"
    ):
        compiler.predicate("Artifact", Q(sufix=1))


def test_compiler_unknown_with_features_lists_invalid_names():
    compiler = Compiler(INDEX, FRAMES.__getitem__, lambda registry, lookup: None)
    with pytest.raises(
        InvalidArgument, match=r"Or fix invalid feature names: a_b, zz$"
    ):
        compiler.predicate("Artifact", Q(zz=1, a_b=2), features=True)


def test_compiler_feature_resolver_expression_is_used():
    frames = {**FRAMES, "featurevalue": FRAMES["run"], "feature": FRAMES["run"]}
    for name in INDEX.link_tables():
        frames.setdefault(name, FRAMES["artifact_record"])

    def resolver(registry, lookup):
        return pl.col("id") == lookup.value if lookup.path == ("temperature",) else None

    compiler = Compiler(INDEX, frames.__getitem__, resolver)
    expr = compiler.predicate(
        "Artifact", Q(temperature=3, suffix=".h5ad"), features=True
    )
    assert FRAMES["artifact"].filter(expr)["id"].to_list() == [3]


@pytest.mark.parametrize(
    ("comparator", "value", "expected"),
    [
        ("contains", "a.c", [True, False, None]),
        ("icontains", "A.C", [True, False, None]),
        ("iexact", "A.C", [True, False, None]),
        ("istartswith", "A", [True, True, None]),
        ("iendswith", ".C", [True, False, None]),
        ("regex", "a.c", [True, True, None]),
        ("in", ["abc", None], [False, True, None]),
        ("in", [], [False, False, False]),
        ("isnull", True, [False, False, True]),
        ("exact", None, [False, False, True]),
    ],
)
def test_comparators_table_golden(comparator, value, expected):
    frame = pl.DataFrame({"s": ["a.c", "abc", None]})
    out = frame.with_columns(
        COLUMN_COMPARATORS[comparator](pl.col("s"), value).alias("m")
    )
    assert out["m"].to_list() == expected


def test_literal_pattern_escapes_regex_characters():
    for text in ["iris[1]", "a.c", "* *", "C++ run (", "$^{}|\\#&-~"]:
        frame = pl.DataFrame({"s": [text, "x" + text + "y", "other"]})
        hit = frame.select(pl.col("s").str.contains(literal_pattern(text)))
        assert hit.to_series().to_list() == [True, True, False], text


@pytest.mark.parametrize(
    ("comparator", "value", "operand", "expected"),
    [
        ("exact", 1, 1.0, True),
        ("exact", "1", 1, False),
        ("exact", True, 1, False),
        ("gt", 3, 2, True),
        ("gt", "3", 2, False),
        ("range", 5, (1, 9), True),
        ("range", 5, (6, 9), False),
        ("icontains", "Ärger", "ärg", True),
        ("in", 2, [1, 2], True),
        ("has_key", {"a": 1}, "a", True),
        ("isnull", None, True, True),
    ],
)
def test_python_compare_typed_json_golden(comparator, value, operand, expected):
    assert python_compare(comparator, value, operand) is expected


@pytest.mark.parametrize(
    ("field", "dtype", "comparator", "value", "expected"),
    [
        ("size", "int", "exact", "12", 12),
        ("size", "int", "in", (1, None, "2"), [1, 2]),
        ("size", "int", "range", [1, 3], (1, 3)),
        ("key", "str", "icontains", "x", "x"),
        ("is_latest", "bool", "exact", False, False),
        ("key", "str", "exact", None, None),
    ],
)
def test_coerce_value_golden(field, dtype, comparator, value, expected):
    schema = INDEX.registry("Artifact")
    assert coerce_value(schema, field, dtype, comparator, value) == expected


def test_coerce_value_errors_are_value_and_type_errors():
    schema = INDEX.registry("Artifact")
    with pytest.raises(FieldValueError, match="expected a number but got 'abc'") as e:
        coerce_value(schema, "size", "int", "gt", "abc")
    assert isinstance(e.value, ValueError)
    assert isinstance(e.value, TypeError)


def test_compiler_comparator_not_allowed_for_dtype(compiler):
    with pytest.raises(
        FieldTypeError, match=r"Artifact.size \(int\) does not support `__icontains`"
    ):
        compiler.predicate("Artifact", Q(size__icontains="3"))


def test_unknown_field_message_names_registry_and_key():
    error = unknown_field(
        INDEX.registry("User"), "nme", ["handle", "name"], key="created_by__nme"
    )
    assert str(error) == (
        "Unknown field 'nme'. Available fields: handle, name. User has no field 'nme' "
        "(in 'created_by__nme'). Did you mean 'name'?"
    )
    assert (error.registry, error.field, error.allowed) == (
        "User",
        "nme",
        ["handle", "name"],
    )


def test_lookup_rest_and_with_path():
    lookup = Lookup.parse("run__transform__key__startswith", "p")
    assert lookup.rest().path == ("transform", "key")
    assert lookup.with_path(("x",)).comparator == "startswith"
