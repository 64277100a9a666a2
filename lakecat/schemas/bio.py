"""The bio registries: ontology terms, genes, organisms and their sources.

Shaped like bionty 1.8: ontology registries share one set of columns, genes and
organisms add their own, and core registries gain many-to-many relations to them
(`Artifact.cell_types`, `Schema.genes`, …), declared here as `EXTENSIONS`.
"""

from __future__ import annotations

from lakecat.schemas._base import (
    Field,
    ForeignKey,
    LinkTable,
    ManyToMany,
    RegistrySchema,
)
from lakecat.schemas.core import (
    FEATURE_ID,
    ID,
    SPACE_ID,
    TRACKED_FKS,
    TRACKED_TAIL,
    UPDATED_AT,
)

MODULE = "bio"

#: registries whose rows are ontology terms: (class name, table, query name)
ONTOLOGY_REGISTRIES = (
    ("CellType", "celltype", "cell_types"),
    ("Tissue", "tissue", "tissues"),
    ("Disease", "disease", "diseases"),
    ("DevelopmentalStage", "developmentalstage", "developmental_stages"),
    ("ExperimentalFactor", "experimentalfactor", "experimental_factors"),
    ("Ethnicity", "ethnicity", "ethnicities"),
    ("Phenotype", "phenotype", "phenotypes"),
)

SOURCE_ID = Field("source_id", "int")
SOURCE_FK = ForeignKey("source", "bio.Source")


def _ontology_registry(name: str, table: str) -> RegistrySchema:
    parents = LinkTable(f"{table}_parent", MODULE, f"{table}_id", "parent_id")
    return RegistrySchema(
        name=name,
        module=MODULE,
        table=table,
        uid_length=8,
        name_field="name",
        fields=(
            ID,
            Field("uid", "str", nullable=False),
            Field("name", "str", nullable=False),
            Field("ontology_id", "str", doc="e.g. CL:0000084"),
            Field("abbr", "str"),
            Field("synonyms", "str", doc="synonyms joined by `|`"),
            Field("description", "str"),
            SPACE_ID,
            SOURCE_ID,
            *TRACKED_TAIL,
            UPDATED_AT,
        ),
        foreign_keys=(SOURCE_FK, *TRACKED_FKS),
        many_to_many=(ManyToMany("parents", f"bio.{name}", parents, "children"),),
    )


SOURCE = RegistrySchema(
    name="Source",
    module=MODULE,
    table="source",
    uid_length=8,
    name_field="name",
    fields=(
        ID,
        Field("uid", "str", nullable=False),
        Field("entity", "str", nullable=False, doc="e.g. bionty.CellType"),
        Field("organism", "str", nullable=False, doc="all, human, vertebrates, …"),
        Field("name", "str", nullable=False, doc="cl, ensembl, …"),
        Field("in_db", "bool", nullable=False, default=False),
        Field("currently_used", "bool", nullable=False, default=False),
        Field("description", "str"),
        Field("url", "str"),
        Field("md5", "str"),
        Field("source_website", "str"),
        SPACE_ID,
        Field("dataframe_artifact_id", "int"),
        Field("version", "str", nullable=False),
        *TRACKED_TAIL,
        UPDATED_AT,
    ),
    foreign_keys=(ForeignKey("dataframe_artifact", "Artifact"), *TRACKED_FKS),
)

ORGANISM = RegistrySchema(
    name="Organism",
    module=MODULE,
    table="organism",
    uid_length=8,
    name_field="name",
    fields=(
        ID,
        Field("uid", "str", nullable=False),
        Field("name", "str", nullable=False),
        Field("ontology_id", "str", doc="e.g. NCBITaxon:9606"),
        Field("scientific_name", "str"),
        Field("synonyms", "str"),
        Field("description", "str"),
        SPACE_ID,
        SOURCE_ID,
        *TRACKED_TAIL,
        UPDATED_AT,
    ),
    foreign_keys=(SOURCE_FK, *TRACKED_FKS),
)

GENE = RegistrySchema(
    name="Gene",
    module=MODULE,
    table="gene",
    uid_length=12,
    name_field="symbol",
    fields=(
        ID,
        Field("uid", "str", nullable=False),
        Field("symbol", "str"),
        Field("stable_id", "str"),
        Field("ensembl_gene_id", "str"),
        Field("ncbi_gene_ids", "str"),
        Field("biotype", "str"),
        Field("synonyms", "str"),
        Field("description", "str"),
        SPACE_ID,
        SOURCE_ID,
        Field("organism_id", "int"),
        *TRACKED_TAIL,
        UPDATED_AT,
    ),
    foreign_keys=(
        SOURCE_FK,
        ForeignKey("organism", "bio.Organism", "genes"),
        *TRACKED_FKS,
    ),
)

ONTOLOGIES = tuple(
    _ontology_registry(name, table) for name, table, _ in ONTOLOGY_REGISTRIES
)

REGISTRIES: tuple[RegistrySchema, ...] = (SOURCE, ORGANISM, GENE, *ONTOLOGIES)


def _labels(owner: str, owner_table: str, query: str, table: str, name: str):
    link = LinkTable(
        f"{owner_table}_{table}",
        MODULE,
        f"{owner_table}_id",
        f"{table}_id",
        (FEATURE_ID,),
    )
    return owner, ManyToMany(query, f"bio.{name}", link, f"{owner_table}s")


_LABEL_TARGETS = (
    *ONTOLOGY_REGISTRIES,
    ("Gene", "gene", "genes"),
    ("Organism", "organism", "organisms"),
)

#: relations that core registries gain when the bio module is on
EXTENSIONS: tuple[tuple[str, ManyToMany], ...] = (
    *(_labels("Artifact", "artifact", q, t, n) for n, t, q in _LABEL_TARGETS),
    *(_labels("Record", "record", q, t, n) for n, t, q in _LABEL_TARGETS),
    (
        "Schema",
        ManyToMany(
            "genes",
            "bio.Gene",
            LinkTable("schema_gene", MODULE, "schema_id", "gene_id"),
            "schemas",
        ),
    ),
)
