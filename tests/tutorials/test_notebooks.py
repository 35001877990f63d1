"""The tutorial notebooks run top to bottom (small), are committed clean, and match their sources.

Each notebook executes in a fresh Jupyter kernel (nbclient + ipykernel) with
`TUTORIAL_SCALE` set small, in a scratch directory (the files a notebook writes land
there), sharing the session's compile cache. A cell error fails the test with the cell's source
and the error.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
from pathlib import Path

import nbclient
import nbformat
import pytest
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[2]
TUTORIALS = ROOT / "tutorials"
NOTEBOOKS = sorted(TUTORIALS.glob("[0-9][0-9]-*.ipynb"))
# small enough for the whole set to run in well under 3 minutes on 2 cores
TEST_SCALE = "0.02"

EXPECTED = [
    "01-vector-add",
    "02-fused-softmax",
    "03-matrix-multiplication",
    "04-low-memory-dropout",
    "05-layer-norm",
    "06-fused-attention",
    "07-the-accelerator-up-close",
    "08-when-things-go-wrong",
]


def test_the_eight_tutorials_exist_in_order():
    assert [p.stem for p in NOTEBOOKS] == EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebook_is_clean(path):
    """No outputs, execution counts or widget state in the repository."""
    nb = json.loads(path.read_text())
    assert nb["nbformat"] == 4
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [], f"{path.name} cell {i} has outputs"
            assert cell.get("execution_count") is None, f"{path.name} cell {i} has a count"
    assert "widgets" not in nb.get("metadata", {})
    assert nb["cells"][0]["cell_type"] == "markdown", "a tutorial starts with prose"
    sources = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    assert "TUTORIAL_SCALE" in sources, "the notebook must be sized by the one knob"


def test_notebooks_match_their_sources():
    spec = importlib.util.spec_from_file_location("tutorials_build", TUTORIALS / "build.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    sources = sorted((TUTORIALS / "src").glob("[0-9][0-9]-*.py"))
    assert [s.stem for s in sources] == EXPECTED
    for source in sources:
        committed = build.notebook_path(source).read_text()
        assert committed == build.render(source), (
            f"{source.name} and its notebook differ: run python tutorials/build.py"
        )


def test_build_rejects_code_before_the_first_cell(tmp_path):
    spec = importlib.util.spec_from_file_location("tutorials_build", TUTORIALS / "build.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    assert build.parse_cells("# note\n# %% [markdown]\n# # Title\n#\n# text\n# %%\nx = 1\n") == [
        ("markdown", "# Title\n\ntext"),
        ("code", "x = 1"),
    ]
    with pytest.raises(ValueError, match="before the first"):
        build.parse_cells("x = 1\n# %%\ny = 2\n")
    with pytest.raises(ValueError, match="does not start with"):
        build.parse_cells("# %% [markdown]\nplain text\n")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path, tmp_path, monkeypatch):
    monkeypatch.setenv("TUTORIAL_SCALE", TEST_SCALE)
    # the kernel imports this checkout's jitlang even without `pip install -e .`
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    try:
        client.execute()
    except CellExecutionError as e:
        pytest.fail(f"{path.name}: a cell failed\n{e}", pytrace=False)
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            assert out.get("output_type") != "error", f"{path.name}: {out}"


def test_readme_links_the_tutorials_in_order():
    readme = (ROOT / "README.md").read_text()
    links = re.findall(r"\]\((tutorials/\d\d-[\w-]+\.ipynb)\)", readme)
    assert links == [f"tutorials/{name}.ipynb" for name in EXPECTED]
    assert "python -m pip install -e '.[tutorials]' && jupyter lab tutorials/" in readme
