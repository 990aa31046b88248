"""KG-Trie: the token ids of serialised graph paths in a flat, breadth-first trie (GCR's KG-Trie, made compact).

Nodes are numbered breadth first, so the children of every node are one contiguous id range and the
whole trie is three numpy arrays: the token on the edge into each node, the start of each node's
child range (CSR), and a flag for nodes where a sequence ends. Memory is O(total tokens) with no
Python object per node; one step of constrained decoding is a binary search inside one node's
children, so its cost depends on the branching there, not on how many paths are stored (GCR's
marisa-trie lookup scans every key under the prefix; its nested dicts take GB at 10^5 paths)::

    trie = PathTrie.build([[5, 7, 9], [5, 7, 2], [5, 8]])
    trie.children(0)          # array([5])
    trie.forced_run(0)        # ([5], node after 5): only one way to go
    trie.ends(trie.step(trie.step(0, 5), 8))   # (2,)

The build sorts the sequences (least-significant-column radix passes of numpy's stable argsort)
and then fills each depth's nodes in one vectorised pass, so 10^6 paths build in seconds.
"""

from __future__ import annotations

import itertools
from bisect import bisect_left
from typing import Any, Iterable, Sequence

import numpy as np

PATH_OPEN = "<PATH>"  # what a path prompt ends with; the default context texts are tokenised after
_TOKENISE_BATCH = 8192


class PathTrie:
    """Token-id trie of serialised paths, flat (CSR) arrays: per node a sorted slice of child token ids and
    child node ids; node 0 is the root. Memory O(total tokens), per-step lookup O(log branching), independent
    of the number of paths. Leaves (ends of sequences) record which sequence ids end there (several paths may
    share one text)."""

    __slots__ = ("_token", "_child_start", "_terminal", "_end_nodes", "_end_ids", "_size", "_tok", "_start", "_term")

    def __init__(self, token: np.ndarray, child_start: np.ndarray, terminal: np.ndarray,
                 end_nodes: np.ndarray, end_ids: np.ndarray) -> None:  # fmt: skip
        self._token = token  # token on the edge into each node (root: -1); children of a node are sorted
        self._child_start = child_start  # children of node v are ids child_start[v] .. child_start[v+1]-1
        self._terminal = terminal  # node where at least one sequence ends
        self._end_nodes = end_nodes  # end node of each sequence, sorted ...
        self._end_ids = end_ids  # ... and the sequence ids in that order
        self._size = len(end_ids)
        for array in (token, child_start, terminal, end_nodes, end_ids):
            array.flags.writeable = False  # children() hands out views
        # Scalar reads through memoryviews give Python ints at a fraction of numpy's per-item cost.
        self._tok, self._start, self._term = memoryview(token), memoryview(child_start), memoryview(terminal)

    def __reduce__(self) -> tuple[Any, ...]:
        return (PathTrie, (self._token, self._child_start, self._terminal, self._end_nodes, self._end_ids))

    # -- building ---------------------------------------------------------------------------------

    @classmethod
    def build(cls, sequences: Sequence[Sequence[int]]) -> "PathTrie":
        """A trie of ``sequences``; sequence id = position in the input. Duplicates share one end node."""
        lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
        tokens = np.fromiter(itertools.chain.from_iterable(sequences), dtype=np.int64, count=int(lengths.sum()))
        return cls.from_flat(tokens, lengths)

    @classmethod
    def from_flat(cls, tokens: np.ndarray, lengths: np.ndarray) -> "PathTrie":
        """A trie from all sequences concatenated (``tokens``) and their ``lengths``, without Python lists."""
        lengths = np.asarray(lengths, dtype=np.int64)
        tokens = np.asarray(tokens)
        if len(tokens) != int(lengths.sum()):
            raise ValueError("lengths do not add up to the number of tokens")
        if len(tokens) and int(tokens.min()) < 0:
            raise ValueError("token ids must be non-negative")
        top = int(tokens.max()) + 1 if len(tokens) else 1
        tokens = tokens.astype(np.int32 if top < 2**31 else np.int64, copy=False)
        n = len(lengths)
        starts = np.zeros(n, dtype=np.int64)
        np.cumsum(lengths[:-1], out=starts[1:])
        maxlen = int(lengths.max()) if n else 0

        # Lexicographic order by least-significant-first radix passes of a stable sort. Each pass keys on
        # several columns packed into one int64 (token + 1, so a row that has ended sorts first), and rows
        # too short to reach a pass's columns keep their place at the front without being sorted.
        bits = top.bit_length()
        per_key = max(1, 62 // bits)
        order = np.arange(n, dtype=np.int64)
        for first in range(((maxlen - 1) // per_key) * per_key if maxlen else -1, -1, -per_key):
            key = np.zeros(n, dtype=np.int64)
            for depth in range(first, first + per_key):
                has = lengths > depth
                key <<= bits
                key[has] |= tokens[starts[has] + depth] + 1
            reach = lengths[order] > first
            rows = order[reach]
            rows = rows[np.argsort(key[rows], kind="stable")]
            order = rows if len(rows) == n else np.concatenate([order[~reach], rows])

        lens = lengths[order]
        sorted_starts = starts[order]

        def column(depth: int) -> np.ndarray:
            """Token at ``depth`` of each row in sorted order, -1 past a row's end."""
            out = np.full(n, -1, dtype=np.int64)
            has = lens > depth
            out[has] = tokens[sorted_starts[has] + depth]
            return out

        # Breadth-first numbering: at each depth the new nodes appear in sorted-row order, which is also
        # (parent id, token) order, so every node's children form one contiguous, token-sorted id range.
        same = np.zeros(n, dtype=bool)  # row k equals row k-1 on every column so far
        same[1:] = True
        path = np.zeros(n, dtype=np.int64)  # node id on row k's path at the previous depth (root: 0)
        end_node = np.zeros(n, dtype=np.int64)  # by sorted row; rows of length 0 end at the root
        index = np.int32 if len(tokens) + 2 < 2**31 else np.int64
        token = np.empty(len(tokens) + 1, dtype=np.int32)  # at most one node per token, and the root
        child_start = np.empty(len(tokens) + 2, dtype=index)
        token[0] = -1
        next_id, level_start, level_size = 1, 0, 1
        for depth in range(maxlen):
            col = column(depth)
            same[1:] &= col[1:] == col[:-1]
            new = (lens > depth) & ~same
            count = int(new.sum())
            ids = np.cumsum(new) + (next_id - 1)
            children = np.bincount(path[new] - level_start, minlength=level_size)
            firsts = child_start[level_start : level_start + level_size]
            firsts[0] = next_id
            np.cumsum(children[:-1], out=firsts[1:])
            firsts[1:] += next_id
            token[next_id : next_id + count] = col[new]
            path = np.maximum.accumulate(np.where(new, ids, 0))  # shared prefixes reuse the row above's node
            ending = lens == depth + 1
            end_node[ending] = path[ending]
            level_start, level_size, next_id = next_id, count, next_id + count
        child_start[level_start : next_id + 1] = next_id  # the deepest level's leaves, and the end sentinel
        token.resize(next_id, refcheck=False)  # in place: no second copy of the arrays at the peak
        child_start.resize(next_id + 1, refcheck=False)

        ids_by_row = order.astype(index)
        by_node = np.argsort(end_node, kind="stable")
        end_nodes = end_node[by_node].astype(index)
        terminal = np.zeros(next_id, dtype=bool)
        terminal[end_nodes] = True
        return cls(token, child_start, terminal, end_nodes, ids_by_row[by_node])

    # -- lookups ----------------------------------------------------------------------------------

    def children(self, node: int) -> np.ndarray:
        """Token ids allowed after ``node``, sorted (a read-only view)."""
        return self._token[self._child_start[node] : self._child_start[node + 1]]

    def step(self, node: int, token: int) -> int:
        """The child of ``node`` reached by ``token``, or -1 if the trie does not allow it there."""
        lo, hi, tok = self._start[node], self._start[node + 1], self._tok
        i = bisect_left(tok, token, lo, hi) if hi - lo > 1 else lo  # one child (most steps): no search
        return i if i < hi and tok[i] == token else -1

    def forced_run(self, node: int) -> tuple[list[int], int]:
        """The tokens that follow ``node`` without a choice (one child at each step) and the node they lead to;
        the run stops early at a node where a sequence ends, since a beam must be able to finish there."""
        run: list[int] = []
        start, term, tok = self._start, self._term, self._tok
        while start[node + 1] - start[node] == 1:
            node = start[node]
            run.append(tok[node])
            if term[node]:
                break
        return run, node

    def ends(self, node: int) -> tuple[int, ...]:
        """Ids of the sequences that end exactly at ``node`` (empty if none)."""
        if not self._term[node]:
            return ()
        lo, hi = np.searchsorted(self._end_nodes, [node, node + 1])
        return tuple(int(i) for i in self._end_ids[lo:hi])

    def is_end(self, node: int) -> bool:
        """Whether some sequence ends at ``node``."""
        return bool(self._term[node])

    def branching(self, node: int) -> int:
        """Number of children of ``node``."""
        return self._start[node + 1] - self._start[node]

    @property
    def num_nodes(self) -> int:
        return len(self._token)

    @property
    def nbytes(self) -> int:
        """Bytes held by the trie's arrays (all of its memory but a few object headers)."""
        arrays = (self._token, self._child_start, self._terminal, self._end_nodes, self._end_ids)
        return int(sum(a.nbytes for a in arrays))

    def __len__(self) -> int:
        return self._size

    def __repr__(self) -> str:
        return f"PathTrie({self._size} sequences, {self.num_nodes} nodes, {self.nbytes / 2**20:.1f} MiB)"


def continuation_ids(tokenizer: Any, texts: Iterable[str], *, context: str = PATH_OPEN) -> Iterable[list[int]]:
    """Token ids of each text as the decoder produces it right after ``context`` (no BOS or special tokens).

    Each text is tokenised behind ``context`` and the context's own tokens are cut off, so tokenizers
    that add a leading-space marker to a fresh string (SentencePiece's dummy prefix) or merge across
    the boundary still give the ids the model sees; where the context's tokens do not come out as a
    prefix, the text is tokenised alone.
    """
    encode = _batch_encoder(tokenizer)
    head = encode([context])[0] if context else []
    batch: list[str] = []

    def flush() -> Iterable[list[int]]:
        for text, ids in zip(batch, encode([context + t for t in batch])):
            yield ids[len(head) :] if ids[: len(head)] == head else encode([text])[0]

    for text in texts:
        batch.append(text)
        if len(batch) == _TOKENISE_BATCH:
            yield from flush()
            batch = []
    if batch:
        yield from flush()


def _batch_encoder(tokenizer: Any) -> Any:
    """texts -> ids without special tokens; straight through a fast tokenizer's Rust backend when there is one
    (the same ids, about 3x faster than the Python wrapper on 10^5 texts)."""
    backend = getattr(tokenizer, "backend_tokenizer", None) if getattr(tokenizer, "is_fast", False) else None
    if backend is not None:
        fast = getattr(backend, "encode_batch_fast", backend.encode_batch)
        return lambda texts: [e.ids for e in fast(texts, add_special_tokens=False)]
    return lambda texts: tokenizer(texts, add_special_tokens=False).input_ids


def tokenise_paths(tokenizer: Any, texts: Sequence[str], *, context: str = PATH_OPEN) -> tuple[np.ndarray, np.ndarray]:
    """All texts' continuation ids concatenated (int32) and their lengths: what ``PathTrie.from_flat`` takes."""
    lengths = np.zeros(len(texts), dtype=np.int64)
    parts: list[np.ndarray] = []  # one array per batch of texts, never one list per path
    batch: list[int] = []
    for i, ids in enumerate(continuation_ids(tokenizer, texts, context=context)):
        lengths[i] = len(ids)
        batch.extend(ids)
        if len(batch) >= 64 * _TOKENISE_BATCH:
            parts.append(np.asarray(batch, dtype=np.int32))
            batch = []
    parts.append(np.asarray(batch, dtype=np.int32))
    return np.concatenate(parts), lengths


def path_trie(tokenizer: Any, texts: Sequence[str], *, context: str = PATH_OPEN) -> PathTrie:
    """A trie of ``texts`` tokenised as continuations of ``context`` (see ``continuation_ids``);
    sequence id = index in ``texts``."""
    return PathTrie.from_flat(*tokenise_paths(tokenizer, texts, context=context))
