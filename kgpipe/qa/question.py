"""What a question asks (the text reader, ``kgpipe.qa.text``): the kind of answer it wants, its content words as a
sentence may say them (by stem or lemma), and whether it asks for the doer of its verb."""

from __future__ import annotations

import re
from typing import Any, NamedTuple, Sequence

_NAMING_WORDS = frozenset({"name", "call"})  # "What was the name of ...?" asks for a name; no sentence need say it
_LIGHT_VERBS = frozenset({"become", "became", "get", "got", "have", "had", "has", "do", "did", "make", "made", "go", "went"})
_KINDS = (
    (re.compile(r"^\s*how (many|much)\b", re.I), {"CARDINAL", "QUANTITY", "MONEY", "PERCENT"}),
    (re.compile(r"^\s*(when|what year|in what year|which year)\b", re.I), {"DATE"}),
    (re.compile(r"^\s*where\b", re.I), {"GPE", "LOC", "FAC", "ORG"}),
    (re.compile(r"^\s*(who|whom|whose)\b", re.I), {"PERSON", "ORG"}),
    # the question names the kind itself, and the small pipeline tags rare place names as anything ("the Angara": a person)
    (re.compile(r"\b(which|what) (ocean|sea|river|lake|country|city|town|village|state|region|continent|island|mountain)\b",
                re.I), {"GPE", "LOC", "FAC", "ORG", "PERSON"}),
)


_WHICH = frozenset({"which", "what"})


class Word(NamedTuple):
    """A content word of the question as a sentence may say it: by a word its stem begins ("died" for "die") or a
    word of the same lemma ("grew" for "grow", "began" for "begin")."""

    stem: str
    lemma: str

    @classmethod
    def of(cls, token: Any) -> "Word":
        return cls(stem(token.text), token.lemma_.lower())


def said_by(token: Any, word: "Word | str") -> bool:
    """Whether ``token`` says ``word`` (a ``Word``, or a bare stem)."""
    if isinstance(word, str):
        return token.lower_.startswith(word)
    return token.lower_.startswith(word.stem) or bool(word.lemma) and token.lemma_.lower() == word.lemma


def saying(sent: Any, word: "Word | str") -> list[Any]:
    """The words of ``sent`` that say ``word``: those of its lemma ("command" for "command"), else those its stem
    begins (not "commander" beside "command")."""
    by_lemma = [t for t in sent if not isinstance(word, str) and t.lemma_.lower() == word.lemma]
    return by_lemma or [t for t in sent if said_by(t, word)]


def content_words(doc: Any, names: set[str], pos: Sequence[str]) -> list[Any]:
    """A parsed question's words of the parts of speech ``pos`` outside its names, less the words that only say an
    answer is a name ("What was the name of his ship?", "What was the city called?")."""
    inside = {w for n in names for w in n.split()}
    return [t for t in doc if _part(t) in pos and t.text not in inside and t.lemma_.lower() not in _NAMING_WORDS]


def _part(token: Any) -> str:
    """A question word's part of speech, where the small tagger's is wrong: the root a "did" or "does" hangs on is
    a verb ("Where did Isaac Newton study?", "study" tagged a noun; "When did the canal open?", "open" an adjective)."""
    if token.dep_ == "ROOT" and token.pos_ in ("NOUN", "ADJ") and any(c.lemma_ == "do" and c.dep_ == "aux" for c in token.children):
        return "VERB"
    return str(token.pos_)


def content_stems(doc: Any, names: set[str]) -> list[Word]:
    """A parsed question's content words (verbs, nouns, adjectives outside its names): what a sentence must say, in
    its own words, to answer a question no linked entity anchors ("When was the Prius discontinued?" is not answered
    by "In 1997 the company introduced the Prius", MiniLM-similar as they are)."""
    return [Word.of(t) for t in content_words(doc, names, ("VERB", "NOUN", "ADJ"))]


def content_verbs(doc: Any, names: set[str]) -> list[Word]:
    """A parsed question's verbs that say what happened ("buried", "commissioned"), not the light ones ("become",
    "have")."""
    return [Word.of(t) for t in content_words(doc, names, ("VERB",)) if t.lower_ not in _LIGHT_VERBS]


def main_verbs(doc: Any, names: set[str]) -> list[Word]:
    """The content verbs that say what the question asks about: its root verb and those coordinated with it, not the
    verb of a clause under a noun ("build" of "Who led the French attempt to build the canal?"); all of them where
    none is the root."""
    verbs = [t for t in content_words(doc, names, ("VERB",)) if t.lower_ not in _LIGHT_VERBS]
    main = [t for t in verbs if t.dep_ == "ROOT" or t.dep_ == "conj" and t.head.dep_ == "ROOT"]
    return [Word.of(t) for t in main or verbs]


def content_nouns(doc: Any, names: set[str]) -> list[Word]:
    """A parsed question's nouns that say what is asked about ("headquarters" in "Where are the headquarters of
    Airbus?"), not the one that says what kind of answer it wants ("Which city ..."), for questions with no verb."""
    return [Word.of(t) for t in content_words(doc, names, ("NOUN",))
            if not any(c.lower_ in ("which", "what", "whose") for c in t.children)]  # fmt: skip


def kind_nouns(doc: Any) -> list[Any]:
    """The nouns of a parsed question that say what kind of answer it wants: "abbey" of "Which abbey did he enter?",
    "sea" of "Into which sea does it empty?" (however the parser hung the "which")."""
    return [t for t in doc if t.pos_ == "NOUN" and (any(c.lower_ in _WHICH and c.dep_ == "det" for c in t.children)
                                                    or t.i > 0 and doc[t.i - 1].lower_ in _WHICH)]  # fmt: skip


def stem(word: str) -> str:
    """A crude stem: the word less up to three final letters, at least four ("discontinued" -> "discontin")."""
    word = word.lower()
    return word[: max(4, len(word) - 3)]


def says(sent: Any, words: Sequence["Word | str"]) -> bool:
    """Whether ``sent`` says every word ("born" in "was born in", "die" in "died", "grow" in "grew up")."""
    return all(any(said_by(t, w) for t in sent) for w in words)


def expected_labels(question: str) -> set[str] | None:
    """The spaCy entity labels an answer to ``question`` can have; None: any."""
    for pattern, labels in _KINDS:
        if pattern.search(question):
            return labels
    return None


def asks_subject(asked: Any) -> bool:
    """Whether a parsed question asks for the doer of its verb: "Who invited ...?", "Which manufacturer joined ...?"."""
    return _asks_for(asked, "nsubj")


def _asks_for(asked: Any, dep: str) -> bool:
    """Whether a parsed question's "who", "what" or "which" word is, or is the determiner of, its ``dep``."""
    return any(t.tag_ in ("WP", "WDT") and (t.dep_ == dep or t.dep_ == "det" and t.head.dep_ == dep) for t in asked)


def stranded(asked: Any) -> tuple[Word, str] | None:
    """The word a question's last preposition hangs on, and the preposition, where nothing follows it: ("capital",
    "of") of "What is Venice the capital of?", ("build", "for") of "Who was it built for?"; None where there is none."""
    last = [t for t in asked if not t.is_punct]
    if not last or last[-1].dep_ != "prep" or any(c.i > last[-1].i for c in last[-1].children):
        return None  # (its object, where the parser found one, is the question word before it: "Who ... for?")
    prep = last[-1]
    return Word.of(prep.head), prep.lower_


def asks_object(asked: Any) -> bool:
    """Whether a parsed question asks for the object of its verb: "Who did Kepler succeed ...?"."""
    return _asks_for(asked, "dobj")
