"""Biological registries filled from public ontologies shipped with packages.

`import lakecat.bio as bt`, then `bt.CellType.import_source()` loads the pinned
Cell Ontology into the registry in one bulk write, `bt.CellType.from_source(name=
"T cell")` makes one record (saving it also saves its ancestors, linked as parents),
and `bt.CellType.public()` searches the whole ontology without saving anything.
Uids derive from ontology ids, so a term has the same uid in every catalog.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import polars as pl

from lakecat.bio import _public, sources
from lakecat.bio._public import InspectResult, PublicOntology
from lakecat.catalog import instance
from lakecat.catalog.messages import inform
from lakecat.catalog.record import SQLRecord
from lakecat.engine import errors
from lakecat.schemas import bio as schemas

if TYPE_CHECKING:
    import numpy as np

    from lakecat.catalog.queryset import QuerySet

__all__ = [
    "CellType",
    "DevelopmentalStage",
    "Disease",
    "Ethnicity",
    "ExperimentalFactor",
    "Gene",
    "InspectResult",
    "Organism",
    "Phenotype",
    "PublicOntology",
    "Source",
    "Tissue",
]

logger = logging.getLogger(__name__)

#: imports taking longer than this many rows show a progress bar on a terminal
PROGRESS_ROWS = 20_000


class Source(SQLRecord, schema=schemas.SOURCE):
    """Where a registry's public terms come from: ontology name and pinned version."""


class BioRecord(SQLRecord):
    """A record of a registry backed by a public reference table."""

    _entity: str = ""
    #: the column that identifies a term in its public table
    _key_field = "ontology_id"
    _uid_length = 8

    def __init__(self, **kwargs: Any) -> None:
        self._pending_terms: list[dict[str, Any]] = []
        super().__init__(**kwargs)

    @classmethod
    def _catalog(cls) -> instance.Catalog:
        catalog = instance.current()
        if "bio" not in catalog.modules:
            msg = (
                f"bt.{cls.__name__} needs the bio module; create the catalog with "
                "lc.init(storage=..., modules=['bio'])"
            )
            raise errors.UnsupportedError(msg)
        return catalog

    # public reference

    @classmethod
    def public(
        cls, organism: str | None = None, version: str | None = None
    ) -> PublicOntology:
        """The whole pinned public table, searchable (`.search("b cell")`)."""
        return PublicOntology(cls._entity, organism, version)

    @classmethod
    def _reference(cls, organism: str | None = None) -> pl.DataFrame:
        return _public.reference_frame(cls._entity, organism)

    @classmethod
    def _source_record(cls, organism: str | None = None) -> Source:
        spec = _public.source_spec(cls._entity, organism)
        entity = f"bionty.{cls._entity}"
        found = Source.filter(
            entity=entity, name=spec.name, version=spec.version
        ).first()
        if found is not None:
            return found
        key = f"{entity}{spec.name}{spec.organism}{spec.version}"
        return Source(
            uid=sources.ontology_uid(key),
            entity=entity,
            organism=spec.organism,
            name=spec.name,
            version=spec.version,
            description=spec.description,
            url=spec.url,
            source_website=spec.website,
            currently_used=True,
            in_db=False,
        ).save()

    @classmethod
    def _row_from_term(cls, term: dict[str, Any], source_id: int) -> dict[str, Any]:
        fields = {f.name for f in cls._schema.fields}
        row = {k: v for k, v in term.items() if k in fields}
        row["uid"] = sources.ontology_uid(term[cls._key_field], cls._uid_length)
        row["source_id"] = source_id
        return row

    @classmethod
    def import_source(cls, organism: str | None = None) -> int:
        """Save every term of the pinned source (and is-a links) in one bulk write.

        Terms already in the registry are skipped. Returns how many were added.
        """
        catalog = cls._catalog()
        reference = cls._reference(organism)
        source = cls._source_record(organism)
        table = cls._schema.table
        present = catalog.frame(table).get_column(cls._key_field).drop_nulls()
        new = reference.filter(~pl.col(cls._key_field).is_in(present.implode()))
        if new.is_empty():
            return 0
        progress = _progress(cls.__name__, new.height)
        with catalog.batching():
            ids = catalog.allocate_ids(table, new.height)
            rows = cls._bulk_rows(catalog, new, source.id, ids)
            catalog.insert(table, rows)
            progress(new.height // 2)
            if "parents" in new.columns:
                cls._insert_parent_links(catalog, new.select(cls._key_field, "parents"))
            progress(new.height - new.height // 2)
        source._values["in_db"] = True
        source.save()
        inform(
            f"imported {new.height} {cls.__name__} records from {source.name} {source.version}"
        )
        return new.height

    @classmethod
    def _bulk_rows(
        cls, catalog, frame: pl.DataFrame, source_id: int, ids: range
    ) -> list[dict]:
        now = instance.now()
        fields = [f.name for f in cls._schema.fields]
        key = cls._key_field
        uid_length = cls._uid_length
        frame = frame.with_columns(
            pl.Series("id", list(ids), dtype=pl.Int64),
            pl.col(key)
            .map_elements(
                lambda v: sources.ontology_uid(v, uid_length), return_dtype=pl.String
            )
            .alias("uid"),
            pl.lit(source_id, dtype=pl.Int64).alias("source_id"),
            pl.lit(now).alias("created_at"),
            pl.lit(now).alias("updated_at"),
            pl.lit(catalog.user_id, dtype=pl.Int64).alias("created_by_id"),
            pl.lit(catalog.run_id, dtype=pl.Int64).alias("run_id"),
            pl.lit(1, dtype=pl.Int64).alias("space_id"),
            pl.lit(1, dtype=pl.Int64).alias("branch_id"),
            pl.lit(False).alias("is_locked"),
        )
        if "organism_id" in fields and "organism" in frame.columns:
            frame = frame.with_columns(
                pl.lit(None, dtype=pl.Int64).alias("organism_id")
            )
        return frame.select([c for c in fields if c in frame.columns]).to_dicts()

    @classmethod
    def _insert_parent_links(cls, catalog, terms: pl.DataFrame) -> None:
        relation = catalog.index.relations[cls._schema.qualified_name]["parents"]
        link = relation.link
        registry = catalog.frame(cls._schema.table).select("id", cls._key_field)
        pairs = (
            terms.explode("parents")
            .drop_nulls("parents")
            .join(registry, on=cls._key_field)
            .rename({"id": link.source_column})
            .join(
                registry.rename({cls._key_field: "parents", "id": link.target_column}),
                on="parents",
            )
        )
        existing = catalog.frame(link.table).select(
            link.source_column, link.target_column
        )
        pairs = pairs.select(link.source_column, link.target_column).join(
            existing, on=[link.source_column, link.target_column], how="anti"
        )
        if pairs.is_empty():
            return
        ids = catalog.allocate_ids(link.table, pairs.height)
        now = instance.now()
        rows = pairs.with_columns(
            pl.Series("id", list(ids), dtype=pl.Int64), pl.lit(now).alias("created_at")
        ).to_dicts()
        catalog.insert(link.table, rows)

    @classmethod
    def from_source(
        cls, *, organism: str | None = None, **kwargs: Any
    ) -> BioRecord | None:
        """A record for one public term, by `name=`, `ontology_id=`, synonym, ….

        Returns the saved record if the term is already in the registry, else an
        unsaved one; saving it also saves its ancestors, linked as parents.
        """
        if len(kwargs) != 1:
            msg = f"{cls.__name__}.from_source() takes one field, e.g. name='T cell'"
            raise TypeError(msg)
        ((field, value),) = kwargs.items()
        reference = cls._reference(organism)
        if field not in reference.columns:
            msg = f"{cls.__name__}.from_source(): unknown field {field!r}; use one of {reference.columns}"
            raise errors.FieldError(msg, registry=cls.__name__, field=field)
        hits = reference.filter(pl.col(field) == value)
        if hits.is_empty() and field in ("name", "symbol"):
            hits = _by_synonym(reference, value)
        if hits.is_empty():
            return None
        term = hits.row(0, named=True)
        existing = cls.objects.filter(**{cls._key_field: term[cls._key_field]}).first()
        if existing is not None:
            return existing
        return cls._unsaved(term, organism)

    @classmethod
    def _unsaved(cls, term: dict[str, Any], organism: str | None) -> BioRecord:
        fields = {f.name for f in cls._schema.fields}
        values = {k: v for k, v in term.items() if k in fields and k not in ("id",)}
        record = cls(**values)
        record._values["uid"] = sources.ontology_uid(
            term[cls._key_field], cls._uid_length
        )
        record._pending_terms = [term]
        record._organism = organism
        return record

    @classmethod
    def from_values(
        cls, values, field: str | None = None, organism: str | None = None
    ) -> list[BioRecord]:
        """Records for the values that validate (names, synonyms or ids)."""
        field = field or cls._schema.default_name_field
        values = list(dict.fromkeys(values))
        registry = cls.objects.filter(**{f"{field}__in": values})
        found = {getattr(r, field): r for r in registry}
        reference = cls._reference(organism)
        standardized = _public.standardize(reference, values, field)
        out = []
        for value, canonical in zip(values, standardized, strict=True):
            if value in found:
                out.append(found[value])
                continue
            hits = reference.filter(pl.col(field) == canonical)
            if hits.height:
                term = hits.row(0, named=True)
                existing = cls.objects.filter(
                    **{cls._key_field: term[cls._key_field]}
                ).first()
                out.append(existing or cls._unsaved(term, organism))
        return out

    def save(self) -> BioRecord:
        if self.id is not None or not self._pending_terms:
            return super().save()
        catalog = self._catalog()
        term = self._pending_terms[0]
        source = self._source_record(getattr(self, "_organism", None))
        self._values["source_id"] = source.id
        with catalog.batching():
            super().save()
            ancestors = term.get("ancestors") or []
            if ancestors:
                reference = self._reference(getattr(self, "_organism", None))
                present = catalog.frame(self._schema.table).get_column(self._key_field)
                missing = reference.filter(
                    pl.col(self._key_field).is_in(ancestors)
                    & ~pl.col(self._key_field).is_in(present.implode())
                )
                if missing.height:
                    ids = catalog.allocate_ids(self._schema.table, missing.height)
                    catalog.insert(
                        self._schema.table,
                        self._bulk_rows(catalog, missing, source.id, ids),
                    )
                family = reference.filter(
                    pl.col(self._key_field).is_in([*ancestors, term[self._key_field]])
                )
                self._insert_parent_links(
                    catalog, family.select(self._key_field, "parents")
                )
        self._pending_terms = []
        return self

    # validation against the registry

    @classmethod
    def _registry_frame(cls) -> pl.DataFrame:
        catalog = cls._catalog()
        frame = catalog.frame(cls._schema.table)
        return frame.filter(pl.col("branch_id") == 1)

    @classmethod
    def validate(cls, values, field: str | None = None) -> np.ndarray:
        """Which values are in the registry's `field` (default: its name field)."""
        return _public.validate(
            cls._registry_frame(), values, field or cls._schema.default_name_field
        )

    @classmethod
    def inspect(cls, values, field: str | None = None) -> InspectResult:
        """Valid values, synonyms of valid values, and unknown values."""
        return _public.inspect(
            cls._registry_frame(), values, field or cls._schema.default_name_field
        )

    @classmethod
    def standardize(cls, values, field: str | None = None) -> list[Any]:
        """Synonyms replaced by the registry's names; unknown values unchanged."""
        return _public.standardize(
            cls._registry_frame(), values, field or cls._schema.default_name_field
        )

    # hierarchy

    def query_parents(self) -> QuerySet:
        """All ancestors (transitive parents)."""
        return self._closure("up")

    def query_children(self) -> QuerySet:
        """All descendants (transitive children)."""
        return self._closure("down")

    def _closure(self, direction: str) -> QuerySet:
        catalog = instance.current()
        relation = catalog.index.relations[self._schema.qualified_name]["parents"]
        links = catalog.frame(relation.link.table)
        src, dst = relation.source_column, relation.target_column
        if direction == "down":
            src, dst = dst, src
        frontier = {self.id}
        seen: set[int] = set()
        while frontier:
            step = links.filter(pl.col(src).is_in(list(frontier)))[dst].to_list()
            frontier = set(step) - seen
            seen |= frontier
        return type(self).objects.filter(id__in=sorted(seen))


def _by_synonym(reference: pl.DataFrame, value: str) -> pl.DataFrame:
    if "synonyms" not in reference.columns:
        return reference.head(0)
    lowered = value.lower()
    return reference.filter(
        pl.col("synonyms").str.to_lowercase().str.split("|").list.contains(lowered)
    )


def _progress(name: str, total: int):
    """A tqdm bar for large imports on a terminal; silent otherwise."""
    import sys

    if total < PROGRESS_ROWS or not sys.stderr.isatty():
        return lambda n: None
    try:
        from tqdm import tqdm
    except ImportError:
        return lambda n: None
    bar = tqdm(total=total, desc=f"importing {name}", unit="term")

    def advance(n: int) -> None:
        bar.update(n)
        if bar.n >= total:
            bar.close()

    return advance


def _ontology_class(name: str, doc: str) -> type[BioRecord]:
    schema = next(s for s in schemas.ONTOLOGIES if s.name == name)
    return type(name, (BioRecord,), {"__doc__": doc, "_entity": name, "__module__": __name__},
                schema=schema)  # fmt: skip


CellType = _ontology_class("CellType", "Cell types from the Cell Ontology (CL).")
Tissue = _ontology_class("Tissue", "Tissues from Uberon.")
Disease = _ontology_class("Disease", "Diseases from Mondo.")
DevelopmentalStage = _ontology_class(
    "DevelopmentalStage", "Developmental stages (HsapDv, MmusDv)."
)
ExperimentalFactor = _ontology_class(
    "ExperimentalFactor", "Experimental factors from EFO."
)
Ethnicity = _ontology_class("Ethnicity", "Ancestry categories from HANCESTRO.")
Phenotype = _ontology_class("Phenotype", "Phenotypic qualities from PATO.")


class Organism(BioRecord, schema=schemas.ORGANISM):
    """Organisms: a curated table of common species with NCBITaxon ids."""

    _entity = "Organism"


class Gene(BioRecord, schema=schemas.GENE):
    """Genes from GENCODE (human and mouse), by symbol and Ensembl id."""

    _entity = "Gene"
    _key_field = "ensembl_gene_id"
    _uid_length = 12

    @classmethod
    def _reference(cls, organism: str | None = None) -> pl.DataFrame:
        return _public.reference_frame("Gene", organism or "human")

    @classmethod
    def _bulk_rows(cls, catalog, frame, source_id, ids):
        rows = super()._bulk_rows(catalog, frame, source_id, ids)
        organism = _organism_id(frame)
        for row in rows:
            row["organism_id"] = organism
        return rows

    def save(self) -> Gene:
        if (
            self.id is None
            and self._values.get("organism_id") is None
            and self._pending_terms
        ):
            self._values["organism_id"] = _organism_id(
                pl.DataFrame(self._pending_terms)
            )
        return super().save()


def _organism_id(frame: pl.DataFrame) -> int | None:
    """The id of the organism of a gene table, creating the Organism record if needed."""
    if "organism" not in frame.columns or frame.is_empty():
        return None
    name = frame.get_column("organism")[0]
    record = Organism.objects.filter(name=name).first() or Organism.from_source(
        name=name
    )
    if record is None:
        return None
    if record.id is None:
        record.save()
    return record.id
