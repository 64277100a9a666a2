"""The public surface of `lakecat`, gathered in one place."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from lakecat.catalog import instance
from lakecat.catalog.artifact import Artifact
from lakecat.catalog.batch import Batch
from lakecat.catalog.discovery import view
from lakecat.catalog.features import Feature
from lakecat.catalog.instance import connect, init
from lakecat.catalog.record import SQLRecord
from lakecat.catalog.registries import (
    Branch,
    Collection,
    FeatureValue,
    Project,
    Record,
    Run,
    Schema,
    Space,
    Storage,
    Transform,
    ULabel,
    User,
)
from lakecat.catalog.tracking import finish, track
from lakecat.engine.lookups import Q

__all__ = [
    "Artifact",
    "Branch",
    "Collection",
    "Feature",
    "FeatureValue",
    "Project",
    "Q",
    "Record",
    "Run",
    "Schema",
    "Space",
    "Storage",
    "Transform",
    "ULabel",
    "User",
    "batch",
    "connect",
    "finish",
    "init",
    "optimize",
    "save",
    "settings",
    "track",
    "view",
]


@contextmanager
def batch() -> Iterator[Batch]:
    """Buffer every save, annotation and link; commit them together at the end.

    One commit per table touched; nothing is written if the block raises; queries
    inside the block see its own buffered records.

    >>> with lc.batch():  # doctest: +SKIP
    ...     for path in paths:
    ...         lc.Artifact(path, key=path.name).save()
    """
    with instance.current().batching() as pending:
        yield pending


def save(records: Iterable[SQLRecord]) -> list[SQLRecord]:
    """Save many records with one commit per table."""
    records = list(records)
    with instance.current().batching():
        for record in records:
            record.save()
    return records


def optimize(*, vacuum_hours: float | None = None) -> dict[str, Any]:
    """Compact small files, checkpoint and vacuum every table of the catalog."""
    from lakecat.engine.maintenance import optimize_tables

    return optimize_tables(instance.current().tables, vacuum_hours=vacuum_hours)


class _Settings:
    """`lc.settings`: the connected catalog and user-facing switches."""

    @property
    def catalog(self) -> instance.Catalog:
        return instance.current()

    @property
    def root(self) -> str:
        return instance.current().root

    @property
    def branch_id(self) -> int:
        return instance.current().branch_id

    @branch_id.setter
    def branch_id(self, value: int) -> None:
        instance.current().branch_id = value

    @property
    def verbosity(self) -> str:
        import logging

        return logging.getLevelName(logging.getLogger("lakecat.user").level)

    @verbosity.setter
    def verbosity(self, level: str) -> None:
        from lakecat.catalog.messages import set_verbosity

        set_verbosity(level)

    def __repr__(self) -> str:
        try:
            return f"<lakecat settings: {instance.current()!r}>"
        except Exception:  # not connected
            return "<lakecat settings: no catalog connected>"


settings = _Settings()
