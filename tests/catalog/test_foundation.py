"""The catalog foundation: init/connect, registry tables, artifacts, versions, trash."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import polars as pl
import pytest

import lakecat as lc
from lakecat.schemas import index_for


def md5_b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.md5(data).digest()).decode().rstrip("=")


def test_init_creates_layout_and_default_rows(catalog):
    root = Path(catalog.root)
    identity = json.loads((root / "lakecat.json").read_text())
    assert identity["modules"] == ["core", "bio"]
    assert identity["format_version"] == 1
    assert (root / "tables/core/artifact/_delta_log/00000000000000000000.json").exists()
    assert (root / "tables/bio/celltype/_delta_log").is_dir()
    user = lc.User.get(1)
    assert (user.handle, user.name) == ("testuser1", "Test User1")
    assert lc.Storage.get(1).root == str(root)
    assert lc.Storage.get(1).type == "local"
    assert sorted(b.id for b in lc.Branch.objects.all()) == [-1, 0, 1]
    assert lc.Space.get(1).name == "all"


def test_connect_in_a_new_process_uses_the_remembered_catalog(catalog, tmp_path):
    lc.Record(name="remembered").save()
    code = "import lakecat as lc; print(lc.Record.get(name='remembered').name)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "remembered"


def test_connect_by_env_var_overrides_settings(catalog, tmp_path, monkeypatch):
    other = tmp_path / "other"
    lc.init(storage=other)
    monkeypatch.setenv("LAKECAT_CATALOG", str(catalog.root))
    code = "import lakecat as lc; print(lc.settings.root)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == str(catalog.root)


def test_registry_tables_have_the_declared_columns(catalog):
    index = index_for(("core", "bio"))
    for spec in index.tables():
        table = catalog.tables.frame(spec.name)
        assert table.columns == [f.name for f in spec.fields], spec.name
    assert lc.Artifact._schema.display_columns[:4] == (
        "uid",
        "key",
        "description",
        "suffix",
    )


def test_artifact_from_file_computes_fields(catalog, tmp_path):
    path = tmp_path / "reads.fastq.gz"
    data = b"\x1f\x8b fake but real bytes"
    path.write_bytes(data)
    artifact = lc.Artifact(path, key="raw/reads.fastq.gz", description="reads").save()
    assert (artifact.suffix, artifact.size, artifact.hash) == (
        ".fastq.gz",
        len(data),
        md5_b64(data),
    )
    assert artifact._hash_type == "md5"
    assert len(artifact.uid) == 20 and artifact.uid.endswith("0000")
    assert (
        artifact.is_latest and artifact.run_id is None and artifact.created_by_id == 1
    )
    stored = Path(catalog.root) / "objects" / f"{artifact.uid}.fastq.gz"
    assert stored.read_bytes() == data
    assert artifact.cache() == stored
    assert lc.Artifact.get(artifact.uid).description == "reads"


def test_artifact_from_dataframe_pandas_and_polars(catalog):
    frame = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    artifact = lc.Artifact.from_dataframe(frame, key="tables/t.parquet").save()
    assert (artifact.otype, artifact.kind, artifact.n_observations) == (
        "DataFrame",
        "dataset",
        3,
    )
    assert artifact.hash == md5_b64(Path(artifact.path).read_bytes())
    pd.testing.assert_frame_equal(artifact.load(), frame)
    polars_frame = pl.DataFrame({"a": [1, 2]})
    second = lc.Artifact.from_dataframe(polars_frame, key="tables/p.parquet").save()
    assert second.n_observations == 2 and second.suffix == ".parquet"


def test_artifact_from_anndata(catalog):
    adata = ad.AnnData(
        X=np.arange(6, dtype="float32").reshape(3, 2),
        obs=pd.DataFrame(index=["c1", "c2", "c3"]),
        var=pd.DataFrame(index=["g1", "g2"]),
    )
    artifact = lc.Artifact.from_anndata(adata, key="examples/small.h5ad").save()
    assert (artifact.otype, artifact.n_observations, artifact.suffix) == (
        "AnnData",
        3,
        ".h5ad",
    )
    loaded = artifact.load()
    assert list(loaded.obs_names) == ["c1", "c2", "c3"]
    np.testing.assert_array_equal(loaded.X, adata.X)


def test_saving_identical_content_returns_the_existing_artifact(catalog, tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("same")
    first = lc.Artifact(path, key="a.txt").save()
    copy = tmp_path / "copy.txt"
    copy.write_text("same")
    again = lc.Artifact(copy, key="b.txt")
    assert again.id == first.id and again.key == "a.txt"
    assert lc.Artifact.filter().count() == 1


def test_three_saves_under_one_key_make_three_versions(catalog, tmp_path):
    uids = []
    for i in range(3):
        path = tmp_path / f"v{i}.csv"
        path.write_text(f"x\n{i}\n")
        uids.append(lc.Artifact(path, key="data/table.csv").save().uid)
    rows = lc.Artifact.filter(key="data/table.csv").order_by("id").to_list()
    assert [a.uid for a in rows] == uids
    assert len({u[:16] for u in uids}) == 1
    assert [u[16:] for u in uids] == ["0000", "0001", "0002"]
    assert [a.is_latest for a in rows] == [False, False, True]
    assert lc.Artifact.get(uids[0][:16]).uid == uids[2]
    assert lc.Artifact.get(key="data/table.csv").uid == uids[2]


def test_revises_creates_a_new_version_without_a_key(catalog, tmp_path):
    (tmp_path / "1.txt").write_text("1")
    (tmp_path / "2.txt").write_text("2")
    first = lc.Artifact(tmp_path / "1.txt", description="v1").save()
    second = lc.Artifact(tmp_path / "2.txt", revises=first).save()
    assert second.uid[:16] == first.uid[:16] and second.uid.endswith("0001")
    assert lc.Artifact.get(first.id).is_latest is False


def test_trash_restore_and_permanent_delete(catalog, tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("x")
    artifact = lc.Artifact(path, key="x.txt").save()
    stored = Path(artifact.path)
    artifact.delete()
    assert lc.Artifact.get(artifact.id).branch_id == -1
    assert lc.Artifact.filter(key="x.txt").count() == 0
    assert lc.Artifact.filter(key="x.txt", branch_id=-1).count() == 1
    artifact.restore()
    assert lc.Artifact.filter(key="x.txt").count() == 1
    artifact.delete(permanent=True)
    assert lc.Artifact.objects.filter(key="x.txt").count() == 0
    assert not stored.exists()


def test_deleting_the_latest_version_promotes_the_previous(catalog, tmp_path):
    versions = []
    for i in range(2):
        (tmp_path / f"{i}.txt").write_text(str(i))
        versions.append(lc.Artifact(tmp_path / f"{i}.txt", key="k.txt").save())
    versions[1].delete()
    assert lc.Artifact.get(versions[0].id).is_latest is True


def test_record_delete_moves_to_trash_then_permanent(catalog):
    record = lc.Record(name="temporary").save()
    record.delete()
    assert lc.Record.get(record.id).branch_id == -1
    assert not lc.Record.filter(name="temporary").exists()
    lc.Record.get(record.id).delete(permanent=True)
    assert not lc.Record.objects.filter(name="temporary").exists()


def test_track_and_finish_record_transform_and_run(catalog):
    run = lc.track("Wc8F4siRSKMZ", params={"lr": 0.01})
    assert run.transform.uid == "Wc8F4siRSKMZ0000"
    record = lc.Record(name="made in a run").save()
    assert record.run_id == run.id
    lc.finish()
    finished = lc.Run.get(run.id)
    assert finished.finished_at is not None and finished._status_code == 0
    assert finished.params == {"lr": 0.01}
    again = lc.track("Wc8F4siRSKMZ")
    assert again.transform_id == run.transform_id and again.id != run.id


def test_save_many_records_one_commit_per_table(catalog):
    before = catalog.tables.version("record")
    records = lc.save([lc.Record(name=f"r{i}") for i in range(50)])
    assert catalog.tables.version("record") == before + 1
    assert [r.id for r in records] == list(range(records[0].id, records[0].id + 50))
    assert lc.Record.filter(name__startswith="r").count() == 50


def test_batch_commits_at_the_end_and_sees_its_own_records(catalog, tmp_path):
    before = catalog.tables.version("record")
    with lc.batch():
        record = lc.Record(name="in batch").save()
        assert lc.Record.get(name="in batch").id == record.id
        assert catalog.tables.version("record") == before
    assert catalog.tables.version("record") == before + 1


def test_batch_that_raises_writes_nothing(catalog):
    before = catalog.tables.version("record")
    with pytest.raises(RuntimeError, match=r"boom"), lc.batch():
        lc.Record(name="never").save()
        raise RuntimeError("boom")
    assert catalog.tables.version("record") == before
    assert not lc.Record.filter(name="never").exists()


def test_record_repr_matches_lamindb(catalog):
    record = lc.Record(name="Experiment 1").save()
    text = repr(record)
    assert text.startswith(
        f"Record(uid='{record.uid}', name='Experiment 1', is_type=False, branch_id=1, space_id=1, created_by_id=1, created_at="
    )
    assert text.endswith(" UTC, is_locked=False)")


# bad input


def test_missing_file_is_a_clear_error(catalog, tmp_path):
    with pytest.raises(
        FileNotFoundError, match=r"no such file or folder: .*missing.txt"
    ):
        lc.Artifact(tmp_path / "missing.txt", key="missing.txt")


@pytest.mark.parametrize("key", ["../x.txt", "a/../../x.txt", "/abs/x.txt", "a\\b.txt"])
def test_keys_that_escape_the_catalog_are_refused(catalog, tmp_path, key):
    path = tmp_path / "x.txt"
    path.write_text("x")
    with pytest.raises(lc.errors.ValidationError, match=r"Artifact.key"):
        lc.Artifact(path, key=key)
    assert lc.Artifact.filter().count() == 0


def test_key_with_another_suffix_is_refused(catalog, tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("x")
    with pytest.raises(
        lc.errors.ValidationError, match=r"has suffix '.csv' but the file has '.txt'"
    ):
        lc.Artifact(path, key="x.csv")


def test_wrong_value_type_names_registry_and_field(catalog):
    with pytest.raises(
        lc.errors.ValidationError, match=r"Record.name takes a str value, got int 3"
    ):
        lc.Record(name=3)
    with pytest.raises(ValueError, match=r"Record.is_type takes a bool value"):
        lc.Record(name="x", is_type="yes")


def test_unknown_keyword_lists_allowed_fields(catalog):
    with pytest.raises(
        lc.errors.FieldError,
        match=r"Record\(\) got an unknown field 'nmae'.*Did you mean 'name'",
    ):
        lc.Record(nmae="x")


def test_folder_that_is_not_a_catalog(tmp_path):
    (tmp_path / "stuff").mkdir()
    (tmp_path / "stuff" / "file.txt").write_text("x")
    with pytest.raises(lc.errors.StorageError, match=r"lakecat.json is missing"):
        lc.connect(tmp_path / "stuff")
    with pytest.raises(
        lc.errors.StorageError, match=r"not empty and has no lakecat.json"
    ):
        lc.init(storage=tmp_path / "stuff")
    assert sorted(p.name for p in (tmp_path / "stuff").iterdir()) == ["file.txt"]


def test_failed_save_changes_nothing(catalog):
    lc.Record(name="kept").save()
    before = catalog.tables.version("record")
    with pytest.raises(lc.errors.ValidationError):
        lc.save([lc.Record(name="ok"), lc.Record(name="bad", uid=None, is_type=None)])
    assert catalog.tables.version("record") == before
    assert lc.Record.filter(name="kept").count() == 1


def test_trashing_and_restoring_the_latest_version_keeps_one_latest(catalog, tmp_path):
    versions = []
    for i in range(3):
        (tmp_path / f"{i}.txt").write_text(str(i))
        versions.append(lc.Artifact(tmp_path / f"{i}.txt", key="v/x.txt").save())
    versions[-1].delete()
    assert lc.Artifact.get(key="v/x.txt").id == versions[1].id
    assert lc.Artifact.objects.filter(key="v/x.txt", is_latest=True).count() == 1
    lc.Artifact.get(versions[-1].id).restore()
    assert lc.Artifact.get(key="v/x.txt").id == versions[-1].id
    assert lc.Artifact.objects.filter(key="v/x.txt", is_latest=True).count() == 1
    lc.Artifact.get(versions[0].id).delete()
    lc.Artifact.get(versions[0].id).restore()
    assert lc.Artifact.get(versions[0].id).is_latest is False


def test_ids_stay_dense_across_batches(catalog):
    with lc.batch():
        first = [lc.Record(name=f"a{i}").save().id for i in range(3)]
    with lc.batch():
        second = [lc.Record(name=f"b{i}").save().id for i in range(3)]
    single = lc.Record(name="c").save().id
    assert first + second + [single] == list(range(first[0], first[0] + 7))


def test_queryset_as_of_answers_from_the_past(catalog):
    import time
    from datetime import datetime, timezone

    lc.Record(name="early").save()
    time.sleep(0.05)
    moment = datetime.now(timezone.utc)
    time.sleep(0.05)
    late = lc.Record(name="late").save()
    late.name = "renamed"
    late.save()
    assert lc.Record.filter().to_list("name") == ["early", "renamed"]
    assert lc.Record.filter().as_of(moment).to_list("name") == ["early"]
    assert lc.Record.filter(name__startswith="e").as_of(moment.isoformat()).count() == 1
    with pytest.raises(lc.errors.StorageError):
        lc.Record.filter().as_of("2001-01-01T00:00:00")
