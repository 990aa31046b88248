"""GenWiki-style eval with the judge on, the local model validated as an HTTP model would be (snap).

usage: python scripts/snap_with_judge.py BENCHMARK LIMIT   (e.g. genwiki_hard 40)
"""

import json
import sys

from kgpipe.config import load_settings
from kgpipe.eval.extraction import benchmark_files, evaluate_extraction
from kgpipe.llms import resolve_llm


class AsHTTP:
    """Gemma behind a generate/logprob-only face: no logits access, so grounded mode validates its output."""

    def __init__(self, llm):
        self._llm, self.model_id = llm, llm.model_id

    def generate(self, prompts, **kw):
        return self._llm.generate(prompts, **kw)

    def logprob(self, contexts, continuations):
        return self._llm.logprob(contexts, continuations)


settings = load_settings()
llm = resolve_llm(settings.llm, settings)
tp, gp = benchmark_files(sys.argv[1])
r = evaluate_extraction(tp, gp, limit=int(sys.argv[2]), judge=True, settings=settings, llm=AsHTTP(llm))
keys = [
    "triples_proposed",
    "triples_kept",
    "rejected",
    "relation_types_per_100_facts",
    "ungrounded_name_rate",
    "snapped",
    "judge_weights",
]
print(
    json.dumps(
        {k: r.get(k) for k in keys}
        | {"pairs": r["pairs"], "triples": r["triples"], "g_bertscore": r["g_bertscore"], "stages": r["stages"]}
    )
)
