"""Sanitisers and the statements of kgpipe.stores.cypher, including hostile labels run against the real server."""

from __future__ import annotations

import doctest
import re

import pytest

from kgpipe.ingest.write import write
from kgpipe.records import Entity, Fact, GraphBatch
from kgpipe.stores import cypher
from kgpipe.stores.cypher import RESERVED_REL_TYPES, quote_name, sanitize_label, sanitize_rel_type

HOSTILE = [
    "works for",
    "it's \"quoted\"",
    "back`tick`` type",
    "{braces} [and] (parens)",
    "line\nbreak\r\ttab",
    "}) DETACH DELETE n //",
    "`]->() DETACH DELETE n //",
    "'; MATCH (n) DETACH DELETE n; //",
    "MATCH",
    "DELETE",
    "null",
    "Größe der Stadt",
    "位于",
    "😀 emoji",
    "",
    "   ",
    "123 go",
    "FROM_CHUNK",
    "predicted",
    "next chunk",
    "a" * 500,
]


def test_doctests() -> None:
    assert doctest.testmod(cypher).failed == 0


@pytest.mark.parametrize("label", HOSTILE)
def test_rel_type_is_a_plain_upper_snake_identifier(label: str) -> None:
    rel = sanitize_rel_type(label)
    assert re.fullmatch(r"[A-Z][A-Z0-9_]*", rel), rel
    assert rel not in RESERVED_REL_TYPES
    assert len(rel) <= 104
    assert quote_name(rel) == f"`{rel}`"


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("works for", "WORKS_FOR"),
        ("worksFor", "WORKS_FOR"),
        ("located-in", "LOCATED_IN"),
        ("Größe der Stadt", "GROSSE_DER_STADT"),
        ("café", "CAFE"),
        ("123 go", "REL_123_GO"),
        ("", "RELATED_TO"),
        ("位于", "RELATED_TO"),
        ("FROM_CHUNK", "REL_FROM_CHUNK"),
        ("from chunk", "REL_FROM_CHUNK"),
        ("predicted", "REL_PREDICTED"),
        ("NEXT_CHUNK", "REL_NEXT_CHUNK"),
        ("}) DETACH DELETE n //", "DETACH_DELETE_N"),
    ],
)
def test_rel_type_examples(label: str, expected: str) -> None:
    assert sanitize_rel_type(label) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Person", "Person"),
        ("programming language", "programming_language"),
        ("Café", "Cafe"),
        ("Document", None),
        ("chunk", None),
        ("Entity", None),
        ("__Entity__", None),
        ("_private", None),
        ("3D model", None),
        ("Person`) DETACH DELETE n //", None),
        ("a:b", None),
        ("", None),
        ("位于", None),
        ("x" * 65, None),
    ],
)
def test_sanitize_label(name: str, expected: str | None) -> None:
    assert sanitize_label(name) == expected


def test_quote_name_refuses_anything_unsanitised() -> None:
    for bad in ("a`b", "a b", "", "x}) DELETE"):
        with pytest.raises(ValueError):
            quote_name(bad)


def test_only_sanitised_names_reach_query_text() -> None:
    """User data travels as parameters: the query text of every statement is free of it."""
    hostile = "}) DETACH DELETE n //"
    query, params = cypher.upsert_facts([{"h": hostile, "t": hostile, "label": hostile}], sanitize_rel_type(hostile))
    assert hostile not in query and params["rows"][0]["label"] == hostile
    for query, _ in cypher.upsert_entities([{"id": hostile}], sanitize_label("Person`) DELETE")):
        assert hostile not in query and "DELETE" not in query


def test_schema_statements_per_dialect() -> None:
    assert all("IF NOT EXISTS" in s for s in cypher.schema_statements("neo4j"))
    falkordb = cypher.schema_statements("falkordb")
    assert all(s.startswith(("CREATE INDEX FOR", "CREATE VECTOR INDEX FOR")) for s in falkordb)
    assert sum("VECTOR" in s for s in falkordb) == 1 and sum("VECTOR" in s for s in cypher.schema_statements("neo4j")) == 1


def test_hostile_relation_labels_and_types_on_the_server(store) -> None:
    """Every hostile wording becomes a safe relationship type; its original text survives in ``label``."""
    entities = [Entity("h", "head", "Thing"), Entity("t", "tail", "`]) DETACH DELETE n //")]
    facts = [Fact("h", label, "t", 0.5, (), ("doc",), "test") for label in HOSTILE]
    counts = write(GraphBatch(entities=entities, facts=facts), store)
    types = {sanitize_rel_type(label) for label in HOSTILE}
    assert counts["facts"] == len(types)
    rows = store.execute("MATCH (:Entity {id: 'h'})-[r]->(:Entity {id: 't'}) RETURN type(r), r.label").rows
    assert {row[0] for row in rows} == types
    by_type = {row[0]: row[1] for row in rows}
    for label in HOSTILE:  # the first wording of each type is kept literally
        first = next(x for x in HOSTILE if sanitize_rel_type(x) == sanitize_rel_type(label))
        assert by_type[sanitize_rel_type(label)] == first
    tail = store.execute("MATCH (e:Entity {id: 't'}) RETURN e.type, labels(e)").rows[0]
    assert tail[0] == "`]) DETACH DELETE n //" and sorted(tail[1]) == ["Entity", "__Entity__"]
    assert store.execute("MATCH (n) RETURN count(n)").rows == [[2]]


def test_keyword_named_types_and_labels_work(store) -> None:
    entities = [Entity("a", "A", "Match"), Entity("b", "B", "Return")]
    facts = [Fact("a", word, "b", 1.0, (), ("d",), "x") for word in ("MATCH", "return", "where", "CREATE")]
    write(GraphBatch(entities=entities, facts=facts), store)
    rows = store.execute("MATCH (a:Match)-[r]->(b:Return) RETURN type(r) ORDER BY type(r)").rows
    assert [row[0] for row in rows] == ["CREATE", "MATCH", "RETURN", "WHERE"]
