"""Ontologies that guide extraction: allowed entity types, relations with domain and range, functional flags.

Read with rdflib from any RDF serialisation (Turtle, RDF/XML, N-Triples, JSON-LD...)::

    onto = load_ontology("general")              # <repo>/ontologies/general.ttl
    onto.allows("Person", "born in", "City")     # True: City is a kind of Place
    onto.normalise_relation("BORN_IN")           # "born in"

Types are referred to by class name (an identifier, since it becomes a node label); relations by
their label (the wording, which the store turns into a relationship type). Both normalisers
accept any casing, spacing, underscores, hyphens, camelCase and ``skos:altLabel`` synonyms.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import DataError

if TYPE_CHECKING:
    from rdflib import Graph

__all__ = ["Ontology", "OntologyClass", "OntologyRelation", "load_ontology", "available_ontologies", "ONTOLOGY_DIR"]

# The ontologies shipped with the project, at its top level (next to the package).
ONTOLOGY_DIR = Path(__file__).resolve().parent.parent / "ontologies"
_RDF_SUFFIXES = (".ttl", ".owl", ".rdf", ".xml", ".nt", ".n3", ".jsonld", ".trig", ".nq")


def _key(name: str) -> str:
    """Comparison key: case, spaces, underscores, hyphens and camelCase humps do not matter."""
    return re.sub(r"[^0-9a-z]", "", name.casefold())


@dataclass(frozen=True)
class OntologyClass:
    """An entity type: ``name`` is the IRI's local name, ``parent`` the name of its superclass, if any."""

    name: str
    label: str
    parent: str | None = None
    iri: str = ""
    comment: str = ""
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class OntologyRelation:
    """A relation: ``domain``/``range`` are class names (empty = any), ``functional`` = one value per head,
    ``symmetric`` = ``(a, r, b)`` implies ``(b, r, a)``."""

    name: str
    label: str
    domain: tuple[str, ...] = ()
    range: tuple[str, ...] = ()
    functional: bool = False
    symmetric: bool = False
    iri: str = ""
    comment: str = ""
    aliases: tuple[str, ...] = ()
    #: ``kg:cue``: words ("married", "found*": any word beginning so) of which a sentence stating the relation says one; a
    #: grounded line of this relation from a sentence that says none is dropped. Empty: not checked (relations a
    #: text states by form too, "Warsaw, Poland", "Harald Kaas (19 May 1868 – ...)").
    cues: tuple[str, ...] = ()


@dataclass(frozen=True)
class Ontology:
    """Classes and relations of one ontology, with the lookups the extraction prompt and the judge need."""

    name: str
    classes: tuple[OntologyClass, ...]
    relations: tuple[OntologyRelation, ...]
    source: str = ""
    #: Names of one individual: its ``rdfs:label``/``skos:prefLabel`` and ``skos:altLabel``s, joined over ``owl:sameAs``
    #: (fusion's curated aliases, ``kgpipe.fusion.aliases``).
    entity_aliases: tuple[tuple[str, ...], ...] = ()

    @cached_property
    def _class_index(self) -> dict[str, OntologyClass]:
        index: dict[str, OntologyClass] = {}
        for c in self.classes:  # names first, so a label can never shadow another class's name
            index.setdefault(_key(c.name), c)
        for c in self.classes:
            for alias in (c.label, *c.aliases):
                index.setdefault(_key(alias), c)
        return index

    @cached_property
    def _relation_index(self) -> dict[str, OntologyRelation]:
        index: dict[str, OntologyRelation] = {}
        for r in self.relations:
            index.setdefault(_key(r.label), r)
            index.setdefault(_key(r.name), r)
        for r in self.relations:
            for alias in r.aliases:
                index.setdefault(_key(alias), r)
        return index

    def cls(self, name: str) -> OntologyClass | None:
        """The class called ``name`` (by name, label or alias; English plurals are forgiven)."""
        key = _key(name)
        found = self._class_index.get(key)
        for plural, singular in (("ies", "y"), ("es", ""), ("s", "")):
            if found is None and key.endswith(plural):
                found = self._class_index.get(key[: -len(plural)] + singular)
        return found

    def relation(self, name: str) -> OntologyRelation | None:
        """The relation called ``name`` (by label, name or alias)."""
        return self._relation_index.get(_key(name))

    def normalise_type(self, name: str) -> str | None:
        """The canonical class name for ``name`` ("company" → "Company"), or ``None`` if unknown."""
        found = self.cls(name)
        return found.name if found else None

    def normalise_relation(self, name: str) -> str | None:
        """The canonical relation label for ``name`` ("BORN_IN", "bornIn" → "born in"), or ``None``."""
        found = self.relation(name)
        return found.label if found else None

    def ancestors(self, name: str) -> tuple[str, ...]:
        """The class itself, then its superclasses up to the root (names); empty if unknown."""
        out: list[str] = []
        current = self.cls(name)
        while current is not None and current.name not in out:
            out.append(current.name)
            current = self.cls(current.parent) if current.parent else None
        return tuple(out)

    def is_a(self, name: str, ancestor: str) -> bool:
        """True when class ``name`` is ``ancestor`` or one of its subclasses."""
        target = self.normalise_type(ancestor)
        return target is not None and target in self.ancestors(name)

    def allows(self, head_type: str, relation: str, tail_type: str) -> bool | None:
        """Whether ``(head_type) -[relation]-> (tail_type)`` fits the relation's domain and range.

        ``None`` when the ontology cannot tell: the relation is unknown, or a side it constrains has
        a type the ontology does not know (e.g. "Thing"). Subclasses satisfy their ancestors.
        """
        rel = self.relation(relation)
        if rel is None:
            return None
        verdicts = []
        for typ, allowed in ((head_type, rel.domain), (tail_type, rel.range)):
            if not allowed:
                continue
            chain = self.ancestors(typ)
            if not chain:
                return None
            verdicts.append(any(a in chain for a in allowed))
        return all(verdicts)

    def prompt_block(self) -> str:
        """A compact listing of the allowed types and relations (head type -> tail type) for a prompt."""
        every = {c.name for c in self.classes}

        def side(names: tuple[str, ...]) -> str:
            return "any" if not names or set(names) >= every else " | ".join(names)

        types = [f"{c.name} ({c.parent})" if c.parent else c.name for c in self.classes]
        lines = ["Entity types: " + ", ".join(types) + ".", "Relations (head type -> tail type):"]
        lines += [f"- {r.label}: {side(r.domain)} -> {side(r.range)}" for r in self.relations]
        return "\n".join(lines)

    @property
    def functional_relations(self) -> tuple[str, ...]:
        """Labels of the relations that take at most one value per head (for conflict resolution)."""
        return tuple(r.label for r in self.relations if r.functional)


def available_ontologies() -> list[str]:
    """Names of the ontologies shipped in ``ontologies/`` (file stems)."""
    if not ONTOLOGY_DIR.is_dir():
        return []
    return sorted(p.stem for p in ONTOLOGY_DIR.iterdir() if p.suffix in _RDF_SUFFIXES)


def _resolve(name_or_path: str | Path) -> Path:
    path = Path(name_or_path)
    if path.is_file():
        return path
    text = str(name_or_path)
    if "/" not in text and "\\" not in text and not path.suffix:
        for suffix in _RDF_SUFFIXES:
            candidate = ONTOLOGY_DIR / f"{text}{suffix}"
            if candidate.is_file():
                return candidate
    names = ", ".join(available_ontologies()) or "none"
    raise DataError(f"no ontology {text!r}: give a file path or one of the shipped names ({names})")


def load_ontology(name_or_path: str | Path) -> Ontology:
    """Read an ontology by shipped name ("general", "scierc") or from an RDF file; ``DataError`` if missing or malformed."""
    from rdflib import Graph
    from rdflib.util import guess_format

    path = _resolve(name_or_path)
    graph = Graph()
    try:
        graph.parse(path, format=guess_format(str(path)) or "turtle")
    except Exception as exc:  # rdflib raises parser-specific errors
        raise DataError(f"{path}: not a readable RDF file: {exc}") from None
    classes, relations = _read_graph(graph)
    if not classes and not relations:
        raise DataError(f"{path}: no classes or properties found")
    return Ontology(name=path.stem, classes=classes, relations=relations, source=str(path),
                    entity_aliases=_read_individuals(graph, {c.iri for c in classes} | {r.iri for r in relations}))


# --- reading RDF ----------------------------------------------------------------------------------

_BUILTIN = ("http://www.w3.org/2002/07/owl#", "http://www.w3.org/2000/01/rdf-schema#",
            "http://www.w3.org/1999/02/22-rdf-syntax-ns#")


def _local(iri: object) -> str:
    """The IRI's last segment (after ``#`` or ``/``)."""
    return re.split(r"[#/]", str(iri).rstrip("#/"))[-1]


def _words(name: str) -> str:
    """``bornIn`` / ``born_in`` → ``born in``: the default label of a relation without ``rdfs:label``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|[_]+", " ", name).lower().strip()


CUE_IRI = "https://kgpipe.dev/ontology#cue"  # the ``kg:cue`` annotation property (``OntologyRelation.cues``)


def _literal(graph: "Graph", subject: object, predicate: object) -> str:
    """An English (or untagged) literal value of ``predicate``, else any; "" when there is none."""
    values = sorted(graph.objects(subject, predicate), key=lambda v: (getattr(v, "language", None) not in (None, "en"), str(v)))
    return " ".join(str(values[0]).split()) if values else ""


def _class_names(graph: "Graph", node: object) -> tuple[str, ...]:
    """Class names denoted by a domain/range node: an IRI or an ``owl:unionOf`` list; ``owl:Thing`` means any."""
    from rdflib import OWL, BNode
    from rdflib.collection import Collection

    if isinstance(node, BNode):
        union = graph.value(node, OWL.unionOf)
        return tuple(n for m in Collection(graph, union) for n in _class_names(graph, m)) if union else ()
    if node == OWL.Thing:
        return ()
    return (_local(node),)


def _read_graph(graph: "Graph") -> tuple[tuple[OntologyClass, ...], tuple[OntologyRelation, ...]]:
    """Classes (``owl:Class``/``rdfs:Class`` or used in ``rdfs:subClassOf``) and properties with domain and range."""
    from rdflib import OWL, RDF, RDFS, URIRef
    from rdflib.namespace import SKOS

    CUE = URIRef(CUE_IRI)

    def own(node: object) -> bool:
        return isinstance(node, URIRef) and not str(node).startswith(_BUILTIN)

    class_iris = {s for t in (OWL.Class, RDFS.Class) for s in graph.subjects(RDF.type, t)}
    class_iris |= {n for s, o in graph.subject_objects(RDFS.subClassOf) for n in (s, o)}
    class_iris = {c for c in class_iris if own(c)}
    prop_types = (OWL.ObjectProperty, OWL.DatatypeProperty, RDF.Property, OWL.FunctionalProperty)
    prop_iris = {p for t in prop_types for p in graph.subjects(RDF.type, t) if own(p)}

    classes = []
    for iri in class_iris:
        parents = sorted(_local(p) for p in graph.objects(iri, RDFS.subClassOf) if own(p) and p in class_iris)
        classes.append(OntologyClass(
            name=_local(iri),
            label=_literal(graph, iri, RDFS.label) or _local(iri),
            parent=parents[0] if parents else None,
            iri=str(iri),
            comment=_literal(graph, iri, RDFS.comment),
            aliases=tuple(sorted(str(a) for a in graph.objects(iri, SKOS.altLabel))),
        ))
    by_name = {c.name: c for c in classes}

    def path(c: OntologyClass) -> tuple[str, ...]:  # root first, so subclasses sort under their parent
        chain = [c.name]
        while c.parent and c.parent in by_name and c.parent not in chain:
            c = by_name[c.parent]
            chain.append(c.name)
        return tuple(reversed(chain))

    relations = []
    for iri in prop_iris:
        relations.append(OntologyRelation(
            name=_local(iri),
            label=_literal(graph, iri, RDFS.label) or _words(_local(iri)),
            domain=tuple(sorted({n for d in graph.objects(iri, RDFS.domain) for n in _class_names(graph, d)})),
            range=tuple(sorted({n for r in graph.objects(iri, RDFS.range) for n in _class_names(graph, r)})),
            functional=(iri, RDF.type, OWL.FunctionalProperty) in graph,
            symmetric=(iri, RDF.type, OWL.SymmetricProperty) in graph,
            iri=str(iri),
            comment=_literal(graph, iri, RDFS.comment),
            aliases=tuple(sorted(str(a) for a in graph.objects(iri, SKOS.altLabel))),
            cues=tuple(sorted(str(c).casefold() for c in graph.objects(iri, CUE))),
        ))
    return tuple(sorted(classes, key=path)), tuple(sorted(relations, key=lambda r: r.label.casefold()))


def _read_individuals(graph: "Graph", schema: set[str]) -> tuple[tuple[str, ...], ...]:
    """Each individual's names (label first, then ``skos:altLabel``s), those linked by ``owl:sameAs`` as one group."""
    from rdflib import OWL, RDFS, URIRef
    from rdflib.namespace import SKOS

    names: dict[object, list[str]] = {}
    for predicate in (SKOS.prefLabel, RDFS.label, SKOS.altLabel):
        for subject, value in graph.subject_objects(predicate):
            if isinstance(subject, URIRef) and str(subject) not in schema and not str(subject).startswith(_BUILTIN):
                names.setdefault(subject, []).append(" ".join(str(value).split()))
    linked: dict[object, object] = {}

    def find(x: object) -> object:
        while linked.setdefault(x, x) != x:
            x = linked[x]
        return x

    for a, b in graph.subject_objects(OWL.sameAs):
        ra, rb = find(a), find(b)
        if ra != rb:
            linked[rb] = ra
    groups: dict[object, list[str]] = {}
    for subject in set(names) | set(linked):
        own = names.get(subject) or ([_local(subject)] if subject in linked else [])
        groups.setdefault(find(subject), []).extend(own)
    return tuple(sorted(g for g in (tuple(dict.fromkeys(n for n in v if n)) for v in groups.values()) if len(g) > 1))
