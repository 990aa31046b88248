"""The package's architecture holds: layers only point down (import-linter's contract in pyproject.toml), and no
module imports itself back through others (function-level imports count too)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import networkx as nx

REPO = Path(__file__).resolve().parent.parent


def test_layers_point_down() -> None:
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or "lint-imports"
    proc = subprocess.run([lint, "--no-cache"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "1 kept, 0 broken" in proc.stdout


def test_no_import_cycles() -> None:
    graph = grimp.build_graph("kgpipe", cache_dir=None)
    edges = nx.DiGraph()
    for module in graph.modules:
        edges.add_node(module)
        edges.add_edges_from((module, imported) for imported in graph.find_modules_directly_imported_by(module))
    edges.remove_node("kgpipe")  # the package root re-exports the verbs; nothing imports it back
    cycles = list(nx.simple_cycles(edges))
    assert cycles == [], "import cycles: " + "; ".join(" -> ".join(c + c[:1]) for c in cycles)
