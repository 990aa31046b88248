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
    assert report["b_cubed"]["f1"] >= 0.95  # issue 12's target (0.952 measured)
    assert report["b_cubed"]["precision"] >= 0.98
    assert report["candidate_pairs"] < report["all_pairs"] / 10
    merged = {frozenset(label.split("[")[1].rstrip("]") for label in group["names"]) for group in report["errors"]["merged"]}
    for apart in ({"apple_inc", "apple_fruit"}, {"marie_curie", "pierre_curie"}, {"cnn_network", "cnn_model"}):
        assert not any(apart <= group for group in merged)


def test_cli_eval_fusion_prints_json(capsys):
    from kgpipe.cli import main

    assert main(["eval", "fusion", "--gold", GOLD, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["b_cubed"]) == {"precision", "recall", "f1"} and report["mentions"] >= 150
    assert main(["eval", "fusion"]) == 2  # --gold is required


def test_cli_eval_fusion_reads_an_alias_file(capsys, tmp_path, monkeypatch):
    from kgpipe.cli import main

    monkeypatch.setenv("KGPIPE_PLACE_ALIASES", "")  # the file alone: the packaged gazetteers join these exonyms too
    monkeypatch.setenv("KGPIPE_NAME_ALIASES", "")  # and so does WordNet
    aliases = tmp_path / "aliases.tsv"
    aliases.write_text("Beijing\tPeking\nMumbai\tBombay\n", encoding="utf-8")
    assert main(["eval", "fusion", "--gold", GOLD, "--json"]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert main(["eval", "fusion", "--gold", GOLD, "--json", "--aliases", str(aliases)]) == 0
    aliased = json.loads(capsys.readouterr().out)
    assert aliased["predicted_clusters"] == plain["predicted_clusters"] - 2
    assert aliased["b_cubed"]["recall"] > plain["b_cubed"]["recall"] and aliased["b_cubed"]["precision"] == 1.0


TEXT_GOLD = "data/fusion_gold_text.jsonl"


def test_second_gold_set_of_running_text_is_held_out_and_scored():
    """The second set (mentions in paragraphs of news, science, biographies) was written before the rules of issue 12
    and not tuned on; this holds its measured figures (P 0.991, F1 0.907) against regressions."""
    with open(TEXT_GOLD, encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines if not line.startswith("#")]
    assert len(rows) >= 150 and all(r.get("context") for r in rows)
    report = evaluate_fusion(TEXT_GOLD)
    assert report["b_cubed"]["precision"] >= 0.98 and report["b_cubed"]["f1"] >= 0.9


def test_errors_say_which_rule_joined_or_failed_to_join(tmp_path):
    path = tmp_path / "gold.jsonl"
    lines = [
        {"mention": "Michael Jordan", "type": "Person", "cluster": "mj"},
        {"mention": "Michael Jeffrey Jordan", "type": "Person", "cluster": "mj2"},  # wrongly labelled apart: a merge
        {"mention": "Beijing", "type": "City", "cluster": "bj"},
        {"mention": "Peking", "type": "City", "cluster": "bj"},  # no rule joins them: a split
        {"mention": "Bach", "type": "Person", "cluster": "js", "context": "J. S. Bach and C. P. E. Bach played; Bach led."},
        {"mention": "J. S. Bach", "type": "Person", "cluster": "js", "context": "J. S. Bach and C. P. E. Bach played; Bach led."},
        {"mention": "C. P. E. Bach", "type": "Person", "cluster": "cpe", "context": "J. S. Bach and C. P. E. Bach played; Bach led."},
    ]
    path.write_text("\n".join(json.dumps(x) for x in lines), encoding="utf-8")
    report = evaluate_fusion(path, ner=False, places="", lexicon="")  # the packaged gazetteers and WordNet off: they join Peking
    (merged,) = report["errors"]["merged"]
    assert merged["why"][0]["rule"] == "person name" and merged["why"][0]["compared"]
    why = {tuple(s["names"]): s["why"][0] for s in report["errors"]["split"]}
    assert why[("Beijing", "Peking")]["rule"] == "no evidence" and why[("Beijing", "Peking")]["score"] == 0.0
    bach = why[("Bach", "J. S. Bach")]
    assert bach["rule"] == "short form" and bach["ambiguous"] == "Bach"
    assert [a["mention"] for a in report["ambiguous"]] == ["Bach"]
    # A curated alias joins the split pair.
    aliased = evaluate_fusion(path, ner=False, aliases=[("Beijing", "Peking")], places="", lexicon="")
    assert not any("Peking" in " ".join(s["names"]) for s in aliased["errors"]["split"])


UNSEEN_GOLD = "data/fusion_gold_unseen.jsonl"


def test_fifth_gold_set_of_renames_and_namesakes_is_scored():
    """The fifth set (renamed places, exonyms, official names, namesakes; issue 12's third round) was committed before
    kgpipe ran on it (untuned: P 0.967, F1 0.768); this holds the figures measured with the packaged gazetteers
    (P 0.973, F1 0.857) against regressions, and that they come from the packaged aliases (gazetteers, WordNet)."""
    with open(UNSEEN_GOLD, encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines if not line.startswith("#")]
    assert 150 <= len(rows) <= 250 and all(r.get("context") for r in rows)
    report = evaluate_fusion(UNSEEN_GOLD)
    assert report["b_cubed"]["precision"] >= 0.97 and report["b_cubed"]["f1"] >= 0.85
    plain = evaluate_fusion(UNSEEN_GOLD, places="", lexicon="")
    assert plain["b_cubed"]["f1"] < report["b_cubed"]["f1"] - 0.05


HELDOUT6_GOLD = "data/fusion_gold_heldout6.jsonl"


def test_sixth_gold_set_of_hard_aliases_and_namesakes_is_scored():
    """The sixth set (pen, regnal and former names, transliterations, namesakes; issue 12's fourth round) was committed
    before kgpipe ran on it (untuned: P 0.985, F1 0.866); this holds the figures measured with WordNet's name aliases and
    the names the text introduces (P 0.985, F1 0.905) against regressions, and that those two give the gain."""
    with open(HELDOUT6_GOLD, encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines if not line.startswith("#")]
    assert len(rows) >= 150 and all(r.get("context") for r in rows)
    report = evaluate_fusion(HELDOUT6_GOLD)
    assert report["b_cubed"]["precision"] >= 0.98 and report["b_cubed"]["f1"] >= 0.9
    plain = evaluate_fusion(HELDOUT6_GOLD, lexicon="")
    assert plain["b_cubed"]["f1"] < report["b_cubed"]["f1"] - 0.01


HELDOUT7_GOLD = "data/fusion_gold_heldout7.jsonl"


def test_seventh_gold_set_of_renamed_things_short_forms_and_namesakes_is_scored():
    """The seventh set (renamed companies and places, short forms, stage and birth names, namesakes; issue 12's fifth
    round) was committed before kgpipe ran on it (untuned: P 0.980, F1 0.918); this holds the figures measured after the
    round's short forms and text cues, which were written after reading its errors (P 0.976, F1 0.954)."""
    with open(HELDOUT7_GOLD, encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines if not line.startswith("#")]
    assert len(rows) >= 200 and all(r.get("context") for r in rows)
    report = evaluate_fusion(HELDOUT7_GOLD)
    assert report["b_cubed"]["precision"] >= 0.97 and report["b_cubed"]["f1"] >= 0.94
