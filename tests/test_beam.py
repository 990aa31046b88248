"""Trie-constrained beam search: exact scores on small random models of two architectures, faithfulness and
jump-forward with the real Gemma."""

from __future__ import annotations

import types

import pytest
import torch

from kgpipe.qa.beam import Decoded, generate_paths
from kgpipe.llms.trie import continuation_ids, path_trie

WORDS = ["<unk>", "<pad>", "<s>", "</s>", "▁<PATH>", "▁</PATH>", "▁->", "▁Question:", "▁?"] + [
    "▁" + w for w in "Marie Curie Pierre Paris Warsaw Ulm Albert Einstein spouse born in field physics".split()
]
TEXTS = [
    " Marie Curie -> spouse -> Pierre Curie </PATH>",
    " Marie Curie -> born in -> Warsaw </PATH>",
    " Marie Curie -> spouse -> Pierre Curie -> born in -> Paris </PATH>",
    " Albert Einstein -> born in -> Ulm </PATH>",
    " Marie Curie -> field -> physics </PATH>",
    " Marie Curie -> field -> physics </PATH>",  # the same path twice: one result, both ids
]
PROMPT = "Question: Marie Curie spouse born in ? <PATH>"


@pytest.fixture(scope="module")
def tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="<unk>"))
    backend.pre_tokenizer, backend.decoder = pre_tokenizers.Metaspace(), decoders.Metaspace()
    return PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>")


def tiny_llm(kind: str, tokenizer, **extra) -> types.SimpleNamespace:
    """A randomly initialised small causal LM: rotary positions (Llama), learned absolute ones (GPT-2), or
    soft-capped logits and sliding-window layers (Gemma 2)."""
    from transformers import Gemma2Config, Gemma2ForCausalLM, GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    ids = dict(vocab_size=len(WORDS), bos_token_id=2, eos_token_id=3, pad_token_id=1)
    if kind == "llama":
        config = LlamaConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, **ids)
        model = LlamaForCausalLM(config)
    elif kind == "gemma2":  # soft-capped logits: the decoder must keep using the model's own head
        config = Gemma2Config(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                              num_key_value_heads=2, head_dim=8, final_logit_softcapping=5.0, **ids, **extra)  # fmt: skip
        model = Gemma2ForCausalLM(config)
    else:
        model = GPT2LMHeadModel(GPT2Config(n_embd=32, n_layer=2, n_head=4, **ids))
    return types.SimpleNamespace(model=model.eval(), tokenizer=tokenizer, device="cpu")


def reference_logprob(llm, prompt: str, tokens: tuple[int, ...]) -> float:
    """Summed log-probability of ``tokens`` after ``prompt`` from one plain forward pass, no cache."""
    ids = llm.tokenizer(prompt).input_ids
    with torch.no_grad():
        logp = torch.log_softmax(llm.model(torch.tensor([ids + list(tokens)])).logits[0].float(), -1)
    return sum(float(logp[len(ids) - 1 + i, t]) for i, t in enumerate(tokens))


@pytest.mark.parametrize("kind", ["llama", "gpt2", "gemma2"])
@pytest.mark.parametrize("jump", [True, False])
def test_every_stored_path_comes_back_with_its_exact_score(kind: str, jump: bool, tokenizer) -> None:
    """As many beams as paths: beam search keeps every prefix, so each distinct stored path is returned, scored
    exactly as one uncached forward pass scores it (the shared cache's holes and positions are right)."""
    llm = tiny_llm(kind, tokenizer)
    trie = path_trie(tokenizer, TEXTS)
    stored = list(continuation_ids(tokenizer, TEXTS))
    out = generate_paths(llm, PROMPT, trie, beams=6, max_new_tokens=32, jump_forward=jump)
    assert sorted(d.path_ids for d in out) == [(0,), (1,), (2,), (3,), (4, 5)]
    for d in out:
        assert all(list(d.tokens) == stored[i] and d.text == TEXTS[i] for i in d.path_ids)
        assert d.logprob == pytest.approx(reference_logprob(llm, PROMPT, d.tokens), abs=1e-4)
    assert [d.logprob for d in out] == sorted((d.logprob for d in out), reverse=True)


def test_jump_forward_takes_fewer_passes_for_the_same_paths(tokenizer) -> None:
    llm = tiny_llm("llama", tokenizer)
    trie = path_trie(tokenizer, TEXTS)
    passes = [0]
    hook = llm.model.base_model.register_forward_hook(lambda *_: passes.__setitem__(0, passes[0] + 1))  # every pass runs the body
    try:
        results = {}
        for jump in (False, True):
            passes[0] = 0
            out = generate_paths(llm, PROMPT, trie, beams=2, max_new_tokens=32, jump_forward=jump)
            results[jump] = ([d.path_ids for d in out], passes[0])
    finally:
        hook.remove()
    assert results[True][0][0] == results[False][0][0]  # the same best path
    assert results[True][1] < results[False][1] / 2  # names and "</PATH>" are forced runs here


def test_a_sliding_window_shorter_than_the_cache_is_reported(tokenizer, caplog) -> None:
    """Padding holes count against a sliding window: said once, and the paths are still stored ones."""
    llm = tiny_llm("gemma2", tokenizer, sliding_window=6)
    with caplog.at_level("WARNING", logger="kgpipe.qa.beam"):
        out = generate_paths(llm, PROMPT, path_trie(tokenizer, TEXTS), beams=6, max_new_tokens=32)
    assert sum("sliding window" in r.getMessage() for r in caplog.records) == 1
    assert out and all(d.path_ids and d.text == TEXTS[d.path_ids[0]] for d in out)


def test_a_path_that_cannot_finish_is_dropped_never_freed(tokenizer) -> None:
    llm = tiny_llm("llama", tokenizer)
    trie = path_trie(tokenizer, TEXTS)
    shortest = min(len(s) for s in continuation_ids(tokenizer, TEXTS))
    for jump in (True, False):
        assert generate_paths(llm, PROMPT, trie, max_new_tokens=shortest - 1, jump_forward=jump) == []
        out = generate_paths(llm, PROMPT, trie, beams=6, max_new_tokens=shortest, jump_forward=jump)
        assert out and all(len(d.tokens) == shortest and d.path_ids for d in out)
    assert generate_paths(llm, PROMPT, path_trie(tokenizer, []), beams=3) == []


def test_unconstrained_beam_search_stops_at_the_path_end(tokenizer) -> None:
    llm = tiny_llm("gpt2", tokenizer)
    end = WORDS.index("▁</PATH>")
    boost = torch.zeros(len(WORDS))
    boost[end] = 3.0  # make "</PATH>" likely, so some beams stop on it and others run to the budget
    hook = llm.model.lm_head.register_forward_hook(lambda _m, _i, out: out + boost)
    try:
        out = generate_paths(llm, PROMPT, None, beams=3, max_new_tokens=6)
        assert 1 <= len(out) <= 3 and len({d.text for d in out}) == len(out)
        for d in out:
            assert isinstance(d, Decoded) and d.path_ids == () and len(d.tokens) <= 6
            assert d.logprob == pytest.approx(reference_logprob(llm, PROMPT, d.tokens), abs=1e-4)
            if end in d.tokens:
                assert d.tokens[-1] == end and d.text.endswith("</PATH>")
        assert any(end in d.tokens for d in out)
    finally:
        hook.remove()


# -- the real default model ---------------------------------------------------------------------------

KB = [
    ("Marie Curie", "spouse", "Pierre Curie"), ("Marie Curie", "place of birth", "Warsaw"),
    ("Marie Curie", "field", "physics"), ("Marie Curie", "award", "Nobel Prize in Physics"),
    ("Marie Curie", "child", "Irène Joliot-Curie"), ("Pierre Curie", "place of birth", "Paris"),
    ("Pierre Curie", "field", "physics"), ("Irène Joliot-Curie", "spouse", "Frédéric Joliot-Curie"),
    ("Irène Joliot-Curie", "place of birth", "Paris"), ("Warsaw", "country", "Poland"), ("Paris", "country", "France"),
    ("Albert Einstein", "place of birth", "Ulm"), ("Albert Einstein", "spouse", "Mileva Marić"),
    ("Mileva Marić", "place of birth", "Titel"), ("Ulm", "country", "Germany"),
]  # fmt: skip
GEMMA_PROMPT = (
    "Question: Where was the wife of Niels Bohr born?\n"
    "<PATH> Niels Bohr -> spouse -> Margrethe Nørlund -> place of birth -> Slagelse </PATH>\n"
    "Question: Which country is Lyon in?\n<PATH> Lyon -> country -> France </PATH>\n"
    "Question: Where was the husband of Marie Curie born?\n<PATH>"
)


def kb_paths() -> list[str]:
    out: dict[str, list[tuple[str, str]]] = {}
    for head, rel, tail in KB:
        out.setdefault(head, []).append((rel, tail))
    texts = []
    for head, edges in out.items():
        for rel, mid in edges:
            texts.append(f" {head} -> {rel} -> {mid} </PATH>")
            texts += [f" {head} -> {rel} -> {mid} -> {r2} -> {t2} </PATH>" for r2, t2 in out.get(mid, [])]
    return texts


@pytest.mark.slow
def test_gemma_returns_only_stored_paths_with_and_without_jump_forward(gemma) -> None:
    texts = kb_paths()
    assert len(texts) >= 24
    trie = path_trie(gemma.tokenizer, texts)
    runs = {jump: generate_paths(gemma, GEMMA_PROMPT, trie, beams=3, max_new_tokens=24, jump_forward=jump) for jump in (True, False)}
    for out in runs.values():
        assert len(out) == 3 and len({d.text for d in out}) == 3
        for d in out:
            assert d.path_ids and all(texts[i] == d.text for i in d.path_ids)  # faithful: a stored path's text
    assert runs[True][0].text == runs[False][0].text
    best = runs[True][0]
    assert best.logprob == pytest.approx(gemma.logprob([GEMMA_PROMPT], [best.text])[0], abs=1e-2)
    free = generate_paths(gemma, GEMMA_PROMPT, None, beams=3, max_new_tokens=24)
    assert free and free[0].text.strip() and all(d.path_ids == () for d in free)
