"""Clustering and entity assignment (``kgpipe.fusion.cluster``) on hand-built nodes and scored pairs.

Pairs are given directly (codes ``i << 32 | j``), so each rule of the greedy union-find is tested on
its own: best edge first, vetoes, bridgeable surname vetoes, one expansion per acronym, graph
entities; then canonical names and stable ids in ``assign``.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from kgpipe.fusion.cluster import assign, canonical_name, cluster, entity_id
from kgpipe.fusion.match import Node, is_person
from kgpipe.fusion.names import analyse
from kgpipe.records import GENERIC_TYPE, Entity, stable_id


def make(names: list[str], entities: dict[str, str] | None = None) -> list[Node]:
    """One node per name (``entities``: name -> graph entity id it is locked to)."""
    entities = entities or {}
    nodes = []
    for idx, name in enumerate(names):
        n = Node(idx, analyse(name), analyse(name).implied_type, None, entity=entities.get(name))
        n.person = is_person(n)
        n.forms[name] += 1
        nodes.append(n)
    return nodes


def pairs(*ij: tuple[int, int]) -> np.ndarray:
    return np.array([min(i, j) << 32 | max(i, j) for i, j in ij], dtype=np.int64)


def run(nodes: list[Node], edges: dict[tuple[int, int], float], vetoes=(), bridgeable=()) -> list[int]:
    codes = pairs(*edges)
    return cluster(nodes, codes, np.array(list(edges.values()), dtype=np.float64), pairs(*vetoes), pairs(*bridgeable))


def same(roots: list[int], *idx: int) -> bool:
    return len({roots[i] for i in idx}) == 1


def test_entity_id_is_stable_over_spellings_and_qualified_for_homonyms():
    assert entity_id("The Louvre.") == entity_id("louvre") == stable_id("entity", "louvre")
    assert entity_id("Louvre") != entity_id("Louvre", "PLACE")
    assert entity_id("Apple", "ORG") != entity_id("Apple", "LIVING")


def test_edges_join_and_missing_edges_do_not():
    roots = run(make(["A One", "A Two", "A Three"]), {(0, 1): 0.9})
    assert same(roots, 0, 1) and not same(roots, 0, 2)
    assert run(make(["x", "y"]), {}) == [0, 1]


def test_a_veto_stops_the_chain_best_edge_first():
    nodes = make(["Marie Curie", "Marie Skłodowska-Curie", "Pierre Curie"])
    roots = run(nodes, {(0, 1): 0.9, (1, 2): 0.85}, vetoes=[(0, 2)])
    assert same(roots, 0, 1) and not same(roots, 1, 2)
    roots = run(nodes, {(0, 1): 0.85, (1, 2): 0.9}, vetoes=[(0, 2)])  # the better edge wins the middle node
    assert same(roots, 1, 2) and not same(roots, 0, 1)
    assert same(run(nodes, {(0, 1): 0.9, (1, 2): 0.85}), 0, 1, 2)  # without the veto, union-find chains


def test_bridgeable_surnames_join_only_through_a_name_bearing_both():
    nodes = make(["Marie Curie", "Marie Skłodowska", "Marie Skłodowska-Curie"])
    roots = run(nodes, {(0, 2): 0.9, (1, 2): 0.9}, bridgeable=[(0, 1)])
    assert same(roots, 0, 1, 2)
    nodes = make(["Diego Riri-Salinwo", "Diego Selkaxe-Riri", "Diego Riri"])
    roots = run(nodes, {(0, 2): 0.9, (1, 2): 0.85}, bridgeable=[(0, 1)])
    assert same(roots, 0, 2) and not same(roots, 1, 2)
    roots = run(nodes, {(0, 2): 0.9, (1, 2): 0.85}, vetoes=[], bridgeable=[])
    assert same(roots, 0, 1, 2)  # the bridgeable pair is what kept them apart


def test_an_acronym_takes_one_expansion():
    nodes = make(["KS", "Kari Systems", "Kobe Sun"])
    roots = run(nodes, {(0, 1): 0.9, (0, 2): 0.85})
    assert same(roots, 0, 1) and not same(roots, 0, 2)
    # a full name in the middle chains as usual: the rule is about acronyms only
    nodes = make(["Kari Sun", "Kari Systems", "Kobe Sun"])
    assert same(run(nodes, {(0, 1): 0.9, (0, 2): 0.85}), 0, 1, 2)


def test_graph_entities_keep_apart_and_hold_their_names_together():
    nodes = make(["IBM", "I.B.M.", "International Business Machines"], {"IBM": "e1", "I.B.M.": "e1"})
    roots = run(nodes, {})
    assert same(roots, 0, 1) and not same(roots, 0, 2)  # one entity's names are one cluster without any edge
    nodes = make(["Apple", "Apple Inc.", "apple"], {"Apple": "e1", "apple": "e2"})
    roots = run(nodes, {(0, 1): 0.9, (1, 2): 0.85})
    assert same(roots, 0, 1) and not same(roots, 1, 2)  # two graph entities are never merged


def test_assign_new_entities_canonical_name_aliases_and_type():
    nodes = make(["Marie Curie", "Marie Skłodowska-Curie", "Pierre Curie"])
    nodes[0].forms = Counter({"Marie Curie": 3})
    nodes[0].raw = {"marie curie"}
    nodes[0].types = Counter({"Physicist": 2})
    nodes[1].types = Counter({"Chemist": 1})
    ids, entities, new = assign(nodes, [0, 0, 2], {})
    marie = entity_id("Marie Curie")
    assert ids[0] == ids[1] == marie and ids[2] == entity_id("Pierre Curie")
    assert new == {marie, entity_id("Pierre Curie")} == set(entities)
    e = entities[marie]
    assert e.name == "Marie Curie" and e.type == "Physicist"
    assert e.aliases == ("Marie Skłodowska-Curie", "marie curie")  # sorted, the name itself left out
    assert entities[entity_id("Pierre Curie")].type == GENERIC_TYPE  # nobody typed it


def test_assign_homonyms_biggest_gets_the_plain_id_in_any_order():
    def build(order: list[int]) -> dict[int, str]:
        nodes = make(["Apple", "apple"])
        nodes[0].forms, nodes[0].kind, nodes[0].types = Counter({"Apple": 5}), "named", Counter({"Company": 1})
        nodes[1].forms, nodes[1].kind, nodes[1].types = Counter({"apple": 2}), "common", Counter({"Fruit": 1})
        # the same nodes with their indices permuted
        for new_idx, n in zip(order, nodes):
            n.idx = new_idx
        nodes.sort(key=lambda n: n.idx)
        ids, entities, _ = assign(nodes, [n.idx for n in nodes], {})
        return {entities[i].type: i for i in ids.values()}

    first, second = build([0, 1]), build([1, 0])
    assert first == second
    assert first["Company"] == entity_id("Apple")  # 5 mentions beat 2
    assert first["Fruit"] == entity_id("apple", "LIVING", "common", "1")


def test_assign_never_reuses_a_graph_entity_id():
    taken = Entity(entity_id("Paris"), "Paris", "City")
    nodes = make(["Paris"])
    nodes[0].types = Counter({"Person": 1})
    ids, _, new = assign(nodes, [0], {taken.id: taken})
    assert ids[0] != taken.id and ids[0] == entity_id("Paris", "PERSON", "", "1")
    assert new == {ids[0]}


def test_assign_grows_a_graph_entity():
    known = Entity("e1", "IBM", GENERIC_TYPE, ("I.B.M.",))
    nodes = make(["IBM", "International Business Machines"], {"IBM": "e1"})
    nodes[1].types = Counter({"Company": 2})
    ids, entities, new = assign(nodes, [0, 0], {"e1": known})
    assert ids == {1: "e1"} and not new  # the locked node needs no id; nothing new is created
    grown = entities["e1"]
    assert grown.name == "IBM" and grown.aliases == ("I.B.M.", "International Business Machines")
    assert grown.type == "Company"  # a generic type gives way to a specific one
    typed = Entity("e1", "IBM", "Organization", ())
    assert assign(nodes, [0, 0], {"e1": typed})[1]["e1"].type == "Organization"  # a specific type stays
    # a cluster of graph names only changes nothing
    assert assign(nodes[:1], [0], {"e1": known}) == ({}, {}, set())


def test_canonical_name():
    assert canonical_name(Counter({"IBM": 3, "I.B.M.": 1}), None) == "IBM"  # most frequent
    assert canonical_name(Counter({"marie curie": 1, "Marie Curie": 1}), None) == "Marie Curie"  # capitalised
    assert canonical_name(Counter({"Curie": 1, "Marie Curie": 1}), None) == "Marie Curie"  # fuller
    assert canonical_name(Counter({"Apple": 1, "apple": 1}), "common") == "apple"  # shows the kind
    assert canonical_name(Counter({"Apple": 2}), "common") == "apple"  # lower-cased to show it
    assert canonical_name(Counter({"red hat": 2}), "named") == "Red Hat"  # title-cased to show it


def test_a_short_name_joins_its_one_candidate_and_stays_apart_when_it_has_two():
    nodes = make(["Obama", "Barack Obama", "Michelle Obama"])
    codes = pairs((0, 1), (0, 2))
    scores, bare = np.array([0.85, 0.85]), np.array([0, 0], dtype=np.int64)
    ambiguous: list = []
    roots = cluster(nodes, codes, scores, pairs((1, 2)), pairs(), bare, ambiguous)
    assert len(set(roots)) == 3 and ambiguous == [(0, [1, 2])]  # two candidates: apart, and reported
    # Its own document first: "Obama" and "Barack Obama" share a context, "Michelle Obama" is elsewhere.
    nodes[0].contexts, nodes[1].contexts, nodes[2].contexts = {7}, {7}, {8}
    ambiguous = []
    roots = cluster(nodes, codes, scores, pairs((1, 2)), pairs(), bare, ambiguous)
    assert same(roots, 0, 1) and not same(roots, 0, 2) and ambiguous == []
    # Candidates that are one cluster are one candidate.
    nodes[2].contexts = {7}
    roots = cluster(nodes, pairs((0, 1), (0, 2), (1, 2)), np.array([0.85, 0.85, 0.9]), pairs(), pairs(),
                    np.array([0, 0, -1], dtype=np.int64))  # fmt: skip
    assert same(roots, 0, 1, 2)


def test_an_ambiguous_short_name_does_not_join_through_its_other_edges():
    # Two "Obama" nodes (two documents) with the same name: the ambiguous one must not follow the resolved one.
    nodes = make(["Obama", "Obama", "Barack Obama", "Michelle Obama"])
    nodes[0].contexts, nodes[1].contexts, nodes[2].contexts, nodes[3].contexts = {1}, {2}, {1, 2}, {2}
    codes = pairs((0, 1), (0, 2), (1, 2), (1, 3))
    scores = np.array([1.0, 0.85, 0.85, 0.85])
    bare = np.array([-1, 0, 1, 1], dtype=np.int64)
    ambiguous: list = []
    roots = cluster(nodes, codes, scores, pairs((2, 3)), pairs(), bare, ambiguous)
    assert same(roots, 0, 2) and not same(roots, 1, 2) and not same(roots, 1, 3) and [x for x, _ in ambiguous] == [1]
