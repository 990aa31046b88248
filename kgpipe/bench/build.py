"""``kgpipe bench build``: chunks/s of the local engine and of the Ray engine with 1, 2 and 4 actors, in one run.

Two set-ups. ``endpoint`` (default): a synthetic corpus (``kgpipe.bench.endpoint.synthetic_corpus``) against
a stand-in OpenAI-compatible server on localhost that waits ``latency`` seconds per request, so extraction
and judging are bound by the endpoint's latency and each client's concurrency (``llm_concurrency``, the
same for the local engine and every actor): what a pool of remote inference servers looks like. ``model``:
``settings.llm`` (the packaged Gemma by default) on a small synthetic corpus, where the CPU bounds every
engine and Ray can only add overhead (actor start-up, a model load per actor, serialisation).

Every run starts uncached (``llm_cache`` off) into a graph of its own, dropped after; the judge
calibration is measured once before the runs. Ray is started once (its start-up is reported apart).
With Ray, ``response_cache`` measures how the actors share the SQLite response cache (``bench_cache_sharing``).
"""

from __future__ import annotations

import os
import tempfile
import time
from contextlib import suppress
from dataclasses import replace
from pathlib import Path
from typing import Any, Sequence

from ..config import Settings
from ..ingest.pipeline import build
from ..ingest.ray_engine import connect, import_ray
from ..llms import resolve_llm
from ..stores import resolve_store
from ..trust.calibrate import calibration_for
from .endpoint import Endpoint, synthetic_corpus


def bench_build(
    settings: Settings,
    *,
    engine: str = "ray",
    setup: str = "endpoint",
    documents: int | None = None,
    latency: float = 0.2,
    actors: Sequence[int] = (1, 2, 4),
) -> dict[str, Any]:
    """Chunks/s per engine (``engine="local"``: the local engine only) and each Ray run's ratio to local."""
    if setup not in ("endpoint", "model"):
        raise ValueError(f"setup must be 'endpoint' or 'model', got {setup!r}")
    documents = documents or (200 if setup == "endpoint" else 6)
    base = replace(settings, llm_cache=False, progress=False, state_dir=str(Path(settings.state_dir).resolve()))
    out: dict[str, Any] = {"setup": setup, "documents": documents, "cores": os.cpu_count()}
    server = Endpoint(latency) if setup == "endpoint" else None
    try:
        if server is not None:
            base = replace(base, llm=f"openai:bench-endpoint@{server.url}")
            out.update(latency_s=latency, llm_concurrency=base.llm_concurrency)
        out["llm"] = base.llm
        if base.judge:  # measured (or read) once, outside the timings
            calibration_for(resolve_llm(base.llm, base), base)
        with tempfile.TemporaryDirectory() as tmp:
            synthetic_corpus(tmp, documents, seed=0)
            runs = [("local", 0)] + ([("ray", n) for n in actors] if engine == "ray" else [])
            started_ray = False
            if engine == "ray":
                started = time.perf_counter()
                started_ray = connect(base, actors=max(actors) * 2 + 1)
                out["ray_start_seconds"] = round(time.perf_counter() - started, 2)
            try:
                for name, n in runs:
                    before = server.requests if server is not None else 0
                    run = _run(tmp, replace(base, engine=name, ray_actors=max(1, n)))
                    out[name if not n else f"ray_{n}"] = run
                    if server is not None:
                        run["requests"] = server.requests - before
                        run["most_requests_in_flight"], server.max_inflight = server.max_inflight, 0
            finally:
                if started_ray:
                    import_ray().shutdown()
    finally:
        if server is not None:
            server.close()
    local = out["local"]["chunks_per_s"]
    for n in actors if engine == "ray" else ():
        run = out[f"ray_{n}"]
        run["ratio_vs_local"] = round(run["chunks_per_s"] / local, 3)
        run["same_graph_as_local"] = run.pop("graph") == out["local"]["graph"]
    out["local"].pop("graph")
    if engine == "ray":
        out["response_cache"] = bench_cache_sharing(workers=max(actors))
    return out


def _run(folder: str, settings: Settings) -> dict[str, Any]:
    """One build into a graph of its own: its seconds, chunks/s and graph counts."""
    s = replace(settings, graph=f"kgpipe_bench_build_{settings.engine}_{settings.ray_actors}_{os.getpid()}")
    store = resolve_store(s.store, s)
    try:
        started = time.perf_counter()
        result = build(folder, s, store=store)
        seconds = time.perf_counter() - started
    finally:
        with suppress(Exception):
            store.execute("MATCH (n) DETACH DELETE n", write=True)
        with suppress(Exception):
            store.close()
    return {"seconds": round(seconds, 2), "chunks": result.chunks, "chunks_per_s": round(result.chunks / seconds, 2),
            "failed_chunks": len(result.failed_chunks), "graph": result.graph}  # fmt: skip


class _Echo:
    """A backend that answers at once (the cache's own cost is what is measured)."""

    model_id = "bench-echo"

    def generate(self, prompts: Sequence[str], *, max_new_tokens: int = 128, stop: Sequence[str] = ()) -> list[str]:
        return [p[::-1] for p in prompts]


def _fill_cache(path: str, worker: int, batches: int, size: int) -> tuple[float, int]:
    """One writer process: ``batches`` cache misses of ``size`` prompts each; (seconds, errors)."""
    import sqlite3

    from ..llms.cache import CachedLLM

    cached = CachedLLM(_Echo(), path)
    errors = 0
    started = time.perf_counter()
    for b in range(batches):
        try:
            cached.generate([f"worker {worker} batch {b} prompt {k} " * 8 for k in range(size)])
        except sqlite3.OperationalError:
            errors += 1
    cached.close()
    return time.perf_counter() - started, errors


def bench_cache_sharing(workers: int = 4, batches: int = 200, size: int = 16) -> dict[str, Any]:
    """The response cache written by ``workers`` processes at once: one shared SQLite file (WAL, busy timeout)
    against one file per worker merged after (``ATTACH`` + ``INSERT OR IGNORE``), in the same run."""
    import multiprocessing
    import sqlite3
    from concurrent.futures import ProcessPoolExecutor

    out: dict[str, Any] = {"workers": workers, "batches_per_worker": batches, "prompts_per_batch": size}
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp, ProcessPoolExecutor(workers, mp_context=context) as pool:
        list(pool.map(_fill_cache, [f"{tmp}/warm{w}.sqlite" for w in range(workers)], range(workers),
                      [1] * workers, [1] * workers))  # fmt: skip  (processes started before the timings)
        for mode in ("shared", "per_worker"):
            paths = [f"{tmp}/{mode}.sqlite" if mode == "shared" else f"{tmp}/{mode}{w}.sqlite" for w in range(workers)]
            started = time.perf_counter()
            done = list(pool.map(_fill_cache, paths, range(workers), [batches] * workers, [size] * workers))
            seconds = time.perf_counter() - started
            merge = 0.0
            if mode == "per_worker":
                began = time.perf_counter()
                db = sqlite3.connect(f"{tmp}/merged.sqlite", isolation_level=None)
                db.execute("CREATE TABLE responses (key TEXT PRIMARY KEY, model_id TEXT NOT NULL, "
                           "method TEXT NOT NULL, value TEXT NOT NULL)")  # fmt: skip
                for w, path in enumerate(paths):
                    db.execute(f"ATTACH DATABASE '{path}' AS w{w}")
                    db.execute(f"INSERT OR IGNORE INTO responses SELECT * FROM w{w}.responses")
                db.close()
                merge = time.perf_counter() - began
            out[mode] = {"seconds": round(seconds + merge, 3), "merge_seconds": round(merge, 3),
                         "writes_per_s": round(workers * batches * size / (seconds + merge)),
                         "errors": sum(e for _, e in done),
                         "slowest_worker_seconds": round(max(s for s, _ in done), 3)}  # fmt: skip
    out["ratio_shared_vs_per_worker"] = round(out["shared"]["seconds"] / out["per_worker"]["seconds"], 3)
    return out
