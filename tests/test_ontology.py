"""The shipped ontologies and the lookups extraction and fusion rely on."""

from __future__ import annotations

from pathlib import Path

import pytest

from kgpipe.errors import DataError
from kgpipe.ontology import Ontology, available_ontologies, load_ontology

GOLD = Path(__file__).resolve().parent.parent / "data" / "sample_gold.tsv"


@pytest.fixture(scope="module")
def general() -> Ontology:
    return load_ontology("general")


@pytest.fixture(scope="module")
def scierc() -> Ontology:
    return load_ontology("scierc")


def test_shipped_ontologies_listed() -> None:
    assert {"general", "scierc"} <= set(available_ontologies())


def test_general_classes_and_hierarchy(general: Ontology) -> None:
    names = {c.name for c in general.classes}
    assert {"Person", "Organization", "Company", "University", "Place", "City", "Country",
            "CreativeWork", "Event", "Concept", "Award", "Date", "Product"} <= names
    assert general.cls("Company").parent == "Organization"  # type: ignore[union-attr]
    assert general.ancestors("City") == ("City", "Place")
    assert general.is_a("university", "organization") and not general.is_a("Person", "Place")
    assert 20 <= len(general.relations) <= 30


def test_general_domain_range(general: Ontology) -> None:
    born = general.relation("born in")
    assert born is not None and born.domain == ("Person",) and born.range == ("Place",)
    won = general.relation("won")
    assert won is not None and set(won.domain) == {"Person", "Organization", "CreativeWork"}  # owl:unionOf
    assert won.range == ("Award",)
    assert general.relation("is a").domain == ()  # type: ignore[union-attr]  # no rdfs:domain: any


def test_functional_and_symmetric_flags(general: Ontology, scierc: Ontology) -> None:
    functional = set(general.functional_relations)
    assert {"born in", "died in", "date of birth", "date of death", "headquartered in", "capital of",
            "founded in"} <= functional
    assert not functional & {"spouse of", "won", "located in", "acquired", "founded by"}
    assert general.relation("spouse of").symmetric  # type: ignore[union-attr]
    assert scierc.functional_relations == ()
    assert scierc.relation("COMPARE").symmetric and not scierc.relation("USED-FOR").symmetric  # type: ignore[union-attr]


def test_scierc_schema(scierc: Ontology) -> None:
    assert {c.name for c in scierc.classes} == {"Task", "Method", "Metric", "Material", "OtherScientificTerm", "Generic"}
    assert {r.label for r in scierc.relations} == {
        "USED-FOR", "FEATURE-OF", "HYPONYM-OF", "PART-OF", "COMPARE", "CONJUNCTION", "EVALUATE-FOR"
    }
    evaluate = scierc.relation("evaluate for")
    assert evaluate is not None and "Metric" in evaluate.domain and "Task" in evaluate.range


def test_allows(general: Ontology, scierc: Ontology) -> None:
    assert general.allows("Person", "born in", "City") is True  # City is a Place
    assert general.allows("person", "BORN_IN", "city") is True
    assert general.allows("Person", "bornIn", "Country") is True
    assert general.allows("City", "born in", "Person") is False
    assert general.allows("Company", "founded by", "Person") is True
    assert general.allows("Person", "founded by", "Company") is False
    assert general.allows("apple", "is a", "Concept") is True  # unconstrained domain
    assert general.allows("Person", "no such relation", "City") is None
    assert general.allows("Thing", "born in", "City") is None  # the ontology cannot tell
    assert general.allows("Company", "headquartered in", "Places") is True  # plural forgiven
    assert scierc.allows("Method", "used-for", "Task") is True
    assert scierc.allows("Task", "EVALUATE-FOR", "Method") is False
    assert scierc.allows("Metric", "evaluate_for", "Method") is True
    assert scierc.allows("Person", "USED-FOR", "Task") is None


def test_normalisers(general: Ontology, scierc: Ontology) -> None:
    assert general.normalise_type("company") == "Company"
    assert general.normalise_type("Corporation") == "Company"  # skos:altLabel
    assert general.normalise_type("cities") == "City"
    assert general.normalise_type("creative work") == "CreativeWork"
    assert general.normalise_type("Spaceship") is None
    assert general.normalise_relation("BORN_IN") == "born in"
    assert general.normalise_relation("bornIn") == "born in"
    assert general.normalise_relation("place of birth") == "born in"
    assert general.normalise_relation("married to") == "spouse of"
    assert general.normalise_relation("likes") is None
    assert scierc.normalise_relation("used for") == "USED-FOR"
    assert scierc.normalise_type("other scientific term") == "OtherScientificTerm"
    assert scierc.normalise_type("dataset") == "Material"


def test_prompt_block(general: Ontology, scierc: Ontology) -> None:
    block = general.prompt_block()
    assert "- born in: Person -> Place" in block
    assert "- won: CreativeWork | Organization | Person -> Award" in block
    assert "Company (Organization)" in block
    assert all(c.name in block for c in general.classes)
    assert len(block.splitlines()) == 2 + len(general.relations)
    assert "- USED-FOR: any -> any" in scierc.prompt_block()


def test_unknown_name_lists_available() -> None:
    with pytest.raises(DataError, match=r"general.*scierc"):
        load_ontology("nonexistent")
    with pytest.raises(DataError):
        load_ontology("/no/such/file.ttl")


def test_any_rdf_format_and_paths(tmp_path: Path, general: Ontology) -> None:
    from rdflib import Graph

    graph = Graph().parse(general.source, format="turtle")
    xml = tmp_path / "general.owl"
    graph.serialize(xml, format="xml")
    reread = load_ontology(xml)
    assert reread.classes == general.classes and reread.relations == general.relations
    assert load_ontology(str(general.source)).relations == general.relations
    assert hash(reread) == hash(reread)


def test_malformed_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.ttl"
    bad.write_text("@prefix : <x#> . :a :b", encoding="utf-8")
    with pytest.raises(DataError, match="not a readable RDF file"):
        load_ontology(bad)
    empty = tmp_path / "empty.ttl"
    empty.write_text("# nothing\n", encoding="utf-8")
    with pytest.raises(DataError, match="no classes"):
        load_ontology(empty)


def test_sample_gold_uses_general_relations(general: Ontology) -> None:
    rows = [line.rstrip("\n").split("\t") for line in GOLD.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")]
    assert len(rows) >= 60 and all(len(r) == 4 for r in rows)
    sources = {p.name for p in (GOLD.parent / "sample").iterdir()}
    for head, relation, tail, source in rows:
        assert general.normalise_relation(relation) == relation, relation
        assert source in sources


def test_individuals_labels_alt_labels_and_same_as_are_entity_aliases(tmp_path: Path) -> None:
    path = tmp_path / "places.ttl"
    path.write_text(
        """@prefix : <http://example.org/> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
:City a owl:Class ; rdfs:label "City" ; skos:altLabel "Town" .
:beijing a :City ; rdfs:label "Beijing" ; skos:altLabel "Peking" .
:peiping skos:prefLabel "Peiping" ; owl:sameAs :beijing .
:nl rdfs:label "Netherlands" ; skos:altLabel "Holland", "The Netherlands" .
:lonely rdfs:label "Nowhere" .
""",
        encoding="utf-8",
    )
    onto = load_ontology(path)
    groups = {frozenset(g) for g in onto.entity_aliases}
    assert groups == {frozenset({"Beijing", "Peking", "Peiping"}), frozenset({"Netherlands", "Holland", "The Netherlands"})}
    assert not any("Town" in g for g in groups)  # a class's synonyms are not an entity's
