"""Fusion stage: triples become entities, mentions and facts, with one canonical entity per real-world thing.

Every head and tail is a mention (its name, declared type and source chunk as context); the
``EntityIndex`` resolves them all at once, across documents and against the entities the graph
already has (see ``kgpipe.fusion.resolve``). The output is still one ``GraphBatch`` per document, so a
document is written, and marked complete, on its own. Facts that land on the same
(head, relation, tail) after fusion are merged: provenance unioned, confidence max. A triple between two
different names that fusion finds to be one entity (`Marie Skłodowska-Curie | spouse of | Marie Curie`)
relates a thing to itself through a misread sentence: it is not written but listed (``GraphBatch.folded``).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterable

from ..records import GENERIC_TYPE, Chunk, Document, Entity, Fact, GraphBatch, Mention, MentionIn, Triple
from .names import normalise_name
from .resolve import EntityIndex, Resolution, entity_id

__all__ = ["fuse", "fuse_mentions", "entity_id", "normalise_name", "GENERIC_TYPE", "EntityIndex"]


def fuse(
    triples: Iterable[Triple],
    documents: Iterable[Document],
    chunks: Iterable[Chunk],
    index: EntityIndex | None = None,
    **resolve_options: Any,
) -> dict[str, GraphBatch]:
    """One ``GraphBatch`` per document: its document node, chunks, and the entities and facts it supports.

    ``index``: the graph's entities (``EntityIndex.from_store(store)``), grown in place so that the
    next call sees this one's entities; ``None`` resolves against nothing but these triples.
    ``resolve_options`` go to ``EntityIndex.resolve`` (``adjudicate``, ``ner``, ``embed``...).
    """
    index = index if index is not None else EntityIndex()
    batches: dict[str, GraphBatch] = {d.id: GraphBatch(documents=[d]) for d in documents}
    text: dict[str, str] = {}
    for c in chunks:
        batches[c.doc_id].chunks.append(c)
        text[c.id] = c.text
    triples = list(triples)
    for t in triples:
        assert t.provenance is not None, "extracted triples always carry provenance"
    resolution = fuse_mentions(triples, text, index, **resolve_options)
    by_doc: dict[str, list[tuple[Triple, str, str]]] = defaultdict(list)
    for k, t in enumerate(triples):
        assert t.provenance is not None
        by_doc[t.provenance.doc_id].append((t, resolution.ids[2 * k], resolution.ids[2 * k + 1]))
    for doc_id, resolved in by_doc.items():
        _fill(batches[doc_id], resolved, resolution.entities)
    return batches


def fuse_mentions(
    triples: list[Triple], chunk_text: dict[str, str], index: EntityIndex, **resolve_options: Any
) -> Resolution:
    """Resolve every triple's head and tail (ids at ``2k`` and ``2k + 1``), each with its chunk as context."""
    mentions: list[MentionIn] = []
    for t in triples:
        context = chunk_text.get(t.provenance.chunk_id) if t.provenance else None
        mentions.append(MentionIn(t.head, t.head_type or GENERIC_TYPE, context, ((t.relation, t.tail),)))
        mentions.append(MentionIn(t.tail, t.tail_type or GENERIC_TYPE, context, ((f"~{t.relation}", t.head),)))
    return index.resolve(mentions, **resolve_options)


def _fill(batch: GraphBatch, resolved: list[tuple[Triple, str, str]], entities: dict[str, Entity]) -> None:
    mentions: dict[tuple[str, str], dict[str, None]] = {}  # (entity, chunk) -> the names the chunk used
    facts: dict[tuple[str, str, str], dict[str, Any]] = {}
    used: dict[str, None] = {}
    for t, head, tail in resolved:
        prov = t.provenance
        assert prov is not None
        if head == tail and normalise_name(t.head) != normalise_name(t.tail):
            batch.folded.append(t)
            continue
        for eid, name in ((head, t.head), (tail, t.tail)):
            used.setdefault(eid)
            mentions.setdefault((eid, prov.chunk_id), {})[name] = None
        key = (head, " ".join(t.relation.split()).casefold(), tail)
        fact = facts.setdefault(
            key, {"relation": t.relation, "confidence": t.confidence, "chunks": [], "extractor": prov.extractor,
                  "wordings": []},
        )
        fact["confidence"] = max(fact["confidence"], t.confidence)
        if prov.chunk_id not in fact["chunks"]:
            fact["chunks"].append(prov.chunk_id)
        if t.wording and t.wording not in fact["wordings"]:
            fact["wordings"].append(t.wording)
    doc_id = batch.documents[0].id
    batch.entities = [entities[eid] for eid in used]
    batch.mentions = [Mention(e, c, tuple(names)) for (e, c), names in sorted(mentions.items())]
    batch.facts = [
        Fact(h, f["relation"], t, f["confidence"], tuple(f["chunks"]), (doc_id,), f["extractor"], tuple(f["wordings"]))
        for (h, _, t), f in facts.items()
    ]
