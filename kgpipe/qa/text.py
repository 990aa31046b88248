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
from typing import TYPE_CHECKING, Any, NamedTuple, Sequence

import numpy as np

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
_NOT_NAMES = frozenset({"DATE", "CARDINAL", "ORDINAL", "QUANTITY"})  # entity labels that are values, not names
_LIGHT_VERBS = frozenset({"become", "became", "get", "got", "have", "had", "has", "do", "did", "make", "made", "go", "went"})
# what a document's own subject is called in its later sentences ("The building was opened by ...")
_TOPIC_NOUNS = frozenset("""company corporation firm business manufacturer university college school institute city town
    village country state region river lake sea mountain volcano island valley park building monument mausoleum
    tower bridge palace castle cathedral church temple museum stadium station ship band team club book novel film
    album painting""".split())  # fmt: skip
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
_KINDS = (
    (re.compile(r"^\s*how (many|much)\b", re.I), {"CARDINAL", "QUANTITY", "MONEY", "PERCENT"}),
    (re.compile(r"^\s*(when|what year|in what year|which year)\b", re.I), {"DATE"}),
    (re.compile(r"^\s*where\b", re.I), {"GPE", "LOC", "FAC", "ORG"}),
    (re.compile(r"^\s*(who|whom|whose)\b", re.I), {"PERSON", "ORG"}),
    # the question names the kind itself, and the small pipeline tags rare place names as anything ("the Angara": a person)
    (re.compile(r"\b(which|what) (ocean|sea|river|lake|country|city|town|village|state|region|continent|island|mountain)\b",
                re.I), {"GPE", "LOC", "FAC", "ORG", "PERSON"}),
)
_ROLE_PAIRS = (("mother", "father"), ("wife", "husband"), ("daughter", "son"), ("sister", "brother"), ("aunt", "uncle"),
               ("niece", "nephew"), ("grandmother", "grandfather"), ("queen", "king"), ("widow", "widower"))
_OPPOSITE_ROLES = {**dict(_ROLE_PAIRS), **{b: a for a, b in _ROLE_PAIRS}}
_DATE_LIKE = re.compile(r"^[\d\s,./:-]+$|^(\d{1,2}\s+)?(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?(\s+\d{1,2},?)?"
                        r"(\s+\d{3,4})?$", re.I)
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


def _role_conflict(asked: Any, sent: Any) -> bool:
    """Whether the sentence names the opposite role of the one asked for and not the one asked: "His father,
    Robert Darwin, ..." does not answer "Who was the mother of Charles Darwin?"."""
    said = {t.lower_ for t in sent}
    return any(_OPPOSITE_ROLES.get(t.lower_, "") in said and t.lower_ not in said for t in asked)


def expected_labels(question: str) -> set[str] | None:
    """The spaCy entity labels an answer to ``question`` can have; None: any."""
    for pattern, labels in _KINDS:
        if pattern.search(question):
            return labels
    return None


def _spans(sent: Any, wanted: set[str] | None, names: set[str], refers: bool = False) -> list[tuple[str, int, int]]:
    """A sentence's candidate answers: its entities of the wanted kinds; for a question of no particular kind
    ("what did she discover?") also its noun phrases without their determiners. Never a linked name, nor a
    shorter or longer form of one, except a relative's name: where the sentence refers to the linked entity
    otherwise (``refers``: "His father, Robert Darwin, ..." about "Charles Robert Darwin"), a name of two words or
    more that drops the linked name's first word is somebody else's."""
    found = {(e.text, e.start_char, e.end_char) for e in sent.ents if wanted is None or e.label_ in wanted}
    if wanted == {"DATE"}:
        found = {x for x in found if _POINT_IN_TIME.search(x[0])}
    if wanted is not None and wanted & {"PERSON", "GPE"}:  # a name the small pipeline tags as nothing ("Lord Byron", "Irkutsk")
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

    full = [k.split() for k in keys if len(k.split()) > 1]

    def linked(span: str) -> bool:  # a linked entity under one of its names, or a longer or shorter form of one
        key = f" {link_key(span)} "
        if key in keys:
            return True
        if not any(k in key or key in k for k in keys):
            return False
        words = key.split()
        # a relative: "Robert Darwin" or "Jean-Joseph Pasteur" beside "his", for "Charles Robert Darwin", "Louis Pasteur"
        return not (refers and len(words) > 1 and full and all(k[0] != words[0] for k in full))

    return sorted((x for x in found if not linked(x[0])), key=lambda x: x[1])


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


class Reading(NamedTuple):
    """A sentence of a chunk as the text reader sees it."""

    sent: Any  # the spaCy sentence
    about: bool  # whether it is about a linked entity
    text: str  # how it reads with its references and name forms replaced by the linked name
    refers: bool  # whether it refers to a linked entity by a pronoun or description ("His father, ...")


def sentences_about(doc: Any, names: set[str], topic: bool = False) -> list[Reading]:
    """The sentences of a parsed chunk, each with whether it is about an entity of ``names`` (see the module
    docstring) and how it reads with its references replaced by what they refer to ("She was born in Smiljan" ->
    "Nikola Tesla was born in Smiljan", as extraction reads it) and its shorter or fuller forms of the linked name
    written as that name ("Darwin died" -> "Charles Darwin died"), which is what is compared with the question. A
    sentence is about a linked entity when it names one (a named entity or a run of proper nouns) or refers back to
    one. A sentence whose subject is a pronoun the resolver left alone (it resolves only names spaCy tags, and the
    small pipeline misses some: "Rosalind Elsie Franklin was ...") is about what the sentence before it is about, or
    what the chunk opens with (a document's title, or a chunk of a biography that starts "Franklin studied ..."),
    or, in a document about a linked entity (``topic``), about that entity; there a subject such as "The building"
    or "The lake" is too ("The building was opened by ..." in the Sydney Opera House's third paragraph)."""
    keys = mask_keys(names)
    linked = min(_things(names) or names, key=len) if names else ""
    refs = parsed_references(doc)
    # a surname alone is nobody in particular where a text about someone else also names another of that surname
    # ("Curie" in Marie Curie's page, asked about Jacques Curie; in Charles Darwin's own page, "Darwin" is he, his
    # father Robert Darwin notwithstanding), nor is the end of a double name ("Joliot-Curie")
    shared = set() if topic else {link_key(n.text).split()[-1] for n in _name_spans(doc)
                                  if len(link_key(n.text).split()) > 1 and not _form_of(n.text, keys)}  # fmt: skip

    def form(name: Any) -> bool:
        hyphened = name.start > 0 and name.doc[name.start - 1].text == "-" or name.end < len(name.doc) and name.doc[name.end].text == "-"
        single = len(link_key(name.text).split()) == 1
        return _form_of(name.text, keys) and not (single and (hyphened or link_key(name.text) in shared))

    out: list[Reading] = []
    for sent in doc.sents:
        inside = [r for r in refs if sent.start_char <= r.start < sent.end_char]
        # in a document about the entity, a sentence that opens with "It" or "Its" goes on about it, whatever the
        # resolver chose (the small pipeline tags "Taj Mahal" a person, so its "It was commissioned ..." became India)
        own = [r for r in inside if _same_thing(r.name, keys) or topic and r.start == sent.start_char and r.text.lower() in ("it", "its")]
        refers = bool(own)
        forms = [f for f in _name_spans(sent) if form(f)]
        about = any(n in sent.text for n in names) or bool(forms) or refers or any(
            _same_thing(f.text, keys) and (len(link_key(f.text).split()) > 1 or form(f)) for f in _name_spans(sent))
        replaced = [(r.start, r.end, linked + ("'s" if r.possessive else "") if r in own else r.replacement) for r in inside]
        taken = {i for r in inside for i in range(r.start, r.end)}
        replaced += [(f.start_char, f.end_char, linked) for f in forms if f.start_char not in taken]
        if not about and not inside and out and (out[-1].about or out[0].about):
            subjects = [t for t in sent if t.dep_ in ("nsubj", "nsubjpass") and t.lower_ in _PRONOUN_SUBJECTS]
            about = bool(subjects)
            replaced = [(t.idx, t.idx + len(t), linked) for t in subjects[:1]]
        if topic and not any(r.start <= t.idx < r.end for r in inside for t in sent if t.dep_ in ("nsubj", "nsubjpass")):
            # the document's own subject under a pronoun the resolver left alone or a description: "The lake was ..."
            subjects = [t for t in sent if t.dep_ in ("nsubj", "nsubjpass") and (t.lower_ in _PRONOUN_SUBJECTS or (
                t.lower_ in _TOPIC_NOUNS and t.i > sent.start and t.doc[t.i - 1].lower_ == "the"))]  # fmt: skip
            if subjects and not about:
                about, replaced = True, []
            replaced += [(t.idx if t.pos_ == "PRON" else t.doc[t.i - 1].idx, t.idx + len(t), linked) for t in subjects[:1]]
        text = doc.text
        reading = text[sent.start_char : sent.end_char]
        for start, end, name in sorted(set(replaced), reverse=True):
            reading = reading[: start - sent.start_char] + name + reading[end - sent.start_char :]
        out.append(Reading(sent, about, " ".join(reading.split()), refers))
    return out


def _things(names: set[str]) -> set[str]:
    """The names that are not dates or numbers ("2020" is linked when the graph has a fact dated 2020)."""
    return {n for n in names if not (_DATE_LIKE.match(n.strip()) and any(c.isdigit() for c in n))}


def _form_of(name: str, keys: Sequence[str]) -> bool:
    """Whether ``name`` is a linked name written shorter or fuller in a way that names the same one: a surname
    ("Darwin"), the first and last names ("Charles Darwin" for "Charles Robert Darwin"), a fuller form. Not a
    shorter form that drops the first name ("Robert Darwin" may be his father)."""
    words = link_key(name).split()
    if not words or not _same_thing(name, keys):
        return False
    return len(words) == 1 or any(k.split()[:1] == words[:1] for k in keys)


def _name_spans(sent: Any) -> list[Any]:
    """A sentence's names as spans: named entities and runs of proper nouns."""
    return [*(e for e in sent.ents if e.label_ not in _NOT_NAMES), *_proper_runs(sent)]


def topic_documents(rows: Sequence[dict[str, Any]], names: set[str], nlp: Any) -> set[str]:
    """The documents (ids) that are about a linked entity: their title is a form of its name ("charles_darwin.txt"),
    or their text opens with a sentence whose subject is it ("Mount Kilimanjaro is a dormant volcano ...")."""
    keys = mask_keys(names)

    def names_it(name: str) -> bool:  # a surname alone is not enough: "Curie" of "Marie Skłodowska-Curie" for Jacques
        return link_key(name) in keys or len(link_key(name).split()) > 1 and _form_of(name, keys)

    found: set[str] = set()
    for row in rows:
        if row["doc_id"] in found:
            continue
        title = str(row.get("title") or "")
        if title and names_it(title):
            found.add(row["doc_id"])
        elif not (row["start"] or 0) and row["text"]:
            first = next(iter(_parsed(nlp, row["text"]).sents), None)
            if first is None:
                continue
            subjects = [t.i for t in first if t.dep_ in ("nsubj", "nsubjpass", "ROOT") and t.pos_ == "PROPN"]
            if any(names_it(n.text) and any(n.start <= i < n.end for i in subjects) for n in _name_spans(first)):
                found.add(row["doc_id"])
    return found


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
    names = {e.text for e in doc.ents if e.label_ not in _NOT_NAMES}
    return names | {" ".join(t.text for t in run) for run in _proper_runs(doc)}


def content_stems(doc: Any, names: set[str]) -> list[str]:
    """The stems of a parsed question's content words (verbs, nouns, adjectives outside its names): what a sentence
    must say, in its own words, to answer a question no linked entity anchors ("When was the Prius discontinued?"
    is not answered by "In 1997 the company introduced the Prius", MiniLM-similar as they are)."""
    inside = {w for n in names for w in n.split()}
    return [_stem(t.text) for t in doc if t.pos_ in ("VERB", "NOUN", "ADJ") and t.text not in inside]


def content_verbs(doc: Any, names: set[str]) -> list[str]:
    """The stems of a parsed question's verbs that say what happened ("buried", "commissioned"), not the light
    ones ("become", "have")."""
    inside = {w for n in names for w in n.split()}
    return [_stem(t.text) for t in doc if t.pos_ == "VERB" and t.text not in inside and t.lower_ not in _LIGHT_VERBS]


def nearest_to_verb(sent: Any, spans: list[tuple[str, int, int]], verbs: Sequence[str]) -> list[tuple[str, int, int]]:
    """The candidate spans nearest, in the sentence's parse, to the word that says the question's verb: "Where was
    Louis Pasteur born?" in "He was born ... in Dole, in the Jura region of eastern France" is Dole (two arcs from
    "born"), not France (five). All of them where the sentence does not say the verb."""
    said = [t for t in sent if any(t.lower_.startswith(v) for v in verbs)]
    if not said or len(spans) < 2:
        return spans

    def arcs(a: Any, b: Any) -> int:
        up = {t.i: n for n, t in enumerate([a, *a.ancestors])}
        for n, t in enumerate([b, *b.ancestors]):
            if t.i in up:
                return up[t.i] + n
        return len(sent)

    def distance(span: tuple[str, int, int]) -> int:
        tokens = [t for t in sent if span[1] <= t.idx < span[2]]
        return min((arcs(t, v) for t in tokens for v in said), default=len(sent))

    best = min(distance(x) for x in spans)
    return [x for x in spans if distance(x) == best]


_CLAUSE_END = re.compile(r",|;| (to|and|but|who|which|where|while|although|because) ")


def main_clause(reading: str, verbs: Sequence[str]) -> str:
    """A sentence up to the end of the clause that says the question's verb, or of its first clause: "It was
    commissioned in 1631 by the Mughal emperor Shah Jahan" of "... to house the tomb of his favourite wife, Mumtaz
    Mahal"."""
    words = reading.split()
    at = next((i for i, w in enumerate(words) if any(w.lower().startswith(v) for v in verbs)), 0)
    head = " ".join(words[: at + 1])
    end = _CLAUSE_END.search(reading, len(head))
    return reading[: end.start()] if end else reading


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
    asked = nlp(question)
    if links:
        names = {n for lk in links for n in (lk.name, lk.mention) if n}
        rows = store.execute(*cypher.entity_document_chunks([lk.id for lk in links], MAX_CHUNKS)).records()
        names |= {a for r in rows for a in (r["aliases"] or [])}
    else:
        names, rows = text_names(asked), []
    needed = content_stems(asked, names | text_names(asked))
    verbs = content_verbs(asked, names | text_names(asked))
    rows += [r for r in nearest_chunks(question, store, embedder) if r["chunk_id"] not in {x["chunk_id"] for x in rows}]
    masks = mask_keys(_things(names))  # a date the question names is what it asks about, not who: left unmasked
    wanted = expected_labels(question)
    topics = topic_documents(rows, names, nlp) if links else set()
    # (the sentence, how it reads, the chunk's text up to it, its candidate spans as (text, start, end), row, whether it
    # says every content word of the question)
    options = []
    words = {w for n in names for w in n.split() if len(w) > 2 and w[:1].isupper()}  # "Newton" of "Isaac Newton"
    for row in rows:
        text = row["text"] or ""
        topic = row["doc_id"] in topics
        if names and not topic and not any(w in text for w in words):
            continue  # names no linked entity, not even in part: nothing in it is about one
        for sent, about, reading, refers in sentences_about(_parsed(nlp, text), names, topic):
            spans = _spans(sent, wanted, names, refers) if not _role_conflict(asked, sent) else []
            said = bool(needed) and says(sent, needed)
            verb_said = says(sent, verbs)
            if not links and not said:
                spans = []
            # in a document about the entity, a sentence that says what was asked is about it ("... were the first
            # people known to reach the summit, on 6 October 1889" in Mount Kilimanjaro's page)
            if (about or not names or topic and said) and spans:
                options.append((" ".join(sent.text.split()), reading, text[: sent.end_char], spans, row, said, verb_said, sent))
    if not options:
        return None
    readings = [masked(o[1], masks) for o in options]
    cores = [masked(main_clause(o[1], verbs), masks) for o in options]
    vectors = embedder.encode([masked(question, masks), *readings, *cores])
    # a long sentence's similarity is drowned by what it says besides: its main clause is compared too
    sims = np.maximum(vectors[1 : len(options) + 1] @ vectors[0], vectors[len(options) + 1 :] @ vectors[0])
    def floor(option: tuple[Any, ...]) -> float:
        said, verb_said = option[5], option[6]
        return MIN_SAID_SIMILARITY if said else MIN_SENTENCE_SIMILARITY if verb_said else MIN_OTHER_VERB_SIMILARITY

    for i, o in enumerate(options):
        log.debug("text reader: %.3f (floor %.2f) %s | %s", sims[i], floor(o), question, o[1])
    passing = [i for i in range(len(options)) if sims[i] >= floor(options[i])]
    if not passing:
        return None
    best = max(passing, key=lambda i: float(sims[i]))
    sentence, _, before, spans, row, _, _, sent = options[best]
    spans = nearest_to_verb(sent, spans, verbs)
    context = f"{' '.join(before.split()[-80:])}\nQuestion: {' '.join(question.split())}\nAnswer:"
    scores = decoder.logprob([context] * len(spans), [f" {text}" for text, _, _ in spans])
    text, start, end = spans[max(range(len(spans)), key=lambda i: scores[i])]
    offset = row["start"] or 0
    return TextAnswer(text, sentence, row["chunk_id"], row["doc_id"], row["path"] or "", offset + start, offset + end,
                      float(sims[best]))  # fmt: skip
