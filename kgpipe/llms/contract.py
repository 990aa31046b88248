"""The LLM contract and its optional capabilities, declared as protocols and checked in one place.

See ``kgpipe.llms`` for what each means; backends and the cache import this module, never the package,
so the package can import them.
"""

from __future__ import annotations

from typing import Any, Protocol, Sequence, runtime_checkable

from ..errors import MissingCapability

GEMMA_MODEL_ID = "hf:gemma-3-270m-q4_k_m"  # the packaged Gemma 3 270M; names the weights exactly, quantisation included

@runtime_checkable
class LLM(Protocol):
    """The whole contract an LLM backend implements."""

    model_id: str

    def generate(self, prompts: Sequence[str], *, max_new_tokens: int = 128, stop: Sequence[str] = ()) -> list[str]:
        """One completion per prompt, greedy, without the prompt, cut at the first stop string."""
        ...


def cut_at_stop(text: str, stop: Sequence[str]) -> str:
    """``text`` up to the earliest stop string, as ``generate`` returns it (empty stop strings ignored)."""
    ends = [i for i in (text.find(s) for s in stop if s) if i >= 0]
    return text[: min(ends)] if ends else text


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


@runtime_checkable
class StructuredGenerator(Protocol):
    """Decodes under a JSON schema per prompt (an HTTP server's structured output): grounded extraction's enums."""

    def generate_structured(
        self, prompts: Sequence[str], schemas: Sequence[dict[str, Any]], *, max_new_tokens: int = 128
    ) -> list[str]:
        """One JSON text per prompt, greedy, decoded under its schema; ``NotImplementedError`` when the server
        refuses the schema parameter (learnt once, remembered)."""
        ...


def structured_generator(llm: object) -> StructuredGenerator | None:
    """``llm`` as a ``StructuredGenerator`` when it declares ``generate_structured``, else None: the one place
    this is checked."""
    return llm if llm is not None and isinstance(llm, StructuredGenerator) else None


def scorer(llm: object) -> Scorer | None:
    """``llm`` as a ``Scorer`` when it declares ``logprob``, else None: the one place this is checked."""
    return llm if llm is not None and isinstance(llm, Scorer) else None


def yes_no_scorer(llm: object) -> YesNoScorer | None:
    """``llm`` as a ``YesNoScorer`` when it declares ``yes_no``, else None: the one place this is checked."""
    return llm if llm is not None and isinstance(llm, YesNoScorer) else None


@runtime_checkable
class LocalModel(Protocol):
    """A model in this process whose logits kgpipe steps through: KG-Trie constrained decoding (``kgpipe ask``)."""

    model_id: str
    model: Any  # a transformers causal LM
    tokenizer: Any
    device: Any

    def logprob(self, contexts: Sequence[str], continuations: Sequence[str]) -> list[float]: ...


@runtime_checkable
class Metered(Protocol):
    """Counts its work: ``calls`` sent to the model, ``hits`` answered from the response cache."""

    calls: int
    hits: int


@runtime_checkable
class Wrapper(Protocol):
    """Wraps another backend (the response cache): ``inner`` is the one it forwards to."""

    inner: Any


def local_model(llm: object, *, needed_for: str = "path-constrained answering") -> LocalModel:
    """The local model under any wrapper; ``MissingCapability`` (naming the backends that have it) otherwise."""
    while isinstance(llm, Wrapper):
        llm = llm.inner
    if isinstance(llm, LocalModel):
        return llm
    raise MissingCapability(
        f"{needed_for} needs a model's logits (capability LocalModel), which {llm.model_id if isinstance(llm, LLM) else llm!r} "
        "does not offer: use a local transformers model ('gemma' or 'hf:<id or path>'); an HTTP model can still "
        "write the answer as --reasoner"
    )


def usage(llm: object) -> tuple[int, int]:
    """``(calls, hits)`` of a metered backend (the response cache counts both); ``(0, 0)`` for one that is not."""
    return (llm.calls, llm.hits) if isinstance(llm, Metered) else (0, 0)
