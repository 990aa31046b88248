"""Grounded extraction through an HTTP server's structured output (issue 11): the grounded grammar as a JSON schema.

A local model decodes each sentence under ``grounded.TripleGrammar`` token by token; an HTTP server cannot
take that grammar, but vLLM and llama.cpp servers decode under a JSON schema (``kgpipe.llms.structured``).
So each sentence with two candidate names or more (``grounded.sentence_names``, the same units as local
grounded decoding) is sent with a schema of what the grammar allows::

    {"triples": [{"head": <a name of the sentence>, "relation": <enum: the ontology's labels>,
                  "tail": <enum: the sentence's other names>}, ... at most max_triples]}

(items an ``anyOf`` with one branch per head, so that the tail is another name; with an ontology a branch
offers only the relations the head's kind may take and the names some of them may point to, as local
decoding types them; a free string of at most ``FREE_RELATION_CHARS`` characters as the relation without an
ontology). What the schema does not say — no line twice, each tail's kind against its own relation — is
checked after: the reply
is read by ``kgpipe.parse`` and then validated and snapped like any HTTP reply (``snap.py``, by the caller),
so with structured output snapping should find nothing to repair, and its counts show whether it did.

A server that refuses the schema parameter (a 4xx naming it) is detected once by the backend; with
``structured_output = "auto"`` the remaining chunks are then extracted freely (``extract.extract``) and
snapped, with ``"on"`` the refusal is a ``MissingCapability`` error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ConfigError, LLMError, MissingCapability
from ..llms.contract import structured_generator
from ..parse import parse_structured_triples
from ..prompts import prompt
from ..records import GENERIC_TYPE, Chunk, ChunkFailure, ExtractionFailure, Provenance, Triple
from .extract import ExtractionResult, extract
from .grounded import (
    names_of,
    rerank_relations,
    rerank_texts,
    sentence_names,
    typed_grammar_relations,
    typing,
)

if TYPE_CHECKING:
    from ..config import Settings
    from ..llms import LLM
    from ..ontology import Ontology

log = logging.getLogger(__name__)

PROMPT_VERSION = "extract.structured.v1"
FREE_RELATION_CHARS = 40  # no ontology: a relation is free text this long at most (local decoding: 6 tokens)
MODES = ("auto", "on", "off")
UNIT = "sentence"  # what one request covers: "sentence" (as local grounded decoding) or "chunk"; see README for both


@dataclass
class StructuredStats:
    """How much of an extraction went through structured output, and why the rest did not."""

    chunks: int = 0  # chunks whose sentences were decoded by the server under their schema
    requests: int = 0  # sentences (or chunks) sent with a schema
    fallback_chunks: int = 0  # chunks extracted freely after the server refused the schema
    refused: str = ""  # the server's refusal, when it refused


def structured_extraction(llm: LLM, settings: Settings) -> bool:
    """Whether extraction goes through the server's structured output: grounded mode, a backend that declares it
    and ``structured_output`` not ``"off"`` (``"on"`` with a backend that cannot: ``MissingCapability``). A local
    model is never asked: it decodes under the grammar itself (``constrained_extraction``, checked first)."""
    if settings.structured_output not in MODES:
        raise ConfigError(f"structured_output must be one of {', '.join(MODES)}, got {settings.structured_output!r}")
    if settings.extraction != "grounded" or settings.structured_output == "off":
        return False
    if structured_generator(llm) is None:
        if settings.structured_output == "on":
            raise MissingCapability(f"structured_output = 'on' needs a backend with structured output "
                                    f"(StructuredGenerator: 'openai:...'), not {llm.model_id}")  # fmt: skip
        return False
    return True


def triple_schema(names: Sequence[str], relations: Sequence[str] | None, max_triples: int, *,
                  typed: Sequence[tuple[list[str], list[str]]] | None = None) -> dict[str, Any] | None:  # fmt: skip
    """The JSON schema of one sentence's triples: names and relations as enums, at most ``max_triples``; None when
    no line is possible. ``typed``: per name, the relations it may head and the names they may point to
    (``typed_branches``: the ontology's domains and ranges against the names' kinds).

    >>> s = triple_schema(["Ulm", "Germany"], ["located in"], 2)["properties"]["triples"]
    >>> ulm = s["items"]["anyOf"][0]["properties"]
    >>> s["maxItems"], ulm["head"]["enum"], ulm["tail"]["enum"], ulm["relation"]["enum"]
    (2, ['Ulm'], ['Germany'], ['located in'])
    """
    branches = []  # one per head, so that the tail is another name
    for i, head in enumerate(names):
        labels, tails = typed[i] if typed is not None else (relations, [n for n in names if n != head])
        if not tails or (labels is not None and not labels):
            continue
        relation = ({"type": "string", "enum": list(labels)} if labels is not None
                    else {"type": "string", "maxLength": FREE_RELATION_CHARS})  # fmt: skip
        branches.append({"type": "object", "properties": {"head": {"type": "string", "enum": [head]}, "relation": relation,
                                                          "tail": {"type": "string", "enum": tails}},
                         "required": ["head", "relation", "tail"], "additionalProperties": False})  # fmt: skip
    if not branches:
        return None
    items = {"type": "array", "items": {"anyOf": branches}, "maxItems": max_triples}
    return {"type": "object", "properties": {"triples": items}, "required": ["triples"], "additionalProperties": False}


def typed_branches(names: dict[str, str], ontology: Ontology) -> list[tuple[list[str], list[str]]]:
    """Per name (in order): the relations it may head by its kind, and the names at least one of them may point to
    (``grounded.typing``, as local grounded decoding bars them; a schema cannot tie each tail to its relation)."""
    labels, no_relations, no_tails = typing(names, ontology)
    texts = list(names)
    barred = [set(t) for t in no_tails]
    out = []
    for h in range(len(texts)):
        allowed = [r for r in range(len(labels)) if r not in set(no_relations[h])]
        tails = [t for j, t in enumerate(texts) if j != h and any(j not in barred[r] for r in allowed)]
        out.append(([labels[r] for r in allowed], tails))
    return out


def structured_prompt(text: str, ontology: Ontology | None) -> str:
    """The extraction prompt for one sentence (or chunk): the grounded prompt's examples, written as JSON."""
    guide = f"\n{ontology.prompt_block()}\n" if ontology is not None else ""
    return prompt(PROMPT_VERSION).replace("{ontology}", guide).replace("{text}", " ".join(text.split()))


def extract_structured(
    chunks: Sequence[Chunk],
    llm: LLM,
    *,
    ontology: Ontology | None = None,
    max_new_tokens: int = 96,
    max_triples: int = 3,
    per: str | None = None,
    required: bool = False,
    batch_size: int = 8,
    on_progress: Callable[[int], None] | None = None,
    stats: StructuredStats | None = None,
    encode: Callable[[list[str]], np.ndarray] | None = None,
) -> ExtractionResult:
    """Each chunk's triples from the server under a schema per sentence (``per="chunk"``: one per chunk), with
    provenance; a chunk whose request fails is recorded (``ChunkFailure``), a reply that parses to nothing too.
    ``encode`` (MiniLM) re-chooses each line's relation from the words between its names, as local grounded
    decoding does. See the module docstring for a server that refuses the schema."""
    generator = structured_generator(llm)
    if generator is None:
        raise MissingCapability(f"{llm.model_id} has no structured output (StructuredGenerator)")
    relations = [r.label for r in typed_grammar_relations(ontology)] if ontology is not None else None
    stats = stats if stats is not None else StructuredStats()
    result = ExtractionResult()
    asks = [_requests(chunk, per or UNIT, ontology, relations, max_triples) for chunk in chunks]
    # Every chunk's requests in one call: the backend keeps its ``llm_concurrency`` in flight over all of them, so a
    # chunk's few sentences no longer wait for the chunk before (README, "Scaling"). Replies come in input order.
    flat = [(p, schema) for units, prompts, schemas in asks for p, schema in zip(prompts, schemas)]
    try:
        replies = generator.generate_structured([p for p, _ in flat], [s for _, s in flat],
                                                max_new_tokens=max_new_tokens) if flat else []  # fmt: skip
    except NotImplementedError as exc:
        if required:
            raise MissingCapability(f"structured_output = 'on', but {exc}") from exc
        first = next(k for k, (units, _, _) in enumerate(asks) if units)  # the chunks before asked for nothing
        if on_progress is not None and first:
            on_progress(first)
        return _freely(chunks[first:], exc, llm, ontology, max_new_tokens, batch_size, on_progress, stats, result)
    except LLMError:
        replies = None  # one chunk at a time, so that only the chunks whose requests keep failing fail
    if replies is not None and encode is not None and ontology is not None:
        units = [u for chunk_units, _, _ in asks for u in chunk_units]
        _prefetch(units, replies, ontology, encode)
    at = 0
    for k, (chunk, (units, prompts, schemas)) in enumerate(zip(chunks, asks)):
        if replies is not None:
            mine, at = replies[at : at + len(units)], at + len(units)
        else:
            try:
                mine = generator.generate_structured(prompts, schemas, max_new_tokens=max_new_tokens) if units else []
            except NotImplementedError as exc:
                if required:
                    raise MissingCapability(f"structured_output = 'on', but {exc}") from exc
                return _freely(chunks[k:], exc, llm, ontology, max_new_tokens, batch_size, on_progress, stats, result)
            except LLMError as exc:
                result.failed.append(ChunkFailure(chunk.id, chunk.doc_id, "extract", str(exc)))
                mine, units = [], []
        _read(chunk, units, mine, llm, ontology, encode, stats, result)
        if on_progress is not None:
            on_progress(1)
    return result


Unit = tuple[str, dict[str, str]]  # a sentence (or chunk) and its candidate names with their kinds


def _requests(chunk: Chunk, per: str, ontology: Ontology | None, relations: list[str] | None,
              max_triples: int) -> tuple[list[Unit], list[str], list[dict[str, Any]]]:  # fmt: skip
    """A chunk's units that may state a line, with their prompts and schemas (a unit with no line possible: none)."""
    if per == "sentence":
        units = sentence_names(chunk)
    else:
        names = names_of(chunk)
        units = [(chunk.text, names)] if len(names) >= 2 else []
    typed = [typed_branches(names, ontology) if ontology is not None else None for _, names in units]
    schemas = [triple_schema(list(names), relations, max_triples, typed=t) for (_, names), t in zip(units, typed)]
    kept = [(u, schema) for u, schema in zip(units, schemas) if schema is not None]
    return [u for u, _ in kept], [structured_prompt(text, ontology) for (text, _), _ in kept], [s for _, s in kept]


def _read(chunk: Chunk, units: list[Unit], replies: Sequence[str], llm: LLM, ontology: Ontology | None,
          encode: Callable[[list[str]], np.ndarray] | None, stats: StructuredStats, result: ExtractionResult) -> None:  # fmt: skip
    """A chunk's replies into ``result``: triples with provenance, one per line however many sentences state it."""
    stats.requests += len(units)
    stats.chunks += 1 if units else 0
    prov = Provenance(chunk.doc_id, chunk.id, llm.model_id, PROMPT_VERSION, (chunk.start, chunk.end))
    seen: set[tuple[str, str, str]] = set()
    for (text, names), reply in zip(units, replies):
        parsed = parse_structured_triples(reply)
        if parsed.failed:
            result.failures.append(ExtractionFailure(chunk.id, chunk.doc_id, parsed.reason, reply[:500]))
        lines = [(t.head, t.relation, t.tail) for t in parsed.triples]
        if encode is not None and ontology is not None:
            lines = _rerank(text, names, lines, ontology, encode)
        for line in lines:
            if line not in seen:  # two sentences that state one fact: one triple
                seen.add(line)
                result.triples.append(Triple(*line, GENERIC_TYPE, GENERIC_TYPE, 1.0, prov))


def _freely(rest: Sequence[Chunk], refusal: NotImplementedError, llm: LLM, ontology: Ontology | None,
            max_new_tokens: int, batch_size: int, on_progress: Callable[[int], None] | None, stats: StructuredStats,
            result: ExtractionResult) -> ExtractionResult:  # fmt: skip
    """After the server refused the schema: the chunks not yet extracted, extracted freely (snapped by the caller)."""
    log.warning("%s; extracting the remaining %d chunks freely (their replies are snapped)", refusal, len(rest))
    stats.refused, stats.fallback_chunks = str(refusal), len(rest)
    free = extract(rest, llm, ontology=ontology, max_new_tokens=max_new_tokens, batch_size=batch_size,
                   on_progress=on_progress)  # fmt: skip
    result.triples += free.triples
    result.failures += free.failures
    result.failed += free.failed
    return result


def _prefetch(units: list[Unit], replies: Sequence[str], ontology: Ontology,
              encode: Callable[[list[str]], np.ndarray]) -> None:  # fmt: skip
    """Every text the replies' relation re-ranking will encode, in one call: the encoders remember what they
    encoded, so each sentence's ``_rerank`` then finds its rows (in a Ray build, one call to the embedding actor
    per block instead of one per sentence)."""
    texts: set[str] = set()
    for (text, names), reply in zip(units, replies):
        lines = [(t.head, t.relation, t.tail) for t in parse_structured_triples(reply).triples]
        inside = [(h, r, t) for h, r, t in lines if h in names and t in names and h != t]
        texts |= rerank_texts(text, names, inside, ontology)
    if texts:
        encode(sorted(texts))


def _rerank(text: str, names: dict[str, str], lines: list[tuple[str, str, str]], ontology: Ontology,
            encode: Callable[[list[str]], np.ndarray]) -> list[tuple[str, str, str]]:  # fmt: skip
    """``grounded.rerank_relations`` for the lines whose names are the sentence's (a server that ignored the
    schema may write others: those keep their relation, and snapping judges them)."""
    inside = [i for i, (h, _, t) in enumerate(lines) if h in names and t in names and h != t]
    out = list(lines)
    for i, line in zip(inside, rerank_relations(text, names, [lines[i] for i in inside], ontology, encode)):
        out[i] = line
    return out
