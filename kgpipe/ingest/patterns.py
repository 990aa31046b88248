"""Facts a sentence states by its form alone, which a small model reads badly: place chains and life dates.

"a site in Lahore District, Punjab, Pakistan", "the peak on Trinity Peninsula in Graham Land, Antarctica",
"IBM is headquartered in Armonk, New York": names written one after the other, joined only by a comma or by
"in"/"on", each the place that holds the one before. The packaged model relates the sentence's subject to each of
them, often in the wrong relation ("Jallo Park | born in | Lahore District"), and rarely the places to each other.
``place_chains`` reads the chain as written and states each link (``Armonk | located in | New York``) and each name's
link to the chain's last place (``Lahore District | located in | Pakistan``).

A link needs both names to be places, as far as the text tells: spaCy's place labels, a name that ends in a
place word ("Coburg Peak", "Raymond James Stadium", which the small tagger calls persons), a country, US state or city
of the packaged gazetteers (``kgpipe.fusion.places``), or the one name between two places in a comma chain
("Lahore District, Punjab, Pakistan"). Before "in" or "on" an organisation may hold the first place ("Polytechnicum
in Munich"). No link joins two countries or ends in a city or state after a country ("Spain, Hungary, Italy"), nor
runs through a list ("Ontario, Quebec and Manitoba").

"Harald Kaas (19 May 1868 – 5 December 1953) was an architect", "Eros Vlahos (born 13 January 1995)": a person's
name with the dates of a life in parentheses after it. The small model reads the first date as either
(``Harald Kaas | date of death | 19 May 1868``); ``life_dates`` reads the parenthesis: a date after "born" or "b." is
the birth, one after "died" or "d." the death, two dates joined by a dash or "to" the birth and the death. The
model's own date-of-birth and date-of-death lines of that person on those dates (or their years) give way to them.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING, NamedTuple

from ..records import GENERIC_TYPE, Chunk, Provenance, Triple
from .spans import sentence_bounds

if TYPE_CHECKING:
    from ..ontology import Ontology

RELATION = "located in"
BIRTH, DEATH = "date of birth", "date of death"
# A fact's provenance says which rule read it, not the model (``Provenance.extractor``).
EXTRACTOR = "rule:place-chain"
LIFE_EXTRACTOR = "rule:life-dates"
RULES = (EXTRACTOR, LIFE_EXTRACTOR)
PATTERN_VERSION = "patterns.v1"
# Relations a model's line on a chained pair may keep: they state where the first name is, as the chain does. Any
# other relation on that pair ("born in" between two places) gives way to the chain's.
CONTAINMENT = frozenset({"located in", "headquartered in", "capital of", "takes place in"})
PLACE_WORDS = frozenset({
    "peak", "mount", "mountain", "mountains", "range", "hills", "hill", "heights", "ridge", "valley", "glacier",
    "island", "islands", "peninsula", "bay", "inlet", "coast", "lake", "river", "sea", "ocean", "strait", "gulf",
    "park", "forest", "desert", "plateau", "land", "district", "county", "province", "region", "state", "city",
    "town", "village", "municipality", "parish", "borough", "township", "stadium", "arena", "airport", "station",
    "square", "street", "avenue", "bridge", "harbour", "harbor", "port", "nunatak", "nunataks", "cape", "canyon",
})  # fmt: skip
CONTINENTS = frozenset({"africa", "antarctica", "asia", "europe", "north america", "south america", "oceania",
                        "australia"})  # fmt: skip
_LINK = re.compile(r"\s*,\s*|\s+(?:in|on)\s+(?:the\s+)?")
_COMMA = re.compile(r"\s*,\s*")
_LIST_END = re.compile(r"\s*,?\s+(?:and|or)\s+")
_PARENTHESIS = re.compile(r"\s*\(([^()]{4,160})\)")
_BORN = re.compile(r"\b(?:born|b\.)\s*$", re.I)
_DIED = re.compile(r"\b(?:died|d\.)\s*$", re.I)
_YEAR_ONLY = re.compile(r"1\d{3}|20\d{2}")
_RANGE = re.compile(r"\d\s*[–—-]\s*\d")
_DASH = re.compile(r"\s*(?:[–—-]|to)\s*")


class _Name(NamedTuple):
    text: str
    kind: str
    start: int
    end: int


def pattern_triples(chunks: list[Chunk], triples: list[Triple], ontology: "Ontology | None") -> list[Triple]:
    """``triples`` (a model's, from these chunks) with the facts the chunks state by form: place chains
    (``chain_triples``), then life dates (``life_triples``). A rule whose relation the ontology lacks adds nothing."""
    return life_triples(chunks, chain_triples(chunks, triples, ontology), ontology)


def _label(ontology: "Ontology | None", name: str) -> str | None:
    return name if ontology is None else getattr(ontology.relation(name), "label", None)


def chain_triples(chunks: list[Chunk], triples: list[Triple], ontology: "Ontology | None") -> list[Triple]:
    """``triples`` (a model's, from these chunks) with the chunks' place chains added: each chain link is one
    ``located in`` fact with this module's provenance, and replaces a model line on the same two names whose relation
    is not a containment one. Nothing changes under an ontology without ``located in`` (SciERC's)."""
    relation = _label(ontology, RELATION)
    if relation is None:
        return triples
    by_chunk: dict[str, set[frozenset[str]]] = {}
    found: list[Triple] = []
    for chunk in chunks:
        pairs = place_chains(chunk.text)
        if not pairs:
            continue
        prov = Provenance(chunk.doc_id, chunk.id, EXTRACTOR, PATTERN_VERSION, (chunk.start, chunk.end))
        by_chunk[chunk.id] = {frozenset(p) for p in pairs}
        found.extend(Triple(h, relation, t, GENERIC_TYPE, GENERIC_TYPE, 1.0, prov) for h, t in pairs)
    if not found:
        return triples
    kept, stated = [], set()
    for t in triples:
        chained = by_chunk.get(t.provenance.chunk_id if t.provenance else "", set())
        if frozenset((t.head, t.tail)) in chained:
            if t.relation not in CONTAINMENT:
                continue  # the chain says how these two names relate
            stated.add((t.provenance.chunk_id if t.provenance else "", frozenset((t.head, t.tail))))
        kept.append(t)
    kept.extend(t for t in found if (t.provenance.chunk_id, frozenset((t.head, t.tail))) not in stated)  # type: ignore[union-attr]
    return kept


def life_triples(chunks: list[Chunk], triples: list[Triple], ontology: "Ontology | None") -> list[Triple]:
    """``triples`` with each chunk's life dates added (``life_dates``); a model line giving that person a birth or
    death date that is one of those dates, or its year, gives way to them."""
    labels = {BIRTH: _label(ontology, BIRTH), DEATH: _label(ontology, DEATH)}
    found: list[Triple] = []
    read: dict[str, set[tuple[str, str]]] = {}  # chunk id -> (person, a date or its year) the rule has read
    for chunk in chunks:
        prov = Provenance(chunk.doc_id, chunk.id, LIFE_EXTRACTOR, PATTERN_VERSION, (chunk.start, chunk.end))
        for person, which, date in life_dates(chunk.text):
            if labels[which] is None:
                continue
            found.append(Triple(person, labels[which], date, GENERIC_TYPE, GENERIC_TYPE, 1.0, prov))
            read.setdefault(chunk.id, set()).update({(person, date), (person, date[-4:])})
    if not found:
        return triples
    dated = {labels[BIRTH], labels[DEATH]}
    kept = [t for t in triples if not (t.relation in dated and t.provenance is not None
                                       and (t.head, t.tail) in read.get(t.provenance.chunk_id, set()))]  # fmt: skip
    return kept + found


def life_dates(text: str) -> list[tuple[str, str, str]]:
    """``(person, BIRTH or DEATH, date)`` for each parenthesis of life dates right after a person's name."""
    from .grounded import _named_spans

    spans = [_Name(*s) for s in _named_spans(text)]
    out: list[tuple[str, str, str]] = []
    for m in _PARENTHESIS.finditer(text):
        person = next((s for s in spans if s.end == m.start() and s.kind == "Person"), None)
        if person is None:
            continue
        dates = _tiling([s for s in spans if m.start(1) <= s.start and s.end <= m.end(1)
                         and (s.kind == "Date" or _YEAR_ONLY.fullmatch(s.text)) and not _RANGE.search(s.text)],
                        commas=True)  # a range ("1868 – 1953") is read as its two dates
        found: dict[str, str] = {}
        for k, date in enumerate(dates):
            before = text[(dates[k - 1].end if k else m.start(1)) : date.start]
            if _BORN.search(before):
                found.setdefault(BIRTH, date.text)
            elif _DIED.search(before):
                found.setdefault(DEATH, date.text)
            elif k == 1 and _DASH.fullmatch(before) and not _BORN.search(text[m.start(1) : dates[0].start]):
                found.setdefault(BIRTH, dates[0].text)
                found.setdefault(DEATH, date.text)
        out.extend((person.text, which, date) for which, date in found.items())
    return out


def place_chains(text: str) -> list[tuple[str, str]]:
    """``(place, place that holds it)`` pairs the text's place chains state, in text order, each once."""
    from .grounded import _named_spans  # the grounded grammar's names and kinds: one reading of the chunk

    spans = [_Name(*s) for s in _named_spans(text)]
    out: dict[tuple[str, str], None] = {}
    for start, end in sentence_bounds(text):
        names = _tiling([s for s in spans if start <= s.start and s.end <= end])
        for chain in _chains(text, names):
            top = chain[-1].text
            for a, b in zip(chain, chain[1:]):
                out[(a.text, b.text)] = None
            for a in chain[:-2]:
                out[(a.text, top)] = None
    return [p for p in out if p[0] != p[1]]


def _tiling(spans: list[_Name], *, commas: bool = False) -> list[_Name]:
    """The sentence's names one after the other, none inside another: at each place the longest, and unless
    ``commas`` one that holds no comma (``Graham Land, Antarctica`` is two names, both candidates on their own)."""
    spans = sorted((s for s in spans if commas or "," not in s.text), key=lambda s: (s.start, -(s.end - s.start)))
    out: list[_Name] = []
    for s in spans:
        if not out or s.start >= out[-1].end:
            out.append(s)
    return out


def _chains(text: str, names: list[_Name]) -> list[list[_Name]]:
    """Runs of names joined by links (see the module), each as the names from the innermost place out."""
    links = [bool(_LINK.fullmatch(text[a.end : b.start])) for a, b in zip(names, names[1:])]
    commas = [bool(_COMMA.fullmatch(text[a.end : b.start])) for a, b in zip(names, names[1:])]
    chains: list[list[_Name]] = []
    i = 0
    while i < len(names) - 1:
        if not links[i]:
            i += 1
            continue
        j = i
        while j < len(links) and links[j]:
            j += 1
        run = names[i : j + 1]
        listed = j < len(names) - 1 and _LIST_END.fullmatch(text[names[j].end : names[j + 1].start])
        chains.extend(_valid(run, commas[i:j], bool(listed)))
        i = j
    return chains


def _valid(run: list[_Name], commas: list[bool], listed: bool) -> list[list[_Name]]:
    """The parts of a run of joined names whose every link holds (see the module), each of two names or more."""
    places = [_is_place(n) for n in run]
    for k in range(1, len(run) - 1):  # "Lahore District, Punjab, Pakistan": the name between two places is one
        places[k] = places[k] or (commas[k - 1] and commas[k] and places[k - 1] and places[k + 1] and _proper(run[k]))
    if listed and commas and commas[-1]:
        return []  # "Ontario, Quebec and Manitoba": a list, not a chain
    parts: list[list[_Name]] = [[run[0]]]
    for k, comma in enumerate(commas):
        head, tail = run[k], run[k + 1]
        holds = places[k + 1] and _proper(head) and (places[k] or (not comma and head.kind in ("Organization", "")))
        if holds and _country(head.text):  # a country is in no country, city or state; only in its continent
            holds = tail.text.casefold() in CONTINENTS
        if holds:
            parts[-1].append(tail)
        else:
            parts.append([tail])
    return [p for p in parts if len(p) >= 2]


def _is_place(name: _Name) -> bool:
    if name.kind in ("Date", "_number", "Concept") and not _in_gazetteer(name.text):
        return False
    return name.kind == "Place" or name.text.split()[-1].casefold() in PLACE_WORDS or _in_gazetteer(name.text)


def _proper(name: _Name) -> bool:
    """A name, not a kind of thing ("port city") or a number."""
    return name.kind not in ("Date", "Concept") and name.text[:1].isupper()


def _in_gazetteer(name: str) -> bool:
    table = _places()
    return table is not None and _normal(name) in table.key


def _country(name: str) -> bool:
    table = _places()
    key = table.key.get(_normal(name)) if table is not None else None
    return key is not None and table.is_country(key)  # type: ignore[union-attr]


def _normal(name: str) -> str:
    from ..fusion.names import normalise_name

    return normalise_name(name)


@lru_cache(maxsize=1)
def _places():  # type: ignore[no-untyped-def]
    """The packaged gazetteers' table (countries, US states, cities), or None where none is installed."""
    from ..fusion.places import SOURCES, place_table

    try:
        return place_table(SOURCES)
    except ImportError:
        return None
