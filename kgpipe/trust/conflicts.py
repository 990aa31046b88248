"""Conflict resolution for functional relations: one value expected, several found; keep all, mark the losers.

A relation is functional when the ontology says so (``owl:FunctionalProperty``: "born in", "date of
birth"...) or when the data says so: at least ``min_heads`` heads use it and at least ``ratio`` of
them have a single tail. For each head with several tails, the fact with the highest confidence
wins, then the one more documents support, then the smallest tail id (so a re-run agrees); the
winner gets ``conflict = false`` and the others ``conflict = true``. Nothing is deleted: a reader
(or ``WHERE NOT coalesce(r.conflict, false)``) chooses what to trust. The pass recomputes every
mark, so it is idempotent and follows deletions.

    >>> resolve_conflicts(store, load_ontology("general"))        # doctest: +SKIP
    {'functional_relations': 2, 'declared': 1, 'learned': 1, 'heads_in_conflict': 1, 'facts_marked_conflict': 1, ...}
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ..stores import cypher

if TYPE_CHECKING:
    from ..ontology import Ontology
    from ..stores import Store


def functional_types(
    store: "Store", ontology: "Ontology | None" = None, *, learn: bool = True, min_heads: int = 5, ratio: float = 0.9
) -> dict[str, str]:
    """Relationship types in the store that are functional → ``"declared"`` or ``"learned"``."""
    found: dict[str, str] = {}
    present = [row[0] for row in store.execute(*cypher.relationship_type_counts()).rows]
    for rel_type in sorted(set(present) - cypher.RESERVED_REL_TYPES):
        declared = ontology.relation(rel_type) if ontology is not None else None
        if declared is not None and declared.functional:
            found[rel_type] = "declared"
        elif learn and declared is None:  # a relation the ontology describes as many-valued stays so
            heads, single = store.execute(*cypher.functional_profile(rel_type)).rows[0]
            if int(heads or 0) >= min_heads and int(single or 0) >= ratio * int(heads):
                found[rel_type] = "learned"
    return found


def _rank(fact: dict[str, Any]) -> tuple[float, int, str]:
    confidence = fact["confidence"]
    confidence = -math.inf if confidence is None or not math.isfinite(float(confidence)) else float(confidence)
    return (-confidence, -int(fact["support"] or 0), str(fact["tail"]))


def resolve_conflicts(
    store: "Store", ontology: "Ontology | None" = None, *, learn: bool = True, min_heads: int = 5, ratio: float = 0.9
) -> dict[str, Any]:
    """Mark conflicting values of functional relations (see the module docstring); returns what it did."""
    types = functional_types(store, ontology, learn=learn, min_heads=min_heads, ratio=ratio)
    store.execute(*cypher.clear_conflict_marks(), write=True)
    heads = losers = 0
    for rel_type in types:
        by_head: dict[str, list[dict[str, Any]]] = {}
        for fact in store.execute(*cypher.conflicting_facts(rel_type)).records():
            by_head.setdefault(fact["head"], []).append(fact)
        rows: list[dict[str, Any]] = []
        for head, facts in by_head.items():
            facts.sort(key=_rank)
            rows.append({"h": head, "t": facts[0]["tail"], "conflict": False})
            rows += [{"h": head, "t": f["tail"], "conflict": True} for f in facts[1:]]
            heads += 1
            losers += len(facts) - 1
        for start in range(0, len(rows), 5000):
            store.execute(*cypher.mark_conflicts(rows[start : start + 5000], rel_type), write=True)
    return {
        "functional_relations": len(types),
        "declared": sum(1 for how in types.values() if how == "declared"),
        "learned": sum(1 for how in types.values() if how == "learned"),
        "relations": types,
        "heads_in_conflict": heads,
        "facts_marked_conflict": losers,
    }
