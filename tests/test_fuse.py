"""Entity identity by normalised name, one batch per document, merged provenance."""

from kgpipe.fuse import entity_id, fuse, normalise_name
from kgpipe.records import Chunk, Document, Provenance, Triple


def test_normalise_name():
    assert normalise_name("The  Louvre.") == "louvre"
    assert normalise_name("Marie Skłodowska-Curie") == normalise_name("marie sklodowska curie")
    assert normalise_name("AT&T") == "at&t"
    assert entity_id("Paris") == entity_id(" paris ") != entity_id("Paris, Texas")


def _doc(i: str) -> Document:
    return Document(id=i * 64, path=f"/d/{i}.txt", title=i, text="x", sha256=i * 64)


def test_fuse_groups_by_document_and_merges_repeats():
    d1, d2 = _doc("a"), _doc("b")
    c1 = Chunk("c1", d1.id, 0, "x", 0, 1)
    c2 = Chunk("c2", d1.id, 1, "x", 1, 2)
    c3 = Chunk("c3", d2.id, 0, "x", 0, 1)

    def t(h, r, tl, chunk, conf=1.0, ht="Thing"):
        return Triple(h, r, tl, ht, "Thing", conf, Provenance(chunk.doc_id, chunk.id, "m", "extract.v1"))

    triples = [
        t("Marie Curie", "born in", "Warsaw", c1, 0.4),
        t("marie curie", "Born in", "Warsaw.", c2, 0.9, ht="Person"),
        t("Warsaw", "capital of", "Poland", c3),
    ]
    batches = fuse(triples, [d1, d2], [c1, c2, c3])
    b1, b2 = batches[d1.id], batches[d2.id]
    assert [c.id for c in b1.chunks] == ["c1", "c2"]
    (fact,) = b1.facts
    assert fact.chunk_ids == ("c1", "c2") and fact.doc_ids == (d1.id,) and fact.confidence == 0.9
    marie = next(e for e in b1.entities if e.id == entity_id("Marie Curie"))
    assert marie.name == "Marie Curie" and marie.aliases == ("marie curie",) and marie.type == "Person"
    assert {(m.entity_id, m.chunk_id) for m in b1.mentions} >= {(entity_id("Warsaw"), "c1"), (entity_id("Warsaw"), "c2")}
    assert [f.relation for f in b2.facts] == ["capital of"]
