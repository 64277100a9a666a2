"""Damaged, old, foreign or unwritable storage: clear errors or a documented upgrade."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import orjson
import polars as pl
import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

import lakecat as lc
from lakecat.catalog.instance import Catalog


def _saved_records(catalog: Catalog, names: list[str]) -> Path:
    for name in names:
        lc.Record(name=name).save()
    return Path(catalog.tables.uri("record"))


def test_corrupt_log_entry_raises_storage_error(catalog):
    table = _saved_records(catalog, ["a", "b", "c"])
    (table / "_delta_log" / f"{2:020d}.json").write_text('{"add": {"pa')

    with pytest.raises(lc.errors.StorageError, match="cannot open table `record`"):
        Catalog.open(catalog.root).frame("record")


def test_missing_log_entry_raises_storage_error(catalog):
    table = _saved_records(catalog, ["a", "b", "c"])
    (table / "_delta_log" / f"{2:020d}.json").unlink()

    with pytest.raises(lc.errors.StorageError, match=r"record.*gap"):
        Catalog.open(catalog.root).frame("record")


def test_missing_data_file_raises_storage_error(catalog):
    table = _saved_records(catalog, ["a"])
    next(table.glob("*.parquet")).unlink()

    with pytest.raises(lc.errors.StorageError, match="cannot read table `record`"):
        Catalog.open(catalog.root).frame("record")


def test_missing_table_raises_storage_error(catalog):
    shutil.rmtree(catalog.tables.uri("ulabel"))

    with pytest.raises(lc.errors.StorageError, match="table `ulabel` is missing"):
        Catalog.open(catalog.root).frame("ulabel")


def test_table_of_an_older_lakecat_reads_nulls_and_gains_the_column(catalog):
    uri = catalog.tables.uri("record")
    shutil.rmtree(uri)
    old_schema = catalog.tables.schemas["record"].to_python()
    old_columns = [c for c in catalog.tables.schemas["record"] if c != "description"]
    old = pl.DataFrame(
        [{"id": 1, "uid": "0" * 16, "name": "old", "branch_id": 1,
          "created_at": datetime.now(timezone.utc)}],
        schema={c: catalog.tables.schemas["record"][c] for c in old_columns},
    )  # fmt: skip
    write_deltalake(uri, old.to_arrow())
    assert "description" in old_schema

    fresh = lc.connect(catalog.root)
    assert fresh.frame("record").select("name", "description").rows() == [("old", None)]
    lc.Record(name="new", description="has one").save()

    delta = DeltaTable(uri)
    assert "description" in delta.schema().to_arrow().names
    rows = (
        Catalog.open(catalog.root).frame("record").select("name", "description").rows()
    )
    assert rows == [("old", None), ("new", "has one")]


def _chattr(flag: str, folder: Path) -> bool:
    try:
        done = subprocess.run(["chattr", "-R", flag, str(folder)], capture_output=True)
    except FileNotFoundError:
        return False
    return done.returncode == 0


def _fingerprint(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.md5(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_unwritable_folder_raises_storage_error(catalog, tmp_path):
    """Tests run as root, so chmod would not stop a write: the immutable flag does."""
    folder = Path(catalog.root)
    lc.Record(name="before").save()
    path = tmp_path / "a.txt"
    path.write_text("a")
    if not _chattr("+i", folder):
        pytest.skip("chattr +i is not available on this file system")
    try:
        before = _fingerprint(folder)
        reader = lc.connect(catalog.root)
        assert reader.frame("record").get_column("name").to_list() == ["before"]
        with pytest.raises(lc.errors.StorageError, match="read-only or not writable"):
            lc.Record(name="after").save()
        with pytest.raises(lc.errors.StorageError, match="read-only or not writable"):
            lc.Artifact(path, key="a.txt").save()
        assert _fingerprint(folder) == before
    finally:
        _chattr("-i", folder)


def test_newer_format_version_is_refused(catalog):
    identity = Path(catalog.root) / "lakecat.json"
    data = orjson.loads(identity.read_bytes())
    data["format_version"] = 99
    identity.write_bytes(orjson.dumps(data))

    with pytest.raises(
        lc.errors.StorageError, match=r"format version 99, newer .* upgrade lakecat"
    ):
        lc.connect(catalog.root)


def test_damaged_identity_is_refused(catalog):
    (Path(catalog.root) / "lakecat.json").write_text("{not json")

    with pytest.raises(lc.errors.StorageError, match=r"lakecat\.json is damaged"):
        lc.connect(catalog.root)


def test_folder_that_is_not_a_catalog_is_refused(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "cat.jpg").write_bytes(b"jpg")

    with pytest.raises(lc.errors.StorageError, match="not a lakecat catalog"):
        lc.connect(folder)
    with pytest.raises(
        lc.errors.StorageError, match=r"not empty .* \(it holds cat.jpg\)"
    ):
        lc.init(storage=folder)
    assert [p.name for p in folder.iterdir()] == ["cat.jpg"]


def test_interrupted_init_is_finished_by_the_next(tmp_path, monkeypatch):
    root = tmp_path / "catalog"

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(lc.catalog.instance.ObjectStore, "create_exclusive", crash)
        with pytest.raises(KeyboardInterrupt):
            lc.init(storage=root)
    assert (root / "tables").is_dir() and not (root / "lakecat.json").exists()

    catalog = lc.init(storage=root)

    assert catalog.frame("user").height == 1
    assert catalog.frame("branch").height == 3
    assert (root / "lakecat.json").exists()


def test_init_in_a_non_empty_bucket_prefix_is_refused(s3_root):
    root, options = s3_root
    write_deltalake(
        f"{root}/other-table", pa.table({"x": [1]}), storage_options=options
    )

    with pytest.raises(lc.errors.StorageError, match=r"not empty .* other-table"):
        lc.init(storage=root, storage_options=options)
