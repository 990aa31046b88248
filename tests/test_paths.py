"""Reasoning paths on small graphs imported into the real FalkorDB: enumeration, serialisation, verification."""

from __future__ import annotations

import pytest

from kgpipe.fusion.fuse import entity_id
from kgpipe.qa.link import EntityLinker
from kgpipe.qa.paths import GraphPath, Hop, match_text, parse_path, paths_around, provenance, serialise, verify

KB = """\
marie_curie\tspouse\tpierre_curie
pierre_curie\tplace_of_birth\tparis
marie_curie\tplace_of_birth\twarsaw
paris\tcapital_of\tfrance
france\tcontains\tparis
O'Brien `x`\tworks for\tAcme "Corp"
"""


@pytest.fixture
def kb(import_kb):
    return import_kb(KB)


def _texts(paths: list[GraphPath]) -> set[str]:
    return {p.text() for p in paths}


def test_one_and_two_hop_paths_in_both_directions_without_cycles(kb, store):
    one = paths_around(store, [entity_id("marie_curie")], hops=1)
    assert _texts(one) == {"marie curie -> spouse -> pierre curie", "marie curie -> place of birth -> warsaw"}
    two = paths_around(store, [entity_id("marie_curie")], hops=2)
    texts = _texts(two)
    assert "marie curie -> spouse -> pierre curie -> place of birth -> paris" in texts
    assert all(len(p) <= 2 for p in two) and len([p for p in two if len(p) == 2]) == 1
    # walked backwards from pierre: his spouse relation as stored is marie -> pierre
    back = _texts(paths_around(store, [entity_id("pierre_curie")], hops=2))
    assert "pierre curie <- spouse <- marie curie -> place of birth -> warsaw" in back
    assert "paris -> capital of -> france" in _texts(paths_around(store, [entity_id("paris")], hops=2))


def test_a_path_passes_an_entity_again_only_through_a_fact_it_has_not_walked_the_other_way(kb, store, import_kb):
    paris = entity_id("paris")
    paths = paths_around(store, [paris], hops=3)
    texts = _texts(paths)
    # "what contains the place paris is the capital of?": paris, through the second fact
    assert "paris -> capital of -> france -> contains -> paris" in texts
    assert "paris <- contains <- france <- capital of <- paris" in texts
    # and on from there (PathQuestion's "X's child's mother's son" passes X again)
    assert "paris -> capital of -> france -> contains -> paris <- place of birth <- pierre curie" in texts
    # a fact walked again only the way the path walked it before, once back at its start ("the spouse of X's
    # wife's husband"); never back along the fact just walked, nor any fact both ways
    assert "paris -> capital of -> france -> contains -> paris -> capital of -> france" in texts
    assert "paris -> capital of -> france <- capital of <- paris" not in texts
    for p in paths:
        ways: dict[tuple[str, str, str], set[bool]] = {}
        for h in p.hops:
            ways.setdefault((h.head_id, h.relation, h.tail_id), set()).add(h.forward)
        assert all(len(w) == 1 for w in ways.values()), p.text()
    assert any(len({(h.head_id, h.tail_id) for h in p.hops}) < len(p) for p in paths)
    # a path of one hop never closes (there is no fact from an entity to itself here)
    assert all(len(p) >= 2 for p in paths if p.end[0] == paris)
    # one fact is never walked back; a symmetric relation stored both ways is two facts, walked one after the other
    # ("the wife of X's husband" is X, which `ask` offers only when no one else is reached that way: test_ask)
    marie = entity_id("marie_curie")
    assert not [p.text() for p in paths_around(store, [marie], hops=2) if p.end[0] == marie]
    import_kb([("pierre_curie", "spouse", "marie_curie")], "mirror.tsv")
    assert "marie curie -> spouse -> pierre curie -> spouse -> marie curie" in _texts(paths_around(store, [marie], hops=2))


def test_predicted_links_are_not_facts(kb, store):
    store.execute(
        "MATCH (a:Entity {id: $a}), (b:Entity {id: $b}) CREATE (a)-[:PREDICTED {relation: 'spouse', score: 0.9}]->(b)",
        {"a": entity_id("warsaw"), "b": entity_id("france")},
        write=True,
    )
    paths = paths_around(store, [entity_id("warsaw")], hops=2)
    assert paths and not any(entity_id("france") in p.node_ids for p in paths)
    assert _texts(paths_around(store, [entity_id("warsaw")], hops=1)) == {"warsaw <- place of birth <- marie curie"}


def test_serialise_and_parse_round_trip(kb, store):
    path = next(p for p in paths_around(store, [entity_id("pierre_curie")], hops=2) if len(p) == 2 and not p.hops[0].forward)
    text = serialise(path)
    assert text.startswith(" pierre curie <- spouse <- marie curie") and text.endswith(" </PATH>")
    assert parse_path(text) == [("pierre curie", "spouse", "marie curie", False), ("marie curie", "place of birth", "warsaw", True)]
    assert parse_path(" a -> b") is None and parse_path(" a -> r <- b </PATH>") is None


def test_verify_is_false_once_a_fact_is_gone(kb, store):
    paths = paths_around(store, [entity_id("marie_curie")], hops=2)
    assert all(verify(store, paths))
    fake = GraphPath((Hop(entity_id("marie_curie"), "marie_curie", "spouse", entity_id("paris"), "paris"),))
    assert verify(store, [fake]) == [False]
    store.execute(
        "MATCH (:Entity {id: $h})-[r]->(:Entity {id: $t}) DELETE r",
        {"h": entity_id("pierre_curie"), "t": entity_id("paris")},
        write=True,
    )
    checks = dict(zip((p.text() for p in paths), verify(store, paths)))
    assert checks["marie curie -> spouse -> pierre curie -> place of birth -> paris"] is False
    assert checks["marie curie -> spouse -> pierre curie"] is True


def test_hostile_names_travel_as_parameters(kb, store):
    start = entity_id("O'Brien `x`")
    paths = paths_around(store, [start], hops=2)
    assert _texts(paths) == {"O'Brien `x` -> works for -> Acme \"Corp\""}
    assert verify(store, paths) == [True]
    linker = EntityLinker.from_store(store)
    assert linker.link("who does o'brien `x` work for?")[0].id == start
    assert match_text(store, serialise(paths[0]), linker.names) == paths[0]


def test_match_text_finds_stored_paths_and_rejects_invented_ones(kb, store):
    names = EntityLinker.from_store(store).names
    found = match_text(store, " marie curie -> spouse -> pierre curie -> place of birth -> paris </PATH>", names)
    assert found is not None and found.end[1] == "paris" and verify(store, [found]) == [True]
    assert match_text(store, " marie_curie -> spouse -> pierre_curie -> place_of_birth -> paris </PATH>", names) == found
    assert match_text(store, " marie curie -> spouse -> pierre curie -> place of birth -> warsaw </PATH>", names) is None
    assert match_text(store, " marie curie -> married -> pierre curie </PATH>", names) is None
    assert match_text(store, " nobody -> spouse -> pierre curie </PATH>", names) is None


def test_provenance_names_the_imported_file(kb, store):
    paths = paths_around(store, [entity_id("marie_curie")], hops=1)
    sources = provenance(store, paths)
    assert all(hop["documents"][0]["path"] == str(kb.resolve()) for per_path in sources for hop in per_path)


def test_two_wordings_of_one_statement_do_not_close_a_loop(kb, store, import_kb):
    """"Where is IBM headquartered?" answered "IBM" through ``IBM -> headquartered in -> New York <- is
    headquartered in <- IBM``: facts whose wordings have one normal form state one thing, so that is no loop; a
    fact that says something else still closes one."""
    import_kb([("IBM", "headquartered in", "New York"), ("IBM", "is headquartered in", "New York"),
               ("IBM", "founded in", "New York")], "ibm.tsv")  # fmt: skip
    ibm = entity_id("IBM")
    loops = [[h.relation for h in p.hops] for p in paths_around(store, [ibm], hops=2) if p.end[0] == ibm]
    assert loops, "the founding fact closes a loop with either wording"
    assert all("founded in" in relations for relations in loops), loops
