"""A build through a real local OpenAI-compatible server that misbehaves as real endpoints do.

The server (``fake_openai.FakeOpenAI``) answers extraction with triples derived from the chunk text
(one ``head | relation | tail`` per sentence "Head relation words Tail.") and the judge's yes/no question
with top logprobs that favour "Yes" as more of the fact's words occur in the text; like OpenAI's chat
endpoints it returns no prompt logprobs (a well-formed reply without them), so the judge runs on
yes/no and grounding. Faults are injected per request: the first attempt of every request gets one of
429 with Retry-After, 500/502/503, a hang past the client timeout, a dropped connection, an HTML 200,
JSON cut short, empty choices or a choice without a message; requests about the poisoned words fail
on every attempt.
"""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from fake_openai import DROP, chat
from kgpipe.bench.endpoint import extraction_reply, judge_reply
from kgpipe.cli import EXIT_FAILED_CHUNKS, main
from kgpipe.config import Settings
from kgpipe.errors import LLMError
from kgpipe.ingest.pipeline import build
from kgpipe.llms import resolve_llm
from kgpipe.records import Chunk, Provenance, Triple
from kgpipe.stores import resolve_store
from kgpipe.trust.calibrate import CALIBRATION_EXAMPLES, calibration_for
from kgpipe.trust.judge import judge

DOCS = {
    "alpha.txt": "Ardenby lies in Corvale. Ardenby borders Mistral. Corvale exports timber. Mistral hosts Brenfair.",
    "beta.txt": "Talisk founded Orvane. Orvane employs Pella. Pella studied at Kernow. Vexholm supplies Kernow.",
    "gamma.txt": "Dunmere flows into Saltmarsh. Quellmoor guards Dunmere. Saltmarsh feeds Harrowgate. Harrowgate trades with Lunet.",
}
EXTRACT_POISON = "Quellmoor"  # every extraction request of a chunk with this word fails
JUDGE_POISON = "Fact: Vexholm"  # every judge request about a Vexholm fact fails


def good(path: str, body: dict[str, Any]) -> tuple[int, dict[str, str], Any, float]:
    """A well-behaved OpenAI-style endpoint: chat only, top logprobs, no prompt logprobs (echo)."""
    if path.endswith("/completions") and not path.endswith("/chat/completions"):
        return 200, {}, {"choices": [{"text": "x", "index": 0}]}, 0.0  # well-formed, without logprobs
    prompt = body["messages"][0]["content"]
    if body.get("logprobs"):
        return 200, {}, judge_reply(prompt), 0.0
    return 200, {}, chat(extraction_reply(prompt)), 0.0


HANG = 2.0  # seconds; the client timeout (0.8 s) is shorter
FAULTS: list[tuple[int, dict[str, str], Any, float]] = [
    (429, {"Retry-After": "0.05"}, {"error": "rate limited"}, 0.0),
    (500, {}, {"error": "internal"}, 0.0),
    (502, {}, b"<html><h1>502 Bad Gateway</h1></html>", 0.0),
    (503, {}, {"error": "overloaded"}, 0.0),
    (200, {}, {"choices": []}, HANG),  # a hang past the client timeout
    (200, {}, DROP, 0.0),
    (200, {}, b"<!DOCTYPE html><html>proxy error</html>", 0.0),
    (200, {}, b'{"choices": [{"message": {"role": "assistant", "content": "Ard', 0.0),
    (200, {}, {"choices": []}, 0.0),
    (200, {}, {"choices": [{"index": 0, "finish_reason": "stop"}]}, 0.0),
]


class Faulty:
    """First attempt of each distinct request: a fault (cycling through all kinds); poisoned requests: always."""

    def __init__(self) -> None:
        self.seen: dict[str, int] = {}
        self.lock = threading.Lock()

    def __call__(self, path: str, body: dict[str, Any], n: int) -> tuple[int, dict[str, str], Any, float]:
        key = json.dumps([path, body], sort_keys=True)
        with self.lock:
            attempt = self.seen[key] = self.seen.get(key, -1) + 1
            kind = (len(self.seen) + attempt) % len(FAULTS)
        prompt = _prompt(body)
        poisoned = EXTRACT_POISON in prompt and "\nTriples:" in prompt or JUDGE_POISON in prompt
        if attempt == 0 or poisoned:
            return FAULTS[kind]
        return good(path, body)


def _prompt(body: dict[str, Any]) -> str:
    return body["messages"][0]["content"] if "messages" in body else body.get("prompt", "")


def _fast(settings: Settings, **more: Any) -> Settings:
    # Free extraction's prompt (structured output off): every chunk is asked, whatever names it has.
    return replace(settings, llm_retries=2, llm_timeout=0.8, llm_backoff=0.01, llm_concurrency=4, chunk_tokens=12,
                   structured_output="off", **more)


def _graph(store: Any) -> dict[str, Any]:
    """Everything a build decides: facts with confidences and chunks, entities, documents and their marks."""
    facts = store.execute(
        "MATCH (h:Entity)-[r]->(t:Entity) WHERE r.label IS NOT NULL "
        "RETURN h.name, r.label, t.name, r.confidence, r.chunk_ids"
    ).rows
    entities = store.execute("MATCH (e:Entity) RETURN e.name, labels(e), e.aliases").rows
    docs = store.execute("MATCH (d:Document) RETURN d.path, d.complete").rows
    return {
        "facts": sorted((h, r, t, c, tuple(sorted(ch))) for h, r, t, c, ch in facts),
        "entities": sorted((n, tuple(sorted(l)), tuple(sorted(a or []))) for n, l, a in entities),
        "documents": sorted((Path(p).name, c) for p, c in docs),
    }


def test_build_survives_faults_and_a_rerun_gives_the_clean_graph(settings, store, serve, tmp_path, monkeypatch, capsys):
    folder = tmp_path / "docs"
    folder.mkdir()
    for name, text in DOCS.items():
        (folder / name).write_text(text, encoding="utf-8")
    model = f"fake-{settings.graph}"  # a model of its own: its cache entries and calibration are this test's

    # A clean build, with its own state folder (cache, calibration) and graph, against a well-behaved server.
    clean_server = serve(lambda p, b, n: good(p, b))
    clean_settings = _fast(settings, state_dir=str(tmp_path / "clean-state"), graph=settings.graph + "_clean",
                           llm=f"openai:{model}@{clean_server.url}")
    clean_store = resolve_store("falkordb", replace(clean_settings, state_dir=settings.state_dir))
    try:
        clean = build(folder, clean_settings, store=clean_store)
        assert clean.failed_chunks == [] and clean.documents_incomplete == 0
        assert clean.summary()["judge_signals"] == ["lexical", "yes_no"]  # what the model offers
        assert "prompt logprobs" in clean.summary()["judge_missing"]["likelihood"]  # and why not likelihood
        expected = _graph(clean_store)
    finally:
        clean_store.execute("MATCH (n) DETACH DELETE n", write=True)
        clean_store.close()
    assert expected["facts"] and all(c for *_, c in expected["documents"])

    # The same build against a server that faults on every first attempt and always on the poisoned chunks.
    faulty = serve(Faulty())
    report = tmp_path / "report.json"
    fast = _fast(settings)
    for name in ("llm_retries", "llm_timeout", "llm_backoff", "chunk_tokens", "ontology", "canonical_relations",
                 "structured_output", "chunk_vectors"):
        monkeypatch.setenv(f"KGPIPE_{name.upper()}", str(getattr(fast, name)))
    argv = ["--state-dir", settings.state_dir, "--graph", settings.graph, "--llm", f"openai:{model}@{faulty.url}",
            "--no-progress", "build", str(folder), "--report", str(report), "--json"]
    assert main(argv) == EXIT_FAILED_CHUNKS
    summary = json.loads(capsys.readouterr().out)
    failed = json.loads(report.read_text(encoding="utf-8"))["failed_chunks"]
    chunk_text = {c["c.id"]: c["c.text"] for c in store.execute("MATCH (c:Chunk) RETURN c.id, c.text").records()}
    stages = {(f["chunk_id"], f["stage"]) for f in failed}
    poisoned_extract = {cid for cid, text in chunk_text.items() if EXTRACT_POISON in text}
    poisoned_judge = {cid for cid, text in chunk_text.items() if "Vexholm" in text}
    assert stages == {(c, "extract") for c in poisoned_extract} | {(c, "judge") for c in poisoned_judge}
    assert all("after 3 attempts" in f["reason"] and "fake-" in f["reason"] for f in failed)
    assert summary["failed_chunks"] == len(failed) and summary["documents_incomplete"] == 2
    assert summary["documents_built"] == 3 and summary["judge_signals"] == ["lexical", "yes_no"]
    partial = _graph(store)
    assert sorted(c for _, c in partial["documents"]) == [False, False, True]  # gamma and beta redo next time
    # Only judged facts are written (a fact from a failed chunk and a good one carries the good one's chunk).
    assert {f[:3] for f in partial["facts"]} <= {f[:3] for f in expected["facts"]}
    assert not any("Vexholm" in (h + t) or "Quellmoor" in (h + t) for h, _, t, *_ in partial["facts"])
    assert any(h == "Talisk" for h, *_ in partial["facts"])  # beta's other facts are written

    # A re-run against a well-behaved server redoes only the failed chunks and yields the clean graph.
    healthy = serve(lambda p, b, n: good(p, b))
    argv[argv.index("--llm") + 1] = f"openai:{model}@{healthy.url}"  # another port: same model, same cache
    assert main(argv) == 0
    rerun = json.loads(capsys.readouterr().out)
    assert rerun["failed_chunks"] == 0 and rerun["documents_incomplete"] == 0 and rerun["documents_unchanged"] == 1
    prompts = [_prompt(body) for _, body, _, _ in healthy.requests]
    assert prompts and all(EXTRACT_POISON in p or "Vexholm" in p for p in prompts)
    assert len(prompts) == rerun["llm_calls"]
    assert _graph(store) == expected


def test_calibration_is_never_saved_from_failures_and_follows_the_model_across_ports(settings, serve):
    model = f"openai:cal-{settings.graph}"
    down = serve(lambda p, b, n: (503, {}, {"error": "overloaded"}, 0.0))
    s = replace(settings, llm_retries=1, llm_backoff=0.01, llm_cache=False)
    with pytest.raises(LLMError):
        calibration_for(resolve_llm(f"{model}@{down.url}", s), s)
    saved = (Path(settings.state_dir) / "judge").glob("*.json")
    assert not any(model in f.read_text() for f in saved)  # nothing saved: not recorded as unable to score

    up = serve(lambda p, b, n: good(p, b))
    cal = calibration_for(resolve_llm(f"{model}@{up.url}", s), s)
    assert "yes_no" in cal.auroc and "likelihood" not in cal.auroc and "likelihood" in cal.missing
    yes_no_requests = [r for r in up.requests if r[1].get("logprobs") is True]
    assert len(yes_no_requests) == 3 * CALIBRATION_EXAMPLES  # one request per claim, not two
    assert len(up.requests) - len(yes_no_requests) <= s.llm_concurrency  # the echo probe, learnt once

    elsewhere = serve(lambda p, b, n: good(p, b))  # the same model behind another port
    assert calibration_for(resolve_llm(f"{model}@{elsewhere.url}", s), s) == cal and not elsewhere.requests


def test_judge_on_a_chat_model_uses_top_logprobs_and_says_what_it_lacks(settings, serve):
    server = serve(lambda p, b, n: good(p, b))
    llm = resolve_llm(f"openai:judge-{settings.graph}@{server.url}", replace(settings, llm_cache=False))
    text = "Tamsin Hale is a Welsh poet who lives in Cardiff."
    chunks = {"c": Chunk("c", "d", 0, text, 0, len(text))}
    prov = Provenance("d", "c", "test")
    true, false = Triple("Tamsin Hale", "lives in", "Cardiff", provenance=prov), Triple("Tamsin Hale", "lives in", "Oslo", provenance=prov)
    result = judge([true, false], chunks, llm, weights={"yes_no": 1.0, "likelihood": 0.5, "lexical": 0.0})
    assert set(result.weights) == {"yes_no"} and "prompt logprobs" in result.missing["likelihood"]
    kept = {t.tail: t.confidence for t in result.kept}
    assert "Cardiff" in kept and all(r.triple.tail != "Cardiff" for r in result.rejected)
    assert kept["Cardiff"] > max([r.score for r in result.rejected] + [kept.get("Oslo", 0.0)])


def test_a_failed_calibration_fails_the_judging_and_is_measured_again(settings, store, serve, tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "alpha.txt").write_text(DOCS["alpha.txt"], encoding="utf-8")
    model = f"openai:down-{settings.graph}"
    judge_dir = Path(settings.state_dir) / "judge"

    def scoring_down(path: str, body: dict[str, Any], n: int) -> Any:
        return (502, {}, b"<html>bad gateway</html>", 0.0) if body.get("logprobs") or "echo" in body else good(path, body)

    down = serve(scoring_down)
    result = build(folder, _fast(settings, llm=f"{model}@{down.url}"), store=store)
    assert result.documents_built == 1 and result.documents_incomplete == 1 and result.graph["facts"] == 0
    assert result.failed_chunks and all(f.stage == "judge" and "calibration failed" in f.reason for f in result.failed_chunks)
    assert not any(model in f.read_text() for f in judge_dir.glob("*.json"))  # not saved as "cannot score"

    up = serve(lambda p, b, n: good(p, b))
    again = build(folder, _fast(settings, llm=f"{model}@{up.url}"), store=store)
    assert again.failed_chunks == [] and again.documents_incomplete == 0 and again.graph["facts"] > 0
    assert again.judge_signals == ["lexical", "yes_no"]
    assert any(model in f.read_text() for f in judge_dir.glob("*.json"))
    extraction = [b for _, b, _, _ in up.requests if not b.get("logprobs") and "echo" not in b]
    assert not extraction  # the extraction replies came from the cache
