"""Golden tests for search ranking (query spec §4.4) and our typo tolerance."""

from __future__ import annotations

import random
import re

import polars as pl
import pytest

from lakecat.engine.search import SCORE_COLUMN, rank


def names(frame: pl.DataFrame, column: str = "name") -> list[str]:
    return frame.get_column(column).to_list()


def scores(frame: pl.DataFrame) -> list[float]:
    return frame.get_column(SCORE_COLUMN).to_list()


def records(*values: str, start: int = 1) -> pl.DataFrame:
    """A one-field registry with ids counting from `start`."""
    return pl.DataFrame({"id": range(start, start + len(values)), "name": values})


@pytest.fixture
def artifacts() -> pl.DataFrame:
    """The guide's five artifacts (spec §1.10), with their string columns."""
    return pl.DataFrame(
        {
            "id": [1, 2, 3, 4, 5],
            "uid": [
                "TV7bMzHBS0kOIABG0000",
                "Fd5QkwsYcEt0qzM40000",
                "Pm2RrNb7qKxWJcDl0000",
                "Qd3uJ5fZkMT2hwEa0000",
                "Ua0bLW9vTcE4pXyG0000",
            ],
            "key": [
                "images/my_image.jpg",
                "raw/my_fastq.fastq.gz",
                "iris.parquet",
                "examples/dataset1.h5ad",
                "examples/dataset2.h5ad",
            ],
            "description": [None, None, None, None, None],
            "suffix": [".jpg", ".fastq.gz", ".parquet", ".h5ad", ".h5ad"],
            "kind": [None, None, "dataset", "dataset", "dataset"],
            "otype": [None, None, "DataFrame", "AnnData", "AnnData"],
        },
        schema_overrides={"description": pl.String},
    )


@pytest.fixture
def cell_types() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "id": [1, 2, 3, 4],
            "name": ["T cell", "B cell", "PP cell", "nodal myocyte"],
            "synonyms": [
                "T lymphocyte|T-lymphocyte|T-cell",
                "B-cell|B lymphocyte|B-lymphocyte",
                None,
                "P cell|myocytus nodalis|cardiac pacemaker cell",
            ],
        }
    )


ARTIFACT_FIELDS = ["uid", "key", "description", "suffix", "kind", "otype"]
CELL_FIELDS = ["name", "synonyms"]


def test_rank_artifact_iris_is_the_only_hit(artifacts):
    found = rank(artifacts, "iris", ARTIFACT_FIELDS)

    assert found.get_column("id").to_list() == [3]
    assert scores(found) == [23.0]  # 10 + 8 + 2 + 2 + 1 on `key`
    assert found.columns == [*artifacts.columns, SCORE_COLUMN]


def test_rank_celltype_p_cell_top_two(cell_types):
    found = rank(cell_types, "P cell", CELL_FIELDS)

    assert set(names(found)[:2]) == {"nodal myocyte", "PP cell"}
    assert scores(found)[:2] == [223.0, 3.0]


def test_rank_celltype_limit_one_keeps_one_row(cell_types):
    assert rank(cell_types, "P cell", CELL_FIELDS, limit=1).height == 1


def test_rank_celltype_b_cell_case_insensitive(cell_types):
    found = rank(cell_types, "b cell", CELL_FIELDS, case_sensitive=False)

    assert names(found)[0] == "B cell"
    assert scores(found)[0] == 423.0


def test_rank_celltype_t_cell_first():
    cells = records("CD8-positive, alpha-beta T cell", "T cell", "cell")

    found = rank(cells, "t cell", ["name"])

    assert names(found) == ["T cell", "CD8-positive, alpha-beta T cell"]
    assert scores(found) == [423.0, 15.0]


def test_rank_exact_before_word_matches():
    cells = records("neural stem cell", "cell", "stem cell", "hematopoietic stem cell")

    found = rank(cells, "stem cell", ["name"])

    assert names(found) == ["stem cell", "neural stem cell", "hematopoietic stem cell"]
    assert scores(found) == [423.0, 15.0, 15.0]


def test_rank_prefix_beats_word_start():
    tissues = records("kidney epithelium", "kidney", "adrenal gland")

    found = rank(tissues, "kidne", ["name"])

    assert names(found) == ["kidney", "kidney epithelium"]
    assert scores(found) == [11.0, 3.0]


def test_rank_record_among_similar_names():
    found = rank(records("Record 0", "Record 1", "Record 2"), "Record 1", ["name"])

    assert names(found)[0] == "Record 1"


def test_rank_sums_points_over_fields(cell_types):
    found = rank(cell_types, "T-cell", CELL_FIELDS, typo_tolerance=False)

    # name "T cell": no hit; synonyms: the token "T-cell" at the end
    assert names(found) == ["T cell"]
    assert scores(found) == [223.0]

    both = pl.DataFrame({"id": [1], "name": ["iris"], "synonyms": ["iris|flag"]})
    assert scores(rank(both, "iris", CELL_FIELDS)) == [423.0 + 223.0]


@pytest.mark.parametrize(
    ("value", "query", "points"),
    [
        ("iris.parquet", "iris", 23),  # word, prefix, start, end, contains
        ("T cell", "t cell", 423),  # every rule
        ("B-cell|B lymphocyte", "b lymphocyte", 223),  # synonym
        ("hematopoietic stem cell", "stem cell", 15),  # word inside a name
        ("PP cell", "p cell", 3),  # end and contains
        ("kidney", "kidne", 11),  # prefix, start, contains
        ("kidney epithelium", "kidne", 3),  # a space follows: no prefix points
        ("my_image.jpg", "image", 3),  # `_` is not a delimiter
        ("a,b;c:d", "b", 13),  # `,` and `;` delimit words but do not start them
        ("cardiac pacemaker cell", "cardiac", 15),
        ("myocytus nodalis|x", "nodal", 3),  # after a space, not a pipe
        ("nodalis", "nodal", 11),
        ("x|nodalis y", "nodal", 3),  # the rest of its token holds a space
    ],
)
def test_rank_points_per_rule(value, query, points):
    found = rank(records(value), query, ["name"], typo_tolerance=False)

    assert scores(found) == [float(points)]


def test_rank_ties_by_ascending_id():
    frame = pl.DataFrame(
        {"id": [9, 2, 5], "name": ["blue cell", "red cell", "green cell"]}
    )

    found = rank(frame, "cell", ["name"])

    assert found.get_column("id").to_list() == [2, 5, 9]
    assert scores(found) == [15.0, 15.0, 15.0]


def test_rank_ties_by_custom_id_column():
    frame = pl.DataFrame(
        {"ontology_id": ["CL:3", "CL:1"], "name": ["a cell", "b cell"]}
    )

    found = rank(frame, "cell", ["name"], id_column="ontology_id")

    assert found.get_column("ontology_id").to_list() == ["CL:1", "CL:3"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("cat[", ["cat[*_*]"]),
        ("*_*", ["cat[*_*]"]),
        ("a.c", ["a.c"]),
        ("C++ (", ["C++ (beta)"]),
        ("x_y", ["x_y"]),
        ("50%", ["50%"]),
        ("^cat", []),
    ],
)
def test_rank_query_is_literal(query, expected):
    frame = records("cat[*_*]", "cat", "a.c", "abc", "C++ (beta)", "x_y", "xzy", "50%")

    assert names(rank(frame, query, ["name"])) == expected


def test_rank_folds_unicode_case():
    frame = records("Ärger", "ÄRGER im Büro", "ärger", "arger", "Straße", "\u212aelvin")

    def search(query: str) -> list[str]:
        return names(rank(frame, query, ["name"], typo_tolerance=False))

    assert search("ärger") == ["Ärger", "ärger", "ÄRGER im Büro"]
    assert search("STRASSE") == []  # lower-cased, not case-folded
    assert search("straße") == ["Straße"]
    assert search("kelvin") == ["\u212aelvin"]  # the Kelvin sign lower-cases to "k"


def test_rank_case_sensitive_compares_as_is():
    frame = records("Ärger", "ärger", "T cell", "t cell")

    found = rank(frame, "Ärger", ["name"], case_sensitive=True, typo_tolerance=False)
    assert names(found) == ["Ärger"]
    assert names(rank(frame, "T cell", ["name"], case_sensitive=True)) == ["T cell"]
    # typos are matched case-sensitively too: one edit away
    found = rank(frame, "Ärger", ["name"], case_sensitive=True)
    assert names(found) == ["Ärger", "ärger"]
    assert scores(found) == [423.0, 0.25]


def test_rank_treats_nulls_as_empty_strings(cell_types):
    found = rank(cell_types, "PP", CELL_FIELDS)

    assert names(found) == ["PP cell"]  # its null synonyms neither fail nor match


def test_rank_strips_the_query(artifacts):
    found = rank(artifacts, "  iris\n", ARTIFACT_FIELDS)

    assert found.get_column("id").to_list() == [3]


def test_rank_searches_non_string_columns_as_text():
    frame = pl.DataFrame({"id": [1, 2], "size": [1024, 2048]})

    assert rank(frame, "102", ["size"]).get_column("id").to_list() == [1]


def test_rank_accepts_a_lazy_frame(artifacts):
    found = rank(artifacts.lazy(), "h5ad", ARTIFACT_FIELDS)

    assert found.get_column("id").to_list() == [4, 5]


def test_rank_limit_none_returns_every_hit():
    frame = records(*(f"sample {i}" for i in range(30)))

    assert rank(frame, "sample", ["name"]).height == 20
    assert rank(frame, "sample", ["name"], limit=None).height == 30


def test_rank_without_hits_returns_the_columns(artifacts):
    found = rank(artifacts, "zzz", ARTIFACT_FIELDS)

    assert found.height == 0
    assert found.schema[SCORE_COLUMN] == pl.Float64
    assert found.columns == [*artifacts.columns, SCORE_COLUMN]


def test_rank_typo_finds_the_closest_words():
    tissues = records("kidney epithelium", "adrenal gland", "kidney", "lymphocyte")

    found = rank(tissues, "kidny", ["name"])

    # a whole value outranks a word inside one; both follow any literal hit
    assert names(found) == ["kidney", "kidney epithelium"]
    assert scores(found) == [0.25, 0.225]
    assert names(rank(tissues, "lymphocite", ["name"])) == ["lymphocyte"]


def test_rank_typo_hits_follow_literal_hits():
    tissues = records("kidny cortex", "adrenal gland", "kidney")

    found = rank(tissues, "kidney", ["name"])

    assert names(found) == ["kidney", "kidny cortex"]
    assert scores(found) == [423.0, 0.225]
    assert names(rank(tissues, "kidney", ["name"], limit=1)) == ["kidney"]
    assert names(rank(tissues, "kidney", ["name"], typo_tolerance=False)) == ["kidney"]


def test_rank_typo_rows_appear_once():
    frame = records("kidney|kidny", "kidny|kidnei")

    found = rank(frame, "kidney", ["name"])

    assert found.get_column("id").to_list() == [1, 2]
    assert scores(found) == [223.0, 0.25]


def test_rank_typo_matches_word_runs(cell_types):
    found = rank(cell_types, "cardiak pacemaker cel", CELL_FIELDS)
    assert names(found) == []  # a short word must be spelled right

    found = rank(cell_types, "cardiak pacemaker", CELL_FIELDS)
    assert names(found) == ["nodal myocyte"]
    assert scores(found) == [0.5 / 2 * 0.9]


def test_rank_typo_skips_short_words(cell_types):
    # "p cell" is one letter away from "t cell", but both words are short
    found = rank(cell_types, "p cell", CELL_FIELDS)

    assert names(found) == ["nodal myocyte", "PP cell"]


def test_rank_typo_ties_by_id():
    frame = records("kidney b", "kidney a", start=7)

    found = rank(frame, "kidnee", ["name"])

    assert found.get_column("id").to_list() == [7, 8]


def test_rank_none_query_raises(cell_types):
    msg = "Cannot search for None value! Please pass a valid string."
    with pytest.raises(ValueError, match=re.escape(msg)):
        rank(cell_types, None, CELL_FIELDS)


def test_rank_empty_fields_raises(cell_types):
    with pytest.raises(ValueError, match="Cannot search without fields"):
        rank(cell_types, "cell", [])


def test_rank_unknown_field_suggests_a_column(cell_types):
    with pytest.raises(ValueError, match=re.escape("Did you mean `synonyms`?")):
        rank(cell_types, "cell", ["name", "synonym"])


def test_rank_negative_limit_raises(cell_types):
    with pytest.raises(ValueError, match="`limit` must be a non-negative integer"):
        rank(cell_types, "cell", CELL_FIELDS, limit=-1)


def test_rank_typo_query_longer_than_the_values(cell_types):
    found = rank(cell_types, "cardiak pacemaker cell of the heart", CELL_FIELDS)

    assert found.height == 0


def test_rank_dotted_capital_i_lower_cases_to_two_characters():
    frame = records("İX", "ix", "abc")

    found = rank(frame, "i", ["name"], typo_tolerance=False)
    assert names(found) == ["İX", "ix"]  # "i̇x" and "ix" both start with "i"
    assert scores(found) == [11.0, 11.0]
    assert names(rank(frame, "ix", ["name"], typo_tolerance=False)) == ["ix"]


def test_prefilter_knows_every_character_that_lower_cases_to_ascii():
    # the candidate scan folds ASCII only; it must keep rows with these characters
    from lakecat.engine.search import _LOWER_TO_ASCII

    chars = pl.Series(
        [chr(c) for c in range(128, 0x110000) if not 0xD800 <= c < 0xE000]
    )
    lowered = pl.DataFrame({"char": chars, "lower": chars.str.to_lowercase()})
    to_ascii = lowered.filter(pl.col("lower").str.contains(r"[\x00-\x7f]"))

    assert sorted(to_ascii.get_column("char")) == sorted(_LOWER_TO_ASCII)


def test_rank_typo_counts_a_swap_as_one_edit():
    tissues = records("adrenal gland", "kidney")

    found = rank(tissues, "kindey", ["name"])

    assert names(found) == ["kidney"]
    assert scores(found) == [0.25]


def test_rank_typo_prefilter_loses_no_row():
    # compare with a brute-force scan: every run of words within budget is found
    from rapidfuzz.distance import OSA

    rng = random.Random(7)
    letters = "abcde"

    def word() -> str:
        return "".join(rng.choice(letters) for _ in range(rng.randint(3, 12)))

    def typo(text: str) -> str:
        i = rng.randrange(len(text))
        edits = [
            text[:i] + text[i + 1 :],
            text[:i] + rng.choice(letters) + text[i:],
            text[:i] + rng.choice(letters) + text[i + 1 :],
            text[:i] + text[i + 1 : i + 2] + text[i] + text[i + 2 :],
        ]
        return rng.choice(edits)

    def close(query: list[str], run: list[str]) -> bool:
        budgets = [min(2, len(w) // 5) for w in query]
        pairs = zip(query, run, budgets, strict=True)
        return all(OSA.distance(q, w) <= b for q, w, b in pairs)

    values = [" ".join(word() for _ in range(rng.randint(1, 3))) for _ in range(400)]
    frame = records(*values)
    for _ in range(60):
        source = rng.choice(values).split()
        size = rng.randint(1, min(2, len(source)))
        query = [typo(typo(w)) if rng.random() < 0.7 else w for w in source[:size]]
        text = " ".join(query)
        expected = set()
        for i, value in enumerate(values):
            value_words = value.split()
            runs = [value_words[j : j + size] for j in range(len(value_words))]
            if text not in value and any(
                close(query, r) for r in runs if r[size - 1 :]
            ):
                expected.add(i + 1)
        if not any(min(2, len(w) // 5) for w in query):
            expected = set()

        found = rank(frame, text, ["name"], limit=None)

        typo_rows = found.filter(pl.col(SCORE_COLUMN) < 1).get_column("id")
        assert set(typo_rows) == expected, text
