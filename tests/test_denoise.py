"""Entity-centric denoising: reply parsing, provenance kept, fallbacks (scripted), and the real Gemma."""

from __future__ import annotations

from conftest import ScriptedLLM
from kgpipe.ingest.denoise import denoise, grounded_sentences
from kgpipe.ingest.extract import extract
from kgpipe.parse import parse_entities
from kgpipe.records import Chunk

TEXT = "Nadap is a village in Fejér county in central Hungary , with population of 460 ."


def scripted(entities: str, rewrite: str) -> ScriptedLLM:
    """Answers the entity prompt with ``entities`` and the rewrite prompt with ``rewrite``."""
    return ScriptedLLM(lambda p, *_: rewrite if p.rstrip().endswith("Sentences:") else entities)


def test_parse_entities():
    assert parse_entities(" Nadap; Fejér county; Hungary; Nadap\nEND") == ["Nadap", "Fejér county", "Hungary"]
    assert parse_entities(" Nadap, Hungary") == ["Nadap", "Hungary"]
    assert parse_entities("") == []


def test_only_grounded_sentences_are_kept():
    reply = "Nadap is a village.\n- Nadap is in Fejér county\nAlbert Einstein was born in Ulm.\nEND\nText: more"
    assert grounded_sentences(reply, TEXT) == ["Nadap is a village.", "Nadap is in Fejér county."]


def test_rewrite_keeps_chunk_identity_and_falls_back_when_unusable():
    chunk = Chunk("c1", "d1", 3, TEXT, 100, 100 + len(TEXT))
    llm = scripted(" Nadap; Fejér county; Hungary\nEND", "Nadap is a village in Fejér county.\nNadap is in Hungary.\nEND")
    (rewritten,) = denoise([chunk], llm)
    assert rewritten.text == "Nadap is a village in Fejér county. Nadap is in Hungary."
    assert (rewritten.id, rewritten.doc_id, rewritten.index, rewritten.start, rewritten.end) == ("c1", "d1", 3, 100, 100 + len(TEXT))
    assert "Entities: Nadap; Fejér county; Hungary" in llm.prompts[-1] and TEXT in llm.prompts[-1]
    (kept,) = denoise([chunk], scripted("", "Albert Einstein was born in Ulm.\nEND"))
    assert kept == chunk  # a rewrite about something else leaves the chunk as it was


def test_real_gemma_rewrite_feeds_extraction_with_original_provenance(gemma):
    chunk = Chunk("c1", "d1", 0, TEXT, 0, len(TEXT))
    (rewritten,) = denoise([chunk], gemma)
    assert rewritten.id == chunk.id and rewritten.text.strip()
    if rewritten != chunk:  # a rewrite is made only of sentences grounded in the chunk
        sentences = rewritten.text.replace(". ", ".\n").splitlines()
        assert sentences and grounded_sentences("\n".join(sentences), TEXT) == sentences
    result = extract([rewritten], gemma, max_new_tokens=64)
    assert result.triples  # greedy decoding: the packaged model extracts facts from this village's sentence
    assert all(t.provenance.chunk_id == "c1" and t.provenance.span == (0, len(TEXT)) for t in result.triples)
