"""What fusion can tell about a mention beyond its name: a coarse type and whether it is a proper name.

* ``coarse_type``: an extractor's or ontology's type ("Company", "physicist", "ChemicalElement")
  folded into a few coarse classes, by its head noun. Two mentions whose coarse classes differ are
  never one entity (Apple the company, apple the fruit).
* ``ner_types``: spaCy's named entities in the mention's context, folded the same way. Measured on
  ``data/sample``, en_core_web_sm labels the same name differently from sentence to sentence ("Red
  Hat" ORG three times and PERSON three times; "Passy" ORG; "Radium" PERSON), so its labels are a
  soft hint (majority per name), never a reason to keep two mentions apart.
* ``kind_in_context``: "named" when the text writes the name capitalised mid-sentence, "common"
  when it writes it in lower case ("An apple is a fruit"), ``None`` when it cannot tell (only at
  sentence starts, an acronym, not found).
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from functools import lru_cache
from typing import TYPE_CHECKING, Iterable, Mapping

from ..text import trained_pipeline
from .names import analyse, normalise_name

if TYPE_CHECKING:
    from spacy.language import Language

log = logging.getLogger(__name__)

_HEAD_NOUNS: dict[str, tuple[str, ...]] = {
    "PERSON": ("person people human man woman scientist physicist chemist biologist mathematician politician actor "
               "actress author writer poet artist painter musician singer composer athlete player ceo founder "
               "researcher engineer inventor philosopher leader king queen president individual celebrity"),
    "ORG": ("organization organisation org company corporation business firm enterprise university college school "
            "institution institute agency network broadcaster channel newspaper publisher bank government ministry "
            "party team club band union association society foundation charity startup brand manufacturer lab "
            "laboratory subsidiary"),
    "PLACE": ("place location loc gpe city town village country nation state province region county continent "
              "capital island river mountain lake sea ocean street building facility fac area district territory "
              "site planet"),
    "DATE": "date time year day month period century decade",
    "EVENT": "event war battle election conference festival tournament championship revolution",
    "WORK": "creativework work book novel film movie song album painting article paper play poem show series magazine",
    "PRODUCT": ("product device software app application platform system phone computer car vehicle machine "
                "hardware tool mainframe distribution"),
    "CONCEPT": ("concept method model algorithm technique task metric field discipline theory term idea process "
                "otherscientificterm approach architecture framework element chemical compound substance material "
                "disease language"),
    "LIVING": "fruit plant animal species food dish dessert tree organism vegetable crop genus bird snake cat",
    "AWARD": "award prize medal honor honour",
    "VALUE": "quantity number money percent amount measure",
    "GROUP": "norp nationality ethnicity religion",
}  # fmt: skip
_COARSE_OF_WORD = {word: coarse for coarse, words in _HEAD_NOUNS.items() for word in words.split()}
#: spaCy (OntoNotes) labels folded into the same classes.
NER_COARSE = {
    "PERSON": "PERSON", "ORG": "ORG", "GPE": "PLACE", "LOC": "PLACE", "FAC": "PLACE", "DATE": "DATE",
    "TIME": "DATE", "EVENT": "EVENT", "WORK_OF_ART": "WORK", "LAW": "WORK", "PRODUCT": "PRODUCT",
    "NORP": "GROUP", "LANGUAGE": "CONCEPT", "MONEY": "VALUE", "QUANTITY": "VALUE", "PERCENT": "VALUE",
    "CARDINAL": "VALUE", "ORDINAL": "VALUE",
}  # fmt: skip
#: Coarse classes whose members have proper names (a common noun is never one of them).
PROPER_CLASSES = frozenset({"PERSON", "ORG", "PLACE", "EVENT", "WORK", "PRODUCT", "AWARD"})
#: Coarse classes that may still be one entity (software is both a product and a work).
_COMPATIBLE = {frozenset({"WORK", "PRODUCT"})}
#: The type of an entity nobody typed.
_GENERIC = frozenset({"", "thing", "entity", "unknown", "other", "misc", "none", "generic", "object", "item"})
_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")


@lru_cache(maxsize=4096)
def coarse_type(declared: str | None) -> str | None:
    """The coarse class of a declared type, by its last known noun ("SoftwareCompany" → ORG); ``None`` if generic.

    >>> coarse_type("Company"), coarse_type("physicist"), coarse_type("Thing"), coarse_type("Gizmo")
    ('ORG', 'PERSON', None, None)
    """
    if not declared or declared.strip().casefold() in _GENERIC:
        return None
    words = [w.casefold() for w in _WORDS.findall(declared)]
    if declared.casefold().replace(" ", "") in _COARSE_OF_WORD:
        return _COARSE_OF_WORD[declared.casefold().replace(" ", "")]
    for word in reversed(words):  # English puts the head noun last
        for form in (word, word[:-1] if word.endswith("s") else word):
            if form in _COARSE_OF_WORD:
                return _COARSE_OF_WORD[form]
    return None


def unknown_type(declared: str | None) -> str | None:
    """A declared type that names something but no coarse class ("Ship", "Airport", "Injury"), casefolded; else ``None``.

    >>> unknown_type("Airport"), unknown_type("Company"), unknown_type("Thing")
    ('airport', None, None)
    """
    if not declared or declared.strip().casefold() in _GENERIC or coarse_type(declared):
        return None
    return declared.strip().casefold()


#: Words of organisation and place names that no person's name has.
_NAME_WORDS = frozenset(
    "motors systems labs networks media pharma logistics capital robotics energy foods group holdings partners "
    "airlines industries technologies technology solutions services studios records press hotels resorts museum "
    "hospital church council committee department news times journal".split()
)


def names_a_kind_of_thing(tokens: tuple[str, ...]) -> bool:
    """Whether a name has a word no person's name has ("Cable News *Network*", "*Bank* of X", "Kane *Motors*")."""
    for t in tokens:
        if t in _NAME_WORDS or _COARSE_OF_WORD.get(t[:-1] if t.endswith("s") else t, "PERSON") != "PERSON":
            return True
        if _COARSE_OF_WORD.get(t, "PERSON") != "PERSON":
            return True
    return False


def compatible(a: str | None, b: str | None) -> bool:
    """Whether two coarse classes can be one entity (an unknown class is compatible with anything)."""
    return a is None or b is None or a == b or frozenset({a, b}) in _COMPATIBLE


# -- named entities ----------------------------------------------------------------------------


@lru_cache(maxsize=1)
def ner_pipeline() -> "Language | None":
    """The installed trained English spaCy pipeline with its NER only; ``None`` when there is none."""
    nlp = trained_pipeline(exclude=["parser", "lemmatizer", "attribute_ruler", "senter", "textcat"], needs=["ner"])
    if nlp is not None:
        nlp.max_length = 2_000_000
        return nlp
    log.info("no trained spaCy pipeline with NER installed: fusion runs without NER hints")
    return None


def ner_types(contexts: Iterable[str], *, batch_size: int = 32) -> dict[str, str]:
    """Normalised name → majority coarse NER class over every occurrence in ``contexts`` (empty without a model)."""
    nlp = ner_pipeline()
    if nlp is None:
        return {}
    votes: dict[str, Counter[str]] = {}
    for doc in nlp.pipe(list(dict.fromkeys(contexts)), batch_size=batch_size):
        for ent in doc.ents:
            coarse = NER_COARSE.get(ent.label_)
            if coarse:
                for key in {normalise_name(ent.text), analyse(ent.text).core}:
                    votes.setdefault(key, Counter())[coarse] += 1
    # Ties go to the alphabetically first class, so the answer does not depend on input order.
    return {key: min(c, key=lambda k: (-c[k], k)) for key, c in votes.items()}


# -- proper name or common noun ----------------------------------------------------------------

_OPENERS = set(" \t\"'([{*_#>-•–—“‘")


def _sentence_initial(text: str, start: int) -> bool:
    """Whether position ``start`` begins a sentence, a line, a heading or a list item."""
    i = start - 1
    while i >= 0 and text[i] in _OPENERS:
        i -= 1
    return i < 0 or text[i] in ".!?:;\n\r|"


@lru_cache(maxsize=1 << 16)
def _pattern(surface: str) -> re.Pattern[str]:
    """The name anywhere in a text, any case, singular or plural ("Apples" finds "apple")."""
    words = surface.split()
    last = words[-1]
    if len(last) > 3 and last[-1:].casefold() == "s" and last[-2:].casefold() not in ("ss", "us", "is"):
        words[-1] = last[:-1]
    words = [re.escape(w) for w in words]
    return re.compile(r"(?<!\w)" + r"[\s\-]+".join(words) + r"(?:e?s)?(?!\w)", re.IGNORECASE)


def kind_in_context(surface: str, context: str | None) -> tuple[str | None, str]:
    """``(kind, form)``: "named", "common" or ``None``, and the name as the text writes it where it tells.

    >>> kind_in_context("apple", "An apple is a fruit. Apples grow on trees.")
    ('common', 'apple')
    >>> kind_in_context("marie curie", "In 1895 Marie Curie married.")
    ('named', 'Marie Curie')
    """
    named = common = 0
    form = surface
    if context and surface.strip():
        for m in _pattern(surface.strip()).finditer(context):
            text = m.group(0)
            if not any(ch.isupper() for ch in text):
                common += 1
            elif not _sentence_initial(context, m.start()) and not analyse(text).is_acronym:
                if not named and text[: len(surface)].casefold() == surface.casefold():
                    form = text[: len(surface)]
                named += 1
    if named and not common:
        return "named", form
    if common and not named:
        return "common", surface
    if named or common:  # the text uses both: a name and a common noun that share a word
        return None, surface
    return surface_kind(surface, evidence_only=True), surface


@lru_cache(maxsize=1 << 18)
def surface_kind(surface: str, *, evidence_only: bool = False) -> str | None:
    """The kind a name's own spelling shows: capitalised words ("Apple Inc.") or an inner capital ("iPhone") → named.

    Without ``evidence_only`` (names already in the graph, chosen to show their kind), a name in
    lower case → common.
    """
    f = analyse(surface)
    if f.is_acronym:
        return None
    words = surface.split()
    inner_capital = any(ch.isupper() for w in words for ch in w[1:] if ch.isalpha())
    if (f.capitalised and (len(words) > 1 or f.implied_type)) or inner_capital:
        return "named"
    if not evidence_only and not any(ch.isupper() for ch in surface):
        return "common"
    if not evidence_only and f.capitalised:
        return "named"
    return None


def majority(values: Mapping[str, int] | Counter[str]) -> str | None:
    """The most frequent key (ties: alphabetically first), ``None`` for an empty count."""
    return min(values, key=lambda k: (-values[k], k)) if values else None
