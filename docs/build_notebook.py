"""Build docs/guide.ipynb from docs/guide.py, so the two never drift apart.

The body of `main()` is split at its `# %%` markers into notebook cells; markdown
cells keep their comment text. Run `python docs/build_notebook.py` after editing
the guide; a test checks that the committed notebook is up to date.
"""

from __future__ import annotations

import ast
import sys
import textwrap
from pathlib import Path

HERE = Path(__file__).parent
SETUP = """\
import tempfile

import pandas as pd

import lakecat as lc

pd.set_option("display.width", 250)
pd.set_option("display.max_columns", 40)
storage = tempfile.mkdtemp(prefix="lakecat-guide-") + "/catalog"


def heading(text):
    print(f"\\n=== {text} ===")


show = display  # noqa: F821 (defined by IPython)"""


def cells_of(source: str) -> list[tuple[str, str]]:
    """(kind, text) cells: the module's leading markdown, setup, then main's body."""
    tree = ast.parse(source)
    main = next(
        n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "main"
    )
    lines = source.splitlines()
    body = textwrap.dedent("\n".join(lines[main.lineno : main.end_lineno]))
    intro = source.split("# %%\n", 1)[0]
    cells = [
        ("markdown", _markdown(intro.replace("# %% [markdown]\n", ""))),
        ("code", SETUP),
    ]
    for chunk in body.split("# %%"):
        chunk = chunk.strip("\n")
        if chunk.startswith(" [markdown]"):
            text, _, code = chunk.removeprefix(" [markdown]\n").partition("\n\n")
            head, rest = [], []
            for line in text.splitlines():
                (head if line.startswith("#") and not rest else rest).append(line)
            cells.append(("markdown", _markdown("\n".join(head))))
            code = "\n".join(rest) + ("\n\n" + code if code else "")
            if code.strip():
                cells.append(("code", code.strip("\n")))
        elif chunk.strip():
            cells.append(("code", chunk))
    return cells


def _markdown(text: str) -> str:
    return "\n".join(
        line.removeprefix("#").removeprefix(" ") for line in text.strip().splitlines()
    )


def build() -> dict:
    import nbformat

    notebook = nbformat.v4.new_notebook()
    for kind, text in cells_of((HERE / "guide.py").read_text()):
        maker = (
            nbformat.v4.new_markdown_cell
            if kind == "markdown"
            else nbformat.v4.new_code_cell
        )
        notebook.cells.append(maker(text))
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    for i, cell in enumerate(notebook.cells):
        cell["id"] = f"cell-{i}"
    return notebook


if __name__ == "__main__":
    import nbformat

    nbformat.write(build(), HERE / "guide.ipynb")
    sys.exit(0)
