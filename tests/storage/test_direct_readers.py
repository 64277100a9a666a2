"""Polars and DuckDB read every registry table without lakecat and see its rows."""

from __future__ import annotations

import polars as pl
import pytest
from deltalake import DeltaTable
from polars.testing import assert_frame_equal

import lakecat as lc
from lakecat.engine import maintenance


def _populate(files) -> None:
    """Inserts, merges, deletes, versions and a compaction: every kind of commit."""
    label = lc.Record(name="label").save()
    other = lc.ULabel(name="gone").save()
    for i in range(4):
        path = files / f"f{i}.txt"
        path.write_text(f"file {i}")
        artifact = lc.Artifact(path, key="shared.txt" if i < 2 else f"f{i}.txt").save()
        artifact.records.add(label)
        artifact.description = f"artifact {i}"
        artifact.save()
    other.delete(permanent=True)
    with lc.batch():
        for i in range(3):
            lc.Record(name=f"batch {i}").save()


def _same(lakecat_rows: pl.DataFrame, other: pl.DataFrame) -> None:
    # DuckDB names the zone Etc/UTC: the same instants
    utc = pl.col(pl.Datetime("us", "Etc/UTC")).dt.convert_time_zone("UTC")
    other = other.select(lakecat_rows.columns).with_columns(utc).sort("id")
    assert_frame_equal(lakecat_rows.sort("id"), other, check_dtypes=False)


@pytest.mark.parametrize("place", ["local", "s3"])
def test_polars_and_duckdb_read_every_table(place, tmp_path, request, monkeypatch):
    duckdb = pytest.importorskip("duckdb")
    if place == "local":
        root, options = str(tmp_path / "catalog"), {}
    else:
        root, options = request.getfixturevalue("s3_root")
    monkeypatch.setattr(maintenance, "SMALL_FILES", 3)
    catalog = lc.init(storage=root, storage_options=options or None)
    files = tmp_path / "files"
    files.mkdir()
    _populate(files)
    opts = catalog.tables.storage_options or None

    for table in catalog.tables.specs:
        uri = catalog.tables.uri(table)
        ours = catalog.frame(table)
        _same(ours, pl.read_delta(uri, storage_options=opts))
        _same(ours, pl.scan_delta(uri, storage_options=opts).collect())
        dataset = DeltaTable(uri, storage_options=opts).to_pyarrow_dataset()
        from_duckdb = duckdb.from_arrow(dataset).pl()
        _same(ours, from_duckdb)
    assert catalog.frame("artifact").height == 4
    assert catalog.frame("artifact_record").height == 4
