"""kgpipe export --format html: one self-contained page with the graph and every fact's provenance."""

from __future__ import annotations

import json
import re

from conftest import SAMPLE
from kgpipe.cli import main
from kgpipe.serve.html import HTMLGraph, graph_data, render
from kgpipe.stores import open_store


def _embedded(page: str) -> dict:
    match = re.search(r"<script>window\.KGPIPE_DATA = (.*?);</script>", page, re.S)
    assert match, "the page embeds its graph"
    return json.loads(match.group(1).replace("<\\/", "</"))


def test_export_html_is_self_contained_with_provenance(sample_graph, tmp_path, capsys):
    out = tmp_path / "graph.html"
    args = ["--state-dir", str(sample_graph.state_dir), "--graph", sample_graph.graph, "export", "--format", "html"]
    assert main([*args, "-o", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    # nothing is fetched: no external or /static reference in any src or href
    assert not re.findall(r"""(?:src|href)\s*=\s*["'](?:https?:|//|/static)""", page)
    assert "vis-network" in page and "window.kg" in page
    data = _embedded(page)
    store = open_store(sample_graph)
    facts = store.execute("MATCH (:Entity)-[r]->(:Entity) WHERE type(r) <> 'PREDICTED' RETURN count(r)").rows[0][0]
    assert len([e for e in data["graph"]["edges"] if not e["predicted"]]) == facts
    assert set(data["provenance"]) == {e["id"] for e in data["graph"]["edges"]}
    located = [c["sentence"] for p in data["provenance"].values() for c in p["chunks"] if c["sentence"]]
    assert len(located) >= facts  # every fact of the sample came from a sentence, and it was found
    assert data["stats"]["documents"] == len(list(SAMPLE.iterdir()))
    assert "wrote" in capsys.readouterr().err


def test_export_html_of_one_entity_and_in_a_notebook(sample_graph):
    store = open_store(sample_graph)
    centre = store.execute("MATCH (e:Entity {name: 'Warsaw'}) RETURN e.id").rows[0][0]
    data = graph_data(store, entity=centre)
    names = {n["name"] for n in data["graph"]["nodes"]}
    assert "Warsaw" in names and "Poland" in names and "Pierre Curie" not in names
    assert all(centre in (e["from"], e["to"]) for e in data["graph"]["edges"])
    shown = HTMLGraph(render(data))._repr_html_()
    assert shown.startswith("<iframe srcdoc=") and "&lt;script&gt;" in shown and "<script>" not in shown
