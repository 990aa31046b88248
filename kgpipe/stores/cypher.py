"""Every Cypher statement kgpipe runs, as small named functions (the portable subset of FalkorDB and Neo4j).

A function returns ``(query, params)``; run it with ``store.execute(*statement, write=...)``.
Nothing user-supplied is ever formatted into query text except a relationship type or label that
went through ``sanitize_rel_type`` / ``sanitize_label`` (``[A-Za-z0-9_]`` only) and is backtick-quoted
on top of that; everything else travels as a parameter.

Batched writes are ``UNWIND $rows AS row MERGE ...``. The caller must not repeat a MERGE key
within one statement's rows: FalkorDB 4.16 loses updates or crashes on that (measured), so
``kgpipe.ingest.write`` merges duplicates before calling these.

Portability notes (both verified on FalkorDB): no ``EXISTS {}`` / ``COUNT {}`` subqueries and no
pattern comprehensions with ``WHERE`` (FalkorDB miscounts them); ``OPTIONAL MATCH ... count()``
instead. No APOC.
"""

from __future__ import annotations

import functools
import re
from typing import Any, Iterable, Mapping

from ..text import fold_diacritics

Statement = tuple[str, dict[str, Any]]
Rows = list[Mapping[str, Any]]

#: Relationship types kgpipe itself uses; a user's relation label never turns into one of these.
RESERVED_REL_TYPES = frozenset({"FROM_CHUNK", "FROM_DOCUMENT", "NEXT_CHUNK", "PREDICTED"})
#: Labels with a meaning in kgpipe's schema; an entity type never becomes one of them (compared case-insensitively).
RESERVED_LABELS = frozenset({"document", "chunk", "entity", "__entity__", "__kgbuilder__"})
DEFAULT_REL_TYPE = "RELATED_TO"

_NAME = re.compile(r"[A-Za-z0-9_]+")
_LABEL = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")


def sanitize_rel_type(label: str) -> str:
    """A relation's wording as a safe ``UPPER_SNAKE`` relationship type.

    >>> sanitize_rel_type("works for"), sanitize_rel_type("bornIn"), sanitize_rel_type("Ünïcode-Größe")
    ('WORKS_FOR', 'BORN_IN', 'UNICODE_GROSSE')
    >>> sanitize_rel_type("}) DETACH DELETE n //"), sanitize_rel_type("3rd"), sanitize_rel_type("next chunk")
    ('DETACH_DELETE_N', 'REL_3RD', 'REL_NEXT_CHUNK')
    """
    text = fold_diacritics(label or "")
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", text)  # camelCase -> camel_Case
    text = re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").upper()[:100].rstrip("_")
    if not text:
        return DEFAULT_REL_TYPE
    if text[0].isdigit() or text in RESERVED_REL_TYPES:
        text = "REL_" + text
    return text


@functools.lru_cache(maxsize=65536)
def sanitize_label(name: str) -> str | None:
    """An entity type as an extra node label, or ``None`` when it cannot safely be one.

    Accents are dropped and spaces/hyphens become ``_``; anything else that is not a plain
    identifier (or is one of kgpipe's own labels) gives ``None``.

    >>> sanitize_label("Person"), sanitize_label("Café owner"), sanitize_label("Person`) DELETE")
    ('Person', 'Cafe_owner', None)
    >>> sanitize_label("Chunk") is None
    True
    """
    text = re.sub(r"[\s\-]+", "_", fold_diacritics(name or "").strip())
    if not _LABEL.fullmatch(text) or text.lower() in RESERVED_LABELS:
        return None
    return text


def quote_name(name: str) -> str:
    """Backtick-quote a label or type that is already sanitised; anything else is a programming error."""
    if not _NAME.fullmatch(name):
        raise ValueError(f"refusing to put {name!r} into query text")
    return f"`{name}`"


# -- schema ------------------------------------------------------------------------------------

_INDEXED = (("Document", "id"), ("Document", "path"), ("Chunk", "id"), ("Entity", "id"))
CHUNK_VECTOR_DIMENSIONS = 384  # the packaged MiniLM's: chunks are embedded with it (``Chunk.embedding``)
_NEO4J_VECTOR_INDEX = "kgpipe_chunk_embedding"
NEAREST_OVERSAMPLE = 4


def string_literal(text: str) -> str:
    """``text`` as a Cypher string literal, for showing a query to a model (Text2Cypher's few-shot examples);
    never used in a statement kgpipe runs, where every value is a parameter.

    >>> print(string_literal("O'Brien \\\\ co"))
    'O\\'Brien \\\\ co'
    """
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def schema_statements(dialect: str) -> list[str]:
    """Index statements for a store (``"falkordb"`` or ``"neo4j"``); each is safe to re-run."""
    if dialect == "neo4j":
        out = [
            f"CREATE CONSTRAINT kgpipe_{label.lower()}_id IF NOT EXISTS FOR (n:{label}) REQUIRE n.id IS UNIQUE"
            for label in ("Document", "Chunk", "Entity")
        ]
        out.append("CREATE INDEX kgpipe_document_path IF NOT EXISTS FOR (n:Document) ON (n.path)")
        out.append(f"CREATE VECTOR INDEX {_NEO4J_VECTOR_INDEX} IF NOT EXISTS FOR (c:Chunk) ON (c.embedding) OPTIONS "
                   f"{{indexConfig: {{`vector.dimensions`: {CHUNK_VECTOR_DIMENSIONS}, `vector.similarity_function`: 'cosine'}}}}")  # fmt: skip
        return out
    # FalkorDB has no IF NOT EXISTS; the store treats "already indexed" as success.
    return [*(f"CREATE INDEX FOR (n:{label}) ON (n.{prop})" for label, prop in _INDEXED),
            f"CREATE VECTOR INDEX FOR (c:Chunk) ON (c.embedding) OPTIONS {{dimension: {CHUNK_VECTOR_DIMENSIONS}, "
            "similarityFunction: 'cosine'}"]  # fmt: skip


# -- batched upserts ---------------------------------------------------------------------------


def upsert_documents(rows: Rows) -> Statement:
    """Rows ``{id, path, title, sha256, mime}``. Clears ``complete``: a (re)write is done only when marked again.

    ``paths`` collects every file path seen with this content (identical files are one document).
    """
    return (
        "UNWIND $rows AS row "
        "MERGE (d:Document {id: row.id}) "
        "SET d.path = row.path, d.title = row.title, d.sha256 = row.sha256, d.mime = row.mime, "
        "d.complete = false, "
        "d.paths = coalesce(d.paths, []) + CASE WHEN row.path IN coalesce(d.paths, []) THEN [] ELSE [row.path] END",
        {"rows": rows},
    )


def upsert_chunks(rows: Rows) -> Statement:
    """Rows ``{id, doc_id, index, text, start, end}``; links each chunk ``FROM_DOCUMENT`` (which must exist).

    A chunk's id is a hash of its document and place, so an existing chunk is never changed: besides saving work,
    FalkorDB's vector index loses a node on any update of it (FalkorDB/FalkorDB#2197), and a rerun of a build
    must not unindex the chunks it already embedded."""
    return (
        "UNWIND $rows AS row "
        "MATCH (d:Document {id: row.doc_id}) "
        "MERGE (c:Chunk {id: row.id}) "
        "ON CREATE SET c.doc_id = row.doc_id, c.index = row.index, c.text = row.text, c.start = row.start, c.end = row.end "
        "MERGE (c)-[:FROM_DOCUMENT]->(d)",
        {"rows": rows},
    )


def set_chunk_vectors(rows: Rows, *, dialect: str = "falkordb") -> Statement:
    """Rows ``{id, vector}``: each chunk's embedding, which the vector index on ``Chunk`` serves."""
    value = "vecf32(row.vector)" if dialect == "falkordb" else "row.vector"
    return (f"UNWIND $rows AS row MATCH (c:Chunk {{id: row.id}}) WHERE c.embedding IS NULL SET c.embedding = {value}",
            {"rows": rows})  # set once: see ``upsert_chunks``


def link_next_chunks(rows: Rows) -> Statement:
    """Rows ``{a, b}``: chunk ``a`` is followed by chunk ``b``."""
    return (
        "UNWIND $rows AS row "
        "MATCH (a:Chunk {id: row.a}) MATCH (b:Chunk {id: row.b}) "
        "MERGE (a)-[:NEXT_CHUNK]->(b)",
        {"rows": rows},
    )


def upsert_entities(rows: Rows, label: str | None = None, *, dialect: str = "falkordb") -> list[Statement]:
    """Rows ``{id, name, type, aliases}`` as ``(:Entity:__Entity__[:label])``; aliases are unioned.

    ``label`` must come from ``sanitize_label`` (one call per label: labels cannot be parameters).
    Neo4j gets one ``MERGE``. FalkorDB gets "create the missing ones with their labels" then "update
    all": adding labels to nodes a statement has just created costs FalkorDB 4.16 about 1 s per
    5,000 nodes (measured: 5.3 s against 0.56 s for 20,000 entities).
    """
    labels = ":__Entity__" + (":" + quote_name(label) if label else "")
    update = (
        f"SET e{labels}, e.name = row.name, e.type = row.type, "
        "e.aliases = coalesce(e.aliases, []) + [a IN row.aliases WHERE NOT a IN coalesce(e.aliases, [])]"
    )
    if dialect == "neo4j":
        return [("UNWIND $rows AS row MERGE (e:Entity {id: row.id}) " + update, {"rows": rows})]
    return [
        (
            "UNWIND $rows AS row OPTIONAL MATCH (e:Entity {id: row.id}) WITH row, e WHERE e IS NULL "
            f"CREATE (:Entity{labels} {{id: row.id, name: row.name, type: row.type, aliases: row.aliases}})",
            {"rows": rows},
        ),
        ("UNWIND $rows AS row MATCH (e:Entity {id: row.id}) " + update, {"rows": rows}),
    ]


def upsert_mentions(rows: Rows) -> Statement:
    """Rows ``{e, c, names}``: entity ``e`` is mentioned in chunk ``c`` (both must exist) as ``names``."""
    return (
        "UNWIND $rows AS row "
        "MATCH (e:Entity {id: row.e}) MATCH (c:Chunk {id: row.c}) "
        "MERGE (e)-[m:FROM_CHUNK]->(c) "
        "SET m.names = coalesce(m.names, []) + [n IN row.names WHERE NOT n IN coalesce(m.names, [])]",
        {"rows": rows},
    )


def upsert_facts(rows: Rows, rel_type: str) -> Statement:
    """Rows ``{h, t, label, confidence, chunk_ids, doc_ids, extractor, wordings}`` of one relationship type.

    ``wordings``: the chunks' own wordings of a canonical relation (issue 11). Merged on (head, type,
    tail): on a match the chunk/doc id and wording lists are unioned and the confidence
    is the max; ``label`` and ``extractor`` keep their first value. Returns the number of rows
    written (a row whose head or tail entity does not exist is skipped).
    """
    return (
        "UNWIND $rows AS row "
        "MATCH (h:Entity {id: row.h}) MATCH (t:Entity {id: row.t}) "
        f"MERGE (h)-[r:{quote_name(rel_type)}]->(t) "
        "ON CREATE SET r.label = row.label, r.confidence = row.confidence, r.chunk_ids = row.chunk_ids, "
        "r.doc_ids = row.doc_ids, r.extractor = row.extractor, r.wordings = coalesce(row.wordings, []) "
        "ON MATCH SET "
        "r.confidence = CASE WHEN r.confidence IS NULL OR row.confidence > r.confidence "
        "THEN row.confidence ELSE r.confidence END, "
        "r.chunk_ids = coalesce(r.chunk_ids, []) + [x IN row.chunk_ids WHERE NOT x IN coalesce(r.chunk_ids, [])], "
        "r.doc_ids = coalesce(r.doc_ids, []) + [x IN row.doc_ids WHERE NOT x IN coalesce(r.doc_ids, [])], "
        "r.wordings = coalesce(r.wordings, []) + [x IN coalesce(row.wordings, []) WHERE NOT x IN coalesce(r.wordings, [])] "
        "RETURN count(r) AS n",
        {"rows": rows},
    )


def upsert_predicted_links(rows: Rows) -> Statement:
    """Rows ``{h, t, relation, score, model, run_id}`` as ``PREDICTED`` links, one per (head, relation, tail)."""
    return (
        "UNWIND $rows AS row "
        "MATCH (h:Entity {id: row.h}) MATCH (t:Entity {id: row.t}) "
        "MERGE (h)-[p:PREDICTED {relation: row.relation}]->(t) "
        "SET p.score = row.score, p.model = row.model, p.run_id = row.run_id",
        {"rows": rows},
    )


def delete_predicted_links(keep_run_id: str | None = None) -> Statement:
    """Remove predicted links: all of them, or all but those of run ``keep_run_id`` (after writing that run's)."""
    if keep_run_id is None:
        return "MATCH (:Entity)-[p:PREDICTED]->(:Entity) DELETE p RETURN count(p) AS n", {}
    return (
        "MATCH (:Entity)-[p:PREDICTED]->(:Entity) WHERE p.run_id IS NULL OR p.run_id <> $run_id "
        "DELETE p RETURN count(p) AS n",
        {"run_id": keep_run_id},
    )


def completion_facts() -> Statement:
    """Every fact between entities as (head id, relationship type, label, tail id, head type, tail type).

    What completion trains on. Predicted links are left out, so a model never learns from an
    earlier model's guesses.
    """
    return (
        "MATCH (h:Entity)-[r]->(t:Entity) WHERE type(r) <> 'PREDICTED' "
        "RETURN h.id AS head, type(r) AS type, r.label AS label, t.id AS tail, h.type AS head_type, t.type AS tail_type",
        {},
    )


def mark_documents_complete(ids: Iterable[str], ingested_at: str) -> Statement:
    """The last write for a document: it is fully built (chunks, entities, facts are in)."""
    return (
        "UNWIND $ids AS id MATCH (d:Document {id: id}) SET d.complete = true, d.ingested_at = $at",
        {"ids": list(ids), "at": ingested_at},
    )


# -- reads -------------------------------------------------------------------------------------


def find_document(key: str) -> Statement:
    """The document whose id or (one of whose) paths is ``key``."""
    return (
        "MATCH (d:Document) WHERE d.id = $key OR d.path = $key OR $key IN coalesce(d.paths, []) "
        "RETURN d.id AS id, d.path AS path, coalesce(d.paths, [d.path]) AS paths, d.complete AS complete",
        {"key": key},
    )


def document_index() -> Statement:
    """Every document with its paths and completion marker."""
    return (
        "MATCH (d:Document) RETURN d.id AS id, d.path AS path, coalesce(d.paths, [d.path]) AS paths, "
        "coalesce(d.complete, false) AS complete, d.ingested_at AS ingested_at",
        {},
    )


def count_label(label: str) -> Statement:
    """Number of nodes with one of kgpipe's labels."""
    if label not in {"Document", "Chunk", "Entity"}:
        raise ValueError(label)
    return f"MATCH (n:{label}) RETURN count(n) AS n", {}


def relationship_type_counts() -> Statement:
    """Relationships between entities per type (facts and ``PREDICTED``)."""
    return "MATCH (:Entity)-[r]->(:Entity) RETURN type(r) AS type, count(r) AS n", {}


def export_entities() -> Statement:
    """All entities, ordered by id."""
    return (
        "MATCH (e:Entity) RETURN e.id AS id, e.name AS name, e.type AS type, e.aliases AS aliases ORDER BY id",
        {},
    )


def export_facts() -> Statement:
    """All extracted or imported facts (not predicted links) with their provenance."""
    return (
        "MATCH (h:Entity)-[r]->(t:Entity) WHERE type(r) <> 'PREDICTED' "
        "RETURN h.id AS head_id, h.name AS head, type(r) AS type, r.label AS label, t.id AS tail_id, "
        "t.name AS tail, r.confidence AS confidence, r.chunk_ids AS chunk_ids, r.doc_ids AS doc_ids, "
        "r.extractor AS extractor ORDER BY head_id, type, tail_id",
        {},
    )


# -- deletion (see kgpipe.ingest.write.delete_document for the order and the orphan rule) -------------


def document_chunk_ids(doc_id: str) -> Statement:
    return "MATCH (c:Chunk)-[:FROM_DOCUMENT]->(:Document {id: $id}) RETURN c.id AS id", {"id": doc_id}


def mentioned_entity_ids(doc_id: str) -> Statement:
    """Entities mentioned in the document's chunks."""
    return (
        "MATCH (:Document {id: $id})<-[:FROM_DOCUMENT]-(:Chunk)<-[:FROM_CHUNK]-(e:Entity) RETURN DISTINCT e.id AS id",
        {"id": doc_id},
    )


def fact_endpoint_ids(doc_id: str) -> Statement:
    """Heads and tails of the facts that cite the document."""
    return (
        "MATCH (h:Entity)-[r]->(t:Entity) WHERE $id IN r.doc_ids RETURN DISTINCT h.id AS head, t.id AS tail",
        {"id": doc_id},
    )


def delete_facts_only_from(doc_id: str) -> Statement:
    """Delete the facts whose only supporting document is ``doc_id``."""
    return (
        "MATCH (:Entity)-[r]->(:Entity) WHERE $id IN r.doc_ids "
        "WITH r, [x IN r.doc_ids WHERE x <> $id] AS rest WHERE size(rest) = 0 "
        "DELETE r RETURN count(r) AS n",
        {"id": doc_id},
    )


def detach_facts_from(doc_id: str, chunk_ids: list[str]) -> Statement:
    """Remove the document and its chunks from the provenance lists of the facts it shares."""
    return (
        "MATCH (:Entity)-[r]->(:Entity) WHERE $id IN r.doc_ids "
        "SET r.doc_ids = [x IN r.doc_ids WHERE x <> $id], "
        "r.chunk_ids = [x IN coalesce(r.chunk_ids, []) WHERE NOT x IN $chunks] "
        "RETURN count(r) AS n",
        {"id": doc_id, "chunks": chunk_ids},
    )


def mention_names(ids: list[str]) -> Statement:
    """For entities ``ids``: every mention's document and the names it used, beside the entity's aliases."""
    return (
        "UNWIND $ids AS id MATCH (e:Entity {id: id})-[m:FROM_CHUNK]->(:Chunk)-[:FROM_DOCUMENT]->(d:Document) "
        "RETURN e.id AS id, e.aliases AS aliases, d.id AS doc, m.names AS names",
        {"ids": ids},
    )


def set_aliases(rows: Rows) -> Statement:
    """Rows ``{id, aliases}``: replace the entities' alias lists."""
    return "UNWIND $rows AS row MATCH (e:Entity {id: row.id}) SET e.aliases = row.aliases", {"rows": rows}


def delete_orphan_entities(ids: list[str], doc_id: str) -> Statement:
    """Delete those of ``ids`` with no mention outside ``doc_id`` and no fact (predicted links do not count)."""
    return (
        "UNWIND $ids AS id MATCH (e:Entity {id: id}) "
        "OPTIONAL MATCH (e)-[:FROM_CHUNK]->(c:Chunk)-[:FROM_DOCUMENT]->(o:Document) WHERE o.id <> $doc "
        "WITH e, count(c) AS mentions WHERE mentions = 0 "
        "OPTIONAL MATCH (e)-[r]-(:Entity) WHERE type(r) <> 'PREDICTED' "
        "WITH e, count(r) AS facts WHERE facts = 0 "
        "DETACH DELETE e RETURN count(*) AS n",
        {"ids": ids, "doc": doc_id},
    )


def delete_document_chunks(doc_id: str) -> Statement:
    return (
        "MATCH (c:Chunk)-[:FROM_DOCUMENT]->(:Document {id: $id}) DETACH DELETE c RETURN count(*) AS n",
        {"id": doc_id},
    )


def delete_document_node(doc_id: str) -> Statement:
    return "MATCH (d:Document {id: $id}) DETACH DELETE d RETURN count(*) AS n", {"id": doc_id}


def remove_document_path(doc_id: str, path: str) -> Statement:
    """Forget one of several paths of a document whose content another file still has."""
    return (
        "MATCH (d:Document {id: $id}) "
        "WITH d, [p IN coalesce(d.paths, []) WHERE p <> $path] AS rest "
        "SET d.paths = rest, d.path = CASE WHEN d.path = $path THEN rest[0] ELSE d.path END",
        {"id": doc_id, "path": path},
    )


def clear_graph() -> Statement:
    """Delete every node and relationship of the graph."""
    return "MATCH (n) DETACH DELETE n", {}


# -- fusion: the entity index and conflicting facts (see kgpipe.fusion.resolve, kgpipe.trust.conflicts) -----


def entity_index() -> Statement:
    """Every entity's id, name, type and aliases, unordered: what fusion resolves new mentions against."""
    return "MATCH (e:Entity) RETURN e.id AS id, e.name AS name, e.type AS type, e.aliases AS aliases", {}


def clear_conflict_marks() -> Statement:
    """Remove every fact's ``conflict`` mark (conflict resolution recomputes them all)."""
    return (
        "MATCH (:Entity)-[r]->(:Entity) WHERE r.conflict IS NOT NULL SET r.conflict = NULL RETURN count(r) AS n",
        {},
    )


def functional_profile(rel_type: str) -> Statement:
    """For one relationship type: heads, and heads with exactly one tail (is it functional in the data?)."""
    return (
        f"MATCH (h:Entity)-[:{quote_name(rel_type)}]->(t:Entity) WITH h, count(DISTINCT t) AS tails "
        "RETURN count(h) AS heads, sum(CASE WHEN tails = 1 THEN 1 ELSE 0 END) AS single",
        {},
    )


def conflicting_facts(rel_type: str) -> Statement:
    """The facts of one relationship type whose head has more than one tail, with confidence and support."""
    rel = quote_name(rel_type)
    return (
        f"MATCH (h:Entity)-[:{rel}]->(t:Entity) WITH h, count(DISTINCT t) AS tails WHERE tails > 1 "
        f"MATCH (h)-[r:{rel}]->(t:Entity) "
        "RETURN h.id AS head, t.id AS tail, r.confidence AS confidence, size(coalesce(r.doc_ids, [])) AS support",
        {},
    )


def mark_conflicts(rows: Rows, rel_type: str) -> Statement:
    """Rows ``{h, t, conflict}``: set ``conflict`` on the fact ``(h)-[rel_type]->(t)``."""
    return (
        "UNWIND $rows AS row MATCH (h:Entity {id: row.h})-[r:" + quote_name(rel_type) + "]->(t:Entity {id: row.t}) "
        "SET r.conflict = row.conflict RETURN count(r) AS n",
        {"rows": rows},
    )


# -- question answering: the schema Text2Cypher shows, the neighbourhoods KG-RAG reads ----------


def schema_labels() -> Statement:
    """Every node label with its number of nodes."""
    return "MATCH (n) UNWIND labels(n) AS label RETURN label, count(*) AS n ORDER BY n DESC", {}


def schema_property_keys(label: str, sample: int = 200) -> Statement:
    """Property keys seen on up to ``sample`` nodes of one of kgpipe's labels (or on facts, ``label="fact"``)."""
    if label == "fact":
        pattern = "(:Entity)-[x]->(:Entity) WHERE type(x) <> 'PREDICTED'"
    elif label in {"Document", "Chunk", "Entity"}:
        pattern = f"(x:{label})"
    else:
        raise ValueError(label)
    return f"MATCH {pattern} WITH x LIMIT $sample UNWIND keys(x) AS key RETURN DISTINCT key", {"sample": sample}


def schema_fact_types(limit: int = 50) -> Statement:
    """The most frequent fact kinds (relationship type and label) with a count and one example (head, tail)."""
    return (
        "MATCH (h:Entity)-[r]->(t:Entity) WHERE type(r) <> 'PREDICTED' "
        "WITH type(r) AS type, r.label AS label, count(*) AS n, collect([h.name, t.name])[0] AS example "
        "RETURN type, label, n, example ORDER BY n DESC, type LIMIT $limit",
        {"limit": limit},
    )


def schema_entity_samples(types: int = 8, per_type: int = 3) -> Statement:
    """The most frequent entity types, each with its count and a few entity names."""
    return (
        "MATCH (e:Entity) WITH e.type AS type, count(e) AS n, collect(e.name)[..$per_type] AS names "
        "RETURN type, n, names ORDER BY n DESC, type LIMIT $types",
        {"types": types, "per_type": per_type},
    )


_NEIGHBOUR_FACT = (
    "RETURN h.id AS head_id, h.name AS head, type(r) AS type, r.label AS label, t.id AS tail_id, t.name AS tail, "
    "r.confidence AS confidence, r.chunk_ids AS chunk_ids, r.doc_ids AS doc_ids LIMIT $limit"
)


def entity_facts(ids: list[str], limit: int) -> Statement:
    """The facts (never ``PREDICTED`` links) with one of ``ids`` as head or tail, with their provenance."""
    return (
        "UNWIND $ids AS id MATCH (h:Entity {id: id})-[r]->(t:Entity) WHERE type(r) <> 'PREDICTED' "
        + _NEIGHBOUR_FACT
        + " UNION UNWIND $ids AS id MATCH (h:Entity)-[r]->(t:Entity {id: id}) WHERE type(r) <> 'PREDICTED' "
        + _NEIGHBOUR_FACT,
        {"ids": ids, "limit": limit},
    )


def schema_sample_path() -> Statement:
    """One two-fact chain ``a -r1-> b -r2-> c`` (a worked multi-hop example for Text2Cypher's prompt)."""
    return (
        "MATCH (a:Entity)-[r1]->(b:Entity)-[r2]->(c:Entity) "
        "WHERE type(r1) <> 'PREDICTED' AND type(r2) <> 'PREDICTED' AND a <> c "
        "RETURN a.name AS a, r1.label AS r1, b.name AS b, r2.label AS r2, c.name AS c LIMIT 1",
        {},
    )


# -- asking: reasoning paths over facts (see kgpipe.qa.paths) --------------------------------------

#: A fact: a relationship between entities that carries a ``label`` and is not a predicted link.
_FACT = "r.label IS NOT NULL AND type(r) <> 'PREDICTED'"


def fact_neighbours(ids: list[str], outgoing: bool) -> Statement:
    """The facts leaving (``outgoing``) or entering the entities ``ids``, with the entity at the other end."""
    pattern = "(s:Entity {id: id})-[r]->(o:Entity)" if outgoing else "(s:Entity {id: id})<-[r]-(o:Entity)"
    return (
        f"UNWIND $ids AS id MATCH {pattern} WHERE {_FACT} "
        "RETURN s.id AS source, s.name AS source_name, o.id AS other, o.name AS other_name, r.label AS label, "
        "type(r) AS type, r.chunk_ids AS chunk_ids, r.doc_ids AS doc_ids",
        {"ids": ids},
    )


def facts_between(rows: Rows) -> Statement:
    """Rows ``{i, h, t}``: every fact from entity ``h`` to entity ``t`` (label, type, provenance), tagged ``i``."""
    return (
        f"UNWIND $rows AS row MATCH (h:Entity {{id: row.h}})-[r]->(t:Entity {{id: row.t}}) WHERE {_FACT} "
        "RETURN row.i AS i, r.label AS label, type(r) AS type, r.chunk_ids AS chunk_ids, r.doc_ids AS doc_ids",
        {"rows": rows},
    )


def entity_document_chunks(ids: list[str], limit: int) -> Statement:
    """The chunks of every document that mentions one of the entities ``ids``, with the entities' aliases:
    what ``ask`` reads when the graph does not answer (``kgpipe.qa.text``)."""
    return (
        "MATCH (e:Entity)-[:FROM_CHUNK]->(:Chunk)-[:FROM_DOCUMENT]->(d:Document)<-[:FROM_DOCUMENT]-(c:Chunk) "
        "WHERE e.id IN $ids WITH DISTINCT c, d, collect(e.aliases) AS lists "
        "RETURN c.id AS chunk_id, c.text AS text, c.start AS start, d.id AS doc_id, d.path AS path, d.title AS title, "
        "reduce(a = [], l IN lists | a + coalesce(l, [])) AS aliases ORDER BY d.path, c.index LIMIT $limit",
        {"ids": ids, "limit": limit},
    )


def nearest_chunks(vector: list[float], k: int, *, dialect: str = "falkordb") -> Statement:
    """The ``k`` chunks whose embedding is nearest ``vector``, as ``entity_document_chunks`` returns chunks, with
    their cosine ``similarity`` (FalkorDB's index scores a distance, 1 - cosine; Neo4j's (1 + cosine) / 2).

    ``NEAREST_OVERSAMPLE`` times ``k`` are asked for: FalkorDB's index keeps the vectors of deleted chunks
    (FalkorDB/FalkorDB#2197), which take places among the nearest and match no node."""
    if dialect == "falkordb":
        call, similarity = "CALL db.idx.vector.queryNodes('Chunk', 'embedding', $fetch, vecf32($vector))", "1 - score"
    else:
        call, similarity = f"CALL db.index.vector.queryNodes('{_NEO4J_VECTOR_INDEX}', $fetch, $vector)", "2 * score - 1"
    return (
        f"{call} YIELD node, score MATCH (node)-[:FROM_DOCUMENT]->(d:Document) "
        "RETURN node.id AS chunk_id, node.text AS text, node.start AS start, d.id AS doc_id, d.path AS path, "
        f"d.title AS title, [] AS aliases, {similarity} AS similarity ORDER BY similarity DESC LIMIT $k",
        {"vector": vector, "k": k, "fetch": k * NEAREST_OVERSAMPLE},
    )


def chunk_provenance(chunk_ids: list[str]) -> Statement:
    """Chunks with their text and offsets in their document, and the document's id, path and title."""
    return (
        "UNWIND $ids AS id MATCH (c:Chunk {id: id}) OPTIONAL MATCH (c)-[:FROM_DOCUMENT]->(d:Document) "
        "RETURN c.id AS chunk_id, c.index AS index, c.text AS text, c.start AS start, c.end AS end, "
        "d.id AS doc_id, d.path AS path, d.title AS title",
        {"ids": chunk_ids},
    )


def document_provenance(doc_ids: list[str]) -> Statement:
    """Path and title of the documents with these ids."""
    return (
        "UNWIND $ids AS id MATCH (d:Document {id: id}) RETURN d.id AS doc_id, d.path AS path, d.title AS title",
        {"ids": doc_ids},
    )


# -- serving: an entity with its facts both ways, one fact's provenance (see kgpipe.serve.views) -----------

_VIEW_FACT = (
    "RETURN h.id AS head_id, h.name AS head, type(r) AS type, r.label AS label, t.id AS tail_id, t.name AS tail, "
    "t.type AS tail_type, h.type AS head_type, r.confidence AS confidence, r.conflict AS conflict, "
    "r.chunk_ids AS chunk_ids, r.doc_ids AS doc_ids, r.extractor AS extractor, r.wordings AS wordings"
)


def entity_by_id(entity_id: str) -> Statement:
    """One entity's id, name, type and aliases."""
    return (
        "MATCH (e:Entity {id: $id}) RETURN e.id AS id, e.name AS name, e.type AS type, e.aliases AS aliases",
        {"id": entity_id},
    )


def entity_view_facts(entity_id: str, limit: int) -> Statement:
    """The facts (never ``PREDICTED`` links) leaving and entering one entity, with confidence, conflict mark and
    provenance; at most ``limit`` each way."""
    return (
        "MATCH (h:Entity {id: $id})-[r]->(t:Entity) WHERE type(r) <> 'PREDICTED' " + _VIEW_FACT + " LIMIT $limit"
        " UNION MATCH (h:Entity)-[r]->(t:Entity {id: $id}) WHERE type(r) <> 'PREDICTED' " + _VIEW_FACT + " LIMIT $limit",
        {"id": entity_id, "limit": limit},
    )


def entity_predicted_links(entity_id: str, limit: int) -> Statement:
    """The ``PREDICTED`` links leaving and entering one entity, best score first."""
    ret = ("RETURN h.id AS head_id, h.name AS head, p.relation AS relation, t.id AS tail_id, t.name AS tail, "
           "p.score AS score, p.model AS model ORDER BY score DESC LIMIT $limit")  # fmt: skip
    return (
        "MATCH (h:Entity {id: $id})-[p:PREDICTED]->(t:Entity) " + ret
        + " UNION MATCH (h:Entity)-[p:PREDICTED]->(t:Entity {id: $id}) " + ret,
        {"id": entity_id, "limit": limit},
    )


def fact_by_key(head_id: str, rel_type: str, tail_id: str) -> Statement:
    """The fact ``(head)-[rel_type]->(tail)`` (facts are merged on that key, so there is at most one)."""
    return (
        "MATCH (h:Entity {id: $h})-[r]->(t:Entity {id: $t}) WHERE type(r) = $type AND type(r) <> 'PREDICTED' "
        + _VIEW_FACT,
        {"h": head_id, "t": tail_id, "type": rel_type},
    )


def mark_learned(head_id: str, rel_type: str, tail_id: str, question: str, span: list[int]) -> Statement:
    """Mark the fact ``(head)-[rel_type]->(tail)`` as learned from an answer read in the text (``kgpipe ask --learn``):
    the question it answered and the answer's character offsets in its document."""
    return (
        f"MATCH (h:Entity {{id: $h}})-[r:{quote_name(rel_type)}]->(t:Entity {{id: $t}}) "
        "SET r.learned = $question, r.span = $span RETURN count(r) AS n",
        {"h": head_id, "t": tail_id, "question": question, "span": span},
    )


def chunk_mentions(chunk_ids: list[str], entity_ids: list[str]) -> Statement:
    """The names the entities ``entity_ids`` are mentioned by in the chunks ``chunk_ids``."""
    return (
        "MATCH (e:Entity)-[m:FROM_CHUNK]->(c:Chunk) WHERE e.id IN $entities AND c.id IN $chunks "
        "RETURN e.id AS entity_id, c.id AS chunk_id, m.names AS names",
        {"entities": entity_ids, "chunks": chunk_ids},
    )


def export_predicted_links() -> Statement:
    """All predicted links with their relation and score."""
    return (
        "MATCH (h:Entity)-[p:PREDICTED]->(t:Entity) "
        "RETURN h.id AS head_id, t.id AS tail_id, p.relation AS relation, p.score AS score ORDER BY head_id, tail_id",
        {},
    )


def graph_facts(limit: int) -> Statement:
    """Up to ``limit`` facts of the whole graph, as ``entity_view_facts`` returns them (the HTML export)."""
    return "MATCH (h:Entity)-[r]->(t:Entity) WHERE type(r) <> 'PREDICTED' " + _VIEW_FACT + " LIMIT $limit", {"limit": limit}
