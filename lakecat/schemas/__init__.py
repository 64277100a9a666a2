"""Declarative table definitions, and the index that ties modules together.

`SchemaIndex` answers what the engine asks of a catalog's schema: which tables
exist, what a registry's relations are (forward and reverse), and which link
tables carry them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from lakecat.schemas import bio, core
from lakecat.schemas._base import (
    COMPARATORS_BY_DTYPE,
    Dtype,
    Field,
    ForeignKey,
    LinkTable,
    ManyToMany,
    RegistrySchema,
    Relation,
)

__all__ = [
    "COMPARATORS_BY_DTYPE",
    "MODULES",
    "Dtype",
    "Field",
    "ForeignKey",
    "LinkTable",
    "ManyToMany",
    "RegistrySchema",
    "Relation",
    "SchemaIndex",
    "index_for",
]

MODULES = {"core": core, "bio": bio}


@dataclass(frozen=True)
class TableSpec:
    """What the storage layer needs to know of one Delta table."""

    module: str
    name: str
    fields: tuple[Field, ...]


class SchemaIndex:
    """All registries and relations of a catalog with the given modules."""

    def __init__(self, modules: tuple[str, ...]) -> None:
        unknown = [m for m in modules if m not in MODULES]
        if unknown:
            msg = f"unknown module(s) {unknown}; available: {sorted(MODULES)}"
            raise ValueError(msg)
        self.modules = ("core", *(m for m in modules if m != "core"))
        self.registries: dict[str, RegistrySchema] = {}
        for module in self.modules:
            for registry in MODULES[module].REGISTRIES:
                self.registries[registry.qualified_name] = registry
        self.many_to_many: dict[str, list[ManyToMany]] = {
            name: list(r.many_to_many) for name, r in self.registries.items()
        }
        for module in self.modules:
            for owner, m2m in getattr(MODULES[module], "EXTENSIONS", ()):
                self.many_to_many[owner].append(m2m)
        self.relations = self._build_relations()

    def registry(self, name: str) -> RegistrySchema:
        return self.registries[name]

    def tables(self) -> list[TableSpec]:
        """Every Delta table: registries first, then link tables."""
        specs = [
            TableSpec(r.module, r.table, r.fields) for r in self.registries.values()
        ]
        seen = set()
        for m2ms in self.many_to_many.values():
            for m2m in m2ms:
                if m2m.link.table not in seen:
                    seen.add(m2m.link.table)
                    specs.append(
                        TableSpec(m2m.link.module, m2m.link.table, m2m.link.fields)
                    )
        for module in self.modules:  # hidden tables that are not link tables
            internal = getattr(MODULES[module], "INTERNAL_TABLES", {})
            specs += [TableSpec(module, t, fields) for t, fields in internal.items()]
        return specs

    def link_tables(self) -> dict[str, LinkTable]:
        return {
            m2m.link.table: m2m.link
            for m2ms in self.many_to_many.values()
            for m2m in m2ms
        }

    def _build_relations(self) -> dict[str, dict[str, Relation]]:
        relations: dict[str, dict[str, Relation]] = {n: {} for n in self.registries}
        for name, registry in self.registries.items():
            for fk in registry.foreign_keys:
                if fk.target not in self.registries:
                    continue
                relations[name][fk.name] = Relation(
                    fk.name, "fk", name, fk.target, column=fk.column
                )
                if fk.related_name:
                    relations[fk.target].setdefault(
                        fk.related_name,
                        Relation(
                            fk.related_name,
                            "reverse_fk",
                            fk.target,
                            name,
                            column=fk.column,
                        ),
                    )
        for name, m2ms in self.many_to_many.items():
            for m2m in m2ms:
                if m2m.target not in self.registries:
                    continue
                link = m2m.link
                relations[name][m2m.name] = Relation(
                    m2m.name,
                    "m2m",
                    name,
                    m2m.target,
                    link=link,
                    source_column=link.source_column,
                    target_column=link.target_column,
                )
                if m2m.related_name:
                    relations[m2m.target].setdefault(
                        m2m.related_name,
                        Relation(
                            m2m.related_name,
                            "m2m",
                            m2m.target,
                            name,
                            link=link,
                            source_column=link.target_column,
                            target_column=link.source_column,
                        ),
                    )
        return relations

    def query_names(self, registry: str) -> list[str]:
        """Public names `filter()` accepts on `registry`, sorted; for error messages."""
        schema = self.registries[registry]
        names = {f.name for f in schema.fields}
        names.update(self.relations[registry])
        return sorted(n for n in names if not n.startswith(("_", "links_")))


@cache
def index_for(modules: tuple[str, ...]) -> SchemaIndex:
    return SchemaIndex(modules)
