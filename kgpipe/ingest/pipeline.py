"""The build pipeline: load → chunk → [denoise] → extract → judge → fuse → write → resolve conflicts.

Incremental and resumable by construction: documents are keyed by content hash and a document is
marked complete only after everything it contributes is written, so

* an unchanged file is skipped without loading a model;
* a changed file is rebuilt and its old version deleted (facts it alone supported go with it);
* an interrupted build redoes only the documents not marked complete, and ``MERGE`` makes the redo
  duplicate-free (the LLM response cache makes it cheap);
* a document the store refuses to write (a ``StoreError``) has what it wrote removed again
  (``write.undo_write``), is listed in ``write_failures`` and is retried by the next build; the other
  documents are built. A lost store (``StoreUnavailable``) still stops the build.

A chunk's failure never stops a build: a chunk whose LLM requests (denoise, extraction, judging) still
fail after the backend's retries is recorded as a ``ChunkFailure`` and left out, the other chunks and
documents go on, and its document is written with its other facts but not marked complete, so the
next build redoes it, sending requests (through the response cache) only for the failed chunks.
Triples of a chunk that could not be judged are not written. A judge calibration that fails counts
as a judge failure of every chunk.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator

from .chunk import chunk
from ..config import Settings, load_settings
from ..errors import LLMError, StoreError, StoreUnavailable
from .extract import extract
from ..fusion.fuse import EntityIndex, fuse
from .load import load
from ..progress import bar
from ..records import Chunk, ChunkFailure, Document, ExtractionFailure, GraphBatch, SkippedFile, Triple, WriteFailure
from ..stores import resolve_store
from .write import document_index, stats, undo_write, write_version

if TYPE_CHECKING:
    from ..llms import LLM
    from ..ontology import Ontology
    from ..stores import Store
    from ..trust.calibrate import Calibration
    from ..trust.judge import JudgeResult, Rejection

log = logging.getLogger(__name__)


@dataclass
class BuildResult:
    """What a build did; ``summary()`` is what the CLI prints at the end."""

    documents_seen: int = 0
    documents_built: int = 0
    documents_unchanged: int = 0
    documents_replaced: int = 0
    skipped: list[SkippedFile] = field(default_factory=list)
    chunks: int = 0
    triples_proposed: int = 0
    triples_kept: int = 0  # distinct facts written (repeats within a document merged)
    triples_rejected: int = 0  # by the judge (listed in ``report()``)
    failures: list[ExtractionFailure] = field(default_factory=list)
    write_failures: list[WriteFailure] = field(default_factory=list)  # documents rolled back, built next time
    failed_chunks: list[ChunkFailure] = field(default_factory=list)  # LLM requests failed after retries
    documents_incomplete: int = 0  # written without their failed chunks, not marked complete
    judge_signals: list[str] = field(default_factory=list)  # the signals the judge combined
    judge_missing: dict[str, str] = field(default_factory=dict)  # signal -> why the judge ran without it
    rejected: list["Rejection"] = field(default_factory=list)
    conflicts: dict[str, object] = field(default_factory=dict)
    llm_calls: int = 0
    cache_hits: int = 0
    seconds: float = 0.0
    graph: dict[str, int] = field(default_factory=dict)

    def report(self) -> dict[str, object]:
        """Everything the build did not turn into facts, with reasons: for ``kgpipe build --report FILE``."""
        return {
            "skipped_files": [{"path": s.path, "reason": s.reason} for s in self.skipped],
            "failed_chunks": [
                {"doc_id": f.doc_id, "chunk_id": f.chunk_id, "stage": f.stage, "reason": f.reason}
                for f in self.failed_chunks
            ],
            "extraction_failures": [
                {"doc_id": f.doc_id, "chunk_id": f.chunk_id, "reason": f.reason, "reply": f.reply} for f in self.failures
            ],
            "rejected_triples": [r.as_dict() for r in self.rejected],
            "write_failures": [{"doc_id": f.doc_id, "path": f.path, "reason": f.reason} for f in self.write_failures],
        }

    def summary(self) -> dict[str, object]:
        return {
            "documents": self.documents_seen,
            "documents_built": self.documents_built,
            "documents_unchanged": self.documents_unchanged,
            "documents_replaced": self.documents_replaced,
            "skipped": [{"path": s.path, "reason": s.reason} for s in self.skipped],
            "chunks": self.chunks,
            "triples_proposed": self.triples_proposed,
            "triples_rejected": self.triples_rejected,
            "triples_kept": self.triples_kept,
            "extraction_failures": len(self.failures),
            "write_failures": len(self.write_failures),
            "failed_chunks": len(self.failed_chunks),
            "documents_incomplete": self.documents_incomplete,
            **({"judge_signals": self.judge_signals} if self.judge_signals else {}),
            **({"judge_missing": self.judge_missing} if self.judge_missing else {}),
            "llm_calls": self.llm_calls,
            "cache_hits": self.cache_hits,
            "conflicts": {k: v for k, v in self.conflicts.items() if k != "relations"},
            "seconds": round(self.seconds, 2),
            "graph": self.graph,
        }


def _roll_back(batch: GraphBatch, store: "Store", exc: StoreError) -> WriteFailure:
    """Undo a document's failed write; the failure as the report lists it."""
    doc = batch.documents[0]
    log.warning("could not write %s, rolled back (the next build retries it): %s", doc.path, exc)
    undo_write(batch, store)
    return WriteFailure(doc.id, doc.path, str(exc))


def _groups(docs: Iterable[Document], settings: Settings) -> Iterator[tuple[list[Document], list[Chunk]]]:
    """Documents with their chunks, grouped so that each LLM call can fill a whole batch."""
    docs_acc: list[Document] = []
    chunks_acc: list[Chunk] = []
    for doc in docs:
        docs_acc.append(doc)
        chunks_acc.extend(chunk(doc, max_tokens=settings.chunk_tokens, overlap=settings.chunk_overlap))
        if len(chunks_acc) >= settings.batch_size * 4:
            yield docs_acc, chunks_acc
            docs_acc, chunks_acc = [], []
    if docs_acc:
        yield docs_acc, chunks_acc


def build(
    paths: str | Path | Iterable[str | Path],
    settings: Settings | None = None,
    *,
    llm: "LLM | str | None" = None,
    store: "Store | str | None" = None,
) -> BuildResult:
    """Build (or update) the knowledge graph from files and folders; returns what was done.

    >>> result = build("data/sample")                     # doctest: +SKIP
    >>> result.summary()["graph"]["facts"]                # doctest: +SKIP
    """
    from ..trust.calibrate import calibration_for
    from ..trust.conflicts import resolve_conflicts
    from ..llms import resolve_llm
    from ..ontology import load_ontology

    settings = settings or load_settings()
    started = time.perf_counter()
    result = BuildResult()
    the_store = resolve_store(store if store is not None else settings.store, settings)
    built = document_index(the_store)  # path -> (doc id, complete)
    built_ids = {doc_id for doc_id, complete in built.values() if complete}
    todo: list[Document] = []
    for doc in load(paths, on_skip=result.skipped.append):
        result.documents_seen += 1
        if doc.id in built_ids:
            result.documents_unchanged += 1
        else:
            todo.append(doc)
    for skip in result.skipped:
        log.warning("skipped %s: %s", skip.path, skip.reason)

    the_llm = None
    ontology = load_ontology(settings.ontology) if settings.ontology else None
    calibration: "Calibration | LLMError | None" = None
    if todo:
        the_llm = resolve_llm(llm if llm is not None else settings.llm, settings)
        if settings.judge:
            try:
                calibration = calibration_for(the_llm, settings)
            except LLMError as exc:  # nothing saved; every chunk's judging fails, so the next build retries
                log.warning("judge calibration of %s failed: %s", the_llm.model_id, exc)
                calibration = exc
        index = EntityIndex.from_store(the_store)  # new mentions fuse into the graph's existing entities
    with bar(total=len(todo), desc="documents", unit="doc", enabled=settings.progress) as docs_bar:
        for docs, chunks in _groups(todo, settings):
            assert the_llm is not None
            failed_before = len(result.failed_chunks)
            triples = _extract_and_judge(chunks, the_llm, ontology, calibration, settings, result)
            unfinished = {f.doc_id for f in result.failed_chunks[failed_before:]}
            for batch in fuse(triples, docs, chunks, index).values():
                complete = batch.documents[0].id not in unfinished
                docs_bar.update(1)
                try:
                    result.documents_replaced += write_version(
                        batch, the_store, built, settings.write_batch, complete=complete
                    )
                except StoreUnavailable:
                    raise
                except StoreError as exc:
                    result.write_failures.append(_roll_back(batch, the_store, exc))
                    continue
                result.triples_kept += len(batch.facts)
                result.documents_built += 1
                result.documents_incomplete += not complete
    for failure in result.failed_chunks:
        log.warning("chunk %s of document %s failed (%s): %s", failure.chunk_id, failure.doc_id, failure.stage, failure.reason)
    if todo:  # new facts may conflict with old ones; the marks are recomputed over the whole graph
        result.conflicts = resolve_conflicts(the_store, ontology)
    if the_llm is not None:
        result.llm_calls = getattr(the_llm, "calls", 0)
        result.cache_hits = getattr(the_llm, "hits", 0)
    result.graph = stats(the_store)
    result.seconds = time.perf_counter() - started
    return result


def _extract_and_judge(
    chunks: list[Chunk],
    llm: "LLM",
    ontology: "Ontology | None",
    calibration: "Calibration | LLMError | None",
    settings: Settings,
    result: BuildResult,
) -> list[Triple]:
    """Triples of these chunks that pass the judge (all of them with ``judge = false``); counts and
    chunk failures go to ``result``. ``calibration`` is the judge's, the error that prevented it, or None
    (no judge)."""

    show = settings.progress
    source = chunks
    if settings.denoise:  # extraction reads the rewrite; provenance and judging keep the original chunk
        source = _denoise(chunks, llm, settings, result)
    with bar(total=len(chunks), desc="extract", unit="chunk", enabled=show, leave=False) as b:
        extracted = extract(
            source, llm, ontology=ontology, max_new_tokens=settings.max_new_tokens,
            batch_size=settings.batch_size, on_progress=b.update,
        )
    result.chunks += len(chunks)
    result.triples_proposed += len(extracted.triples)
    result.failures.extend(extracted.failures)
    result.failed_chunks.extend(extracted.failed)
    if calibration is None or not extracted.triples:
        return list(extracted.triples)
    by_chunk: dict[str, list[Triple]] = {}
    for t in extracted.triples:
        by_chunk.setdefault(t.provenance.chunk_id if t.provenance else "", []).append(t)
    doc_of = {c.id: c.doc_id for c in chunks}
    if isinstance(calibration, LLMError):
        reason = f"judge calibration failed: {calibration}"
        result.failed_chunks.extend(ChunkFailure(cid, doc_of.get(cid, ""), "judge", reason) for cid in by_chunk)
        return []
    chunks_by_id = {c.id: c for c in chunks}
    try:
        judged = [_judge(extracted.triples, chunks_by_id, llm, ontology, calibration, settings)]
    except LLMError:  # one chunk at a time, so that only the chunks that keep failing fail
        judged = []
        for cid, ts in by_chunk.items():
            try:
                judged.append(_judge(ts, chunks_by_id, llm, ontology, calibration, settings))
            except LLMError as exc:
                result.failed_chunks.append(ChunkFailure(cid, doc_of.get(cid, ""), "judge", str(exc)))
    kept: list[Triple] = []
    for j in judged:
        kept.extend(j.kept)
        result.rejected.extend(j.rejected)
        result.triples_rejected += len(j.rejected)
        result.judge_signals = sorted(set(result.judge_signals) | set(j.weights))
        result.judge_missing.update(j.missing)
    return kept


def _judge(
    triples: list[Triple], chunks_by_id: dict[str, Chunk], llm: "LLM", ontology: "Ontology | None",
    calibration: "Calibration", settings: Settings,
) -> "JudgeResult":
    from ..trust.judge import judge

    return judge(
        triples, chunks_by_id, llm, ontology=ontology, threshold=settings.judge_threshold,
        calibration=calibration, batch_size=max(8, settings.batch_size),
    )


def _denoise(chunks: list[Chunk], llm: "LLM", settings: Settings, result: BuildResult) -> list[Chunk]:
    """Rewritten chunks; on a failed request one chunk at a time, leaving out (and recording) those that fail."""
    from .denoise import denoise

    def run(part: list[Chunk]) -> list[Chunk]:
        return denoise(part, llm, batch_size=settings.batch_size, max_new_tokens=settings.max_new_tokens)

    try:
        return run(chunks)
    except LLMError:
        out: list[Chunk] = []
        for c in chunks:
            try:
                out.extend(run([c]))
            except LLMError as exc:
                result.failed_chunks.append(ChunkFailure(c.id, c.doc_id, "denoise", str(exc)))
        return out
