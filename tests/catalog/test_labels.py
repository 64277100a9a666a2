"""Labels: records, ulabels and bionty terms linked to artifacts, each link with its
feature; record types; `include=` columns over the links."""

from __future__ import annotations

import pytest

import lakecat as lc
import lakecat.bio as bt
from lakecat.catalog import related


@pytest.fixture
def artifacts(catalog, tmp_path):
    out = []
    for i in range(3):
        path = tmp_path / f"a{i}.txt"
        path.write_text(f"artifact {i}")
        out.append(lc.Artifact(path, key=f"labels/a{i}.txt").save())
    return out


@pytest.fixture
def labels(catalog):
    lc.save([lc.Record(name=n) for n in ("DMSO", "IFNG", "Experiment 1")])
    perturbation = lc.Feature(name="perturbation", dtype=lc.Record).save()
    experiment = lc.Feature(name="experiment", dtype=lc.Record).save()
    return perturbation, experiment


def links(catalog, table: str = "artifact_record") -> list[tuple]:
    frame = catalog.frame(table).sort("id")
    columns = [c for c in frame.columns if c not in ("id", "created_at")]
    return frame.select(columns).rows()


def test_records_add_carries_the_feature_and_links_once(catalog, artifacts, labels):
    perturbation, experiment = labels
    artifact = artifacts[0]
    dmso, ifng, study = (
        lc.Record.get(name=n) for n in ("DMSO", "IFNG", "Experiment 1")
    )
    artifact.records.add(dmso, ifng, feature=perturbation)
    artifact.records.add(dmso, feature=perturbation)  # already linked
    artifact.records.add(study, feature=experiment)
    artifact.records.add(study)  # without a feature: a link of its own
    artifact.records.add([study, study])
    assert links(catalog) == [
        (artifact.id, dmso.id, perturbation.id),
        (artifact.id, ifng.id, perturbation.id),
        (artifact.id, study.id, experiment.id),
        (artifact.id, study.id, None),
    ]
    # each record once, however many links (features) lead to it
    assert sorted(r.name for r in artifact.records) == ["DMSO", "Experiment 1", "IFNG"]
    assert lc.Artifact.filter(records=study).one() == artifact
    assert lc.Artifact.filter(experiment=study).one() == artifact
    assert artifact.features.get_values() == {
        "perturbation": {"DMSO", "IFNG"}, "experiment": "Experiment 1",
    }  # fmt: skip


def test_links_in_a_batch_are_deduplicated_and_committed_once(catalog, artifacts):
    good, bad = lc.save([lc.ULabel(name="good"), lc.ULabel(name="bad")])
    version = catalog.tables.version("artifact_ulabel")
    with lc.batch():
        for artifact in artifacts:
            artifact.ulabels.add(good, bad)
            artifact.ulabels.add(good)
        assert len(artifacts[0].ulabels) == 2
        assert lc.Artifact.filter(ulabels=bad).count() == 3
    assert catalog.tables.version("artifact_ulabel") == version + 1
    assert len(links(catalog, "artifact_ulabel")) == 6
    with lc.batch():
        artifacts[0].ulabels.add(good)  # committed already
    assert len(links(catalog, "artifact_ulabel")) == 6


def test_remove_then_add_in_one_batch(catalog, artifacts):
    (good,) = lc.save([lc.ULabel(name="good")])
    artifact = artifacts[0]
    artifact.ulabels.add(good)
    with lc.batch():
        artifact.ulabels.remove(good)
        assert len(artifact.ulabels) == 0
        artifact.ulabels.add(good)
    assert [u.name for u in artifact.ulabels] == ["good"]


def test_set_replaces_the_links(catalog, artifacts):
    a, b, c = lc.save([lc.ULabel(name=n) for n in "abc"])
    artifact = artifacts[0]
    artifact.ulabels.add(a, b)
    artifact.ulabels.set([b, c])
    assert sorted(u.name for u in artifact.ulabels) == ["b", "c"]


def test_add_errors(catalog, artifacts, labels):
    perturbation, _ = labels
    artifact = artifacts[0]
    dmso = lc.Record.get(name="DMSO")
    with pytest.raises(TypeError, match=r"Artifact\.records takes Record records, got"):
        artifact.records.add(lc.ULabel(name="x").save())
    with pytest.raises(ValueError, match="save the Record"):
        artifact.records.add(lc.Record(name="unsaved"))
    with pytest.raises(TypeError, match="links carry no feature"):
        dmso.parents.add(lc.Record.get(name="IFNG"), feature=perturbation)
    with pytest.raises(TypeError, match="`feature=` takes a Feature"):
        artifact.records.add(dmso, feature=dmso)
    with pytest.raises(TypeError, match="is not many-to-many"):
        lc.Record(name="T", is_type=True).save().records.add(dmso)


def test_bionty_labels_with_features(catalog, artifacts):
    expert = lc.Feature(name="cell_type_by_expert", dtype=bt.CellType).save()
    model = lc.Feature(name="cell_type_by_model", dtype=bt.CellType).save()
    t_cell, b_cell = (
        bt.CellType(name="T cell").save(),
        bt.CellType(name="B cell").save(),
    )
    first, second, _ = artifacts
    first.features.add_values({"cell_type_by_expert": [t_cell, "B cell"]})
    first.cell_types.add(b_cell, feature=model)
    second.features.add_values({"cell_type_by_model": "T cell"})
    assert links(catalog, "artifact_celltype") == [
        (first.id, t_cell.id, expert.id),
        (first.id, b_cell.id, expert.id),
        (first.id, b_cell.id, model.id),
        (second.id, t_cell.id, model.id),
    ]
    assert lc.Artifact.filter(cell_type_by_model="T cell").one() == second
    assert lc.Artifact.filter(cell_type_by_expert="T cell").one() == first
    assert lc.Artifact.filter(cell_types=t_cell).count() == 2
    # features=True leaves out bionty features; naming them brings them in
    assert "cell_type_by_model" not in lc.Artifact.filter().to_dataframe(features=True)
    df = lc.Artifact.filter().to_dataframe(features=["cell_type_by_model"])
    assert df.loc[first.id, "cell_type_by_model"] == "B cell"


def test_include_columns_over_links(catalog, artifacts, labels):
    perturbation, _ = labels
    first, second, third = artifacts
    first.records.add(
        *lc.Record.filter(name__in=["DMSO", "IFNG"]), feature=perturbation
    )
    second.records.add(lc.Record.get(name="DMSO"))
    df = lc.Artifact.filter().to_dataframe(
        include=["records__name", "created_by__handle", "records__id"]
    )
    assert list(df.columns) == [
        "uid", "key", "records__name", "created_by__handle", "records__id",
    ]  # fmt: skip
    assert df.loc[first.id, "records__name"] == {"DMSO", "IFNG"}
    assert df.loc[second.id, "records__name"] == {"DMSO"}
    assert df.loc[third.id, "records__name"] == {None}
    assert df.loc[first.id, "created_by__handle"] == "testuser1"
    # include values come from all links, not only those the filter matched
    df = lc.Artifact.filter(perturbation="IFNG").to_dataframe(include="records__name")
    assert df.loc[first.id, "records__name"] == {"DMSO", "IFNG"}


def test_record_types_hold_their_members(catalog, artifacts):
    experiment = lc.Record(name="Experiment", is_type=True).save()
    first = lc.Record(name="Experiment 1", type=experiment).save()
    second = lc.Record(name="Experiment 2", type=experiment).save()
    lc.Record(name="Other").save()
    assert sorted(r.name for r in experiment.records) == [
        "Experiment 1",
        "Experiment 2",
    ]
    assert first.type == experiment
    feature = lc.Feature(name="experiment", dtype=experiment).save()
    assert feature.dtype == "cat[Record[Experiment]]"
    artifacts[0].features.add_values({"experiment": "Experiment 2"})
    artifacts[1].records.add(first, feature=feature)
    assert lc.Artifact.filter(experiment="Experiment 2").one() == artifacts[0]
    assert lc.Artifact.filter(records__type=experiment).count() == 2
    assert lc.Artifact.filter(experiment__in=[first, second]).count() == 2


def test_ulabel_features_are_reported(catalog, artifacts):
    lc.Feature(name="quality", dtype=lc.ULabel).save()
    lc.save([lc.ULabel(name="good"), lc.ULabel(name="bad")])
    artifacts[0].features.add_values({"quality": "good"})
    artifacts[1].features.add_values({"quality": ["good", "bad"]})
    df = lc.Artifact.filter().order_by("id").to_dataframe(features=True)
    assert list(df.columns) == ["uid", "key", "quality"]
    assert df["quality"].tolist()[:2] == ["good", {"good", "bad"}]
    assert lc.Artifact.filter(quality="bad").one() == artifacts[1]
    assert lc.Artifact.filter(quality__isnull=True).one() == artifacts[2]


def test_rows_where_in_uses_an_index_on_large_frames():
    import polars as pl

    frame = pl.DataFrame(
        {"id": range(300_000), "source": [i % 1000 for i in range(300_000)]}
    )
    expected = frame.filter(pl.col("source").is_in([3, 999])).sort("id")
    for _ in range(3):  # the second call builds the index, the third uses it
        assert related.rows_where_in(frame, "source", [999, 3, 5000]).equals(expected)
    assert related.rows_where_in(frame, "source", []).is_empty()
