"""Entity resolution: mentions → canonical entity ids, against the entities a graph already has.

How (Graphusion-style fusion, made incremental):

1. **Nodes.** Mentions with the same normalised name, coarse type and kind (proper name or common
   noun, read from the context) are one node; an entity already in the graph contributes one node
   per name or alias, all locked to that entity.
2. **Blocking** (``kgpipe.fusion.pairs``). Nodes are compared only when they share a key from ``names.blocking_keys``
   (core name, bag of words, acronym/initials, first initial with a surname, a word, five-letter
   prefix and suffix); inside a key's block each node meets its ``window`` nearest neighbours in
   name order, so the cost grows with the number of nodes, not its square. A one-word name also
   meets the person names whose first or last word it is in its own context, or (typed as a
   person, as a surname only) in the run and the graph ("Jordan" → "Michael Jordan"); a one-word
   person name is one node per context, so each document's "Obama" is read on its own. Names of
   one curated alias group, of one packaged gazetteer entry (``kgpipe.fusion.places``) or of one WordNet synset
   (``kgpipe.fusion.lexicon``) meet each other, and so do two names a text introduces as one another
   ("X, known as Y": ``kgpipe.fusion.defined``). With an adjudicator, small runs add each name's
   nearest MiniLM neighbours (synonyms such as "Munich"/"München" share no key).
3. **Scoring** (``kgpipe.fusion.match.score_pair``): rules on names (exact core, same words, acronym,
   person names and their romanisations, plurals, typos), facts and co-mentioned names as evidence, and
   vetoes: different coarse types, proper name versus common noun, different numbers, different first names. MiniLM cosine only sends a pair to review.
4. **Clustering** (``kgpipe.fusion.cluster``). Edges are taken from the best score down and join two
   clusters unless a veto links them (a surname veto is lifted by a member bearing both
   surnames), an acronym would join two full names, or both clusters already are graph entities
   (fusion never merges or splits what the graph has). Borderline edges go to an adjudicator
   (an LLM) when one is given; without one they stay apart. Short and bare names join last, and
   only when they can stand for one cluster (else they are listed in ``stats["ambiguous"]``).
5. **Ids.** A cluster holding a graph entity keeps its id and gains the new names as aliases; a new
   cluster's id is ``entity_id(canonical name)`` (so a rebuild finds the same ids), typed and
   numbered only when a homonym already holds that id.
"""

from __future__ import annotations

import gc
from bisect import bisect_left
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

import numpy as np

from ..records import GENERIC_TYPE, Adjudicator, Entity, MentionIn
from ..stores import cypher
from .aliases import alias_table
from .cluster import assign, cluster, entity_id
from .defined import alias_pairs, anaphor_pairs, defined_pairs, dual_pairs
from .kinds import PROPER_CLASSES, coarse_type, kind_in_context, ner_types, surface_kind, unknown_type
from .match import MERGE_AT, Node, is_person
from .names import NameFeatures, analyse, blocking_keys, normalise_name, singular
from .pairs import MAX_BLOCK, WIDE_KEYS, PairSet, adjudicate_band, new_pairs, score, short_form_pairs
from .lexicon import SOURCES as LEXICON_SOURCES
from .lexicon import Lexicon, lexicon_table, synset_of
from .lexicon import parse_sources as parse_lexicon_sources
from .places import SOURCES, PlaceTable, entry_of, mark_countries, parse_sources, place_table

if TYPE_CHECKING:
    from ..llms.embed import Embedder
    from ..stores import Store

__all__ = ["EntityIndex", "MentionIn", "Resolution", "Adjudicator", "entity_id", "GENERIC_TYPE"]



_MAX_CONTEXTS = 50  # a name read in more texts than this: its co-mentions say little (and cost memory)


@dataclass
class Trace:
    """What explains a resolution (``kgpipe.eval.fusion.explain``): the nodes, each mention's node, the pairs
    compared (codes ``i << 32 | j``, ``i < j``), the short names left apart as ambiguous."""

    nodes: list[Node]
    mention_node: list[int]
    compared: set[int]
    ambiguous: set[int]


@dataclass
class Resolution:
    """``ids[i]`` is the entity of mention ``i``; ``entities`` are those entities as they should be written."""

    ids: list[str]
    entities: dict[str, Entity]
    new: set[str] = field(default_factory=set)
    stats: dict[str, Any] = field(default_factory=dict)
    trace: Trace | None = None


class EntityIndex:
    """The canonical entities fusion resolves against: loaded from the store, grown by each ``resolve``.

    >>> index = EntityIndex()
    >>> r = index.resolve([MentionIn("IBM", "Company"), MentionIn("International Business Machines Corp.")])
    >>> r.ids[0] == r.ids[1], len(index)
    (True, 1)
    """

    def __init__(
        self,
        entities: Iterable[Entity] = (),
        *,
        embedder: "Embedder | None" = None,
        aliases: Iterable[Sequence[str]] = (),
        places: str | Sequence[str] = SOURCES,
        lexicon: str = ",".join(LEXICON_SOURCES),
    ) -> None:
        """``aliases``: curated groups of names of one entity (``kgpipe.fusion.aliases``), joined whatever the names.
        ``places``: the packaged gazetteers whose country and city names join names typed as places or untyped
        (``kgpipe.fusion.places``: "pycountry", "geonames"; "" for none). ``lexicon``: the packaged dictionaries
        whose synonyms join names of persons, places, organisations and events (``kgpipe.fusion.lexicon``:
        "wordnet"; "" for none)."""
        self.entities: dict[str, Entity] = {}
        self._place_sources = parse_sources(places)
        self._places: PlaceTable | None = None
        self._lexicon_sources = parse_lexicon_sources(lexicon)
        self._lexicon: Lexicon | None = None
        self.aliases = alias_table(aliases)  # normalised name -> group key
        self._alias_names: dict[str, list[str]] = {}
        for name, key in self.aliases.items():
            self._alias_names.setdefault(key, []).append(name)
        self._blocks: dict[str, list[tuple[str, str, str]]] = {}  # key -> (core, entity id, surface), sorted on use
        self._unsorted: set[str] = set()
        self._unindexed: list[tuple[str, str]] = []  # (entity id, surface) not yet in ``_blocks``
        self._embedder = embedder
        for e in entities:
            self.add(e)

    @classmethod
    def from_store(cls, store: "Store", **kwargs: Any) -> "EntityIndex":
        """Every entity of the store's graph (id, name, type, aliases)."""
        rows = store.execute(*cypher.entity_index()).records()
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
        self._unindexed.extend((entity.id, surface) for surface in dict.fromkeys(surfaces) if surface.strip())

    def _index(self) -> None:
        """Put the names added since the last call under their blocking keys (deferred: a one-off run never needs it)."""
        for eid, surface in self._unindexed:
            f = analyse(surface)
            for key in blocking_keys(f):
                self._blocks.setdefault(key, []).append((f.core, eid, surface))
                self._unsorted.add(key)
        self._unindexed.clear()

    def candidates(self, key: str, core: str, window: int) -> list[tuple[str, str, str]]:
        """Entities under ``key``: all of them, or the ``window`` nearest to ``core`` in name order."""
        if self._unindexed:
            self._index()
        block = self._blocks.get(key)
        if not block:
            return []
        if key in self._unsorted:
            block.sort()
            self._unsorted.discard(key)
        if len(block) <= 2 * window:
            return block
        if key.startswith(WIDE_KEYS) and len(block) > MAX_BLOCK:
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
        exhaustive: bool = False,
        trace: bool = False,
    ) -> Resolution:
        """Resolve ``mentions`` to entity ids (see the module docstring); the index learns the new entities.

        ``adjudicate``: decides the borderline pairs (``kgpipe.fusion.adjudicate.llm_adjudicator``); without
        one they stay apart. ``embed``: with an adjudicator, also propose each name's nearest MiniLM
        neighbours (synonyms no name key finds) when the run has at most ``embed_limit`` names
        (embedding costs about 1-5 ms a name on 2 cores). ``ner``: spaCy type hints from the contexts.
        ``exhaustive``: compare every pair of new names instead of blocking (the benchmark's baseline).
        ``trace``: keep what explains the result in ``Resolution.trace`` (``kgpipe eval fusion``'s error reasons).
        """
        # Resolution makes millions of small acyclic objects; the cycle collector rescanning them
        # was 30% of the time at 300,000 mentions (measured), and grows with the heap. Paused here.
        collecting = gc.isenabled()
        gc.disable()
        try:
            return self._resolve(mentions, adjudicate, ner, embed, embed_limit, window, exhaustive, trace)
        finally:
            if collecting:
                gc.enable()

    def _resolve(
        self,
        mentions: Sequence[MentionIn],
        adjudicate: Adjudicator | None,
        ner: bool,
        embed: bool,
        embed_limit: int,
        window: int,
        exhaustive: bool,
        trace: bool = False,
    ) -> Resolution:
        graph_names = self._surface_count()
        nodes, mention_node, contexts = self._new_nodes(mentions, ner)
        n_new = len(nodes)
        pairs = PairSet()
        for i, j in (*defined_pairs(nodes, contexts), *alias_pairs(nodes, contexts), *anaphor_pairs(nodes, contexts),
                     *dual_pairs(nodes)):
            pairs.add(i, j)
        if exhaustive:
            pairs.add_all(n_new)
        else:
            new_pairs(nodes, window, pairs)
        self._existing_pairs(nodes, n_new, window, pairs)
        if self.aliases:
            self._curated_pairs(nodes, n_new, pairs)
        if self._places is not None:
            self._place_pairs(nodes, n_new, pairs)
        if self._lexicon is not None:
            self._lexical_pairs(nodes, n_new, pairs)
        short_form_pairs(nodes, n_new, pairs)
        embedded = 0
        if embed and adjudicate is not None and 0 < n_new <= embed_limit:
            embedded = self._embedding_pairs(nodes, n_new, pairs)
        codes = pairs.unique()
        edges, scores, vetoes, bridgeable, bare = score(nodes, codes)
        adjudicated = 0
        if adjudicate is not None:
            edges, scores, adjudicated = adjudicate_band(edges, scores, nodes, adjudicate)
        keep = scores >= MERGE_AT
        unclear: list[tuple[int, list[int]]] = []
        roots = cluster(nodes, edges[keep], scores[keep], vetoes, bridgeable, bare[keep], unclear)
        ids, entities, new = assign(nodes, roots, self.entities)
        for entity in entities.values():
            self.add(entity)
        stats = {
            "mentions": len(mentions),
            "nodes": n_new,
            "graph_names_compared": len(nodes) - n_new,
            "candidate_pairs": len(codes),
            "all_pairs": n_new * (n_new - 1) // 2 + n_new * graph_names,
            "merging_edges": int(keep.sum()),
            "vetoes": len(vetoes) + len(bridgeable),
            "adjudicated": adjudicated,
            "embedded_names": embedded,
            "new_entities": len(new),
            "ambiguous": [
                {"mention": nodes[x].f.surface, "candidates": sorted({nodes[r].f.surface for r in rs})} for x, rs in unclear
            ],
        }
        resolution = Resolution([ids[k] for k in mention_node], entities, new, stats)
        if trace:
            resolution.trace = Trace(nodes, mention_node, set(codes.tolist()), {x for x, _ in unclear})
        return resolution

    # -- building nodes ------------------------------------------------------------------------

    def _new_nodes(self, mentions: Sequence[MentionIn], use_ner: bool) -> tuple[list[Node], list[int], list[str]]:
        contexts = [m.context for m in mentions if m.context]
        ner = ner_types(contexts) if use_ner and contexts else {}
        context_ids: dict[str, int] = {}
        named_in: dict[int, set[str]] = {}  # context -> the core names of its mentions
        by_key: dict[tuple[str, str | None, str | None, str | None], Node] = {}
        seen: dict[MentionIn, Node] = {}  # a mention repeated (same name, type, context) is looked at once
        mention_node: list[Node] = []
        for m in mentions:
            node = seen.get(m)
            if node is None:
                kind, form = kind_in_context(m.name, m.context) if m.context else (surface_kind(m.name, evidence_only=True), m.name)
                declared = coarse_type(m.type) or analyse(m.name).implied_type
                if kind is None and declared in PROPER_CLASSES:  # a company or a person has a proper name
                    kind = "named"
                f = analyse(m.name)
                # A one-word person name ("Obama", "Mrs. Obama") is read in its own document: one node per context.
                alone = declared == "PERSON" and len(f.tokens) == 1 and not f.is_acronym and m.context
                # So is a place name that places in two countries bear ("Canton": Guangzhou, Canton in Ohio).
                alone = alone or (declared == "PLACE" and m.context and self._shared_place(normalise_name(m.name)))
                key = (normalise_name(m.name), declared, kind, m.context if alone else "")
                node = by_key.get(key)
                if node is None:
                    node = by_key[key] = Node(-1, analyse(m.name), declared, kind)
                if form != m.name:
                    node.raw.add(m.name)
                if coarse_type(m.type):
                    node.types[m.type] += 1
                elif unknown_type(m.type):
                    node.odd = node.odd | {unknown_type(m.type)}
                if m.facts:
                    node.facts = {*node.facts, *((" ".join(r.casefold().split()), normalise_name(o)) for r, o in m.facts)}
                if m.context:
                    cid = context_ids.setdefault(m.context, len(context_ids))
                    node.contexts.add(cid)
                    named_in.setdefault(cid, set()).add(analyse(m.name).core)
                    node.context = node.context or m.context
                seen[m] = node
                node.pending = form
            node.forms[node.pending] += 1
            mention_node.append(node)
        nodes = [by_key[key] for key in sorted(by_key, key=lambda k: (k[0], str(k[1]), str(k[2]), str(k[3])))]
        for idx, node in enumerate(nodes):  # name order: ids do not depend on the order of the mentions
            node.idx = idx
            representative = _representative(node.forms)
            if representative != node.f.surface:
                node.f = analyse(representative)
            node.soft = ner.get(node.f.norm) or ner.get(node.f.core)
            node.person = is_person(node)
            node.curated = self._curated(node.f)
            node.place = self._place(node)
            node.lexical = self._lexical(node)
            if named_in and 0 < len(node.contexts) <= _MAX_CONTEXTS:
                around = set().union(*(named_in[c] for c in node.contexts))
                around.difference_update(analyse(s).core for s in (*node.forms, *node.raw))
                if around:
                    node.comentions = frozenset(around)
        if self._places is not None:
            mark_countries(nodes, list(context_ids), self._places)
        return nodes, [node.idx for node in mention_node], list(context_ids)

    def _shared_place(self, norm: str) -> bool:
        if not self._place_sources:
            return False
        if self._places is None:
            self._places = place_table(self._place_sources)
        return norm in self._places.shared

    def _curated(self, f: NameFeatures) -> str | None:
        if not self.aliases:
            return None
        return self.aliases.get(f.norm) or self.aliases.get(f.core)

    def _place(self, node: Node) -> str | None:
        if not self._place_sources or node.declared not in (None, "PLACE"):
            return None
        if self._places is None:
            self._places = place_table(self._place_sources)
        return entry_of(node, self._places)

    def _lexical(self, node: Node) -> int | None:
        if not self._lexicon_sources or node.declared not in (None, "PERSON", "PLACE", "ORG", "EVENT"):
            return None
        if self._lexicon is None:
            self._lexicon = lexicon_table(self._lexicon_sources)
        if node.declared in (None, "PLACE") and (self._shared_place(node.f.norm) or self._shared_place(node.f.core)):
            return None  # "Salisbury": Harare's old name to WordNet, and towns in England and the US to GeoNames
        return synset_of(node, self._lexicon)

    def _existing_node(self, nodes: list[Node], made: dict[tuple[str, str], int], entity_id: str, surface: str) -> int:
        key = (entity_id, surface)
        if key not in made:
            e = self.entities[entity_id]
            f = analyse(surface)
            declared = coarse_type(e.type) or f.implied_type
            kind = surface_kind(e.name) or ("named" if declared in PROPER_CLASSES else None)
            node = Node(len(nodes), f, declared, kind, entity=entity_id)
            node.person = is_person(node)
            node.curated = self._curated(f)
            node.place = self._place(node)
            node.lexical = self._lexical(node)
            made[key] = node.idx
            nodes.append(node)
        return made[key]

    def _existing_pairs(self, nodes: list[Node], n_new: int, window: int, pairs: PairSet) -> None:
        if not self.entities:
            return
        made: dict[tuple[str, str], int] = {}
        for node in nodes[:n_new]:
            for key in blocking_keys(node.f):
                width = window // 4 if key.startswith(WIDE_KEYS) else window
                for _, eid, surface in self.candidates(key, node.f.core, width):
                    if key.startswith("a:") and not (node.f.is_acronym or analyse(surface).is_acronym):
                        continue  # shared initials matter only next to an acronym
                    pairs.add(node.idx, self._existing_node(nodes, made, eid, surface))

    def _curated_pairs(self, nodes: list[Node], n_new: int, pairs: PairSet) -> None:
        """Every two names of one curated group, among the new names and with the graph's names of the group."""
        groups = _new_groups(nodes[:n_new], lambda node: node.curated)
        made = _graph_nodes(nodes, n_new)
        for key, members in groups.items():
            for name in self._alias_names.get(key, ()):
                f = analyse(name)
                for _, eid, surface in self.candidates(f"n:{singular(f.core)}", f.core, 8):
                    if self._curated(analyse(surface)) == key:
                        members.append(self._existing_node(nodes, made, eid, surface))
            _pair_all(members, pairs)

    def _place_pairs(self, nodes: list[Node], n_new: int, pairs: PairSet) -> None:
        """Every two names of one gazetteer entry, among the new names and with the graph's names of the entry."""
        assert self._places is not None
        groups = _new_groups(nodes[:n_new], lambda node: node.place)
        made = _graph_nodes(nodes, n_new)
        for key, members in groups.items():
            if self.entities:
                for name in self._places.names.get(key, ()):
                    f = analyse(name)
                    for _, eid, surface in self.candidates(f"n:{singular(f.core)}", f.core, 8):
                        i = self._existing_node(nodes, made, eid, surface)
                        if nodes[i].place == key:
                            members.append(i)
            _pair_all(members, pairs)

    def _lexical_pairs(self, nodes: list[Node], n_new: int, pairs: PairSet) -> None:
        """Every two names of one WordNet synset, among the new names and with the graph's names of the synset."""
        assert self._lexicon is not None
        groups = _new_groups(nodes[:n_new], lambda node: None if node.lexical is None else str(node.lexical))
        made = _graph_nodes(nodes, n_new)
        for key, members in groups.items():
            if self.entities:
                for name in set(self._lexicon.names(int(key)).values()):
                    f = analyse(name)
                    for _, eid, surface in self.candidates(f"n:{singular(f.core)}", f.core, 8):
                        i = self._existing_node(nodes, made, eid, surface)
                        if nodes[i].lexical == int(key):
                            members.append(i)
            _pair_all(members, pairs)

    def _embedding_pairs(self, nodes: list[Node], n_new: int, pairs: PairSet, k: int = 5) -> int:
        """Each new name's nearest MiniLM neighbours among the new names and (small graphs) the graph's names."""
        from ..llms.embed import Embedder

        if self._embedder is None:
            self._embedder = Embedder()
        made = _graph_nodes(nodes, n_new)
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
                    pairs.add(i, int(j))
        return self._embedder.encoded

    def _surface_count(self) -> int:
        return sum(1 + len(e.aliases) for e in self.entities.values())


def _representative(names: Iterable[str]) -> str:
    """The spelling whose features stand for a node: the one with the most capitals, then the first."""
    return min(names, key=lambda s: (-sum(ch.isupper() for ch in s), s))


def _graph_nodes(nodes: list[Node], n_new: int) -> dict[tuple[str, str], int]:
    """The graph's names already among ``nodes`` (after the ``n_new`` new ones), by (entity id, surface)."""
    return {(n.entity, n.f.surface): n.idx for n in nodes[n_new:] if n.entity}


def _new_groups(new: Sequence[Node], group: Callable[[Node], str | None]) -> dict[str, list[int]]:
    """The new names by the group ``group`` puts them in (a curated alias group, a gazetteer entry); None: none."""
    groups: dict[str, list[int]] = {}
    for node in new:
        key = group(node)
        if key:
            groups.setdefault(key, []).append(node.idx)
    return groups


def _pair_all(members: list[int], pairs: PairSet) -> None:
    """Every two distinct members of one group as a candidate pair."""
    for k, i in enumerate(members):
        for j in members[k + 1 :]:
            if i != j:
                pairs.add(i, j)
