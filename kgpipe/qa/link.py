"""Entity linking: which graph entities does a question name?

Three methods, tried in order, each only where the one before found nothing:

- **exact**: an entity's normalised name or alias occurs in the normalised question as whole tokens
  (underscores count as spaces, so ``frederica_of_mecklenburg-strelitz`` matches "Frederica of
  Mecklenburg Strelitz"); overlapping matches keep the longest;
- **fuzzy**: a question n-gram within a small edit distance of a name (typos, missing accents); candidates
  come from blocking keys (tokens and token prefixes), never from a scan over every entity;
- **embedding**: MiniLM similarity of question n-grams to names, the last resort.

The linker loads the graph's entity names once (``EntityLinker.from_store``) and then links any
number of questions::

    linker = EntityLinker.from_store(store)
    linker.link("Where was the husband of Marie Curie born?")   # [Link(id=..., name='Marie Curie', ...)]
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Sequence

from ..errors import NoEntityLinked
from ..fusion.names import STOPWORDS, edit_ratio, normalise_name
from ..stores import cypher

if TYPE_CHECKING:
    from ..llms.embed import Embedder
    from ..stores import Store

#: Words that name no entity on their own, whatever the graph holds (question words and fillers).
QUESTION_WORDS = frozenset(
    "what which who whom whose where when why how is are was were do does did the a an of in on at to by for "
    "from with and or s name names this that these those it its his her their be been has have had".split()
)
FUZZY_MIN_RATIO = 0.8  # edit ratio a fuzzy match must reach (one typo in a 5-letter name, a swap in a 10-letter one)
EMBED_MIN_SIMILARITY = 0.6  # cosine a question n-gram must reach to link by embedding
_PREFIX = 4  # token prefix length used as a fuzzy blocking key
_MAX_BLOCK = 5000  # blocking keys shared by more names than this are too common to be informative


@dataclass(frozen=True)
class Link:
    """A graph entity the question names: ``method`` is ``exact``, ``fuzzy`` or ``embedding``."""

    id: str
    name: str
    score: float
    method: str
    mention: str = ""  # the question words it was matched on


def link_key(text: str) -> str:
    """The form names and questions are compared in: ``normalise_name`` with underscores as spaces.

    >>> link_key("frederica_of_mecklenburg-strelitz"), link_key("Where's Marie Curie?")
    ('frederica of mecklenburg strelitz', 'where s marie curie')
    """
    return normalise_name(text.replace("_", " "))


def mask_keys(names: Iterable[str]) -> list[str]:
    """The ``masks`` for ``masked``: names and mentions of linked entities in ``link_key`` form, longest first
    (so "marie curie" is masked before "curie")."""
    return sorted({link_key(n) for n in names if n}, key=len, reverse=True)


def masked(text: str, masks: Sequence[str] = ()) -> str:
    """What MiniLM embeds: ``link_key`` form, the linked entities' names and mentions (``masks``, in
    ``link_key`` form) as "someone".

    A question and every fact or path around its entities name those entities: left in, that shared
    name dominates every similarity and drowns the relation that tells facts apart.

    >>> masked("Where was Marie_Curie's husband born?", ["marie curie"])
    'where was someone s husband born'
    """
    text = link_key(text)
    for mask in masks:
        text = re.sub(rf"\b{re.escape(mask)}\b", "someone", text) if mask else text
    return text


class EntityLinker:
    """Links questions to the entities of one graph; built once, used for many questions."""

    def __init__(self, entities: Iterable[tuple[str, str, Sequence[str]]], *, embedder: "Embedder | None" = None) -> None:
        """``entities``: ``(id, name, aliases)`` triples."""
        self.names: dict[str, str] = {}  # id -> display name
        self._exact: dict[str, list[str]] = defaultdict(list)  # key -> entity ids
        self._blocks: dict[str, set[str]] = defaultdict(set)  # blocking key -> name keys
        self._embedder = embedder
        for eid, name, aliases in entities:
            self.names[eid] = name
            for surface in dict.fromkeys([name, *aliases]):
                key = link_key(surface or "")
                if not key or eid in self._exact[key]:
                    continue
                self._exact[key].append(eid)
                for block in _block_keys(key):
                    self._blocks[block].add(key)
        self.longest = max((len(k.split()) for k in self._exact), default=0)

    @classmethod
    def from_store(cls, store: "Store", embedder: "Embedder | None" = None) -> "EntityLinker":
        """Every entity of the store's graph, with its aliases."""
        rows = store.execute(*cypher.entity_index()).rows
        return cls(((r[0], r[1] or "", r[3] or ()) for r in rows), embedder=embedder)

    def __len__(self) -> int:
        return len(self.names)

    def link(self, question: str, limit: int = 5) -> list[Link]:
        """The entities the question names, best first; raises ``NoEntityLinked`` when there are none."""
        tokens = link_key(question).split()
        tried = ["exact"]
        links = self._exact_links(tokens)
        if not links:
            tried.append("fuzzy")
            links = self._fuzzy_links(tokens)
        if not links and self.names:
            tried.append("embedding")
            links = self._embedding_links(tokens)
        if not links:
            if not self.names:
                raise NoEntityLinked(f"the graph has no entities to link {question!r} to: build or import a graph first")
            raise NoEntityLinked(
                f"no entity of the graph ({len(self.names)} entities) is named in {question!r} "
                f"(tried {', '.join(tried)} matching of names and aliases); name an entity the graph contains"
            )
        best: dict[str, Link] = {}
        for lk in sorted(links, key=lambda x: (-x.score, -len(x.mention), x.name)):
            best.setdefault(lk.id, lk)
        return list(best.values())[:limit]

    # -- methods ----------------------------------------------------------------------------------

    def _ngrams(self, tokens: list[str], longest: int) -> list[tuple[int, int, str]]:
        """(start, end, text) of every question n-gram up to ``longest`` tokens, longest first."""
        out = []
        for n in range(min(longest, len(tokens)), 0, -1):
            for i in range(len(tokens) - n + 1):
                words = tokens[i : i + n]
                if all(w in QUESTION_WORDS or w in STOPWORDS for w in words):
                    continue
                out.append((i, i + n, " ".join(words)))
        return out

    def _exact_links(self, tokens: list[str]) -> list[Link]:
        taken = [False] * len(tokens)
        links = []
        for start, end, text in self._ngrams(tokens, self.longest):
            ids = self._exact.get(text)
            if not ids or any(taken[start:end]) or (end - start == 1 and len(text) < 2):
                continue
            taken[start:end] = [True] * (end - start)
            links.extend(Link(eid, self.names[eid], 1.0, "exact", text) for eid in ids)
        return links

    def _fuzzy_links(self, tokens: list[str]) -> list[Link]:
        links = []
        for _, _, text in self._ngrams(tokens, self.longest + 1):
            if len(text) < 5:
                continue
            candidates: set[str] = set()
            for block in _block_keys(text):
                keys = self._blocks.get(block, ())
                if len(keys) <= _MAX_BLOCK:
                    candidates.update(keys)
            for key in candidates:
                ratio = edit_ratio(text, key, FUZZY_MIN_RATIO)
                if ratio >= FUZZY_MIN_RATIO:
                    links.extend(Link(eid, self.names[eid], round(ratio, 4), "fuzzy", text) for eid in self._exact[key])
        return links

    @property
    def embedder(self) -> "Embedder":
        """MiniLM (loaded on first use), shared with whoever asks for it."""
        if self._embedder is None:
            from ..llms.embed import Embedder

            self._embedder = Embedder()
        return self._embedder

    def _embedding_links(self, tokens: list[str]) -> list[Link]:
        grams = [text for _, _, text in self._ngrams(tokens, min(self.longest, 4))]
        if not grams:
            return []
        keys = list(self._exact)
        sims = self.embedder.encode(grams) @ self.embedder.encode(keys).T  # (grams, names)
        links = []
        for g, row in zip(grams, sims):
            for k in row.argsort()[::-1][:3]:
                if row[k] >= EMBED_MIN_SIMILARITY:
                    score = round(float(row[k]), 4)
                    links.extend(Link(eid, self.names[eid], score, "embedding", g) for eid in self._exact[keys[k]])
        return links


def _block_keys(key: str) -> set[str]:
    """Blocking keys of a name: its content tokens and their prefixes (so one typo still shares a key)."""
    out = set()
    for tok in key.split():
        if tok in STOPWORDS or tok in QUESTION_WORDS or len(tok) < 3:
            continue
        out.add(tok)
        out.add(tok[:_PREFIX] + "…")
        out.add("…" + tok[-_PREFIX:])
    return out
