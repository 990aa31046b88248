"""The records that flow between stages: frozen dataclasses, nothing else.

Every fact carries its provenance (document, chunk, character span where known,
extractor/model id, prompt version, confidence) so that any edge in the graph
can be traced back to the text that supports it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Callable

#: The type of an entity nothing more specific is known of (an unlabelled extraction, an import).
GENERIC_TYPE = "Thing"


def stable_id(*parts: str) -> str:
    """A short, stable hex id of some strings (sha256, 16 bytes)."""
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8", "surrogatepass"))  # a lone surrogate (JSON "\\ud800") must not crash
        h.update(b"\x1f")
    return h.hexdigest()[:32]


@dataclass(frozen=True)
class Document:
    """One source file. ``id`` is the sha256 of the decoded text, so identical content is one document."""

    id: str
    path: str
    title: str
    text: str
    sha256: str
    mime: str = "text/plain"


@dataclass(frozen=True)
class Chunk:
    """A sentence-aligned piece of a document; ``start``/``end`` are character offsets into ``Document.text``."""

    id: str
    doc_id: str
    index: int
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Provenance:
    """Where a fact comes from and what produced it."""

    doc_id: str
    chunk_id: str
    extractor: str  # model id of the LLM (or "import:<file>")
    prompt_version: str = ""
    span: tuple[int, int] | None = None  # character span in the document, where known


@dataclass(frozen=True)
class Entity:
    """A node of the graph. ``id`` is derived from the normalised name and type (see ``entity_id``)."""

    id: str
    name: str
    type: str = GENERIC_TYPE
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Triple:
    """A candidate or accepted fact ``(head, relation, tail)`` with types, confidence and provenance."""

    head: str
    relation: str
    tail: str
    head_type: str = GENERIC_TYPE
    tail_type: str = GENERIC_TYPE
    confidence: float = 1.0
    provenance: Provenance | None = None
    wording: str = ""  # the chunk's own wording of the relation, when ``relation`` is a canonical label (issue 11)


@dataclass(frozen=True, slots=True)
class MentionIn:
    """A mention for entity fusion to resolve: the name as extracted, its declared type, and the text around it (optional)."""

    name: str
    type: str = GENERIC_TYPE
    context: str | None = None
    #: The facts the mention takes part in, as ``(relation, other name)`` (``"~relation"`` when it is the tail):
    #: shared ones are evidence of one entity, different values of a one-valued relation (birth date) against it.
    facts: tuple[tuple[str, str], ...] = ()


#: Decides borderline pairs of mentions for fusion: one verdict (same thing or not) per pair, in order.
Adjudicator = Callable[[list[tuple[MentionIn, MentionIn]]], list[bool]]


@dataclass(frozen=True)
class ExtractionFailure:
    """A chunk whose LLM reply could not be turned into triples; kept for the build report."""

    chunk_id: str
    doc_id: str
    reason: str
    reply: str = ""


@dataclass(frozen=True)
class WriteFailure:
    """A document the store refused to write; what it had written was removed again (for the build report)."""

    doc_id: str
    path: str
    reason: str


@dataclass(frozen=True)
class ChunkFailure:
    """A chunk whose LLM requests still failed after the backend's retries (``stage``: ``"extract"``,
    ``"judge"`` or ``"denoise"``). Its document is written with its other facts but not marked complete,
    so the next build redoes it (the response cache answers the chunks that did not fail)."""

    chunk_id: str
    doc_id: str
    stage: str
    reason: str


@dataclass(frozen=True)
class SkippedFile:
    """A file the loader could not use (unreadable, empty, binary, unsupported) and why."""

    path: str
    reason: str


@dataclass(frozen=True)
class Fact:
    """A fact ready to write: entity ids on both ends, merged provenance."""

    head_id: str
    relation: str  # the original wording; the store sanitises it into a relationship type
    tail_id: str
    confidence: float
    chunk_ids: tuple[str, ...]
    doc_ids: tuple[str, ...]
    extractor: str
    wordings: tuple[str, ...] = ()  # the chunks' own wordings of the relation (stored as ``r.wordings``)


@dataclass(frozen=True)
class Mention:
    """An entity mentioned in a chunk (becomes ``(:Entity)-[:FROM_CHUNK {names}]->(:Chunk)``).

    ``names``: the spellings the chunk used for it, so deleting a document can drop the aliases only it gave.
    """

    entity_id: str
    chunk_id: str
    names: tuple[str, ...] = ()


@dataclass
class GraphBatch:
    """What one document (or one import) contributes to the store, written in one go."""

    documents: list[Document] = field(default_factory=list)
    chunks: list[Chunk] = field(default_factory=list)
    entities: list[Entity] = field(default_factory=list)
    mentions: list[Mention] = field(default_factory=list)
    facts: list[Fact] = field(default_factory=list)
    folded: list[Triple] = field(default_factory=list)  # two different names fused into one entity: not written
    chunk_vectors: dict[str, list[float]] = field(default_factory=dict)  # chunk id -> embedding, for the vector index
