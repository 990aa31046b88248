"""kgpipe mcp: started as a subprocess, driven through the official MCP SDK's stdio client."""

from __future__ import annotations

import json
import os
import sys

import pytest

pytest.importorskip("mcp", reason="the serve extra is not installed: pip install 'kgpipe[serve]'")

from conftest import REPO


async def _session(settings, calls):
    """Start ``kgpipe mcp`` on the settings' graph, run ``calls(session)`` and return what it returns."""
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "kgpipe.cli", "--state-dir", str(settings.state_dir), "--graph", settings.graph, "mcp"],
        env={**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"},
        cwd=str(REPO),
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        return await calls(session)


def _json(result) -> object:
    assert not result.is_error, result.content
    return json.loads(result.content[0].text)


def test_mcp_lists_its_tools_and_answers_query_search_entity_provenance_schema(sample_graph):
    import anyio

    async def calls(session):
        tools = (await session.list_tools()).tools
        rows = await session.call_tool("query", {"cypher": "MATCH (e:Entity {name: $n}) RETURN e.id AS id", "params": {"n": "Pierre Curie"}})
        hostile = await session.call_tool("query", {"cypher": "MATCH (n) DETACH DELETE n"})
        found = await session.call_tool("search", {"q": "Piere Curie"})
        eid = _json(rows)["rows"][0][0]
        ent = await session.call_tool("entity", {"entity_id": eid})
        fact = _json(ent)["facts_out"][0]["id"]
        prov = await session.call_tool("provenance", {"fact_id": fact})
        missing = await session.call_tool("entity", {"entity_id": "nope"})
        schema = await session.call_tool("schema", {})
        capped = await session.call_tool("query", {"cypher": "UNWIND range(1, 1000) AS x RETURN x", "limit": 5000})
        return tools, rows, hostile, found, ent, prov, missing, schema, capped

    tools, rows, hostile, found, ent, prov, missing, schema, capped = anyio.run(_session, sample_graph, calls)
    names = {t.name for t in tools}
    assert names == {"query", "ask", "entity", "search", "provenance", "schema"}
    assert all(t.annotations.read_only_hint for t in tools)
    assert _json(rows)["columns"] == ["id"] and len(_json(rows)["rows"]) == 1
    assert hostile.is_error and "UnsafeQuery" in hostile.content[0].text
    assert not found.is_error and "Pierre Curie" in found.content[0].text
    assert _json(ent)["name"] == "Pierre Curie"
    located = [c["sentence"] for c in _json(prov)["chunks"] if c["sentence"]]
    assert located and _json(prov)["documents"]
    assert missing.is_error and "no entity" in missing.content[0].text
    assert _json(schema)["labels"]["Entity"] > 10 and _json(schema)["relations"]
    assert len(_json(capped)["rows"]) == 200 and _json(capped)["truncated"]
    # the graph is unchanged by the hostile query
    from kgpipe.stores import open_store

    assert open_store(sample_graph).execute("MATCH (e:Entity) RETURN count(e)").rows[0][0] == _json(schema)["labels"]["Entity"]


@pytest.mark.slow
def test_mcp_ask_returns_verified_paths(sample_graph):
    import anyio

    async def calls(session):
        return await session.call_tool("ask", {"question": "Where was Pierre Curie born?"}, read_timeout_seconds=600)

    answer = _json(anyio.run(_session, sample_graph, calls))
    assert answer["paths"] and all(p["verified"] for p in answer["paths"]), answer
