"""The candidate answers of a sentence for the text reader (``kgpipe.qa.text``): the spans of the kind asked for,
and which of them stand where the question's verb says the answer is (its clause, its subject, a place that
locates, the opposite role of a relative)."""

from __future__ import annotations

import re
from typing import Any, Sequence

from ..fusion.names import acronym_of, analyse
from .link import link_key, mask_keys
from .question import Word, said_by, saying
from .reading import PLACE_LABELS, PRONOUN_SUBJECTS, name_spans, named_after, proper_runs, same_thing

_DIRECTION = re.compile(r"^(north|south|east|west)(-?(east|west))?(ern|ward|wards)?$")
_LOCATING_VERBS = frozenset({"be", "lie", "stand", "sit", "locate", "situate"})
_LOCATIVE = frozenset({"in", "on", "at", "near", "beside", "along", "off", "inside"})
_ROLE_PAIRS = (("mother", "father"), ("wife", "husband"), ("daughter", "son"), ("sister", "brother"), ("aunt", "uncle"),
               ("niece", "nephew"), ("grandmother", "grandfather"), ("queen", "king"), ("widow", "widower"))
_ERA_YEAR = re.compile(r"\b\d{1,4}\s?(BC|BCE|AD|CE)\b|\bAD\s?\d{1,4}\b")
_VALUES = frozenset({"DATE", "TIME", "CARDINAL", "ORDINAL", "QUANTITY", "MONEY", "PERCENT"})
_OPPOSITE_ROLES = {**dict(_ROLE_PAIRS), **{b: a for a, b in _ROLE_PAIRS}}
# a point in time names a year or a month ("28 August 1937", "1989"); "three months", "the age of 36" do not
_POINT_IN_TIME = re.compile(r"\b\d{3,4}\b|\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b", re.I)


def role_conflict(asked: Any, sent: Any) -> bool:
    """Whether the sentence names the opposite role of the one asked for and not the one asked: "His father,
    Robert Darwin, ..." does not answer "Who was the mother of Charles Darwin?"."""
    said = {t.lower_ for t in sent}
    return any(_OPPOSITE_ROLES.get(t.lower_, "") in said and t.lower_ not in said for t in asked)


def names_role(asked: Any, sent: Any) -> bool:
    """Whether the sentence names the relative the question asks about, or the opposite role: "he briefly worked
    for Thomas Edison in New York City", about Tesla, says nothing of "the father of Nikola Tesla"."""
    roles = {t.lower_ for t in asked if t.lower_ in _OPPOSITE_ROLES}
    return not roles or any(t.lower_ in roles or _OPPOSITE_ROLES.get(t.lower_) in roles for t in sent)


def converse(asked: Any, sent: Any, keys: Sequence[str]) -> set[int]:
    """The tokens that name the one asked for where the sentence names the linked entity by the opposite role:
    "Lisa Gherardini, the wife of ... Francesco del Giocondo" answers "Who was the husband of Lisa Gherardini?"
    with the words under "wife"; none where the opposite role is somebody else's ("His father, ...")."""
    opposite = {_OPPOSITE_ROLES[t.lower_] for t in asked if t.lower_ in _OPPOSITE_ROLES}

    def linked(token: Any) -> bool:
        if token.lower_ in PRONOUN_SUBJECTS:
            return True
        span = next((n for n in name_spans(sent) if n.start <= token.i < n.end), None)
        return span is not None and same_thing(span.text, keys)

    for role in sent:
        if role.lower_ in opposite and (role.dep_ == "appos" and linked(role.head) or role.dep_ == "attr" and any(
                c.dep_ in ("nsubj", "nsubjpass") and linked(c) for c in role.head.children)):  # fmt: skip
            return {t.i for t in role.subtree} - {role.i}
    return set()


def locates(sent: Any) -> set[int]:
    """The tokens that say where the sentence's subject is: "Mount Fuji is an active volcano on the island of
    Honshu", "Edinburgh lies on the shore of the Firth of Forth" (the words under "on"); none where its main verb
    says something else."""
    root = sent.root
    if root.lemma_ not in _LOCATING_VERBS or not any(c.dep_ in ("nsubj", "nsubjpass") for c in root.children):
        return set()
    heads = [root, *(c for c in root.children if c.dep_ in ("attr", "acomp"))]
    return {d.i for h in heads for c in h.children if c.dep_ == "prep" and c.lower_ in _LOCATIVE for d in c.subtree}


def candidate_spans(sent: Any, wanted: set[str] | None, names: set[str], refers: bool = False,
           asked: Sequence["Word"] = (), where: bool = False, kinds: Sequence["Word"] = ()) -> list[tuple[str, int, int]]:  # fmt: skip
    """A sentence's candidate answers: its entities of the wanted kinds; for a question of no particular kind
    ("what did she discover?") also its noun phrases without their determiners. Never a linked name, nor a
    shorter or longer form of one, except a relative's name: where the sentence refers to the linked entity
    otherwise (``refers``: "His father, Robert Darwin, ..." about "Charles Robert Darwin"), a name of two words or
    more that drops the linked name's first word is somebody else's. Nor, for a question that asks where something
    is (``where``), a landmark it is measured from ("100 kilometres south-west of Tokyo"); nor a phrase that
    restates the question (``asked``: its nouns; ``kinds``: those that say what kind of answer it wants): "the Spanish
    manufacturer" for "Which manufacturer joined ...?"."""
    found = {(e.text, e.start_char, e.end_char) for e in sent.ents if wanted is None or e.label_ in wanted}
    if wanted == {"DATE"}:
        found = {x for x in found if _POINT_IN_TIME.search(x[0])}
        # a year of an era ("196 BC"), which the small pipeline tags a number and an organisation
        start = sent.start_char
        found |= {(m.group(), start + m.start(), start + m.end()) for m in _ERA_YEAR.finditer(sent.text)}
    if wanted is not None and "GPE" in wanted:
        # a name that only qualifies a common noun names a place by it: "the Apple Corps building"
        for e in sent.ents:
            head = e.root.head
            if e.root.dep_ == "compound" and head.pos_ == "NOUN" and head.i == e.end and (e.text, e.start_char, e.end_char) in found:
                found.discard((e.text, e.start_char, e.end_char))
                found.add((sent.doc.text[e.start_char : head.idx + len(head)], e.start_char, head.idx + len(head)))
    if wanted is not None and wanted & {"PERSON", "GPE"}:  # a name the small pipeline tags as nothing ("Lord Byron", "Irkutsk")
        for run in [*proper_runs(sent), *_paired_names(sent)]:
            inside = [e for e in sent.ents if e.start < run.end and run.start < e.end]
            parts = {(e.text, e.start_char, e.end_char) for e in inside}
            whole = (run.text, run.start_char, run.end_char)
            if not inside:
                found.add(whole)
            elif all(run.start <= e.start and e.end <= run.end for e in inside) and (
                    len(inside) == 1 and parts <= found or any(t.tag_ == "POS" or t.dep_ == "cc" for t in run)):
                # a name tagged in part is the whole name: "Maida" of "Maida Vale", "Ahmad Lahauri" of "Ustad Ahmad
                # Lahauri"; one with a possessive or "and" inside is another name than its parts, of whatever kind
                # they were tagged ("St Paul's Cathedral" of a person "St Paul's", "Harland and Wolff")
                found = (found - parts) | {whole}
    if where:
        found = {x for x in found if not any(t.idx == x[1] and t.head.lower_ == "of" and _DIRECTION.match(t.head.head.lower_)
                                            for t in sent)}  # fmt: skip
    if wanted is None:
        quoted = [(m.group(2), start + m.start(2), start + m.end(2)) for m in _QUOTED.finditer(sent.text)
                  for start in (sent.start_char,)]  # fmt: skip
        for chunk in sent.noun_chunks:
            words = [t for t in chunk if t.pos_ not in ("DET", "PRON", "PUNCT")]
            if words and not any(q[1] <= words[0].idx < q[2] for q in quoted):
                found.add((chunk.doc.text[words[0].idx : words[-1].idx + len(words[-1])], words[0].idx,
                           words[-1].idx + len(words[-1])))  # fmt: skip
        found |= set(quoted)  # a quotation is one answer: "the Lady with the Lamp"
    if asked:
        found = {x for x in found if not _restates(sent.doc.char_span(x[1], x[2], alignment_mode="expand"), asked, kinds)}
    keys = [f" {link_key(n)} " for n in names]
    full = [k.split() for k in keys if len(k.split()) > 1]
    acronyms = [f for f in map(analyse, names) if f.is_acronym]
    places = {(e.start_char, e.end_char) for e in sent.ents if e.label_ in PLACE_LABELS}
    bare = [k.strip() for k in keys]

    def linked(x: tuple[str, int, int]) -> bool:  # a linked entity under one of its names, or a longer or shorter form of one
        key = f" {link_key(x[0])} "
        if key in keys or acronyms and any(acronym_of(a, analyse(x[0])) for a in acronyms):  # "the British Broadcasting Company" of "BBC"
            return True
        if not any(k in key or key in k for k in keys) or named_after(x[0], bare, (x[1], x[2]) in places):
            return False
        words = key.split()
        # a relative: "Robert Darwin" or "Jean-Joseph Pasteur" beside "his", for "Charles Robert Darwin", "Louis Pasteur"
        return not (refers and len(words) > 1 and full and all(k[0] != words[0] for k in full))

    return sorted((x for x in found if not linked(x)), key=lambda x: x[1])


# a short quotation: "the Lady with the Lamp" (straight or curly quotes)
_QUOTED = re.compile(r'(["\u201c])([^"\u201c\u201d]{2,60})(["\u201d])')
_AND = frozenset({"and", "&"})


def _paired_names(sent: Any) -> list[Any]:
    """Two one-word proper nouns joined by "and" that the tagger does not read as two of a kind: one name
    ("Harland and Wolff", tagged a nationality and a person; not "France and Germany", two places)."""
    pairs = []
    for t in sent:
        first = t.head
        joined = t.dep_ == "conj" and t.i == first.i + 2 and sent.doc[t.i - 1].lower_ in _AND
        if not joined or t.pos_ != "PROPN" or first.pos_ != "PROPN":
            continue
        longer = t.i + 1 < len(sent.doc) and sent.doc[t.i + 1].pos_ == "PROPN"
        if longer or any(c.dep_ == "compound" for w in (first, t) for c in w.children):
            continue  # a word of a longer name: "Charles and George Page" are two people
        if first.ent_type_ == t.ent_type_ != "" or {first.ent_type_, t.ent_type_} & PLACE_LABELS:
            continue
        pairs.append(sent.doc[first.i : t.i + 1])
    return pairs


def _restates(span: Any, asked: Sequence["Word"], kinds: Sequence["Word"]) -> bool:
    """Whether a candidate span restates the question: a common noun phrase with a word of the question in it, a
    description of what is asked for ("Spanish manufacturer", "ship", "capital city" for "What is Edinburgh the
    capital of?"), not its name; or a name headed by a noun the question uses other than as the kind it asks for
    ("the Nightingale Training School" for "Where did she set up her training school?"; not "Harrow School" for
    "Which school ...?")."""
    if span is None or not len(span):
        return False
    if any(t.pos_ == "PROPN" for t in span):
        head = span[-1]
        return any(said_by(head, w) for w in asked if w not in kinds)
    return any(said_by(t, w) for t in span if t.pos_ in ("NOUN", "ADJ") for w in asked)


def of_kind(sent: Any, spans: list[tuple[str, int, int]], kinds: Sequence["Word"]) -> list[tuple[str, int, int]]:
    """For "Which abbey ...?": the candidates that name one ("St Thomas's Abbey", a proper name headed by the kind's
    word), where there are any; else, of those that are no value nor adjective ("11", "three", "American" name no
    ship), the proper names, or failing them all of them."""
    if not kinds:
        return spans
    doc = sent.doc
    named = [x for x in spans if (s := doc.char_span(x[1], x[2], alignment_mode="expand")) is not None and len(s) > 1
             and any(t.pos_ == "PROPN" for t in s) and any(said_by(s[-1], k) for k in kinds)]  # fmt: skip
    values = [(e.start_char, e.end_char) for e in sent.ents if e.label_ in _VALUES]
    values += [(t.idx, t.idx + len(t)) for t in sent if t.pos_ == "ADJ"]  # "American" names no ship either
    things = [x for x in spans if not any(a <= x[1] and x[2] <= b for a, b in values)] or spans
    # a name, not a description beside it: "USS Hornet", not "the aircraft carrier"
    proper = [x for x in things if (s := doc.char_span(x[1], x[2], alignment_mode="expand")) is not None
              and any(t.pos_ == "PROPN" for t in s)]  # fmt: skip
    return named or proper or things


def nearest_to_verb(sent: Any, spans: list[tuple[str, int, int]], verbs: Sequence["Word | str"]) -> list[tuple[str, int, int]]:
    """The candidate spans nearest, in the sentence's parse, to the word that says the question's verb (or, for a
    question without one, its noun: "headquarters"): first those of the same clause ("born ... in Kilkea, County
    Kildare, and his family moved to London": Kilkea, not London, however the parser hung "in Kilkea"), then the
    fewest arcs away ("born ... in Dole, in the Jura region of eastern France": Dole, not France). All of them where
    the sentence does not say the word."""
    said = [words for v in verbs if (words := saying(sent, v))]  # for each asked word, the words that say it
    if not said or len(spans) < 2:
        return spans

    def arcs(a: Any, b: Any) -> int:
        up = {t.i: n for n, t in enumerate([a, *a.ancestors])}
        for n, t in enumerate([b, *b.ancestors]):
            if t.i in up:
                return up[t.i] + n
        return len(sent)

    def distance(span: tuple[str, int, int]) -> tuple[int, int]:
        # near every asked word: "the command module pilot Michael Collins", not "the lunar module pilot Buzz Aldrin"
        tokens = [t for t in sent if span[1] <= t.idx < span[2]]
        if not tokens:
            return (1, len(sent) * len(said))
        if any(_apposed(tokens[-1], v) for words in said for v in words):
            return (0, 0)
        apart = min((_clause(t) != _clause(v) for t in tokens for words in said for v in words), default=True)
        return int(apart), sum(min(arcs(t, v) for t in tokens for v in words) for words in said)

    best = min(distance(x) for x in spans)
    return [x for x in spans if distance(x) == best]


def the_doers(sent: Any, spans: list[tuple[str, int, int]], verbs: Sequence["Word | str"],
              groups: bool = False) -> list[tuple[str, int, int]]:  # fmt: skip
    """The candidate spans that are, or are part of, the subject of a word that says the question's verb ("The
    Spanish manufacturer CASA joined the consortium": CASA, not the consortium), or its agent ("was founded ... by
    the carpenter Ole Kirk Christiansen"); where none is and ``groups`` (a "who" question), the subject itself if it
    is a plural common noun ("French soldiers found the stone"); else all of them."""
    heads = _verb_children(sent, verbs, ("nsubj", "agent"))
    doers = covering(sent, spans, {d.i for c in heads for d in c.subtree})
    if doers or not groups:
        return doers or spans
    plural = [c for c in heads if c.dep_ == "nsubj" and c.tag_ == "NNS"]
    if not plural:
        return spans
    words = [t for t in plural[0].subtree if t.pos_ != "DET" and t.i <= plural[0].i]
    doc = sent.doc
    return [(doc.text[words[0].idx : plural[0].idx + len(plural[0])], words[0].idx, plural[0].idx + len(plural[0]))]


def the_objects(sent: Any, spans: list[tuple[str, int, int]], verbs: Sequence["Word | str"],
                refs: Sequence[Any]) -> list[tuple[str, int, int]]:  # fmt: skip
    """The candidate spans that are, or are part of, the object of a word that says the question's verb, or that
    name what a pronoun object refers to (``refs``: the chunk's references): "When Tycho died the next year, Kepler
    succeeded him as imperial mathematician to Emperor Rudolf II" -> Tycho; all of them where none is."""
    objects = _verb_children(sent, verbs, ("dobj",))
    direct = covering(sent, spans, {d.i for c in objects for d in c.subtree})
    meant = mask_keys(r.name for r in refs for c in objects if r.start == c.idx)
    return direct or [x for x in spans if meant and same_thing(x[0], meant)] or spans


def _verb_children(sent: Any, verbs: Sequence["Word | str"], deps: Sequence[str]) -> list[Any]:
    """The children of the dependencies ``deps`` (subject, object ...) of the sentence's verbs that say a question
    verb."""
    return [c for t in sent if t.pos_ == "VERB" and any(said_by(t, v) for v in verbs) for c in t.children if c.dep_ in deps]


def _apposed(last: Any, word: Any) -> bool:
    """Whether a name ending at ``last`` stands right before the noun phrase of ``word``, after a comma ("the Palace
    of Holyroodhouse, the official residence of ..."): an apposition, however the parser hung it."""
    between = last.doc[last.i + 1 : word.i]
    if word.i + 1 < len(word.doc) and word.doc[word.i + 1].pos_ == "PROPN":
        return False  # "Neil Armstrong, the lunar module pilot Buzz Aldrin": the next item of a list, not an apposition
    return word.pos_ == "NOUN" and len(between) >= 1 and between[0].text == "," and all(t.head.i == word.i or t.head in between for t in between[1:])


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


def said_clause(reading: str, verbs: Sequence[str]) -> str:
    """The clause of a sentence that says the question's verb, from the clause boundary before it to the one after:
    "the stone has been on display in the British Museum in London since 1802" of "After the French surrendered, the
    stone passed to the British, and the stone has been on display ..."; "" where the sentence does not say it."""
    at = next((m.start() for m in re.finditer(r"\S+", reading) if any(m.group().lower().startswith(v) for v in verbs)), None)
    if at is None or not verbs:
        return ""
    # from a coordinated clause's start, not a relative one's ("... a photographer who had been born in Germany" is
    # not about the sentence's subject)
    starts = [m.end() for m in _CLAUSE_END.finditer(reading, 0, at) if m.group().strip() in (",", ";", "and", "but")]
    end = _CLAUSE_END.search(reading, at)
    return reading[starts[-1] if starts else 0 : end.start() if end else len(reading)].strip()


_RELATIVE_PRONOUNS = frozenset({"who", "which", "that"})


def verb_clause(sent: Any, verbs: Sequence["Word | str"]) -> str:
    """The clause of a sentence's word that says a question verb, where it is not the sentence's own main verb: the
    words under it, a relative pronoun read as what it stands for ("G. H. Hardy, who invited him to England" ->
    "G. H. Hardy invited him to England"); "" where no such word is."""
    verb = next((t for t in sent if t.pos_ == "VERB" and any(said_by(t, v) for v in verbs)), None)
    if verb is None or verb.dep_ == "ROOT":
        return ""
    words = [t for t in verb.subtree if not (t.lower_ in _RELATIVE_PRONOUNS and t.dep_ in ("nsubj", "nsubjpass"))]
    said = " ".join(t.text for t in words)
    if verb.dep_ == "relcl":
        head = verb.head
        name = next((e.text for e in sent.ents if e.start <= head.i < e.end), head.text)
        said = f"{name} {said}"
    return said


def within(sent: Any, spans: list[tuple[str, int, int]], tokens: set[int]) -> list[tuple[str, int, int]]:
    """The spans that start at one of ``tokens`` (indices in the sentence's document)."""
    return [x for x in spans if any(t.i in tokens for t in sent if t.idx == x[1])]


def covering(sent: Any, spans: list[tuple[str, int, int]], tokens: set[int]) -> list[tuple[str, int, int]]:
    """The spans that cover one of ``tokens`` (indices in the sentence's document)."""
    return [x for x in spans if any(t.i in tokens for t in sent if x[1] <= t.idx < x[2])]


def objects_of(sent: Any, spans: list[tuple[str, int, int]], hanging: tuple["Word", str]) -> list[tuple[str, int, int]]:
    """The candidates that name the object of the preposition a question leaves stranded: "the Veneto region" of
    "the capital of the Veneto region" for "What is Venice the capital of?". The preposition hangs on the asked word
    itself, else anywhere under it ("built as an estate for the emperor Pachacuti" for "built for"); a name right
    after the object is the object's ("the Inca emperor Pachacuti", however the parser hung "Pachacuti"). All the
    candidates where the sentence has no such object."""
    word, prep = hanging
    words = saying(sent, word)
    own = [c for t in words for c in t.children if c.dep_ == "prep" and c.lower_ == prep]
    under = own or [d for t in words for d in t.subtree if d.dep_ == "prep" and d.lower_ == prep and d.i != t.i]
    objects = [c for p in under for c in p.children if c.dep_ == "pobj"]
    heads = {o.i for o in objects} | {c.i for o in objects for c in o.children if c.dep_ == "conj"}
    doc = sent.doc
    for o in objects:
        after = max(d.i for d in o.subtree) + 1
        while after < sent.end and doc[after].pos_ == "PROPN":
            heads.add(after)
            after += 1
    return covering(sent, spans, heads) or spans
