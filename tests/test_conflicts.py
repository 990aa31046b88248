"""Functional relations: conflicting values are marked by confidence then support, never deleted."""

from __future__ import annotations

from kgpipe.ingest.write import write
from kgpipe.ontology import load_ontology
from kgpipe.records import Document, Entity, Fact, GraphBatch
from kgpipe.trust.conflicts import functional_types, resolve_conflicts


def _doc(i: str) -> Document:
    return Document(id=i * 64, path=f"/d/{i}.txt", title=i, text="x", sha256=i * 64)


def _facts(store, rel_type: str) -> dict[tuple[str, str], object]:
    rows = store.execute(f"MATCH (h:Entity)-[r:{rel_type}]->(t:Entity) RETURN h.id, t.id, r.conflict").rows
    return {(h, t): c for h, t, c in rows}


def test_declared_functional_relation_marks_losers_by_confidence_then_support(store):
    docs = [_doc(c) for c in "abc"]
    ents = [Entity(i, n) for i, n in [("mc", "Marie Curie"), ("wa", "Warsaw"), ("pa", "Paris"), ("po", "Poland"), ("fr", "France")]]
    batch = GraphBatch(
        documents=docs,
        entities=ents,
        facts=[
            Fact("mc", "born in", "wa", 0.9, (), (docs[0].id,), "m"),
            Fact("mc", "born in", "pa", 0.9, (), (docs[1].id, docs[2].id), "m"),  # same confidence, more support
            Fact("mc", "citizen of", "po", 0.8, (), (docs[0].id,), "m"),
            Fact("mc", "citizen of", "fr", 0.7, (), (docs[1].id,), "m"),  # not functional: no marks
        ],
    )
    write(batch, store)
    counts = resolve_conflicts(store, load_ontology("general"), learn=False)
    assert counts["relations"] == {"BORN_IN": "declared"}
    assert counts["heads_in_conflict"] == 1 and counts["facts_marked_conflict"] == 1
    assert _facts(store, "BORN_IN") == {("mc", "pa"): False, ("mc", "wa"): True}
    assert set(_facts(store, "CITIZEN_OF").values()) == {None}
    # Idempotent, and nothing was deleted.
    assert resolve_conflicts(store, load_ontology("general"), learn=False)["facts_marked_conflict"] == 1
    assert len(_facts(store, "BORN_IN")) == 2

    # New evidence with a higher confidence flips the winner.
    write(GraphBatch(facts=[Fact("mc", "born in", "wa", 0.99, (), (docs[2].id,), "m")]), store)
    resolve_conflicts(store, load_ontology("general"), learn=False)
    assert _facts(store, "BORN_IN") == {("mc", "wa"): False, ("mc", "pa"): True}


def test_functional_relation_learned_from_the_data(store):
    doc = _doc("d")
    people = [Entity(f"p{i}", f"Person {i}") for i in range(10)]
    years = [Entity(f"y{i}", str(1900 + i)) for i in range(3)]
    facts = [Fact(f"p{i}", "year of birth", f"y{i % 2}", 0.8, (), (doc.id,), "m") for i in range(10)]
    facts.append(Fact("p0", "year of birth", "y2", 0.5, (), (doc.id,), "m"))  # 9 of 10 heads single-valued
    facts += [Fact("p0", "knows", f"p{i}", 0.8, (), (doc.id,), "m") for i in range(1, 4)]
    write(GraphBatch(documents=[doc], entities=people + years, facts=facts), store)
    assert functional_types(store, None, min_heads=5, ratio=0.9) == {"YEAR_OF_BIRTH": "learned"}
    counts = resolve_conflicts(store, None, min_heads=5, ratio=0.9)
    assert counts["learned"] == 1 and counts["facts_marked_conflict"] == 1
    assert _facts(store, "YEAR_OF_BIRTH")[("p0", "y2")] is True
    assert _facts(store, "YEAR_OF_BIRTH")[("p0", "y0")] is False
    assert functional_types(store, None, min_heads=20) == {}
