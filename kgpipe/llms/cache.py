"""On-disk response cache shared by every LLM backend, so a re-run costs no model calls.

Entries live in one SQLite file (WAL mode, so several processes can read and write it at once),
keyed by a hash of everything that determines an answer: model id, method, input text,
``max_new_tokens`` and stop strings::

    llm = CachedLLM(TransformersLLM("gemma", settings), ".kgpipe/llm_cache.sqlite")
    llm.generate(prompts)   # misses go to the model in one batched call
    llm.generate(prompts)   # served from disk: llm.calls unchanged, llm.hits grows
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from functools import cache
from pathlib import Path
from typing import Any, Callable, Sequence

from .contract import scorer, structured_generator, yes_no_scorer

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    model_id TEXT NOT NULL,
    method TEXT NOT NULL,
    value TEXT NOT NULL
)
"""


class CachedLLM:
    """Wraps a backend; answers repeated requests from disk and forwards only the misses.

    ``calls`` counts inputs actually sent to the backend, ``hits`` those answered from the cache.
    The wrapper declares exactly the capabilities of the wrapped backend (``Scorer.logprob``,
    ``YesNoScorer.yes_no``, ``StructuredGenerator.generate_structured``, all cached): ``CachedLLM(llm, path)``
    returns the subclass that has them, so ``kgpipe.llms.scorer``/``yes_no_scorer``/``structured_generator``
    answer for it as for the backend. Only replies are stored:
    a request that raised (after the backend's retries) is asked again next time. Other public
    attributes (``model``, ``tokenizer``) are read through from the wrapped backend.
    """

    def __new__(cls, llm: Any, path: "str | os.PathLike[str]") -> "CachedLLM":
        if cls is CachedLLM:
            cls = _variant(scorer(llm) is not None, yes_no_scorer(llm) is not None, structured_generator(llm) is not None)
        return super().__new__(cls)

    def __init__(self, llm: Any, path: str | os.PathLike[str]) -> None:
        self.inner = llm
        self.model_id: str = llm.model_id
        self.path = Path(path)
        self.calls = 0
        self.hits = 0
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # One connection guarded by a lock: threads share it, other processes rely on SQLite's own locking.
        self._db = sqlite3.connect(self.path, timeout=60.0, check_same_thread=False, isolation_level=None)
        # Several processes opening a new file at once (Ray actors) race to switch it to WAL, and SQLite answers
        # "database is locked" at once, whatever the busy timeout: retried for up to ten seconds.
        for attempt in range(100):
            try:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
                self._db.execute(_SCHEMA)
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == 99:
                    raise
                time.sleep(0.1)

    def generate(self, prompts: Sequence[str], *, max_new_tokens: int = 128, stop: Sequence[str] = ()) -> list[str]:
        """Cached completions; misses are sent to the backend as one batched call, order preserved."""
        stop = list(stop)
        keys = [self._key("generate", [p, max_new_tokens, stop]) for p in prompts]

        def compute(todo: list[int]) -> list[Any]:
            return list(self.inner.generate([prompts[i] for i in todo], max_new_tokens=max_new_tokens, stop=stop))

        return [str(v) for v in self._through("generate", keys, compute)]

    def memo(self, method: str, payloads: Sequence[Any], compute: Callable[[list[int]], list[Any]]) -> list[Any]:
        """JSON values of any other deterministic work with this model (grounded extraction), cached like replies:
        ``payloads`` are JSON-able inputs that determine each value, ``compute`` gets the indices of the misses."""
        return self._through(method, [self._key(method, [p]) for p in payloads], compute)

    def __getattr__(self, name: str) -> Any:
        # Only called for attributes this class lacks: public read-through attributes such as `model`
        # and `tokenizer`. Capabilities are never read through: they are declared by the subclass.
        inner = self.__dict__.get("inner")
        if inner is None or name.startswith("_") or name in _CAPABILITIES:
            raise AttributeError(name)
        return getattr(inner, name)

    def _key(self, method: str, payload: list[Any]) -> str:
        blob = json.dumps([self.model_id, method, *payload], ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def _through(self, method: str, keys: list[str], compute: Callable[[list[int]], list[Any]]) -> list[Any]:
        """Values for ``keys`` from disk; the missing ones from ``compute`` (given unique indices), then stored."""
        found = self._get(keys)
        values: list[Any] = [found.get(k) for k in keys]
        first: dict[str, int] = {}  # a prompt repeated within one call is computed once
        for i, key in enumerate(keys):
            if key not in found:
                first.setdefault(key, i)
        todo = list(first.values())
        if todo:
            fresh = compute(todo)
            if len(fresh) != len(todo):
                raise RuntimeError(f"{self.model_id} returned {len(fresh)} results for {len(todo)} inputs")
            computed = {keys[i]: v for i, v in zip(todo, fresh)}
            self._put(method, computed)
            values = [computed[k] if k in computed else v for k, v in zip(keys, values)]
        with self._lock:
            self.calls += len(todo)
            self.hits += len(keys) - len(todo)
        return values

    def _get(self, keys: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        unique = list(dict.fromkeys(keys))
        with self._lock:
            for start in range(0, len(unique), 500):  # stay under SQLite's bound-parameter limit
                part = unique[start : start + 500]
                marks = ",".join("?" * len(part))
                rows = self._db.execute(f"SELECT key, value FROM responses WHERE key IN ({marks})", part)
                out.update((k, json.loads(v)) for k, v in rows)
        return out

    def _put(self, method: str, values: dict[str, Any]) -> None:
        rows = [(k, self.model_id, method, json.dumps(v, ensure_ascii=False)) for k, v in values.items()]
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")  # one transaction: other processes see all of it or none
            try:
                self._db.executemany("INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?)", rows)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __repr__(self) -> str:
        return f"CachedLLM({self.inner!r}, {str(self.path)!r})"


class _CachedScorer(CachedLLM):
    def logprob(self, contexts: Sequence[str], continuations: Sequence[str]) -> list[float]:
        """Cached summed log-probabilities of continuations given contexts."""
        if len(contexts) != len(continuations):
            raise ValueError("logprob needs as many contexts as continuations")
        keys = [self._key("logprob", [c, x]) for c, x in zip(contexts, continuations)]

        def compute(todo: list[int]) -> list[Any]:
            return list(self.inner.logprob([contexts[i] for i in todo], [continuations[i] for i in todo]))

        return [float(v) for v in self._through("logprob", keys, compute)]


class _CachedYesNo(CachedLLM):
    def yes_no(self, prompts: Sequence[str]) -> list[float]:
        """Cached yes/no log-odds."""
        keys = [self._key("yes_no", [p]) for p in prompts]

        def compute(todo: list[int]) -> list[Any]:
            return list(self.inner.yes_no([prompts[i] for i in todo]))

        return [float(v) for v in self._through("yes_no", keys, compute)]


class _CachedStructured(CachedLLM):
    def generate_structured(
        self, prompts: Sequence[str], schemas: Sequence[dict[str, Any]], *, max_new_tokens: int = 128
    ) -> list[str]:
        """Cached JSON replies under a schema; a refusal (``NotImplementedError``) is never stored."""
        if len(prompts) != len(schemas):
            raise ValueError("generate_structured needs one schema per prompt")
        keys = [self._key("structured", [p, s, max_new_tokens]) for p, s in zip(prompts, schemas)]

        def compute(todo: list[int]) -> list[Any]:
            return list(self.inner.generate_structured([prompts[i] for i in todo], [schemas[i] for i in todo],
                                                       max_new_tokens=max_new_tokens))  # fmt: skip

        return [str(v) for v in self._through("structured", keys, compute)]


_CAPABILITIES = ("logprob", "yes_no", "generate_structured")


@cache
def _variant(scores: bool, yes_no: bool, structured: bool) -> type[CachedLLM]:
    """The subclass of ``CachedLLM`` declaring exactly these capabilities."""
    bases = [b for b, has in ((_CachedScorer, scores), (_CachedYesNo, yes_no), (_CachedStructured, structured)) if has]
    return type("CachedLLM", tuple(bases), {}) if bases else CachedLLM
