"""The tolerant parser on replies shaped like what small models really emit."""

from kgpipe.parse import parse_triples


def _tuples(reply: str) -> list[tuple[str, str, str]]:
    return [(t.head, t.relation, t.tail) for t in parse_triples(reply).triples]


def test_pipe_format_with_bullets_and_stop():
    reply = "1. Marie Curie | born in | Warsaw\n- Warsaw | capital of | Poland.\nEND\nText: more\nA | b | c"
    assert _tuples(reply) == [("Marie Curie", "born in", "Warsaw"), ("Warsaw", "capital of", "Poland")]


def test_repeats_dropped_and_echoed_example_ignored():
    reply = "IBM | acquired | Red Hat\nIBM | acquired | Red Hat\nibm | ACQUIRED | red hat\n\nText: The Louvre..."
    assert _tuples(reply) == [("IBM", "acquired", "Red Hat")]


def test_tuples_json_lists_and_objects():
    reply = (
        '("Pierre Curie", "born in", "Paris")\n'
        '[["Paris", "capital of", "France"]]\n'
        '{"subject": "Apple Inc.", "predicate": "founded by", "object": "Steve Jobs"}\n'
        "(Red Hat, acquired by, IBM)"
    )
    assert _tuples(reply) == [
        ("Pierre Curie", "born in", "Paris"),
        ("Paris", "capital of", "France"),
        ("Apple Inc.", "founded by", "Steve Jobs"),
        ("Red Hat", "acquired by", "IBM"),
    ]


def test_truncated_json_keeps_complete_objects():
    reply = '[{"head": "IBM", "relation": "headquartered in", "tail": "Armonk"}, {"head": "IBM", "rel'
    assert _tuples(reply) == [("IBM", "headquartered in", "Armonk")]


def test_types_in_brackets():
    (t,) = parse_triples("Marie Curie [Person] | born in | Warsaw [City]").triples
    assert (t.head, t.head_type, t.tail, t.tail_type) == ("Marie Curie", "Person", "Warsaw", "City")


def test_invalid_parts_dropped():
    reply = "A | r | a\n | r | x\nx | | y\n" + "long" * 40 + " | r | y\nok | r | fine"
    assert _tuples(reply) == [("ok", "r", "fine")]


def test_prose_only_reply_is_a_failure_but_empty_is_not():
    prose = parse_triples("I am sorry, the text does not contain facts.")
    assert prose.failed and not prose.triples and prose.reason
    assert not parse_triples("").failed
    assert not parse_triples("END").failed


def test_hostile_text_is_kept_literally():
    reply = "a`b | x}) DETACH DELETE n // | c'd\"e"
    assert _tuples(reply) == [("a`b", "x}) DETACH DELETE n //", "c'd\"e")]


def test_unresolved_pronouns_dropped_and_head_name_stripped_from_relation():
    reply = ("He died | died | 5 October 2011\nJobs | married | she\nIt | is | a company\n"
             "Apple | Apple Inc. founded in | 1976\nThe Beatles | the original members | Lennon\n"
             "Italy | Italian cuisine | pasta\nHeidi | lives in | Alps")  # fmt: skip
    assert _tuples(reply) == [
        ("Apple", "founded in", "1976"),
        ("The Beatles", "the original members", "Lennon"),  # lower-case "the": not the head's name
        ("Italy", "Italian cuisine", "pasta"),  # "Italian" is not "Italy"
        ("Heidi", "lives in", "Alps"),  # "He" only as a whole word
    ]
