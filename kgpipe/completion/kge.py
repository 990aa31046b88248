"""Knowledge-graph embeddings with PyKEEN, trained fast on small graphs.

The model, optimiser, loss, early stopper, checkpoints and evaluator are PyKEEN's own. Three things
are changed, without forking PyKEEN, because on small graphs they cost more than the epoch itself
(together 8-10x faster than ``pykeen.pipeline`` at the same thread count; ``kgpipe bench complete``):

* PyKEEN 1.11 calls ``gc.collect()`` after every epoch; with torch and PyKEEN imported a full
  collection walks ~400,000 objects (about 0.2 s on 2 cores, against ~10 ms for an epoch of
  Nations). ``fast_training()`` swaps the ``gc`` that PyKEEN's training loop module sees for one
  whose ``collect`` does nothing, only while training runs; everyone else keeps the real ``gc``.
* PyKEEN's 1-N (LCWA) data loader builds every batch one row at a time from a scipy sparse matrix.
  ``OneToNTrainingLoop`` (a subclass) gathers a whole batch with one indexing operation.
* Small score matrices train on one torch thread (``cpu_threads``): a second only adds
  synchronisation there.

Training is 1-N: each ``(head, relation)`` is scored against every entity with a softmax
cross-entropy, and heads are predicted through reciprocal relations ("1vsAll", as in Lacroix et al.
2018 and Ruffinelli et al. 2020). ``kvsall`` groups all tails of a ``(head, relation)`` in one row
instead, as PyKEEN's own LCWA loop does. Embeddings start small (std 1e-3, as in Lacroix et al.):
PyKEEN's standard-normal start gives huge initial scores that small graphs never unlearn.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import time
import types
import warnings
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Iterator, Literal, Mapping

import numpy as np
import torch

from ..errors import ConfigError

logger = logging.getLogger(__name__)

Training = Literal["1vsall", "kvsall", "slcwa"]
METRICS = ("mrr", "hits_at_1", "hits_at_3", "hits_at_10")


@dataclass(frozen=True)
class KGEConfig:
    """How to train one embedding model. The defaults are ComplEx's, chosen by measurement (see ``MODEL_DEFAULTS``)."""

    model: str = "ComplEx"
    embedding_dim: int = 200
    epochs: int = 200  # at most; early stopping usually ends far sooner
    batch_size: int = 256
    learning_rate: float = 0.1
    optimizer: str = "Adagrad"
    regularizer_weight: float = 0.01  # weight of the N3 regulariser (sum of cubed moduli); 0 = none
    init_scale: float = 1e-3  # std of the normal initial embeddings; 0 = the model's own initialiser
    training: Training = "1vsall"
    inverse_triples: bool = True  # reciprocal relations: heads are predicted as tails of r^-1
    label_smoothing: float = 0.0
    num_negatives: int = 32  # slcwa only
    eval_every: int = 5  # early stopping: validate every N epochs ...
    patience: int = 4  # ... and stop after this many validations without improvement
    seed: int = 0
    device: str = "auto"  # "auto" = cuda when available, else cpu
    threads: int = 0  # CPU threads for torch while training; 0 = pick by model size (see cpu_threads)
    model_kwargs: Mapping[str, Any] = field(default_factory=dict)

    def replace(self, **changes: Any) -> "KGEConfig":
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["model_kwargs"] = dict(self.model_kwargs)
        return out


#: What differs from ``KGEConfig``'s defaults per model family (measured; see the README section
#: "Completion (PyKEEN)"). Models that keep their vectors on a sphere or a circle (TransE, RotatE)
#: keep their own initialisation and take no N3 term.
MODEL_DEFAULTS: dict[str, dict[str, Any]] = {
    "complex": {},
    "distmult": {},
    "rotate": {"init_scale": 0.0, "regularizer_weight": 0.0},
    "transe": {"init_scale": 0.0, "regularizer_weight": 0.0},
}


def model_defaults(model: str, **overrides: Any) -> KGEConfig:
    """The measured defaults for ``model`` (any PyKEEN model name), with ``overrides`` on top."""
    from pykeen.models import model_resolver

    try:
        name = model_resolver.lookup(model).__name__
    except (KeyError, ValueError):
        raise ConfigError(f"unknown model {model!r}; use a PyKEEN model name such as ComplEx, RotatE, DistMult, TransE") from None
    # A model not measured here trains with its own initialisation and regularisation.
    unmeasured = {"init_scale": 0.0, "regularizer_weight": 0.0}
    base = KGEConfig(model=name).replace(**MODEL_DEFAULTS.get(name.lower(), unmeasured))
    return base.replace(**overrides)


def resolve_device(device: str) -> torch.device:
    """``auto`` → the GPU when torch sees one, else the CPU; ``cuda`` without a GPU is an error, not a silent CPU."""
    if device in ("auto", "", None):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError("--device cuda was asked for but torch sees no CUDA device; use --device auto or cpu")
    try:
        return torch.device(device)
    except RuntimeError:
        raise ConfigError(f"unknown device {device!r}; use auto, cpu or cuda") from None


def cpu_threads(config: KGEConfig, num_entities: int) -> int:
    """Torch threads for training: one for small score matrices, where threads only add synchronisation.

    Measured on 2 shared cores (Nations, ComplEx dim 200, batch 256): 3.5 ms per batch on one thread,
    22 ms on two. On the same cores idle, two threads train 5% (Nations) to 35% (UMLS) faster for twice
    the CPU time (README, "Throughput"). Work splits well across threads only when a batch's score matrix
    is large.
    """
    if config.threads > 0:
        return config.threads
    work = config.batch_size * num_entities * config.embedding_dim
    return 1 if work < 50_000_000 else torch.get_num_threads()


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` torch intra-op threads, then restore the previous count."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence PyKEEN's (and torch_max_mem's) per-call notes about CPU use and batch sizes: none is actionable here."""
    loggers = [logging.getLogger(name) for name in ("pykeen", "torch_max_mem")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            yield
        finally:
            for lg, level in zip(loggers, levels):
                lg.setLevel(level)


@contextlib.contextmanager
def fast_training() -> Iterator[None]:
    """Skip PyKEEN's per-epoch ``gc.collect()`` while the block runs (nothing else is affected).

    Reference cycles are still collected by Python's automatic generational collector; only the
    forced full collection after every epoch goes.
    """
    import pykeen.training.training_loop as loop_module

    real = loop_module.gc
    loop_module.gc = types.SimpleNamespace(collect=lambda *args, **kwargs: 0)
    try:
        yield
    finally:
        loop_module.gc = real


# -- 1-N training instances and loop -----------------------------------------------------------


class _OneToNInstances(torch.utils.data.Dataset):
    """1-N training rows, indexed a whole batch at a time (``dataset[list_of_rows]``).

    ``1vsall``: one row per triple, with its tail as a one-hot target. ``kvsall``: one row per
    distinct ``(head, relation)``, every known tail set.
    """

    def __init__(self, mapped: np.ndarray, num_entities: int, mode: Training) -> None:
        import scipy.sparse

        self.num_entities = num_entities
        self.one_hot = mode == "1vsall"
        if self.one_hot:
            self.pairs = torch.from_numpy(np.ascontiguousarray(mapped[:, :2]))
            self.tails = torch.from_numpy(np.ascontiguousarray(mapped[:, 2]))
            return
        pairs, row = np.unique(mapped[:, :2], axis=0, return_inverse=True)
        self.pairs = torch.from_numpy(pairs)
        labels = scipy.sparse.csr_matrix(
            (np.ones(len(mapped), dtype=np.float32), (row.reshape(-1), mapped[:, 2])), shape=(len(pairs), num_entities)
        )
        labels.sum_duplicates()
        labels.data[:] = 1.0
        # Dense labels when they are small (one tensor index per batch), sparse rows otherwise.
        self.dense = torch.from_numpy(labels.toarray()) if len(pairs) * num_entities <= 20_000_000 else None
        self.sparse = labels

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, rows: list[int]) -> dict[str, torch.Tensor]:
        index = torch.as_tensor(rows, dtype=torch.long)
        if self.one_hot:
            target = torch.zeros(len(rows), self.num_entities)
            target[torch.arange(len(rows)), self.tails[index]] = 1.0
        elif self.dense is not None:
            target = self.dense[index]
        else:
            target = torch.from_numpy(self.sparse[np.asarray(rows)].toarray())
        return {"pairs": self.pairs[index], "target": target}


def _one_to_n_loop_class() -> type:
    """Build the loop class lazily, so importing kgpipe does not import PyKEEN."""
    from pykeen.training import LCWATrainingLoop

    class OneToNTrainingLoop(LCWATrainingLoop):
        """PyKEEN's LCWA loop with batch-at-a-time data loading (and 1vsAll rows when asked)."""

        def __init__(self, *, rows: Training = "1vsall", **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.rows = rows  # not ``mode``: PyKEEN's loops use that name for the inductive mode

        def _create_training_data_loader(self, triples_factory: Any, sampler: Any, **kwargs: Any) -> Any:
            mapped = triples_factory._add_inverse_triples_if_necessary(mapped_triples=triples_factory.mapped_triples)
            dataset = _OneToNInstances(mapped.numpy(), triples_factory.num_entities, self.rows)
            order = torch.utils.data.RandomSampler(dataset) if kwargs.get("shuffle", True) else range(len(dataset))
            batches = torch.utils.data.BatchSampler(order, kwargs["batch_size"], kwargs.get("drop_last", False))
            # batch_size=None: the sampler hands whole batches to dataset[...]; nothing to collate.
            return torch.utils.data.DataLoader(dataset, sampler=batches, batch_size=None)

    return OneToNTrainingLoop


# -- building and training ---------------------------------------------------------------------


@dataclass
class Trained:
    """A trained model and how the training went."""

    model: Any  # pykeen.models.Model
    config: KGEConfig
    losses: list[float]
    epochs_run: int
    best_epoch: int | None
    stopped_early: bool
    train_seconds: float
    train_cpu_seconds: float
    device: str
    threads: int  # torch CPU threads used for training
    validation: list[float] = field(default_factory=list)  # validation MRR at each early-stopping check


def build_model(config: KGEConfig, training: Any, device: torch.device) -> Any:
    """The PyKEEN model named by ``config``, with the N3 regulariser when the model takes a regulariser."""
    import inspect

    from pykeen.losses import CrossEntropyLoss, SoftplusLoss
    from pykeen.models import model_resolver

    cls = model_resolver.lookup(config.model)
    kwargs: dict[str, Any] = {"triples_factory": training, "random_seed": config.seed}
    params = inspect.signature(cls.__init__).parameters
    if "embedding_dim" in params:
        kwargs["embedding_dim"] = config.embedding_dim
    if "regularizer" in params:
        if config.regularizer_weight > 0:
            kwargs["regularizer"] = "powersum"  # sum_i |x_i|^3 (complex modulus for complex embeddings): N3
            kwargs["regularizer_kwargs"] = {"p": 3.0, "weight": config.regularizer_weight}
        else:
            kwargs["regularizer"] = None
    if config.init_scale > 0:
        init = functools.partial(torch.nn.init.normal_, std=config.init_scale)
        kwargs.update({name: init for name in ("entity_initializer", "relation_initializer") if name in params})
    kwargs["loss"] = CrossEntropyLoss() if config.training != "slcwa" else SoftplusLoss()
    kwargs.update(config.model_kwargs)
    return cls(**kwargs).to(device)


def train(
    config: KGEConfig,
    training: Any,
    validation: Any | None = None,
    *,
    checkpoint: str | Path | None = None,
    checkpoint_minutes: int = 1,
    fast: bool = True,
    progress: bool = False,
) -> Trained:
    """Train ``config.model`` on the ``training`` TriplesFactory; early-stop on ``validation`` MRR.

    ``checkpoint``: a file path; when it exists training resumes from it, and it is rewritten every
    ``checkpoint_minutes`` (0 = every epoch) and at the end. ``fast=False`` keeps PyKEEN's
    per-epoch ``gc.collect()`` and torch's thread count (to measure what they cost).
    """
    from pykeen.evaluation import RankBasedEvaluator
    from pykeen.optimizers import optimizer_resolver
    from pykeen.stoppers import EarlyStopper
    from pykeen.training import SLCWATrainingLoop
    from pykeen.utils import set_random_seed

    device = resolve_device(config.device)
    set_random_seed(config.seed)
    model = build_model(config, training, device)
    optimizer = optimizer_resolver.make(config.optimizer, params=model.get_grad_params(), lr=config.learning_rate)
    if config.training == "slcwa":
        loop: Any = SLCWATrainingLoop(
            model=model, triples_factory=training, optimizer=optimizer,
            negative_sampler_kwargs={"num_negs_per_pos": config.num_negatives},
        )  # fmt: skip
    else:
        loop = _one_to_n_loop_class()(model=model, triples_factory=training, optimizer=optimizer, rows=config.training)

    stopper = None
    if validation is not None and config.patience > 0:
        stopper = EarlyStopper(
            model=model,
            evaluator=RankBasedEvaluator(filtered=True),
            training_triples_factory=training,
            evaluation_triples_factory=validation,
            frequency=config.eval_every,
            patience=config.patience,
            relative_delta=0.002,
            metric="mrr",
            evaluation_batch_size=_eval_batch_size(model),
            use_tqdm=False,
        )
    kwargs: dict[str, Any] = {}
    if checkpoint is not None:
        path = Path(checkpoint)
        path.parent.mkdir(parents=True, exist_ok=True)
        kwargs.update(checkpoint_directory=path.parent, checkpoint_name=path.name, checkpoint_frequency=checkpoint_minutes)
    start, cpu = time.perf_counter(), time.process_time()
    threads = cpu_threads(config, training.num_entities) if fast and device.type == "cpu" else torch.get_num_threads()
    with fast_training() if fast else contextlib.nullcontext(), torch_threads(threads), quiet():
        losses = loop.train(
            triples_factory=training,
            num_epochs=config.epochs,
            batch_size=config.batch_size,
            label_smoothing=config.label_smoothing,
            stopper=stopper,
            use_tqdm=progress,
            use_tqdm_batch=False,
            **kwargs,
        ) or []
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    if checkpoint is not None and stopper is not None:
        _restore_best(model, Path(checkpoint))
    return Trained(
        model=model,
        config=config,
        losses=list(losses),
        epochs_run=loop._epoch,
        best_epoch=getattr(stopper, "best_epoch", None),
        stopped_early=bool(getattr(stopper, "stopped", False)),
        train_seconds=seconds,
        train_cpu_seconds=cpu_seconds,
        device=str(device),
        threads=threads,
        validation=list(getattr(stopper, "results", []) or []),
    )


def _restore_best(model: Any, checkpoint: Path) -> None:
    """After a resumed, already-stopped run PyKEEN leaves the last epoch's weights: load the best epoch's."""
    if not checkpoint.is_file():
        return
    state = torch.load(checkpoint, weights_only=False, map_location=model.device)
    best = state.get("best_epoch_model_checkpoint")
    if state.get("stopper_dict", {}).get("stopped") and best:
        model.load_state_dict(best["model_state_dict"])


def _eval_batch_size(model: Any) -> int:
    """Rows of (query × all entities) scores per evaluation batch, kept near 8M floats."""
    return max(16, min(4096, 8_000_000 // max(1, model.num_entities)))


def evaluate(model: Any, testing: Any, filter_triples: list[Any]) -> dict[str, float]:
    """Filtered rank metrics (both directions, realistic ranks) of ``model`` on ``testing``."""
    from pykeen.evaluation import RankBasedEvaluator

    evaluator = RankBasedEvaluator(filtered=True)
    with torch.inference_mode(), quiet():
        result = evaluator.evaluate(
            model,
            testing.mapped_triples,
            additional_filter_triples=[tf.mapped_triples for tf in filter_triples],
            batch_size=_eval_batch_size(model),
            use_tqdm=False,
        )
    return {name: round(float(result.get_metric(name)), 4) for name in METRICS}


def random_mrr(num_entities: int, testing: Any, filter_triples: list[Any]) -> float:
    """The expected filtered MRR of a uniformly random ranking on ``testing`` (the floor a model must clear).

    A test triple with ``k`` candidates left after filtering has expected reciprocal rank
    ``H_k / k`` (harmonic number over k) under a random order.
    """
    known: dict[tuple[int, int, int], set[int]] = {}
    triples = torch.cat([tf.mapped_triples for tf in [testing, *filter_triples]]).tolist()
    for h, r, t in triples:
        known.setdefault((0, h, r), set()).add(t)
        known.setdefault((1, t, r), set()).add(h)
    total = 0.0
    tests = testing.mapped_triples.tolist()
    for h, r, t in tests:
        for key in ((0, h, r), (1, t, r)):
            k = num_entities - len(known[key]) + 1
            total += sum(1.0 / i for i in range(1, k + 1)) / k
    return total / (2 * len(tests)) if tests else math.nan
