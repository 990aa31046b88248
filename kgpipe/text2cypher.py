"""Text2Cypher: a question becomes a read-only Cypher query, checked in layers, run, and shown with its result.

The model sees the graph's schema (labels, fact kinds with their ``label`` wording, property keys,
sample names) and few-shot examples built from this graph's own facts. Its reply is cut down to
one query, then checked before anything runs:

1. ``safety.check_read_clauses``: one statement, ASCII outside literals, only allowlisted read
   clauses and keywords (no CREATE/MERGE/SET/DELETE/DETACH/REMOVE/CALL/LOAD CSV/FOREACH, ...);
2. ``enforce_limit``: every ``UNION`` branch ends in ``LIMIT n`` with ``n <= settings.cypher_limit``
   (appended or capped);
3. the store runs it with ``write=False``: FalkorDB's ``GRAPH.RO_QUERY`` / a Neo4j READ transaction,
   under ``settings.query_timeout_ms``.

A query that fails a check or errors at the store raises a ``KgpipeError`` whose message shows
the query (also on the exception as ``.query``); an answer always carries the query it came from::

    answer = ask_cypher("Which companies did IBM acquire?", settings)
    print(answer.query, answer.rows)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import cypher
from .errors import KgpipeError, LLMError, StoreError, UnsafeQuery
from .prompts import prompt
from .safety import READ_KEYWORDS, OTHER_KEYWORDS, check_read_clauses, mask_literals, union_branches

if TYPE_CHECKING:
    from .config import Settings
    from .llms import LLM
    from .stores import Store

PROMPT_VERSION = "text2cypher.v1"
MAX_QUERY_TOKENS = 160  # a two-hop query is about 60 tokens of Gemma's vocabulary
STOP = ["\nQuestion:", "\n\n"]


@dataclass(frozen=True)
class FactKind:
    type: str  # the relationship type (sanitised relation)
    label: str  # the relation's original wording, what ``r.label`` holds
    count: int
    example: tuple[str, str] | None = None  # (head name, tail name) of one such fact


@dataclass(frozen=True)
class Schema:
    """What Text2Cypher tells the model about a graph."""

    labels: dict[str, int] = field(default_factory=dict)  # node label -> node count
    properties: dict[str, list[str]] = field(default_factory=dict)  # "Entity" / "Chunk" / "Document" / "fact" -> keys
    facts: list[FactKind] = field(default_factory=list)
    entity_types: list[tuple[str, int, list[str]]] = field(default_factory=list)  # (type, count, sample names)
    predicted: int = 0  # PREDICTED links in the graph
    path: tuple[str, str, str, str, str] | None = None  # one chain (a, r1, b, r2, c) for a multi-hop example

    def render(self) -> str:
        """The compact text block the prompt shows."""
        props = {k: "{" + ", ".join(v) + "}" if v else "" for k, v in self.properties.items()}
        lines = ["Graph schema:"]
        lines.append(f"(:Entity {props.get('Entity') or '{id, name, type, aliases}'}): {self.labels.get('Entity', 0)} nodes")
        for etype, n, names in self.entity_types:
            lines.append(f"  type {etype!r} ({n}), e.g. " + ", ".join(repr(x) for x in names))
        lines.append(
            "(:Entity)-[r]->(:Entity) facts; type(r) is the relation in UPPER_SNAKE, properties "
            f"{props.get('fact') or '{label, confidence, chunk_ids, doc_ids, extractor}'}; relations (r.label):"
        )
        lines.extend(f"  {f.type} label {f.label!r} ({f.count})" for f in self.facts)
        lines.append("(:Entity)-[:FROM_CHUNK]->(:Chunk {id, text})-[:FROM_DOCUMENT]->(:Document {id, path, title}): provenance")
        if self.predicted:
            lines.append(f"(:Entity)-[:PREDICTED {{relation, score, model}}]->(:Entity): {self.predicted} predicted links, not facts")
        return "\n".join(lines)


def graph_schema(store: "Store", *, max_relations: int = 30) -> Schema:
    """Read labels, property keys, fact kinds with examples and sample entity names from the store."""
    labels = {str(r[0]): int(r[1]) for r in store.execute(*cypher.schema_labels()).rows}
    properties = {
        kind: sorted(str(r[0]) for r in store.execute(*cypher.schema_property_keys(kind)).rows)
        for kind in ("Entity", "fact")
    }
    facts = [
        FactKind(str(t), str(label if label is not None else t), int(n), tuple(ex) if ex else None)  # type: ignore[arg-type]
        for t, label, n, ex in store.execute(*cypher.schema_fact_types(max_relations)).rows
    ]
    entity_types = [(str(t), int(n), [str(x) for x in names]) for t, n, names in store.execute(*cypher.schema_entity_samples()).rows]
    counts = {str(r[0]): int(r[1]) for r in store.execute(*cypher.relationship_type_counts()).rows}
    path_rows = store.execute(*cypher.schema_sample_path()).rows
    path = tuple(str(x) for x in path_rows[0]) if path_rows else None
    return Schema(labels, properties, facts, entity_types, counts.get("PREDICTED", 0), path)  # type: ignore[arg-type]


def _lit(text: str) -> str:
    """A Cypher string literal (for the prompt's examples only; generated queries never get our values)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _words(label: str) -> str:
    return label.replace("_", " ")


def build_prompt(question: str, schema: Schema) -> str:
    """The few-shot prompt: schema, fixed examples, examples over this graph's own facts, the question."""
    shots: list[tuple[str, str]] = []  # multi-hop and reverse first: a small model copies the latest example most
    if schema.path:
        a, r1, _, r2, _ = schema.path
        shots.append((
            f"What is the {_words(r2)} of the {_words(r1)} of {a}?",
            f"MATCH (e:Entity)-[r1]->(m:Entity)-[r2]->(x:Entity) WHERE toLower(e.name) = {_lit(a.lower())} "
            f"AND r1.label = {_lit(r1)} AND r2.label = {_lit(r2)} RETURN x.name AS answer LIMIT 25",
        ))  # fmt: skip
    if len(schema.facts) > 2 and schema.facts[2].example:
        kind = schema.facts[2]
        _, tail = kind.example  # type: ignore[misc]
        shots.append((
            f"Which entities have {_words(kind.label)} {tail}?",
            f"MATCH (x:Entity)-[r]->(e:Entity) WHERE toLower(e.name) = {_lit(tail.lower())} "
            f"AND r.label = {_lit(kind.label)} RETURN x.name AS answer LIMIT 25",
        ))  # fmt: skip
    for kind in schema.facts[:2]:
        if kind.example:
            head, _ = kind.example
            shots.append((
                f"What is the {_words(kind.label)} of {head}?",
                f"MATCH (e:Entity)-[r]->(x:Entity) WHERE toLower(e.name) = {_lit(head.lower())} "
                f"AND r.label = {_lit(kind.label)} RETURN x.name AS answer LIMIT 25",
            ))  # fmt: skip
    examples = "".join(f"Question: {q}\nCypher: {c}\n\n" for q, c in shots)
    text = prompt(PROMPT_VERSION).replace("{schema}", schema.render()).replace("{examples}", examples)
    return text.replace("{question}", " ".join(question.split()))


_FENCE = re.compile(r"```[A-Za-z]*[ \t]*\n?(.*?)(?:```|$)", re.S)
_PREFIX = re.compile(r"^\s*(?:cypher|query|answer)\s*:\s*", re.I)
_END = re.compile(r"\n\s*\n|\n\s*(?:question|answer|explanation|note|output|result)\s*:", re.I)
_PROSE = re.compile(r"^\s*([A-Z][a-z]+)\b(?!\s*[.(:\[])")


def extract_query(reply: str) -> str:
    """The query in a model's reply: inside a code fence if any, after a ``Cypher:`` prefix, before
    the next example, a blank line or a line of prose. Lines that start with a Cypher keyword are
    always kept, so a write on a later line is checked rather than silently dropped."""
    text = reply.strip()
    fenced = _FENCE.search(text)
    if fenced:
        text = fenced.group(1)
    text = _PREFIX.sub("", _END.split(text.strip(), maxsplit=1)[0])
    lines = text.strip().splitlines()
    kept = lines[:1]
    for line in lines[1:]:
        prose = _PROSE.match(line)
        if prose and prose.group(1).upper() not in READ_KEYWORDS | OTHER_KEYWORDS:
            break
        kept.append(line)
    return "\n".join(kept).strip()


def _top_level_words(masked: str, start: int, end: int) -> list[re.Match[str]]:
    """Words of ``masked[start:end]`` outside any brackets."""
    out, depth = [], 0
    for match in re.compile(r"[()\[\]{}]|[A-Za-z_][A-Za-z0-9_]*").finditer(masked, start, end):
        token = match.group()
        if token in "([{":
            depth += 1
        elif token in ")]}":
            depth -= 1
        elif depth == 0 and masked[match.start() - 1 : match.start()] not in ".$:":
            out.append(match)
        if depth < 0:
            break
    if depth:
        raise UnsafeQuery("the query's brackets are unbalanced")
    return out


def enforce_limit(query: str, max_rows: int) -> str:
    """``query`` with every UNION branch ending in ``LIMIT n``, ``n <= max_rows`` (appended or capped).

    >>> enforce_limit("MATCH (n) RETURN n", 100)
    'MATCH (n) RETURN n LIMIT 100'
    >>> enforce_limit("MATCH (n) RETURN n LIMIT 100000000", 100)
    'MATCH (n) RETURN n LIMIT 100'
    """
    query = query.rstrip().removesuffix(";").rstrip()
    masked = mask_literals(query)
    edits: list[tuple[int, int, str]] = []  # (start, end, replacement) in query offsets
    for start, end in union_branches(masked):
        words = _top_level_words(masked, start, end)
        returns = [w for w in words if w.group().upper() == "RETURN"]
        if not returns:
            raise UnsafeQuery("the query (or one of its UNION branches) has no RETURN")
        limits = [w for w in words if w.group().upper() == "LIMIT" and w.start() > returns[-1].start()]
        branch_end = start + len(masked[start:end].rstrip())
        if not limits:
            edits.append((branch_end, branch_end, f" LIMIT {max_rows}"))
            continue
        number = re.compile(r"\s+(\d+)\s*$").match(masked, limits[-1].end(), end)
        if number is None:
            raise UnsafeQuery("the query's final LIMIT must be a whole number at the end of the query")
        if int(number.group(1)) > max_rows:
            edits.append((number.start(1), number.end(1), str(max_rows)))
    for s, e, text in sorted(edits, reverse=True):
        query = query[:s] + text + query[e:]
    return query


def validate_query(query: str, max_rows: int) -> str:
    """The query made safe to run read-only (LIMIT enforced), or ``UnsafeQuery`` naming the reason and the query."""
    try:
        if not query.strip():
            raise UnsafeQuery("the model produced an empty query")
        check_read_clauses(query)
        return enforce_limit(query, max_rows)
    except UnsafeQuery as exc:
        raise _with_query(UnsafeQuery, f"generated query rejected: {exc}", query) from None


def _with_query(kind: type[KgpipeError], message: str, query: str) -> KgpipeError:
    exc = kind(f"{message}\n  query: {query}")
    exc.query = query  # type: ignore[attr-defined]
    return exc


@dataclass(frozen=True)
class CypherAnswer:
    """The rows a generated query returned, always with that query."""

    question: str
    query: str  # exactly what ran (after LIMIT enforcement)
    columns: list[str]
    rows: list[list[Any]]
    generated: str = ""  # the model's raw reply
    model: str = ""
    prompt_version: str = PROMPT_VERSION

    def to_dict(self) -> dict[str, Any]:
        return {"question": self.question, "query": self.query, "columns": self.columns, "rows": self.rows,
                "generated": self.generated, "model": self.model, "prompt": self.prompt_version}  # fmt: skip

    def __str__(self) -> str:
        lines = [f"query: {self.query}", " | ".join(self.columns) or "(no columns)"]
        lines += [" | ".join(_cell(v) for v in row) for row in self.rows]
        lines.append(f"({len(self.rows)} row{'s' if len(self.rows) != 1 else ''})")
        return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, dict) and "properties" in value:  # a node or relationship: its name or label
        props = value["properties"]
        return str(props.get("name") or props.get("label") or props.get("id") or props)
    return str(value)


def ask_cypher(
    question: str, settings: "Settings", store: "Store | str | None" = None, llm: "LLM | str | None" = None
) -> CypherAnswer:
    """Generate a Cypher query for ``question`` with the configured LLM, validate it, run it read-only."""
    from .api import open_store
    from .llms import resolve_llm

    the_store = open_store(settings, store)
    model = resolve_llm(llm if llm is not None else settings.llm, settings)
    reply = model.generate([build_prompt(question, graph_schema(the_store))], max_new_tokens=MAX_QUERY_TOKENS, stop=STOP)[0]
    generated = extract_query(reply)
    if not generated:
        raise _with_query(LLMError, f"the model produced no Cypher query for {question!r}; it replied {reply!r}", "")
    query = validate_query(generated, settings.cypher_limit)
    try:
        result = the_store.execute(query, {}, write=False)
    except (StoreError, UnsafeQuery) as exc:
        raise _with_query(type(exc), f"the generated query failed at the store: {exc}", query) from None
    return CypherAnswer(question, query, result.columns, result.rows[: settings.cypher_limit], reply, model.model_id)
