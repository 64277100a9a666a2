"""Tests for lakecat.examples.datasets: real files, exact values."""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import struct
import subprocess
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import lakecat
from lakecat.examples import datasets as ds
from lakecat.examples.datasets import _files
from lakecat.examples.datasets import mini_immuno as mi

REPO_ROOT = Path(__file__).resolve().parents[2]

JPG_SIZE = 61_306
JPG_MD5 = "314296a0a5dd3c394e57f4efac733c20"
FASTQ_GZ_SIZE = 355
FASTQ_GZ_MD5 = "530b73da81d1b61fcd46612b60c2b25a"
FASTQ_TEXT_MD5 = "b9d882b270c09d9b5db608c9a7f4411a"

IRIS_COLUMNS = [
    "sepal length (cm)",
    "sepal width (cm)",
    "petal length (cm)",
    "petal width (cm)",
    "target",
]
GENES1 = ["ENSG00000153563", "ENSG00000010610", "ENSG00000170458"]
GENES2 = ["ENSG00000153563", "ENSG00000010610", "ENSG00000004468"]
OBS1 = [
    "perturbation",
    "sample_note",
    "cell_type_by_expert",
    "cell_type_by_model",
    "assay_oid",
    "concentration",
    "treatment_time_h",
    "donor",
]
OBS2 = [
    "perturbation",
    "cell_type_by_model",
    "concentration",
    "treatment_time_h",
    "donor",
]
UNS1 = {
    "temperature": 21.6,
    "experiment": "Experiment 1",
    "date_of_study": "2024-12-01",
    "study_note": (
        "We had a great time performing this study and the results look compelling."
    ),
}
UNS2 = {
    "temperature": 22.6,
    "experiment": "Experiment 2",
    "date_of_study": "2025-02-13",
}
ABT = "CD8-positive, alpha-beta T cell"


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def jpeg_frame_size(data: bytes) -> tuple[int, int]:
    """Walk the JPEG segments up to the start-of-frame; return (width, height)."""
    pos = 2
    while pos < len(data):
        assert data[pos] == 0xFF
        marker = data[pos + 1]
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if marker in (0xC0, 0xC1, 0xC2):
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return width, height
        pos += 2 + length
    raise AssertionError("no start-of-frame segment")


def fake_settings(root: object) -> SimpleNamespace:
    return SimpleNamespace(storage=SimpleNamespace(root=root))


@pytest.fixture(autouse=True)
def _temp_in_tmp_path(tmp_path, monkeypatch):
    """Keep the fresh folders the file functions make inside tmp_path."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))


# --- import cost -------------------------------------------------------------


def test_import_loads_no_heavy_modules():
    code = (
        "import sys\n"
        "import lakecat, lakecat.examples\n"
        "heavy = ('pandas', 'anndata', 'numpy', 'h5py')\n"
        "before = {m for m in heavy if m in sys.modules}\n"
        "import lakecat.examples.datasets\n"
        "import lakecat.examples.datasets.mini_immuno\n"
        "print(sorted({m for m in heavy if m in sys.modules} - before))\n"
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO_ROOT), *filter(None, [env.get("PYTHONPATH")])]
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_public_names():
    assert ds.small_dataset1 is mi.get_dataset1
    assert ds.small_dataset2 is mi.get_dataset2
    assert sorted(ds.__all__) == [
        "df_iris",
        "df_iris_in_meter",
        "df_iris_in_meter_study1",
        "df_iris_in_meter_study2",
        "file_fastq",
        "file_jpg_paradisi05",
        "file_mini_csv",
        "mini_immuno",
        "small_dataset1",
        "small_dataset2",
    ]


# --- JPEG --------------------------------------------------------------------


def test_jpg_is_the_shipped_photo():
    path = ds.file_jpg_paradisi05()
    data = path.read_bytes()
    assert path.name == "grace_hopper.jpg"
    assert data[:3] == b"\xff\xd8\xff"
    assert data[-2:] == b"\xff\xd9"
    assert len(data) == JPG_SIZE
    assert md5(data) == JPG_MD5
    assert data[6:11] == b"JFIF\x00"
    assert jpeg_frame_size(data) == (512, 600)


def test_jpg_returns_a_fresh_copy_each_call():
    shipped = _files.DATA_DIR / "grace_hopper.jpg"
    first = ds.file_jpg_paradisi05()
    second = ds.file_jpg_paradisi05()
    assert first != second
    assert first.parent != second.parent
    assert first.resolve() != shipped.resolve()
    first.unlink()
    assert not first.exists()
    assert md5(shipped.read_bytes()) == JPG_MD5
    assert md5(second.read_bytes()) == JPG_MD5


def test_licence_file_names_the_jpg_and_its_checksum():
    text = (_files.DATA_DIR / "LICENSES.md").read_text(encoding="utf-8")
    assert "## grace_hopper.jpg" in text
    assert JPG_MD5 in text
    assert "public domain" in text


# --- FASTQ -------------------------------------------------------------------


def test_fastq_bytes_are_pinned():
    path = ds.file_fastq()
    data = path.read_bytes()
    assert path.name == "my_fastq.fastq.gz"
    assert data[:4] == b"\x1f\x8b\x08\x00"
    assert data[4:8] == b"\x00\x00\x00\x00"  # mtime 0
    assert len(data) == FASTQ_GZ_SIZE
    assert md5(data) == FASTQ_GZ_MD5
    assert md5(gzip.decompress(data)) == FASTQ_TEXT_MD5


def test_fastq_records_are_valid():
    lines = gzip.decompress(ds.file_fastq().read_bytes()).decode("ascii").split("\n")
    assert lines[-1] == ""
    lines = lines[:-1]
    assert len(lines) == 16
    for number, start in enumerate(range(0, 16, 4), start=1):
        header, bases, plus, quality = lines[start : start + 4]
        assert header == f"@read{number}"
        assert plus == "+"
        assert len(bases) == 36
        assert set(bases) <= set("ACGT")
        assert len(quality) == len(bases)
        assert all(20 <= ord(char) - 33 <= 40 for char in quality)
    assert lines[1] == "TGGAAACACAAACAAGGCCCGAAGGATTAAGGGACT"
    assert lines[3] == ">H9IGFF7HD@C6GBD7IA7;BBEE;:7;86:=6A>"
    assert lines[13] == "CTCTGGACTTTAATCCTAACAACTGCTTTTGGATAA"


def test_fastq_gzip_stream_matches_the_fastq_text():
    text = _files.fastq_text()
    data = ds.file_fastq().read_bytes()
    assert gzip.decompress(data).decode("ascii") == text
    assert text.count("\n") == 16


def test_gzip_stored_handles_empty_and_multi_block_payloads():
    assert gzip.decompress(_files._gzip_stored(b"")) == b""
    payload = bytes(range(256)) * 600  # 153,600 bytes: three stored blocks
    packed = _files._gzip_stored(payload)
    assert gzip.decompress(packed) == payload
    assert len(packed) == 10 + 3 * 5 + len(payload) + 8


def test_fastq_in_storage_root(tmp_path, monkeypatch):
    monkeypatch.setattr(lakecat, "settings", fake_settings(tmp_path), raising=False)
    path = ds.file_fastq(in_storage_root=True)
    assert path == tmp_path / "my_fastq.fastq.gz"
    assert md5(path.read_bytes()) == FASTQ_GZ_MD5


def test_fastq_in_file_url_storage_root(tmp_path, monkeypatch):
    root = f"file://{tmp_path}/store"
    monkeypatch.setattr(lakecat, "settings", fake_settings(root), raising=False)
    path = ds.file_fastq(in_storage_root=True)
    assert path == tmp_path / "store" / "my_fastq.fastq.gz"
    assert md5(path.read_bytes()) == FASTQ_GZ_MD5


def test_fastq_in_remote_storage_root_is_refused(monkeypatch):
    settings = fake_settings("s3://bucket/root")
    monkeypatch.setattr(lakecat, "settings", settings, raising=False)
    with pytest.raises(NotImplementedError, match="s3://bucket/root"):
        ds.file_fastq(in_storage_root=True)


def test_mini_csv(tmp_path, monkeypatch):
    path = ds.file_mini_csv()
    assert path.name == "mini.csv"
    assert path.read_text(encoding="utf-8") == "test\n1\n2\n3\n"
    assert pd.read_csv(path)["test"].tolist() == [1, 2, 3]
    monkeypatch.setattr(lakecat, "settings", fake_settings(tmp_path), raising=False)
    assert ds.file_mini_csv(in_storage_root=True) == tmp_path / "mini.csv"


# --- iris --------------------------------------------------------------------


def test_iris_shape_columns_dtypes():
    df = ds.df_iris()
    assert df.shape == (150, 5)
    assert df.columns.tolist() == IRIS_COLUMNS
    assert [str(t) for t in df.dtypes] == ["float64"] * 4 + ["int64"]
    assert df.index.equals(pd.RangeIndex(150))
    assert df["target"].value_counts().sort_index().tolist() == [50, 50, 50]
    assert df["target"].tolist() == [0] * 50 + [1] * 50 + [2] * 50


def test_iris_known_values():
    df = ds.df_iris()
    sums = df[IRIS_COLUMNS[:4]].sum().round(1).tolist()
    assert sums == [876.5, 458.6, 563.7, 179.9]
    means = df[IRIS_COLUMNS[:4]].mean().tolist()
    assert means == pytest.approx([5.843333, 3.057333, 3.758, 1.199333], abs=1e-6)
    by_species = df.groupby("target")[IRIS_COLUMNS[:4]].mean().round(3)
    assert by_species.values.tolist() == [
        [5.006, 3.428, 1.462, 0.246],
        [5.936, 2.770, 4.260, 1.326],
        [6.588, 2.974, 5.552, 2.026],
    ]
    assert df.iloc[0].tolist() == [5.1, 3.5, 1.4, 0.2, 0]
    assert df.iloc[149].tolist() == [5.9, 3.0, 5.1, 1.8, 2]
    # Fisher's values for flowers 35 and 38 (the UCI copy has them wrong)
    assert df.iloc[34, :4].tolist() == [4.9, 3.1, 1.5, 0.2]
    assert df.iloc[37, :4].tolist() == [4.9, 3.6, 1.4, 0.1]
    mins = df[IRIS_COLUMNS[:4]].min().tolist()
    maxs = df[IRIS_COLUMNS[:4]].max().tolist()
    assert (mins, maxs) == ([4.3, 2.0, 1.0, 0.1], [7.9, 4.4, 6.9, 2.5])


def test_iris_in_meter():
    df = ds.df_iris_in_meter()
    assert df.columns.tolist() == [
        "sepal_length",
        "sepal_width",
        "petal_length",
        "petal_width",
        "iris_organism_name",
    ]
    assert df.iloc[0, :4].tolist() == pytest.approx([0.051, 0.035, 0.014, 0.002])
    assert df["iris_organism_name"].value_counts().to_dict() == {
        "setosa": 50,
        "versicolor": 50,
        "virginica": 50,
    }
    study1, study2 = ds.df_iris_in_meter_study1(), ds.df_iris_in_meter_study2()
    assert (len(study1), len(study2)) == (75, 75)
    assert study1.index.tolist() == list(range(75))
    assert study2.index.tolist() == list(range(75, 150))
    assert study1["iris_organism_name"].iloc[-1] == "versicolor"


# --- mini immuno -------------------------------------------------------------


def test_dataset1_dataframe():
    df = mi.get_dataset1()
    assert df.index.tolist() == ["sample1", "sample2", "sample3"]
    assert df.columns.tolist() == [*GENES1, *OBS1, "donor_ethnicity"]
    assert df[GENES1].values.tolist() == [[1, 3, 5], [2, 4, 6], [3, 5, 7]]
    assert df["perturbation"].tolist() == ["DMSO", "IFNG", "DMSO"]
    assert df["sample_note"].tolist() == ["was ok", "looks naah", "pretty! 🤩"]
    assert df["cell_type_by_expert"].tolist() == ["B cell", ABT, ABT]
    assert df["cell_type_by_model"].tolist() == ["B cell", "T cell", "T cell"]
    assert df["assay_oid"].tolist() == ["EFO:0008913"] * 3
    assert df["concentration"].tolist() == ["0.1%", "200 nM", "0.1%"]
    assert df["treatment_time_h"].tolist() == [24, 24, 6]
    assert df["donor"].tolist() == ["D0001", "D0002", None]
    assert df["donor_ethnicity"].tolist() == [
        ["Chinese", "Singaporean Chinese"],
        ["Chinese", "Han Chinese"],
        ["Chinese"],
    ]
    assert df.attrs == UNS1
    categorical = ["perturbation", "cell_type_by_expert", "cell_type_by_model"]
    assert all(df[c].dtype == "category" for c in [*categorical, "assay_oid"])


def test_dataset1_anndata():
    adata = mi.get_dataset1(otype="AnnData")
    assert adata.obs_names.tolist() == ["sample1", "sample2", "sample3"]
    assert adata.var_names.tolist() == GENES1
    assert adata.obs.columns.tolist() == OBS1
    assert adata.X.dtype == np.int64
    assert adata.X.tolist() == [[1, 3, 5], [2, 4, 6], [3, 5, 7]]
    assert dict(adata.uns) == UNS1


def test_dataset1_flags():
    typo = mi.get_dataset1(
        with_typo=True,
        with_cell_type_synonym=True,
        with_cell_type_typo=True,
        with_wrong_subtype=True,
    )
    assert typo["perturbation"].tolist() == [
        "DMSO",
        "IFNJ",
        "ulabel_but_not_perturbation",
    ]
    bad_abt = "CD8-pos alpha-beta T cell"
    assert typo["cell_type_by_expert"].tolist() == ["B-cell", bad_abt, bad_abt]
    symbols = mi.get_dataset1("AnnData", gene_symbols_in_index=True)
    assert symbols.var_names.tolist() == ["CD8A", "CD4", "CD14"]
    gene_typo = mi.get_dataset1("AnnData", with_gene_typo=True)
    assert gene_typo.var_names.tolist() == [*GENES1[:2], "GeneTypo"]
    outdated = mi.get_dataset1("AnnData", with_gene_typo=True, with_outdated_gene=True)
    assert outdated.var_names.tolist() == [*GENES1[:2], "ENSG00000278198"]
    # as in LaminDB, the outdated gene needs with_gene_typo
    assert mi.get_dataset1(with_outdated_gene=True).columns[:3].tolist() == GENES1
    mismatch = mi.get_dataset1(with_index_type_mismatch=True)
    assert mismatch.index.tolist() == ["sample1", "sample2", 0]


def test_dataset2_dataframe_and_anndata():
    df = mi.get_dataset2(otype="DataFrame")
    assert df.index.tolist() == ["sample4", "sample5", "sample6"]
    assert df.columns.tolist() == [*GENES2, *OBS2]
    assert df[GENES2].values.tolist() == [[2, 3, 4], [3, 4, 2], [3, 5, 3]]
    assert df["perturbation"].tolist() == ["DMSO", "IFNG", "IFNG"]
    assert df["donor"].tolist() == ["D0003", "D0003", "D0004"]
    assert df.attrs == UNS2
    adata = mi.get_dataset2(otype="AnnData")
    assert adata.obs_names.tolist() == ["sample4", "sample5", "sample6"]
    assert adata.var_names.tolist() == GENES2
    assert adata.obs.columns.tolist() == OBS2
    assert adata.X.tolist() == [[2, 3, 4], [3, 4, 2], [3, 5, 3]]
    assert dict(adata.uns) == UNS2
    symbols = mi.get_dataset2("AnnData", gene_symbols_in_index=True)
    assert symbols.var_names.tolist() == ["CD8A", "CD4", "CD38"]


def test_each_call_returns_new_objects():
    first = mi.get_dataset1(otype="AnnData")
    first.uns["temperature"] = 0.0
    first.obs["donor"] = "changed"
    second = mi.get_dataset1(otype="AnnData")
    assert second.uns["temperature"] == 21.6
    assert second.obs["donor"].tolist() == ["D0001", "D0002", None]


def test_bad_otype_is_refused():
    with pytest.raises(ValueError, match="otype"):
        mi.get_dataset1(otype="MuData")  # type: ignore[arg-type]


def test_study_metadata():
    assert mi.get_study_metadata(1) == {"detail1": "123", "detail2": 1}
    assert mi.get_study_metadata(2) == {"detail1": "456", "detail2": 2}
    mi.get_study_metadata(1)["detail1"] = "changed"
    assert mi.get_study_metadata(1)["detail1"] == "123"
    with pytest.raises(ValueError, match="1 or 2"):
        mi.get_study_metadata(3)  # type: ignore[arg-type]


def _obs_as_lists(obs: pd.DataFrame) -> dict[str, list[object]]:
    """Column values as plain lists, with every missing value as None."""
    return {
        name: [None if (isinstance(v, float) and math.isnan(v)) else v for v in col]
        for name, col in ((n, obs[n].tolist()) for n in obs.columns)
    }


@pytest.mark.parametrize(
    ("build", "genes", "uns"),
    [(mi.get_dataset1, GENES1, UNS1), (mi.get_dataset2, GENES2, UNS2)],
)
def test_h5ad_round_trip(tmp_path, build, genes, uns):
    import anndata as ad

    expected = build(otype="AnnData")
    build(otype="AnnData").write_h5ad(tmp_path / "dataset.h5ad")
    back = ad.read_h5ad(tmp_path / "dataset.h5ad")
    assert back.obs_names.tolist() == expected.obs_names.tolist()
    assert back.var_names.tolist() == genes
    assert back.X.dtype == np.int64
    assert np.array_equal(back.X, expected.X)
    assert back.obs.columns.tolist() == expected.obs.columns.tolist()
    assert _obs_as_lists(back.obs) == _obs_as_lists(expected.obs)
    assert dict(back.uns) == uns
    for name in ("perturbation", "cell_type_by_model"):
        assert back.obs[name].dtype == "category"
