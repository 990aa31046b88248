"""The judge's raw signals for a triple and its source text, used by the judge and by its calibration alike
(so calibration measures exactly what the judge combines).

* ``likelihood``: ``(log P(v | text) - log P(v | no text)) / words(v)`` for the triple's verbalisation
  ``v``, from a ``Scorer``;
* ``yes_no``: ``log P(" Yes") - log P(" No")`` after the versioned judge prompt, from a ``YesNoScorer``
  in one request (the answer token's top logprobs) or from a ``Scorer`` in two;
* ``lexical``: grounding of the less grounded of head and tail in the text, in [0, 1] (no LLM call).
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any, Callable, Sequence

from rapidfuzz.fuzz import ratio

from ..llms import scorer, yes_no_scorer
from ..prompts import prompt
from ..records import Triple
from ..text import fold_diacritics

if TYPE_CHECKING:
    from ..llms import LLM

log = logging.getLogger(__name__)

PROMPT_VERSION = "judge.v2"  # v1 ended in a newline, so " Yes" was scored on a line of its own
LLM_SIGNALS = ("likelihood", "yes_no")
SIGNALS = ("likelihood", "yes_no", "lexical")
# The context a verbalisation is scored after, with and without the source text.
WITH_TEXT = "{text}\nIn short:"
WITHOUT_TEXT = "In short:"

_WORD = re.compile(r"[0-9a-z]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_MINOR = frozenset({"the", "a", "an", "of", "in", "on", "at", "and", "for", "to", "by", "with"})


def verbalise(triple: Triple) -> str:
    """The triple as a plain claim: ``"La Albuera is part of Extremadura."``; identifier-like relations
    (``isPartOf``, ``BORN_IN``) become lower-case words, worded ones are kept as written."""
    relation = triple.relation.strip()
    if " " not in relation:
        words = _CAMEL.sub(" ", relation).replace("_", " ").split()
        relation = " ".join(w if w.isupper() and not relation.isupper() else w.lower() for w in words)
    return f"{triple.head} {relation} {triple.tail}."


def _tokens(text: str) -> list[str]:
    return _WORD.findall(fold_diacritics(text).casefold())


def _token_match(token: str, source: set[str]) -> float:
    """1 for the token itself, 0.75 for a close variant (shared stem, small misspelling), else 0."""
    if token in source:
        return 1.0
    if token.isdigit() or len(token) < 4:
        return 0.0  # numbers and short words must match exactly
    for other in source:
        if len(other) < 4 or other.isdigit():
            continue
        shorter = min(len(token), len(other))
        prefix = len(_common_prefix(token, other))
        if prefix >= 4 and prefix >= 0.6 * shorter or ratio(token, other) >= 85:
            return 0.75
    return 0.0


def _common_prefix(a: str, b: str) -> str:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]


def grounding(name: str, text: str) -> float:
    """How well a name is grounded in a text, in [0, 1]: 1 when it occurs as a phrase (ignoring case,
    diacritics and punctuation), else the mean match of its content words."""
    words = _tokens(name)
    source = _tokens(text)
    if not words or not source:
        return 0.0
    if f" {' '.join(words)} " in f" {' '.join(source)} ":
        return 1.0
    content = [w for w in words if w not in _MINOR] or words
    pool = set(source)
    return sum(_token_match(w, pool) for w in content) / len(content)


def lexical(triple: Triple, text: str) -> float:
    """Grounding of the less grounded of head and tail: a triple is only as grounded as its weaker end."""
    return min(grounding(triple.head, text), grounding(triple.tail, text))


def _batched(fn: Any, batch_size: int, *columns: Sequence[Any], on_progress: Any = None) -> list[float]:
    out: list[float] = []
    for start in range(0, len(columns[0]), batch_size):
        out.extend(fn(*(c[start : start + batch_size] for c in columns)))
        if on_progress is not None:
            on_progress(len(columns[0][start : start + batch_size]))
    return out


def raw_signals(
    triples: Sequence[Triple],
    texts: Sequence[str],
    llm: "LLM | None",
    *,
    wanted: Sequence[str] = ("likelihood", "yes_no", "lexical"),
    batch_size: int = 64,
    missing: dict[str, str] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> list[dict[str, float]]:
    """The raw value of each wanted signal for each (triple, source text); an LLM signal only when the model offers it.

    ``likelihood``: length-normalised log-likelihood gain from the text; ``yes_no``: log-odds of " Yes"
    over " No"; ``lexical``: grounding in [0, 1]. A wanted signal the model does not offer (no capability,
    or ``NotImplementedError`` from a well-formed reply) is left out of every row and its reason put in
    ``missing``. A failed request (``LLMError``) is raised: a failure is never taken for a missing capability.
    ``on_progress(n)``: called as each batch of ``n`` prompts is scored.
    """
    missing = {} if missing is None else missing
    rows: list[dict[str, float]] = [{} for _ in triples]
    if "lexical" in wanted:
        for row, t, text in zip(rows, triples, texts):
            row["lexical"] = lexical(t, text)
    llm_wanted = [name for name in LLM_SIGNALS if name in wanted]
    if llm is None or not llm_wanted or not triples:
        return rows
    claims = [verbalise(t) for t in triples]
    flat = [" ".join(text.split()) for text in texts]
    score, answer = scorer(llm), yes_no_scorer(llm)
    if "likelihood" in wanted:
        if score is None:
            missing["likelihood"] = f"{llm.model_id} cannot score text (no logprob)"
        else:
            try:
                n = len(claims)
                contexts = [WITH_TEXT.format(text=text) for text in flat] + [WITHOUT_TEXT] * n
                scores = _batched(score.logprob, batch_size, contexts, [f" {c}" for c in claims] * 2,
                                  on_progress=on_progress)
            except NotImplementedError as exc:  # e.g. an HTTP server that returns no prompt logprobs
                missing["likelihood"] = f"{llm.model_id} returns no prompt logprobs ({exc})"
            else:
                for row, claim, with_text, without in zip(rows, claims, scores[:n], scores[n:]):
                    row["likelihood"] = (with_text - without) / max(1, len(claim.split()))
    if "yes_no" in wanted:
        template = prompt(PROMPT_VERSION)
        asks = [template.replace("{text}", text).replace("{fact}", claim) for text, claim in zip(flat, claims)]
        odds: list[float] | None = None
        reasons: list[str] = []
        if answer is not None:
            try:
                odds = _batched(answer.yes_no, batch_size, asks, on_progress=on_progress)
            except NotImplementedError as exc:
                reasons.append(f"no top logprobs ({exc})")
        if odds is None and score is not None and "likelihood" not in missing:
            try:
                both = _batched(score.logprob, batch_size, asks * 2, [" Yes"] * len(asks) + [" No"] * len(asks),
                                on_progress=on_progress)
                odds = [yes - no for yes, no in zip(both[: len(asks)], both[len(asks) :])]
            except NotImplementedError as exc:
                reasons.append(f"no prompt logprobs ({exc})")
        if odds is None:
            missing["yes_no"] = f"{llm.model_id} cannot score a yes/no answer" + (f": {'; '.join(reasons)}" if reasons else "")
        else:
            for row, value in zip(rows, odds):
                row["yes_no"] = value
    for name in LLM_SIGNALS:
        if name in missing:
            log.warning("judge: running without %s: %s", name, missing[name])
    return rows
