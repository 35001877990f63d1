"""Build the tutorial notebooks from their sources: `python tutorials/build.py [--check]`.

Each `tutorials/src/NN-name.py` is a notebook in the "percent" format: a line `# %%` starts a code
cell, `# %% [markdown]` a markdown cell whose lines are comments (`# ` is stripped). The built
`tutorials/NN-name.ipynb` carries no outputs and no execution counts; it is what readers open,
the sources are what reviewers diff. `--check` fails if a committed notebook differs from its
source (the test suite runs it).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "src"

METADATA = {
    "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
}


def parse_cells(text: str) -> list[tuple[str, str]]:
    """[(kind, source)] of a percent-format file; kind is "code" or "markdown"."""
    cells: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith("# %%"):
            kind = "markdown" if "[markdown]" in line else "code"
            cells.append((kind, []))
        elif cells:
            kind, lines = cells[-1]
            if kind == "markdown":
                if line.startswith("# "):
                    line = line[2:]
                elif line.strip() == "#":
                    line = ""
                elif line.strip():
                    raise ValueError(f"markdown line does not start with '# ': {line!r}")
            lines.append(line)
        elif line.strip() and not line.startswith("#"):
            raise ValueError("code before the first '# %%' cell marker")
        # comments before the first cell (lint settings, a note to editors) stay in the source
    out = []
    for kind, lines in cells:
        body = "\n".join(lines).strip("\n")
        if body:
            out.append((kind, body))
    return out


def build_notebook(source: Path) -> nbformat.NotebookNode:
    cells = [
        new_markdown_cell(body) if kind == "markdown" else new_code_cell(body)
        for kind, body in parse_cells(source.read_text())
    ]
    # stable cell ids keep rebuilt notebooks byte-identical
    for i, cell in enumerate(cells):
        cell["id"] = f"{source.stem[:2]}-{i:03d}"
    nb = new_notebook(cells=cells, metadata=METADATA)
    nb.nbformat, nb.nbformat_minor = 4, 5
    return nb


def render(source: Path) -> str:
    return nbformat.writes(build_notebook(source)) + "\n"


def notebook_path(source: Path) -> Path:
    return HERE / (source.stem + ".ipynb")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a notebook is stale")
    ns = parser.parse_args(argv)
    stale = []
    for source in sorted(SOURCES.glob("[0-9][0-9]-*.py")):
        text, target = render(source), notebook_path(source)
        if ns.check:
            if not target.exists() or target.read_text() != text:
                stale.append(target.name)
        else:
            target.write_text(text)
            print(f"wrote {target.relative_to(HERE.parent)}")
    if stale:
        print(f"stale notebooks (run python tutorials/build.py): {', '.join(stale)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
