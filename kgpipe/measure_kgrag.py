"""KG-RAG context pruning on PathQuestion: tokens saved, and does the gold answer survive pruning?

Imports the 2H KB into a fresh graph, runs linking + neighbourhood + MiniLM pruning for every 38th
PQ-2H question (50 questions spread over the file), counts tokens of the unpruned neighbourhood and
of the pruned context with the default model's tokenizer, and checks whether a gold answer is still
named in the pruned context (and was in the unpruned one). ``--answer`` also lets the LLM answer::

    python -m kgpipe.measure_kgrag [--hops 2] [--limit 50] [--answer] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from kgpipe.config import Settings
from kgpipe.embed import Embedder
from kgpipe.errors import KgpipeError
from kgpipe.interchange import import_triples
from kgpipe.kgrag import ask_context, count_tokens, retrieve
from kgpipe.link import link_key
from kgpipe.llms import resolve_llm
from kgpipe.stores import resolve_store
from kgpipe.stores.falkordb_server import stop_server

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "qa" / "pathquestion"


def read_questions(path: Path, step: int, offset: int, limit: int) -> list[tuple[str, set[str], str]]:
    """``(question, gold answers, topic entity)`` from PathQuestion lines ``question<TAB>ans(alt/...)<TAB>path``."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines()[offset::step][:limit]:
        question, answers, gold_path = line.split("\t")[:3]
        first, _, alts = answers.partition("(")
        out.append((question, {first, *filter(None, alts.rstrip(")").split("/"))}, gold_path.split("#")[0]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb", type=Path, default=DATA / "2H-kb.txt")
    parser.add_argument("--questions", type=Path, default=DATA / "PQ-2H.txt")
    parser.add_argument("--hops", type=int, default=2)
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--step", type=int, default=38)
    parser.add_argument("--offset", type=int, default=0)
    parser.add_argument("--answer", action="store_true", help="also answer each question with the LLM")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    state = tempfile.mkdtemp(prefix="kgpipe-kgrag-")
    settings = Settings(state_dir=state, graph="kgrag", llm_cache=False, progress=False, context_hops=args.hops)
    try:
        store = resolve_store("falkordb", settings)
        import_triples(args.kb, settings=settings, store=store)
        llm, embedder = resolve_llm(settings.llm, settings), Embedder()
        rows = []
        for question, gold, topic in read_questions(args.questions, args.step, args.offset, args.limit):
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
            if args.answer:
                answer = ask_context(question, settings, store=store, llm=llm, embedder=embedder)
                row["answer"] = answer.answer
                row["answer_right"] = link_key(answer.answer) in {link_key(g) for g in gold}
            row["seconds"] = round(time.perf_counter() - started, 2)
            rows.append(row)
        ok = [r for r in rows if "error" not in r]
        big = [r for r in ok if r["facts_full"] >= 20]
        mean = lambda key, rs: round(statistics.fmean(float(r[key]) for r in rs), 3) if rs else None  # noqa: E731
        summary = {
            "questions": len(rows), "linking_errors": len(rows) - len(ok), "hops": args.hops,
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
        if args.answer:
            summary["answer_hits"] = mean("answer_right", ok)
        print(json.dumps({"summary": summary, "results": rows} if args.json else summary, indent=1))
    finally:
        stop_server(state)


if __name__ == "__main__":
    main()
