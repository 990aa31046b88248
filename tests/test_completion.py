"""Knowledge-graph completion: real PyKEEN training on bundled data and on a graph in the real FalkorDB store."""

from __future__ import annotations

import gc
import json
import math
import random
from pathlib import Path

import pytest
import torch

from kgpipe.completion.complete import check_trainable, complete, read_graph, state_path
from kgpipe.completion.kge import evaluate, fast_training, model_defaults, random_mrr, resolve_device, train
from kgpipe.errors import ConfigError, NotEnoughData
from kgpipe.eval.completion import evaluate_completion, load_dataset
from kgpipe.ingest.interchange import import_triples
from kgpipe.stores import cypher

# The measured defaults, with a smaller embedding and fewer epochs: seconds on 2 cores.
QUICK = dict(embedding_dim=64, epochs=30, eval_every=5, patience=2)


def family_graph(families: int = 12, seed: int = 7) -> list[tuple[str, str, str]]:
    """A deterministic family/country graph (a few hundred facts) with rules a model can learn.

    Each family lives in one city; parents are married, children are siblings; a child's
    grandparents are their parents' parents; cities lie in countries, countries border each other.
    """
    rng = random.Random(seed)
    countries = ["Avalon", "Brigadoon", "Cockaigne", "Duloc", "Erewhon", "Florin"]
    cities = {c: [f"{c} City {i}" for i in range(3)] for c in countries}
    triples: list[tuple[str, str, str]] = []
    for a, b in zip(countries, countries[1:]):
        triples += [(a, "borders", b), (b, "borders", a)]
    for country, names in cities.items():
        triples += [(city, "located in", country) for city in names]
    grandparents: list[tuple[str, str]] = []
    for f in range(families):
        country = rng.choice(countries)
        city = rng.choice(cities[country])
        mother, father = f"Mother {f}", f"Father {f}"
        kids = [f"Child {f}.{k}" for k in range(rng.randint(2, 4))]
        triples += [(mother, "married to", father), (father, "married to", mother)]
        for person in (mother, father, *kids):
            triples += [(person, "lives in", city), (person, "citizen of", country)]
        for kid in kids:
            triples += [(mother, "parent of", kid), (father, "parent of", kid), (kid, "child of", mother), (kid, "child of", father)]
            triples += [(kid, "sibling of", other) for other in kids if other != kid]
        if grandparents:
            gm, gf = grandparents[-1]
            triples += [(gm, "parent of", mother), (gf, "parent of", mother), (mother, "child of", gm), (mother, "child of", gf)]
        grandparents.append((mother, father))
    return sorted(set(triples))


def write_tsv(path: Path, triples: list[tuple[str, str, str]]) -> Path:
    path.write_text("".join(f"{h}\t{r}\t{t}\n" for h, r, t in triples), encoding="utf-8")
    return path


def fact_edges(store) -> set[tuple]:
    """Every non-PREDICTED relationship between entities with all its properties (to check nothing changed)."""
    rows = store.execute(
        "MATCH (h:Entity)-[r]->(t:Entity) WHERE type(r) <> 'PREDICTED' "
        "RETURN h.id, type(r), t.id, r.label, r.confidence, r.doc_ids, r.chunk_ids, r.extractor"
    ).rows
    return {tuple(tuple(v) if isinstance(v, list) else v for v in row) for row in rows}


def predicted(store) -> list[dict]:
    return store.execute(
        "MATCH (h:Entity)-[p:PREDICTED]->(t:Entity) "
        "RETURN h.id AS h, t.id AS t, p.relation AS relation, p.score AS score, p.model AS model, p.run_id AS run_id"
    ).records()


# -- the training engine ------------------------------------------------------------------------


def test_fast_training_skips_pykeen_gc_only_inside_the_block() -> None:
    import pykeen.training.training_loop as loop_module

    with fast_training():
        assert loop_module.gc.collect() == 0
        assert gc.collect is not loop_module.gc.collect  # the real gc module is untouched
    assert loop_module.gc is gc


def test_random_mrr_matches_the_harmonic_formula() -> None:
    """With nothing to filter, a random ranking over E entities has expected reciprocal rank H_E / E."""
    data = load_dataset("nations")
    expected = sum(1 / i for i in range(1, data.num_entities + 1)) / data.num_entities
    assert random_mrr(data.num_entities, data.testing, []) < random_mrr(data.num_entities, data.testing, [data.training])
    assert random_mrr(data.num_entities, data.testing, []) >= expected - 1e-9


def test_umls_model_beats_random_ranking_by_far() -> None:
    """Real training (few epochs) on UMLS: filtered MRR at least 3x a random ranking's."""
    data = load_dataset("umls")
    trained = train(model_defaults("ComplEx", **QUICK), data.training, data.validation)
    metrics = evaluate(trained.model, data.testing, [data.training, data.validation])
    floor = random_mrr(data.num_entities, data.testing, [data.training, data.validation])
    assert metrics["mrr"] >= 3 * floor, (metrics, floor)
    assert metrics["hits_at_10"] >= metrics["hits_at_3"] >= metrics["hits_at_1"] > 0


def test_nations_eval_report_beats_random_ranking() -> None:
    """Nations has only 14 entities, so a random ranking already scores about 0.3: ask for a clear gap."""
    report = evaluate_completion("nations", config=model_defaults("ComplEx", **QUICK))
    assert report["mrr"] >= report["random_mrr"] + 0.15, report
    assert report["published_mrr"] == 0.67 and report["target_mrr"] == 0.75
    assert report["entities"] == 14 and report["test_triples"] == 201


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_training_matches_cpu_quality_on_nations() -> None:
    """``--device cuda``: the model trains on the GPU (its parameters live there) and ranks as well as on CPU."""
    cuda = evaluate_completion("nations", config=model_defaults("ComplEx", **{**QUICK, "device": "cuda"}))
    cpu = evaluate_completion("nations", config=model_defaults("ComplEx", **{**QUICK, "device": "cpu"}))
    assert cuda["device"].startswith("cuda"), cuda
    assert cuda["mrr"] >= cpu["mrr"] - 0.05 and cuda["mrr"] >= cuda["random_mrr"] + 0.15, (cuda, cpu)


def test_checkpoint_resumes_where_training_stopped(tmp_path: Path) -> None:
    data = load_dataset("nations")
    config = model_defaults("DistMult", embedding_dim=32, patience=0, seed=3)
    checkpoint = tmp_path / "ck.pt"
    first = train(config.replace(epochs=3), data.training, checkpoint=checkpoint, checkpoint_minutes=0)
    assert checkpoint.is_file() and first.epochs_run == 3
    resumed = train(config.replace(epochs=6), data.training, checkpoint=checkpoint, checkpoint_minutes=0)
    straight = train(config.replace(epochs=6), data.training)
    assert resumed.epochs_run == 6
    assert resumed.losses[:3] == first.losses  # the first three epochs were not trained again
    assert resumed.losses == pytest.approx(straight.losses, rel=1e-4)  # and the rest continued exactly


def test_anchors_widen_to_entities_of_the_same_specific_type() -> None:
    """A person without any birthplace is still asked for one; untyped ("Thing") entities are not widened."""
    import numpy as np

    from kgpipe.completion.complete import _anchors

    types = np.array(["Person", "Person", "City", "Thing", "Thing"], dtype=object)
    assert _anchors(np.array([0]), types).tolist() == [0, 1]
    assert _anchors(np.array([3]), types).tolist() == [3]


def test_unknown_model_and_device_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="unknown model"):
        model_defaults("NoSuchModel")
    with pytest.raises(ConfigError):
        resolve_device("tpu")


# -- the store round trip -----------------------------------------------------------------------


def test_complete_writes_predicted_links_and_replaces_them_on_rerun(settings, store, tmp_path: Path) -> None:
    triples = family_graph()
    import_triples(write_tsv(tmp_path / "family.tsv", triples), settings=settings, store=store)
    facts_before = fact_edges(store)
    entities = {row[0] for row in store.execute("MATCH (e:Entity) RETURN e.id").rows}
    existing = {(h, label, t) for h, _, label, t, *_ in store.execute(*cypher.completion_facts()).rows}

    config = model_defaults("ComplEx", **QUICK)
    first = complete(settings, store=store, config=config, top_k=10, min_score=0.05)
    links = predicted(store)
    assert first.predicted == len(links) > 0 and first.replaced == 0
    assert first.metrics["mrr"] > first.random_mrr
    for link in links:
        assert link["h"] in entities and link["t"] in entities
        assert (link["h"], link["relation"], link["t"]) not in existing  # never an existing fact
        assert link["h"] != link["t"]  # the graph has no self-loops, so none is predicted
        assert 0.05 <= link["score"] <= 1.0 and link["model"] == "ComplEx" and link["run_id"] == first.run_id
    assert {link["relation"] for link in links} <= {r for _, r, _ in triples}
    assert len({(l["h"], l["relation"], l["t"]) for l in links}) == len(links)
    assert fact_edges(store) == facts_before  # extracted/imported facts untouched

    folder = state_path(settings)
    ids = json.loads((folder / "entity_to_id.json").read_text())
    assert set(ids) == {h for h, _, _ in existing} | {t for _, _, t in existing}
    assert sorted(ids, key=ids.get) == sorted(ids)  # stable: ordered by graph id
    assert (folder / "model.pt").is_file() and json.loads((folder / "run.json").read_text())["run_id"] == first.run_id

    second = complete(settings, store=store, config=config, top_k=5, min_score=0.05)
    again = predicted(store)
    assert second.run_id != first.run_id
    assert {link["run_id"] for link in again} == {second.run_id}  # the earlier run's links are gone
    assert second.replaced == len(links) - sum(1 for l in links if (l["h"], l["relation"], l["t"]) in
                                                 {(a["h"], a["relation"], a["t"]) for a in again})  # fmt: skip
    assert fact_edges(store) == facts_before
    assert read_graph(store).triples.shape[0] == len(triples)  # predictions never become training data


def test_too_small_graph_gets_a_clear_error(settings, store, tmp_path: Path) -> None:
    import_triples(write_tsv(tmp_path / "tiny.tsv", family_graph()[:5]), settings=settings, store=store)
    with pytest.raises(NotEnoughData, match="at least"):
        complete(settings, store=store, config=model_defaults("ComplEx", **QUICK))
    assert predicted(store) == []


def test_disconnected_graph_gets_a_clear_error(settings, store, tmp_path: Path) -> None:
    pairs = [(f"Person {i}", "owns", f"Thing {i}") for i in range(40)]  # 40 facts, no entity seen twice
    import_triples(write_tsv(tmp_path / "pairs.tsv", pairs), settings=settings, store=store)
    with pytest.raises(NotEnoughData, match="disconnected"):
        check_trainable(read_graph(store))


def test_cli_eval_completion_prints_json(capsys: pytest.CaptureFixture[str], settings) -> None:
    from kgpipe.cli import main

    code = main(["--state-dir", settings.state_dir, "--no-progress", "eval", "completion", "--dataset", "nations",
                 "--model", "DistMult", "--epochs", "5", "--json"])  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["model"] == "DistMult" and report["epochs_run"] == 5
    assert all(0.0 <= report[k] <= 1.0 for k in ("mrr", "hits_at_1", "hits_at_3", "hits_at_10"))
    assert not math.isnan(report["random_mrr"])


@pytest.mark.slow
def test_bench_complete_reports_both_loops_and_the_ratio() -> None:
    from kgpipe.eval.completion import bench_complete

    report = bench_complete(("nations",), epochs=5)
    row = report["results"][0]
    assert row["kgpipe_triples_per_s"] > 0 and row["pipeline_triples_per_s"] > 0
    assert row["ratio"] == pytest.approx(row["kgpipe_triples_per_s"] / row["pipeline_triples_per_s"], rel=0.02)
