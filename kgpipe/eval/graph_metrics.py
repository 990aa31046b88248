"""Graph-matching metrics for extraction, as GraphJudger reports them, implemented here without heavy deps.

* Triple precision/recall/F1: normalised exact match, micro-averaged over all documents; the same
  for (head, tail) pairs with the relation ignored.
* G-BLEU, G-ROUGE, G-BERTScore-style: each edge is the text ``"head relation tail"``; predicted and
  gold edges of a document are paired one-to-one by the Hungarian algorithm on a similarity matrix
  (sentence BLEU-4, ROUGE-2 precision, cosine of sentence embeddings); precision is the matched
  similarity over the predicted edges, recall over the gold edges; averaged over documents.

GraphJudger's released script builds each edge as ``";".join(str(triple))``, which joins the
*characters* of the list's printed form, so every edge becomes ``"[;';a;b;c;'..."`` and any two edges
share most of their "tokens"; the scores it reports are inflated. Here an edge joins its three strings.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Callable, Sequence

import numpy as np

from ..text import fold_diacritics

Triple3 = tuple[str, str, str]
Embed = Callable[[list[str]], np.ndarray]  # texts -> unit-norm row vectors

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NON_WORD = re.compile(r"[^0-9a-z]+")
_TOKEN = re.compile(r"[0-9a-z]+|[^\s0-9a-z]")


def normalise(part: str) -> str:
    """Key for exact match: camelCase split ("isPartOf" = "is Part Of"), case, diacritics, punctuation
    and spacing ignored; a full date as its ISO form ("11 May 1995" = "May 11, 1995" = "1995-05-11")."""
    date = iso_date(part)
    if date is not None:
        return date.replace("-", " ")
    part = _CAMEL.sub(" ", part.replace("_", " "))
    return " ".join(_NON_WORD.split(fold_diacritics(part).casefold())).strip()


_MONTHS = {m: i + 1 for i, m in enumerate(("january", "february", "march", "april", "may", "june", "july", "august",
                                          "september", "october", "november", "december"))}  # fmt: skip
_MONTHS.update({m[:3]: i for m, i in list(_MONTHS.items())})
_DAY_MONTH_YEAR = re.compile(r"(\d{1,2})(?:st|nd|rd|th)?\s+([a-z]+)\.?,?\s+(\d{3,4})")
_MONTH_DAY_YEAR = re.compile(r"([a-z]+)\.?\s+(\d{1,2})(?:st|nd|rd|th)?\s*,?\s+(\d{3,4})")
_ISO = re.compile(r"(\d{3,4})-(\d{1,2})-(\d{1,2})")


def iso_date(text: str) -> str | None:
    """``text`` as ``YYYY-MM-DD`` when the whole of it is a full date in a common English form, else None.

    Gold graphs write dates their own way (GenWiki ``1995-05-11``, REBEL ``11 May 1995``) and a grounded
    extractor writes them as its text does; the same day is the same value."""
    t = " ".join(text.casefold().split())
    if m := _ISO.fullmatch(t):
        year, month, day = (int(g) for g in m.groups())
    elif m := _DAY_MONTH_YEAR.fullmatch(t):
        day, month, year = int(m[1]), _MONTHS.get(m[2], 0), int(m[3])
    elif m := _MONTH_DAY_YEAR.fullmatch(t):
        month, day, year = _MONTHS.get(m[1], 0), int(m[2]), int(m[3])
    else:
        return None
    return f"{year:04d}-{month:02d}-{day:02d}" if 1 <= month <= 12 and 1 <= day <= 31 else None


def normalise_triple(triple: Sequence[str]) -> Triple3:
    h, r, t = (normalise(str(x)) for x in triple)
    return h, r, t


def edge_text(triple: Sequence[str]) -> str:
    """One edge as a sentence: its three strings joined by spaces (the corrected GraphJudger join)."""
    return " ".join(" ".join(str(part).split()) for part in triple)


def tokens(text: str) -> list[str]:
    """Lower-cased word and punctuation tokens, the unit of G-BLEU and G-ROUGE."""
    return _TOKEN.findall(fold_diacritics(text).casefold())


# -- triple match -------------------------------------------------------------------------------------


def triple_match(
    gold: Sequence[Sequence[Sequence[str]]], pred: Sequence[Sequence[Sequence[str]]], *, relation: bool = True
) -> dict[str, float]:
    """Micro precision/recall/F1 of normalised triples, each document's triples taken as a set.

    ``relation=False`` matches (head, tail) pairs only: whether the right entities were linked, whatever
    the relation is called (gold graphs use their source's relation vocabulary, e.g. DBpedia's).
    """

    def key(t: Sequence[str]) -> tuple[str, ...]:
        h, r, tail = normalise_triple(t)
        return (h, r, tail) if relation else (h, tail)

    tp = n_pred = n_gold = 0
    for g, p in zip(gold, pred):
        gs = {key(t) for t in g}
        ps = {key(t) for t in p}
        tp += len(gs & ps)
        n_pred += len(ps)
        n_gold += len(gs)
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_gold if n_gold else 0.0
    return {"precision": precision, "recall": recall, "f1": _f1(precision, recall), "matched": tp, "predicted": n_pred, "gold": n_gold}


# -- similarity of two edges --------------------------------------------------------------------------


def _ngrams(toks: Sequence[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(toks[i : i + n]) for i in range(len(toks) - n + 1))


def bleu(candidate: Sequence[str], reference: Sequence[str], max_n: int = 4) -> float:
    """Sentence BLEU-4 with uniform weights, brevity penalty and add-epsilon smoothing of n-gram orders
    without a match (epsilon 0.1 over the count, as NLTK's ``SmoothingFunction().method1`` does)."""
    if not candidate or not reference:
        return 0.0
    logs = []
    for n in range(1, max_n + 1):
        cand = _ngrams(candidate, n)
        total = max(1, sum(cand.values()))  # an order the candidate is too short for counts as 0 of 1
        hits = sum((cand & _ngrams(reference, n)).values())
        if n == 1 and hits == 0:
            return 0.0
        logs.append(math.log((hits or 0.1) / total))
    c, r = len(candidate), len(reference)
    brevity = 1.0 if c > r else math.exp(1 - r / c)
    return brevity * math.exp(sum(logs) / max_n)


def rouge2_precision(candidate: Sequence[str], reference: Sequence[str]) -> float:
    """Share of the candidate's bigrams found in the reference (clipped counts), GraphJudger's G-ROUGE cell."""
    cand = _ngrams(candidate, 2)
    total = sum(cand.values())
    return sum((cand & _ngrams(reference, 2)).values()) / total if total else 0.0


# -- Hungarian pairing --------------------------------------------------------------------------------


def matched_scores(similarity: np.ndarray) -> tuple[float, float, float]:
    """``(precision, recall, f1)`` of one document from a predicted × gold similarity matrix, edges paired
    one-to-one by the Hungarian algorithm so that the total similarity is maximal."""
    from scipy.optimize import linear_sum_assignment

    n_pred, n_gold = similarity.shape
    if n_pred == 0 or n_gold == 0:
        return 0.0, 0.0, 0.0
    rows, cols = linear_sum_assignment(similarity, maximize=True)
    total = float(similarity[rows, cols].sum())
    precision, recall = total / n_pred, total / n_gold
    return precision, recall, _f1(precision, recall)


def graph_matching(
    gold: Sequence[Sequence[Sequence[str]]], pred: Sequence[Sequence[Sequence[str]]], embed: Embed | None = None
) -> dict[str, dict[str, float]]:
    """G-BLEU, G-ROUGE and (with ``embed``) G-BERTScore-style precision/recall/F1, averaged over documents.

    A document with no predicted edge scores 0 on all three, as in GraphJudger's script (which puts a
    ``["Null", "Null", "Null"]`` edge there); duplicate edges are dropped. Because of that, leaving a
    document empty lowers the averaged precision however wrong its edges were, so ``edge_precision``
    is also given: the matched similarity of all predicted edges over their number (micro-averaged).
    """
    names = ["g_bleu", "g_rouge"] + (["g_bertscore"] if embed is not None else [])
    sums = {name: np.zeros(3) for name in names}
    matched = {name: 0.0 for name in names}  # similarity of all matched pairs, for the per-edge precision
    n_predicted = 0
    for g, p in zip(gold, pred):
        g_edges = list(dict.fromkeys(edge_text(t) for t in g))
        p_edges = list(dict.fromkeys(edge_text(t) for t in p))
        g_tok, p_tok = [tokens(e) for e in g_edges], [tokens(e) for e in p_edges]
        shape = (len(p_edges), len(g_edges))
        matrices = {
            "g_bleu": np.array([[bleu(pt, gt) for gt in g_tok] for pt in p_tok]).reshape(shape),
            "g_rouge": np.array([[rouge2_precision(pt, gt) for gt in g_tok] for pt in p_tok]).reshape(shape),
        }
        if embed is not None:
            if p_edges and g_edges:
                vectors = embed(p_edges + g_edges)
                matrices["g_bertscore"] = np.clip(vectors[: len(p_edges)] @ vectors[len(p_edges) :].T, 0.0, 1.0)
            else:
                matrices["g_bertscore"] = np.zeros(shape)
        n_predicted += len(p_edges)
        for name in names:
            scores = matched_scores(matrices[name])
            sums[name] += scores
            matched[name] += scores[0] * len(p_edges)
    n = max(1, len(gold))
    out: dict[str, dict[str, float]] = {}
    for name in names:
        out[name] = dict(zip(("precision", "recall", "f1"), (float(x) / n for x in sums[name])))
        out[name]["edge_precision"] = matched[name] / n_predicted if n_predicted else 0.0
    return out


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0
