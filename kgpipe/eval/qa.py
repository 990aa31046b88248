"""``kgpipe eval qa``: graph-constrained question answering measured on a KB and its questions.

Input: a KB of ``head<TAB>relation<TAB>tail`` lines, loaded into a fresh graph of the embedded
FalkorDB (``<graph>_eval_qa``, cleared first), and questions in the PathQuestion format
``question<TAB>answer(alt1/alt2/...)<TAB>gold path`` (``answer1/answer2`` without the parentheses,
and no gold path column, are accepted too).

Reported: Hits@1 (the top answer is a gold answer), answer F1 (the distinct end entities of the
returned paths against the gold set, averaged over questions), path faithfulness (share of
returned paths that exist in the KB: 1.0 by construction with the trie), and mean seconds per
question. ``unconstrained=True`` decodes with the same model and prompt but without the trie; its
paths are parsed back into hops and looked up in the KB, and the share that is not there is the
hallucination rate.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from ..config import Settings, load_settings
from ..errors import DataError, NoEntityLinked
from ..progress import bar
from ..qa.link import EntityLinker, link_key
from ..qa.paths import match_text, name_index, parse_path
from ..stores import cypher

if TYPE_CHECKING:
    from ..llms import LLM
    from ..stores import Store

_ANSWER = re.compile(r"^(.*?)\((.*)\)\s*$")


@dataclass(frozen=True)
class QAItem:
    """One question with its gold answers (main answer first) and, when given, its gold path."""

    line: int
    question: str
    answers: tuple[str, ...]
    gold_path: str = ""


def read_questions(path: str | Path, limit: int | None = None, start: int = 0, every: int = 1) -> list[QAItem]:
    """Questions in the PathQuestion format: skip ``start``, then every ``every``-th, at most ``limit``.

    Raises ``DataError`` naming the first malformed line. (PathQuestion lists each path's paraphrases
    on consecutive lines, so ``every`` spreads a small sample over many paths.)
    """
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise DataError(f"cannot read questions {path}: {exc.strerror or exc}") from None
    items: list[QAItem] = []
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) < 2 or not fields[0].strip() or not fields[1].strip():
            raise DataError(f"{path} line {number}: expected question<TAB>answer(alt1/alt2/...)[<TAB>gold path]")
        gold_path = fields[2].strip() if len(fields) > 2 else ""
        items.append(QAItem(number, fields[0].strip(), parse_answers(fields[1]), gold_path))
    items = items[start :: max(1, every)]
    return items[:limit] if limit is not None else items


def parse_answers(text: str) -> tuple[str, ...]:
    """``main(alt1/alt2/)`` or ``a1/a2`` → the distinct answers, main first.

    >>> parse_answers("united_kingdom(united_kingdom/uk/)"), parse_answers("paris/lyon")
    (('united_kingdom', 'uk'), ('paris', 'lyon'))
    """
    m = _ANSWER.match(text.strip())
    parts = [m.group(1), *m.group(2).split("/")] if m else text.split("/")
    return tuple(dict.fromkeys(p.strip() for p in parts if p.strip()))


def f1(predicted: Sequence[str], gold: Sequence[str]) -> float:
    """F1 of a set of predicted answers against the gold answers (compared by ``link_key``)."""
    p, g = {link_key(x) for x in predicted}, {link_key(x) for x in gold}
    hit = len(p & g)
    return 0.0 if not hit else 2 * hit / (len(p) + len(g))


def load_kb(kb: str | Path, settings: Settings) -> tuple["Store", Settings]:
    """The KB imported into a fresh graph of the embedded FalkorDB (never the user's configured store)."""
    from ..ingest.interchange import import_triples
    from ..stores import resolve_store

    eval_settings = settings.replace(store="falkordb", graph=f"{settings.graph}_eval_qa")
    store = resolve_store("falkordb", eval_settings)
    store.execute(*cypher.clear_graph(), write=True)
    import_triples(kb, settings=eval_settings, store=store)
    return store, eval_settings


def evaluate_qa(
    kb: str | Path,
    questions: str | Path,
    *,
    limit: int | None = None,
    start: int = 0,
    every: int = 1,
    unconstrained: bool = False,
    settings: Settings | None = None,
    llm: "LLM | None" = None,
) -> dict[str, Any]:
    """Figures for ``kgpipe eval qa`` (see the module docstring); ``llm`` defaults to ``settings.llm``."""
    from ..llms import local_model, resolve_llm
    from ..qa.answer import EXPLAIN_PROMPT, PROMPT_VERSION, ask

    settings = settings or load_settings()
    items = read_questions(questions, limit, start, every)
    if not items:
        raise DataError(f"no questions in {questions}")
    store, eval_settings = load_kb(kb, settings)
    linker = EntityLinker.from_store(store)
    index = name_index(linker.names)
    decoder = local_model(llm if llm is not None else resolve_llm(settings.llm, settings, cache=False))
    hits = f1_sum = seconds = 0.0
    returned = existing = unlinked = candidates = 0
    examples: list[dict[str, Any]] = []
    per_question: list[list[Any]] = []  # [line, hit, paths returned, paths in the KB]
    with bar(total=len(items), desc="eval qa", unit="q", enabled=settings.progress) as progress:
        for item in items:
            started = time.perf_counter()
            try:
                answer = ask(item.question, eval_settings, store=store, llm=decoder, linker=linker,
                             constrained=not unconstrained)
            except NoEntityLinked:
                unlinked += 1
                per_question.append([item.line, False, 0, 0])
                seconds += time.perf_counter() - started
                progress.update(1)
                continue
            candidates += answer.candidate_paths
            if unconstrained:
                found = [match_text(store, t, linker.names, index) for t in answer.texts]
                n_paths, n_real = len(found), sum(p is not None for p in found)
                parsed = [parse_path(t) for t in answer.texts]
                ends = [hops[-1][2] for hops in parsed if hops]
            else:
                n_paths, n_real = len(answer.paths), sum(sp.verified for sp in answer.paths)
                ends = [sp.path.end[1] for sp in answer.paths]
            returned += n_paths
            existing += n_real
            top = answer.answer if not unconstrained else (ends[0] if ends else "")
            gold = {link_key(a) for a in item.answers}
            hit = bool(top) and link_key(top) in gold
            hits += hit
            per_question.append([item.line, hit, n_paths, n_real])
            f1_sum += f1(list(dict.fromkeys(ends)), item.answers)
            seconds += time.perf_counter() - started
            if len(examples) < 5:
                examples.append({"line": item.line, "question": item.question, "gold": list(item.answers),
                                 "answer": top, "hit": hit, "paths": list(answer.texts)})  # fmt: skip
            progress.update(1)
    n = len(items)
    return {
        "kb": str(kb),
        "questions": str(questions),
        "lines": f"{items[0].line}-{items[-1].line}" + (f" every {every}th" if every > 1 else ""),
        "n": n,
        "mode": "unconstrained" if unconstrained else "constrained",
        "model": decoder.model_id,
        "prompt_version": f"{PROMPT_VERSION}+{EXPLAIN_PROMPT}" if not unconstrained else PROMPT_VERSION,
        "hits@1": round(hits / n, 4),
        "answer_f1": round(f1_sum / n, 4),
        "faithfulness": round(existing / returned, 4) if returned else None,
        "hallucination_rate": round(1 - existing / returned, 4) if returned else None,
        "paths_returned": returned,
        "candidate_paths_per_question": round(candidates / max(1, n - unlinked), 2),
        "unlinked": unlinked,
        "seconds_per_question": round(seconds / n, 3),
        "examples": examples,
        "per_question": per_question,
    }
