"""Answers read from the cited text when the graph does not say (issue 15).

The graph holds what extraction understood of the documents; the documents often say more. When
``ask`` abstains, the chunks of the documents that mention the question's entities are read instead:

1. the sentences of the chunks that name a linked entity, those that name it or refer back to it with
   a pronoun ("She was born in Warsaw" after a sentence that names her), ranked by MiniLM similarity to the question, the linked names
   masked on both sides. A question that names no entity of the graph reads the chunks nearest to it by
   embedding instead, the names spaCy finds in the question stand in for the linked ones, and a sentence
   must contain every content word of the question (``says``);
2. the best sentence must be at least ``MIN_SENTENCE_SIMILARITY`` similar, else there is no answer;
3. its candidate answers are the spans spaCy tags with the kind the question asks for ("where": a
   place or organisation, "when": a date, "who": a person or organisation, "how many": a number;
   otherwise any entity or noun phrase), never a linked entity's own name;
4. the model picks among them by log P(" span" | the chunk up to that sentence, question): a choice
   among spans of one sentence, so the answer is a span of the text by construction, returned with its document and
   character offsets and marked as read from text, not from the graph.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

from ..errors import StoreError
from ..stores import cypher
from ..text import trained_pipeline
from .link import Link, link_key, mask_keys, masked

if TYPE_CHECKING:
    from ..llms import LocalModel
    from ..llms.embed import Embedder
    from ..stores import Store

log = logging.getLogger(__name__)
_ORG_NOUNS = {"company", "firm", "corporation", "business"}  # "the company": the last organisation
_REFERS = {"he": "PERSON", "she": "PERSON", "his": "PERSON", "her": "PERSON", "him": "PERSON", "it": "ORG", "its": "ORG"}
MAX_CHUNKS = 60  # chunks of the linked entities' documents read per question
NEAREST_CHUNKS = 10  # and the chunks nearest the question by embedding, wherever they are
# Tuned on data/sample_questions.tsv, the only questions looked at: its unanswerable questions' nearest sentences
# scored up to 0.31, its answerable ones' answering sentences from 0.35. Below it the documents do not answer.
MIN_SENTENCE_SIMILARITY = 0.35
_KINDS = (
    (re.compile(r"^\s*how (many|much)\b", re.I), {"CARDINAL", "QUANTITY", "MONEY", "PERCENT"}),
    (re.compile(r"^\s*(when|what year|in what year|which year)\b", re.I), {"DATE"}),
    (re.compile(r"^\s*where\b", re.I), {"GPE", "LOC", "FAC", "ORG"}),
    (re.compile(r"^\s*(who|whom|whose)\b", re.I), {"PERSON", "ORG"}),
)


@dataclass(frozen=True)
class TextAnswer:
    """A span of one chunk that answers the question, with where it is."""

    answer: str
    sentence: str
    chunk_id: str
    doc_id: str
    path: str
    start: int  # character offsets of the answer in the document
    end: int
    similarity: float  # of the sentence to the question

    def to_dict(self) -> dict[str, Any]:
        return {"answer": self.answer, "sentence": self.sentence, "chunk_id": self.chunk_id, "doc_id": self.doc_id,
                "path": self.path, "start": self.start, "end": self.end, "similarity": round(self.similarity, 4)}  # fmt: skip


def expected_labels(question: str) -> set[str] | None:
    """The spaCy entity labels an answer to ``question`` can have; None: any."""
    for pattern, labels in _KINDS:
        if pattern.search(question):
            return labels
    return None


def _spans(sent: Any, wanted: set[str] | None, names: set[str]) -> list[tuple[str, int, int]]:
    """A sentence's candidate answers: its entities of the wanted kinds; for a question of no particular kind
    ("what did she discover?") also its noun phrases without their determiners. Never a linked name."""
    found = {(e.text, e.start_char, e.end_char) for e in sent.ents if wanted is None or e.label_ in wanted}
    if wanted is None:
        for chunk in sent.noun_chunks:
            words = [t for t in chunk if t.pos_ not in ("DET", "PRON")]
            if words:
                found.add((chunk.doc.text[words[0].idx : words[-1].idx + len(words[-1])], words[0].idx,
                           words[-1].idx + len(words[-1])))  # fmt: skip
    keys = [f" {link_key(n)} " for n in names]
    # never a linked entity under any of its names, nor a longer or shorter form of one ("Nikola Tesla" for "Tesla")
    return sorted((x for x in found if not any(k in f" {link_key(x[0])} " or f" {link_key(x[0])} " in k for k in keys)),
                  key=lambda x: x[1])  # fmt: skip


def nearest_chunks(question: str, store: "Store", embedder: "Embedder", k: int = NEAREST_CHUNKS) -> list[dict[str, Any]]:
    """The chunks nearest ``question`` by embedding (the store's vector index on ``Chunk``), nearest first; none
    where the graph's chunks were not embedded (``chunk_vectors`` off, or built before it existed)."""
    vector = [float(x) for x in embedder.encode([" ".join(question.split())])[0]]
    try:
        return store.execute(*cypher.nearest_chunks(vector, k, dialect=store.name)).records()
    except StoreError as exc:  # no vector index (a store that has none, an older Neo4j)
        log.debug("no nearest chunks: %s", exc)
        return []


def _references(sent: Any) -> set[str]:
    """The kinds of entity ``sent`` refers back to: by pronoun ("she": a person) or by "the company"."""
    kinds = {_REFERS[t.lower_] for t in sent if t.lower_ in _REFERS}
    if any(t.lower_ in _ORG_NOUNS and any(c.lower_ == "the" for c in t.children) for t in sent):
        kinds.add("ORG")
    return kinds


def _antecedents(sent: Any, last: dict[str, str]) -> None:
    """Update what a later "he", "she" or "it" means after ``sent``: the person or organisation that is its subject
    (a subject is what a following pronoun most often continues: "She married William King. She died in London"),
    else, when its subject is no name, the last one it names that nothing named before."""
    subjects = [e for e in sent.ents if e.label_ in last and any(t.dep_ in ("nsubj", "nsubjpass") for t in e)]
    for e in subjects or [e for e in sent.ents if e.label_ in last and not last[e.label_]]:
        last[e.label_] = e.text


def question_names(doc: Any) -> set[str]:
    """The names a parsed question uses (its named entities, else its runs of proper nouns): what stands in for
    linked entities when the question names none of the graph's."""
    names = {e.text for e in doc.ents if e.label_ not in ("DATE", "CARDINAL", "ORDINAL", "QUANTITY")}
    run: list[str] = []
    for token in [*doc, None]:
        if token is not None and token.pos_ == "PROPN":
            run.append(token.text)
        elif run:
            names.add(" ".join(run))
            run = []
    return names


def content_stems(doc: Any, names: set[str]) -> list[str]:
    """The stems of a parsed question's content words (verbs, nouns, adjectives outside its names): what a sentence
    must say, in its own words, to answer a question no linked entity anchors ("When was the Prius discontinued?"
    is not answered by "In 1997 the company introduced the Prius", MiniLM-similar as they are)."""
    inside = {w for n in names for w in n.split()}
    return [_stem(t.text) for t in doc if t.pos_ in ("VERB", "NOUN", "ADJ") and t.text not in inside]


def _stem(word: str) -> str:
    """A crude stem: the word less up to three final letters, at least four ("discontinued" -> "discontin")."""
    word = word.lower()
    return word[: max(4, len(word) - 3)]


def says(sent: Any, stems: Sequence[str]) -> bool:
    """Whether every stem begins a word of ``sent`` ("born" in "was born in", "die" in "died")."""
    words = [t.text.lower() for t in sent]
    return all(any(w.startswith(stem) for w in words) for stem in stems)


def answer_from_text(question: str, links: Sequence[Link], store: "Store", decoder: "LocalModel",
                     embedder: "Embedder") -> TextAnswer | None:  # fmt: skip
    """The answer read from the documents of the linked entities, or None when no sentence answers it.

    Without ``links`` (the question names no entity of the graph) only the chunks nearest the question are read."""
    nlp = trained_pipeline(exclude=["lemmatizer", "textcat"], needs=["parser", "ner"])
    if nlp is None:
        return None
    if links:
        names = {n for lk in links for n in (lk.name, lk.mention) if n}
        rows = store.execute(*cypher.entity_document_chunks([lk.id for lk in links], MAX_CHUNKS)).records()
        names |= {a for r in rows for a in (r["aliases"] or [])}
        needed: list[str] = []
    else:
        asked = nlp(question)
        names, rows = question_names(asked), []
        needed = content_stems(asked, names)
    rows += [r for r in nearest_chunks(question, store, embedder) if r["chunk_id"] not in {x["chunk_id"] for x in rows}]
    masks = mask_keys(names)
    wanted = expected_labels(question)
    options = []  # (the sentence, the chunk's text up to it, its candidate spans as (text, start, end), row)
    for row in rows:
        text = row["text"] or ""
        if names and not any(n in text for n in names):
            continue
        last = {"PERSON": "", "ORG": ""}  # what he, she or it most likely means (``_antecedents``)
        for sent in nlp(text).sents:
            # About a linked entity: names one, or refers back to one ("She was born in Warsaw", "The company was...").
            about = not names or any(n in sent.text for n in names) or any(last[kind] in names for kind in _references(sent))
            spans = _spans(sent, wanted, names)
            if not links and not says(sent, needed):
                spans = []
            if about and spans:
                options.append((" ".join(sent.text.split()), text[: sent.end_char], spans, row))
            _antecedents(sent, last)
    if not options:
        return None
    vectors = embedder.encode([masked(question, masks), *(masked(o[0], masks) for o in options)])
    sims = vectors[1:] @ vectors[0]
    best = int(sims.argmax())
    if float(sims[best]) < MIN_SENTENCE_SIMILARITY:
        return None
    sentence, before, spans, row = options[best]
    context = f"{' '.join(before.split()[-80:])}\nQuestion: {' '.join(question.split())}\nAnswer:"
    scores = decoder.logprob([context] * len(spans), [f" {text}" for text, _, _ in spans])
    text, start, end = spans[max(range(len(spans)), key=lambda i: scores[i])]
    offset = row["start"] or 0
    return TextAnswer(text, sentence, row["chunk_id"], row["doc_id"], row["path"] or "", offset + start, offset + end,
                      float(sims[best]))  # fmt: skip
