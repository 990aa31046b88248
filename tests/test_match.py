"""Pair scoring (``kgpipe.fusion.match``): each rule and veto of the module's table, on nodes built by hand.

No model: NER types are set as ``soft`` and name vectors are given as plain unit vectors.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from kgpipe.fusion.match import (
    EMBED_REVIEW,
    MERGE_AT,
    REVIEW_AT,
    SHORT_RULES,
    Node,
    explain_pair,
    is_person,
    score_pair,
)
from kgpipe.fusion.names import analyse
from kgpipe.fusion.person_names import OTHER_SURNAME
from kgpipe.records import GENERIC_TYPE


def node(name: str, idx: int = 0, *, declared: str | None = None, kind: str | None = None, soft: str | None = None) -> Node:
    """A node as the resolver builds one: declared class from the name's legal form or title unless given."""
    n = Node(idx, analyse(name), declared or analyse(name).implied_type, kind)
    n.soft = soft
    n.person = is_person(n)
    return n


def score(a: str, b: str, **kw: object) -> float | None:
    return score_pair(node(a, 0, **kw), node(b, 1, **kw))  # type: ignore[arg-type]


def test_thresholds_order_the_bands():
    assert 0 < REVIEW_AT < MERGE_AT <= 1 and REVIEW_AT <= 0.65 < MERGE_AT  # the LLM band holds the 0.65 rules


@pytest.mark.parametrize(
    "a, b, expected",
    [
        ("Apple Inc.", "Apple", 1.0),  # same core name: legal form dropped
        ("Dr. Marie Curie", "Marie Curie", 1.0),  # same core name: title dropped
        ("University of Paris", "Paris University", 0.95),  # same words in another order
        ("IBM", "International Business Machines", 0.9),  # acronym of the other
        ("Marie Curie", "Marie Skłodowska-Curie", 0.9),  # person: first name and a shared surname
        ("J. S. Bach", "Johann Sebastian Bach", 0.9),  # person: initials
        ("Tchaikovsky", "Tchaikowsky", 0.85),  # spelling variant (ratio 10/11)
        ("RedHat", "Red Hat", 0.85),  # only spacing differs
        ("Bombay", "Bombai", 0.65),  # near spelling (ratio 5/6): the LLM band, never a merge
    ],
)
def test_score_pair_rules(a: str, b: str, expected: float):
    assert score(a, b) == pytest.approx(expected)
    assert score(b, a) == pytest.approx(expected)  # symmetric


def test_plural_of_a_common_noun_but_not_of_a_name():
    assert score("apples", "apple", kind="common") == pytest.approx(0.9)
    # "Apples" the band is not "Apple" the company: only the near-spelling band, for an adjudicator
    assert score("Apples", "Apple", kind="named") == pytest.approx(0.65)


def test_short_form_unique_in_context():
    jordan, michael = node("Jordan", 0), node("Michael Jordan", 1)
    assert score_pair(jordan, michael) == 0.0  # a one-word name is no evidence on its own
    jordan.short_of = frozenset({michael.idx})  # what the resolver sets when "Jordan" may stand for "Michael Jordan"
    assert score_pair(jordan, michael) == pytest.approx(0.85)
    assert score_pair(michael, jordan) == pytest.approx(0.85)


def test_vetoes():
    assert score("Apple", "Apple", declared=None) == 1.0
    assert score_pair(node("Apple", 0, declared="ORG"), node("apple", 1, declared="LIVING")) is None  # coarse types differ
    assert score_pair(node("Apple", 0, kind="named"), node("apple", 1, kind="common")) is None  # proper vs common
    assert score("Windows 10", "Windows 11") is None  # different numbers
    assert score("World War II", "World War") == 0.0  # a number on one side only: no evidence, no veto
    assert score("Pierre Curie", "Marie Curie") is None  # different first names
    assert score("Cable News Network", "convolutional neural network") is None  # same initials: no chaining


def test_same_first_name_other_surname_is_a_liftable_veto():
    assert score("Marie Curie", "Marie Skłodowska") == OTHER_SURNAME
    assert OTHER_SURNAME < 0  # cluster reads a negative score as "bridgeable"
    assert score("Diego Riri-Salinwo", "Diego Selkaxe-Riri") == OTHER_SURNAME  # neither's surnames cover the other's
    assert score("Diego Riri", "Diego Riri-Salinwo") == pytest.approx(0.9)


def test_typo_in_a_surname_of_a_person():
    assert score("Piotr Tchaikovsky", "Piotr Tchaikowsky") == pytest.approx(0.85)  # surname ratio 10/11
    assert score("Marie Nowak", "Marie Nowek") == pytest.approx(0.65)  # 4/5, exactly the floor: the LLM band
    assert score("Marie Kowalska", "Marie Kowalksa") == OTHER_SURNAME  # 6/8: another surname


def test_containment_and_short_words_are_never_evidence():
    assert score("Red Hat", "Red Hat Enterprise Linux") == 0.0
    assert score("Iran", "Iraq") == 0.0  # one letter in a short word is another name
    # as places: no typo in "rila"/"rima", and two full names with one set of initials are kept apart
    assert score("Saint Rila", "Saint Rima", declared="PLACE") is None
    assert score("Saint Rila", "Saint Rima") == OTHER_SURNAME  # untyped, two capitalised words read as a person


def test_acronym_needs_an_acronym_spelling():
    assert score("Ibm", "International Business Machines") == 0.0  # "Ibm" is not written as an acronym
    assert score("IBM", "International Business Machines") == pytest.approx(0.9)
    # an acronym does not stand for a person typed as something else
    assert score_pair(node("MC", 0, declared="ORG"), node("Marie Curie", 1)) == 0.0


def test_types_adjust_a_score_without_vetoing():
    assert score_pair(node("Red Hat", 0, soft="ORG"), node("Red Hat", 1, soft="PERSON")) == pytest.approx(0.9)
    assert score_pair(node("Red Hat", 0, soft="ORG"), node("Red Hat", 1, soft="ORG")) == pytest.approx(1.02)
    assert score_pair(node("Red Hat", 0, soft="ORG"), node("Red Hat", 1)) == 1.0


def test_embedding_proposes_but_never_merges():
    def with_vector(name: str, idx: int, v: list[float]) -> Node:
        n = node(name, idx)
        n.vector = np.asarray(v, dtype=np.float32) / np.linalg.norm(v)
        return n

    cos = 0.8
    munich = with_vector("Munich", 0, [1.0, 0.0])
    muenchen = with_vector("München", 1, [cos, (1 - cos**2) ** 0.5])
    assert cos >= EMBED_REVIEW and score_pair(munich, muenchen) == pytest.approx(0.65)
    far = with_vector("Vienna", 2, [0.5, (1 - 0.25) ** 0.5])
    assert score_pair(munich, far) == 0.0  # cosine 0.5
    # a shared word means the names are compared by their words, not their vectors
    a, b = with_vector("Munich Airport", 3, [1.0, 0.0]), with_vector("Munich Station", 4, [1.0, 0.0])
    a.declared = b.declared = "PLACE"
    a.person = b.person = False
    assert score_pair(a, b) == 0.0  # cosine 1.0, but no evidence


def test_is_person():
    assert is_person(node("Marie Curie")) and is_person(node("Johann Sebastian Bach"))
    assert not is_person(node("Cable News Network"))  # names a kind of thing
    assert not is_person(node("Kane Motors"))
    assert not is_person(node("marie curie"))  # not capitalised
    assert not is_person(node("Henry Ford II"))  # a number
    assert not is_person(node("Madonna"))  # one word: no first name and surname to compare
    assert not is_person(node("Marie Curie", kind="common"))
    assert is_person(node("Kane Motors", declared="PERSON"))  # a declared type wins
    assert not is_person(node("Marie Curie", declared="ORG"))
    assert is_person(node("Cable News Network", soft="PERSON")) and not is_person(node("Marie Curie", soft="ORG"))


def test_as_mention_type_preference():
    n = node("Apple Inc.")
    assert n.as_mention().type == "ORG"  # the declared class, from the legal form
    n.types = Counter({"Company": 2, "Brand": 1})
    assert n.as_mention().type == "Company"
    bare = node("Zorblax")
    assert bare.as_mention().type == GENERIC_TYPE
    bare.soft = "PLACE"
    assert bare.as_mention().type == "PLACE"
    bare.context = "Zorblax is a town."
    assert bare.as_mention().context == "Zorblax is a town." and bare.as_mention().name == "Zorblax"


def typed(name: str, idx: int, *types: str) -> Node:
    """A node whose mentions were declared with these specific types ("River", "City")."""
    from kgpipe.fusion.kinds import coarse_type

    n = node(name, idx, declared=coarse_type(types[0]) if types else None)
    n.types.update(types)
    return n


@pytest.mark.parametrize(
    "a, b, rule",
    [
        ("Second World War", "World War II", "same words"),  # ordinal word / roman numeral
        ("World War 2", "World War II", "same words"),  # digits / roman numeral
        ("type one diabetes", "Type I diabetes", "same words"),  # number word / roman numeral
        ("Louis the Fourteenth", "Louis XIV", "same words"),  # ordinal word after an article
        ("Super Bowl LVII", "Super Bowl 57", "same words"),  # roman numeral up to 49 and beyond ("LVII")
        ("U N Security Council", "UN Security Council", "same words"),  # spaced initials
        ("WWII", "World War II", "acronym"),  # an acronym ending in a roman numeral
        ("WW2", "Second World War", "acronym"),  # an acronym with a digit ...
        ("G7", "Group of Seven", "acronym"),  # ... that stands for a number word
        ("OECD", "Organisation for Economic Co-operation and Development", "acronym"),  # a hyphenated word: one initial
        ("Springfield, Illinois", "Springfield", "qualifier"),  # trailing qualifier after a comma
        ("Springfield (Illinois)", "Springfield", "qualifier"),  # ... or in parentheses
        ("the ResNet model", "ResNet", "head noun"),  # a descriptive head noun
        ("Teddy Roosevelt", "Theodore Roosevelt", "person name"),  # a given-name variant from the nicknames package
        ("Bill Clinton", "William Clinton", "person name"),
    ],
)
def test_name_variant_classes_join(a: str, b: str, rule: str):
    for x, y in ((a, b), (b, a)):
        found, why = explain_pair(node(x, 0), node(y, 1))
        assert why == rule and found is not None and found >= MERGE_AT, (x, y, found, why)


@pytest.mark.parametrize(
    "a, b",
    [
        ("World War I", "Second World War"),  # the numbers the variants write differ: still a veto
        ("Super Bowl LVII", "Super Bowl LIV"),
        ("Type 1 diabetes", "type two diabetes"),
        ("Springfield, Illinois", "Springfield (Massachusetts)"),  # same name, different qualifiers
        ("Pope John Paul I", "John Paul II"),
    ],
)
def test_name_variants_keep_different_things_apart(a: str, b: str):
    assert score(a, b) is None and score(b, a) is None


def test_place_head_nouns_need_the_same_kind_of_place():
    assert score_pair(typed("Yangtze River", 0, "River"), typed("Yangtze", 1, "River")) == pytest.approx(0.92)
    assert score_pair(typed("Mount Everest", 0, "Mountain"), typed("Everest", 1, "Mountain")) == pytest.approx(0.92)
    assert score_pair(typed("Hashemite Kingdom of Jordan", 0, "Country"), typed("Jordan", 1, "Country")) == pytest.approx(0.92)
    # A lake is not the city that shares its name, nor is a bare name with no type joined on the head noun alone.
    assert score_pair(typed("Lake Victoria", 0, "Lake"), typed("Victoria", 1, "City")) == 0.0
    assert score_pair(typed("New York State", 0, "State"), typed("New York", 1)) == 0.0


def test_short_name_rules_are_marked_for_the_ambiguity_guard():
    assert {"short form", "qualifier", "head noun"} <= SHORT_RULES
    assert explain_pair(node("Senator Warren", 0), node("Warren", 1)) == (1.0, "same name")  # title + surname


def test_person_name_prefix_is_not_merged_on_the_name_alone():
    person = {"declared": "PERSON"}
    assert score("John Paul", "John Paul Jones", **person) == pytest.approx(0.67)  # review band (types agree: +0.02)
    assert REVIEW_AT <= score("Jean Paul", "Jean Paul Sartre", **person) < MERGE_AT
    # Not a prefix guard case: a double-barrelled surname, a title that goes on with "of", a middle name.
    assert score("Marie Skłodowska", "Marie Skłodowska-Curie", **person) >= MERGE_AT
    assert score("Louis XIV", "Louis XIV of France", **person) >= MERGE_AT
    assert score("Michael Jordan", "Michael Jeffrey Jordan", **person) >= MERGE_AT


def test_facts_lift_a_review_band_match_and_conflicting_facts_lower_a_merge():
    def person(name: str, idx: int, *facts: tuple[str, str]) -> Node:
        n = node(name, idx, declared="PERSON")
        n.facts = set(facts)
        return n

    born = ("born in", "kirkbean")
    assert score_pair(person("John Paul", 0, born), person("John Paul Jones", 1, born)) >= MERGE_AT
    assert score_pair(person("John Paul", 0, born), person("John Paul Jones", 1, ("born in", "rome"))) < REVIEW_AT
    # Different birth dates keep two names apart that would merge on the name.
    assert score_pair(person("Marie Curie", 0, ("born on", "1867")), person("Marie Sklodowska Curie", 1, ("born on", "1934"))) < MERGE_AT
    # A shared fact does not lift an embedding's guess (related names share facts).
    a, b = node("Warsaw", 0), node("Poland", 1)
    a.vector = b.vector = np.array([1.0, 0.0])
    a.facts = b.facts = {("located in", "europe")}
    assert score_pair(a, b) == pytest.approx(0.65)


def test_co_mentioned_names_lift_a_review_band_match_only_across_texts():
    def person(name: str, idx: int, context: int, *around: str) -> Node:
        n = node(name, idx, declared="PERSON")
        n.contexts, n.comentions = {context}, frozenset(around)
        return n

    prefix = score_pair(person("John Paul", 0, 0), person("John Paul Jones", 1, 1))
    assert prefix is not None and REVIEW_AT <= prefix < MERGE_AT
    # Two names co-mentioned in both texts lift it to a merge; one only scores it higher, still in the review band.
    two = person("John Paul", 0, 0, "bonhomme richard", "serapis"), person("John Paul Jones", 1, 1, "serapis", "bonhomme richard")
    assert score_pair(*two) >= MERGE_AT and "shared co-mentions" in explain_pair(*two)[1]
    one = score_pair(person("John Paul", 0, 0, "serapis", "kirkbean"), person("John Paul Jones", 1, 1, "serapis", "rome"))
    assert one is not None and prefix < one < MERGE_AT
    # Read in one text, two names share every co-mention: that is no evidence.
    same_text = person("John Paul", 0, 0, "bonhomme richard", "serapis"), person("John Paul Jones", 1, 0, "bonhomme richard", "serapis")
    assert score_pair(*same_text) == pytest.approx(prefix)
    # Different first names stay a veto whatever the company they keep ("Pierre Curie" / "Marie Curie").
    assert score_pair(person("Pierre Curie", 0, 0, "sorbonne", "radium"), person("Marie Curie", 1, 1, "sorbonne", "radium")) is None


def test_romanised_person_names_merge_and_are_named():
    person = {"declared": "PERSON"}
    a, b = node("Fyodor Dostoevsky", 0, **person), node("Theodore Dostoyevsky", 1, **person)
    s, rule = explain_pair(a, b)
    assert s is not None and s >= MERGE_AT and rule == "person name, romanised"
    s, rule = explain_pair(node("Tschaikowsky", 0, **person), node("Tchaikovsky", 1, **person))
    assert s is not None and s >= MERGE_AT and rule == "surname, romanised"
    assert score("Modest Tchaikovsky", "Pyotr Tchaikovsky", **person) is None  # different first names
    assert score("Petra Kvitova", "Peter Kvitova", **person) is None  # a given name's gender ending
