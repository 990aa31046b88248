"""KG-RAG context pruning on PathQuestion: tokens saved, and does the gold answer survive pruning?

Imports the 2H KB into a fresh graph, runs linking + neighbourhood + MiniLM pruning for every 38th
PQ-2H question (50 questions spread over the file), counts tokens of the unpruned neighbourhood and
of the pruned context with the default model's tokenizer, and checks whether a gold answer is still
named in the pruned context (and was in the unpruned one). ``--answer`` also lets the LLM answer::

    kgpipe eval context --kb DIR/2H-kb.txt --questions DIR/PQ-2H.txt [--hops 2] [--limit 50] [--every 38] [--answer] [--json]

PathQuestion is not redistributed with kgpipe (see data/README.md for where to get it).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from ..config import Settings
from ..errors import KgpipeError
from ..ingest.interchange import import_triples
from ..llms import resolve_llm
from ..llms.embed import Embedder
from ..qa.context import ask_context, count_tokens, retrieve
from ..qa.link import link_key
from ..stores import resolve_store
from ..stores.falkordb_server import stop_server


def read_questions(path: Path, step: int, offset: int, limit: int) -> list[tuple[str, set[str], str]]:
    """``(question, gold answers, topic entity)`` from PathQuestion lines ``question<TAB>ans(alt/...)<TAB>path``."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines()[offset::step][:limit]:
        question, answers, gold_path = line.split("\t")[:3]
        first, _, alts = answers.partition("(")
        out.append((question, {first, *filter(None, alts.rstrip(")").split("/"))}, gold_path.split("#")[0]))
    return out


def evaluate_context(
    kb: str | Path,
    questions: str | Path,
    *,
    hops: int = 2,
    limit: int = 50,
    every: int = 38,
    start: int = 0,
    answer: bool = False,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """Import ``kb`` into a fresh graph and measure pruning on every ``every``-th question from ``start``.

    Returns ``{"summary": ..., "results": [one row per question]}``; ``answer=True`` also lets the LLM
    (``settings.llm``) answer from the pruned context and scores the answer against the gold answers.
    """
    base = settings or Settings()
    state = tempfile.mkdtemp(prefix="kgpipe-kgrag-")
    settings = base.replace(state_dir=state, graph="kgrag", llm_cache=False, progress=False, context_hops=hops)
    try:
        store = resolve_store("falkordb", settings)
        import_triples(kb, settings=settings, store=store)
        llm, embedder = resolve_llm(settings.llm, settings), Embedder()
        rows = []
        for question, gold, topic in read_questions(Path(questions), every, start, limit):
            started = time.perf_counter()
            try:
                ctx = retrieve(question, settings, store, embedder)
            except KgpipeError as exc:
                rows.append({"question": question, "error": str(exc)})
                continue
            full, counter = count_tokens(ctx.text(ctx.neighbourhood), llm)
            pruned, _ = count_tokens(ctx.text(), llm)
            names = lambda facts: {n for f in facts for n in (f.head, f.tail)}  # noqa: E731
            row = {
                "question": question, "gold": sorted(gold), "linked": [e[1] for e in ctx.entities],
                "topic_linked": topic in [e[1] for e in ctx.entities], "facts_full": len(ctx.neighbourhood),
                "facts_pruned": len(ctx.kept), "tokens_full": full, "tokens_pruned": pruned,
                "saved": 1 - pruned / full, "gold_in_full": bool(gold & names(ctx.neighbourhood)),
                "gold_in_pruned": bool(gold & names(ctx.kept)), "counter": counter,
            }  # fmt: skip
            if answer:
                reply = ask_context(question, settings, store=store, llm=llm, embedder=embedder)
                row["answer"] = reply.answer
                row["answer_right"] = link_key(reply.answer) in {link_key(g) for g in gold}
            row["seconds"] = round(time.perf_counter() - started, 2)
            rows.append(row)
        ok = [r for r in rows if "error" not in r]
        big = [r for r in ok if r["facts_full"] >= 20]
        mean = lambda key, rs: round(statistics.fmean(float(r[key]) for r in rs), 3) if rs else None  # noqa: E731
        summary = {
            "questions": len(rows), "linking_errors": len(rows) - len(ok), "hops": hops,
            "topic_entity_linked": mean("topic_linked", ok),
            "facts_full_mean": mean("facts_full", ok), "facts_full_median": statistics.median(r["facts_full"] for r in ok),
            "facts_pruned_mean": mean("facts_pruned", ok),
            "tokens_full_mean": mean("tokens_full", ok), "tokens_pruned_mean": mean("tokens_pruned", ok),
            "tokens_saved_mean": mean("saved", ok),
            "tokens_saved_overall": round(1 - sum(r["tokens_pruned"] for r in ok) / sum(r["tokens_full"] for r in ok), 3),
            "neighbourhoods_20plus": len(big), "tokens_saved_mean_20plus": mean("saved", big),
            "gold_in_full": mean("gold_in_full", ok), "gold_in_pruned": mean("gold_in_pruned", ok),
            "gold_in_pruned_20plus": mean("gold_in_pruned", big), "counter": ok[0]["counter"] if ok else "",
            "seconds_per_question": mean("seconds", ok),
        }  # fmt: skip
        if answer:
            summary["answer_hits"] = mean("answer_right", ok)
        return {"summary": summary, "results": rows}
    finally:
        stop_server(state)
