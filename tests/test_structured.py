"""kgpipe.ingest.structured: grounded extraction through an HTTP server's structured output.

Quick tests build through the scripted server (``fake_openai``) and check the schemas sent, the fallback to free
output + snap when the server refuses the parameter, and the settings; the slow ones go through a real server
(``gemma_openai``) that decodes the packaged Gemma under the schema it is sent."""

from __future__ import annotations

import json
import sys
from typing import Any

import numpy as np
import pytest

from fake_openai import chat
from kgpipe.errors import ConfigError, MissingCapability
from kgpipe.ingest.candidates import extract_and_judge, per_call
from kgpipe.ingest.grounded import sentence_names
from kgpipe.ingest.snap import grounded
from kgpipe.ingest.structured import extract_structured, structured_extraction, triple_schema, typed_branches
from kgpipe.llms import resolve_llm
from kgpipe.llms.embed import Embedder
from kgpipe.ontology import load_ontology
from kgpipe.parse import parse_structured_triples
from kgpipe.records import Chunk

TEXT = "Marie Curie was born in Warsaw. She won the Nobel Prize in 1903. Pierre Curie worked in Paris."
REFUSAL = {"error": {"message": "Unrecognized request argument supplied: response_format", "type": "invalid_request_error"}}


def chunks() -> list[Chunk]:
    return [Chunk("c1", "d1", 0, TEXT, 0, len(TEXT))]


def schema_of(body: dict[str, Any]) -> dict[str, Any] | None:
    fmt = body.get("response_format")
    return fmt["json_schema"]["schema"] if fmt else None


def obeying(path: str, body: dict[str, Any], n: int) -> Any:
    """A server that honours the schema: the first name of the sentence, the first relation, the last name."""
    schema = schema_of(body)
    if schema is None:  # free extraction's prompt
        return 200, {}, chat("Marie Curie | was born in | Warszawa\nMarie Curie | born in | Warsaw\nEND"), 0.0
    first = schema["properties"]["triples"]["items"]["anyOf"][0]["properties"]
    relation = first["relation"]
    label = relation["enum"][0] if "enum" in relation else "lived in"
    line = {"head": first["head"]["enum"][0], "relation": label, "tail": first["tail"]["enum"][-1]}
    return 200, {}, chat(json.dumps({"triples": [line]})), 0.0


def test_schema_has_the_sentences_names_the_ontologys_labels_and_the_cap() -> None:
    general = load_ontology("general")
    labels = [r.label for r in general.relations if r.label != "instance of"]
    schema = triple_schema(["Marie Curie", "Warsaw"], labels, 3)
    triples = schema["properties"]["triples"]
    assert triples["maxItems"] == 3 and schema["required"] == ["triples"]
    branches = triples["items"]["anyOf"]  # one per head: the tail is one of the other names
    assert [(b["properties"]["head"]["enum"], b["properties"]["tail"]["enum"]) for b in branches] == [
        (["Marie Curie"], ["Warsaw"]), (["Warsaw"], ["Marie Curie"])]
    assert all(b["required"] == ["head", "relation", "tail"] and b["additionalProperties"] is False for b in branches)
    assert all(b["properties"]["relation"]["enum"] == labels for b in branches)
    free = triple_schema(["a", "b"], None, 2)["properties"]["triples"]["items"]["anyOf"][0]["properties"]["relation"]
    assert free == {"type": "string", "maxLength": 40}


def test_parse_structured_triples_reads_json_and_applies_the_drop_rules() -> None:
    reply = json.dumps({"triples": [{"head": "Marie Curie", "relation": "born in", "tail": "Warsaw"},
                                    {"head": "Marie Curie", "relation": "born in", "tail": "Warsaw"},  # a repeat
                                    {"head": "She", "relation": "won", "tail": "Nobel Prize"},  # a pronoun
                                    {"head": "Warsaw", "relation": "x", "tail": "warsaw"}, "junk"]})  # fmt: skip
    parsed = parse_structured_triples(reply)
    assert [(t.head, t.relation, t.tail) for t in parsed.triples] == [("Marie Curie", "born in", "Warsaw")]
    assert parsed.skipped_lines == 3 and not parsed.failed
    cut = '{"triples": [{"head": "A", "relation": "r", "tail": "B"}, {"head": "C", "rel'  # cut at max_tokens
    assert [t.tail for t in parse_structured_triples(cut).triples] == ["B"]
    assert parse_structured_triples("A | r | B\nEND").triples[0].head == "A"  # a server that ignored the schema
    assert parse_structured_triples('{"triples": [{"head": "She"}]}').failed


def test_each_sentence_goes_out_with_its_own_schema(serve, settings) -> None:
    server = serve(obeying)
    s = settings.replace(llm=f"openai:so@{server.url}", llm_cache=False, ontology="general", max_triples=2)
    llm = resolve_llm(s.llm, s)
    found = extract_and_judge(chunks(), llm, s, ontology=load_ontology("general"))
    sent = [b for _, b, _, _ in server.requests]
    expected = sentence_names(found.read[0])  # the chunk as extraction read it ("She" resolved)
    assert len(sent) == len(expected) >= 2 and all(schema_of(b) for b in sent)
    by_text = {b["messages"][0]["content"].rsplit("Text: ", 1)[1].split("\nJSON:")[0]: schema_of(b) for b in sent}
    for sentence, names in expected:
        item = by_text[sentence]["properties"]["triples"]
        typed = dict(zip(names, typed_branches(names, load_ontology("general"))))
        heads = [b["properties"]["head"]["enum"][0] for b in item["items"]["anyOf"]]
        assert item["maxItems"] == 2 and heads == [n for n in names if typed[n][0] and typed[n][1]]
        for branch in item["items"]["anyOf"]:
            relations, tails = typed[branch["properties"]["head"]["enum"][0]]
            assert branch["properties"]["relation"]["enum"] == relations and "instance of" not in relations
            assert branch["properties"]["tail"]["enum"] == tails
    born = by_text["Marie Curie was born in Warsaw."]["properties"]["triples"]["items"]["anyOf"]
    assert [(b["properties"]["head"]["enum"], b["properties"]["relation"]["enum"]) for b in born] == [
        (["Marie Curie"], ["born in", "died in"])]  # a place heads no relation towards a person; a person, these
    assert found.structured.chunks == 1 and found.structured.requests == len(expected) and not found.structured.refused
    assert found.kept and all(grounded(n, found.read[0].text) for t in found.kept for n in (t.head, t.tail))
    assert found.snapped is not None and found.snapped.names_dropped == found.snapped.names_snapped == 0
    assert found.snapped.relations_dropped == 0  # labels from the enum are labels
    assert all(t.provenance and t.provenance.prompt_version == "extract.structured.v1" for t in found.kept)


def test_a_refusing_server_falls_back_to_free_output_and_snap(serve, settings, store, tmp_path) -> None:
    from kgpipe.ingest.pipeline import build

    server = serve(lambda p, b, n: (400, {}, REFUSAL, 0.0) if schema_of(b) else obeying(p, b, n))
    (tmp_path / "curie.txt").write_text(TEXT, encoding="utf-8")
    (tmp_path / "more.txt").write_text("Pierre Curie was born in Paris. He married Marie Curie in 1895.", encoding="utf-8")
    s = settings.replace(llm=f"openai:refuses@{server.url}", llm_cache=False, judge=False, resolve_references=False)
    summary = build(tmp_path, s, store=store).summary()
    assert "response_format" in summary["structured_output_refused"] and "structured_output_chunks" not in summary
    asked = [schema_of(b) is not None for _, b, _, _ in server.requests]
    first_free = asked.index(False)
    # the group's sentences (both chunks' at once: 3 + 2 at most) under a schema, then none: two free requests
    assert 1 <= first_free <= 5 and not any(asked[first_free:]) and len(asked) - first_free == 2
    # "Warszawa" is in neither text, "Warsaw" only in the first: three names dropped, "born in Warsaw" kept
    assert summary["snapped"]["names_dropped"] == 3 and summary["triples_kept"] == 1
    assert summary["extraction_failures"] == 0 and summary["failed_chunks"] == 0


def test_every_chunks_sentences_go_out_in_one_call_and_reranking_encodes_once(serve, settings) -> None:
    """A group's (on Ray, a block's) requests in one call: up to ``llm_concurrency`` in flight across its chunks,
    not one chunk's sentences at a time; the replies' relation re-ranking asks the encoder once for all of them."""
    server = serve(lambda p, b, n: (*obeying(p, b, n)[:3], 0.5))
    texts = [TEXT, "Pierre Curie was born in Paris. He married Marie Curie in 1895.", "IBM is based in Armonk, New York."]
    pieces = [Chunk(f"c{i}", f"d{i}", 0, t, 0, len(t)) for i, t in enumerate(texts)]
    s = settings.replace(llm=f"openai:at-once@{server.url}", llm_cache=False, llm_concurrency=8)
    asked: list[list[str]] = []

    class Model:  # MiniLM's place: unit rows, and a record of every batch it was given
        def encode(self, batch: list[str], **_: Any) -> np.ndarray:
            asked.append(list(batch))
            rows = np.random.default_rng(len(asked)).normal(size=(len(batch), 384))
            return rows / np.linalg.norm(rows, axis=1, keepdims=True)

    llm = resolve_llm(s.llm, s)
    found = extract_structured(pieces, llm, ontology=load_ontology("general"), encode=Embedder(Model()).encode)
    sentences = [len(sentence_names(c)) for c in pieces]
    assert len(server.requests) <= sum(sentences) <= 8  # a sentence whose names allow no line asks nothing
    assert server.max_inflight == len(server.requests) > max(sentences)  # all at once, not chunk after chunk
    assert found.triples and {t.provenance.chunk_id for t in found.triples if t.provenance} == {"c0", "c1", "c2"}
    assert len(asked) == 1 and len(asked[0]) > 1  # every sentence's re-ranking texts in one encoder call
    assert per_call(llm, 8) == sys.maxsize  # judging, free extraction, denoising: all of an HTTP call's prompts


def test_a_failing_request_fails_its_chunk_only(serve, settings) -> None:
    server = serve(lambda p, b, n: (503, {}, {"error": "down"}, 0.0) if "Pierre" in json.dumps(b) else obeying(p, b, n))
    other = "IBM is headquartered in Armonk, New York."
    s = settings.replace(llm=f"openai:down@{server.url}", llm_cache=False, llm_retries=1, llm_backoff=0.01)
    both = [*chunks(), Chunk("c2", "d2", 0, other, 0, len(other))]
    found = extract_and_judge(both, resolve_llm(s.llm, s), s)
    assert [(f.chunk_id, f.stage) for f in found.failed_chunks] == [("c1", "extract")]  # after its retries
    assert found.kept and {t.provenance.chunk_id for t in found.kept if t.provenance} == {"c2"}
    assert found.structured.chunks == 1 and not found.structured.refused  # an outage is no refusal


def test_settings_choose_and_force(serve, settings) -> None:
    server = serve(lambda p, b, n: (400, {}, REFUSAL, 0.0) if schema_of(b) else obeying(p, b, n))
    llm = resolve_llm(f"openai:m@{server.url}", settings.replace(llm_cache=False))
    assert structured_extraction(llm, settings) and not structured_extraction(llm, settings.replace(extraction="free"))
    assert not structured_extraction(llm, settings.replace(structured_output="off"))
    with pytest.raises(ConfigError, match="structured_output"):
        structured_extraction(llm, settings.replace(structured_output="always"))
    with pytest.raises(MissingCapability, match="structured_output = 'on'.*response_format"):
        extract_and_judge(chunks(), llm, settings.replace(structured_output="on"))
    before = len(server.requests)
    found = extract_and_judge(chunks(), llm, settings.replace(structured_output="off"))
    assert found.structured.requests == 0 and found.kept and len(server.requests) == before + 1
    assert schema_of(server.requests[-1][1]) is None  # off: never sent


def test_on_needs_a_backend_that_declares_it(fixed_reply, settings) -> None:
    with pytest.raises(MissingCapability, match="structured output"):
        structured_extraction(fixed_reply("END"), settings.replace(structured_output="on"))
    assert not structured_extraction(fixed_reply("END"), settings)


# -- a real server: the packaged Gemma decoding under the schema it is sent (slow) ------------------

SAMPLE_TEXT = ("Marie Curie was a physicist and chemist. She was born in Warsaw. "
               "IBM is headquartered in Armonk, New York.")  # fmt: skip


@pytest.fixture
def gemma_server(gemma):
    from gemma_openai import GemmaOpenAI

    servers: list[GemmaOpenAI] = []

    def start(**kwargs: Any) -> GemmaOpenAI:
        servers.append(GemmaOpenAI(gemma, **kwargs))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def test_gemma_server_decodes_json_under_the_schema(gemma_server, settings) -> None:
    from kgpipe.ingest.structured import structured_prompt

    server = gemma_server()
    llm = resolve_llm(f"openai:gemma@{server.url}", settings.replace(llm_cache=False))
    general = load_ontology("general")
    labels = [r.label for r in general.relations if r.label != "instance of"]
    names = ["IBM", "Armonk", "New York"]
    schemas = [triple_schema(names, labels, 2), triple_schema(names, None, 1), triple_schema(names, labels, 0)]
    sentence = "IBM is headquartered in Armonk, New York."
    replies = llm.generate_structured([structured_prompt(sentence, general), structured_prompt(sentence, None),
                                       structured_prompt(sentence, general)], schemas, max_new_tokens=80)  # fmt: skip
    for reply, schema in zip(replies, schemas):
        triples = json.loads(reply)["triples"]  # valid JSON, every time
        assert len(triples) <= schema["properties"]["triples"]["maxItems"]
        assert all(t["head"] in names and t["tail"] in names for t in triples)
    assert json.loads(replies[0])["triples"] and all(t["relation"] in labels for t in json.loads(replies[0])["triples"])
    free = json.loads(replies[1])["triples"]
    assert all(0 < len(t["relation"]) <= 40 and '"' not in t["relation"] for t in free)
    assert json.loads(replies[2]) == {"triples": []}
    assert server.requests[0][1]["response_format"]["type"] == "json_schema"


def test_structured_extraction_through_gemma_needs_no_repair(gemma_server, settings) -> None:
    server = gemma_server()
    s = settings.replace(llm=f"openai:gemma@{server.url}", llm_cache=False, ontology="general", judge=False)
    chunk = Chunk("c1", "d1", 0, SAMPLE_TEXT, 0, len(SAMPLE_TEXT))
    found = extract_and_judge([chunk], resolve_llm(s.llm, s), s, ontology=load_ontology("general"))
    assert found.structured.chunks == 1 and found.structured.requests == len(sentence_names(found.read[0]))
    assert found.proposed >= 2 and found.kept
    assert not found.failures  # every reply parses (the schema's branches keep a tail off its head)
    assert found.snapped is not None and found.snapped.names_snapped == found.snapped.names_dropped == 0
    assert found.snapped.relations_dropped == 0 and found.snapped.triples_dropped == 0
    labels = {r.label for r in load_ontology("general").relations}
    assert all(t.relation in labels and grounded(t.head, found.read[0].text) for t in found.kept)


def test_gemma_server_that_refuses_the_schema_falls_back_to_free_output(gemma_server, settings) -> None:
    server = gemma_server(refuse_schema=True)
    s = settings.replace(llm=f"openai:gemma@{server.url}", llm_cache=False, ontology="general", judge=False)
    chunk = Chunk("c1", "d1", 0, SAMPLE_TEXT, 0, len(SAMPLE_TEXT))
    found = extract_and_judge([chunk], resolve_llm(s.llm, s), s, ontology=load_ontology("general"))
    assert "response_format" in found.structured.refused and found.structured.fallback_chunks == 1
    assert found.structured.chunks == 0 and found.snapped is not None  # the free reply was validated
    free = [b for _, b in server.requests if "response_format" not in b]
    assert len(free) == 1 and free[0]["messages"][0]["content"].endswith("Triples:\n")  # the free prompt
    assert all(grounded(t.head, found.read[0].text) and grounded(t.tail, found.read[0].text) for t in found.kept)


def test_the_test_servers_grammar_writes_only_json_under_the_schema() -> None:
    """``gemma_openai.SchemaGrammar`` walked with random choices over the packaged Gemma's tokenizer (no model):
    every path is JSON that the schema allows, including the cap, the anyOf branches and a free relation."""
    import random

    from gemma_openai import SchemaGrammar, UnsupportedSchema
    from transformers import AutoTokenizer

    from kgpipe.llms.transformers import _gemma_dir

    tok = AutoTokenizer.from_pretrained(_gemma_dir(print))
    names = ["Marie Curie", "Warsaw", 'the "Flying" University', "1867"]
    rng = random.Random(3)
    for relations, cap in ((["born in", "located in"], 2), (None, 3), (["won"], 0)):
        grammar = SchemaGrammar(tok, triple_schema(names, relations, cap))
        for _ in range(15):
            state, tokens = grammar.start(), []
            while not grammar.done(state) and len(tokens) < 400:
                allowed = grammar.allowed(state)
                assert len(allowed), tok.decode(tokens)
                token = int(allowed[rng.randrange(len(allowed))]) if rng.random() < 0.9 else int(allowed[0])
                state, tokens = grammar.advance(state, token), [*tokens, token]
            triples = json.loads(tok.decode(tokens))["triples"]
            assert len(triples) <= cap
            for t in triples:
                assert t["head"] in names and t["tail"] in names and t["head"] != t["tail"]
                assert t["relation"] in relations if relations else 0 < len(t["relation"]) <= 40
    with pytest.raises(UnsupportedSchema, match="unsupported"):
        SchemaGrammar(tok, {"type": "object", "properties": {"n": {"type": "integer"}}})
