"""``kgpipe export --format html``: the web page with the graph inside it, one file that opens offline.

The page is the one ``kgpipe serve`` shows (``static/``) with its stylesheet, script and the vendored
vis-network inlined, and the graph embedded as JSON: the facts (all of them up to ``max_facts``, or
one entity's neighbourhood), their predicted links, and for every fact its provenance with the
sentence located (``views.provenance``), so clicking an edge shows its source offline too. Asking
needs a model and is left out of the file. In a notebook, ``HTMLGraph`` renders inline::

    from kgpipe.serve.html import HTMLGraph
    HTMLGraph.from_store(store)          # displays the graph in the cell (an iframe of the page)
"""

from __future__ import annotations

import html
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ..ingest.write import stats
from ..stores import open_store
from . import views

if TYPE_CHECKING:
    from ..config import Settings
    from ..stores import Store

STATIC = Path(__file__).parent / "static"
MAX_FACTS = 2000  # facts embedded at most (with provenance, a file of a few MB)


def graph_data(store: "Store", *, entity: str | None = None, max_facts: int = MAX_FACTS) -> dict[str, Any]:
    """What the exported page embeds: nodes, edges, each fact's provenance and the graph's counts."""
    graph = views.neighbourhood(store, entity, limit=max_facts) if entity else views.whole_graph(store, max_facts=max_facts)
    provenance = {e["id"]: views.provenance(store, e["id"]) for e in graph["edges"] if not e["predicted"]}
    return {"graph": graph, "provenance": provenance, "stats": stats(store), "center": entity,
            "created": time.strftime("%Y-%m-%d %H:%M")}  # fmt: skip


def _script_json(data: Any) -> str:
    """JSON safe inside a <script> element (no closing tag or comment opener can appear in it)."""
    return json.dumps(data, ensure_ascii=False).replace("</", "<\\/").replace("<!--", "<\\!--")


def render(data: dict[str, Any]) -> str:
    """The self-contained page for ``data`` (from ``graph_data``)."""
    page = (STATIC / "index.html").read_text(encoding="utf-8")
    css = (STATIC / "app.css").read_text(encoding="utf-8")
    parts = {
        '<link rel="stylesheet" href="/static/app.css">': f"<style>\n{css}</style>",
        '<script src="/static/vis-network.min.js"></script>': "<script>\n" + (STATIC / "vis-network.min.js").read_text(encoding="utf-8") + "\n</script>",
        '<script src="/static/app.js"></script>': "<script>\n" + (STATIC / "app.js").read_text(encoding="utf-8") + "\n</script>",
        "<!--KGPIPE_DATA-->": f"<script>window.KGPIPE_DATA = {_script_json(data)};</script>",
    }
    for marker, inline in parts.items():
        if marker not in page:
            raise RuntimeError(f"kgpipe/serve/static/index.html lost its {marker!r} line, which the HTML export replaces")
        page = page.replace(marker, inline)
    return page


def export_html(out: TextIO, *, settings: "Settings | None" = None, store: "Store | str | None" = None,
                entity: str | None = None, max_facts: int = MAX_FACTS) -> dict[str, int]:  # fmt: skip
    """Write the self-contained page of the graph (or of ``entity``'s neighbourhood) to ``out``; returns counts."""
    data = graph_data(open_store(settings, store), entity=entity, max_facts=max_facts)
    out.write(render(data))
    return {"nodes": len(data["graph"]["nodes"]), "edges": len(data["graph"]["edges"])}


class HTMLGraph:
    """The exported page as a notebook object: displays inline (an iframe of the page), ``.save(path)`` writes it."""

    def __init__(self, page: str, height: int = 600) -> None:
        self.page, self.height = page, height

    @classmethod
    def from_store(cls, store: "Store", *, entity: str | None = None, max_facts: int = MAX_FACTS) -> "HTMLGraph":
        return cls(render(graph_data(store, entity=entity, max_facts=max_facts)))

    def _repr_html_(self) -> str:
        return (f'<iframe srcdoc="{html.escape(self.page, quote=True)}" style="width:100%;height:{self.height}px;'
                'border:1px solid #ddd" sandbox="allow-scripts"></iframe>')  # fmt: skip

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.page, encoding="utf-8")
