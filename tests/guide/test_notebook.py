"""The notebook version of the guide is generated from docs/guide.py and runs."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import nbformat
import pytest

DOCS = Path(__file__).parents[2] / "docs"


def _builder():
    spec = importlib.util.spec_from_file_location(
        "build_notebook", DOCS / "build_notebook.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_notebook_matches_the_guide_script():
    committed = nbformat.read(DOCS / "guide.ipynb", as_version=4)
    built = _builder().build()
    assert [c.source for c in committed.cells] == [c.source for c in built.cells]
    assert [c.cell_type for c in committed.cells][:3] == [
        "markdown",
        "code",
        "markdown",
    ]


@pytest.mark.slow
def test_notebook_executes_end_to_end(tmp_path, monkeypatch):
    from nbclient import NotebookClient

    monkeypatch.setenv("LAKECAT_HOME", str(tmp_path / "home"))
    notebook = nbformat.read(DOCS / "guide.ipynb", as_version=4)
    NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()
    outputs = "".join(
        out.get("text", "") + str(out.get("data", {}).get("text/plain", ""))
        for cell in notebook.cells
        if cell.cell_type == "code"
        for out in cell.outputs
    )
    assert "=== lc.Artifact.to_dataframe() ===" in outputs
    assert "examples/dataset1.h5ad" in outputs
    assert "Traceback" not in outputs
