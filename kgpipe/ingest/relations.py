"""Relation canonicalisation (issue 11): one wording per relation, so no fact is stated three ways.

Free extraction names one relation many ways (``was founded in``, ``is founded in``, ``founded``). Each
triple's relation becomes a canonical label in three steps, and the chunk's own wording is kept beside it
(``Triple.wording``, stored on the relationship as the ``wordings`` list):

1. a cheap lexical normal form (``normal_form``): lower case, auxiliaries and the copula dropped in front
   (``is``, ``was``, ``has been``, ``had`` before a participle), a leading article dropped, prepositions
   kept; ``is a`` stays ``is a``. A wording over ``MAX_WORDS`` words loses its modifiers, then is cut;
2. with an ontology: the label its ``relation`` lookup finds (label, name, ``skos:altLabel``), else the
   label or alias closest by MiniLM cosine when at least ``LABEL_THRESHOLD``; a relation no label is
   close to is dropped (``unmapped="drop"``) or kept (``"keep"``, the default) and clustered as in 3.;
3. without an ontology: the normal forms of one batch are clustered by MiniLM cosine (leader clustering
   at ``CLUSTER_THRESHOLD``, leaders taken most frequent first, then shortest) and each cluster takes its
   leader's wording. A passive ``... by`` wording never joins an active one: ``founded by`` and
   ``founded`` state the relation in opposite directions.

The thresholds were tuned on ``data/sample`` and the first 40 GenWiki-Hard documents (README, extraction).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Protocol

import numpy as np

from ..records import Triple
from ..wording import normal_form

if TYPE_CHECKING:
    from ..ontology import Ontology

LABEL_THRESHOLD = 0.6  # cosine to the nearest ontology label or alias for a phrase to take that label
CLUSTER_THRESHOLD = 0.8  # cosine to a cluster's leader for a phrase to join it (no ontology)

class Embed(Protocol):
    """What the canonicaliser needs of an embedder (``kgpipe.llms.embed.Embedder``): unit rows per text."""

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


def _passive(phrase: str) -> bool:
    return phrase.endswith(" by")


class Canonicaliser:
    """Maps relation phrases to canonical labels; one per build, so its embeddings are computed once and a
    wording gets the same label in every batch.

    ``embedder`` defaults to the packaged MiniLM (``kgpipe.llms.embed.Embedder``), loaded only when a phrase
    needs an embedding (not for exact ontology labels, nor for a batch with one wording).
    """

    def __init__(self, ontology: Ontology | None = None, embedder: Embed | None = None, *,
                 label_threshold: float = LABEL_THRESHOLD, cluster_threshold: float = CLUSTER_THRESHOLD,
                 unmapped: str = "keep") -> None:  # fmt: skip
        if unmapped not in ("keep", "drop"):
            raise ValueError(f"unmapped must be 'keep' or 'drop', got {unmapped!r}")
        self.ontology = ontology
        self._embedder = embedder
        self.label_threshold = label_threshold
        self.cluster_threshold = cluster_threshold
        self.unmapped = unmapped
        self._leaders: list[str] = []  # clusters' names (normal forms), in the order they were made
        self._canonical: dict[str, str] = {}  # normal form -> its cluster's name

    @property
    def embedder(self) -> Embed:
        if self._embedder is None:
            from ..llms.embed import Embedder

            self._embedder = Embedder()
        return self._embedder

    def to_label(self, relation: str) -> str | None:
        """The ontology label for ``relation`` (exact lookup, then nearest by meaning); without a close label,
        its normal form (``unmapped="keep"``) or None (``"drop"``). Without an ontology: the normal form."""
        return self.to_labels([relation])[0]

    def to_labels(self, relations: Sequence[str], *, unmapped: str | None = None) -> list[str | None]:
        """``to_label`` of each phrase, embedding all the phrases that need it in one call; ``unmapped`` overrides
        the canonicaliser's policy for phrases no label is close to (validation drops them)."""
        keep = (unmapped or self.unmapped) == "keep"
        forms = [normal_form(r) for r in relations]
        if self.ontology is None:
            return [f or None for f in forms]
        onto = self.ontology
        out: list[str | None] = []
        todo: dict[str, None] = {}
        for r, f in zip(relations, forms):
            found = onto.normalise_relation(r) or (onto.normalise_relation(f) if f else None)
            out.append(found)
            if found is None and f:
                todo[f] = None
        if todo and onto.relations:
            texts, labels = self._label_texts()
            phrases = list(todo)
            sims = self.embedder.encode(phrases) @ self.embedder.encode(texts).T
            for phrase, row in zip(phrases, sims):
                order = np.argsort(-row)
                best = next((int(i) for i in order if _passive(phrase) == _passive(texts[int(i)])), int(order[0]))
                if row[best] >= self.label_threshold:
                    todo[phrase] = labels[best]  # type: ignore[assignment]
        for k, (r, f) in enumerate(zip(relations, forms)):
            if out[k] is None and f:
                mapped = todo.get(f)
                out[k] = mapped if mapped is not None else (f if keep else None)
        return out

    def _label_texts(self) -> tuple[list[str], list[str]]:
        """Every label and alias of the ontology's relations (normal forms), each with its relation's label."""
        assert self.ontology is not None
        pairs: dict[str, str] = {}
        for rel in self.ontology.relations:
            for text in (rel.label, *rel.aliases):
                pairs.setdefault(normal_form(text) or text, rel.label)
        return list(pairs), list(pairs.values())

    def cluster(self, relations: Sequence[str]) -> dict[str, str]:
        """Each distinct phrase's canonical wording when the phrases of one batch are clustered by meaning.

        The canonicaliser remembers its clusters: a wording an earlier batch (of the same build) named keeps
        its name, and a new wording joins an earlier cluster when close enough, so a fact from one batch and
        the same fact from another get one relation.
        """
        forms = {r: normal_form(r) for r in relations}
        counts = Counter(f for f in (forms[r] for r in relations) if f)
        new = sorted(
            (f for f in counts if f not in self._canonical), key=lambda f: (-counts[f], len(f.split()), len(f), f)
        )
        if len(new) == 1 and not self._leaders:  # one wording: nothing to compare it with, no model needed
            self._leaders.append(new[0])
            self._canonical[new[0]] = new[0]
        elif new:
            vectors = dict(zip(new + self._leaders, self.embedder.encode(new + self._leaders)))
            for f in new:
                sims = [
                    (float(vectors[f] @ vectors[lead]), lead) for lead in self._leaders if _passive(f) == _passive(lead)
                ]
                best = max(sims, default=(-1.0, ""))
                if best[0] >= self.cluster_threshold:
                    self._canonical[f] = best[1]
                else:
                    self._leaders.append(f)
                    self._canonical[f] = f
        return {r: self._canonical.get(f, "") for r, f in forms.items()}

    def canonicalise(self, triples: Sequence[Triple]) -> list[Triple]:
        """The triples with canonical relations (see the module docstring), each keeping its own wording;
        a triple whose relation is dropped (``unmapped="drop"``, or a wording of nothing but punctuation) goes."""
        distinct = list(dict.fromkeys(t.relation for t in triples))
        labels: dict[str, str | None]
        if self.ontology is not None:
            labels = dict(zip(distinct, self.to_labels(distinct)))
            kept = [t.relation for t in triples if labels[t.relation] and not self.ontology.relation(labels[t.relation])]
            if kept:  # wordings no label is close to are clustered among themselves, as without an ontology
                labels.update(self.cluster(kept))
        else:
            labels = dict(self.cluster([t.relation for t in triples]))
        out = []
        for t in triples:
            label = labels.get(t.relation)
            if label:
                out.append(replace(t, relation=label, wording=t.wording or t.relation))
        return out


def canonicalise(
    triples: Sequence[Triple],
    ontology: Ontology | None = None,
    embedder: Embed | None = None,
    *,
    unmapped: str = "keep",
) -> list[Triple]:
    """``triples`` with canonical relation labels (the ontology's, or one wording per cluster of meaning).

    >>> canonicalise([Triple("IBM", "was founded in", "1911")])[0].relation  # one wording: no model needed
    'founded in'
    """
    return Canonicaliser(ontology, embedder, unmapped=unmapped).canonicalise(triples)
