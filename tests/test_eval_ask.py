"""``kgpipe eval ask``: the questions file, the report's arithmetic, and a real build-and-ask run on a small folder."""

from __future__ import annotations

import json
import uuid

import pytest

from kgpipe.cli import main
from kgpipe.errors import DataError
from kgpipe.eval.ask import _report, read_ask_questions


def test_question_lines_with_and_without_answers(tmp_path):
    path = tmp_path / "q.tsv"
    path.write_text("# question\tanswers\nWho founded Apple?\tSteve Jobs| Ronald Wayne \n\nWho founded IBM?\t\n"
                    "Where is Armonk?\n", encoding="utf-8")  # fmt: skip
    items = read_ask_questions(path)
    assert [(i.line, i.question, i.answers) for i in items] == [
        (2, "Who founded Apple?", ("Steve Jobs", "Ronald Wayne")), (4, "Who founded IBM?", ()),
        (5, "Where is Armonk?", ())]  # fmt: skip
    path.write_text("\tParis\n", encoding="utf-8")
    with pytest.raises(DataError, match="line 1"):
        read_ask_questions(path)
    path.write_text("# nothing\n", encoding="utf-8")
    with pytest.raises(DataError, match="no questions"):
        read_ask_questions(path)


def test_the_report_counts_an_answer_to_an_unanswerable_question_as_wrong():
    def row(gold, outcome, source="graph"):
        return {"gold": gold, "outcome": outcome, "source": source if outcome != "abstained" else "", "seconds": 1.0}

    rows = [row(["a"], "right"), row(["b"], "right"), row(["c"], "wrong"), row(["d"], "abstained"),
            row([], "abstained"), row([], "wrong")]  # fmt: skip
    report = _report("docs", "q.tsv", rows, {"graph": {"facts": 3}})
    assert report["answerable"] == {"n": 4, "right": 2, "wrong": 1, "abstained": 1}
    assert report["unanswerable"] == {"n": 2, "abstained": 1, "answered": 1}
    assert report["answered_precision"] == 0.5  # 2 right of 4 answered (one answered an unanswerable question)
    assert report["right_share_of_answerable"] == 0.5 and report["unanswerable_abstained"] == 0.5
    assert report["answers_from"] == {"graph": 4, "text": 0} and report["seconds_per_question"] == 1.0


@pytest.mark.slow
def test_eval_ask_builds_the_folder_and_scores_each_question(tmp_path, state_dir, capsys):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "jobs.txt").write_text("Steve Jobs was an American businessman. Steve Jobs was born in San Francisco.\n",
                                   encoding="utf-8")  # fmt: skip
    questions = tmp_path / "q.tsv"
    questions.write_text("Where was Steve Jobs born?\tSan Francisco\nWhat is the capital of Zorblax?\t\n", encoding="utf-8")
    flags = ["--state-dir", str(state_dir), "--graph", f"test_{uuid.uuid4().hex[:8]}", "--no-progress"]
    assert main([*flags, "eval", "ask", "--docs", str(docs), "--questions", str(questions), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    first, second = report["per_question"]
    assert first["outcome"] == "right" and first["answer"] == "San Francisco" and first["source"] == "graph"
    assert "born in" in first["path"]
    assert second["outcome"] == "abstained"  # names nothing the graph has
    assert report["graph"]["documents"] == 1 and report["answerable"]["right"] == 1
    assert report["unanswerable_abstained"] == 1.0
    assert main([*flags, "eval", "ask", "--docs", str(docs)]) == 2  # no questions: a clear error
    assert "needs --docs FOLDER and --questions" in capsys.readouterr().err
