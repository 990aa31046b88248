"""The command line: a thin layer, checked through main() and as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kgpipe.cli import main


def _run(capsys, settings, *args):
    code = main(["--state-dir", settings.state_dir, "--graph", settings.graph, "--no-progress", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def imported(tmp_path, settings, capsys):
    tsv = tmp_path / "t.tsv"
    tsv.write_text("Marie Curie\tborn in\tWarsaw\nWarsaw\tcapital of\tPoland\n", encoding="utf-8")
    code, out, _ = _run(capsys, settings, "import", str(tsv), "--json")
    assert code == 0 and json.loads(out)["triples"] == 2
    yield tsv
    main(["--state-dir", settings.state_dir, "--graph", settings.graph, "query", "--write", "MATCH (n) DETACH DELETE n"])


def test_query_stats_export_delete(capsys, settings, imported):
    code, out, _ = _run(capsys, settings, "query", "--json", "MATCH (h:Entity)-[r]->(t:Entity) RETURN h.name, r.label, t.name ORDER BY h.name")
    assert code == 0
    assert json.loads(out)["records"] == [
        {"h.name": "Marie Curie", "r.label": "born in", "t.name": "Warsaw"},
        {"h.name": "Warsaw", "r.label": "capital of", "t.name": "Poland"},
    ]
    code, out, _ = _run(capsys, settings, "query", "MATCH (e:Entity) RETURN e.name ORDER BY e.name")
    assert "Marie Curie" in out and "(3 rows)" in out
    code, out, _ = _run(capsys, settings, "query", "--params", '{"n": "Warsaw"}', "--json", "MATCH (e:Entity {name: $n}) RETURN e.name")
    assert json.loads(out)["records"] == [{"e.name": "Warsaw"}]
    code, out, _ = _run(capsys, settings, "stats", "--json")
    assert json.loads(out)["facts"] == 2
    code, out, _ = _run(capsys, settings, "export", "--format", "tsv")
    assert out.splitlines() == ["Marie Curie\tborn in\tWarsaw", "Warsaw\tcapital of\tPoland"]
    code, out, _ = _run(capsys, settings, "delete", str(imported), "--json")
    assert code == 0 and json.loads(out)["facts"] == 2
    code, out, _ = _run(capsys, settings, "stats", "--json")
    assert json.loads(out)["entities"] == 0


def test_write_queries_refused_with_clear_error(capsys, settings, imported):
    for bad in ("MATCH (n) DETACH DELETE n", "CALL db.idx.fulltext.createNodeIndex('Entity', 'name')"):
        code, out, err = _run(capsys, settings, "query", bad)
        assert code == 2 and "kgpipe: error:" in err and "--write" in err
    code, out, _ = _run(capsys, settings, "stats", "--json")
    assert json.loads(out)["facts"] == 2


def test_errors_are_messages_not_tracebacks(capsys, settings, tmp_path):
    code, _, err = _run(capsys, settings, "build", str(tmp_path / "missing"))
    assert code == 2 and "no such file" in err and "Traceback" not in err
    code, _, err = _run(capsys, settings, "import", str(tmp_path / "missing.tsv"))
    assert code == 2 and "cannot read" in err


@pytest.mark.slow
def test_demo_subprocess(settings):
    env = dict(os.environ, KGPIPE_STATE_DIR=settings.state_dir, KGPIPE_GRAPH=settings.graph, KGPIPE_PROGRESS="0")
    proc = subprocess.run([sys.executable, "-m", "kgpipe.cli", "demo", "--json"], env=env, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["build"]["graph"]["facts"] > 0 and report["facts"]
    assert all({"head", "relation", "tail"} <= set(row) for row in report["facts"])


@pytest.mark.slow
def test_build_report_lists_skipped_files(capsys, settings, tmp_path):
    messy = Path(__file__).parent / "data" / "messy"
    report_file = tmp_path / "report.json"
    code, out, err = _run(capsys, settings, "build", str(messy), "--report", str(report_file), "--json")
    assert code == 0, err
    summary = json.loads(out)
    report = json.loads(report_file.read_text(encoding="utf-8"))
    skipped = {Path(s["path"]).name: s["reason"] for s in report["skipped_files"]}
    assert {"empty.txt", "random.bin", "binary.txt", "broken.pdf"} <= set(skipped), skipped
    assert summary["documents_built"] >= 3 and len(summary["skipped"]) == len(skipped)
