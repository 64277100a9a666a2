"""Several processes writing one catalog at once: nothing lost, nothing doubled."""

from __future__ import annotations

import polars as pl
import pytest
from conftest import run_workers, spawn

import lakecat as lc
from lakecat.engine import tables

WRITERS = 4


def _check_mixed(catalog: lc.catalog.instance.Catalog, results: list[dict]) -> None:
    """Every write a worker saw return is present exactly once; versions are sane."""
    artifacts = catalog.frame("artifact")
    links = catalog.frame("artifact_record")
    assert artifacts.get_column("id").is_unique().all()
    assert artifacts.get_column("uid").is_unique().all()
    assert links.get_column("id").is_unique().all()

    by_id = {row["id"]: row for row in artifacts.iter_rows(named=True)}
    for result in results:
        for artifact_id, uid in result["artifacts"] + result["shared"]:
            assert by_id[artifact_id]["uid"] == uid
        for artifact_id, description in result["descriptions"].items():
            assert by_id[int(artifact_id)]["description"] == description
    pairs = links.select("artifact_id", "record_id").rows()
    expected = [tuple(pair) for result in results for pair in result["links"]]
    assert sorted(pairs) == sorted(expected)

    latest = artifacts.filter(pl.col("is_latest")).group_by("key").len()
    assert latest.get_column("len").to_list() == [1] * latest.height
    assert set(latest.get_column("key")) == set(artifacts.get_column("key"))

    shared = artifacts.filter(pl.col("key") == "shared/data.txt")
    reported = sorted(uid for result in results for _, uid in result["shared"])
    assert sorted(shared.get_column("uid")) == reported
    assert shared.get_column("uid").str.slice(0, 16).n_unique() == 1  # one family
    newest = shared.sort("uid").row(-1, named=True)
    assert newest["is_latest"]


def _mixed_arguments(root, options, files, count) -> list[dict]:
    return [
        {"root": root, "options": options, "worker": w, "count": count,
         "files": str(files), "label": "shared-label"}
        for w in range(WRITERS)
    ]  # fmt: skip


def test_writers_save_link_version_and_describe_at_once(where, tmp_path):
    root, options = where
    lc.init(storage=root, storage_options=options or None)
    lc.Record(name="shared-label").save()
    files = tmp_path / "files"
    files.mkdir()
    count = 5 if "://" not in root else 3

    results = run_workers("mixed", _mixed_arguments(root, options, files, count))

    fresh = lc.connect(root, storage_options=options or None)
    _check_mixed(fresh, results)
    assert fresh.frame("artifact").height == WRITERS * (count + (count + 1) // 2)


def test_writers_while_optimize_runs(tmp_path):
    root = str(tmp_path / "catalog")
    lc.init(storage=root)
    lc.Record(name="shared-label").save()
    files = tmp_path / "files"
    files.mkdir()
    arguments = _mixed_arguments(root, {}, files, 4)
    optimizer = spawn("optimizing", root=root, seconds=8.0)

    results = run_workers("mixed", arguments)

    optimizer.wait(timeout=30)
    assert optimizer.returncode == 0, optimizer.stderr.read()[-2000:]
    fresh = lc.connect(root)
    _check_mixed(fresh, results)
    assert fresh.frame("artifact").height == WRITERS * (4 + 2)


@pytest.mark.parametrize("place", ["local", "s3"])
def test_record_ids_unique_and_increasing_per_process(place, tmp_path, request):
    """Locally every writer also compacts often: racing compactions lose nothing."""
    if place == "local":
        root, options = str(tmp_path / "catalog"), {}
    else:
        root, options = request.getfixturevalue("s3_root")
    lc.init(storage=root, storage_options=options or None)
    count, small_files = (12, 4) if place == "local" else (5, 48)
    arguments = [
        {"root": root, "options": options, "worker": w, "count": count,
         "small_files": small_files}
        for w in range(WRITERS)
    ]  # fmt: skip

    results = run_workers("records", arguments)

    frame = lc.connect(root, storage_options=options or None).frame("record")
    saved = [i for result in results for i in result["ids"]]
    assert sorted(frame.get_column("id")) == sorted(saved)  # each exactly once
    assert len(set(saved)) == len(saved)
    for result in results:
        assert result["ids"] == sorted(result["ids"])
    names = set(frame.get_column("name"))
    assert names == {f"w{w}-r{i}" for w in range(WRITERS) for i in range(count)}


def _conflict_on_every_attempt(monkeypatch, catalog, artifact_id: int) -> list[int]:
    """Make another connection rewrite the row right after each attempt reads."""
    rival = lc.catalog.instance.Catalog.open(catalog.root)
    attempts = []
    original = tables.TableStore._writer

    def writer(store, table):
        delta = original(store, table)
        if store is catalog.tables and table == "artifact":
            attempts.append(delta.version())
            row = (
                rival.frame("artifact")
                .filter(pl.col("id") == artifact_id)
                .to_dicts()[0]
            )
            row["description"] = f"rival {len(attempts)}"
            rival.tables.update("artifact", pl.DataFrame([row]))
        return delta

    monkeypatch.setattr(tables.TableStore, "_writer", writer)
    return attempts


def test_writer_that_keeps_losing_raises_conflict_error(catalog, tmp_path, monkeypatch):
    path = tmp_path / "a.txt"
    path.write_text("content")
    artifact = lc.Artifact(path, key="a.txt", description="before").save()
    monkeypatch.setattr(tables, "MAX_RETRIES", 2)
    attempts = _conflict_on_every_attempt(monkeypatch, catalog, artifact.id)

    artifact.description = "after"
    with pytest.raises(
        lc.errors.ConflictError, match="gave up writing table `artifact`"
    ) as info:
        artifact.save()

    assert info.value.table == "artifact"
    assert len(attempts) == 3
    fresh = lc.catalog.instance.Catalog.open(catalog.root).frame("artifact")
    assert fresh.filter(pl.col("id") == artifact.id)["description"].to_list() == [
        "rival 3"
    ]


def test_writers_without_retries_give_up_with_conflict_error(tmp_path):
    """Processes rewriting one row with `MAX_RETRIES = 0`: each write either lands
    or raises the typed `ConflictError`; nothing else, and nothing half-done."""
    root = str(tmp_path / "catalog")
    lc.init(storage=root)
    path = tmp_path / "a.txt"
    path.write_text("a")
    lc.Artifact(path, key="a.txt", description="start").save()
    arguments = [
        {"root": root, "worker": w, "key": "a.txt", "count": 15} for w in range(WRITERS)
    ]

    results = run_workers("conflicting", arguments)

    assert all(len(r["done"]) + r["gave_up"] == 15 for r in results)
    frame = lc.connect(root).frame("artifact")
    assert frame.height == 1 and frame.get_column("is_latest").to_list() == [True]
    landed = {d for r in results for d in r["done"]}
    assert frame.get_column("description")[0] in landed


def test_merge_does_not_conflict_with_unrelated_appends(catalog, tmp_path, monkeypatch):
    path = tmp_path / "a.txt"
    path.write_text("content")
    artifact = lc.Artifact(path, key="a.txt").save()
    rival = lc.catalog.instance.Catalog.open(catalog.root)
    monkeypatch.setattr(tables, "MAX_RETRIES", 0)
    original = tables.TableStore._writer

    def writer(store, table):
        delta = original(store, table)
        if store is catalog.tables and table == "artifact":
            other = tmp_path / f"other-{delta.version()}.txt"
            other.write_text(other.name)
            lc.catalog.instance._current = rival
            try:
                lc.Artifact(other, key=other.name).save()  # another family, another id
            finally:
                lc.catalog.instance._current = catalog
        return delta

    monkeypatch.setattr(tables.TableStore, "_writer", writer)
    artifact.description = "changed while others save"
    artifact.save()

    fresh = lc.catalog.instance.Catalog.open(catalog.root).frame("artifact")
    assert fresh.filter(pl.col("id") == artifact.id)["description"].to_list() == [
        "changed while others save"
    ]


def test_conflicting_new_version_is_recomputed_on_retry(catalog, tmp_path, monkeypatch):
    first, second, rival_file = (tmp_path / n for n in ("1.txt", "2.txt", "3.txt"))
    first.write_text("v1")
    second.write_text("v2")
    rival_file.write_text("v3")
    v1 = lc.Artifact(first, key="data.txt").save()
    rival = lc.catalog.instance.Catalog.open(catalog.root)
    original = tables.TableStore._writer
    calls = []

    def writer(store, table):
        delta = original(store, table)
        if store is catalog.tables and table == "artifact" and not calls:
            calls.append(1)  # a rival process saves a version between read and commit
            lc.catalog.instance._current = rival
            try:
                lc.Artifact(rival_file, key="data.txt").save()
            finally:
                lc.catalog.instance._current = catalog
        return delta

    monkeypatch.setattr(tables.TableStore, "_writer", writer)
    v2 = lc.Artifact(second, key="data.txt").save()

    frame = lc.catalog.instance.Catalog.open(catalog.root).frame("artifact")
    family = frame.filter(pl.col("key") == "data.txt").sort("uid")
    assert family.get_column("uid").str.slice(0, 16).unique().to_list() == [v1.uid[:16]]
    assert family.get_column("uid").str.slice(16).to_list() == ["0000", "0001", "0002"]
    assert family.get_column("is_latest").to_list() == [False, False, True]
    assert v2.uid.endswith("0002")
    objects = tmp_path / "catalog" / "objects"
    assert (objects / f"{v2.uid}.txt").read_text() == "v2"
    assert (objects / f"{v1.uid[:16]}0001.txt").read_text() == "v3"  # the rival's bytes
    assert sorted(p.name for p in objects.iterdir()) == sorted(
        f"{uid}.txt" for uid in family.get_column("uid")
    )
