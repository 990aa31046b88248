"""How much two resolution nodes look like one entity: a score in [0, 1], or ``None`` when they cannot be.

Scores are rule strengths, not probabilities; ``MERGE_AT`` joins, ``REVIEW_AT``..``MERGE_AT`` is the
band an LLM may adjudicate. The rules, strongest first:

========================================  =====  ============================================
evidence                                  score  example
========================================  =====  ============================================
same core name                            1.00   "Apple Inc." / "Apple"; "Dr. Marie Curie" / "Marie Curie"
same words in another order               0.95   "University of Paris" / "Paris University"
acronym of the other                      0.90   "IBM" / "International Business Machines"
person: first name + a shared surname     0.90   "Marie Curie" / "Marie Skłodowska-Curie"
plural of a common noun                   0.90   "apples" / "apple"
one-word short form, unique in context    0.85   "Jordan" / "Michael Jordan" (same chunk)
spelling variant (differing words' edit   0.85   "Tchaikovsky" / "Tchaikowsky"; "RedHat" / "Red Hat"
ratio >= 0.85, or only spacing differs)
near spelling (edit ratio >= 0.8)         0.65   (LLM band)
MiniLM cosine >= 0.7, no shared word      0.65   (LLM band) "Munich" / "München"
========================================  =====  ============================================

Vetoes (``None``): declared coarse types differ; a proper name against a common noun; different
numbers ("Windows 10" / "Windows 11"); person names with different first names ("Pierre Curie" /
"Marie Curie"); two different full names with the same initials, so that an acronym cannot chain
them ("Cable News Network" / "convolutional neural network"). ``OTHER_SURNAME``: the same first
name with other surnames, a veto that a third name bearing both lifts ("Marie Curie" / "Marie
Skłodowska", joined by "Marie Skłodowska-Curie"). One name's words being part of the other's is
never evidence ("Red Hat" / "Red Hat Enterprise Linux"). A spaCy type that disagrees lowers a
score by 0.1 rather than vetoing; types that agree add 0.02, which only orders equal evidence.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from ..records import GENERIC_TYPE, MentionIn
from .kinds import compatible, names_a_kind_of_thing
from .names import OTHER_SURNAME, NameFeatures, acronym_of, contains, edit_ratio, person_evidence, singular

MERGE_AT = 0.8
REVIEW_AT = 0.6
EMBED_REVIEW = 0.7
TYPO_RATIO = 0.85


class Node:
    """Mentions that share a normalised name, coarse type and kind; or one name of a graph entity (``entity``)."""

    __slots__ = ("idx", "f", "declared", "kind", "entity", "soft", "person", "forms", "raw", "types",
                 "contexts", "context", "vector", "short_for", "pending")  # fmt: skip

    def __init__(self, idx: int, f: NameFeatures, declared: str | None, kind: str | None, entity: str | None = None):
        self.idx = idx
        self.f = f
        self.declared = declared  # coarse class from the declared type or the name (legal form, title)
        self.kind = kind  # "named", "common" or None
        self.entity = entity  # the graph entity this name belongs to (locked), if any
        self.soft: str | None = None  # coarse class spaCy gives the name in its contexts
        self.person = False
        self.forms: Counter[str] = Counter()  # spellings, as the text writes them where it tells
        self.raw: set[str] = set()  # spellings as extracted
        self.types: Counter[str] = Counter()  # declared specific types
        self.contexts: set[int] = set()
        self.context: str | None = None  # one context, to show an adjudicator
        self.vector: np.ndarray | None = None
        self.short_for: int | None = None
        self.pending = ""  # the spelling of the mention being added (while nodes are built)

    def as_mention(self) -> MentionIn:
        typ = self.types.most_common(1)[0][0] if self.types else (self.declared or self.soft or GENERIC_TYPE)
        return MentionIn(self.f.surface, typ, self.context)

    def __repr__(self) -> str:
        return f"Node({self.idx}, {self.f.surface!r}, {self.declared}/{self.soft}, {self.kind}, entity={self.entity})"


def is_person(node: Node) -> bool:
    """Whether person-name rules apply: a PERSON type, or (untyped) two or three capitalised words that
    name no kind of thing ("Cable News Network" is not a person)."""
    if node.declared:
        return node.declared == "PERSON"
    if node.soft:
        return node.soft == "PERSON"
    f = node.f
    if not f.capitalised or not 2 <= len(f.tokens) <= 3 or f.is_acronym or f.numbers or node.kind == "common":
        return False
    return not names_a_kind_of_thing(f.tokens)


def score_pair(a: Node, b: Node) -> float | None:
    """Evidence that ``a`` and ``b`` are one entity (see the module table); ``None`` vetoes the pair.

    ``OTHER_SURNAME`` (negative): a veto that a name bearing both surnames can lift (see ``kgpipe.fusion.cluster``).
    """
    if not compatible(a.declared, b.declared):
        return None
    if a.kind and b.kind and a.kind != b.kind:
        return None
    fa, fb = a.f, b.f
    if fa.numbers != fb.numbers:
        return None if fa.numbers and fb.numbers else 0.0
    person = a.person and b.person
    evidence = 0.0
    if fa.core == fb.core:
        evidence = 1.0
    elif person:
        found = person_evidence(fa, fb)
        if found is None:
            return None
        # A typo: in a surname when the first names agree, anywhere in a one-word name.
        spelling = _spelling(*((fa.tokens[1:], fb.tokens[1:]) if found == OTHER_SURNAME else (fa.tokens, fb.tokens)))
        evidence = max(found, 0.0) or _acronym(a, b) or _short_form(a, b) or spelling
        if not evidence and found == OTHER_SURNAME:
            return OTHER_SURNAME
    elif a.short_for == b.idx or b.short_for == a.idx:
        evidence = 0.85
    elif fa.content and fa.content == fb.content:
        evidence = 0.95
    elif _acronym(a, b):
        evidence = 0.9
    elif "named" not in (a.kind, b.kind) and singular(fa.core) == singular(fb.core):
        evidence = 0.9
    elif not contains(fa, fb):
        evidence = (0.0 if fa.is_acronym or fb.is_acronym else _spelling(fa.tokens, fb.tokens)) or _embedding(a, b)
    if not evidence:
        # Two different full names with the same initials: an acronym may join one, never chain both.
        chain = fa.acronyms & fb.acronyms and not (fa.is_acronym or fb.is_acronym or (a.person and b.person))
        return None if chain else 0.0
    ta, tb = a.declared or a.soft, b.declared or b.soft
    if not compatible(ta, tb):
        evidence -= 0.1
    elif ta and ta == tb:  # agreeing types break ties: "CNN" (Model) goes to "convolutional neural network"
        evidence += 0.02
    return evidence


def _acronym(a: Node, b: Node) -> float:
    """0.9 when one name is the other's acronym, unless it stands for a person and is typed as something else."""
    if not (acronym_of(a.f, b.f) or acronym_of(b.f, a.f)):
        return 0.0
    if a.person != b.person and (b if a.person else a).declared not in (None, "PERSON"):
        return 0.0
    return 0.9


def _short_form(a: Node, b: Node) -> float:
    return 0.85 if a.short_for == b.idx or b.short_for == a.idx else 0.0


def _spelling(ta: tuple[str, ...], tb: tuple[str, ...]) -> float:
    """Spelling variants: the words two names do not share differ by spacing only, or by few letters.

    Compared on the differing words alone, so that one letter in a short word is not a typo
    ("Saint Rila" / "Saint Rima", "Iran" / "Iraq") while one in a long word is ("Tchaikowsky").
    """
    la, lb = sum(map(len, ta)), sum(map(len, tb))
    if abs(la - lb) > (1.0 - 0.8) * max(la, lb):  # the differing words differ in length by as much: no typo
        return 0.0
    shared = set(ta) & set(tb)
    da = "".join(t for t in ta if t not in shared)
    db = "".join(t for t in tb if t not in shared)
    if not da or not db:
        return 0.0
    if da == db:  # "RedHat" / "Red Hat", "Washington DC" / "Washington, D.C."
        return 0.85
    if min(len(da), len(db)) < 5:
        return 0.0
    ratio = edit_ratio(da, db, floor=0.8)
    if ratio >= TYPO_RATIO:
        return 0.85
    return 0.65 if ratio >= 0.8 else 0.0


def _embedding(a: Node, b: Node) -> float:
    """MiniLM cosine of two names with no word in common: enough to ask an adjudicator, never to merge.

    Measured: name cosine ranks related names as high as the same name in another language
    (Warsaw/Poland 0.84, Nigeria/Niger 0.83, NYC/New York 0.94 against Munich/München 0.80,
    Bombay/Mumbai 0.80, Vienna/Wien 0.66), so it proposes pairs and does not decide them.
    """
    if a.vector is None or b.vector is None or a.person or b.person or (a.f.content & b.f.content):
        return 0.0
    return 0.65 if float(a.vector @ b.vector) >= EMBED_REVIEW else 0.0
