"""Coarse types, proper-name kinds and type compatibility (``kgpipe.fusion.kinds``).

``ner_types`` runs on a blank spaCy pipeline with an entity ruler (real spaCy, no trained model), so
the folding of labels and the majority vote are tested without loading one.
"""

from __future__ import annotations

from collections import Counter

import pytest

from kgpipe.fusion import kinds
from kgpipe.fusion.kinds import (
    PROPER_CLASSES,
    coarse_type,
    compatible,
    kind_in_context,
    majority,
    names_a_kind_of_thing,
    ner_types,
    surface_kind,
)


@pytest.mark.parametrize(
    "declared, coarse",
    [
        ("Company", "ORG"),
        ("physicist", "PERSON"),
        ("SoftwareCompany", "ORG"),  # the head noun is the last word
        ("CompanyFounder", "PERSON"),
        ("ChemicalElement", "CONCEPT"),
        ("Scientists", "PERSON"),  # plural
        ("TV Series", "WORK"),
        ("Country", "PLACE"),
        ("Nobel Prize", "AWARD"),
        ("GPE", "PLACE"),  # spaCy's label used as a type
        ("Fruit", "LIVING"),
    ],
)
def test_coarse_type_by_head_noun(declared: str, coarse: str):
    assert coarse_type(declared) == coarse


@pytest.mark.parametrize("declared", [None, "", "Thing", " thing ", "Entity", "Unknown", "Gizmo", "Blorple"])
def test_coarse_type_generic_or_unknown_is_none(declared: str | None):
    assert coarse_type(declared) is None


def test_compatible():
    assert compatible("ORG", "ORG") and compatible(None, "ORG") and compatible("PERSON", None) and compatible(None, None)
    assert compatible("WORK", "PRODUCT") and compatible("PRODUCT", "WORK")  # software is both
    assert not compatible("ORG", "PERSON") and not compatible("ORG", "LIVING")


def test_proper_classes_exclude_common_nouns():
    assert {"PERSON", "ORG", "PLACE"} <= PROPER_CLASSES
    assert not {"LIVING", "CONCEPT", "VALUE", "DATE"} & PROPER_CLASSES


def test_names_a_kind_of_thing():
    assert names_a_kind_of_thing(("cable", "news", "network"))
    assert names_a_kind_of_thing(("kane", "motors"))
    assert names_a_kind_of_thing(("bank", "of", "x"))
    assert names_a_kind_of_thing(("london", "banks"))  # plural of a head noun
    assert not names_a_kind_of_thing(("marie", "curie"))
    assert not names_a_kind_of_thing(("president", "lincoln"))  # a person's word is still a person's name


def test_kind_in_context():
    assert kind_in_context("apple", "An apple is a fruit. Apples grow on trees.") == ("common", "apple")
    assert kind_in_context("marie curie", "In 1895 Marie Curie married.") == ("named", "Marie Curie")
    assert kind_in_context("paris", "Paris is big. I live in Paris.") == ("named", "Paris")  # as the text writes it
    assert kind_in_context("Paris", "Paris is big. Paris is old.") == (None, "Paris")  # sentence starts only
    assert kind_in_context("apple", "She joined Apple in May. The apple fell.") == (None, "apple")  # both uses
    assert kind_in_context("IBM", "He joined IBM in 1911.")[0] is None  # an acronym is capitalised anyway
    assert kind_in_context("red hat", "- Red Hat makes Linux.\n# Red Hat") == (None, "red hat")  # list and heading starts


def test_kind_in_context_not_found_falls_back_to_the_spelling():
    assert kind_in_context("Apple Inc.", "nothing about it")[0] == "named"
    assert kind_in_context("apple", "nothing about it")[0] is None  # lower case alone is no evidence


def test_surface_kind():
    assert surface_kind("Apple Inc.") == "named" and surface_kind("Marie Curie") == "named"
    assert surface_kind("iPhone") == "named"  # an inner capital
    assert surface_kind("IBM") is None  # an acronym says nothing
    assert surface_kind("apple") == "common" and surface_kind("apple", evidence_only=True) is None
    assert surface_kind("Paris") == "named" and surface_kind("Paris", evidence_only=True) is None  # could start a sentence


def test_majority():
    assert majority(Counter({"ORG": 2, "PERSON": 3})) == "PERSON"
    assert majority(Counter({"PERSON": 2, "ORG": 2})) == "ORG"  # ties: alphabetically first
    assert majority(Counter()) is None


def test_ner_types_fold_labels_and_vote(monkeypatch: pytest.MonkeyPatch):
    spacy = pytest.importorskip("spacy")
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([  # type: ignore[attr-defined]
        {"label": "ORG", "pattern": "Red Hat"},
        {"label": "PERSON", "pattern": "RED HAT"},  # the same name, normalised, labelled otherwise
        {"label": "GPE", "pattern": "Raleigh"},
        {"label": "FAC", "pattern": "Passy"},
        {"label": "WORK_OF_ART", "pattern": "Radium"},
        {"label": "PERSON", "pattern": "Dr. Marie Curie"},
    ])
    monkeypatch.setattr(kinds, "ner_pipeline", lambda: nlp)
    contexts = ["Red Hat is in Raleigh.", "Red Hat grew.", "Passy is old.", "Radium glows.", "Dr. Marie Curie won."]
    types = ner_types(contexts)
    assert types["red hat"] == "ORG" and types["raleigh"] == "PLACE" and types["passy"] == "PLACE"
    assert types["radium"] == "WORK"
    assert types["dr marie curie"] == "PERSON" and types["marie curie"] == "PERSON"  # by norm and by core
    assert ner_types(["Red Hat grew.", "RED HAT fell.", "RED HAT rose."])["red hat"] == "PERSON"  # the majority
    assert ner_types(["RED HAT fell.", "Red Hat grew."])["red hat"] == "ORG"  # a tie: the alphabetically first class
    assert ner_types(["Red Hat grew.", "RED HAT fell.", "RED HAT fell."])["red hat"] == "ORG"  # a repeated context counts once


def test_ner_types_without_a_model(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(kinds, "ner_pipeline", lambda: None)
    assert ner_types(["Red Hat is in Raleigh."]) == {}
