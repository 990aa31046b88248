"""Graph judgement: every candidate triple is verified against its source chunk and given a confidence.

The verdict is a probability read from the model's own scores, combined with evidence that costs no
LLM call (GraphJudger's graph judgement, adapted to base models). Signals, each a probability in [0, 1]:

* ``likelihood``: how much the source text raises the likelihood of the triple's verbalisation,
  ``(log P(v | text) - log P(v | no text)) / words(v)``, mapped through a logistic curve fitted per
  model (``kgpipe.calibrate``). A base model cannot answer yes/no, but it knows which claims its text makes likely.
* ``yes_no``: ``log P(" Yes") - log P(" No")`` after the versioned judge prompt (``prompts/judge.v2.md``),
  through its own fitted curve; this is what instruction-tuned models are good at. Works over HTTP too,
  since both backends score continuations with ``logprob``.
* ``lexical``: are the head and tail (or close variants: diacritics, case, partial or fuzzy token
  matches) in the source text; the less grounded of the two counts.
* ``ontology``: 1 when the relation's domain and range fit the triple's types, 0 when they do not,
  absent when the ontology cannot tell.

``confidence = sum(w_s * p_s) / sum(w_s)`` over the signals present, with weights from the model's
calibration (``max(0, AUROC - 0.5)`` per signal, 0 within noise of chance); a signal with weight 0
is not computed at all.
Triples at or above the threshold are kept with the confidence stored on them; the others are
returned as ``Rejection`` records with their scores, for the build report.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field, replace
from difflib import SequenceMatcher
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from .calibrate import Calibration, default_calibration
from .prompts import prompt
from .records import Chunk, Triple
from .text import fold_diacritics

if TYPE_CHECKING:
    from .llms import LLM
    from .ontology import Ontology

log = logging.getLogger(__name__)

PROMPT_VERSION = "judge.v2"  # v1 ended in a newline, so " Yes" was scored on a line of its own
DEFAULT_THRESHOLD = 0.3  # tuned for the default model on GenWiki-Hard lines 901-964 (best (head, tail) F1)
LLM_SIGNALS = ("likelihood", "yes_no")
# The context a verbalisation is scored after, with and without the source text.
WITH_TEXT = "{text}\nIn short:"
WITHOUT_TEXT = "In short:"

_WORD = re.compile(r"[0-9a-z]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_MINOR = frozenset({"the", "a", "an", "of", "in", "on", "at", "and", "for", "to", "by", "with"})


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


def verbalise(triple: Triple) -> str:
    """The triple as a plain claim: ``"La Albuera is part of Extremadura."``; identifier-like relations
    (``isPartOf``, ``BORN_IN``) become lower-case words, worded ones are kept as written."""
    relation = triple.relation.strip()
    if " " not in relation:
        words = _CAMEL.sub(" ", relation).replace("_", " ").split()
        relation = " ".join(w if w.isupper() and not relation.isupper() else w.lower() for w in words)
    return f"{triple.head} {relation} {triple.tail}."


def _tokens(text: str) -> list[str]:
    return _WORD.findall(fold_diacritics(text).casefold())


def _token_match(token: str, source: set[str]) -> float:
    """1 for the token itself, 0.75 for a close variant (shared stem, small misspelling), else 0."""
    if token in source:
        return 1.0
    if token.isdigit() or len(token) < 4:
        return 0.0  # numbers and short words must match exactly
    for other in source:
        if len(other) < 4 or other.isdigit():
            continue
        shorter = min(len(token), len(other))
        prefix = len(_common_prefix(token, other))
        if prefix >= 4 and prefix >= 0.6 * shorter or SequenceMatcher(None, token, other).ratio() >= 0.85:
            return 0.75
    return 0.0


def _common_prefix(a: str, b: str) -> str:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]


def grounding(name: str, text: str) -> float:
    """How well a name is grounded in a text, in [0, 1]: 1 when it occurs as a phrase (ignoring case,
    diacritics and punctuation), else the mean match of its content words."""
    words = _tokens(name)
    source = _tokens(text)
    if not words or not source:
        return 0.0
    if f" {' '.join(words)} " in f" {' '.join(source)} ":
        return 1.0
    content = [w for w in words if w not in _MINOR] or words
    pool = set(source)
    return sum(_token_match(w, pool) for w in content) / len(content)


def lexical(triple: Triple, text: str) -> float:
    """Grounding of the less grounded of head and tail: a triple is only as grounded as its weaker end."""
    return min(grounding(triple.head, text), grounding(triple.tail, text))


def _logprobs(llm: "LLM", contexts: list[str], continuations: list[str], batch_size: int) -> list[float]:
    out: list[float] = []
    for start in range(0, len(contexts), batch_size):
        out.extend(llm.logprob(contexts[start : start + batch_size], continuations[start : start + batch_size]))  # type: ignore[attr-defined]
    return out


def raw_signals(
    triples: Sequence[Triple],
    texts: Sequence[str],
    llm: "LLM | None",
    *,
    wanted: Sequence[str] = ("likelihood", "yes_no", "lexical"),
    batch_size: int = 64,
) -> list[dict[str, float]]:
    """The raw value of each wanted signal for each (triple, source text); LLM signals only when the model scores.

    ``likelihood``: length-normalised log-likelihood gain from the text; ``yes_no``: log-odds of " Yes"
    over " No"; ``lexical``: grounding in [0, 1].
    """
    rows: list[dict[str, float]] = [{} for _ in triples]
    if "lexical" in wanted:
        for row, t, text in zip(rows, triples, texts):
            row["lexical"] = lexical(t, text)
    if llm is None or not hasattr(llm, "logprob"):
        return rows
    try:
        _llm_signals(rows, triples, texts, llm, wanted, batch_size)
    except NotImplementedError as exc:  # e.g. an HTTP server that returns no prompt logprobs
        log.warning("judge: %s cannot score text (%s); using grounding only", llm.model_id, exc)
        for row in rows:
            for name in LLM_SIGNALS:
                row.pop(name, None)
    return rows


def _llm_signals(
    rows: list[dict[str, float]], triples: Sequence[Triple], texts: Sequence[str], llm: "LLM", wanted: Sequence[str], batch_size: int
) -> None:
    claims = [verbalise(t) for t in triples]
    flat = [" ".join(text.split()) for text in texts]
    if "likelihood" in wanted:
        n = len(claims)
        contexts = [WITH_TEXT.format(text=text) for text in flat] + [WITHOUT_TEXT] * n
        scores = _logprobs(llm, contexts, [f" {c}" for c in claims] * 2, batch_size)
        for row, claim, with_text, without in zip(rows, claims, scores[:n], scores[n:]):
            row["likelihood"] = (with_text - without) / max(1, len(claim.split()))
    if "yes_no" in wanted:
        template = prompt(PROMPT_VERSION)
        asks = [template.replace("{text}", text).replace("{fact}", claim) for text, claim in zip(flat, claims)]
        scores = _logprobs(llm, asks * 2, [" Yes"] * len(asks) + [" No"] * len(asks), batch_size)
        for row, yes, no in zip(rows, scores[: len(asks)], scores[len(asks) :]):
            row["yes_no"] = yes - no


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
) -> JudgeResult:
    """Score every triple against the text of its source chunk; keep those scoring at least ``threshold``.

    ``calibration`` (from ``kgpipe.calibrate.calibration_for``) gives the weights and probability curves
    measured for ``llm``; without it, defaults measured for the packaged Gemma are used. ``weights``
    override single signals, e.g. ``{"yes_no": 1.0}`` for an instruction-tuned model.
    A triple whose chunk is unknown is judged against an empty text, so it is rejected, never dropped.
    """
    scores_text = llm is not None and hasattr(llm, "logprob")
    cal = calibration or default_calibration(llm.model_id if llm is not None else "", scores=scores_text)
    used = {name: w for name, w in {**cal.weights, **(weights or {})}.items() if w > 0}
    if not scores_text:
        used = {name: w for name, w in used.items() if name not in LLM_SIGNALS}
    if ontology is None:
        used.pop("ontology", None)
    texts = [_source(t, chunks_by_id) for t in triples]
    wanted = [name for name in ("likelihood", "yes_no", "lexical") if name in used] or ["lexical"]
    raws = raw_signals(triples, texts, llm, wanted=wanted, batch_size=batch_size)
    if raws and not any(name in raws[0] for name in LLM_SIGNALS):  # the backend turned out unable to score
        used = {name: w for name, w in used.items() if name not in LLM_SIGNALS}
    result = JudgeResult(weights=used, threshold=threshold)
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
