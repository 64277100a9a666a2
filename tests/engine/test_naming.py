"""Golden tests for lookup attribute names and the `Lookup` object (query spec §5)."""

from __future__ import annotations

import re
import warnings

import pytest

from lakecat.engine.naming import Lookup, to_attribute_name, warn_user


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Experiment 1", "experiment_1"),
        ("DMSO", "dmso"),
        ("CD8-positive, alpha-beta T cell", "cd8_positive_alpha_beta_t_cell"),
        ("T cell", "t_cell"),
        ("T-cell", "t_cell"),
        ("1st sample", "ln_1st_sample"),
        ("_hidden", "ln__hidden"),
        ("ADGB-DT", "adgb_dt"),
        ("testuser1", "testuser1"),
        ("Äpfel", "ln__pfel"),
        ("class", "class_"),
        ("Class", "class_"),
        ("COVID-19", "covid_19"),
        ("Crohn's disease", "crohn_s_disease"),
        ("dict", "dict_"),
        ("None", "none"),  # keywords are checked after lower-casing
        ("match", "match"),  # a soft keyword is a valid attribute name
        ("  spaced  out  ", "ln__spaced_out_"),
        ("---", "ln__"),
    ],
)
def test_to_attribute_name_examples(value, expected):
    assert to_attribute_name(value) == expected


def test_to_attribute_name_empty_is_none():
    assert to_attribute_name("") is None


def test_to_attribute_name_custom_prefix():
    assert to_attribute_name("1st sample", prefix="bt_") == "bt_1st_sample"
    assert to_attribute_name("B cell", prefix="bt_") == "b_cell"


@pytest.fixture
def records() -> Lookup:
    return Lookup(
        [("Experiment 1", "rec3"), ("Experiment 2", "rec4"), ("DMSO", "rec7")]
    )


def test_lookup_attribute_access(records):
    assert records.experiment_1 == "rec3"
    assert records.dmso == "rec7"


def test_lookup_iterates_indexes_and_counts(records):
    assert list(records) == ["rec3", "rec4", "rec7"]
    assert records[0] == "rec3"
    assert records[-1] == "rec7"
    assert records[1:] == ("rec4", "rec7")
    assert len(records) == 3
    assert "rec4" in records


def test_lookup_dir_lists_the_names(records):
    assert records.__dir__() == ["experiment_1", "experiment_2", "dmso", "dict"]
    assert {"experiment_1", "experiment_2", "dmso", "dict"} <= set(dir(records))


def test_lookup_dict_maps_raw_values(records):
    assert records.dict() == {
        "Experiment 1": "rec3",
        "Experiment 2": "rec4",
        "DMSO": "rec7",
    }


def test_lookup_dict_lists_objects_sharing_a_raw_value():
    lookup = Lookup([("T cell", 1), ("T-cell", 2), ("T cell", 3)])

    assert lookup.dict() == {"T cell": [1, 3], "T-cell": 2}


def test_lookup_value_named_dict_keeps_the_method():
    lookup = Lookup([("dict", "obj")])

    assert lookup.dict_ == "obj"
    assert lookup.dict() == {"dict": "obj"}


def test_lookup_return_values_for_attributes_objects_for_dict():
    lookup = Lookup([("ADGB-DT", "gene1")], returns=["ENSG00000118492"])

    assert lookup.adgb_dt == "ENSG00000118492"
    assert lookup.dict() == {"ADGB-DT": "gene1"}


def test_lookup_skips_empty_and_non_string_values():
    lookup = Lookup([("", 1), (None, 2), (3.5, 3), ("ok", 4)])

    assert list(lookup) == [4]
    assert lookup.dict() == {"ok": 4}


@pytest.mark.parametrize(
    ("keep", "expected"),
    [("first", "a"), ("last", "c"), (False, ["a", "c"])],
)
def test_lookup_shared_name_follows_keep(keep, expected):
    lookup = Lookup([("T cell", "a"), ("B cell", "b"), ("T-cell", "c")], keep=keep)

    msg = f"2 records found for 't_cell'. Returning based on keep='{keep}'."
    with pytest.warns(UserWarning, match=re.escape(msg)) as caught:
        assert lookup.t_cell == expected

    # the warning points at the line that accessed the attribute
    assert caught[0].filename == __file__
    assert lookup.b_cell == "b"


def test_lookup_shared_name_warns_once():
    lookup = Lookup([("Sample", 1), ("sample", 2), ("SAMPLE", 3)])

    with pytest.warns(UserWarning, match=re.escape("3 records found for 'sample'")):
        assert lookup.sample == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert lookup.sample == 1


def test_lookup_single_object_under_keep_false_is_not_a_list():
    assert Lookup([("DMSO", "rec7")], keep=False).dmso == "rec7"


def test_lookup_unknown_name_suggests_the_closest(records):
    msg = "'Lookup' object has no attribute 'experment_1'. Did you mean 'experiment_1'?"
    with pytest.raises(AttributeError, match=re.escape(msg)):
        _ = records.experment_1


def test_lookup_unknown_name_without_suggestion(records):
    with pytest.raises(AttributeError, match=r"no attribute 'zzz'\.$"):
        _ = records.zzz


def test_lookup_private_names_are_plain_attribute_errors(records):
    assert not hasattr(records, "_ipython_canary_method_should_not_exist_")


def test_lookup_repr_abbreviates(records):
    assert repr(records) == "Lookup(experiment_1, experiment_2, dmso)"

    many = Lookup([(f"Sample {i}", i) for i in range(13)])
    assert repr(many) == (
        "Lookup(sample_0, sample_1, sample_2, sample_3, sample_4, sample_5, "
        "sample_6, sample_7, sample_8, sample_9, ... 3 more)"
    )


def test_lookup_invalid_keep_raises():
    with pytest.raises(ValueError, match="`keep` must be 'first', 'last' or False"):
        Lookup([("a", 1)], keep="any")


def test_lookup_returns_of_another_length_raise():
    with pytest.raises(ValueError, match="one value per pair"):
        Lookup([("a", 1)], returns=[1, 2])


def test_lookup_public_prefix():
    assert Lookup([("5-HT", 1)], prefix="bt_").bt_5_ht == 1


def test_warn_user_points_at_the_caller():
    with pytest.warns(UserWarning, match="careful") as caught:
        warn_user("careful")

    assert caught[0].filename == __file__
