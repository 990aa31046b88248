"""The judge: grounding, combination and threshold (scripted scorer), calibration, and the real Gemma."""

from __future__ import annotations

import math

import pytest

from kgpipe.ontology import load_ontology
from kgpipe.records import Chunk, Provenance, Triple
from kgpipe.trust.calibrate import (
    CALIBRATION_EXAMPLES,
    CALIBRATION_SET,
    Calibration,
    auroc,
    calibrate,
    calibration_for,
    corrupted,
    fit_logistic,
    known_calibration,
)
from kgpipe.trust.judge import Rejection, combine, judge
from kgpipe.trust.signals import grounding, lexical, verbalise

# Source sentences and true triples that are not in the calibration set; false = tail of the next one.
CASES = [
    ("Tamsin Hale (born 1974) is a Welsh poet who lives in Cardiff.", "Tamsin Hale", "lives in", "Cardiff"),
    ("The Oster Canal connects the town of Lingen with the river Ems.", "Oster Canal", "connects to", "Ems"),
    ("Kirovo is a village in the Pleven Province of northern Bulgaria.", "Kirovo", "located in", "Pleven Province"),
    ("The Falcon Theatre was designed by the architect Hugo Brandt.", "Falcon Theatre", "designed by", "Hugo Brandt"),
    ("Marta Lindqvist plays for the Swedish handball club IK Sävehof.", "Marta Lindqvist", "plays for", "IK Sävehof"),
    ("The Crane Medal is awarded by the Royal Society of Surveyors.", "Crane Medal", "awarded by", "Royal Society of Surveyors"),
    ("Port Alder is a harbour town on the island of Vancouver Island.", "Port Alder", "located on", "Vancouver Island"),
    ("The film Quiet Water was produced by Lantern Pictures in 2016.", "Quiet Water", "produced by", "Lantern Pictures"),
]


def _triples_and_chunks(cases):
    chunks, true, false = {}, [], []
    for i, (text, head, relation, tail) in enumerate(cases):
        chunk = Chunk(f"c{i}", "d", 0, text, 0, len(text))
        chunks[chunk.id] = chunk
        prov = Provenance("d", chunk.id, "test")
        true.append(Triple(head, relation, tail, provenance=prov))
        false.append(Triple(head, relation, cases[(i + 1) % len(cases)][3], provenance=prov))
    return chunks, true, false


class ScoringLLM:
    """A scripted scorer: a continuation is likely when its words occur in the context. Records requests."""

    model_id = "scripted-scorer"

    def __init__(self):
        self.requests: list[tuple[str, str]] = []

    def generate(self, prompts, *, max_new_tokens=128, stop=()):
        return ["" for _ in prompts]

    def logprob(self, contexts, continuations):
        self.requests.extend(zip(contexts, continuations))
        out = []
        for context, cont in zip(contexts, continuations):
            words = cont.strip(" .").lower().split()
            out.append(sum(0.0 if w in context.lower() else -3.0 for w in words) - len(words))
        return out


def test_verbalisation_and_grounding():
    assert verbalise(Triple("La Albuera", "isPartOf", "Extremadura")) == "La Albuera is part of Extremadura."
    assert verbalise(Triple("A", "BORN_IN", "B")) == "A born in B."
    assert grounding("Fejér County", "a village in Fejer county") == 1.0  # diacritics and case
    assert grounding("Baltimore , Maryland", "in Baltimore, Maryland.") == 1.0  # punctuation
    assert grounding("Thailand", "a Thai sailor") == 0.75  # a close variant
    assert grounding("Karnatka", "the state of Karnataka") == 0.75  # a misspelling
    assert grounding("Ulm", "born in Munich") == 0.0
    assert grounding("1998", "opened in 1944") == 0.0  # numbers match exactly or not at all
    assert grounding("the Roland Park district", "the Roland Park neighbourhood") == pytest.approx(2 / 3)
    assert lexical(Triple("Nadap", "country", "Ulm"), "Nadap is in Hungary") == 0.0  # the weaker end counts


def test_combination_is_a_weighted_mean_of_present_signals():
    assert combine({"lexical": 1.0, "likelihood": 0.5}, {"lexical": 0.3, "likelihood": 0.1}) == pytest.approx(0.875)
    assert combine({"lexical": 0.2}, {"lexical": 0.3, "likelihood": 0.2}) == pytest.approx(0.2)
    assert combine({"lexical": 0.4, "yes_no": 0.9}, {"yes_no": 0.0}) == 0.4  # nothing weighted: grounding alone


def test_threshold_confidence_and_rejections_with_a_scripted_scorer():
    chunks, true, false = _triples_and_chunks(CASES)
    llm = ScoringLLM()
    cal = Calibration("scripted-scorer", weights={"lexical": 0.3, "likelihood": 0.2, "yes_no": 0.0}, curves={"likelihood": (2.0, 0.0)})
    result = judge(true + false, chunks, llm, threshold=0.5, calibration=cal)
    assert {(t.head, t.tail) for t in result.kept} == {(t.head, t.tail) for t in true}
    assert all(0.5 <= t.confidence <= 1.0 for t in result.kept)
    assert len(result.rejected) == len(false) and all(isinstance(r, Rejection) for r in result.rejected)
    for r in result.rejected:
        assert r.score < 0.5 and r.triple.confidence == r.score and set(r.signals) == {"lexical", "likelihood"}
        assert r.as_dict()["chunk_id"] == r.triple.provenance.chunk_id
    assert result.weights == {"lexical": 0.3, "likelihood": 0.2}
    assert not any(" Yes" == cont for _, cont in llm.requests)  # a signal weighted 0 costs no call
    strict = judge(true, chunks, llm, threshold=1.01, calibration=cal)
    assert not strict.kept and len(strict.rejected) == len(true)  # rejected, never dropped


def test_weights_override_and_backends_that_cannot_score():
    chunks, true, _ = _triples_and_chunks(CASES[:2])
    llm = ScoringLLM()
    result = judge(true, chunks, llm, weights={"yes_no": 1.0, "likelihood": 0.0, "lexical": 0.0})
    assert result.weights == {"yes_no": 1.0} and any(cont == " Yes" for _, cont in llm.requests)

    class GenerateOnly:
        model_id = "generate-only"

        def generate(self, prompts, *, max_new_tokens=128, stop=()):
            return ["" for _ in prompts]

    result = judge(true, chunks, GenerateOnly())
    assert result.weights == {"lexical": 0.22} and all(t.confidence == 1.0 for t in result.kept)
    orphan = judge([Triple("A", "r", "B")], chunks, None)  # no source chunk: judged against nothing
    assert not orphan.kept and orphan.rejected[0].score == 0.0


def test_ontology_domain_and_range():
    onto = load_ontology("general")
    text = "Marie Curie was born in Warsaw."
    chunks = {"c": Chunk("c", "d", 0, text, 0, len(text))}
    prov = Provenance("d", "c", "test")
    fits = Triple("Marie Curie", "born in", "Warsaw", "Person", "City", provenance=prov)
    clash = Triple("Marie Curie", "born in", "Warsaw", "City", "Person", provenance=prov)
    result = judge([fits, clash], chunks, None, ontology=onto, threshold=0.0)
    by_type = {t.head_type: t.confidence for t in result.kept}
    assert by_type["Person"] == 1.0 and by_type["City"] == pytest.approx(0.22 / 0.42, abs=1e-4)


def test_calibration_arithmetic_and_cache(settings):
    assert auroc([3, 4], [1, 2]) == 1.0 and auroc([1], [1]) == 0.5 and auroc([1, 2], [3, 4]) == 0.0
    a, b = fit_logistic([0, 1, 2, 3], [0, 0, 1, 1])
    assert a > 0 and -b / a == pytest.approx(1.5, abs=1e-6)
    swapped = [t for text, t, kind in corrupted(CALIBRATION_SET) if kind == "swapped"]
    assert len(swapped) == len(CALIBRATION_SET)
    assert all(t.tail.casefold() not in text.casefold() for (text, *_), t in zip(CALIBRATION_SET, swapped))
    llm = ScoringLLM()
    cal = calibration_for(llm, settings)
    assert cal.auroc["lexical"] > 0.6 and cal.weights["lexical"] == pytest.approx(cal.auroc["lexical"] - 0.5, abs=1e-4)  # well above chance
    assert set(cal.curves) == {"likelihood", "yes_no"} and cal.pairs == 2 * CALIBRATION_EXAMPLES
    assert len(llm.requests) == 4 * 3 * CALIBRATION_EXAMPLES  # 2 likelihood + 2 yes/no (no YesNoScorer) per claim
    n = len(llm.requests)
    assert calibration_for(llm, settings) == cal and len(llm.requests) == n  # read back, not measured again


def test_real_gemma_ranks_true_above_tail_swapped(gemma):
    """The default model: the combined confidence ranks each true triple above its tail-swapped copy."""
    chunks, true, false = _triples_and_chunks(CASES)
    scored: list[int] = []  # what a progress bar is told
    result = judge(true + false, chunks, gemma, threshold=0.0, on_progress=scored.append)
    assert sum(scored) == 2 * len(true + false)  # likelihood: each claim with and without its text
    conf = {(t.head, t.tail): t.confidence for t in result.kept}
    wins = sum(conf[(t.head, t.tail)] > conf[(f.head, f.tail)] for t, f in zip(true, false))
    assert wins >= 0.75 * len(CASES), conf
    assert result.weights.keys() == {"lexical", "likelihood"}  # Gemma's defaults: yes/no is at chance


def test_real_gemma_likelihood_alone_beats_chance(gemma):
    """The likelihood-ratio signal by itself, without grounding, still separates true from swapped."""
    chunks, true, false = _triples_and_chunks(CASES)
    result = judge(true + false, chunks, gemma, threshold=0.0, weights={"lexical": 0.0, "likelihood": 1.0})
    conf = {(t.head, t.tail): t.confidence for t in result.kept}
    assert auroc([conf[(t.head, t.tail)] for t in true], [conf[(f.head, f.tail)] for f in false]) > 0.6


@pytest.mark.slow
def test_real_gemma_calibration(gemma):
    """Measure the signals on part of the built-in set: grounding and likelihood beat chance, weights follow."""
    cal = calibrate(gemma, CALIBRATION_SET[:16])
    assert cal.auroc["lexical"] > 0.6 and cal.auroc["likelihood"] > 0.55
    # weight = AUROC lead over chance, or 0 when that lead is within two standard errors of chance
    n_true, n_false = 16, cal.pairs
    for name in ("lexical", "likelihood"):
        lead = cal.auroc[name] - 0.5
        significant = lead > 2 * math.sqrt((n_true + n_false + 1) / (12 * n_true * n_false))
        assert cal.weights[name] == pytest.approx(lead if significant else 0.0, abs=1e-3)
    assert cal.weights["lexical"] > 0


def test_backend_whose_scoring_fails_falls_back_to_grounding():
    class NoEcho(ScoringLLM):
        model_id = "no-echo"

        def logprob(self, contexts, continuations):
            raise NotImplementedError("server returns no prompt logprobs")

    chunks, true, false = _triples_and_chunks(CASES[:3])
    result = judge(true + false, chunks, NoEcho())
    assert result.weights == {"lexical": 0.22} and len(result.kept) == 3 and len(result.rejected) == 3


def test_packaged_calibration_names_the_packaged_model(settings):
    """The shipped Gemma calibration is used for exactly the packaged weights; any other model is measured."""
    from kgpipe.llms import GEMMA_MODEL_ID

    class Other(ScoringLLM):
        model_id = "hf:some-other-model"

    measured = calibration_for(Other(), settings)
    assert measured.pairs > 0 and set(measured.auroc) >= {"lexical", "likelihood"}

    class Packaged(ScoringLLM):
        model_id = GEMMA_MODEL_ID

    shipped = calibration_for(Packaged(), settings)
    assert shipped.pairs == 0 and shipped.weights["likelihood"] > 0  # shipped, not measured on first use
    assert shipped.auroc["likelihood"] - 0.5 == pytest.approx(shipped.weights["likelihood"])  # and reported


def test_known_calibration_is_the_packaged_models_without_loading_it(settings, tmp_path):
    """What a Ray driver ships without loading Gemma: ``calibration_for``'s answer for the packaged model (its
    saved calibration when there is one, else the shipped one); other backends need the backend."""
    from dataclasses import replace

    from kgpipe.llms import GEMMA_MODEL_ID

    class Packaged(ScoringLLM):
        model_id = GEMMA_MODEL_ID

    fresh = replace(settings, state_dir=str(tmp_path / "state"))
    assert known_calibration("gemma", fresh) == calibration_for(Packaged(), fresh)
    saved = calibration_for(Packaged(), fresh, refresh=True)  # measured and saved: no longer the shipped one
    assert saved.pairs > 0 and known_calibration("gemma", fresh) == saved
    assert known_calibration("hf:some-other-model", fresh) is None
    assert known_calibration("openai:x@http://127.0.0.1:9/v1", fresh) is None
