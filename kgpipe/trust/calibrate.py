"""Measure which judge signals a model supports, once per model, and weight them accordingly.

A small built-in set of sentences with one true triple each (written for kgpipe) is scored as it is and
with its tail swapped for the tail of another sentence (a claim the text does not make). For every
signal the AUROC of true versus swapped is measured and a one-feature logistic curve is fitted that
turns the signal's raw value into a probability; the signal's weight in the judge is
``max(0, AUROC - 0.5)``, so a signal at chance (a base model's yes/no answer) counts for nothing and
costs no LLM calls (a lead within two standard errors of chance counts as none). The result is
cached per model id under the state folder (for an HTTP model the served model name, not the host or
port), and only when its requests succeeded. ``CALIBRATION_EXAMPLES`` of the built-in examples are used:
the smallest set whose AUROC estimate was stable for the packaged Gemma (scripts/calibration_convergence.py).
The packaged Gemma's measurement ships as
``default_calibration`` so a first build does not spend minutes on it (``refresh=True`` re-measures)::

    cal = calibration_for(llm, settings)      # computed on first use (at most 225 scoring requests)
    cal.auroc    # Gemma 3 270M: {"likelihood": 0.68, "yes_no": 0.59, "lexical": 0.72, ...}
    cal.weights  # {"likelihood": 0.18, "yes_no": 0.0, "lexical": 0.22, "ontology": 0.2}

Gemma's yes/no answer (``prompts/judge.v2.md``) leads chance by 0.09, under the 0.11 (two standard
errors) that 40 true and 80 false claims can tell from chance, so it gets no weight; with
``judge.v1``, which asked for the answer on a line of its own, it was 0.54.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from ..llms import GEMMA_MODEL_ID, scorer, yes_no_scorer
from ..records import Triple
from .signals import SIGNALS, raw_signals  # the judge's own signal code, so calibration measures exactly what it uses

if TYPE_CHECKING:
    from ..config import Settings
    from ..llms import LLM

CALIBRATION_VERSION = "judge-calibration.v3"  # v2: fewer examples, never saved from failed requests; v3: yes/no after prompts/judge.v2.md
ONTOLOGY_WEIGHT = 0.2
# Examples a model is calibrated on (of the 40 below): the smallest set whose AUROC estimate stays stable
# (scripts/calibration_convergence.py; README "The judge").
CALIBRATION_EXAMPLES = 25

# (text, head, relation, tail, distractor): the tail is stated in the text (sometimes in another form, as
# gold graphs have it); the distractor is also in the text but the relation does not hold for it.
CALIBRATION_SET: tuple[tuple[str, str, str, str, str], ...] = (
    ("Kestrel Bay is a fishing village on the north coast of Cornwall, near the Porthwyn lighthouse.", "Kestrel Bay", "located in", "Cornwall", "Porthwyn lighthouse"),
    ("The Arbel Bridge crosses the river Moselle near the town of Cochem.", "Arbel Bridge", "crosses", "Moselle", "Cochem"),
    ("Johanna Reiter (born 1961) is an Austrian sculptor who lives in Graz.", "Johanna Reiter", "lives in", "Graz", "1961"),
    ("The Halvorsen Prize is awarded every year by the University of Bergen to a young chemist.", "Halvorsen Prize", "awarded by", "University of Bergen", "chemist"),
    ("Mount Tarawera is a volcano on the North Island of New Zealand, south of Lake Rotorua.", "Mount Tarawera", "located on", "North Island", "Lake Rotorua"),
    ("The novel Glass Harbour was written by Miriam Okafor and published by Heron Press in 2004.", "Glass Harbour", "written by", "Miriam Okafor", "Heron Press"),
    ("Teodor Vasilev was a Bulgarian chess player, born in Plovdiv in 1932.", "Teodor Vasilev", "nationality", "Bulgaria", "1932"),
    ("Brightwater Records is a record label founded in Nashville by the singer Amos Clay.", "Brightwater Records", "founded in", "Nashville", "Amos Clay"),
    ("The Sorrel Line is a railway connecting Lyon with Grenoble, opened in 1878.", "Sorrel Line", "connects to", "Grenoble", "1878"),
    ("Pellworm Castle was built in the 14th century for the Count of Holstein.", "Pellworm Castle", "built for", "Count of Holstein", "14th century"),
    ("Aiko Tanaka is a Japanese volleyball player who plays for the club Osaka Blazers.", "Aiko Tanaka", "nationality", "Japan", "Osaka Blazers"),
    ("The Marrow River is a tributary of the Shannon, rising near the village of Ballyglass.", "Marrow River", "tributary of", "Shannon", "Ballyglass"),
    ("Dunmore Abbey is a ruined monastery in County Galway, founded by the Knights Templar.", "Dunmore Abbey", "located in", "County Galway", "Knights Templar"),
    ("The protein kinase LRK4 regulates cell division in yeast.", "LRK4", "regulates", "cell division", "yeast"),
    ("Carlos Medina directed the 1998 film The Silent Orchard, starring Ana Ruiz.", "The Silent Orchard", "directed by", "Carlos Medina", "Ana Ruiz"),
    ("Vellore Institute of Botany is a research centre in Chennai affiliated with the University of Madras.", "Vellore Institute of Botany", "affiliated with", "University of Madras", "Chennai"),
    ("Lake Ostra lies in the Dalarna region of Sweden and covers 42 square kilometres.", "Lake Ostra", "area", "42 km2", "Dalarna"),
    ("The Tern 200 is a light aircraft manufactured by Halcyon Aviation for flight schools.", "Tern 200", "manufactured by", "Halcyon Aviation", "flight schools"),
    ("Ruth Abernathy served as mayor of Dayton from 1975 to 1983.", "Ruth Abernathy", "mayor of", "Dayton", "1983"),
    ("The Kavala Stadium is the home ground of the football club Kavala United, built in 1964.", "Kavala Stadium", "home ground of", "Kavala United", "1964"),
    ("Saint-Aubin is a commune in the Calvados department in northwestern France.", "Saint-Aubin", "country", "France", "Calvados department"),
    ("The opera The Winter Garden was composed by Ilse Brandt and first staged in Leipzig in 1921.", "The Winter Garden", "composed by", "Ilse Brandt", "Leipzig"),
    ("Marek Nowicki is a Polish cyclist who won the Tour of Silesia in 2011.", "Marek Nowicki", "won", "Tour of Silesia", "2011"),
    ("The Orinda Observatory is operated by the California Institute of Astronomy and stands on Mount Diablo.", "Orinda Observatory", "operated by", "California Institute of Astronomy", "Mount Diablo"),
    ("Fennwick is a small town in the state of Vermont, on the shore of Lake Champlain.", "Fennwick", "located in", "Vermont", "Lake Champlain"),
    ("The painting Harvest at Dusk by Jan Veldman hangs in the Rijksmuseum in Amsterdam.", "Harvest at Dusk", "housed in", "Rijksmuseum", "Jan Veldman"),
    ("Elena Sokolova studied mathematics at Moscow State University under Pavel Orlov.", "Elena Sokolova", "educated at", "Moscow State University", "Pavel Orlov"),
    ("The Brenner Tunnel links Austria and Italy beneath the Alps.", "Brenner Tunnel", "passes beneath", "Alps", "Austria"),
    ("Quill Software is a company headquartered in Dublin that makes accounting tools.", "Quill Software", "headquartered in", "Dublin", "accounting tools"),
    ("The album Northern Lights was recorded by the band Silver Fjord in Oslo.", "Northern Lights", "recorded by", "Silver Fjord", "Oslo"),
    ("Hamid Rezaei is an Iranian architect who designed the Tabriz Library.", "Hamid Rezaei", "nationality", "Iran", "Tabriz Library"),
    ("The Corvo Islands belong to the Portuguese region of the Azores, west of Lisbon.", "Corvo Islands", "part of", "Azores", "Lisbon"),
    ("Beatrix Lang, a chemist from Zurich, was married to the physicist Otto Lang.", "Beatrix Lang", "spouse", "Otto Lang", "Zurich"),
    ("The Ravel Prize for young pianists is held in Toulouse every spring.", "Ravel Prize", "held in", "Toulouse", "spring"),
    ("Glenfarn is a village in County Leitrim with a population of 320.", "Glenfarn", "population", "320", "County Leitrim"),
    ("The river Dee flows into the Irish Sea near Chester.", "Dee", "flows into", "Irish Sea", "Chester"),
    ("Samuel Achterberg founded the newspaper The Utrecht Courier on 2 May 1887.", "The Utrecht Courier", "founding date", "1887-05-02", "Samuel Achterberg"),
    ("The Mirach satellite was launched by the European Space Agency from Kourou in 2009.", "Mirach satellite", "launched by", "European Space Agency", "Kourou"),
    ("Lucia Ferrante is an Italian fencer who competed at the 2012 Summer Olympics.", "Lucia Ferrante", "competed at", "2012 Summer Olympics", "Italian"),
    ("The Pinecrest Hospital is located in the city of Spokane and was designed by Carl Nyberg.", "Pinecrest Hospital", "located in", "Spokane", "Carl Nyberg"),
)


@dataclass(frozen=True)
class Calibration:
    """What was measured for one model: AUROC and weight per signal, and the logistic map of each LLM signal.

    ``curves[signal] = (a, b)`` maps the signal's raw value ``x`` to ``1 / (1 + exp(-(a * x + b)))``.
    """

    model_id: str
    auroc: dict[str, float] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)
    curves: dict[str, tuple[float, float]] = field(default_factory=dict)
    pairs: int = 0
    version: str = CALIBRATION_VERSION
    missing: dict[str, str] = field(default_factory=dict)  # LLM signal -> why the model does not offer it

    def probability(self, signal: str, raw: float) -> float:
        """The raw value of an LLM signal as a probability that the triple is true."""
        a, b = self.curves.get(signal, (1.0, 0.0))
        return _sigmoid(a * raw + b)


def default_calibration(model_id: str = "", *, scores: bool = True) -> Calibration:
    """Weights and curve measured for the packaged Gemma 3 270M, for a model not yet calibrated;
    grounding only when the model cannot score text. ``calibration_for`` measures the model itself."""
    weights = {"lexical": 0.22, "ontology": ONTOLOGY_WEIGHT}
    if scores:
        weights["likelihood"] = 0.18
    measured = {"likelihood": 0.68, "yes_no": 0.59, "lexical": 0.72} if model_id == GEMMA_MODEL_ID else {}
    return Calibration(model_id, auroc=measured, weights=weights, curves={"likelihood": (0.34, -2.0)})


def auroc(positives: Sequence[float], negatives: Sequence[float]) -> float:
    """Probability that a random positive outscores a random negative (ties count half): Mann-Whitney U."""
    if not positives or not negatives:
        return 0.5
    from scipy.stats import mannwhitneyu

    return float(mannwhitneyu(positives, negatives).statistic) / (len(positives) * len(negatives))


def weight(area: float, n_true: int, n_false: int) -> float:
    """A signal's weight: ``AUROC - 0.5``, or 0 unless that lead is more than two standard errors of a
    chance AUROC on this many examples (so a signal at chance costs no LLM calls)."""
    chance_se = math.sqrt((n_true + n_false + 1) / (12 * n_true * n_false)) if n_true and n_false else 1.0
    lead = area - 0.5
    return lead if lead > 2 * chance_se else 0.0


def fit_logistic(xs: Sequence[float], ys: Sequence[int], *, l2: float = 0.1) -> tuple[float, float]:
    """``(a, b)`` of ``P(y=1|x) = sigmoid(a x + b)``, a lightly L2-regularised slope (scikit-learn's
    logistic regression, ``C = 1 / l2``) so that a perfectly separating signal still gets a finite, usable one."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=1.0 / l2, tol=1e-10, max_iter=1000).fit(np.asarray(xs, dtype=float).reshape(-1, 1), np.asarray(ys))
    return float(model.coef_[0][0]), float(model.intercept_[0])


Example = tuple[str, str, str, str, str]


def corrupted(examples: Sequence[Example]) -> list[tuple[str, Triple, str]]:
    """Two false claims per example: the tail swapped for another example's tail (a claim from nowhere,
    as a hallucinating extractor makes) and for the example's distractor (both ends in the text, but
    the text does not relate them). Returned as ``(text, triple, kind)``."""
    out: list[tuple[str, Triple, str]] = []
    for i, (text, head, relation, _, distractor) in enumerate(examples):
        for step in range(1, len(examples)):
            other = examples[(i + step) % len(examples)][3]
            if other.casefold() not in text.casefold() and other.casefold() != head.casefold():
                out.append((text, Triple(head, relation, other), "swapped"))
                break
        out.append((text, Triple(head, relation, distractor), "distractor"))
    return out


def calibrate(llm: "LLM", examples: Sequence[Example] | None = None, *, batch_size: int = 64) -> Calibration:
    """Score true and corrupted triples with every signal; AUROC, weight and probability curve per signal.

    ``auroc`` holds the AUROC over all false claims (what the weights come from) and, for diagnosis,
    ``<signal>/swapped`` and ``<signal>/distractor`` over each kind alone.
    """

    examples = CALIBRATION_SET[:CALIBRATION_EXAMPLES] if examples is None else examples
    rows = [(text, Triple(h, r, t), "true") for text, h, r, t, _ in examples] + corrupted(examples)
    missing: dict[str, str] = {}
    signals = raw_signals(
        [t for _, t, _ in rows], [text for text, _, _ in rows], llm, wanted=SIGNALS, batch_size=batch_size, missing=missing
    )
    aurocs: dict[str, float] = {}
    curves: dict[str, tuple[float, float]] = {}
    for name in SIGNALS:
        if any(name not in s for s in signals):
            continue  # the model cannot score text: no LLM signal
        by_kind: dict[str, list[float]] = {}
        for (_, _, kind), s in zip(rows, signals):
            by_kind.setdefault(kind, []).append(s[name])
        false = by_kind["swapped"] + by_kind["distractor"]
        aurocs[name] = round(auroc(by_kind["true"], false), 4)
        for kind in ("swapped", "distractor"):
            aurocs[f"{name}/{kind}"] = round(auroc(by_kind["true"], by_kind[kind]), 4)
        if name != "lexical":  # lexical grounding is a probability-like share already
            # Weighted so that true and false claims count equally (there are twice as many false ones).
            xs = by_kind["true"] * 2 + false
            curves[name] = fit_logistic(xs, [1] * (2 * len(by_kind["true"])) + [0] * len(false))
    n_true, n_false = len(examples), len(rows) - len(examples)
    weights = {name: round(weight(aurocs[name], n_true, n_false), 4) for name in SIGNALS if name in aurocs}
    weights["ontology"] = ONTOLOGY_WEIGHT  # untyped calibration triples cannot measure it: a fixed share
    return Calibration(llm.model_id, aurocs, weights, curves, pairs=len(rows) - len(examples), missing=missing)


def _cache_file(state_dir: Path, model_id: str) -> Path:
    digest = hashlib.sha256(f"{CALIBRATION_VERSION}\x1f{model_id}".encode()).hexdigest()[:16]
    return state_dir / "judge" / f"calibration-{digest}.json"


def calibration_for(llm: "LLM", settings: "Settings | None" = None, *, refresh: bool = False) -> Calibration:
    """The calibration of ``llm``: read from ``<state>/judge/``, or measured now and saved there.

    Keyed by ``llm.model_id`` (for an HTTP model the served model name, not the host or port). A
    measurement whose requests failed raises ``LLMError`` and saves nothing, so the next build measures
    again; only a model whose well-formed replies lack logprobs is saved as unable to score.
    """
    from ..config import Settings

    settings = settings or Settings()
    if scorer(llm) is None and yes_no_scorer(llm) is None:
        return default_calibration(llm.model_id, scores=False)  # nothing to measure: grounding only
    path = _cache_file(settings.state_path, llm.model_id)
    if path.is_file() and not refresh:
        return _read(path)
    if llm.model_id == GEMMA_MODEL_ID and not refresh:
        return default_calibration(llm.model_id)  # measured for exactly these weights (see the module docstring)
    cal = calibrate(llm, batch_size=max(8, settings.batch_size))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(cal), indent=1), encoding="utf-8")
    tmp.replace(path)
    return cal


def known_calibration(spec: str, settings: Settings) -> Calibration | None:
    """``calibration_for`` of the packaged Gemma (``spec == "gemma"``) without loading it: a saved one, else its
    shipped defaults; None for any other backend, whose calibration needs the backend. For a driver that
    only ships the calibration to workers holding the model (``--engine ray``)."""
    if spec != "gemma":
        return None
    path = _cache_file(settings.state_path, GEMMA_MODEL_ID)
    return _read(path) if path.is_file() else default_calibration(GEMMA_MODEL_ID)


def _read(path: Path) -> Calibration:
    data = json.loads(path.read_text(encoding="utf-8"))
    data["curves"] = {k: tuple(v) for k, v in data.get("curves", {}).items()}
    return Calibration(**data)


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)
