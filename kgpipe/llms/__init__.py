"""LLM backends behind one small contract, resolved by name in one place.

A backend is any object with a ``model_id`` string and ``generate(prompts, max_new_tokens=..., stop=...)``
returning one completion per prompt (the text after the prompt). Two optional capabilities are declared
as protocols and checked in one place (``scorer(llm)``, ``yes_no_scorer(llm)``), never probed at call sites:

* ``Scorer.logprob(contexts, continuations)``: summed log-probability of each continuation given its
  context (a local model; an HTTP server that echoes prompt logprobs, as vLLM and llama.cpp do);
* ``YesNoScorer.yes_no(prompts)``: log-odds of a "Yes" over a "No" answer, read from one request's
  top-token log-probabilities (what OpenAI's chat endpoints return, without prompt echo);
* ``StructuredGenerator.generate_structured(prompts, schemas)``: JSON decoded under a JSON schema per
  prompt (an HTTP server's structured output: ``response_format`` json_schema), checked by
  ``structured_generator(llm)``.

A backend that declares a capability may still find, from a well-formed reply, that its server lacks
it: it then raises ``NotImplementedError``. A failed request (outage, malformed reply) is an ``LLMError``,
never taken as a missing capability.

Names accepted wherever an LLM is::

    "gemma"                       the packaged Gemma 3 270M (default)
    "hf:<model id or local path>" any causal LM through transformers (local files only)
    "openai:<model>[@<base url>]" any OpenAI-compatible HTTP endpoint (vLLM, Ollama, llama.cpp, OpenAI)

Third-party backends register under the ``kgpipe.llms`` entry-point group with a ``"module:Class"`` value;
the class is called as ``Class(spec, settings)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import ConfigError
from ..registry import load_class, registered
from .cache import CachedLLM
from .contract import (
    GEMMA_MODEL_ID,
    LLM,
    LocalModel,
    Metered,
    Scorer,
    StructuredGenerator,
    YesNoScorer,
    local_model,
    scorer,
    structured_generator,
    usage,
    yes_no_scorer,
)

__all__ = [
    "GEMMA_MODEL_ID", "LLM", "LocalModel", "Metered", "Scorer", "StructuredGenerator", "YesNoScorer",
    "local_model", "scorer", "structured_generator", "usage", "yes_no_scorer", "resolve_llm", "BACKENDS",
]

if TYPE_CHECKING:
    from ..config import Settings


# Built-in backends, registered exactly like a third-party one would be.
BACKENDS: dict[str, str] = {
    "hf": "kgpipe.llms.transformers:TransformersLLM",
    "gemma": "kgpipe.llms.transformers:TransformersLLM",
    "openai": "kgpipe.llms.openai:OpenAILLM",
}


def resolve_llm(spec: "str | LLM", settings: "Settings | None" = None, *, cache: bool | None = None) -> LLM:
    """Turn a backend name (or an instance) into a ready LLM, wrapped in the on-disk response cache."""
    from ..config import Settings

    settings = settings or Settings()
    use_cache = settings.llm_cache if cache is None else cache
    if not isinstance(spec, str):
        llm = spec
    else:
        scheme = spec.partition(":")[0] if ":" in spec else spec
        backends = registered("kgpipe.llms", BACKENDS)
        if scheme not in backends:
            raise ConfigError(f"unknown LLM backend {spec!r}; use one of: {', '.join(sorted(backends))}")
        llm = load_class(backends[scheme])(spec, settings)
    if use_cache and not isinstance(llm, CachedLLM):
        llm = CachedLLM(llm, settings.state_path / "llm_cache.sqlite")
    return llm
