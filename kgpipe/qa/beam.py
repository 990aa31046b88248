"""Beam search constrained by a KG-Trie, with jump-forward over forced tokens (GCR decoding, SGLang's jump-forward).

With a trie, every beam may only take a token that continues some stored path (all other logits are
-inf); a beam that completes a path is finished and one that has no continuation is closed, never
let loose on the whole vocabulary, so every returned path exists in the trie. Without a trie the same
loop is an ordinary beam search that stops at ``</PATH>``, EOS or the token budget.

Jump-forward: where the trie leaves exactly one way to go (the rest of an entity or relation name
once its first tokens are chosen), the whole forced run is fed to the model in the same forward
pass as the token that led into it, and that pass's logits give every forced token's
log-probability. The search itself stays token-synchronous: a beam inside a forced run still takes
one (already scored) token per step and competes with the others at equal length, so results are
those of token-by-token beam search, only with fewer forward passes (a pass is needed when some beam
branches). Letting beams that jumped compete with beams that did not would prune a long, good beam
against short ones that have not paid for their tokens yet.

Scores are summed log-probabilities, not length-normalised: every candidate is a complete path, and
the sum is the model's probability of the path's whole text, comparable across paths of different
token counts (dividing by length would favour paths through long names whose forced tokens cost
almost nothing). It also makes pruning exact: a beam's score only falls as it grows, so decoding
stops once no live beam can beat the ``beams``-th finished one.

The KV cache holds all beams as one batch. A pass feeds each beam its new tokens, right-padded to
the longest feed; the padding stays in the cache as masked holes, and position ids count only real
tokens, so each beam sees exactly its own sequence.
"""

from __future__ import annotations

import heapq
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from ..llms.decode import eos_ids, pad_id
from ..progress import quiet_third_party
from ..llms.trie import PathTrie

if TYPE_CHECKING:
    from ..llms import LocalModel

log = logging.getLogger(__name__)

STOP = "</PATH>"
# Config fields of transformers models that change logits after the output projection.
_LOGIT_POSTPROCESSING = ("final_logit_softcapping", "logit_scale", "logits_scaling", "output_multiplier_scale")


@dataclass(frozen=True)
class Decoded:
    """One decoded beam."""

    tokens: tuple[int, ...]  # generated token ids (after the prompt)
    text: str  # decoded text
    logprob: float  # sum of token log-probabilities under the model (forced tokens included)
    path_ids: tuple[int, ...]  # trie sequence ids this beam completed (empty when unconstrained / not completed)


@dataclass
class _Beam:
    tokens: list[int]  # tokens taken so far
    score: float
    node: int  # trie node after ``tokens`` (-1 without a trie)
    row: int  # its row in the batched cache
    ahead: list[tuple[int, float, int]] = field(default_factory=list)  # forced (token, logprob, node) already fed
    feed: list[int] = field(default_factory=list)  # tokens to feed in the next pass


def generate_paths(llm: "LocalModel", prompt: str, trie: PathTrie | None, *, beams: int = 3, max_new_tokens: int = 64,
                   jump_forward: bool = True, stop: str = STOP) -> list[Decoded]:  # fmt: skip
    """Up to ``beams`` distinct completions of ``prompt``, best (highest summed log-probability) first.

    With ``trie``: only paths stored in it, each with the ids of the sequences it completes; without:
    free beam search of the same width ending at ``stop``, EOS or ``max_new_tokens``.
    ``llm`` is a ``TransformersLLM`` (any causal LM with a KV cache: ``.model``, ``.tokenizer``, ``.device``).
    """
    with quiet_third_party():
        return _Search(llm, trie, beams, max_new_tokens, jump_forward, stop).run(prompt)


class _Search:
    def __init__(self, llm: "LocalModel", trie: PathTrie | None, beams: int, budget: int, jump: bool, stop: str) -> None:
        if beams < 1:
            raise ValueError("beams must be at least 1")
        self.model, self.tok, self.device = llm.model, llm.tokenizer, torch.device(llm.device)
        self.trie, self.width, self.budget, self.jump, self.stop = trie, beams, budget, jump and trie is not None, stop
        self.pad = pad_id(self.tok)
        self.eos = set(eos_ids(self.tok, self.model))
        self.finished: list[tuple[float, int, Decoded]] = []  # min-heap of the best `beams` results
        self.seen: set[Any] = set()  # what distinguishes results: trie node, or text without a trie
        self.counter = 0
        self.head: Any = None  # set once checked: see _try_split_head
        self.body: Any = None
        self._warned = False

    # -- the loop -----------------------------------------------------------------------------------

    @torch.inference_mode()
    def run(self, prompt: str) -> list[Decoded]:
        trie = self.trie
        if trie is not None and len(trie) == 0:
            return []
        prompt_ids: list[int] = self.tok(prompt).input_ids or [self.tok.bos_token_id or self.pad]
        self.anchor = prompt_ids[-1:]
        root = _Beam([], 0.0, -1 if trie is None else 0, 0)
        if trie is not None:
            if trie.is_end(0):
                self._finish([], 0.0, 0)
            if trie.branching(0) == 0:
                return self._results()
            root.feed = trie.forced_run(0)[0][: self.budget] if self.jump else []
        # Prefill: the prompt and the root's forced run, scored by the same pass.
        self.cache, self.positions = None, [0]
        self.mask = torch.zeros((1, 0), dtype=torch.long, device=self.device)
        self.dists = torch.zeros((1, 0), device=self.device)
        run = root.feed
        root.feed = prompt_ids + run
        self._forward([root], len(prompt_ids))
        root.ahead = self._along(run, self._last_lps[0], root.node)
        live = [root]
        while live:
            if len(self.finished) == self.width and max(b.score for b in live) <= self.finished[0][0]:
                break  # scores only fall: no live beam can enter the results any more
            live = self._step(live)
        return self._results()

    def _step(self, live: list[_Beam]) -> list[_Beam]:
        """One token for every beam: the best ``beams`` extensions stay live, completed ones are recorded."""
        trie, k = self.trie, 2 * self.width
        candidates: list[tuple[float, int, int, int, bool]] = []  # (score, beam, token, node, forced)
        for i, beam in enumerate(live):
            if beam.ahead:  # inside a forced run: its one token is already scored
                token, lp, node = beam.ahead[0]
                candidates.append((beam.score + lp, i, token, node, True))
                continue
            dist = self.dists[beam.row]
            if trie is None:
                values, index = torch.topk(dist, k)
                tokens, nodes = index.tolist(), [-1] * k
            else:
                allowed = trie.children(beam.node)
                if len(allowed) == 0:
                    continue  # closed: nothing in the trie continues it (never "allow everything")
                values, index = torch.topk(dist[torch.from_numpy(allowed.astype("int64")).to(self.device)], min(k, len(allowed)))
                tokens = [int(allowed[j]) for j in index.tolist()]
                nodes = [trie.step(beam.node, t) for t in tokens]
            candidates += [(beam.score + v, i, t, n, False) for v, t, n in zip(values.tolist(), tokens, nodes)]
        candidates.sort(key=lambda c: -c[0])
        chosen: list[_Beam] = []
        for score, i, token, node, forced in candidates:
            if len(chosen) == self.width or (len(self.finished) == self.width and score <= self.finished[0][0]):
                break
            parent = live[i]
            tokens = parent.tokens + [token]
            if len(tokens) > self.budget:
                continue
            if trie is None:
                if token in self.eos or len(tokens) >= self.budget or self._stopped(tokens):
                    self._finish(tokens, score, -1)
                else:
                    chosen.append(_Beam(tokens, score, -1, parent.row, feed=[token]))
                continue
            if trie.is_end(node):
                self._finish(tokens, score, node)
            if trie.branching(node) == 0 or len(tokens) >= self.budget:
                continue
            if forced:
                chosen.append(_Beam(tokens, score, node, parent.row, ahead=parent.ahead[1:]))
            else:
                run = trie.forced_run(node)[0] if self.jump and not trie.is_end(node) else []
                chosen.append(_Beam(tokens, score, node, parent.row, feed=[token, *run[: self.budget - len(tokens)]]))
        if not chosen:
            return []
        self._reorder([b.row for b in chosen])
        for row, beam in enumerate(chosen):
            beam.row = row
        if any(b.feed for b in chosen):
            self._forward(chosen, 1)
            for beam, lps in zip(chosen, self._last_lps):
                if beam.feed:
                    beam.ahead = self._along(beam.feed[1:], lps, beam.node)
                    beam.feed = []
        return chosen

    def _forward(self, beams: list[_Beam], scored_from: int) -> None:
        """One pass over every beam's ``feed`` (none: only holes); keeps the log-probs of feed[scored_from:]
        in ``_last_lps`` and each fed row's next-token distribution in ``dists``."""
        feeds = [b.feed for b in beams]
        width = max(len(f) for f in feeds)
        ids = torch.full((len(feeds), width), self.pad, dtype=torch.long)
        block = torch.zeros((len(feeds), width), dtype=torch.long)
        pos = torch.zeros((len(feeds), width), dtype=torch.long)
        for i, f in enumerate(feeds):
            ids[i, : len(f)] = torch.tensor(f, dtype=torch.long)
            block[i, : len(f)] = 1
            pos[i] = self.positions[i] + torch.arange(width).clamp(max=max(len(f) - 1, 0))
        self.mask = torch.cat([self.mask, block.to(self.device)], dim=1)
        window = getattr(getattr(self.model, "config", None), "sliding_window", None)
        if isinstance(window, int) and self.mask.shape[1] > window and not self._warned and not bool(self.mask.all()):
            # Sliding-window layers measure their window in cache slots, holes included: from here on a
            # beam with holes sees a little less than the window behind it, so its scores are approximate.
            log.warning("prompt + decoded tokens + padding exceed the model's %d-token sliding window", window)
            self._warned = True
        seen = self.mask.shape[1] - width
        inputs = dict(
            input_ids=ids.to(self.device), attention_mask=self.mask, position_ids=pos.to(self.device),
            past_key_values=self.cache, use_cache=True, cache_position=torch.arange(seen, seen + width, device=self.device),
        )  # fmt: skip
        # (row, block position) whose next-token distribution is needed: scored tokens' and each row's last.
        need = [(i, j) for i, f in enumerate(feeds) for j in range(scored_from - 1, len(f))]
        rows = torch.tensor([i for i, _ in need], device=self.device)
        cols = torch.tensor([j for _, j in need], device=self.device)
        if self.head is not None:  # the vocabulary projection on real positions only, none on padding
            out = self.body(**inputs)
            logp = self.head(out.last_hidden_state[rows, cols]).float().log_softmax(-1)
        else:
            keep = width - scored_from + 1
            out = self.model(**inputs, logits_to_keep=keep, output_hidden_states=self.cache is None)
            if self.cache is None:
                self._try_split_head(out)
            logp = out.logits[:, -keep:].float().log_softmax(-1)[rows, cols - (width - keep)]
        self.cache = out.past_key_values
        if self.dists.shape[-1] != logp.shape[-1]:
            self.dists = torch.zeros((len(feeds), logp.shape[-1]), device=self.device)
        self._last_lps, at = [], 0
        for i, f in enumerate(feeds):
            if not f:
                self._last_lps.append([])
                continue
            n = len(f) - scored_from + 1
            mine, at = logp[at : at + n], at + n
            target = torch.tensor(f[scored_from:], dtype=torch.long, device=self.device)
            self._last_lps.append(mine[torch.arange(n - 1, device=self.device), target].tolist())
            self.dists[i] = mine[n - 1]
            self.positions[i] += len(f)

    def _try_split_head(self, out: Any) -> None:
        """From the first pass on, run the model's body and apply its output embedding only where logits are
        needed, if that reproduces the model's own logits (no soft-capping or scaling after the projection)."""
        head, body = self.model.get_output_embeddings(), getattr(self.model, "base_model", None)
        if head is None or body is None or body is self.model or not getattr(out, "hidden_states", None):
            return
        config = getattr(self.model, "config", None)
        if any(getattr(config, name, None) not in (None, 1, 1.0) for name in _LOGIT_POSTPROCESSING):
            return  # caught by name: on small logits, soft-capping changes too little to see below
        if torch.equal(head(out.hidden_states[-1][:, -1:]), out.logits[:, -1:]):
            self.head, self.body = head, body

    def _along(self, run: list[int], lps: list[float], node: int) -> list[tuple[int, float, int]]:
        """A fed forced run as (token, logprob, trie node after it) steps to take later."""
        out = []
        for token, lp in zip(run, lps):
            node = self.trie.step(node, token) if self.trie is not None else -1
            out.append((token, lp, node))
        return out

    # -- bookkeeping --------------------------------------------------------------------------------

    def _reorder(self, rows: list[int]) -> None:
        if rows == list(range(self.mask.shape[0])):
            return
        idx = torch.tensor(rows, dtype=torch.long, device=self.device)
        self.cache.reorder_cache(idx)
        self.mask = self.mask.index_select(0, idx)
        self.dists = self.dists.index_select(0, idx)
        self.positions = [self.positions[i] for i in rows]

    def _stopped(self, tokens: list[int]) -> bool:
        tail = tokens[-(4 * len(self.stop) + 2) :]
        return bool(self.stop) and self.stop in self.tok.decode(tail, skip_special_tokens=True)

    def _finish(self, tokens: list[int], score: float, node: int) -> None:
        text = self._decode(tokens)
        if self.trie is not None:
            key: Any = node
            path_ids = self.trie.ends(node)
        else:
            if self.stop and self.stop in text:
                text = text[: text.index(self.stop) + len(self.stop)]
            key, path_ids = text, ()
        if key in self.seen:
            return
        result = Decoded(tuple(tokens), text, score, path_ids)
        self.counter += 1
        entry = (score, -self.counter, result)
        if len(self.finished) < self.width:
            heapq.heappush(self.finished, entry)
        elif score > self.finished[0][0]:
            heapq.heapreplace(self.finished, entry)
        else:
            return
        self.seen.add(key)

    def _decode(self, tokens: list[int]) -> str:
        """Text of ``tokens`` as a continuation: decoded behind the prompt's last token, whose text is then cut
        off, so tokenizers that drop a leading space at the start of a text (SentencePiece) keep it."""

        def text(ids: list[int]) -> str:
            return str(self.tok.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False))

        head, whole = text(self.anchor), text(self.anchor + tokens)
        return whole[len(head) :] if whole.startswith(head) else text(tokens)

    def _results(self) -> list[Decoded]:
        return [d for _, _, d in sorted(self.finished, key=lambda e: (-e[0], -e[1]))]
