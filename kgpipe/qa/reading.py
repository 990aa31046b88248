"""How the text reader (``kgpipe.qa.text``) reads a chunk: its sentences, which of them are about the linked
entities, and how each reads with its references and name forms replaced by the linked name it stands for."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, NamedTuple, Sequence

from ..fusion.names import CORPORATE_SUFFIXES, PERSON_SUFFIXES
from ..references import parsed_references
from .link import link_key, mask_keys

PRONOUN_SUBJECTS = frozenset({"he", "she", "it", "they"})
_POSSESSIVES = frozenset({"his", "her", "its", "their"})
PLACE_LABELS = frozenset({"GPE", "LOC"})  # the entity labels of places
_NOT_NAMES = frozenset({"DATE", "CARDINAL", "ORDINAL", "QUANTITY"})  # entity labels that are values, not names
# what a document's own subject is called in its later sentences ("The building was opened by ...")
_TOPIC_NOUNS = frozenset("""company corporation firm business manufacturer university college school institute city town
    village country state region river lake sea mountain volcano island valley park building monument mausoleum
    tower bridge palace castle cathedral church temple museum stadium station ship band team club book novel film
    album painting""".split())  # fmt: skip
# the last words of a fuller name that still names the same thing ("Apple Inc.", "the Lego Group", "Martin Luther King Jr.")
_SAME_THING_ENDINGS = CORPORATE_SUFFIXES | PERSON_SUFFIXES | {"company", "group", "jr", "sr"}
_DATE_LIKE = re.compile(r"^[\d\s,./:-]+$|^(\d{1,2}\s+)?(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?(\s+\d{1,2},?)?"
                        r"(\s+\d{3,4})?$", re.I)


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
    things = sorted(thing_names(names) or names, key=lambda n: (len(n), n.islower()))
    last = topic or (things[0] if things else "")  # who a pronoun the resolver left alone is, until a sentence says
    refs = parsed_references(doc)
    # a surname alone is nobody in particular where a text about someone else also names another of that surname
    # ("Curie" in Marie Curie's page, asked about Jacques Curie; in Charles Darwin's own page, "Darwin" is he, his
    # father Robert Darwin notwithstanding), nor is the end of a double name ("Joliot-Curie")
    shared = set() if topic else {link_key(n.text).split()[-1] for n in name_spans(doc)
                                  if len(link_key(n.text).split()) > 1 and not form_of(n.text, keys)}  # fmt: skip

    def form(name: Any) -> bool:
        hyphened = name.start > 0 and name.doc[name.start - 1].text == "-" or name.end < len(name.doc) and name.doc[name.end].text == "-"
        single = len(link_key(name.text).split()) == 1
        return form_of(name.text, keys) and not (single and (hyphened or link_key(name.text) in shared)) \
            and not named_after(name.text, keys, name.label_ in PLACE_LABELS)  # fmt: skip

    out: list[Reading] = []
    for sent in reader_sentences(doc):
        inside = [r for r in refs if sent.start_char <= r.start < sent.end_char]
        opening = sent[0] if sent[0].lower_ in ("it", "its") else None
        # in a document about the entity, a sentence that opens with "It" or "Its" goes on about it, whatever the
        # resolver chose (the small pipeline tags "Taj Mahal" a person, so its "It was commissioned ..." became India)
        own = [r for r in inside if same_thing(r.name, keys) or topic and r.start == sent.start_char and r.text.lower() in ("it", "its")]
        refers = bool(own)
        forms = [f for f in name_spans(sent) if form(f)]
        about = any(n in sent.text for n in names) or bool(forms) or refers or any(
            same_thing(f.text, keys) and (len(link_key(f.text).split()) > 1 or form(f)) for f in name_spans(sent))
        replaced = [(r.start, r.end, _linked_name(r.name, things, topic or last) + ("'s" if r.possessive else "")
                     if r in own else r.replacement) for r in inside]  # fmt: skip
        taken = {i for r in inside for i in range(r.start, r.end)}
        replaced += [(f.start_char, f.end_char, _linked_name(f.text, things, last)) for f in forms if f.start_char not in taken]
        if not about and not own and out and (out[-1].about or out[0].about):
            # "He ..." or "His ship, ..." right after a sentence about the entity: still about it
            subjects = [t for t in sent if t.idx not in taken and (t.dep_ in ("nsubj", "nsubjpass") and t.lower_ in
                        PRONOUN_SUBJECTS or t.dep_ == "poss" and t.lower_ in _POSSESSIVES and t.head.dep_ in ("nsubj", "nsubjpass"))]  # fmt: skip
            about = bool(subjects)
            replaced = [(t.idx, t.idx + len(t), last + ("'s" if t.dep_ == "poss" else "")) for t in subjects[:1]]
        if topic and not any(r.start <= t.idx < r.end for r in inside for t in sent if t.dep_ in ("nsubj", "nsubjpass")):
            # the document's own subject under a pronoun the resolver left alone or a description: "The lake was ..."
            subjects = [t for t in sent if t.dep_ in ("nsubj", "nsubjpass") and (t.lower_ in PRONOUN_SUBJECTS or (
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
    return next((t for t in things if same_thing(name, mask_keys({t}))), default)


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


def thing_names(names: set[str]) -> set[str]:
    """The names that are not dates or numbers ("2020" is linked when the graph has a fact dated 2020)."""
    return {n for n in names if not (_DATE_LIKE.match(n.strip()) and any(c.isdigit() for c in n))}


def form_of(name: str, keys: Sequence[str]) -> bool:
    """Whether ``name`` is a linked name written shorter or fuller in a way that names the same one: a surname
    ("Darwin"), the first and last names ("Charles Darwin" for "Charles Robert Darwin"), a fuller form. Not a
    shorter form that drops the first name ("Robert Darwin" may be his father)."""
    words = link_key(name).split()
    if not words or not same_thing(name, keys):
        return False
    return len(words) == 1 or any(k.split()[:1] == words[:1] for k in keys)


def named_after(name: str, keys: Sequence[str], place: bool = False) -> bool:
    """Whether ``name``, though a fuller or shorter form of a linked name, names another thing: one named after it,
    the linked name then more words ("the Panama Canal Authority" of "Panama Canal"; not a legal form: "Apple Inc.",
    "Toyota Motor Corporation", "the Lego Group"), or a place (``place``: tagged one) that its first word names
    ("Florence" of "Florence Nightingale", "Panama" of "Panama Canal")."""
    key = link_key(name).removeprefix("the ")
    keys = [k.removeprefix("the ") for k in keys]
    words = key.split()
    if not words:
        return False
    longer = [k for k in keys if f" {k} " in f" {key} " and k != key]
    shorter = [k for k in keys if f" {key} " in f" {k} " and k != key]
    if longer and not shorter:
        return all(key.startswith(f"{k} ") for k in longer) and words[-1] not in _SAME_THING_ENDINGS
    return place and bool(shorter) and all(k.split()[0] == key for k in shorter)


def same_thing(name: str, keys: Sequence[str]) -> bool:
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


def name_spans(sent: Any) -> list[Any]:
    """A sentence's names as spans: named entities and runs of proper nouns."""
    return [*(e for e in sent.ents if e.label_ not in _NOT_NAMES), *proper_runs(sent)]


def topic_documents(rows: Sequence[dict[str, Any]], names: set[str], nlp: Any, asked: set[str] = frozenset()) -> dict[str, str]:
    """The documents (ids) that are about a linked entity, with its name: their title is a form of the name
    ("charles_darwin.txt"), or their text opens with a sentence whose subject is it ("Mount Kilimanjaro is a dormant
    volcano ..."). A one-word name the question itself uses (``asked``) also names a short fuller one ("Ajax" for a
    page titled "AFC Ajax", "Lego" for one that opens "The Lego Group is ...")."""
    keys = mask_keys(names)
    things = sorted(thing_names(names) or names, key=lambda n: (len(n), n.islower()))
    single = {link_key(n) for n in asked if len(link_key(n).split()) == 1}

    def names_it(name: str) -> bool:  # a surname alone is not enough: "Curie" of "Marie Skłodowska-Curie" for Jacques
        words = link_key(name).split()
        return link_key(name) in keys or len(words) > 1 and form_of(name, keys) or len(words) <= 3 and bool(single & set(words))

    found: dict[str, str] = {}
    for row in rows:
        if row["doc_id"] in found:
            continue
        title = str(row.get("title") or "")
        if title and names_it(title):
            found[row["doc_id"]] = _linked_name(title, things, _word_of(title, things, single) or (things[0] if things else title))
        elif not (row["start"] or 0) and row["text"]:
            first = next(iter(parsed(nlp, row["text"]).sents), None)
            if first is None:
                continue
            subjects = [t.i for t in first if t.dep_ in ("nsubj", "nsubjpass", "ROOT") and t.pos_ == "PROPN"]
            named = [n for n in name_spans(first) if names_it(n.text) and any(n.start <= i < n.end for i in subjects)]
            if named:
                found[row["doc_id"]] = _linked_name(named[0].text, things, named[0].text)
    return found


def _word_of(title: str, things: Sequence[str], single: set[str]) -> str:
    """The one-word name the question uses that a title says ("Nightingale" of "Florence Nightingale"), else ""."""
    words = set(link_key(title).split())
    return next((t for t in things if link_key(t) in single and link_key(t) in words), "")


def proper_runs(doc: Any) -> list[Any]:
    """The runs of proper nouns of a parsed text (or sentence), as spans; a line break inside a name does not end it
    ("Maida\nVale" of hard-wrapped text), a blank line does; nor does a possessive the tagger reads as part of a
    name ("St Paul's Cathedral", "St Thomas' Hospital"; not "Fleming's Nobel Prize")."""
    tokens = list(doc)
    runs, start = [], None
    for n, token in enumerate([*tokens, None]):
        joins = n + 1 < len(tokens) and tokens[n + 1].pos_ == "PROPN"
        wrapped = token is not None and token.pos_ == "SPACE" and "\n\n" not in token.text and joins
        named = token is not None and token.tag_ == "POS" and token.ent_iob_ == "I" and joins
        if token is not None and (token.pos_ == "PROPN" or (wrapped or named) and start is not None):
            start = token.i if start is None else start
        elif start is not None:
            runs.append(token.doc[start : token.i] if token is not None else doc.doc[start : doc[-1].i + 1])
            start = None
    return runs


def text_names(doc: Any) -> set[str]:
    """The names a parsed text (a question, a sentence) uses: its named entities and its runs of proper nouns. A
    question's stand in for linked entities when it names none of the graph's."""
    names = {e.text for e in doc.ents if e.label_ not in _NOT_NAMES}
    return names | {" ".join(t.text for t in run) for run in proper_runs(doc)}


def name_groups(doc: Any) -> list[set[str]]:
    """The things a parsed question names, each as the set of its names' texts: overlapping names are one thing
    ("the Battle of Hastings" and "Battle of Hastings"), the same words in two places two ("the Panama Canal" and
    "Panama" in "When was the Panama Canal handed to Panama?")."""
    spans = sorted([*(e for e in doc.ents if e.label_ not in _NOT_NAMES), *proper_runs(doc)], key=lambda x: x.start)
    groups: list[tuple[int, set[str]]] = []  # (end, texts)
    for span in spans:
        if groups and span.start < groups[-1][0]:
            groups[-1] = (max(groups[-1][0], span.end), groups[-1][1] | {span.text})
        else:
            groups.append((span.end, {span.text}))
    return [texts for _, texts in groups]


@lru_cache(maxsize=512)
def parsed(nlp: Any, text: str) -> Any:
    """A chunk's parse, kept for the next question about the same documents."""
    return nlp(text)
