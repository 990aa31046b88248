"""Candidate pairs for entity resolution, and their scores: blocking, short names, adjudication.

``kgpipe.fusion.resolve`` builds the nodes; this module says which pairs of them are compared (names sharing
a blocking key, each meeting a fixed number of neighbours in name order; a one-word name and the full names
it may stand for) and scores them with ``kgpipe.fusion.match``, asking an adjudicator about the review band.
"""

from __future__ import annotations

from array import array

import numpy as np

from ..records import Adjudicator
from .kinds import compatible
from .match import MERGE_AT, REVIEW_AT, SHORT_RULES, Node, explain_pair
from .names import STOPWORDS, blocking_keys, normalise_name
from .person_names import GENERATIONS, surname_key

#: Keys shared by unrelated names (a word, a prefix or suffix, an initial and a surname): a narrow window.
WIDE_KEYS = ("t:", "p:", "x:", "i:", "r:")
MAX_BLOCK = 5000  # a word shared by more names than this says nothing about identity


class PairSet:
    """Candidate pairs as ``i << 32 | j`` codes (``i < j``) in a flat array: 8 bytes a pair, deduplicated once."""

    def __init__(self) -> None:
        self.codes = array("q")

    def add(self, i: int, j: int) -> None:
        self.codes.append(i << 32 | j if i < j else j << 32 | i)

    def add_window(self, members: list[int], width: int) -> None:
        """Each member with the next ``width`` members of the (name-ordered) list."""
        if len(members) * width <= 256:
            for d in range(1, width + 1):
                self.codes.extend(a << 32 | b if a < b else b << 32 | a for a, b in zip(members, members[d:]))
            return
        ids = np.asarray(members, dtype=np.int64)
        for d in range(1, width + 1):
            lo, hi = np.minimum(ids[:-d], ids[d:]), np.maximum(ids[:-d], ids[d:])
            self.codes.frombytes((lo << 32 | hi).tobytes())

    def add_all(self, n: int) -> None:
        """Every pair among ``0..n-1``."""
        for i in range(n - 1):
            self.codes.frombytes((i << 32 | np.arange(i + 1, n, dtype=np.int64)).tobytes())

    def unique(self) -> np.ndarray:
        return np.unique(np.frombuffer(self.codes, dtype=np.int64)) if self.codes else np.zeros(0, np.int64)


def new_pairs(nodes: list[Node], window: int, pairs: PairSet) -> None:
    """Pairs of new nodes sharing a blocking key, each meeting its ``window`` neighbours in name order."""
    blocks: dict[str, list[int]] = {}
    for node in sorted(nodes, key=lambda n: n.f.core):
        for key in blocking_keys(node.f):
            blocks.setdefault(key, []).append(node.idx)
    for key, members in blocks.items():
        m = len(members)
        if m < 2:
            continue
        if key.startswith("a:"):  # initials are evidence only next to an acronym: it meets them all
            for i in members:
                if nodes[i].f.is_acronym:
                    for j in members:
                        if i != j:
                            pairs.add(i, j)
            continue
        wide = key.startswith(WIDE_KEYS)
        if m < 2 or (wide and m > MAX_BLOCK):
            continue
        pairs.add_window(members, min(m - 1, window // 4 if wide else window))


def short_form_pairs(nodes: list[Node], n_new: int, pairs: PairSet, limit: int = 50) -> None:
    """A one-word name and the multi-word person names whose first or last word it is ("Obama" / "Barack Obama").

    In the text that writes the full name, also: a person's or organisation's last two words or more ("Von der Leyen"
    / "Ursula von der Leyen"; a person read in one text, also a full name elsewhere: "Pitt the Younger"), a person's
    middle word ("Lula"), and an organisation's first or last whole word ("Telekom" / "Deutsche Telekom").

    Candidates in the name's own contexts when there are any; otherwise, for a name typed as a person, those of
    the whole run and of the graph whose *surname* it is, romanised alike ("Tschaikowsky" / "Pyotr Tchaikovsky"; a
    text calls a person by the first name only once it has named them: "Paris" in the Iliad is not Paris Hilton);
    ``limit`` at most, more say only that the name is
    ambiguous. Which one it joins, if any, is decided in ``kgpipe.fusion.cluster`` (one candidate cluster, or none).
    """
    people: dict[str, list[int]] = {}
    surnames: dict[str, list[int]] = {}
    organisations: dict[str, list[int]] = {}
    tails: dict[tuple[str, ...], list[int]] = {}
    inner: dict[str, list[int]] = {}  # a person's middle words
    for node in nodes:
        tokens = node.f.tokens
        if node.person and len(tokens) > 1:
            named = [t for t in tokens if t not in GENERATIONS]  # "King" of "Martin Luther King Jr."
            for token in {tokens[0], tokens[-1], named[-1] if named else tokens[-1]}:
                people.setdefault(token, []).append(node.idx)
            for token in set(tokens[1:-1]) - STOPWORDS - {tokens[0], tokens[-1]}:  # "Lula" of "Luiz Inácio Lula da Silva"
                if len(token) > 2 and not {"of", "the"} & set(tokens):  # not "Francis" of "Saint Francis of Assisi"
                    inner.setdefault(token, []).append(node.idx)
            surnames.setdefault(_surname(tokens[-1]), []).append(node.idx)
        elif _organisation(node) and len(tokens) > 1:
            words = {normalise_name(w) for w in node.f.surface.split()}  # whole words: not "Goldstar" of "Lucky-Goldstar"
            for token in {tokens[0], tokens[-1]} & words - STOPWORDS:
                organisations.setdefault(token, []).append(node.idx)
        if len(tokens) > 2 and node.contexts and (node.person or _organisation(node)):
            # A word of the name starts the tail: not "Alexandre Dumas" of "Thomas-Alexandre Dumas".
            starts = {w.split()[0] for w in map(normalise_name, node.f.surface.split()) if w}
            for k in range(2, len(tokens)):  # "von der Leyen" of "Ursula von der Leyen", "Pitt the Younger"
                if tokens[-k - 1] not in STOPWORDS and tokens[-k] in starts:  # not "United Nations" of "... of the United Nations"
                    tails.setdefault(tokens[-k:], []).append(node.idx)
    for node in nodes[:n_new]:
        if node.kind == "common" or node.f.is_acronym:
            continue
        if len(node.f.tokens) > 1:
            # A person or organisation named by the last words of one named in full in each text that reads it (one
            # node holds a name in all texts: "Lévi-Strauss" of Claude is "Levi Strauss" of the jeans elsewhere).
            if node.contexts and (node.person or _organisation(node)):
                near = [c for c in tails.get(node.f.tokens, ()) if node.contexts <= nodes[c].contexts
                        and nodes[c].person == node.person and compatible(node.declared, nodes[c].declared)]  # fmt: skip
                if not near and node.person and len(node.contexts) == 1:  # one text: full names elsewhere
                    near = [c for c in tails.get(node.f.tokens, ())[:limit] if nodes[c].person and compatible(node.declared, nodes[c].declared)]
                if near:
                    node.short_of = frozenset(near)
                    for c in near:
                        pairs.add(node.idx, c)
            continue
        token = node.f.tokens[0]
        near = [c for c in people.get(token, ()) if nodes[c].contexts & node.contexts and compatible(node.declared, nodes[c].declared)]
        if not near and node.person and node.contexts:  # a middle name alone, in the text that writes the full name
            near = [c for c in inner.get(token, ()) if node.contexts <= nodes[c].contexts]
        if not near and _organisation(node) and all(len(form.split()) == 1 for form in (*node.forms, *node.raw)):
            # An organisation's first or last word, written alone in the text that names it in full: "Telekom",
            # "the Lakers"; not "Daimler AG", a name of its own beside "Daimler Truck".
            near = [c for c in organisations.get(token, ()) if node.contexts and node.contexts <= nodes[c].contexts]
            if len(near) > 1:  # "Mitsubishi" beside Mitsubishi Motors and Mitsubishi Heavy Industries: no pair, or the
                near = []  # organisation-word rule, which is no short-form rule, would join it to both
        chosen = near or (surnames.get(_surname(token), [])[:limit] if node.declared == "PERSON" else [])
        if chosen:
            node.short_of = frozenset(chosen)
            for c in chosen:
                pairs.add(node.idx, c)


def _organisation(node: Node) -> bool:
    return node.declared == "ORG" and not node.person


def _surname(token: str) -> str:
    return surname_key(token) if len(token) >= 4 else token


def score(nodes: list[Node], codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Score every candidate pair: edges worth keeping (codes, scores), vetoes, surname vetoes, and per edge
    the node that is a short form of the other (``-1``: none; see ``cluster``)."""
    edges, scores, vetoes, bridgeable, bare = array("q"), array("d"), array("q"), array("q"), array("q")
    for code in codes.tolist():
        i, j = code >> 32, code & 0xFFFFFFFF
        s, rule = explain_pair(nodes[i], nodes[j])
        if s is None:
            vetoes.append(code)
        elif s < 0:
            bridgeable.append(code)
        elif s >= REVIEW_AT:
            edges.append(code)
            scores.append(s)
            bare.append(-1 if rule not in SHORT_RULES else i if len(nodes[i].f.tokens) < len(nodes[j].f.tokens) else j)
    as_np = [np.frombuffer(a, dtype=np.int64 if a.typecode == "q" else np.float64) if a else np.zeros(0, np.int64 if a.typecode == "q" else np.float64)
             for a in (edges, scores, vetoes, bridgeable, bare)]  # fmt: skip
    return as_np[0], as_np[1], as_np[2], as_np[3], as_np[4]


def adjudicate_band(
    edges: np.ndarray, scores: np.ndarray, nodes: list[Node], adjudicate: Adjudicator
) -> tuple[np.ndarray, np.ndarray, int]:
    """Ask ``adjudicate`` about the borderline edges; a yes lifts an edge to the merge threshold."""
    borderline = np.flatnonzero(scores < MERGE_AT)
    if not len(borderline):
        return edges, scores, 0
    questions = [(nodes[c >> 32].as_mention(), nodes[c & 0xFFFFFFFF].as_mention()) for c in edges[borderline].tolist()]
    verdicts = np.asarray(adjudicate(questions), dtype=bool)
    scores = scores.copy()
    scores[borderline[verdicts]] = MERGE_AT
    return edges, scores, len(borderline)
