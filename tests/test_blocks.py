"""Ray's blocks (``kgpipe.ingest.blocks``): a group cut at document boundaries, and the blocks' candidates merged
back into exactly what extraction and judging give for the whole group."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from kgpipe.bench.endpoint import reply, synthetic_corpus
from kgpipe.ingest.blocks import blocks_of, merge
from kgpipe.ingest.candidates import extract_and_judge
from kgpipe.ingest.chunk import chunk
from kgpipe.ingest.load import load
from kgpipe.llms import resolve_llm
from kgpipe.ontology import load_ontology
from kgpipe.trust.calibrate import calibration_for


def test_blocks_keep_documents_whole_and_in_order(tmp_path):
    (tmp_path / "long.txt").write_text(" ".join(f"Ardenby borders Corvale number {i}." for i in range(40)))
    synthetic_corpus(tmp_path, 9, seed=7)
    chunks = [c for doc in load(tmp_path) for c in chunk(doc, max_tokens=12, overlap=0)]
    assert len({c.doc_id for c in chunks}) == 10 and len(chunks) > 20
    for parts in (1, 2, 3, 4, 50):
        blocks = blocks_of(chunks, parts)
        assert [c for b in blocks for c in b] == chunks  # every chunk once, in order
        assert 1 <= len(blocks) <= parts
        owners = [{c.doc_id for c in b} for b in blocks]
        assert all(not (a & b) for i, a in enumerate(owners) for b in owners[i + 1:])  # no document cut
    assert len(blocks_of(chunks, 4)) > 1


@pytest.mark.parametrize("ontology", ["", pytest.param("general", marks=pytest.mark.slow)])
def test_merged_blocks_are_the_whole_groups_candidates(settings, serve, tmp_path, ontology):
    """Extraction and judging through an OpenAI-compatible server on localhost (grounded; under the general
    ontology also snapped and relations re-chosen by MiniLM), over the group and over its blocks: the same."""
    synthetic_corpus(tmp_path, 12, seed=8)

    def behave(path: str, body: dict[str, Any], n: int) -> tuple[int, dict[str, str], Any, float]:
        status, payload = reply(path, body)
        return status, {}, payload, 0.0

    server = serve(behave)
    s = replace(settings, llm=f"openai:blocks@{server.url}", ontology=ontology, canonical_relations=bool(ontology),
                chunk_tokens=12, llm_retries=1, llm_backoff=0.01)  # fmt: skip
    llm = resolve_llm(s.llm, s)
    onto = load_ontology(ontology) if ontology else None
    calibration = calibration_for(llm, s)
    chunks = [c for doc in load(tmp_path) for c in chunk(doc, max_tokens=s.chunk_tokens, overlap=0)]
    whole = extract_and_judge(chunks, llm, s, ontology=onto, calibration=calibration)
    blocks = blocks_of(chunks, 3)
    assert len(blocks) == 3
    merged = merge([extract_and_judge(b, llm, s, ontology=onto, calibration=calibration) for b in blocks])
    assert whole.kept and whole.snapped is not None  # snapped: an HTTP reply in grounded mode
    for name in ("kept", "proposed", "failures", "failed_chunks", "rejected", "judge_signals", "judge_missing",
                 "judge_weights", "read", "snapped", "structured", "grounded", "by_rule"):  # fmt: skip
        assert getattr(merged, name) == getattr(whole, name), name
    assert merged.stages.keys() == whole.stages.keys()
