"""Synthetic mentions with planted aliases, for ``bench_fusion``: names that look like names, with the truth.

Entities are people, organisations, places and common nouns with pseudo-words for names (syllables
drawn with a skew, so some surnames and words recur, as real ones do). Each mention is the
entity's canonical name or one of its planted aliases: initials, titles, legal forms, acronyms,
lower case, diacritics, a one-letter typo, a hyphenated surname's part, a plural. Near misses come
free: people who share a surname or an initial, companies that share a word or an acronym.

    >>> mentions, truth = synthetic_mentions(1000, seed=1)
    >>> len(mentions), len(set(truth)) < 1000
    (1000, True)
"""

from __future__ import annotations

import random

from ..fusion.names import analyse
from ..fusion.resolve import MentionIn

_SYLLABLES = ("ka ri to ma ne lo vi sa te ru mi da ko be la zu no fe ga hi jo pe qua re si tu va wo xe yo ze "
              "bar den fal gor hen kir lin mor nat pol ran sel tor vin wal dor mun rak sten berg ford wick "
              "ton ley sha kov ski ner vald").split()  # fmt: skip
_FIRST = ("Anna Maria Marie Pierre Jacques John James Robert Michael William David Richard Joseph Thomas "
          "Charles Mary Patricia Jennifer Linda Elizabeth Barbara Susan Jessica Sarah Karen Daniel Paul Mark "
          "Laura Emma Olivia Sophia Lucas Hugo Louis Jan Piotr Tomasz Katarzyna Agnieszka Elena Ivan Olga "
          "Hans Greta Lars Ingrid Marco Giulia Luca Chiara Pablo Lucia Diego Carmen Ahmed Fatima Omar Aisha "
          "Wei Mei Hiroshi Yuki Kenji Aiko Raj Priya Arjun Ananya Kwame Ama Kofi Abena").split()  # fmt: skip
_ORG_WORDS = "Systems Labs Networks Energy Foods Bank Motors Media Pharma Logistics Capital Robotics".split()
_LEGAL = ("Inc.", "Corporation", "Ltd", "LLC", "AG", "S.A.")
_ACCENTS = str.maketrans({"e": "é", "o": "ö", "a": "á", "u": "ü"})
_SKEW = [1.0 / (1 + i) ** 0.7 for i in range(len(_SYLLABLES))]


def _word(rng: random.Random, parts: int | None = None) -> str:
    n = parts or rng.choice((2, 2, 3))
    return "".join(rng.choices(_SYLLABLES, weights=_SKEW, k=n)).capitalize()


def _typo(rng: random.Random, word: str) -> str:
    """One letter replaced (an edit distance of one), inside the word."""
    i = rng.randrange(1, len(word) - 1)
    letter = rng.choice([c for c in "aeioulnrst" if c != word[i].lower()])
    return word[:i] + letter + word[i + 1 :]


def _person(rng: random.Random) -> tuple[str, list[str], tuple[str, ...]]:
    first, last = rng.choice(_FIRST), _word(rng)
    aliases = [f"{first[0]}. {last}", f"Dr. {first} {last}", f"{first} {last}".lower(),
               f"{first} {rng.choice(_FIRST)} {last}", f"{first} {last.translate(_ACCENTS)}"]  # fmt: skip
    if rng.random() < 0.2:  # a double-barrelled surname, and each part on its own
        other = _word(rng)
        aliases += [f"{first} {other}", f"{first} {last}"]
        last = f"{last}-{other}"
    if len(last) >= 7:
        aliases.append(f"{first} {_typo(rng, last)}")
    return f"{first} {last}", aliases, ("Person", "Person", "Thing")


def _organisation(rng: random.Random) -> tuple[str, list[str], tuple[str, ...]]:
    words = [_word(rng) for _ in range(rng.choice((1, 1, 2)))]
    if rng.random() < 0.6:
        words.append(rng.choice(_ORG_WORDS))
    name = " ".join(words)
    aliases = [f"{name} {rng.choice(_LEGAL)}", f"{name} {rng.choice(_LEGAL)}", name.upper(), f"The {name}"]
    if len(words) > 1 and rng.random() < 0.3:
        aliases.append("".join(w[0] for w in words).upper())
    return name, aliases, ("Company", "Organization", "Thing")


def _place(rng: random.Random) -> tuple[str, list[str], tuple[str, ...]]:
    word = _word(rng)
    if rng.random() < 0.15:
        return f"Saint {word}", [f"St. {word}", f"St {word}", f"Saint {word}".lower()], ("City", "Thing")
    return word, [word.translate(_ACCENTS), word.lower(), word.upper()], ("City", "Country", "Place", "Thing")


def _common(rng: random.Random) -> tuple[str, list[str], tuple[str, ...]]:
    name = " ".join(_word(rng).lower() for _ in range(rng.choice((1, 2))))
    return name, [name + "s", name.capitalize()], ("Concept", "Thing")


_MAKERS = ((_person, 0.4), (_organisation, 0.35), (_place, 0.15), (_common, 0.1))


def synthetic_mentions(n: int, *, seed: int = 0, per_entity: int = 5) -> tuple[list[MentionIn], list[int]]:
    """``n`` mentions of about ``n / per_entity`` entities, and each mention's true entity.

    No spelling (after normalisation) belongs to two entities, so a perfect resolver can score 1.0.
    """
    rng = random.Random(seed)
    makers, weights = zip(*_MAKERS)
    entities: list[tuple[str, list[str], tuple[str, ...]]] = []
    owner: dict[str, int] = {}  # core name -> entity: no spelling may stand for two entities
    while len(entities) < max(1, n // per_entity):
        name, aliases, types = rng.choices(makers, weights=weights)[0](rng)
        if analyse(name).core in owner:
            continue
        k = len(entities)
        kept = [a for a in aliases if owner.setdefault(analyse(a).core, k) == k]
        owner[analyse(name).core] = k
        entities.append((name, kept, types))
    mentions: list[MentionIn] = []
    truth: list[int] = []
    for _ in range(n):
        k = int(len(entities) * rng.random() ** 1.5)  # a few entities are mentioned a lot
        name, aliases, types = entities[k]
        surface = name if not aliases or rng.random() < 0.6 else rng.choice(aliases)
        mentions.append(MentionIn(surface, rng.choice(types)))
        truth.append(k)
    return mentions, truth
