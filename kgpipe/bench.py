"""Benchmarks that print their figures next to a baseline measured in the same run.

``bench_write`` writes N synthetic triples through ``kgpipe.write`` and through a minimal
hand-written ``UNWIND ... MERGE`` loop of plain client calls, each into an empty graph of the same
store, and reports triples/s for both and their ratio (kgpipe's target: at least 0.8x)::

    >>> from kgpipe.bench import bench_write
    >>> bench_write("falkordb", n=100_000)      # doctest: +SKIP
    {'store': 'falkordb', 'n': 100000, 'kgpipe_triples_per_s': ..., 'minimal_triples_per_s': ..., 'ratio': ...}
"""

from __future__ import annotations

import random
import time
import uuid
from contextlib import suppress
from typing import Any, Callable, Union

from . import cypher
from .config import Settings
from .records import Entity, Fact, GraphBatch
from .stores import Store, resolve_store
from .write import clear, write

StoreSource = Union[str, Store, Callable[[str], Store]]

_TYPES = ("Person", "Organization", "Place", "Product", "Event")
_RELATIONS = ("works for", "located in", "part of", "founded", "acquired", "born in", "member of", "produces")


def synthetic_batch(n: int, *, seed: int = 0) -> GraphBatch:
    """``n`` distinct triples over ``n // 5`` entities, skewed so that some entities recur a lot."""
    rng = random.Random(seed)
    n_entities = max(10, n // 5)
    entities = [Entity(f"ent{i:07d}", f"Entity {i}", _TYPES[i % len(_TYPES)]) for i in range(n_entities)]

    def pick() -> int:  # squaring a uniform draw favours low indices: a few hubs, a long tail
        return int(rng.random() ** 2 * n_entities)

    keys: set[tuple[int, str, int]] = set()
    while len(keys) < n:
        keys.add((pick(), rng.choice(_RELATIONS), pick()))
    facts = [
        Fact(entities[h].id, rel, entities[t].id, round(rng.random(), 3), (f"chunk{i % 997}",), ("bench-doc",), "bench")
        for i, (h, rel, t) in enumerate(sorted(keys))
    ]
    used = {f.head_id for f in facts} | {f.tail_id for f in facts}
    return GraphBatch(entities=[e for e in entities if e.id in used], facts=facts)


def bench_write(
    store: StoreSource = "falkordb",
    n: int = 100_000,
    *,
    batch_size: int = 5000,
    seed: int = 0,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """Triples/s of ``kgpipe.write`` and of a minimal batched MERGE loop on the same store, and their ratio.

    ``store`` is a store name/URI (each run gets a fresh graph of its own), a callable from a graph
    name to a store, or a store instance (then both runs use its graph, cleared before each).
    """
    batch = synthetic_batch(n, seed=seed)
    suffix = uuid.uuid4().hex[:8]
    kg_store = _open(store, f"kgpipe_bench_{suffix}", settings)
    base_store = _open(store, f"kgpipe_bench_base_{suffix}", settings)
    try:
        _reset_peak_rss(kg_store)
        for st in (kg_store, base_store):
            clear(st)
        start = time.perf_counter()
        write(batch, kg_store, batch_size=batch_size)
        kg_seconds = time.perf_counter() - start
        if base_store is kg_store:
            clear(kg_store)
        start = time.perf_counter()
        _minimal_write(batch, base_store, batch_size)
        base_seconds = time.perf_counter() - start
        result: dict[str, Any] = {
            "store": kg_store.name,
            "n": len(batch.facts),
            "entities": len(batch.entities),
            "batch_size": batch_size,
            "kgpipe_seconds": round(kg_seconds, 3),
            "minimal_seconds": round(base_seconds, 3),
            "kgpipe_triples_per_s": round(len(batch.facts) / kg_seconds, 1),
            "minimal_triples_per_s": round(len(batch.facts) / base_seconds, 1),
            "ratio": round(base_seconds / kg_seconds, 3),
        }
        result.update(_server_memory(kg_store))
        return result
    finally:
        for st in {id(kg_store): kg_store, id(base_store): base_store}.values():
            if st is not store:
                _drop(st)


def _minimal_write(batch: GraphBatch, store: Store, batch_size: int) -> None:
    """The honest baseline: per batch of triples, MERGE its nodes by id, then MERGE its edges; same content."""
    run = _raw_runner(store)
    entities = {e.id: e for e in batch.entities}
    for start in range(0, len(batch.facts), batch_size):
        part = batch.facts[start : start + batch_size]
        by_label: dict[str, list[dict[str, Any]]] = {}
        for entity_id in dict.fromkeys(x for f in part for x in (f.head_id, f.tail_id)):
            e = entities[entity_id]
            by_label.setdefault(e.type, []).append({"id": e.id, "name": e.name, "type": e.type, "aliases": []})
        for label, rows in by_label.items():
            run(
                # Labels in the MERGE pattern: the fast way on FalkorDB (SET n:Label on new nodes is slow there).
                f"UNWIND $rows AS row MERGE (n:Entity:__Entity__:`{label}` {{id: row.id}}) "
                "SET n.name = row.name, n.type = row.type, n.aliases = row.aliases",
                {"rows": rows},
            )
        by_type: dict[str, list[dict[str, Any]]] = {}
        for f in part:
            by_type.setdefault(cypher.sanitize_rel_type(f.relation), []).append(
                {"h": f.head_id, "t": f.tail_id, "label": f.relation, "confidence": f.confidence,
                 "chunk_ids": list(f.chunk_ids), "doc_ids": list(f.doc_ids), "extractor": f.extractor}  # fmt: skip
            )
        for rel_type, rows in by_type.items():
            run(
                "UNWIND $rows AS row MATCH (a:Entity {id: row.h}) MATCH (b:Entity {id: row.t}) "
                f"MERGE (a)-[r:`{rel_type}`]->(b) SET r.label = row.label, r.confidence = row.confidence, "
                "r.chunk_ids = row.chunk_ids, r.doc_ids = row.doc_ids, r.extractor = row.extractor",
                {"rows": rows},
            )


def _raw_runner(store: Store) -> Callable[[str, dict[str, Any]], Any]:
    """Plain client calls, bypassing kgpipe's store wrapper where the client is reachable."""
    graph = getattr(store, "graph", None)
    if store.name == "falkordb" and graph is not None:
        return lambda query, params: graph.query(query, params)
    driver = getattr(store, "driver", None)
    if store.name == "neo4j" and driver is not None:
        return lambda query, params: driver.execute_query(query, params, database_=getattr(store, "database", None))
    return lambda query, params: store.execute(query, params, write=True)


def _open(source: StoreSource, graph: str, settings: Settings | None) -> Store:
    if isinstance(source, str):
        return resolve_store(source, (settings or Settings()).replace(graph=graph))
    if isinstance(source, Store):
        return source
    return source(graph)


def _drop(store: Store) -> None:
    """Remove a benchmark graph entirely (FalkorDB: the whole key; elsewhere: its contents)."""
    with suppress(Exception):
        graph = getattr(store, "graph", None)
        if store.name == "falkordb" and graph is not None:
            graph.delete()
        else:
            clear(store)
    with suppress(Exception):
        store.close()


def _server_pid(store: Store) -> int | None:
    db = getattr(store, "db", None)
    if store.name != "falkordb" or db is None:
        return None
    with suppress(Exception):
        return int(db.connection.info("server")["process_id"])
    return None


def _reset_peak_rss(store: Store) -> None:
    """Reset the server's peak-RSS counter (Linux, same user) so the figure covers this run only."""
    pid = _server_pid(store)
    if pid is not None:
        with suppress(OSError), open(f"/proc/{pid}/clear_refs", "w") as handle:
            handle.write("5")


def _server_memory(store: Store) -> dict[str, Any]:
    """Peak RSS of a local FalkorDB server process and redis' own peak allocation, in MiB, where available."""
    out: dict[str, Any] = {}
    pid = _server_pid(store)
    if pid is None:
        return out
    with suppress(OSError, ValueError), open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                out["server_peak_rss_mib"] = round(int(line.split()[1]) / 1024, 1)
    with suppress(Exception):
        info = store.db.connection.info("memory")  # type: ignore[attr-defined]
        out["server_used_memory_peak_mib"] = round(int(info["used_memory_peak"]) / 2**20, 1)
    return out
