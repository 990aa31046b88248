"""End to end with the real default model and the real FalkorDB server: build, rebuild, change, delete, resume."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from killed_build import kill_when_complete

from conftest import ScriptedLLM
from kgpipe.ingest.pipeline import build
from kgpipe.ingest.write import delete_document, stats
from kgpipe.stores import resolve_store

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "data" / "sample"
MESSY = Path(__file__).parent / "data" / "messy"



def _unmatched_facts(store, reference) -> list:
    """Facts of ``reference`` with no counterpart in ``store``, compared chunk by chunk: the same relation from
    the same chunk between entities sharing a name or alias. Fusion is global, so which names form one entity
    depends on what the graph held when they were fused: a deleted document that bridged two names of one
    entity leaves them merged (fusion never splits), and their facts merged too, with the chunks unioned; a fact
    between two such names is then folded in ``store`` (one entity with itself: not written), so it counts as
    matched there."""
    query = (
        "MATCH (h:Entity)-[r]->(t:Entity) WHERE r.label IS NOT NULL "
        "RETURN [h.name] + coalesce(h.aliases, []), r.label, [t.name] + coalesce(t.aliases, []), r.chunk_ids"
    )
    pool: dict = {}
    for h, label, t, chunks in store.execute(query).rows:
        for c in chunks:
            pool.setdefault((label, c), []).append((set(h), set(t)))
    entities = [set(names) for (names,) in store.execute("MATCH (e:Entity) RETURN [e.name] + coalesce(e.aliases, [])").rows]
    missing = []
    for h, label, t, chunks in reference.execute(query).rows:
        if any(names & set(h) and names & set(t) for names in entities):
            continue  # both names are one entity in ``store``: folded there
        for c in chunks:
            if not any(hs & set(h) and ts & set(t) for hs, ts in pool.get((label, c), [])):
                missing.append((h[0], label, t[0], c))
    return missing


def _same_counts(store, reference) -> bool:
    """Same documents and chunks; entities and facts no more than the reference's (merges, see above)."""
    a, b = stats(store), stats(reference)
    return (a["documents"], a["chunks"]) == (b["documents"], b["chunks"]) and all(
        a[k] <= b[k] for k in ("entities", "facts")
    )


def _duplicates(store) -> int:
    q = [
        "MATCH (n:Entity) WITH n.id AS k, count(*) AS c WHERE c > 1 RETURN count(k)",
        "MATCH (n:Chunk) WITH n.id AS k, count(*) AS c WHERE c > 1 RETURN count(k)",
        "MATCH (n:Document) WITH n.id AS k, count(*) AS c WHERE c > 1 RETURN count(k)",
        "MATCH (h:Entity)-[r]->(t:Entity) WITH h.id AS a, type(r) AS b, t.id AS c, count(*) AS n WHERE n > 1 RETURN count(a)",
        "MATCH (c:Chunk)-[r:FROM_CHUNK|FROM_DOCUMENT]-(x) WITH c.id AS a, type(r) AS b, id(x) AS d, count(*) AS n WHERE n > 1 RETURN count(a)",
    ]
    return sum(int(store.execute(s).rows[0][0]) for s in q)


@pytest.mark.slow
def test_sample_build_provenance_rebuild_and_delete(settings, store, tmp_path):
    result = build(SAMPLE, settings, store=store)
    counts = stats(store)
    assert result.documents_built == len(list(SAMPLE.iterdir())) and not result.skipped
    assert counts["documents"] == result.documents_built and counts["chunks"] == result.chunks
    assert counts["entities"] > 10 and counts["facts"] > 10, counts
    # every fact's provenance points at nodes that exist, and its chunks belong to its documents
    dangling = store.execute(
        "MATCH (h:Entity)-[r]->(:Entity) WHERE r.label IS NOT NULL UNWIND r.chunk_ids AS cid "
        "OPTIONAL MATCH (c:Chunk {id: cid})-[:FROM_DOCUMENT]->(d:Document) "
        "WITH r, cid, c, d WHERE c IS NULL OR NOT d.id IN r.doc_ids RETURN count(*)"
    ).rows[0][0]
    assert dangling == 0
    assert store.execute("MATCH ()-[r]->() WHERE r.label IS NOT NULL AND size(r.chunk_ids) = 0 RETURN count(r)").rows[0][0] == 0
    assert store.execute("MATCH (e:Entity) WHERE NOT (e)-[:FROM_CHUNK]->(:Chunk) RETURN count(e)").rows[0][0] == 0
    assert result.llm_calls + result.cache_hits >= result.chunks  # extraction, then judge scoring

    again = build(SAMPLE, settings, store=store)  # unchanged: nothing re-extracted, nothing changes
    assert stats(store) == counts
    assert (again.documents_unchanged, again.documents_built, again.llm_calls) == (result.documents_built, 0, 0)
    assert _duplicates(store) == 0

    # deleting one document leaves exactly the graph of the other documents
    victim = SAMPLE / "marie_curie.txt"
    others = tmp_path / "others"
    shutil.copytree(SAMPLE, others)
    (others / victim.name).unlink()
    removed_id = store.execute("MATCH (d:Document {path: $p}) RETURN d.id", {"p": str(victim)}).rows[0][0]
    removed = delete_document(store, str(victim))
    assert removed["documents"] == 1 and removed["chunks"] > 0
    reference = resolve_store("falkordb", settings.replace(graph=settings.graph + "_ref"))
    try:
        build(others, settings, store=reference)
        # same facts with the same provenance; entity ids may differ where the deleted document had bridged
        # two names of one entity (the merge stays: fusion never splits what the graph holds)
        assert _unmatched_facts(store, reference) == [] and _unmatched_facts(reference, store) == []
        assert _same_counts(store, reference)
        gone = store.execute("MATCH (c:Chunk) WHERE c.doc_id = $d RETURN count(c)", {"d": removed_id}).rows[0][0]
        assert gone == 0
    finally:
        reference.execute("MATCH (n) DETACH DELETE n", write=True)
        reference.close()


@pytest.mark.slow
def test_changed_file_rebuilds_only_that_file(settings, store, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("pierre_curie.md", "capitals.html"):
        shutil.copy(SAMPLE / name, docs / name)
    first = build(docs, settings, store=store)
    before = {r[0]: r[1] for r in store.execute("MATCH (d:Document) RETURN d.path, d.id").rows}
    changed = docs / "pierre_curie.md"
    changed.write_text(changed.read_text(encoding="utf-8") + "\nPierre Curie was born in Paris.\n", encoding="utf-8")
    second = build(docs, settings, store=store)
    after = {r[0]: r[1] for r in store.execute("MATCH (d:Document) RETURN d.path, d.id").rows}
    assert (second.documents_built, second.documents_replaced, second.documents_unchanged) == (1, 1, 1)
    assert after[str(docs / "capitals.html")] == before[str(docs / "capitals.html")]
    assert after[str(changed)] != before[str(changed)] and len(after) == 2
    assert _duplicates(store) == 0
    assert first.documents_built == 2


@pytest.mark.slow
def test_messy_folder_builds_and_reports_skips(settings, store):
    result = build(MESSY, settings, store=store)
    reasons = {Path(s.path).name: s.reason for s in result.skipped}
    assert any("empty" in r for r in reasons.values()), reasons
    assert any("binary" in r for r in reasons.values()), reasons
    assert result.documents_built >= 2  # the latin-1 text and the HTML page at least
    titles = {r[0] for r in store.execute("MATCH (d:Document) RETURN d.title").rows}
    assert titles


@pytest.mark.slow
def test_kill_9_mid_build_resumes_without_duplicates(settings, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    names = ["apples.txt", "capitals.html", "pierre_curie.md", "ibm.md"]
    for name in names:
        shutil.copy(SAMPLE / name, docs / name)
    # small batches and short replies so the first documents are written early, and the kill lands mid-build;
    # free extraction, whose replies the killed process (no cache) and the reference (cached) give alike: grounded
    # decoding with free relation words (no ontology) was seen to differ between the two processes (open problem)
    small = settings.replace(batch_size=1, max_new_tokens=32, extraction="free")
    reference = resolve_store("falkordb", small.replace(graph=small.graph + "_ref"))
    build(docs, small, store=reference)  # fills the LLM cache; the killed run below does not use it
    env = dict(os.environ, KGPIPE_LLM_CACHE="false", KGPIPE_BATCH_SIZE="1", KGPIPE_MAX_NEW_TOKENS="32",
               KGPIPE_EXTRACTION="free", KGPIPE_ONTOLOGY="", KGPIPE_CANONICAL_RELATIONS="false")
    cmd = [sys.executable, "-m", "kgpipe.cli", "--state-dir", small.state_dir, "--graph", small.graph,
           "--no-progress", "build", str(docs)]  # fmt: skip
    store = resolve_store("falkordb", small)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        complete = kill_when_complete(proc, store, 1, timeout=600)
        assert 1 <= complete < len(names)
        resumed = build(docs, small, store=store)
        assert resumed.documents_unchanged >= 1 and resumed.documents_built >= 1
        assert _duplicates(store) == 0
        # same documents and chunks; the facts, chunk by chunk, as in the uninterrupted build (which
        # names became one entity may differ: the resumed run fused its documents in other groups)
        assert [stats(store)[k] for k in ("documents", "chunks")] == [stats(reference)[k] for k in ("documents", "chunks")]
        assert _unmatched_facts(store, reference) == [] and _unmatched_facts(reference, store) == []
    finally:
        if proc.poll() is None:
            proc.kill()
        for s in (store, reference):
            s.execute("MATCH (n) DETACH DELETE n", write=True)
            s.close()


# -- the write step: a document the store refuses is rolled back, the others are built ----------


def reply_by_text(replies: dict[str, str]) -> ScriptedLLM:
    """Answers each extraction prompt with the reply whose key occurs in the prompt's text (after its last
    ``Text:``); a scripted LLM for the store-side tests below, which are about writing, not extracting."""

    def answer(prompt: str, *_: object) -> str:
        text = prompt.rsplit("Text:", 1)[-1]
        return next((r for k, r in replies.items() if k in text), "END")

    return ScriptedLLM(answer, model_id="scripted-by-text")


class FailingStore:
    """The real store, except that write statements containing ``statement`` whose parameters mention ``marker``
    fail as a server error does."""

    def __init__(self, inner, statement: str, marker: str) -> None:
        self.inner, self.name, self.statement, self.marker = inner, inner.name, statement, marker
        self.failed = 0

    def execute(self, query, params=None, *, write=False):
        from kgpipe.errors import StoreError

        if write and self.statement in query and self.marker in repr(params):
            self.failed += 1
            raise StoreError("FalkorDB: injected failure")
        return self.inner.execute(query, params, write=write)

    def ensure_schema(self):
        self.inner.ensure_schema()

    def close(self):
        pass


ROLLBACK_DOCS = {
    "a.txt": ("Ann Alpha works for Alpha Corp. Shared Person knows Ann Alpha.",
              "Ann Alpha | works for | Alpha Corp\nShared Person | knows | Ann Alpha\nEND"),
    "b.txt": ("Bob Beta works for Beta Corp. Shared Person knows Ann Alpha and likes Bob Beta.",
              "Bob Beta | works for | Beta Corp\nShared Person | knows | Ann Alpha\nShared Person | likes | Bob Beta\nEND"),
    "c.txt": ("Cid Gamma works for Gamma Corp. Shared Person knows Cid Gamma.",
              "Cid Gamma | works for | Gamma Corp\nShared Person | knows | Cid Gamma\nEND"),
}  # fmt: skip


def _graph(store) -> tuple:
    """Everything a build leaves, by name: documents, chunks, entities with aliases, facts with provenance."""
    q = [
        "MATCH (d:Document) RETURN d.path, d.complete",
        "MATCH (c:Chunk)-[:FROM_DOCUMENT]->(d:Document) RETURN c.id, c.text, d.path",
        "MATCH (e:Entity) RETURN e.name, e.type, e.aliases",
        "MATCH (e:Entity)-[m:FROM_CHUNK]->(c:Chunk) RETURN e.name, c.id, m.names",
        "MATCH (h:Entity)-[r]->(t:Entity) RETURN h.name, type(r), r.label, t.name, r.confidence, r.doc_ids, r.chunk_ids",
    ]
    return tuple(sorted(map(repr, store.execute(x).rows)) for x in q)


@pytest.mark.parametrize("statement, marker", [
    ("MERGE (h)-[r:", "doc"),  # the facts: documents, chunks, entities and mentions are already in
    ("SET e:__Entity__", "Bob Beta"),  # entities created, then their update fails: nothing links them to b yet
])  # fmt: skip
def test_a_document_whose_write_fails_is_rolled_back_and_the_others_are_built(
    settings, store, tmp_path, statement, marker
):
    from kgpipe.ingest.load import load

    folder = tmp_path / "docs"
    folder.mkdir()
    for name, (text, _) in ROLLBACK_DOCS.items():
        (folder / name).write_text(text, encoding="utf-8")
    llm = reply_by_text({text.split(".")[0]: reply for text, reply in ROLLBACK_DOCS.values()})
    quiet = settings.replace(judge=False, llm_cache=False)
    failing_doc = next(d for d in load(folder / "b.txt"))
    failing = FailingStore(store, statement, failing_doc.id if marker == "doc" else marker)

    result = build(folder, quiet, llm=llm, store=failing)
    assert failing.failed == 1
    assert result.documents_built == 2 and result.summary()["write_failures"] == 1
    assert [(f.doc_id, f.path) for f in result.write_failures] == [(failing_doc.id, failing_doc.path)]
    assert "injected failure" in result.report()["write_failures"][0]["reason"]
    # nothing of b.txt stays behind: the graph is exactly what a build of a.txt and c.txt alone gives
    reference = resolve_store("falkordb", quiet.replace(graph=quiet.graph + "_ref"))
    try:
        build([folder / "a.txt", folder / "c.txt"], quiet, llm=llm, store=reference)
        assert _graph(store) == _graph(reference)
        assert "Bob Beta" not in repr(_graph(store)) and all("True" in d for d in _graph(store)[0])
        # the next build retries the document, and the graph becomes what a clean build of all three gives
        again = build(folder, quiet, llm=llm, store=store)
        assert again.documents_built == 1 and again.documents_unchanged == 2 and not again.write_failures
        reference.execute("MATCH (n) DETACH DELETE n", write=True)
        build(folder, quiet, llm=llm, store=reference)
        assert _graph(store) == _graph(reference)
    finally:
        reference.execute("MATCH (n) DETACH DELETE n", write=True)
        reference.close()


def test_a_lost_store_still_stops_the_build(settings, store, tmp_path):
    from kgpipe.errors import StoreUnavailable

    (tmp_path / "a.txt").write_text(ROLLBACK_DOCS["a.txt"][0], encoding="utf-8")

    class Lost(FailingStore):
        def execute(self, query, params=None, *, write=False):
            if write and "MERGE (h)-[r:" in query:
                raise StoreUnavailable("lost FalkorDB")
            return self.inner.execute(query, params, write=write)

    llm = reply_by_text({"Ann Alpha": ROLLBACK_DOCS["a.txt"][1]})
    with pytest.raises(StoreUnavailable):
        build(tmp_path, settings.replace(judge=False, llm_cache=False), llm=llm, store=Lost(store, "", ""))


# -- a build against an OpenAI-compatible server whose extraction replies hold hostile names ----

LONG_NAME = "L" * 10_000
HOSTILE_REPLY = "\n".join([
    "Nul\x00Name [Per\x00son] | works\x00for | Acme Corp [Organization]",
    "Evil\u202eCorp [Organi\u202ezation] | owned by | Zero\u200bWidth Holdings [Org`) DELETE n //]",
    "Ctl\x01\x07Name | knows | Nul\x00Name",
    "x'}) DETACH DELETE n // | `) DETACH DELETE n // | back`tick`name",
    "MATCH (n) DETACH DELETE n [Label`) DELETE n] | rel`type\u200b | Acme Corp",
    "Lone\ud800Surrogate | knows | Acme Corp",
    f"{LONG_NAME} | knows | Acme Corp",
    f"Acme Corp | {LONG_NAME} | Evil\u202eCorp",
    "Acme Corp | \u202eetaroproc\u200b | Zero\u200bWidth Holdings",
    "END",
])  # fmt: skip
HOSTILE_DOCS = [
    "Acme Corp is owned by Zero\u200bWidth Holdings. Evil\u202eCorp is owned by Zero\u200bWidth Holdings.",
    "Nul Name works for Acme Corp. Ctl Name knows Nul Name.",
    "Lone Surrogate knows Acme Corp. The back`tick`name appears here too.",
]


@pytest.mark.parametrize("judge", [False, True])
def test_build_with_hostile_names_from_an_http_model(settings, store, tmp_path, judge):
    """Every chat reply is HOSTILE_REPLY; /completions answers 404 (a chat-only model), so the judge, when on,
    runs on the text alone. The build must finish with everything complete, names stored literally or as
    kgpipe.stores.clean documents, and only schema-safe labels and relationship types."""
    import re

    from fake_openai import FakeOpenAI, chat
    from kgpipe.parse import parse_triples
    from kgpipe.stores.clean import clean_text

    def behave(path, body, n):
        if path.endswith("/chat/completions"):
            return 200, {}, chat(HOSTILE_REPLY), 0
        return 404, {}, {"error": {"message": "This is a chat model and not supported in the v1/completions endpoint"}}, 0

    for i, text in enumerate(HOSTILE_DOCS):
        (tmp_path / f"d{i}.txt").write_text(text, encoding="utf-8")
    fake = FakeOpenAI(behave)
    try:
        # free extraction: the names reach the store as the reply has them (grounded mode would respell them)
        the_settings = settings.replace(llm=f"openai:hostile@{fake.url}", llm_cache=False, judge=judge, llm_retries=0,
                                        extraction="free")
        result = build(tmp_path, the_settings, store=store)
        entities = store.execute("MATCH (e:Entity) RETURN e.name").rows
        # a later build meeting the same raw names fuses them into the stored (cleaned) entities: no duplicates
        (tmp_path / "later.txt").write_text("Acme Corp and Nul Name, later.", encoding="utf-8")
        later = build(tmp_path, the_settings, store=store)
        assert later.documents_built == 1 and later.documents_unchanged == len(HOSTILE_DOCS)
        assert sorted(store.execute("MATCH (e:Entity) RETURN e.name").rows) == sorted(entities)
        delete_document(store, str(tmp_path / "later.txt"))
    finally:
        fake.close()
    assert any(p.endswith("/chat/completions") for p in fake.paths())
    assert result.documents_built == len(HOSTILE_DOCS) and not result.write_failures and not result.failures
    docs = store.execute("MATCH (d:Document) RETURN d.complete").rows
    assert docs == [[True]] * len(HOSTILE_DOCS)  # nothing half-written

    # names: each stored name is one the parser read from the reply, cleaned as documented (NUL and the lone
    # surrogate to U+FFFD), every other character kept
    parsed = parse_triples(HOSTILE_REPLY).triples
    read = {x for t in parsed for x in (t.head, t.tail)}
    assert LONG_NAME not in read and not any(LONG_NAME in t.relation for t in parsed)  # parse.py drops parts > 120
    names = {r[0] for r in store.execute("MATCH (e:Entity) RETURN e.name").rows}
    assert names and names <= {clean_text(x) for x in read}, names - {clean_text(x) for x in read}
    aliases = {a for r in store.execute("MATCH (e:Entity) RETURN e.aliases").rows for a in r[0] or []}
    assert aliases <= {clean_text(x) for x in read}
    if not judge:
        assert {"Nul\ufffdName", "Evil\u202eCorp", "Zero\u200bWidth Holdings", "Lone\ufffdSurrogate",
                "x'}) DETACH DELETE n //", "back`tick`name", "MATCH (n) DETACH DELETE n", "Acme Corp"} <= names  # fmt: skip
        assert "Ctl\x01\x07Name" in names  # C0 controls other than NUL are kept
        labels = {r[0] for r in store.execute("MATCH ()-[r]->() WHERE r.label IS NOT NULL RETURN r.label").rows}
        assert {"works\ufffdfor", "\u202eetaroproc\u200b", ") DETACH DELETE n //"} <= labels, labels
    else:
        assert "Evil\u202eCorp" in names and "Zero\u200bWidth Holdings" in names  # grounded in d0's text: kept
        assert result.triples_rejected > 0
    # labels and relationship types stay within the schema; the Cypher fragments deleted nothing
    node_labels = {x for r in store.execute("MATCH (n) RETURN labels(n)").rows for x in r[0]}
    assert all(re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,63}", x) or x == "__Entity__" for x in node_labels), node_labels
    rel_types = {r[0] for r in store.execute("MATCH ()-[r]->() RETURN DISTINCT type(r)").rows}
    assert all(re.fullmatch(r"[A-Z][A-Z0-9_]{0,103}", t) for t in rel_types), rel_types
    assert store.execute("MATCH (c:Chunk) RETURN count(c)").rows[0][0] == result.chunks
