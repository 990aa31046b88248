"""kgpipe.ingest.relations: the lexical normal form, ontology mapping and clustering (scripted embedder), and with
the real MiniLM (slow) that one statement's wordings become one label and are all kept on the stored fact."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import pytest

from kgpipe.ingest.relations import Canonicaliser, canonicalise
from kgpipe.ontology import load_ontology
from kgpipe.records import Provenance, Triple
from kgpipe.wording import MAX_WORDS, normal_form

DIM = 64


class ScriptedEmbedder:
    """Unit vectors from a script: texts sharing a topic word get the topic's vector (plus a little of their own),
    any other text a pseudo-random one, nearly orthogonal to everything else. Records what it is asked."""

    def __init__(self, topics: dict[str, int] | None = None) -> None:
        self.topics = topics or {}
        self.asked: list[str] = []

    def _own(self, text: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")
        return np.random.default_rng(seed).standard_normal(DIM)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.asked.extend(texts)
        rows = []
        for text in texts:
            v = self._own(text)
            axes = [axis for word, axis in self.topics.items() if word in text.split()]
            if axes:
                v = v * 0.05
                v[axes] += 1.0
            rows.append(v / np.linalg.norm(v))
        return np.stack(rows) if rows else np.zeros((0, DIM))


class NoEmbedder:
    def encode(self, texts: Sequence[str]) -> np.ndarray:
        raise AssertionError(f"no embedding needed, asked for {list(texts)}")


@pytest.mark.parametrize(("wording", "form"), [
    ("was founded in", "founded in"),
    ("is founded in", "founded in"),
    ("Founded In", "founded in"),
    ("founded_in", "founded in"),
    ("foundedIn", "founded in"),
    ("has been married to", "married to"),
    ("had won", "won"),
    ("had children", "had children"),  # "had" is the verb here, not an auxiliary
    ("has part", "has part"),
    ("is the capital of", "capital of"),
    ("is a", "is a"),
    ("was an", "is a"),
    ("is in", "is in"),
    ("iPhone made in", "iphone made in"),
    ("is headquartered in Armonk", "headquartered in armonk"),
    ("is currently the largest city of", "largest city of"),
    ("", ""),
    ("--", ""),
])  # fmt: skip
def test_normal_form(wording: str, form: str) -> None:
    assert normal_form(wording) == form


def test_no_wording_over_four_words_and_prepositions_stay() -> None:
    for wording in ("was the first woman to win the", "moved from the city of Warsaw to", "is one of the founding members of",
                    "a b c d e f g h"):  # fmt: skip
        form = normal_form(wording)
        assert 0 < len(form.split()) <= MAX_WORDS, form
    assert normal_form("moved from the city of Warsaw to").endswith(" to")


def test_one_wording_needs_no_model_and_keeps_the_chunks_wording() -> None:
    prov = Provenance("d", "c", "m")
    out = canonicalise([Triple("IBM", "was founded in", "1911", provenance=prov),
                        Triple("Apple", "is founded in", "1976", provenance=prov)], embedder=NoEmbedder())  # fmt: skip
    assert [(t.relation, t.wording) for t in out] == [("founded in", "was founded in"), ("founded in", "is founded in")]
    assert out[0].provenance == prov


def test_clusters_by_meaning_take_the_most_frequent_then_shortest_wording() -> None:
    emb = ScriptedEmbedder({"founded": 0, "established": 0, "born": 1})
    triples = [Triple("A", r, "B") for r in ("was founded in", "founded in", "is founded in", "established in", "founded",
                                              "founded", "born in", "likes", "was founded by")]  # fmt: skip
    out = Canonicaliser(None, emb, cluster_threshold=0.8).canonicalise(triples)
    got = {t.wording: t.relation for t in out}
    assert got["was founded in"] == got["founded in"] == got["is founded in"] == "founded in"  # 3 times, "founded" 2
    assert got["established in"] == got["founded"] == "founded in"
    assert got["born in"] == "born in" and got["likes"] == "likes"
    assert got["was founded by"] == "founded by"  # a passive wording never joins the active cluster
    assert len(out) == len(triples)


def test_cluster_leader_order() -> None:
    emb = ScriptedEmbedder({"wed": 0, "married": 0})
    out = Canonicaliser(None, emb).cluster(["married to", "wed", "married to", "wed", "wed"])
    assert out == {"married to": "wed", "wed": "wed"}  # most frequent first
    out = Canonicaliser(None, emb).cluster(["married to", "wed"])
    assert out == {"married to": "wed", "wed": "wed"}  # then fewest words


def test_a_wording_keeps_its_label_in_later_batches() -> None:
    """A build's groups of chunks share one canonicaliser: the same fact in two groups gets one relation."""
    canon = Canonicaliser(None, ScriptedEmbedder({"founded": 0, "born": 1}))
    first = canon.canonicalise(
        [Triple("A", "founded", "B"), Triple("A", "founded", "B"), Triple("C", "was founded in", "D")]
    )
    assert {t.relation for t in first} == {"founded"}
    later = canon.canonicalise(
        [Triple("E", "founded in", "F"), Triple("E", "founded in", "F"), Triple("G", "born in", "H")]
    )
    assert [t.relation for t in later] == ["founded", "founded", "born in"]
    assert (
        Canonicaliser(None, ScriptedEmbedder()).canonicalise([Triple("E", "founded in", "F")])[0].relation
        == "founded in"
    )


@pytest.fixture(scope="module")
def general():
    return load_ontology("general")


def test_ontology_labels_and_aliases_need_no_model(general) -> None:
    canon = Canonicaliser(general, NoEmbedder())
    assert canon.to_labels(["was born in", "BORN_IN", "married", "is the capital of", "is an"]) == [
        "born in", "born in", "spouse of", "capital of", "is a"]  # fmt: skip


def test_ontology_nearest_label_by_meaning_or_kept_or_dropped(general) -> None:
    emb = ScriptedEmbedder({"founded": 0, "set": 0})
    keep = Canonicaliser(general, emb, label_threshold=0.7)
    assert keep.to_labels(["was set up in", "danced with"]) == ["founded in", "danced with"]
    assert "founded in" in emb.asked and "set up in" in emb.asked  # labels and the phrase's normal form
    drop = Canonicaliser(general, emb, label_threshold=0.7, unmapped="drop")
    assert drop.to_labels(["was set up in", "danced with"]) == ["founded in", None]
    triples = [Triple("A", "danced with", "B"), Triple("C", "was set up in", "1911")]
    assert [(t.relation, t.wording) for t in drop.canonicalise(triples)] == [("founded in", "was set up in")]


def test_wordings_no_label_is_close_to_are_clustered(general) -> None:
    emb = ScriptedEmbedder({"founded": 0, "set": 0, "danced": 3, "dances": 3})
    out = Canonicaliser(general, emb, label_threshold=0.7).canonicalise(
        [Triple("A", r, "B") for r in ("danced with", "danced with", "dances with", "was set up in")]
    )
    assert [t.relation for t in out] == ["danced with", "danced with", "danced with", "founded in"]
    assert [t.wording for t in out][2:] == ["dances with", "was set up in"]


def test_passive_phrase_takes_a_passive_label(general) -> None:
    emb = ScriptedEmbedder({"founded": 0, "started": 0})
    assert Canonicaliser(general, emb).to_labels(["started by", "started"]) == ["founded by", "founded in"]


def test_unmapped_must_be_keep_or_drop() -> None:
    with pytest.raises(ValueError):
        Canonicaliser(None, unmapped="maybe")


# -- the real MiniLM ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_minilm_maps_founded_wordings_to_one_label(general) -> None:
    from kgpipe.llms.embed import Embedder

    canon = Canonicaliser(general, Embedder())
    assert canon.to_labels(["founded in", "was founded in", "founded"]) == ["founded in"] * 3
    assert canon.to_labels(["was founded by"]) == ["founded by"]
    clustered = Canonicaliser(None, Embedder()).cluster(["founded in", "was founded in", "founded", "born in"])
    assert clustered == {"founded in": "founded in", "was founded in": "founded in", "founded": "founded in",
                         "born in": "born in"}  # fmt: skip


@pytest.mark.slow
def test_wordings_are_stored_on_the_fact(settings, store, tmp_path) -> None:
    """Two documents state IBM's founding in three wordings: one fact, labelled by the ontology, with all three."""
    from fake_openai import FakeOpenAI, chat
    from kgpipe.ingest.pipeline import build

    replies = {"IBM was founded in 1911": "IBM | was founded in | 1911\nIBM | founded | 1911\nEND",
               "IBM is founded in 1911": "IBM | founded in | 1911\nEND"}  # fmt: skip

    def behave(path, body, n):
        prompt = body["messages"][-1]["content"]
        return 200, {}, chat(next((r for k, r in replies.items() if k in prompt.rsplit("Text:", 1)[-1]), "END")), 0

    (tmp_path / "a.txt").write_text("IBM was founded in 1911.", encoding="utf-8")
    (tmp_path / "b.txt").write_text("IBM is founded in 1911.", encoding="utf-8")
    fake = FakeOpenAI(behave)
    try:
        s = settings.replace(llm=f"openai:wordings@{fake.url}", llm_cache=False, judge=False, ontology="general",
                             canonical_relations=True)  # fmt: skip
        build(tmp_path, s, store=store)
        rows = store.execute("MATCH (:Entity)-[r]->(:Entity) RETURN type(r), r.label, r.wordings").rows
        again = build(tmp_path / "a.txt", s.replace(llm_cache=False), store=store)  # unchanged: nothing rebuilt
    finally:
        fake.close()
    assert len(rows) == 1
    rel_type, label, wordings = rows[0]
    assert label == "founded in" and rel_type == "FOUNDED_IN"
    assert sorted(wordings) == ["founded", "founded in", "was founded in"]
    assert again.documents_unchanged == 1
    assert store.execute("MATCH (:Entity)-[r]->(:Entity) RETURN r.wordings").rows == [[wordings]]
