"""Graph-constrained question answering (GCR): answers read from reasoning paths that exist in the graph.

Flow: link the question's entities → enumerate the fact paths around them (``kgpipe.qa.paths``) →
serialise them and build a KG-Trie with the decoding model's tokenizer → beam search constrained to
the trie after a short few-shot prompt (``prompts/ask.paths.v1.md``), so every path the model
produces is a stored chain of facts → verify each returned path against the store → the answer is
the end entity of the best paths, probability mass summed per end entity. An optional ``reasoner``
(any LLM backend) writes the final answer from the question and the verified paths::

    answer = kgpipe.ask("Where was the husband of Marie Curie born?")
    print(answer)                       # the answer, then each path with score and provenance

Ranking is two-stage. The constrained beam search proposes up to ``RERANK_POOL`` candidates by the summed
log-probability of the path text after the question; that score alone strongly prefers short paths
(Gemma 270M gave a 1-hop path ``-19`` and the right 2-hop path ``-52`` nats on PathQuestion, so
length normalisation does not rescue it either). The candidates are then ranked by how well each
path explains the question, log P(question | path) (``prompts/ask.explain.v1.md``, a noisy-channel
rerank), plus ``RELATION_WEIGHT`` nats per unit of MiniLM similarity between the question (its
entities masked) and each hop's relation above ``RELATION_FLOOR`` (``relation_scores``): a 270M model
reads "the occupation of X's father" poorly, but "father" ~ ``parents`` and "occupation" ~
``profession`` tell the 2-hop path from the 1-hop one. The forward score breaks ties, and the best
``paths`` are kept (figures in the README, "Asking questions").
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

from ..config import Settings, load_settings
from ..errors import NoEntityLinked
from ..parse import parse_answer
from ..prompts import prompt as load_prompt
from ..stores import cypher
from .link import EntityLinker, Link, link_key, mask_keys
from .paths import GraphPath, paths_around, provenance, serialise, verify
from .relevance import hop_similarities
from .text import TextAnswer, answer_from_text

if TYPE_CHECKING:
    from ..llms import LLM, LocalModel
    from ..llms.embed import Embedder
    from ..stores import Store

PROMPT_VERSION = "ask.paths.v1"
REASONER_PROMPT = "ask.reason.v1"
EXPLAIN_PROMPT = "ask.explain.v1"
RERANK_POOL = 12  # candidate paths the beam search proposes for the rerank
# Up to this many candidate paths, every one is reranked instead (its path log-probability computed, not searched
# for): on 40 PQ-3H tuning questions the beam's 12 proposals missed the right path for a quarter of them.
EXHAUSTIVE = 100
PATH_LIMIT = 20_000  # most candidate paths put in the trie per question
MAX_PATH_TOKENS = 160  # token budget of one decoded path
MAX_FREE_TOKENS = 64  # budget without the trie: a stored 2-hop path is rarely over 40 tokens
# Relation term of the rerank, tuned on PQ-2H lines 5, 14, 23, ... (every 9th from the 5th, 80 questions),
# never on the evaluation lines 1, 10, 19, ...: Hits@1 of the top path over all candidates 0.84 with
# log P(question | path) alone, 0.90 with this term (README, "Asking questions").
RELATION_WEIGHT = 20.0  # nats per unit of cosine similarity
RELATION_FLOOR = 0.1  # a hop adds to the score only as far as its relation is more similar than this


@dataclass(frozen=True)
class Candidate:
    """A possible answer: the end entity of one or more returned paths, with their summed probability share."""

    id: str
    name: str
    score: float


@dataclass(frozen=True)
class ScoredPath:
    """A returned reasoning path: log-probability under the model, store check, supporting sources per hop."""

    path: GraphPath
    logprob: float  # log P(path | question prompt): what the constrained decoder searched by
    verified: bool
    provenance: tuple[dict[str, Any], ...] = ()
    score: float = 0.0  # log P(question | path) + the relation term: what the paths are ranked by

    def to_dict(self) -> dict[str, Any]:
        return {**self.path.to_dict(), "score": round(self.score, 4), "logprob": round(self.logprob, 4),
                "verified": self.verified, "provenance": list(self.provenance)}  # fmt: skip


@dataclass(frozen=True)
class Answer:
    """What ``ask`` returns: the answer, ranked candidates, the supporting paths and the linked entities."""

    question: str
    answer: str
    candidates: tuple[Candidate, ...]
    paths: tuple[ScoredPath, ...]
    links: tuple[Link, ...]
    model: str = ""
    prompt_version: str = f"{PROMPT_VERSION}+{EXPLAIN_PROMPT}"
    reasoner: str = ""
    candidate_paths: int = 0  # paths in the trie the decoder chose from
    seconds: float = 0.0
    texts: tuple[str, ...] = field(default=(), repr=False)  # decoded texts (unconstrained runs keep these)
    relevance: float = 0.0  # how near the best path's nearest hop is to what was asked (MiniLM cosine)
    abstained: bool = False  # neither the graph nor its documents answer: ``answer`` is empty, ``paths`` the closest facts
    source: str = "graph"  # where the answer was read: "graph" (a verified path) or "text" (``read``)
    read: "TextAnswer | None" = None  # the sentence of the documents that answers the question, if one does

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answer": self.answer,
            "candidates": [{"id": c.id, "name": c.name, "score": round(c.score, 4)} for c in self.candidates],
            "paths": [p.to_dict() for p in self.paths],
            "links": [{"id": lk.id, "name": lk.name, "score": lk.score, "method": lk.method} for lk in self.links],
            "model": self.model,
            "prompt_version": self.prompt_version,
            "reasoner": self.reasoner,
            "candidate_paths": self.candidate_paths,
            "relevance": round(self.relevance, 4),
            "abstained": self.abstained,
            "source": self.source if not self.abstained else "",
            "text": self.read.to_dict() if self.read is not None else None,
            "seconds": round(self.seconds, 3),
        }

    def __str__(self) -> str:
        if self.abstained:
            lines = ["answer: (the graph does not say; its closest facts follow)" if self.paths else
                     "answer: (the graph does not say)"]  # fmt: skip
        elif self.source == "text" and self.read is not None:
            lines = [f"answer: {self.answer}   (read from the text, not from the graph)",
                     f"    \"{self.read.sentence}\"  [{self.read.path or self.read.doc_id}, characters {self.read.start}-{self.read.end}]"]  # fmt: skip
        else:
            lines = [f"answer: {self.answer or '(no path found)'}"]
        if len(self.candidates) > 1 and not self.abstained:
            lines.append("candidates: " + ", ".join(f"{c.name} ({c.score:.2f})" for c in self.candidates))
        lines.append("linked: " + (", ".join(f"{lk.name} ({lk.method})" for lk in self.links) or
                                   "(no entity of the graph; read from the passages nearest the question)"))  # fmt: skip
        for i, sp in enumerate(self.paths, 1):
            mark = "verified" if sp.verified else "NOT IN THE GRAPH"
            lines.append(f"path {i}: {sp.path.text()}   (score {sp.score:.2f}, logprob {sp.logprob:.2f}, {mark})")
            for hop in sp.provenance:
                sources = [d["path"] or d["title"] for d in hop.get("documents", [])]
                lines.append(f"    {hop['fact']}  [{', '.join(sources) or 'no document'}]")
                for snippet in hop.get("chunks", [])[:1]:
                    lines.append(f"      \"{snippet}\"")
        return "\n".join(lines)


def path_prompt(question: str) -> str:
    """The few-shot prompt that ends in ``<PATH>``, after which the decoder writes one path."""
    return load_prompt(PROMPT_VERSION).replace("{question}", " ".join(question.split()))


def ask(
    question: str,
    settings: Settings | None = None,
    *,
    store: "Store | str | None" = None,
    llm: "LLM | str | None" = None,
    paths: int | None = None,
    hops: int | None = None,
    reasoner: "LLM | str | None" = None,
    linker: EntityLinker | None = None,
    constrained: bool = True,
    embedder: "Embedder | None" = None,
) -> Answer:
    """Answer ``question`` from paths of stored facts (see the module docstring).

    ``paths`` and ``hops`` default to ``settings.ask_paths`` / ``ask_hops``; ``reasoner`` (a backend spec
    or instance) defaults to ``settings.reasoner``. ``linker`` reuses loaded entity names across many
    questions, and ``embedder`` MiniLM with its cache. ``constrained=False`` decodes without the trie (the hallucination baseline of
    ``kgpipe eval qa``): its texts are returned in ``Answer.texts`` and no path is claimed.
    """
    from ..llms import local_model, resolve_llm
    from ..llms.trie import path_trie
    from ..stores import open_store
    from .beam import generate_paths

    started = time.perf_counter()
    settings = settings or load_settings()
    k = paths if paths is not None else settings.ask_paths
    depth = hops if hops is not None else settings.ask_hops
    the_store = open_store(settings, store)
    linker = linker or EntityLinker.from_store(the_store)
    try:
        links = tuple(linker.link(question))
    except NoEntityLinked as exc:
        if not settings.ask_text or reasoner is not None or settings.reasoner or not constrained:
            raise
        if llm is None or isinstance(llm, str):
            llm = resolve_llm(llm or settings.llm, settings)
        return _unlinked(question, exc, the_store, local_model(llm), embedder or linker.embedder, started)
    if llm is None or isinstance(llm, str):
        llm = resolve_llm(llm or settings.llm, settings)
    decoder = local_model(llm)
    asked = {lk.id for lk in links}
    found = offered(paths_around(the_store, list(asked), hops=depth, limit=PATH_LIMIT), asked)
    prompt = path_prompt(question)
    if not constrained:
        decoded = generate_paths(decoder, prompt, None, beams=k, max_new_tokens=MAX_FREE_TOKENS)
        return Answer(question, "", (), (), links, decoder.model_id, PROMPT_VERSION, candidate_paths=len(found),
                      seconds=time.perf_counter() - started, texts=tuple(d.text for d in decoded))  # fmt: skip
    by_text: dict[str, list[GraphPath]] = defaultdict(list)
    for p in found:
        by_text[serialise(p)].append(p)
    texts = list(by_text)
    decoded = []
    if len(texts) > EXHAUSTIVE:
        trie = path_trie(decoder.tokenizer, texts)
        decoded = generate_paths(decoder, prompt, trie, beams=max(k, RERANK_POOL), max_new_tokens=MAX_PATH_TOKENS)
        pool = [(by_text[texts[d.path_ids[0]]], d.logprob) for d in decoded if d.path_ids]
    else:  # few enough to score every one: the exact log-probabilities the constrained search approximates
        pool = list(zip((by_text[t] for t in texts), decoder.logprob([prompt] * len(texts), texts))) if texts else []
    heads = [group[0] for group, _ in pool]
    masks = mask_keys(m for lk in links for m in (lk.name, lk.mention))
    sims = hop_similarities(embedder or linker.embedder, question, masks, heads)
    relation = [relation_term(s) for s in sims]
    explained = [e + RELATION_WEIGHT * r for e, r in zip(explain_scores(decoder, question, heads), relation)]
    order = sorted(range(len(pool)), key=lambda i: (-explained[i], -pool[i][1]))[:k]
    ranked = [(pool[i], explained[i]) for i in order]
    relevance = max(sims[order[0]]) if order else 0.0
    chosen = [(p, lp, score) for (group, lp), score in ranked for p in group]
    checks = verify(the_store, [p for p, _, _ in chosen])
    sources = provenance(the_store, [p for p, _, _ in chosen])
    scored = tuple(ScoredPath(p, lp, ok, tuple(src), score) for (p, lp, score), ok, src in zip(chosen, checks, sources))
    candidates = rank_answers([sp for sp in scored if sp.verified])
    # Abstain when not even the best path has a hop about what was asked: a wrong answer is worse than none.
    abstained = not candidates or relevance < settings.ask_min_relevance
    answer = candidates[0].name if candidates and not abstained else ""
    source, read = "graph", None
    if settings.ask_text and reasoner is None and not settings.reasoner:
        # On a graph built from documents, the answer must be what the cited text says (kgpipe.qa.text).
        answer, source, read, abstained = _checked_by_text(question, links, the_store, decoder, embedder or linker.embedder,
                                                           answer, abstained)  # fmt: skip
    reasoner = reasoner if reasoner is not None else (settings.reasoner or None)
    reasoner_id = ""
    if reasoner is not None and scored and not abstained:
        answer, reasoner_id = reason(question, [sp.path for sp in scored if sp.verified], reasoner, settings)
    versions = f"{PROMPT_VERSION}+{EXPLAIN_PROMPT}"
    return Answer(question, answer, candidates, scored, links, decoder.model_id, versions, reasoner_id, len(found),
                  time.perf_counter() - started, tuple(d.text for d in decoded) or tuple(serialise(group[0]) for group, _ in pool),
                  relevance, abstained, source, read)  # fmt: skip


def offered(paths: Sequence[GraphPath], asked: set[str]) -> list[GraphPath]:
    """The paths whose end may be the answer. A path back to an entity the question names answers nothing ("Who
    founded Apple?" -> "Apple" via ``founded in -> 1976 <- iPhone made in``, two facts that both point away from
    Apple), except where the question composes a relation with its converse: "the mother of X's son" is X
    (``x -> children -> s -> parents -> x``: the path leaves X along a fact that points away from it and comes
    back along one that points at it, so it ends where it started), and no path along the same relations reaches
    anyone else ("the parent of X's son" is the son's other parent when the graph has one)."""

    def shape(p: GraphPath) -> tuple[str, tuple[tuple[str, bool], ...]]:
        return p.start[0], tuple((h.relation, h.forward) for h in p.hops)

    elsewhere = {shape(p) for p in paths if p.end[0] not in asked}
    return [p for p in paths if p.end[0] not in asked or (
        len(p) >= 2 and p.end[0] == p.start[0] and p.hops[0].forward == p.hops[-1].forward and shape(p) not in elsewhere)]


def _unlinked(question: str, exc: NoEntityLinked, store: Store, decoder: LocalModel, embedder: Embedder,
              started: float) -> Answer:  # fmt: skip
    """The answer read from the chunks nearest the question when it names no entity of the graph (marked as read
    from text); ``exc`` again, with a word on the text, when they do not answer it (a graph without documents too)."""
    read = answer_from_text(question, (), store, decoder, embedder)
    if read is None:
        raise NoEntityLinked(f"{exc}; nor does any passage of the documents nearest the question answer it") from exc
    return Answer(question, read.answer, (), (), (), decoder.model_id, PROMPT_VERSION, seconds=time.perf_counter() - started,
                  source="text", read=read)  # fmt: skip


def _checked_by_text(question: str, links: Sequence[Link], store: "Store", decoder: "LocalModel", embedder: "Embedder",
                     answer: str, abstained: bool) -> tuple[str, str, "TextAnswer | None", bool]:  # fmt: skip
    """(answer, source, text answer, abstained) once the documents of the linked entities are read.

    A graph without documents behind its entities (an imported KB) answers from its paths alone. Otherwise the
    text decides: the graph's answer stands when the text reads the same answer or a shorter form of it; when it
    reads another, or a fuller one ("the University of Edinburgh" where the graph has "Edinburgh"), the answer is the
    text's (marked so); when no sentence answers, kgpipe abstains and shows the graph's closest paths."""
    read = answer_from_text(question, links, store, decoder, embedder)
    if read is None:
        has_text = bool(store.execute(*cypher.entity_document_chunks([lk.id for lk in links], 1)).rows)
        return (answer, "graph", None, abstained) if not has_text else ("", "graph", None, True)
    if answer and not abstained:
        said, found = f" {link_key(answer)} ", f" {link_key(read.answer)} "
        if found in said or said.replace(" the ", " ") == found.replace(" the ", " "):  # "the University of Paris"
            return answer, "graph", read, False
    return read.answer, "text", read, False


def explain_scores(decoder: "LocalModel", question: str, paths: Sequence[GraphPath]) -> list[float]:
    """log P(question | path) for each path: how well the path accounts for what is asked."""
    if not paths:
        return []
    template = load_prompt(EXPLAIN_PROMPT)
    contexts = [template.replace("{path}", p.text()) for p in paths]
    return list(decoder.logprob(contexts, [" " + " ".join(question.split())] * len(paths)))


def relation_term(sims: Sequence[float]) -> float:
    """The sum over a path's hops of (similarity − ``RELATION_FLOOR``): a hop whose relation the question asks
    about adds, an irrelevant one costs."""
    return sum(s - RELATION_FLOOR for s in sims)


def rank_answers(paths: Sequence[ScoredPath]) -> tuple[Candidate, ...]:
    """End entities ranked by the probability share of the paths that reach them (softmax of path scores)."""
    if not paths:
        return ()
    top = max(sp.score for sp in paths)
    mass: dict[str, float] = defaultdict(float)
    names: dict[str, str] = {}
    seen: set[tuple[str, float]] = set()
    for sp in paths:
        end_id, end_name = sp.path.end
        key = (sp.path.text(), sp.score)
        if key in seen:  # one decoded text standing for several stored paths counts once
            continue
        seen.add(key)
        mass[end_id] += math.exp(sp.score - top)
        names[end_id] = end_name
    total = sum(mass.values())
    ranked = sorted(mass, key=lambda e: (-mass[e], names[e]))
    return tuple(Candidate(e, names[e], mass[e] / total) for e in ranked)


def reason(question: str, paths: Sequence[GraphPath], reasoner: "LLM | str", settings: Settings) -> tuple[str, str]:
    """The reasoner LLM's answer from the question and the paths (GCR's second stage), and its model id."""
    from ..llms import resolve_llm

    llm = resolve_llm(reasoner, settings)
    listed = "\n".join(p.text() for p in paths)
    text = load_prompt(REASONER_PROMPT).replace("{paths}", listed).replace("{question}", question.strip())
    reply = llm.generate([text], max_new_tokens=48, stop=["\n"])[0]
    return parse_answer(reply), llm.model_id
