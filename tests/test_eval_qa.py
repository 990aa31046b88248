"""``kgpipe eval qa``: question parsing, the fresh KB graph, and a real run on PathQuestion PQ-2H lines."""

from __future__ import annotations

import shutil

import pytest

from conftest import PATHQUESTION as PQ
from conftest import needs_pathquestion as needs_pq
from kgpipe.cli import main
from kgpipe.errors import DataError
from kgpipe.eval.qa import evaluate_qa, f1, load_kb, parse_answers, read_questions


def test_answers_and_question_lines(tmp_path):
    assert parse_answers("united_kingdom(united_kingdom/)") == ("united_kingdom",)
    assert parse_answers("a(a/b/c)") == ("a", "b", "c")
    assert parse_answers("paris/lyon") == ("paris", "lyon")
    path = tmp_path / "q.tsv"
    path.write_text("# comment\nwho ?\tbob(bob/robert/)\tx#r#bob#<end>#bob\n\nwhere ?\tparis\n", encoding="utf-8")
    items = read_questions(path)
    assert [(i.line, i.question, i.answers) for i in items] == [(2, "who ?", ("bob", "robert")), (4, "where ?", ("paris",))]
    assert items[0].gold_path == "x#r#bob#<end>#bob" and items[1].gold_path == ""
    assert [i.line for i in read_questions(path, limit=1, start=1)] == [4]
    path.write_text("no answer column\n", encoding="utf-8")
    with pytest.raises(DataError, match="line 1"):
        read_questions(path)


def test_answer_f1_compares_names_loosely():
    assert f1(["United Kingdom"], ["united_kingdom"]) == 1.0
    assert f1(["a", "b"], ["a"]) == pytest.approx(2 / 3)
    assert f1([], ["a"]) == 0.0 and f1(["x"], ["a"]) == 0.0


def test_kb_goes_into_a_fresh_graph_of_its_own(settings, tmp_path):
    first, second = tmp_path / "one.tsv", tmp_path / "two.tsv"
    first.write_text("a\tr\tb\n", encoding="utf-8")
    second.write_text("c\tr\td\n", encoding="utf-8")
    store, eval_settings = load_kb(first, settings)
    assert eval_settings.graph == f"{settings.graph}_eval_qa" and eval_settings.graph != settings.graph
    store, _ = load_kb(second, settings)
    names = sorted(r[0] for r in store.execute("MATCH (e:Entity) RETURN e.name").rows)
    assert names == ["c", "d"]  # the first KB was cleared
    store.execute("MATCH (n) DETACH DELETE n", write=True)


@pytest.mark.slow
@needs_pq
def test_eval_qa_on_pq2h_is_faithful_with_the_trie(settings, gemma, tmp_path):
    questions = tmp_path / "pq.tsv"
    questions.write_text("".join((PQ / "PQ-2H.txt").read_text(encoding="utf-8").splitlines(True)[:5]), encoding="utf-8")
    report = evaluate_qa(PQ / "2H-kb.txt", questions, settings=settings, llm=gemma)
    assert report["n"] == 5 and report["unlinked"] == 0 and report["lines"] == "1-5"
    assert report["faithfulness"] == 1.0 and report["paths_returned"] >= 5
    assert 0.0 <= report["hits@1"] <= 1.0 and report["seconds_per_question"] > 0
    free = evaluate_qa(PQ / "2H-kb.txt", questions, limit=1, unconstrained=True, settings=settings, llm=gemma)
    assert free["mode"] == "unconstrained" and free["paths_returned"] >= 1
    assert free["faithfulness"] + free["hallucination_rate"] == pytest.approx(1.0)


@needs_pq
def test_cli_eval_qa_reports_bad_input_without_traceback(settings, capsys, tmp_path):
    shutil.copy(PQ / "2H-kb.txt", tmp_path / "kb.tsv")
    code = main(["--state-dir", settings.state_dir, "--graph", settings.graph, "eval", "qa", "--kb", str(tmp_path / "kb.tsv")])
    assert code == 2 and "--questions" in capsys.readouterr().err
    empty = tmp_path / "empty.tsv"
    empty.write_text("", encoding="utf-8")
    code = main(["--state-dir", settings.state_dir, "--graph", settings.graph, "eval", "qa", "--kb",
                 str(tmp_path / "kb.tsv"), "--questions", str(empty), "--json"])  # fmt: skip
    assert code == 2 and "no questions" in capsys.readouterr().err
