"""Optional LLM adjudication of borderline entity pairs (fusion's review band), with a versioned prompt.

With a backend that scores text (``logprob``) the verdict is whichever of " yes" / " no" the model
finds likelier after the few-shot prompt; otherwise the first word of a short greedy completion,
where anything but "yes" is a no (keeping two entities apart is the safe error).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from ..llms import scorer
from ..parse import parse_yes_no
from ..prompts import prompt
from ..records import GENERIC_TYPE, Adjudicator, MentionIn

if TYPE_CHECKING:
    from ..llms import LLM

PROMPT_VERSION = "same_entity.v2"  # v1 ended in a newline: " yes" was scored on a line of its own


def _describe(m: "MentionIn") -> str:
    typ = f" ({m.type})" if m.type and m.type != GENERIC_TYPE else ""
    context = f' — "{" ".join(m.context.split())[:200]}"' if m.context else ""
    return f"{m.name}{typ}{context}"


def build_prompt(a: "MentionIn", b: "MentionIn") -> str:
    """The adjudication prompt for one pair of mentions."""
    return prompt(PROMPT_VERSION).replace("{a}", _describe(a)).replace("{b}", _describe(b))


def llm_adjudicator(llm: "LLM", *, batch_size: int = 8) -> "Adjudicator":
    """An adjudicator for ``EntityIndex.resolve(adjudicate=...)`` that asks ``llm`` about each pair."""

    def decide(pairs: Sequence[tuple["MentionIn", "MentionIn"]]) -> list[bool]:
        verdicts: list[bool] = []
        for start in range(0, len(pairs), batch_size):
            prompts = [build_prompt(a, b) for a, b in pairs[start : start + batch_size]]
            score = scorer(llm)
            if score is not None:
                yes = score.logprob(prompts, [" yes"] * len(prompts))
                no = score.logprob(prompts, [" no"] * len(prompts))
                verdicts += [y > n for y, n in zip(yes, no)]
            else:
                replies = llm.generate(prompts, max_new_tokens=3, stop=["\n"])
                verdicts += [parse_yes_no(reply) for reply in replies]
        return verdicts

    return decide
