"""Managers of to-many relations: `artifact.records`, `record.parents`, `type.records`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lakecat.catalog import instance
from lakecat.engine.lookups import Q

if TYPE_CHECKING:
    from lakecat.catalog.queryset import QuerySet
    from lakecat.catalog.record import SQLRecord


class RelatedManager:
    """The records on the other side of one to-many relation of one record.

    Behaves as a QuerySet (`filter`, `to_dataframe`, `count`, iteration, …) and adds
    `add()`, `remove()` and `set()` for many-to-many relations.
    """

    def __init__(self, owner: SQLRecord, name: str) -> None:
        self.owner = owner
        self.name = name
        catalog = instance.current()
        self.relation = catalog.index.relations[owner._schema.qualified_name][name]

    def _queryset(self) -> QuerySet:
        from lakecat.catalog.queryset import QuerySet
        from lakecat.catalog.record import REGISTRY_CLASSES

        target = REGISTRY_CLASSES[self.relation.target]
        reverse = _reverse_name(self.relation)
        if self.owner.id is None:
            return QuerySet(target, scoped=False).filter(Q(id__in=[]))
        if reverse is not None:
            return QuerySet(target, scoped=False).filter(Q(**{reverse: self.owner.id}))
        return QuerySet(target, scoped=False).filter(Q(id__in=self._target_ids()))

    def _target_ids(self) -> list[int]:
        import polars as pl

        catalog = instance.current()
        relation = self.relation
        if relation.kind == "reverse_fk":
            frame = catalog.frame(catalog.index.registry(relation.target).table)
            return frame.filter(pl.col(relation.column) == self.owner.id)["id"].to_list()
        links = catalog.frame(relation.link.table)
        links = links.filter(pl.col(relation.source_column) == self.owner.id)
        return links[relation.target_column].to_list()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._queryset(), name)

    def __iter__(self):
        return iter(self._queryset())

    def __len__(self) -> int:
        return len(self._queryset())

    def __repr__(self) -> str:
        return f"<{type(self.owner).__name__}.{self.name}: {self._queryset()!r}>"

    def all(self) -> QuerySet:
        return self._queryset()

    def add(self, *records: SQLRecord, feature: SQLRecord | None = None) -> None:
        """Link records (once each); `feature` says which feature they annotate."""
        catalog = instance.current()
        relation = self.relation
        if relation.kind != "m2m":
            msg = f"{type(self.owner).__name__}.{self.name} is not many-to-many; set the foreign key on the other side"
            raise TypeError(msg)
        owner_id = self._saved_id()
        targets = [_checked(self, r) for r in _flatten(records)]
        feature_id = None if feature is None else feature.id
        link = relation.link
        has_feature = any(f.name == "feature_id" for f in link.extra)
        import polars as pl

        existing = catalog.frame(link.table).filter(pl.col(relation.source_column) == owner_id)
        if has_feature:
            existing = existing.filter(pl.col("feature_id").eq_missing(feature_id))
        present = set(existing[relation.target_column].to_list())
        new = [t for t in dict.fromkeys(targets) if t not in present]
        if not new:
            return
        ids = catalog.allocate_ids(link.table, len(new))
        now = instance.now()
        rows = []
        for link_id, target in zip(ids, new):
            row = {"id": link_id, relation.source_column: owner_id,
                   relation.target_column: target, "created_at": now}  # fmt: skip
            if has_feature:
                row["feature_id"] = feature_id
            rows.append(row)
        catalog.insert(link.table, rows)

    def remove(self, *records: SQLRecord) -> None:
        import polars as pl

        catalog = instance.current()
        relation = self.relation
        owner_id = self._saved_id()
        targets = {_checked(self, r) for r in _flatten(records)}
        links = catalog.frame(relation.link.table).filter(
            (pl.col(relation.source_column) == owner_id)
            & pl.col(relation.target_column).is_in(list(targets))
        )
        catalog.delete_rows(relation.link.table, "id", links["id"].to_list())

    def set(self, records) -> None:
        with instance.current().batching():
            self.remove(*self.all())
            self.add(*records)

    def _saved_id(self) -> int:
        if self.owner.id is None:
            msg = f"save the {type(self.owner).__name__} before linking records to it"
            raise ValueError(msg)
        return self.owner.id


def _reverse_name(relation) -> str | None:
    """For a reverse foreign key, the forward lookup on the target (`type`)."""
    if relation.kind == "reverse_fk":
        return relation.column
    return None


def _flatten(records) -> list:
    flat = []
    for r in records:
        if isinstance(r, (list, tuple, set)) or hasattr(r, "__lakecat_ids__"):
            flat.extend(r)
        else:
            flat.append(r)
    return flat


def _checked(manager: RelatedManager, record: Any) -> int:
    from lakecat.catalog.record import REGISTRY_CLASSES

    target = REGISTRY_CLASSES[manager.relation.target]
    if not isinstance(record, target):
        msg = f"{type(manager.owner).__name__}.{manager.name} takes {target.__name__} records, got {record!r}"
        raise TypeError(msg)
    if record.id is None:
        msg = f"save the {target.__name__} {record!r} before linking it"
        raise ValueError(msg)
    return record.id
