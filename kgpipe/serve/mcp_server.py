"""``kgpipe mcp``: the graph as tools for an agent, over stdio, with the official MCP SDK (``mcp`` 2.x ``MCPServer``).

Tools, all read-only (annotated so): ``query`` (Cypher through the same two safety layers and row cap as
``kgpipe query``; no write mode at all), ``ask`` (verified reasoning paths with provenance, or the
Text2Cypher / KG-RAG modes), ``entity`` (an entity with its facts and predicted links apart), ``search``
(fuzzy name and alias search), ``provenance`` (a fact's chunks with the sentence located) and ``schema``
(labels, relation types with counts, entity types: what to write Cypher against). A library error comes
back as a tool error whose text is kgpipe's message, so the agent can correct itself.

Configure it in an MCP client as ``{"command": "kgpipe", "args": ["--state-dir", "/path/.kgpipe", "mcp"]}``.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Callable, Literal, TypeVar

from ..errors import KgpipeError, MissingDependency

try:
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError
    from mcp_types import ToolAnnotations
except ImportError:
    raise MissingDependency("mcp", "kgpipe mcp", install="'kgpipe[serve]'") from None

from .. import api
from ..stores import open_store
from . import views
from .search import CachedIndex

if TYPE_CHECKING:
    from ..config import Settings
    from ..llms import LLM

T = TypeVar("T")
READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
MAX_ROWS = 200  # rows a query tool call returns at most: an agent's context is small


def create_server(settings: "Settings", *, llm: "LLM | str | None" = None) -> MCPServer:
    """The MCP server over ``settings``' store (tools registered, not yet running)."""
    store = open_store(settings)
    index = CachedIndex(store)
    ask_lock = threading.Lock()
    server = MCPServer(name="kgpipe", version="0.1.0", instructions=(
        "A knowledge graph built by kgpipe from documents. Entities are (:Entity {id, name, type, aliases}); facts "
        "are relationships between entities with label, confidence, conflict, chunk_ids and doc_ids; "
        "(:Entity)-[:PREDICTED {relation, score}]->(:Entity) are predicted links, not facts. Use search to find "
        "entity ids, entity to read facts, provenance to see the source sentence, schema before writing Cypher."))  # fmt: skip

    def guarded(fn: Callable[[], T]) -> T:
        try:
            return fn()
        except KgpipeError as exc:
            raise ToolError(f"{type(exc).__name__}: {exc}") from None

    @server.tool(annotations=READ_ONLY)
    def query(cypher: str, params: dict[str, Any] | None = None, limit: int = 50) -> dict[str, Any]:
        """Run a read-only Cypher query (writes and procedure calls are refused) and return its rows (at most 200)."""
        cap = max(1, min(limit, MAX_ROWS))
        result = guarded(lambda: api.query(cypher, params or {}, limit=cap, settings=settings, store=store))
        return {"columns": result.columns, "rows": result.rows, "truncated": result.truncated}

    @server.tool(annotations=READ_ONLY)
    def ask(question: str, mode: Literal["paths", "cypher", "context"] = "paths") -> dict[str, Any]:
        """Answer a question from the graph. paths: reasoning paths of stored facts, each verified, with the documents
        and sentences behind every hop; cypher: a generated read-only query and its rows; context: KG-RAG."""

        def run() -> dict[str, Any]:
            with ask_lock:
                if mode == "cypher":
                    from ..qa.text2cypher import ask_cypher

                    return ask_cypher(question, settings, store=store, llm=llm).to_dict()
                if mode == "context":
                    from ..qa.context import ask_context

                    return ask_context(question, settings, store=store, llm=llm).to_dict()
                from ..qa.answer import ask as ask_paths

                return ask_paths(question, settings, store=store, llm=llm).to_dict()

        return guarded(run)

    @server.tool(annotations=READ_ONLY)
    def entity(entity_id: str) -> dict[str, Any]:
        """An entity by id: its facts both ways (confidence, conflict mark, chunk and document ids) and, apart, its
        predicted links with their scores. Find ids with search."""
        return guarded(lambda: views.entity(store, entity_id))

    @server.tool(annotations=READ_ONLY)
    def search(q: str, type: str | None = None, limit: int = 10) -> list[dict[str, Any]]:
        """Entities whose name or an alias matches q (fuzzy: typos and missing accents are fine), optionally of one type."""
        return guarded(lambda: index.get().search(q, type=type, limit=max(1, min(limit, 50))))

    @server.tool(annotations=READ_ONLY)
    def provenance(fact_id: str) -> dict[str, Any]:
        """Where a fact comes from: its chunks with the supporting sentence located (offsets), and its documents.
        fact_id is the id the entity tool lists for each fact (head_id:RELATION_TYPE:tail_id)."""
        return guarded(lambda: views.provenance(store, fact_id))

    @server.tool(annotations=READ_ONLY)
    def schema() -> dict[str, Any]:
        """The graph's schema: node labels with counts, relation types with their wording and counts, entity types
        with sample names, and the same as the text block kgpipe's Text2Cypher prompt shows."""
        from ..qa.text2cypher import graph_schema

        def run() -> dict[str, Any]:
            s = graph_schema(store)
            return {"labels": s.labels, "relations": [{"type": f.type, "label": f.label, "count": f.count} for f in s.facts],
                    "entity_types": [{"type": t, "count": n, "examples": names} for t, n, names in s.entity_types],
                    "predicted_links": s.predicted, "text": s.render()}  # fmt: skip

        return guarded(run)

    return server


def run_stdio(settings: "Settings") -> None:
    """Serve the tools on stdin/stdout until the client closes them."""
    create_server(settings).run("stdio")
