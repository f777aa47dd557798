"""The gallery shows what a PM will get: it must not drift from the template."""

from __future__ import annotations

import nbformat
import pytest
from conftest import KIT, TEMPLATE

GALLERY = sorted((KIT / "notebooks").glob("*.ipynb"))


def code_cells(nb: nbformat.NotebookNode) -> list[str]:
    """Code in order; the runner moves the executive-summary cell to the top, so it is
    compared apart from the others, and papermill's injected cell is not the template's."""
    cells = [
        c
        for c in nb.cells
        if c.cell_type == "code" and "injected-parameters" not in c.metadata.get("tags", [])
    ]
    summary = [c.source for c in cells if "executive-summary" in c.metadata.get("tags", [])]
    return summary + [
        c.source for c in cells if "executive-summary" not in c.metadata.get("tags", [])
    ]


def test_the_gallery_holds_every_template_notebook():
    template = sorted(p.name for p in (TEMPLATE / "notebooks").glob("*.ipynb"))
    assert [p.name for p in GALLERY] == template, "run `make gallery` to refresh the gallery"


@pytest.mark.parametrize("executed", GALLERY, ids=lambda p: p.stem)
def test_gallery_code_matches_the_template_and_ran_without_errors(executed):
    gallery = nbformat.read(executed, as_version=4)
    template = nbformat.read(TEMPLATE / "notebooks" / executed.name, as_version=4)
    assert code_cells(gallery) == code_cells(template), (
        f"notebooks/{executed.name} drifted from the template: run `make gallery`"
    )
    outputs = [o for c in gallery.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert outputs, "the gallery must be executed"
    assert not [o for o in outputs if o.output_type == "error"]


def test_the_gallery_stays_small():
    total = sum(p.stat().st_size for p in GALLERY)
    assert total < 8_000_000, f"gallery is {total / 1e6:.1f} MB; lower figure dpi"
