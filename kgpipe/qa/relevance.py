"""How far each hop of a path is what the question asks: the relation term of ``ask``'s rerank.

A question names the relations of its answer path one phrase each, in order or in reverse ("the nation of X's
dad's darling" is ``parents -> spouse -> nationality``): each hop is matched to its own phrase of the question
(1-3 words, not starting or ending in a function word, the linked entities masked), hops in path order to
phrases in question order or in reverse, no two hops to overlapping phrases; a hop no phrase is left for counts its
similarity to the whole question. The matching maximises the summed MiniLM similarity, by dynamic programming.

Matched one to one, a path that repeats the one relation the question asks about no longer scores twice for it
(``parents -> parents`` for "X's father's children"). On 40 PQ-3H tuning questions (lines 27, 79, ...), ranking all
candidate paths, Hits@1 0.71 with the whole-question similarity per hop and 0.81 with the matching (README,
"Asking questions").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

from .link import masked

if TYPE_CHECKING:
    from ..llms.embed import Embedder
    from .paths import GraphPath

FUNCTION_WORDS = frozenset(
    "a an the of s is was are were be been what who whom whose which where when how did does do in on at to by for "
    "from with and or someone".split()
)
LONGEST_PHRASE = 3  # words


def question_phrases(masked_question: str) -> list[tuple[int, int, str]]:
    """(start, end, text) of each phrase of ``masked_question`` a relation can be matched to, by word position.

    >>> [p[2] for p in question_phrases("who is the father of someone s wife")]
    ['father', 'wife']
    """
    words = masked_question.split()
    found = []
    for i in range(len(words)):
        for j in range(i + 1, min(len(words), i + LONGEST_PHRASE) + 1):
            part = words[i:j]
            if "someone" not in part and part[0] not in FUNCTION_WORDS and part[-1] not in FUNCTION_WORDS:
                found.append((i, j, " ".join(part)))
    return found


def match_hops(to_phrases: np.ndarray, to_question: Sequence[float], spans: Sequence[tuple[int, int]]) -> list[float]:
    """Each hop's similarity under the best matching (module docstring): ``to_phrases[h, p]`` is hop h's similarity to
    phrase p at word ``spans[p]``, ``to_question[h]`` to the whole question (what a hop left unmatched counts)."""
    hops = len(to_question)
    if not hops:
        return []
    best: tuple[float, list[float]] = (float(sum(to_question)), list(to_question))
    by_start = sorted(range(len(spans)), key=lambda p: spans[p])
    for order in (list(range(hops)), list(range(hops))[::-1]):
        # state: (last word position used, score, per-hop similarities); a hop either takes a later phrase or none
        states: list[tuple[int, float, list[float]]] = [(0, 0.0, [0.0] * hops)]
        for h in order:
            grown = []
            for end, score, sims in states:
                grown.append((end, score + to_question[h], [*sims[:h], to_question[h], *sims[h + 1 :]]))
                for p in by_start:
                    if spans[p][0] >= end:
                        s = float(to_phrases[h, p])
                        grown.append((spans[p][1], score + s, [*sims[:h], s, *sims[h + 1 :]]))
            # of the states that end at one place, only the best can lead to the best matching
            kept: dict[int, tuple[int, float, list[float]]] = {}
            for state in grown:
                if state[0] not in kept or state[1] > kept[state[0]][1]:
                    kept[state[0]] = state
            states = list(kept.values())
        top = max(states, key=lambda s: s[1])
        if top[1] > best[0]:
            best = (top[1], top[2])
    return best[1]


def hop_similarities(embedder: "Embedder", question: str, masks: Sequence[str], paths: Sequence["GraphPath"]) -> list[list[float]]:
    """For each path, each hop's relation's MiniLM similarity to the phrase of the masked question it answers."""
    if not paths:
        return []
    text = masked(question, masks)
    phrases = question_phrases(text)
    labels = sorted({h.relation for p in paths for h in p.hops})
    label_vectors = embedder.encode([masked(label, masks) for label in labels])
    to_question = dict(zip(labels, (label_vectors @ embedder.encode([text])[0]).tolist()))
    phrase_sims = label_vectors @ embedder.encode([p[2] for p in phrases]).T if phrases else np.zeros((len(labels), 0))
    row = {label: i for i, label in enumerate(labels)}
    spans = [(a, b) for a, b, _ in phrases]
    return [match_hops(phrase_sims[[row[h.relation] for h in p.hops]], [to_question[h.relation] for h in p.hops], spans)
            for p in paths]  # fmt: skip
