"""Import existing triples and export the graph: TSV, any RDF format rdflib reads, GraphML, JSON-LD.

TSV is ``head<TAB>relation<TAB>tail[<TAB>confidence]`` per line, ``#`` comments allowed; inside a field
``\\t``, ``\\n`` and ``\\\\`` stand for a tab, a newline and a backslash (export writes the same escapes,
so a round trip is exact). An imported file is recorded as a document (id = content hash) so that
re-importing it changes nothing and ``kgpipe delete FILE`` removes what only it supported.

GraphML is XML 1.0, which cannot hold the control characters U+0001..U+001F other than tab and
newlines (not even escaped) nor U+FFFE/U+FFFF; the store keeps them (``kgpipe.stores.clean``), so
the GraphML export writes U+FFFD in their place. The other formats keep them.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from ..config import Settings
from ..errors import DataError
from ..fusion.aliases import read_aliases
from ..fusion.fuse import entity_id, normalise_name
from ..records import GENERIC_TYPE, Document, Entity, Fact, GraphBatch
from ..stores import cypher, open_store
from .write import document_index, write_version

if TYPE_CHECKING:
    from ..stores import Store

NS = "https://kgpipe.dev/id/"
_ESCAPES = {"\\t": "\t", "\\n": "\n", "\\r": "\r", "\\\\": "\\"}
_ESCAPED = re.compile(r"\\[tnr\\]")
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
RDF_FORMATS = {".ttl": "turtle", ".nt": "nt", ".n3": "n3", ".rdf": "xml", ".owl": "xml", ".xml": "xml",
               ".jsonld": "json-ld", ".json": "json-ld", ".trig": "trig", ".nq": "nquads"}  # fmt: skip


def _unescape(field: str) -> str:
    return _ESCAPED.sub(lambda m: _ESCAPES[m.group(0)], field)


def _escape(field: str) -> str:
    return field.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _read_tsv(text: str) -> tuple[list[tuple[str, str, str, float]], list[str]]:
    triples, problems = [], []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = [_unescape(f).strip() for f in line.split("\t")]
        if len(fields) not in (3, 4) or not all(fields[:3]):
            problems.append(f"line {number}: expected head<TAB>relation<TAB>tail[<TAB>confidence]")
            continue
        try:
            confidence = float(fields[3]) if len(fields) == 4 else 1.0
        except ValueError:
            problems.append(f"line {number}: confidence {fields[3]!r} is not a number")
            continue
        triples.append((fields[0], fields[1], fields[2], confidence))
    return triples, problems


def _local_name(term: Any) -> str:
    text = str(term)
    return unquote(re.split(r"[#/:]", text.rstrip("/#"))[-1]) or text


def _read_rdf(data: bytes, fmt: str) -> tuple[list[tuple[str, str, str, float]], dict[str, str]]:
    import rdflib
    from rdflib.namespace import RDF, RDFS, SKOS

    graph = rdflib.Graph()
    try:
        graph.parse(data=data, format=fmt)
    except Exception as exc:  # rdflib raises many parser-specific types
        raise DataError(f"could not parse the file as {fmt}: {exc}") from None
    names: dict[Any, str] = {}
    for pred in (SKOS.prefLabel, RDFS.label):
        for s, o in graph.subject_objects(pred):
            names.setdefault(s, str(o))

    def name(term: Any) -> str:
        return str(term) if isinstance(term, rdflib.Literal) else names.get(term) or _local_name(term)

    types = {name(s): _local_name(o) for s, o in graph.subject_objects(RDF.type)}
    skip = {RDF.type, RDFS.label, SKOS.prefLabel}
    triples = [(name(s), name(p), name(o), 1.0) for s, p, o in graph if p not in skip]
    return triples, types


def import_triples(
    path: str | os.PathLike[str],
    *,
    settings: Settings | None = None,
    store: "Store | str | None" = None,
    fmt: str | None = None,
) -> dict[str, Any]:
    """Import a triples file into the graph; returns counts and the lines that could not be used."""
    file = Path(path)
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {file}: {exc.strerror or exc}") from None
    fmt = fmt or ("tsv" if file.suffix.lower() in (".tsv", ".txt", ".tab", "") else RDF_FORMATS.get(file.suffix.lower()))
    if fmt is None:
        raise DataError(f"cannot tell the format of {file}; pass --format (tsv, turtle, xml, nt, json-ld...)")
    types: dict[str, str] = {}
    if fmt == "tsv":
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise DataError(f"{file} is not UTF-8 text") from None
        triples, problems = _read_tsv(text)
    else:
        (triples, types), problems = _read_rdf(data, fmt), []
    if not triples:
        raise DataError(f"no triples found in {file}" + (f" ({problems[0]})" if problems else ""))

    settings = settings or Settings()
    the_store = open_store(settings, store)
    digest = hashlib.sha256(data).hexdigest()
    doc = Document(id=digest, path=os.path.abspath(file), title=file.name, text="", sha256=digest, mime=f"triples/{fmt}")
    built = document_index(the_store)
    if built.get(doc.path) == (doc.id, True):
        return {"file": doc.path, "unchanged": True, "triples": len(triples), "problems": problems}
    extractor = f"import:{file.name}"
    known, by_id = _known_entities(the_store)
    entities: dict[str, Entity] = {}
    aliases: dict[str, dict[str, None]] = {}  # entity id -> imported spellings other than its name
    facts: list[Fact] = []
    for head, relation, tail, confidence in triples:
        ids = []
        for n in (head, tail):
            eid = entity_id(n)
            entity = known.get(normalise_name(n)) or by_id.get(eid) or Entity(eid, n, types.get(n, GENERIC_TYPE))
            entity = entities.setdefault(entity.id, entity)
            if n != entity.name:
                aliases.setdefault(entity.id, {})[n] = None
            ids.append(entity.id)
        facts.append(Fact(ids[0], relation, ids[1], confidence, (), (doc.id,), extractor))
    written = [Entity(e.id, e.name, e.type, tuple(aliases.get(e.id, ()))) for e in entities.values()]
    batch = GraphBatch(documents=[doc], entities=written, facts=facts)
    replaced = write_version(batch, the_store, built, settings.write_batch)
    return {"file": doc.path, "unchanged": False, "replaced_previous_version": replaced, "triples": len(triples),
            "entities": len(entities), "problems": problems}  # fmt: skip


def import_aliases(
    path: str | os.PathLike[str], *, settings: Settings | None = None, store: "Store | str | None" = None
) -> dict[str, Any]:
    """Join a curated alias file (``kgpipe.fusion.aliases``) to the graph's entities: each line that names exactly one
    existing entity (by its name or an alias, as ``import_triples`` matches) gives it the line's other names as
    aliases, which later builds fuse into it ("Peking" mentions join the entity "Beijing"). A line naming two
    entities is reported in ``several`` and changes nothing (fusion never merges entities the graph already has);
    a line naming none in ``unmatched``.
    """
    groups = read_aliases(path)
    settings = settings or Settings()
    the_store = open_store(settings, store)
    known, _ = _known_entities(the_store)
    current = {r["id"]: list(r["aliases"] or ()) for r in the_store.execute(*cypher.entity_index()).records()}
    names = {r["id"]: r["name"] or "" for r in the_store.execute(*cypher.entity_index()).records()}
    added: dict[str, list[str]] = {}
    several: list[list[str]] = []
    unmatched = 0
    for group in groups:
        hits = list(dict.fromkeys(known[k].id for k in (normalise_name(n) for n in group) if k in known))
        if not hits:
            unmatched += 1
            continue
        if len(hits) > 1:
            several.append([names[h] for h in hits])
            continue
        eid = hits[0]
        have = {normalise_name(n) for n in (names[eid], *current[eid], *added.get(eid, ()))}
        for name in group:
            if normalise_name(name) not in have:
                added.setdefault(eid, []).append(name)
                have.add(normalise_name(name))
    if added:
        the_store.execute(*cypher.set_aliases([{"id": e, "aliases": [*current[e], *more]} for e, more in added.items()]),
                          write=True)  # fmt: skip
    return {"file": os.path.abspath(path), "groups": len(groups), "entities_updated": len(added),
            "aliases_added": sum(map(len, added.values())), "unmatched": unmatched, "several": several}  # fmt: skip


def _known_entities(store: "Store") -> tuple[dict[str, Entity], dict[str, Entity]]:
    """The graph's entities by normalised name or alias, and by id, so an imported name reaches its entity.

    Imported triples are curated, so there is no fuzzy matching here: a name attaches to an existing entity
    when it equals (up to case, punctuation and diacritics) the name or an alias of exactly one entity
    (homonyms are not guessed between) or when its id is already taken. The entity keeps its name and type;
    the imported spelling becomes an alias.
    """
    found: dict[str, Entity | None] = {}
    by_id: dict[str, Entity] = {}
    for r in store.execute(*cypher.entity_index()).records():
        entity = by_id[r["id"]] = Entity(r["id"], r["name"] or "", r["type"] or GENERIC_TYPE)
        for surface in {normalise_name(s) for s in (entity.name, *(r["aliases"] or ())) if s}:
            found[surface] = entity if found.get(surface, entity) == entity else None
    return {k: e for k, e in found.items() if e is not None}, by_id


def _rows(store: "Store") -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    return store.execute(*cypher.export_entities()).records(), store.execute(*cypher.export_facts()).records()


def export(
    fmt: str, out: IO[str], *, settings: Settings | None = None, store: "Store | str | None" = None
) -> int:
    """Write the graph's entities and facts (not predicted links) to ``out``; returns the number of facts."""
    entities, facts = _rows(open_store(settings, store))
    if fmt == "tsv":
        for f in facts:
            out.write("\t".join(_escape(str(v)) for v in (f["head"], f["label"] or f["type"], f["tail"])) + "\n")
    elif fmt == "graphml":
        import networkx as nx

        g = nx.MultiDiGraph()
        for e in entities:
            g.add_node(e["id"], name=_xml(e["name"]), type=_xml(e["type"] or GENERIC_TYPE),
                       aliases=_xml("|".join(e["aliases"] or [])))  # fmt: skip
        for f in facts:
            g.add_edge(f["head_id"], f["tail_id"], type=f["type"], label=_xml(f["label"] or f["type"]),
                       confidence=float(f["confidence"] or 0.0), doc_ids="|".join(f["doc_ids"] or []),
                       chunk_ids="|".join(f["chunk_ids"] or []), extractor=_xml(f["extractor"] or ""))  # fmt: skip
        for line in nx.generate_graphml(g):
            out.write(line + "\n")
    elif fmt in ("ttl", "jsonld"):
        out.write(_rdf(entities, facts).serialize(format="turtle" if fmt == "ttl" else "json-ld"))
    else:
        raise DataError(f"unknown export format {fmt!r}; use ttl, jsonld, graphml or tsv")
    return len(facts)


def _xml(text: Any) -> Any:
    """A GraphML value with the characters XML 1.0 cannot hold replaced by U+FFFD."""
    return _NOT_XML.sub("\ufffd", text) if isinstance(text, str) else text


def _rdf(entities: list[dict[str, Any]], facts: list[dict[str, Any]]) -> Any:
    """Entities as ``<NS entity/id>`` with rdfs:label and rdf:type; relations as ``<NS relation/TYPE>``."""
    import rdflib
    from rdflib.namespace import RDF, RDFS

    g = rdflib.Graph()
    g.bind("kg", NS)
    node = {e["id"]: rdflib.URIRef(f"{NS}entity/{e['id']}") for e in entities}
    for e in entities:
        g.add((node[e["id"]], RDFS.label, rdflib.Literal(e["name"])))
        g.add((node[e["id"]], RDF.type, rdflib.URIRef(f"{NS}type/{quote(e['type'] or GENERIC_TYPE, safe='')}")))
    for f in facts:
        pred = rdflib.URIRef(f"{NS}relation/{f['type']}")
        g.add((pred, RDFS.label, rdflib.Literal(f["label"] or f["type"])))
        g.add((node[f["head_id"]], pred, node[f["tail_id"]]))
    return g
