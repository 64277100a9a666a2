"""LaminDB-compatible exception names: `lc.errors.DoesNotExist`, `FieldError`, …"""

from lakecat.engine.errors import (
    ConflictError,
    DoesNotExist,
    FieldError,
    FieldTypeError,
    FieldValueError,
    InvalidArgument,
    LakecatError,
    MultipleObjectsReturned,
    MultipleResultsFound,
    ObjectDoesNotExist,
    StorageError,
    UnsupportedError,
    ValidationError,
)

__all__ = [
    "ConflictError",
    "DoesNotExist",
    "FieldError",
    "FieldTypeError",
    "FieldValueError",
    "InvalidArgument",
    "LakecatError",
    "MultipleObjectsReturned",
    "MultipleResultsFound",
    "ObjectDoesNotExist",
    "StorageError",
    "UnsupportedError",
    "ValidationError",
]
