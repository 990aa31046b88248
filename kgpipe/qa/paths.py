"""Reasoning paths: chains of stored facts around the entities a question names.

A path is a sequence of hops, each one stored fact (never a ``PREDICTED`` link) walked forwards or
backwards, no fact twice, and an entity visited again only along another fact ("the mother of X's son" is X:
``x -> children -> s -> parents -> x``), not one that restates a fact the path used in other words.
Paths are serialised as the text the decoder produces::

    " Marie Curie -> spouse -> Pierre Curie -> born in -> Paris </PATH>"

Serialisation keeps names as stored, with underscores as spaces (``frederica_of_mecklenburg-strelitz``
becomes ``frederica of mecklenburg-strelitz``): a small LM copies names from the question most
readily in the case the question uses, and the graph's names are what its documents wrote. Relation
labels get the same underscore rule (``place_of_birth`` → ``place of birth``). A hop walked against
the stored direction is written with ``<-`` arrows: ``Marie Curie <- spouse <- Pierre Curie``
reads "Pierre Curie's spouse is Marie Curie".

Every path is checked against the store (``verify``) before it is shown.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from ..stores import cypher
from ..wording import normal_form

if TYPE_CHECKING:
    from ..stores import Store

END = " </PATH>"
FORWARD, BACKWARD = " -> ", " <- "
_ARROW = re.compile(r"\s*(->|<-)\s*")


@dataclass(frozen=True)
class Hop:
    """One stored fact ``head -[relation]-> tail``, walked from head to tail (``forward``) or back."""

    head_id: str
    head_name: str
    relation: str  # the fact's label (original wording)
    tail_id: str
    tail_name: str
    rel_type: str = ""  # the sanitised relationship type it is stored under
    chunk_ids: tuple[str, ...] = ()
    doc_ids: tuple[str, ...] = ()
    forward: bool = True

    @property
    def source(self) -> tuple[str, str]:
        """(id, name) of the entity the hop leaves from."""
        return (self.head_id, self.head_name) if self.forward else (self.tail_id, self.tail_name)

    @property
    def target(self) -> tuple[str, str]:
        """(id, name) of the entity the hop arrives at."""
        return (self.tail_id, self.tail_name) if self.forward else (self.head_id, self.head_name)


@dataclass(frozen=True)
class GraphPath:
    """A chain of hops; each hop's target is the next hop's source."""

    hops: tuple[Hop, ...]

    def __len__(self) -> int:
        return len(self.hops)

    @property
    def start(self) -> tuple[str, str]:
        return self.hops[0].source

    @property
    def end(self) -> tuple[str, str]:
        """(id, name) of the last entity: the answer the path proposes."""
        return self.hops[-1].target

    @property
    def node_ids(self) -> tuple[str, ...]:
        return (self.start[0], *(h.target[0] for h in self.hops))

    def text(self) -> str:
        """``a -> r -> b -> r2 -> c`` (display form, names as serialised)."""
        return serialise(self)[1 : -len(END)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text(),
            "hops": [
                {"head": h.head_name, "head_id": h.head_id, "relation": h.relation, "tail": h.tail_name,
                 "tail_id": h.tail_id, "forward": h.forward, "chunk_ids": list(h.chunk_ids), "doc_ids": list(h.doc_ids)}
                for h in self.hops
            ],
        }  # fmt: skip


def display_name(name: str) -> str:
    """A name or label as paths show it: underscores as spaces, runs of whitespace as one space."""
    return " ".join((name or "").replace("_", " ").split())


def serialise(path: GraphPath) -> str:
    """The path as decoder text: a leading space, arrows between names and labels, ``</PATH>`` closing it."""
    parts = [" " + display_name(path.start[1])]
    for hop in path.hops:
        arrow = FORWARD if hop.forward else BACKWARD
        parts.append(f"{arrow}{display_name(hop.relation)}{arrow}{display_name(hop.target[1])}")
    return "".join(parts) + END


def parse_path(text: str) -> list[tuple[str, str, str, bool]] | None:
    """Decoder text back into ``(source name, relation, target name, forward)`` hops; ``None`` if malformed.

    >>> parse_path(" a b -> born in -> c </PATH>")
    [('a b', 'born in', 'c', True)]
    >>> parse_path(" a <- spouse <- b -> x") is None
    True
    """
    body = text.split("</PATH>")[0].strip()
    pieces = _ARROW.split(body)  # name, arrow, relation, arrow, name, ...
    if len(pieces) < 5 or (len(pieces) - 1) % 4:
        return None
    hops = []
    for k in range(0, len(pieces) - 1, 4):
        source, a1, rel, a2, target = pieces[k : k + 5]
        if a1 != a2 or not source or not rel or not target:
            return None
        hops.append((source, rel, target, a1 == "->"))
    return hops


def paths_around(store: "Store", entity_ids: Sequence[str], hops: int = 2, limit: int = 20_000) -> list[GraphPath]:
    """Every fact path of 1..``hops`` hops starting at one of ``entity_ids`` (shortest first, at most ``limit``).

    Facts are walked in both directions; no path walks a fact both ways, and a path passes an entity again only
    along a fact it has not used or walks again the way it walked it before (``_new_fact``: with two hops, back to
    its start); none goes out along a relation and straight back in along the same relation from another entity
    (``_shares_value``).
    The store is asked once per depth, for the facts around the whole frontier at once.
    """
    paths: list[GraphPath] = []
    frontier: list[GraphPath | None] = [None]  # None: the empty path at each start entity
    starts = list(dict.fromkeys(entity_ids))
    for _ in range(max(0, hops)):
        ends = starts if frontier == [None] else list(dict.fromkeys(p.end[0] for p in frontier if p))
        if not ends:
            break
        around = _facts_around(store, ends)
        grown: list[GraphPath] = []
        for path in frontier:
            here = [(eid, None) for eid in starts] if path is None else [(path.end[0], path)]
            for eid, base in here:
                seen = set(base.node_ids) if base else {eid}
                for hop in around.get(eid, ()):
                    if base and _shares_value(base.hops[-1], hop):
                        continue
                    if hop.target[0] in seen and not (base and _new_fact(base, hop)):
                        continue
                    grown.append(GraphPath((*(base.hops if base else ()), hop)))
                    if len(paths) + len(grown) >= limit:
                        return paths + grown
        paths.extend(grown)
        frontier = grown
    return paths


def _new_fact(base: GraphPath, hop: Hop) -> bool:
    """``hop`` returns to an entity ``base`` has visited along a fact ``base`` has not used, or along one it walked
    the same way before: then the path may go on through it. "The son of the mother of X's child" is
    ``x -children-> c -parents-> x -children-> d`` when X is that mother; in PathQuestion's 3-hop questions 46% of the
    gold paths pass an entity twice, and without them PQ-3H Hits@1 was 0.40. A symmetric relation stored both ways
    (``a -spouse-> b``, ``b -spouse-> a``) is two facts, so "the wife of X's husband's" path passes X again, and
    "the spouse of X's wife's husband" walks ``x -spouse-> y`` a second time, once back at X. A fact is never walked
    back against the way the path took it (that is the path undoing its own hop). Whether a path that ends back at
    an entity the question names may answer is ``qa.answer.offered``'s to say. Two facts from one entity to another
    whose wordings have one normal form (``kgpipe.wording``: "headquartered in", "is headquartered in") state one
    thing and count as one."""
    ends, label = (hop.head_id, hop.tail_id), normal_form(hop.relation)
    return not any(normal_form(h.relation) == label and (h.head_id, h.tail_id) == ends and h.forward != hop.forward
                   for h in base.hops)


def _shares_value(previous: Hop, hop: Hop) -> bool:
    """``a -r-> b <-r- c``: c merely has the same ``r`` as a (the same gender, nationality...). Such hops through
    attribute values fan out to every entity sharing the value and answer no question about a, so they are skipped."""
    return previous.forward and not hop.forward and previous.relation == hop.relation


def _facts_around(store: "Store", ids: list[str]) -> dict[str, list[Hop]]:
    """Hops leaving each entity: its outgoing facts walked forwards, its incoming ones backwards."""
    out: dict[str, list[Hop]] = defaultdict(list)
    for outgoing in (True, False):
        for r in store.execute(*cypher.fact_neighbours(ids, outgoing)).records():
            src, other = (r["source"], r["source_name"] or ""), (r["other"], r["other_name"] or "")
            head, tail = (src, other) if outgoing else (other, src)
            out[src[0]].append(Hop(head[0], head[1], r["label"], tail[0], tail[1], r["type"],
                                   tuple(r["chunk_ids"] or ()), tuple(r["doc_ids"] or ()), outgoing))  # fmt: skip
    for hops in out.values():
        hops.sort(key=lambda h: (h.relation, h.target[1], h.target[0], not h.forward))
    return out


def verify(store: "Store", paths: Iterable[GraphPath]) -> list[bool]:
    """For each path, whether every one of its hops is a fact in the store now (same ends, type and label)."""
    paths = list(paths)
    hops = [h for p in paths for h in p.hops]
    rows = [{"i": k, "h": h.head_id, "t": h.tail_id} for k, h in enumerate(hops)]
    found: dict[int, set[tuple[str, str, str, str]]] = defaultdict(set)
    if rows:
        for r in store.execute(*cypher.facts_between(rows)).records():
            row = rows[r["i"]]
            found[r["i"]].add((row["h"], row["t"], r["type"], r["label"]))
    ok, k = [], 0
    for p in paths:
        good = True
        for h in p.hops:
            good &= any(t == h.tail_id and lab == h.relation and (not h.rel_type or typ == h.rel_type)
                        for _, t, typ, lab in found.get(k, ()))  # fmt: skip
            k += 1
        ok.append(good)
    return ok


def name_index(names: Mapping[str, str]) -> dict[str, list[str]]:
    """``display_name(name).casefold()`` → entity ids, for ``match_text`` (several entities may share a name)."""
    index: dict[str, list[str]] = defaultdict(list)
    for eid, name in names.items():
        index[display_name(name).casefold()].append(eid)
    return dict(index)


def match_text(
    store: "Store", text: str, names: Mapping[str, str], index: dict[str, list[str]] | None = None
) -> GraphPath | None:
    """The stored path that decoder text describes, or ``None`` if any hop is not a fact (a hallucination).

    ``names`` maps entity ids to stored names (``EntityLinker.names``); ``index`` is ``name_index(names)``,
    passed in when many texts are matched. A hop matches a fact between entities of those names whose
    label reads the same, continuing from the entity the previous hop reached.
    """
    parsed = parse_path(text)
    if not parsed:
        return None
    index = index if index is not None else name_index(names)
    hops: list[Hop] = []
    for source, rel, target, forward in parsed:
        src_ids = index.get(display_name(source).casefold(), [])  # a model may copy the question's underscores
        tgt_ids = index.get(display_name(target).casefold(), [])
        if hops:
            src_ids = [i for i in src_ids if i == hops[-1].target[0]]
        pairs = [(s, t) if forward else (t, s) for s in src_ids for t in tgt_ids if s != t]
        rows = [{"i": i, "h": h, "t": t} for i, (h, t) in enumerate(pairs)]
        match = None
        for r in store.execute(*cypher.facts_between(rows)).records() if rows else ():
            if display_name(r["label"]).casefold() == display_name(rel).casefold():
                h, t = pairs[r["i"]]
                match = Hop(h, names[h], r["label"], t, names[t], r["type"], tuple(r["chunk_ids"] or ()),
                            tuple(r["doc_ids"] or ()), forward)  # fmt: skip
                break
        if match is None:
            return None
        hops.append(match)
    path = GraphPath(tuple(hops))
    return path if len(set(path.node_ids)) == len(path.node_ids) else None


def provenance(store: "Store", paths: Iterable[GraphPath], snippet: int = 240) -> list[list[dict[str, Any]]]:
    """Per path, per hop: the documents (path, title) and chunk text snippets that support the fact."""
    paths = list(paths)
    chunk_ids = sorted({c for p in paths for h in p.hops for c in h.chunk_ids})
    doc_ids = sorted({d for p in paths for h in p.hops for d in h.doc_ids})
    chunks = {r["chunk_id"]: r for r in store.execute(*cypher.chunk_provenance(chunk_ids)).records()} if chunk_ids else {}
    docs = {r["doc_id"]: r for r in store.execute(*cypher.document_provenance(doc_ids)).records()} if doc_ids else {}
    out = []
    for p in paths:
        per_path = []
        for h in p.hops:
            snippets = [_snip(chunks[c]["text"] or "", snippet) for c in h.chunk_ids if c in chunks]
            documents = [{"path": docs[d]["path"], "title": docs[d]["title"]} for d in h.doc_ids if d in docs]
            per_path.append({"fact": f"{h.head_name} -> {h.relation} -> {h.tail_name}", "documents": documents,
                             "chunks": snippets})  # fmt: skip
        out.append(per_path)
    return out


def _snip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"
