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
    assert json.loads(out) == [
        {"h.name": "Marie Curie", "r.label": "born in", "t.name": "Warsaw"},
        {"h.name": "Warsaw", "r.label": "capital of", "t.name": "Poland"},
    ]
    code, out, _ = _run(capsys, settings, "query", "MATCH (e:Entity) RETURN e.name ORDER BY e.name")
    assert "Marie Curie" in out and "(3 rows)" in out
    code, out, _ = _run(capsys, settings, "query", "--params", '{"n": "Warsaw"}', "--json", "MATCH (e:Entity {name: $n}) RETURN e.name")
    assert json.loads(out) == [{"e.name": "Warsaw"}]
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
    # kgpipe's output is kgpipe's: no third-party warnings or load bars on stderr
    for foreign in ("Warning", "past_key_values", "Loading weights", "[transformers]"):
        assert foreign not in proc.stderr, proc.stderr[-2000:]


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


# -- the row cap of reads (setting query_limit, --limit) ---------------------------------------

ROWS = "UNWIND range(1, 100000) AS x RETURN x"


class Recording:
    """The real store, recording the query text each statement ran with."""

    def __init__(self, inner) -> None:
        self.inner, self.name, self.ran = inner, inner.name, []

    def execute(self, query, params=None, *, write=False):
        self.ran.append(query)
        return self.inner.execute(query, params, write=write)


def test_query_rows_are_capped_at_the_server(settings, store) -> None:
    from kgpipe import query

    rec = Recording(store)
    capped = query(ROWS, limit=1000, settings=settings, store=rec)
    assert len(capped.rows) == 1000 and capped.truncated and capped.rows[-1] == [1000]
    assert rec.ran[-1] == ROWS + " LIMIT 1001"  # the server sends one row more than the cap, never 10^5
    full = query(ROWS, limit=0, settings=settings, store=rec)
    assert len(full.rows) == 100000 and not full.truncated and rec.ran[-1] == ROWS
    default = query(ROWS, settings=settings.replace(query_limit=7), store=rec)
    assert len(default.rows) == 7 and default.truncated
    exact = query("UNWIND range(1, 1000) AS x RETURN x", limit=1000, settings=settings, store=rec)
    assert len(exact.rows) == 1000 and not exact.truncated  # all that matched: not cut
    own = query(ROWS + " LIMIT 5", limit=1000, settings=settings, store=rec)
    assert len(own.rows) == 5 and not own.truncated
    union = query("UNWIND range(1, 700) AS x RETURN x UNION ALL UNWIND range(1, 700) AS x RETURN x", limit=1000,
                  settings=settings, store=rec)  # fmt: skip
    assert len(union.rows) == 1000 and union.truncated and rec.ran[-1].count("LIMIT 1001") == 2
    # no RETURN to put a LIMIT after: runs as written, cut on the client
    labels = query("CALL db.labels()", limit=1, settings=settings, store=rec)
    assert rec.ran[-1] == "CALL db.labels()" and len(labels.rows) == 1 and labels.truncated
    # writes are not capped
    wrote = query("UNWIND range(1, 1500) AS x CREATE (:T {x: x}) RETURN x", write=True, limit=1000, settings=settings, store=rec)
    assert len(wrote.rows) == 1500 and not wrote.truncated


def test_cli_query_limit_says_when_rows_were_cut(capsys, settings, store) -> None:
    code, out, err = _run(capsys, settings, "query", "--limit", "1000", ROWS)
    assert code == 0 and "(1000 rows)" in out and len(out.splitlines()) == 1002
    assert "only the first 1000 rows" in err and "--limit 0" in err
    code, out, err = _run(capsys, settings, "query", "--limit", "0", ROWS)
    assert code == 0 and "(100000 rows)" in out and err == ""
    code, out, err = _run(capsys, settings, "query", "--json", "--limit", "1000", ROWS)
    assert len(json.loads(out)) == 1000 and "only the first 1000 rows" in err  # the JSON list as ever; the cut on stderr
    code, out, err = _run(capsys, settings, "query", "--json", "UNWIND range(1, 3) AS x RETURN x")
    assert json.loads(out) == [{"x": 1}, {"x": 2}, {"x": 3}] and err == ""
    code, out, err = _run(capsys, settings, "query", "--limit", "-1", ROWS)
    assert code == 2 and "row limit" in err


def test_cli_query_with_a_nul_parameter(capsys, settings, store) -> None:
    """FalkorDB refuses NUL in any parameter; the store cleans it, so the lookup finds the stored (cleaned) name."""
    code, _, err = _run(capsys, settings, "query", "--write", "--params", '{"n": "a\\u0000b"}', "CREATE (:Entity {id: 'x', name: $n})")
    assert code == 0, err
    code, out, err = _run(capsys, settings, "query", "--json", "--params", '{"n": "a\\u0000b"}',
                          "MATCH (e:Entity {name: $n}) RETURN e.id, e.name")  # fmt: skip
    assert code == 0 and json.loads(out) == [{"e.id": "x", "e.name": "a\ufffdb"}]
    code, _, err = _run(capsys, settings, "query", "--params", "{not json", "RETURN 1")
    assert code == 2 and "--params is not valid JSON" in err


def test_import_aliases_joins_a_curated_table_to_the_graph(capsys, settings, imported, tmp_path):
    aliases = tmp_path / "aliases.tsv"
    aliases.write_text("Warsaw\tWarszawa\tVarsovie\nAtlantis\tAtlantida\n", encoding="utf-8")
    code, out, _ = _run(capsys, settings, "import", str(aliases), "--aliases", "--json")
    report = json.loads(out)
    assert code == 0 and report["aliases_added"] == 2 and report["unmatched"] == 1
    code, out, _ = _run(capsys, settings, "query", "--json", "MATCH (e:Entity {name: 'Warsaw'}) RETURN e.aliases")
    assert set(json.loads(out)[0]["e.aliases"]) == {"Warszawa", "Varsovie"}
    lonely = tmp_path / "lonely.tsv"
    lonely.write_text("Warsaw\n", encoding="utf-8")
    code, _, err = _run(capsys, settings, "import", str(lonely), "--aliases")
    assert code == 2 and "two or more names" in err
