"""The exception family.

Every error derives from `LakecatError`; each also derives from the builtin a user
would catch (`LookupError`, `ValueError`, `TypeError`), and carries structured
attributes so callers need not parse messages. `lakecat.errors` re-exports them
under LaminDB's names.
"""

from __future__ import annotations


class LakecatError(Exception):
    """Base class of every lakecat error."""


class FieldError(LakecatError, LookupError):
    """A lookup names a field, relation or comparator the registry does not have."""

    def __init__(
        self,
        message: str,
        *,
        registry: str | None = None,
        field: str | None = None,
        allowed: list[str] | tuple[str, ...] | None = None,
    ) -> None:
        super().__init__(message)
        self.registry = registry
        self.field = field
        self.allowed = list(allowed or [])


class InvalidArgument(LakecatError, ValueError):
    """An argument that is neither a field nor a feature, or is otherwise invalid."""

    def __init__(self, message: str, *, registry: str | None = None, names=()) -> None:
        super().__init__(message)
        self.registry = registry
        self.names = list(names)


class ValidationError(LakecatError, ValueError):
    """A value does not fit the field or feature it is meant for."""

    def __init__(
        self, message: str, *, registry: str | None = None, field=None
    ) -> None:
        super().__init__(message)
        self.registry = registry
        self.field = field


class FieldTypeError(LakecatError, TypeError):
    """A comparator or value whose type does not fit the field's dtype."""

    def __init__(self, message: str, *, registry=None, field=None, allowed=()) -> None:
        super().__init__(message)
        self.registry = registry
        self.field = field
        self.allowed = list(allowed)


class FieldValueError(ValidationError, TypeError):
    """A lookup value of the wrong type for its field (a ValueError and a TypeError)."""


class DoesNotExist(LakecatError, LookupError):
    """No row matched where exactly one was expected."""


class MultipleResultsFound(LakecatError, LookupError):
    """Several rows matched where at most one was expected."""


class UnsupportedError(LakecatError, NotImplementedError):
    """A combination lakecat knows of and does not support."""


class StorageError(LakecatError, OSError):
    """The catalog's storage is missing, damaged, newer than us, or read-only."""


class ConflictError(LakecatError, RuntimeError):
    """A write kept conflicting with concurrent writers and was given up."""

    def __init__(self, message: str, *, table: str | None = None) -> None:
        super().__init__(message)
        self.table = table


# LaminDB 2.x names
ObjectDoesNotExist = DoesNotExist
MultipleObjectsReturned = MultipleResultsFound
