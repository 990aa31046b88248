"""Grounded extraction: the triple grammar (names from the chunk, relations from the schema, no repeats, types
against domain and range), the grammar decoder against plain greedy decoding on a small random model, and
grounded extraction with the real Gemma."""

from __future__ import annotations

import types

import numpy as np
import pytest
import torch

from kgpipe.ingest.grounded import (
    TripleGrammar,
    extract_grounded,
    names_of,
    rerank_relations,
    sentence_names,
    typed_grammar,
)
from kgpipe.llms.decode import greedy
from kgpipe.llms.grammar import GrammarDecoder
from kgpipe.llms.trie import continuation_ids
from kgpipe.ontology import load_ontology
from kgpipe.records import Chunk

WORDS = ["<unk>", "<pad>", "<s>", "</s>", "\n", "▁|", "END"] + [
    p + w for w in "x Text: Triples: Marie Curie Pierre Paris Warsaw 1867 born in won located Nobel Prize physicist is a was".split()
    for p in ("", "▁")
]


@pytest.fixture(scope="module")
def tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Split("\n", "isolated"), pre_tokenizers.Metaspace(prepend_scheme="first")])
    backend.decoder = decoders.Metaspace()
    return PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>")


def walk(grammar, choose) -> object:
    """Drive a grammar to its end, ``choose(allowed, step)`` picking each token (a stand-in for a model)."""
    state, step = grammar.start(), 0
    while not grammar.done(state):
        allowed = grammar.allowed(state)
        if len(allowed) == 0:
            break
        state = grammar.advance(state, int(choose(allowed, step)))
        step += 1
        assert step < 500, "the grammar never ended"
    return state


NAMES = ["Marie Curie", "Marie", "Warsaw", "Paris", "1867"]
RELATIONS = ["born in", "won", "located in"]


@pytest.mark.parametrize("seed", range(20))
def test_every_line_is_names_and_relations_of_the_chunk(tokenizer, seed: int) -> None:
    rng = np.random.default_rng(seed)
    grammar = TripleGrammar(tokenizer, NAMES, RELATIONS, max_triples=5)
    triples = grammar.triples(walk(grammar, lambda allowed, _, rng=rng: rng.choice(allowed)))
    for head, relation, tail in triples:
        assert head in NAMES and tail in NAMES and relation in RELATIONS
        assert head != tail
    assert len(triples) == len(set(triples)) <= 5
    assert len({(h, t) for h, _, t in triples}) == len(triples)  # one relation per pair of names


def test_no_line_twice_even_when_the_model_would_repeat_itself(tokenizer) -> None:
    """A model that always takes the smallest allowed token would write one line forever (the SciERC loops):
    the grammar lets each line through once, so it writes different lines and stops at the bound."""
    grammar = TripleGrammar(tokenizer, NAMES, RELATIONS, max_triples=4)
    end = tokenizer.convert_tokens_to_ids("END")
    state = walk(grammar, lambda allowed, _: min(t for t in allowed.tolist() if t != end))
    triples = grammar.triples(state)
    assert len(triples) == 4 and len(set(triples)) == 4 and grammar.done(state)


def test_end_stops_and_a_prefix_name_is_its_own_choice(tokenizer) -> None:
    end = tokenizer.convert_tokens_to_ids("END")
    grammar = TripleGrammar(tokenizer, NAMES, RELATIONS, max_triples=5)
    assert end in grammar.allowed(grammar.start()).tolist()
    state = grammar.advance(grammar.start(), end)
    assert grammar.done(state) and grammar.triples(state) == []
    # "Marie" is a name and the start of "Marie Curie": after "Marie" both the separator and "Curie" may follow.
    after_marie = grammar.advance(grammar.start(), tokenizer.convert_tokens_to_ids("Marie"))
    assert set(grammar.allowed(after_marie).tolist()) == {tokenizer.convert_tokens_to_ids("▁Curie"), tokenizer.convert_tokens_to_ids("▁|")}


def test_a_head_with_no_names_or_a_zero_bound_writes_nothing(tokenizer) -> None:
    assert TripleGrammar(tokenizer, [], RELATIONS, max_triples=5).done(TripleGrammar(tokenizer, [], RELATIONS, max_triples=5).start())
    grammar = TripleGrammar(tokenizer, NAMES, RELATIONS, max_triples=0)
    assert grammar.done(grammar.start())


def test_types_keep_relations_to_their_domain_and_range(tokenizer) -> None:
    general = load_ontology("general")
    names = {"Marie Curie": "Person", "Warsaw": "Place", "1867": "Date", "Nobel Prize": "", "physicist": "Concept"}
    grammar = typed_grammar(tokenizer, names, general, max_triples=50)
    label = {r: i for i, r in enumerate(grammar.relations)}
    texts = list(names)
    # "born in" (Person -> Place): only Warsaw, which the tagger typed as a place.
    assert [texts[t] for t in range(len(texts)) if t not in grammar.no_tails[label["born in"]]] == ["Warsaw"]
    # "won" (-> Award, which no tagger names): an untyped name fits, a date or a person does not.
    won_tails = {texts[t] for t in range(len(texts)) if t not in grammar.no_tails[label["won"]]}
    assert "Nobel Prize" in won_tails and not won_tails & {"1867", "Marie Curie", "Warsaw"}
    # A place is born nowhere; a person may be.
    assert label["born in"] in grammar.no_relations[texts.index("Warsaw")]
    assert label["born in"] not in grammar.no_relations[texts.index("Marie Curie")]
    for seed in range(10):
        rng = np.random.default_rng(seed)
        for head, relation, tail in grammar.triples(walk(grammar, lambda allowed, _, rng=rng: rng.choice(allowed))):
            assert general.allows(names[head] or "Thing", relation, names[tail] or "Thing") is not False, (head, relation, tail)


def test_free_relations_are_words_closed_by_the_separator(tokenizer) -> None:
    grammar = TripleGrammar(tokenizer, NAMES, None, max_triples=2)
    state = walk_tokens(grammar, tokenizer, "Marie Curie | was born in | Warsaw\n")
    assert grammar.triples(state) == [("Marie Curie", "was born in", "Warsaw")]
    opened = walk_tokens(grammar, tokenizer, "Paris |")
    allowed = set(grammar.allowed(opened).tolist())
    separator, newline = tokenizer.convert_tokens_to_ids("▁|"), tokenizer.convert_tokens_to_ids("\n")
    assert separator not in allowed and newline not in allowed and tokenizer.convert_tokens_to_ids("▁won") in allowed
    words = walk_tokens(grammar, tokenizer, "Paris | won won won won won won")  # the bound on a free relation's words
    assert grammar.allowed(words).tolist() == [separator]


def walk_tokens(grammar, tokenizer, text: str):
    state = grammar.start()
    for token in next(iter(continuation_ids(tokenizer, [text], context="\n"))):
        assert token in grammar.allowed(state).tolist(), tokenizer.convert_ids_to_tokens([token])
        state = grammar.advance(state, token)
    return state


class Everything:
    """A grammar that allows every token for ``n`` steps: decoding under it must be plain greedy decoding."""

    def __init__(self, vocab: int, n: int) -> None:
        self.vocab, self.n = np.arange(vocab), n

    def start(self) -> int:
        return 0

    def allowed(self, state: int) -> np.ndarray:
        return self.vocab

    def advance(self, state: int, token: int) -> int:
        return state + 1

    def done(self, state: int) -> bool:
        return state >= self.n


def tiny_gemma3(tokenizer) -> types.SimpleNamespace:
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    torch.manual_seed(0)
    config = Gemma3TextConfig(vocab_size=len(WORDS), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                              num_attention_heads=4, num_key_value_heads=2, head_dim=8, bos_token_id=2, eos_token_id=3,
                              pad_token_id=1, sliding_window=8)  # fmt: skip
    return types.SimpleNamespace(model=Gemma3ForCausalLM(config).eval(), tokenizer=tokenizer, device="cpu")


@pytest.mark.parametrize("prefix", ["", "Text: Marie Curie"])
def test_grammar_decoding_with_every_token_allowed_is_greedy_decoding(tokenizer, prefix: str) -> None:
    """Allowed-only scoring, the KV cache and the shared-prefix cache change nothing: the output is exactly
    plain greedy decoding's (and the sliding window, 8 slots, is passed)."""
    llm = tiny_gemma3(tokenizer)
    prompt = "Text: Marie Curie was born in Warsaw . Triples: Marie Curie"
    ids = torch.tensor([tokenizer(prompt).input_ids])
    expected = greedy(llm.model, ids, torch.ones_like(ids), max_new_tokens=12)[0]
    decoded = GrammarDecoder(llm, prefix=prefix).decode(prompt, Everything(len(WORDS), 12), max_new_tokens=12)
    assert decoded.tokens == expected
    assert decoded.passes == 12 and decoded.forced == 0


def test_forced_tokens_are_fed_without_passes(tokenizer) -> None:
    llm = tiny_gemma3(tokenizer)
    grammar = TripleGrammar(tokenizer, ["Marie Curie", "Warsaw"], ["born in"], max_triples=1)
    decoded = GrammarDecoder(llm).decode("Text: Marie Curie was born in Warsaw . Triples:\n", grammar, max_new_tokens=40)
    # One head to choose among two names and END, then everything is forced: relation, tail, newline.
    assert decoded.passes <= 2 and decoded.forced >= 4
    assert grammar.triples(decoded.state) in ([], [("Marie Curie", "born in", "Warsaw")], [("Warsaw", "born in", "Marie Curie")])


# -- the real model ---------------------------------------------------------------------------------------


def test_grounded_extraction_with_gemma_names_only_spans(gemma) -> None:
    from kgpipe.references import resolve_chunks

    text = ("Marie Curie was a physicist and chemist. She was born in Warsaw in 1867 and won the Nobel Prize in "
            "Physics in 1903 with Pierre Curie.")  # fmt: skip
    [chunk] = resolve_chunks([Chunk("c1", "d1", 0, text, 0, len(text))])  # "She" read as "Marie Curie", as a build does
    names = names_of(chunk)
    result = extract_grounded([chunk], gemma, ontology=load_ontology("general"), max_triples=3)
    assert result.triples, "the model wrote no triple"
    labels = {r.label for r in load_ontology("general").relations}
    by_sentence = dict(sentence_names(chunk))
    for t in result.triples:
        assert t.head in names and t.tail in names and t.head in chunk.text and t.tail in chunk.text
        assert t.relation in labels
        assert any(t.head in s and t.tail in s for s in by_sentence)  # both names from one sentence
    pairs = {(t.head, t.relation, t.tail) for t in result.triples}
    assert len(pairs) == len(result.triples)
    assert ("Marie Curie", "born in", "Warsaw") in pairs  # the one fact a reader cannot miss


def test_relations_are_rechosen_after_every_sentence_is_decoded(gemma) -> None:
    """MiniLM is first asked once all sentences are decoded (on Ray it is still loading in the embedding actor
    while the model decodes), and the lines are what re-choosing each sentence at once gives."""
    from kgpipe.ingest.grounded import GroundedStats
    from kgpipe.llms.embed import Embedder

    general = load_ontology("general")
    texts = ["Apple is headquartered in Cupertino. Tim Cook works for Apple.", "Marie Curie was born in Warsaw."]
    chunks = [Chunk(f"c{i}", f"d{i}", 0, t, 0, len(t)) for i, t in enumerate(texts)]
    stats, embedder = GroundedStats(), Embedder()
    decoded_before: list[int] = []

    def encode(batch: list[str]) -> np.ndarray:
        decoded_before.append(stats.sentences)
        return embedder.encode(batch)

    result = extract_grounded(chunks, gemma, ontology=general, max_triples=3, stats=stats, encode=encode)
    assert stats.sentences == 3 and decoded_before and decoded_before[0] == 3
    plain = extract_grounded(chunks, gemma, ontology=general, max_triples=3)
    lines = {c.id: [] for c in chunks}
    for t in plain.triples:
        lines[t.provenance.chunk_id].append((t.head, t.relation, t.tail))
    expected = []
    for c in chunks:
        for sentence, names in sentence_names(c):
            mine = [line for line in lines[c.id] if line[0] in sentence and line[2] in sentence]
            expected += [(c.id, x) for x in rerank_relations(sentence, names, mine, general, Embedder().encode)]
    got = [(t.provenance.chunk_id, (t.head, t.relation, t.tail)) for t in result.triples]
    assert got and set(got) == set(expected)


# -- sentences and the relation re-choice ------------------------------------------------------------------


def test_each_sentence_offers_its_own_names_with_the_chunk_kinds() -> None:
    text = "Marie Curie was born in Warsaw. It rained. Warsaw is the capital of Poland."
    chunk = Chunk("c1", "d1", 0, text, 0, len(text))
    units = sentence_names(chunk)
    assert [s for s, _ in units] == ["Marie Curie was born in Warsaw.", "Warsaw is the capital of Poland."]
    first, second = (names for _, names in units)
    assert set(first) == {"Marie Curie", "Warsaw"} and "Poland" in second and "Marie Curie" not in second
    kinds = names_of(chunk)
    assert all(kind == kinds[name] for _, names in units for name, kind in names.items())


def test_sentences_without_a_parser_split_at_stops_and_lines() -> None:
    from kgpipe.ingest.spans import sentence_bounds

    class Blank:  # a pipeline without a parser
        pipe_names: list[str] = []

    text = "First one. Second!\nThird line\n\n"
    assert [text[a:b] for a, b in sentence_bounds(text, Blank())] == ["First one.", "Second!", "Third line"]


@pytest.mark.slow
def test_the_words_between_two_names_rechoose_the_relation() -> None:
    from kgpipe.llms.embed import Embedder

    general = load_ontology("general")
    encode = Embedder().encode
    sentence = "Apple is headquartered in Cupertino."
    names = {"Apple": "Organization", "Cupertino": "Place"}
    assert rerank_relations(sentence, names, [("Apple", "located in", "Cupertino")], general, encode) == [
        ("Apple", "headquartered in", "Cupertino")]
    died = "Marie Curie died on 4 July 1934 in Passy."
    names = {"Marie Curie": "Person", "4 July 1934": "Date", "Passy": "Place"}
    lines = [("Marie Curie", "date of birth", "4 July 1934"), ("Marie Curie", "born in", "Passy")]
    # "died on" re-chooses the date's relation; another name between Marie Curie and Passy: the model's choice stays
    assert rerank_relations(died, names, lines, general, encode) == [
        ("Marie Curie", "date of death", "4 July 1934"), ("Marie Curie", "born in", "Passy")]
    adjacent = "Physicist Pierre Curie"  # no words between the names: nothing to read
    assert rerank_relations(adjacent, {"Physicist": "Concept", "Pierre Curie": "Person"},
                            [("Pierre Curie", "field of work", "Physicist")], general, encode) == [
        ("Pierre Curie", "field of work", "Physicist")]  # fmt: skip


def test_an_amount_is_a_number_whatever_its_noun_but_a_year_before_a_noun_is_not() -> None:
    text = "The station has 320 MW of power. She caught 621 games. Raging Fighter is a 1993 fighting video game."
    kinds = names_of(Chunk("c1", "d1", 0, text, 0, len(text)))
    assert kinds["320 MW"] == kinds["621 games"] == "_number"
    assert kinds["1993 fighting video game"] == "Concept"
