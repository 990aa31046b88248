"""kgpipe.ingest.snap: an HTTP backend's triples held to the grounded grammar, rule by rule, then a build through
the fake OpenAI server whose stored names are all spans of their chunks."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pytest

from kgpipe.ingest.relations import Canonicaliser
from kgpipe.ingest.snap import SnapCounts, find_span, grounded, snap, snap_name
from kgpipe.ingest.spans import Span
from kgpipe.ontology import load_ontology
from kgpipe.records import Provenance, Triple

TEXT = "Marie Curie, née Skłodowska, was born in Warsaw. She married Pierre Curie in 1895."


def spans(*names: str) -> list[Span]:
    return [Span(n, TEXT.index(n), TEXT.index(n) + len(n), "entity") for n in names]


SPANS = spans("Marie Curie", "Skłodowska", "Warsaw", "Pierre Curie", "1895")


class NoEmbedder:
    def encode(self, texts: Sequence[str]) -> np.ndarray:
        raise AssertionError(f"no embedding needed, asked for {list(texts)}")


def test_find_span_ignores_case_punctuation_and_spacing_but_needs_whole_words() -> None:
    assert find_span("marie curie", TEXT) == "Marie Curie"
    assert find_span("Marie  Curie,", TEXT) == "Marie Curie"
    assert find_span("curie nee", TEXT) is None  # "née" is not "nee": diacritics count
    assert find_span("Curie née Skłodowska", TEXT) == "Curie, née Skłodowska"  # the text's own spelling
    assert find_span("arsa", TEXT) is None and find_span("Warsaw She", TEXT) == "Warsaw. She"
    assert find_span("", TEXT) is None and find_span("...", TEXT) is None
    assert grounded("PIERRE CURIE", TEXT) and not grounded("Paris", TEXT)


def test_snap_name_keeps_snaps_or_drops() -> None:
    assert snap_name("warsaw", TEXT, SPANS) == ("Warsaw", "kept")
    assert snap_name("Marie Curei", TEXT, SPANS) == ("Marie Curie", "snapped")  # a typo
    assert snap_name("Curie Pierre", TEXT, SPANS) == ("Pierre Curie", "snapped")  # word order
    assert snap_name("Paris", TEXT, SPANS) == (None, "dropped")
    assert snap_name("1896", TEXT, SPANS) == (None, "dropped")  # close to "1895", but another number
    assert snap_name("in 1895s", TEXT, SPANS, threshold=60) == ("1895", "snapped")
    assert snap_name("Marie Curei", TEXT, SPANS, threshold=99) == (None, "dropped")
    assert snap_name("Marie Curei", TEXT, []) == (None, "dropped")


def test_snap_counts_every_rule() -> None:
    prov = Provenance("d", "c", "m")
    triples = [
        Triple("marie curie", "was born in", "Warsaw", provenance=prov),  # kept, respelled; relation normalised
        Triple("Marie Curei", "married", "Pierre Curie", provenance=prov),  # head snapped
        Triple("Marie Curie", "born in", "Paris", provenance=prov),  # tail dropped
        Triple("Marie Curie", "is", "Marie Curei", provenance=prov),  # head == tail after snapping
        Triple("Marie Curie", "born in", "warsaw", provenance=prov),  # the first, reworded: kept for its wording
    ]
    out, counts = snap(triples, TEXT, SPANS, Canonicaliser(None, NoEmbedder()))
    assert [(t.head, t.relation, t.tail, t.wording) for t in out] == [
        ("Marie Curie", "born in", "Warsaw", "was born in"),
        ("Marie Curie", "married", "Pierre Curie", "married"),
        ("Marie Curie", "born in", "Warsaw", "born in"),
    ]
    assert out[0].provenance == prov
    assert counts.as_dict() == {"names_kept": 7, "names_snapped": 2, "names_dropped": 1, "relations_snapped": 1,
                                "relations_dropped": 0, "triples_dropped": 2}  # fmt: skip


def test_with_an_ontology_a_relation_no_label_is_close_to_drops_its_triple() -> None:
    class Far:  # every text its own random direction: nothing is close to anything
        def encode(self, texts: Sequence[str]) -> np.ndarray:
            rows = [np.random.default_rng(abs(hash(t)) % 2**32).standard_normal(512) for t in texts]
            return np.stack([r / np.linalg.norm(r) for r in rows]) if rows else np.zeros((0, 512))

    canon = Canonicaliser(load_ontology("general"), Far())
    triples = [Triple("Marie Curie", "was born in", "Warsaw"), Triple("Marie Curie", "admired", "Pierre Curie"),
               Triple("Pierre Curie", "married", "Marie Curie")]  # fmt: skip
    out, counts = snap(triples, TEXT, SPANS, canon)
    assert [(t.relation, t.wording) for t in out] == [("born in", "was born in"), ("spouse of", "married")]
    assert (counts.relations_snapped, counts.relations_dropped, counts.triples_dropped) == (2, 1, 1)


def test_counts_add_up() -> None:
    a, b = SnapCounts(names_kept=2, triples_dropped=1), SnapCounts(names_kept=1, names_dropped=3)
    a.add(b)
    assert a.as_dict()["names_kept"] == 3 and a.names_dropped == 3 and a.triples_dropped == 1


# -- a build through an HTTP backend in grounded mode -------------------------------------------------

DOCS = {
    "curie.txt": ("Marie Curie was born in Warsaw. She married Pierre Curie in 1895.",
                  "Marie Curei | was born in | warsaw\nMarie Curie | married | Pierre Curie\nMarie Curie | born in | Paris\n"
                  "Marie Curie | won | the Nobel Prize\nEND"),
    "ibm.txt": ("IBM is headquartered in Armonk, New York.",
                "IBM | is headquartered in | Armonk, New York\nIBM Corporation | based in | Armonk\nEND"),
}  # fmt: skip


@pytest.mark.parametrize("mode", ["grounded", "free"])
def test_http_build_in_grounded_mode_stores_only_spans_of_each_chunk(settings, store, tmp_path, mode) -> None:
    from fake_openai import FakeOpenAI, chat
    from kgpipe.ingest.pipeline import build

    def behave(path, body, n):
        text = body["messages"][-1]["content"].rsplit("Text:", 1)[-1]
        return 200, {}, chat(next((reply for doc, reply in DOCS.values() if doc in text), "END")), 0

    for name, (text, _) in DOCS.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    fake = FakeOpenAI(behave)
    try:
        s = settings.replace(llm=f"openai:snap-{mode}@{fake.url}", llm_cache=False, judge=False, extraction=mode,
                              resolve_references=False,  # names checked against the chunks as written
                              structured_output="off")  # free replies to snap (structured: tests/test_structured.py)
        result = build(tmp_path, s, store=store)
    finally:
        fake.close()
    mentions = store.execute(
        "MATCH (e:Entity)-[m:FROM_CHUNK]->(c:Chunk) UNWIND m.names AS name RETURN name, c.text"
    ).rows
    assert mentions
    ungrounded = sorted(name for name, text in mentions if not grounded(name, text))
    if mode == "free":  # the same replies, unvalidated: names that are not in the text reach the store
        assert ungrounded and "snapped" not in result.summary()
        return
    assert ungrounded == []
    names = {name for name, _ in mentions}
    assert {"Marie Curie", "Warsaw", "Pierre Curie", "IBM", "Armonk, New York"} <= names and "Paris" not in names
    snapped = result.summary()["snapped"]
    assert snapped["names_dropped"] >= 1 and snapped["names_snapped"] >= 1 and snapped["triples_dropped"] >= 1
    # What the model proposed (6; the build summary says what snapping dropped), and the one fact the place-chain
    # rule reads in "Armonk, New York" (``ingest.patterns``).
    assert result.triples_proposed == 6 + 1 and result.summary()["triples_by_rule"] == {"rule:place-chain": 1}
