"""KG-RAG context: real linking, the real FalkorDB neighbourhood, real MiniLM pruning, token counts, real Gemma."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

from kgpipe.errors import KgpipeError
from kgpipe.qa import context as kgrag
from kgpipe.qa.context import ask_context, count_tokens, prune, retrieve
from kgpipe.stores import cypher

TRIPLES = [
    ("Ada Lovelace", "father", "Lord Byron"),
    ("Ada Lovelace", "mother", "Anne Isabella Milbanke"),
    ("Ada Lovelace", "field", "mathematics"),
    ("Ada Lovelace", "collaborator", "Charles Babbage"),
    ("Ada Lovelace", "favourite colour", "green"),
    ("Ada Lovelace", "owned", "a piano"),
    ("Ada Lovelace", "hobby", "horse riding"),
    ("Ada Lovelace", "pet", "a cat named Puff"),
    ("Ada Lovelace", "diet", "vegetables"),
    ("Ada Lovelace", "place of death", "Marylebone"),
    ("Ada Lovelace", "spouse", "William King"),
    ("Ada Lovelace", "title", "Countess of Lovelace"),
    ("Lord Byron", "place of birth", "London"),
    ("Lord Byron", "occupation", "poet"),
    ("Charles Babbage", "designed", "Analytical Engine"),
    ("Charles Babbage", "place of birth", "Walworth"),
    ("William King", "title", "Earl of Lovelace"),
    ("Paris", "capital of", "France"),
]


@pytest.fixture
def graph(import_kb, settings, store):
    import_kb(TRIPLES, "ada.tsv")
    return settings.replace(llm_cache=False, context_hops=1, context_top_k=3, context_percentile=75.0), store


def lines(facts) -> list[str]:
    return [f.line for f in facts]


@pytest.mark.slow  # MiniLM scores the facts
def test_pruning_keeps_the_relevant_fact_and_drops_unrelated_ones(graph):
    settings, store = graph
    ctx = retrieve("Who was the father of Ada Lovelace?", settings, store)
    assert [e[1] for e in ctx.entities] == ["Ada Lovelace"]
    assert len(ctx.neighbourhood) == 12  # one hop: every fact touching Ada, nothing further out
    assert ctx.kept[0].line == "Ada Lovelace | father | Lord Byron" and len(ctx.kept) == 3
    for unrelated in ("favourite colour", "owned", "diet", "pet", "hobby"):
        assert unrelated not in {f.relation for f in ctx.kept}
    assert [f.score for f in ctx.neighbourhood] == sorted((f.score for f in ctx.neighbourhood), reverse=True)


@pytest.mark.slow  # MiniLM scores the facts
def test_two_hops_keep_the_whole_chain(graph):
    settings, store = graph
    ctx = retrieve("Where was the father of Ada Lovelace born?", settings.replace(context_hops=2), store)
    assert "Paris | capital of | France" not in lines(ctx.neighbourhood)  # not connected to Ada
    assert {"Lord Byron | place of birth | London", "Charles Babbage | place of birth | Walworth"} <= set(lines(ctx.neighbourhood))
    kept = lines(ctx.kept)
    assert "Ada Lovelace | father | Lord Byron" in kept and "Lord Byron | place of birth | London" in kept
    assert kept.index("Ada Lovelace | father | Lord Byron") < kept.index("Lord Byron | place of birth | London")


@pytest.mark.slow  # MiniLM scores the facts
def test_predicted_links_never_enter_the_context(graph):
    settings, store = graph
    ids = {r[1]: r[0] for r in store.execute("MATCH (e:Entity) RETURN e.id, e.name").rows}
    row = {"h": ids["Ada Lovelace"], "t": ids["Paris"], "relation": "place of birth", "score": 9.0, "model": "x", "run_id": "r"}
    store.execute(*cypher.upsert_predicted_links([row]), write=True)
    ctx = retrieve("Where was Ada Lovelace born?", settings.replace(context_hops=2), store)
    assert all("Paris" not in (f.head, f.tail) for f in ctx.neighbourhood)


@pytest.mark.slow  # MiniLM scores the facts
def test_answer_carries_provenance_and_token_counts(graph, fixed_reply):
    settings, store = graph
    llm = fixed_reply(" Lord Byron.\nQuestion: more")
    answer = ask_context("Who was the father of Ada Lovelace?", settings, store=store, llm=llm)
    assert answer.answer == "Lord Byron" and answer.grounded
    prompt = llm.prompts[0]
    assert prompt.endswith("Ada Lovelace | father | Lord Byron\nQuestion: Who was the father of Ada Lovelace?\nAnswer:")
    assert prompt.split("Facts:")[-1].count(" | ") == 2 * len(answer.facts) == 6  # only the kept facts
    assert all(f.documents == ("ada.tsv",) and len(f.doc_ids) == 1 for f in answer.facts)
    # no tokenizer on this backend: whitespace words, the documented fallback
    full_text = "\n".join(f"{h} | {r} | {t}" for h, r, t in TRIPLES if "Ada Lovelace" in (h, t))
    assert answer.token_counter == "whitespace" and answer.tokens_full == len(full_text.split())
    assert answer.tokens_pruned == len("\n".join(lines(answer.facts)).split()) < answer.tokens_full
    data = answer.to_dict()
    assert data["facts"][0]["documents"] == ["ada.tsv"] and 0 < data["tokens_saved"] < 1
    assert "Lord Byron" in str(answer) and "[ada.tsv]" in str(answer)
    ungrounded = ask_context("Who was the father of Ada Lovelace?", settings, store=store, llm=fixed_reply("Napoleon"))
    assert not ungrounded.grounded and "not an entity of the context" in str(ungrounded)


@pytest.mark.slow  # MiniLM scores the facts
def test_unknown_entity_is_a_clear_error(graph, fixed_reply):
    settings, store = graph
    with pytest.raises(KgpipeError, match="no entity"):
        ask_context("Who painted the Zzyzx Qwerty?", settings, store=store, llm=fixed_reply("x"))


def test_prune_and_count_units():
    assert doctest.testmod(kgrag).failed == 0
    scores = np.linspace(0, 1, 40)
    assert prune(scores, top_k=10, percentile=75) == list(range(39, 29, -1))  # top-k caps what the percentile keeps
    assert len(prune(scores, top_k=10, percentile=99)) == kgrag.MIN_KEEP  # the floor
    assert count_tokens("a | b | c\nd | e | f") == (10, "whitespace")


@pytest.mark.slow
def test_gemma_answers_from_the_pruned_context(graph, gemma):
    settings, store = graph
    answer = ask_context("Who was the father of Ada Lovelace?", settings, store=store, llm=gemma)
    assert answer.token_counter.startswith("tokenizer:")
    full = "\n".join(f"{h} | {r} | {t}" for h, r, t in TRIPLES if "Ada Lovelace" in (h, t))
    assert answer.tokens_full == len(gemma.tokenizer(full, add_special_tokens=False)["input_ids"])
    assert answer.tokens_pruned < answer.tokens_full / 2
    assert answer.answer == "Lord Byron" and answer.grounded, str(answer)
