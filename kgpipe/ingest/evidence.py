"""What a grounded line needs from the text it was read from: two things, not one name twice, and a word for
its relation.

The grammar holds every name to a span of the chunk and every relation to the schema, but the small model still
relates names the sentence does not relate: "Danchin | discovered | northern France", "Rijeka Thermal Power
Station | won | 320 MW", "Jensen | author of | Cecil Jensen". Two checks read the text instead of the model:

* ``names_one_thing``: a name and a part or a longer form of it are one thing, so a line between them states
  nothing;
* ``said``: a relation the ontology gives cue words (``kg:cue``, ``OntologyRelation.cues``) is stated by a
  sentence only if the sentence says one of them: "won" needs won, award, prize, medal... A line whose sentence
  says none takes the relation whose cue the sentence does say, of those the two names' kinds allow ("He studied
  magnetism": ``discovered`` → ``field of work``); with none, it is dropped ("Yana Rattigan | won | Ukrainian
  SSR"). Relations a text also states by form alone (containment, life dates, nationality) have no cues and are
  not checked.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING, NamedTuple, Sequence

from ..text import fold_diacritics
from .grounded import names_of, typing
from .patterns import PLACE_WORDS
from .spans import sentence_bounds

if TYPE_CHECKING:
    from ..ontology import Ontology
    from ..records import Chunk, Triple

_WORD = re.compile(r"\w[\w-]*")
# Administrative divisions named after their seat ("Sigchos Canton | located in | Sigchos" is two places).
_DIVISIONS = frozenset({"canton", "department", "prefecture", "commune", "oblast", "raion", "rayon", "governorate",
                        "voivodeship", "territory", "shire", "emirate", "kingdom", "republic"})  # fmt: skip


def names_one_thing(head: str, tail: str) -> bool:
    """Whether a line's two names are one name and a part or a longer form of it: "Get Dumb | won | Dumb",
    "Jensen | author of | Cecil Jensen", "Sourabaya | located in | Mount Sourabaya". A tail that the head names
    with a place word added is another place ("Mexico City | capital of | Mexico"), and a tail that goes on after
    the head's name another thing ("IBM | makes | IBM Z")."""
    h, t = _words(head), _words(tail)
    if not h or not t:
        return False
    if set(t) <= set(h):
        return not all(w in PLACE_WORDS or w in _DIVISIONS for w in h if w not in t)
    return len(h) < len(t) and t[-len(h):] == h


def said(sentence: str, cues: Sequence[str]) -> bool:
    """Whether ``sentence`` says one of ``cues``: a word ("held"), a word's beginning ("found*": founded,
    founder) or words in a row ("took place"); case and accents ignored. No cues: True."""
    return _says(_Words.of(sentence), cues)


class _Words(NamedTuple):
    """A sentence's words, and the same joined between spaces (for cues of several words), read once."""

    words: list[str]
    text: str

    @classmethod
    def of(cls, sentence: str) -> "_Words":
        words = _words(sentence)
        return cls(words, " " + " ".join(words) + " ")


def _says(sentence: _Words, cues: Sequence[str]) -> bool:
    if not cues:
        return True
    for cue in cues:
        if cue.endswith("*"):
            stem = cue[:-1].casefold()
            if any(w.startswith(stem) for w in sentence.words):
                return True
        elif f" {' '.join(_words(cue))} " in sentence.text:
            return True
    return False


def supported(triples: list["Triple"], chunks: Sequence["Chunk"], ontology: "Ontology | None") -> list["Triple"]:
    """``triples`` without the lines that state nothing (``names_one_thing``), and each line whose relation the
    sentences of its chunk that name its tail do not say (``said``) relabelled or dropped (see the module
    docstring). A tail the chunk's sentences do not name (a rule's, or one resolved from a reference) is kept."""
    cues = {r.label: r.cues for r in ontology.relations if r.cues} if ontology is not None else {}
    own = {r.label: _own_words(r) for r in ontology.relations if r.label not in cues} if ontology is not None else {}
    chunk_of = {c.id: c for c in chunks}
    read: dict[str, tuple[list[tuple[str, _Words]], dict[str, str]]] = {}  # chunk id -> its sentences, names' kinds
    out = []
    for t in triples:
        if names_one_thing(t.head, t.tail):
            continue
        chunk = chunk_of.get(t.provenance.chunk_id) if t.provenance is not None else None
        if ontology is None or t.relation not in cues or chunk is None:
            out.append(t)
            continue
        if chunk.id not in read:
            sentences = [chunk.text[a:b] for a, b in sentence_bounds(chunk.text)]
            read[chunk.id] = ([(s, _Words.of(s)) for s in sentences], names_of(chunk))
        sentences, kinds = read[chunk.id]
        naming = [words for s, words in sentences if t.tail in s]
        if not naming or any(_says(s, cues[t.relation]) for s in naming):
            out.append(t)
            continue
        relation = _said_instead(t, naming, kinds, cues, own, ontology)
        if relation is not None:
            out.append(replace(t, relation=relation))
    return out


def _said_instead(t: "Triple", sentences: list[_Words], kinds: dict[str, str], cues: dict[str, tuple[str, ...]],
                  own: dict[str, tuple[str, ...]], ontology: "Ontology") -> str | None:
    """Of the relations the kinds of ``t``'s names allow, the first (in the ontology's order) with cues that one of
    ``sentences`` says, else the first without cues whose own words (``own``) one says ("born" for ``date of
    birth``, whose label and synonyms say it: "Declan Jones (born 11 May 1995)"); None if there is none."""
    names = {t.head: kinds.get(t.head, ""), t.tail: kinds.get(t.tail, "")}
    if len(names) < 2:
        return None
    labels, no_relations, no_tails = typing(names, ontology)
    allowed = [label for r, label in enumerate(labels) if r not in no_relations[0] and 1 not in no_tails[r]]
    for group in ([(label, cues[label]) for label in allowed if label in cues],
                  [(label, own[label]) for label in allowed if label in own]):
        for label, said_by in group:
            if said_by and any(_says(s, said_by) for s in sentences):
                return label
    return None


# Words of relation labels and synonyms that say nothing of the relation on their own.
_PLAIN = frozenset({"of", "in", "on", "at", "by", "to", "the", "a", "an", "is", "was", "date", "place", "country",
                    "part", "type", "kind", "instance", "subclass"})  # fmt: skip


def _own_words(relation) -> tuple[str, ...]:  # type: ignore[no-untyped-def]
    """The words of a relation's label and synonyms but the plain ones (``date of birth``: birth, born, birthday)."""
    return tuple(sorted({w for text in (relation.label, *relation.aliases) for w in _words(text)} - _PLAIN))


def _words(text: str) -> list[str]:
    return _WORD.findall(fold_diacritics(text).casefold())
