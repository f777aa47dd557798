"""House rules every report notebook keeps (new ones made with `new` included)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import papermill
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
PARAMETER_LINE = re.compile(r"^(\w+)\s*:\s*[^=]+=\s*.+?\s+#\s*\S")
SHARED = set(yaml.safe_load((ROOT / "params" / "defaults.yaml").read_text()) or {})


def tagged(nb: nbformat.NotebookNode, tag: str) -> list[nbformat.NotebookNode]:
    return [c for c in nb.cells if tag in c.metadata.get("tags", [])]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_clean_with_the_python3_kernel(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, "strip outputs"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_parameter_is_typed_commented_and_visible_to_papermill(path):
    nb = nbformat.read(path, as_version=4)
    cells = tagged(nb, "parameters")
    assert len(cells) == 1, "exactly one cell tagged 'parameters'"
    lines = [line for line in cells[0].source.splitlines() if line and not line.startswith("#")]
    for line in lines:
        assert PARAMETER_LINE.match(line), f"write it as `name: type = value  # help`: {line}"
    declared = {PARAMETER_LINE.match(line).group(1) for line in lines}
    seen = papermill.inspect_notebook(str(path))
    # papermill silently skips a line it cannot parse (e.g. a second '=' in the comment)
    assert set(seen) == declared
    assert all(p["help"] for p in seen.values()), "every parameter needs a help comment"
    assert {"data_dir", "as_of", "currency", "seed"} <= declared


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_params_file_only_sets_parameters_the_notebook_declares(path):
    params_file = ROOT / "params" / f"{path.stem}.yaml"
    assert params_file.is_file(), f"params/{path.stem}.yaml is missing"
    values = yaml.safe_load(params_file.read_text()) or {}
    declared = set(papermill.inspect_notebook(str(path)))
    assert set(values) <= declared, f"unknown in params: {sorted(set(values) - declared)}"
    assert declared >= SHARED


def cell_values(path: Path) -> dict[str, object]:
    """The parameters cell's values, read as Python literals (they are written as such)."""
    (cell,) = tagged(nbformat.read(path, as_version=4), "parameters")
    return {
        node.target.id: ast.literal_eval(node.value)
        for node in ast.parse(cell.source).body
        if isinstance(node, ast.AnnAssign)
    }


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_parameters_cell_and_the_params_files_give_the_same_values(path):
    # A scheduled run takes params/*.yaml; JupyterLab takes the cell: the two must not disagree,
    # or the page a stakeholder gets differs from the one the PM tried.
    scheduled = {
        **(yaml.safe_load((ROOT / "params" / "defaults.yaml").read_text()) or {}),
        **(yaml.safe_load((ROOT / "params" / f"{path.stem}.yaml").read_text()) or {}),
    }
    in_cell = cell_values(path)
    differ = {k: (in_cell[k], v) for k, v in scheduled.items() if k in in_cell and in_cell[k] != v}
    assert not differ, f"cell value vs params/*.yaml value differ: {differ}"
    (cell,) = tagged(nbformat.read(path, as_version=4), "parameters")
    assert f"params/{path.stem}.yaml" in cell.source, "the cell says where a scheduled run reads"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_opens_with_a_title_and_ends_with_the_executive_summary(path):
    nb = nbformat.read(path, as_version=4)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    summary = tagged(nb, "executive-summary")
    assert len(summary) == 1 and summary[0] is nb.cells[-1]
    assert "executive_summary(" in summary[0].source
