"""``kgpipe ask --learn``: an answer read from the documents becomes a fact of the graph (issue 15).

When ``ask`` reads its answer from the text rather than the graph (``Answer.source == "text"``), the graph
missed a fact its documents state. ``learn`` offers it back as a build would write it:

1. the fact is (a linked entity, a relation for what was asked, the answer span): the question without its
   question word, auxiliary and entity (``asked_relation``: "Where was Marie Curie born?" -> ``born in``;
   "Who founded Apple?" -> ``founded by``, since the asked entity is then the object), made canonical as a
   build does (``kgpipe.ingest.relations.Canonicaliser``): the ontology's closest label when one is set, else the
   graph's relation nearest in meaning, else its normal form;
2. the answer is resolved against the graph's entities as a build resolves a mention (``EntityIndex``);
3. the judge scores the triple against its cited chunk (``kgpipe.trust.judge``, the build's calibration and
   threshold); a rejected triple is reported, not written;
4. it is written through the build's writer (``kgpipe.ingest.write``) with its provenance (chunk, document) and
   ``extractor = "learned:<model>"``, plus ``learned`` (the question) and ``span`` (the answer's character
   offsets in the document) on the relationship, so learned facts are told apart
   (``MATCH ()-[r]->() WHERE r.extractor STARTS WITH 'learned:'``). A fact the graph already has is not
   written again, so asking twice writes nothing new; deleting the document deletes the fact.

Without ``--learn`` ``ask`` writes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .config import Settings, load_settings
from .fusion.resolve import EntityIndex
from .ingest.relations import Canonicaliser
from .ingest.write import write
from .qa.answer import Answer, ask
from .qa.link import Link, link_key
from .records import GENERIC_TYPE, Chunk, Fact, GraphBatch, Mention, MentionIn, Provenance, Triple
from .stores import cypher, open_store
from .trust.judge import judge

if TYPE_CHECKING:
    from .llms import LLM
    from .stores import Store

LEARNED = "learned"  # the extractor of a learned fact is "learned:<model id>"
_WH = re.compile(r"^\s*(in what year|what year|which year|how many|how much|where|when|who|whom|whose|what|which)\b",
                 re.IGNORECASE)  # fmt: skip
_AUX = {"is", "was", "are", "were", "did", "does", "do", "has", "have", "had", "will", "can"}
_PREPOSITIONS = {"in", "on", "at", "to", "of", "by", "for", "from", "with", "into", "as"}
KNOWN_RELATIONS = 500  # the graph's most frequent relations a learned wording may join
_SUFFIX = {"where": "in", "when": "in", "in what year": "in", "what year": "in", "which year": "in"}


@dataclass(frozen=True)
class Learned:
    """What ``learn`` did: the answer it asked for, and the fact it wrote (``written``) or why it did not."""

    answer: Answer
    written: bool
    reason: str  # what was learned, or why nothing was
    head: str = ""
    relation: str = ""
    tail: str = ""
    confidence: float = 0.0  # the judge's score
    chunk_id: str = ""
    doc_id: str = ""
    start: int = 0  # the answer's character offsets in the document
    end: int = 0

    def to_dict(self) -> dict[str, Any]:
        fact = {"head": self.head, "relation": self.relation, "tail": self.tail, "confidence": round(self.confidence, 4),
                "chunk_id": self.chunk_id, "doc_id": self.doc_id, "start": self.start, "end": self.end}  # fmt: skip
        return {**self.answer.to_dict(), "learned": {"written": self.written, "reason": self.reason,
                                                     **(fact if self.head else {})}}  # fmt: skip

    def __str__(self) -> str:
        return f"{self.answer}\nlearned: {self.reason}"


def asked_relation(question: str, mention: str) -> str:
    """The relation wording ``question`` asks about ``mention``, with the mention as the fact's head ("" if none).

    The wording is what is left once the question word, the auxiliaries and the mention are gone: the words after
    the mention when there are any (the mention is the subject: "Where was Marie Curie born?" -> ``born in``,
    the question word's preposition added), else those before it, made passive ("Who founded Apple?" ->
    ``founded by``) or, ending in "of", an attribute ("Who is the CEO of Apple?" -> ``CEO``): the mention stays
    the head of the fact either way.

    >>> asked_relation("Where was Marie Curie born?", "Marie Curie"), asked_relation("Who founded Apple?", "Apple")
    ('born in', 'founded by')
    """
    text = " ".join(question.replace("?", " ").split())
    found = _WH.match(text)
    wh = found.group(1).lower() if found else ""
    rest = text[found.end() :] if found else text
    at = rest.lower().find(mention.lower()) if mention else -1
    before, after = (rest[:at], rest[at + len(mention) :]) if at >= 0 else (rest, "")
    keep = [[w for w in before.split() if w.lower() not in _AUX], after.split()]
    if wh in ("what", "which") and len(keep[0]) > 1:  # "Which company acquired Red Hat?": the noun is the answer's kind
        keep[0] = keep[0][1:]
    pre, post = ([w for w in words if w.lower() not in ("the", "a", "an")] for words in keep)
    if post:
        words = post + pre
        if _SUFFIX.get(wh) and words[-1].lower() not in _PREPOSITIONS:
            words.append(_SUFFIX[wh])
        return " ".join(words)
    if not pre:
        return ""
    if pre[-1].lower() == "of" and len(pre) > 1:
        return " ".join(pre[:-1])
    return " ".join(pre + ["by"])


def relation_label(phrase: str, store: Store, canonicaliser: Canonicaliser) -> str:
    """The canonical label of ``phrase``: the ontology's closest label (when the canonicaliser has one and it is
    close), else the graph's own relation closest in meaning (clustered as a build's later batch would be), else the
    phrase's normal form."""
    label = canonicaliser.to_label(phrase) or ""
    if canonicaliser.ontology is not None and canonicaliser.ontology.relation(label):
        return label
    known = [r["label"] for r in store.execute(*cypher.schema_fact_types(KNOWN_RELATIONS)).records() if r["label"]]
    if known:
        canonicaliser.cluster(known)
    return canonicaliser.cluster([label or phrase]).get(label or phrase) or label or phrase


def learn(
    question: str,
    settings: Settings | None = None,
    *,
    store: Store | str | None = None,
    llm: LLM | str | None = None,
    answer: Answer | None = None,
    canonicaliser: Canonicaliser | None = None,
) -> Learned:
    """Ask ``question`` (or take its ``answer``) and, when the answer was read from the text, write it as a fact
    (see the module docstring). ``Learned.written`` says whether a fact was written, ``reason`` what or why not.

    >>> kgpipe.learn("Where was Marie Curie born?").reason          # doctest: +SKIP
    "wrote Marie Curie -> born in -> Warsaw (judge 0.71), from data/sample/curie.txt, characters 62-68"
    """
    from .llms import resolve_llm
    from .ontology import load_ontology
    from .trust.calibrate import calibration_for

    settings = settings or load_settings()
    the_store = open_store(settings, store)
    the_llm = resolve_llm(llm or settings.llm, settings) if llm is None or isinstance(llm, str) else llm
    answer = answer or ask(question, settings, store=the_store, llm=the_llm)
    if answer.abstained or not answer.answer:
        return Learned(answer, False, "nothing to learn: neither the graph nor its documents answer it")
    if answer.source != "text" or answer.read is None:
        return Learned(answer, False, "nothing to learn: the graph already answers it")
    if not answer.links:
        return Learned(answer, False, "not learned: the question names no entity of the graph to attach the fact to")
    read = answer.read
    rows = the_store.execute(*cypher.chunk_provenance([read.chunk_id])).records()
    if not rows:
        return Learned(answer, False, f"not learned: the cited chunk {read.chunk_id} is no longer in the graph")
    row = rows[0]
    chunk = Chunk(read.chunk_id, row["doc_id"], int(row["index"] or 0), row["text"] or "", int(row["start"] or 0),
                  int(row["end"] or 0))  # fmt: skip
    link = subject(answer.links, chunk.text)
    phrase = asked_relation(question, link.mention or link.name)
    if not phrase:
        return Learned(answer, False, "not learned: the question's wording names no relation")
    ontology = load_ontology(settings.ontology) if settings.ontology else None
    canon = canonicaliser or Canonicaliser(ontology)
    label = relation_label(phrase, the_store, canon)
    extractor = f"{LEARNED}:{answer.model}"
    if chunk.text[read.start - chunk.start : read.end - chunk.start] != read.answer:
        return Learned(answer, False, f"not learned: {read.answer!r} is not at characters {read.start}-{read.end}")
    head = the_store.execute(*cypher.entity_by_id(link.id)).records()[0]
    prov = Provenance(chunk.doc_id, chunk.id, extractor, answer.prompt_version, (read.start, read.end))
    triple = Triple(link.name, label, read.answer, head["type"] or GENERIC_TYPE, GENERIC_TYPE, provenance=prov,
                    wording=phrase)  # fmt: skip
    verdict = judge([triple], {chunk.id: chunk}, the_llm, ontology=ontology, threshold=settings.judge_threshold,
                    calibration=calibration_for(the_llm, settings))  # fmt: skip
    what = f"{link.name} -> {label} -> {read.answer}"
    where = f"{read.path or read.doc_id}, characters {read.start}-{read.end}"
    facts: dict[str, Any] = {"head": link.name, "relation": label, "tail": read.answer, "chunk_id": chunk.id,
                             "doc_id": chunk.doc_id, "start": read.start, "end": read.end}  # fmt: skip
    if not verdict.kept:
        score = verdict.rejected[0].score
        return Learned(answer, False, f"not learned: the judge rejected {what} ({score:.2f} < {settings.judge_threshold})",
                       confidence=score, **facts)  # fmt: skip
    score = verdict.kept[0].confidence
    index = EntityIndex.from_store(the_store, places=settings.place_aliases, lexicon=settings.name_aliases)
    resolved = index.resolve([MentionIn(read.answer, GENERIC_TYPE, chunk.text, ((f"~{label}", link.name),))])
    tail_id = resolved.ids[0]
    if tail_id == link.id:
        return Learned(answer, False, f"not learned: the answer {read.answer!r} is the asked entity", **facts)
    rel_type = cypher.sanitize_rel_type(label)
    if the_store.execute(*cypher.fact_by_key(link.id, rel_type, tail_id)).rows:
        return Learned(answer, False, f"nothing new: the graph already has {what}", confidence=score, **facts)
    batch = GraphBatch(
        entities=[resolved.entities[tail_id]],
        mentions=[Mention(tail_id, chunk.id, (read.answer,))],
        facts=[Fact(link.id, label, tail_id, score, (chunk.id,), (chunk.doc_id,), extractor, (phrase,))],
    )
    write(batch, the_store)
    the_store.execute(*cypher.mark_learned(link.id, rel_type, tail_id, question, [read.start, read.end]), write=True)
    return Learned(answer, True, f"wrote {what} (judge {score:.2f}), from {where}", confidence=score, **facts)


def subject(links: Sequence[Link], text: str) -> Link:
    """The linked entity the fact is about: the best one the cited chunk names (under its name or the question's
    mention of it), else the best one."""
    key = f" {link_key(text)} "
    for lk in links:
        if any(n and f" {link_key(n)} " in key for n in (lk.name, lk.mention)):
            return lk
    return links[0]
