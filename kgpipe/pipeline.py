"""The build pipeline: load → chunk → extract → fuse → write, one short explicit function.

Incremental and resumable by construction: documents are keyed by content hash and a document is
marked complete only after everything it contributes is written, so

* an unchanged file is skipped without loading a model;
* a changed file is rebuilt and its old version deleted (facts it alone supported go with it);
* an interrupted build redoes only the documents not marked complete, and ``MERGE`` makes the redo
  duplicate-free (the LLM response cache makes it cheap).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator

from .chunk import chunk
from .config import Settings, load_settings
from .extract import extract
from .fuse import fuse
from .load import load
from .progress import bar
from .records import Chunk, Document, ExtractionFailure, GraphBatch, SkippedFile
from .stores import resolve_store
from .write import delete_document, document_index, stats, write

if TYPE_CHECKING:
    from .llms import LLM
    from .stores import Store

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
    failures: list[ExtractionFailure] = field(default_factory=list)
    llm_calls: int = 0
    cache_hits: int = 0
    seconds: float = 0.0
    graph: dict[str, int] = field(default_factory=dict)

    def report(self) -> dict[str, object]:
        """Everything the build did not turn into facts, with reasons: for ``kgpipe build --report FILE``."""
        return {
            "skipped_files": [{"path": s.path, "reason": s.reason} for s in self.skipped],
            "extraction_failures": [
                {"doc_id": f.doc_id, "chunk_id": f.chunk_id, "reason": f.reason, "reply": f.reply} for f in self.failures
            ],
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
            "triples_kept": self.triples_kept,
            "extraction_failures": len(self.failures),
            "llm_calls": self.llm_calls,
            "cache_hits": self.cache_hits,
            "seconds": round(self.seconds, 2),
            "graph": self.graph,
        }


def write_version(batch: GraphBatch, store: "Store", built: dict[str, tuple[str, bool]], batch_size: int) -> bool:
    """Write one document's batch; if its path held another version, delete that one after. True if replaced."""
    write(batch, store, batch_size=batch_size)
    doc = batch.documents[0]
    old = built.get(doc.path)
    if old is not None and old[0] != doc.id:  # the file changed: facts only the old text supported go
        delete_document(store, old[0])
        return True
    return False


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
    from .llms import resolve_llm
    from .ontology import load_ontology

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
    if todo:
        the_llm = resolve_llm(llm if llm is not None else settings.llm, settings)
    with bar(total=len(todo), desc="documents", unit="doc", enabled=settings.progress) as docs_bar:
        for docs, chunks in _groups(todo, settings):
            assert the_llm is not None
            with bar(total=len(chunks), desc="extract", unit="chunk", enabled=settings.progress, leave=False) as b:
                extracted = extract(
                    chunks,
                    the_llm,
                    ontology=ontology,
                    max_new_tokens=settings.max_new_tokens,
                    batch_size=settings.batch_size,
                    on_progress=b.update,
                )
            result.chunks += len(chunks)
            result.triples_proposed += len(extracted.triples)
            result.failures.extend(extracted.failures)
            for batch in fuse(extracted.triples, docs, chunks).values():
                result.triples_kept += len(batch.facts)
                result.documents_replaced += write_version(batch, the_store, built, settings.write_batch)
                result.documents_built += 1
                docs_bar.update(1)
    if the_llm is not None:
        result.llm_calls = getattr(the_llm, "calls", 0)
        result.cache_hits = getattr(the_llm, "hits", 0)
    result.graph = stats(the_store)
    result.seconds = time.perf_counter() - started
    return result
