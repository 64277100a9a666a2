"""Public reference tables (ontologies, genes, organisms) as searchable frames.

`bt.CellType.public()` returns a `PublicOntology`: the whole pinned ontology in
memory, with the same `search()` ranking as registries, `lookup()`, and
`validate` / `inspect` / `standardize` against names and synonyms.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import polars as pl

from lakecat.bio import sources

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


@dataclass(frozen=True)
class InspectResult:
    """What `inspect()` found: valid values, synonyms of valid values, unknown ones."""

    validated: list[str]
    non_validated: list[str]
    synonyms_mapper: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (
            f"InspectResult(validated={len(self.validated)}, "
            f"non_validated={self.non_validated!r}, synonyms={self.synonyms_mapper!r})"
        )


def reference_frame(
    entity: str, organism: str | None = None, version: str | None = None
) -> pl.DataFrame:
    """The public table behind a bio registry, with lakecat's column names."""
    if entity == "Gene":
        return sources.load_genes(organism or "human")
    if entity == "Organism":
        return sources.load_organisms()
    return sources.load_ontology(entity, version=version, organism=organism)


def source_spec(entity: str, organism: str | None = None) -> sources.SourceSpec:
    if entity == "Gene":
        return sources.GENE_SOURCES[organism or "human"]
    if entity == "Organism":
        return sources.ORGANISM_SOURCE
    return sources.get_source(entity, organism)


def synonym_map(frame: pl.DataFrame, field: str) -> dict[str, str]:
    """Lower-cased synonym → canonical value of `field`."""
    if "synonyms" not in frame.columns:
        return {}
    pairs = (
        frame.select(pl.col(field), pl.col("synonyms").str.split("|"))
        .explode("synonyms")
        .drop_nulls()
    )
    out: dict[str, str] = {}
    for value, synonym in pairs.iter_rows():
        out.setdefault(synonym.lower(), value)
    return out


def validate(frame: pl.DataFrame, values, field: str) -> np.ndarray:
    """A boolean array: which values are in `field` (case-sensitive, as LaminDB)."""
    series = pl.Series("v", list(values), dtype=pl.String)
    known = frame.get_column(field).drop_nulls()
    return series.is_in(known.implode()).fill_null(False).to_numpy()


def inspect(frame: pl.DataFrame, values, field: str) -> InspectResult:
    values = list(values)
    valid = validate(frame, values, field)
    synonyms = synonym_map(frame, field)
    validated = [v for v, ok in zip(values, valid, strict=True) if ok]
    rest = [v for v, ok in zip(values, valid, strict=True) if not ok]
    mapper = {
        v: synonyms[v.lower()]
        for v in rest
        if isinstance(v, str) and v.lower() in synonyms
    }
    return InspectResult(validated, [v for v in rest if v not in mapper], mapper)


def standardize(frame: pl.DataFrame, values, field: str) -> list[Any]:
    """Synonyms replaced by their canonical value; everything else unchanged."""
    values = list(values)
    known = set(frame.get_column(field).drop_nulls().to_list())
    synonyms = synonym_map(frame, field)
    lowered = {k.lower(): k for k in known}
    out = []
    for v in values:
        if v in known or not isinstance(v, str):
            out.append(v)
        else:
            out.append(synonyms.get(v.lower(), lowered.get(v.lower(), v)))
    return out


class PublicOntology:
    """A pinned public reference table: `bt.CellType.public()`."""

    def __init__(
        self, entity: str, organism: str | None = None, version: str | None = None
    ) -> None:
        self.entity = entity
        self.organism = organism
        self.source = source_spec(entity, organism)
        self.frame = reference_frame(entity, organism, version)
        self.name_field = "symbol" if entity == "Gene" else "name"

    def __repr__(self) -> str:
        s = self.source
        return (
            f"PublicOntology(entity={self.entity!r}, source={s.name!r}, "
            f"version={s.version!r}, terms={self.frame.height})"
        )

    def to_polars(self) -> pl.DataFrame:
        return self.frame

    def to_dataframe(self) -> pd.DataFrame:
        index = "ensembl_gene_id" if self.entity == "Gene" else "ontology_id"
        return self.frame.to_pandas().set_index(index)

    df = to_dataframe

    def search(self, string: str, *, field=None, limit: int | None = None,
               case_sensitive: bool = False) -> pd.DataFrame:  # fmt: skip
        """Ranked matches as a DataFrame indexed by ontology id, best first."""
        from lakecat.engine.search import rank

        fields = (
            [field] if isinstance(field, str) else list(field or self._text_fields())
        )
        frame = self.frame.with_row_index("__row")
        ranked = rank(frame, string, fields, case_sensitive=case_sensitive, limit=limit,
                      id_column="__row")  # fmt: skip
        index = "ensembl_gene_id" if self.entity == "Gene" else "ontology_id"
        return ranked.drop("__row", "__score").to_pandas().set_index(index)

    def _text_fields(self) -> list[str]:
        return [c for c, t in self.frame.schema.items() if t == pl.String]

    def lookup(self, field: str | None = None):
        from lakecat.engine.naming import Lookup

        field = field or self.name_field
        rows = self.frame.filter(pl.col(field).is_not_null()).to_dicts()
        pairs = [(r[field], _Term(r)) for r in rows]
        return Lookup(pairs, prefix="bt_")

    def validate(self, values, field: str | None = None) -> np.ndarray:
        return validate(self.frame, values, field or self.name_field)

    def inspect(self, values, field: str | None = None) -> InspectResult:
        return inspect(self.frame, values, field or self.name_field)

    def standardize(self, values, field: str | None = None) -> list[Any]:
        return standardize(self.frame, values, field or self.name_field)


class _Term:
    """One public term as an object with attribute access."""

    def __init__(self, row: dict[str, Any]) -> None:
        self.__dict__.update(row)

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{k}={v!r}" for k, v in self.__dict__.items() if k not in ("ancestors",)
        )
        return f"Term({shown})"
