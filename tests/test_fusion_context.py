"""Fusion rules of issue 12's second round, on real names run through the resolver (real spaCy NER): definitions in
the text, qualifiers read in context, types no class knows, fathers and sons, leading initials, generic words of
organisations, storms and ships, British and American spellings."""

from __future__ import annotations

import pytest

from kgpipe.fusion.defined import abbreviates, cue
from kgpipe.fusion.match import Node, explain_pair
from kgpipe.fusion.names import analyse
from kgpipe.fusion.person_names import other_generation, person_evidence
from kgpipe.fusion.resolve import EntityIndex, MentionIn


def _ids(*mentions: MentionIn) -> list[str]:
    return EntityIndex().resolve(list(mentions)).ids


def test_a_short_form_in_parentheses_is_defined_as_the_name_before_it():
    assert abbreviates("BSI", "Bundesamt für Sicherheit in der Informationstechnik")  # initials "BfSIdI"
    assert abbreviates("DNA", "deoxyribonucleic acid") and abbreviates("mRNA", "messenger RNA")
    assert not abbreviates("AFP", "Paris") and not abbreviates("Ohio", "Dublin") and not abbreviates("XYZ", "Bonn")
    text = "The Bundesamt für Sicherheit in der Informationstechnik (BSI) warned of attacks. The BSI is based in Bonn."
    ids = _ids(MentionIn("Bundesamt für Sicherheit in der Informationstechnik", "Organization", text),
               MentionIn("BSI", "Organization", text), MentionIn("Bonn", "City", text))  # fmt: skip
    assert ids[0] == ids[1] != ids[2]
    # The same two names in texts that do not define one as the other: nothing joins them.
    ids = _ids(MentionIn("Bundesamt für Sicherheit in der Informationstechnik", "Organization", "It met on Monday."),
               MentionIn("BSI", "Organization", "The BSI said so."))  # fmt: skip
    assert ids[0] != ids[1]
    # A dateline is no definition.
    text = "PARIS (AFP) - Paris hosted the talks."
    assert len(set(_ids(MentionIn("AFP", "Organization", text), MentionIn("Paris", "City", text)))) == 2


def _in_text(text: str, *names: tuple[str, str]) -> list[str]:
    """The ids of ``names`` (name, type) read in one text, with the packaged aliases off (the text alone)."""
    mentions = [MentionIn(name, typ, text) for name, typ in names]
    return EntityIndex(places="", lexicon="").resolve(mentions, ner=False).ids


@pytest.mark.parametrize(
    "text, a, b",
    [
        ("Marilyn Monroe, born Norma Jeane Mortenson, signed with Fox in 1946.",
         ("Marilyn Monroe", "Actor"), ("Norma Jeane Mortenson", "Person")),
        ("Archibald Leach took the name Cary Grant in 1931.", ("Archibald Leach", "Person"), ("Cary Grant", "Actor")),
        ("Best Buy, founded as Sound of Music, opened its first store in St. Paul.",
         ("Best Buy", "Company"), ("Sound of Music", "Company")),
        ("Khujand, once Leninabad, lies on the Syr Darya.", ("Khujand", "City"), ("Leninabad", "City")),
        ("Hellas, or Greece, joined the euro in 2001.", ("Hellas", "Country"), ("Greece", "Country")),
        ("Frank Sinatra, known to his fans as Ol' Blue Eyes, sang with Tommy Dorsey.",
         ("Frank Sinatra", "Person"), ("Ol' Blue Eyes", "Person")),
    ],
)  # fmt: skip
def test_a_text_that_introduces_another_name_joins_the_two(text: str, a: tuple[str, str], b: tuple[str, str]) -> None:
    ids = _in_text(text, a, b)
    assert ids[0] == ids[1]
    plain = EntityIndex(places="", lexicon="").resolve([MentionIn(*a), MentionIn(*b)], ner=False).ids
    assert plain[0] != plain[1]  # the names alone: no rule joins them


def test_alias_cues_need_the_names_they_relate() -> None:
    # A list is no appositive; an active verb's subject is its agent; a comma and a verb end an appositive.
    assert len(set(_in_text("Shops sold Coca-Cola, Sprite, or Fanta.", ("Coca-Cola", "Drink"), ("Sprite", "Drink"),
                            ("Fanta", "Drink")))) == 3  # fmt: skip
    ids = _in_text("In 1924 the Soviet Union renamed Yuzovka Stalino.", ("Soviet Union", "Country"),
                   ("Yuzovka", "City"), ("Stalino", "City"))  # fmt: skip
    assert ids[0] != ids[1]
    ids = _in_text("Dushanbe, the capital of Tajikistan, was called Stalinabad until 1961.", ("Dushanbe", "City"),
                   ("Tajikistan", "Country"), ("Stalinabad", "City"))  # fmt: skip
    assert ids[1] != ids[2]
    ids = _in_text("Microsoft became Apple's partner in 1997.", ("Microsoft", "Company"), ("Apple", "Company"))
    assert ids[0] != ids[1]
    assert cue(", known in Latin as ", ",") and not cue(", known in ", " as")  # "known in Italy as": Italy is no alias
    assert cue(", which was called ", ".") and not cue(" then called the ", ".")


def test_a_qualified_place_joins_a_bare_name_in_another_text_only_when_that_text_names_the_qualifier():
    ids = _ids(
        MentionIn("Paris", "City", "Paris is the capital of France."),
        MentionIn("Paris, Texas", "City", "Paris, Texas, has a replica of the Eiffel Tower."),
        MentionIn("Honolulu", "City", "Honolulu is the largest city of Hawaii."),
        MentionIn("Honolulu, Hawaii", "City", "Barack Obama was born in Honolulu, Hawaii."),
    )
    assert ids[0] != ids[1] and ids[2] == ids[3]
    # In one text the qualifier still joins: "Springfield, Illinois ... Springfield".
    text = "Lincoln practised law in Springfield, Illinois. Springfield became the state capital in 1839."
    ids = _ids(MentionIn("Springfield, Illinois", "City", text), MentionIn("Springfield", "City", text))
    assert ids[0] == ids[1]


def test_one_name_typed_as_a_kind_no_class_knows_and_as_something_else_is_two_things():
    ids = _ids(
        MentionIn("JFK", "Airport", "Flights to JFK were delayed."),
        MentionIn("JFK", "Person", "JFK was elected in 1960."),
        MentionIn("Lusitania", "Ship", "The Lusitania was sunk in 1915."),
        MentionIn("RMS Lusitania", "Ship", "RMS Lusitania sailed from New York."),
        MentionIn("Lusitania", "Place", "Lusitania was a Roman province."),
    )
    assert ids[0] != ids[1]
    assert ids[2] == ids[3] != ids[4]  # a ship's prefix is a head noun; the province is another thing
    # An untyped mention says nothing against either.
    jfk, untyped = EntityIndex().resolve([MentionIn("JFK", "Airport"), MentionIn("JFK", "Thing")]).ids
    assert jfk == untyped


@pytest.mark.parametrize(
    "a, b, why",
    [
        ("George W. Bush", "George H. W. Bush", "other middle names"),
        ("George Walker Bush", "George Herbert Walker Bush", "other middle names"),
        ("Bill Gates", "William H. Gates Sr.", "elder's mark on one side"),
        ("Alexandre Dumas", "Alexandre Dumas père", "elder's mark on one side"),
        ("Ken Griffey Jr.", "Ken Griffey Sr.", "different generations"),
        ("John F. Kennedy", "John Fitzgerald Kennedy", None),  # one middle name each
        ("Jimmy Carter", "James Earl Carter Jr.", None),  # a "Jr." is often left out
    ],
)
def test_fathers_and_sons_of_one_name(a: str, b: str, why: str | None):
    assert other_generation(analyse(a).tokens, analyse(b).tokens) == why


def test_father_and_son_stay_apart_and_the_son_keeps_his_names():
    ids = _ids(
        MentionIn("George W. Bush", "Person"), MentionIn("George Walker Bush", "Person"),
        MentionIn("George H. W. Bush", "Person"), MentionIn("George Herbert Walker Bush", "Person"),
        MentionIn("Jimmy Carter", "Person"), MentionIn("James Earl Carter Jr.", "Person"),
        MentionIn("James Earl Carter Sr.", "Person"),
    )  # fmt: skip
    assert ids[0] == ids[1] != ids[2] == ids[3]
    assert ids[4] == ids[5] != ids[6]


def test_a_leading_initial_the_other_name_leaves_out():
    assert person_evidence(analyse("F. Scott Fitzgerald"), analyse("Scott Fitzgerald")) == pytest.approx(0.86)
    assert person_evidence(analyse("J. Edgar Hoover"), analyse("Edgar Hoover")) == pytest.approx(0.86)
    assert person_evidence(analyse("F. Scott Fitzgerald"), analyse("Zelda Fitzgerald")) is None
    ids = _ids(MentionIn("F. Scott Fitzgerald", "Writer"), MentionIn("Scott Fitzgerald", "Person"),
               MentionIn("Zelda Fitzgerald", "Person"))  # fmt: skip
    assert ids[0] == ids[1] != ids[2]


def test_a_jr_does_not_hide_the_surname_a_title_refers_to():
    text = "Robert Downey Jr. starred in the film. Mr. Downey thanked the director."
    ids = _ids(MentionIn("Robert Downey Jr.", "Person", text), MentionIn("Mr. Downey", "Person", text))
    assert ids[0] == ids[1]


def test_generic_words_of_organisations_storms_and_models():
    ids = _ids(
        MentionIn("Siemens Group", "Company"), MentionIn("Siemens AG", "Company"),
        MentionIn("Walt Disney Company", "Thing"), MentionIn("Walt Disney", "Person"),
        MentionIn("Hurricane Andrew", "Hurricane", "Hurricane Andrew struck Florida in 1992."),
        MentionIn("Andrew", "Hurricane", "Andrew destroyed 25,000 homes."),
        MentionIn("VGG model", "Model"), MentionIn("VGG architecture", "Thing"),
        MentionIn("River Danube", "River"), MentionIn("Danube", "River"),
    )  # fmt: skip
    assert ids[0] == ids[1] and ids[2] != ids[3] and ids[4] == ids[5] and ids[6] == ids[7] and ids[8] == ids[9]


def test_british_and_american_spellings():
    def node(name: str, idx: int) -> Node:
        return Node(idx, analyse(name), None, "named")  # untyped: no bonus for agreeing types

    assert explain_pair(node("Royal Shakespeare Theatre", 0), node("Royal Shakespeare Theater", 1))[0] == pytest.approx(0.85)
    assert explain_pair(node("World Trade Centre", 0), node("World Trade Center", 1))[0] == pytest.approx(0.85)
    assert explain_pair(node("Labour Party", 0), node("Labor Party", 1))[0] == pytest.approx(0.85)
    assert not explain_pair(node("Royal Shakespeare Theatre", 0), node("Royal Shakespeare Company", 1))[0]


def test_a_given_name_that_starts_the_other():
    assert person_evidence(analyse("Rafa Nadal"), analyse("Rafael Nadal")) == pytest.approx(0.9)
    assert person_evidence(analyse("Max Planck"), analyse("Maximilian Planck")) == pytest.approx(0.9)
    assert person_evidence(analyse("Paul Smith"), analyse("Paula Smith")) is None  # a woman's form is another name
    assert person_evidence(analyse("Al Gore"), analyse("Albert Gore")) == pytest.approx(0.9)  # the nickname table's
    assert person_evidence(analyse("Jo Smith"), analyse("John Smith")) is None  # two letters say nothing


def test_organisation_words_acronyms_inside_and_titles_that_start_a_company():
    ids = _ids(
        MentionIn("Toyota Motor Corporation", "Company"), MentionIn("Toyota", "Company"),
        MentionIn("Honda Motor Company", "Company"), MentionIn("Honda Motor Co., Ltd.", "Company"),
        MentionIn("General Motors", "Company"), MentionIn("GM", "Company"),
        MentionIn("messenger RNA", "Molecule"), MentionIn("mRNA", "Molecule"),
        MentionIn("US Food and Drug Administration", "Organization"), MentionIn("FDA", "Organization"),
        MentionIn("University of California, Los Angeles", "University"), MentionIn("UCLA", "University"),
    )  # fmt: skip
    for k in range(0, 12, 2):
        assert ids[k] == ids[k + 1], (k, ids)
    assert len(set(ids)) == 6
    assert analyse("General Motors").implied_type is None and analyse("General Eisenhower").core == "eisenhower"


def test_a_city_word_joins_a_name_typed_as_a_city_only():
    ids = _ids(
        MentionIn("Guatemala City", "City"), MentionIn("Guatemala", "City"),
        MentionIn("Mexico City", "City"), MentionIn("Mexico", "Country"),
    )  # fmt: skip
    assert ids[0] == ids[1] and ids[2] != ids[3]


def test_a_group_and_its_subsidiary_stay_apart():
    ids = _ids(MentionIn("Samsung Group", "Company"), MentionIn("Samsung Electronics", "Company"),
               MentionIn("Samsung Electronics Company", "Company"))  # fmt: skip
    assert ids[0] != ids[1] == ids[2]
