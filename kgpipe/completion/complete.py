"""Complete the stored graph: learn embeddings of its facts with PyKEEN and write back likely missing links.

>>> import kgpipe
>>> result = kgpipe.complete(model="ComplEx", top_k=20)            # doctest: +SKIP
>>> kgpipe.query("MATCH (a)-[p:PREDICTED]->(b) RETURN a.name, p.relation, b.name, p.score "
...              "ORDER BY p.score DESC LIMIT 20")                 # doctest: +SKIP

What it does, in order: read every fact between entities (never a ``PREDICTED`` link, so
predictions never feed back into training); give entities and relation types stable ids (sorted
graph ids, saved as JSON beside the model); split the facts into train/validation/test with every
entity kept in training; train (``kgpipe.completion.kge``) with early stopping on validation MRR and a
checkpoint that a re-run resumes; report filtered MRR/Hits@k on the test split next to a random
ranking's; then, per relation type, propose the ``top_k`` best new tails (for the relation's known
heads) and the ``top_k`` best new heads (for its known tails) whose probability is at least
``min_score``, and write them as ``(:Entity)-[:PREDICTED {relation, score, model, run_id}]->(:Entity)``.
The new run's links replace the previous run's. A fact that exists is never predicted, and a relation
with no self-loop in the graph gets none predicted.

``score`` is the model's probability of the proposed entity among all entities for that query
(softmax over its scores; the model is trained with exactly that softmax cross-entropy), so one
threshold means the same thing for every model and graph size. Known answers keep most of that
probability, so a new link's is small: measured by holding out the test split of UMLS, links
scoring at least 0.05 were held-out facts 69% of the time (0.1: 82%), on Nations 18% (0.1: 23%).

State lives in ``<state_dir>/completion/<graph>/``: ``model.pt``, ``entity_to_id.json``,
``relation_to_id.json``, ``run.json``, and the training checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..config import Settings, load_settings
from ..errors import NotEnoughData
from ..stores import cypher, open_store
from .kge import KGEConfig, Trained, evaluate, model_defaults, quiet, random_mrr, train

if TYPE_CHECKING:
    from ..stores import Store

logger = logging.getLogger(__name__)

MIN_FACTS = 20  # below this there is nothing to learn from (and nothing to hold out)
SPLIT = (0.8, 0.1, 0.1)


@dataclass
class GraphTriples:
    """The store's facts as integer triples, with the id maps that lead back to graph ids."""

    entity_ids: list[str]  # index -> Entity.id
    relation_types: list[str]  # index -> relationship type
    relation_labels: list[str]  # index -> the relation's wording (its most common ``label``)
    triples: np.ndarray  # shape (n, 3): head index, relation index, tail index
    entity_types: list[str] = field(default_factory=list)  # index -> Entity.type ("" when unknown)

    @property
    def entity_to_id(self) -> dict[str, int]:
        return {e: i for i, e in enumerate(self.entity_ids)}

    @property
    def relation_to_id(self) -> dict[str, int]:
        return {r: i for i, r in enumerate(self.relation_types)}

    def fingerprint(self) -> str:
        """Changes when the facts or the id maps change (a checkpoint is only resumed on an identical graph)."""
        digest = hashlib.sha256()
        for part in (self.entity_ids, self.relation_types):
            digest.update("\x1f".join(part).encode("utf-8"))
        digest.update(np.ascontiguousarray(self.triples, dtype=np.int64).tobytes())
        return digest.hexdigest()[:16]


@dataclass
class CompletionResult:
    """What a completion run trained, how well it ranks held-out facts, and what it wrote."""

    graph: str
    model: str
    run_id: str
    entities: int
    relations: int
    facts: int
    split: dict[str, int]
    metrics: dict[str, float]  # filtered MRR and Hits@1/3/10 on the held-out test facts
    random_mrr: float  # the same MRR for a uniformly random ranking
    epochs_run: int
    best_epoch: int | None
    train_seconds: float
    device: str
    predicted: int = 0  # PREDICTED links written by this run
    replaced: int = 0  # links of earlier runs removed
    state_dir: str = ""
    config: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "config"}
        out["train_seconds"] = round(self.train_seconds, 2)
        out["random_mrr"] = round(self.random_mrr, 4)
        return out


def read_graph(store: "Store") -> GraphTriples:
    """Every fact between entities (no ``PREDICTED`` link), with entities and relation types sorted by id."""
    rows = store.execute(*cypher.completion_facts()).rows
    facts = sorted({(str(h), str(rel_type), str(t)) for h, rel_type, _, t, _, _ in rows})
    labels: dict[str, Counter[str]] = defaultdict(Counter)
    types: dict[str, str] = {}
    for h, rel_type, label, t, head_type, tail_type in rows:
        labels[str(rel_type)][str(label or rel_type)] += 1
        types[str(h)], types[str(t)] = str(head_type or ""), str(tail_type or "")
    entity_ids = sorted({h for h, _, _ in facts} | {t for _, _, t in facts})
    relation_types = sorted(labels)
    entity_index = {e: i for i, e in enumerate(entity_ids)}
    relation_index = {r: i for i, r in enumerate(relation_types)}
    triples = np.array(
        [(entity_index[h], relation_index[r], entity_index[t]) for h, r, t in facts], dtype=np.int64
    ).reshape(-1, 3)
    # Most common wording wins; ties go to the alphabetically first, so the choice is stable.
    relation_labels = [min(labels[r].items(), key=lambda kv: (-kv[1], kv[0]))[0] for r in relation_types]
    return GraphTriples(entity_ids, relation_types, relation_labels, triples, [types[e] for e in entity_ids])


def check_trainable(graph: GraphTriples) -> None:
    """Raise ``NotEnoughData`` with a plain explanation when the graph cannot be learned from."""
    n = len(graph.triples)
    if n < MIN_FACTS:
        raise NotEnoughData(
            f"the graph has {n} fact{'s' if n != 1 else ''} between entities; completion needs at least {MIN_FACTS} "
            "(build more documents or import triples first)"
        )
    degree = np.bincount(graph.triples[:, [0, 2]].ravel(), minlength=len(graph.entity_ids))
    per_relation = np.bincount(graph.triples[:, 1], minlength=len(graph.relation_types))
    # A fact can be held out (and so learned from) only if its entities and relation occur elsewhere.
    linked = (degree[graph.triples[:, 0]] > 1) & (degree[graph.triples[:, 2]] > 1)
    learnable = int((linked & (per_relation[graph.triples[:, 1]] > 1)).sum())
    if learnable < max(4, int(0.1 * n)):
        raise NotEnoughData(
            f"the graph is too disconnected to learn from: only {learnable} of its {n} facts have entities and a "
            f"relation that occur in another fact ({int((degree == 1).sum())} of {len(graph.entity_ids)} entities "
            f"and {int((per_relation == 1).sum())} of {len(graph.relation_types)} relation types occur once); "
            "completion learns from repetition, so build more documents or import more triples"
        )


def to_factories(graph: GraphTriples, seed: int, inverse: bool = True) -> tuple[Any, Any, Any]:
    """Train/validation/test TriplesFactories over the full id maps; every entity stays in training."""
    import torch
    from pykeen.triples import TriplesFactory

    full = TriplesFactory(
        mapped_triples=torch.as_tensor(graph.triples, dtype=torch.long),
        entity_to_id=graph.entity_to_id,
        relation_to_id=graph.relation_to_id,
        create_inverse_triples=inverse,
    )
    try:
        with quiet():
            training, validation, testing = full.split(list(SPLIT), random_state=seed)
    except Exception as exc:  # PyKEEN raises plain ValueError/RuntimeError on splits it cannot make
        raise NotEnoughData(
            f"cannot hold out facts for evaluation: with {len(graph.triples)} facts over {len(graph.entity_ids)} "
            f"entities and {len(graph.relation_types)} relation types, every fact is needed to cover them ({exc})"
        ) from None
    if validation.num_triples == 0 or testing.num_triples == 0:
        raise NotEnoughData(
            "the graph is too disconnected to hold out facts for evaluation: every fact is the only one of an entity"
        )
    return training, validation, testing


def state_path(settings: Settings) -> Path:
    """Where one graph's completion model, id maps and checkpoint live."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in settings.graph or "default")
    return settings.state_path / "completion" / safe


def complete(
    settings: Settings | None = None,
    *,
    store: "Store | str | None" = None,
    model: str = "ComplEx",
    epochs: int | None = None,
    device: str = "auto",
    top_k: int = 20,
    min_score: float = 0.05,
    seed: int = 0,
    config: KGEConfig | None = None,
    write: bool = True,
) -> CompletionResult:
    """Train on the stored graph, evaluate on held-out facts, and (``write``) replace the predicted links.

    ``model``, ``epochs``, ``device`` and ``seed`` pick from the measured defaults
    (``kgpipe.completion.kge.model_defaults``); a full ``config`` replaces all four.
    """
    settings = settings or load_settings()
    the_store = open_store(settings, store)
    graph = read_graph(the_store)
    check_trainable(graph)
    cfg = config or model_defaults(model, epochs=epochs, device=device, seed=seed)
    training, validation, testing = to_factories(graph, cfg.seed, cfg.inverse_triples)

    folder = state_path(settings)
    folder.mkdir(parents=True, exist_ok=True)
    run_key = _run_key(graph, cfg)
    checkpoint = folder / f"checkpoint-{run_key}.pt"
    for old in folder.glob("checkpoint-*.pt"):
        if old != checkpoint:
            old.unlink(missing_ok=True)  # a different graph or configuration: nothing to resume there
    trained = train(cfg, training, validation, checkpoint=checkpoint, progress=settings.progress)
    metrics = evaluate(trained.model, testing, [training, validation])
    run_id = f"{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"
    result = CompletionResult(
        graph=settings.graph, model=cfg.model, run_id=run_id, entities=len(graph.entity_ids),
        relations=len(graph.relation_types), facts=len(graph.triples),
        split={"train": training.num_triples, "validation": validation.num_triples, "test": testing.num_triples},
        metrics=metrics, random_mrr=random_mrr(len(graph.entity_ids), testing, [training, validation]),
        epochs_run=trained.epochs_run, best_epoch=trained.best_epoch, train_seconds=trained.train_seconds,
        device=trained.device, state_dir=str(folder), config=cfg.as_dict(),
    )  # fmt: skip
    _save(folder, graph, trained, result)
    if write:
        links = predict_links(trained, graph, top_k=top_k, min_score=min_score)
        result.predicted, result.replaced = write_links(the_store, links, cfg.model, run_id, settings.write_batch)
    return result


def _run_key(graph: GraphTriples, cfg: KGEConfig) -> str:
    """Graph + configuration, minus what may change on a resumed run (epochs, patience, device)."""
    settings = {k: v for k, v in cfg.as_dict().items() if k not in ("epochs", "patience", "device", "threads")}
    text = graph.fingerprint() + json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _save(folder: Path, graph: GraphTriples, trained: Trained, result: CompletionResult) -> None:
    """The model with the id maps that turn its indices back into graph ids, and what the run measured."""
    import torch

    torch.save(trained.model, folder / "model.pt")
    (folder / "entity_to_id.json").write_text(json.dumps(graph.entity_to_id), encoding="utf-8")
    relations = {r: {"id": i, "label": graph.relation_labels[i]} for i, r in enumerate(graph.relation_types)}
    (folder / "relation_to_id.json").write_text(json.dumps(relations), encoding="utf-8")
    (folder / "run.json").write_text(json.dumps(result.__dict__, indent=2, default=str), encoding="utf-8")


def predict_links(
    trained: Trained, graph: GraphTriples, *, top_k: int, min_score: float
) -> list[tuple[str, str, str, float]]:
    """Per relation: the ``top_k`` most probable new tails and new heads (≥ ``min_score``); ``(h, label, t, p)``.

    New tails are proposed for the relation's *anchors*: entities that already are its head, plus
    entities of the same (specific) type as one of those, so that a person with no recorded
    birthplace is still asked for one. The same holds mirrored for new heads.
    """
    import torch

    model = trained.model
    model.eval()
    num_entities = len(graph.entity_ids)
    types = np.asarray(graph.entity_types or [""] * num_entities, dtype=object)
    best: dict[tuple[int, int, int], float] = {}
    for r in range(len(graph.relation_types)):
        facts = graph.triples[graph.triples[:, 1] == r]
        self_loops = bool((facts[:, 0] == facts[:, 2]).any())
        for column in (0, 2):  # 0: anchors are heads, predict tails; 2: anchors are tails, predict heads
            anchors = _anchors(facts[:, column], types)
            row = {int(a): i for i, a in enumerate(anchors)}
            known = torch.zeros(len(anchors), num_entities, dtype=torch.bool)
            for fact in facts:
                known[row[int(fact[column])], int(fact[2 - column])] = True
            probs = _probabilities(model, anchors, r, tails=column == 0)
            probs[known] = 0.0  # an existing fact is never predicted
            if not self_loops:
                probs[torch.arange(len(anchors)), torch.as_tensor(anchors)] = 0.0
            flat = probs.flatten()
            scores, index = flat.topk(min(top_k, flat.numel()))
            for score, i in zip(scores.tolist(), index.tolist()):
                if score < min_score or score <= 0.0:
                    break
                anchor, other = int(anchors[i // num_entities]), i % num_entities
                key = (anchor, r, other) if column == 0 else (other, r, anchor)
                best[key] = max(score, best.get(key, 0.0))
    return [
        (graph.entity_ids[h], graph.relation_labels[r], graph.entity_ids[t], round(p, 6))
        for (h, r, t), p in sorted(best.items(), key=lambda kv: -kv[1])
    ]


def _anchors(seen: np.ndarray, types: np.ndarray) -> np.ndarray:
    """Entities in ``seen``, plus every entity sharing a specific (not generic, not empty) type with one of them."""
    from ..records import GENERIC_TYPE

    kinds = {k for k in types[np.unique(seen)] if k and k != GENERIC_TYPE}
    if not kinds:
        return np.unique(seen)
    same_type = np.flatnonzero(np.isin(types, list(kinds)))
    return np.union1d(np.unique(seen), same_type)


def _probabilities(model: Any, anchors: np.ndarray, relation: int, *, tails: bool, batch: int = 1024) -> Any:
    """Softmax over all entities of the model's scores for ``(anchor, relation, ?)`` or ``(?, relation, anchor)``."""
    import torch

    out = []
    with torch.inference_mode():
        for start in range(0, len(anchors), batch):
            part = torch.as_tensor(anchors[start : start + batch], dtype=torch.long, device=model.device)
            rel = torch.full_like(part, relation)
            if tails:
                scores = model.predict_t(torch.stack([part, rel], dim=1))
            else:
                scores = model.predict_h(torch.stack([rel, part], dim=1))
            out.append(torch.softmax(scores.float(), dim=1).cpu())
    return torch.cat(out)


def write_links(
    store: "Store", links: list[tuple[str, str, str, float]], model: str, run_id: str, batch_size: int = 5000
) -> tuple[int, int]:
    """Write this run's links, then delete every earlier run's; returns (written, removed).

    Writing first means a reader never sees the graph without predictions mid-run; a link both runs
    propose is updated in place (``MERGE`` on head, relation, tail).
    """
    rows = [{"h": h, "t": t, "relation": rel, "score": p, "model": model, "run_id": run_id} for h, rel, t, p in links]
    for start in range(0, len(rows), max(1, batch_size)):
        store.execute(*cypher.upsert_predicted_links(rows[start : start + batch_size]), write=True)
    removed = store.execute(*cypher.delete_predicted_links(keep_run_id=run_id), write=True)
    return len(rows), int(removed.rows[0][0]) if removed.rows else 0
