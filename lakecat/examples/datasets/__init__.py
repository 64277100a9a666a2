"""Example datasets, mirroring ``lamindb.examples.datasets``.

Nothing is downloaded: files ship with the package or are written by code, and
every file function returns a fresh copy the caller may move.

The mini immuno datasets
------------------------
:mod:`lakecat.examples.datasets.mini_immuno` (``get_dataset1``,
``get_dataset2``); ``small_dataset1`` and ``small_dataset2`` are the older
LaminDB names for them.

Files
-----
``file_jpg_paradisi05``, ``file_fastq``, ``file_mini_csv``.

Data frames
-----------
``df_iris``, ``df_iris_in_meter``, ``df_iris_in_meter_study1``,
``df_iris_in_meter_study2``.

Importing this module loads neither pandas nor anndata; they are imported when
a function needs them.
"""

from __future__ import annotations

from . import mini_immuno
from ._files import (
    df_iris,
    df_iris_in_meter,
    df_iris_in_meter_study1,
    df_iris_in_meter_study2,
    file_fastq,
    file_jpg_paradisi05,
    file_mini_csv,
)

small_dataset1 = mini_immuno.get_dataset1
small_dataset2 = mini_immuno.get_dataset2

__all__ = [
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
