"""Write a ``GraphBatch`` into a store, idempotently and resumably; delete a document; count things.

Order of a write, and why: documents (with ``complete = false``) → chunks → ``NEXT_CHUNK`` →
entities → mentions → facts → ``complete = true, ingested_at``. The marker goes last, so a build
that dies half-way leaves its documents unmarked; the pipeline redoes unmarked documents, and
because every statement is a ``MERGE`` on stable ids, the redo adds nothing twice.

Imported triples (``kgpipe import``) follow the same schema without chunks: the import writes a
pseudo ``Document`` for the file (id = content hash, path = file path), its entities with no
mentions, and facts with ``doc_ids = [that id]`` and ``chunk_ids = []``.

Deletion rule, consistent for both: **a fact lives while some document supports it** (its
``doc_ids`` is not empty) and **an entity lives while a mention or a fact supports it** (a
``FROM_CHUNK`` to a chunk of a remaining document, or any relationship to another entity other
than a ``PREDICTED`` link). ``delete_document`` deletes the facts the document alone supported,
drops it from shared facts' ``doc_ids``/``chunk_ids``, deletes the entities (among those it
mentioned or whose facts it cited) that the rule leaves unsupported, drops from the survivors'
aliases the names only its mentions used (``FROM_CHUNK.names``; the display name stays), then its
chunks, and the document node last — so an interrupted delete finds the document again and can be re-run (only a
mention-less entity whose last fact went just before the interruption could be left behind).
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Iterator, Sequence

from ..records import GraphBatch
from ..stores import Store, cypher


def write(batch: GraphBatch, store: Store, *, batch_size: int = 5000, complete: bool = True) -> dict[str, int]:
    """Write ``batch``; returns rows written per kind (``facts_skipped``: facts whose head or tail is missing).

    ``complete=False`` leaves the documents unmarked (some of their chunks failed), so a build redoes them.

    Duplicates inside the batch are merged first (entities: aliases unioned; facts with the same
    head, relationship type and tail: provenance unioned, confidence max), which both saves work
    and is required by FalkorDB (see ``kgpipe.stores.cypher``).
    """
    counts = {"documents": 0, "chunks": 0, "entities": 0, "mentions": 0, "facts": 0, "facts_skipped": 0}

    def run(make: Callable[[list[dict[str, Any]]], Any], rows: Sequence[dict[str, Any]]) -> int:
        written = 0
        for part in _batches(rows, batch_size):
            made = make(part)
            for statement in made if isinstance(made, list) else [made]:
                result = store.execute(*statement, write=True)
            # Statements that report a count (facts) end in RETURN count(...); the rest wrote every row.
            written += int(result.rows[0][0]) if result.rows else len(part)
        return written

    documents = {d.id: d for d in batch.documents}
    counts["documents"] = run(
        cypher.upsert_documents,
        [{"id": d.id, "path": d.path, "title": d.title, "sha256": d.sha256, "mime": d.mime}
         for d in documents.values()],
    )  # fmt: skip
    chunks = {c.id: c for c in batch.chunks}
    counts["chunks"] = run(
        cypher.upsert_chunks,
        [{"id": c.id, "doc_id": c.doc_id, "index": c.index, "text": c.text, "start": c.start, "end": c.end}
         for c in chunks.values()],
    )  # fmt: skip
    run(cypher.link_next_chunks, _next_chunk_rows(chunks.values()))
    vectors = [{"id": c, "vector": v} for c, v in batch.chunk_vectors.items() if c in chunks]
    run(lambda part: cypher.set_chunk_vectors(part, dialect=store.name), vectors)

    for label, rows in _entity_rows(batch).items():
        counts["entities"] += run(
            lambda part, label=label: cypher.upsert_entities(part, label, dialect=store.name), rows
        )
    mentions: dict[tuple[str, str], dict[str, None]] = {}
    for m in batch.mentions:
        mentions.setdefault((m.entity_id, m.chunk_id), {}).update(dict.fromkeys(m.names))
    counts["mentions"] = run(
        cypher.upsert_mentions, [{"e": e, "c": c, "names": list(names)} for (e, c), names in mentions.items()]
    )

    for rel_type, rows in _fact_rows(batch).items():
        written = run(lambda part, rel_type=rel_type: cypher.upsert_facts(part, rel_type), rows)
        counts["facts"] += written
        counts["facts_skipped"] += len(rows) - written

    if documents and complete:
        stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
        for ids in _batches(list(documents), batch_size):
            store.execute(*cypher.mark_documents_complete(ids, stamp), write=True)
    return counts


def write_version(
    batch: GraphBatch, store: Store, built: dict[str, tuple[str, bool]], batch_size: int, *, complete: bool = True
) -> bool:
    """Write one document's batch; if its path held another version, delete that one after. True if replaced.

    ``complete=False``: the document is written but not marked complete (some of its chunks failed).
    """
    write(batch, store, batch_size=batch_size, complete=complete)
    doc = batch.documents[0]
    old = built.get(doc.path)
    if old is not None and old[0] != doc.id:  # the file changed: facts only the old text supported go
        delete_document(store, old[0])
        return True
    return False


def delete_document(store: Store, doc_id_or_path: str) -> dict[str, int]:
    """Remove a document (by id, or every document recorded at a path) and what only it supported.

    A path shared by identical files only loses that path (``paths`` count). Returns how many
    documents, chunks, entities and facts were deleted and how many shared facts were updated.
    """
    counts = {"documents": 0, "chunks": 0, "entities": 0, "facts": 0, "facts_updated": 0, "paths": 0}
    found = store.execute(*cypher.find_document(doc_id_or_path)).records()
    by_id = [doc for doc in found if doc["id"] == doc_id_or_path]
    for doc in by_id or found:
        paths = [p for p in doc["paths"] or [] if p]
        if not by_id and len(paths) > 1:
            store.execute(*cypher.remove_document_path(doc["id"], doc_id_or_path), write=True)
            counts["paths"] += 1
            continue
        for key, value in _delete_one(store, doc["id"]).items():
            counts[key] += value
    return counts


def undo_write(batch: GraphBatch, store: Store) -> dict[str, int]:
    """Remove what a failed ``write(batch)`` left behind (its documents are not marked complete).

    ``delete_document`` for each of the batch's documents, with the batch's entities as deletion
    candidates too: a write that stopped between the entity and mention statements left entities
    no mention links to the document yet. The orphan rule keeps those another document or a fact
    supports. What cannot be undone: the aliases and the higher confidence the batch gave to
    entities and facts that existed before it, when the write stopped before its mentions (aliases)
    or after some of its facts (confidence, of facts shared with another document).
    """
    counts = {"documents": 0, "chunks": 0, "entities": 0, "facts": 0, "facts_updated": 0}
    entity_ids = sorted({e.id for e in batch.entities})
    for doc in batch.documents:
        for key, value in _delete_one(store, doc.id, entity_ids).items():
            counts[key] += value
    return counts


def _delete_one(store: Store, doc_id: str, also: Iterable[str] = ()) -> dict[str, int]:
    def scalar(statement: cypher.Statement) -> int:
        result = store.execute(*statement, write=True)
        return int(result.rows[0][0]) if result.rows else 0

    chunk_ids = [row[0] for row in store.execute(*cypher.document_chunk_ids(doc_id)).rows]
    candidates = {row[0] for row in store.execute(*cypher.mentioned_entity_ids(doc_id)).rows}
    candidates.update(also)
    for head, tail in store.execute(*cypher.fact_endpoint_ids(doc_id)).rows:
        candidates.update((head, tail))
    counts = {"facts": scalar(cypher.delete_facts_only_from(doc_id))}
    counts["facts_updated"] = scalar(cypher.detach_facts_from(doc_id, chunk_ids))
    counts["entities"] = 0
    for part in _batches(sorted(candidates), 5000):
        counts["entities"] += scalar(cypher.delete_orphan_entities(part, doc_id))
        _drop_own_aliases(store, part, doc_id)
    counts["chunks"] = scalar(cypher.delete_document_chunks(doc_id))
    counts["documents"] = scalar(cypher.delete_document_node(doc_id))
    return counts


def _drop_own_aliases(store: Store, entity_ids: list[str], doc_id: str) -> None:
    """Remove from the entities' aliases the names that only ``doc_id``'s mentions used (before its chunks go).

    Aliases no mention records (imports, or graphs written before mentions kept their names) are left alone.
    """
    rows = store.execute(*cypher.mention_names(entity_ids)).records()
    aliases: dict[str, list[str]] = {}
    own: dict[str, set[str]] = {}
    elsewhere: dict[str, set[str]] = {}
    for r in rows:
        aliases[r["id"]] = list(r["aliases"] or [])
        (own if r["doc"] == doc_id else elsewhere).setdefault(r["id"], set()).update(r["names"] or ())
    changed = []
    for eid, names in own.items():
        drop = names - elsewhere.get(eid, set())
        if drop & set(aliases[eid]):
            changed.append({"id": eid, "aliases": [a for a in aliases[eid] if a not in drop]})
    if changed:
        store.execute(*cypher.set_aliases(changed), write=True)


def stats(store: Store) -> dict[str, int]:
    """Counts of documents, chunks, entities, facts, predicted links and distinct fact relation types."""
    labels = {"documents": "Document", "chunks": "Chunk", "entities": "Entity"}
    out = {key: int(store.execute(*cypher.count_label(label)).rows[0][0]) for key, label in labels.items()}
    per_type = {row[0]: int(row[1]) for row in store.execute(*cypher.relationship_type_counts()).rows}
    predicted = per_type.pop("PREDICTED", 0)
    out.update(facts=sum(per_type.values()), predicted_links=predicted, relation_types=len(per_type))
    return out


def list_documents(store: Store) -> list[dict[str, Any]]:
    """Every document: ``id``, ``path``, ``paths``, ``complete``, ``ingested_at``."""
    return store.execute(*cypher.document_index()).records()


def document_index(store: Store) -> dict[str, tuple[str, bool]]:
    """What is already built: each path → (document id, complete).

    When two documents claim one path (a file whose content changed while the old version was
    never deleted), the complete one is reported, so the caller sees the id mismatch and deletes it.
    """
    index: dict[str, tuple[str, bool]] = {}
    for doc in list_documents(store):
        for path in doc["paths"] or [doc["path"]]:
            if path is not None and (path not in index or (doc["complete"] and not index[path][1])):
                index[path] = (doc["id"], bool(doc["complete"]))
    return index


def clear(store: Store) -> None:
    """Delete everything in the store's graph."""
    store.execute(*cypher.clear_graph(), write=True)


# -- row building ------------------------------------------------------------------------------


def _batches(rows: Sequence[Any], size: int) -> Iterator[list[Any]]:
    size = max(1, int(size))
    for start in range(0, len(rows), size):
        yield list(rows[start : start + size])


def _union(into: list[str], more: Iterable[str]) -> None:
    seen = set(into)
    for item in more:
        if item not in seen:
            seen.add(item)
            into.append(item)


def _confidence(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _next_chunk_rows(chunks: Iterable[Any]) -> list[dict[str, str]]:
    by_doc: dict[str, list[Any]] = {}
    for chunk in chunks:
        by_doc.setdefault(chunk.doc_id, []).append(chunk)
    rows = []
    for doc_chunks in by_doc.values():
        doc_chunks.sort(key=lambda c: c.index)
        rows.extend({"a": a.id, "b": b.id} for a, b in zip(doc_chunks, doc_chunks[1:]))
    return rows


def _entity_rows(batch: GraphBatch) -> dict[str | None, list[dict[str, Any]]]:
    """Entities merged by id, grouped by the extra label their type gives (``None``: no extra label)."""
    merged: dict[str, dict[str, Any]] = {}
    for entity in batch.entities:
        row = merged.get(entity.id)
        if row is None:
            merged[entity.id] = {"id": entity.id, "name": entity.name, "type": entity.type,
                                 "aliases": list(dict.fromkeys(entity.aliases))}  # fmt: skip
        else:
            _union(row["aliases"], entity.aliases)
    groups: dict[str | None, list[dict[str, Any]]] = {}
    for row in merged.values():
        groups.setdefault(cypher.sanitize_label(row["type"] or ""), []).append(row)
    return groups


def _fact_rows(batch: GraphBatch) -> dict[str, list[dict[str, Any]]]:
    """Facts merged on (head, relationship type, tail), grouped by relationship type."""
    merged: dict[tuple[str, str, str], dict[str, Any]] = {}
    for fact in batch.facts:
        rel_type = cypher.sanitize_rel_type(fact.relation)
        key = (fact.head_id, rel_type, fact.tail_id)
        row = merged.get(key)
        if row is None:
            merged[key] = {"h": fact.head_id, "t": fact.tail_id, "label": fact.relation,
                           "confidence": _confidence(fact.confidence), "chunk_ids": list(dict.fromkeys(fact.chunk_ids)),
                           "doc_ids": list(dict.fromkeys(fact.doc_ids)), "extractor": fact.extractor,
                           "wordings": list(dict.fromkeys(fact.wordings))}  # fmt: skip
            continue
        _union(row["chunk_ids"], fact.chunk_ids)
        _union(row["wordings"], fact.wordings)
        _union(row["doc_ids"], fact.doc_ids)
        new = _confidence(fact.confidence)
        if new is not None and (row["confidence"] is None or new > row["confidence"]):
            row["confidence"] = new
    groups: dict[str, list[dict[str, Any]]] = {}
    for (_, rel_type, _), row in merged.items():
        groups.setdefault(rel_type, []).append(row)
    return groups
