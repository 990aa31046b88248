"""Person names: when two spellings can be one person's given name or surname, and the evidence two full names give.

Given names match when equal, an initial of the other, a nickname (the ``nicknames`` package's curated table and a
few of kgpipe's own: "Bill"/"William"), or the same name romanised another way. Surnames match when equal, or
romanised another way. **Romanisation** (``romanised``) undoes the spelling choices that English, German and French
transliterations of Russian, Greek and Arabic names make differently, and nothing else:

* the same sound as different letters: ``tch``/``tsch``/``ch``/``kh`` (Tchaikovsky, Tschaikowsky, Chaikovsky;
  Mikhail, Michael), ``sh``/``sch``, ``w``/``v`` (Tschaikowsky), ``x``/``ks`` (Alexander, Aleksandr), ``c``/``k``/``q``,
  ``ph``/``f``, ``dh``/``d``, ``y``/``j``/``i`` (Sergey, Sergei; Dostoyevsky, Dostoievski); a final ``ff``/``v``
  (Rachmaninoff, Rakhmaninov); doubled letters;
* Greek theta, written ``th`` in the west and ``f`` in Russian (Theodore, Fyodor; Thomas, Foma): both readings kept.

A **surname** key keeps its vowels, each run of vowels as its first ("Dostoevsky", "Dostoyevsky", "Dostoievski" →
``dostovski``), so names that differ in a vowel stay apart ("Karito" / "Koreta"). A **given-name** key keeps the
consonants only (Russian drops vowels English writes: Pyotr / Peter, Aleksandr / Alexander, Fyodor / Theodore), so it
is guarded: three consonants at least, the same first letter, and not one name ending in ``a`` where the other does
not (Petra is not Peter, Ivana not Ivan). It is checked only inside a person's full name whose other words agree.

Why not a phonetic code: jellyfish's Metaphone, NYSIIS and match-rating codes were measured on these pairs first.
Metaphone misses Fyodor/Theodore (FYTR/0TR), Pyotr/Peter (PYTR/PTR), Tschaikowsky/Tchaikovsky and Mikhail/Michael,
and gives one code to Clinton/Clanton, Carol/Karl, Peter/Petra and Higgs/Hicks; the match-rating comparison
accepts nearly every pair. A phonetic code folds the sounds of one language; these keys undo the spelling choices of
transliteration only.

    >>> surname_key("tschaikowsky") == surname_key("tchaikovsky") == surname_key("chaikovsky")
    True
    >>> same_first_name("pyotr", "peter"), same_first_name("fyodor", "theodore"), same_first_name("petra", "peter")
    (True, True, False)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Protocol

from nicknames import NickNamer


class Named(Protocol):
    """What person-name rules read of a name (``kgpipe.fusion.names.NameFeatures`` has it): its normalised words."""

    @property
    def tokens(self) -> tuple[str, ...]: ...

#: Nicknames that are the same first name (both directions are looked up).
_NICKNAMES = {
    "bill": "william", "will": "william", "bob": "robert", "rob": "robert", "bobby": "robert", "dick": "richard",
    "rick": "richard", "steven": "stephen", "jim": "james", "jimmy": "james", "mike": "michael", "tom": "thomas", "tony": "anthony",
    "ted": "edward", "ed": "edward", "kate": "katherine", "katie": "katherine", "liz": "elizabeth",
    "beth": "elizabeth", "joe": "joseph", "dan": "daniel", "dave": "david", "steve": "stephen", "chris": "christopher",
    "alex": "alexander", "nick": "nicholas", "sam": "samuel", "ben": "benjamin", "matt": "matthew", "andy": "andrew",
    "pete": "peter", "jack": "john", "johnny": "john", "al": "albert", "fred": "frederick", "maggie": "margaret",
}  # fmt: skip
#: Letters that romanisations write differently for one sound, longest first ("T": a Greek theta, read two ways).
_SOUNDS = {"shch": "S", "tsch": "C", "tch": "C", "sch": "S", "sh": "S", "ch": "C", "kh": "C", "zh": "Z", "ph": "f",
           "ck": "k", "dh": "d", "th": "T", "x": "ks", "q": "k", "c": "k", "w": "v", "y": "i", "j": "i"}  # fmt: skip
_SOUND = re.compile("|".join(sorted(_SOUNDS, key=len, reverse=True)))
_DOUBLE = re.compile(r"(.)\1+")
_VOWEL_RUN = re.compile(r"([aeiou])[aeiou]+")
_VOWELS = re.compile(r"[aeiou]")
#: ``person_evidence``: same first name, surnames that cannot be one person's (a veto a third name may lift).
OTHER_SURNAME = -1.0
#: ``person_evidence`` when a given name or surname matched only once romanised (a merge, named in ``explain_pair``).
ROMANISED = 0.85
#: ``person_evidence`` when one name starts with an initial the other leaves out ("J. Robert Oppenheimer" / "Robert
#: Oppenheimer", "F. Scott Fitzgerald" / "Scott Fitzgerald"): a merge, named in ``explain_pair``.
LEADING_INITIAL = 0.86
#: Marks that tell a father from a son, or an elder from a younger, of one name (roman numerals are numbers).
GENERATIONS = frozenset("jr junior sr senior elder younger pere fils".split())
#: The marks of the elder: a name without a mark names the younger as often ("Jimmy Carter" is James Earl Carter Jr.).
_ELDER = frozenset("sr senior elder pere".split())


@lru_cache(maxsize=1 << 16)
def romanised(word: str) -> tuple[str, ...]:
    """A normalised word's spellings with the romanisation choices undone (two when it has a "th")."""
    one = _DOUBLE.sub(r"\1", _SOUND.sub(lambda m: _SOUNDS[m.group()], word))
    if one.endswith("f"):
        one = one[:-1] + "v"
    return (one.replace("T", "t"), one.replace("T", "f")) if "T" in one else (one,)


@lru_cache(maxsize=1 << 18)
def surname_key(word: str) -> str:
    """A surname's romanised form, each run of vowels as its first vowel (the key for blocking and matching)."""
    return _VOWEL_RUN.sub(r"\1", romanised(word)[0])


def same_surname(a: str, b: str) -> bool:
    """Surnames of four letters or more that are one surname romanised two ways ("Dostoevsky" / "Dostoyevsky")."""
    return len(a) >= 4 and len(b) >= 4 and surname_key(a) == surname_key(b)


def same_romanised_given_name(a: str, b: str) -> bool:
    """One given name romanised two ways (Pyotr / Peter, Fyodor / Theodore), under the guards of the module docstring."""
    if (a[-1] == "a") != (b[-1] == "a"):
        return False
    for form_a in romanised(a):
        key = _VOWELS.sub("", form_a)
        if len(key) >= 3 and any(f[0] == form_a[0] and _VOWELS.sub("", f) == key for f in romanised(b)):
            return True
    return False


@lru_cache(maxsize=1)
def _nicknamer() -> NickNamer:
    return NickNamer()


@lru_cache(maxsize=1 << 16)
def _given_name_variants(name: str) -> frozenset[str]:
    """A given name's variants in the ``nicknames`` package's curated table ("bill" -> william, billy...)."""
    namer = _nicknamer()
    return frozenset(namer.nicknames_of(name) | namer.canonicals_of(name))


def _nickname(a: str, b: str) -> bool:
    return _NICKNAMES.get(a, a) == _NICKNAMES.get(b, b) or b in _given_name_variants(a) or a in _given_name_variants(b)


def same_first_name(a: str, b: str) -> bool:
    """First names that can be the same person's: equal, an initial of the other, a known variant ("Bill"/"William",
    "Jimmy"/"James"), or one name romanised two ways ("Pyotr"/"Peter")."""
    if a == b:
        return True
    if len(a) == 1 or len(b) == 1:
        return a[0] == b[0]
    return _nickname(a, b) or same_romanised_given_name(a, b) or _short_given_name(a, b)


def _short_given_name(a: str, b: str) -> bool:
    """One given name the start of the other, three letters at least ("Rafa" / "Rafael", "Max" / "Maximilian"),
    unless the longer ends in "a" where the shorter does not (Paul is not Paula, Eric not Erica)."""
    short, long = (a, b) if len(a) < len(b) else (b, a)
    return len(short) >= 3 and long.startswith(short) and (long[-1] != "a" or short[-1] == "a")


def _covers(big: Sequence[str], small: Sequence[str]) -> tuple[bool, bool]:
    """Whether every word of ``small`` matches a distinct word of ``big`` (equal, one the other's initial, or one
    surname romanised two ways), and whether a romanisation was needed for it."""
    pool = list(big)
    romanised_match = False
    for word in small:
        for k, other in enumerate(pool):
            if other == word or (len(word) == 1 and other[0] == word) or (len(other) == 1 and word[0] == other):
                del pool[k]
                break
        else:
            for k, other in enumerate(pool):
                if same_surname(word, other):
                    del pool[k]
                    romanised_match = True
                    break
            else:
                return False, False
    return True, romanised_match


def person_evidence(a: Named, b: Named) -> float | None:
    """Evidence that two person names are one person: 0.9, ``ROMANISED``, 0.0 (none), ``OTHER_SURNAME``, ``None``.

    Same first name (or initial, nickname, romanisation) and the surnames of one among the other's:
    "Marie Curie" ~ "Marie Skłodowska-Curie" ~ "M. Curie", "J. S. Bach" ~ "Johann Sebastian Bach",
    "Fyodor Dostoevsky" ~ "Theodore Dostoyevsky" (``ROMANISED``). Different first names are different people even
    with one surname ("Pierre Curie" ≠ "Marie Curie"). Same first name and other surnames ("Marie Curie" / "Marie
    Skłodowska") is ``OTHER_SURNAME``: apart, unless a name with both surnames joins them ("Marie Skłodowska-Curie").
    """
    return _person_evidence(a.tokens, b.tokens)


def _person_evidence(ta: Sequence[str], tb: Sequence[str]) -> float | None:
    if len(ta) < 2 or len(tb) < 2:
        return 0.0
    first_a, first_b = ta[0], tb[0]
    if not same_first_name(first_a, first_b):
        # A leading initial the other name leaves out: compare from the name it goes on with.
        for x, y in ((ta, tb), (tb, ta)):
            if len(x[0]) == 1 and len(x) > 2 and len(x[1]) > 1 and len(y[0]) > 1 and same_first_name(x[1], y[0]):
                found = _person_evidence(x[1:], y)
                return LEADING_INITIAL if found is not None and found > 0 else found
        return None
    rest_a, rest_b = ta[1:], tb[1:]
    for big, small in ((rest_b, rest_a), (rest_a, rest_b)):
        covered, by_romanising = _covers(big, small)
        if covered:
            plain_first = (first_a == first_b or len(first_a) == 1 or len(first_b) == 1 or _nickname(first_a, first_b)
                           or _short_given_name(first_a, first_b))  # fmt: skip
            return ROMANISED if by_romanising or not plain_first else 0.9
    return OTHER_SURNAME


def other_generation(a: Sequence[str], b: Sequence[str]) -> str | None:
    """Why two person names that cover each other can still be two people, or ``None``.

    "elder's mark on one side": "Bill Gates" / "William H. Gates Sr." ("Sr.", "the Elder", "père"; a "Jr." is often
    left out: "Jimmy Carter" / "James Earl Carter Jr."); "different generations": "Jr." / "Sr.";
    "other middle names": both write middle names, not as many ("George W. Bush" / "George H. W. Bush": a father
    and a son often share all but a middle name; "John F. Kennedy" / "John Fitzgerald Kennedy" write one each).
    """
    marks_a, marks_b = GENERATIONS.intersection(a), GENERATIONS.intersection(b)
    if marks_a and marks_b and marks_a != marks_b:
        return "different generations"
    if (marks_a | marks_b) & _ELDER and marks_a != marks_b:
        return "elder's mark on one side"
    core_a = [t for t in a if t not in GENERATIONS and t not in ("the", "of")]
    core_b = [t for t in b if t not in GENERATIONS and t not in ("the", "of")]
    middle_a, middle_b = len(core_a) - 2, len(core_b) - 2
    if middle_a > 0 and middle_b > 0 and middle_a != middle_b:
        return "other middle names"
    return None
