"""Tests of lakecat.bio.sources against the real shipped data files."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from lakecat.bio import sources

HAS_CXG = importlib.util.find_spec("cellxgene_ontology_guide") is not None
needs_cxg = pytest.mark.skipif(
    not HAS_CXG, reason="needs cellxgene-ontology-guide (the 'bio' extra)"
)


def _term(frame: pl.DataFrame, ontology_id: str) -> dict:
    return frame.filter(pl.col("ontology_id") == ontology_id).row(0, named=True)


# --------------------------------------------------------------------------
# source table


def test_ontologies_table_is_declarative_and_complete():
    pairs = {(s.entity, s.organism): (s.name, s.prefix) for s in sources.ONTOLOGIES}
    assert pairs == {
        ("CellType", "all"): ("cl", "CL"),
        ("Tissue", "all"): ("uberon", "UBERON"),
        ("Disease", "all"): ("mondo", "MONDO"),
        ("ExperimentalFactor", "all"): ("efo", "EFO"),
        ("Ethnicity", "human"): ("hancestro", "HANCESTRO"),
        ("DevelopmentalStage", "human"): ("hsapdv", "HsapDv"),
        ("DevelopmentalStage", "mouse"): ("mmusdv", "MmusDv"),
        ("Phenotype", "all"): ("pato", "PATO"),
    }
    cl = sources.get_source("CellType")
    assert cl.version == "2025-04-10"
    assert cl.description == "Cell Ontology"
    assert cl.url.endswith("/v2025-04-10/cl.owl")


def test_get_source_picks_organism_specific_stage_ontology():
    assert sources.get_source("DevelopmentalStage").name == "hsapdv"
    assert sources.get_source("DevelopmentalStage", "human").name == "hsapdv"
    assert sources.get_source("DevelopmentalStage", "mouse").name == "mmusdv"
    # multi-species ontologies ignore the organism
    assert sources.get_source("CellType", "mouse").name == "cl"


def test_unknown_entity_is_rejected_with_allowed_names():
    expected = (
        "unknown entity 'CellLine'; allowed: 'CellType', 'DevelopmentalStage', "
        "'Disease', 'Ethnicity', 'ExperimentalFactor', 'Phenotype', 'Tissue'"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(expected)}$"):
        sources.get_source("CellLine")
    with pytest.raises(ValueError, match=re.escape("unknown entity 'cell_type'")):
        sources.load_ontology("cell_type")


def test_unknown_organism_for_stage_is_rejected():
    expected = (
        "no DevelopmentalStage source for organism 'zebrafish'; "
        "allowed: 'human', 'mouse'"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(expected)}$"):
        sources.load_ontology("DevelopmentalStage", organism="zebrafish")


@needs_cxg
def test_pinned_versions_are_shipped():
    for spec in sources.ONTOLOGIES:
        assert spec.version in sources.shipped_versions(spec.entity, spec.organism)
    assert sources.shipped_versions("CellType") == [
        "2025-02-13",
        "2025-04-10",
        "2025-07-30",
        "2026-03-26",
    ]
    assert sources.shipped_versions("Ethnicity") == ["3.0", "2025-04-01", "2025-10-14"]


# --------------------------------------------------------------------------
# ontologies


@needs_cxg
def test_cell_ontology_columns_and_count():
    cl = sources.load_ontology("CellType")
    assert cl.schema == pl.Schema(
        {
            "ontology_id": pl.String,
            "name": pl.String,
            "synonyms": pl.String,
            "description": pl.String,
            "parents": pl.List(pl.String),
            "ancestors": pl.List(pl.String),
        }
    )
    # CL 2025-04-10 ships 3168 CL terms, 266 of them deprecated
    assert cl.height == 2902
    assert cl["ontology_id"].is_unique().all()
    assert cl["ontology_id"].str.starts_with("CL:").all()
    assert cl["ontology_id"].is_sorted()


@needs_cxg
def test_b_cell_synonyms_and_parents():
    cl = sources.load_ontology("CellType")
    b_cell = _term(cl, "CL:0000236")
    assert b_cell["name"] == "B cell"
    assert b_cell["synonyms"] == "B lymphocyte|B-cell|B-lymphocyte"
    assert "B-cell" in b_cell["synonyms"].split("|")
    assert b_cell["description"] == (
        "A lymphocyte of B lineage that is capable of B cell mediated immunity."
    )
    assert b_cell["parents"] == ["CL:0000945"]  # lymphocyte of B lineage
    assert b_cell["ancestors"] == [
        "CL:0000945",
        "CL:0000542",
        "CL:0000842",
        "CL:0000226",
        "CL:0000738",
        "CL:0000255",
        "CL:0002242",
        "CL:0000219",
        "CL:0000988",
        "CL:0000000",
    ]


@needs_cxg
def test_t_cell_and_root_cell():
    cl = sources.load_ontology("CellType")
    t_cell = _term(cl, "CL:0000084")
    assert t_cell["name"] == "T cell"
    assert t_cell["synonyms"] == "T lymphocyte|T-cell|T-lymphocyte"
    assert t_cell["parents"] == ["CL:0000542"]  # lymphocyte
    assert "CL:0000000" in t_cell["ancestors"]
    cell = _term(cl, "CL:0000000")
    assert cell["name"] == "cell"
    assert cell["synonyms"] is None
    assert cell["parents"] == []
    assert cell["ancestors"] == []


@needs_cxg
def test_parents_are_ancestors_and_point_at_loaded_terms():
    cl = sources.load_ontology("CellType")
    ids = set(cl["ontology_id"])
    for parents, ancestors in zip(cl["parents"], cl["ancestors"], strict=True):
        assert set(parents) <= set(ancestors) <= ids


@needs_cxg
def test_parents_include_part_of_relations():
    # the shipped files merge is_a and part_of edges: liver is_a exocrine gland
    # and is part_of abdomen / digestive system, all at distance 1
    tissue = sources.load_ontology("Tissue")
    liver = _term(tissue, "UBERON:0002107")
    assert liver["name"] == "liver"
    assert liver["parents"] == [
        "UBERON:0002365",  # exocrine gland (is_a)
        "UBERON:0004119",
        "UBERON:0005172",
        "UBERON:0006925",
        "UBERON:0000916",  # abdomen (part_of)
        "UBERON:0000949",
        "UBERON:0001007",
        "UBERON:0002330",
        "UBERON:0002423",
    ]


@needs_cxg
@pytest.mark.parametrize(
    ("entity", "organism", "count"),
    [
        ("Tissue", None, 14971),
        ("Disease", None, 27990),
        ("ExperimentalFactor", None, 13452),
        ("Ethnicity", None, 589),
        ("DevelopmentalStage", "human", 239),
        ("DevelopmentalStage", "mouse", 134),
        ("Phenotype", None, 1887),
    ],
)
def test_pinned_term_counts(entity, organism, count):
    frame = sources.load_ontology(entity, organism=organism)
    prefix = sources.get_source(entity, organism).prefix
    assert frame.height == count
    assert frame["ontology_id"].str.starts_with(f"{prefix}:").all()
    assert frame["name"].null_count() == 0


@needs_cxg
def test_foreign_prefixes_are_dropped():
    # HANCESTRO 2025-10-14 also ships AfPO terms and AfPO ancestors
    ethnicity = sources.load_ontology("Ethnicity")
    assert ethnicity["ontology_id"].str.starts_with("HANCESTRO:").all()
    ancestors = ethnicity["ancestors"].explode().drop_nulls()
    assert ancestors.str.starts_with("HANCESTRO:").all()


@needs_cxg
def test_versions_and_cache():
    pinned = sources.load_ontology("CellType")
    assert sources.load_ontology("CellType", "2025-04-10") is pinned
    assert sources.load_ontology("CellType", "v2025-04-10") is pinned
    newer = sources.load_ontology("CellType", "2026-03-26")
    assert newer.height != pinned.height
    sources.clear_caches()
    reloaded = sources.load_ontology("CellType")
    assert reloaded is not pinned
    assert reloaded.equals(pinned)


@needs_cxg
def test_unshipped_version_is_rejected():
    expected = (
        "version '2024-01-01' of CL (CellType) is not shipped; allowed: "
        "'2025-02-13', '2025-04-10', '2025-07-30', '2026-03-26'"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(expected)}$"):
        sources.load_ontology("CellType", "2024-01-01")


def test_import_does_not_load_heavy_readers():
    code = (
        "import sys, lakecat.bio.sources; "
        "print(sorted(m for m in ('zstandard', 'cellxgene_ontology_guide') "
        "if m in sys.modules))"
    )
    repo_root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=repo_root,
    )
    assert out.stdout.strip() == "[]"


# --------------------------------------------------------------------------
# genes


def test_human_genes():
    genes = sources.load_genes()
    assert genes.columns == [
        "ensembl_gene_id",
        "symbol",
        "biotype",
        "stable_id",
        "ncbi_gene_ids",
        "synonyms",
        "description",
        "organism",
    ]
    assert genes.height == 78894
    assert genes["ensembl_gene_id"].is_unique().all()
    assert genes["ensembl_gene_id"].str.contains(r"^ENSG\d{11}$").all()
    # genes without a GENCODE name carry their Ensembl id there; we null it
    assert genes["symbol"].null_count() == 36134
    assert (genes["organism"] == "human").all()
    for column in ("stable_id", "ncbi_gene_ids", "synonyms", "description"):
        assert genes[column].null_count() == genes.height


@pytest.mark.parametrize(
    ("symbol", "ensembl_gene_id"),
    [
        ("CD8A", "ENSG00000153563"),
        ("CD4", "ENSG00000010610"),
        ("CD14", "ENSG00000170458"),
        ("CD38", "ENSG00000004468"),
    ],
)
def test_gene_symbol_to_ensembl(symbol, ensembl_gene_id):
    genes = sources.load_genes("human")
    hits = genes.filter(pl.col("symbol") == symbol)
    assert hits["ensembl_gene_id"].to_list() == [ensembl_gene_id]
    assert hits["biotype"].to_list() == ["protein_coding"]


def test_mouse_genes():
    genes = sources.load_genes("mouse")
    assert genes.height == 78317
    assert genes["symbol"].null_count() == 21909
    cd8a = genes.filter(pl.col("symbol") == "Cd8a")
    assert cd8a["ensembl_gene_id"].to_list() == ["ENSMUSG00000053977"]
    assert (genes["organism"] == "mouse").all()


def test_unknown_gene_organism_is_rejected():
    expected = "no gene table for organism 'yeast'; allowed: 'human', 'mouse'"
    with pytest.raises(ValueError, match=f"^{re.escape(expected)}$"):
        sources.load_genes("yeast")


def test_gene_data_is_small():
    data = Path(sources.__file__).parent / "data"
    total = sum(p.stat().st_size for p in data.iterdir() if p.is_file())
    assert total < 2_000_000


# --------------------------------------------------------------------------
# organisms


def test_organisms():
    organisms = sources.load_organisms()
    assert organisms.columns == [
        "name",
        "ontology_id",
        "scientific_name",
        "synonyms",
        "description",
    ]
    assert organisms["name"].is_unique().all()
    assert organisms["ontology_id"].is_unique().all()
    human = _term(organisms, "NCBITaxon:9606")
    assert human["name"] == "human"
    assert human["scientific_name"] == "Homo sapiens"
    by_name = dict(zip(organisms["name"], organisms["ontology_id"], strict=True))
    assert by_name["mouse"] == "NCBITaxon:10090"
    assert by_name["yeast"] == "NCBITaxon:4932"
    assert organisms["description"].null_count() == organisms.height


def _scan_ncbitaxon_labels(path: Path, ids: list[str]) -> dict[str, str]:
    """Stream the huge NCBITaxon file (0.8 GB of JSON) and pick out labels."""
    import zstandard

    keys = {i: f'"{i}":{{"ancestors":'.encode() for i in ids}
    entry = re.compile(rb'"NCBITaxon:\d+":\{"ancestors":\{[^}]*\},"label":"([^"]*)"')
    found: dict[str, str] = {}
    tail = b""
    with path.open("rb") as handle:
        reader = zstandard.ZstdDecompressor().stream_reader(handle)
        while chunk := reader.read(1 << 24):
            buffer = tail + chunk
            for taxon, key in keys.items():
                position = -1 if taxon in found else buffer.find(key)
                match = entry.match(buffer, position) if position >= 0 else None
                if match:
                    found[taxon] = match.group(1).decode()
            tail = buffer[-(1 << 16) :]
    return found


@needs_cxg
@pytest.mark.slow
def test_organism_ids_match_shipped_ncbitaxon():
    spec = sources.ORGANISM_SOURCE
    data = Path(importlib.util.find_spec("cellxgene_ontology_guide").origin).parent
    path = data / "data" / f"NCBITaxon-ontology-v{spec.version}.json.zst"
    organisms = sources.load_organisms()
    labels = _scan_ncbitaxon_labels(path, organisms["ontology_id"].to_list())
    ids, names = organisms["ontology_id"], organisms["scientific_name"]
    expected = dict(zip(ids, names, strict=True))
    # the shipped NCBITaxon keeps Metazoa only: no yeast, plant or bacterium
    not_metazoa = {"NCBITaxon:4932", "NCBITaxon:3702", "NCBITaxon:562"}
    assert set(labels) == set(expected) - not_metazoa
    assert labels == {k: v for k, v in expected.items() if k in labels}


# --------------------------------------------------------------------------
# uids


@pytest.mark.parametrize(
    ("key", "length", "uid"),
    [
        ("CL:0000084", 8, "22LvKd01"),  # T cell, from LaminDB's guide
        ("CL:0000000", 8, "4bKGljt0"),  # cell, from LaminDB's guide
        ("NCBITaxon:9606", 8, "1dpCL6Td"),  # human, from LaminDB's guide
        ("ENSG00000153563", 12, "6Aqvc8ckDYeN"),  # CD8A, from LaminDB's guide
        # md5 digests starting with zero bytes, checked against lamin-utils'
        # base62 encoder: one zero byte -> "01" prefix, two -> "02"
        ("CL:0000875", 8, "01NqvhnI"),
        ("ENSG00000021269", 12, "026UpWd6xbcE"),
    ],
)
def test_ontology_uid_matches_bionty(key, length, uid):
    assert sources.ontology_uid(key, length) == uid


def test_ontology_uid_defaults_and_errors():
    assert sources.ontology_uid("CL:0000236") == sources.ontology_uid("CL:0000236", 8)
    full = sources.ontology_uid("CL:0000236", 100)
    assert full == "ryEtgi1yGtAcX2cau52lw"  # B cell; bionty's uid is full[:8]
    assert sources.ontology_uid("CL:0000236") == full[:8]
    with pytest.raises(ValueError, match=r"^ontology_id must be a non-empty string$"):
        sources.ontology_uid("")
    with pytest.raises(ValueError, match=r"^length must be at least 1, got 0$"):
        sources.ontology_uid("CL:0000236", 0)
