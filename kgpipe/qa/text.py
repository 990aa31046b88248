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
_POSSESSIVES = frozenset({"his", "her", "its", "their"})
_NOT_NAMES = frozenset({"DATE", "CARDINAL", "ORDINAL", "QUANTITY"})  # entity labels that are values, not names
_NAMING_WORDS = frozenset({"name", "call"})  # "What was the name of ...?" asks for a name; no sentence need say it
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
_DIRECTION = re.compile(r"^(north|south|east|west)(-?(east|west))?(ern|ward|wards)?$")
_LOCATING_VERBS = frozenset({"be", "lie", "stand", "sit", "locate", "situate"})
_LOCATIVE = frozenset({"in", "on", "at", "near", "beside", "along", "off", "inside"})
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


def _names_role(asked: Any, sent: Any) -> bool:
    """Whether the sentence names the relative the question asks about, or the opposite role: "he briefly worked
    for Thomas Edison in New York City", about Tesla, says nothing of "the father of Nikola Tesla"."""
    roles = {t.lower_ for t in asked if t.lower_ in _OPPOSITE_ROLES}
    return not roles or any(t.lower_ in roles or _OPPOSITE_ROLES.get(t.lower_) in roles for t in sent)


def _converse(asked: Any, sent: Any, keys: Sequence[str]) -> set[int]:
    """The tokens that name the one asked for where the sentence names the linked entity by the opposite role:
    "Lisa Gherardini, the wife of ... Francesco del Giocondo" answers "Who was the husband of Lisa Gherardini?"
    with the words under "wife"; none where the opposite role is somebody else's ("His father, ...")."""
    opposite = {_OPPOSITE_ROLES[t.lower_] for t in asked if t.lower_ in _OPPOSITE_ROLES}

    def linked(token: Any) -> bool:
        if token.lower_ in _PRONOUN_SUBJECTS:
            return True
        span = next((n for n in _name_spans(sent) if n.start <= token.i < n.end), None)
        return span is not None and _same_thing(span.text, keys)

    for role in sent:
        if role.lower_ in opposite and (role.dep_ == "appos" and linked(role.head) or role.dep_ == "attr" and any(
                c.dep_ in ("nsubj", "nsubjpass") and linked(c) for c in role.head.children)):  # fmt: skip
            return {t.i for t in role.subtree} - {role.i}
    return set()


def _locates(sent: Any) -> set[int]:
    """The tokens that say where the sentence's subject is: "Mount Fuji is an active volcano on the island of
    Honshu", "Edinburgh lies on the shore of the Firth of Forth" (the words under "on"); none where its main verb
    says something else."""
    root = sent.root
    if root.lemma_ not in _LOCATING_VERBS or not any(c.dep_ in ("nsubj", "nsubjpass") for c in root.children):
        return set()
    heads = [root, *(c for c in root.children if c.dep_ in ("attr", "acomp"))]
    return {d.i for h in heads for c in h.children if c.dep_ == "prep" and c.lower_ in _LOCATIVE for d in c.subtree}


def expected_labels(question: str) -> set[str] | None:
    """The spaCy entity labels an answer to ``question`` can have; None: any."""
    for pattern, labels in _KINDS:
        if pattern.search(question):
            return labels
    return None


def _spans(sent: Any, wanted: set[str] | None, names: set[str], refers: bool = False,
           asked: Sequence["Word"] = (), where: bool = False) -> list[tuple[str, int, int]]:  # fmt: skip
    """A sentence's candidate answers: its entities of the wanted kinds; for a question of no particular kind
    ("what did she discover?") also its noun phrases without their determiners. Never a linked name, nor a
    shorter or longer form of one, except a relative's name: where the sentence refers to the linked entity
    otherwise (``refers``: "His father, Robert Darwin, ..." about "Charles Robert Darwin"), a name of two words or
    more that drops the linked name's first word is somebody else's. Nor, for a question that asks where something
    is (``where``), a landmark it is measured from ("100 kilometres south-west of Tokyo"); nor a common noun phrase
    headed by a word of the question (``asked``: "the Spanish manufacturer" for "Which manufacturer joined ...?")."""
    found = {(e.text, e.start_char, e.end_char) for e in sent.ents if wanted is None or e.label_ in wanted}
    if wanted == {"DATE"}:
        found = {x for x in found if _POINT_IN_TIME.search(x[0])}
    if wanted is not None and wanted & {"PERSON", "GPE"}:  # a name the small pipeline tags as nothing ("Lord Byron", "Irkutsk")
        for run in _proper_runs(sent):
            inside = [e for e in sent.ents if e.start < run.end and run.start < e.end]
            if not inside:
                found.add((run.text, run.start_char, run.end_char))
            elif len(inside) == 1 and run.start <= inside[0].start and inside[0].end <= run.end:
                # a name tagged in part is the whole name: "Maida" of "Maida Vale", "Ahmad Lahauri" of "Ustad Ahmad Lahauri"
                part = inside[0]
                if (part.text, part.start_char, part.end_char) in found:
                    found.discard((part.text, part.start_char, part.end_char))
                    found.add((run.text, run.start_char, run.end_char))
    if where:
        found = {x for x in found if not any(t.idx == x[1] and t.head.lower_ == "of" and _DIRECTION.match(t.head.head.lower_)
                                            for t in sent)}  # fmt: skip
    if wanted is None:
        for chunk in sent.noun_chunks:
            words = [t for t in chunk if t.pos_ not in ("DET", "PRON")]
            if words:
                found.add((chunk.doc.text[words[0].idx : words[-1].idx + len(words[-1])], words[0].idx,
                           words[-1].idx + len(words[-1])))  # fmt: skip
    if asked:
        found = {x for x in found if not _restates(sent.doc.char_span(x[1], x[2], alignment_mode="expand"), asked)}
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


def _restates(span: Any, asked: Sequence["Word"]) -> bool:
    """Whether a candidate span is a common noun phrase headed by a word of the question: a description of what is
    asked for ("Spanish manufacturer", "ship"), not its name."""
    return span is not None and len(span) > 0 and not any(t.pos_ == "PROPN" for t in span) and any(
        _said_by(span[-1], w) for w in asked)


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


def sentences_about(doc: Any, names: set[str], topic: str = "") -> list[Reading]:
    """The sentences of a parsed chunk, each with whether it is about an entity of ``names`` (see the module
    docstring) and how it reads with its references replaced by what they refer to ("She was born in Smiljan" ->
    "Nikola Tesla was born in Smiljan", as extraction reads it) and its shorter or fuller forms of a linked name
    written as that name ("Darwin died" -> "Charles Darwin died"), which is what is compared with the question. A
    sentence is about a linked entity when it names one (a named entity or a run of proper nouns) or refers back to
    one. A sentence whose subject is a pronoun the resolver left alone (it resolves only names spaCy tags, and the
    small pipeline misses some: "Rosalind Elsie Franklin was ...") is about what the sentence before it is about, or
    what the chunk opens with (a document's title, or a chunk of a biography that starts "Franklin studied ..."),
    or, in a document about a linked entity (``topic``: its name), about that entity; there a subject such as "The
    building" or "The lake", and an opening "Its", are too ("The building was opened by ..." in the Sydney Opera
    House's third paragraph, "Its last eruption began ..." in Mount Fuji's)."""
    keys = mask_keys(names)
    things = sorted(_things(names) or names, key=lambda n: (len(n), n.islower()))
    last = topic or (things[0] if things else "")  # who a pronoun the resolver left alone is, until a sentence says
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
    for sent in reader_sentences(doc):
        inside = [r for r in refs if sent.start_char <= r.start < sent.end_char]
        opening = sent[0] if sent[0].lower_ in ("it", "its") else None
        # in a document about the entity, a sentence that opens with "It" or "Its" goes on about it, whatever the
        # resolver chose (the small pipeline tags "Taj Mahal" a person, so its "It was commissioned ..." became India)
        own = [r for r in inside if _same_thing(r.name, keys) or topic and r.start == sent.start_char and r.text.lower() in ("it", "its")]
        refers = bool(own)
        forms = [f for f in _name_spans(sent) if form(f)]
        about = any(n in sent.text for n in names) or bool(forms) or refers or any(
            _same_thing(f.text, keys) and (len(link_key(f.text).split()) > 1 or form(f)) for f in _name_spans(sent))
        replaced = [(r.start, r.end, _linked_name(r.name, things, topic or last) + ("'s" if r.possessive else "")
                     if r in own else r.replacement) for r in inside]  # fmt: skip
        taken = {i for r in inside for i in range(r.start, r.end)}
        replaced += [(f.start_char, f.end_char, _linked_name(f.text, things, last)) for f in forms if f.start_char not in taken]
        if not about and not own and out and (out[-1].about or out[0].about):
            # "He ..." or "His ship, ..." right after a sentence about the entity: still about it
            subjects = [t for t in sent if t.idx not in taken and (t.dep_ in ("nsubj", "nsubjpass") and t.lower_ in
                        _PRONOUN_SUBJECTS or t.dep_ == "poss" and t.lower_ in _POSSESSIVES and t.head.dep_ in ("nsubj", "nsubjpass"))]  # fmt: skip
            about = bool(subjects)
            replaced = [(t.idx, t.idx + len(t), last + ("'s" if t.dep_ == "poss" else "")) for t in subjects[:1]]
        if topic and not any(r.start <= t.idx < r.end for r in inside for t in sent if t.dep_ in ("nsubj", "nsubjpass")):
            # the document's own subject under a pronoun the resolver left alone or a description: "The lake was ..."
            subjects = [t for t in sent if t.dep_ in ("nsubj", "nsubjpass") and (t.lower_ in _PRONOUN_SUBJECTS or (
                t.lower_ in _TOPIC_NOUNS and t.i > sent.start and t.doc[t.i - 1].lower_ == "the"))]  # fmt: skip
            if opening is not None and not any(r.start == opening.idx for r in inside):
                subjects = [opening]
            if subjects and not about:
                about, replaced = True, []
            replaced += [(t.idx if t.pos_ == "PRON" or t is opening else t.doc[t.i - 1].idx, t.idx + len(t),
                          topic + ("'s" if t.lower_ == "its" else "")) for t in subjects[:1]]  # fmt: skip
        said = [name for start, _, name in sorted(replaced) if name in things]
        last = said[0] if said else last
        text = doc.text
        reading = text[sent.start_char : sent.end_char]
        for start, end, name in _apart(replaced):
            reading = reading[: start - sent.start_char] + name + reading[end - sent.start_char :]
        out.append(Reading(sent, about, " ".join(reading.split()), refers))
    return out


def _linked_name(name: str, things: Sequence[str], default: str) -> str:
    """The linked name ``name`` is a form of (the shortest such), else ``default``."""
    return next((t for t in things if _same_thing(name, mask_keys({t}))), default)


def _apart(replaced: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Replacements that overlap none kept before them (the longest first where two start together), last first."""
    kept: list[tuple[int, int, str]] = []
    for start, end, name in sorted(set(replaced), key=lambda x: (x[0], x[0] - x[1])):
        if not kept or start >= kept[-1][1]:
            kept.append((start, end, name))
    return kept[::-1]


_ENDS_SENTENCE = re.compile(r"""([.!?:;"'”’)\]]|\n)\s*$""")


def reader_sentences(doc: Any) -> list[Any]:
    """A parsed text's sentences, each running on to the next where the pipeline ended one with no stop nor line
    break ("Mount Fuji was added to the list of UNESCO | World Heritage Sites in 2013")."""
    out: list[Any] = []
    start = None
    for sent in doc.sents:
        start = sent.start if start is None else start
        if _ENDS_SENTENCE.search(sent.text_with_ws) or doc.text[sent.end_char : sent.end_char + 1] == "\n" or sent.end == len(doc):
            out.append(doc[start : sent.end])
            start = None
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


def topic_documents(rows: Sequence[dict[str, Any]], names: set[str], nlp: Any) -> dict[str, str]:
    """The documents (ids) that are about a linked entity, with its name: their title is a form of the name
    ("charles_darwin.txt"), or their text opens with a sentence whose subject is it ("Mount Kilimanjaro is a dormant
    volcano ...")."""
    keys = mask_keys(names)
    things = sorted(_things(names) or names, key=lambda n: (len(n), n.islower()))

    def names_it(name: str) -> bool:  # a surname alone is not enough: "Curie" of "Marie Skłodowska-Curie" for Jacques
        return link_key(name) in keys or len(link_key(name).split()) > 1 and _form_of(name, keys)

    found: dict[str, str] = {}
    for row in rows:
        if row["doc_id"] in found:
            continue
        title = str(row.get("title") or "")
        if title and names_it(title):
            found[row["doc_id"]] = _linked_name(title, things, things[0] if things else title)
        elif not (row["start"] or 0) and row["text"]:
            first = next(iter(_parsed(nlp, row["text"]).sents), None)
            if first is None:
                continue
            subjects = [t.i for t in first if t.dep_ in ("nsubj", "nsubjpass", "ROOT") and t.pos_ == "PROPN"]
            named = [n for n in _name_spans(first) if names_it(n.text) and any(n.start <= i < n.end for i in subjects)]
            if named:
                found[row["doc_id"]] = _linked_name(named[0].text, things, named[0].text)
    return found


def _proper_runs(doc: Any) -> list[Any]:
    """The runs of proper nouns of a parsed text (or sentence), as spans; a line break inside a name does not end it
    ("Maida\nVale" of hard-wrapped text), a blank line does."""
    tokens = list(doc)
    runs, start = [], None
    for n, token in enumerate([*tokens, None]):
        wrapped = token is not None and token.pos_ == "SPACE" and "\n\n" not in token.text and n + 1 < len(tokens) \
            and tokens[n + 1].pos_ == "PROPN"  # fmt: skip
        if token is not None and (token.pos_ == "PROPN" or wrapped and start is not None):
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


class Word(NamedTuple):
    """A content word of the question as a sentence may say it: by a word its stem begins ("died" for "die") or a
    word of the same lemma ("grew" for "grow", "began" for "begin")."""

    stem: str
    lemma: str

    @classmethod
    def of(cls, token: Any) -> "Word":
        return cls(_stem(token.text), token.lemma_.lower())


def _said_by(token: Any, word: "Word | str") -> bool:
    """Whether ``token`` says ``word`` (a ``Word``, or a bare stem)."""
    if isinstance(word, str):
        return token.lower_.startswith(word)
    return token.lower_.startswith(word.stem) or bool(word.lemma) and token.lemma_.lower() == word.lemma


def _content(doc: Any, names: set[str], pos: Sequence[str]) -> list[Any]:
    """A parsed question's words of the parts of speech ``pos`` outside its names, less the words that only say an
    answer is a name ("What was the name of his ship?", "What was the city called?")."""
    inside = {w for n in names for w in n.split()}
    return [t for t in doc if t.pos_ in pos and t.text not in inside and t.lemma_.lower() not in _NAMING_WORDS]


def content_stems(doc: Any, names: set[str]) -> list[Word]:
    """A parsed question's content words (verbs, nouns, adjectives outside its names): what a sentence must say, in
    its own words, to answer a question no linked entity anchors ("When was the Prius discontinued?" is not answered
    by "In 1997 the company introduced the Prius", MiniLM-similar as they are)."""
    return [Word.of(t) for t in _content(doc, names, ("VERB", "NOUN", "ADJ"))]


def content_verbs(doc: Any, names: set[str]) -> list[Word]:
    """A parsed question's verbs that say what happened ("buried", "commissioned"), not the light ones ("become",
    "have")."""
    return [Word.of(t) for t in _content(doc, names, ("VERB",)) if t.lower_ not in _LIGHT_VERBS]


def content_nouns(doc: Any, names: set[str]) -> list[Word]:
    """A parsed question's nouns that say what is asked about ("headquarters" in "Where are the headquarters of
    Airbus?"), not the one that says what kind of answer it wants ("Which city ..."), for questions with no verb."""
    return [Word.of(t) for t in _content(doc, names, ("NOUN",))
            if not any(c.lower_ in ("which", "what", "whose") for c in t.children)]  # fmt: skip


def nearest_to_verb(sent: Any, spans: list[tuple[str, int, int]], verbs: Sequence["Word | str"]) -> list[tuple[str, int, int]]:
    """The candidate spans nearest, in the sentence's parse, to the word that says the question's verb (or, for a
    question without one, its noun: "headquarters"): first those of the same clause ("born ... in Kilkea, County
    Kildare, and his family moved to London": Kilkea, not London, however the parser hung "in Kilkea"), then the
    fewest arcs away ("born ... in Dole, in the Jura region of eastern France": Dole, not France). All of them where
    the sentence does not say the word."""
    said = [t for t in sent if any(_said_by(t, v) for v in verbs)]
    if not said or len(spans) < 2:
        return spans

    def arcs(a: Any, b: Any) -> int:
        up = {t.i: n for n, t in enumerate([a, *a.ancestors])}
        for n, t in enumerate([b, *b.ancestors]):
            if t.i in up:
                return up[t.i] + n
        return len(sent)

    def distance(span: tuple[str, int, int]) -> tuple[int, int]:
        tokens = [t for t in sent if span[1] <= t.idx < span[2]]
        return min(((_clause(t) != _clause(v), arcs(t, v)) for t in tokens for v in said), default=(1, len(sent)))

    best = min(distance(x) for x in spans)
    return [x for x in spans if distance(x) == best]


def asks_subject(asked: Any) -> bool:
    """Whether a parsed question asks for the doer of its verb: "Who invited ...?", "Which manufacturer joined ...?"."""
    return any(t.tag_ in ("WP", "WDT") and (t.dep_ == "nsubj" or t.dep_ == "det" and t.head.dep_ == "nsubj") for t in asked)


def the_doers(sent: Any, spans: list[tuple[str, int, int]], verbs: Sequence["Word | str"]) -> list[tuple[str, int, int]]:
    """The candidate spans that are, or are part of, the subject of a word that says the question's verb ("The
    Spanish manufacturer CASA joined the consortium": CASA, not the consortium); all of them where none is."""
    subjects = {d.i for t in sent if t.pos_ == "VERB" and any(_said_by(t, v) for v in verbs)
                for c in t.children if c.dep_ == "nsubj" for d in c.subtree}  # fmt: skip
    doers = [x for x in spans if any(t.i in subjects for t in sent if x[1] <= t.idx < x[2])]
    return doers or spans


def _clause(token: Any) -> int:
    """The index of the verb whose clause ``token`` is in: the nearest verb at or above it, else the root."""
    for t in [token, *token.ancestors]:
        if t.pos_ in ("VERB", "AUX") or t.dep_ == "ROOT":
            return int(t.i)
    return int(token.i)


_CLAUSE_END = re.compile(r",|;| (to|and|but|who|which|where|while|although|because) ")


def main_clause(reading: str, verbs: Sequence[str]) -> str:  # verbs: the forms the sentence says them in, or stems
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


def says(sent: Any, words: Sequence["Word | str"]) -> bool:
    """Whether ``sent`` says every word ("born" in "was born in", "die" in "died", "grow" in "grew up")."""
    return all(any(_said_by(t, w) for t in sent) for w in words)


def _within(sent: Any, spans: list[tuple[str, int, int]], tokens: set[int]) -> list[tuple[str, int, int]]:
    """The spans that start at one of ``tokens`` (indices in the sentence's document)."""
    return [x for x in spans if any(t.i in tokens for t in sent if t.idx == x[1])]


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


_RELATIVE_PRONOUNS = frozenset({"who", "which", "that"})


def verb_clause(sent: Any, verbs: Sequence["Word | str"]) -> str:
    """The clause of a sentence's word that says a question verb, where it is not the sentence's own main verb: the
    words under it, a relative pronoun read as what it stands for ("G. H. Hardy, who invited him to England" ->
    "G. H. Hardy invited him to England"); "" where no such word is."""
    verb = next((t for t in sent if t.pos_ == "VERB" and any(_said_by(t, v) for v in verbs)), None)
    if verb is None or verb.dep_ == "ROOT":
        return ""
    words = [t for t in verb.subtree if not (t.lower_ in _RELATIVE_PRONOUNS and t.dep_ in ("nsubj", "nsubjpass"))]
    said = " ".join(t.text for t in words)
    if verb.dep_ == "relcl":
        head = verb.head
        name = next((e.text for e in sent.ents if e.start <= head.i < e.end), head.text)
        said = f"{name} {said}"
    return said


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
    nouns = [Word.of(t) for t in _content(asked, names | text_names(asked), ("NOUN",))]
    anchors = verbs or content_nouns(asked, names | text_names(asked))  # what the answer should stand beside
    where = bool(re.match(r"\s*where\b", question, re.I))
    rows += [r for r in nearest_chunks(question, store, embedder) if r["chunk_id"] not in {x["chunk_id"] for x in rows}]
    masks = mask_keys(_things(names))  # a date the question names is what it asks about, not who: left unmasked
    keys = mask_keys(names)
    wanted = expected_labels(question)
    topics = topic_documents(rows, names, nlp) if links else {}
    options: list[_Option] = []
    words = {w for n in names for w in n.split() if len(w) > 2 and w[:1].isupper()}  # "Newton" of "Isaac Newton"
    for row in rows:
        text = row["text"] or ""
        topic = topics.get(row["doc_id"], "")
        if names and not topic and not any(w in text for w in words):
            continue  # names no linked entity, not even in part: nothing in it is about one
        for sent, about, reading, refers in sentences_about(_parsed(nlp, text), names, topic):
            spans = _spans(sent, wanted, names, refers, nouns, where) if _names_role(asked, sent) else []
            if _role_conflict(asked, sent):  # the opposite role: only the one it is the opposite role of
                spans = _within(sent, spans, _converse(asked, sent, keys))
            said = bool(needed) and says(sent, needed)
            if where and not needed and about:  # "Where is X?": a sentence that says where it is says all it asks
                located = _within(sent, spans, _locates(sent))
                spans, said = located or spans, bool(located)
            verb_said = says(sent, verbs)
            if not links and not said:
                spans = []
            # in a document about the entity, a sentence that says what was asked is about it ("... were the first
            # people known to reach the summit, on 6 October 1889" in Mount Kilimanjaro's page)
            if (about or not names or topic and said) and spans:
                options.append(_Option(" ".join(sent.text.split()), reading, text[: sent.end_char], spans, row, said,
                                       verb_said, sent))  # fmt: skip
    if not options:
        return None
    # a long sentence's similarity is drowned by what it says besides: its main clause is compared too, and the
    # clause of the word that says the asked verb ("G. H. Hardy invited him to England" of "In 1913 he wrote to the
    # Cambridge mathematician G. H. Hardy, who invited him to England")
    forms = [[t.lower_ for t in o.sent if any(_said_by(t, v) for v in verbs)] for o in options]
    readings = [masked(o.reading, masks) for o in options]
    cores = [masked(main_clause(o.reading, f or verbs), masks) for o, f in zip(options, forms)]
    clauses = [masked(verb_clause(o.sent, verbs) or o.reading, masks) for o in options]
    vectors = embedder.encode([masked(question, masks), *readings, *cores, *clauses])
    n = len(options)
    sims = np.max(np.stack([vectors[1 + k * n : 1 + (k + 1) * n] @ vectors[0] for k in range(3)]), axis=0)

    def floor(option: _Option) -> float:
        return MIN_SAID_SIMILARITY if option.said else MIN_SENTENCE_SIMILARITY if option.verb_said else MIN_OTHER_VERB_SIMILARITY

    for i, o in enumerate(options):
        log.debug("text reader: %.3f (floor %.2f) %s | %s", sims[i], floor(o), question, o.reading)
    passing = [i for i in range(n) if sims[i] >= floor(options[i])]
    if not passing:
        return None
    # a sentence that says the asked verb answers before a paraphrase that does not, however similar ("CASA joined
    # the consortium in 1971" before "Airbus was formed in 1970 as a consortium of French and German aircraft
    # makers", for "Which manufacturer joined Airbus in 1971?"), and one that says every content word of the
    # question before one that does not ("His ship, the Endurance, ..." for "What was the name of his ship?")
    best = max(passing, key=lambda i: (options[i].verb_said, options[i].said, float(sims[i])))
    sentence, _, before, spans, row, _, _, sent = options[best]
    if verbs and asks_subject(asked):
        spans = the_doers(sent, spans, verbs)
    spans = nearest_to_verb(sent, spans, anchors)
    context = f"{' '.join(before.split()[-80:])}\nQuestion: {' '.join(question.split())}\nAnswer:"
    scores = decoder.logprob([context] * len(spans), [f" {text}" for text, _, _ in spans])
    text, start, end = spans[max(range(len(spans)), key=lambda i: scores[i])]
    offset = row["start"] or 0
    return TextAnswer(text, sentence, row["chunk_id"], row["doc_id"], row["path"] or "", offset + start, offset + end,
                      float(sims[best]))  # fmt: skip
