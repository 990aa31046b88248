"""Entity resolution: mentions → canonical entity ids, against the entities a graph already has.

How (Graphusion-style fusion, made incremental):

1. **Nodes.** Mentions with the same normalised name, coarse type and kind (proper name or common
   noun, read from the context) are one node; an entity already in the graph contributes one node
   per name or alias, all locked to that entity.
2. **Blocking.** Nodes are compared only when they share a key from ``names.blocking_keys`` (core
   name, bag of words, acronym/initials, a word, a five-letter prefix); inside a key's block each
   node meets its ``window`` nearest neighbours in name order, so the cost grows with the number of
   nodes, not its square. Small runs add each name's nearest MiniLM neighbours (exonyms such as
   "Munich"/"München"); a name that is the only person in its context with that word also meets the
   short form ("Jordan" → "Michael Jordan").
3. **Scoring** (``kgpipe.match.score_pair``): rules on names (exact core, same words, acronym,
   person names, plurals, typos), MiniLM cosine for synonyms, and vetoes: different coarse types,
   proper name versus common noun, different numbers, different first names.
4. **Clustering.** Edges are taken from the best score down and join two clusters unless a veto
   links them or both already are graph entities (fusion never merges or splits what the graph
   has). Borderline edges go to an LLM when one is given.
5. **Ids.** A cluster holding a graph entity keeps its id and gains the new names as aliases; a new
   cluster's id is ``entity_id(canonical name)`` (so a rebuild finds the same ids), typed and
   numbered only when a homonym already holds that id.
"""

from __future__ import annotations

import logging
from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

import numpy as np

from . import cypher
from .match import MERGE_AT, REVIEW_AT, Node, is_person, score_pair
from .mention_types import coarse_type, kind_in_context, majority, ner_types, surface_kind
from .names import analyse, blocking_keys, normalise_name
from .records import Entity, stable_id

if TYPE_CHECKING:
    from .embed import Embedder
    from .stores import Store

log = logging.getLogger(__name__)

GENERIC_TYPE = "Thing"
_WIDE_KEYS = ("t:", "p:")  # keys shared by unrelated names: a narrow window
_MAX_BLOCK = 5000  # a word shared by more names than this says nothing about identity


def entity_id(name: str, *qualifiers: str) -> str:
    """A new entity's id: the stable hash of its normalised canonical name (qualified for homonyms)."""
    return stable_id("entity", normalise_name(name), *qualifiers)


@dataclass(frozen=True)
class MentionIn:
    """A mention to resolve: the name as extracted, its declared type, and the text around it (optional)."""

    name: str
    type: str = GENERIC_TYPE
    context: str | None = None


@dataclass
class Resolution:
    """``ids[i]`` is the entity of mention ``i``; ``entities`` are those entities as they should be written."""

    ids: list[str]
    entities: dict[str, Entity]
    new: set[str] = field(default_factory=set)
    stats: dict[str, Any] = field(default_factory=dict)


Adjudicator = Callable[[list[tuple[MentionIn, MentionIn]]], list[bool]]


class EntityIndex:
    """The canonical entities fusion resolves against: loaded from the store, grown by each ``resolve``.

    >>> index = EntityIndex()
    >>> r = index.resolve([MentionIn("IBM", "Company"), MentionIn("International Business Machines Corp.")])
    >>> r.ids[0] == r.ids[1], len(index)
    (True, 1)
    """

    def __init__(self, entities: Iterable[Entity] = (), *, embedder: "Embedder | None" = None) -> None:
        self.entities: dict[str, Entity] = {}
        self._blocks: dict[str, list[tuple[str, str, str]]] = {}  # key -> sorted (core, entity id, surface)
        self._embedder = embedder
        for e in entities:
            self.add(e)

    @classmethod
    def from_store(cls, store: "Store", **kwargs: Any) -> "EntityIndex":
        """Every entity of the store's graph (id, name, type, aliases)."""
        rows = store.execute(*cypher.export_entities()).records()
        return cls(
            (Entity(r["id"], r["name"] or "", r["type"] or GENERIC_TYPE, tuple(r["aliases"] or ())) for r in rows),
            **kwargs,
        )

    def __len__(self) -> int:
        return len(self.entities)

    def __contains__(self, entity_id: object) -> bool:
        return entity_id in self.entities

    def add(self, entity: Entity) -> None:
        """Add an entity, or update one: its name and type are replaced, its aliases unioned."""
        old = self.entities.get(entity.id)
        aliases = tuple(dict.fromkeys((*(old.aliases if old else ()), *entity.aliases)))
        surfaces = [entity.name, *aliases]
        if old is not None:
            surfaces = [s for s in surfaces if s not in {old.name, *old.aliases}]
        self.entities[entity.id] = Entity(entity.id, entity.name, entity.type, tuple(a for a in aliases if a != entity.name))
        for surface in dict.fromkeys(surfaces):
            f = analyse(surface)
            for key in blocking_keys(f):
                block = self._blocks.setdefault(key, [])
                item = (f.core, entity.id, surface)
                block.insert(bisect_left(block, item), item)

    def candidates(self, key: str, core: str, window: int) -> list[tuple[str, str, str]]:
        """Entities under ``key``: all of them, or the ``window`` nearest to ``core`` in name order."""
        block = self._blocks.get(key)
        if not block:
            return []
        if len(block) <= 2 * window:
            return block
        if key.startswith(_WIDE_KEYS) and len(block) > _MAX_BLOCK:
            return []
        at = bisect_left(block, (core, "", ""))
        return block[max(0, at - window) : at + window]

    def resolve(
        self,
        mentions: Sequence[MentionIn],
        *,
        adjudicate: Adjudicator | None = None,
        ner: bool = True,
        embed: bool = True,
        embed_limit: int = 2000,
        window: int = 20,
    ) -> Resolution:
        """Resolve ``mentions`` to entity ids (see the module docstring); the index learns the new entities.

        ``embed``: use MiniLM nearest neighbours as an extra blocking key when the run has at most
        ``embed_limit`` names (embedding costs about 1-5 ms a name on 2 cores). ``ner``: spaCy type hints.
        """
        from .cluster import assign, cluster

        nodes, mention_node = self._new_nodes(mentions, ner)
        n_new = len(nodes)
        pairs: set[tuple[int, int]] = set()
        _new_pairs(nodes, window, pairs)
        self._existing_pairs(nodes, n_new, window, pairs)
        pairs.update(_short_form_pairs(nodes[:n_new]))
        embedded = 0
        if embed and 0 < n_new <= embed_limit:
            embedded = self._embedding_pairs(nodes, n_new, pairs)
        edges: list[tuple[float, int, int]] = []
        vetoes: list[tuple[int, int]] = []
        for i, j in pairs:
            s = score_pair(nodes[i], nodes[j])
            if s is None:
                vetoes.append((i, j))
            elif s >= REVIEW_AT:
                edges.append((s, i, j))
        adjudicated = 0
        if adjudicate is not None:
            edges, adjudicated = _adjudicate(edges, nodes, adjudicate)
        edges = [e for e in edges if e[0] >= MERGE_AT]
        roots = cluster(nodes, edges, vetoes)
        ids, entities, new = assign(nodes, roots, self)
        for entity in entities.values():
            self.add(entity)
        stats = {
            "mentions": len(mentions),
            "nodes": n_new,
            "graph_names_compared": len(nodes) - n_new,
            "candidate_pairs": len(pairs),
            "all_pairs": n_new * (n_new - 1) // 2 + n_new * self._surface_count(),
            "merging_edges": len(edges),
            "vetoes": len(vetoes),
            "adjudicated": adjudicated,
            "embedded_names": embedded,
            "new_entities": len(new),
        }
        return Resolution([ids[k] for k in mention_node], entities, new, stats)

    # -- building nodes ------------------------------------------------------------------------

    def _new_nodes(self, mentions: Sequence[MentionIn], use_ner: bool) -> tuple[list[Node], list[int]]:
        contexts = [m.context for m in mentions if m.context]
        ner = ner_types(contexts) if use_ner and contexts else {}
        context_ids: dict[str, int] = {}
        by_key: dict[tuple[str, str | None, str | None], list[tuple[int, MentionIn, str]]] = {}
        for i, m in enumerate(mentions):
            kind, form = kind_in_context(m.name, m.context) if m.context else (surface_kind(m.name, evidence_only=True), m.name)
            declared = coarse_type(m.type) or analyse(m.name).implied_type
            by_key.setdefault((normalise_name(m.name), declared, kind), []).append((i, m, form))
        nodes: list[Node] = []
        mention_node = [0] * len(mentions)
        for (norm, declared, kind), members in sorted(by_key.items(), key=lambda kv: (kv[0][0], str(kv[0][1]), str(kv[0][2]))):
            node = Node(len(nodes), analyse(_representative(m.name for _, m, _ in members)), declared, kind)
            for i, m, form in members:
                mention_node[i] = node.idx
                node.forms[form] += 1
                node.raw.add(m.name)
                if coarse_type(m.type):
                    node.types[m.type] += 1
                if m.context:
                    node.contexts.add(context_ids.setdefault(m.context, len(context_ids)))
            node.soft = ner.get(norm) or ner.get(node.f.core)
            node.person = is_person(node)
            nodes.append(node)
        return nodes, mention_node

    def _existing_node(self, nodes: list[Node], made: dict[tuple[str, str], int], entity_id: str, surface: str) -> int:
        key = (entity_id, surface)
        if key not in made:
            e = self.entities[entity_id]
            f = analyse(surface)
            node = Node(len(nodes), f, coarse_type(e.type) or f.implied_type, surface_kind(e.name), entity=entity_id)
            node.person = is_person(node)
            made[key] = node.idx
            nodes.append(node)
        return made[key]

    def _existing_pairs(self, nodes: list[Node], n_new: int, window: int, pairs: set[tuple[int, int]]) -> None:
        if not self.entities:
            return
        made: dict[tuple[str, str], int] = {}
        for node in nodes[:n_new]:
            for key in blocking_keys(node.f):
                width = window // 4 if key.startswith(_WIDE_KEYS) else window
                for _, eid, surface in self.candidates(key, node.f.core, width):
                    pairs.add((node.idx, self._existing_node(nodes, made, eid, surface)))

    def _embedding_pairs(self, nodes: list[Node], n_new: int, pairs: set[tuple[int, int]], k: int = 5) -> int:
        """Each new name's nearest MiniLM neighbours among the new names and (small graphs) the graph's names."""
        from .embed import Embedder

        if self._embedder is None:
            self._embedder = Embedder()
        made: dict[tuple[str, str], int] = {(n.entity, n.f.surface): n.idx for n in nodes[n_new:] if n.entity}
        if len(self.entities) + n_new <= 4 * n_new:  # the graph is small next to the run: include its names
            for e in list(self.entities.values()):
                self._existing_node(nodes, made, e.id, e.name)
        texts = [n.f.surface for n in nodes]
        vectors = self._embedder.encode(texts)
        for node, vector in zip(nodes, vectors):
            node.vector = vector
        sims = vectors[:n_new] @ vectors.T
        np.fill_diagonal(sims[:, :n_new], -1.0)
        top = np.argsort(-sims, axis=1)[:, :k]
        for i in range(n_new):
            for j in top[i]:
                if sims[i, j] >= 0.7 and i != j:
                    pairs.add((min(i, int(j)), max(i, int(j))) if j < n_new else (i, int(j)))
        return self._embedder.encoded

    def _surface_count(self) -> int:
        return sum(1 + len(e.aliases) for e in self.entities.values())


def _representative(names: Iterable[str]) -> str:
    """The spelling whose features stand for a node: the one with the most capitals, then the first."""
    return min(names, key=lambda s: (-sum(ch.isupper() for ch in s), s))


def _new_pairs(nodes: list[Node], window: int, pairs: set[tuple[int, int]]) -> None:
    """Pairs of new nodes sharing a blocking key, each meeting its ``window`` neighbours in name order."""
    blocks: dict[str, list[int]] = {}
    for node in sorted(nodes, key=lambda n: n.f.core):
        for key in blocking_keys(node.f):
            blocks.setdefault(key, []).append(node.idx)
    for key, members in blocks.items():
        m = len(members)
        if m < 2:
            continue
        wide = key.startswith(_WIDE_KEYS)
        if wide and m > _MAX_BLOCK:
            continue
        width = min(m - 1, window // 4 if wide else window)
        for d in range(1, width + 1):
            for a, b in zip(members, members[d:]):
                pairs.add((a, b) if a < b else (b, a))


def _short_form_pairs(nodes: list[Node]) -> set[tuple[int, int]]:
    """A one-word name and the only multi-word person name in its contexts that contains that word."""
    people: dict[tuple[int, str], set[int]] = {}
    for node in nodes:
        if node.person and len(node.f.tokens) > 1:
            for ctx in node.contexts:
                for token in (node.f.tokens[0], node.f.tokens[-1]):
                    people.setdefault((ctx, token), set()).add(node.idx)
    out: set[tuple[int, int]] = set()
    for node in nodes:
        if len(node.f.tokens) != 1 or not node.contexts or node.kind == "common":
            continue
        found: set[int] = set()
        for ctx in node.contexts:
            found |= people.get((ctx, node.f.tokens[0]), set())
        if len(found) == 1:
            other = found.pop()
            node.short_for = other
            out.add((min(node.idx, other), max(node.idx, other)))
    return out


def _adjudicate(
    edges: list[tuple[float, int, int]], nodes: list[Node], adjudicate: Adjudicator
) -> tuple[list[tuple[float, int, int]], int]:
    """Ask ``adjudicate`` about the borderline edges; a yes lifts an edge to the merge threshold."""
    borderline = [e for e in edges if e[0] < MERGE_AT]
    if not borderline:
        return edges, 0
    questions = [(nodes[i].as_mention(), nodes[j].as_mention()) for _, i, j in borderline]
    verdicts = adjudicate(questions)
    kept = [e for e in edges if e[0] >= MERGE_AT]
    kept += [(MERGE_AT, i, j) for (_, i, j), yes in zip(borderline, verdicts) if yes]
    return kept, len(borderline)


def majority_type(counts: Counter[str]) -> str | None:
    """The most frequent declared type (ties: alphabetical)."""
    return majority(counts)
