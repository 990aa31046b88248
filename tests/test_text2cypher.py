"""Text2Cypher: hostile generations never run (graph unchanged on the real FalkorDB), safe ones run with their query."""

from __future__ import annotations

import doctest

import pytest

from conftest import PATHQUESTION, needs_pathquestion
from kgpipe.errors import KgpipeError, LLMError, StoreError, UnsafeQuery
from kgpipe.qa import text2cypher
from kgpipe.qa.text2cypher import ask_cypher, build_prompt, enforce_limit, extract_query, graph_schema, validate_query
from kgpipe.stores import safety

TRIPLES = [
    ("Marie Curie", "spouse", "Pierre Curie"),
    ("Pierre Curie", "place of birth", "Paris"),
    ("Marie Curie", "place of birth", "Warsaw"),
    ("Marie Curie", "field", "physics"),
    ("IBM", "acquired", "Red Hat"),
    ("IBM", "acquired", "SoftLayer"),
]

HOSTILE = [
    "CREATE (n:Entity {id: 'x', name: 'pwned'}) RETURN n",
    "MERGE (n:Entity {name: 'pwned'}) RETURN n",
    "MATCH (n) DETACH DELETE n",
    "match (n) detach delete n",
    "MATCH (n) SET n.name = 'pwned' RETURN n",
    "MATCH (n:Entity) REMOVE n.name RETURN n",
    "CALL dbms.security.createUser('x', 'y', false)",
    "CALL db.labels()",
    "LOAD CSV FROM 'file:///etc/passwd' AS row RETURN row",
    "MATCH (n) FOREACH (x IN [1] | SET n.name = 'pwned')",
    "MATCH (n) RETURN n // harmless\nDETACH DELETE n",
    "MATCH (n) /* RETURN n */ DETACH DELETE n",
    "MATCH (n) WHERE n.name = 'a' /* ' */ DETACH DELETE n",
    "MATCH (n) RETURN n; MATCH (n) DETACH DELETE n",
    "MATCH (n) RETURN n.name AS name UNION MATCH (m) SET m.name = 'pwned' RETURN m.name AS name",
    "MATCH (n) RETURN n.name AS x UNION ALL MATCH (m:Entity) DELETE m RETURN 1 AS x",
    "MATCH (n) WITH n CALL { WITH n DETACH DELETE n } RETURN 1",
    "MATCH (n) S\u0415T n.name = 'pwned' RETURN n",  # Cyrillic Ie in SET
    "MATCH (n) \uff24\uff25\uff2c\uff25\uff34\uff25 n",  # fullwidth DELETE
    "MATCH (n) DE\u200bLETE n",  # zero-width space
    "MATCH (n)\u00a0RETURN n",  # no-break space
    "```cypher\nMATCH (n) DETACH DELETE n\n```",
    "Cypher: MATCH (n) RETURN n UNION MATCH (m) DETACH DELETE m RETURN 1",
    "MATCH (n) RETURN n LIMIT $limit",
    "MATCH (n) RETURN n LIMIT 5 + 1000000",
    "(n) RETURN n",
]


@pytest.fixture
def graph(import_kb, settings, store):
    import_kb(TRIPLES)
    return settings.replace(llm_cache=False), store


def snapshot(store) -> tuple:
    """Everything in the graph: every node's labels and properties, every relationship's endpoints and properties."""
    nodes = store.execute("MATCH (n) RETURN labels(n) AS l, properties(n) AS p").rows
    rels = store.execute("MATCH (a)-[r]->(b) RETURN a.id, type(r), properties(r), b.id").rows
    return sorted(map(repr, nodes)), sorted(map(repr, rels))


@pytest.mark.parametrize("reply", HOSTILE)
def test_hostile_generation_never_runs(graph, reply, fixed_reply):
    settings, store = graph
    before = snapshot(store)
    assert len(before[0]) > 6 and len(before[1]) == len(TRIPLES)
    with pytest.raises(UnsafeQuery) as info:
        ask_cypher("Who is the spouse of Marie Curie?", settings, store=store, llm=fixed_reply(reply))
    message = str(info.value)
    assert "query: " in message and info.value.query in message  # the rejected query is shown
    assert snapshot(store) == before


def test_server_layer_holds_when_the_clause_check_is_bypassed(graph, monkeypatch, fixed_reply):
    settings, store = graph
    before = snapshot(store)
    monkeypatch.setattr(text2cypher, "check_read_clauses", lambda query: None)
    for reply in ("MATCH (n) DETACH DELETE n RETURN 1", "CREATE (n:Entity {name: 'pwned'}) RETURN n"):
        with pytest.raises(UnsafeQuery, match="query: "):
            ask_cypher("q", settings, store=store, llm=fixed_reply(reply))
    assert snapshot(store) == before


def test_safe_generation_runs_and_returns_its_query(graph, fixed_reply):
    settings, store = graph
    reply = (
        "```cypher\nMATCH (h:Entity)-[r]->(t:Entity)\nWHERE toLower(h.name) = 'marie curie' AND r.label = 'spouse'"
        "\nRETURN t.name AS answer\n```\nThis query finds the spouse."
    )
    answer = ask_cypher("Who is the spouse of Marie Curie?", settings, store=store, llm=fixed_reply(reply))
    assert answer.rows == [["Pierre Curie"]] and answer.columns == ["answer"]
    assert answer.query.endswith(f"LIMIT {settings.cypher_limit}") and "toLower(h.name)" in answer.query
    assert answer.to_dict()["query"] == answer.query and answer.query in str(answer)
    assert "Pierre Curie" in str(answer)


def test_literal_keywords_and_large_limit(graph, fixed_reply):
    settings, store = graph
    reply = "Cypher: MATCH (h:Entity)-[r]->(t:Entity) WHERE r.label = 'acquired' AND t.name <> 'DETACH DELETE' RETURN t.name AS x ORDER BY x LIMIT 100000000;"
    answer = ask_cypher("Which companies did IBM acquire?", settings.replace(cypher_limit=1), store=store, llm=fixed_reply(reply))
    assert answer.query.endswith("LIMIT 1") and "100000000" not in answer.query
    assert answer.rows == [["Red Hat"]]


def test_broken_generation_is_a_clear_error_with_the_query(graph, fixed_reply):
    settings, store = graph
    with pytest.raises(StoreError) as info:
        ask_cypher("q", settings, store=store, llm=fixed_reply("MATCH (n) RETURN frobnicate(n.name) AS x"))
    assert "frobnicate" in str(info.value) and "query: MATCH (n) RETURN frobnicate(n.name) AS x LIMIT 100" in str(info.value)
    with pytest.raises(UnsafeQuery, match=r"unbalanced(.|\n)*query: MATCH \(n RETURN n.name"):
        ask_cypher("q", settings, store=store, llm=fixed_reply("MATCH (n RETURN n.name"))
    with pytest.raises(LLMError, match="no Cypher query"):
        ask_cypher("q", settings, store=store, llm=fixed_reply("\n"))


def test_schema_and_prompt_show_this_graph(graph):
    settings, store = graph
    schema = graph_schema(store)
    assert schema.labels["Entity"] == 8 and {f.label for f in schema.facts} == {"spouse", "place of birth", "field", "acquired"}
    assert {"name", "type"} <= set(schema.properties["Entity"]) and "label" in schema.properties["fact"]
    text = build_prompt("Where was Marie Curie born?", schema)
    assert "ACQUIRED label 'acquired' (2)" in text and text.endswith("Question: Where was Marie Curie born?\nCypher:")
    # the worked examples built from the graph are valid read-only queries that find what they claim
    examples = [line[len("Cypher: ") :] for line in text.splitlines() if line.startswith("Cypher: ")]
    assert len(examples) == 6  # two fixed ones from the prompt file, four built from this graph
    for query in examples[2:]:
        assert store.execute(validate_query(query, 100)).rows, query


def test_extract_and_limit_units():
    assert extract_query("  MATCH (n) RETURN n\n\nQuestion: next") == "MATCH (n) RETURN n"
    assert extract_query("Cypher: MATCH (n)\n  RETURN n.name\nNote: done") == "MATCH (n)\n  RETURN n.name"
    assert extract_query("MATCH (n) RETURN n\nThe query returns nodes.") == "MATCH (n) RETURN n"
    assert enforce_limit("MATCH (n) RETURN n UNION MATCH (m) RETURN m LIMIT 7", 5) == (
        "MATCH (n) RETURN n LIMIT 5 UNION MATCH (m) RETURN m LIMIT 5"
    )
    assert enforce_limit("MATCH (n) WITH n LIMIT 999 RETURN n SKIP 2 // c", 5) == "MATCH (n) WITH n LIMIT 999 RETURN n SKIP 2 LIMIT 5 // c"  # not swallowed by the comment
    assert enforce_limit("MATCH (n) RETURN n.name AS `LIMIT 9`", 5).endswith("`LIMIT 9` LIMIT 5")
    with pytest.raises(UnsafeQuery, match="no RETURN"):
        enforce_limit("MATCH (n) WITH n", 5)


def test_doctests():
    assert doctest.testmod(text2cypher).failed == 0
    assert doctest.testmod(safety).failed == 0


@pytest.mark.slow
@needs_pathquestion
def test_gemma_writes_a_validated_read_only_query(import_kb, settings, store, gemma):
    """The real Gemma 270M on a slice of the PathQuestion KB: the query that ran passed every check, its rows are
    what the store returns for it, the graph is unchanged. A failure to generate or run must be a KgpipeError
    showing the query; greedy decoding makes the outcome fixed, and this question is one Gemma gets right."""
    kb = (PATHQUESTION / "2H-kb.txt").read_text(encoding="utf-8").splitlines()
    lines = kb[:60] + [line for line in kb if line.startswith("aurangzeb\t")]
    import_kb("\n".join(lines) + "\n")
    before = snapshot(store)
    try:
        answer = ask_cypher("What is the religion of aurangzeb?", settings.replace(llm_cache=False), store=store, llm=gemma)
    except KgpipeError as exc:
        assert "query" in str(exc)
        pytest.fail(f"Gemma's query did not run (the error path is clean, but this question used to succeed): {exc}")
    assert validate_query(answer.query, settings.cypher_limit) == answer.query  # what ran passed every check
    assert store.execute(answer.query).rows == answer.rows and answer.query in str(answer)
    assert answer.rows == [["islam"]], answer.query
    assert snapshot(store) == before


@pytest.mark.parametrize("reply", [
    "I'm sorry, I can't help with that.",
    "Sorry, I cannot write a query for this question.",
    "I don't know.\nThe graph has no such data.",
])  # fmt: skip
def test_a_prose_reply_says_no_query_was_found(graph, reply, fixed_reply):
    settings, store = graph
    with pytest.raises(LLMError) as info:
        ask_cypher("Who is the spouse of Marie Curie?", settings, store=store, llm=fixed_reply(reply))
    assert "no Cypher query found in the model's reply" in str(info.value) and repr(reply) in str(info.value)
    assert "unterminated" not in str(info.value)


def test_prose_before_the_query_is_dropped():
    assert extract_query("Here is the query:\nMATCH (n) RETURN n") == "MATCH (n) RETURN n"
    assert extract_query("I'm sorry, I can't") == ""
    assert extract_query("(n) RETURN n") == "(n) RETURN n"  # not prose: checked and refused, not dropped


def test_graph_examples_are_prompt_data_with_names_quoted_as_literals():
    from kgpipe.prompts import prompt_data
    from kgpipe.qa.text2cypher import EXAMPLES, FactKind, Schema

    schema = Schema(facts=[FactKind("BORN_IN", "born in", 2, ("Jean d'Arc", "Domrémy")),
                           FactKind("SPOUSE", "spouse", 1, None),
                           FactKind("CAPITAL_OF", "capital_of", 1, ("Paris", "C:\\France"))],
                    path=("Jean d'Arc", "born in", "Domrémy", "capital_of", "X"))  # fmt: skip
    text = build_prompt("Who?", schema)
    assert len(prompt_data(EXAMPLES)["examples"]) == 3  # path, reverse, forward templates
    assert "What is the capital of of the born in of Jean d'Arc?" in text  # _words: underscores as spaces
    assert "toLower(e.name) = 'jean d\\'arc' AND r1.label = 'born in' AND r2.label = 'capital_of'" in text
    assert "Which entities have capital of C:\\France?" in text and "= 'c:\\\\france' AND r.label = 'capital_of'" in text
    assert text.count("Question:") == 2 + 3 + 1  # two fixed examples, three from the graph (no example for SPOUSE), the question
