"""Example data for tutorials and tests: `lc.examples.datasets`."""

from lakecat.examples import datasets

__all__ = ["datasets"]
