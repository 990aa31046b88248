"""eval graph: a stored graph (the real FalkorDB) scored against gold facts by names or aliases."""

from __future__ import annotations

import pytest

from kgpipe.errors import DataError
from kgpipe.eval.graph_gold import evaluate_graph, load_gold

GOLD = "# head\trelation\ttail\tsource\nMarie Curie\tborn in\tWarsaw\tx.txt\nMarie Curie\twon\tNobel Prize in Physics\tx.txt\nWarsaw\tcapital of\tPoland\tx.txt\n"


def test_pairs_and_triples_against_gold(tmp_path, store, import_kb) -> None:
    gold = tmp_path / "gold.tsv"
    gold.write_text(GOLD, encoding="utf-8")
    import_kb([("Marie Curie", "born in", "Warsaw"), ("Marie Curie", "spouse of", "Pierre Curie"),
               ("Warsaw", "located in", "Poland"), ("Warsaw", "capital of", "Poland")])  # fmt: skip
    report = evaluate_graph(store, gold)
    # pairs: (Marie Curie, Warsaw) and (Warsaw, Poland) right of 3 stored pairs; 2 of 3 gold pairs found
    assert report["pairs"]["right"] == 2 and report["pairs"]["predicted"] == 3 and report["pairs"]["found"] == 2
    assert report["pairs"]["precision"] == pytest.approx(2 / 3, abs=1e-4) and report["pairs"]["recall"] == pytest.approx(2 / 3, abs=1e-4)
    # triples: born in and capital of right of 4; "located in" is a second statement between Warsaw and Poland
    assert report["triples"]["right"] == 2 and report["triples"]["predicted"] == 4
    assert report["pairs_with_several_facts"] == 1 and report["relation_types"] == 4
    assert report["longest_relation_words"] == 2


def test_a_gold_file_without_facts_or_with_a_bad_line_is_an_error(tmp_path) -> None:
    empty = tmp_path / "empty.tsv"
    empty.write_text("# nothing\n", encoding="utf-8")
    with pytest.raises(DataError, match="no gold facts"):
        load_gold(empty)
    bad = tmp_path / "bad.tsv"
    bad.write_text("Marie Curie born in Warsaw\n", encoding="utf-8")
    with pytest.raises(DataError, match="bad.tsv:1"):
        load_gold(bad)
