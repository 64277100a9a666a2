"""Parsing of lookup keys and the Q tree."""

from __future__ import annotations

import pytest

from lakecat.engine.errors import FieldError
from lakecat.engine.lookups import Lookup, Q


@pytest.mark.parametrize(
    ("key", "path", "transform", "comparator", "explicit"),
    [
        ("suffix", ("suffix",), None, "exact", False),
        ("suffix__exact", ("suffix",), None, "exact", True),
        ("key__icontains", ("key",), None, "icontains", True),
        ("records__name__startswith", ("records", "name"), None, "startswith", True),
        ("created_at__year__gte", ("created_at",), "year", "gte", True),
        ("created_at__date", ("created_at",), "date", "exact", False),
        ("params__lr__gt", ("params", "lr"), None, "gt", True),
        ("in", ("in",), None, "exact", False),
        ("date", ("date",), None, "exact", False),
    ],
)
def test_lookup_parse_golden(key, path, transform, comparator, explicit):
    lookup = Lookup.parse(key, 1)
    assert (lookup.path, lookup.transform, lookup.comparator, lookup.explicit) == (
        path,
        transform,
        comparator,
        explicit,
    )
    assert lookup.key == key
    assert lookup.value == 1


def test_lookup_parse_empty_segment_raises():
    with pytest.raises(FieldError, match="Invalid lookup 'key____x': empty segment"):
        Lookup.parse("key____x", 1)


def test_q_combinations_build_tree():
    q = (Q(a=1) & Q(b=2)) | ~Q(c=3, d=4)
    assert q.connector == "OR"
    left, right = q.children
    assert left.connector == "AND"
    assert [lk.key for lk in left.children[0].lookups] == ["a"]
    assert right.negated
    assert [lk.key for lk in right.children[0].lookups] == ["c", "d"]
    assert list(q.lookup_keys()) == ["a", "b", "c", "d"]
    assert repr(q) == "Q(Q(Q(a=1) AND Q(b=2)) OR ~Q(Q(c=3 AND d=4)))"


def test_q_empty_is_falsy_and_nested_is_truthy():
    assert not Q()
    assert Q(a=1)
    assert ~Q(a=1)


def test_q_rejects_non_q():
    with pytest.raises(TypeError, match="can only combine Q with Q, got dict"):
        Q(a=1) & {"b": 2}
    with pytest.raises(TypeError, match=r"Q.. takes Q objects and keyword lookups"):
        Q("a")
