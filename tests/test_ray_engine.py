"""The Ray engine (``kgpipe build --engine ray``) against the local engine, on a local Ray cluster started once
for the module: the same documents, chunks, entities, mentions and facts with the same provenance; a
killed actor's group retried; a killed driver's rerun redoing only what it had not written.

The LLM is an OpenAI-compatible server on localhost (``fake_openai.FakeOpenAI``, answering as
``kgpipe.bench.endpoint`` does); the slow test builds ``data/sample`` with the packaged Gemma.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest
from killed_build import COMPLETE, kill_when_complete

from conftest import SAMPLE
from kgpipe.bench.endpoint import reply, synthetic_corpus
from kgpipe.cli import main
from kgpipe.config import Settings
from kgpipe.errors import MissingDependency
from kgpipe.ingest.pipeline import build
from kgpipe.stores import resolve_store

NO_RAY = "the ray extra is not installed: pip install -e '.[ray]'"
needs_ray = pytest.mark.skipif(find_spec("ray") is None, reason=NO_RAY)


@pytest.fixture(scope="module")
def ray_cluster():
    """One local Ray for the module (starting one costs seconds); builds join it instead of starting their own."""
    from kgpipe.ingest.ray_engine import connect

    ray = pytest.importorskip("ray", reason=NO_RAY)

    started = connect(Settings(), actors=5)
    yield
    if started:
        ray.shutdown()


def _endpoint(serve, delay: float = 0.0):
    """A ``fake_openai`` server answering as ``kgpipe.bench.endpoint`` does, ``delay`` seconds per request."""

    def behave(path: str, body: dict[str, Any], n: int) -> tuple[int, dict[str, str], Any, float]:
        status, payload = reply(path, body)
        return status, {}, payload, delay

    return serve(behave)


def _http(settings: Settings, server: Any, **more: Any) -> Settings:
    model = f"fake-{settings.graph}"  # a model of its own: its cache entries and calibration are this test's
    return replace(settings, llm=f"openai:{model}@{server.url}", llm_retries=2, llm_backoff=0.01, chunk_tokens=12,
                   llm_concurrency=4, **more)  # fmt: skip


def _graph(store: Any) -> tuple:
    """Everything a build leaves, by id: documents, chunks, entities, mentions, facts with their provenance."""
    q = [
        "MATCH (d:Document) RETURN d.id, d.path, d.complete",
        "MATCH (c:Chunk)-[:FROM_DOCUMENT]->(d:Document) RETURN c.id, c.text, c.start, c.end, d.id",
        "MATCH (e:Entity) RETURN e.id, e.name, e.type, e.aliases, labels(e)",
        "MATCH (e:Entity)-[m:FROM_CHUNK]->(c:Chunk) RETURN e.id, c.id, m.names",
        "MATCH (h:Entity)-[r]->(t:Entity) RETURN h.id, type(r), r.label, t.id, r.confidence, r.doc_ids, r.chunk_ids, "
        "r.extractor, r.wordings",
    ]
    return tuple(sorted(map(repr, store.execute(x).rows)) for x in q)


def _both(folder: Path, settings: Settings, **ray_settings: Any) -> tuple[tuple, tuple, Any, Any, float]:
    """The folder built by the local engine and by the Ray engine into two graphs: (local, ray, their results,
    when the Ray build began)."""
    graphs, results = [], []
    began = 0.0
    for engine, more in (("local", {}), ("ray", ray_settings)):
        began = time.monotonic()
        s = replace(settings, graph=f"{settings.graph}_{engine}", engine=engine, **more)
        store = resolve_store("falkordb", s)
        try:
            results.append(build(folder, s, store=store))
            graphs.append(_graph(store))
        finally:
            store.execute("MATCH (n) DETACH DELETE n", write=True)
            store.close()
    return graphs[0], graphs[1], results[0], results[1], began


def test_synthetic_corpus_on_ray_is_the_local_graph(ray_cluster, settings, serve, tmp_path):
    synthetic_corpus(tmp_path / "docs", 200, seed=1)
    server = _endpoint(serve)
    s = _http(settings, server)
    local, on_ray, local_result, ray_result, ray_began = _both(tmp_path / "docs", s)
    assert len(local[0]) == 200 and all("True" in d for d in local[0])
    assert local[4] and len(local[2]) < 40  # facts; names recurring across documents fused into few entities
    assert on_ray == local
    summary_local, summary_ray = local_result.summary(), ray_result.summary()
    for key in ("documents_built", "chunks", "triples_proposed", "triples_rejected", "triples_kept", "graph",
                "judge_signals", "failed_chunks"):  # fmt: skip
        assert summary_ray[key] == summary_local[key], key
    assert ray_result.report() == local_result.report()
    # The Ray build's requests were the local build's, answered by the response cache the actors share.
    assert summary_local["llm_calls"] > 0 and summary_ray["llm_calls"] == 0 and summary_ray["cache_hits"] > 0
    assert not [r for r in server.requests if r[3] >= ray_began]


def test_cli_builds_on_ray_with_the_same_summary_and_report(
    ray_cluster, settings, serve, tmp_path, monkeypatch, capsys
):
    synthetic_corpus(tmp_path / "docs", 12, seed=2)
    server = _endpoint(serve)
    s = _http(settings, server)
    for name in ("llm_retries", "llm_backoff", "chunk_tokens", "ontology", "canonical_relations", "chunk_vectors"):
        monkeypatch.setenv(f"KGPIPE_{name.upper()}", str(getattr(s, name)))
    out = {}
    for engine in ("local", "ray"):
        argv = ["--state-dir", s.state_dir, "--graph", f"{s.graph}_{engine}", "--llm", s.llm, "--no-progress",
                "build", str(tmp_path / "docs"), "--engine", engine, "--report", str(tmp_path / f"{engine}.json"),
                "--json", "--ray-actors", "2"]  # fmt: skip
        assert main(argv) == 0
        out[engine] = json.loads(capsys.readouterr().out)
        store = resolve_store("falkordb", replace(s, graph=f"{s.graph}_{engine}"))
        store.execute("MATCH (n) DETACH DELETE n", write=True)
        store.close()
    keep = {k for k in out["local"] if k not in ("seconds", "llm_calls", "cache_hits")}
    assert {k: out["ray"][k] for k in keep} == {k: out["local"][k] for k in keep}
    assert out["local"]["documents_built"] == 12
    assert (tmp_path / "ray.json").read_text() == (tmp_path / "local.json").read_text()


def test_a_killed_actor_is_retried_and_nothing_is_lost_or_doubled(ray_cluster, settings, serve, tmp_path):
    synthetic_corpus(tmp_path / "docs", 40, seed=3)
    s = _http(settings, _endpoint(serve))
    reference = resolve_store("falkordb", replace(s, graph=s.graph + "_ref"))
    try:
        build(tmp_path / "docs", s, store=reference)  # the local graph; its replies are now cached
        expected = _graph(reference)
    finally:
        reference.execute("MATCH (n) DETACH DELETE n", write=True)
        reference.close()
    slow = _endpoint(serve, delay=0.15)  # uncached: another model, so the kill lands mid-build
    s2 = replace(_http(settings, slow), engine="ray", ray_actors=2, llm=s.llm.split("@")[0] + "-slow@" + slow.url)
    store = resolve_store("falkordb", s2)
    killed: list[int] = []

    def kill_one_actor() -> None:
        deadline = time.time() + 120
        while time.time() < deadline and not killed:
            if len(slow.requests) >= 10:
                pids = _actor_pids()
                if pids:
                    os.kill(pids[0], signal.SIGKILL)
                    killed.append(pids[0])
            time.sleep(0.05)

    import threading

    killer = threading.Thread(target=kill_one_actor)
    killer.start()
    try:
        result = build(tmp_path / "docs", s2, store=store)
        killer.join()
        assert killed, "no actor was found to kill"
        assert result.documents_built == 40 and result.failed_chunks == []
        got = _graph(store)
    finally:
        store.execute("MATCH (n) DETACH DELETE n", write=True)
        store.close()
    # Another model name gives the same replies, so the same graph except the extractor named on each fact.
    assert got[:4] == expected[:4]
    assert [f.replace("-slow", "") for f in got[4]] == expected[4]


def _facts_by_name(store: Any) -> list[tuple]:
    rows = store.execute("MATCH (h:Entity)-[r]->(t:Entity) WHERE r.label IS NOT NULL "
                         "RETURN h.name, r.label, t.name, r.chunk_ids").rows  # fmt: skip
    return sorted((h, r, t, tuple(sorted(c))) for h, r, t, c in rows)


def _actor_pids() -> list[int]:
    """Processes of Ray actors running a kgpipe stage (``ray::MapWorker(MapBatches(_Worker))``) of this test's Ray:
    children of its raylet, never another session's (a build of another checkout on the same machine)."""
    import ray

    raylet = ray._private.worker._global_node.all_processes["raylet"][0].process.pid
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
                parent = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if "MapBatches(_Worker)" in cmdline and "ray::" in cmdline and parent == raylet:
                pids.append(int(proc.name))
    return sorted(pids)


@needs_ray
def test_a_killed_driver_is_rerun_and_redoes_only_unfinished_documents(settings, serve, tmp_path):
    synthetic_corpus(tmp_path / "docs", 24, seed=4)
    server = _endpoint(serve, delay=0.1)
    s = _http(settings, server, engine="ray", ray_actors=1)
    env = dict(os.environ, KGPIPE_LLM_RETRIES="2", KGPIPE_LLM_BACKOFF="0.01", KGPIPE_CHUNK_TOKENS="12",
               KGPIPE_ONTOLOGY="", KGPIPE_CANONICAL_RELATIONS="false", KGPIPE_LLM_CACHE="false",
               KGPIPE_BATCH_SIZE="1")  # fmt: skip
    cmd = [sys.executable, "-m", "kgpipe.cli", "--state-dir", s.state_dir, "--graph", s.graph, "--llm", s.llm,
           "--no-progress", "build", str(tmp_path / "docs"), "--engine", "ray", "--ray-actors", "1"]  # fmt: skip
    store = resolve_store("falkordb", s)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        kill_when_complete(proc, store, 3, timeout=240)
        done = store.execute(COMPLETE).rows[0][0]
        assert 3 <= done < 24
        rerun = build(tmp_path / "docs", replace(s, batch_size=1), store=store)
        assert rerun.documents_unchanged == done and rerun.documents_built == 24 - done
        got, got_facts = _graph(store), _facts_by_name(store)
        assert len(got[0]) == 24 and all("True" in d for d in got[0])
        reference = resolve_store("falkordb", replace(s, graph=s.graph + "_ref"))
        try:
            build(tmp_path / "docs", replace(s, engine="local", batch_size=1), store=reference)
            expected, expected_facts = _graph(reference), _facts_by_name(reference)
        finally:
            reference.execute("MATCH (n) DETACH DELETE n", write=True)
            reference.close()
        # Documents, chunks and facts (by name, with their chunks) are the uninterrupted build's, none doubled.
        assert got[:2] == expected[:2]
        assert got_facts == expected_facts and len(got_facts) == len(set(got_facts))
    finally:
        if proc.poll() is None:
            proc.kill()
        store.execute("MATCH (n) DETACH DELETE n", write=True)
        store.close()


@needs_ray
def test_an_unreachable_ray_address_is_a_clear_error_quickly(settings, tmp_path):
    (tmp_path / "a.txt").write_text("Ardenby lies in Corvale.", encoding="utf-8")
    cmd = [sys.executable, "-m", "kgpipe.cli", "--state-dir", settings.state_dir, "--graph", settings.graph,
           "--llm", "openai:none@http://127.0.0.1:9/v1", "--no-progress", "build", str(tmp_path), "--engine", "ray",
           "--no-judge", "--ray-address"]  # fmt: skip
    began = time.perf_counter()
    done = subprocess.run([*cmd, "127.0.0.1:9"], capture_output=True, text=True, timeout=120)  # nothing listens on 9
    assert time.perf_counter() - began < 60
    assert done.returncode == 2 and "no Ray cluster answers at '127.0.0.1:9'" in done.stderr
    assert "ray start --head" in done.stderr
    done = subprocess.run([*cmd, "ray://:x"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "is not host:port" in done.stderr


def test_without_ray_the_engine_says_what_to_install(settings, tmp_path, monkeypatch, capsys):
    (tmp_path / "a.txt").write_text("Ardenby lies in Corvale.", encoding="utf-8")
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    s = replace(settings, engine="ray", llm="openai:none@http://127.0.0.1:9/v1", judge=False)
    with pytest.raises(MissingDependency, match=r"pip install 'kgpipe\[ray\]'"):
        build(tmp_path, s)
    argv = ["--state-dir", s.state_dir, "--graph", s.graph, "--llm", s.llm, "--no-progress", "build", str(tmp_path),
            "--engine", "ray", "--no-judge"]  # fmt: skip
    assert main(argv) == 2
    assert "pip install 'kgpipe[ray]'" in capsys.readouterr().err


def test_bench_build_reports_each_engine_against_local(ray_cluster, settings):
    from kgpipe.bench.build import bench_build

    report = bench_build(replace(settings, ontology="", canonical_relations=False), documents=8, latency=0.01,
                         actors=(1, 2))  # fmt: skip
    assert report["local"]["chunks"] == report["ray_1"]["chunks"] == report["ray_2"]["chunks"] >= 8
    for run in ("ray_1", "ray_2"):
        assert report[run]["same_graph_as_local"] and report[run]["failed_chunks"] == 0
        assert report[run]["requests"] == report["local"]["requests"] > 0
        assert report[run]["ratio_vs_local"] == round(report[run]["chunks_per_s"] / report["local"]["chunks_per_s"], 3)
    assert report["response_cache"]["shared"]["errors"] == 0


@pytest.mark.slow
def test_ordered_canonicalisation_gives_the_local_labels(ray_cluster, settings, serve, tmp_path):
    """Free extraction with clustered relation wordings (MiniLM): the Ray build's three stages give the labels
    the local build's one canonicaliser gives."""
    wordings = ["married", "married to", "employs", "employ", "trades with", "trade with", "lies in"]  # MiniLM: 3 pairs
    synthetic_corpus(tmp_path / "docs", 60, seed=5, verbs=wordings)
    s = _http(settings, _endpoint(serve), canonical_relations=True, extraction="free")
    local, on_ray, *_ = _both(tmp_path / "docs", s)
    assert on_ray == local
    labels = {f.split(", ")[2] for f in local[4]}
    assert 1 < len(labels) < len(wordings)  # wordings of one meaning were clustered under one label


@pytest.mark.slow
def test_default_extraction_on_ray_is_the_local_graph(ray_cluster, settings, serve, tmp_path):
    """Grounded extraction under the general ontology with canonical relations (the defaults), through an HTTP
    endpoint: replies snapped and relations re-chosen by MiniLM, which the actors reach through the build's one
    embedding actor; groups cut into blocks for 3 actors."""
    synthetic_corpus(tmp_path / "docs", 80, seed=6)
    s = _http(settings, _endpoint(serve), ontology="general", canonical_relations=True)
    local, on_ray, local_result, ray_result, _ = _both(tmp_path / "docs", s, ray_actors=3)
    assert local[4] and on_ray == local
    assert ray_result.summary()["snapped"] == local_result.summary()["snapped"]
    assert ray_result.report() == local_result.report()


@pytest.mark.slow
def test_sample_with_gemma_on_ray_is_the_local_graph(ray_cluster, settings, tmp_path):
    """data/sample with the default model, built by both engines with test_pipeline's sample build's settings, so
    that in a full run the local build reads that build's replies from the session's response cache instead of
    decoding with Gemma again; the Ray build reads the same cache (its one group loads Gemma in one actor)."""
    s = replace(settings, llm="gemma")
    local, on_ray, _, ray_result, _ = _both(SAMPLE, s)
    assert local[4] and on_ray == local
    assert ray_result.summary()["llm_calls"] == 0
