"""``kgpipe ask --learn`` (kgpipe.learning) and asking when the question names no entity of the graph."""

from __future__ import annotations

import json
import uuid

import pytest

from kgpipe.cli import main
from kgpipe.learning import Learned, asked_relation, learn, relation_label, subject
from kgpipe.qa.answer import Answer
from kgpipe.qa.link import Link
from kgpipe.qa.reading import text_names
from kgpipe.qa.text import TextAnswer

DOC = ("Marie Curie was a physicist and chemist. She was born in Warsaw in 1867. In 1895 she married Pierre Curie. "
       "Her teacher Gabriel Lippmann was born in Luxembourg.\n")  # fmt: skip


@pytest.mark.parametrize("question, mention, expected", [
    ("Where was Marie Curie born?", "Marie Curie", "born in"),           # the entity is the subject: its words follow it
    ("When did Steve Jobs die?", "Steve Jobs", "die in"),
    ("Who was Marie Curie married to?", "Marie Curie", "married to"),
    ("What did Marie Curie discover?", "Marie Curie", "discover"),
    ("How many employees does IBM have?", "IBM", "have employees"),
    ("Who founded Apple?", "Apple", "founded by"),                      # the entity is the object: passive
    ("Which company acquired Red Hat?", "Red Hat", "acquired by"),       # the answer's kind is no relation
    ("Who is the CEO of Apple?", "Apple", "CEO"),                        # an attribute of the entity
    ("Who is Apple?", "Apple", ""),                                      # no relation asked
])  # fmt: skip
def test_the_relation_a_question_asks_about_its_entity(question, mention, expected):
    assert asked_relation(question, mention) == expected


def test_the_fact_is_about_the_linked_entity_its_chunk_names():
    links = [Link("a", "Apple", 0.9, "exact", "Apple"), Link("b", "Steve Jobs", 0.8, "exact", "Jobs")]
    assert subject(links, "Steve Jobs founded it in 1976.").id == "b"
    assert subject(links, "It was founded in 1976.").id == "a"  # none named: the best link


def test_the_names_of_a_question_that_links_nothing():
    from kgpipe.text import trained_pipeline

    nlp = trained_pipeline(exclude=["lemmatizer", "textcat"], needs=["parser", "ner"])
    if nlp is None:
        pytest.skip("no trained spaCy pipeline")
    assert "Gabriel Lippmann" in text_names(nlp("Where was Gabriel Lippmann born?"))
    assert not text_names(nlp("When was it built?"))


def test_a_sentence_answers_an_unanchored_question_only_in_its_words():
    """Measured on data/heldout: "When was the Prius discontinued?" was read as 1997 from "In 1997 the company
    introduced the Prius" (MiniLM similarity 0.43, as high as right answers' 0.43-0.50)."""
    from kgpipe.qa.question import content_stems, content_verbs, says
    from kgpipe.text import parsing_pipeline

    nlp = parsing_pipeline()
    if nlp is None:
        pytest.skip("no trained spaCy pipeline")
    asked = nlp("When was the Prius discontinued?")
    stems = content_stems(asked, text_names(asked))
    assert [w.stem for w in stems] == ["discontin"]
    assert not says(nlp("In 1997 the company introduced the Prius, a hybrid car."), stems)
    assert says(nlp("Toyota discontinued the Prius in 2030."), stems)
    died = content_stems(nlp("When did Ada Lovelace die?"), {"Ada Lovelace"})
    assert says(nlp("She died on 27 November 1852."), died)
    # an irregular past says its verb by its lemma; the word that asks for a name need not be said
    grew = content_stems(nlp("Where did Ramanujan grow up?"), {"Ramanujan"})
    assert says(nlp("He was born in Erode and grew up in Kumbakonam."), grew)
    assert not says(nlp("He was born in Erode."), grew)
    # a root "did" hangs on is the verb, whatever the tagger says
    assert [w.lemma for w in content_verbs(nlp("Where did Isaac Newton study?"), {"Isaac Newton"})] == ["study"]
    named = content_stems(nlp("What was the name of Shackleton's ship?"), {"Shackleton"})
    assert [w.stem for w in named] == ["ship"]


@pytest.mark.slow
def test_a_learned_relation_takes_the_ontology_label_or_the_graph_s_own_wording(settings, store):
    """With the general ontology "married to" is its ``spouse of``; without one, a wording joins the graph's
    relation nearest in meaning (MiniLM), or stays its normal form when none is near."""
    from kgpipe.ingest.relations import Canonicaliser
    from kgpipe.ontology import load_ontology

    assert relation_label("married to", store, Canonicaliser(load_ontology("general"))) == "spouse of"
    store.execute("CREATE (:Entity {id: 'a', name: 'A'})-[:DIED_IN {label: 'died in'}]->(:Entity {id: 'b', name: 'B'})",
                  write=True)  # fmt: skip
    assert relation_label("die in", store, Canonicaliser()) == "died in"  # MiniLM cosine 0.81
    assert relation_label("discover", store, Canonicaliser()) == "discover"


def _answer(source: str = "text", abstained: bool = False, links: tuple[Link, ...] = ()) -> Answer:
    read = TextAnswer("Warsaw", "She was born in Warsaw.", "c", "d", "doc.txt", 3, 9, 0.5) if source == "text" else None
    return Answer("Where was Marie Curie born?", "" if abstained else "Warsaw", (), (), links, abstained=abstained,
                  source=source, read=read)  # fmt: skip


@pytest.mark.parametrize("answer, reason", [
    (_answer(abstained=True), "nothing to learn: neither the graph nor its documents answer it"),
    (_answer(source="graph"), "nothing to learn: the graph already answers it"),
    (_answer(), "not learned: the question names no entity of the graph"),
])  # fmt: skip
def test_only_an_answer_read_from_the_text_about_a_linked_entity_is_learned(settings, store, gemma, answer, reason):
    learned = learn(answer.question, settings, store=store, llm=gemma, answer=answer)
    assert not learned.written and learned.reason.startswith(reason)
    assert learned.to_dict()["learned"] == {"written": False, "reason": learned.reason}
    assert store.execute("MATCH ()-[r]->() RETURN count(r)").rows[0][0] == 0


@pytest.fixture(scope="module")
def curie_graph(tmp_path_factory, state_dir):
    """A one-document graph built on the defaults (grounded extraction, general ontology), from which the fact
    "Marie Curie was born in Warsaw" is then removed: a graph that missed a fact its text states."""
    import kgpipe
    from kgpipe.config import Settings
    from kgpipe.stores import open_store

    folder = tmp_path_factory.mktemp("curie")
    (folder / "curie.txt").write_text(DOC, encoding="utf-8")
    settings = Settings(state_dir=str(state_dir), graph=f"test_learn_{uuid.uuid4().hex[:8]}", progress=False)
    kgpipe.build(str(folder), settings)
    store = open_store(settings, None)
    store.execute("MATCH (e:Entity)-[r]-(w:Entity) WHERE e.name = 'Marie Curie' AND w.name = 'Warsaw' DELETE r", write=True)
    store.execute("MATCH (e:Entity) WHERE e.name CONTAINS 'Lippmann' DETACH DELETE e", write=True)
    return settings, folder


def _relationships(store) -> int:
    return store.execute("MATCH ()-[r]->() RETURN count(r)").rows[0][0]


@pytest.mark.slow
def test_an_answer_read_from_the_text_is_learned_once_then_answered_from_the_graph(curie_graph, gemma, capsys):
    import kgpipe
    from kgpipe.stores import open_store

    settings, _ = curie_graph
    store = open_store(settings, None)
    question = "Where was Marie Curie born?"
    before = _relationships(store)
    answer = kgpipe.ask(question, settings, llm=gemma)
    assert (answer.answer, answer.source) == ("Warsaw", "text"), answer.to_dict()
    assert _relationships(store) == before  # ask alone writes nothing

    learned = kgpipe.learn(question, settings, llm=gemma)
    assert isinstance(learned, Learned) and learned.written, learned.reason
    assert (learned.head, learned.relation, learned.tail) == ("Marie Curie", "born in", "Warsaw")
    facts = store.execute(
        "MATCH (h:Entity)-[r]->(t:Entity) WHERE r.extractor STARTS WITH 'learned:' "
        "RETURN h.name, r.label, t.name, r.learned, r.span, r.chunk_ids, r.doc_ids, r.confidence"
    ).rows
    assert len(facts) == 1 and _relationships(store) == before + 1
    head, label, tail, asked, span, chunk_ids, doc_ids, confidence = facts[0]
    assert (head, label, tail, asked) == ("Marie Curie", "born in", "Warsaw", question)
    assert DOC[span[0] : span[1]] == "Warsaw" and confidence >= settings.judge_threshold
    chunk = store.execute("MATCH (c:Chunk)-[:FROM_DOCUMENT]->(d:Document) WHERE c.id = $c RETURN d.id, c.text",
                          {"c": chunk_ids[0]}).rows  # fmt: skip
    assert chunk[0][0] == doc_ids[0] and "born in Warsaw" in chunk[0][1]

    again = kgpipe.ask(question, settings, llm=gemma)  # now from the graph, through the learned fact
    assert (again.answer, again.source, again.abstained) == ("Warsaw", "graph", False), again.to_dict()
    assert again.paths[0].path.text().endswith("born in -> Warsaw")
    relearned = learn(question, settings, llm=gemma)
    assert not relearned.written and _relationships(store) == before + 1  # asking twice writes nothing new

    flags = ["--state-dir", settings.state_dir, "--graph", settings.graph, "--no-progress"]
    assert main([*flags, "ask", question, "--learn", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["answer"] == "Warsaw" and out["learned"]["written"] is False and "graph already" in out["learned"]["reason"]


@pytest.mark.slow
def test_a_question_naming_no_entity_of_the_graph_is_read_from_the_nearest_chunks(curie_graph, gemma):
    import kgpipe
    from kgpipe.errors import NoEntityLinked
    from kgpipe.qa.link import EntityLinker

    settings, _ = curie_graph
    nobody = EntityLinker([])  # as on a graph whose entities the question names none of
    answer = kgpipe.ask("Where was Gabriel Lippmann born?", settings, llm=gemma, linker=nobody)
    assert (answer.answer, answer.source, answer.links) == ("Luxembourg", "text", ()), answer.to_dict()
    assert answer.read is not None and DOC[answer.read.start : answer.read.end] == "Luxembourg"
    assert "read from the text" in str(answer) and "no entity of the graph" in str(answer)
    learned = learn(answer.question, settings, llm=gemma, answer=answer)
    assert not learned.written and "names no entity" in learned.reason
    with pytest.raises(NoEntityLinked, match="nor does any passage"):  # the documents do not say: abstain
        kgpipe.ask("What is the airspeed velocity of an unladen swallow?", settings, llm=gemma, linker=nobody)
