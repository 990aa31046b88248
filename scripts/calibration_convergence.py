"""How the judge calibration's AUROC estimate converges with the number of calibration examples.

Scores every row of the built-in calibration set once with a model (default: the packaged Gemma 3 270M),
then re-computes each signal's AUROC and weight on random subsets of n examples (each with its true
claim and its two false ones) over several seeds. Used to choose how many examples an HTTP model is
calibrated on (``kgpipe.calibrate.CALIBRATION_EXAMPLES``)::

    PYTHONPATH=$PWD python scripts/calibration_convergence.py [--llm gemma] [--seeds 20]
"""

from __future__ import annotations

import argparse
import random
import statistics

from kgpipe.calibrate import CALIBRATION_SET, auroc, corrupted, weight
from kgpipe.config import Settings
from kgpipe.judge import raw_signals
from kgpipe.llms import resolve_llm
from kgpipe.records import Triple

SIGNALS = ("likelihood", "yes_no", "lexical")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--llm", default="gemma")
    p.add_argument("--seeds", type=int, default=20)
    p.add_argument("--sizes", default="10,15,20,25,30,40")
    args = p.parse_args()
    llm = resolve_llm(args.llm, Settings(progress=False), cache=False)
    examples = list(CALIBRATION_SET)
    false = corrupted(examples)  # two per example, in example order
    rows = [(text, Triple(h, r, t), "true", i) for i, (text, h, r, t, _) in enumerate(examples)]
    rows += [(text, triple, kind, i // 2) for i, (text, triple, kind) in enumerate(false)]
    signals = raw_signals([r[1] for r in rows], [r[0] for r in rows], llm, wanted=SIGNALS, batch_size=16)
    full = {s: auroc([x[s] for x, r in zip(signals, rows) if r[2] == "true"],
                     [x[s] for x, r in zip(signals, rows) if r[2] != "true"]) for s in SIGNALS}
    print(f"model {llm.model_id}; all {len(examples)} examples: " + ", ".join(f"{s} {v:.3f}" for s, v in full.items()))
    print("n  signal      AUROC mean  sd     max|err|  weight>0 share")
    for n in [int(x) for x in args.sizes.split(",")]:
        for s in SIGNALS:
            areas, weighted = [], 0
            for seed in range(args.seeds):
                pick = set(random.Random(seed).sample(range(len(examples)), n))
                pos = [x[s] for x, r in zip(signals, rows) if r[3] in pick and r[2] == "true"]
                neg = [x[s] for x, r in zip(signals, rows) if r[3] in pick and r[2] != "true"]
                areas.append(auroc(pos, neg))
                weighted += weight(areas[-1], len(pos), len(neg)) > 0
            sd = statistics.pstdev(areas)
            err = max(abs(a - full[s]) for a in areas)
            print(f"{n:<3}{s:<12}{statistics.mean(areas):.3f}       {sd:.3f}  {err:.3f}     {weighted / args.seeds:.2f}")


if __name__ == "__main__":
    main()
