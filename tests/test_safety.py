"""The read-only clause check (the first layer; test_stores checks the server-side second layer)."""

from __future__ import annotations

import doctest

import pytest

from kgpipe.errors import UnsafeQuery
from kgpipe.stores import safety
from kgpipe.stores.safety import check_read_only, mask_literals

ALLOWED = [
    "MATCH (n) RETURN n LIMIT 5",
    "MATCH (n:Entity) WHERE n.name = 'CREATE' RETURN n",
    'MATCH (n) WHERE n.name = "DETACH DELETE n" RETURN n',
    "MATCH (n) WHERE n.name = 'it\\'s a SET' RETURN n",
    "MATCH (n) RETURN n.`create` AS `DELETE`",
    "MATCH (n) // CREATE (m)\nRETURN n",
    "MATCH (n) /* MERGE (x) */ RETURN n",
    "MATCH (c:Chunk) RETURN c.start, c.end, c.set, c.delete",
    "MATCH (n) RETURN {create: 1, merge: 2} AS m",
    "MATCH (set:Person)-[remove:KNOWS]->(x) RETURN x",
    "MATCH (n) WHERE n.x = $delete RETURN n",
    "CALL db.labels()",
    "CALL db.relationshipTypes() YIELD relationshipType RETURN relationshipType",
    "call DB.PropertyKeys()",
    "CALL db.schema.visualization()",
    "MATCH (n) CALL { WITH n MATCH (n)--(m) RETURN count(m) AS k } RETURN n, k",
    "WITH 'START DATABASE x' AS s RETURN s",
    "MATCH (c:Chunk) RETURN c.start AS start ORDER BY start",
    "UNWIND [1,2,3] AS x RETURN [y IN range(1, x) | y * 2]",
]

REFUSED = [
    "CREATE (n:X)",
    "MATCH (n) DETACH DELETE n",
    "MATCH (n) /* */ DETACH DELETE n",
    "MATCH (n) /* ' */ DELETE n",
    "MATCH (n) SET n.x = 1",
    "MATCH (n) REMOVE n.x",
    "merge (n:X {id: 1})",
    "MATCH (n) WHERE n.name = 'x' DELETE n",
    "MATCH (n) WHERE n.name = \"a\\\"b\" DETACH DELETE n",
    "MATCH (n) RETURN n // comment\nCREATE (m)",
    "LOAD CSV FROM 'file:///x' AS row RETURN row",
    "MATCH (n) FOREACH (x IN [1] | SET n.y = x)",
    "DROP INDEX ON :Entity(id)",
    "CALL db.idx.fulltext.createNodeIndex('Entity', 'name')",
    "CALL apoc.periodic.iterate('MATCH (n) RETURN n', 'DETACH DELETE n', {})",
    "CALL dbms.security.createUser('x', 'y')",
    "CALL `db`.labels()",
    "CALL db.labels() YIELD label CREATE (:X {l: label})",
    "MATCH (n) CALL { WITH n DETACH DELETE n }",
    "START DATABASE neo4j",
    "GRANT ROLE admin TO bob",
    "MATCH (n)\nDETACH\nDELETE n",
    "MATCH (n) DeTaCh DeLeTe n",
    "RETURN 'unterminated",
    "MATCH (n) /* unterminated DELETE n",
    "MATCH (`n) DELETE n",
    "MATCH (set:Person) RETURN set",  # conservative: a bare variable named like a clause is refused
]


def test_doctests() -> None:
    assert doctest.testmod(safety).failed == 0


@pytest.mark.parametrize("query", ALLOWED)
def test_read_queries_pass(query: str) -> None:
    check_read_only(query)


@pytest.mark.parametrize("query", REFUSED)
def test_writing_queries_are_refused(query: str) -> None:
    with pytest.raises(UnsafeQuery):
        check_read_only(query)


def test_mask_literals_keeps_structure_and_offsets() -> None:
    query = "MATCH (n) WHERE n.a = 'CREATE' /* DELETE */ AND n.`SET` = 1 // MERGE\nRETURN n"
    masked = mask_literals(query)
    for word in ("CREATE", "DELETE", "SET", "MERGE"):
        assert word not in masked
    assert len(masked) == len(query) and masked.index("RETURN n") == query.index("RETURN n")


def test_message_names_the_clause() -> None:
    with pytest.raises(UnsafeQuery, match="DETACH"):
        check_read_only("MATCH (n) DETACH DELETE n")
    with pytest.raises(UnsafeQuery, match="apoc.do.it"):
        check_read_only("CALL apoc.do.it()")
