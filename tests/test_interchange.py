"""Import and export: hostile names stored literally, re-import idempotent, every export format readable."""

from __future__ import annotations

import io
import json

import pytest

from kgpipe.api import query
from kgpipe.errors import DataError, UnsafeQuery
from kgpipe.ingest.interchange import export, import_aliases, import_triples
from kgpipe.ingest.write import stats

HOSTILE = [
    ('O\'Brien "the" `boss`', "works\nfor", "ACME {corp}"),
    ("n}) DETACH DELETE n //", "MATCH (x) DELETE x", "RETURN 1; CREATE (y)"),
    ("Ünïcødé ∑", "`]->(m) SET m.x = 1 //", "tab\tinside"),
    ("plain", "CALL db.labels()", "back\\slash"),
]


def _escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


@pytest.fixture
def hostile_tsv(tmp_path):
    path = tmp_path / "hostile.tsv"
    lines = ["# a comment", *("\t".join(_escape(x) for x in t) for t in HOSTILE), "only\ttwo"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _facts(settings, store):
    rows = query(
        "MATCH (h:Entity)-[r]->(t:Entity) RETURN h.name, r.label, t.name, type(r) ORDER BY h.name", settings=settings, store=store
    ).rows
    return {(h, r, t) for h, r, t, _ in rows}, {ty for *_, ty in rows}


def test_hostile_import_is_stored_literally_and_idempotent(settings, store, hostile_tsv):
    report = import_triples(hostile_tsv, settings=settings, store=store)
    assert report["triples"] == len(HOSTILE) and len(report["problems"]) == 1  # the two-column line
    facts, types = _facts(settings, store)
    assert facts == set(HOSTILE)
    assert all(t.replace("_", "").isalnum() and t.isupper() for t in types), types
    counts = stats(store)
    assert counts == {**counts, "documents": 1, "chunks": 0, "facts": len(HOSTILE)}
    again = import_triples(hostile_tsv, settings=settings, store=store)
    assert again["unchanged"] and stats(store) == counts


def test_writing_queries_refused_without_write(settings, store, hostile_tsv):
    import_triples(hostile_tsv, settings=settings, store=store)
    before = stats(store)
    for bad in ["MATCH (n) DETACH DELETE n", "CALL db.clearQueryCache()", "MATCH (n) /* x */ SET n.x = 1", "CREATE (n:X)"]:
        with pytest.raises(UnsafeQuery):
            query(bad, settings=settings, store=store)
    assert stats(store) == before
    assert query("MATCH (n) RETURN count(n)", settings=settings, store=store).rows[0][0] > 0


def test_exports_are_readable_and_tsv_round_trips(settings, store, hostile_tsv, tmp_path):
    import networkx as nx
    import rdflib

    import_triples(hostile_tsv, settings=settings, store=store)
    out = {}
    for fmt in ("tsv", "ttl", "jsonld", "graphml"):
        buf = io.StringIO()
        assert export(fmt, buf, settings=settings, store=store) == len(HOSTILE)
        out[fmt] = buf.getvalue()
    assert len(rdflib.Graph().parse(data=out["ttl"], format="turtle")) > 0
    json.loads(out["jsonld"])
    g = nx.read_graphml(io.BytesIO(out["graphml"].encode()))
    assert g.number_of_edges() == len(HOSTILE)
    # TSV and Turtle exports import back into an empty graph as the same facts
    for fmt, name in (("tsv", "back.tsv"), ("ttl", "back.ttl")):
        other = settings.replace(graph=settings.graph + "_" + fmt)
        (tmp_path / name).write_text(out[fmt], encoding="utf-8")
        import_triples(tmp_path / name, settings=other)
        assert _facts(other, None)[0] == set(HOSTILE)
        query("MATCH (n) DETACH DELETE n", write=True, settings=other)


def test_bad_import_files(settings, store, tmp_path):
    empty = tmp_path / "empty.tsv"
    empty.write_text("# nothing\n")
    with pytest.raises(DataError, match="no triples"):
        import_triples(empty, settings=settings, store=store)
    weird = tmp_path / "x.weird"
    weird.write_text("a")
    with pytest.raises(DataError, match="format"):
        import_triples(weird, settings=settings, store=store)
    broken = tmp_path / "broken.ttl"
    broken.write_text("<a> <b> .")
    with pytest.raises(DataError, match="turtle"):
        import_triples(broken, settings=settings, store=store)


def test_imported_names_attach_to_existing_entities_by_name_or_alias(settings, store, import_kb):
    from kgpipe.stores import cypher

    existing = [
        {"id": "e-curie", "name": "Marie Curie", "type": "Person", "aliases": ["Marie Skłodowska"]},
        {"id": "e-apple-co", "name": "Apple", "type": "Organization", "aliases": []},
        {"id": "e-apple-fruit", "name": "apple", "type": "Fruit", "aliases": []},
    ]
    for text, params in cypher.upsert_entities(existing):
        store.execute(text, params, write=True)
    import_kb([("marie sklodowska", "friend of", "Albert Einstein"), ("MARIE CURIE", "born in", "Warsaw"),
               ("APPLE", "sold in", "Warsaw")])  # fmt: skip
    rows = query(
        "MATCH (e:Entity) RETURN e.id, e.name, e.type, e.aliases ORDER BY e.id", settings=settings, store=store
    ).rows
    by_id = {r[0]: r[1:] for r in rows}
    # A name or alias match reaches the existing entity, which keeps its name and type; the spelling is an alias.
    assert by_id["e-curie"][:2] == ["Marie Curie", "Person"]
    assert set(by_id["e-curie"][2]) == {"Marie Skłodowska", "marie sklodowska", "MARIE CURIE"}
    facts, _ = _facts(settings, store)
    assert ("Marie Curie", "friend of", "Albert Einstein") in facts and ("Marie Curie", "born in", "Warsaw") in facts
    # "APPLE" names two entities (homonyms): neither is guessed, a new entity holds the fact.
    assert by_id["e-apple-co"][0] == "Apple" and by_id["e-apple-fruit"][0] == "apple"
    assert ("APPLE", "sold in", "Warsaw") in facts
    assert len(rows) == 3 + 3  # Albert Einstein, Warsaw, APPLE


def test_graphml_export_of_names_with_control_characters(settings, store):
    """The store keeps C0 controls (kgpipe.stores.clean); XML 1.0 cannot hold them, so GraphML gets U+FFFD there."""
    import networkx as nx

    from kgpipe.ingest.write import write
    from kgpipe.records import Chunk, Document, Entity, Fact, GraphBatch, Mention

    doc = Document("d1", "/x.txt", "t", "x", "s")
    entities = [Entity("a", "Ctl\x01\x07Name\u202e", "Person"), Entity("b", "Tab\tNul\x00", "Per\x1bson")]
    fact = Fact("a", "knows\x0b", "b", 0.5, ("c",), ("d1",), "m\x1f")
    write(GraphBatch([doc], [Chunk("c", "d1", 0, "x", 0, 1)], entities, [Mention("a", "c")], [fact]), store)
    buf = io.StringIO()
    export("graphml", buf, settings=settings, store=store)
    g = nx.read_graphml(io.BytesIO(buf.getvalue().encode()))
    assert {g.nodes[n]["name"] for n in g} == {"Ctl\ufffd\ufffdName\u202e", "Tab\tNul\ufffd"}
    assert [d["label"] for _, _, d in g.edges(data=True)] == ["knows\ufffd"]
    buf = io.StringIO()
    export("tsv", buf, settings=settings, store=store)
    assert "Ctl\x01\x07Name\u202e\tknows\x0b\tTab\\tNul\ufffd" in buf.getvalue()  # TSV keeps them


def test_import_aliases_joins_existing_entities(settings, store, tmp_path):
    from kgpipe.fusion.resolve import EntityIndex, MentionIn
    from kgpipe.stores import cypher

    existing = [
        {"id": "e-bj", "name": "Beijing", "type": "City", "aliases": ["Beijing City"]},
        {"id": "e-nl", "name": "Netherlands", "type": "Country", "aliases": []},
        {"id": "e-hl", "name": "Holland", "type": "Region", "aliases": []},
    ]
    for text, params in cypher.upsert_entities(existing):
        store.execute(text, params, write=True)
    path = tmp_path / "aliases.tsv"
    path.write_text("Beijing\tPeking\tPeiping\nNetherlands\tHolland\nAtlantis\tAtlantida\n", encoding="utf-8")
    report = import_aliases(path, settings=settings, store=store)
    assert report["entities_updated"] == 1 and report["aliases_added"] == 2 and report["unmatched"] == 1
    assert report["several"] == [["Netherlands", "Holland"]]  # two entities already: reported, not merged
    rows = {r[0]: r[1] for r in query("MATCH (e:Entity) RETURN e.id, e.aliases", settings=settings, store=store).rows}
    assert set(rows["e-bj"]) == {"Beijing City", "Peking", "Peiping"} and not rows["e-nl"] and not rows["e-hl"]
    # A later build's mentions reach the entity through its new aliases.
    assert EntityIndex.from_store(store).resolve([MentionIn("Peking", "City")], ner=False).ids == ["e-bj"]
    assert import_aliases(path, settings=settings, store=store)["aliases_added"] == 0  # idempotent
