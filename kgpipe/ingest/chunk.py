"""Split documents into sentence-aligned chunks under a token budget, with sentence overlap and exact offsets.

    for c in chunk(documents, max_tokens=160, overlap=1):
        assert doc.text[c.start:c.end] == c.text

Tokens are counted cheaply with a regex (a run of word characters, or one punctuation mark), not
with an LLM tokenizer: the budget only has to keep prompts small, and this count is close to a
subword count for English prose. Sentences come from spaCy: the installed trained English
pipeline's statistical sentence recogniser (``senter``, nothing else loaded), or a blank English
pipeline with the rule-based ``sentencizer`` when no trained pipeline is installed.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from typing import TYPE_CHECKING, Iterable, Iterator, Sequence

from ..errors import ConfigError
from ..records import Chunk, Document, stable_id
from ..text import TRAINED_PIPELINES

if TYPE_CHECKING:
    from spacy.language import Language

    from .relations import Embed

__all__ = ["chunk", "count_tokens", "sentence_spans", "sentence_splitter", "TRAINED_PIPELINES"]

log = logging.getLogger(__name__)

# Trained English pipelines tried in order; the first one installed is used.
# Everything in a trained pipeline that sentence splitting does not need.
_NOT_NEEDED = ["tok2vec", "tagger", "morphologizer", "parser", "attribute_ruler", "lemmatizer",
               "trainable_lemmatizer", "ner", "entity_ruler", "textcat", "textcat_multilabel", "transformer"]

_TOKEN = re.compile(r"\w+|[^\w\s]")
_BLANK_LINES = re.compile(r"\n[ \t]*\n\s*")
_BULLET = re.compile(r"[ \t]*(?:[-*+\u2022\u2023\u25e6\u2013]|\d{1,3}[.)])[ \t]")
_SEGMENT_CHARS = 100_000  # longest text handed to spaCy at once (its memory grows with length)


def count_tokens(text: str) -> int:
    """Number of word and punctuation tokens (``\\w+`` runs and single symbols)."""
    return len(_TOKEN.findall(text))


@lru_cache(maxsize=4)
def sentence_splitter(model: str | None = None) -> "Language":
    """A spaCy pipeline that sets sentence boundaries, loaded once per ``model``.

    ``None``: the first installed name in ``TRAINED_PIPELINES``, else a blank pipeline;
    ``"blank"``: ``spacy.blank("en")`` with a ``sentencizer``; any other string: that package or path.
    """
    import spacy

    names = TRAINED_PIPELINES if model is None else () if model == "blank" else (model,)
    for name in names:
        if model is None and not spacy.util.is_package(name):
            continue
        try:
            nlp = _load_trained(name)
        except (OSError, ImportError, ValueError) as exc:
            if model is not None:
                raise ConfigError(f"cannot load the spaCy pipeline {name!r}: {exc}") from None
            log.warning("spaCy pipeline %s did not load (%s); trying the next", name, exc)
            continue
        nlp.max_length = 2 * _SEGMENT_CHARS
        return nlp
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.max_length = 2 * _SEGMENT_CHARS
    return nlp


def _load_trained(name: str) -> "Language":
    """Only the ``senter`` of a trained pipeline (about 10x faster than its parser); the parser if it has none."""
    import spacy

    nlp = spacy.load(name, exclude=_NOT_NEEDED)
    if "senter" in nlp.component_names:
        if "senter" in nlp.disabled:
            nlp.enable_pipe("senter")
        try:
            list(nlp("A first sentence. A second one.").sents)
            return nlp
        except Exception:  # a senter that listens to an excluded tok2vec: fall back to the parser
            pass
    return spacy.load(name, exclude=["ner", "lemmatizer", "attribute_ruler", "textcat"])


def _segments(text: str) -> Iterator[tuple[int, int]]:
    """Spans that no sentence may cross: paragraphs, list items, a heading-like first line, long-text cuts."""
    pos = 0
    for m in [*_BLANK_LINES.finditer(text), None]:
        end = m.start() if m else len(text)
        yield from _split_block(text, pos, end)
        if m:
            pos = m.end()


def _heading_like(line: str) -> bool:
    """A short line without closing punctuation that is a few words or ends on a capitalised word.

    The last condition keeps hard-wrapped prose ("She won the Nobel Prize in") from counting as a heading.
    """
    words = line.split()
    if not words or len(line) > 60 or line[-1] in ".!?,;:":
        return False
    return len(words) <= 3 or words[-1][:1].isupper() or words[-1][:1].isdigit()


def _split_block(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """Cut a paragraph before bullet lines and after a short unpunctuated first line (a heading)."""
    cuts = [start]
    line_start = start
    first = True
    while True:
        nl = text.find("\n", line_start, end)
        if nl < 0:
            break
        line = text[line_start:nl].strip()
        after = text[nl + 1 : end]
        heading = first and _heading_like(line) and after[:1].isupper()
        if heading or _BULLET.match(after):
            cuts.append(nl + 1)
        first = False
        line_start = nl + 1
    cuts.append(end)
    for a, b in zip(cuts, cuts[1:]):
        yield from _cap_length(text, a, b)


def _cap_length(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """Keep each piece handed to spaCy under ``_SEGMENT_CHARS``, cutting at a line break, sentence end or space."""
    while end - start > _SEGMENT_CHARS:
        limit = start + _SEGMENT_CHARS
        cut = max(text.rfind("\n", start, limit), text.rfind(". ", start, limit) + 1, text.rfind(" ", start, limit))
        cut = cut if cut > start else limit
        yield start, cut
        start = cut
    yield start, end


def strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    """``(start, end)`` without the whitespace at either end of ``text[start:end]``."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def sentence_spans(text: str, nlp: "Language | None" = None) -> list[tuple[int, int]]:
    """Character spans of the sentences of ``text``, whitespace trimmed, in order."""
    nlp = nlp or sentence_splitter()
    segments = [s for s in (strip_span(text, a, b) for a, b in _segments(text)) if s[0] < s[1]]
    spans: list[tuple[int, int]] = []
    for (offset, _), doc in zip(segments, nlp.pipe((text[a:b] for a, b in segments), batch_size=64)):
        for sent in doc.sents:
            a, b = strip_span(text, offset + sent.start_char, offset + sent.end_char)
            if a < b:
                spans.append((a, b))
    return spans


def _units(text: str, spans: list[tuple[int, int]], max_tokens: int) -> list[tuple[int, int, int]]:
    """Sentences as ``(start, end, tokens)``; one over the budget is cut at word boundaries."""
    units = []
    for start, end in spans:
        tokens = list(_TOKEN.finditer(text, start, end))
        if len(tokens) <= max_tokens:
            if tokens:
                units.append((start, end, len(tokens)))
            continue
        a = 0
        while a < len(tokens):
            b = min(a + max_tokens, len(tokens))
            if b < len(tokens):  # back off to a token preceded by whitespace, if there is one
                c = b
                while c > a + 1 and tokens[c].start() == tokens[c - 1].end():
                    c -= 1
                b = c if c > a + 1 else b
            units.append((tokens[a].start(), tokens[b - 1].end(), b - a))
            a = b
    return units


def _pack(units: list[tuple[int, int, int]], max_tokens: int, overlap: int) -> Iterator[tuple[int, int]]:
    """Greedy packing of units into ``[i, j)`` windows; the next window repeats up to ``overlap`` units."""
    i, n = 0, len(units)
    while i < n:
        j, total = i, 0
        while j < n and total + units[j][2] <= max_tokens:
            total += units[j][2]
            j += 1
        j = max(j, i + 1)
        yield i, j
        if j >= n:
            return
        # Repeat the last units of this window, as many as fit beside the next new one.
        k = max(j - overlap, i + 1)
        while k < j and sum(u[2] for u in units[k:j]) + units[j][2] > max_tokens:
            k += 1
        i = k


def chunk(
    documents: Iterable[Document] | Document,
    *,
    max_tokens: int = 160,
    overlap: int = 1,
    nlp: "Language | None" = None,
) -> Iterator[Chunk]:
    """Stream chunks of whole sentences, each at most ``max_tokens`` tokens (see ``count_tokens``).

    A chunk starts with the last ``overlap`` sentences of the previous one when they fit in the budget;
    a sentence longer than the budget is split at word boundaries. ``Chunk.id`` is
    ``stable_id(doc_id, index, start, end)``, so the same text and settings always give the same ids.
    ``nlp`` overrides the sentence splitter (default: ``sentence_splitter()``).
    """
    if max_tokens < 1:
        raise ConfigError(f"max_tokens must be at least 1, got {max_tokens}")
    if overlap < 0:
        raise ConfigError(f"overlap must be 0 or more, got {overlap}")
    docs = [documents] if isinstance(documents, Document) else documents
    splitter = nlp or sentence_splitter()
    for doc in docs:
        units = _units(doc.text, sentence_spans(doc.text, splitter), max_tokens)
        for index, (i, j) in enumerate(_pack(units, max_tokens, overlap)):
            start, end = units[i][0], units[j - 1][1]
            yield Chunk(
                id=stable_id(doc.id, str(index), str(start), str(end)),
                doc_id=doc.id,
                index=index,
                text=doc.text[start:end],
                start=start,
                end=end,
            )


def chunk_vectors(chunks: Sequence[Chunk], embedder: "Embed") -> dict[str, list[float]]:
    """Each chunk's embedding (unit length), by chunk id: what the store's vector index on ``Chunk`` serves, so
    ``ask`` can read the chunks nearest a question (``kgpipe.qa.text``)."""
    vectors = embedder.encode([c.text for c in chunks])
    return {c.id: [float(x) for x in v] for c, v in zip(chunks, vectors)}
