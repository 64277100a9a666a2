"""The guide's feature outputs on a fresh catalog built with `save_mini_immuno_datasets`.

The catalog is built once per module as the guide does: the jpg, fastq and iris
artifacts, then the two mini-immuno datasets with their features and labels. Row
ids, values and FeatureValue hashes are pinned to the guide's; uids and
timestamps are random and left aside.
"""

from __future__ import annotations

import math
from datetime import date

import pytest

import lakecat as lc
from lakecat.catalog import instance
from lakecat.engine import errors

NOTE = "We had a great time performing this study and the results look compelling."
FEATURE_COLUMNS = [
    "uid", "key", "perturbation", "temperature", "experiment", "date_of_study",
    "study_note", "study_metadata",
]  # fmt: skip
LOG_LINE = (
    "queried for all categorical features with dtype ULabel or Record and "
    "non-categorical features: (7) ['perturbation', 'sample_note', 'temperature', "
    "'experiment', 'date_of_study', 'study_note', 'study_metadata']"
)


@pytest.fixture(scope="module")
def guide_root(tmp_path_factory):
    """The guide's catalog: three example files, then the mini-immuno datasets."""
    root = tmp_path_factory.mktemp("mini-immuno") / "catalog"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LAKECAT_HOME", str(tmp_path_factory.mktemp("home")))
        patch.setattr(instance, "_current", None)
        lc.init(storage=root, modules=["bio"], user="testuser1", user_name="Test User1")
        examples = lc.examples.datasets
        for path, key in (
            (examples.file_jpg_paradisi05(), "images/my_image.jpg"),
            (examples.file_fastq(), "raw/my_fastq.fastq.gz"),
        ):
            lc.Artifact(path, key=key).save()
        lc.Artifact.from_dataframe(examples.df_iris(), key="iris.parquet").save()
        with pytest.warns(UserWarning, match="terms not validated"):
            examples.mini_immuno.save_mini_immuno_datasets()
    return root


@pytest.fixture
def guide(guide_root):
    """The guide's catalog, connected."""
    return lc.connect(guide_root)


def test_mini_immuno_features_labels_and_values_have_the_guide_ids(guide):
    features = lc.Feature.filter().order_by("id")
    assert [(f.id, f.name, f.dtype) for f in features] == [
        (1, "perturbation", "cat[Record]"),
        (2, "sample_note", "str"),
        (3, "cell_type_by_expert", "cat[bionty.CellType]"),
        (4, "cell_type_by_model", "cat[bionty.CellType]"),
        (5, "temperature", "float"),
        (6, "experiment", "cat[Record]"),
        (7, "date_of_study", "date"),
        (8, "study_note", "str"),
        (9, "study_metadata", "dict"),
    ]
    records = lc.Record.filter().order_by("id")
    assert [(r.id, r.name) for r in records] == [
        (1, "DMSO"), (2, "IFNG"), (3, "Experiment 1"), (4, "Experiment 2"),
    ]  # fmt: skip
    values = guide.frame("featurevalue").sort("id")
    assert values.select("id", "feature_id", "value", "hash").rows() == [
        (1, 5, "21.6", "XftFE5byhwPHY-11WjfNAw"),
        (2, 7, '"2024-12-01"', "gNXeOkGaab5bqWC7D--aHQ"),
        (3, 8, f'"{NOTE}"', "ixx1CqAyBO8WO7lLdLpqTg"),
        (4, 9, '{"detail1":"123","detail2":1}', "nJ33A6k51yp-1ZlqFabWdw"),
        (5, 5, "22.6", "54rmFUZH0WdllA5alp-64g"),
        (6, 7, '"2025-02-13"', "SGTsR3XvXFi5jZ8UjC6YaQ"),
        (7, 9, '{"detail1":"456","detail2":2}', "QAU2Is6uXBBgz8zC_p-rAQ"),
    ]
    links = guide.frame("artifact_featurevalue").sort("id")
    assert links.select("artifact_id", "featurevalue_id").rows() == [
        (4, 1), (4, 2), (4, 3), (4, 4), (5, 5), (5, 6), (5, 7),
    ]  # fmt: skip
    labels = guide.frame("artifact_record").sort("id")
    assert labels.select("artifact_id", "record_id", "feature_id").rows() == [
        (4, 1, 1), (4, 2, 1), (4, 3, 6), (5, 1, 1), (5, 2, 1), (5, 4, 6),
    ]  # fmt: skip


def test_mini_immuno_features_true_reproduces_the_guide(guide, caplog):
    caplog.set_level("INFO", logger="lakecat.user")
    df = lc.Artifact.to_dataframe(features=True)
    assert LOG_LINE in caplog.text
    assert list(df.columns) == FEATURE_COLUMNS
    assert df.index.tolist() == [5, 4, 3, 2, 1]
    assert df.loc[4, "perturbation"] == {"IFNG", "DMSO"} == df.loc[5, "perturbation"]
    assert (df.loc[4, "temperature"], df.loc[5, "temperature"]) == (21.6, 22.6)
    assert (df.loc[4, "experiment"], df.loc[5, "experiment"]) == (
        "Experiment 1", "Experiment 2",
    )  # fmt: skip
    assert (df.loc[4, "date_of_study"], df.loc[5, "date_of_study"]) == (
        "2024-12-01", "2025-02-13",
    )  # fmt: skip
    assert df.loc[4, "study_note"] == NOTE and math.isnan(df.loc[5, "study_note"])
    assert df.loc[4, "study_metadata"] == {"detail1": "123", "detail2": 1}
    assert df.loc[5, "study_metadata"] == {"detail1": "456", "detail2": 2}
    for artifact in (1, 2, 3):
        assert all(math.isnan(v) for v in df.loc[artifact, "perturbation":])
    assert str(df["temperature"].dtype) == "float64"
    assert str(df["experiment"].dtype) == "category"


def test_mini_immuno_view_shows_feature_dtypes(guide, capsys):
    lc.view(lc.Artifact.to_dataframe(features=True))
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == FEATURE_COLUMNS
    assert lines[1].split() == [
        "str", "str", "cat[Record]", "float", "cat[Record]", "date", "str", "dict",
    ]  # fmt: skip
    assert lines[2].split() == ["id"]


def test_mini_immuno_filter_by_perturbation_then_features(guide):
    df = lc.Artifact.filter(perturbation="DMSO").to_dataframe(features=True)
    assert df.index.tolist() == [4, 5]
    assert list(df.columns) == FEATURE_COLUMNS
    assert df.loc[4, "experiment"] == "Experiment 1"


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"study_metadata__detail1": "123"}, [4]),
        ({"study_metadata__detail2": 2}, [5]),
        ({"study_metadata__detail1": 123}, []),  # the string "123" is not 123
        ({"study_metadata__detail2": "2"}, []),
        ({"study_metadata__detail2": 2.0}, [5]),  # 2 equals 2.0
        ({"study_metadata__detail2__gte": 1}, [4, 5]),
        ({"study_metadata__detail1__startswith": "4"}, [5]),
        ({"perturbation__isnull": True}, [1, 2, 3]),
        ({"perturbation__isnull": False}, [4, 5]),
        ({"study_note__isnull": True}, [1, 2, 3, 5]),
        ({"temperature__gt": 21}, [4, 5]),
        ({"temperature": 21.6}, [4]),
        ({"date_of_study": date(2024, 12, 1)}, [4]),
        ({"date_of_study__gte": "2025-01-01"}, [5]),
        ({"date_of_study__year": 2025}, [5]),
        ({"experiment__contains": "ment 1"}, [4]),
        ({"perturbation__in": ["DMSO", "IFNG"]}, [4, 5]),
        ({"cell_type_by_expert": "CD8-positive, alpha-beta T cell"}, [4]),
        ({"cell_type_by_model": "T cell"}, [4, 5]),
        ({"suffix": ".h5ad", "temperature": 21.6}, [4]),  # fields and features mix
        ({"experiment": "Experiment 2", "perturbation": "IFNG"}, [5]),
    ],
)
def test_mini_immuno_filters(guide, kwargs, expected):
    assert lc.Artifact.filter(**kwargs).to_dataframe().index.tolist() == expected


def test_mini_immuno_filter_one_and_counts(guide):
    assert lc.Artifact.filter(experiment__contains="ment 1").one().id == 4
    assert lc.Artifact.filter(temperature__lt=21).one_or_none() is None
    assert len(lc.Artifact.filter(temperature__gt=21)) == 2
    annotated = lc.Artifact.get(4)
    assert annotated in lc.Artifact.filter(perturbation__isnull=False)
    assert annotated not in lc.Artifact.filter(perturbation__isnull=True)


def test_mini_immuno_missing_label_and_unknown_feature_errors(guide):
    with pytest.raises(errors.DoesNotExist) as error:
        lc.Artifact.filter(experiment="Experiment 3")
    assert str(error.value) == "Did not find a Record matching `name=Experiment 3`"
    with pytest.raises(errors.InvalidArgument) as error:
        lc.Artifact.filter(temperature_typo=100.0)
    message = str(error.value)
    assert message.startswith("You can query either by available fields: ")
    assert message.endswith("Or fix invalid feature names: temperature_typo")


def test_mini_immuno_include_related_columns(guide):
    include = [
        "created_by__name", "records__name", "cell_types__name",
        "feature_sets__itype", "suffix",
    ]  # fmt: skip
    df = lc.Artifact.to_dataframe(include=include)
    assert list(df.columns) == ["uid", "key", *include]
    assert df.loc[5, "records__name"] == {"Experiment 2", "IFNG", "DMSO"}
    assert df.loc[4, "cell_types__name"] == {
        "B cell", "T cell", "CD8-positive, alpha-beta T cell",
    }  # fmt: skip
    assert df.loc[1, "records__name"] == {None} == df.loc[1, "cell_types__name"]
    assert df.loc[1, "created_by__name"] == "Test User1"


def test_mini_immuno_explicit_features_include_bionty_ones(guide):
    df = lc.Artifact.filter(suffix=".h5ad").to_dataframe(
        features=["cell_type_by_expert", "cell_type_by_model", "temperature"]
    )
    assert list(df.columns) == [
        "uid", "key", "cell_type_by_expert", "cell_type_by_model", "temperature",
    ]  # fmt: skip
    assert df.loc[4, "cell_type_by_expert"] == {
        "B cell", "CD8-positive, alpha-beta T cell",
    }  # fmt: skip
    assert math.isnan(df.loc[5, "cell_type_by_expert"])
    assert df.loc[5, "cell_type_by_model"] == {"B cell", "T cell"}


def test_mini_immuno_get_values(guide):
    assert lc.Artifact.get(4).features.get_values() == {
        "perturbation": {"DMSO", "IFNG"},
        "cell_type_by_expert": {"B cell", "CD8-positive, alpha-beta T cell"},
        "cell_type_by_model": {"B cell", "T cell"},
        "temperature": 21.6,
        "experiment": "Experiment 1",
        "date_of_study": date(2024, 12, 1),
        "study_note": NOTE,
        "study_metadata": {"detail1": "123", "detail2": 1},
    }
    assert lc.Artifact.get(1).features.get_values() == {}
