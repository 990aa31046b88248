"""Chunking: exact offsets, the token budget, sentence overlap, stable ids, long sentences, big documents."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Iterator

import pytest
import spacy

import kgpipe.ingest.chunk as chunk_module
from kgpipe.errors import ConfigError
from kgpipe.ingest.chunk import chunk, count_tokens, sentence_spans, sentence_splitter
from kgpipe.ingest.load import load
from kgpipe.records import Chunk, Document

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"


def _doc(text: str) -> Document:
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return Document(id=digest, path="/x.txt", title="x", text=text, sha256=digest)


@pytest.fixture(scope="module")
def sample_docs() -> list[Document]:
    return list(load(SAMPLE))


@pytest.fixture
def blank_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Pretend no trained pipeline is installed."""
    monkeypatch.setattr(chunk_module, "TRAINED_PIPELINES", ("no_such_spacy_pipeline",))
    sentence_splitter.cache_clear()
    yield
    sentence_splitter.cache_clear()


def _check_offsets(doc: Document, chunks: list[Chunk]) -> None:
    for c in chunks:
        assert doc.text[c.start : c.end] == c.text
        assert c.text == c.text.strip() and c.text
        assert c.doc_id == doc.id


def test_trained_pipeline_used_when_installed() -> None:
    if not any(spacy.util.is_package(n) for n in chunk_module.TRAINED_PIPELINES):
        pytest.skip("no trained English spaCy pipeline installed")
    nlp = sentence_splitter()
    assert nlp.pipe_names == ["senter"]  # only what sentence splitting needs


def test_offsets_exact_and_indices(sample_docs: list[Document]) -> None:
    for doc in sample_docs:
        chunks = list(chunk([doc], max_tokens=40))
        _check_offsets(doc, chunks)
        assert [c.index for c in chunks] == list(range(len(chunks)))
        assert all(a.start < b.start and a.end < b.end for a, b in zip(chunks, chunks[1:]))


@pytest.mark.parametrize("max_tokens", [8, 25, 60, 160])
def test_budget_respected_and_text_covered(sample_docs: list[Document], max_tokens: int) -> None:
    for doc in sample_docs:
        chunks = list(chunk(doc, max_tokens=max_tokens, overlap=1))
        assert all(count_tokens(c.text) <= max_tokens for c in chunks)
        covered = set()
        for c in chunks:
            covered.update(range(c.start, c.end))
        assert all(i in covered for i, ch in enumerate(doc.text) if not ch.isspace())


def test_overlap_repeats_last_sentence(sample_docs: list[Document]) -> None:
    doc = next(d for d in sample_docs if d.path.endswith("marie_curie.txt"))
    starts = {a for a, _ in sentence_spans(doc.text)}
    chunks = list(chunk(doc, max_tokens=40, overlap=1))
    assert len(chunks) > 2
    for prev, nxt in zip(chunks, chunks[1:]):
        assert nxt.start < prev.end  # overlaps
        assert nxt.start in starts  # at a sentence start
        last_sentence = max(a for a in starts if a < prev.end)
        assert nxt.start == last_sentence  # exactly the last sentence of the previous chunk


def test_no_overlap_partitions_sentences(sample_docs: list[Document]) -> None:
    doc = next(d for d in sample_docs if d.path.endswith("ibm.md"))
    chunks = list(chunk(doc, max_tokens=30, overlap=0))
    assert all(a.end < b.start for a, b in zip(chunks, chunks[1:]))


def test_overlap_dropped_when_it_would_break_the_budget() -> None:
    text = "one two three four five six. seven eight nine ten eleven twelve."
    chunks = list(chunk(_doc(text), max_tokens=8, overlap=1))
    assert [c.text for c in chunks] == ["one two three four five six.", "seven eight nine ten eleven twelve."]


def test_ids_deterministic_and_unique(sample_docs: list[Document]) -> None:
    first = [c.id for c in chunk(sample_docs, max_tokens=30)]
    second = [c.id for c in chunk(sample_docs, max_tokens=30)]
    assert first == second
    assert len(set(first)) == len(first)
    other = _doc(sample_docs[0].text + " Extra.")
    assert {c.id for c in chunk(other, max_tokens=30)}.isdisjoint(first)


def test_long_sentence_split_at_word_boundaries() -> None:
    words = " ".join(f"word{i}" for i in range(500))
    doc = _doc(f"Short start. {words} end. Short finish.")
    chunks = list(chunk(doc, max_tokens=50, overlap=1))
    _check_offsets(doc, chunks)
    assert all(count_tokens(c.text) <= 50 for c in chunks)
    for c in chunks:
        assert c.start == 0 or doc.text[c.start - 1].isspace()
        assert c.end == len(doc.text) or doc.text[c.end].isspace()
    assert sum("word250" in c.text.split() for c in chunks) >= 1


def test_unbroken_token_run_still_split() -> None:
    doc = _doc("-".join(["x"] * 400))  # 799 tokens, no whitespace at all
    chunks = list(chunk(doc, max_tokens=100, overlap=0))
    _check_offsets(doc, chunks)
    assert all(count_tokens(c.text) <= 100 for c in chunks)
    assert "".join(c.text for c in chunks) == doc.text


def test_headings_and_bullets_are_boundaries() -> None:
    text = "MARIE CURIE\nMarie Curie was born in Warsaw.\n- She won two Nobel Prizes\n- She discovered radium"
    sents = [text[a:b] for a, b in sentence_spans(text)]
    assert sents[0] == "MARIE CURIE"
    assert "- She won two Nobel Prizes" in sents and "- She discovered radium" in sents
    wrapped = "She won the Nobel Prize in\nPhysics in 1903 and the one in\nchemistry in 1911."
    assert len(sentence_spans(wrapped)) == 1  # wrapped lines are not boundaries


def test_blank_pipeline_fallback(blank_only: None, sample_docs: list[Document]) -> None:
    nlp = sentence_splitter()
    assert nlp.pipe_names == ["sentencizer"]
    assert nlp is sentence_splitter()  # loaded once
    for doc in sample_docs:
        _check_offsets(doc, list(chunk(doc, max_tokens=40)))


def test_explicit_blank_splitter() -> None:
    nlp = sentence_splitter("blank")
    doc = _doc("Paris is in France. Warsaw is in Poland.")
    chunks = list(chunk(doc, max_tokens=6, overlap=0, nlp=nlp))
    assert [c.text for c in chunks] == ["Paris is in France.", "Warsaw is in Poland."]


def test_bad_arguments() -> None:
    with pytest.raises(ConfigError):
        list(chunk(_doc("x."), max_tokens=0))
    with pytest.raises(ConfigError):
        list(chunk(_doc("x."), overlap=-1))


def test_count_tokens() -> None:
    assert count_tokens("Marie Skłodowska-Curie (1867–1934) won.") == 11  # Marie Skłodowska - Curie ( 1867 – 1934 ) won .


def test_big_document_completes() -> None:
    paragraph = "Marie Curie was born in Warsaw. She married Pierre Curie in 1895, in Sceaux. " * 12
    big = "\n\n".join(paragraph.strip() for _ in range(1100))  # about 1 MB
    assert len(big) > 900_000
    for text in (big, re.sub(r"\n\n", " ", big)):  # with paragraphs, and as one 1 MB paragraph
        doc = _doc(text)
        chunks = list(chunk(doc, max_tokens=160, overlap=1))
        assert chunks[-1].end == len(text)
        assert all(count_tokens(c.text) <= 160 for c in chunks[:: max(1, len(chunks) // 50)])
        assert all(text[c.start : c.end] == c.text for c in chunks[:: max(1, len(chunks) // 50)])
