"""Every notebook in notebooks/ executes without error at small size, and shows its figures.

Notebooks are stored without outputs; each reads ``TWINSIM_NOTEBOOK_SIZE`` (``small`` here) at the top.
"""

import os
import re
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))


def test_the_seven_notebooks_are_there():
    names = [p.stem for p in NOTEBOOKS]
    prefixes = ("01_quickstart", "02_what_if", "03_donor", "04_sensitivity", "05_calibration", "06_your_own", "07_your")
    for prefix in prefixes:
        assert any(n.startswith(prefix) for n in names), prefix


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_stored_without_outputs_and_has_a_size_switch(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, f"{path.name}: outputs stored"
    first_code = next(c.source for c in nb.cells if c.cell_type == "code")
    assert "TWINSIM_NOTEBOOK_SIZE" in first_code and "SMALL" in first_code


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes_at_small_size(path, monkeypatch, tmp_path):
    monkeypatch.setenv("TWINSIM_NOTEBOOK_SIZE", "small")
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    figures = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert figures, f"{path.name} showed no figure"
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    stderr = [o["text"] for c in nb.cells for o in c.get("outputs", []) if o.get("name") == "stderr"]
    warnings = [text for text in stderr if "Warning" in text]
    assert not warnings, f"{path.name} printed warnings: {warnings[0][:300]}"
    assert os.environ["TWINSIM_NOTEBOOK_SIZE"] == "small"
    printed = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []) if o.get("name") == "stdout")
    for busiest, cap in re.findall(r"busiest mentor has (\d+) mentees \((?:the )?cap[^\d]*(\d+)", printed):
        assert int(busiest) <= int(cap), f"{path.name}: a mentor above the mentor load cap"  # ODD 7.18
