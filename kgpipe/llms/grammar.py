"""Greedy decoding under a grammar: the model chooses only among the tokens the grammar allows.

A grammar is a small state machine over token ids (``Grammar``): from each state it names the tokens
allowed next, and it says when the output is complete. Decoding is greedy with a KV cache, plus two
savings that leave the output unchanged:

* **jump-forward**: where the grammar allows exactly one token (the rest of a name once its first
  tokens are chosen, a separator, the end of a line), the whole forced run is fed to the model in the
  pass after the choice that led into it, without a forward pass of its own;
* **allowed-only scoring**: the choice is the argmax over the allowed tokens only, so the output
  projection is computed for those rows of its weight matrix instead of the whole vocabulary
  (Gemma 3's 262k-token projection is more than half of a step on a CPU). Softcapping and scaling
  after the projection are monotone and cannot change an argmax, so the choice is exactly plain
  greedy decoding restricted to the allowed tokens.

A prompt prefix shared by many calls (instructions and few-shot examples) is run once and its
keys and values reused (``GrammarDecoder(prefix=...)``).
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

import numpy as np
import torch

from ..progress import quiet_third_party

if TYPE_CHECKING:
    from .contract import LocalModel

log = logging.getLogger(__name__)

State = TypeVar("State")


class Grammar(Protocol[State]):
    """What a grammar tells the decoder: a start state, the allowed tokens, the next state, the end."""

    def start(self) -> State: ...

    def allowed(self, state: State) -> np.ndarray:
        """Token ids allowed after ``state`` (empty: nothing can follow, the output ends here)."""
        ...

    def advance(self, state: State, token: int) -> State: ...

    def done(self, state: State) -> bool: ...


@dataclass
class GrammarDecoded(Generic[State]):
    """One decoded output: its tokens, the grammar's final state, forward passes and forced tokens."""

    tokens: list[int]
    state: State
    passes: int  # forward passes, the prompt's included
    forced: int  # tokens fed without a choice (jump-forward)


class GrammarDecoder:
    """Greedy grammar-constrained decoding with one local model (``.model``, ``.tokenizer``, ``.device``)."""

    def __init__(self, local: "LocalModel", *, prefix: str = "") -> None:
        self.model, self.tokenizer, self.device = local.model, local.tokenizer, torch.device(local.device)
        head = self.model.get_output_embeddings()
        body = getattr(self.model, "base_model", None)
        plain = head is not None and getattr(head, "bias", None) is None and body is not None and body is not self.model
        self._weight = head.weight if plain else None  # scoring allowed rows of the projection only
        self._body = body if plain else None
        self._prefix_ids: list[int] = []
        self._prefix_cache: Any = None
        if prefix:
            ids = self.tokenizer(prefix).input_ids
            with torch.inference_mode(), quiet_third_party():
                _, self._prefix_cache = self._forward(ids, None)
            self._prefix_ids = ids

    def decode(self, prompt: str, grammar: "Grammar[Any]", *, max_new_tokens: int) -> GrammarDecoded[Any]:
        """The greedy output of ``prompt`` under ``grammar``: ends when the grammar is done, allows nothing,
        or ``max_new_tokens`` tokens were produced."""
        with torch.inference_mode(), quiet_third_party():
            return self._decode(prompt, grammar, max_new_tokens)

    def _decode(self, prompt: str, grammar: "Grammar[Any]", budget: int) -> GrammarDecoded[Any]:
        ids = self.tokenizer(prompt).input_ids
        cache = None
        if self._prefix_cache is not None and ids[: len(self._prefix_ids)] == self._prefix_ids and len(ids) > len(self._prefix_ids):
            cache = copy.deepcopy(self._prefix_cache)
            ids = ids[len(self._prefix_ids) :]
        state = grammar.start()
        tokens: list[int] = []
        run, state = self._forced(grammar, state, budget)
        tokens += run
        feed, passes, forced = ids + run, 0, len(run)
        while not grammar.done(state) and len(tokens) < budget:
            allowed = grammar.allowed(state)
            if len(allowed) == 0:
                break
            hidden, cache = self._forward(feed, cache)
            passes += 1
            token = int(allowed[int(torch.argmax(self._scores(hidden, allowed)))])
            state = grammar.advance(state, token)
            tokens.append(token)
            run, state = self._forced(grammar, state, budget - len(tokens))
            tokens += run
            forced += len(run)
            feed = [token, *run]
        return GrammarDecoded(tokens, state, passes, forced)

    @staticmethod
    def _forced(grammar: "Grammar[Any]", state: Any, budget: int) -> tuple[list[int], Any]:
        run: list[int] = []
        while len(run) < budget and not grammar.done(state):
            allowed = grammar.allowed(state)
            if len(allowed) != 1:
                break
            run.append(int(allowed[0]))
            state = grammar.advance(state, run[-1])
        return run, state

    def _forward(self, feed: list[int], cache: Any) -> tuple[torch.Tensor, Any]:
        """Feed ``feed`` after ``cache``; the last position's hidden state (or logits, without a split head)."""
        seen = cache.get_seq_length() if cache is not None else 0
        inputs = dict(
            input_ids=torch.tensor([feed], dtype=torch.long, device=self.device),
            position_ids=torch.arange(seen, seen + len(feed), device=self.device)[None],
            past_key_values=cache, use_cache=True,
        )  # fmt: skip
        if self._body is not None:
            out = self._body(**inputs)
            return out.last_hidden_state[0, -1], out.past_key_values
        out = self.model(**inputs, logits_to_keep=1)
        return out.logits[0, -1], out.past_key_values

    def _scores(self, hidden: torch.Tensor, allowed: np.ndarray) -> torch.Tensor:
        index = torch.from_numpy(np.asarray(allowed, dtype=np.int64)).to(self.device)
        if self._weight is None:  # ``hidden`` already holds the full logits
            return hidden[index]
        return self._weight[index] @ hidden
