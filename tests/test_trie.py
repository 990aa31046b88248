"""The flat KG-Trie against hand-made cases and a naive dict trie; continuation tokenisation."""

from __future__ import annotations

import pickle
import random

import numpy as np
import pytest

from kgpipe.llms.trie import PathTrie, continuation_ids, path_trie, tokenise_paths


def walk(trie: PathTrie, seq: list[int]) -> int:
    node = 0
    for tok in seq:
        node = trie.step(node, tok)
        assert node >= 0, f"{seq} not stored"
    return node


def test_shared_prefixes_prefix_sequences_and_duplicates() -> None:
    seqs = [[5, 7, 9], [5, 7, 2], [5, 8], [5, 7], [5, 8], [3]]
    trie = PathTrie.build(seqs)
    assert len(trie) == 6
    assert trie.children(0).tolist() == [3, 5]
    assert trie.children(walk(trie, [5])).tolist() == [7, 8]
    assert trie.children(walk(trie, [5, 7])).tolist() == [2, 9]  # sorted, whatever the input order
    assert trie.ends(walk(trie, [5, 8])) == (2, 4)  # duplicates: one node, both ids
    assert trie.ends(walk(trie, [5, 7])) == (3,)  # a prefix of others ends on an inner node
    assert trie.is_end(walk(trie, [5, 7])) and trie.branching(walk(trie, [5, 7])) == 2
    assert trie.ends(walk(trie, [5])) == () and not trie.is_end(walk(trie, [5]))
    assert trie.ends(walk(trie, [5, 7, 9])) == (0,) and trie.children(walk(trie, [5, 7, 9])).size == 0
    assert trie.num_nodes == 1 + 6  # root, 3, 5, 5-7, 5-8, 5-7-2, 5-7-9


def test_step_on_a_disallowed_token_is_minus_one() -> None:
    trie = PathTrie.build([[5, 7, 9], [5, 8]])
    assert trie.step(0, 7) == -1
    assert trie.step(0, 4) == -1 and trie.step(0, 6) == -1  # either side of the one child
    node = walk(trie, [5])
    assert [trie.step(node, t) for t in (6, 9, 10**6)] == [-1, -1, -1]
    assert trie.step(walk(trie, [5, 8]), 0) == -1  # a leaf allows nothing


def test_forced_run_stops_at_branches_and_ends() -> None:
    trie = PathTrie.build([[1, 2, 3, 4, 5], [1, 2, 3, 6], [1, 2]])
    assert trie.forced_run(0) == ([1, 2], walk(trie, [1, 2]))  # stops where [1, 2] ends
    run, end = trie.forced_run(walk(trie, [1, 2]))
    assert (run, end) == ([3], walk(trie, [1, 2, 3]))  # stops at the branch 4 / 6
    assert trie.forced_run(walk(trie, [1, 2, 3, 4])) == ([5], walk(trie, [1, 2, 3, 4, 5]))
    assert trie.forced_run(walk(trie, [1, 2, 3, 4, 5])) == ([], walk(trie, [1, 2, 3, 4, 5]))  # a leaf
    assert trie.forced_run(walk(trie, [1, 2, 3])) == ([], walk(trie, [1, 2, 3]))  # a branch


def test_empty_input_and_empty_sequences() -> None:
    empty = PathTrie.build([])
    assert len(empty) == 0 and empty.children(0).size == 0 and empty.ends(0) == () and empty.step(0, 1) == -1
    assert empty.forced_run(0) == ([], 0)
    trie = PathTrie.build([[], [4]])
    assert trie.ends(0) == (0,) and trie.forced_run(0) == ([4], walk(trie, [4]))
    assert trie.ends(walk(trie, [4])) == (1,)


def test_children_is_a_read_only_view_and_the_trie_pickles() -> None:
    trie = PathTrie.build([[1, 2], [1, 3]])
    kids = trie.children(walk(trie, [1]))
    with pytest.raises(ValueError):
        kids[0] = 9
    again = pickle.loads(pickle.dumps(trie))
    assert again.ends(walk(again, [1, 3])) == (1,) and again.nbytes == trie.nbytes


def test_bad_flat_input_is_refused() -> None:
    with pytest.raises(ValueError, match="add up"):
        PathTrie.from_flat(np.array([1, 2, 3]), np.array([2]))
    with pytest.raises(ValueError, match="non-negative"):
        PathTrie.from_flat(np.array([1, -2]), np.array([2]))


def _naive(seqs: list[list[int]]) -> dict:
    root: dict = {}
    for i, seq in enumerate(seqs):
        node = root
        for tok in seq:
            node = node.setdefault(tok, {})
        node.setdefault(None, []).append(i)  # key None: the ids ending here
    return root


@pytest.mark.parametrize("seed", range(6))
def test_matches_a_naive_dict_trie_on_random_sequences(seed: int) -> None:
    rng = random.Random(seed)
    vocab = rng.choice([3, 10, 300000])  # small vocabularies force shared prefixes and duplicates
    seqs = [[rng.randrange(vocab) for _ in range(rng.randint(0, 9))] for _ in range(rng.randint(1, 400))]
    trie, naive = PathTrie.build(seqs), _naive(seqs)
    assert len(trie) == len(seqs)
    nodes, stack = 0, [(0, naive)]
    while stack:
        node, ref = stack.pop()
        nodes += 1
        kids = sorted(k for k in ref if k is not None)
        assert trie.children(node).tolist() == kids
        assert trie.ends(node) == tuple(ref.get(None, ()))
        run, end, r = [], node, ref  # forced run the slow way
        while len([k for k in r if k is not None]) == 1:
            tok = next(k for k in r if k is not None)
            run.append(tok)
            r, end = r[tok], trie.step(end, tok)
            if None in r:
                break
        assert trie.forced_run(node) == (run, end)
        for missing in {rng.randrange(vocab + 2) for _ in range(5)} - set(kids):
            assert trie.step(node, missing) == -1
        stack += [(trie.step(node, k), ref[k]) for k in kids]
    assert nodes == trie.num_nodes  # no node that the naive trie does not have
    assert trie.nbytes < 20 * (sum(map(len, seqs)) + 1) + 16 * len(seqs)  # O(total tokens)


def test_flat_build_scales_to_many_paths() -> None:
    """10^5 sequences of ~16 tokens (a tenth of the benchmark's largest size) build well within a second or two."""
    rng = np.random.default_rng(0)
    lengths = rng.integers(8, 25, 100_000)
    tokens = rng.integers(0, 262_144, int(lengths.sum()))
    tokens[np.concatenate([[0], np.cumsum(lengths)[:-1]])] = rng.integers(0, 500, len(lengths))  # shared heads
    trie = PathTrie.from_flat(tokens, lengths)
    assert len(trie) == 100_000 and trie.num_nodes <= int(lengths.sum()) + 1
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    for i in rng.integers(0, len(lengths), 50):
        assert i in trie.ends(walk(trie, tokens[offsets[i] : offsets[i + 1]].tolist()))


def _metaspace_tokenizer():
    """A small real fast tokenizer (SentencePiece-style word pieces with the leading-space marker)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = ["<unk>", "<pad>", "<s>", "</s>", "▁<PATH>", "▁</PATH>", "▁->", "▁Marie", "▁Curie", "▁Paris", "▁spouse"]
    backend = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    backend.pre_tokenizer, backend.decoder = pre_tokenizers.Metaspace(), decoders.Metaspace()
    return PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>")


def test_texts_are_tokenised_as_they_follow_the_context() -> None:
    tok = _metaspace_tokenizer()
    texts = [" Marie Curie -> spouse -> Paris </PATH>", " Marie Curie </PATH>", " Marie Curie </PATH>"]
    ids = list(continuation_ids(tok, texts))
    for text, got in zip(texts, ids):
        whole = tok("<PATH>" + text, add_special_tokens=False).input_ids
        assert got == whole[1:] and tok.bos_token_id not in got
    flat, lengths = tokenise_paths(tok, texts)
    assert flat.tolist() == sum(ids, []) and lengths.tolist() == [len(x) for x in ids]
    trie = path_trie(tok, texts)
    assert trie.ends(walk(trie, ids[1])) == (1, 2)
