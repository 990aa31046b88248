"""Fusion rules of issue 12's fifth round, on real names outside the gold sets: short forms read in the text that
names the full name (a person's or organisation's last words, an organisation's first or last word alone), compound
titles, and letters hyphened to a word that are no roman numerals."""

from __future__ import annotations

import pytest

from kgpipe.fusion.names import analyse
from kgpipe.fusion.resolve import EntityIndex, MentionIn


def _ids(*mentions: tuple[str, str, str]) -> list[str]:
    """The ids of (name, type, text) mentions, with the packaged aliases off (the names and texts alone)."""
    return EntityIndex(places="", lexicon="").resolve([MentionIn(*m) for m in mentions], ner=False).ids


@pytest.mark.parametrize(
    "full, short",
    [
        ("Ruth Bader Ginsburg", "Bader Ginsburg"),
        ("Gabriel García Márquez", "García Márquez"),
        ("Charles de Gaulle", "De Gaulle"),
        ("Oliver Wendell Holmes Jr.", "Holmes Jr."),
    ],
)
def test_a_persons_last_words_in_the_text_that_names_them_in_full(full: str, short: str) -> None:
    text = f"{full} was born in the spring. Later, {short} became famous."
    ids = _ids((full, "Person", text), (short, "Person", text))
    assert ids[0] == ids[1]


def test_a_two_word_short_form_in_another_text_alone_joins_the_one_full_name_it_ends():
    ids = _ids(("Ruth Bader Ginsburg", "Person", "Ruth Bader Ginsburg was born in Brooklyn in 1933."),
               ("Bader Ginsburg", "Person", "Bader Ginsburg joined the Supreme Court in 1993."))  # fmt: skip
    assert ids[0] == ids[1]


def test_a_tail_that_starts_inside_a_hyphened_word_or_after_of_is_no_short_form():
    # "Jacques Rousseau" is not the last words of "Jean-Jacques Rousseau" as written; two people.
    ids = _ids(("Jean-Jacques Rousseau", "Person", "Jean-Jacques Rousseau wrote Emile in 1762."),
               ("Jacques Rousseau", "Person", "Jacques Rousseau, a baker, opened a shop in Lyon."))  # fmt: skip
    assert ids[0] != ids[1]
    text = "The World Meteorological Organization of the United Nations met in Geneva; the United Nations paid."
    ids = _ids(("World Meteorological Organization of the United Nations", "Organization", text),
               ("United Nations", "Organization", text))  # fmt: skip
    assert ids[0] != ids[1]


def test_two_people_whose_full_names_end_alike_make_the_short_form_ambiguous():
    text = "Vincent van Gogh painted in Arles; his brother Theo van Gogh sold paintings in Paris. Van Gogh wrote often."
    ids = _ids(("Vincent van Gogh", "Person", text), ("Theo van Gogh", "Person", text), ("Van Gogh", "Person", text))
    assert len(set(ids)) == 3


@pytest.mark.parametrize(
    "full, short, typ",
    [
        ("Toronto Raptors", "Raptors", "SportsTeam"),
        ("Federal Communications Commission", "Commission", "Agency"),
        ("Mitsubishi Heavy Industries", "Mitsubishi", "Company"),
    ],
)
def test_an_organisations_first_or_last_word_alone_in_its_text(full: str, short: str, typ: str) -> None:
    text = f"The {full} said on Monday that it would appeal. The {short} has thirty days."
    ids = _ids((full, typ, text), (short, typ, text))
    assert ids[0] == ids[1]
    # In another text the one word is a name of its own.
    ids = _ids((full, typ, text), (short, typ, f"The {short} opened an office."))
    assert ids[0] != ids[1]


def test_an_organisation_word_stands_for_no_organisation_when_two_in_the_text_have_it():
    text = "Mitsubishi Motors and Mitsubishi Heavy Industries reported results; Mitsubishi shares fell."
    ids = _ids(("Mitsubishi Motors", "Company", text), ("Mitsubishi Heavy Industries", "Company", text),
               ("Mitsubishi", "Company", text))  # fmt: skip
    assert (
        ids[0] != ids[1] and ids[2] != ids[1]
    )  # (the organisation-word rule joins "Mitsubishi" / "Mitsubishi Motors")


def test_an_organisation_word_inside_a_hyphened_word_or_with_a_legal_form_is_its_own_name():
    text = "Air France-KLM was formed in 2004; KLM kept its Dutch flag."
    ids = _ids(("Air France-KLM", "Company", text), ("KLM", "Company", text))
    assert ids[0] != ids[1]
    text = "Rolls-Royce Holdings makes engines; Rolls-Royce plc is its operating company."
    assert analyse("Rolls-Royce plc").tokens == ("rolls", "royce")


def test_a_rank_before_a_title_is_part_of_the_title():
    assert analyse("Vice President Harris").tokens == ("harris",)
    assert analyse("Rear Admiral Nelson").implied_type == "PERSON"
    assert analyse("Rear Window").tokens == ("rear", "window") and analyse("Rear Window").implied_type is None
    text = "Kamala Harris was sworn in on January 20. Vice President Harris then swore in three senators."
    ids = _ids(("Kamala Harris", "Person", text), ("Vice President Harris", "Person", text))
    assert ids[0] == ids[1]


def test_a_letter_hyphened_to_a_word_is_no_roman_numeral():
    assert not analyse("Einstein X-ray Observatory").numbers
    assert analyse("Louis X").numbers == frozenset({"10"})
    assert analyse("Type I-A").numbers == frozenset({"1"})


def test_a_shared_place_name_is_placed_by_the_regions_and_peoples_its_text_names():
    from kgpipe.fusion.places import regions

    assert regions()["ontario"] == "CA" and regions()["england"] == "GB" and regions()["ukrainian"] == "UA"
    assert "georgia" not in regions() or regions()["georgia"] == "US"  # a subdivision's name, never a join
    texts = ("Windsor lies on the Thames in Berkshire, England, west of the capital.",
             "Windsor is the southernmost city in Ontario and builds minivans.")  # fmt: skip
    mentions = [MentionIn("Windsor", "City", text) for text in texts]
    ids = EntityIndex(lexicon="").resolve(mentions, ner=False).ids
    assert ids[0] != ids[1]


def test_a_middle_name_alone_in_the_text_that_writes_the_full_name():
    text = (
        "Thomas Woodrow Wilson was born in Staunton in 1856; Woodrow, as his family called him, studied at Princeton."
    )
    ids = _ids(("Thomas Woodrow Wilson", "Person", text), ("Woodrow", "Person", text), ("Staunton", "City", text))
    assert ids[0] == ids[1] != ids[2]
    # Not a word of an epithet ("X of Y"), and not in a text that does not write the full name.
    text = "Saint Anthony of Padua preached in Rimini; Anthony was canonised within a year."
    ids = _ids(("Saint Anthony of Padua", "Person", text), ("Anthony", "Person", text))
    assert ids[0] != ids[1]
    ids = _ids(("Thomas Woodrow Wilson", "Person", "Thomas Woodrow Wilson was born in 1856."),
               ("Woodrow", "Person", "Woodrow is a town in Texas, and a given name."))  # fmt: skip
    assert ids[0] != ids[1]


def test_names_without_a_text_have_no_short_forms_read_in_a_text():
    # Mentions with no context (an import, a synthetic run) share no text: the text-bound rules say nothing.
    mentions = [MentionIn("Thomas Woodrow Wilson", "Person"), MentionIn("Woodrow", "Person"),
                MentionIn("Ruth Bader Ginsburg", "Person"), MentionIn("Bader Ginsburg", "Person"),
                MentionIn("Toronto Raptors", "SportsTeam"), MentionIn("Raptors", "SportsTeam")]  # fmt: skip
    ids = EntityIndex(places="", lexicon="").resolve(mentions, ner=False).ids
    assert len(set(ids)) == 6


def test_international_is_an_organisation_word():
    text = "Amnesty International was founded in London in 1961. Amnesty won the Nobel Peace Prize in 1977."
    ids = _ids(("Amnesty International", "Organization", text), ("Amnesty", "Organization", text))
    assert ids[0] == ids[1]
    assert analyse("Marriott International").head and not analyse("Marriott").head


def test_a_dual_name_joins_its_halves_in_its_text():
    text = "Mount Taranaki / Mount Egmont rises above New Plymouth. Mount Egmont was Cook's name for it."
    ids = _ids(("Mount Taranaki / Mount Egmont", "Mountain", text), ("Mount Egmont", "Mountain", text),
               ("New Plymouth", "City", text))  # fmt: skip
    assert ids[0] == ids[1] != ids[2]


def test_a_sentence_that_renames_what_the_sentence_before_named():
    text = "Nippon Kōgaku was founded in Tokyo in 1917 to make optics. The company renamed itself Nikon Corporation in 1988."
    ids = _ids(("Nippon Kōgaku", "Company", text), ("Tokyo", "City", text), ("Nikon Corporation", "Company", text))
    assert ids[0] == ids[2] != ids[1]
    # "The company" takes up an organisation, not the person or the place before it.
    text = "George Westinghouse built a works near Pittsburgh. The company became Westinghouse Electric in 1889."
    ids = _ids(("George Westinghouse", "Person", text), ("Pittsburgh", "City", text),
               ("Westinghouse Electric", "Company", text))  # fmt: skip
    assert len(set(ids)) == 3
