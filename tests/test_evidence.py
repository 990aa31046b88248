"""What a grounded line needs from its text: two things, not a name and a form of it, and a word for its relation
(``kg:cue`` in the general ontology)."""

from __future__ import annotations

import pytest

from kgpipe.ingest.evidence import names_one_thing, said, supported
from kgpipe.ontology import load_ontology
from kgpipe.records import GENERIC_TYPE, Chunk, Provenance, Triple


@pytest.mark.parametrize(("head", "tail", "one"), [
    ("Get Dumb", "Dumb", True),  # the tail is a part of the head's name
    ("Jensen", "Cecil Jensen", True),  # a longer form of the head's name
    ("S. M. Pandit", "Dr. S. M. Pandit", True),
    ("Sourabaya", "Mount Sourabaya", True),
    ("Mexico City", "Mexico", False),  # a place word added: another place
    ("New York City", "New York", False),
    ("IBM", "IBM Z", False),  # the name goes on: another thing
    ("Red Hat", "Red Hat Enterprise Linux", False),
    ("Marie Curie", "Pierre Curie", False),
])
def test_a_line_between_a_name_and_a_part_or_longer_form_of_it_states_nothing(head: str, tail: str, one: bool) -> None:
    assert names_one_thing(head, tail) is one


def test_a_cue_is_a_word_a_word_beginning_or_words_in_a_row() -> None:
    assert said("The club was founded in 1877.", ["found*"])
    assert said("The final took place in Paris.", ["took place"])
    assert said("She married him.", ["marri*"])
    assert not said("He played 621 games for the club.", ["son", "took place"])  # "song" is not "son"
    assert not said("Wrestling was his sport.", ["wrote"])
    assert said("Anything at all.", [])


def test_the_general_ontology_gives_cues_to_worded_relations_and_none_to_those_stated_by_form() -> None:
    relations = {r.label: r for r in load_ontology("general").relations}
    assert "award*" in relations["won"].cues and "found*" in relations["founded in"].cues
    assert not relations["located in"].cues and not relations["date of birth"].cues and not relations["born in"].cues


def test_lines_their_sentence_does_not_support_are_dropped() -> None:
    text = ("Yana Rattigan was born in Lviv, Ukrainian SSR. She won gold at the 2014 Commonwealth Games. "
            "The plant has 320 MW and opened in 1978.")
    chunk = Chunk("c1", "d1", 0, text, 0, len(text))
    prov = Provenance("d1", "c1", "test", "v", (0, len(text)))

    def line(head: str, relation: str, tail: str) -> Triple:
        return Triple(head, relation, tail, GENERIC_TYPE, GENERIC_TYPE, 1.0, prov)

    kept = supported([
        line("Yana Rattigan", "won", "Ukrainian SSR"),  # its sentence says no word for winning
        line("Yana Rattigan", "won", "2014 Commonwealth Games"),  # "won"
        line("Yana Rattigan", "born in", "Lviv"),  # no cues: not checked
        line("Lviv", "located in", "Ukrainian SSR"),
        line("plant", "founded in", "1978"),  # "opened"
        line("Rattigan", "won", "Yana Rattigan"),  # one name twice
        line("Yana Rattigan", "won", "a medal nobody names"),  # no sentence names the tail: not checked
    ], [chunk], load_ontology("general"))
    assert [(t.relation, t.tail) for t in kept] == [
        ("won", "2014 Commonwealth Games"), ("born in", "Lviv"), ("located in", "Ukrainian SSR"),
        ("founded in", "1978"), ("won", "a medal nobody names"),
    ]
    assert supported(kept, [chunk], None) == kept  # without an ontology only the one-name check applies


def test_a_line_takes_the_relation_its_sentence_says_when_the_kinds_allow_it() -> None:
    text = "Marie Curie (born 7 November 1867) was a physicist. Pierre Curie studied magnetism. Sigchos Canton has Sigchos."
    chunk = Chunk("c1", "d1", 0, text, 0, len(text))
    prov = Provenance("d1", "c1", "test", "v", (0, len(text)))
    lines = [Triple(h, r, t, GENERIC_TYPE, GENERIC_TYPE, 1.0, prov) for h, r, t in [
        ("Marie Curie", "founded in", "7 November 1867"),  # "born": the words of date of birth, a relation without cues
        ("Pierre Curie", "discovered", "magnetism"),  # "studied": a cue of field of work
        ("Sigchos Canton", "located in", "Sigchos"),  # a division named after its seat: two places
    ]]
    kept = supported(lines, [chunk], load_ontology("general"))
    assert [t.relation for t in kept] == ["date of birth", "field of work", "located in"]
