"""Scored pairs → clusters → entities: union-find with cannot-links, then canonical names and stable ids.

Greedy, best edge first: an edge joins its two clusters unless a veto connects them or both hold a
graph entity. This keeps the transitivity of union-find from chaining across a veto ("Marie Curie"
~ "Marie Skłodowska-Curie" may join, but "Pierre Curie" can then not join either).
"""

from __future__ import annotations

from collections import Counter
from typing import Mapping

import numpy as np

from ..records import GENERIC_TYPE, Entity, stable_id
from .kinds import coarse_type, majority, surface_kind
from .match import Node
from .names import normalise_name


def entity_id(name: str, *qualifiers: str) -> str:
    """A new entity's id: the stable hash of its normalised canonical name (qualified for homonyms)."""
    return stable_id("entity", normalise_name(name), *qualifiers)


def _neighbours(codes: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Pair codes (``i << 32 | j``) as an adjacency in CSR form: node ``x``'s neighbours are ``nbr[ptr[x]:ptr[x + 1]]``."""
    i, j = codes >> 32, codes & 0xFFFFFFFF
    src, dst = np.concatenate([i, j]), np.concatenate([j, i])
    order = np.argsort(src, kind="stable")
    return np.searchsorted(src[order], np.arange(n + 1)), dst[order]


def cluster(
    nodes: list[Node],
    edges: np.ndarray,
    scores: np.ndarray,
    vetoes: np.ndarray,
    bridgeable: np.ndarray,
    bare: np.ndarray | None = None,
    ambiguous: list[tuple[int, list[int]]] | None = None,
) -> list[int]:
    """The cluster root of every node. Pairs are codes ``i << 32 | j``; ``edges[k]`` scored ``scores[k]``.

    ``bare[k]`` (``-1``: none): the node of ``edges[k]`` that is a short or bare form of the other ("Obama" /
    "Barack Obama", "Springfield" / "Springfield, Illinois"; ``match.SHORT_RULES``). Such a node joins after
    the others have clustered, and only when its candidates are one cluster: those in its own document if
    it has any there, else all of them; with two or more it stays apart and ``(node, [roots])`` is appended
    to ``ambiguous``. Its other edges ("Obama" / "Obama") apply after that, unless it was ambiguous.

    ``bridgeable``: person names with one first name and other surnames; they may share a cluster
    only with a member whose surnames include both ("Marie Skłodowska-Curie" joins "Marie Curie"
    and "Marie Skłodowska"; nothing joins "Diego Riri-Salinwo" and "Diego Selkaxe-Riri").

    An acronym takes one expansion: once its cluster holds a full name, it joins no other full
    name through an acronym ("KS" may join "Kari Systems", then not "Kobe Sun"), so acronyms,
    which are ambiguous, cannot chain different entities.
    """
    n = len(nodes)
    parent = list(range(n))
    members: dict[int, list[int]] = {}
    entity: dict[int, str] = {}
    acronym = [node.f.is_acronym for node in nodes]
    full = {i for i in range(n) if not acronym[i]}  # roots whose cluster holds a full (non-acronym) name
    hard_ptr, hard = _neighbours(vetoes, n)
    soft_ptr, soft = _neighbours(bridgeable, n)

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def group(root: int) -> list[int]:
        return members.get(root) or [root]

    def join(a: int, b: int) -> None:  # roots; the larger cluster absorbs the smaller
        if len(group(a)) < len(group(b)):
            a, b = b, a
        parent[b] = a
        members.setdefault(a, [a]).extend(members.pop(b, [b]))
        if b in full:
            full.discard(b)
            full.add(a)
        if b in entity:
            entity[a] = entity.pop(b)

    def surnames(x: int) -> set[str]:
        return set(nodes[x].f.tokens[1:])

    def blocked(a: int, b: int) -> bool:
        small, other = (a, b) if len(group(a)) <= len(group(b)) else (b, a)
        for x in group(small):
            if any(find(v) == other for v in hard[hard_ptr[x] : hard_ptr[x + 1]].tolist()):
                return True
            for v in soft[soft_ptr[x] : soft_ptr[x + 1]].tolist():
                if find(v) == other:
                    need = surnames(x) | surnames(v)
                    if not any(surnames(m) >= need for m in (*group(a), *group(b))):
                        return True
        return False

    first_node: dict[str, int] = {}
    for node in nodes:  # a graph entity's names are one cluster from the start
        if node.entity is None:
            continue
        root = find(node.idx)
        if node.entity in first_node:
            other = find(first_node[node.entity])
            if other != root:
                join(other, root)
        else:
            first_node[node.entity] = node.idx
            entity[root] = node.entity
    short: dict[int, list[int]] = {}  # bare node -> the nodes it may be short for
    if bare is not None and len(bare):
        is_short = bare >= 0
        for code, x in zip(edges[is_short].tolist(), bare[is_short].tolist()):
            short.setdefault(x, []).append((code & 0xFFFFFFFF) if x == code >> 32 else code >> 32)
        edges, scores = edges[~is_short], scores[~is_short]
    deferred: list[int] = []
    for code in edges[np.lexsort((edges, -scores))].tolist():  # best first; ties in name order
        i, j = code >> 32, code & 0xFFFFFFFF
        if i in short or j in short:
            deferred.append(code)
            continue
        a, b = find(i), find(j)
        if a == b or (a in entity and b in entity):
            continue
        if (acronym[i] or acronym[j]) and a in full and b in full:
            continue  # an acronym between two clusters that both hold full names: it may stand for either
        if blocked(a, b):
            continue
        join(a, b)
    resolved: set[int] = set()
    unclear: set[int] = set()
    for x in sorted(short):
        own = find(x)
        near = {find(p) for p in short[x] if nodes[p].contexts & nodes[x].contexts} - {own}
        roots = near or {find(p) for p in short[x]} - {own}
        if len(roots) == 1:
            (root,) = roots
            if not (own in entity and root in entity) and not blocked(own, root):
                join(own, root)
                resolved.add(x)
        elif roots:
            unclear.add(x)
            if ambiguous is not None:
                ambiguous.append((x, sorted(roots)))
    for code in deferred:
        i, j = code >> 32, code & 0xFFFFFFFF
        if i in unclear or j in unclear or (i in resolved and j in resolved):
            continue
        a, b = find(i), find(j)
        if a == b or (a in entity and b in entity) or blocked(a, b):
            continue
        join(a, b)
    return [find(i) for i in range(n)]


def assign(nodes: list[Node], roots: list[int], graph_entities: Mapping[str, Entity]) -> tuple[dict[int, str], dict[str, Entity], set[str]]:
    """Entity id per new node, the entities to write (new ones, and graph ones with new names), the new ids.

    ``graph_entities``: the entities already in the graph (by id), which nodes locked to them grow.
    """
    groups: dict[int, list[Node]] = {}
    for node, root in zip(nodes, roots):
        groups.setdefault(root, []).append(node)
    ids: dict[int, str] = {}
    entities: dict[str, Entity] = {}
    new: set[str] = set()
    pending: list[tuple[tuple, list[Node]]] = []
    for group in groups.values():
        fresh = [n for n in group if n.entity is None]
        if not fresh:
            continue
        known = next((n.entity for n in group if n.entity), None)
        if known is not None:
            entities[known] = _grown(graph_entities[known], fresh)
            ids.update((n.idx, known) for n in fresh)
        else:
            forms = sum((n.forms for n in fresh), Counter())
            pending.append(((-sum(forms.values()), min(n.f.norm for n in fresh), min(n.idx for n in fresh)), fresh))
    taken = set(graph_entities)
    for _, fresh in sorted(pending, key=lambda p: p[0]):  # biggest first: it gets the plain id
        kinds = Counter(n.kind for n in fresh if n.kind)
        kind = majority(kinds)
        name = canonical_name(sum((n.forms for n in fresh), Counter()), kind)
        types = sum((n.types for n in fresh), Counter())
        typ = majority(types) or GENERIC_TYPE
        eid = entity_id(name)
        coarse = coarse_type(typ) or next((n.declared for n in fresh if n.declared), None) or ""
        k = 0
        while eid in taken:
            k += 1
            eid = entity_id(name, coarse, kind or "", str(k))
        taken.add(eid)
        aliases = sorted({s for n in fresh for s in (*n.raw, *n.forms)} - {name})
        entities[eid] = Entity(eid, name, typ, tuple(aliases))
        new.add(eid)
        ids.update((n.idx, eid) for n in fresh)
    return ids, entities, new


def _grown(entity: Entity, fresh: list[Node]) -> Entity:
    """A graph entity with its new names as aliases, and a specific type where it had only a generic one."""
    names = {entity.name, *entity.aliases}
    more = sorted({s for n in fresh for s in (*n.raw, *n.forms)} - names)
    typ = entity.type
    if coarse_type(typ) is None:
        typ = majority(sum((n.types for n in fresh), Counter())) or typ
    return Entity(entity.id, entity.name, typ, (*entity.aliases, *more))


def canonical_name(forms: Counter[str], kind: str | None) -> str:
    """The most frequent spelling; ties go to one that shows the cluster's kind, then the fuller one.

    The name shows the kind (a common noun in lower case, a proper name capitalised) because a
    later build reads the kind of a graph entity back from its name.
    """

    def fits(s: str) -> bool:
        return kind is None or surface_kind(s) in (kind, None)

    name = min(forms, key=lambda s: (-forms[s], not fits(s), not any(c.isupper() for c in s), -len(s), s))
    if kind == "common" and surface_kind(name) == "named":
        name = name.lower()
    elif kind == "named" and surface_kind(name) == "common":
        name = name.title()
    return name
