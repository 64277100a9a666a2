"""Attribute names for field values, and the `Lookup` object built from them.

``Registry.lookup()`` (query spec §5) turns every value of a field into a Python
attribute, so that ``records.experiment_1`` reaches the record named
``Experiment 1`` and IPython completes the names. This module holds the naming
rule and the object; reading the rows is the caller's job.
"""

from __future__ import annotations

import difflib
import keyword
import os
import re
import sys
import warnings
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence

__all__ = ["Lookup", "to_attribute_name", "warn_user"]

Keep = Literal["first", "last", False]

# a run of characters that cannot appear in an identifier becomes one underscore
_NOT_IDENTIFIER = re.compile(r"[^0-9A-Za-z_]+")
# names taken by the members of `Lookup` itself
_RESERVED = frozenset({"dict"})
# names shown by `repr` before it abbreviates
_REPR_NAMES = 10
# the lakecat package folder: frames inside it are not the user's
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def warn_user(message: str, category: type[Warning] = UserWarning) -> None:
    """
    Issue a warning attributed to the first caller outside lakecat.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn_user("2 records found for 't_cell'.")
    >>> str(caught[0].message)
    "2 records found for 't_cell'."
    """
    warnings.warn(message, category, stacklevel=_user_stacklevel())


def _user_stacklevel() -> int:
    """The `stacklevel` that points `warnings.warn` at the first frame outside us."""
    frame = sys._getframe(1)  # the caller of this helper, i.e. `warn_user`
    level = 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back
        level += 1
    return level


def to_attribute_name(value: str, prefix: str = "ln_") -> str | None:
    """
    Turn a field value into a Python attribute name (query spec §5.3).

    Every run of characters outside ``[0-9A-Za-z_]`` becomes one ``_`` and the
    result is lower-cased; a name that does not start with a letter gets `prefix`,
    and a Python keyword or ``dict`` (a member of `Lookup`) gets a trailing ``_``.

    Parameters
    ----------
    value
        The field value, such as a record name.
    prefix
        Put before names that would start with a digit or an underscore; public
        ontologies use ``"bt_"``.

    Returns
    -------
    str or None
        The attribute name, or `None` for an empty value.

    Examples
    --------
    >>> to_attribute_name("Experiment 1")
    'experiment_1'
    >>> to_attribute_name("CD8-positive, alpha-beta T cell")
    'cd8_positive_alpha_beta_t_cell'
    >>> to_attribute_name("1st sample")
    'ln_1st_sample'
    >>> to_attribute_name("Äpfel")
    'ln__pfel'
    >>> to_attribute_name("class")
    'class_'
    >>> to_attribute_name("") is None
    True
    """
    name = _NOT_IDENTIFIER.sub("_", value).lower()
    if not name:
        return None
    if not name[0].isalpha():
        name = f"{prefix}{name}"
    if keyword.iskeyword(name) or name in _RESERVED:
        name = f"{name}_"
    return name


class Lookup:
    """
    Field values as attributes: the object ``Registry.lookup()`` returns.

    Built from ``(raw value, object)`` pairs in source order; pairs whose raw value
    is not a non-empty string are skipped. Each raw value becomes an attribute
    through `to_attribute_name`. When several objects share an attribute, `keep`
    decides what it holds: ``"first"`` or ``"last"`` in source order, or `False`
    for a list of all (an attribute of one object holds the object); the first
    access of such an attribute warns.

    Besides attribute access a lookup behaves like the named tuple LaminDB returns:
    it iterates over its values, indexes them by position and has a length;
    ``dir()`` lists the names (for tab completion) and `dict` maps raw values to
    objects.

    Parameters
    ----------
    pairs
        ``(raw value, object)`` pairs in source order.
    keep
        Which object an attribute shared by several holds: ``"first"``, ``"last"``
        or `False` for a list of all.
    returns
        Values to hold instead of the objects (``return_field``), one per pair;
        `dict` still maps to the objects.
    prefix
        Passed to `to_attribute_name`.

    Examples
    --------
    >>> records = Lookup([("Experiment 1", 3), ("Experiment 2", 4), ("DMSO", 7)])
    >>> records.experiment_1
    3
    >>> records
    Lookup(experiment_1, experiment_2, dmso)
    >>> list(records), records[2], len(records)
    ([3, 4, 7], 7, 3)
    >>> records.dict()
    {'Experiment 1': 3, 'Experiment 2': 4, 'DMSO': 7}
    """

    __slots__ = (
        "_index",
        "_keep",
        "_names",
        "_objects",
        "_sizes",
        "_values",
        "_warned",
    )

    def __init__(
        self,
        pairs: Iterable[tuple[Any, Any]],
        *,
        keep: Keep = "first",
        returns: Sequence[Any] | None = None,
        prefix: str = "ln_",
    ) -> None:
        if not (keep is False or keep in ("first", "last")):
            msg = f"`keep` must be 'first', 'last' or False, got {keep!r}"
            raise ValueError(msg)
        pairs = list(pairs)
        if returns is not None and len(returns) != len(pairs):
            msg = (
                f"`returns` must hold one value per pair: got {len(returns)} values"
                f" for {len(pairs)} pairs"
            )
            raise ValueError(msg)
        shown = [obj for _, obj in pairs] if returns is None else list(returns)

        groups: dict[str, list[Any]] = {}
        objects: dict[str, list[Any]] = {}
        for (raw, obj), value in zip(pairs, shown, strict=True):
            if not isinstance(raw, str) or not raw:
                continue
            name = to_attribute_name(raw, prefix)
            groups.setdefault(name, []).append(value)
            objects.setdefault(raw, []).append(obj)

        self._keep = keep
        self._names = tuple(groups)
        self._values = tuple(_kept(group, keep) for group in groups.values())
        self._sizes = tuple(len(group) for group in groups.values())
        self._index = {name: i for i, name in enumerate(self._names)}
        self._objects = {
            raw: objs[0] if len(objs) == 1 else objs for raw, objs in objects.items()
        }
        self._warned: set[str] = set()

    def __getattr__(self, name: str) -> Any:
        # only called when normal lookup fails; private names are never field values
        if name.startswith("_"):
            raise AttributeError(name)
        position = self._index.get(name)
        if position is None:
            raise AttributeError(self._unknown(name))
        size = self._sizes[position]
        if size > 1 and name not in self._warned:
            self._warned.add(name)
            warn_user(
                f"{size} records found for '{name}'. "
                f"Returning based on keep='{self._keep}'."
            )
        return self._values[position]

    def __dir__(self) -> list[str]:
        return [*self._names, "dict"]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __getitem__(self, position: int | slice) -> Any:
        return self._values[position]

    def __len__(self) -> int:
        return len(self._names)

    def __repr__(self) -> str:
        names = list(self._names[:_REPR_NAMES])
        more = len(self._names) - len(names)
        if more:
            names.append(f"... {more} more")
        return f"Lookup({', '.join(names)})"

    def dict(self) -> dict[str, Any]:
        """
        Map each raw field value to its object, or to a list when several share it.

        Examples
        --------
        >>> Lookup([("T cell", 1), ("T-cell", 2), ("T cell", 3)]).dict()
        {'T cell': [1, 3], 'T-cell': 2}
        """
        return dict(self._objects)

    def _unknown(self, name: str) -> str:
        """The message for an attribute the lookup does not have."""
        close = difflib.get_close_matches(name, self._names, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        return f"'Lookup' object has no attribute '{name}'.{hint}"


def _kept(group: list[Any], keep: Keep) -> Any:
    """What an attribute shared by `group` holds under `keep`."""
    if len(group) == 1:
        return group[0]
    if keep == "first":
        return group[0]
    if keep == "last":
        return group[-1]
    return group
