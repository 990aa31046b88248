"""KG-RAG context answering: the question's graph neighbourhood, pruned by embedding similarity, as context.

Follows "Biomedical knowledge graph-optimized prompt generation for large language models"
(KG-RAG): link the question's entities, fetch their fact neighbourhood (``settings.context_hops``,
facts only, never ``PREDICTED`` links), render each fact under a minimal schema as one line
``head | relation | tail``, keep the lines whose MiniLM similarity to the question reaches the
``settings.context_percentile`` percentile of the neighbourhood (at most ``settings.context_top_k``,
at least ``MIN_KEEP``), and let the LLM answer from those lines. Two refinements, measured on
PathQuestion: the linked entity's name is masked before embedding (it is in every line), and a fact
two hops out is scored as the chain that reaches it (``score_facts``). Each kept fact carries its
provenance (document ids and titles, chunk ids); the prompt holds only the fact lines.

Tokens are counted with the answering model's tokenizer when it has one (local transformers
models); HTTP backends have none, so their count is whitespace-separated words (documented
as ``token_counter = "whitespace"``)::

    answer = ask_context("Where was the husband of Marie Curie born?", settings)
    print(answer.answer, answer.tokens_full, answer.tokens_pruned)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from ..errors import DataError
from ..fusion.names import normalise_name
from ..llms import LocalModel
from ..parse import parse_answer
from ..prompts import prompt
from ..stores import cypher
from .link import EntityLinker, mask_keys, masked

if TYPE_CHECKING:
    from ..config import Settings
    from ..llms import LLM
    from ..llms.embed import Embedder
    from ..stores import Store

PROMPT_VERSION = "kgrag.v1"
MIN_KEEP = 3  # pruning never leaves fewer facts than this (when the neighbourhood has them)
LINK_LIMIT = 5
LINK_MARGIN = 0.9  # keep the links scoring at least this share of the best link's score
MAX_ANSWER_TOKENS = 24
STOP = ["\n", " |"]  # one line; a reply that runs on as a fact line is cut where the head ends


@dataclass(frozen=True)
class ContextFact:
    """One fact of the neighbourhood, with its similarity to the question and its provenance."""

    head: str
    relation: str
    tail: str
    score: float  # cosine similarity of the fact line to the question
    hop: int  # 1 = touches a linked entity
    doc_ids: tuple[str, ...] = ()
    chunk_ids: tuple[str, ...] = ()
    documents: tuple[str, ...] = ()  # titles (or paths) of doc_ids, where known

    @property
    def line(self) -> str:
        return f"{self.head} | {self.relation} | {self.tail}"

    def to_dict(self) -> dict[str, Any]:
        return {"head": self.head, "relation": self.relation, "tail": self.tail, "score": round(self.score, 4),
                "hop": self.hop, "doc_ids": list(self.doc_ids), "chunk_ids": list(self.chunk_ids),
                "documents": list(self.documents)}  # fmt: skip


@dataclass(frozen=True)
class Context:
    """A question's linked entities, its whole scored neighbourhood and the facts kept after pruning."""

    question: str
    entities: list[tuple[str, str, str, str]]  # (id, name, link method, question words it was linked on)
    neighbourhood: list[ContextFact]  # every fetched fact, best-scoring first
    kept: list[ContextFact]

    def text(self, facts: Sequence[ContextFact] | None = None) -> str:
        """The context block: one minimal-schema line per fact (the kept facts by default)."""
        return "\n".join(f.line for f in (self.kept if facts is None else facts))


@dataclass(frozen=True)
class ContextAnswer:
    """The LLM's answer from the pruned context, with the facts it saw and the token counts."""

    question: str
    answer: str
    facts: list[ContextFact]
    tokens_full: int  # the whole neighbourhood rendered as context
    tokens_pruned: int  # the context the model saw
    entities: list[tuple[str, str, str, str]] = field(default_factory=list)
    neighbourhood_size: int = 0
    grounded: bool = False  # the answer names an entity of the context
    token_counter: str = "whitespace"
    model: str = ""
    prompt_version: str = PROMPT_VERSION

    @property
    def tokens_saved(self) -> float:
        """Share of the unpruned neighbourhood's tokens that pruning removed."""
        return 1.0 - self.tokens_pruned / self.tokens_full if self.tokens_full else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question, "answer": self.answer, "grounded": self.grounded,
            "entities": [{"id": i, "name": n, "method": m, "mention": w} for i, n, m, w in self.entities],
            "facts": [f.to_dict() for f in self.facts], "neighbourhood_size": self.neighbourhood_size,
            "tokens_full": self.tokens_full, "tokens_pruned": self.tokens_pruned,
            "tokens_saved": round(self.tokens_saved, 4), "token_counter": self.token_counter,
            "model": self.model, "prompt": self.prompt_version,
        }  # fmt: skip

    def __str__(self) -> str:
        linked = ", ".join(f"{n} ({m})" for _, n, m, _ in self.entities)
        lines = [
            f"answer: {self.answer}" + ("" if self.grounded else "  (not an entity of the context)"),
            f"linked: {linked}",
            f"context: {len(self.facts)} of {self.neighbourhood_size} facts; tokens {self.tokens_full} -> "
            f"{self.tokens_pruned} ({self.tokens_saved:.0%} saved, {self.token_counter})",
        ]
        for f in self.facts:
            source = ", ".join(f.documents or f.doc_ids)
            lines.append(f"  {f.score:.2f}  {f.line}" + (f"   [{source}]" if source else ""))
        return "\n".join(lines)


@dataclass(frozen=True)
class _Fetched:
    hop: int
    row: dict[str, Any]
    parents: tuple[int, ...]  # indices of the previous hop's facts that reached this fact's near end


def neighbourhood(store: "Store", ids: Sequence[str], hops: int, max_facts: int) -> list[_Fetched]:
    """The facts within ``hops`` of the entities ``ids``, nearest first, at most ``max_facts``, each with the
    facts one hop closer that lead to it (so a fact two hops out knows the chain that reaches it)."""
    reached_by: dict[str, tuple[int, ...]] = {eid: () for eid in ids}  # entity -> facts that first reached it
    seen_facts: set[tuple[str, str, str]] = set()
    frontier, out = list(ids), []  # type: ignore[var-annotated]
    for hop in range(1, max(hops, 1) + 1):
        if not frontier or len(out) >= max_facts:
            break
        rows = store.execute(*cypher.entity_facts(frontier, max_facts - len(out))).records()
        in_frontier, arrivals = set(frontier), {}  # type: ignore[var-annotated]
        for row in rows:
            key = (row["head_id"], row["type"], row["tail_id"])
            if key in seen_facts or len(out) >= max_facts:
                continue
            seen_facts.add(key)
            near, far = (row["head_id"], row["tail_id"]) if row["head_id"] in in_frontier else (row["tail_id"], row["head_id"])
            out.append(_Fetched(hop, row, reached_by[near]))
            if far not in reached_by:
                arrivals.setdefault(far, []).append(len(out) - 1)
        reached_by.update({eid: tuple(facts) for eid, facts in arrivals.items()})
        frontier = list(arrivals)
    return out


def path_texts(fetched: Sequence[_Fetched], lines: Sequence[str], line_scores: np.ndarray) -> list[str]:
    """Each fact as the chain that reaches it from a linked entity (``a | r | b ; b | r2 | c``), following
    at every hop the best-scoring fact line that leads there; a one-hop fact is its own line."""
    texts: list[str] = []
    for i, item in enumerate(fetched):
        if item.parents:
            best = max(item.parents, key=lambda j: line_scores[j])
            texts.append(texts[best] + " ; " + lines[i])
        else:
            texts.append(lines[i])
    return texts


def prune(scores: np.ndarray, top_k: int, percentile: float) -> list[int]:
    """Indices of the facts to keep, best first: score at or above the percentile, at most ``top_k``, at least ``MIN_KEEP``.

    >>> prune(np.array([0.1, 0.9, 0.5, 0.2, 0.8, 0.3]), top_k=10, percentile=50)
    [1, 4, 2]
    """
    if len(scores) == 0:
        return []
    order = [int(i) for i in np.argsort(-scores, kind="stable")]
    threshold = float(np.percentile(scores, percentile))
    above = [i for i in order if scores[i] >= threshold][: max(top_k, 1)]
    return above if len(above) >= MIN_KEEP else order[: min(MIN_KEEP, max(top_k, 1))]


def link_entities(store: "Store", question: str, embedder: "Embedder | None" = None) -> list[tuple[str, str, str, str]]:
    """``(id, name, method, mention)`` of the question's entities: the linker's best and those close to its score."""
    links = EntityLinker.from_store(store, embedder=embedder).link(question, limit=LINK_LIMIT)
    best = max(link.score for link in links)
    return [(link.id, link.name, link.method, link.mention) for link in links if link.score >= LINK_MARGIN * best]


def retrieve(
    question: str, settings: "Settings", store: "Store", embedder: "Embedder | None" = None
) -> Context:
    """Link, fetch the neighbourhood with provenance, score every fact line against the question, prune."""
    from ..llms.embed import Embedder

    embedder = embedder or Embedder()
    entities = link_entities(store, question, embedder)
    fetched = neighbourhood(store, [e[0] for e in entities], settings.context_hops, settings.context_max_facts)
    if not fetched:
        names = ", ".join(e[1] for e in entities)
        raise DataError(f"no facts around {names} in the graph: nothing to answer from")
    rows = [item.row for item in fetched]
    titles = _document_titles(store, {d for row in rows for d in row.get("doc_ids") or []})
    lines = [f"{row['head']} | {row['label'] or row['type']} | {row['tail']}" for row in rows]
    masks = mask_keys(m for _, name, _, mention in entities for m in (name, mention))
    scores = score_facts(question, fetched, lines, embedder, masks)
    facts = [
        ContextFact(
            str(row["head"]), str(row["label"] or row["type"]), str(row["tail"]), float(score), item.hop,
            tuple(row.get("doc_ids") or ()), tuple(row.get("chunk_ids") or ()),
            tuple(titles.get(d, d) for d in row.get("doc_ids") or ()),
        )
        for item, row, score in zip(fetched, rows, scores)
    ]  # fmt: skip
    keep = prune(scores, settings.context_top_k, settings.context_percentile)
    ranked = [facts[i] for i in np.lexsort(([f.hop for f in facts], -scores))]
    return Context(question, entities, ranked, [facts[i] for i in keep])


def score_facts(
    question: str, fetched: Sequence[_Fetched], lines: Sequence[str], embedder: "Embedder", masks: Sequence[str] = ()
) -> np.ndarray:
    """Similarity of each fact to the question, through the chain that reaches it.

    A one-hop fact scores its own line (KG-RAG's pruning). A fact further out scores the whole chain
    from the linked entity, since "the nationality of X's spouse" resembles the chain
    ``X | spouse | Y ; Y | nationality | Z`` far better than ``Y | nationality | Z`` alone; and a
    fact on a chain scores at least what the chain does, so a kept answer keeps its path.
    """
    q = embedder.encode([masked(question, masks)])[0]
    own = embedder.encode([masked(line, masks) for line in lines]) @ q
    scores = embedder.encode([masked(t, masks) for t in path_texts(fetched, lines, own)]) @ q
    for i in sorted(range(len(fetched)), key=lambda i: -fetched[i].hop):  # farthest first: pass scores inward
        if fetched[i].parents:
            best = max(fetched[i].parents, key=lambda j: own[j])
            scores[best] = max(scores[best], scores[i])
    return scores


def _document_titles(store: "Store", ids: set[str]) -> dict[str, str]:
    if not ids:
        return {}
    rows = store.execute(*cypher.document_provenance(sorted(ids))).records()
    return {r["doc_id"]: str(r["title"] or r["path"] or r["doc_id"]) for r in rows}


def count_tokens(text: str, llm: "LLM | None" = None) -> tuple[int, str]:
    """Tokens of ``text`` under a local model's tokenizer, or whitespace words for a model without one
    (an HTTP backend): ``(count, counter)``."""
    if isinstance(llm, LocalModel):
        return len(llm.tokenizer(text, add_special_tokens=False)["input_ids"]), f"tokenizer:{llm.model_id}"
    return len(text.split()), "whitespace"


def build_prompt(question: str, facts: Sequence[ContextFact]) -> str:
    """The answering prompt: worked examples, then the kept fact lines (best last, next to the question) and the question."""
    text = prompt(PROMPT_VERSION).replace("{facts}", "\n".join(f.line for f in reversed(facts)))
    return text.replace("{question}", " ".join(question.split()))


def ask_context(
    question: str,
    settings: "Settings",
    store: "Store | str | None" = None,
    llm: "LLM | str | None" = None,
    *,
    embedder: "Embedder | None" = None,
) -> ContextAnswer:
    """Answer ``question`` from its pruned graph neighbourhood with the configured LLM."""
    from ..llms import resolve_llm
    from ..stores import open_store

    the_store = open_store(settings, store)
    context = retrieve(question, settings, the_store, embedder)
    model = resolve_llm(llm if llm is not None else settings.llm, settings)
    reply = model.generate([build_prompt(question, context.kept)], max_new_tokens=MAX_ANSWER_TOKENS, stop=STOP)[0]
    answer = parse_answer(reply)
    full, counter = count_tokens(context.text(context.neighbourhood), model)
    pruned, _ = count_tokens(context.text(), model)
    names = {normalise_name(n) for f in context.kept for n in (f.head, f.tail)}
    return ContextAnswer(
        question, answer, context.kept, full, pruned, context.entities, len(context.neighbourhood),
        bool(answer) and normalise_name(answer) in names, counter, model.model_id,
    )  # fmt: skip
