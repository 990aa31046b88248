"""Validation and repair of an HTTP backend's triples (issue 11): the grounded grammar, applied after the fact.

A local model is constrained token by token; an HTTP endpoint cannot be, so its free output is held to
the same rules afterwards, chunk by chunk:

* a head or tail that is a span of the chunk's text (case, punctuation and spacing ignored, whole words)
  is kept, spelled as the text spells it;
* otherwise it is snapped to the closest candidate name of the chunk (``kgpipe.ingest.spans``) with the same
  numbers in it when their rapidfuzz similarity (``ratio`` or ``token_sort_ratio``) reaches ``NAME_THRESHOLD``
  (typos, word order), else dropped with its triple;
* the relation becomes the closest ontology label (``kgpipe.ingest.relations.Canonicaliser.to_labels``;
  dropped with its triple when an ontology is set and no label is close), or its normal form without one;
* a triple whose head equals its tail after snapping is dropped. Two triples that become one are both kept:
  fusion merges them into one fact that keeps both wordings.

Each is counted (``SnapCounts``), for the build summary. The chunk's own relation wording is kept in
``Triple.wording``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Sequence

from rapidfuzz import fuzz

from ..records import Chunk, Triple

if TYPE_CHECKING:
    from .relations import Canonicaliser
    from .spans import Span

NAME_THRESHOLD = 90.0  # rapidfuzz similarity (0-100) of a name to a candidate span for it to snap there


@dataclass
class SnapCounts:
    """What validation did to some triples' names and relations."""

    names_kept: int = 0  # heads and tails that were spans of their chunk (respelled as the text has them)
    names_snapped: int = 0  # moved to the closest candidate span
    names_dropped: int = 0  # no span close enough: the triple goes
    relations_snapped: int = 0  # wording changed to a label (or its normal form)
    relations_dropped: int = 0  # an ontology is set and no label is close: the triple goes
    triples_dropped: int = 0  # for any reason (a name, the relation, head == tail)

    def add(self, other: "SnapCounts") -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _folded(text: str) -> tuple[str, list[int]]:
    """``text`` lower-cased with every run of non-alphanumerics one space, and each kept character's offset."""
    out: list[str] = []
    where: list[int] = []
    for i, ch in enumerate(text):
        if ch.isalnum():
            out.append(ch.casefold()[0])
            where.append(i)
        elif out and out[-1] != " ":
            out.append(" ")
            where.append(i)
    while out and out[-1] == " ":
        out.pop()
        where.pop()
    return "".join(out), where


def find_span(name: str, text: str) -> str | None:
    """``name`` as ``text`` spells it, when it is a whole-word span of ``text`` (case, punctuation and spacing
    ignored); else None.

    >>> find_span("marie curie", "Born, Marie  Curie was..."), find_span("Curie was born", "Curie, who was born")
    ('Marie  Curie', None)
    """
    key, _ = _folded(name)
    if not key:
        return None
    folded, where = _folded(text)
    at = f" {folded} ".find(f" {key} ")
    if at < 0:
        return None
    start, end = where[at], where[at + len(key) - 1] + 1
    return text[start:end]


def grounded(name: str, text: str) -> bool:
    """Whether ``name`` is a span of ``text`` (as ``find_span`` matches it): the ungrounded-name rate's test."""
    return find_span(name, text) is not None


def snap_name(
    name: str, text: str, spans: Sequence["Span"], threshold: float = NAME_THRESHOLD
) -> tuple[str | None, str]:
    """``(name as the text has it, "kept")``, ``(closest candidate span, "snapped")`` or ``(None, "dropped")``."""
    found = find_span(name, text)
    if found is not None:
        return found, "kept"
    key, _ = _folded(name)
    digits = re.findall(r"\d+", key)
    best, score = None, 0.0
    for span in spans:
        other, _ = _folded(span.text)
        if re.findall(r"\d+", other) != digits:  # "195" is not "1945": a number snaps to no other number
            continue
        s = max(fuzz.ratio(key, other), fuzz.token_sort_ratio(key, other))
        if s > score:
            best, score = span.text, s
    return (best, "snapped") if best is not None and score >= threshold else (None, "dropped")


def snap(
    triples: Sequence[Triple],
    text: str,
    spans: Sequence["Span"],
    canonicaliser: "Canonicaliser",
    *,
    name_threshold: float = NAME_THRESHOLD,
) -> tuple[list[Triple], SnapCounts]:
    """One chunk's triples held to the grounded grammar (see the module docstring), and what it took."""
    counts = SnapCounts()
    labels = dict(zip(*_distinct_labels(triples, canonicaliser)))
    out: list[Triple] = []
    for t in triples:
        head, how_h = snap_name(t.head, text, spans, name_threshold)
        tail, how_t = snap_name(t.tail, text, spans, name_threshold)
        for how in (how_h, how_t):
            setattr(counts, f"names_{how}", getattr(counts, f"names_{how}") + 1)
        label = labels[t.relation]
        if label is None:
            counts.relations_dropped += 1
        elif label != t.relation:
            counts.relations_snapped += 1
        if head is None or tail is None or label is None or head.casefold() == tail.casefold():
            counts.triples_dropped += 1
            continue
        out.append(replace(t, head=head, relation=label, tail=tail, wording=t.wording or t.relation))
    return out, counts


def _distinct_labels(triples: Sequence[Triple], canonicaliser: "Canonicaliser") -> tuple[list[str], list[str | None]]:
    distinct = list(dict.fromkeys(t.relation for t in triples))
    return distinct, canonicaliser.to_labels(distinct, unmapped="drop")


def snap_chunks(
    triples: Sequence[Triple],
    chunks: Sequence[Chunk],
    canonicaliser: "Canonicaliser",
    *,
    name_threshold: float = NAME_THRESHOLD,
) -> tuple[list[Triple], SnapCounts]:
    """``snap`` applied to each chunk's triples (found by their provenance), with the chunk's candidate names;
    the counts summed. A triple whose chunk is not among ``chunks`` is dropped (it cannot be validated)."""
    from .spans import candidate_spans

    text = {c.id: c.text for c in chunks}
    by_chunk: dict[str, list[Triple]] = {}
    for t in triples:
        by_chunk.setdefault(t.provenance.chunk_id if t.provenance else "", []).append(t)
    counts = SnapCounts()
    out: list[Triple] = []
    for chunk_id, group in by_chunk.items():
        if chunk_id not in text:
            counts.triples_dropped += len(group)
            continue
        kept, c = snap(group, text[chunk_id], candidate_spans(text[chunk_id]), canonicaliser,
                       name_threshold=name_threshold)  # fmt: skip
        out.extend(kept)
        counts.add(c)
    return out, counts
