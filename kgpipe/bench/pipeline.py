"""Benchmarks that print their figures next to a baseline measured in the same run.

``bench_write`` writes N synthetic triples through ``kgpipe.ingest.write`` and through two hand-written
``UNWIND ... MERGE`` loops of plain client calls (entities first, then edges: ``minimal``; nodes
and edges per batch of triples: ``naive``), each into an empty graph of the same store, and reports
triples/s for each and kgpipe's ratio to them (target: at least 0.8x the minimal loop)::

    >>> from kgpipe.bench.pipeline import bench_write
    >>> bench_write("falkordb", n=100_000)      # doctest: +SKIP
    {'store': 'falkordb', 'n': 100000, 'kgpipe_triples_per_s': ..., 'minimal_triples_per_s': ..., 'ratio': ...}
"""

from __future__ import annotations

import random
import time
import uuid
from contextlib import suppress
from pathlib import Path
from typing import Any, Callable, Iterable, Union

from ..config import Settings
from ..ingest.write import clear, write
from ..records import Entity, Fact, GraphBatch
from ..stores import Store, cypher, resolve_store

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
    """Triples/s of ``kgpipe.ingest.write`` and of a minimal batched MERGE loop on the same store, and their ratio.

    ``store`` is a store name/URI (each run gets a fresh graph of its own), a callable from a graph
    name to a store, or a store instance (then both runs use its graph, cleared before each).
    """
    batch = synthetic_batch(n, seed=seed)
    suffix = uuid.uuid4().hex[:8]
    runs: dict[str, Callable[[Store], Any]] = {
        "kgpipe": lambda st: write(batch, st, batch_size=batch_size),
        "minimal": lambda st: _minimal_write(batch, st, batch_size, entities_first=True),
        "naive": lambda st: _minimal_write(batch, st, batch_size, entities_first=False),
    }
    seconds: dict[str, float] = {}
    memory: dict[str, Any] = {}
    kind = ""
    for name, run in runs.items():
        st = _open(store, f"kgpipe_bench_{name}_{suffix}", settings)
        try:
            clear(st)
            if name == "kgpipe":
                _reset_peak_rss(st)
            start = time.perf_counter()
            run(st)
            seconds[name] = time.perf_counter() - start
            if name == "kgpipe":
                memory = _server_memory(st)
                kind = st.name
        finally:
            if st is not store:
                _drop(st)
    facts = len(batch.facts)
    result: dict[str, Any] = {"store": kind, "n": facts, "entities": len(batch.entities), "batch_size": batch_size}
    for name, secs in seconds.items():
        result[f"{name}_seconds"] = round(secs, 3)
        result[f"{name}_triples_per_s"] = round(facts / secs, 1)
    result["ratio"] = round(seconds["minimal"] / seconds["kgpipe"], 3)  # the target: >= 0.8
    result["ratio_vs_naive"] = round(seconds["naive"] / seconds["kgpipe"], 3)
    result.update(memory)
    return result


def _minimal_write(batch: GraphBatch, store: Store, batch_size: int, *, entities_first: bool) -> None:
    """The baselines, plain client calls with the same content as kgpipe writes.

    ``entities_first``: MERGE every entity once, then every edge (what a careful hand-written loader
    does). Otherwise, per batch of triples, MERGE that batch's nodes then its edges (the naive loop).
    """
    run = _raw_runner(store)
    entities = {e.id: e for e in batch.entities}

    def merge_nodes(ids: Iterable[str]) -> None:
        by_label: dict[str, list[dict[str, Any]]] = {}
        for entity_id in ids:
            e = entities[entity_id]
            by_label.setdefault(e.type, []).append({"id": e.id, "name": e.name, "type": e.type, "aliases": []})
        for label, rows in by_label.items():
            for start in range(0, len(rows), batch_size):
                run(
                    # Labels in the MERGE pattern: the fast way on FalkorDB (SET n:Label on new nodes is slow there).
                    f"UNWIND $rows AS row MERGE (n:Entity:__Entity__:`{label}` {{id: row.id}}) "
                    "SET n.name = row.name, n.type = row.type, n.aliases = row.aliases",
                    {"rows": rows[start : start + batch_size]},
                )

    if entities_first:
        merge_nodes(entities)
    for start in range(0, len(batch.facts), batch_size):
        part = batch.facts[start : start + batch_size]
        if not entities_first:
            merge_nodes(dict.fromkeys(x for f in part for x in (f.head_id, f.tail_id)))
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


def bench_extract(settings: Settings | None = None, *, chunks: int = 16) -> dict[str, Any]:
    """Chunks/s of extraction one chunk at a time and batched (same model, same chunks, same run),
    then the LLM calls a re-run on the unchanged chunks makes through the response cache (target 0).

    The chunks are the first ``chunks`` chunks of ``data/sample``; the model is ``settings.llm``.
    """
    import tempfile

    from ..demo import SAMPLE
    from ..ingest.chunk import chunk
    from ..ingest.extract import extract
    from ..ingest.load import load
    from ..llms import resolve_llm
    from ..llms.cache import CachedLLM

    settings = settings or Settings()
    pieces = [c for doc in load(SAMPLE) for c in chunk(doc, max_tokens=settings.chunk_tokens, overlap=settings.chunk_overlap)]
    pieces = pieces[:chunks]
    llm = resolve_llm(settings.llm, settings, cache=False)
    timings: dict[str, float] = {}
    outputs = {}
    for name, size in (("one_at_a_time", 1), ("batched", settings.batch_size)):
        start = time.perf_counter()
        outputs[name] = extract(pieces, llm, max_new_tokens=settings.max_new_tokens, batch_size=size)
        timings[name] = time.perf_counter() - start
    same = [(t.head, t.relation, t.tail) for t in outputs["one_at_a_time"].triples] == [
        (t.head, t.relation, t.tail) for t in outputs["batched"].triples
    ]
    with tempfile.TemporaryDirectory() as tmp:
        cached = CachedLLM(llm, Path(tmp) / "cache.sqlite")
        extract(pieces, cached, max_new_tokens=settings.max_new_tokens, batch_size=settings.batch_size)
        first_calls = cached.calls
        cached = CachedLLM(llm, Path(tmp) / "cache.sqlite")  # a new process would open the same file
        start = time.perf_counter()
        extract(pieces, cached, max_new_tokens=settings.max_new_tokens, batch_size=settings.batch_size)
        rerun_seconds = time.perf_counter() - start
    return {
        "model": llm.model_id,
        "chunks": len(pieces),
        "batch_size": settings.batch_size,
        "max_new_tokens": settings.max_new_tokens,
        "one_at_a_time_chunks_per_s": round(len(pieces) / timings["one_at_a_time"], 3),
        "batched_chunks_per_s": round(len(pieces) / timings["batched"], 3),
        "ratio": round(timings["one_at_a_time"] / timings["batched"], 3),  # target >= 2
        "same_triples_batched": same,
        "first_run_llm_calls": first_calls,
        "rerun_llm_calls": cached.calls,  # target 0
        "rerun_cache_hits": cached.hits,
        "rerun_seconds": round(rerun_seconds, 3),
    }


def bench_fusion(sizes: Iterable[int] = (10_000, 100_000, 1_000_000), *, seed: int = 0, baseline_max: int = 10_000) -> dict[str, Any]:
    """Entity fusion of synthetic mentions with planted aliases (``kgpipe.bench.synth_mentions``) at each size.

    Each size runs in a fresh process, so its peak memory is its own: seconds (wall and CPU) of
    ``resolve``, peak RSS, candidate pairs against all pairs, and B-cubed F1 against the planted truth. Baselines in
    the same run: exact normalised-name matching (what fusion did before) at every size, and
    comparing every pair instead of blocking up to ``baseline_max`` mentions (what blocking gives up).
    """
    import math
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    runs: list[dict[str, Any]] = []
    context = multiprocessing.get_context("spawn")
    for n in sizes:
        for exhaustive in (False, True) if n <= baseline_max else (False,):
            with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
                runs.append(pool.submit(_fusion_run, n, seed, exhaustive).result())
    blocked = [r for r in runs if not r["exhaustive"]]
    for small, large in zip(blocked, blocked[1:]):  # cost ~ n^k between consecutive sizes
        growth = math.log(large["n"] / small["n"])
        large["time_exponent"] = round(math.log(large["seconds"] / small["seconds"]) / growth, 3)
        large["cpu_time_exponent"] = round(math.log(large["cpu_seconds"] / small["cpu_seconds"]) / growth, 3)
        large["pairs_exponent"] = round(math.log(large["candidate_pairs"] / small["candidate_pairs"]) / growth, 3)
    result: dict[str, Any] = {"seed": seed, "runs": blocked}
    for r in runs:
        if r["exhaustive"]:
            same = next(b for b in blocked if b["n"] == r["n"])
            result[f"all_pairs_baseline_{r['n']}"] = {
                "seconds": r["seconds"], "b_cubed_f1": r["b_cubed"]["f1"],
                "ratio_seconds_vs_blocking": round(r["seconds"] / same["seconds"], 2),
            }  # fmt: skip
    return result


def _fusion_run(n: int, seed: int, exhaustive: bool) -> dict[str, Any]:
    """One size in this (fresh) process: generate, resolve, score; peak RSS from the kernel."""
    import os
    import resource
    import sys
    from collections import Counter

    from ..eval.fusion import b_cubed
    from ..fusion.kinds import surface_kind
    from ..fusion.names import analyse, normalise_name
    from ..fusion.resolve import EntityIndex
    from .synth_mentions import synthetic_mentions

    def rss_mib() -> float:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return round(peak / (2**20 if sys.platform == "darwin" else 1024), 1)

    started = time.perf_counter()
    mentions, truth = synthetic_mentions(n, seed=seed)
    generated = time.perf_counter() - started
    rss_before = rss_mib()
    for cached in (analyse, normalise_name, surface_kind):  # generating warmed them: start cold
        cached.cache_clear()

    def cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    started, cpu_started = time.perf_counter(), cpu()
    resolution = EntityIndex().resolve(mentions, ner=False, embed=False, exhaustive=exhaustive)
    seconds, cpu_seconds = time.perf_counter() - started, cpu() - cpu_started
    out: dict[str, Any] = {
        "n": n,
        "exhaustive": exhaustive,
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu_seconds, 2),  # what the machine's other load does not inflate
        "load_average": round(os.getloadavg()[0], 1),
        "mentions_per_s": round(n / seconds),
        "peak_rss_mib": rss_mib(),
        "rss_before_resolve_mib": rss_before,
        "generate_seconds": round(generated, 2),
        "true_entities": len(set(truth)),
        "entities": len(set(resolution.ids)),
        "distinct_names": resolution.stats["nodes"],
        "candidate_pairs": resolution.stats["candidate_pairs"],
        "all_pairs": resolution.stats["all_pairs"],
        "b_cubed": b_cubed(resolution.ids, truth),
    }
    out["pairs_fraction"] = float(f"{out['candidate_pairs'] / max(1, out['all_pairs']):.3g}")
    if not exhaustive:
        started = time.perf_counter()
        exact = [normalise_name(m.name) for m in mentions]  # the baseline: one entity per normalised name
        out["exact_name_baseline"] = {"seconds": round(time.perf_counter() - started, 2), "b_cubed": b_cubed(exact, truth),
                                      "entities": len(Counter(exact))}  # fmt: skip
    return out
