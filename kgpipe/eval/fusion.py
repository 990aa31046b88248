"""``kgpipe eval fusion``: resolve a gold set of mentions and score the clusters against the gold ones.

Gold file: JSON lines ``{"mention": str, "type": str, "cluster": str}``, optionally ``"context": str``
(the sentence a reader would need). Every line is one mention; lines with the same ``cluster``
are one entity. Reported: B-cubed precision/recall/F1 (per mention, averaged) and pairwise
precision/recall/F1 (over mention pairs), plus the wrongly merged and wrongly split gold clusters.
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Hashable, Sequence

from ..errors import DataError
from ..fusion.match import MERGE_AT, explain_pair
from ..fusion.places import SOURCES
from ..fusion.resolve import EntityIndex, Trace
from ..records import GENERIC_TYPE, MentionIn


def load_gold(path: str | Path) -> tuple[list[MentionIn], list[str]]:
    """Mentions and their gold cluster labels; ``DataError`` names the first malformed line."""
    mentions: list[MentionIn] = []
    labels: list[str] = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise DataError(f"cannot read gold file {path}: {exc.strerror or exc}") from None
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            row = json.loads(line)
            mention, cluster = row["mention"], row["cluster"]
        except (ValueError, KeyError, TypeError) as exc:
            raise DataError(f"{path}:{number}: expected {{\"mention\", \"type\", \"cluster\"}}: {exc}") from None
        if not isinstance(mention, str) or not mention.strip():
            raise DataError(f"{path}:{number}: empty mention")
        mentions.append(MentionIn(mention, str(row.get("type") or GENERIC_TYPE), row.get("context") or None))
        labels.append(str(cluster))
    if not mentions:
        raise DataError(f"{path}: no mentions")
    return mentions, labels


def _prf(p: float, r: float) -> dict[str, float]:
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4)}


def b_cubed(predicted: Sequence[Hashable], gold: Sequence[Hashable]) -> dict[str, float]:
    """B-cubed precision/recall/F1 of a clustering (``predicted[i]``, ``gold[i]``: cluster of item ``i``)."""
    joint = Counter(zip(predicted, gold))
    size_p, size_g = Counter(predicted), Counter(gold)
    n = len(gold)
    p = sum(joint[(a, b)] ** 2 / size_p[a] for a, b in joint) / n
    r = sum(joint[(a, b)] ** 2 / size_g[b] for a, b in joint) / n
    return _prf(p, r)


def pairwise(predicted: Sequence[Hashable], gold: Sequence[Hashable]) -> dict[str, float]:
    """Precision/recall/F1 over the pairs of items put in one cluster (1.0 when there are no pairs)."""

    def pairs(counts: Counter[Any]) -> int:
        return sum(c * (c - 1) // 2 for c in counts.values())

    true = pairs(Counter(zip(predicted, gold)))
    said, real = pairs(Counter(predicted)), pairs(Counter(gold))
    return _prf(true / said if said else 1.0, true / real if real else 1.0)


def explain(trace: Trace, i: int, j: int) -> dict[str, Any]:
    """Why mentions ``i`` and ``j`` were (not) joined as a pair: the rule, its score, whether they were compared."""
    a, b = trace.mention_node[i], trace.mention_node[j]
    if a == b:
        return {"rule": "one node (same normalised name, type and kind)", "score": 1.0, "compared": True}
    score, rule = explain_pair(trace.nodes[a], trace.nodes[b])
    found: dict[str, Any] = {"rule": rule, "score": None if score is None else round(score, 3),
                             "compared": (min(a, b) << 32 | max(a, b)) in trace.compared}  # fmt: skip
    if a in trace.ambiguous or b in trace.ambiguous:
        found["ambiguous"] = trace.nodes[a if a in trace.ambiguous else b].f.surface
    return found


def errors(
    mentions: Sequence[MentionIn], predicted: Sequence[str], gold: Sequence[str], trace: Trace | None = None
) -> dict[str, list[Any]]:
    """Predicted clusters that mix gold clusters (``merged``) and gold clusters cut in pieces (``split``).

    With a ``trace``, each error comes as ``{"names": ..., "why": [...]}``: for a split, why the first piece did not
    join each other piece (the rule and score of the best pair between them, whether blocking compared them, an
    ambiguous short name); for a merge, the pairs across gold clusters that merged directly and their rule.
    """
    by_pred: dict[str, list[int]] = defaultdict(list)
    by_gold: dict[str, list[int]] = defaultdict(list)
    for i, (p, g) in enumerate(zip(predicted, gold)):
        by_pred[p].append(i)
        by_gold[g].append(i)

    def show(i: int) -> str:
        return f"{mentions[i].name} [{gold[i]}]"

    merged: list[Any] = []
    for items in by_pred.values():
        if len({gold[i] for i in items}) > 1:
            names = [show(i) for i in items]
            if trace is None:
                merged.append(names)
                continue
            why = [{"pair": [mentions[i].name, mentions[j].name], **found}
                   for k, i in enumerate(items) for j in items[k + 1 :] if gold[i] != gold[j]
                   for found in [explain(trace, i, j)] if (found["score"] or 0) >= MERGE_AT and found["compared"]]  # fmt: skip
            merged.append({"names": names, "why": why or [{"rule": "joined through other names"}]})
    split: list[Any] = []
    for items in by_gold.values():
        pieces = list(dict.fromkeys(predicted[i] for i in items))
        if len(pieces) < 2:
            continue
        names = [" | ".join(mentions[i].name for i in items if predicted[i] == p) for p in pieces]
        if trace is None:
            split.append(names)
            continue
        first = [i for i in items if predicted[i] == pieces[0]]
        why = []
        for piece in pieces[1:]:
            found = [(explain(trace, i, j), i, j) for i in first for j in items if predicted[j] == piece]
            best, i, j = max(found, key=lambda f: (f[0]["compared"], f[0]["score"] is not None, f[0]["score"] or 0))
            why.append({"pair": [mentions[i].name, mentions[j].name], **best})
        split.append({"names": names, "why": why})
    return {"merged": merged, "split": split}


def evaluate_fusion(
    path: str | Path,
    *,
    ner: bool = True,
    embed: bool = True,
    adjudicate: Any = None,
    aliases: Sequence[Sequence[str]] = (),
    places: str | Sequence[str] = SOURCES,
    lexicon: str = "wordnet",
) -> dict[str, Any]:
    """Resolve the gold file's mentions into an empty index and score them against the gold clusters.

    ``aliases``: curated groups of names (``kgpipe.fusion.aliases.read_aliases``) the index is given; ``places``: the
    packaged gazetteers it uses (``kgpipe.fusion.places``; "" for none); ``lexicon``: the packaged dictionaries
    (``kgpipe.fusion.lexicon``; "" for none).
    """
    mentions, gold = load_gold(path)
    started = time.perf_counter()
    resolution = EntityIndex(aliases=aliases, places=places, lexicon=lexicon).resolve(mentions, ner=ner, embed=embed, adjudicate=adjudicate, trace=True)
    seconds = time.perf_counter() - started
    predicted = resolution.ids
    return {
        "gold": str(path),
        "mentions": len(mentions),
        "gold_clusters": len(set(gold)),
        "predicted_clusters": len(set(predicted)),
        "b_cubed": b_cubed(predicted, gold),
        "pairwise": pairwise(predicted, gold),
        "candidate_pairs": resolution.stats["candidate_pairs"],
        "all_pairs": resolution.stats["all_pairs"],
        "adjudicated_pairs": resolution.stats["adjudicated"],
        "seconds": round(seconds, 2),
        "ambiguous": resolution.stats["ambiguous"],
        "errors": errors(mentions, predicted, gold, resolution.trace),
    }
