"""Graph judgement: every candidate triple is verified against its source chunk and given a confidence.

The verdict is a probability read from the model's own scores, combined with evidence that costs no
LLM call (GraphJudger's graph judgement, adapted to base models). Signals (raw values from
``kgpipe.trust.signals``), each a probability in [0, 1]:

* ``likelihood``: how much the source text raises the likelihood of the triple's verbalisation,
  ``(log P(v | text) - log P(v | no text)) / words(v)``, mapped through a logistic curve fitted per
  model (``kgpipe.trust.calibrate``). A base model cannot answer yes/no, but it knows which claims its text makes likely.
* ``yes_no``: ``log P(" Yes") - log P(" No")`` after the versioned judge prompt (``prompts/judge.v2.md``),
  through its own fitted curve; this is what instruction-tuned models are good at. Read in one request
  from a ``YesNoScorer`` (the answer token's top logprobs: OpenAI-style chat endpoints give these
  without prompt echo), else in two from a ``Scorer`` (``logprob`` of each answer).
* ``lexical``: are the head and tail (or close variants: diacritics, case, partial or fuzzy token
  matches) in the source text; the less grounded of the two counts.
* ``ontology``: 1 when the relation's domain and range fit the triple's types, 0 when they do not,
  absent when the ontology cannot tell.

``confidence = sum(w_s * p_s) / sum(w_s)`` over the signals present, with weights from the model's
calibration (``max(0, AUROC - 0.5)`` per signal, 0 within noise of chance); a signal with weight 0
is not computed at all. A signal the calibration weights but the model turns out not to offer (a
server without prompt logprobs) is left out and said so (``JudgeResult.missing``, the build summary).
Triples at or above the threshold are kept with the confidence stored on them; the others are
returned as ``Rejection`` records with their scores, for the build report.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from ..llms import scorer, yes_no_scorer
from ..records import Chunk, Triple
from .calibrate import Calibration, default_calibration
from .signals import LLM_SIGNALS, raw_signals

if TYPE_CHECKING:
    from ..llms import LLM
    from ..ontology import Ontology

log = logging.getLogger(__name__)

DEFAULT_THRESHOLD = 0.3  # tuned for the default model on GenWiki-Hard lines 901-964 (best (head, tail) F1)



@dataclass(frozen=True)
class Rejection:
    """A triple the judge did not keep, with its combined score and the probability from each signal."""

    triple: Triple
    score: float
    signals: dict[str, float]

    def as_dict(self) -> dict[str, Any]:
        """One row of the build report."""
        prov = self.triple.provenance
        return {
            "head": self.triple.head,
            "relation": self.triple.relation,
            "tail": self.triple.tail,
            "score": round(self.score, 4),
            "signals": {k: round(v, 4) for k, v in self.signals.items()},
            "doc_id": prov.doc_id if prov else None,
            "chunk_id": prov.chunk_id if prov else None,
        }


@dataclass
class JudgeResult:
    """Kept triples (confidence set) and rejected ones (with scores); ``weights`` are those actually used."""

    kept: list[Triple] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    weights: dict[str, float] = field(default_factory=dict)
    threshold: float = DEFAULT_THRESHOLD
    missing: dict[str, str] = field(default_factory=dict)  # signal -> why the judge ran without it


def combine(probabilities: Mapping[str, float], weights: Mapping[str, float]) -> float:
    """Weighted mean of the signals present; lexical grounding alone when no present signal has weight."""
    total = sum(weights.get(name, 0.0) for name in probabilities)
    if total <= 0:
        return float(probabilities.get("lexical", 0.0))
    return sum(weights.get(name, 0.0) * p for name, p in probabilities.items()) / total


def judge(
    triples: Sequence[Triple],
    chunks_by_id: Mapping[str, Chunk],
    llm: "LLM | None",
    *,
    ontology: "Ontology | None" = None,
    threshold: float = DEFAULT_THRESHOLD,
    weights: Mapping[str, float] | None = None,
    calibration: Calibration | None = None,
    batch_size: int = 64,
    on_progress: Callable[[int], None] | None = None,
) -> JudgeResult:
    """Score every triple against the text of its source chunk; keep those scoring at least ``threshold``.

    ``calibration`` (from ``kgpipe.trust.calibrate.calibration_for``) gives the weights and probability curves
    measured for ``llm``; without it, defaults measured for the packaged Gemma are used. ``weights``
    override single signals, e.g. ``{"yes_no": 1.0}`` for an instruction-tuned model.
    A triple whose chunk is unknown is judged against an empty text, so it is rejected, never dropped.
    ``on_progress(n)``: called as each batch of ``n`` prompts is scored (one to four per triple, by signal).
    """
    scores_text = scorer(llm) is not None or yes_no_scorer(llm) is not None
    cal = calibration or default_calibration(llm.model_id if llm is not None else "", scores=scorer(llm) is not None)
    used = {name: w for name, w in {**cal.weights, **(weights or {})}.items() if w > 0}
    missing = {name: why for name, why in cal.missing.items() if name not in used}
    if not scores_text:
        missing.update({name: "the model cannot score text" for name in LLM_SIGNALS if name in used})
        used = {name: w for name, w in used.items() if name not in LLM_SIGNALS}
    if ontology is None:
        used.pop("ontology", None)
    texts = [_source(t, chunks_by_id) for t in triples]
    wanted = [name for name in ("likelihood", "yes_no", "lexical") if name in used] or ["lexical"]
    found: dict[str, str] = {}
    raws = raw_signals(triples, texts, llm, wanted=wanted, batch_size=batch_size, missing=found, on_progress=on_progress)
    missing.update(found)
    used = {name: w for name, w in used.items() if name not in found}  # the backend turned out not to offer it
    for name in LLM_SIGNALS:
        if name not in used and name not in missing and name in cal.auroc and name not in (weights or {}):
            missing[name] = f"weight 0: its calibration AUROC {cal.auroc[name]} is within noise of chance"
    result = JudgeResult(weights=used, threshold=threshold, missing=missing)
    for triple, raw in zip(triples, raws):
        probs = {name: (cal.probability(name, v) if name in LLM_SIGNALS else v) for name, v in raw.items()}
        if ontology is not None and "ontology" in used:
            fits = ontology.allows(triple.head_type, triple.relation, triple.tail_type)
            if fits is not None:
                probs["ontology"] = 1.0 if fits else 0.0
        score = round(combine(probs, used), 4)
        judged = replace(triple, confidence=score)
        if score >= threshold:
            result.kept.append(judged)
        else:
            result.rejected.append(Rejection(judged, score, probs))
    return result


def _source(triple: Triple, chunks_by_id: Mapping[str, Chunk]) -> str:
    prov = triple.provenance
    chunk = chunks_by_id.get(prov.chunk_id) if prov is not None else None
    return chunk.text if chunk is not None else ""
