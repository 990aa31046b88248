"""The ``kgpipe`` command line: a thin layer that parses flags and calls the library."""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import os
import sys
from typing import Any, Callable, Iterable, Sequence

from .config import Settings, load_settings
from .errors import KgpipeError


def _print(data: Any, as_json: bool) -> None:
    if as_json:
        print(json.dumps(data, indent=2, default=str, ensure_ascii=False))
        return
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(value, (dict, list)):
                value = json.dumps(value, default=str, ensure_ascii=False)
            print(f"{key}: {value}")
    else:
        print(data)


def _print_table(columns: list[str], rows: Iterable[list[Any]], *, aligned_on: int = 1000) -> int:
    """Print rows as they come: columns are sized on the first ``aligned_on`` rows, later ones keep those widths.

    Returns the number of rows printed.
    """
    def cells(row: list[Any]) -> list[str]:
        return [(v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str)).replace("\n", "\\n") for v in row]

    it = iter(rows)
    head = [cells(row) for row in itertools.islice(it, aligned_on)]
    widths = [max([len(c)] + [len(r[i]) for r in head]) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)))
    n = 0
    for row in itertools.chain(head, map(cells, it)):
        print("  ".join(v.ljust(w) for v, w in zip(row, widths)))
        n += 1
    print(f"({n} row{'s' if n != 1 else ''})")
    return n


EXIT_FAILED_CHUNKS = 3  # kgpipe build finished, but some chunks failed after the LLM retries


def cmd_build(args: argparse.Namespace, settings: Settings) -> int:
    from .ingest.pipeline import build

    result = build(args.paths, settings)
    if args.report:
        with open(args.report, "w", encoding="utf-8") as out:
            json.dump(result.report(), out, indent=2, ensure_ascii=False)
    _print(result.summary(), args.json)
    return EXIT_FAILED_CHUNKS if result.failed_chunks else 0


def cmd_query(args: argparse.Namespace, settings: Settings) -> None:
    from .api import query, query_stream
    from .errors import ConfigError

    try:
        params = json.loads(args.params) if args.params else {}
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--params is not valid JSON: {exc}") from None
    if not isinstance(params, dict):
        raise ConfigError("--params must be a JSON object of parameter names to values")
    limit = settings.query_limit if args.limit is None else args.limit
    if args.json or args.write:
        result = query(args.cypher, params, write=args.write, limit=limit, settings=settings)
        if args.json:
            _print(result.records(), True)  # the same JSON list as ever; the cap is reported on stderr
        else:
            _print_table(result.columns, result.rows)
        shown, truncated = len(result.rows), result.truncated
    else:
        with query_stream(args.cypher, params, limit=limit, settings=settings) as rows:
            shown = _print_table(rows.columns, rows)
        truncated = rows.truncated
    if truncated:
        print(f"kgpipe: only the first {shown} rows are shown (the row cap); more matched. "
              "Use --limit N for a larger cap, --limit 0 for every row (setting query_limit).", file=sys.stderr)  # fmt: skip


def cmd_import(args: argparse.Namespace, settings: Settings) -> None:
    from .ingest.interchange import import_aliases, import_triples

    if args.alias_file:
        _print(import_aliases(args.file, settings=settings), args.json)
        return
    _print(import_triples(args.file, settings=settings, fmt=args.format), args.json)


def cmd_export(args: argparse.Namespace, settings: Settings) -> None:
    from .ingest.interchange import export

    if args.format == "html":
        from .serve.html import export_html

        if not args.output or args.output == "-":
            export_html(sys.stdout, settings=settings, entity=args.entity)
            return
        with open(args.output, "w", encoding="utf-8") as out:
            counts = export_html(out, settings=settings, entity=args.entity)
        print(f"kgpipe: wrote {args.output}: {counts['nodes']} entities, {counts['edges']} edges (open it in a browser)",
              file=sys.stderr)
        return
    if args.output and args.output != "-":
        with open(args.output, "w", encoding="utf-8") as out:
            export(args.format, out, settings=settings)
    else:
        export(args.format, sys.stdout, settings=settings)


def cmd_delete(args: argparse.Namespace, settings: Settings) -> None:
    from .api import delete

    _print(delete(args.document, settings=settings), args.json)


def cmd_stats(args: argparse.Namespace, settings: Settings) -> None:
    from .api import stats

    _print(stats(settings=settings), args.json)


def cmd_demo(args: argparse.Namespace, settings: Settings) -> None:
    from .demo import demo

    report = demo(settings)
    if args.json:
        _print(report, True)
        return
    _print(report["build"], False)
    print(f"\n{report['query']}")
    facts = report["facts"]
    columns = list(facts[0]) if facts else ["head", "relation", "tail", "documents"]
    _print_table(columns, [[row[c] for c in columns] for row in facts])


def cmd_complete(args: argparse.Namespace, settings: Settings) -> None:
    from .completion.complete import complete

    result = complete(settings, model=args.model, epochs=args.epochs, device=args.device, top_k=args.top_k,
                      min_score=args.min_score, seed=args.seed)  # fmt: skip
    _print(result.summary(), args.json)


def _eval_completion(args: argparse.Namespace, settings: Settings) -> Any:
    from .eval.completion import evaluate_completion

    return evaluate_completion(args.dataset or "nations", model=args.model or "ComplEx", epochs=args.epochs,
                               device=args.device, seed=args.seed, settings=settings, progress=settings.progress)  # fmt: skip


def _eval_extraction(args: argparse.Namespace, settings: Settings) -> Any:
    from .errors import ConfigError
    from .eval.extraction import benchmark_files, evaluate_extraction

    if args.benchmark:
        args.texts, args.graphs = benchmark_files(args.benchmark)
    if not args.texts or not (args.graphs or args.benchmark == "sample"):
        raise ConfigError("eval extraction needs --benchmark NAME, or --texts FILE.texts and --graphs FILE.graphs")
    modes = ["free", "grounded"] if settings.extraction == "both" else [settings.extraction]
    reports = {mode: evaluate_extraction(args.texts, args.graphs, limit=args.limit, start=args.start, judge=args.judge,
                                         settings=settings.replace(extraction=mode)) for mode in modes}  # fmt: skip
    return reports if len(reports) > 1 else reports[modes[0]]


def _eval_graph(args: argparse.Namespace, settings: Settings) -> Any:
    from .errors import ConfigError
    from .eval.graph_gold import evaluate_graph
    from .stores import resolve_store

    if not args.gold:
        raise ConfigError("eval graph needs --gold FILE.tsv (head<TAB>relation<TAB>tail[<TAB>source] lines)")
    return evaluate_graph(resolve_store(settings.store, settings), args.gold)


def _eval_fusion(args: argparse.Namespace, settings: Settings) -> Any:
    from .errors import ConfigError
    from .eval.fusion import evaluate_fusion

    if not args.gold:
        raise ConfigError("eval fusion needs --gold FILE.jsonl (lines of {\"mention\", \"type\", \"cluster\"})")
    adjudicate = None
    if args.adjudicate:
        from .fusion.adjudicate import llm_adjudicator
        from .llms import resolve_llm

        adjudicate = llm_adjudicator(resolve_llm(settings.llm, settings))
    from .fusion.aliases import read_aliases

    aliases = read_aliases(settings.aliases) if settings.aliases else ()
    return evaluate_fusion(args.gold, adjudicate=adjudicate, aliases=aliases, places=settings.place_aliases, lexicon=settings.name_aliases)


def _eval_qa(args: argparse.Namespace, settings: Settings) -> Any:
    from .errors import ConfigError
    from .eval.qa import evaluate_qa

    if not args.kb or not args.questions:
        raise ConfigError("eval qa needs --kb FILE.tsv (head<TAB>relation<TAB>tail) and --questions FILE.tsv")
    return evaluate_qa(args.kb, args.questions, limit=args.limit, start=args.start, every=args.every or 1,
                       unconstrained=args.unconstrained, settings=settings)  # fmt: skip


def _eval_ask(args: argparse.Namespace, settings: Settings) -> Any:
    from .errors import ConfigError
    from .eval.ask import evaluate_ask

    if not args.docs or not args.questions:
        raise ConfigError("eval ask needs --docs FOLDER and --questions FILE.tsv (question<TAB>answer|answer... lines; "
                          "no answer: the documents do not say, see data/sample_questions.tsv)")
    return evaluate_ask(args.docs, args.questions, settings=settings)


def _eval_context(args: argparse.Namespace, settings: Settings) -> Any:
    from .errors import ConfigError
    from .eval.context import evaluate_context

    if not args.kb or not args.questions:
        raise ConfigError("eval context needs --kb DIR/2H-kb.txt and --questions DIR/PQ-2H.txt (PathQuestion, see data/README.md)")
    return evaluate_context(args.kb, args.questions, hops=args.hops, limit=args.limit or 50, every=args.every or 38,
                            start=args.start, answer=args.answer, settings=settings)  # fmt: skip


def _eval_text2cypher(args: argparse.Namespace, settings: Settings) -> Any:
    from .errors import ConfigError
    from .eval.text2cypher import evaluate_text2cypher

    if not args.kb:
        raise ConfigError("eval text2cypher needs --kb DIR/2H-kb.txt (PathQuestion, see data/README.md)")
    return evaluate_text2cypher(args.kb, held_out=args.held_out, settings=settings)


def _eval_calibration(args: argparse.Namespace, settings: Settings) -> Any:
    from .eval.calibration import evaluate_calibration

    sizes = [int(n) for n in args.sizes.split(",")] if args.sizes else [10, 15, 20, 25, 30, 40]
    return evaluate_calibration(settings, seeds=args.seeds or 20, sizes=sizes)


#: ``kgpipe eval WHAT``: one function per measurable stage.
EVALS: dict[str, Callable[[argparse.Namespace, Settings], Any]] = {
    "ask": _eval_ask, "completion": _eval_completion, "extraction": _eval_extraction, "fusion": _eval_fusion, "graph": _eval_graph, "qa": _eval_qa,
    "context": _eval_context, "text2cypher": _eval_text2cypher, "calibration": _eval_calibration,
}  # fmt: skip


def cmd_eval(args: argparse.Namespace, settings: Settings) -> None:
    _print(EVALS[args.what](args, settings), args.json)


def cmd_ask(args: argparse.Namespace, settings: Settings) -> None:
    if args.cypher:
        from .qa.text2cypher import ask_cypher

        result: Any = ask_cypher(args.question, settings)
    elif args.context:
        from .qa.context import ask_context

        result = ask_context(args.question, settings)
    else:
        from .qa.answer import ask

        if args.learn:  # the answer read from the text, offered back as a fact (kgpipe.learning)
            from .learning import learn
            from .llms import resolve_llm

            llm = resolve_llm(settings.llm, settings)
            answer = ask(args.question, settings, llm=llm, paths=args.paths, hops=args.hops, reasoner=args.reasoner)
            result = learn(args.question, settings, llm=llm, answer=answer)
        else:
            result = ask(args.question, settings, paths=args.paths, hops=args.hops, reasoner=args.reasoner)
    if args.json:
        _print(result.to_dict(), True)
    else:
        print(result)


def cmd_bench(args: argparse.Namespace, settings: Settings) -> None:
    from .bench import pipeline as bench

    if args.what == "trie":
        from .bench.trie import bench_trie, format_report

        top = args.n or 1_000_000
        report = bench_trie([10**k for k in range(4, 7) if 10**k <= top] or [top])
        if not args.json:
            print(format_report(report))
            return
    elif args.what == "extract":
        report = bench.bench_extract(settings, chunks=args.n or 16)
    elif args.what == "fusion":
        top = args.n or 1_000_000
        report = bench.bench_fusion([10**k for k in range(4, 8) if 10**k <= top] or [top])
    elif args.what == "serve":
        from .bench.serve import bench_serve

        report = bench_serve(settings, n=args.n or 100_000)
    elif args.what == "build":
        from .bench.build import bench_build

        report = bench_build(settings, engine=args.engine or "ray", setup=args.setup, documents=args.n,
                             latency=args.latency, actors=[int(a) for a in args.actors.split(",")])  # fmt: skip
    elif args.what == "complete":
        from .eval.completion import bench_complete

        report = bench_complete(model=args.model or "ComplEx", epochs=args.n or 50)
    else:
        report = bench.bench_write(settings.store, n=args.n or 100_000, batch_size=settings.write_batch, settings=settings)
    _print(report, args.json)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> None:
    from .serve.app import TOKEN_ENV, ServeLimits, serve

    token = args.write_token or os.environ.get(TOKEN_ENV) or None
    where = f"http://{args.host}:{args.port}/"
    print(f"kgpipe: serving graph {settings.graph!r} at {where} (API docs: {where}docs); writes "
          + ("need the token" if token else f"are off (--write-token or {TOKEN_ENV} turns them on)"), file=sys.stderr)
    serve(settings, host=args.host, port=args.port, write_token=token,
          limits=ServeLimits(max_body=args.max_body * 1024 * 1024, max_concurrent=args.max_concurrent),
          cors_origins=args.cors_origin or ())  # fmt: skip


def cmd_mcp(args: argparse.Namespace, settings: Settings) -> None:
    from .serve.mcp_server import run_stdio

    run_stdio(settings)


def cmd_stop(args: argparse.Namespace, settings: Settings) -> None:
    from .stores.falkordb_server import stop_server

    stopped = stop_server(settings.state_dir)
    _print({"state_dir": settings.state_dir, "stopped": stopped}, args.json)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kgpipe", description="Build knowledge graphs from documents and query them.")
    p.add_argument("--config", help="configuration file (default: ./kgpipe.toml)")
    p.add_argument("--state-dir", help="state folder: embedded store, caches (default .kgpipe)")
    p.add_argument("--store", help="'falkordb' (embedded), falkordb://host:port, or a neo4j:// / bolt:// URI")
    p.add_argument("--graph", help="graph name (FalkorDB) or database (Neo4j)")
    p.add_argument("--llm", help="'gemma' (default), hf:<model id or path>, openai:<model>[@<base url>]")
    p.add_argument("--no-progress", dest="progress", action="store_const", const=False, help="hide progress bars")
    p.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func: Callable[..., None], help: str, json_flag: bool = True) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help, description=help)
        sp.set_defaults(func=func)
        if json_flag:
            sp.add_argument("--json", action="store_true", help="print JSON")
        return sp

    sp = add("build", cmd_build, "build or update the graph from files and folders")
    sp.epilog = (
        f"exit status: 0 built; {EXIT_FAILED_CHUNKS} finished, but some chunks failed after the LLM retries "
        "(listed in --report; their documents are not marked complete, so running the same command again "
        "retries just those chunks); 2 error"
    )
    sp.add_argument("paths", nargs="+")
    sp.add_argument("--ontology", help="ontology name in ontologies/ (general, the default; scierc) or a path; \"\" for none")
    sp.add_argument("--aliases", metavar="FILE",
                    help="curated aliases for fusion: TSV, one entity a line, its names separated by tabs (Beijing<TAB>Peking)")
    sp.add_argument("--batch-size", type=int, help="prompts per LLM batch")
    sp.add_argument("--engine", choices=["local", "ray"],
                    help="where extraction and judging run: local (default) or ray (a Ray cluster; needs the ray extra)")
    sp.add_argument("--ray-address", help="ray: the cluster to join (host:port, ray://host:port, auto); default: start Ray here")
    sp.add_argument("--ray-actors", type=int, help="ray: actors extracting and judging, each with its own LLM (default 2)")
    sp.add_argument("--chunk-tokens", type=int, help="token budget per chunk")
    sp.add_argument("--report", metavar="FILE", help="write what was skipped, failed or rejected (JSON) to FILE")
    sp.add_argument("--no-judge", dest="judge", action="store_const", const=False,
                    help="keep every extracted triple (default: verify each against its source chunk)")
    sp.add_argument("--judge-threshold", type=float, help="minimum confidence a triple needs to be kept (default 0.3)")
    sp.add_argument("--denoise", action="store_const", const=True,
                    help="rewrite chunks as short factual sentences before extraction (one more LLM call per chunk)")
    sp.add_argument("--extraction", choices=["grounded", "free"],
                    help="grounded (default): every name a span of its chunk, every relation the ontology's; "
                         "free: the model's own wording")

    sp = add("query", cmd_query, "run Cypher (read-only unless --write)")
    sp.add_argument("cypher")
    sp.add_argument("--params", help="query parameters as a JSON object")
    sp.add_argument("--write", action="store_true", help="allow the query to change the graph")
    sp.add_argument("--limit", type=int, metavar="N",
                    help="most rows a read returns, enforced at the server (default: setting query_limit, 10000; 0: no cap)")

    sp = add("import", cmd_import, "import triples: TSV head<TAB>relation<TAB>tail, or any RDF format")
    sp.add_argument("file")
    sp.add_argument("--format", help="tsv, or an rdflib format (turtle, xml, nt, json-ld...); default from the extension")
    sp.add_argument("--aliases", dest="alias_file", action="store_true",
                    help="FILE is a curated alias table (TSV, one entity a line, its names separated by tabs): "
                         "its names become aliases of the existing entity each line names")

    sp = add("export", cmd_export, "export the graph", json_flag=False)
    sp.add_argument("--format", required=True, choices=["ttl", "jsonld", "graphml", "tsv", "html"],
                    help="html: one self-contained page to explore the graph offline (facts with their sentences)")
    sp.add_argument("-o", "--output", help="file to write (default: stdout)")
    sp.add_argument("--entity", help="html: only this entity's neighbourhood (an entity id, as kgpipe query shows)")

    sp = add("delete", cmd_delete, "remove a document (path or id) and what only it supported")
    sp.add_argument("document")

    add("stats", cmd_stats, "counts of what is in the graph")

    sp = add("serve", cmd_serve, "serve the graph: an HTTP API (docs at /docs) and a web page to explore it "
             "(needs the serve extra: pip install 'kgpipe[serve]')", json_flag=False)
    sp.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    sp.add_argument("--port", type=int, default=8000)
    sp.add_argument("--write-token", help="allow uploads, deletes and write Cypher from requests that send this token (other users can read it in ps: prefer the variable) "
                                          "(default: environment variable KGPIPE_WRITE_TOKEN; none: read-only)")
    sp.add_argument("--max-body", type=int, default=20, metavar="MIB", help="largest request body (default 20 MiB)")
    sp.add_argument("--max-concurrent", type=int, default=32, help="requests handled at once (default 32)")
    sp.add_argument("--cors-origin", action="append", metavar="ORIGIN",
                    help="a web origin (https://host:port) whose pages may call the API; repeatable (default: none)")
    add("mcp", cmd_mcp, "an MCP server on stdin/stdout: read-only Cypher, ask, entity lookup, search, provenance and "
        "the schema as tools for an agent (needs the serve extra)", json_flag=False)
    add("stop", cmd_stop, "stop the embedded FalkorDB server of this state folder (data is saved)")
    add("demo", cmd_demo, "build data/sample into the embedded store and show stats and a sample query")

    sp = add("complete", cmd_complete, "learn embeddings of the graph (PyKEEN) and write likely missing links as PREDICTED")
    sp.add_argument("--model", default="ComplEx", help="a PyKEEN model: ComplEx (default), RotatE, DistMult, TransE...")
    sp.add_argument("--epochs", type=int, help="most epochs to train (early stopping may end sooner)")
    sp.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="auto: the GPU when present")
    sp.add_argument("--top-k", type=int, default=20, help="new tails and new heads kept per relation (default 20)")
    sp.add_argument("--min-score", type=float, default=0.05, help="least probability of a predicted link (default 0.05)")
    sp.add_argument("--seed", type=int, default=0)

    sp = add("ask", cmd_ask, "answer a question from reasoning paths of stored facts (each path verified, "
             "with its provenance); --cypher: Text2Cypher, --context: KG-RAG")
    sp.add_argument("question")
    sp.add_argument("--paths", type=int, help="reasoning paths to return (default: setting ask_paths, 3)")
    sp.add_argument("--hops", type=int, help="most hops per path (default: setting ask_hops, 2)")
    sp.add_argument("--reasoner", help="LLM that writes the final answer from the paths (gemma, hf:..., openai:...)")
    sp.add_argument("--learn", action="store_true", help="when the answer is read from the documents, judge it against "
                    "its chunk and write it as a fact marked learned (ask alone never writes)")
    mode = sp.add_mutually_exclusive_group()
    mode.add_argument("--cypher", action="store_true", help="generate a read-only Cypher query, show it and its rows")
    mode.add_argument("--context", action="store_true", help="answer from the pruned neighbourhood of the linked entities")

    sp = add("eval", cmd_eval, "measure a stage (completion: filtered MRR/Hits@k on a bundled data set or the graph; "
             "extraction: triple P/R/F1, G-BLEU, G-ROUGE, G-BERTScore against gold graphs; graph: the stored graph's "
             "(head, tail) pairs and triples against gold facts, names or aliases; fusion: B-cubed and "
             "pairwise P/R/F1 against gold clusters; qa: Hits@1, answer F1 and path faithfulness on PathQuestion; "
             "ask: right, wrong and abstained answers to questions about documents built into a graph; "
             "context: KG-RAG tokens saved and answers kept by pruning; text2cypher: queries validated, run and right; "
             "calibration: how the judge calibration's AUROC estimate converges with its number of examples)")
    sp.add_argument("what", choices=sorted(EVALS))
    sp.add_argument("--dataset", help="completion: nations (default), kinships, umls, or store (the stored graph)")
    sp.add_argument("--model", help="completion: a PyKEEN model (default ComplEx)")
    sp.add_argument("--epochs", type=int, help="completion: most epochs to train")
    sp.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--benchmark", choices=["genwiki_hard", "rebel_sub", "scierc", "sample"],
                    help="extraction: a GraphJudger test set shipped in data/benchmarks/, or sample: data/sample scored "
                         "against data/sample_gold.tsv (instead of --texts/--graphs)")
    sp.add_argument("--extraction", choices=["grounded", "free", "both"],
                    help="extraction: grounded (names from the text, relations from the ontology; default), free, "
                         "or both in one run (free first)")
    sp.add_argument("--texts", help="extraction: documents, one per line (GraphJudger .texts)")
    sp.add_argument("--graphs", help="extraction: gold graphs, one list of [head, relation, tail] per line")
    sp.add_argument("--limit", type=int, help="extraction: documents to use; qa: questions to use (default all; context 50)")
    sp.add_argument("--start", type=int, default=0, help="extraction, qa: skip this many documents or questions first")
    sp.add_argument("--no-judge", dest="judge", action="store_false", help="extraction: keep every extracted triple")
    sp.add_argument("--denoise", action="store_const", const=True, help="extraction: rewrite each text before extracting")
    sp.add_argument("--ontology", help="extraction: guide extraction and judging with an ontology (general, the default; scierc; a path; \"\" for none)")
    sp.add_argument("--gold", help="fusion: gold mentions, JSON lines {mention, type, cluster[, context]}; graph: gold facts, "
                                   "head<TAB>relation<TAB>tail[<TAB>source] lines (data/sample_gold.tsv)")
    sp.add_argument("--adjudicate", action="store_true", help="fusion: let the LLM (--llm) decide borderline pairs")
    sp.add_argument("--aliases", metavar="FILE", help="fusion: curated aliases (TSV, one entity a line, its names separated by tabs)")
    sp.add_argument("--kb", help="qa, context, text2cypher: the KB, head<TAB>relation<TAB>tail lines (loaded into a fresh graph)")
    sp.add_argument("--questions", help="qa, context: question<TAB>answer(alt1/alt2/...)[<TAB>gold path] lines (PathQuestion); "
                                        "ask: question<TAB>answer|answer... lines, no answer where the documents do not say")
    sp.add_argument("--docs", help="ask: the folder of documents the questions are about (built into its own graph)")
    sp.add_argument("--unconstrained", action="store_true", help="qa: decode without the KG-Trie (hallucination baseline)")
    sp.add_argument("--every", type=int, help="qa, context: use every N-th question (default 1; context 38)")
    sp.add_argument("--hops", type=int, default=2, help="context: hops of the neighbourhood fetched (default 2)")
    sp.add_argument("--answer", action="store_true", help="context: also answer each question from the pruned context")
    sp.add_argument("--seeds", type=int, help="calibration: random subsets per size (default 20)")
    sp.add_argument("--sizes", help="calibration: subset sizes, comma-separated (default 10,15,20,25,30,40)")
    sp.add_argument("--held-out", action="store_true", help="text2cypher: the ten questions written after the prompt was revised")

    sp = add("bench", cmd_bench, "benchmarks (print figures and a ratio against a baseline measured in the same run)")
    sp.add_argument("what", choices=["extract", "write", "complete", "fusion", "trie", "serve", "build"])
    sp.add_argument("--engine", choices=["local", "ray"], help="build: local only, or local then Ray (default ray)")
    sp.add_argument("--setup", choices=["endpoint", "model"], default="endpoint",
                    help="build: a stand-in HTTP endpoint with fixed latency (default), or --llm (Gemma) on the CPU")
    sp.add_argument("--latency", type=float, default=0.2, help="build: seconds the stand-in endpoint waits per request")
    sp.add_argument("--actors", default="1,2,4", help="build: Ray actor counts to run, comma-separated (default 1,2,4)")
    sp.add_argument("--model", help="complete: the PyKEEN model to train (default ComplEx)")
    sp.add_argument("-n", type=int, help="size: chunks for extract (default 16), triples for write (default 100000), epochs for complete (default 50), largest mention count for fusion (default 1000000: 10^4, 10^5, 10^6), largest path count for trie (default 1000000), facts of the synthetic graph for serve (default 100000), synthetic documents for build (default 200; 6 with --setup model)")
    return p


_FLAG_SETTINGS = (
    "state_dir", "store", "graph", "llm", "progress", "ontology", "batch_size", "chunk_tokens",
    "judge", "judge_threshold", "denoise", "extraction", "aliases", "engine", "ray_address", "ray_actors",
)


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings({k: getattr(args, k, None) for k in _FLAG_SETTINGS}, config_file=args.config)
        code = args.func(args, settings)
    except KgpipeError as exc:
        print(f"kgpipe: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("kgpipe: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
