"""Person-name variants (``kgpipe.fusion.person_names``): romanisation keys, their guards, and person evidence."""

from __future__ import annotations

import pytest

from kgpipe.fusion.names import analyse, blocking_keys
from kgpipe.fusion.person_names import (
    OTHER_SURNAME,
    ROMANISED,
    person_evidence,
    romanised,
    same_first_name,
    same_surname,
    surname_key,
)


@pytest.mark.parametrize(
    "a, b",
    [
        ("tchaikovsky", "chaikovsky"),  # English / French ch, tch
        ("tschaikowsky", "tchaikovsky"),  # German tsch, w
        ("dostoevsky", "dostoyevsky"),  # y as a vowel
        ("dostoievski", "dostoevsky"),  # a run of vowels, -ski / -sky
        ("rachmaninoff", "rakhmaninov"),  # kh / ch, final -off / -ov
        ("solzhenitsyn", "solzhenitsin"),  # y / i
    ],
)
def test_one_surname_romanised_two_ways(a: str, b: str):
    assert same_surname(a, b) and surname_key(a) == surname_key(b)


@pytest.mark.parametrize(
    "a, b",
    [
        ("karito", "koreta"),  # a vowel differs: another name (the bench's synthetic surnames)
        ("higgs", "hicks"),
        ("clinton", "clanton"),
        ("lee", "li"),  # too short to say
    ],
)
def test_surnames_that_differ_in_more_than_romanisation(a: str, b: str):
    assert not same_surname(a, b)


@pytest.mark.parametrize(
    "a, b, same",
    [
        ("pyotr", "peter", True),  # Russian drops the vowel English writes
        ("fyodor", "theodore", True),  # Greek theta read as f
        ("thomas", "tomas", True),  # and as t
        ("aleksandr", "alexander", True),
        ("mikhail", "michael", True),
        ("sergei", "sergey", True),
        ("bill", "william", True),  # a nickname (the nicknames table)
        ("j", "john", True),  # an initial
        ("petra", "peter", False),  # a feminine ending
        ("ivana", "ivan", False),
        ("maria", "mario", False),  # two consonants: too little to say
        ("pierre", "marie", False),
        ("john", "jan", False),
    ],
)
def test_given_names(a: str, b: str, same: bool):
    assert same_first_name(a, b) is same and same_first_name(b, a) is same


def test_theta_has_two_readings():
    assert romanised("theodore") == ("teodore", "feodore")


def test_person_evidence_says_when_it_needed_a_romanisation():
    def evidence(a: str, b: str) -> float | None:
        return person_evidence(analyse(a), analyse(b))

    assert evidence("Fyodor Dostoevsky", "Theodore Dostoyevsky") == ROMANISED
    assert evidence("P. I. Chaikovsky", "Pyotr Ilyich Tchaikovsky") == ROMANISED
    assert evidence("Peter Tchaikovsky", "Pyotr Ilyich Tchaikovsky") == ROMANISED
    assert evidence("Marie Curie", "Marie Skłodowska-Curie") == 0.9  # no romanisation needed: the plain score
    assert evidence("Marie Curie", "Marie Skłodowska") == OTHER_SURNAME
    assert evidence("Modest Tchaikovsky", "Pyotr Tchaikovsky") is None


def test_a_romanised_surname_is_a_blocking_key():
    shared = set(blocking_keys(analyse("Fyodor Dostoevsky"))) & set(blocking_keys(analyse("Theodore Dostoyevsky")))
    assert any(key.startswith("r:") for key in shared)
