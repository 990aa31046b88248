"""Built-in place aliases (``kgpipe.fusion.places``): the packaged gazetteers' real data, and fusion using them.

Names here are not the gold sets' names (``data/fusion_gold*.jsonl``), so these tests do not restate a tuned figure.
"""

from __future__ import annotations

import pytest

from kgpipe.config import load_settings
from kgpipe.errors import ConfigError
from kgpipe.fusion.match import Node, explain_pair
from kgpipe.fusion.names import analyse, normalise_name
from kgpipe.fusion.places import SOURCES, build_table, parse_sources, place_table, reading, usable
from kgpipe.fusion.resolve import EntityIndex
from kgpipe.records import Entity, MentionIn


def key(name: str, sources: tuple[str, ...] = SOURCES) -> str | None:
    return place_table(sources).key.get(normalise_name(name))


def test_pycountry_joins_renamed_countries_not_merged_ones() -> None:
    # Dahomey kept its ISO numeric code (204) when it became Benin: a change of name.
    assert key("Dahomey", ("pycountry",)) == key("Benin", ("pycountry",)) == key("Republic of Benin", ("pycountry",))
    assert key("New Hebrides", ("pycountry",)) == key("Vanuatu", ("pycountry",))
    assert key("Plurinational State of Bolivia", ("pycountry",)) == key("Bolivia", ("pycountry",))
    # Sikkim joined India (no numeric code carried over): not a name of India.
    assert key("Sikkim", ("pycountry",)) is None
    assert key("Yemen", ("pycountry",)) != key("Democratic Yemen", ("pycountry",))


def test_countryinfo_alternative_spellings_without_codes() -> None:
    assert key("Cabo Verde", ("countryinfo",)) == key("Cape Verde", ("countryinfo",)) is not None
    assert key("CV", ("countryinfo",)) is None and key("CPV", ("countryinfo",)) is None  # ISO codes are no names


def test_geonames_former_and_foreign_names_of_cities() -> None:
    assert key("Pressburg", ("geonames",)) == key("Bratislava", ("geonames",)) is not None
    assert key("Lemberg", ("geonames",)) == key("Lviv", ("geonames",)) is not None
    assert key("Breslau", ("geonames",)) == key("Wrocław", ("geonames",)) is not None
    assert key("Mysore", ("geonames",)) == key("Mysuru", ("geonames",)) is not None


def test_names_two_places_hold_belong_to_neither() -> None:
    # Kingston, Jamaica and Kingston, Ontario: neither ten times the other.
    assert key("Kingston") is None
    # A small town's main name does not take a country's name, a large city's does.
    assert key("Nederland") == key("Netherlands")  # not Nederland, Texas
    assert key("Kingston upon Hull") is not None


def test_build_table_guards() -> None:
    table = build_table(
        [
            ("gn:1", ("Portsmouth",), ("Portsmuth", "Pompey", "Portsmouth Town"), 200_000, "GB"),
            ("gn:2", ("Portsmouth",), ("Strawbery Banke",), 22_000, "US"),
            ("gn:3", ("Lutetia Town",), ("Pompey", "Lutèce"), 21_000, "GB"),
            ("gn:4", ("Tiny",), ("TNY", "東京", "Tiny2"), 15_000, "FR"),
        ]
    )
    assert "portsmouth" not in table.key  # the main name of two entries, neither ten times the other
    assert "pompey" not in table.key  # an alternate name of two entries, main name of none
    assert table.key["portsmuth"] == "gn:1" and table.key["lutece"] == "gn:3"
    assert "gn:4" not in table.names  # codes, other scripts and digits dropped: one name left, it joins nothing
    assert not usable("US") and not usable("NYC") and not usable("an dao er cheng") and usable("Łódź")


def test_reading_iso_names() -> None:
    assert reading("Tanzania, United Republic of") == ["Tanzania", "United Republic of Tanzania"]
    assert reading("Virgin Islands, U.S.") == ["U.S. Virgin Islands"]
    assert reading("Taiwan, Province of China") == ["Taiwan"]


def test_parse_sources() -> None:
    assert parse_sources("geonames, pycountry") == ("pycountry", "geonames")
    assert parse_sources("") == () and parse_sources("off") == ()
    with pytest.raises(ConfigError, match="unknown place alias source wikidata"):
        parse_sources("pycountry,wikidata")


def test_setting_turns_place_aliases_off(tmp_path) -> None:
    (tmp_path / "kgpipe.toml").write_text("place_aliases = \"\"\n")
    assert load_settings(config_file=tmp_path / "kgpipe.toml", environ={}).place_aliases == ""
    assert load_settings(environ={"KGPIPE_PLACE_ALIASES": "geonames"}).place_aliases == "geonames"
    mentions = [MentionIn("Pressburg", "City", "Pressburg was crowned the capital."), MentionIn("Bratislava", "City")]
    on = EntityIndex().resolve(mentions, ner=False)
    off = EntityIndex(places="", lexicon="").resolve(mentions, ner=False)  # WordNet knows Pressburg too
    assert on.ids[0] == on.ids[1]
    assert off.ids[0] != off.ids[1]


def test_fusion_joins_place_names_typed_as_places_or_untyped() -> None:
    r = EntityIndex().resolve(
        [
            MentionIn("Lemberg", "City", "Lemberg was the capital of Galicia."),
            MentionIn("Lviv", "Thing", "Lviv hosts a coffee festival."),
            MentionIn("Dahomey", "Country", "Dahomey became independent in 1960."),
            MentionIn("Benin", "Nation", "Benin exports cotton."),
            MentionIn("Vanuatu", "Country"),
        ],
        ner=False,
    )
    assert r.ids[0] == r.ids[1]
    assert r.ids[2] == r.ids[3] != r.ids[4]


def test_place_aliases_keep_type_vetoes_and_kind_of_place() -> None:
    r = EntityIndex().resolve(
        [
            MentionIn("Varna", "City", "Varna lies on the Black Sea."),
            MentionIn("Stalin", "Person", "Stalin died in 1953."),  # Varna's name 1949-1956, but here a person
            MentionIn("Mysore", "Country"),  # a city's name typed as a country is not the city
            MentionIn("Mysuru", "City"),
        ],
        ner=False,
    )
    assert r.ids[0] != r.ids[1]
    assert r.ids[2] != r.ids[3]


def test_two_countries_names_are_a_veto() -> None:
    niger, nigeria = (Node(i, analyse(n), "PLACE", "named") for i, n in enumerate(("Niger", "Nigeria")))
    niger.place, nigeria.place = key("Niger"), key("Nigeria")
    assert explain_pair(niger, nigeria) == (None, "different countries")
    benin, dahomey = (Node(i, analyse(n), "PLACE", "named") for i, n in enumerate(("Benin", "Dahomey")))
    benin.place, dahomey.place = key("Benin"), key("Dahomey")
    assert explain_pair(benin, dahomey) == (0.95, "place alias")


def test_a_new_name_joins_the_graph_entity_of_its_place() -> None:
    index = EntityIndex([Entity("e-bratislava", "Bratislava", "City", ())])
    r = index.resolve([MentionIn("Pressburg", "City", "The Diet met in Pressburg.")], ner=False)
    assert r.ids == ["e-bratislava"]
    assert "Pressburg" in index.entities["e-bratislava"].aliases


def test_a_shared_place_name_is_two_places_when_its_texts_name_two_of_its_countries() -> None:
    mentions = [
        MentionIn("Hamilton", "City", "Hamilton, the capital of Bermuda, hosts the America's Cup village."),
        MentionIn("Hamilton", "City", "Hamilton lies on the Waikato River, two hours south of Auckland in New Zealand."),
        MentionIn("Hamilton", "City", "The Hamilton Gardens are the most visited site in New Zealand's fourth city."),
        MentionIn("Hamilton", "City", "Hamilton was named after a naval officer."),  # names no country: says nothing
    ]
    assert place_table().shared[normalise_name("Hamilton")] >= {"BM", "NZ"}
    r = EntityIndex().resolve(mentions, ner=False)
    assert r.ids[0] != r.ids[1]
    assert r.ids[1] == r.ids[2]
    off = EntityIndex(places="").resolve(mentions, ner=False)
    assert len(set(off.ids)) == 1  # without the gazetteers one name is one place


def test_words_that_name_kinds_of_things_say_no_country() -> None:
    # "University" is a town in Florida and "River" an alternate name of New Brunswick, New Jersey: neither counts.
    r = EntityIndex().resolve(
        [
            MentionIn("Hamilton", "City", "Hamilton has a University and a River walk."),
            MentionIn("Hamilton", "City", "Hamilton, Bermuda, is small."),
        ],
        ner=False,
    )
    assert r.ids[0] == r.ids[1]
