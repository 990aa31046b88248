"""B-cubed and pairwise metrics, the gold loader, and the fusion evaluation on the shipped gold set."""

from __future__ import annotations

import json

import pytest

from kgpipe.errors import DataError
from kgpipe.eval.fusion import b_cubed, evaluate_fusion, load_gold, pairwise

GOLD = "data/fusion_gold.jsonl"


def test_metrics_on_known_clusterings():
    gold = ["a", "a", "a", "b", "b"]
    assert b_cubed(gold, gold) == {"precision": 1.0, "recall": 1.0, "f1": 1.0}
    assert pairwise(gold, gold)["f1"] == 1.0
    # Everything in one cluster: recall 1, B-cubed precision (3*3/5 + 2*2/5) / 5 = 0.52.
    one = [0] * 5
    assert b_cubed(one, gold) == {"precision": 0.52, "recall": 1.0, "f1": round(2 * 0.52 / 1.52, 4)}
    assert pairwise(one, gold)["precision"] == 0.4  # 4 true pairs of 10
    # Singletons: precision 1, B-cubed recall (3 * 1/3 + 2 * 1/2) / 5 = 0.4, no pairs found.
    alone = list(range(5))
    assert b_cubed(alone, gold)["recall"] == 0.4
    assert pairwise(alone, gold) == {"precision": 1.0, "recall": 0.0, "f1": 0.0}


def test_load_gold_reports_bad_lines(tmp_path):
    path = tmp_path / "gold.jsonl"
    path.write_text('{"mention": "IBM", "type": "Company", "cluster": "ibm"}\n# a comment\n\n', encoding="utf-8")
    mentions, labels = load_gold(path)
    assert mentions[0].name == "IBM" and mentions[0].type == "Company" and labels == ["ibm"]
    path.write_text('{"mention": "IBM"}\n', encoding="utf-8")
    with pytest.raises(DataError, match=":1:"):
        load_gold(path)
    with pytest.raises(DataError):
        load_gold(tmp_path / "missing.jsonl")


def test_shipped_gold_set_has_hard_cases_and_fusion_scores_above_target():
    rows = [json.loads(line) for line in open(GOLD, encoding="utf-8")]
    assert len(rows) >= 150 and len({r["cluster"] for r in rows}) >= 50
    report = evaluate_fusion(GOLD)
    assert report["b_cubed"]["f1"] >= 0.9
    assert report["b_cubed"]["precision"] >= 0.95
    assert report["candidate_pairs"] < report["all_pairs"] / 10
    merged = {frozenset(label.split("[")[1].rstrip("]") for label in group) for group in report["errors"]["merged"]}
    for apart in ({"apple_inc", "apple_fruit"}, {"marie_curie", "pierre_curie"}, {"cnn_network", "cnn_model"}):
        assert not any(apart <= group for group in merged)


def test_cli_eval_fusion_prints_json(capsys):
    from kgpipe.cli import main

    assert main(["eval", "fusion", "--gold", GOLD, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["b_cubed"]) == {"precision", "recall", "f1"} and report["mentions"] >= 150
    assert main(["eval", "fusion"]) == 2  # --gold is required
