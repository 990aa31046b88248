"""Name and alias search over the graph's entities: fuzzy (rapidfuzz), optionally of one type.

The index is the graph's entity list (``cypher.entity_index``), loaded once and reloaded when the
server changed the graph or after ``max_age`` seconds (someone may build with the CLI meanwhile)::

    index = SearchIndex.from_store(store)
    index.search("marie curi", type="Person")    # [{"id": ..., "name": "Marie Curie", "score": 95.2, ...}]
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from rapidfuzz import fuzz, process, utils

from ..stores import cypher

if TYPE_CHECKING:
    from ..stores import Store

MIN_SCORE = 75.0  # rapidfuzz WRatio (0-100) a surface must reach: "marie curi" scores 95 against "Marie Curie", "paris" 60


class SearchIndex:
    """Every surface (name or alias) of every entity, searchable by fuzzy match."""

    def __init__(self, entities: Iterable[tuple[str, str, str | None, Sequence[str]]]) -> None:
        """``entities``: ``(id, name, type, aliases)``."""
        self.entities: dict[str, dict[str, Any]] = {}
        self.surfaces: list[str] = []
        self.owners: list[str] = []
        for eid, name, etype, aliases in entities:
            self.entities[eid] = {"id": eid, "name": name, "type": etype, "aliases": list(aliases or [])}
            for surface in dict.fromkeys([name or "", *(aliases or [])]):
                if surface:
                    self.surfaces.append(utils.default_process(surface.replace("_", " ")))
                    self.owners.append(eid)

    @classmethod
    def from_store(cls, store: "Store") -> "SearchIndex":
        rows = store.execute(*cypher.entity_index()).rows
        return cls((r[0], r[1] or "", r[2], r[3] or ()) for r in rows)

    def __len__(self) -> int:
        return len(self.entities)

    def search(self, q: str, *, type: str | None = None, limit: int = 10) -> list[dict[str, Any]]:
        """Entities whose name or an alias matches ``q``, best first; ``type`` keeps one type (case-insensitive)."""
        query = utils.default_process(q.replace("_", " "))
        if not query:
            return []
        wanted = type.lower() if type else None
        choices: Any = self.surfaces
        if wanted:
            choices = {i: s for i, s in enumerate(self.surfaces)
                       if (self.entities[self.owners[i]]["type"] or "").lower() == wanted}  # fmt: skip
        out: dict[str, dict[str, Any]] = {}
        hits = process.extract(query, choices, scorer=fuzz.WRatio, limit=limit * 4 + 10, score_cutoff=MIN_SCORE,
                               processor=None)  # fmt: skip
        # exact and prefix matches first, then the fuzzy score; ties to the shorter surface
        hits.sort(key=lambda h: (h[0] != query, not h[0].startswith(query), -h[1], len(h[0])))
        for surface, score, key in hits:
            eid = self.owners[key]
            if eid not in out:
                out[eid] = {**self.entities[eid], "matched": surface, "score": round(float(score), 1)}
            if len(out) >= limit:
                break
        return list(out.values())


class CachedIndex:
    """A ``SearchIndex`` of one store, reloaded after ``invalidate()`` or once older than ``max_age`` seconds."""

    def __init__(self, store: "Store", max_age: float = 30.0) -> None:
        self.store, self.max_age = store, max_age
        self._index: SearchIndex | None = None
        self._loaded = 0.0
        self._lock = threading.Lock()

    def get(self) -> SearchIndex:
        with self._lock:
            if self._index is None or time.monotonic() - self._loaded > self.max_age:
                self._index = SearchIndex.from_store(self.store)
                self._loaded = time.monotonic()
            return self._index

    def invalidate(self) -> None:
        with self._lock:
            self._index = None
