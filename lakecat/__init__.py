"""lakecat: a metadata catalog for scientific data on Delta Lake tables.

LaminDB's query and search API, with no database server: every registry is a
Delta table under the catalog root, read through Polars.

>>> import lakecat as lc
>>> lc.init(storage="./my-catalog")  # doctest: +SKIP
>>> lc.Artifact.filter(suffix=".parquet").to_dataframe()  # doctest: +SKIP
"""

from __future__ import annotations

from lakecat import errors
from lakecat.catalog import api
from lakecat.catalog.api import *  # noqa: F403  (the public surface, listed there)

__version__ = "0.1.0"

__all__ = [*api.__all__, "errors", "examples"]  # noqa: F405


def __getattr__(name: str):
    if name == "examples":
        import lakecat.examples as examples

        return examples
    msg = f"module 'lakecat' has no attribute {name!r}"
    raise AttributeError(msg)
