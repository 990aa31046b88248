"""Candidate names of a chunk: the spans grounded extraction may choose a head or tail from (issue 11).

A name a grounded extractor emits must be a span of its chunk's own text. Word n-grams make poor
candidates (a throw-away probe measured them worse everywhere: "Apple Inc. is an American"), so the
candidates are the spans a reader would call names, from spaCy's trained English pipeline:

* named entities (people, places, organisations, dates, numbers...);
* noun chunks, and each also without a leading determiner or possessive ("the Nile" -> "Nile");
* runs of proper nouns ("Pierre Curie" inside "physicist Pierre Curie");
* numbers and years the pipeline did not tag.

A piece of a date is no name of its own: inside "10 July 1945" the day "10" and the month "July" are not
candidates (the year "1945" is: a text may state only the year of something). A full date ("5 December 1953",
"January 13, 1965") is a candidate even where the tagger splits it ("5" and "December 1953").

Without a trained pipeline (only a blank one installed), capitalised word runs and numbers stand in.
Spans are returned once each, in text order, with character offsets into the chunk's text.
Measured (en_core_web_sm; names compared lower-case, punctuation ignored): of the gold heads and
tails that occur in the document text, the candidates contain 0.90 on GenWiki-Hard (first 100
documents, 11 candidates per document), 0.86 on REBEL-Sub (first 40, 34 per document) and 0.72 on
SciERC (first 40, 41 per document; technical terms such as "K-means clustering" are split)::

    >>> [s.text for s in candidate_spans("Marie Curie was born in Warsaw in 1867.")]  # doctest: +SKIP
    ['Marie Curie', 'Warsaw', '1867']
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from ..text import parsing_pipeline
from .chunk import strip_span

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc
    from spacy.tokens import Span as SpacySpan

log = logging.getLogger(__name__)

MAX_WORDS = 8  # a longer "name" is a clause, not a name
DETERMINERS = frozenset({"the", "a", "an", "this", "that", "these", "those", "its", "his", "her", "their", "our"})
_PRONOUNS = frozenset({"he", "she", "it", "they", "we", "i", "you", "him", "her", "them", "us", "me", "which", "who",
                       "that", "this", "these", "those", "what"})  # fmt: skip
# Words that say when relative to the writing, not a date: "Today, the building houses ..." dates nothing.
_RELATIVE_TIMES = frozenset({"today", "now", "nowadays", "currently", "presently", "recently", "yesterday", "tomorrow",
                             "present", "the present", "the present day", "present day", "this year", "last year",
                             "next year"})  # fmt: skip
_NUMBER = re.compile(r"\b\d[\d,.]*\b")
_YEAR = re.compile(r"\d{3,4}")
_MONTH = r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
# A full date as English writes it; the small tagger often splits "5 December 1953" into "5" and "December 1953".
_FULL_DATE = re.compile(rf"\b(?:\d{{1,2}}\s+{_MONTH}\s+\d{{3,4}}|{_MONTH}\s+\d{{1,2}},\s+\d{{3,4}})\b")
_CAPITALISED_RUN = re.compile(r"\b[A-Z][\w'’.-]*(?:\s+(?:of\s+|de\s+|the\s+)?[A-Z][\w'’.-]*)*")


@dataclass(frozen=True)
class Span:
    """A candidate name: its text, character offsets in the chunk's text, and where it came from."""

    text: str
    start: int
    end: int
    kind: str  # "entity", "noun_chunk", "proper", "number" or "capitalised" (no trained pipeline)
    label: str = ""  # spaCy's entity label (PERSON, ORG, GPE, DATE...) for an entity; "" otherwise
    common: bool = False  # a noun chunk headed by a common noun ("British racing driver"): a kind of thing


def span_pipeline() -> "Language | None":
    """The trained pipeline candidate names are read with (``kgpipe.text.parsing_pipeline``); None without one."""
    nlp = parsing_pipeline()
    if nlp is not None:
        return nlp
    log.info("no trained spaCy pipeline installed: candidate names are capitalised runs and numbers")
    return None


def candidate_spans(text: str, nlp: "Language | None" = None, *, max_words: int = MAX_WORDS) -> list[Span]:
    """The candidate names of ``text`` (see the module docstring), once each, in text order; ``nlp`` defaults
    to ``span_pipeline()``, and one without a parser gives capitalised runs and numbers only."""
    nlp = nlp if nlp is not None else span_pipeline()
    found: dict[tuple[int, int], Span] = {}
    dates: list[tuple[int, int]] = []  # the DATE entities' offsets
    full_dates = [(m.start(), m.end()) for m in _FULL_DATE.finditer(text)]

    def add(start: int, end: int, kind: str, label: str = "", common: bool = False) -> None:
        start, end = _trim(text, start, end)
        name = text[start:end]
        words = name.split()
        if not words or len(words) > max_words or (start, end) in found:
            return
        if not _YEAR.fullmatch(name) and any(a <= start and end <= b and (a, b) != (start, end)
                                             for a, b in (full_dates if kind == "entity" else dates + full_dates)):
            return  # a day or a month of a longer date
        if name.casefold() in _PRONOUNS or all(w.casefold() in DETERMINERS | _PRONOUNS for w in words):
            return
        if name.casefold() in _RELATIVE_TIMES:
            return
        found[(start, end)] = Span(name, start, end, kind, label, common)

    if nlp is None or "parser" not in nlp.pipe_names:  # no parse: capitalised runs stand in for names
        for m in _CAPITALISED_RUN.finditer(text):
            add(m.start(), m.end(), "capitalised")
    else:
        doc = _parse(nlp, text)
        for a, b in full_dates:
            add(a, b, "entity", "DATE")
        dates.extend((e.start_char, e.end_char) for e in doc.ents if e.label_ == "DATE")
        for ent in doc.ents:
            add(ent.start_char, ent.end_char, "entity", ent.label_)
        for chunk in doc.noun_chunks:
            common = chunk.root.pos_ == "NOUN"
            add(chunk.start_char, chunk.end_char, "noun_chunk", common=common)
            bare = _without_determiner(chunk)
            if bare is not None:
                add(bare[0], bare[1], "noun_chunk", common=common)
        run: list[int] = []
        for token in [*doc, None]:
            if token is not None and token.pos_ == "PROPN":
                run.append(token.i)
                continue
            if run:
                add(doc[run[0]].idx, doc[run[-1]].idx + len(doc[run[-1]]), "proper")
                run = []
    for m in _NUMBER.finditer(text):
        add(m.start(), m.end(), "number")
    return sorted(found.values(), key=lambda s: (s.start, -s.end))


def sentence_bounds(text: str, nlp: "Language | None" = None) -> list[tuple[int, int]]:
    """Character offsets of ``text``'s sentences (the parser's; without one, split after ``.``, ``!``, ``?``
    and at line ends), empty ones left out."""
    nlp = nlp if nlp is not None else span_pipeline()
    if nlp is not None and "parser" in nlp.pipe_names:
        bounds = [(s.start_char, s.end_char) for s in _parse(nlp, text).sents]
    else:
        bounds = [(m.start(), m.end()) for m in re.finditer(r"[^\n.!?]+(?:[.!?]+|$)", text, re.M)]
    return [strip_span(text, a, b) for a, b in bounds if text[a:b].strip()]


@lru_cache(maxsize=32)
def _parse(nlp: "Language", text: str) -> "Doc":
    """One parse per text: names and sentences of a chunk are read from the same parse."""
    return nlp(text)


def _without_determiner(chunk: "SpacySpan") -> tuple[int, int] | None:
    """Offsets of a noun chunk without its leading determiners/possessives ("the Nile" -> "Nile"), if it has any."""
    k = 0
    while k < len(chunk) - 1 and (chunk[k].lower_ in DETERMINERS or chunk[k].tag_ == "POS"):
        k += 1
    return (chunk[k].idx, chunk.end_char) if k else None


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    """Offsets without surrounding spaces and punctuation (a possessive "'s" and a final full stop go too,
    unless the stop belongs to an abbreviation such as "Inc.")."""
    while start < end and not (text[start].isalnum() or text[start] in "$€£"):
        start += 1
    while end > start and not text[end - 1].isalnum() and not (text[end - 1] == "." and _abbreviation(text, start, end)):
        end -= 1
    if text[start:end].endswith(("'s", "’s")):
        end -= 2
    return start, end


def _abbreviation(text: str, start: int, end: int) -> bool:
    """Whether the final "." of ``text[start:end]`` ends an abbreviation ("Inc.", "U.S.", "Jr.")."""
    word = text[start:end].split()[-1] if text[start:end].split() else ""
    return bool(re.fullmatch(r"(?:[A-Z]\.){2,}|(?:Inc|Corp|Co|Ltd|Jr|Sr|St|Dr)\.", word))
