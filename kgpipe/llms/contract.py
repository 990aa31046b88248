"""The LLM contract and its optional capabilities, declared as protocols and checked in one place.

See ``kgpipe.llms`` for what each means; backends and the cache import this module, never the package,
so the package can import them.
"""

from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

GEMMA_MODEL_ID = "hf:gemma-3-270m-q4_k_m"  # the packaged Gemma 3 270M; names the weights exactly, quantisation included

@runtime_checkable
class LLM(Protocol):
    """The whole contract an LLM backend implements."""

    model_id: str

    def generate(self, prompts: Sequence[str], *, max_new_tokens: int = 128, stop: Sequence[str] = ()) -> list[str]:
        """One completion per prompt, greedy, without the prompt, cut at the first stop string."""
        ...


@runtime_checkable
class Scorer(Protocol):
    """Scores text: the judge's ``likelihood`` signal (and ``yes_no`` when there is no ``YesNoScorer``)."""

    def logprob(self, contexts: Sequence[str], continuations: Sequence[str]) -> list[float]:
        """Summed log-probability of each continuation given its context."""
        ...


@runtime_checkable
class YesNoScorer(Protocol):
    """Answers yes/no questions with a log-odds in one request each: the judge's ``yes_no`` signal."""

    def yes_no(self, prompts: Sequence[str]) -> list[float]:
        """``log P(yes) - log P(no)`` of the first answer token after each prompt."""
        ...


def scorer(llm: object) -> Scorer | None:
    """``llm`` as a ``Scorer`` when it declares ``logprob``, else None: the one place this is checked."""
    return llm if llm is not None and isinstance(llm, Scorer) else None


def yes_no_scorer(llm: object) -> YesNoScorer | None:
    """``llm`` as a ``YesNoScorer`` when it declares ``yes_no``, else None: the one place this is checked."""
    return llm if llm is not None and isinstance(llm, YesNoScorer) else None
