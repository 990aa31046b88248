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

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import KgpipeError, LLMError, StoreError, UnsafeQuery
from ..parse import parse_cypher
from ..prompts import prompt, prompt_data
from ..stores import cypher
from ..stores.safety import OTHER_KEYWORDS, READ_KEYWORDS, check_read_clauses, enforce_limit

if TYPE_CHECKING:
    from ..config import Settings
    from ..llms import LLM
    from ..stores import Store

PROMPT_VERSION = "text2cypher.v1"
EXAMPLES = "text2cypher.v1.examples"  # few-shot example templates, data of the prompt version
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


def build_prompt(question: str, schema: Schema) -> str:
    """The few-shot prompt: schema, fixed examples, examples over this graph's own facts, the question.

    The graph examples are data of the versioned prompt (``prompts/text2cypher.v1.examples.json``),
    filled with this graph's names and labels.
    """
    values: dict[str, list[dict[str, str]]] = {"path": [], "third_relation": [], "first_relations": []}
    if schema.path:
        a, r1, _, r2, _ = schema.path
        values["path"].append({"a": a, "r1": r1, "r2": r2})
    if len(schema.facts) > 2 and schema.facts[2].example:
        values["third_relation"].append({"label": schema.facts[2].label, "tail": schema.facts[2].example[1]})
    for kind in schema.facts[:2]:
        if kind.example:
            values["first_relations"].append({"label": kind.label, "head": kind.example[0]})
    shots = [
        (_fill(example["question"], filled), _fill(example["cypher"], filled))
        for example in prompt_data(EXAMPLES)["examples"]
        for filled in values[example["needs"]]
    ]
    examples = "".join(f"Question: {q}\nCypher: {c}\n\n" for q, c in shots)
    text = prompt(PROMPT_VERSION).replace("{schema}", schema.render()).replace("{examples}", examples)
    return text.replace("{question}", " ".join(question.split()))


def _fill(template: str, values: dict[str, str]) -> str:
    """A template of the examples file with ``values``: each also as ``<name>_words`` (underscores as
    spaces), ``<name>_lower``, and ``<name>_literal`` / ``<name>_lower_literal`` (Cypher string literals)."""
    fields: dict[str, str] = {}
    for name, value in values.items():
        fields.update({name: value, f"{name}_words": value.replace("_", " "), f"{name}_lower": value.lower(),
                       f"{name}_literal": cypher.string_literal(value),
                       f"{name}_lower_literal": cypher.string_literal(value.lower())})  # fmt: skip
    return template.format(**fields)


def extract_query(reply: str) -> str:
    """The query in a model's reply (``kgpipe.parse.parse_cypher`` with Cypher's keywords); ``""`` when the
    reply is prose only ("I'm sorry, I can't ...")."""
    return parse_cypher(reply, READ_KEYWORDS | OTHER_KEYWORDS)


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
    from ..llms import resolve_llm
    from ..stores import open_store

    the_store = open_store(settings, store)
    model = resolve_llm(llm if llm is not None else settings.llm, settings)
    reply = model.generate([build_prompt(question, graph_schema(the_store))], max_new_tokens=MAX_QUERY_TOKENS, stop=STOP)[0]
    generated = extract_query(reply)
    if not generated:
        raise _with_query(LLMError, f"no Cypher query found in the model's reply to {question!r}; it replied {reply!r}", "")
    query = validate_query(generated, settings.cypher_limit)
    try:
        result = the_store.execute(query, {}, write=False)
    except (StoreError, UnsafeQuery) as exc:
        raise _with_query(type(exc), f"the generated query failed at the store: {exc}", query) from None
    return CypherAnswer(question, query, result.columns, result.rows[: settings.cypher_limit], reply, model.model_id)
