"""The quickstart notebook runs top to bottom against the real store and model."""

from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "quickstart.ipynb"


@pytest.mark.slow
def test_quickstart_notebook_executes(settings, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("KGPIPE_STATE_DIR", settings.state_dir)
    monkeypatch.setenv("KGPIPE_NOTEBOOK_GRAPH", settings.graph)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "".join(o.get("text", "") for o in outputs)
    assert "refused:" in text and "facts exported" in text
