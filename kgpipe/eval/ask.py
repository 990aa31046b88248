"""``kgpipe eval ask``: questions about documents, answered from the graph built from them.

The documents (``--docs FOLDER``) are built, incrementally, into their own graph of the embedded
FalkorDB (``<graph>_eval_ask_<folder id>``, one per folder; a rerun reuses what is built), then every question of ``--questions``
is asked with the defaults. The questions file has ``question<TAB>answers`` lines, answers separated
by ``|``; a question with no answer is one the documents do not answer, and the right reply to it is
to abstain (``data/sample_questions.tsv``). An answer is right when it is one of the gold answers or an
alias of the answering entity is (names compared by ``link_key``).

Reported: right / wrong / abstained over the answerable questions, the precision of the answers given
(right / answered, over all questions: an answer to an unanswerable question is wrong), the share of
unanswerable questions that abstained, graph against text answers, and seconds per question.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import Settings, load_settings
from ..errors import DataError, NoEntityLinked
from ..progress import bar
from ..qa.link import link_key
from ..records import stable_id
from ..stores import cypher

if TYPE_CHECKING:
    from ..llms import LLM


@dataclass(frozen=True)
class AskItem:
    """A question and its gold answers; none when the documents do not answer it."""

    line: int
    question: str
    answers: tuple[str, ...]


def read_ask_questions(path: str | Path) -> list[AskItem]:
    """``question<TAB>answer|answer...`` lines (``#`` comments and blank lines skipped); raises ``DataError``."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise DataError(f"cannot read questions {path}: {exc.strerror or exc}") from None
    items = []
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.startswith("#"):
            continue
        question, _, answers = line.partition("\t")
        if not question.strip():
            raise DataError(f"{path} line {number}: expected question<TAB>answer|answer... (answers may be empty)")
        items.append(AskItem(number, question.strip(), tuple(a.strip() for a in answers.split("|") if a.strip())))
    if not items:
        raise DataError(f"no questions in {path}")
    return items


def evaluate_ask(docs: str | Path, questions: str | Path, *, settings: Settings | None = None,
                 llm: "LLM | str | None" = None) -> dict[str, Any]:  # fmt: skip
    """Figures for ``kgpipe eval ask`` (see the module docstring)."""
    from ..ingest.pipeline import build
    from ..llms import resolve_llm
    from ..qa.answer import ask
    from ..stores import resolve_store

    settings = settings or load_settings()
    items = read_ask_questions(questions)
    if not Path(docs).exists():
        raise DataError(f"no such folder or file: {docs}")
    # one graph per folder: two question sets never read each other's documents
    eval_settings = settings.replace(store="falkordb", graph=f"{settings.graph}_eval_ask_{stable_id(str(Path(docs).resolve()))[:8]}")
    store = resolve_store("falkordb", eval_settings)
    the_llm = resolve_llm(llm if llm is not None else settings.llm, settings)  # loaded once, for build and questions
    built = build(docs, eval_settings, llm=the_llm, store=store)
    rows = []
    with bar(total=len(items), desc="eval ask", unit="q", enabled=settings.progress) as progress:
        for item in items:
            started = time.perf_counter()
            try:
                answer = ask(item.question, eval_settings, store=store, llm=the_llm)
                reply, source, abstained = answer.answer, answer.source, answer.abstained
                from_graph = answer.candidates and not abstained and source == "graph"
                names = _names(store, answer.candidates[0].id) | {reply} if from_graph else {reply}
                best = answer.candidates[0].name if answer.candidates else ""
                relevance, path = answer.relevance, answer.paths[0].path.text() if answer.paths else ""
            except NoEntityLinked:
                reply, source, abstained, names, best, relevance, path = "", "", True, set(), "", 0.0, ""
            gold = {link_key(a) for a in item.answers}
            if abstained:
                outcome = "abstained"
            elif gold and gold & {link_key(n) for n in names if n}:
                outcome = "right"
            else:
                outcome = "wrong"
            rows.append({"line": item.line, "question": item.question, "gold": list(item.answers), "answer": reply,
                         "outcome": outcome, "source": source, "best": best, "relevance": round(relevance, 4),
                         "path": path, "seconds": round(time.perf_counter() - started, 3)})  # fmt: skip
            progress.update(1)
    return _report(str(docs), str(questions), rows, built.summary())


def _names(store: Any, entity_id: str) -> set[str]:
    """The entity's name and aliases (an answer is right under any of them)."""
    rows = store.execute(*cypher.entity_by_id(entity_id)).records()
    return {n for r in rows for n in [r["name"], *(r["aliases"] or [])] if n}


def _report(docs: str, questions: str, rows: list[dict[str, Any]], built: dict[str, Any]) -> dict[str, Any]:
    answerable = [r for r in rows if r["gold"]]
    unanswerable = [r for r in rows if not r["gold"]]
    answered = [r for r in rows if r["outcome"] != "abstained"]
    right = [r for r in answerable if r["outcome"] == "right"]

    def count(rs: list[dict[str, Any]], outcome: str) -> int:
        return sum(r["outcome"] == outcome for r in rs)

    return {
        "docs": docs,
        "questions": questions,
        "n": len(rows),
        "answerable": {"n": len(answerable), "right": len(right), "wrong": count(answerable, "wrong"),
                       "abstained": count(answerable, "abstained")},  # fmt: skip
        "unanswerable": {"n": len(unanswerable), "abstained": count(unanswerable, "abstained"),
                         "answered": len(unanswerable) - count(unanswerable, "abstained")},  # fmt: skip
        "answered_precision": round(len(right) / len(answered), 4) if answered else None,
        "right_share_of_answerable": round(len(right) / len(answerable), 4) if answerable else None,
        "unanswerable_abstained": round(count(unanswerable, "abstained") / len(unanswerable), 4) if unanswerable else None,
        "answers_from": {"graph": sum(r["source"] == "graph" for r in answered),
                         "text": sum(r["source"] == "text" for r in answered)},  # fmt: skip
        "seconds_per_question": round(sum(r["seconds"] for r in rows) / len(rows), 3),
        "graph": built.get("graph", {}),
        "per_question": rows,
    }
