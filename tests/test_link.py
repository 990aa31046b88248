"""Entity linking: exact (names, aliases, underscores), fuzzy with blocking, embedding fallback, clear failures."""

from __future__ import annotations

import pytest

from kgpipe.errors import KgpipeError, NoEntityLinked
from kgpipe.qa.link import EntityLinker, link_key

ENTITIES = [
    ("mc", "Marie Curie", ["Maria Skłodowska"]),
    ("pc", "Pierre Curie", []),
    ("c", "Curie", []),
    ("fr", "frederica_of_mecklenburg-strelitz", []),
    ("par", "Paris", []),
    ("hostile", "O'Brien `x` \"} DETACH DELETE n //", []),
    ("ibm", "International Business Machines", ["IBM"]),
]


class _FarApart:
    """A stand-in sentence encoder whose vectors are all far apart (the real MiniLM is in the slow test)."""

    def encode(self, texts, **kwargs):
        import numpy as np

        vectors = np.random.default_rng(len(texts)).normal(size=(len(texts), 384))
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)  # random unit vectors: cosine near 0


@pytest.fixture(scope="module")
def linker() -> EntityLinker:
    from kgpipe.llms.embed import Embedder

    return EntityLinker(ENTITIES, embedder=Embedder(_FarApart()))


def test_exact_longest_match_wins(linker):
    links = linker.link("Where was the husband of Marie Curie born?")
    assert [(lk.id, lk.method, lk.score) for lk in links] == [("mc", "exact", 1.0)]  # not "Curie" alone


def test_underscores_and_spaces_are_the_same(linker):
    assert linker.link("which nationality is frederica_of_mecklenburg-strelitz 's couple ?")[0].id == "fr"
    assert linker.link("Who married Frederica of Mecklenburg Strelitz?")[0].id == "fr"
    assert link_key("frederica_of_mecklenburg-strelitz") == link_key("Frederica of Mecklenburg-Strelitz")


def test_aliases_and_several_entities(linker):
    assert linker.link("Whom did Maria Sklodowska marry?")[0].id == "mc"
    ids = {lk.id for lk in linker.link("Did IBM open an office in Paris?")}
    assert ids == {"ibm", "par"}


def test_fuzzy_match_on_typos(linker):
    links = linker.link("where was marie cuire born")
    assert links[0].id == "mc" and links[0].method == "fuzzy" and 0.8 <= links[0].score < 1
    assert linker.link("what happened in Pariss")[0].id == "par"


def test_fuzzy_uses_blocking_not_a_scan():
    many = [(str(i), f"person number {i:05d} of {['york', 'kent', 'bath'][i % 3]}", []) for i in range(20_000)]
    linker = EntityLinker([*many, ("x", "Zanzibar Harbour", [])])
    assert linker.link("ships in zanzibar harbuor")[0].id == "x"
    # the blocking keys of the question's tokens reach only names sharing a token or an affix
    assert len(linker._blocks.get("zanz…", ())) == 1


@pytest.mark.slow
def test_embedding_fallback_when_nothing_matches_by_name():
    linker = EntityLinker([("nyc", "New York City", []), ("ldn", "London", [])])
    links = linker.link("What is the population of the big apple NYC metropolis?")
    assert links and links[0].method in {"embedding", "fuzzy"}


def test_hostile_name_links_like_any_other(linker):
    links = linker.link("""what did o'brien `x` "} detach delete n // say?""")
    assert links[0].id == "hostile" and links[0].name == ENTITIES[5][1]


def test_nothing_links_raises_a_clear_error(linker):
    with pytest.raises(NoEntityLinked) as info:
        linker.link("What is the meaning of life?")
    message = str(info.value)
    assert "exact" in message and "fuzzy" in message and "embedding" in message and "7 entities" in message
    assert isinstance(info.value, KgpipeError)
    with pytest.raises(NoEntityLinked, match="no entities"):
        EntityLinker([]).link("Who is Marie Curie?")
    assert linker._embedder.encoded > 0  # the embedding stage really ran before giving up


def test_from_store_reads_names_and_aliases(settings, store, import_kb):
    import_kb([("marie_curie", "spouse", "pierre_curie")])
    linker = EntityLinker.from_store(store)
    assert len(linker) == 2
    assert [lk.name for lk in linker.link("who was the spouse of marie curie")] == ["marie_curie"]
