"""Candidate facts of a group of chunks: [resolve references] → [denoise] → extract → [snap] → [place chains] →
judge, the one sequence that both ``kgpipe build`` and ``kgpipe eval extraction`` run (so what is evaluated is what
is built).

A chunk's failure never stops the stage: a chunk whose LLM requests still fail after the backend's
retries is recorded as a ``ChunkFailure`` (a failing batch is retried one chunk at a time, so only the
chunks that keep failing fail), and the triples of a chunk that could not be judged are left out. A
judge calibration that failed (passed in as the ``LLMError``) fails the judging of every chunk.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from ..config import Settings
from ..errors import ConfigError, LLMError, MissingCapability
from ..llms import local_model, usage
from ..progress import bar
from ..records import Chunk, ChunkFailure, ExtractionFailure, Triple
from ..trust.judge import JudgeResult, Rejection, judge
from .denoise import denoise
from .extract import extract
from .evidence import supported
from .grounded import GroundedStats, extract_grounded
from .patterns import RULES, pattern_triples
from .relations import Canonicaliser
from .snap import SnapCounts, snap_chunks
from .structured import StructuredStats, extract_structured, structured_extraction
from ..references import resolve_chunks

if TYPE_CHECKING:
    from ..llms import LLM
    from ..ontology import Ontology
    from ..trust.calibrate import Calibration


@dataclass
class Candidates:
    """What extraction and judging made of some chunks: the kept triples and everything else, with reasons."""

    kept: list[Triple] = field(default_factory=list)  # all proposed triples when there is no judge
    proposed: int = 0
    failures: list[ExtractionFailure] = field(default_factory=list)  # replies that parse to nothing
    failed_chunks: list[ChunkFailure] = field(default_factory=list)  # LLM requests failed after retries
    rejected: list[Rejection] = field(default_factory=list)
    judge_signals: set[str] = field(default_factory=set)  # the signals the judge combined
    judge_missing: dict[str, str] = field(default_factory=dict)  # signal -> why the judge ran without it
    judge_weights: dict[str, float] = field(default_factory=dict)
    stages: dict[str, dict[str, float]] = field(default_factory=dict)  # seconds, llm_calls, cache_hits per stage
    grounded: GroundedStats = field(default_factory=GroundedStats)  # forward passes etc. of grounded extraction
    read: list[Chunk] = field(default_factory=list)  # the chunks as extraction read them (references resolved)
    snapped: SnapCounts | None = None  # what validation did to an HTTP backend's names and relations (grounded mode)
    structured: StructuredStats = field(default_factory=StructuredStats)  # an HTTP backend's structured output
    by_rule: Counter[str] = field(default_factory=Counter)  # facts read by a rule of ``patterns`` (grounded mode)
    unsupported: int = 0  # grounded lines their text does not support (``evidence.supported``), dropped


def extract_and_judge(
    chunks: list[Chunk],
    llm: "LLM",
    settings: Settings,
    *,
    ontology: "Ontology | None" = None,
    calibration: "Calibration | LLMError | None" = None,
    canonicaliser: Canonicaliser | None = None,
) -> Candidates:
    """Triples of these chunks that pass the judge (all of them when ``calibration`` is None: no judge).

    ``calibration`` is the judge's (``kgpipe.trust.calibrate.calibration_for``) or the error that
    prevented it. With ``settings.resolve_references`` extraction and judging read the chunks with their
    pronouns and "the company"-style references replaced by names (``references.resolve_chunks``).
    Denoising runs when ``settings.denoise``; extraction then reads the rewrite while provenance and
    judging keep the (resolved) chunk. ``canonicaliser``: one shared by the calls of a build,
    so a wording gets the same relation label in every group of chunks (a new one per call otherwise).
    """
    canon = canonicaliser or Canonicaliser(ontology)  # loads MiniLM only when first used
    out = propose(chunks, llm, settings, ontology=ontology, canonicaliser=canon)
    if settings.canonical_relations:
        out.kept = canonicalise_candidates(out, canon)
    return judge_candidates(out, llm, settings, ontology=ontology, calibration=calibration)


def propose(
    chunks: list[Chunk], llm: "LLM", settings: Settings, *, ontology: "Ontology | None", canonicaliser: Canonicaliser,
) -> Candidates:
    """The first half of ``extract_and_judge``: references resolved, [denoised], extracted and (an HTTP model's
    output) snapped; ``kept`` holds every proposed triple, not yet canonicalised nor judged.

    Uses only what the canonicaliser computes from a phrase alone (ontology labels, embeddings), never its
    clusters, so any process may run it; ``canonicalise_candidates`` must then see the groups in build order.
    """
    out = Candidates()

    def timed(name: str, work: Callable[[], Any]) -> Any:
        value, out.stages[name] = measured(llm, work)
        return value

    canon = canonicaliser
    if settings.resolve_references:
        chunks = timed("resolve", lambda: resolve_chunks(chunks))
    out.read = chunks
    source = chunks
    if settings.denoise:
        source = timed("denoise", lambda: _denoise(chunks, llm, settings, out))
    with bar(total=len(chunks), desc="extract", unit="chunk", enabled=settings.progress, leave=False) as b:
        if constrained_extraction(llm, settings):
            # With canonical relations, MiniLM chooses each line's label again once its tail is known.
            encode = canon.embedder.encode if settings.canonical_relations else None
            extracted = timed("extract", lambda: extract_grounded(
                source, llm, ontology=ontology, max_new_tokens=settings.max_new_tokens,
                max_triples=settings.max_triples, on_progress=b.update, stats=out.grounded, encode=encode,
            ))  # fmt: skip
        elif structured_extraction(llm, settings):  # an HTTP server decodes under a JSON schema of the grammar
            encode = canon.embedder.encode if settings.canonical_relations else None
            extracted = timed("extract", lambda: extract_structured(
                source, llm, ontology=ontology, max_new_tokens=settings.max_new_tokens,
                max_triples=settings.max_triples, required=settings.structured_output == "on",
                batch_size=per_call(llm, settings.batch_size), on_progress=b.update, stats=out.structured, encode=encode,
            ))  # fmt: skip
        else:
            extracted = timed("extract", lambda: extract(
                source, llm, ontology=ontology, max_new_tokens=settings.max_new_tokens,
                batch_size=per_call(llm, settings.batch_size), on_progress=b.update,
            ))  # fmt: skip
    out.proposed = len(extracted.triples)
    out.kept = list(extracted.triples)
    if _snaps(llm, settings):
        out.kept, out.snapped = timed("refine", lambda: snap_chunks(out.kept, chunks, canon))
    if settings.extraction == "grounded":
        before = len(out.kept)
        out.kept = supported(out.kept, chunks, ontology)
        out.unsupported = before - len(out.kept)
    if settings.extraction == "grounded" and settings.patterns:
        out.kept = pattern_triples(chunks, out.kept, ontology)
        out.by_rule = Counter(t.provenance.extractor for t in out.kept if t.provenance and t.provenance.extractor
                              in RULES)  # fmt: skip
        out.proposed += sum(out.by_rule.values())
    out.failures.extend(extracted.failures)
    out.failed_chunks.extend(extracted.failed)
    return out


def canonicalise_candidates(out: Candidates, canonicaliser: Canonicaliser) -> list[Triple]:
    """``out.kept`` with canonical relations, from the build's one canonicaliser (its clusters grow group by
    group, so groups must come in build order); the time (no LLM requests) is added to the ``refine`` stage."""
    began = time.perf_counter()
    kept = canonicaliser.canonicalise(out.kept)
    before = out.stages.get("refine", {"seconds": 0.0, "llm_calls": 0, "cache_hits": 0})
    out.stages["refine"] = {**before, "seconds": round(before["seconds"] + time.perf_counter() - began, 2)}
    return list(kept)


def judge_candidates(
    out: Candidates, llm: "LLM", settings: Settings, *, ontology: "Ontology | None",
    calibration: "Calibration | LLMError | None",
) -> Candidates:
    """The last step of ``extract_and_judge``: ``out.kept`` judged against the chunks extraction read (all kept
    when ``calibration`` is None: no judge). Returns ``out``, updated."""
    if calibration is None or not out.kept:
        return out
    triples, out.kept = out.kept, []
    by_chunk: dict[str, list[Triple]] = {}
    for t in triples:
        by_chunk.setdefault(t.provenance.chunk_id if t.provenance else "", []).append(t)
    doc_of = {c.id: c.doc_id for c in out.read}
    if isinstance(calibration, LLMError):
        reason = f"judge calibration failed: {calibration}"
        out.failed_chunks.extend(ChunkFailure(cid, doc_of.get(cid, ""), "judge", reason) for cid in by_chunk)
        return out
    judged, out.stages["judge"] = measured(llm, lambda: _judge_by_chunk(
        triples, by_chunk, out.read, doc_of, llm, ontology, calibration, settings, out))  # fmt: skip
    for j in judged:
        out.kept.extend(j.kept)
        out.rejected.extend(j.rejected)
        out.judge_signals |= set(j.weights)
        out.judge_weights.update(j.weights)
        out.judge_missing.update(j.missing)
    return out


def constrained_extraction(llm: "LLM", settings: Settings) -> bool:
    """Whether extraction decodes under the grounding grammar: asked for, and a local model's logits to constrain
    (an HTTP model's replies are validated and repaired instead)."""
    if settings.extraction not in ("grounded", "free"):
        raise ConfigError(f"extraction must be 'grounded' or 'free', got {settings.extraction!r}")
    if settings.extraction != "grounded":
        return False
    try:
        local_model(llm)
    except MissingCapability:
        return False
    return True


def per_call(llm: LLM, size: int) -> int:
    """Prompts per call to the backend: ``size`` for a local model (its batches, sorted by length and padded, are
    what its memory holds and what its scores were measured with), all at once for any other: an HTTP client keeps
    ``llm_concurrency`` requests in flight over a whole call, so one chunk's few requests no longer wait for the
    chunk before them (README, "Scaling": 1 round of requests per chunk before, 3 sentences per 4 slots)."""
    try:
        local_model(llm)
    except MissingCapability:
        return sys.maxsize
    return size


def measured(llm: "LLM", work: Callable[[], Any]) -> tuple[Any, dict[str, float]]:
    """``work()`` and what it cost: seconds, requests sent to the model and answered by the cache."""
    calls, hits = usage(llm)
    began = time.perf_counter()
    value = work()
    calls2, hits2 = usage(llm)
    cost = {"seconds": round(time.perf_counter() - began, 2), "llm_calls": calls2 - calls, "cache_hits": hits2 - hits}
    return value, cost


def _snaps(llm: "LLM", settings: Settings) -> bool:
    """Whether extraction's output is validated and snapped: grounded mode and a model not decoded here."""
    return settings.extraction == "grounded" and not constrained_extraction(llm, settings)


def _judge_by_chunk(
    triples: list[Triple], by_chunk: dict[str, list[Triple]], chunks: list[Chunk], doc_of: dict[str, str],
    llm: "LLM", ontology: "Ontology | None", calibration: "Calibration", settings: Settings, out: Candidates,
) -> list[JudgeResult]:
    """All triples judged in one go; on a failed request, one chunk at a time, recording the chunks that fail."""
    chunks_by_id = {c.id: c for c in chunks}
    try:
        return [_judge(triples, chunks_by_id, llm, ontology, calibration, settings)]
    except LLMError:
        judged = []
        for cid, ts in by_chunk.items():
            try:
                judged.append(_judge(ts, chunks_by_id, llm, ontology, calibration, settings))
            except LLMError as exc:
                out.failed_chunks.append(ChunkFailure(cid, doc_of.get(cid, ""), "judge", str(exc)))
        return judged


def _judge(
    triples: list[Triple], chunks_by_id: dict[str, Chunk], llm: "LLM", ontology: "Ontology | None",
    calibration: "Calibration", settings: Settings,
) -> JudgeResult:
    with bar(total=None, desc="judge", unit="prompt", enabled=settings.progress, leave=False) as b:
        return judge(
            triples, chunks_by_id, llm, ontology=ontology, threshold=settings.judge_threshold,
            calibration=calibration, batch_size=per_call(llm, max(8, settings.batch_size)), on_progress=b.update,
        )


def _denoise(chunks: list[Chunk], llm: "LLM", settings: Settings, out: Candidates) -> list[Chunk]:
    """Rewritten chunks; on a failed request one chunk at a time, leaving out (and recording) those that fail."""
    def run(part: list[Chunk]) -> list[Chunk]:
        return denoise(part, llm, batch_size=per_call(llm, settings.batch_size), max_new_tokens=settings.max_new_tokens)

    try:
        return run(chunks)
    except LLMError:
        rewritten: list[Chunk] = []
        for c in chunks:
            try:
                rewritten.extend(run([c]))
            except LLMError as exc:
                out.failed_chunks.append(ChunkFailure(c.id, c.doc_id, "denoise", str(exc)))
        return rewritten
