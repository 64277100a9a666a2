"""Bio registries filled from the shipped ontologies, offline."""

from __future__ import annotations

import numpy as np
import pytest

import lakecat as lc
import lakecat.bio as bt
from lakecat.bio import sources


def test_import_source_loads_the_whole_cell_ontology(catalog):
    added = bt.CellType.import_source()
    assert added == 2902 == bt.CellType.filter().count()
    assert bt.CellType.import_source() == 0
    b_cell = bt.CellType.get(ontology_id="CL:0000236")
    assert b_cell.name == "B cell"
    assert "B-cell" in b_cell.synonyms.split("|")
    assert b_cell.uid == sources.ontology_uid("CL:0000236")
    assert [p.ontology_id for p in b_cell.parents] == ["CL:0000945"]
    source = bt.Source.get(b_cell.source_id)
    assert (source.entity, source.name, source.version, source.in_db) == (
        "bionty.CellType", "cl", "2025-04-10", True,
    )  # fmt: skip


def test_search_whole_ontology_ranks_exact_names_first(catalog):
    bt.CellType.import_source()
    assert bt.CellType.search("t cell")[0].name == "T cell"
    assert bt.CellType.search("b cell")[0].name == "B cell"
    assert bt.CellType.search("stem cell")[0].name == "stem cell"


def test_uids_are_the_same_in_every_catalog(tmp_path):
    uids = []
    for name in ("one", "two"):
        lc.init(storage=tmp_path / name, modules=["bio"])
        uids.append(bt.CellType.from_source(name="T cell").save().uid)
    assert uids == ["22LvKd01", "22LvKd01"]


def test_from_source_saves_ancestors_as_parents(catalog):
    t_cell = bt.CellType.from_source(ontology_id="CL:0000084")
    assert t_cell.id is None and t_cell.name == "T cell"
    t_cell.save()
    assert [p.name for p in t_cell.parents] == ["lymphocyte"]
    ancestors = set(t_cell.query_parents().values_list("name", flat=True))
    assert {"lymphocyte", "leukocyte", "cell"} <= ancestors
    assert bt.CellType.from_source(name="T cell") == t_cell
    lymphocyte = bt.CellType.get(name="lymphocyte")
    assert t_cell in lymphocyte.query_children()
    assert bt.CellType.filter(parents__name="lymphocyte").to_list("name") == ["T cell"]


def test_from_source_accepts_synonyms_and_returns_none_for_unknown(catalog):
    assert bt.CellType.from_source(name="B-lymphocyte").name == "B cell"
    assert bt.CellType.from_source(name="no such cell") is None
    with pytest.raises(lc.errors.FieldError, match="unknown field 'nmae'"):
        bt.CellType.from_source(nmae="B cell")


def test_genes_by_symbol_and_ensembl_id(catalog):
    genes = bt.Gene.from_values(
        ["ENSG00000153563", "ENSG00000010610", "ENSG00000170458", "ENSG00000004468"],
        field="ensembl_gene_id",
    )
    assert [g.symbol for g in genes] == ["CD8A", "CD4", "CD14", "CD38"]
    lc.save(genes)
    assert bt.Gene.get(symbol="CD4").ensembl_gene_id == "ENSG00000010610"
    assert bt.Gene.get(symbol="CD8A").uid == "6Aqvc8ckDYeN"
    assert bt.Gene.get(symbol="CD8A").organism.name == "human"
    assert bt.Organism.get(name="human").ontology_id == "NCBITaxon:9606"


def test_validate_inspect_standardize_on_mixed_input(catalog):
    bt.CellType.import_source()
    values = ["T cell", "B-cell", "T-lymphocyte", "not a cell"]
    np.testing.assert_array_equal(
        bt.CellType.validate(values), [True, False, False, False]
    )
    result = bt.CellType.inspect(values)
    assert result.validated == ["T cell"]
    assert result.synonyms_mapper == {"B-cell": "B cell", "T-lymphocyte": "T cell"}
    assert result.non_validated == ["not a cell"]
    assert bt.CellType.standardize(values) == [
        "T cell",
        "B cell",
        "T cell",
        "not a cell",
    ]


def test_validate_20k_gene_symbols(catalog):
    bt.Gene.import_source()
    symbols = (
        bt.Gene.public().frame["symbol"].drop_nulls().unique().head(20_000).to_list()
    )
    assert bt.Gene.validate([*symbols, "NOT-A-GENE"]).sum() == 20_000


def test_public_ontology_search_and_lookup_without_saving(catalog):
    public = bt.CellType.public()
    hits = public.search("b cell")
    assert hits.iloc[0]["name"] == "B cell"
    assert hits.index[0] == "CL:0000236"
    assert public.lookup().t_cell.ontology_id == "CL:0000084"
    assert bt.CellType.filter().count() == 0


def test_bio_registries_need_the_bio_module(tmp_path):
    lc.init(storage=tmp_path / "core-only")
    with pytest.raises(lc.errors.UnsupportedError, match="needs the bio module"):
        bt.CellType.import_source()


def test_descendant_query_via_parents(catalog):
    bt.CellType.import_source()
    lymphocyte = bt.CellType.get(name="lymphocyte")
    descendants = lymphocyte.query_children()
    names = set(descendants.values_list("name", flat=True))
    assert {"T cell", "B cell", "CD8-positive, alpha-beta T cell"} <= names
    assert "lymphocyte" not in names
    assert bt.CellType.filter(id__in=descendants, name="B cell").count() == 1
