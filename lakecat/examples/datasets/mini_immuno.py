"""The two "mini immuno" datasets of LaminDB's guide, built in code.

Each dataset has three samples, expression counts for three genes and some
sample-level and dataset-level metadata. :func:`get_dataset1` and
:func:`get_dataset2` return them as a pandas DataFrame (dataset-level metadata
in ``.attrs``) or as an AnnData (dataset-level metadata in ``.uns``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import anndata as ad
    import pandas as pd

OType = Literal["DataFrame", "AnnData"]

# Ensembl gene ids (human) and gene symbols of the measured genes.
CD8A = ("ENSG00000153563", "CD8A")
CD4 = ("ENSG00000010610", "CD4")
CD14 = ("ENSG00000170458", "CD14")
CD38 = ("ENSG00000004468", "CD38")
OUTDATED_GENE_ID = "ENSG00000278198"
GENE_TYPO = "GeneTypo"

STUDY_NOTE = (
    "We had a great time performing this study and the results look compelling."
)
ABT_CELL = "CD8-positive, alpha-beta T cell"
ABT_CELL_TYPO = "CD8-pos alpha-beta T cell"


def _dataset1_genes(
    gene_symbols_in_index: bool, with_gene_typo: bool, with_outdated_gene: bool
) -> list[str]:
    """Return the three gene identifiers of dataset 1."""
    column = 1 if gene_symbols_in_index else 0
    genes = [CD8A[column], CD4[column], CD14[column]]
    if with_gene_typo:
        outdated = with_outdated_gene and not gene_symbols_in_index
        genes[2] = OUTDATED_GENE_ID if outdated else GENE_TYPO
    return genes


def _dataset1_metadata() -> dict[str, Any]:
    """Return the dataset-level metadata of dataset 1."""
    return {
        "temperature": 21.6,
        "experiment": "Experiment 1",
        "date_of_study": "2024-12-01",
        "study_note": STUDY_NOTE,
    }


def _dataset2_metadata() -> dict[str, Any]:
    """Return the dataset-level metadata of dataset 2."""
    return {
        "temperature": 22.6,
        "experiment": "Experiment 2",
        "date_of_study": "2025-02-13",
    }


def get_study_metadata(dataset: Literal[1, 2]) -> dict[str, Any]:
    """Return the ad-hoc ``study_metadata`` annotation of a dataset.

    LaminDB's guide does not store it in the dataset; it adds it as a feature
    value when saving (``{"study_metadata": ...}`` next to the ``.uns`` items).

    Parameters
    ----------
    dataset
        1 or 2.

    Returns
    -------
    dict
        ``{"detail1": "123", "detail2": 1}`` for dataset 1,
        ``{"detail1": "456", "detail2": 2}`` for dataset 2; a new dict each call.
    """
    details = {1: {"detail1": "123", "detail2": 1}, 2: {"detail1": "456", "detail2": 2}}
    if dataset not in details:
        raise ValueError(f"dataset must be 1 or 2, not {dataset!r}")
    return dict(details[dataset])


def _finish(
    frame: pd.DataFrame,
    n_genes: int,
    metadata: dict[str, Any],
    otype: OType,
    drop_for_anndata: tuple[str, ...] = (),
) -> pd.DataFrame | ad.AnnData:
    """Turn a samples x (genes + metadata) frame into the requested type.

    The first ``n_genes`` columns are the expression counts. For a DataFrame the
    dataset-level metadata go to ``.attrs``; for an AnnData the counts become
    ``X``, the other columns ``obs`` and the metadata ``uns``.
    """
    if otype == "DataFrame":
        frame.attrs.update(metadata)
        return frame
    if otype != "AnnData":
        raise ValueError(f"otype must be 'DataFrame' or 'AnnData', not {otype!r}")
    import anndata as ad

    frame = frame.drop(columns=list(drop_for_anndata))
    return ad.AnnData(
        X=frame.iloc[:, :n_genes], obs=frame.iloc[:, n_genes:], uns=metadata
    )


def get_dataset1(
    otype: OType = "DataFrame",
    gene_symbols_in_index: bool = False,
    with_typo: bool = False,
    with_cell_type_synonym: bool = False,
    with_cell_type_typo: bool = False,
    with_gene_typo: bool = False,
    with_outdated_gene: bool = False,
    with_wrong_subtype: bool = False,
    with_index_type_mismatch: bool = False,
) -> pd.DataFrame | ad.AnnData:
    """Return the first mini immuno dataset: 3 samples x 3 genes plus metadata.

    Samples ``sample1`` to ``sample3``; genes CD8A, CD4 and CD14 as Ensembl ids
    (``ENSG00000153563``, ``ENSG00000010610``, ``ENSG00000170458``); integer
    counts ``[[1, 3, 5], [2, 4, 6], [3, 5, 7]]``. Sample metadata:
    ``perturbation``, ``sample_note``, ``cell_type_by_expert``,
    ``cell_type_by_model``, ``assay_oid``, ``concentration``,
    ``treatment_time_h``, ``donor`` and, in the DataFrame only,
    ``donor_ethnicity`` (lists of str, which ``.h5ad`` cannot store).
    Dataset metadata: ``temperature`` 21.6, ``experiment`` "Experiment 1",
    ``date_of_study`` "2024-12-01" and ``study_note``.

    The ``with_*`` flags put in the mistakes that validation should catch.

    Parameters
    ----------
    otype
        ``"DataFrame"`` (metadata in ``.attrs``) or ``"AnnData"`` (in ``.uns``).
    gene_symbols_in_index
        Name genes by symbol (CD8A, CD4, CD14) instead of Ensembl id.
    with_typo
        Spell the perturbation IFNG as "IFNJ".
    with_cell_type_synonym
        Write the expert cell type "B cell" as its synonym "B-cell".
    with_cell_type_typo
        Write "CD8-pos alpha-beta T cell" for the alpha-beta T cells.
    with_gene_typo
        Replace the third gene by "GeneTypo".
    with_outdated_gene
        Together with ``with_gene_typo`` (as in LaminDB), replace the third gene
        by the outdated Ensembl id ``ENSG00000278198`` instead.
    with_wrong_subtype
        Use the label "ulabel_but_not_perturbation" as the third perturbation.
    with_index_type_mismatch
        Give the third sample the integer name 0.

    Returns
    -------
    pandas.DataFrame or anndata.AnnData
        A new object on each call.
    """
    import pandas as pd

    genes = _dataset1_genes(gene_symbols_in_index, with_gene_typo, with_outdated_gene)
    abt_cell = ABT_CELL_TYPO if with_cell_type_typo else ABT_CELL
    third = "ulabel_but_not_perturbation" if with_wrong_subtype else "DMSO"
    columns = {
        genes[0]: [1, 2, 3],
        genes[1]: [3, 4, 5],
        genes[2]: [5, 6, 7],
        "perturbation": pd.Categorical(
            ["DMSO", "IFNJ" if with_typo else "IFNG", third]
        ),
        "sample_note": ["was ok", "looks naah", "pretty! 🤩"],
        "cell_type_by_expert": pd.Categorical(
            ["B-cell" if with_cell_type_synonym else "B cell", abt_cell, abt_cell]
        ),
        "cell_type_by_model": pd.Categorical(["B cell", "T cell", "T cell"]),
        "assay_oid": pd.Categorical(["EFO:0008913"] * 3),
        "concentration": ["0.1%", "200 nM", "0.1%"],
        "treatment_time_h": [24, 24, 6],
        "donor": ["D0001", "D0002", None],
        "donor_ethnicity": [
            ["Chinese", "Singaporean Chinese"],
            ["Chinese", "Han Chinese"],
            ["Chinese"],
        ],
    }
    index: list[Any] = ["sample1", "sample2", "sample3"]
    if with_index_type_mismatch:
        index[2] = 0
    frame = pd.DataFrame(columns, index=index)
    return _finish(frame, 3, _dataset1_metadata(), otype, ("donor_ethnicity",))


def get_dataset2(
    otype: OType = "DataFrame", gene_symbols_in_index: bool = False
) -> pd.DataFrame | ad.AnnData:
    """Return the second mini immuno dataset: 3 samples x 3 genes plus metadata.

    Samples ``sample4`` to ``sample6``; genes CD8A, CD4 and CD38
    (``ENSG00000153563``, ``ENSG00000010610``, ``ENSG00000004468``); integer
    counts ``[[2, 3, 4], [3, 4, 2], [3, 5, 3]]``. Sample metadata:
    ``perturbation``, ``cell_type_by_model``, ``concentration``,
    ``treatment_time_h``, ``donor``. Dataset metadata: ``temperature`` 22.6,
    ``experiment`` "Experiment 2", ``date_of_study`` "2025-02-13".

    Parameters
    ----------
    otype
        ``"DataFrame"`` (metadata in ``.attrs``) or ``"AnnData"`` (in ``.uns``).
    gene_symbols_in_index
        Name genes by symbol (CD8A, CD4, CD38) instead of Ensembl id.

    Returns
    -------
    pandas.DataFrame or anndata.AnnData
        A new object on each call.
    """
    import pandas as pd

    column = 1 if gene_symbols_in_index else 0
    columns = {
        CD8A[column]: [2, 3, 3],
        CD4[column]: [3, 4, 5],
        CD38[column]: [4, 2, 3],
        "perturbation": pd.Categorical(["DMSO", "IFNG", "IFNG"]),
        "cell_type_by_model": pd.Categorical(["B cell", "T cell", "T cell"]),
        "concentration": ["0.1%", "200 nM", "0.1%"],
        "treatment_time_h": [24, 24, 6],
        "donor": ["D0003", "D0003", "D0004"],
    }
    frame = pd.DataFrame(columns, index=["sample4", "sample5", "sample6"])
    return _finish(frame, 3, _dataset2_metadata(), otype)


def save_mini_immuno_datasets():
    """Save both datasets with their features, labels and schemas (needs `bio`)."""
    from lakecat.examples.datasets._mini_immuno_save import (
        save_mini_immuno_datasets as save,
    )

    return save()
