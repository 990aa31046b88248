"""Extraction stage: an LLM proposes ``(head, relation, tail)`` triples for each chunk.

The prompt is a versioned few-shot file (``prompts/extract.v1.md``); when an ontology is configured its
allowed types and relations are listed in the prompt. Replies are parsed by ``kgpipe.parse`` only.
A chunk whose reply yields nothing usable is recorded as an ``ExtractionFailure`` and the build goes on.
A batch whose request fails after the backend's retries (``LLMError``) is retried one chunk at a time, so
only the chunks that keep failing are lost; each is recorded as a ``ChunkFailure`` (stage ``"extract"``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Sequence

from ..errors import LLMError
from ..parse import parse_triples
from ..prompts import prompt
from ..records import GENERIC_TYPE, Chunk, ChunkFailure, ExtractionFailure, Provenance, Triple

if TYPE_CHECKING:
    from ..llms import LLM
    from ..ontology import Ontology

PROMPT_VERSION = "extract.v1"
STOP = ("\nEND", "\nText:")


@dataclass
class ExtractionResult:
    triples: list[Triple] = field(default_factory=list)
    failures: list[ExtractionFailure] = field(default_factory=list)
    failed: list[ChunkFailure] = field(default_factory=list)  # requests that failed after retries


def build_prompt(text: str, ontology: "Ontology | None" = None) -> str:
    """The extraction prompt for one chunk of text."""
    guide = f"\n{ontology.prompt_block()}\n" if ontology is not None else ""
    return prompt(PROMPT_VERSION).replace("{ontology}", guide).replace("{text}", " ".join(text.split()))


def extract(
    chunks: Sequence[Chunk],
    llm: "LLM",
    *,
    ontology: "Ontology | None" = None,
    max_new_tokens: int = 128,
    batch_size: int = 8,
    on_progress: Callable[[int], None] | None = None,
) -> ExtractionResult:
    """Triples for every chunk, with provenance; failures recorded, never raised.

    ``on_progress(n)`` is called after each batch of ``n`` chunks (e.g. a tqdm bar's ``update``).
    """
    result = ExtractionResult()
    for start in range(0, len(chunks), batch_size):
        batch = chunks[start : start + batch_size]
        prompts = [build_prompt(c.text, ontology) for c in batch]
        answered: list[tuple[Chunk, str]] = []
        try:
            answered = list(zip(batch, llm.generate(prompts, max_new_tokens=max_new_tokens, stop=STOP)))
        except LLMError as exc:
            if len(batch) == 1:
                result.failed.append(ChunkFailure(batch[0].id, batch[0].doc_id, "extract", str(exc)))
            else:  # one chunk at a time, so that only the chunks that keep failing fail
                for chunk, text in zip(batch, prompts):
                    try:
                        answered.append((chunk, llm.generate([text], max_new_tokens=max_new_tokens, stop=STOP)[0]))
                    except LLMError as one:
                        result.failed.append(ChunkFailure(chunk.id, chunk.doc_id, "extract", str(one)))
        for chunk, reply in answered:
            parsed = parse_triples(reply)
            if parsed.failed:
                result.failures.append(ExtractionFailure(chunk.id, chunk.doc_id, parsed.reason, reply[:500]))
            prov = Provenance(chunk.doc_id, chunk.id, llm.model_id, PROMPT_VERSION, (chunk.start, chunk.end))
            for t in parsed.triples:
                result.triples.append(
                    Triple(t.head, t.relation, t.tail, t.head_type or GENERIC_TYPE, t.tail_type or GENERIC_TYPE, 1.0, prov)
                )
        if on_progress is not None:
            on_progress(len(batch))
    return result
