"""Measure relation canonicalisation and snapping on the default model's free output (issue 11).

usage: python scripts/measure_relations.py DATASET [LIMIT]   (DATASET: sample | genwiki_hard | rebel_sub)

Extraction is the build's (same chunking, the prompt without an ontology, the response cache in the
configured state folder; CACHE_ONLY=1 refuses to load the model); then each variant is applied to the same
triples and scored: (head, tail) and exact-triple P/R/F1 (normalised exact match, per document), relation
types per 100 facts, (head, tail) pairs stated in two or more wordings, the ungrounded-name rate and what
snapping did. "snap" simulates an HTTP backend: kgpipe.ingest.snap applied to the local model's free output.
data/sample is scored against data/sample_gold.tsv, by file.
"""

from __future__ import annotations

import csv
import json
import os
import sys
import time
from pathlib import Path

from kgpipe.config import load_settings
from kgpipe.eval.extraction import benchmark_files, load_texts, parse_graph
from kgpipe.eval.graph_metrics import triple_match
from kgpipe.ingest.chunk import chunk
from kgpipe.ingest.extract import extract
from kgpipe.ingest.load import load
from kgpipe.ingest.relations import Canonicaliser
from kgpipe.ingest.snap import grounded, snap_chunks
from kgpipe.llms import resolve_llm
from kgpipe.llms.embed import Embedder
from kgpipe.ontology import load_ontology
from kgpipe.records import Document, stable_id

dataset = sys.argv[1]
limit = int(sys.argv[2]) if len(sys.argv) > 2 else 40
settings = load_settings()
root = Path(__file__).resolve().parent.parent

if dataset == "sample":
    docs = list(load(root / "data" / "sample"))
    gold_by_file: dict[str, list] = {}
    for row in csv.reader((root / "data" / "sample_gold.tsv").read_text().splitlines(), delimiter="\t"):
        if row and not row[0].startswith("#"):
            gold_by_file.setdefault(row[3], []).append((row[0], row[1], row[2]))
    gold = [gold_by_file.get(Path(d.path).name, []) for d in docs]
else:
    tp, gp = benchmark_files(dataset)
    texts, lines = load_texts(tp)[:limit], load_texts(gp)[:limit]
    docs = [
        Document(stable_id(str(tp), str(i)), str(tp), f"line {i + 1}", t, stable_id(t)) for i, t in enumerate(texts)
    ]
    gold = [parse_graph(line) for line in lines]

chunks = list(chunk(docs, max_tokens=settings.chunk_tokens, overlap=settings.chunk_overlap))
if os.environ.get("CACHE_ONLY"):  # replies from the response cache only: no model loaded
    from kgpipe.llms.cache import CachedLLM

    class Offline:
        model_id = "hf:gemma-3-270m-q4_k_m"

        def generate(self, prompts, **kw):
            raise SystemExit("cache miss")

    llm = CachedLLM(Offline(), Path(settings.state_dir) / "llm_cache.sqlite")
else:
    llm = resolve_llm(settings.llm, settings)
began = time.perf_counter()
raw = extract(chunks, llm, max_new_tokens=settings.max_new_tokens, batch_size=settings.batch_size).triples
print(
    f"# {dataset}: {len(docs)} documents, {len(chunks)} chunks, {len(raw)} triples, extract {time.perf_counter() - began:.0f}s,"
    f" calls {getattr(llm, 'calls', '?')} hits {getattr(llm, 'hits', '?')}",
    flush=True,
)
text = {c.id: c.text for c in chunks}
emb = Embedder()
general = load_ontology("general")


def score(name: str, triples, counts=None) -> dict:
    by_doc = {d.id: [] for d in docs}
    for t in triples:
        by_doc[t.provenance.doc_id].append((t.head, t.relation, t.tail))
    pred = [by_doc[d.id] for d in docs]
    pairs, exact = triple_match(gold, pred, relation=False), triple_match(gold, pred)
    names = [(n, text[t.provenance.chunk_id]) for t in triples for n in (t.head, t.tail)]
    rels = {t.relation for t in triples}
    per_pair: dict = {}
    for t in triples:
        per_pair.setdefault((t.provenance.doc_id, t.head.casefold(), t.tail.casefold()), set()).add(t.relation)
    row = {
        "variant": name,
        "facts": len(triples),
        "pair_P": round(pairs["precision"], 3),
        "pair_R": round(pairs["recall"], 3),
        "pair_F1": round(pairs["f1"], 3),
        "triple_F1": round(exact["f1"], 3),
        "rel_types_per_100": round(100 * len(rels) / len(triples), 1) if triples else 0,
        "rel_types": len(rels),
        "max_rel_words": max((len(r.split()) for r in rels), default=0),
        "pairs_in_2+_wordings": sum(len(v) > 1 for v in per_pair.values()),
        "ungrounded": round(sum(not grounded(n, c) for n, c in names) / len(names), 3) if names else 0,
    }
    if counts is not None:
        row.update({k: v for k, v in counts.as_dict().items() if k != "names_kept"})
    print(json.dumps(row), flush=True)
    return row


score("free", raw)
for ct in (0.7, 0.8, 0.9):
    score(f"free+canon(cluster {ct})", Canonicaliser(None, emb, cluster_threshold=ct).canonicalise(raw))
for lt in (0.5, 0.6, 0.7, 0.8):
    for unmapped in ("keep", "drop"):
        score(
            f"free+canon(general, label {lt}, {unmapped})",
            Canonicaliser(general, emb, label_threshold=lt, unmapped=unmapped).canonicalise(raw),
        )
for nt in (75, 90, 95):
    snapped, counts = snap_chunks(raw, chunks, Canonicaliser(None, emb), name_threshold=nt)
    score(f"snap(name {nt})", snapped, counts)
    if nt == 90:
        score("snap+canon(cluster 0.8)", Canonicaliser(None, emb).canonicalise(snapped), counts)
        for lt in (0.6, 0.7):
            s2, c2 = snap_chunks(raw, chunks, Canonicaliser(general, emb, label_threshold=lt), name_threshold=nt)
            score(
                f"snap(general, label {lt})+canon", Canonicaliser(general, emb, label_threshold=lt).canonicalise(s2), c2
            )
