"""The lexical normal form of a relation's wording, shared by canonicalisation (``kgpipe.ingest.relations``) and
path search (``kgpipe.qa.paths``: two facts whose wordings normalise alike state one thing).

Lower case, auxiliaries and the copula dropped in front (``is``, ``was``, ``has been``, ``had`` before a
participle), a leading article dropped, prepositions kept; ``is a`` stays ``is a``; a wording over
``MAX_WORDS`` words loses its modifiers, then is cut.
"""

from __future__ import annotations

import re

MAX_WORDS = 4  # acceptance of issue 11: no relation wording over 4 words

_AUXILIARIES = frozenset({"is", "was", "are", "were", "be", "been", "being", "am", "will", "would", "shall", "should",
                          "can", "could", "may", "might", "must", "does", "did", "do", "also", "then", "later"})  # fmt: skip
_HAVE = frozenset({"has", "have", "had", "having"})
_ARTICLES = frozenset({"a", "an", "the"})
_MODIFIERS = _ARTICLES | frozenset({"also", "currently", "originally", "formerly", "still", "first", "once", "now",
                                    "officially", "primarily", "mainly", "later", "then", "its", "their", "his", "her"})  # fmt: skip
_PREPOSITIONS = frozenset({"in", "of", "at", "on", "by", "for", "to", "from", "with", "as", "into", "under", "over"})
_PARTICIPLES = frozenset({"won", "led", "made", "held", "built", "taught", "bought", "sold", "left", "met", "run",
                          "begun", "become", "got", "set", "put", "read", "said", "told", "found", "been", "being",
                          "known", "shown", "grown", "drawn", "flown", "thrown", "born", "borne", "taken", "given",
                          "written", "chosen", "spoken", "broken", "driven", "seen", "risen", "fallen", "proven",
                          "forgotten", "hidden", "stolen", "sworn", "beaten", "eaten", "ridden", "gone", "done"})  # fmt: skip
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NON_WORD = re.compile(r"[^\w&'’]+")


def normal_form(relation: str) -> str:
    """The relation's lexical normal form (see the module docstring); readable, at most ``MAX_WORDS`` words.

    >>> [normal_form(r) for r in ("was founded in", "Is Founded In", "founded_in", "has been married to", "is a")]
    ['founded in', 'founded in', 'founded in', 'married to', 'is a']
    """
    words = _words(relation)
    if not words:
        return ""
    k = 0
    while k < len(words) - 1:
        w = words[k]
        if w in _AUXILIARIES or (w in _HAVE and _participle(words[k + 1])) or w in _HAVE and words[k + 1] in _AUXILIARIES:
            k += 1
        else:
            break
    rest = words[k:]
    while len(rest) > 1 and rest[0] in _ARTICLES:
        rest = rest[1:]
    if not rest or all(w in _ARTICLES | _PREPOSITIONS for w in rest):
        # only the copula said it ("is a", "was the"): keep it as "is a", the instance relation's wording
        return "is a" if words[0] in _AUXILIARIES and set(words[1:]) <= _ARTICLES else " ".join(words[:MAX_WORDS])
    return " ".join(shorten(rest))


def shorten(words: list[str], max_words: int = MAX_WORDS) -> list[str]:
    """``words`` without modifiers (articles, "also", "currently"...) when over ``max_words``; then its first
    words, ending in the wording's last preposition when it had one ("moved from x to" keeps "to")."""
    if len(words) <= max_words:
        return words
    kept = [w for w in words if w not in _MODIFIERS] or words
    if len(kept) <= max_words:
        return kept
    if kept[-1] in _PREPOSITIONS:
        return kept[: max_words - 1] + [kept[-1]]
    return kept[:max_words]


def _words(relation: str) -> list[str]:
    text = relation.replace("_", " ").replace("-", " ")
    if " " not in text.strip():  # an identifier ("bornIn", "isPartOf"); a phrase keeps "iPhone" whole
        text = _CAMEL.sub(" ", text)
    return [w for w in _NON_WORD.split(text.casefold()) if w]


def _participle(word: str) -> bool:
    return word.endswith("ed") or word in _PARTICIPLES
