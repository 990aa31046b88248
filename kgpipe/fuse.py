"""Fusion stage: triples become entities, mentions and facts with stable ids.

Entities are identified by their normalised name (case, spacing, punctuation, diacritics-insensitive,
a leading article dropped), so the same name in any chunk, document or run is one node and a rebuild
is idempotent. The surface forms seen are kept as aliases; the first non-generic type seen is the
entity's type.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Iterable

from .records import Chunk, Document, Entity, Fact, GraphBatch, Mention, Triple, stable_id
from .text import fold_diacritics

GENERIC_TYPE = "Thing"
_ARTICLE = re.compile(r"^(?:the|a|an)\s+", re.IGNORECASE)
_PUNCT = re.compile(r"[^\w\s&+#]")


def normalise_name(name: str) -> str:
    """The key two surface forms must share to be the same entity: ``"The  Louvre."`` → ``"louvre"``."""
    text = _PUNCT.sub(" ", fold_diacritics(name).casefold())
    text = " ".join(text.split())
    return _ARTICLE.sub("", text) or text


def entity_id(name: str) -> str:
    return stable_id("entity", normalise_name(name))


def fuse(
    triples: Iterable[Triple], documents: Iterable[Document], chunks: Iterable[Chunk]
) -> dict[str, GraphBatch]:
    """One ``GraphBatch`` per document: its document node, chunks, and the entities and facts it supports."""
    batches: dict[str, GraphBatch] = {d.id: GraphBatch(documents=[d]) for d in documents}
    for c in chunks:
        batches[c.doc_id].chunks.append(c)
    by_doc: dict[str, list[Triple]] = defaultdict(list)
    for t in triples:
        assert t.provenance is not None, "extracted triples always carry provenance"
        by_doc[t.provenance.doc_id].append(t)
    for doc_id, doc_triples in by_doc.items():
        _fill(batches[doc_id], doc_triples)
    return batches


def _fill(batch: GraphBatch, triples: list[Triple]) -> None:
    names: dict[str, list[str]] = defaultdict(list)
    types: dict[str, str] = {}
    mentions: set[tuple[str, str]] = set()
    facts: dict[tuple[str, str, str], dict] = {}
    for t in triples:
        prov = t.provenance
        assert prov is not None
        ends = []
        for name, typ in ((t.head, t.head_type), (t.tail, t.tail_type)):
            eid = entity_id(name)
            ends.append(eid)
            if name not in names[eid]:
                names[eid].append(name)
            if types.get(eid, GENERIC_TYPE) == GENERIC_TYPE:  # first specific type wins
                types[eid] = typ
            mentions.add((eid, prov.chunk_id))
        key = (ends[0], " ".join(t.relation.split()).casefold(), ends[1])
        fact = facts.setdefault(
            key, {"relation": t.relation, "confidence": t.confidence, "chunks": [], "extractor": prov.extractor}
        )
        fact["confidence"] = max(fact["confidence"], t.confidence)
        if prov.chunk_id not in fact["chunks"]:
            fact["chunks"].append(prov.chunk_id)
    doc_id = batch.documents[0].id
    batch.entities = [Entity(eid, forms[0], types[eid], tuple(forms[1:])) for eid, forms in names.items()]
    batch.mentions = [Mention(e, c) for e, c in sorted(mentions)]
    batch.facts = [
        Fact(h, f["relation"], t, f["confidence"], tuple(f["chunks"]), (doc_id,), f["extractor"])
        for (h, _, t), f in facts.items()
    ]
