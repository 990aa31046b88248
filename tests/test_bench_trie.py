"""``kgpipe bench trie``: its synthetic paths, size figures and report, and a short real decoding run."""

from __future__ import annotations

import importlib.util

import pytest

from kgpipe.bench.trie import _size_run, bench_decoding, format_report, synthetic_paths


def test_synthetic_paths_are_reproducible_path_texts() -> None:
    paths = synthetic_paths(2000, seed=3)
    assert paths == synthetic_paths(2000, seed=3) and paths != synthetic_paths(2000, seed=4)
    assert all(p.startswith(" ") and p.endswith(" </PATH>") and p.count(" -> ") in (2, 4) for p in paths)
    heads = [p.split(" -> ")[0] for p in paths]
    assert len(set(heads)) < len(heads) / 2  # skewed heads: paths share prefixes, as around hubs


def test_size_run_reports_build_memory_and_lookups_with_baselines() -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE(unk_token="<unk>"))  # a real fast tokenizer, trained here in a moment
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.train_from_iterator(synthetic_paths(3000, seed=9), trainers.BpeTrainer(vocab_size=400, special_tokens=["<unk>"]))
    tok = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="<unk>")
    row = _size_run(tok, 5000, 0)
    assert row["paths"] == 5000 and row["nodes"] <= row["tokens"] + 1
    assert row["trie_mib"] * 10 < row["dict_trie"]["mib"]  # far smaller than GCR's nested dicts
    assert row["step_ns"] > 0 and row["children_ns"] > 0
    marisa = row["marisa_trie"]
    if importlib.util.find_spec("marisa_trie") is not None:  # the bench extra is installed: GCR's trie is measured
        assert marisa["step_ns"] > 0 and marisa["build_seconds"] >= 0
    else:
        assert marisa == {"skipped": 'marisa-trie is not installed (pip install -e ".[bench]")'}
    text = format_report({"model": "m", "torch_threads": 1, "load_average": 0.0, "sizes": [row]})
    assert "5000" in text and "step ns" in text


@pytest.mark.slow
def test_decoding_bench_on_the_real_model(gemma) -> None:
    result = bench_decoding(gemma, prompts=1, beams=2, max_new_tokens=24, others=300)
    assert result["prompts"] == 1
    assert result["constrained_runs_all_faithful"] == "4/4"  # own trie and large trie, with and without jumps
    assert result["same_best_path_with_and_without_jump"] == "2/2"
    for mode in ("constrained", "jump_forward", "constrained_large_trie", "jump_forward_large_trie"):
        assert result[mode]["tokens"] > 0
    assert result["jump_forward"]["forward_passes"] < result["constrained"]["forward_passes"]
    assert "ratio_jump_forward" in result
