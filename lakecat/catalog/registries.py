"""The core registries without behaviour of their own beyond `SQLRecord`'s."""

from __future__ import annotations

from typing import Any

from lakecat.catalog.record import SQLRecord
from lakecat.schemas import core

__all__ = [
    "Branch",
    "Collection",
    "FeatureValue",
    "Project",
    "Record",
    "Run",
    "Schema",
    "Space",
    "Storage",
    "Transform",
    "ULabel",
    "User",
]


class _Named(SQLRecord):
    """Registries whose name is unique within its type: saving a name again returns it."""

    @classmethod
    def _existing(cls, *args: Any, **kwargs: Any):
        name = kwargs.get("name")
        if not isinstance(name, str):
            return None  # the constructor reports a wrong type
        type_ = kwargs.get("type")
        if type_ is not None and not isinstance(type_, SQLRecord):
            return None
        lookups = {"name": name, "type_id": None if type_ is None else type_.id}
        return cls.filter(**lookups).first()


class User(SQLRecord, schema=core.USER):
    """People who create and annotate records."""


class Space(SQLRecord, schema=core.SPACE):
    """Access spaces; kept for compatibility, they do not restrict queries."""


class Branch(SQLRecord, schema=core.BRANCH):
    """Branches: 1 main, 0 archive, -1 trash, more for drafts."""


class Storage(SQLRecord, schema=core.STORAGE):
    """Storage locations of artifact bytes."""


class Transform(SQLRecord, schema=core.TRANSFORM):
    """Notebooks, scripts and pipelines that create data."""


class Run(SQLRecord, schema=core.RUN):
    """Executions of transforms, with their parameters."""


class Collection(SQLRecord, schema=core.COLLECTION):
    """Versioned collections of artifacts."""


class Record(_Named, schema=core.RECORD):
    """Labels, samples, experiments: typed by other records with `is_type=True`."""


class ULabel(_Named, schema=core.ULABEL):
    """Simple labels."""


class FeatureValue(SQLRecord, schema=core.FEATURE_VALUE):
    """Distinct non-categorical feature values, shared across artifacts."""


class Schema(SQLRecord, schema=core.SCHEMA):
    """Sets of features or genes that describe a dataset's columns."""


class Project(_Named, schema=core.PROJECT):
    """Projects that artifacts and records belong to."""
