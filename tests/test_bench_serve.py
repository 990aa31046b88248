"""kgpipe bench serve on a small synthetic graph: the report's shape, and that its scratch graphs are dropped."""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed: pip install 'kgpipe[serve]'")

from conftest import SAMPLE_GOLD
from kgpipe.bench.serve import CLIENTS, bench_serve
from kgpipe.stores import resolve_store


def test_bench_serve_reports_http_against_direct_calls(settings):
    report = bench_serve(settings, n=2000, requests=24)
    gold = {tuple(line.split("\t")[:3]) for line in SAMPLE_GOLD.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")}  # distinct facts (some are stated by two documents)
    sample, synthetic = report["graphs"]["sample"], report["graphs"]["synthetic"]
    assert sample["facts"] == len(gold) and synthetic["facts"] == 2000
    for graph in (sample, synthetic):
        for endpoint in ("GET /api/entities/{id}", "POST /api/query"):
            assert set(graph[endpoint]) == {str(c) for c in CLIENTS}
            for figures in graph[endpoint].values():
                for side in ("http", "direct"):
                    f = figures[side]
                    assert 0 < f["p50_ms"] <= f["p99_ms"] and f["requests_per_s"] > 0
                assert figures["p50_overhead_ratio"] == round(figures["http"]["p50_ms"] / figures["direct"]["p50_ms"], 2)
        scratch = resolve_store("falkordb", settings.replace(graph=graph["graph"]))
        assert scratch.execute("MATCH (n) RETURN count(n)").rows[0][0] == 0
