"""How often does the configured LLM's Text2Cypher query validate, run and return the right answer?

Imports the PathQuestion 2H KB into a fresh graph, asks ten simple questions whose gold answers are
read from the KB itself, and prints per question the query, the outcome and the totals::

    kgpipe eval text2cypher --kb DIR/2H-kb.txt [--held-out] [--llm NAME] [--json]

PathQuestion is not redistributed with kgpipe (see data/README.md for where to get it).
"""

from __future__ import annotations

import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from ..config import Settings
from ..errors import KgpipeError, UnsafeQuery
from ..ingest.interchange import import_triples
from ..llms import resolve_llm
from ..qa.text2cypher import ask_cypher
from ..stores import resolve_store
from ..stores.falkordb_server import stop_server

# (question, head entity, relation chain): the gold answer is what the chain reaches in the KB.
QUESTIONS = [
    ("What is the cause of death of ludwig_ii_of_bavaria?", "ludwig_ii_of_bavaria", ["cause_of_death"]),
    ("Who is the spouse of frederica_of_mecklenburg-strelitz?", "frederica_of_mecklenburg-strelitz", ["spouse"]),
    ("What is the profession of j_p_morgan_jr?", "j_p_morgan_jr", ["profession"]),
    ("Where was nathan_mayer_rothschild born?", "nathan_mayer_rothschild", ["place_of_birth"]),
    ("What is the nationality of nathan_mayer_rothschild?", "nathan_mayer_rothschild", ["nationality"]),
    ("What religion did henry_viii_of_england follow?", "henry_viii_of_england", ["religion"]),
    ("Who are the children of anna_of_holstein-gottorp?", "anna_of_holstein-gottorp", ["children"]),
    ("Where was catherine_de_medici born?", "catherine_de_medici", ["place_of_birth"]),
    ("Who are the parents of ludwig_ii_of_bavaria?", "ludwig_ii_of_bavaria", ["parents"]),
    ("What is the nationality of the spouse of frederica_of_mecklenburg-strelitz?",
     "frederica_of_mecklenburg-strelitz", ["spouse", "nationality"]),
]  # fmt: skip
# Ten more, written after the prompt was revised on the ten above, so they measure it untuned.
HELD_OUT = [
    ("Where did kamehameha_iii die?", "kamehameha_iii", ["place_of_death"]),
    ("Which institution did sherman_hoar attend?", "sherman_hoar", ["institution"]),
    ("What is the ethnicity of marvin_gaye?", "marvin_gaye", ["ethnicity"]),
    ("Where is conrad_weiser located?", "conrad_weiser", ["location"]),
    ("Who did anne_of_york marry?", "anne_of_york", ["spouse"]),
    ("Who is the child of major_ridge?", "major_ridge", ["children"]),
    ("Which country is vasili_i_of_russia from?", "vasili_i_of_russia", ["nationality"]),
    ("What is the religion of aurangzeb?", "aurangzeb", ["religion"]),
    ("What was the profession of charlemagne?", "charlemagne", ["profession"]),
    ("How did audrey_hepburn die?", "audrey_hepburn", ["cause_of_death"]),
]  # fmt: skip


def gold(kb: Path, head: str, chain: list[str]) -> set[str]:
    edges: dict[tuple[str, str], set[str]] = defaultdict(set)
    for line in kb.read_text(encoding="utf-8").splitlines():
        h, r, t = line.split("\t")[:3]
        edges[h, r].add(t)
    frontier = {head}
    for relation in chain:
        frontier = {t for h in frontier for t in edges[h, relation]}
    return frontier


def evaluate_text2cypher(kb: str | Path, *, held_out: bool = False, settings: Settings | None = None) -> dict[str, Any]:
    """Import ``kb`` into a fresh graph and ask the ten questions (``held_out``: the ten written after the
    prompt was revised) through Text2Cypher with ``settings.llm``; per-question rows and totals."""
    kb = Path(kb)
    base = settings or Settings()
    state = tempfile.mkdtemp(prefix="kgpipe-t2c-")
    settings = base.replace(state_dir=state, graph="t2c", llm_cache=False, progress=False)
    try:
        store = resolve_store("falkordb", settings)
        import_triples(kb, settings=settings, store=store)
        llm = resolve_llm(settings.llm, settings)
        results = []
        for question, head, chain in HELD_OUT if held_out else QUESTIONS:
            expected = gold(kb, head, chain)
            started = time.perf_counter()
            row: dict[str, Any] = {"question": question, "gold": sorted(expected)}
            try:
                answer = ask_cypher(question, settings, store=store, llm=llm)
                got = {str(v) for r in answer.rows for v in r}
                row.update(query=answer.query, outcome="ran", rows=answer.rows[:5], right=got == expected)
            except UnsafeQuery as exc:
                row.update(query=getattr(exc, "query", ""), outcome="rejected", error=str(exc).splitlines()[0], right=False)
            except KgpipeError as exc:
                row.update(query=getattr(exc, "query", ""), outcome="failed", error=str(exc).splitlines()[0], right=False)
            row["seconds"] = round(time.perf_counter() - started, 1)
            results.append(row)
        n = len(results)
        summary = {
            "model": llm.model_id,
            "questions": n,
            "validated": sum(r["outcome"] != "rejected" for r in results) / n,
            "ran": sum(r["outcome"] == "ran" for r in results) / n,
            "right": sum(r["right"] for r in results) / n,
        }
        return {"summary": summary, "results": results}
    finally:
        stop_server(state)
