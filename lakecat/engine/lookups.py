"""Lookup keys and Q trees: the parsed, immutable form of `filter()` arguments.

`"run__params__lr__gt"` becomes `Lookup(path=("run", "params", "lr"),
comparator="gt")`; keyword arguments and `Q` objects become a tree of `Q` nodes
whose leaves are lookups. Nothing here knows about registries.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from lakecat.engine.errors import FieldError

__all__ = ["COMPARATOR_NAMES", "TRANSFORMS", "Lookup", "Q"]

#: every comparator name; a trailing key segment with one of these names is one
COMPARATOR_NAMES = frozenset(
    {
        "exact", "iexact", "contains", "icontains", "startswith", "istartswith",
        "endswith", "iendswith", "in", "gt", "gte", "lt", "lte", "range", "isnull",
        "regex", "iregex", "has_key",
    }
)  # fmt: skip

#: date parts that may stand before a comparator (`created_at__year__gte=2025`)
TRANSFORMS = frozenset({"date", "year", "month", "day"})


@dataclass(frozen=True)
class Lookup:
    """One `key=value` condition, split into a path, a transform and a comparator.

    Examples
    --------
    >>> lk = Lookup.parse("created_at__year__gte", 2025)
    >>> lk.path, lk.transform, lk.comparator
    (('created_at',), 'year', 'gte')
    """

    key: str
    path: tuple[str, ...]
    comparator: str
    value: Any
    transform: str | None = None
    #: whether the comparator was written out (`x__exact=1`) or implied (`x=1`)
    explicit: bool = False

    @classmethod
    def parse(cls, key: str, value: Any) -> Lookup:
        parts = tuple(key.split("__"))
        if any(part == "" for part in parts):
            msg = f"Invalid lookup {key!r}: empty segment between `__`"
            raise FieldError(msg, field=key)
        comparator, explicit = "exact", False
        if len(parts) > 1 and parts[-1] in COMPARATOR_NAMES:
            comparator, explicit, parts = parts[-1], True, parts[:-1]
        transform = None
        if len(parts) > 1 and parts[-1] in TRANSFORMS:
            transform, parts = parts[-1], parts[:-1]
        return cls(key, parts, comparator, value, transform, explicit)

    def rest(self) -> Lookup:
        """The same lookup one relation further down (`records__name` → `name`)."""
        return Lookup(
            self.key, self.path[1:], self.comparator, self.value, self.transform,
            self.explicit,
        )  # fmt: skip

    def with_path(self, path: tuple[str, ...]) -> Lookup:
        return Lookup(
            self.key, path, self.comparator, self.value, self.transform, self.explicit
        )


class Q:
    """A condition node: keyword lookups ANDed, combined with `&`, `|` and `~`.

    Examples
    --------
    >>> q = Q(suffix=".jpg") | ~Q(suffix=".fastq.gz")
    >>> q.connector, len(q.children), q.children[1].negated
    ('OR', 2, True)
    """

    __slots__ = ("children", "connector", "lookups", "negated")

    def __init__(self, *children: Q, **kwargs: Any) -> None:
        for child in children:
            if not isinstance(child, Q):
                msg = f"Q() takes Q objects and keyword lookups, got {child!r}"
                raise TypeError(msg)
        self.children: tuple[Q, ...] = children
        self.lookups: tuple[Lookup, ...] = tuple(
            Lookup.parse(k, v) for k, v in kwargs.items()
        )
        self.connector = "AND"
        self.negated = False

    @classmethod
    def _combine(cls, connector: str, *children: Q) -> Q:
        node = cls(*children)
        node.connector = connector
        return node

    @classmethod
    def of(cls, lookups: tuple[Lookup, ...]) -> Q:
        """A node holding already parsed lookups."""
        node = cls()
        node.lookups = lookups
        return node

    def __and__(self, other: Q) -> Q:
        return Q._combine("AND", self, _as_q(other))

    def __or__(self, other: Q) -> Q:
        return Q._combine("OR", self, _as_q(other))

    def __invert__(self) -> Q:
        node = Q._combine("AND", self)
        node.negated = True
        return node

    def lookup_keys(self) -> Iterator[str]:
        """Every lookup key in this tree."""
        for lookup in self.lookups:
            yield lookup.key
        for child in self.children:
            yield from child.lookup_keys()

    def __bool__(self) -> bool:
        return bool(self.lookups or self.children)

    def __repr__(self) -> str:
        parts = [f"{lk.key}={lk.value!r}" for lk in self.lookups]
        parts += [repr(c) for c in self.children]
        body = f" {self.connector} ".join(parts)
        return f"~Q({body})" if self.negated else f"Q({body})"


def _as_q(value: Any) -> Q:
    if not isinstance(value, Q):
        msg = f"can only combine Q with Q, got {type(value).__name__}"
        raise TypeError(msg)
    return value
