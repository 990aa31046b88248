"""Greedy batched decoding with a KV cache that drops each row from the batch as soon as it has finished.

``model.generate`` keeps every row of a batch in every forward pass until the longest one is done, so a
row that met EOS or a stop string after five tokens still costs a row of compute for each of the other
rows' remaining steps. Here, after each step, the finished rows are removed from the input ids, the
attention mask, the position ids and every layer's cached keys and values (``Cache.reorder_cache`` with
the indices of the rows that go on), and the loop ends when no row is left. On CPU a batch is not
shrunk to 2 or 3 rows (see ``_CPU_MIN_ROWS``).

The inputs are those ``generate`` builds for a left-padded batch (position ids counted over real tokens,
the 2-D mask growing by one column per step, logits for the last position only, argmax), so each row's
tokens are the ones plain greedy ``generate`` would give it. Dropping rows never changes the cache's
length: the remaining rows keep their left padding and their slots, so sliding-window layers (Gemma 2/3,
whose window is counted in slots) see exactly what they would see in the full batch, which is what they
would see alone, since left padding puts no hole inside any row's window. Works with any transformers
causal LM whose cache is a ``transformers.Cache`` (all of them since transformers 5) or legacy tuples.
Logits processors from the model's generation config (repetition penalty, suppressed tokens...) are not
applied: this is plain greedy decoding, as kgpipe asks ``generate`` for.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Collection

import torch

# On CPU, BLAS multiplies 2 or 3 rows by a weight matrix row by row (re-reading the weights each time), which
# costs more than 4 rows at once: Gemma 3 270M's vocabulary projection took 0.13 s for 2 rows, 0.20 s for
# 3, 0.13 s for 4 and 0.14 s for 8 (one thread, 0.07 s for 1). So a CPU batch never shrinks below 4 rows
# until one row alone is left; finished rows kept to fill it decode on, unrecorded.
_CPU_MIN_ROWS = 4


@torch.inference_mode()
def greedy(
    model: Any,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    *,
    max_new_tokens: int,
    eos_ids: Collection[int] = (),
    stopped: Callable[[list[int]], bool] | None = None,
) -> list[list[int]]:
    """Greedy continuation of each row of a left-padded batch: the new token ids per row, up to and
    including the first EOS token, or the token after which ``stopped(tokens)`` is true, or
    ``max_new_tokens`` tokens."""
    rows = list(range(input_ids.shape[0]))  # original row of each row still in the batch
    out: list[list[int]] = [[] for _ in rows]
    if max_new_tokens <= 0 or not rows:
        return out
    eos = set(eos_ids)
    mask = attention_mask.long()
    positions = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 0)  # as generate: real tokens count from 0
    extra = {"logits_to_keep": 1} if "logits_to_keep" in inspect.signature(model.forward).parameters else {}
    feed, cache = input_ids, None
    done: set[int] = set()  # original rows that have finished
    floor = _CPU_MIN_ROWS if input_ids.device.type == "cpu" else 1
    while True:
        result = model(
            input_ids=feed,
            attention_mask=None if bool(mask.all()) else mask,  # generate drops an all-ones mask too
            position_ids=positions,
            past_key_values=cache,
            use_cache=True,
            **extra,
        )
        cache = result.past_key_values
        chosen = result.logits[:, -1].float().argmax(-1)
        for row, token in zip(rows, chosen.tolist()):
            if row in done:  # a finished row kept only to fill the batch (see below)
                continue
            tokens = out[row]
            tokens.append(token)
            if token in eos or len(tokens) >= max_new_tokens or (stopped is not None and stopped(tokens)):
                done.add(row)
        going = [j for j, row in enumerate(rows) if row not in done]
        if not going:
            return out
        if 1 < len(going) < floor:  # fill up with finished rows: cheaper than a pass of 2 or 3 rows here
            going = sorted(going + [j for j, row in enumerate(rows) if row in done][: min(floor, len(rows)) - len(going)])
        if len(going) < len(rows):
            keep = torch.tensor(going, dtype=torch.long, device=mask.device)
            cache = _select_rows(cache, keep)
            mask, positions, chosen = mask[keep], positions[keep], chosen[keep]
            rows = [rows[j] for j in going]
        feed = chosen.unsqueeze(-1)
        mask = torch.cat([mask, mask.new_ones((len(rows), 1))], dim=-1)
        positions = positions[:, -1:] + 1


def _select_rows(cache: Any, keep: torch.Tensor) -> Any:
    """Only the ``keep`` rows of every layer's cached keys and values (in place for ``Cache`` objects)."""
    if hasattr(cache, "reorder_cache"):
        cache.reorder_cache(keep)
        return cache
    # Legacy format: a tuple per layer of (keys, values, ...) tensors with the batch first.
    return tuple(tuple(t.index_select(0, keep.to(t.device)) for t in layer) for layer in cache)


def pad_id(tokenizer: Any) -> int:
    """The id to pad batches with: the tokenizer's pad token, else its end-of-sequence token, else 0."""
    for value in (tokenizer.pad_token_id, tokenizer.eos_token_id):
        if value is not None:
            return int(value)
    return 0


def eos_ids(tokenizer: Any, model: Any) -> list[int]:
    """Every id that ends a generation: the tokenizer's and the generation config's EOS, and Gemma's chat
    terminator ``<end_of_turn>`` where the vocabulary has it."""
    config = getattr(model, "generation_config", None)
    found = getattr(config, "eos_token_id", None)
    ids = set(found if isinstance(found, (list, tuple)) else [found]) | {tokenizer.eos_token_id}
    end_of_turn = tokenizer.convert_tokens_to_ids("<end_of_turn>")
    if isinstance(end_of_turn, int) and end_of_turn != tokenizer.unk_token_id:
        ids.add(end_of_turn)
    return sorted(int(i) for i in ids if i is not None)
