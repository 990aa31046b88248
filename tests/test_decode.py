"""Greedy decoding that drops finished rows (kgpipe.llms.decode) gives what one-at-a-time ``model.generate``
gives: small random models of three architectures (Gemma 3 with sliding-window layers among them), and the
real Gemma."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import pytest
import torch

from kgpipe.config import Settings
from kgpipe.llms.contract import cut_at_stop
from kgpipe.llms.decode import greedy
from kgpipe.llms.transformers import TransformersLLM, _StopStrings

WORDS = ["<unk>", "<pad>", "<s>", "</s>"] + ["▁" + w for w in "a b c d e f g h i j k l m n o p q r s t".split()]
PROMPTS = ["a", "b c d e f g h i j k", "c d", "t s r q p o n", "e f g h i j k l m n o p q r s", "g h i"]


def reference(llm: Any, prompt: str, max_new_tokens: int, stop: Sequence[str] = (), eos: Sequence[int] = ()) -> str:
    """What kgpipe returned before: plain HF greedy ``generate`` on this one prompt, stop strings as a
    stopping criterion, the text cut at the first stop string."""
    from transformers import GenerationConfig, StoppingCriteriaList

    ids = torch.tensor([llm._encode(prompt, max_new_tokens)], device=llm.device)
    config = GenerationConfig(max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=llm._pad_id,
                              eos_token_id=list(eos) or llm._eos_ids, bos_token_id=llm.tokenizer.bos_token_id)  # fmt: skip
    criteria = StoppingCriteriaList([_StopStrings(llm.tokenizer, stop, ids.shape[1])] if stop else [])
    with torch.inference_mode():
        out = llm.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), generation_config=config,
                                 stopping_criteria=criteria)  # fmt: skip
    return cut_at_stop(llm.tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True), stop)


def tiny_llm(kind: str, folder: Path) -> TransformersLLM:
    """A randomly initialised small causal LM saved to ``folder`` and loaded like any local ``hf:`` model."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    backend = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="<unk>"))
    backend.pre_tokenizer, backend.decoder = pre_tokenizers.Metaspace(), decoders.Metaspace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>")
    torch.manual_seed(0)
    ids = dict(vocab_size=len(WORDS), bos_token_id=2, eos_token_id=3, pad_token_id=1)
    if kind == "llama":
        model = LlamaForCausalLM(LlamaConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, **ids))
    elif kind == "gemma3":  # a sliding window shorter than most prompts, next to a global layer
        from transformers import Gemma3ForCausalLM, Gemma3TextConfig

        config = Gemma3TextConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                                  head_dim=8, sliding_window=4, layer_types=["sliding_attention", "full_attention"], **ids)  # fmt: skip
        model = Gemma3ForCausalLM(config)
    else:
        model = GPT2LMHeadModel(GPT2Config(n_embd=32, n_layer=2, n_head=4, **ids))
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return TransformersLLM(f"hf:{folder}", Settings(batch_size=len(PROMPTS), progress=False))


def batch_sizes(llm: TransformersLLM) -> tuple[list[int], Any]:
    """Rows of every forward pass, recorded by a hook (remove the returned handle afterwards)."""
    seen: list[int] = []
    handle = llm.model.register_forward_pre_hook(lambda m, a, k: seen.append(int(k["input_ids"].shape[0])), with_kwargs=True)
    return seen, handle


@pytest.mark.parametrize("kind", ["llama", "gpt2", "gemma3"])
def test_dropping_finished_rows_gives_one_at_a_time_generate_output(kind: str, tmp_path: Path) -> None:
    llm = tiny_llm(kind, tmp_path)
    free = [reference(llm, p, 12) for p in PROMPTS]
    # A stop word that ends some rows early and leaves others running to the budget.
    words = sorted({w for text in free for w in text.split()})
    stop = next(w for w in words if 0 < sum(f" {w}" in f" {t}" for t in free) < len(free) and any(f" {w}" in f" {t.split(maxsplit=2)[-1]}" for t in free))
    expected = [reference(llm, p, 12, stop=[stop]) for p in PROMPTS]
    assert 0 < sum(e != f for e, f in zip(expected, free)) < len(PROMPTS)  # some rows stop early, some do not
    seen, handle = batch_sizes(llm)
    try:
        got = llm.generate(PROMPTS, max_new_tokens=12, stop=[stop])
    finally:
        handle.remove()
    assert got == expected
    assert llm.generate(PROMPTS, max_new_tokens=12) == free
    assert seen[0] == len(PROMPTS) and seen[-1] < len(PROMPTS) and seen == sorted(seen, reverse=True)  # rows left the batch


def test_rows_that_meet_eos_leave_the_batch(tmp_path: Path) -> None:
    llm = tiny_llm("gemma3", tmp_path)
    free = [llm.tokenizer(reference(llm, p, 10), add_special_tokens=False).input_ids for p in PROMPTS]
    eos = free[0][3]  # the first prompt's fourth token: it ends after at most four, others may run on
    expected = [reference(llm, p, 10, eos=[eos]) for p in PROMPTS]
    input_ids, mask = llm._pad_left([llm._encode(p, 10) for p in PROMPTS])
    seen, handle = batch_sizes(llm)
    try:
        rows = greedy(llm.model, input_ids, mask, max_new_tokens=10, eos_ids=[eos])
    finally:
        handle.remove()
    assert [llm.tokenizer.decode(r, skip_special_tokens=True) for r in rows] == expected
    assert all(r[-1] == eos or len(r) == 10 for r in rows) and min(len(r) for r in rows) <= 4
    assert len(seen) == max(len(r) for r in rows) and seen[-1] < len(PROMPTS)  # no pass once every row is done


def test_greedy_with_no_budget_or_no_rows_makes_no_pass(tmp_path: Path) -> None:
    llm = tiny_llm("llama", tmp_path)
    input_ids, mask = llm._pad_left([llm._encode("a b", 4)])
    assert greedy(llm.model, input_ids, mask, max_new_tokens=0) == [[]]
    assert llm.generate(["a b"], max_new_tokens=1) == [reference(llm, "a b", 1)]


GEMMA_PROMPTS = [
    "Water boils at",
    "The capital of France is",
    "A list of fruits: apple, banana,",
    "Marie Curie was a physicist who discovered polonium and radium together with her husband. She was born in",
    "Q: What is the largest planet in the solar system?\nA:",
    "Albert Einstein developed the theory of relativity, one of the two pillars of modern physics. He",
]


@pytest.mark.slow
def test_gemma_dropping_rows_matches_one_at_a_time_generate(gemma: Any) -> None:
    stop = [".", "\n"]
    expected = [reference(gemma, p, 32, stop=stop) for p in GEMMA_PROMPTS]
    seen, handle = batch_sizes(gemma)
    try:
        got = gemma.generate(GEMMA_PROMPTS, max_new_tokens=32, stop=stop)
    finally:
        handle.remove()
    assert got == expected
    assert len({len(t) for t in got}) > 1 and seen[-1] < min(len(GEMMA_PROMPTS), gemma.settings.batch_size)
