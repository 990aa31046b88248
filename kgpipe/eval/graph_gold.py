"""``kgpipe eval graph --gold FILE``: the graph a build stored, scored against a list of gold facts.

What a user's own build would be judged on: its facts as stored (after judging, fusion and conflict
resolution), each entity matching a gold name by its name or any of its aliases. Reports

* (head, tail) pairs: precision (stored pairs that match a gold pair), recall (gold pairs found);
* triples: the same with the relation label compared too;
* the graph's shape: facts, relation types, the longest relation label (words), and statements made
  twice: two facts between the same two entities, either way round, whose labels say the same after
  normalisation — or any two facts between the same pair, which a one-fact-per-statement graph rarely has.

The gold file is ``head<TAB>relation<TAB>tail[<TAB>source]`` lines, ``#`` comments (``data/sample_gold.tsv``).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import DataError
from .graph_metrics import normalise

if TYPE_CHECKING:
    from ..stores import Store


def load_gold(path: str | Path) -> list[tuple[str, str, str]]:
    """Gold facts of a TSV file (``DataError`` naming a malformed line)."""
    rows = []
    for i, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) < 3:
            raise DataError(f"{path}:{i}: expected head<TAB>relation<TAB>tail[<TAB>source], got {line[:80]!r}")
        rows.append((parts[0], parts[1], parts[2]))
    if not rows:
        raise DataError(f"{path}: no gold facts")
    return rows


def evaluate_graph(store: "Store", gold_path: str | Path) -> dict[str, Any]:
    """The stored graph against the gold facts of ``gold_path`` (see the module docstring)."""
    from ..stores import cypher

    gold = load_gold(gold_path)
    gold_pairs = {(normalise(h), normalise(t)) for h, _, t in gold}
    gold_triples = {(normalise(h), normalise(r), normalise(t)) for h, r, t in gold}
    entities = {e["id"]: e for e in store.execute(*cypher.export_entities()).records()}
    facts = store.execute(*cypher.export_facts()).records()

    def names(entity_id: str) -> set[str]:
        e = entities.get(entity_id, {})
        return {normalise(e.get("name") or "")} | {normalise(a) for a in (e.get("aliases") or [])}

    def label(fact: dict[str, Any]) -> str:
        return fact.get("label") or fact["type"]

    pairs = {(f["head_id"], f["tail_id"]) for f in facts}
    right_pairs = [p for p in pairs if any((a, b) in gold_pairs for a in names(p[0]) for b in names(p[1]))]
    found_pairs = {(a, b) for h, t in pairs for a in names(h) for b in names(t)} & gold_pairs
    triples = {(f["head_id"], normalise(label(f)), f["tail_id"]) for f in facts}
    right_triples = [t for t in triples if any((a, t[1], b) in gold_triples for a in names(t[0]) for b in names(t[2]))]
    found_triples = {(a, r, b) for h, r, t in triples for a in names(h) for b in names(t)} & gold_triples
    between = Counter(frozenset((f["head_id"], f["tail_id"])) for f in facts)
    labels = [label(f) for f in facts]
    return {
        "gold": str(gold_path),
        "facts": len(facts),
        "entities": len(entities),
        "pairs": _prf(len(right_pairs), len(pairs), len(found_pairs), len(gold_pairs)),
        "triples": _prf(len(right_triples), len(triples), len(found_triples), len(gold_triples)),
        "relation_types": len(set(labels)),
        "longest_relation_words": max((len(x.split()) for x in labels), default=0),
        "pairs_with_several_facts": sum(1 for n in between.values() if n > 1),
        "right_pairs": sorted(f"{entities[h]['name']} -> {entities[t]['name']}" for h, t in right_pairs),
    }


def _prf(right: int, predicted: int, found: int, gold: int) -> dict[str, float]:
    precision = right / predicted if predicted else 0.0
    recall = found / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
            "right": right, "predicted": predicted, "found": found, "gold": gold}  # fmt: skip
