"""Entity-centric denoising (GraphJudger step 1): rewrite a chunk as short factual sentences about its entities.

Two LLM calls per chunk, each from a versioned few-shot prompt: the model lists the chunk's entities
(``prompts/denoise.entities.v2.md``), then rewrites the chunk as one-fact sentences about them
(``prompts/denoise.v1.md``). The rewrite is returned as a ``Chunk`` with the *same* id, document and
span as the original, so triples extracted from it keep pointing at the original text; the judge
and the store must be given the original chunks.

A reply that yields no usable sentence leaves the chunk as it was, and so does a rewrite whose
sentences are mostly about words the chunk does not contain (a small model can drift into its
few-shot examples): sentences are kept only when most of their words occur in the chunk.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING, Sequence

from ..parse import parse_entities, parse_sentences
from ..prompts import prompt
from ..records import Chunk
from ..text import fold_diacritics

if TYPE_CHECKING:
    from ..llms import LLM

ENTITIES_PROMPT = "denoise.entities.v2"  # v1 ended in a newline: the list began a line early
PROMPT_VERSION = "denoise.v1"
STOP = ("\nEND", "\nText:")
MAX_ENTITIES = 20

_WORD = re.compile(r"[0-9a-z]+")


def _words(text: str) -> set[str]:
    return set(_WORD.findall(fold_diacritics(text).casefold()))


def grounded_sentences(reply: str, source: str, *, min_share: float = 0.6) -> list[str]:
    """The reply's sentences (one per line) whose words occur in ``source`` for at least ``min_share``."""
    vocabulary = _words(source)
    kept: list[str] = []
    for sentence in parse_sentences(reply):
        words = _WORD.findall(fold_diacritics(sentence).casefold())
        if words and sum(w in vocabulary for w in words) / len(words) >= min_share:
            kept.append(sentence)
    return kept


def denoise(chunks: Sequence[Chunk], llm: "LLM", *, batch_size: int = 8, max_new_tokens: int = 96) -> list[Chunk]:
    """One rewrite per chunk (same id, document and span; new text), in order; unusable rewrites keep the text."""
    out: list[Chunk] = []
    for start in range(0, len(chunks), batch_size):
        batch = chunks[start : start + batch_size]
        flat = [" ".join(c.text.split()) for c in batch]
        asks = [prompt(ENTITIES_PROMPT).replace("{text}", text) for text in flat]
        lists = [parse_entities(r, limit=MAX_ENTITIES) for r in llm.generate(asks, max_new_tokens=48, stop=STOP)]
        rewrite_asks = [
            prompt(PROMPT_VERSION).replace("{text}", text).replace("{entities}", "; ".join(names))
            for text, names in zip(flat, lists)
        ]
        replies = llm.generate(rewrite_asks, max_new_tokens=max_new_tokens, stop=STOP)
        for chunk, reply in zip(batch, replies):
            sentences = grounded_sentences(reply, chunk.text)
            out.append(replace(chunk, text=" ".join(sentences)) if sentences else chunk)
    return out
