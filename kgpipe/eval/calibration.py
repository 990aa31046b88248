"""How the judge calibration's AUROC estimate converges with the number of calibration examples.

Scores every row of the built-in calibration set once with the configured model, then re-computes each
signal's AUROC and weight on random subsets of n examples (each with its true claim and its two false
ones) over several seeds. This chose how many examples an HTTP model is calibrated on
(``kgpipe.trust.calibrate.CALIBRATION_EXAMPLES``)::

    kgpipe eval calibration [--llm gemma] [--seeds 20] [--sizes 10,15,20,25,30,40] [--json]
"""

from __future__ import annotations

import random
import statistics
from typing import Any, Sequence

from ..config import Settings
from ..llms import resolve_llm
from ..records import Triple
from ..trust.calibrate import CALIBRATION_SET, auroc, corrupted, weight
from ..trust.signals import SIGNALS, raw_signals


def evaluate_calibration(
    settings: Settings | None = None, *, seeds: int = 20, sizes: Sequence[int] = (10, 15, 20, 25, 30, 40)
) -> dict[str, Any]:
    """Per subset size and signal: mean and standard deviation of the AUROC over ``seeds`` random subsets,
    the largest error against all examples, and the share of subsets where the signal keeps a weight."""
    settings = settings or Settings(progress=False)
    llm = resolve_llm(settings.llm, settings, cache=False)
    examples = list(CALIBRATION_SET)
    false = corrupted(examples)  # two per example, in example order
    rows = [(text, Triple(h, r, t), "true", i) for i, (text, h, r, t, _) in enumerate(examples)]
    rows += [(text, triple, kind, i // 2) for i, (text, triple, kind) in enumerate(false)]
    signals = raw_signals([r[1] for r in rows], [r[0] for r in rows], llm, wanted=SIGNALS, batch_size=16)
    present = [s for s in SIGNALS if all(s in x for x in signals)]

    def area(name: str, pick: set[int] | None) -> tuple[float, int, int]:
        pos = [x[name] for x, r in zip(signals, rows) if (pick is None or r[3] in pick) and r[2] == "true"]
        neg = [x[name] for x, r in zip(signals, rows) if (pick is None or r[3] in pick) and r[2] != "true"]
        return auroc(pos, neg), len(pos), len(neg)

    full = {s: round(area(s, None)[0], 4) for s in present}
    results = []
    for n in sizes:
        for name in present:
            areas, weighted = [], 0
            for seed in range(seeds):
                value, n_pos, n_neg = area(name, set(random.Random(seed).sample(range(len(examples)), n)))
                areas.append(value)
                weighted += weight(value, n_pos, n_neg) > 0
            results.append({
                "examples": n, "signal": name, "auroc_mean": round(statistics.mean(areas), 4),
                "auroc_sd": round(statistics.pstdev(areas), 4), "max_error": round(max(abs(a - full[name]) for a in areas), 4),
                "weighted_share": round(weighted / seeds, 2),
            })  # fmt: skip
    return {"model": llm.model_id, "examples": len(examples), "seeds": seeds, "auroc_all": full, "subsets": results}
