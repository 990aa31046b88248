"""Entity resolution: names, blocking, scoring, clustering, incremental ids (real spaCy NER; MiniLM where used)."""

from __future__ import annotations

import random

import pytest

from kgpipe.fusion.names import analyse, blocking_keys, edit_ratio, normalise_name
from kgpipe.fusion.person_names import person_evidence
from kgpipe.fusion.resolve import EntityIndex, MentionIn, entity_id
from kgpipe.records import Entity


def _same(ids: list[str], *positions: int) -> bool:
    return len({ids[p] for p in positions}) == 1


def test_names_normalise_titles_legal_forms_diacritics_and_initials():
    assert analyse("Dr. Marie Skłodowska-Curie").core == "marie sklodowska curie"
    assert analyse("Apple Inc.").core == "apple" and analyse("Apple Inc.").implied_type == "ORG"
    assert analyse("Nestlé S.A.").core == "nestle" and analyse("U.S.A.").core == "u s a"
    assert analyse("St. Petersburg").core == analyse("Saint Petersburg").core
    assert analyse("IBM").is_acronym and not analyse("Ibm").is_acronym
    assert "ibm" in analyse("International Business Machines Corporation").acronyms
    assert analyse("World War II").numbers != analyse("World War I").numbers
    assert normalise_name("A. Kamor") == "a kamor" and normalise_name("The Beatles") == "beatles"
    keys = set(blocking_keys(analyse("Mary Ann Rida")))
    assert {"n:mary ann rida", "t:rida", "i:m rida", "a:mar"} <= keys


#: ``(a, b, ratio)`` recorded from the hand-written bit-parallel Levenshtein that rapidfuzz replaced.
OLD_EDIT_RATIOS = [
    ("tchaikovsky", "tchaikowsky", 0.9090909090909091),
    ("skłodowska", "sklodowska", 0.9),
    ("microsoft", "microsft", 0.8888888888888888),
    ("munchen", "munich", 0.5714285714285714),
    ("katarzynapierrekola", "katarzysapierfrewola", 0.85),  # exactly at TYPO_RATIO
    ("pierrekarikadortokov", "pierrkpiikadortokov", 0.85),
    ("frederica of mecklenburg strelitz", "frederica of mecklenburg-strelitz", 0.9696969696969697),
    ("iran", "iraq", 0.75),
    ("saint rila", "saint rima", 0.9),
    ("", "abc", 0.0),
    ("curie", "curie", 1.0),
]


@pytest.mark.parametrize("a, b, old", OLD_EDIT_RATIOS)
def test_edit_ratio_gives_the_old_implementations_values(a: str, b: str, old: float):
    assert edit_ratio(a, b) == old and edit_ratio(b, a) == old
    assert edit_ratio(a, b, 0.85) == (old if old >= 0.85 else 0.0)  # a ratio exactly at the floor passes


def test_edit_ratio_matches_the_textbook_definition():
    def slow(a: str, b: str) -> int:
        prev = list(range(len(b) + 1))
        for i, ca in enumerate(a, 1):
            cur = [i]
            for j, cb in enumerate(b, 1):
                cur.append(min(prev[j - 1] + (ca != cb), prev[j] + 1, cur[j - 1] + 1))
            prev = cur
        return prev[-1]

    rng = random.Random(7)
    at_floor = 0
    for k in range(1500):
        a = "".join(rng.choices("abcd", k=rng.randrange(0, 30)))
        if k % 2:  # a few edits of ``a``, so that many pairs land near the floor
            b = list(a)
            for _ in range(rng.randrange(1, 4)):
                pos = rng.randrange(len(b) + 1)
                b[pos:pos + rng.randrange(2)] = rng.choices("abcde", k=rng.randrange(2))
            b = "".join(b)
        else:
            b = "".join(rng.choices("abcd", k=rng.randrange(0, 30)))
        exact = 1.0 - slow(a, b) / max(len(a), len(b), 1)
        assert edit_ratio(a, b) == pytest.approx(exact)
        assert edit_ratio(a, b, 0.8) == (pytest.approx(exact) if exact >= 0.8 - 1e-12 else 0.0)
        at_floor += abs(exact - 0.8) < 1e-12
    assert at_floor > 10  # the boundary, where rapidfuzz's own cutoff is strict, was exercised


def test_person_name_rules():
    def ev(a: str, b: str) -> float | None:
        return person_evidence(analyse(a), analyse(b))

    assert ev("Marie Curie", "Marie Skłodowska-Curie") == 0.9
    assert ev("J. S. Bach", "Johann Sebastian Bach") == 0.9
    assert ev("Bill Gates", "William Gates") == 0.9
    assert ev("Pierre Curie", "Marie Curie") is None
    assert ev("Marie Curie", "Marie Skłodowska") < 0  # apart unless a name bears both surnames


def test_acceptance_aliases_merge_and_homonyms_stay_apart():
    mentions = [
        MentionIn("IBM", "Company"),  # 0
        MentionIn("International Business Machines Corporation"),  # 1
        MentionIn("Marie Curie", "Person"),  # 2
        MentionIn("Marie Skłodowska-Curie"),  # 3
        MentionIn("Marie Skłodowska"),  # 4
        MentionIn("Pierre Curie", "Person"),  # 5
        MentionIn("Jacques Curie", "Person"),  # 6
        MentionIn("apple", "Thing", "An apple is a fruit. Apples grow on the apple tree."),  # 7
        MentionIn("Apple Inc.", "Company"),  # 8
        MentionIn("Apple", "Thing", "Apple Inc. makes phones. In 2007 Apple released the iPhone."),  # 9
        MentionIn("CNN", "Organization", "CNN reported the results of the election."),  # 10
        MentionIn("Cable News Network"),  # 11
        MentionIn("CNN", "Model", "A CNN classifies images with convolutional layers."),  # 12
        MentionIn("convolutional neural network", "Method"),  # 13
        MentionIn("Red Hat", "Company"),  # 14
        MentionIn("Red Hat Enterprise Linux", "Product"),  # 15
        MentionIn("Windows 10"),  # 16
        MentionIn("Windows 11"),  # 17
        MentionIn("Microsoft"),  # 18
        MentionIn("Microsft"),  # 19
    ]
    ids = EntityIndex().resolve(mentions).ids
    assert _same(ids, 0, 1) and _same(ids, 2, 3, 4) and _same(ids, 8, 9) and _same(ids, 10, 11)
    assert _same(ids, 12, 13) and _same(ids, 18, 19)
    assert len({ids[2], ids[5], ids[6]}) == 3
    assert ids[7] != ids[8] and ids[10] != ids[12] and ids[14] != ids[15] and ids[16] != ids[17]


def test_ids_are_deterministic_whatever_the_order():
    mentions = [MentionIn(n) for n in ("IBM", "I.B.M.", "Marie Curie", "Dr. Marie Curie", "Paris", "paris")]
    first = EntityIndex().resolve(mentions, ner=False).ids
    order = list(range(len(mentions)))
    random.Random(3).shuffle(order)
    second = EntityIndex().resolve([mentions[k] for k in order], ner=False).ids
    assert [second[order.index(k)] for k in range(len(mentions))] == first
    assert first[0] == entity_id("IBM") or first[0] == entity_id("I.B.M.")


def test_incremental_resolution_joins_existing_entities_and_never_merges_them():
    index = EntityIndex([
        Entity("e-ibm", "IBM", "Company", ("International Business Machines",)),
        Entity("e-mc", "Marie Curie", "Person"),
        Entity("e-ms", "Marie Skłodowska", "Person"),
        Entity("e-apple", "apple", "Thing"),
    ])  # fmt: skip
    mentions = [
        MentionIn("International Business Machines Corporation"),
        MentionIn("Marie Skłodowska-Curie", "Person"),
        MentionIn("Apple", "Company", "Apple makes the iPhone."),
        MentionIn("apples", "Thing", "She picked apples in the orchard."),
    ]
    result = index.resolve(mentions)
    assert result.ids[0] == "e-ibm" and result.ids[3] == "e-apple"
    assert result.ids[1] in {"e-mc", "e-ms"}  # joins one; the two graph entities stay two
    assert result.ids[2] not in {"e-apple"} and result.ids[2] in result.new
    assert "International Business Machines Corporation" in index.entities["e-ibm"].aliases
    assert result.entities["e-ibm"].name == "IBM"  # a graph entity keeps its name
    again = index.resolve(mentions)
    assert again.ids == result.ids and not again.new  # a re-run creates nothing


def test_homonym_ids_do_not_collide():
    index = EntityIndex([Entity(entity_id("apple"), "apple", "Fruit")])
    result = index.resolve([MentionIn("Apple", "Company")])
    (new,) = result.new
    assert new != entity_id("apple") and result.entities[new].name == "Apple"


def test_blocking_compares_far_fewer_pairs_than_all():
    from kgpipe.bench.synth_mentions import synthetic_mentions

    mentions, truth = synthetic_mentions(3000, seed=5)
    stats = EntityIndex().resolve(mentions, ner=False).stats
    assert stats["candidate_pairs"] < 0.02 * stats["all_pairs"]


@pytest.mark.slow  # MiniLM proposes the pairs
def test_borderline_pairs_go_to_the_adjudicator():
    asked: list[tuple[str, str]] = []

    def adjudicate(pairs):
        asked.extend((a.name, b.name) for a, b in pairs)
        return [{a.name, b.name} == {"Munich", "München"} for a, b in pairs]

    mentions = [MentionIn("Munich", "City"), MentionIn("München", "City"), MentionIn("Warsaw", "City"),
                MentionIn("Poland", "Country"), MentionIn("Bombay", "City"), MentionIn("Bombai", "City")]  # fmt: skip
    # the packaged gazetteers know München as Munich's name (test_fusion_places): off here, where the pair stands
    # for synonyms no table lists
    result = EntityIndex(places="").resolve(mentions, adjudicate=adjudicate)
    assert ("Munich", "München") in asked or ("München", "Munich") in asked  # proposed by MiniLM neighbours
    assert result.ids[0] == result.ids[1] and result.ids[4] != result.ids[5]
    assert result.stats["embedded_names"] >= 6
    plain = EntityIndex(places="").resolve(mentions)  # without an adjudicator the band stays apart
    assert plain.ids[0] != plain.ids[1]


@pytest.mark.slow
def test_llm_adjudicator_with_the_default_model(gemma):
    from kgpipe.fusion.adjudicate import build_prompt, llm_adjudicator

    assert "München (City)" in build_prompt(MentionIn("Munich", "City"), MentionIn("München", "City"))
    verdicts = llm_adjudicator(gemma)([(MentionIn("Munich", "City"), MentionIn("München", "City"))] * 2)
    assert len(verdicts) == 2 and verdicts[0] == verdicts[1] and all(isinstance(v, bool) for v in verdicts)


def test_a_short_name_resolves_in_its_document_first_then_in_the_graph():
    one = "Barack Obama spoke in Chicago. Obama praised the city."
    both = "Barack Obama and Michelle Obama visited a school. Obama spoke first."
    mentions = [
        MentionIn("Barack Obama", "Person", one),  # 0
        MentionIn("Obama", "Person", one),  # 1: the one Obama of its document
        MentionIn("Barack Obama", "Person", both),  # 2
        MentionIn("Michelle Obama", "Person", both),  # 3
        MentionIn("Obama", "Person", both),  # 4: two Obamas in its document: ambiguous
        MentionIn("Mrs. Obama", "Person", both),  # 5: a title and a surname, the same two candidates
    ]
    r = EntityIndex().resolve(mentions, ner=False)
    assert _same(r.ids, 0, 1, 2) and r.ids[3] != r.ids[0]
    assert r.ids[4] not in (r.ids[0], r.ids[3]) and r.ids[5] not in (r.ids[0], r.ids[3])
    assert {a["mention"] for a in r.stats["ambiguous"]} == {"Obama", "Mrs. Obama"}
    # No full name in its own text: the one compatible entity in the graph, and none when the graph has two.
    index = EntityIndex([Entity("e-tolstoy", "Leo Tolstoy", "Person")])
    assert index.resolve([MentionIn("Tolstoy", "Person", "Tolstoy wrote long novels.")], ner=False).ids == ["e-tolstoy"]
    index = EntityIndex([Entity("e-js", "Johann Sebastian Bach", "Person"), Entity("e-cpe", "Carl Philipp Emanuel Bach", "Person")])
    r = index.resolve([MentionIn("Bach", "Person", "Bach taught all his sons.")], ner=False)
    assert r.ids[0] not in ("e-js", "e-cpe") and r.stats["ambiguous"][0]["mention"] == "Bach"
    # A first name alone is read in its document only: Paris of the Iliad is not Paris Hilton.
    r = EntityIndex().resolve([MentionIn("Paris Hilton", "Person"), MentionIn("Paris", "Person", "In the Iliad, Paris abducted Helen.")], ner=False)
    assert r.ids[0] != r.ids[1]


def test_curated_aliases_join_names_no_rule_finds_but_keep_the_type_veto():
    index = EntityIndex([Entity("e-nl", "Netherlands", "Country")], aliases=[("Beijing", "Peking", "Peiping"), ("Netherlands", "Holland")])
    r = index.resolve([MentionIn("Beijing", "City"), MentionIn("Peking", "City"), MentionIn("Peiping"),
                       MentionIn("Holland", "Country"), MentionIn("Peking", "University")], ner=False)  # fmt: skip
    assert _same(r.ids, 0, 1, 2) and r.ids[3] == "e-nl" and r.ids[4] != r.ids[0]
    plain = EntityIndex(places="", lexicon="").resolve([MentionIn("Beijing", "City"), MentionIn("Peking", "City")], ner=False).ids
    assert plain[0] != plain[1]  # without a table (the packaged gazetteers and WordNet off) no rule joins them


def test_facts_of_the_mentions_are_evidence():
    def run(born_a: str, born_b: str) -> bool:
        ids = EntityIndex().resolve([MentionIn("John Paul", "Person", None, (("born in", born_a),)),
                                     MentionIn("John Paul Jones", "Person", None, (("born in", born_b),))], ner=False).ids  # fmt: skip
        return ids[0] == ids[1]

    assert run("Kirkbean", "Kirkbean") and not run("Rome", "Kirkbean")


def test_names_co_mentioned_in_two_texts_join_a_prefix_the_name_alone_keeps_apart():
    def joined(second_text: str, *second_names: tuple[str, str]) -> bool:
        first = "John Paul commanded the Bonhomme Richard when it fought HMS Serapis."
        mentions = [MentionIn("John Paul", "Person", first), MentionIn("Bonhomme Richard", "Ship", first),
                    MentionIn("HMS Serapis", "Ship", first), MentionIn("John Paul Jones", "Person", second_text),
                    *(MentionIn(name, typ, second_text) for name, typ in second_names)]  # fmt: skip
        ids = EntityIndex().resolve(mentions, ner=False).ids
        return ids[0] == ids[3]

    # Two ships named in both texts join them; nothing in common, and the prefix guard holds.
    assert joined("John Paul Jones took HMS Serapis after the Bonhomme Richard sank.", ("HMS Serapis", "Ship"),
                  ("Bonhomme Richard", "Ship"))  # fmt: skip
    assert not joined("John Paul Jones was born in Kirkbean in Scotland.", ("Kirkbean", "Place"), ("Scotland", "Place"))


def test_romanised_names_resolve_to_one_person_and_a_brother_stays_apart():
    mentions = [MentionIn("Pyotr Ilyich Tchaikovsky", "Composer"), MentionIn("Peter Tchaikovsky", "Person"),
                MentionIn("P. I. Chaikovsky", "Person"), MentionIn("Modest Tchaikovsky", "Person"),
                MentionIn("Tschaikowsky", "Composer")]  # fmt: skip
    result = EntityIndex().resolve(mentions, ner=False)
    assert len(set(result.ids[:3])) == 1 and result.ids[3] != result.ids[0]
    # The surname alone could be either brother: apart, and listed as ambiguous; without Modest it joins Pyotr.
    assert result.ids[4] not in (result.ids[0], result.ids[3]) and result.stats["ambiguous"][0]["mention"] == "Tschaikowsky"
    ids = EntityIndex().resolve(mentions[:3] + mentions[4:], ner=False).ids
    assert len(set(ids)) == 1
