"""Candidate names of a chunk for grounded extraction: entities, noun chunks, proper-noun runs, numbers."""

from __future__ import annotations

import pytest
import spacy

from kgpipe.ingest.spans import candidate_spans, span_pipeline

pytestmark = pytest.mark.skipif(span_pipeline() is None, reason="no trained spaCy pipeline installed")


def names(text: str) -> list[str]:
    return [s.text for s in candidate_spans(text)]


def test_entities_dates_and_numbers_are_candidates_with_their_offsets() -> None:
    text = "Marie Curie was born in Warsaw in 1867 and won 2 Nobel Prizes."
    spans = candidate_spans(text)
    assert {"Marie Curie", "Warsaw", "1867"} <= {s.text for s in spans}
    assert all(text[s.start : s.end] == s.text for s in spans)  # every candidate is a span of the text
    assert [s.start for s in spans] == sorted(s.start for s in spans)
    assert len({(s.start, s.end) for s in spans}) == len(spans)


def test_noun_chunks_also_without_their_determiner() -> None:
    found = names("The company is headquartered in Armonk and employs the physicist.")
    assert "The company" in found and "company" in found and "physicist" in found


def test_pronouns_and_bare_determiners_are_never_names() -> None:
    found = {n.casefold() for n in names("He married her in 1895. They lived in Paris. It was cold.")}
    assert not found & {"he", "her", "they", "it"} and "paris" in found


def test_abbreviation_keeps_its_stop_and_possessive_goes() -> None:
    found = names("Apple Inc. sold Jobs's company to the U.S. government.")
    assert "Apple Inc." in found and "Jobs" in found and "Jobs's" not in found


def test_spans_longer_than_the_word_bound_are_dropped() -> None:
    text = "The Bank of England was founded by William Paterson."
    assert "The Bank of England" in {s.text for s in candidate_spans(text, spacy.blank("en"))}
    short = {s.text for s in candidate_spans(text, spacy.blank("en"), max_words=3)}
    assert "The Bank of England" not in short and "William Paterson" in short


def test_without_a_parser_capitalised_runs_and_numbers_stand_in() -> None:
    blank = spacy.blank("en")
    spans = candidate_spans("The Bank of England was founded in 1694 by William Paterson.", blank)
    found = {s.text for s in spans}
    assert {"The Bank of England", "1694", "William Paterson"} <= found
    assert {s.kind for s in spans} <= {"capitalised", "number"}


def test_a_day_or_month_of_a_date_is_no_name_but_its_year_is() -> None:
    found = names("Daniel Ona Ondo (born 10 July 1945) is a Gabonese politician.")
    assert "10 July 1945" in found and "1945" in found
    assert "10" not in found and "July" not in found
    assert "April" not in names("Richard Donner (born April 24, 1930) is an American director.")


def test_a_full_date_the_tagger_splits_is_one_name() -> None:
    """en_core_web_sm reads "5 December 1953" as "5" and "December 1953"; the date is one candidate."""
    found = names("Harald Kaas (19 May 1868 – 5 December 1953) was a Norwegian architect.")
    assert {"19 May 1868", "5 December 1953", "1953"} <= set(found)
    assert "5" not in found and "December 1953" not in found
    assert "January 13, 1965" in names("Chuck Compton (born January 13, 1965) is a player.")


def test_words_for_now_are_no_dates() -> None:
    found = {n.casefold() for n in names("Today, the museum holds 300 paintings. It was founded in 1877 and is currently closed.")}
    assert not found & {"today", "currently"} and "1877" in found
