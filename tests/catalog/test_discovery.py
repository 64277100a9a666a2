"""search(), lookup() and view() on registries."""

from __future__ import annotations

import pytest

import lakecat as lc
import lakecat.bio as bt


@pytest.fixture
def records(catalog):
    names = [
        "cat[*_*]",
        "Record 0",
        "Record 1",
        "Record 2",
        "a.c",
        "abc",
        "C++ run (1)",
    ]
    return {name: lc.Record(name=name).save() for name in names}


def test_search_returns_a_ranked_queryset(records):
    results = lc.Record.search("Record 1")
    assert results[0].name == "Record 1"
    assert results.to_dataframe().index.tolist()[0] == records["Record 1"].id
    assert lc.Record.search("Record 1", limit=1).one().name == "Record 1"
    assert lc.Record.search("record", limit=2).count() == 2


def test_search_within_a_queryset_and_by_field(records):
    queryset = lc.Record.filter(name__startswith="Record")
    assert queryset.search("Record 1")[0].name == "Record 1"
    assert queryset.search("Record 1", field=lc.Record.name)[0].name == "Record 1"
    assert queryset.search("Record 1", field="name")[0].name == "Record 1"
    with pytest.raises(TypeError, match=r"takes a field name"):
        queryset.search("Record", field=3)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("cat[", ["cat[*_*]"]),
        ("*_*", ["cat[*_*]"]),
        ("a.c", ["a.c"]),
        ("C++ run (", ["C++ run (1)"]),
    ],
)
def test_search_is_literal(records, query, expected):
    assert lc.Record.search(query).to_list("name") == expected


def test_search_none_is_an_error(records):
    with pytest.raises(
        ValueError, match=r"Cannot search for None value! Please pass a valid string."
    ):
        lc.Record.search(None)


def test_search_tolerates_typos_after_literal_hits(records):
    assert lc.Record.search("Recrod 1").to_list("name")[0] == "Record 1"


def test_search_cell_ontology_ranking(catalog):
    bt.CellType.import_source()
    assert bt.CellType.search("t cell")[0].name == "T cell"
    assert bt.CellType.search("b cell")[0].name == "B cell"
    assert bt.CellType.search("stem cell")[0].name == "stem cell"
    # "P cell" is an exact synonym of nodal myocyte; CL names the PP cell
    # "pancreatic PP cell"
    top = bt.CellType.search("P cell").to_list("name")[:2]
    assert top == ["nodal myocyte", "pancreatic PP cell"]


def test_search_tissue_prefix_finds_kidney(catalog):
    for name in ("kidney", "kidney epithelium", "adrenal gland", "renal cortex"):
        bt.Tissue.from_source(name=name).save()
    assert bt.Tissue.search("kidne")[0].name == "kidney"


def test_trash_is_hidden_alike_in_search_lookup_filter_and_get(records):
    record = records["abc"]
    record.delete()
    assert lc.Record.search("abc").count() == 0
    assert "abc" not in dir(lc.Record.lookup())
    assert not lc.Record.filter(name="abc").exists()
    with pytest.raises(lc.Record.DoesNotExist):
        lc.Record.get(name="abc")
    # asking for the trash shows it everywhere
    trash = lc.Record.filter(branch_id=-1)
    assert trash.search("abc").one().id == record.id
    assert trash.lookup().abc.id == record.id
    assert lc.Record.get(name="abc", branch_id=-1).id == record.id
    assert lc.Record.get(record.uid).id == record.id


def test_lookup_names_for_tricky_values(catalog):
    for name in (
        "COVID-19",
        "Crohn's disease",
        "1st run",
        "class",
        "dict",
        "Experiment 1",
    ):
        lc.Record(name=name).save()
    lookup = lc.Record.lookup()
    assert lookup.covid_19.name == "COVID-19"
    assert lookup.crohn_s_disease.name == "Crohn's disease"
    assert lookup.ln_1st_run.name == "1st run"
    assert lookup.class_.name == "class"
    assert lookup.dict_.name == "dict"
    assert lookup.experiment_1.name == "Experiment 1"
    assert lookup.dict()["Crohn's disease"].name == "Crohn's disease"
    assert {"covid_19", "class_", "ln_1st_run"} <= set(dir(lookup))


def test_lookup_two_records_with_one_name(catalog):
    kind = lc.Record(name="Kind", is_type=True).save()
    first = lc.Record(name="Sample").save()
    second = lc.Record(name="Sample", type=kind).save()
    lookup = lc.Record.lookup()
    with pytest.warns(
        UserWarning,
        match=r"2 records found for 'sample'. Returning based on keep='first'.",
    ):
        assert lookup.sample.id == first.id
    assert lc.Record.lookup(keep="last").sample.id == second.id
    assert [r.id for r in lc.Record.lookup(keep=False).sample] == [first.id, second.id]
    assert [r.id for r in lookup.dict()["Sample"]] == [first.id, second.id]


def test_lookup_with_field_and_return_field(catalog):
    user = lc.User.filter(handle="testuser1").lookup(field="handle").testuser1
    assert user.handle == "testuser1"
    assert lc.User.lookup(field=lc.User.handle).testuser1.handle == "testuser1"
    assert lc.User.lookup(return_field="name").testuser1 == "Test User1"


def test_view_prints_newest_rows_of_non_empty_registries(catalog, capsys):
    for i in range(9):
        lc.Record(name=f"r{i}").save()
    lc.view(modules=["core"])
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Record"
    assert out[1].split()[:3] == ["uid", "name", "is_type"]
    shown = [line.split()[2] for line in out[3:10]]
    assert shown == ["r8", "r7", "r6", "r5", "r4", "r3", "r2"]
    assert "Storage" in out and "Artifact" not in out
