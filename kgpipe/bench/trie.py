"""``kgpipe bench trie``: the KG-Trie's size and speed, and constrained decoding against free decoding.

Part 1, at each size (10^4, 10^5, 10^6 synthetic path texts with PathQuestion-like names, tokenised
with the default model's tokenizer): seconds to tokenise and to build (apart), the trie's bytes and
the build's traced peak allocation, and the cost of one decoding step (``step`` and ``children``)
in ns on random walks down stored paths. Baselines in the same run, as GCR builds its KG-Trie: a
nested dict of token ids (memory) and a marisa-trie whose step lists every key under the prefix
(lookup; needs the ``bench`` extra, ``pip install -e ".[bench]"``, and is skipped without it).

Part 2, on the same prompts in the same run (PathQuestion 2-hop questions when ``shared/data`` is
beside the repository, else a small built-in KB): generated tokens/s of (a) free beam search,
(b) trie-constrained beam search token by token, (c) constrained with jump-forward, each of (b) and
(c) once with a trie of the question entity's own 1-2 hop paths (a handful, as in PathQuestion) and
once with 10^4 other entities' paths added (every beam stays busy), all as ratios of (a). Tokens are
those of each best output, forced ones included; modes rotate per prompt so that a change in
machine load hits all of them.
"""

from __future__ import annotations

import os
import random
import resource
import sys
import time
import tracemalloc
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from ..llms.trie import PathTrie, tokenise_paths

SIZES = (10_000, 100_000, 1_000_000)
_SYLLABLES = ("al", "an", "ar", "ber", "bo", "ca", "del", "di", "el", "en", "fa", "gar", "hen", "il", "is", "ja",
              "ka", "la", "li", "lo", "ma", "mar", "mi", "na", "ne", "nor", "o", "pa", "per", "ra", "ri", "ro",
              "sa", "se", "son", "ta", "te", "ter", "tho", "to", "u", "va", "vi", "wil", "ya", "ze")  # fmt: skip
_RELATIONS = ("gender", "children", "parents", "spouse", "nationality", "profession", "cause of death", "religion",
              "place of death", "institution", "place of birth", "location", "ethnicity", "member of", "works for",
              "located in", "founded by", "part of", "headquarters", "educated at", "award received", "genre",
              "instrument", "record label", "capital", "official language", "currency", "sibling", "employer",
              "notable work")  # fmt: skip
_PROMPT_HEAD = (
    "Question: what is the nationality of the wife of john smith ?\n"
    "<PATH> john smith -> spouse -> mary smith -> nationality -> united kingdom </PATH>\n"
    "Question: what is the profession of the father of anna berg ?\n"
    "<PATH> anna berg -> parents -> karl berg -> profession -> painter </PATH>\n"
)

if TYPE_CHECKING:
    from ..llms import LocalModel


def synthetic_paths(n: int, *, seed: int = 0) -> list[str]:
    """``n`` path texts (" a -> r -> b </PATH>", 30% one hop, 70% two) over ``n // 5`` made-up entities whose
    names are about as long as PathQuestion's (median ~18 characters); skewed heads share prefixes."""
    rng = random.Random(seed)

    def word(lo: int, hi: int) -> str:
        return "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(lo, hi))).capitalize()

    def name() -> str:
        parts = [word(2, 3), word(2, 4)]
        if rng.random() < 0.2:
            parts += ["of", word(2, 3)]
        return " ".join(parts)

    entities = list(dict.fromkeys(name() for _ in range(max(100, n // 5))))  # ordered: same paths every run

    def pick() -> str:  # squaring a uniform draw favours low indices: a few hubs, a long tail
        return entities[int(rng.random() ** 2 * len(entities))]

    out = []
    for _ in range(n):
        hops = [pick(), rng.choice(_RELATIONS), pick()]
        if rng.random() < 0.7:
            hops += [rng.choice(_RELATIONS), pick()]
        out.append(" " + " -> ".join(hops) + " </PATH>")
    return out


def bench_trie(sizes: Sequence[int] = SIZES, *, prompts: int = 6, beams: int = 3, max_new_tokens: int = 48,
               seed: int = 0, decode: bool = True) -> dict[str, Any]:  # fmt: skip
    """Figures for ``kgpipe bench trie`` (see the module docstring)."""
    import torch

    from ..config import Settings
    from ..llms.transformers import TransformersLLM

    llm = TransformersLLM("gemma", Settings(progress=False))
    report: dict[str, Any] = {"model": llm.model_id, "torch_threads": torch.get_num_threads(), "sizes": []}
    for n in sizes:
        report["sizes"].append(_size_run(llm.tokenizer, n, seed))
    if decode:
        report["decoding"] = bench_decoding(llm, prompts=prompts, beams=beams, max_new_tokens=max_new_tokens)
    report["load_average"] = round(os.getloadavg()[0], 1)
    return report


# -- part 1: size and lookups -----------------------------------------------------------------------


def _size_run(tokenizer: Any, n: int, seed: int) -> dict[str, Any]:
    started = time.perf_counter()
    texts = synthetic_paths(n, seed=seed)
    generated = time.perf_counter() - started
    started = time.perf_counter()
    flat, lengths = tokenise_paths(tokenizer, texts)
    tokenised = time.perf_counter() - started
    del texts
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    started = time.perf_counter()
    trie = PathTrie.from_flat(flat, lengths)
    built = time.perf_counter() - started
    tracemalloc.start()
    PathTrie.from_flat(flat, lengths)  # again, traced: tracing slows Python, so not the timed build
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rng = np.random.default_rng(seed)
    walks = [flat[offsets[i] : offsets[i + 1]].tolist() for i in rng.integers(0, n, 2000)]
    row: dict[str, Any] = {
        "paths": n,
        "tokens": int(lengths.sum()),
        "nodes": trie.num_nodes,
        "generate_seconds": round(generated, 2),
        "tokenise_seconds": round(tokenised, 2),
        "build_seconds": round(built, 3),
        "trie_mib": round(trie.nbytes / 2**20, 2),
        "build_peak_mib": round(peak / 2**20, 1),
        "process_peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (2**20 if sys.platform == "darwin" else 1024)),
        "step_ns": _walk_ns(walks, trie.step, 0),
        "children_ns": _children_ns(trie, walks),
    }  # fmt: skip
    if n <= 100_000:  # GCR's nested dicts: GB at 10^5 with its tokenizer; more than this machine has at 10^6
        row["dict_trie"] = _dict_baseline(np.split(flat, offsets[1:-1]), walks)
    row["marisa_trie"] = _marisa_baseline(flat, offsets, walks[: 200 if n < 1_000_000 else 40])
    return row


def _walk_ns(walks: list[list[int]], step: Any, root: Any, repeats: int = 3) -> float:
    """Mean ns of one ``step`` along stored paths (every step is allowed, as in decoding); the best of
    ``repeats`` rounds, so that other load on the machine inflates it less."""
    best = float("inf")
    for _ in range(repeats):
        count, started = 0, time.perf_counter_ns()
        for seq in walks:
            node = root
            for tok in seq:
                node = step(node, tok)
            count += len(seq)
        best = min(best, (time.perf_counter_ns() - started) / max(1, count))
    return round(best)


def _children_ns(trie: PathTrie, walks: list[list[int]]) -> float:
    nodes = []
    for seq in walks[:500]:
        node = 0
        for tok in seq:
            nodes.append(node)
            node = trie.step(node, tok)
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter_ns()
        for node in nodes:
            trie.children(node)
        best = min(best, (time.perf_counter_ns() - started) / max(1, len(nodes)))
    return round(best)


def _dict_baseline(seqs: list[np.ndarray], walks: list[list[int]]) -> dict[str, Any]:
    """A nested dict of token ids, GCR's in-memory KG-Trie: traced memory, build seconds, step ns."""
    tracemalloc.start()
    started = time.perf_counter()
    root: dict[int, Any] = {}
    for seq in seqs:
        node = root
        for tok in seq.tolist():
            node = node.setdefault(tok, {})
    built = time.perf_counter() - started
    size, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    step_ns = _walk_ns(walks, dict.__getitem__, root)
    return {"mib": round(size / 2**20, 1), "build_seconds_traced": round(built, 2), "step_ns": step_ns}


def _marisa_baseline(flat: np.ndarray, offsets: np.ndarray, walks: list[list[int]]) -> dict[str, Any]:
    """GCR's marisa-trie KG-Trie: token sequences as strings, next tokens found by listing every key under the
    prefix (the first two steps answered from a cache, as GCR does). Cost grows with the paths under a prefix."""
    try:
        import marisa_trie
    except ImportError:
        return {"skipped": 'marisa-trie is not installed (pip install -e ".[bench]")'}

    def text(seq: Sequence[int]) -> str:  # one character per token id, skipping the surrogate range
        return "".join(chr(t if t < 0xD800 else t + 0x800) for t in seq)

    started = time.perf_counter()
    trie = marisa_trie.Trie(text(flat[a:b].tolist()) for a, b in zip(offsets[:-1], offsets[1:]))
    built = time.perf_counter() - started
    starts, lengths = offsets[:-1], np.diff(offsets)
    first = set(flat[starts[lengths > 0]].tolist())
    second: dict[int, set[int]] = {}
    two = starts[lengths > 1]
    for a, b in zip(flat[two].tolist(), flat[two + 1].tolist()):
        second.setdefault(a, set()).add(b)

    def allowed(prefix: list[int]) -> set[str]:
        if not prefix:
            return {text([t]) for t in first}
        if len(prefix) == 1:
            return {text([t]) for t in second.get(prefix[0], ())}
        key = text(prefix)
        return {k[len(key)] for k in trie.keys(key) if len(k) > len(key)}

    count, started_ns = 0, time.perf_counter_ns()
    for seq in walks:
        for i in range(len(seq)):
            allowed(seq[:i])
            count += 1
    return {"build_seconds": round(built, 2), "step_ns": round((time.perf_counter_ns() - started_ns) / max(1, count))}


# -- part 2: decoding -------------------------------------------------------------------------------


def bench_decoding(llm: "LocalModel", *, prompts: int = 6, beams: int = 3, max_new_tokens: int = 48,
                   others: int = 10_000) -> dict[str, Any]:  # fmt: skip
    """tokens/s of free, constrained and constrained + jump-forward beam search on the same prompts: each
    question's own paths (a few, as in PathQuestion), and the same plus ``others`` synthetic paths of other
    entities (a large trie that keeps every beam busy), against the same free decoding."""
    from ..qa.beam import generate_paths
    from ..llms.trie import path_trie

    cases = _cases(prompts)
    extra = synthetic_paths(others, seed=1) if others else []
    modes = {"unconstrained": (None, False), "constrained": ("own", False), "jump_forward": ("own", True),
             "constrained_large_trie": ("large", False), "jump_forward_large_trie": ("large", True)}  # fmt: skip
    totals = {m: {"tokens": 0, "seconds": 0.0, "forward_passes": 0} for m in modes}
    passes = [0]
    hook = llm.model.base_model.register_forward_hook(lambda *_: passes.__setitem__(0, passes[0] + 1))  # every pass runs the body
    same_best, faithful, checked, free_in_trie = 0, 0, 0, 0
    try:
        generate_paths(llm, cases[0][0], None, beams=beams, max_new_tokens=8)  # warm up
        for i, (prompt, texts) in enumerate(cases):
            tries = {"own": path_trie(llm.tokenizer, texts), "large": path_trie(llm.tokenizer, texts + extra)}
            names = list(modes)
            best: dict[str, Any] = {}
            for mode in names[i % len(names) :] + names[: i % len(names)]:
                which, jump = modes[mode]
                passes[0] = 0
                started = time.perf_counter()
                out = generate_paths(llm, prompt, tries[which] if which else None, beams=beams,
                                     max_new_tokens=max_new_tokens, jump_forward=jump)  # fmt: skip
                totals[mode]["seconds"] += time.perf_counter() - started
                totals[mode]["forward_passes"] += passes[0]
                if out:
                    totals[mode]["tokens"] += len(out[0].tokens)
                    best[mode] = out[0]
                    if which:
                        stored = texts if which == "own" else texts + extra
                        checked += 1
                        faithful += all(d.path_ids and all(stored[j] == d.text for j in d.path_ids) for d in out)
            for plain, jumped in (("constrained", "jump_forward"), ("constrained_large_trie", "jump_forward_large_trie")):
                same_best += plain in best and jumped in best and best[plain].text == best[jumped].text
            free_in_trie += "unconstrained" in best and best["unconstrained"].text in set(texts)
    finally:
        hook.remove()
    result: dict[str, Any] = {"prompts": len(cases), "beams": beams, "max_new_tokens": max_new_tokens, "other_paths": others}
    for mode, t in totals.items():
        result[mode] = {**t, "seconds": round(t["seconds"], 2), "tokens_per_s": round(t["tokens"] / t["seconds"], 2)}
    base = result["unconstrained"]["tokens_per_s"]
    for mode in list(modes)[1:]:  # targets: constrained >= 0.9x, jump-forward > 1x
        result[f"ratio_{mode}"] = round(result[mode]["tokens_per_s"] / base, 2)
    result["same_best_path_with_and_without_jump"] = f"{same_best}/{2 * len(cases)}"
    result["constrained_runs_all_faithful"] = f"{faithful}/{checked}"
    result["unconstrained_best_is_a_stored_path"] = f"{free_in_trie}/{len(cases)}"
    return result


def _cases(limit: int) -> list[tuple[str, list[str]]]:
    """(prompt, path texts) per question: PathQuestion PQ-2H when it is there (the folder ``KGPIPE_PATHQUESTION``
    names, else ``../shared/data/qa/pathquestion`` beside the clone; it is not shipped), else a small KB."""
    beside = Path(__file__).resolve().parents[3] / "shared" / "data" / "qa" / "pathquestion"
    folder = Path(os.environ.get("KGPIPE_PATHQUESTION", beside))
    if (folder / "PQ-2H.txt").is_file():
        kb = [tuple(x.replace("_", " ") for x in line.split("\t")) for line in _lines(folder / "2H-kb.txt")]
        questions = [(q, path.split("#")[0].replace("_", " ")) for q, _, path in
                     (line.split("\t")[:3] for line in _lines(folder / "PQ-2H.txt"))]  # fmt: skip
        step = max(1, len(questions) // limit)
        questions = questions[::step][:limit]
    else:
        kb = [("marie curie", "spouse", "pierre curie"), ("pierre curie", "place of birth", "paris"),
              ("marie curie", "place of birth", "warsaw"), ("marie curie", "nationality", "poland"),
              ("pierre curie", "profession", "physicist"), ("marie curie", "children", "irene joliot-curie"),
              ("irene joliot-curie", "spouse", "frederic joliot-curie"), ("paris", "location", "france")]  # fmt: skip
        questions = [("where was the husband of marie curie born ?", "marie curie"),
                     ("who is the spouse of the daughter of marie curie ?", "marie curie")][:limit]  # fmt: skip
    out: dict[str, list[tuple[str, str]]] = {}
    for head, rel, tail in kb:
        out.setdefault(head, []).append((rel, tail))
    cases = []
    for question, entity in questions:
        texts = []
        for rel, mid in out.get(entity, []):
            texts.append(f" {entity} -> {rel} -> {mid} </PATH>")
            texts += [f" {entity} -> {rel} -> {mid} -> {r2} -> {t2} </PATH>" for r2, t2 in out.get(mid, [])]
        if texts:
            cases.append((f"{_PROMPT_HEAD}Question: {question}\n<PATH>", texts))
    return cases


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def format_report(report: dict[str, Any]) -> str:
    """The short human table printed without ``--json``."""
    lines = [f"model {report['model']}, {report['torch_threads']} torch threads, load average {report['load_average']}",
             f"{'paths':>9} {'tokens':>10} {'tokenise s':>10} {'build s':>8} {'trie MiB':>9} {'peak MiB':>9} "
             f"{'step ns':>8} {'dict MiB':>9} {'marisa ns':>10}"]  # fmt: skip
    for r in report["sizes"]:
        marisa = r["marisa_trie"].get("step_ns", "-")
        lines.append(f"{r['paths']:>9} {r['tokens']:>10} {r['tokenise_seconds']:>10} {r['build_seconds']:>8} "
                     f"{r['trie_mib']:>9} {r['build_peak_mib']:>9} {r['step_ns']:>8} "
                     f"{r.get('dict_trie', {}).get('mib', '-'):>9} {marisa:>10}")  # fmt: skip
    d = report.get("decoding")
    if d:
        lines.append(f"decoding, {d['prompts']} prompts, {d['beams']} beams (large trie: + {d['other_paths']} other paths):")
        for mode in ("unconstrained", "constrained", "jump_forward", "constrained_large_trie", "jump_forward_large_trie"):
            m = d[mode]
            ratio = "" if mode == "unconstrained" else f"  {d['ratio_' + mode]}x"
            lines.append(f"  {mode:<24} {m['tokens_per_s']:>7} tokens/s  ({m['tokens']} tokens, "
                         f"{m['forward_passes']} passes, {m['seconds']} s){ratio}")  # fmt: skip
    return "\n".join(lines)
