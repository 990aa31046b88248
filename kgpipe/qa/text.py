"""Answers read from the cited text when the graph does not say (issue 15).

The graph holds what extraction understood of the documents; the documents often say more. When
``ask`` abstains, the chunks of the documents that mention the question's entities are read instead:

1. the sentences of those chunks that are about a linked entity: they name it, by a linked name or a shorter or
   fuller form of one ("Newton" for "Isaac Newton", "Rosalind Elsie Franklin" for "Rosalind Franklin"), or refer
   back to it ("She was born in Warsaw", "The company was founded ...", resolved by ``kgpipe.references``, the
   resolver extraction reads its chunks with), ranked by MiniLM similarity to the question, the linked names
   masked on both sides. A question that names no entity of the graph reads the chunks nearest to it by
   embedding instead, the names spaCy finds in the question stand in for the linked ones, and a sentence
   must contain every content word of the question (``says``);
2. the best sentence must be at least ``MIN_SENTENCE_SIMILARITY`` similar, else there is no answer;
3. its candidate answers are the spans spaCy tags with the kind the question asks for ("where" or "which
   river": a place or organisation, "when": a date that names a year or a month, not a duration, "who": a person
   or organisation, "how many": a number; otherwise any entity or noun phrase), never a linked entity's own name;
4. the model picks among them by log P(" span" | the chunk up to that sentence, question): a choice
   among spans of one sentence, so the answer is a span of the text by construction, returned with its document and
   character offsets and marked as read from text, not from the graph.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Sequence

from ..errors import StoreError
from ..references import parsed_references
from ..stores import cypher
from ..text import parsing_pipeline
from .link import Link, link_key, mask_keys, masked

if TYPE_CHECKING:
    from ..llms import LocalModel
    from ..llms.embed import Embedder
    from ..stores import Store

log = logging.getLogger(__name__)
_PRONOUN_SUBJECTS = frozenset({"he", "she", "it", "they"})
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
    (re.compile(r"\b(which|what) (ocean|sea|river|lake|country|city|town|village|state|region|continent|island|mountain)\b",
                re.I), {"GPE", "LOC", "FAC"}),
)
# a point in time names a year or a month ("28 August 1937", "1989"); "three months", "the age of 36" do not
_POINT_IN_TIME = re.compile(r"\b\d{3,4}\b|\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b", re.I)


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
    if wanted == {"DATE"}:
        found = {x for x in found if _POINT_IN_TIME.search(x[0])}
    if wanted is not None and "PERSON" in wanted:  # a name the small pipeline tags as nothing ("Lord Byron")
        tagged = {i for e in sent.ents for i in range(e.start, e.end)}
        for run in _proper_runs(sent):
            if not tagged & set(range(run.start, run.end)):
                found.add((run.text, run.start_char, run.end_char))
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


def _same_thing(name: str, keys: Sequence[str]) -> bool:
    """Whether ``name`` is a linked name (``keys``: their ``link_key`` forms), a shorter form of one ("Newton" for
    "Isaac Newton") or, for a linked name of two words or more, a fuller one ("Rosalind Elsie Franklin")."""
    words = set(link_key(name).split()) - {"the"}
    if not words:
        return False
    for key in keys:
        linked = set(key.split()) - {"the"}
        if words <= linked or (len(linked) > 1 and linked <= words):
            return True
    return False


def sentences_about(doc: Any, names: set[str]) -> list[tuple[Any, bool, str]]:
    """The sentences of a parsed chunk, each with whether it is about an entity of ``names`` (see the module
    docstring) and how it reads with its references replaced by what they refer to ("She was born in Smiljan" ->
    "Nikola Tesla was born in Smiljan", as extraction reads it), which is what is compared with the question. A
    sentence is about a linked entity when it names one (a named entity or a run of proper nouns) or refers back to
    one. A sentence whose subject is a pronoun the resolver left alone (it resolves only names spaCy tags, and the
    small pipeline misses some: "Rosalind Elsie Franklin was ...") is about what the sentence before it is about, or
    what the chunk opens with (a document's title, or a chunk of a biography that starts "Franklin studied ...")."""
    keys = mask_keys(names)
    linked = min(names, key=len) if names else ""
    refs = parsed_references(doc)
    out: list[tuple[Any, bool, str]] = []
    for sent in doc.sents:
        inside = [r for r in refs if sent.start_char <= r.start < sent.end_char]
        about = any(n in sent.text for n in names) or any(_same_thing(n, keys) for n in [*text_names(sent), *(r.name for r in inside)])
        replaced = [(r.start, r.end, linked + ("'s" if r.possessive else "") if _same_thing(r.name, keys) else r.replacement)
                    for r in inside]  # fmt: skip
        if not about and not inside and out and (out[-1][1] or out[0][1]):
            subjects = [t for t in sent if t.lower_ in _PRONOUN_SUBJECTS and t.dep_ in ("nsubj", "nsubjpass")]
            about = bool(subjects)
            replaced = [(t.idx, t.idx + len(t), linked) for t in subjects[:1]]
        text = doc.text
        reading = text[sent.start_char : sent.end_char]
        for start, end, name in sorted(replaced, reverse=True):
            reading = reading[: start - sent.start_char] + name + reading[end - sent.start_char :]
        out.append((sent, about, " ".join(reading.split())))
    return out


def _proper_runs(doc: Any) -> list[Any]:
    """The runs of proper nouns of a parsed text (or sentence), as spans."""
    runs, start = [], None
    for token in [*doc, None]:
        if token is not None and token.pos_ == "PROPN":
            start = token.i if start is None else start
        elif start is not None:
            runs.append(token.doc[start : token.i] if token is not None else doc.doc[start : doc[-1].i + 1])
            start = None
    return runs


def text_names(doc: Any) -> set[str]:
    """The names a parsed text (a question, a sentence) uses: its named entities and its runs of proper nouns. A
    question's stand in for linked entities when it names none of the graph's."""
    names = {e.text for e in doc.ents if e.label_ not in ("DATE", "CARDINAL", "ORDINAL", "QUANTITY")}
    return names | {" ".join(t.text for t in run) for run in _proper_runs(doc)}


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


@lru_cache(maxsize=512)
def _parsed(nlp: Any, text: str) -> Any:
    """A chunk's parse, kept for the next question about the same documents."""
    return nlp(text)


def answer_from_text(question: str, links: Sequence[Link], store: "Store", decoder: "LocalModel",
                     embedder: "Embedder") -> TextAnswer | None:  # fmt: skip
    """The answer read from the documents of the linked entities, or None when no sentence answers it.

    Without ``links`` (the question names no entity of the graph) only the chunks nearest the question are read."""
    nlp = parsing_pipeline()
    if nlp is None:
        return None
    if links:
        names = {n for lk in links for n in (lk.name, lk.mention) if n}
        rows = store.execute(*cypher.entity_document_chunks([lk.id for lk in links], MAX_CHUNKS)).records()
        names |= {a for r in rows for a in (r["aliases"] or [])}
        needed: list[str] = []
    else:
        asked = nlp(question)
        names, rows = text_names(asked), []
        needed = content_stems(asked, names)
    rows += [r for r in nearest_chunks(question, store, embedder) if r["chunk_id"] not in {x["chunk_id"] for x in rows}]
    masks = mask_keys(names)
    wanted = expected_labels(question)
    options = []  # (the sentence, how it reads, the chunk's text up to it, its candidate spans as (text, start, end), row)
    words = {w for n in names for w in n.split() if len(w) > 2 and w[:1].isupper()}  # "Newton" of "Isaac Newton"
    for row in rows:
        text = row["text"] or ""
        if names and not any(w in text for w in words):
            continue  # names no linked entity, not even in part: nothing in it is about one
        for sent, about, reading in sentences_about(_parsed(nlp, text), names):
            spans = _spans(sent, wanted, names)
            if not links and not says(sent, needed):
                spans = []
            if (about or not names) and spans:
                options.append((" ".join(sent.text.split()), reading, text[: sent.end_char], spans, row))
    if not options:
        return None
    vectors = embedder.encode([masked(question, masks), *(masked(o[1], masks) for o in options)])
    sims = vectors[1:] @ vectors[0]
    best = int(sims.argmax())
    if float(sims[best]) < MIN_SENTENCE_SIMILARITY:
        return None
    sentence, _, before, spans, row = options[best]
    context = f"{' '.join(before.split()[-80:])}\nQuestion: {' '.join(question.split())}\nAnswer:"
    scores = decoder.logprob([context] * len(spans), [f" {text}" for text, _, _ in spans])
    text, start, end = spans[max(range(len(spans)), key=lambda i: scores[i])]
    offset = row["start"] or 0
    return TextAnswer(text, sentence, row["chunk_id"], row["doc_id"], row["path"] or "", offset + start, offset + end,
                      float(sims[best]))  # fmt: skip
