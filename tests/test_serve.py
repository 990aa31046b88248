"""kgpipe serve's HTTP API against the real embedded FalkorDB: every endpoint, the refusals, an upload round trip."""

from __future__ import annotations

import json
import time

import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed: pip install 'kgpipe[serve]'")

from fastapi.testclient import TestClient

from conftest import SAMPLE, SAMPLE_GOLD, ScriptedLLM, gold_extractor
from kgpipe.serve.app import ServeLimits, create_app
from kgpipe.serve.views import locate_sentence
from kgpipe.stores import open_store

TOKEN = "test-token-3f9a"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def client(sample_graph):
    """The app over the sample graph, with a write token (writes in these tests are refused or harmless)."""
    with TestClient(create_app(sample_graph, write_token=TOKEN)) as c:
        yield c


def _id(client, name: str) -> str:
    results = client.get("/api/search", params={"q": name}).json()["results"]
    return next(r["id"] for r in results if r["name"] == name)


def _finished(client, job_id: str) -> dict:
    """The upload job's state once it is done or failed (or after 10 s, whatever it is then)."""
    for _ in range(100):
        polled = client.get(f"/api/jobs/{job_id}").json()
        if polled["status"] in ("done", "failed"):
            break
        time.sleep(0.1)
    return polled


def _error(response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["message"], body
    return body["error"]["message"]


def test_stats_match_the_store(client, sample_graph):
    stats = client.get("/api/stats").json()
    store = open_store(sample_graph)
    assert stats["documents"] == len(list(SAMPLE.iterdir()))
    assert stats["facts"] == store.execute("MATCH (:Entity)-[r]->(:Entity) WHERE type(r) <> 'PREDICTED' RETURN count(r)").rows[0][0]
    assert stats["entities"] == store.execute("MATCH (e:Entity) RETURN count(e)").rows[0][0]


def test_search_is_fuzzy_and_typed(client, sample_graph):
    exact = client.get("/api/search", params={"q": "Pierre Curie"}).json()["results"]
    assert exact[0]["name"] == "Pierre Curie"
    typo = client.get("/api/search", params={"q": "Piere Curei"}).json()["results"]
    assert "Pierre Curie" in [r["name"] for r in typo]
    assert client.get("/api/search", params={"q": "zzqxj vvkwp"}).json()["results"] == []


def test_search_finds_an_entity_by_an_alias_and_its_type(settings, tmp_path):
    """An alias the fusion kept (two spellings of one company in one document), on a graph of its own."""
    from kgpipe.ingest.pipeline import build

    (tmp_path / "apple.txt").write_text("Apple Inc. was founded in 1976. Apple makes the iPhone.\n", encoding="utf-8")
    reply = "Apple Inc. | founded in | 1976\nApple | makes | iPhone\nEND"
    build(tmp_path, settings.replace(extraction="free", judge=False, llm_cache=False),
          llm=ScriptedLLM(lambda *_: reply, model_id="scripted-apple"))  # fmt: skip
    store = open_store(settings)
    eid, alias = store.execute("MATCH (e:Entity) WHERE size(e.aliases) > 0 UNWIND e.aliases AS a "
                               "WITH e, a WHERE a <> e.name RETURN e.id, a LIMIT 1").rows[0]  # fmt: skip
    with TestClient(create_app(settings)) as client:
        assert eid in [r["id"] for r in client.get("/api/search", params={"q": alias}).json()["results"]]
        etype = store.execute("MATCH (e:Entity {id: $id}) RETURN e.type", {"id": eid}).rows[0][0]
        typed = client.get("/api/search", params={"q": alias, "type": etype}).json()["results"]
        assert typed and all(r["type"].lower() == etype.lower() for r in typed)
        assert client.get("/api/search", params={"q": alias, "type": "NoSuchType"}).json()["results"] == []


def test_entity_lists_facts_both_ways_and_predicted_links_apart(client, sample_graph):
    gold = [line.split("\t") for line in SAMPLE_GOLD.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    entity = client.get(f"/api/entities/{_id(client, 'Pierre Curie')}").json()
    assert entity["name"] == "Pierre Curie"
    out = {(f["relation"], f["tail"]) for f in entity["facts_out"]}
    assert out and out <= {(r, t) for h, r, t, *_ in gold if h == "Pierre Curie"}
    assert all(f["head"] != "Pierre Curie" and f["tail"] == "Pierre Curie" for f in entity["facts_in"])
    assert all(f["chunk_ids"] and f["doc_ids"] and f["confidence"] is not None for f in entity["facts_out"])
    assert entity["predicted"] == []
    # a predicted link and a conflict mark show up where they belong (written in a scratch graph)
    store = open_store(sample_graph)
    a, b = (_id(client, n) for n in ("Pierre Curie", "Warsaw"))
    store.execute("MATCH (a:Entity {id: $a}), (b:Entity {id: $b}) CREATE (a)-[:PREDICTED {relation: 'born in', "
                  "score: 0.42, model: 'test'}]->(b)", {"a": a, "b": b}, write=True)  # fmt: skip
    try:
        entity = client.get(f"/api/entities/{a}").json()
        assert [(p["relation"], p["tail"], p["score"]) for p in entity["predicted"]] == [("born in", "Warsaw", 0.42)]
        assert all(f["tail"] != "Warsaw" for f in entity["facts_out"])  # kept apart from the facts
        graph = client.get(f"/api/entities/{a}/neighbourhood").json()
        dashed = [e for e in graph["edges"] if e["predicted"]]
        assert [(e["to"], e["score"]) for e in dashed] == [(b, 0.42)]
        assert {e["from"] for e in graph["edges"]} | {e["to"] for e in graph["edges"]} == {n["id"] for n in graph["nodes"]}
    finally:
        store.execute("MATCH ()-[p:PREDICTED {model: 'test'}]->() DELETE p", write=True)


def test_conflict_marks_are_shown(client, sample_graph):
    store = open_store(sample_graph)
    eid = _id(client, "Marie Curie")
    fact = client.get(f"/api/entities/{eid}").json()["facts_out"][0]
    store.execute("MATCH (h:Entity {id: $h})-[r]->(t:Entity {id: $t}) WHERE type(r) = $type SET r.conflict = true",
                  {"h": fact["head_id"], "t": fact["tail_id"], "type": fact["type"]}, write=True)  # fmt: skip
    try:
        marked = {f["id"]: f["conflict"] for f in client.get(f"/api/entities/{eid}").json()["facts_out"]}
        assert marked[fact["id"]] is True and sum(marked.values()) == 1
    finally:
        store.execute("MATCH ()-[r]->() WHERE r.conflict = true SET r.conflict = NULL", write=True)


def test_provenance_locates_the_sentence(client):
    entity = client.get(f"/api/entities/{_id(client, 'Marie Curie')}").json()
    fact = next(f for f in entity["facts_out"] if f["tail"] == "University of Paris")
    prov = client.get(f"/api/facts/{fact['id']}/provenance").json()
    assert prov["fact"]["id"] == fact["id"]
    assert [d["path"].rsplit("/", 1)[-1] for d in prov["documents"]] == ["marie_curie.txt"]
    located = [c for c in prov["chunks"] if c["sentence"] and c["sentence"]["both_ends"]]
    assert located, prov
    chunk = located[0]
    s = chunk["sentence"]
    assert chunk["text"][s["start"]:s["end"]] == s["text"]
    assert "University of Paris" in s["text"] and "Curie" in s["text"]
    document = (SAMPLE / "marie_curie.txt").read_text(encoding="utf-8")
    assert document[s["document_start"]:s["document_end"]] == s["text"]  # offsets into the document too
    (a, b), = s["tail"]
    assert chunk["text"][a:b] == "University of Paris"


def test_locate_sentence_prefers_the_sentence_naming_both_ends():
    text = "Ann lives in Oslo. Ann works for Acme. Acme is in Bergen."
    found = locate_sentence(text, ["Ann"], ["Acme"])
    assert found["text"] == "Ann works for Acme." and found["both_ends"]
    assert locate_sentence(text, ["Bob"], ["Zed"]) is None
    assert locate_sentence(text, ["Bob"], ["Bergen"])["text"] == "Acme is in Bergen."
    # the relation's words outweigh a second name: the pronoun sentence that states the fact wins
    text = "Pierre Curie worked at the University of Paris. He was born in Paris in 1859."
    found = locate_sentence(text, ["Pierre Curie"], ["Paris"], ["born in"])
    assert found["text"] == "He was born in Paris in 1859." and not found["both_ends"]
    assert locate_sentence(text, ["Pierre Curie"], ["Paris"], ["works for"])["text"].startswith("Pierre Curie worked")


def test_unknown_ids_are_404_with_a_message(client):
    assert "no entity" in _error(client.get("/api/entities/0123abc"), 404)
    assert "not a fact id" in _error(client.get("/api/facts/nonsense/provenance"), 404)
    assert "no fact" in _error(client.get("/api/facts/a1:BORN_IN:b2/provenance"), 404)
    assert "no upload job" in _error(client.get("/api/jobs/feedbeef"), 404)
    assert "no such endpoint" in _error(client.get("/api/nothing"), 404)
    assert "no document" in _error(client.delete("/api/documents/" + "0" * 64, headers=AUTH), 404)


def test_query_reads_with_params_and_a_row_cap(client):
    r = client.post("/api/query", json={"cypher": "MATCH (e:Entity {name: $n}) RETURN e.name AS name", "params": {"n": "Paris"}})
    assert r.json() == {"columns": ["name"], "rows": [["Paris"]], "truncated": False}
    r = client.post("/api/query", json={"cypher": "UNWIND range(1, 100000) AS x RETURN x"}).json()
    assert len(r["rows"]) == ServeLimits().max_rows and r["truncated"] is True  # the server's cap
    r = client.post("/api/query", json={"cypher": "UNWIND range(1, 100) AS x RETURN x", "limit": 7}).json()
    assert [row[0] for row in r["rows"]] == list(range(1, 8)) and r["truncated"]


@pytest.mark.parametrize("cypher", [
    "MATCH (n) DETACH DELETE n",
    "CREATE (:Entity {name: 'x'})",
    "MATCH (n) /* RETURN */ SET n.name = 'x'",
    "MATCH (n) WITH n CALL { WITH n DETACH DELETE n } RETURN 1",
    "CALL db.idx.fulltext.createNodeIndex('Entity', 'name')",
    "LOAD CSV FROM 'file:///etc/passwd' AS line RETURN line",
])  # fmt: skip
def test_hostile_cypher_is_refused_and_changes_nothing(client, cypher):
    before = client.get("/api/stats").json()
    assert _error(client.post("/api/query", json={"cypher": cypher}), 403)
    assert client.get("/api/stats").json() == before


def test_bad_requests_are_clear_json_errors(client):
    msg = _error(client.post("/api/query", json={"cypher": "MATCH (n RETURN n"}), 400)
    assert "FalkorDB" in msg
    assert "cypher" in _error(client.post("/api/query", json={"params": {}}), 422)
    assert "question" in _error(client.post("/api/ask", json={}), 422)
    assert "mode" in _error(client.post("/api/ask", json={"question": "x", "mode": "magic"}), 422)
    assert "q" in _error(client.get("/api/search"), 422)


def _uploads(settings) -> set:
    from pathlib import Path

    return set((Path(settings.state_dir) / "uploads").glob("*/*"))


def test_writes_need_the_token(sample_graph):
    uploads_before = _uploads(sample_graph)
    write = {"cypher": "CREATE (:Scratch {x: 1})", "write": True}
    files = {"files": ("a.txt", b"Ann Alpha works for Alpha Corp.", "text/plain")}
    with TestClient(create_app(sample_graph)) as no_token:  # started without a token: every write refused
        assert "read-only" in _error(no_token.post("/api/query", json=write, headers=AUTH), 403)
        assert "read-only" in _error(no_token.post("/api/documents", files=files, headers=AUTH), 403)
        assert "read-only" in _error(no_token.delete("/api/documents/" + "0" * 64, headers=AUTH), 403)
    with TestClient(create_app(sample_graph, write_token=TOKEN)) as c:
        assert "write token" in _error(c.post("/api/query", json=write), 401)
        assert "not this server's" in _error(c.post("/api/query", json=write, headers={"X-Kgpipe-Token": "wrong"}), 403)
        assert "write token" in _error(c.post("/api/documents", files=files), 401)
        assert "write token" in _error(c.delete("/api/documents/" + "0" * 64), 401)
    assert open_store(sample_graph).execute("MATCH (n:Scratch) RETURN count(n)").rows[0][0] == 0
    assert _uploads(sample_graph) == uploads_before  # nothing stored for a refused upload


def test_no_cors_headers(client):
    r = client.get("/api/stats", headers={"Origin": "https://evil.example"})
    assert r.status_code == 200 and not any(h.lower().startswith("access-control-") for h in r.headers)
    pre = client.options("/api/query", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in {h.lower() for h in pre.headers}


def test_cors_only_for_the_origins_named(sample_graph):
    with TestClient(create_app(sample_graph, cors_origins=["http://localhost:3000"])) as c:
        ok = c.get("/api/stats", headers={"Origin": "http://localhost:3000"})
        assert ok.headers["access-control-allow-origin"] == "http://localhost:3000"
        other = c.get("/api/stats", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


def test_a_query_over_the_timeout_is_504(sample_graph):
    with TestClient(create_app(sample_graph.replace(query_timeout_ms=1))) as c:
        slow = {"cypher": "UNWIND range(1, 20000000) AS x WITH x WHERE x % 7 = 0 RETURN count(x) AS n"}
        assert "timed out" in _error(c.post("/api/query", json=slow), 504).lower()


def test_request_size_and_file_type_limits(sample_graph):
    limits = ServeLimits(max_body=4096, max_files=2)
    with TestClient(create_app(sample_graph, write_token=TOKEN, limits=limits)) as c:
        big = {"files": ("big.txt", b"x" * 10_000, "text/plain")}
        assert "at most 4096" in _error(c.post("/api/documents", files=big, headers=AUTH), 413)
        assert "at most 4096" in _error(c.post("/api/query", content=json.dumps({"cypher": "RETURN 1", "params": {"p": "y" * 5000}}),
                                               headers={"content-type": "application/json"}), 413)  # fmt: skip
        def chunked():  # no Content-Length: the size is counted as the body arrives
            yield json.dumps({"cypher": "RETURN 1", "params": {"p": "y" * 3000}}).encode()
            yield b" " * 3000

        assert "over 4096" in _error(c.post("/api/query", content=chunked(), headers={"content-type": "application/json"}), 413)
        exe = {"files": ("tool.exe", b"MZ\x90\x00", "application/octet-stream")}
        assert "unsupported file type .exe" in _error(c.post("/api/documents", files=exe, headers=AUTH), 415)
        docx = {"files": ("report.docx", b"PK\x03\x04", "application/octet-stream")}
        assert ".docx" in _error(c.post("/api/documents", files=docx, headers=AUTH), 415)
        three = [("files", (f"{i}.txt", b"x", "text/plain")) for i in range(3)]
        assert "at most 2" in _error(c.post("/api/documents", files=three, headers=AUTH), 413)


def test_concurrency_limit_answers_busy(sample_graph):
    import threading

    gate = threading.Event()
    limits = ServeLimits(max_concurrent=1, queue_s=0.5)
    the_app = create_app(sample_graph, limits=limits)
    fastapi_app = the_app.app

    @fastapi_app.get("/api/_hold")
    def hold() -> dict:
        gate.wait(10)
        return {}

    with TestClient(the_app) as c:
        held = threading.Thread(target=c.get, args=("/api/_hold",))
        held.start()
        time.sleep(0.3)
        try:
            assert "retry later" in _error(c.get("/api/stats"), 503)
        finally:
            gate.set()
            held.join()
        assert c.get("/api/stats").status_code == 200


def test_upload_build_delete_round_trip_leaves_nothing(settings, store, tmp_path):
    before = store.execute("MATCH (n) RETURN count(n)").rows[0][0]
    text = (SAMPLE / "pierre_curie.md").read_bytes()
    quiet = settings.replace(extraction="free", judge=False, llm_cache=False)
    with TestClient(create_app(quiet, write_token=TOKEN, store=store, llm=gold_extractor())) as c:
        job = c.post("/api/documents", files=[("files", ("pierre.md", text, "text/markdown"))], headers=AUTH)
        assert job.status_code == 202, job.text
        job_id = job.json()["id"]
        events = []
        with c.stream("GET", f"/api/jobs/{job_id}/events") as stream:
            for line in stream.iter_lines():
                if line.startswith("data: "):
                    events.append(json.loads(line[6:]))
        assert events[-1]["status"] == "done" and events[-1]["done"] == events[-1]["total"] == 1, events[-1]
        polled = c.get(f"/api/jobs/{job_id}").json()
        assert polled["status"] == "done"
        doc_id = polled["documents"][0]["doc_id"]
        assert doc_id and polled["documents"][0]["summary"]["documents_built"] == 1
        stats = c.get("/api/stats").json()
        assert stats["documents"] == 1 and stats["facts"] > 3
        assert "Pierre Curie" in [r["name"] for r in c.get("/api/search", params={"q": "Pierre Curie"}).json()["results"]]
        uploaded = [d["path"] for d in c.get("/api/documents").json()["documents"]]
        assert len(uploaded) == 1 and uploaded[0].startswith(str(quiet.state_dir))
        gone = c.delete(f"/api/documents/{doc_id}", headers=AUTH).json()
        assert gone["deleted"]["documents"] == 1 and gone["files_removed"] == 1
        assert c.get("/api/stats").json() | {"jobs_running": 0} == {**{k: 0 for k in stats}, "jobs_running": 0}
        assert c.get("/api/search", params={"q": "Pierre Curie"}).json()["results"] == []
    assert store.execute("MATCH (n) RETURN count(n)").rows[0][0] == before
    from pathlib import Path

    assert not Path(uploaded[0]).exists() and not Path(uploaded[0]).parent.exists()


def test_an_upload_the_loader_skips_is_reported_and_not_kept(settings, store):
    quiet = settings.replace(extraction="free", judge=False, llm_cache=False)
    with TestClient(create_app(quiet, write_token=TOKEN, store=store, llm=gold_extractor())) as c:
        job = c.post("/api/documents", files=[("files", ("scan.pdf", b"%PDF-1.4 not really a pdf", "application/pdf"))],
                     headers=AUTH).json()  # fmt: skip
        polled = _finished(c, job["id"])
        assert polled["status"] == "done" and polled["documents"][0]["doc_id"] is None, polled
        assert polled["documents"][0]["skipped"], polled
        assert c.get("/api/stats").json()["documents"] == 0
    from pathlib import Path

    assert not (Path(quiet.state_dir) / "uploads" / job["id"]).exists()


def test_a_failed_build_is_reported_on_the_job(settings, store):
    from kgpipe.errors import LLMError

    def broken(prompt, *_):
        raise LLMError("model crashed")

    quiet = settings.replace(extraction="free", judge=False, llm_cache=False, llm_retries=0)
    with TestClient(create_app(quiet, write_token=TOKEN, store=store, llm=ScriptedLLM(broken))) as c:
        job = c.post("/api/documents", files=[("files", ("a.txt", b"Ann Alpha works for Alpha Corp.", "text/plain"))],
                     headers=AUTH).json()  # fmt: skip
        polled = _finished(c, job["id"])
        # the build finishes and reports the chunk that failed (its document stays incomplete, retried next build)
        assert polled["status"] == "done", polled
        assert polled["documents"][0]["summary"]["failed_chunks"] == 1, polled


def test_ask_in_cypher_mode_returns_the_generated_query_and_rows(sample_graph, fixed_reply):
    reply = "MATCH (h:Entity {name: 'Pierre Curie'})-[r]->(t:Entity) RETURN t.name AS name LIMIT 5"
    with TestClient(create_app(sample_graph, llm=fixed_reply(reply))) as c:
        answer = c.post("/api/ask", json={"question": "What about Pierre Curie?", "mode": "cypher"}).json()
    assert "Pierre Curie" in answer["query"] and answer["rows"], answer


def test_openapi_docs_list_every_endpoint(client):
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    for path in ["/api/stats", "/api/search", "/api/entities/{entity_id}", "/api/facts/{fact_id}/provenance",
                 "/api/query", "/api/ask", "/api/documents", "/api/documents/{doc_id}", "/api/jobs/{job_id}"]:  # fmt: skip
        assert path in paths, path


@pytest.mark.slow
def test_ask_with_gemma_returns_verified_paths_with_provenance(sample_graph):
    with TestClient(create_app(sample_graph)) as c:
        answer = c.post("/api/ask", json={"question": "Where was Pierre Curie born?"}).json()
        assert answer["paths"], answer
        assert all(p["verified"] for p in answer["paths"])
        assert answer["paths"][0]["provenance"][0]["documents"], answer["paths"][0]
        assert "no entity" in _error(c.post("/api/ask", json={"question": "What is the weather like?"}), 422)


def _kgpipe(*args: str, settings, **kwargs):
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SAMPLE.parent.parent), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen([sys.executable, "-m", "kgpipe.cli", "--state-dir", str(settings.state_dir), "--graph",
                             settings.graph, *args], env=env, **kwargs)  # fmt: skip


def test_serve_without_the_extra_says_what_to_install(sample_graph):
    import subprocess
    import sys

    code = ("import sys; sys.modules['fastapi'] = None; from kgpipe.cli import main; "
            f"sys.exit(main(['--state-dir', {str(sample_graph.state_dir)!r}, 'serve']))")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**__import__("os").environ, "PYTHONPATH": str(SAMPLE.parent.parent)})  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "pip install 'kgpipe[serve]'" in done.stderr and "Traceback" not in done.stderr


def test_kgpipe_serve_command_serves_the_graph(sample_graph):
    import socket
    import subprocess

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = _kgpipe("serve", "--port", str(port), settings=sample_graph, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(150):
            try:
                stats = httpx.get(f"http://127.0.0.1:{port}/api/stats", timeout=2).json()
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stderr.read()
                time.sleep(0.2)
        else:
            raise AssertionError("kgpipe serve did not answer within 30 s")
        assert stats["documents"] == len(list(SAMPLE.iterdir()))
        page = httpx.get(f"http://127.0.0.1:{port}/").text
        assert "<html" in page.lower()
        refused = httpx.post(f"http://127.0.0.1:{port}/api/query", json={"cypher": "CREATE (:X)", "write": True})
        assert refused.status_code == 403 and "read-only" in refused.json()["error"]["message"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.slow
def test_ask_in_context_mode_answers_from_the_pruned_neighbourhood(sample_graph, fixed_reply):
    # MiniLM scores the facts (slow); the answering model is scripted: this checks the endpoint's wiring
    with TestClient(create_app(sample_graph, llm=fixed_reply("Paris"))) as c:
        answer = c.post("/api/ask", json={"question": "Where was Pierre Curie born?", "mode": "context"}).json()
    assert answer["answer"] == "Paris" and answer["grounded"], answer
    assert "Pierre Curie" in [e["name"] for e in answer["entities"]]
    assert ("Pierre Curie", "born in", "Paris") in {(f["head"], f["relation"], f["tail"]) for f in answer["facts"]}
