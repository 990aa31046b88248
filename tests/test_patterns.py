"""Place chains (``kgpipe.ingest.patterns``): facts a sentence states by writing places one after the other."""

from __future__ import annotations

import pytest

from kgpipe.ingest.patterns import EXTRACTOR, LIFE_EXTRACTOR, chain_triples, life_dates, pattern_triples, place_chains
from kgpipe.ontology import load_ontology
from kgpipe.records import GENERIC_TYPE, Chunk, Provenance, Triple


@pytest.mark.parametrize(("text", "pairs"), [
    ("The hotel stands in Rotterdam in the Netherlands.", [("Rotterdam", "Netherlands")]),
    ("The school is based in Leeds, England.", [("Leeds", "England")]),
    ("The reserve lies in Kaski District, Gandaki Province, Nepal.",
     [("Kaski District", "Gandaki Province"), ("Gandaki Province", "Nepal"), ("Kaski District", "Nepal")]),
    ("The station is on Ross Island in McMurdo Sound, Antarctica.",
     [("Ross Island", "McMurdo Sound"), ("McMurdo Sound", "Antarctica"), ("Ross Island", "Antarctica")]),
])  # fmt: skip
def test_a_chain_of_places_states_where_each_is(text: str, pairs: list[tuple[str, str]]) -> None:
    assert place_chains(text) == pairs


@pytest.mark.parametrize("text", [
    "The band toured Spain, Hungary, Italy and many other countries.",  # countries: a list, not a chain
    "The species is found in Ontario, Quebec and Manitoba.",  # a list ending in "and"
    "Marie Curie met Pierre Curie in Paris in 1894.",  # a person is in no place by being written before it
    "Apple, Microsoft and IBM compete in Europe.",
    "Germany, Austria and Switzerland share the lake.",
])  # fmt: skip
def test_lists_persons_and_dates_make_no_chain(text: str) -> None:
    assert place_chains(text) == []


def _chunk(text: str) -> Chunk:
    return Chunk("c1", "d1", 0, text, 0, len(text))


def test_a_chain_replaces_a_models_wrong_relation_on_the_same_names_and_keeps_containment() -> None:
    chunk = _chunk("The park is a wildlife site in Lahore District, Punjab, Pakistan.")
    prov = Provenance("d1", "c1", "model", "v", (0, len(chunk.text)))
    model = [Triple("Lahore District", "born in", "Pakistan", GENERIC_TYPE, GENERIC_TYPE, 1.0, prov),
             Triple("Punjab", "located in", "Pakistan", GENERIC_TYPE, GENERIC_TYPE, 1.0, prov)]  # fmt: skip
    out = chain_triples([chunk], model, load_ontology("general"))
    facts = {(t.head, t.relation, t.tail): t.provenance.extractor for t in out}  # type: ignore[union-attr]
    assert facts == {("Punjab", "located in", "Pakistan"): "model",  # the model's own line stays, once
                     ("Lahore District", "located in", "Punjab"): EXTRACTOR,
                     ("Lahore District", "located in", "Pakistan"): EXTRACTOR}  # fmt: skip


def test_no_chain_facts_under_an_ontology_without_located_in() -> None:
    chunk = _chunk("The lab is in Leeds, England.")
    assert chain_triples([chunk], [], load_ontology("scierc")) == []
    assert [(t.head, t.relation, t.tail) for t in chain_triples([chunk], [], None)] == [("Leeds", "located in", "England")]


@pytest.mark.parametrize(("text", "facts"), [
    ("Harald Kaas (19 May 1868 – 5 December 1953) was a Norwegian architect.",
     [("Harald Kaas", "date of birth", "19 May 1868"), ("Harald Kaas", "date of death", "5 December 1953")]),
    ("Chuck Compton (born January 13, 1965) is an American football player.",
     [("Chuck Compton", "date of birth", "January 13, 1965")]),
    ("Jane Austen (1775 – 1817) was an English novelist.",
     [("Jane Austen", "date of birth", "1775"), ("Jane Austen", "date of death", "1817")]),
    ("Apple (founded 1976) is a company.", []),  # no person
    ("The film Vertigo (1958) is a thriller.", []),
])  # fmt: skip
def test_life_dates_in_parentheses_after_a_persons_name(text: str, facts: list[tuple[str, str, str]]) -> None:
    assert life_dates(text) == facts


def test_life_dates_replace_the_models_misread_date_lines() -> None:
    chunk = _chunk("Harald Kaas (19 May 1868 – 5 December 1953) was a Norwegian architect.")
    prov = Provenance("d1", "c1", "model", "v", (0, len(chunk.text)))
    model = [Triple("Harald Kaas", "date of death", "19 May 1868", GENERIC_TYPE, GENERIC_TYPE, 1.0, prov),
             Triple("Harald Kaas", "date of death", "1953", GENERIC_TYPE, GENERIC_TYPE, 1.0, prov),
             Triple("Harald Kaas", "citizen of", "Norway", GENERIC_TYPE, GENERIC_TYPE, 1.0, prov)]  # fmt: skip
    out = pattern_triples([chunk], model, load_ontology("general"))
    assert {(t.head, t.relation, t.tail): t.provenance.extractor for t in out} == {  # type: ignore[union-attr]
        ("Harald Kaas", "citizen of", "Norway"): "model",
        ("Harald Kaas", "date of birth", "19 May 1868"): LIFE_EXTRACTOR,
        ("Harald Kaas", "date of death", "5 December 1953"): LIFE_EXTRACTOR}  # fmt: skip
