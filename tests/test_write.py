"""kgpipe.ingest.write against the real embedded FalkorDB: idempotence, provenance, deletion, hostile data."""

from __future__ import annotations

import pytest

from kgpipe.bench.pipeline import bench_write, synthetic_batch
from kgpipe.config import Settings
from kgpipe.ingest.write import clear, delete_document, document_index, list_documents, stats, write
from kgpipe.records import Chunk, Document, Entity, Fact, GraphBatch, Mention
from kgpipe.stores import cypher


def _doc(name: str, path: str | None = None) -> Document:
    return Document(f"doc-{name}", path or f"/data/{name}.txt", name.upper(), f"text of {name}", f"sha-{name}")


def two_documents() -> tuple[GraphBatch, GraphBatch]:
    """Doc A and doc B both support Ann-WORKS_FOR->Acme; only A supports Bob-KNOWS->Ann; only A mentions Bob."""
    a, b = _doc("a"), _doc("b")
    ann, bob = Entity("ann", "Ann", "Person", ("Annie",)), Entity("bob", "Bob", "Person")
    acme = Entity("acme", "Acme", "Organization")
    chunks_a = [Chunk("a0", a.id, 0, "Ann works for Acme.", 0, 18), Chunk("a1", a.id, 1, "Bob knows Ann.", 19, 33)]
    chunks_b = [Chunk("b0", b.id, 0, "Ann is employed by Acme.", 0, 24)]
    batch_a = GraphBatch(
        documents=[a],
        chunks=chunks_a,
        entities=[ann, acme, bob],
        mentions=[Mention("ann", "a0"), Mention("acme", "a0"), Mention("bob", "a1"), Mention("ann", "a1")],
        facts=[Fact("ann", "works for", "acme", 0.6, ("a0",), (a.id,), "m1", ("works for",)),
               Fact("bob", "knows", "ann", 0.8, ("a1",), (a.id,), "m1")],  # fmt: skip
    )
    batch_b = GraphBatch(
        documents=[b],
        chunks=chunks_b,
        entities=[Entity("ann", "Ann", "Person", ("A. N.",)), acme],
        mentions=[Mention("ann", "b0"), Mention("acme", "b0")],
        facts=[Fact("ann", "worksFor", "acme", 0.9, ("b0",), (b.id,), "m2", ("is employed by", "works for"))],
    )
    return batch_a, batch_b


EMPTY = {"documents": 0, "chunks": 0, "entities": 0, "facts": 0, "predicted_links": 0, "relation_types": 0}


def _counts(**changes: int) -> dict[str, int]:
    return {**EMPTY, **changes}


def _facts(store) -> dict[tuple[str, str, str], dict]:
    rows = store.execute("MATCH (h:Entity)-[r]->(t:Entity) RETURN h.id, type(r), t.id, r").rows
    return {(h, rt, t): r["properties"] for h, rt, t, r in rows}


def test_write_counts_and_shape(store) -> None:
    batch_a, _ = two_documents()
    counts = write(batch_a, store)
    assert counts == {"documents": 1, "chunks": 2, "entities": 3, "mentions": 4, "facts": 2, "facts_skipped": 0}
    assert stats(store) == _counts(documents=1, chunks=2, entities=3, facts=2, relation_types=2)
    labels = store.execute("MATCH (e:Entity {id: 'acme'}) RETURN labels(e)").rows[0][0]
    assert sorted(labels) == ["Entity", "Organization", "__Entity__"]
    assert store.execute("MATCH (:Chunk {id: 'a0'})-[:NEXT_CHUNK]->(c) RETURN c.id").rows == [["a1"]]
    assert store.execute("MATCH (:Chunk)-[:FROM_DOCUMENT]->(d:Document) RETURN DISTINCT d.id").rows == [["doc-a"]]
    fact = _facts(store)[("ann", "WORKS_FOR", "acme")]
    assert fact == {"label": "works for", "confidence": 0.6, "chunk_ids": ["a0"], "doc_ids": ["doc-a"],
                    "extractor": "m1", "wordings": ["works for"]}  # fmt: skip
    assert _facts(store)[("bob", "KNOWS", "ann")]["wordings"] == []


def test_writing_twice_changes_nothing(store) -> None:
    batch_a, batch_b = two_documents()
    write(batch_a, store)
    write(batch_b, store)
    before = (stats(store), _facts(store), store.execute("MATCH ()-[r]->() RETURN count(r)").rows)
    write(batch_a, store)
    write(batch_b, store)
    assert (stats(store), _facts(store), store.execute("MATCH ()-[r]->() RETURN count(r)").rows) == before


def test_shared_fact_unions_provenance_and_takes_max_confidence(store) -> None:
    batch_a, batch_b = two_documents()
    write(batch_a, store)
    write(batch_b, store)
    fact = _facts(store)[("ann", "WORKS_FOR", "acme")]
    assert fact["chunk_ids"] == ["a0", "b0"] and fact["doc_ids"] == ["doc-a", "doc-b"]
    assert fact["confidence"] == 0.9 and fact["label"] == "works for" and fact["extractor"] == "m1"
    assert fact["wordings"] == ["works for", "is employed by"]  # each chunk's own wording, once
    aliases = store.execute("MATCH (e:Entity {id: 'ann'}) RETURN e.aliases").rows[0][0]
    assert aliases == ["Annie", "A. N."]


def test_fact_provenance_points_at_existing_nodes(store) -> None:
    for batch in two_documents():
        write(batch, store)
    chunk_ids = {r[0] for r in store.execute("MATCH (c:Chunk) RETURN c.id").rows}
    doc_ids = {r[0] for r in store.execute("MATCH (d:Document) RETURN d.id").rows}
    for props in _facts(store).values():
        assert set(props["chunk_ids"]) <= chunk_ids and set(props["doc_ids"]) <= doc_ids
    # each fact's chunks belong to its documents
    rows = store.execute(
        "MATCH (:Entity)-[r]->(:Entity) UNWIND r.chunk_ids AS cid MATCH (c:Chunk {id: cid})-[:FROM_DOCUMENT]->(d) "
        "RETURN cid, d.id, r.doc_ids"
    ).rows
    assert rows and all(doc in docs for _, doc, docs in rows)


def test_duplicates_inside_one_batch_are_merged(store) -> None:
    """Repeated keys in one UNWIND would lose updates (or crash) on FalkorDB; write() merges them first."""
    doc = _doc("d")
    facts = [Fact("x", "likes", "y", c, (f"c{i}",), (doc.id,), "m") for i, c in enumerate([0.2, 0.9, 0.4])]
    batch = GraphBatch(
        documents=[doc, doc],
        chunks=[Chunk(f"c{i}", doc.id, i, "t", 0, 1) for i in range(3)] * 2,
        entities=[Entity("x", "X", "Thing", ("x1",)), Entity("y", "Y"), Entity("x", "X", "Thing", ("x2",))],
        mentions=[Mention("x", "c0"), Mention("x", "c0")],
        facts=facts + [Fact("x", "LIKES", "y", 0.1, ("c0",), (doc.id,), "m")],
    )
    counts = write(batch, store)
    assert counts["facts"] == 1 and counts["entities"] == 2 and counts["chunks"] == 3 and counts["mentions"] == 1
    fact = _facts(store)[("x", "LIKES", "y")]
    assert fact["confidence"] == 0.9 and fact["chunk_ids"] == ["c0", "c1", "c2"]
    assert store.execute("MATCH (e:Entity {id: 'x'}) RETURN e.aliases").rows == [[["x1", "x2"]]]


def test_facts_with_missing_entities_are_skipped_and_counted(store) -> None:
    batch = GraphBatch(entities=[Entity("a", "A")], facts=[Fact("a", "r", "ghost", 1.0, (), ("d",), "m")])
    counts = write(batch, store)
    assert counts["facts"] == 0 and counts["facts_skipped"] == 1
    assert stats(store)["entities"] == 1


def test_complete_marker_is_written_last(store) -> None:
    batch_a, _ = two_documents()
    partial = GraphBatch(documents=batch_a.documents, chunks=batch_a.chunks)
    # An interrupted build leaves the document unmarked: simulate by running only the first statement.
    row = {"id": "doc-a", "path": "/data/a.txt", "title": "A", "sha256": "s", "mime": "text/plain"}
    store.execute(*cypher.upsert_documents([row]), write=True)
    assert document_index(store) == {"/data/a.txt": ("doc-a", False)}
    write(partial, store)
    write(batch_a, store)  # the redo
    assert document_index(store) == {"/data/a.txt": ("doc-a", True)}
    assert list_documents(store)[0]["ingested_at"].endswith("+00:00")
    assert stats(store)["chunks"] == 2


def test_delete_removes_only_what_the_document_alone_supported(store) -> None:
    batch_a, batch_b = two_documents()
    write(batch_a, store)
    write(batch_b, store)
    counts = delete_document(store, "/data/a.txt")
    assert counts == {"documents": 1, "chunks": 2, "entities": 1, "facts": 1, "facts_updated": 1, "paths": 0}
    assert stats(store) == _counts(documents=1, chunks=1, entities=2, facts=1, relation_types=1)
    facts = _facts(store)
    assert list(facts) == [("ann", "WORKS_FOR", "acme")]
    assert facts[("ann", "WORKS_FOR", "acme")]["doc_ids"] == ["doc-b"]
    assert facts[("ann", "WORKS_FOR", "acme")]["chunk_ids"] == ["b0"]
    assert {r[0] for r in store.execute("MATCH (e:Entity) RETURN e.id").rows} == {"ann", "acme"}
    assert delete_document(store, "doc-a")["documents"] == 0  # already gone: nothing to do
    assert delete_document(store, "doc-b")["entities"] == 2
    assert stats(store) == EMPTY


def test_imported_triples_follow_the_same_rule(store) -> None:
    """An import is a pseudo document without chunks: facts cite it, entities live through facts."""
    batch_a, _ = two_documents()
    write(batch_a, store)
    imported = _doc("import", "/data/triples.tsv")
    write(
        GraphBatch(
            documents=[imported],
            entities=[Entity("acme", "Acme", "Organization"), Entity("paris", "Paris", "Place")],
            facts=[Fact("acme", "located in", "paris", 1.0, (), (imported.id,), "import:/data/triples.tsv"),
                   Fact("ann", "works for", "acme", 1.0, (), (imported.id,), "import:/data/triples.tsv")],  # fmt: skip
        ),
        store,
    )
    assert stats(store)["entities"] == 4
    counts = delete_document(store, "/data/triples.tsv")
    assert counts["facts"] == 1 and counts["facts_updated"] == 1 and counts["entities"] == 1
    assert {r[0] for r in store.execute("MATCH (e:Entity) RETURN e.id").rows} == {"ann", "acme", "bob"}
    assert _facts(store)[("ann", "WORKS_FOR", "acme")]["doc_ids"] == ["doc-a"]


def test_predicted_links_neither_count_as_facts_nor_keep_entities(store) -> None:
    batch_a, _ = two_documents()
    write(batch_a, store)
    rows = [{"h": "bob", "t": "acme", "relation": "works for", "score": 0.7, "model": "TransE", "run_id": "r1"}]
    store.execute(*cypher.upsert_predicted_links(rows), write=True)
    assert stats(store)["predicted_links"] == 1 and stats(store)["facts"] == 2
    delete_document(store, "doc-a")
    assert stats(store) == EMPTY


def test_identical_content_at_two_paths(store) -> None:
    doc = _doc("same", "/data/one.txt")
    write(GraphBatch(documents=[doc]), store)
    write(GraphBatch(documents=[Document(doc.id, "/data/two.txt", doc.title, doc.text, doc.sha256)]), store)
    assert document_index(store) == {"/data/one.txt": (doc.id, True), "/data/two.txt": (doc.id, True)}
    counts = delete_document(store, "/data/one.txt")
    assert counts == {"documents": 0, "chunks": 0, "entities": 0, "facts": 0, "facts_updated": 0, "paths": 1}
    assert document_index(store) == {"/data/two.txt": (doc.id, True)}
    assert delete_document(store, "/data/two.txt")["documents"] == 1


def test_hostile_names_and_labels_are_stored_literally(store) -> None:
    hostile = ["'; MATCH (n) DETACH DELETE n; //", '"}) DETACH DELETE n //', "back`tick", "new\nline", "{$rows}", "\\"]
    doc = Document("d'`\"", "/tmp/we ird/`x`.txt", "}) DELETE", "t", "s")
    entities = [Entity(f"e{i}", name, name, (name,)) for i, name in enumerate(hostile)]
    facts = [Fact(f"e{i}", name, f"e{(i + 1) % len(hostile)}", 0.5, ("c'",), (doc.id,), name)
             for i, name in enumerate(hostile)]  # fmt: skip
    chunk = Chunk("c'", doc.id, 0, "\n".join(hostile), 0, 1)
    write(GraphBatch([doc], [chunk], entities, [Mention("e0", "c'")], facts), store)
    assert store.execute("MATCH (e:Entity) RETURN e.name ORDER BY e.id").rows == [[n] for n in hostile]
    assert store.execute("MATCH (c:Chunk) RETURN c.text").rows == [["\n".join(hostile)]]
    labels = {r[0] for r in store.execute("MATCH (:Entity)-[r]->() WHERE type(r) <> 'FROM_CHUNK' RETURN r.label").rows}
    assert labels == set(hostile)
    assert document_index(store) == {"/tmp/we ird/`x`.txt": ("d'`\"", True)}
    assert stats(store)["entities"] == len(hostile)
    assert delete_document(store, "d'`\"")["documents"] == 1
    assert stats(store)["entities"] == 0


def test_clear(store) -> None:
    write(two_documents()[0], store)
    clear(store)
    assert stats(store)["entities"] == 0 and stats(store)["documents"] == 0


def test_synthetic_batch_is_distinct_and_skewed() -> None:
    batch = synthetic_batch(3000, seed=1)
    keys = {(f.head_id, cypher.sanitize_rel_type(f.relation), f.tail_id) for f in batch.facts}
    assert len(keys) == 3000 and len(batch.entities) <= 600
    assert synthetic_batch(3000, seed=1).facts == batch.facts


def test_bench_write_small(settings: Settings) -> None:
    result = bench_write("falkordb", n=2000, batch_size=500, settings=settings)
    assert result["n"] == 2000 and result["kgpipe_triples_per_s"] > 0 and result["minimal_triples_per_s"] > 0
    assert result["ratio"] == pytest.approx(result["minimal_seconds"] / result["kgpipe_seconds"], rel=0.05)


def test_delete_drops_the_aliases_only_that_document_gave(store) -> None:
    a, b = _doc("a"), _doc("b")
    ann = Entity("ann", "Ann", "Person", ("Annie", "A. N.", "Ann Smith"))
    batch_a = GraphBatch(
        documents=[a],
        chunks=[Chunk("a0", a.id, 0, "Annie met Ann Smith.", 0, 20)],
        entities=[ann],
        mentions=[Mention("ann", "a0", ("Annie", "Ann Smith"))],
    )
    batch_b = GraphBatch(
        documents=[b],
        chunks=[Chunk("b0", b.id, 0, "A. N. is Ann Smith.", 0, 19)],
        entities=[ann],
        mentions=[Mention("ann", "b0", ("A. N.", "Ann Smith"))],
    )
    write(batch_a, store)
    write(batch_b, store)
    names = store.execute("MATCH (:Entity {id: 'ann'})-[m:FROM_CHUNK]->(:Chunk {id: 'a0'}) RETURN m.names").rows
    assert names == [[["Annie", "Ann Smith"]]]
    delete_document(store, "doc-a")
    # "Annie" came only from doc A; "Ann Smith" is also used by doc B; "A. N." only by B.
    assert store.execute("MATCH (e:Entity {id: 'ann'}) RETURN e.name, e.aliases").rows == [["Ann", ["A. N.", "Ann Smith"]]]
    delete_document(store, "doc-a")  # a re-run of the delete changes nothing
    assert store.execute("MATCH (e:Entity {id: 'ann'}) RETURN e.aliases").rows == [[["A. N.", "Ann Smith"]]]


#: What real text (and a model's reply) can hold: NUL, C0 controls, RTL override, zero-width, lone
#: surrogates, 10k characters, Cypher fragments, backticks.
HOSTILE_TEXT = [
    "nul\x00name", "c0\x01\x07\x1b\x1fctl", "rtl\u202eoverride", "zero\u200bwidth\ufeff", "lone\ud800surrogate",
    "L" * 10_000, "x'}) DETACH DELETE n //", "back`tick`) DELETE n", "MATCH (n) DETACH DELETE n",
]  # fmt: skip
#: Only NUL and lone surrogates change (to U+FFFD); everything else is stored as is.
HOSTILE_STORED = [t.replace("\x00", "\ufffd").replace("\ud800", "\ufffd") for t in HOSTILE_TEXT]
SCHEMA_NAME = r"[A-Za-z_][A-Za-z0-9_]*"


def test_hostile_text_names_labels_and_types_are_stored_as_documented(store) -> None:
    import re

    doc = Document("d-hostile", "/tmp/\x00odd\u202e/\ud800.txt", "title\x00", "t", "s")
    n = len(HOSTILE_TEXT)
    entities = [Entity(f"e{i}", name, name, (name, f"alias {i}")) for i, name in enumerate(HOSTILE_TEXT)]
    chunk = Chunk("c0", doc.id, 0, " | ".join(HOSTILE_TEXT), 0, 1)
    mentions = [Mention(f"e{i}", "c0", (name,)) for i, name in enumerate(HOSTILE_TEXT)]
    facts = [Fact(f"e{i}", name, f"e{(i + 1) % n}", 0.5, ("c0",), (doc.id,), name) for i, name in enumerate(HOSTILE_TEXT)]
    counts = write(GraphBatch([doc], [chunk], entities, mentions, facts), store)
    assert counts["entities"] == n and counts["facts"] == n and counts["facts_skipped"] == 0

    got = store.execute("MATCH (e:Entity) RETURN e.id, e.name, e.type, e.aliases").rows
    assert sorted(got) == sorted([f"e{i}", s, s, [s, f"alias {i}"]] for i, s in enumerate(HOSTILE_STORED))
    assert store.execute("MATCH (c:Chunk) RETURN c.text").rows == [[" | ".join(HOSTILE_STORED)]]
    assert store.execute("MATCH (d:Document) RETURN d.path, d.title, d.complete").rows == [
        ["/tmp/\ufffdodd\u202e/\ufffd.txt", "title\ufffd", True]
    ]
    names = store.execute("MATCH (:Entity)-[m:FROM_CHUNK]->(:Chunk) RETURN m.names").rows
    assert sorted(r[0][0] for r in names) == sorted(HOSTILE_STORED)
    facts_back = store.execute("MATCH (h:Entity)-[r]->(:Entity) RETURN h.id, type(r), r.label, r.extractor").rows
    assert sorted((h, label, ex) for h, _, label, ex in facts_back) == sorted(
        (f"e{i}", s, s) for i, s in enumerate(HOSTILE_STORED)
    )
    # every relationship type and label is a plain identifier within the schema, whatever the relation or type said
    types = {t for _, t, _, _ in facts_back}
    assert all(re.fullmatch(r"[A-Z0-9_]{1,104}", t) for t in types), types
    labels = {x for row in store.execute("MATCH (n) RETURN labels(n)").rows for x in row[0]}
    assert all(re.fullmatch(SCHEMA_NAME, x) and len(x) <= 64 for x in labels), labels
    assert {"Document", "Chunk", "Entity", "__Entity__"} <= labels
    assert stats(store)["documents"] == 1  # the Cypher fragments travelled as values: nothing was deleted
    # a lookup by the original (uncleaned) name finds the stored one
    found = store.execute("MATCH (e:Entity {name: $n}) RETURN e.id", {"n": "nul\x00name"}).rows
    assert found == [["e0"]]
    assert delete_document(store, "d-hostile")["entities"] == n and stats(store)["entities"] == 0


@pytest.mark.parametrize("label", [
    "`) DETACH DELETE n //", "x'}) DETACH DELETE n //", "rtl\u202eoverride", "zero\u200bwidth", "nul\x00byte",
    "lone\ud800", "L" * 10_000, "\u202e\u200b\x00", "``", "FROM_CHUNK", "next chunk", "3 d",
])  # fmt: skip
def test_hostile_relation_labels_and_types_stay_within_the_schema(label: str) -> None:
    import re

    rel_type = cypher.sanitize_rel_type(label)
    assert re.fullmatch(r"[A-Z][A-Z0-9_]{0,103}", rel_type) and rel_type not in cypher.RESERVED_REL_TYPES
    assert cypher.quote_name(rel_type) == f"`{rel_type}`"  # reaches query text only through the checked quoting
    node_label = cypher.sanitize_label(label)
    assert node_label is None or (re.fullmatch(SCHEMA_NAME, node_label) and len(node_label) <= 64)
    if not re.fullmatch(r"[A-Za-z0-9_]+", label):
        with pytest.raises(ValueError):
            cypher.quote_name(label)  # the raw wording can never be put into query text


def test_chunk_vectors_are_written_and_served_nearest_first(store):
    """Chunk embeddings go to the store's vector index on Chunk; ``nearest_chunks`` returns the closest by cosine, with
    that cosine, and a rewrite of the same batch changes nothing."""
    import numpy as np

    rng = np.random.default_rng(7)
    batch, _ = two_documents()
    vectors = {c.id: rng.normal(size=cypher.CHUNK_VECTOR_DIMENSIONS) for c in batch.chunks}
    batch.chunk_vectors = {cid: (v / np.linalg.norm(v)).tolist() for cid, v in vectors.items()}
    write(batch, store)
    write(batch, store)
    query = np.asarray(batch.chunk_vectors["a1"]) + 0.3 * np.asarray(batch.chunk_vectors["a0"])
    query = (query / np.linalg.norm(query)).tolist()
    rows = store.execute(*cypher.nearest_chunks(query, 2, dialect=store.name)).records()
    assert [r["chunk_id"] for r in rows] == ["a1", "a0"]
    for r in rows:
        assert r["similarity"] == pytest.approx(float(np.dot(query, batch.chunk_vectors[r["chunk_id"]])), abs=1e-4)
        assert r["doc_id"] == "doc-a" and r["path"] == "/data/a.txt" and r["text"]
    assert store.execute("MATCH (c:Chunk) WHERE c.embedding IS NOT NULL RETURN count(c)").rows[0][0] == 2
    # Deleted, then built again (the same chunk ids): served again, the deleted copies nowhere
    delete_document(store, "doc-a")
    assert store.execute(*cypher.nearest_chunks(query, 2, dialect=store.name)).rows == []
    write(batch, store)
    assert [r["chunk_id"] for r in store.execute(*cypher.nearest_chunks(query, 2, dialect=store.name)).records()] == ["a1", "a0"]
