"""The stores against real servers: the embedded FalkorDB kgpipe starts, and Neo4j when NEO4J_URI is set."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from kgpipe.config import Settings
from kgpipe.errors import ConfigError, StoreError, StoreUnavailable, UnsafeQuery
from kgpipe.ingest.write import delete_document, stats, write
from kgpipe.records import Chunk, Document, Entity, Fact, GraphBatch, Mention
from kgpipe.stores import QueryResult, resolve_store
from kgpipe.stores import falkordb_server as server
from kgpipe.stores.falkordb import FalkorDBStore

REPO = Path(__file__).resolve().parent.parent


def _alive(pid: int) -> bool:
    return server._pid_alive(pid)  # treats a not-yet-reaped (zombie) server as gone


def _python(code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)


@pytest.fixture
def own_state(tmp_path: Path):
    """A state folder (so a server) of the test's own, for tests that stop, kill or corrupt it."""
    yield tmp_path
    server.stop_server(tmp_path)


def _settings(state: Path, graph: str = "g") -> Settings:
    return Settings(state_dir=str(state), graph=graph, progress=False)


# -- server lifetime ---------------------------------------------------------------------------


def test_server_starts_records_itself_and_is_reused(own_state: Path) -> None:
    info = server.ensure_server(own_state)
    record = json.loads((own_state / "falkordb" / "server.json").read_text())
    assert record["pid"] == info.pid and _alive(info.pid)
    assert stat.S_IMODE(os.stat(info.socket).st_mode) & 0o077 == 0  # only this user can connect
    assert server.ensure_server(own_state).pid == info.pid
    first, second = FalkorDBStore("falkordb", _settings(own_state)), FalkorDBStore("falkordb", _settings(own_state))
    pids = {int(s.db.connection.info("server")["process_id"]) for s in (first, second)}
    assert pids == {info.pid}
    first.close()
    second.close()


def test_no_tcp_listener(own_state: Path) -> None:
    info = server.ensure_server(own_state)
    store = FalkorDBStore("falkordb", _settings(own_state))
    assert store.db.connection.config_get("port")["port"] == "0"
    assert info.socket.endswith(".sock")
    store.close()


def test_long_state_path_gets_a_short_socket(tmp_path: Path) -> None:
    deep = tmp_path / ("very-long-folder-name-" * 5) / "state"
    try:
        info = server.ensure_server(deep)
        assert len(info.socket) <= 100 and not info.socket.startswith(str(deep))
        store = resolve_store("falkordb", _settings(deep))
        assert store.execute("RETURN 1").rows == [[1]]
        store.close()
    finally:
        server.stop_server(deep)


def test_second_process_reuses_the_server(own_state: Path) -> None:
    pid = server.ensure_server(own_state).pid
    done = _python(f"from kgpipe.stores import falkordb_server as s; print(s.ensure_server({str(own_state)!r}).pid)")
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) == pid


def test_concurrent_first_starts_make_one_server(own_state: Path) -> None:
    code = f"from kgpipe.stores.falkordb_server import ensure_server; print(ensure_server({str(own_state)!r}).pid)"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env) for _ in range(3)
    ]
    pids = {int(p.communicate(timeout=120)[0]) for p in procs}
    assert len(pids) == 1


def test_stale_record_is_detected(own_state: Path) -> None:
    old = server.ensure_server(own_state)
    assert server.stop_server(own_state) and not _alive(old.pid)
    assert not server.stop_server(own_state)  # nothing left to stop
    record = own_state / "falkordb" / "server.json"
    # A record naming a live process that is not the server (pid reuse), and a leftover socket file.
    record.write_text(json.dumps({**old.__dict__, "pid": os.getpid()}))
    Path(old.socket).touch()
    new = server.ensure_server(own_state)
    assert new.pid not in (old.pid, os.getpid()) and _alive(new.pid)
    assert json.loads(record.read_text())["pid"] == new.pid


def test_unresponsive_server_is_never_doubled(own_state: Path) -> None:
    """A recorded server that is alive but hung must not get a second server on the same data folder."""
    info = server.ensure_server(own_state)
    os.kill(info.pid, signal.SIGSTOP)
    try:
        with pytest.raises(StoreUnavailable, match="not answering"):
            server.ensure_server(own_state, timeout=1)
    finally:
        os.kill(info.pid, signal.SIGCONT)
    assert server.ensure_server(own_state).pid == info.pid


def test_a_server_slow_to_answer_while_starting_is_waited_for(tmp_path: Path) -> None:
    """A starting server that accepts a connection but is too busy loading to answer PING within the second (a
    loaded machine, a big graph) is still starting: the wait goes on to its own timeout and its clear error."""
    path = tmp_path / "s.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(8)  # accepts, never answers
    (tmp_path / "pid").write_text(str(os.getpid()))
    try:
        with pytest.raises(StoreUnavailable, match="did not become ready within 3 s"):
            server._wait_ready(tmp_path, str(path), tmp_path / "pid", tmp_path / "log", timeout=3)
    finally:
        listener.close()


def test_failed_start_reports_the_server_log(tmp_path: Path) -> None:
    aof = tmp_path / "falkordb" / "appendonlydir"
    aof.mkdir(parents=True)
    (aof / "appendonly.aof.manifest").write_text("not a manifest\n")
    with pytest.raises(StoreUnavailable, match="(?s)exited during start-up.*server log tail.*manifest"):
        server.ensure_server(tmp_path, timeout=15)
    assert server.find_server(tmp_path) is None


def test_data_survives_clean_restart_and_server_kill(own_state: Path) -> None:
    st = FalkorDBStore("falkordb", _settings(own_state))
    st.execute("CREATE (:Entity {id: 'kept'})", write=True)
    st.close()
    server.stop_server(own_state)
    st = FalkorDBStore("falkordb", _settings(own_state))  # restarts from the saved data
    assert st.execute("MATCH (e:Entity) RETURN e.id").rows == [["kept"]]
    st.execute("CREATE (:Entity {id: 'after'})", write=True)
    time.sleep(1.5)  # appendfsync everysec: at most the last second is at risk in a server crash
    os.kill(server.find_server(own_state).pid, signal.SIGKILL)  # type: ignore[union-attr]
    with pytest.raises(StoreUnavailable, match="lost FalkorDB"):
        st.execute("MATCH (n) RETURN count(n)")
    st = FalkorDBStore("falkordb", _settings(own_state))
    assert sorted(r[0] for r in st.execute("MATCH (e:Entity) RETURN e.id").rows) == ["after", "kept"]
    st.close()


def test_client_killed_mid_run_loses_nothing_written(own_state: Path) -> None:
    code = f"""
import os, signal
from kgpipe.config import Settings
from kgpipe.stores import resolve_store
from kgpipe.records import Entity, GraphBatch
from kgpipe.ingest.write import write
st = resolve_store("falkordb", Settings(state_dir={str(own_state)!r}, graph="g"))
write(GraphBatch(entities=[Entity(f"e{{i}}", f"E{{i}}") for i in range(1000)]), st)
os.kill(os.getpid(), signal.SIGKILL)
"""
    assert _python(code).returncode == -signal.SIGKILL
    st = FalkorDBStore("falkordb", _settings(own_state))
    assert st.execute("MATCH (e:Entity) RETURN count(e)").rows == [[1000]]
    st.close()


def test_external_address() -> None:
    with pytest.raises(StoreUnavailable):
        FalkorDBStore("falkordb://127.0.0.1:1", Settings())
    with pytest.raises(ConfigError):
        FalkorDBStore("falkordb://", Settings())


def test_external_server_over_tcp(tmp_path: Path) -> None:
    """``falkordb://host:port`` reaches a server kgpipe did not start."""
    redis_server, module = server.server_binaries()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    args = [redis_server, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(tmp_path), "--save", ""]
    proc = subprocess.Popen([*args, "--loadmodule", module], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                st = resolve_store(f"falkordb://127.0.0.1:{port}", Settings(graph="ext"))
                break
            except StoreUnavailable:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        st.execute("CREATE (:Document {id: 'x'})", write=True)
        assert st.execute("MATCH (d:Document) RETURN d.id").rows == [["x"]]
        st.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)


# -- queries on the shared session server ------------------------------------------------------


def test_read_only_mode_is_enforced_by_the_server(store) -> None:
    """Even with the clause check bypassed (calling the store directly), write=False cannot write."""
    store.execute("CREATE (:Entity {id: 'a'})-[:KNOWS]->(:Entity {id: 'b'})", write=True)
    for query in (
        "MATCH (n) DETACH DELETE n",
        "CREATE (:Entity {id: 'c'})",
        "MATCH (n) SET n.x = 1",
        "MATCH (n) WITH n LIMIT 1 /* sneaky */ DETACH DELETE n",
        "MERGE (n:Entity {id: 'd'})",
        "CREATE INDEX FOR (n:Other) ON (n.id)",
    ):
        with pytest.raises(UnsafeQuery, match="read-only"):
            store.execute(query)
    assert store.execute("MATCH (n) RETURN count(n), max(n.x)").rows == [[2, None]]
    assert ["Entity"] in store.execute("CALL db.labels()").rows


def test_results_are_plain_python(store) -> None:
    store.execute(
        "CREATE (:Entity:__Entity__:Person {id: 'a', name: 'Ann', aliases: ['A']})"
        "-[:WORKS_FOR {label: 'works for', confidence: 0.5}]->(:Entity:__Entity__ {id: 'b', name: 'B'})",
        write=True,
    )
    result = store.execute(
        "MATCH p = (h {id: $h})-[r]->(t) RETURN h, r, p, {k: [1, 2.5, true, null]} AS m, h.aliases AS al", {"h": "a"}
    )
    assert isinstance(result, QueryResult) and result.columns == ["h", "r", "p", "m", "al"]
    h, r, p, m, al = result.rows[0]
    assert h["labels"] == ["Entity", "Person", "__Entity__"]
    assert h["properties"] == {"id": "a", "name": "Ann", "aliases": ["A"]}
    assert r == {"type": "WORKS_FOR", "properties": {"label": "works for", "confidence": 0.5}}
    assert [x.get("type") or x["properties"]["id"] for x in p] == ["a", "WORKS_FOR", "b"]
    assert m == {"k": [1, 2.5, True, None]} and type(m) is dict and al == ["A"]
    assert result.records()[0]["al"] == ["A"]


def test_parameters_round_trip_hostile_strings(store) -> None:
    nasty = "quote ' double \" back ` slash \\ brace } newline \n tab \t unicode é 𝄞 \\\" end"
    store.execute("CREATE (:Entity {id: $id, name: $name})", {"id": "n", "name": nasty}, write=True)
    assert store.execute("MATCH (e:Entity {id: 'n'}) RETURN e.name").rows == [[nasty]]


def test_server_errors_become_store_errors(store, settings: Settings) -> None:
    with pytest.raises(StoreError, match="FalkorDB"):
        store.execute("MATCH (n RETURN n")
    quick = FalkorDBStore("falkordb", settings.replace(query_timeout_ms=1))
    with pytest.raises(StoreError, match="timed out"):
        quick.execute("UNWIND range(1, 20000000) AS i WITH i WHERE i % 7 = 0 RETURN count(i)")
    quick.close()


def test_reading_a_graph_never_written_says_so(own_state: Path) -> None:
    st = FalkorDBStore("falkordb", _settings(own_state, graph="never_written"))
    with pytest.raises(StoreError, match="does not exist"):
        st.execute("MATCH (n) RETURN n")
    st.close()


def test_ensure_schema_is_idempotent(store) -> None:
    store.ensure_schema()
    store.ensure_schema()
    labels = {row[0] for row in store.execute("CALL db.indexes() YIELD label RETURN label").rows}
    assert {"Document", "Chunk", "Entity"} <= labels


# -- Neo4j (runs only where a server is given) ---------------------------------------------------


def test_neo4j_unreachable_is_store_unavailable() -> None:
    with pytest.raises(StoreUnavailable, match="cannot reach Neo4j"):
        resolve_store("bolt://127.0.0.1:1", Settings())


@pytest.fixture
def neo4j_store():
    uri = os.environ.get("NEO4J_URI")
    if not uri:
        pytest.skip("NEO4J_URI not set")
    st = resolve_store(uri, Settings(graph=os.environ.get("NEO4J_DATABASE", "kgpipe")))
    prefix = f"kgpipe-test-{uuid.uuid4().hex[:8]}-"
    yield st, prefix
    st.execute("MATCH (n) WHERE n.id STARTS WITH $p DETACH DELETE n", {"p": prefix}, write=True)
    st.close()


@pytest.mark.neo4j
def test_neo4j_write_query_delete(neo4j_store) -> None:
    st, p = neo4j_store
    docs = [Document(p + "d1", p + "/a.txt", "a", "t", "s"), Document(p + "d2", p + "/b.txt", "b", "t", "s")]
    chunks = [Chunk(p + "c1", p + "d1", 0, "x", 0, 1), Chunk(p + "c2", p + "d2", 0, "y", 0, 1)]
    ents = [Entity(p + "e1", "Ann", "Person"), Entity(p + "e2", "Acme", "Org"), Entity(p + "e3", "Bob", "Person")]
    mentions = [Mention(p + "e1", p + "c1"), Mention(p + "e2", p + "c1"), Mention(p + "e1", p + "c2"),
                Mention(p + "e2", p + "c2"), Mention(p + "e3", p + "c1")]  # fmt: skip
    facts = [Fact(p + "e1", "works for", p + "e2", 0.5, (p + "c1",), (p + "d1",), "t"),
             Fact(p + "e1", "works for", p + "e2", 0.9, (p + "c2",), (p + "d2",), "t"),
             Fact(p + "e3", "knows", p + "e1", 0.7, (p + "c1",), (p + "d1",), "t")]  # fmt: skip
    before = stats(st)
    batch = GraphBatch(docs, chunks, ents, mentions, facts)
    write(batch, st)
    write(batch, st)
    after = stats(st)
    assert after["entities"] - before["entities"] == 3 and after["facts"] - before["facts"] == 2
    row = st.execute("MATCH (:Entity {id: $h})-[r:WORKS_FOR]->() RETURN r", {"h": p + "e1"}).rows[0][0]
    assert row["properties"]["confidence"] == 0.9 and sorted(row["properties"]["doc_ids"]) == [p + "d1", p + "d2"]
    with pytest.raises(UnsafeQuery):
        st.execute("MATCH (n) WHERE n.id STARTS WITH $p DETACH DELETE n", {"p": p})
    counts = delete_document(st, p + "d1")
    assert counts["documents"] == 1 and counts["facts"] == 1 and counts["entities"] == 1 and counts["chunks"] == 1
    row = st.execute("MATCH (:Entity {id: $h})-[r:WORKS_FOR]->() RETURN r.doc_ids", {"h": p + "e1"}).rows
    assert row == [[[p + "d2"]]]


@pytest.mark.neo4j
def test_neo4j_results_and_errors(neo4j_store) -> None:
    st, p = neo4j_store
    ids = {"a": p + "a", "b": p + "b"}
    st.execute("CREATE (:Entity:Person {id: $a})-[:KNOWS {w: 1}]->(:Entity {id: $b})", ids, write=True)
    h, r, path = st.execute("MATCH path = (h {id: $a})-[r]->() RETURN h, r, path", {"a": p + "a"}).rows[0]
    assert h == {"labels": ["Entity", "Person"], "properties": {"id": p + "a"}}
    assert r == {"type": "KNOWS", "properties": {"w": 1}} and len(path) == 3
    with pytest.raises(StoreError):
        st.execute("MATCH (n RETURN n")


@pytest.mark.neo4j
def test_neo4j_streams_capped_reads_and_cleans_parameters(neo4j_store) -> None:
    from kgpipe.api import query, query_stream
    from kgpipe.stores import RowStreaming

    st, p = neo4j_store
    assert isinstance(st, RowStreaming)
    with query_stream("UNWIND range(1, 100000) AS x RETURN x", limit=1000, settings=st.settings, store=st) as rows:
        got = list(rows)
    assert len(got) == 1000 and rows.truncated
    st.execute("CREATE (:Entity {id: $id, name: $n})", {"id": p + "nul", "n": "a\x00b\ud800"}, write=True)
    found = query("MATCH (e:Entity {name: $n}) RETURN e.id", {"n": "a\x00b\ud800"}, settings=st.settings, store=st)
    assert found.rows == [[p + "nul"]]
    with pytest.raises(UnsafeQuery):
        with st.stream("CREATE (n:Entity {id: $id}) RETURN n", {"id": p + "w"}) as (_, rows):
            list(rows)


def test_only_stores_whose_driver_streams_declare_it() -> None:
    from kgpipe.stores import RowStreaming
    from kgpipe.stores.neo4j import Neo4jStore

    assert isinstance(object.__new__(Neo4jStore), RowStreaming)
    assert not isinstance(object.__new__(FalkorDBStore), RowStreaming)  # its client returns whole results


# -- characters no store accepts (kgpipe.stores.clean) -------------------------------------------

#: Kept literally: measured to be stored and read back unchanged by FalkorDB (see kgpipe.stores.clean).
KEPT = {
    "c0 controls": "".join(chr(c) for c in range(1, 32)),
    "del and c1": "a\x7fb\x85c\x9f",
    "rtl override": "abc\u202edef\u202c",
    "zero width": "zero\u200bwidth\ufeffbom\u200d",
    "noncharacter and emoji": "\uffff \U0001f600 \U0010fffd",
    "cypher fragment": "x'}) DETACH DELETE n //",
    "long": "long " * 2000,
}


def test_clean_text_per_character_class() -> None:
    from kgpipe.stores.clean import clean_params, clean_text

    assert clean_text("a\x00b\x00") == "a\ufffdb\ufffd"  # NUL: replaced, not merged into "ab"
    assert clean_text("\ud800x\udfff") == "\ufffdx\ufffd"  # lone high / low surrogates
    assert clean_text("\ud83d\ude00") == "\U0001f600"  # a split pair is joined into its character
    assert clean_text("\udc80\udcff") == "\ufffd\ufffd"  # surrogateescape'd bytes of a non-UTF-8 file name
    assert clean_text("\ude00\ud83d") == "\ufffd\ufffd"  # low before high is no pair
    for text in KEPT.values():
        assert clean_text(text) is text  # untouched, not even copied
    nested = {"k\x00": [{"name": "a\x00b", "n": 1, "x": None, "t": ("\ud800",)}], "ok": 2.5}
    assert clean_params(nested) == {"k\ufffd": [{"name": "a\ufffdb", "n": 1, "x": None, "t": ["\ufffd"]}], "ok": 2.5}
    assert clean_params(None) == {}
    literal = {"x": ["back\\x00slash \\ud800 text", 1.5]}  # looks like an escape in repr, is plain text
    assert clean_params(literal) == literal


def test_falkordb_client_really_refuses_nul_and_lone_surrogates(store) -> None:
    """The measurement behind the cleaning: the raw client, without kgpipe's store, fails on exactly these."""
    import redis

    with pytest.raises(redis.ResponseError):
        store.graph.ro_query("RETURN $x", {"x": "a\x00b"})
    with pytest.raises(UnicodeEncodeError):
        store.graph.ro_query("RETURN $x", {"x": "a\ud800b"})
    for text in KEPT.values():
        assert store.graph.ro_query("RETURN $x", {"x": text}).result_set == [[text]]


@pytest.mark.parametrize("original, stored", [
    ("a\x00b", "a\ufffdb"), ("\x00", "\ufffd"), ("a\ud800b", "a\ufffdb"), ("x\ud83d\ude00", "x\U0001f600"),
    *[(text, text) for text in KEPT.values()],
])  # fmt: skip
def test_every_parameter_is_cleaned_in_writes_and_reads(store, original: str, stored: str) -> None:
    rows = [{"id": "e1", "name": original, "aliases": [original, "plain"], "meta": {"k": original}}]
    store.execute(
        "UNWIND $rows AS row CREATE (:Entity {id: row.id, name: row.name, aliases: row.aliases, k: row.meta.k})",
        {"rows": rows},
        write=True,
    )
    got = store.execute("MATCH (e:Entity {id: 'e1'}) RETURN e.name, e.aliases, e.k").rows
    assert got == [[stored, [stored, "plain"], stored]]
    # a read by the original text finds what was stored: the read's parameters get the same cleaning
    assert store.execute("MATCH (e:Entity) WHERE e.name = $n RETURN e.id", {"n": original}).rows == [["e1"]]
    assert store.execute("MATCH (e:Entity) WHERE $n IN e.aliases RETURN e.id", {"n": original}).rows == [["e1"]]
    assert store.execute("RETURN $m.x", {"m": {"x": original}}).rows == [[stored]]


def test_query_text_is_cleaned_too(store) -> None:
    store.execute("CREATE (:Entity {id: 'q', name: 'a\x00b'})", write=True)
    assert store.execute("MATCH (e:Entity {name: $n}) RETURN e.name", {"n": "a\x00b"}).rows == [["a\ufffdb"]]
    assert store.execute("MATCH (e:Entity {name: 'a\x00b'}) RETURN e.id").rows == [["q"]]


def test_a_parameter_the_client_cannot_send_is_a_store_error(store) -> None:
    with pytest.raises(StoreError, match="backtick"):
        store.execute("RETURN $m", {"m": {"a`b": 1}})
