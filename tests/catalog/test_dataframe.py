"""`to_dataframe()`: rows, order, columns, include=, empty results, and the alias."""

from __future__ import annotations

import pandas as pd
import pytest
from test_query import isolated_world

import lakecat as lc
from lakecat.catalog import instance


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return isolated_world(tmp_path_factory)


@pytest.fixture
def w(world, monkeypatch):
    monkeypatch.setattr(instance, "_current", world)
    return world


ARTIFACT_COLUMNS = [
    "uid", "key", "description", "suffix", "kind", "otype", "size", "hash", "n_files",
    "n_observations", "_hash_type", "_key_is_virtual", "_overwrite_versions",
    "space_id", "storage_id", "schema_id", "version", "is_latest", "is_locked",
    "run_id", "created_at", "created_by_id", "_aux", "_real_key", "branch_id",
]  # fmt: skip


def test_to_dataframe_queryset_indexed_by_id_in_order(w):
    df = lc.Artifact.filter(suffix__in=[".h5ad", ".jpg"]).to_dataframe()
    assert df.index.name == "id"
    assert df.index.tolist() == [1, 4, 5]
    assert df.columns.tolist() == ARTIFACT_COLUMNS


def test_to_dataframe_respects_order_and_slice(w):
    qs = lc.Artifact.filter().order_by("-size")[:3]
    assert qs.to_dataframe().index.tolist() == [4, 1, 5]


def test_to_dataframe_registry_latest_updated_first(w):
    # artifact 2 was updated last; the rest by descending update time
    df = lc.Artifact.to_dataframe()
    assert df.index.tolist() == [2, 6, 5, 4, 3, 1]
    assert lc.Artifact.to_dataframe(limit=2).index.tolist() == [2, 6]


def test_to_dataframe_registry_ties_in_ascending_id(catalog):
    import polars as pl

    from lakecat.catalog.instance import now

    t = now()
    rows = pl.DataFrame(
        {
            "id": [3, 1, 2],
            "uid": ["u3", "u1", "u2"],
            "name": ["c", "a", "b"],
            "created_at": [t] * 3,
            "updated_at": [t] * 3,
            "branch_id": [1] * 3,
            "space_id": [1] * 3,
            "is_type": [False] * 3,
            "is_locked": [False] * 3,
            "created_by_id": [1] * 3,
        }
    )
    catalog.tables.append("record", rows)
    assert lc.Record.to_dataframe().index.tolist() == [1, 2, 3]
    lc.Record.get(2).save()  # touched: now the most recently updated
    assert lc.Record.to_dataframe().index.tolist() == [2, 1, 3]


def test_to_dataframe_values_and_dtypes(w):
    df = lc.Artifact.filter(id__in=[3, 4]).to_dataframe()
    assert df.loc[3, "key"] == "iris.parquet"
    assert df.loc[4, "size"] == 31672
    assert df.loc[3, "kind"] == "dataset"
    assert str(df["created_at"].dtype) == "datetime64[us, UTC]"
    assert df["schema_id"].tolist() == [None, None]


def test_to_dataframe_include_columns_order_and_cells(w):
    df = lc.Artifact.filter(id__in=[1, 2, 4]).to_dataframe(
        include=["created_by__name", "records__name", "suffix"]
    )
    assert df.columns.tolist() == [
        "uid",
        "key",
        "created_by__name",
        "records__name",
        "suffix",
    ]
    assert df.loc[4, "records__name"] == {"DMSO", "IFNG", "Experiment 1"}
    assert df.loc[2, "records__name"] == {None}
    assert df.loc[1, "records__name"] == {"Old"}
    assert df.loc[2, "created_by__name"] == "Other Person"
    assert df.loc[4, "created_by__name"] == "Test User1"


def test_to_dataframe_include_is_not_restricted_by_filter(w):
    exp1 = lc.Record.get(name="Experiment 1")
    df = lc.Artifact.filter(records=exp1).to_dataframe(include="records__name")
    assert df.index.tolist() == [4]
    assert df.loc[4, "records__name"] == {"DMSO", "IFNG", "Experiment 1"}


def test_to_dataframe_include_deep_path(w):
    df = lc.Artifact.filter(id__in=[1, 3, 5]).to_dataframe(
        include="run__transform__key"
    )
    assert df["run__transform__key"].tolist() == [
        "pipelines/ingest.py",
        "notebooks/explore.ipynb",
        None,
    ]


def test_to_dataframe_include_unknown_path_raises(w):
    with pytest.raises(lc.errors.FieldError, match="Unknown field 'nme'"):
        lc.Artifact.filter().to_dataframe(include="created_by__nme")


def test_to_dataframe_empty_keeps_columns(w):
    df = lc.Artifact.filter(suffix=".nope").to_dataframe()
    assert df.empty
    assert df.columns.tolist() == ARTIFACT_COLUMNS
    df = lc.Artifact.filter(suffix=".nope").to_dataframe(include=["records__name"])
    assert df.columns.tolist() == ["uid", "key", "records__name"]


def test_to_dataframe_df_alias_warns(w):
    qs = lc.Artifact.filter(suffix=".jpg")
    with pytest.warns(DeprecationWarning, match="use `to_dataframe"):
        df = qs.df()
    pd.testing.assert_frame_equal(df, qs.to_dataframe())


def test_to_dataframe_warm_reads_no_table(w):
    qs = lc.Artifact.filter(records__name="DMSO")
    qs.to_dataframe(include="records__name")
    reads = dict(w.tables.reads)
    lc.Artifact.filter(records__name="DMSO").to_dataframe(include="records__name")
    assert w.tables.reads == reads
