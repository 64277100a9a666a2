"""Comparators: one table from name to a small function building a Polars expression.

The compiler, the validator and the error messages all read `COLUMN_COMPARATORS`;
which comparators a dtype allows is declared beside the dtypes in `schemas/`.

Text matching is literal: `"a.c"`, `"iris[1]"` and `"C++ run ("` match exactly
those characters. The `i*` comparators fold case (Unicode simple case folding, so
`"Ärger"` matches `"ärger"`); they compile to a case-insensitive regular
expression over the escaped literal, which Polars runs without allocating
lower-cased copies of the column (measured ~2× faster than lower-casing).

`python_compare` is the same table for values that live in JSON, evaluated over
the distinct values of a column rather than per row.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

import polars as pl

__all__ = [
    "COLUMN_COMPARATORS",
    "ORDER_COMPARATORS",
    "PYTHON_COMPARATORS",
    "TEXT_COMPARATORS",
    "json_get",
    "literal_pattern",
    "python_compare",
]

#: characters with a meaning in Polars' (Rust) regular expressions
_REGEX_META = frozenset("\\.+*?()|[]{}^$#&-~")


def literal_pattern(text: str) -> str:
    """`text` escaped so that a regular expression matches exactly its characters.

    >>> literal_pattern("iris[1].csv")
    'iris\\\\[1\\\\]\\\\.csv'
    """
    return "".join(f"\\{c}" if c in _REGEX_META else c for c in text)


def _folded(prefix: str, value: str, suffix: str) -> str:
    return f"(?i){prefix}{literal_pattern(value)}{suffix}"


def _in(column: pl.Expr, values: Iterable[Any]) -> pl.Expr:
    values = [v for v in values if v is not None]
    if not values:
        return pl.lit(False)
    return column.is_in(values)


def _exact(column: pl.Expr, value: Any) -> pl.Expr:
    return column.is_null() if value is None else column == value


def _iexact(column: pl.Expr, value: Any) -> pl.Expr:
    if value is None:
        return column.is_null()
    return column.str.contains(_folded("^", value, "$"))


def _range(column: pl.Expr, value: Any) -> pl.Expr:
    low, high = value
    return column.is_between(low, high, closed="both")


def _isnull(column: pl.Expr, value: Any) -> pl.Expr:
    return column.is_null() if value else column.is_not_null()


COLUMN_COMPARATORS: dict[str, Callable[[pl.Expr, Any], pl.Expr]] = {
    "exact": _exact,
    "iexact": _iexact,
    "contains": lambda c, v: c.str.contains(v, literal=True),
    "icontains": lambda c, v: c.str.contains(_folded("", v, "")),
    "startswith": lambda c, v: c.str.starts_with(v),
    "istartswith": lambda c, v: c.str.contains(_folded("^", v, "")),
    "endswith": lambda c, v: c.str.ends_with(v),
    "iendswith": lambda c, v: c.str.contains(_folded("", v, "$")),
    "in": _in,
    "gt": lambda c, v: c > v,
    "gte": lambda c, v: c >= v,
    "lt": lambda c, v: c < v,
    "lte": lambda c, v: c <= v,
    "range": _range,
    "isnull": _isnull,
    "regex": lambda c, v: c.str.contains(v),
    "iregex": lambda c, v: c.str.contains(f"(?i){v}"),
}

#: comparators whose value is text, so the value must be a string
TEXT_COMPARATORS = frozenset(
    {"contains", "icontains", "startswith", "istartswith", "endswith", "iendswith",
     "regex", "iregex", "iexact"}
)  # fmt: skip
ORDER_COMPARATORS = frozenset({"gt", "gte", "lt", "lte", "range"})
REGEX_COMPARATORS = frozenset({"regex", "iregex"})

MISSING = object()


def _same_kind(a: Any, b: Any) -> bool:
    """JSON equality is typed: the string "1" is not the number 1; 1 equals 1.0."""
    numbers = (int, float)
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool)
    if isinstance(a, numbers) and isinstance(b, numbers):
        return True
    return type(a) is type(b)


def _py_order(op: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def compare(value: Any, operand: Any) -> bool:
        if value is MISSING or value is None or not _same_kind(value, operand):
            return False
        return op(value, operand)

    return compare


def _py_text(op: Callable[[str, str], bool], folded: bool = False):
    def compare(value: Any, operand: Any) -> bool:
        if not isinstance(value, str):
            return False
        if folded:
            return op(value.casefold(), operand.casefold())
        return op(value, operand)

    return compare


def _py_exact(value: Any, operand: Any) -> bool:
    if operand is None:
        return value is None or value is MISSING
    return value is not MISSING and _same_kind(value, operand) and value == operand


PYTHON_COMPARATORS: dict[str, Callable[[Any, Any], bool]] = {
    "exact": _py_exact,
    "iexact": _py_text(lambda v, o: v == o, folded=True),
    "contains": _py_text(lambda v, o: o in v),
    "icontains": _py_text(lambda v, o: o in v, folded=True),
    "startswith": _py_text(str.startswith),
    "istartswith": _py_text(str.startswith, folded=True),
    "endswith": _py_text(str.endswith),
    "iendswith": _py_text(str.endswith, folded=True),
    "in": lambda v, o: any(_py_exact(v, x) for x in o if x is not None),
    "gt": _py_order(lambda v, o: v > o),
    "gte": _py_order(lambda v, o: v >= o),
    "lt": _py_order(lambda v, o: v < o),
    "lte": _py_order(lambda v, o: v <= o),
    "range": lambda v, o: _range_py(v, o),
    "isnull": lambda v, o: (v is MISSING or v is None) == bool(o),
    "regex": _py_text(lambda v, o: re.search(o, v) is not None),
    "iregex": _py_text(lambda v, o: re.search(o, v, re.IGNORECASE) is not None),
    "has_key": lambda v, o: isinstance(v, dict) and o in v,
}


def _range_py(value: Any, operand: Any) -> bool:
    low, high = operand
    if value is MISSING or value is None:
        return False
    if not (_same_kind(value, low) and _same_kind(value, high)):
        return False
    return low <= value <= high


def json_get(document: Any, keys: tuple[str, ...]) -> Any:
    """Follow keys (or list indices) into a decoded JSON value; `MISSING` if absent."""
    for key in keys:
        if isinstance(document, dict):
            if key not in document:
                return MISSING
            document = document[key]
        elif isinstance(document, list) and key.lstrip("-").isdigit():
            index = int(key)
            if not -len(document) <= index < len(document):
                return MISSING
            document = document[index]
        else:
            return MISSING
    return document


def python_compare(comparator: str, value: Any, operand: Any) -> bool:
    return PYTHON_COMPARATORS[comparator](value, operand)
