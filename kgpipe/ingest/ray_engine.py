"""Extraction and judging on a Ray cluster (``kgpipe build --engine ray``): the local build's groups of chunks
go through Ray Data, the driver fuses and writes them, in order.

The build (``pipeline.build``) loads, chunks and groups documents as the local engine does; each group is one
row of a ``ray.data`` dataset, extracted and judged by ``map_batches`` over a pool of ``settings.ray_actors``
actors, each resolving the configured LLM once (the local model on its own device, or an HTTP client with
its own ``llm_concurrency``, which the two blocks such an actor works on at once share). Ray and the build's
one MiniLM actor start before the driver chunks anything (``RayBuild``), and every MiniLM user goes through it.
The driver reads the results back in group order (``iter_batches``) and hands each group to the same
fuse-and-write step as the local engine (``pipeline.commit_group``: one global ``EntityIndex``, one writer), so
the graph, its ids and its provenance are the local build's.

Two pieces of a build's state stay single:

* the judge calibration is measured (or read) once on the driver and shipped to the actors;
* the relation ``Canonicaliser`` clusters wordings group by group (a wording gets one label in every
  group). When clustering can happen (``canonical_relations`` with free extraction or no ontology), the
  stage is split: the actor pool proposes, one actor holding the build's canonicaliser canonicalises the
  groups in order, and a second pool judges. Grounded extraction under an ontology only ever yields the
  ontology's labels, which need no clusters: one pool does it all (a canonicaliser that would cluster
  there raises instead of diverging).

Every actor opens the same SQLite response cache: WAL mode and one ``BEGIN IMMEDIATE`` transaction per
batch of replies, with SQLite's busy timeout (60 s) waiting out the other writers (README, "Scaling").

Failures: an actor that dies is restarted and its task retried (Ray Data's actor pools do so by default); a driver
that dies leaves its unwritten documents unmarked, so the next build redoes only those.
"""

from __future__ import annotations

import logging
import os
import pickle
import socket
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator
from urllib.parse import urlsplit

from ..config import Settings
from ..errors import ConfigError, LLMError, MissingDependency
from ..llms import resolve_llm, usage
from ..llms.embed import DIMENSIONS
from ..progress import verbose
from ..records import Chunk, Document
from .blocks import blocks_of, merge
from .candidates import Candidates, canonicalise_candidates, extract_and_judge, judge_candidates, propose
from .relations import Canonicaliser

if TYPE_CHECKING:
    import numpy as np

    from ..llms import LLM
    from ..ontology import Ontology
    from ..trust.calibrate import Calibration

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 3.0  # seconds to reach a --ray-address before saying it is unreachable
BLOCKS_IN_FLIGHT = 2  # blocks an HTTP client's actor works on at once, each in a thread (``_run``)
Group = tuple[list[Document], list[Chunk]]


def import_ray() -> Any:
    """The ``ray`` module, or the error that says what to install."""
    try:
        import ray
        import ray.data
    except ImportError:
        raise MissingDependency("ray", "kgpipe build --engine ray", install="'kgpipe[ray]'") from None
    return ray


@dataclass(frozen=True)
class _Job:
    """What every actor of a build needs, shipped once per actor."""

    llm: str
    settings: Settings
    ontology: "Ontology | None"
    calibration: "Calibration | LLMError | None"
    canonicaliser: Canonicaliser | None  # the build's, for the one ordered canonicalising actor
    embedder: Any = None  # the build's ``_Embedder`` actor, MiniLM for every extracting actor


class RayBuild:
    """Ray for one build: joined (``settings.ray_address``) or started here, and the build's embedding actor, started
    at once so that MiniLM loads while the driver reads and chunks the documents.

    The embedding actor serves every MiniLM user of the build: the extracting actors (snapping, relation
    re-ranking), the ordered canonicaliser, and the driver's fusion and chunk embeddings (``embed()``), so the
    driver never loads MiniLM itself (README "Scaling"). ``close()`` stops the actor, and Ray if started here.
    """

    def __init__(self, settings: Settings, ontology: "Ontology | None") -> None:
        ray = import_ray()
        ordered = _needs_ordered_canonicaliser(settings, ontology)
        self.started_here = connect(settings, actors=settings.ray_actors * (2 if ordered else 1) + ordered)
        self.embedder = ray.remote(_Embedder).options(num_cpus=0, max_restarts=-1, max_task_retries=-1).remote()

    def embed(self) -> "_RemoteEmbed":
        """MiniLM for the driver (``relations.Embed``, and ``fusion``'s embedder): rows from the embedding actor."""
        return _RemoteEmbed(self.embedder)

    def close(self) -> None:
        ray = import_ray()
        if ray.is_initialized():
            ray.kill(self.embedder)
        if self.started_here:
            ray.shutdown()


def extract_on_ray(
    groups: Iterable[Group],
    llm: "str | LLM",
    settings: Settings,
    *,
    ray_build: RayBuild,
    ontology: "Ontology | None",
    calibration: "Calibration | LLMError | None",
    canonicaliser: Canonicaliser,
    on_usage: Callable[[int, int], None] = lambda calls, hits: None,
) -> Iterator[tuple[list[Document], list[Chunk], Candidates]]:
    """Each group with its candidates (``extract_and_judge``'s), computed on Ray and yielded in group order.

    ``llm`` must be a backend name: each actor resolves its own. ``on_usage(calls, hits)`` gets each
    group's LLM requests and cache hits. ``ray_build`` is the build's Ray (``RayBuild``), closed by the caller.
    """
    if not isinstance(llm, str):
        raise ConfigError("--engine ray needs the LLM as a name (gemma, hf:..., openai:...): "
                          "each Ray actor resolves its own")
    ray = import_ray()
    rest = iter(groups)
    first = next(rest, None)
    if first is None:
        return
    # Actors may run in another folder: the state folder (response cache, calibration, models) by absolute path.
    settings = replace(settings, state_dir=str(Path(settings.state_dir).resolve()), progress=False)
    ordered = _needs_ordered_canonicaliser(settings, ontology)
    job = _Job(llm, settings, ontology, calibration, canonicaliser if ordered else None, ray_build.embedder)
    yield from _run(ray, [first, *rest], job, settings, ordered, on_usage)


def _run(
    ray: Any, groups: list[Group], job: _Job, settings: Settings, ordered: bool, on_usage: Callable[[int, int], None],
) -> Iterator[tuple[list[Document], list[Chunk], Candidates]]:
    with warnings.catch_warnings():  # its deprecated fields warn on every copy
        warnings.simplefilter("ignore", DeprecationWarning)
        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True  # blocks come back in build order
        context.enable_progress_bars = verbose()
        context.print_on_execution_start = verbose()
    actors = max(1, settings.ray_actors)
    parts = actors if _splits(job.llm) else 1
    rows = []
    for g, (_, chunks) in enumerate(groups):
        blocks = blocks_of(chunks, parts)
        rows += [{"group": g, "block": b, "blocks": len(blocks), "data": pickle.dumps(block)}
                 for b, block in enumerate(blocks)]  # fmt: skip
    ds = ray.data.from_items(rows, override_num_blocks=len(rows))  # one block per Ray block: spread across actors
    # Ray Data's actor pools restart a dead actor and retry its tasks by default (``_apply_default_remote_args`` in
    # ray/data/_internal/execution/operators/actor_pool_map_operator.py); Ray 2.60 deprecates setting it here.
    options = {"batch_size": 1, "batch_format": "numpy", "num_cpus": 1}
    stages = ("propose", "canonicalise", "judge") if ordered else ("all",)
    for stage in stages:
        # An HTTP client's actor works on two blocks at once, in threads sharing its ``llm_concurrency`` slots: while
        # one block runs spaCy, waits for MiniLM or has fewer requests left than slots, the other's fill them. A
        # local model's actor (its batches are what its device holds) and the ordered canonicaliser take one. No
        # more queued than running: a block waiting behind a busy actor would wait while others idle.
        size = 1 if stage == "canonicalise" else actors
        threads = BLOCKS_IN_FLIGHT if stage != "canonicalise" and _splits(job.llm) else 1
        pool = ray.data.ActorPoolStrategy(size=size, max_tasks_in_flight_per_actor=threads,
                                          max_concurrent_calls_per_actor=threads, enable_true_multi_threading=threads > 1)
        ds = ds.map_batches(_Worker, fn_constructor_args=(job, stage), compute=pool, **options)
    arrived: dict[int, dict[int, Candidates]] = {}  # group -> its blocks' candidates so far
    size_of = {row["group"]: row["blocks"] for row in rows}
    following = 0
    for batch in ds.iter_batches(batch_size=1, batch_format="numpy", prefetch_batches=2):
        for g, b, data, calls, hits in zip(batch["group"], batch["block"], batch["data"], batch["calls"], batch["hits"]):
            arrived.setdefault(int(g), {})[int(b)] = pickle.loads(data)
            on_usage(int(calls), int(hits))
        # A safeguard: groups are yielded strictly in build order, each once all its blocks have come.
        while len(arrived.get(following, ())) == size_of.get(following):
            docs, chunks = groups[following]
            blocks = arrived.pop(following)
            yield docs, chunks, merge([blocks[b] for b in sorted(blocks)])
            following += 1
    if following != len(groups):
        raise RuntimeError(f"Ray returned {following} of {len(groups)} groups")


def _splits(llm: str) -> bool:
    """Whether a group may be cut into blocks: an HTTP backend answers each prompt by itself, so a chunk's replies
    do not depend on the chunks beside it. A local model decodes and scores batches, whose padding may move a
    score in its last digits: its groups stay whole (and are what a device's batches should be anyway)."""
    return llm.partition(":")[0] == "openai"


class _Worker:
    """One Ray actor of a stage: ``all`` (extract and judge), or ``propose`` → ``canonicalise`` → ``judge``.

    Each loads only what its stage uses, when its first block comes (an actor Ray starts for a pool with fewer
    blocks than actors loads nothing): ``judge`` the LLM, ``canonicalise`` the build's canonicaliser (MiniLM),
    ``propose`` and ``all`` the LLM and what extraction asks for (spaCy; MiniLM through the build's ``_Embedder``).
    """

    def __init__(self, job: _Job, stage: str) -> None:
        _quiet_worker()
        if stage != "canonicalise" and _splits(job.llm):
            _without_torch()
        self.job, self.stage = job, stage
        self.lock = threading.Lock()  # blocks may run in threads at once (``_run``): the LLM and its usage are shared
        self.reported = (0, 0)  # the LLM's (calls, hits) already reported with a block
        self.waiting: list[tuple[int, Candidates, int, int]] = []  # canonicalise: a group's blocks until all came
        self.group = -1
        # The ordered stage uses the build's canonicaliser; the others only what it computes per phrase.
        if stage == "canonicalise":
            assert job.canonicaliser is not None
            self.canon: Canonicaliser = job.canonicaliser
            self.llm: LLM | None = None
        else:
            shared = _RemoteEmbed(job.embedder) if job.embedder is not None else None
            self.canon = (_NoClusters if stage == "all" else Canonicaliser)(job.ontology, shared)
            self.llm = None  # resolved once per actor, at its first block

    def __call__(self, batch: dict[str, "np.ndarray"]) -> dict[str, "np.ndarray"]:
        import numpy as np

        out: dict[str, list[Any]] = {k: [] for k in ("group", "block", "blocks", "data", "calls", "hits")}
        costs = [batch[k] for k in ("calls", "hits") if k in batch]  # absent in the first stage
        for g, b, n, data, *counts in zip(batch["group"], batch["block"], batch["blocks"], batch["data"], *costs):
            with self.lock:
                if self.llm is None and self.stage != "canonicalise":
                    self.llm = resolve_llm(self.job.llm, self.job.settings)
            earlier = [int(c) for c in counts] or [0, 0]  # what the block cost in the stages before
            if self.stage == "canonicalise":
                done = self._canonicalise(int(g), int(b), int(n), pickle.loads(data), *earlier)
            else:
                done = [(int(b), self._one(pickle.loads(data)), *earlier)]
            spent = self._spent()
            for k, (block, found, calls, hits) in enumerate(done):
                out["group"].append(int(g))
                out["block"].append(block)
                out["blocks"].append(int(n))
                out["data"].append(pickle.dumps(found))
                out["calls"].append(calls + (spent[0] if k == 0 else 0))
                out["hits"].append(hits + (spent[1] if k == 0 else 0))
        return {"group": np.array(out["group"], dtype=np.int64), "block": np.array(out["block"], dtype=np.int64),
                "blocks": np.array(out["blocks"], dtype=np.int64), "data": np.array(out["data"], dtype=object),
                "calls": np.array(out["calls"], dtype=np.int64), "hits": np.array(out["hits"], dtype=np.int64)}  # fmt: skip

    def _spent(self) -> tuple[int, int]:
        """The LLM requests and cache hits since the last block came back (other threads' too): each counted once."""
        with self.lock:
            before, now = self.reported, usage(self.llm) if self.llm is not None else (0, 0)
            self.reported = now
        return now[0] - before[0], now[1] - before[1]

    def _canonicalise(self, group: int, block: int, blocks: int, found: Candidates, calls: int,
                      hits: int) -> list[tuple[int, Candidates, int, int]]:  # fmt: skip
        """The blocks of a group, canonicalised together once the last has come (the canonicaliser's clusters
        depend on the whole group's wordings, as in the local build); nothing before."""
        if self.waiting and self.group != group:
            raise RuntimeError(f"group {group} reached the ordered canonicaliser before group {self.group} was whole")
        self.group = group
        self.waiting.append((block, found, calls, hits))
        if len(self.waiting) < blocks:
            return []
        done, self.waiting = sorted(self.waiting, key=lambda w: w[0]), []
        whole = Candidates(kept=[t for _, found, _, _ in done for t in found.kept])
        kept = canonicalise_candidates(whole, self.canon)
        block_of = {c.id: k for k, (_, part, _, _) in enumerate(done) for c in part.read}
        for _, part, _, _ in done:
            part.kept = []
        for t in kept:  # each back to its block (blocks hold distinct chunks), in order
            done[block_of[t.provenance.chunk_id if t.provenance else ""]][1].kept.append(t)
        first = done[0][1].stages
        first["refine"] = {**first.get("refine", {}), "seconds": round(
            first.get("refine", {}).get("seconds", 0.0) + whole.stages["refine"]["seconds"], 2)}  # fmt: skip
        return done

    def _one(self, data: Any) -> Candidates:
        job, settings = self.job, self.job.settings
        assert self.llm is not None
        if self.stage == "propose":
            return propose(data, self.llm, settings, ontology=job.ontology, canonicaliser=self.canon)
        if self.stage == "judge":
            return judge_candidates(data, self.llm, settings, ontology=job.ontology, calibration=job.calibration)
        return extract_and_judge(data, self.llm, settings, ontology=job.ontology, calibration=job.calibration,
                                 canonicaliser=self.canon)  # fmt: skip


class _Embedder:
    """A Ray actor holding MiniLM (``kgpipe.llms.embed.Embedder``) for the actors of a build, which reach it
    through ``_RemoteEmbed``. It loads MiniLM at once, while the other actors start, so none waits for it later."""

    def __init__(self) -> None:
        from ..llms.embed import Embedder, load_minilm

        _quiet_worker()
        load_minilm()
        self.embedder = Embedder()

    def encode(self, texts: list[str]) -> np.ndarray:
        return self.embedder.encode(texts)


class _RemoteEmbed:
    """``relations.Embed`` inside an actor: rows from the build's ``_Embedder``, remembered per text (the
    ontology's label texts are asked for again and again)."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle
        self.rows: dict[str, np.ndarray] = {}
        self.encoded = 0  # texts asked for (``Embedder.encoded``, which fusion reports)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        import numpy as np
        import ray

        todo = list(dict.fromkeys(t for t in texts if t not in self.rows))
        if todo:
            self.rows.update(zip(todo, ray.get(self.handle.encode.remote(todo))))
            self.encoded += len(todo)
        return np.stack([self.rows[t] for t in texts]) if texts else np.zeros((0, DIMENSIONS), dtype=np.float32)


class _NoClusters(Canonicaliser):
    """A canonicaliser for a stage that runs out of build order: clustering there would give a wording
    another label than the local build does, so it is refused (``_needs_ordered_canonicaliser`` is wrong)."""

    def cluster(self, relations: Sequence[str]) -> dict[str, str]:
        if relations:
            raise RuntimeError(f"relation wordings {list(relations)[:3]} need the build's ordered canonicaliser")
        return {}


def _needs_ordered_canonicaliser(settings: Settings, ontology: "Ontology | None") -> bool:
    """Whether relation wordings may be clustered (``Canonicaliser.cluster``, whose clusters grow with the
    build): canonical relations, and free extraction or no ontology. Grounded extraction under an ontology
    yields the ontology's labels only (decoded under its grammar, or snapped with unmapped ones dropped)."""
    return settings.canonical_relations and (ontology is None or settings.extraction != "grounded")


def preflight(settings: Settings) -> None:
    """What ``--engine ray`` needs, checked before a build loads anything: the ``ray`` package, and a
    ``ray_address`` (when given) that answers."""
    import_ray()
    address = settings.ray_address.strip()
    if address and address != "auto":
        _check_reachable(address)


def connect(settings: Settings, *, actors: int) -> bool:
    """Join ``settings.ray_address`` or start Ray on this machine; True when this call started it.

    A local Ray gets enough logical CPUs for the actors (each asks for one), no dashboard and quiet logs.
    An address that does not answer within ``CONNECT_TIMEOUT`` is a ``ConfigError``, not a hang.
    """
    ray = import_ray()
    if ray.is_initialized():
        return False
    quiet = {"include_dashboard": False, "log_to_driver": verbose(),
             "logging_level": logging.INFO if verbose() else logging.WARNING, "configure_logging": True}
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")  # workers use this interpreter, never a uv run
    address = settings.ray_address.strip()
    if not address:
        ray.init(address="local", num_cpus=max(os.cpu_count() or 1, actors + 1), **quiet)  # a new one, never another's
        return True
    if address != "auto":
        _check_reachable(address)
    try:
        ray.init(address=address, **{k: v for k, v in quiet.items() if k != "include_dashboard"})
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ConfigError(f"cannot join the Ray cluster at {address!r}: {exc}. Start one with `ray start --head`, "
                          "or leave ray_address empty to start Ray on this machine") from None  # fmt: skip
    return True


def _check_reachable(address: str) -> None:
    """Fail fast when nothing listens at ``host:port`` (``ray.init`` would retry for a minute or more)."""
    parts = urlsplit(address if "://" in address else f"ray-gcs://{address}")
    try:
        host, port = parts.hostname, parts.port or (10001 if parts.scheme == "ray" else 6379)
    except ValueError:
        raise ConfigError(f"--ray-address {address!r} is not host:port, ray://host:port or auto") from None
    if not host:
        raise ConfigError(f"--ray-address {address!r} is not host:port, ray://host:port or auto")
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT):
            pass
    except OSError as exc:
        raise ConfigError(f"no Ray cluster answers at {address!r} ({exc}). Start one there with `ray start --head`, "
                          "or leave ray_address empty to start Ray on this machine") from None  # fmt: skip


def _without_torch() -> None:
    """Inside an actor that asks an HTTP server: ``torch`` made unimportable before spaCy loads. thinc (spaCy's
    layers) imports torch whenever it is installed, 1.1 of the 2.0 CPU seconds of readying spaCy's pipeline in an
    actor (README, "Scaling"), though the pipeline runs on numpy; such an actor needs torch for nothing else
    (MiniLM is the embedding actor's). Ray runs each actor in a process of its own, so nothing else is touched."""
    import sys

    if "torch" not in sys.modules:
        sys.modules["torch"] = None  # type: ignore[assignment]  # import torch: ImportError, thinc's "no torch"


def _quiet_worker() -> None:
    """Inside an actor: third-party chatter only when kgpipe is verbose, as in the driver."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    logging.getLogger("kgpipe").setLevel(logging.WARNING)
