"""Pronouns and "the company"-style references resolved to named entities, on spaCy's real trained pipeline."""

from __future__ import annotations

import pytest

from kgpipe.ingest.candidates import extract_and_judge
from kgpipe.ingest.chunk import chunk
from kgpipe.references import references, resolve_chunks
from kgpipe.ingest.spans import span_pipeline
from kgpipe.records import Document, stable_id
from kgpipe.trust.calibrate import default_calibration

pytestmark = pytest.mark.skipif(span_pipeline() is None, reason="no trained spaCy pipeline installed")


def resolved(text: str) -> list[tuple[str, str]]:
    """(reference as written, its replacement) for each resolved reference of ``text``."""
    return [(r.text, r.replacement) for r in references(text)]


def document(text: str) -> Document:
    return Document(stable_id(text), "t.txt", "t", text, stable_id(text))


def test_he_and_she_resolve_to_the_person_of_their_sentence_before() -> None:
    assert resolved("Pierre Curie was a French physicist. He was born in Paris.") == [("He", "Pierre Curie")]
    assert resolved("Jane Austen was an English novelist. She was born in Steventon.") == [("She", "Jane Austen")]


def test_it_and_its_resolve_to_an_organisation_with_a_possessive() -> None:
    found = resolved("IBM is an American technology company. It was founded in 1911. Its headquarters are in Armonk.")
    assert found == [("It", "IBM"), ("Its", "IBM's")]


def test_they_resolves_to_an_organisation_or_a_coordinated_subject() -> None:
    assert resolved("Microsoft is an American company. They released Windows in 1985.") == [("They", "Microsoft")]
    found = resolved("Pierre Curie and Marie Curie worked in Paris. They discovered polonium.")
    assert found == [("They", "Pierre Curie and Marie Curie")]


def test_the_company_and_the_city_resolve_to_an_entity_of_their_kind() -> None:
    found = resolved("Microsoft was founded by Bill Gates. The company is based in Redmond.")
    assert found == [("The company", "Microsoft")]
    found = resolved("Armonk is a hamlet in New York. The city has a large park.")
    assert found and found[0] == ("The city", "Armonk")
    # a description with its own modifiers says something new: left alone
    found = resolved("Microsoft was founded by Bill Gates. The first company he founded failed.")
    assert found == [("he", "Bill Gates")]


def test_possessive_his_and_an_object_pronoun() -> None:
    found = resolved("Pierre Curie studied crystals. With his brother Jacques Curie, he discovered piezoelectricity.")
    assert found == [("his", "Pierre Curie's"), ("he", "Pierre Curie")]
    found = resolved("Pierre Curie died in 1906 in Paris. A carriage struck him in a Paris street.")
    assert found == [("him", "Pierre Curie")]
    found = resolved("Pierre Curie was a physicist. He married Marie Sklodowska in 1895. He met her in Paris.")
    assert found[-1] == ("her", "Marie Sklodowska")  # an object "her" is no possessive, and not its clause's subject


def test_no_antecedent_leaves_the_pronoun_alone() -> None:
    assert resolved("He was born in Paris. He studied physics.") == []
    assert resolved("It is likely that the rain will stop.") == []


def test_an_incompatible_antecedent_is_never_chosen() -> None:
    assert resolved("IBM was founded in 1911. She was born in Paris.") == []  # she is not an organisation
    assert resolved("Pierre Curie was a physicist. It was founded in 1911.") == []  # nor is it a person


def test_a_gender_the_text_told_excludes_a_person() -> None:
    # "He" told that Pierre Curie is a man, so "She" is the woman he married, not the sentence's subject
    text = "Pierre Curie was a physicist. He was born in Paris. Pierre Curie married Marie Sklodowska. She was Polish."
    assert resolved(text)[-1] == ("She", "Marie Sklodowska")


def test_a_common_noun_that_outscores_the_entities_blocks_it() -> None:
    # "It" may be the Watson system as well as IBM: left alone
    assert resolved("IBM developed the Watson computer system in 2010. It won a quiz show.") == []


def test_an_indefinite_or_plural_phrase_is_no_name_for_it() -> None:
    # "a Forest Research Centre" introduces a thing (no name to put in place); "matchups" are not an "it"
    assert resolved("Facilities at Jallo Park include a Forest Research Centre and a lake. It is funded by Punjab.") == []
    assert resolved("In 2001 both National League Division Series matchups went to a Game 5. It happened again.") == []


def test_an_antecedent_in_the_previous_chunk_and_ids_and_offsets_unchanged() -> None:
    doc = document("Pierre Curie was a French physicist. He was born on 15 May 1859 in Paris. "
                   "He studied magnetism and crystals.")  # fmt: skip
    chunks = list(chunk(doc, max_tokens=10, overlap=0))
    assert len(chunks) == 3 and chunks[1].text.startswith("He was born")
    out = resolve_chunks(chunks, [doc])
    assert [(c.id, c.doc_id, c.index, c.start, c.end) for c in out] == [
        (c.id, c.doc_id, c.index, c.start, c.end) for c in chunks
    ]
    assert [c.text for c in out] == [chunks[0].text, "Pierre Curie was born on 15 May 1859 in Paris.",
                                     "Pierre Curie studied magnetism and crystals."]  # fmt: skip
    # the same without the documents: the text is pieced together from the chunks
    assert [c.text for c in resolve_chunks(chunks)] == [c.text for c in out]


def test_extraction_and_judge_read_the_resolved_chunk(fixed_reply, settings) -> None:
    doc = document("Pierre Curie was a French physicist. He was born in Paris.")
    chunks = list(chunk(doc, max_tokens=8, overlap=0))
    assert [c.text for c in chunks] == ["Pierre Curie was a French physicist.", "He was born in Paris."]

    def reply(prompt: str, max_new_tokens: int, stop: tuple[str, ...]) -> str:
        return "Pierre Curie | born in | Paris\nEND" if "born in Paris." in prompt.rsplit("Text:", 1)[-1] else "END"

    cal = default_calibration("scripted", scores=False)  # grounding only: the names must be in the chunk read
    on = extract_and_judge(chunks, fixed_reply(reply), settings, calibration=cal)
    assert [(t.head, t.tail, t.provenance.chunk_id) for t in on.kept] == [("Pierre Curie", "Paris", chunks[1].id)]
    llm = fixed_reply(reply)
    off = extract_and_judge(chunks, llm, settings.replace(resolve_references=False), calibration=cal)
    assert any("He was born in Paris." in p for p in llm.prompts)
    assert off.proposed == 1 and off.kept == []  # judged against "He was born in Paris.": not grounded


@pytest.mark.slow
def test_gemma_extracts_the_fact_a_pronoun_stated_in_the_next_chunk(gemma, settings) -> None:
    doc = document("Pierre Curie was a physicist. He was born in Paris.")
    chunks = list(chunk(doc, max_tokens=8, overlap=0))  # the second chunk alone: "He was born in Paris."

    def born(found) -> list[tuple[str, str]]:
        return [(t.head, t.tail) for t in found.kept if t.provenance.chunk_id == chunks[1].id and "Paris" in t.tail]

    assert born(extract_and_judge(chunks, gemma, settings.replace(resolve_references=False), calibration=None)) == []
    assert ("Pierre Curie", "Paris") in born(extract_and_judge(chunks, gemma, settings, calibration=None))
