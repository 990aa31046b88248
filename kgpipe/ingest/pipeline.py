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

from ..config import Settings, load_settings
from ..errors import ConfigError, LLMError, StoreError, StoreUnavailable
from ..fusion.aliases import read_aliases
from ..fusion.fuse import EntityIndex, fuse
from ..progress import bar
from ..records import Chunk, ChunkFailure, Document, ExtractionFailure, GraphBatch, SkippedFile, Triple, WriteFailure
from ..stores import resolve_store
from .candidates import Candidates, extract_and_judge
from .chunk import chunk, chunk_vectors
from .load import load
from .relations import Canonicaliser, Embed
from .write import document_index, stats, undo_write, write_version

if TYPE_CHECKING:
    from ..llms import LLM
    from ..ontology import Ontology
    from ..stores import Store
    from ..trust.calibrate import Calibration
    from ..trust.judge import Rejection
    from .ray_engine import RayBuild

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
    triples_unsupported: int = 0  # grounded lines their sentence does not support (``ingest.evidence``), dropped
    folded: list[Triple] = field(default_factory=list)  # two names of one entity: a fact of a thing with itself
    failures: list[ExtractionFailure] = field(default_factory=list)
    write_failures: list[WriteFailure] = field(default_factory=list)  # documents rolled back, built next time
    failed_chunks: list[ChunkFailure] = field(default_factory=list)  # LLM requests failed after retries
    documents_incomplete: int = 0  # written without their failed chunks, not marked complete
    judge_signals: list[str] = field(default_factory=list)  # the signals the judge combined
    judge_missing: dict[str, str] = field(default_factory=dict)  # signal -> why the judge ran without it
    snapped: dict[str, int] = field(default_factory=dict)  # an HTTP backend's names/relations snapped or dropped
    by_rule: dict[str, int] = field(default_factory=dict)  # facts proposed by a rule of ``patterns``, not the model
    structured_chunks: int = 0  # chunks an HTTP backend extracted under a JSON schema (structured output)
    structured_refused: str = ""  # why the server's structured output was not used, when it refused it
    rejected: list["Rejection"] = field(default_factory=list)
    conflicts: dict[str, object] = field(default_factory=dict)
    llm_calls: int = 0
    cache_hits: int = 0
    seconds: float = 0.0
    graph: dict[str, int] = field(default_factory=dict)

    def add(self, chunks: list[Chunk], found: Candidates) -> None:
        """Count what extraction and judging made of one group of chunks."""
        self.chunks += len(chunks)
        self.triples_proposed += found.proposed
        self.failures.extend(found.failures)
        self.failed_chunks.extend(found.failed_chunks)
        self.rejected.extend(found.rejected)
        self.triples_rejected += len(found.rejected)
        self.triples_unsupported += found.unsupported
        self.judge_signals = sorted(set(self.judge_signals) | found.judge_signals)
        self.judge_missing.update(found.judge_missing)
        self.structured_chunks += found.structured.chunks
        self.structured_refused = self.structured_refused or found.structured.refused
        for rule, n in found.by_rule.items():
            self.by_rule[rule] = self.by_rule.get(rule, 0) + n
        if found.snapped is not None:
            for key, n in found.snapped.as_dict().items():
                self.snapped[key] = self.snapped.get(key, 0) + n

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
            "folded_triples": [{"head": t.head, "relation": t.relation, "tail": t.tail,
                                "chunk_id": t.provenance.chunk_id if t.provenance else None} for t in self.folded],
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
            **({"triples_by_rule": dict(sorted(self.by_rule.items()))} if self.by_rule else {}),
            **({"triples_unsupported": self.triples_unsupported} if self.triples_unsupported else {}),
            "triples_rejected": self.triples_rejected,
            "triples_kept": self.triples_kept,
            **({"triples_folded": len(self.folded)} if self.folded else {}),
            "extraction_failures": len(self.failures),
            "write_failures": len(self.write_failures),
            "failed_chunks": len(self.failed_chunks),
            "documents_incomplete": self.documents_incomplete,
            **({"judge_signals": self.judge_signals} if self.judge_signals else {}),
            **({"judge_missing": self.judge_missing} if self.judge_missing else {}),
            **({"snapped": self.snapped} if self.snapped else {}),
            **({"structured_output_chunks": self.structured_chunks} if self.structured_chunks else {}),
            **({"structured_output_refused": self.structured_refused} if self.structured_refused else {}),
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


def _extract_locally(
    groups: Iterable[tuple[list[Document], list[Chunk]]], llm: "LLM", settings: Settings, ontology: "Ontology | None",
    calibration: "Calibration | LLMError | None", canonicaliser: Canonicaliser,
) -> Iterator[tuple[list[Document], list[Chunk], Candidates]]:
    """The local engine: each group extracted and judged in this process, in order."""
    for docs, chunks in groups:
        found = extract_and_judge(chunks, llm, settings, ontology=ontology, calibration=calibration,
                                  canonicaliser=canonicaliser)  # fmt: skip
        yield docs, chunks, found


def commit_group(
    docs: list[Document], chunks: list[Chunk], found: Candidates, index: EntityIndex, store: "Store",
    built: dict[str, tuple[str, bool]], settings: Settings, result: BuildResult, embedder: Embed | None = None,
) -> None:
    """Fuse one group's kept triples into the build's one ``EntityIndex`` and write each document's batch.

    What every engine does with a group's candidates, in group order, so the graph, its ids and its
    provenance do not depend on where extraction ran. A document with a failed chunk is written but not
    marked complete; one the store refuses is rolled back and listed. With an ``embedder``, each chunk's
    embedding is written too, for the store's vector index on ``Chunk``.
    """
    result.add(chunks, found)
    unfinished = {f.doc_id for f in found.failed_chunks}
    vectors = chunk_vectors(chunks, embedder) if embedder is not None else {}
    for batch in fuse(found.kept, docs, chunks, index).values():
        batch.chunk_vectors = {c.id: vectors[c.id] for c in batch.chunks if c.id in vectors}
        complete = batch.documents[0].id not in unfinished
        try:
            result.documents_replaced += write_version(batch, store, built, settings.write_batch, complete=complete)
        except StoreUnavailable:
            raise
        except StoreError as exc:
            result.write_failures.append(_roll_back(batch, store, exc))
            continue
        result.triples_kept += len(batch.facts)
        result.folded.extend(batch.folded)
        result.documents_built += 1
        result.documents_incomplete += not complete


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
    from ..ontology import load_ontology

    settings = settings or load_settings()
    if settings.engine not in ("local", "ray"):
        raise ConfigError(f"engine must be 'local' or 'ray', got {settings.engine!r}")
    if settings.engine == "ray":
        from .ray_engine import preflight

        preflight(settings)  # ray installed, its cluster reachable: said before any model loads
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

    ontology = load_ontology(settings.ontology) if settings.ontology else None
    ray_build = None
    if todo and settings.engine == "ray":  # Ray and its MiniLM start before the driver chunks anything
        from .ray_engine import RayBuild

        ray_build = RayBuild(settings, ontology)
    try:
        _build_todo(todo, llm if llm is not None else settings.llm, settings, ontology, the_store, built, result,
                    ray_build)  # fmt: skip
    finally:
        if ray_build is not None:
            ray_build.close()
    result.graph = stats(the_store)
    result.seconds = time.perf_counter() - started
    return result


def _build_todo(
    todo: list[Document], spec: "LLM | str", settings: Settings, ontology: "Ontology | None", the_store: "Store",
    built: dict[str, tuple[str, bool]], result: BuildResult, ray_build: "RayBuild | None",
) -> None:
    """The documents to build extracted, judged, fused and written, group by group, on the settings' engine."""
    from ..llms import resolve_llm, usage
    from ..trust.calibrate import calibration_for, known_calibration
    from ..trust.conflicts import resolve_conflicts

    the_llm = None
    calibration: "Calibration | LLMError | None" = None
    # The build's MiniLM: on Ray the embedding actor's, which the actors use too (the driver loads none).
    embed = ray_build.embed if ray_build is not None else lambda: None
    canonicaliser = Canonicaliser(ontology, embed())  # one per build: a wording gets one relation label in every group
    if todo:
        # On Ray the actors resolve the LLM: the driver loads it only to measure a calibration not known yet.
        known = known_calibration(spec, settings) if isinstance(spec, str) and settings.judge else None
        if settings.engine == "ray" and (known is not None or not settings.judge):
            calibration = known
        else:
            the_llm = resolve_llm(spec, settings)
        if the_llm is not None and settings.judge:
            try:
                calibration = calibration_for(the_llm, settings)
            except LLMError as exc:  # nothing saved; every chunk's judging fails, so the next build retries
                log.warning("judge calibration of %s failed: %s", the_llm.model_id, exc)
                calibration = exc
        aliases = [*(ontology.entity_aliases if ontology else ()), *(read_aliases(settings.aliases) if settings.aliases else ())]
        index = EntityIndex.from_store(the_store, aliases=aliases, places=settings.place_aliases, lexicon=settings.name_aliases,
                                       embedder=embed())  # new mentions fuse into the graph's existing entities  # fmt: skip
    with bar(total=len(todo), desc="documents", unit="doc", enabled=settings.progress) as docs_bar:
        if todo:
            if ray_build is not None:  # the same groups, extracted and judged on a Ray cluster, in order
                from .ray_engine import extract_on_ray

                def count(calls: int, hits: int) -> None:
                    result.llm_calls += calls
                    result.cache_hits += hits

                found_groups = extract_on_ray(_groups(todo, settings), spec, settings, ray_build=ray_build,
                                              ontology=ontology, calibration=calibration, canonicaliser=canonicaliser,
                                              on_usage=count)  # fmt: skip
            else:
                assert the_llm is not None
                found_groups = _extract_locally(_groups(todo, settings), the_llm, settings, ontology, calibration,
                                                canonicaliser)  # fmt: skip
            embedder = canonicaliser.embedder if settings.chunk_vectors else None  # chunks embedded for ask's reading
            for docs, chunks, found in found_groups:
                commit_group(docs, chunks, found, index, the_store, built, settings, result, embedder)
                docs_bar.update(len(docs))
    for failure in result.failed_chunks:
        log.warning("chunk %s of document %s failed (%s): %s", failure.chunk_id, failure.doc_id, failure.stage, failure.reason)
    if todo:  # new facts may conflict with old ones; the marks are recomputed over the whole graph
        result.conflicts = resolve_conflicts(the_store, ontology)
    if the_llm is not None:
        calls, hits = usage(the_llm)
        result.llm_calls, result.cache_hits = result.llm_calls + calls, result.cache_hits + hits
