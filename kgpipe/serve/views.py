"""Read views of the graph for people and agents: an entity with its facts, one fact's provenance, a neighbourhood.

Every function takes a store and returns plain JSON-ready dicts; ``kgpipe serve``, ``kgpipe mcp`` and
``kgpipe export --format html`` all show the same thing.

A fact has no stored id: facts are merged on (head, relationship type, tail), so that triple is its
identity, written ``head_id:TYPE:tail_id`` (``fact_id``). The supporting sentence is located at read
time: kgpipe stores, per fact, the chunks it came from and, per mention, the names an entity was called
in a chunk, so the sentence is the chunk's first sentence (spaCy's splitter, as chunking uses) in which
a name of the head and a name of the tail both occur, else one with either; its character offsets in
the chunk text and in the document are returned, with the names' spans inside it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from ..errors import NotFound
from ..ingest.chunk import sentence_spans
from ..stores import cypher

if TYPE_CHECKING:
    from ..stores import Store

FACTS_PER_DIRECTION = 200  # an entity view lists at most this many facts each way (hubs have thousands)
PREDICTED_PER_ENTITY = 50
_FACT_ID = re.compile(r"([0-9A-Za-z_\-]+):([A-Z0-9_]+):([0-9A-Za-z_\-]+)")


def fact_id(head_id: str, rel_type: str, tail_id: str) -> str:
    """The id a fact is addressed by: ``head_id:TYPE:tail_id``.

    >>> fact_id("a1", "BORN_IN", "b2")
    'a1:BORN_IN:b2'
    """
    return f"{head_id}:{rel_type}:{tail_id}"


def parse_fact_id(text: str) -> tuple[str, str, str]:
    """``(head_id, TYPE, tail_id)`` of a fact id; a malformed one is a ``NotFound`` with the expected form."""
    match = _FACT_ID.fullmatch(text)
    if not match:
        raise NotFound(f"{text!r} is not a fact id: expected head_id:RELATION_TYPE:tail_id (as the entity view lists)")
    return match.group(1), match.group(2), match.group(3)


def _fact(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": fact_id(row["head_id"], row["type"], row["tail_id"]),
        "head_id": row["head_id"], "head": row["head"], "relation": row["label"] or row["type"].lower(),
        "type": row["type"], "tail_id": row["tail_id"], "tail": row["tail"],
        "confidence": row["confidence"], "conflict": bool(row["conflict"]),
        "chunk_ids": list(row["chunk_ids"] or []), "doc_ids": list(row["doc_ids"] or []),
        "extractor": row["extractor"], "wordings": list(row["wordings"] or []),
        "head_type": row["head_type"], "tail_type": row["tail_type"],
    }  # fmt: skip


def entity(store: "Store", entity_id: str, *, limit: int = FACTS_PER_DIRECTION) -> dict[str, Any]:
    """The entity, its facts out and in (confidence, conflict mark, provenance ids) and, apart, its predicted links."""
    rows = store.execute(*cypher.entity_by_id(entity_id)).records()
    if not rows:
        raise NotFound(f"no entity with id {entity_id!r} in the graph (find ids by name with search)")
    ent = rows[0]
    facts = [_fact(r) for r in store.execute(*cypher.entity_view_facts(entity_id, limit)).records()]
    predicted = store.execute(*cypher.entity_predicted_links(entity_id, PREDICTED_PER_ENTITY)).records()
    return {
        "id": ent["id"], "name": ent["name"], "type": ent["type"], "aliases": list(ent["aliases"] or []),
        "facts_out": [f for f in facts if f["head_id"] == entity_id],
        "facts_in": [f for f in facts if f["tail_id"] == entity_id and f["head_id"] != entity_id],
        "predicted": [{**p, "score": p["score"], "predicted": True} for p in predicted],
    }  # fmt: skip


def fact(store: "Store", the_fact_id: str) -> dict[str, Any]:
    """One fact by its id."""
    rows = store.execute(*cypher.fact_by_key(*parse_fact_id(the_fact_id))).records()
    if not rows:
        raise NotFound(f"no fact {the_fact_id!r} in the graph")
    return _fact(rows[0])


def provenance(store: "Store", the_fact_id: str) -> dict[str, Any]:
    """The fact, each chunk it came from with the supporting sentence located by offsets, and the documents."""
    f = fact(store, the_fact_id)
    chunks = store.execute(*cypher.chunk_provenance(f["chunk_ids"])).records() if f["chunk_ids"] else []
    names: dict[tuple[str, str], list[str]] = {}
    if chunks:
        for row in store.execute(*cypher.chunk_mentions(f["chunk_ids"], [f["head_id"], f["tail_id"]])).records():
            names[(row["entity_id"], row["chunk_id"])] = list(row["names"] or [])
    out_chunks, documents = [], {}
    for c in chunks:
        text = c["text"] or ""
        head_names = names.get((f["head_id"], c["chunk_id"]), []) + [f["head"]]
        tail_names = names.get((f["tail_id"], c["chunk_id"]), []) + [f["tail"]]
        where = locate_sentence(text, head_names, tail_names, [f["relation"], *f["wordings"]])
        if where and c["start"] is not None:
            where["document_start"], where["document_end"] = c["start"] + where["start"], c["start"] + where["end"]
        out_chunks.append({"chunk_id": c["chunk_id"], "index": c["index"], "doc_id": c["doc_id"], "text": text,
                           "start": c["start"], "end": c["end"], "sentence": where})  # fmt: skip
        if c["doc_id"]:
            documents[c["doc_id"]] = {"id": c["doc_id"], "path": c["path"], "title": c["title"]}
    missing = [d for d in f["doc_ids"] if d not in documents]
    if missing:
        for d in store.execute(*cypher.document_provenance(missing)).records():
            documents[d["doc_id"]] = {"id": d["doc_id"], "path": d["path"], "title": d["title"]}
    return {"fact": f, "chunks": out_chunks, "documents": list(documents.values())}


def _spans(text: str, names: Iterable[str]) -> list[tuple[int, int]]:
    """Case-insensitive whole-word occurrences of any of ``names`` in ``text``."""
    spans = []
    for name in dict.fromkeys(n.strip() for n in names if n and n.strip()):
        pattern = r"(?<!\w)" + r"\s+".join(map(re.escape, name.split())) + r"(?!\w)"
        spans += [(m.start(), m.end()) for m in re.finditer(pattern, text, re.IGNORECASE)]
    return sorted(spans)


_WORD = re.compile(r"\w+")
_FILLER = frozenset("a an the of in on at to by for from with and or is was are were be been has have had as".split())


def _stems(wordings: Iterable[str]) -> set[str]:
    """The first four letters of each content word of a relation's wordings ("worked" and "works for" share "work")."""
    return {w.lower()[:4] for text in wordings for w in _WORD.findall(text.replace("_", " ")) if w.lower() not in _FILLER}


def locate_sentence(text: str, head_names: Sequence[str], tail_names: Sequence[str],
                    relation: Sequence[str] = ()) -> dict[str, Any] | None:  # fmt: skip
    """The sentence of ``text`` that best states the fact; None when it names neither end.

    A sentence scores one per end it names and 1.5 per content word of the relation (``relation``: the
    label and the chunks' own wordings) it contains, so "He was born in Paris." (tail and "born") beats
    "Pierre Curie worked at the University of Paris." (both names, no "born") for "Pierre Curie born in
    Paris": the extractor read the chunk with its pronouns resolved, the stored text keeps them.
    ``start``/``end`` index ``text``; ``head``/``tail`` are the name spans inside the sentence.
    """
    heads, tails = _spans(text, head_names), _spans(text, tail_names)
    if not heads and not tails:
        return None
    stems = _stems(relation)
    best: tuple[float, int, int, int] | None = None  # (score, ends named, start, end)
    for a, b in sentence_spans(text) or [(0, len(text))]:
        named = any(a <= s < b for s, _ in heads) + any(a <= s < b for s, _ in tails)
        if not named:
            continue
        words = {w.lower()[:4] for w in _WORD.findall(text[a:b])}
        score = named + 1.5 * len(stems & words)
        if best is None or score > best[0]:
            best = (score, named, a, b)
    if best is None:
        return None
    _, named, a, b = best
    return {"start": a, "end": b, "text": text[a:b], "both_ends": named == 2,
            "head": [s for s in heads if a <= s[0] < b], "tail": [s for s in tails if a <= s[0] < b]}  # fmt: skip


def neighbourhood(store: "Store", entity_id: str, *, limit: int = 60) -> dict[str, Any]:
    """What the web page draws around one entity: nodes and edges (facts, and predicted links marked as such)."""
    view = entity(store, entity_id, limit=limit)
    nodes = {entity_id: {"id": entity_id, "name": view["name"], "type": view["type"]}}
    edges = []
    for f in view["facts_out"] + view["facts_in"]:
        nodes.setdefault(f["head_id"], {"id": f["head_id"], "name": f["head"], "type": f["head_type"]})
        nodes.setdefault(f["tail_id"], {"id": f["tail_id"], "name": f["tail"], "type": f["tail_type"]})
        edges.append({"id": f["id"], "from": f["head_id"], "to": f["tail_id"], "relation": f["relation"],
                      "confidence": f["confidence"], "conflict": f["conflict"], "predicted": False})  # fmt: skip
    for p in view["predicted"]:
        nodes.setdefault(p["head_id"], {"id": p["head_id"], "name": p["head"], "type": None})
        nodes.setdefault(p["tail_id"], {"id": p["tail_id"], "name": p["tail"], "type": None})
        edges.append({"id": f"predicted:{p['head_id']}:{p['relation']}:{p['tail_id']}", "from": p["head_id"],
                      "to": p["tail_id"], "relation": p["relation"], "score": p["score"], "predicted": True})  # fmt: skip
    return {"center": entity_id, "nodes": list(nodes.values()), "edges": edges}


def whole_graph(store: "Store", *, max_facts: int = 5000) -> dict[str, Any]:
    """The graph's facts (up to ``max_facts``), their entities and the predicted links between those, for the export."""
    facts = [_fact(r) for r in store.execute(*cypher.graph_facts(max_facts)).records()]
    nodes: dict[str, dict[str, Any]] = {}
    for f in facts:
        nodes.setdefault(f["head_id"], {"id": f["head_id"], "name": f["head"], "type": f["head_type"]})
        nodes.setdefault(f["tail_id"], {"id": f["tail_id"], "name": f["tail"], "type": f["tail_type"]})
    edges = [{"id": f["id"], "from": f["head_id"], "to": f["tail_id"], "relation": f["relation"],
              "confidence": f["confidence"], "conflict": f["conflict"], "predicted": False} for f in facts]  # fmt: skip
    for p in store.execute(*cypher.export_predicted_links()).records():
        if p["head_id"] in nodes and p["tail_id"] in nodes:
            edges.append({"id": f"predicted:{p['head_id']}:{p['relation']}:{p['tail_id']}", "from": p["head_id"],
                          "to": p["tail_id"], "relation": p["relation"], "score": p["score"], "predicted": True})  # fmt: skip
    return {"nodes": list(nodes.values()), "edges": edges, "truncated": len(facts) >= max_facts}
