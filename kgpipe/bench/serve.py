"""``kgpipe bench serve``: what the HTTP layer costs, against the same calls made through the library in one run.

For each graph (the sample's gold facts, ``data/sample_gold.tsv``, imported; and ``n`` synthetic facts
written by ``kgpipe.ingest.write``), each endpoint (``GET /api/entities/{id}``; ``POST /api/query`` of a
parameterised one-hop read) and each number of concurrent clients (1 and 16), it makes ``requests``
calls over HTTP to a ``kgpipe serve`` subprocess (its own process, so client and server do not share
an interpreter lock) and the same calls directly (``views.entity``, ``kgpipe.query``) from the same
number of threads, on the same entity ids in the same order. It reports p50/p99 latency (ms),
requests/s and the overhead ratios (HTTP p50 / direct p50; direct req/s / HTTP req/s)::

    >>> from kgpipe.bench.serve import bench_serve
    >>> bench_serve(settings, n=100_000)        # doctest: +SKIP
"""

from __future__ import annotations

import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

from ..api import query
from ..config import Settings
from ..errors import DataError
from ..ingest.interchange import import_triples
from ..ingest.write import stats, write
from ..serve import views
from ..stores import Store, resolve_store
from .pipeline import synthetic_batch

SAMPLE_GOLD = Path(__file__).resolve().parents[2] / "data" / "sample_gold.tsv"
QUERY = "MATCH (e:Entity {id: $id})-[r]->(t:Entity) RETURN type(r) AS type, t.name AS tail LIMIT 20"
CLIENTS = (1, 16)


def _timed(calls: list[Callable[[], Any]], clients: int) -> dict[str, float]:
    """Run ``calls`` from ``clients`` threads; latency percentiles (ms) and throughput."""
    latencies: list[float] = []

    def one(call: Callable[[], Any]) -> None:
        t = time.perf_counter()
        call()
        latencies.append((time.perf_counter() - t) * 1000)

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, calls))
    wall = time.perf_counter() - started
    latencies.sort()
    return {"p50_ms": round(statistics.median(latencies), 2), "p99_ms": round(latencies[int(0.99 * (len(latencies) - 1))], 2),
            "requests_per_s": round(len(latencies) / wall, 1)}  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_server(settings: Settings) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen([sys.executable, "-m", "kgpipe.cli", "--state-dir", str(settings.state_dir), "--graph",
                             settings.graph, "serve", "--port", str(port), "--max-concurrent", "64"],
                            env=env, stderr=subprocess.DEVNULL)  # fmt: skip
    return proc, f"http://127.0.0.1:{port}"


def _wait_ready(proc: subprocess.Popen[bytes], url: str, client: Any) -> None:
    import httpx

    for _ in range(300):
        try:
            if client.get(url + "/api/stats").status_code == 200:
                return
        except httpx.TransportError:
            if proc.poll() is not None:
                raise RuntimeError("kgpipe serve exited before answering") from None
        time.sleep(0.1)
    raise RuntimeError("kgpipe serve did not answer within 30 s")


def _bench_graph(settings: Settings, store: Store, requests: int, seed: int) -> dict[str, Any]:
    import httpx

    ids = [row[0] for row in store.execute("MATCH (e:Entity) RETURN e.id").rows]
    rng = random.Random(seed)
    picks = [rng.choice(ids) for _ in range(requests)]
    proc, url = _start_server(settings)
    out: dict[str, Any] = {**stats(store), "requests": requests}
    try:
        with httpx.Client(limits=httpx.Limits(max_connections=32), timeout=60) as client:
            _wait_ready(proc, url, client)

            def http_entity(eid: str) -> Callable[[], Any]:
                return lambda: client.get(f"{url}/api/entities/{eid}").raise_for_status()

            def http_query(eid: str) -> Callable[[], Any]:
                return lambda: client.post(f"{url}/api/query", json={"cypher": QUERY, "params": {"id": eid}}).raise_for_status()

            endpoints: dict[str, tuple[Callable[[str], Callable[[], Any]], Callable[[str], Callable[[], Any]]]] = {
                "GET /api/entities/{id}": (http_entity, lambda eid: lambda: views.entity(store, eid)),
                "POST /api/query": (http_query, lambda eid: lambda: query(QUERY, {"id": eid}, limit=1000, settings=settings,
                                                                        store=store)),
            }  # fmt: skip
            for name, (over_http, direct) in endpoints.items():
                _timed([over_http(e) for e in picks[:20]], 4)  # warm both paths (connections, caches, the server's imports)
                _timed([direct(e) for e in picks[:20]], 4)
                per_clients = {}
                for clients in CLIENTS:
                    h = _timed([over_http(e) for e in picks], clients)
                    d = _timed([direct(e) for e in picks], clients)
                    per_clients[str(clients)] = {
                        "http": h, "direct": d,
                        "p50_overhead_ratio": round(h["p50_ms"] / d["p50_ms"], 2) if d["p50_ms"] else None,
                        "throughput_ratio": round(h["requests_per_s"] / d["requests_per_s"], 2) if d["requests_per_s"] else None,
                    }  # fmt: skip
                out[name] = per_clients
    finally:
        proc.terminate()
        proc.wait(30)
    return out


def _three_columns(gold: Path) -> Path:
    """The gold file as head, relation, tail lines (its fourth column names a source file, where import reads a confidence)."""
    lines = [line.split("\t")[:3] for line in gold.read_text(encoding="utf-8").splitlines() if line.strip() and not line.startswith("#")]
    out = Path(tempfile.mkdtemp(prefix="kgpipe-bench-")) / "sample_gold.tsv"
    out.write_text("".join("\t".join(t) + "\n" for t in lines), encoding="utf-8")
    return out


def bench_serve(settings: Settings | None = None, *, n: int = 100_000, requests: int = 2000, seed: int = 0) -> dict[str, Any]:
    """The figures for the sample graph and an ``n``-fact synthetic graph (each in a scratch graph, dropped after)."""
    base = settings or Settings()
    report: dict[str, Any] = {"cpus": os.cpu_count(), "clients": list(CLIENTS), "query": QUERY, "graphs": {}}
    for name in ("sample", "synthetic"):
        the_settings = base.replace(graph=f"bench_serve_{name}_{uuid.uuid4().hex[:8]}", progress=False)
        store = resolve_store(the_settings.store, the_settings)
        try:
            started = time.perf_counter()
            if name == "sample":
                if not SAMPLE_GOLD.is_file():
                    raise DataError(f"bench serve reads the sample graph from {SAMPLE_GOLD} (a kgpipe source checkout)")
                import_triples(_three_columns(SAMPLE_GOLD), settings=the_settings, store=store)
            else:
                write(synthetic_batch(n, seed=seed), store, batch_size=the_settings.write_batch)
            loaded = time.perf_counter() - started
            report["graphs"][name] = {"graph": the_settings.graph, "load_s": round(loaded, 1),
                                      **_bench_graph(the_settings, store, requests, seed)}
        finally:
            store.execute("MATCH (n) DETACH DELETE n", write=True)
            store.close()
    return report

