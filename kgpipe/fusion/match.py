"""How much two resolution nodes look like one entity: a score in [0, 1], or ``None`` when they cannot be.

Scores are rule strengths, not probabilities; ``MERGE_AT`` joins, ``REVIEW_AT``..``MERGE_AT`` is the
band an LLM may adjudicate. ``explain_pair`` also names the rule. The rules, strongest first:

========================================  =====  ============================================
evidence                                  score  example
========================================  =====  ============================================
curated alias (ontology, alias file)      1.00   "Peking" / "Beijing"
place alias (``kgpipe.fusion.places``)    0.95   "Burma" / "Myanmar"; "Calcutta" / "Kolkata" (names typed as places, or untyped)
WordNet synonym (``fusion.lexicon``)      0.95   "Lewis Carroll" / "Charles Lutwidge Dodgson"; "Nyasaland" / "Malawi"
defined in the text (``fusion.defined``)  0.95   "Centers for Disease Control and Prevention (CDC)"; "Stendhal, born Marie-Henri Beyle"
same core name                            1.00   "Apple Inc." / "Apple"; "Dr. Marie Curie" / "Marie Curie"
same words in another order, or the same  0.95   "University of Paris" / "Paris University";
variant (numbers as digits, initials            "Second World War" / "World War II";
joined)                                          "U N Security Council" / "UN Security Council"
acronym of the other                      0.90   "IBM" / "International Business Machines"; "G7" /
                                                 "Group of Seven"; "WWII" / "World War II"
generic head noun (a place word only for  0.90   "Yangtze River" / "Yangtze" (typed River);
the same kind of place)                          "the ResNet model" / "ResNet"; "Hurricane Andrew" / "Andrew"
two descriptive heads on one name         0.90   "BERT model" / "BERT architecture"
organisation words (a bare name typed as  0.90   "Toyota Motor Corporation" / "Toyota"; not "Samsung Group" /
an organisation)                                 "Samsung Electronics"
person: first name + a shared surname     0.90   "Marie Curie" / "Marie Skłodowska-Curie"; "Bill" / "William"; "Rafa" / "Rafael"
person: a leading initial left out        0.86   "J. Robert Oppenheimer" / "Robert Oppenheimer"
person name or surname romanised another  0.85   "Fyodor Dostoevsky" / "Theodore Dostoyevsky"; "Pyotr" / "Peter";
way (``kgpipe.fusion.person_names``)             "Tschaikowsky" / "Tchaikovsky"
plural of a common noun                   0.90   "apples" / "apple"
trailing qualifier (in another text only  0.85   "Springfield, Illinois" / "Springfield"
when the bare name's text names it)
short form (one word; in the full name's  0.85   "Jordan" / "Michael Jordan"; "Von der Leyen" / "Ursula von der
text also its last words, a middle word,         Leyen"; "Lula"; "Telekom" / "Deutsche Telekom"
an organisation's first or last word)
spelling variant (differing words' edit   0.85   "Tchaikovsky" / "Tchaikowsky"; "RedHat" / "Red Hat"
ratio >= 0.85, or only spacing differs)
person name that starts a longer one      0.65   (LLM band) "John Paul" / "John Paul Jones"
near spelling (edit ratio >= 0.8)         0.65   (LLM band)
MiniLM cosine >= 0.7, no shared word      0.65   (LLM band) "Munich" / "München"
========================================  =====  ============================================

The ``SHORT_RULES`` (short form, qualifier, head noun) join a bare name to a longer one only when it
has one candidate cluster (``kgpipe.fusion.cluster``). Facts: one in common lifts a prefix or a near
spelling by 0.15 (to a merge); two values of a one-valued relation (born, died) take 0.3 off. Co-mentions (the
other names of the texts each was read in, when the two were not read in one text): two shared lift a prefix or a
near spelling by 0.15, one by 0.1 (still the review band: an adjudicator's call).

Vetoes (``None``): declared coarse types differ; names of two different countries in the packaged gazetteers; one
place name that places in several countries bear, read in texts that name different ones of those countries; a proper name against a common noun; different
numbers however written ("Windows 10" / "Windows 11", "World War I" / "Second World War");
different qualifiers ("Springfield, Illinois" / "Springfield, Massachusetts"); person names with
different first names ("Pierre Curie" / "Marie Curie"); two different full names with the same
initials, so that an acronym cannot chain them ("Cable News Network" / "convolutional neural
network"). No evidence (0.0): a name typed only as a kind no coarse class knows against a name typed as one it knows
("JFK" the Airport / the Person, "Titanic" the Ship / the Film); an elder's mark or other middle names between person
names that cover each other ("Bill Gates" / "William H. Gates Sr.", "George W. Bush" / "George H. W. Bush").
``OTHER_SURNAME``: the same first name with other surnames, a veto that a third name
bearing both lifts ("Marie Curie" / "Marie Skłodowska", joined by "Marie Skłodowska-Curie"). One
name's words being part of the other's is never evidence ("Red Hat" / "Red Hat Enterprise Linux").
A spaCy type that disagrees lowers a score by 0.1 rather than vetoing; types that agree add 0.02,
which only orders equal evidence.
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np

from ..records import GENERIC_TYPE, MentionIn
from .kinds import compatible, names_a_kind_of_thing
from .names import (
    ORG_HEAD,
    STOPWORDS,
    NameFeatures,
    acronym_of,
    contains,
    edit_ratio,
    head_type_word,
    normalise_name,
    org_stem,
    singular,
)
from .person_names import LEADING_INITIAL, OTHER_SURNAME, ROMANISED, other_generation, person_evidence, same_surname

MERGE_AT = 0.8
REVIEW_AT = 0.6
EMBED_REVIEW = 0.7
TYPO_RATIO = 0.85


_NONE: frozenset = frozenset()  # the empty set every node starts with


class Node:
    """Mentions that share a normalised name, coarse type and kind; or one name of a graph entity (``entity``)."""

    __slots__ = ("idx", "f", "declared", "kind", "entity", "soft", "person", "forms", "raw", "types",
                 "contexts", "context", "vector", "short_of", "pending", "curated", "facts", "comentions", "odd", "defined", "place", "where",
                 "lexical")  # fmt: skip

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
        self.short_of: frozenset[int] = _NONE  # full names this short name may stand for (``resolve``)
        self.curated: str | None = None  # the curated alias group of this name (ontology, alias file), if any
        # (relation, other name normalised) of the facts it takes part in; one shared empty set until it has some
        # (``frozenset()`` allocates 216 bytes each time: 10 MiB per field at 10^5 mentions, measured)
        self.facts: set[tuple[str, str]] | frozenset[tuple[str, str]] = _NONE
        self.comentions: frozenset[str] = _NONE  # core names of the other mentions of its contexts (``resolve``)
        self.pending = ""  # the spelling of the mention being added (while nodes are built)
        self.odd: frozenset[str] = _NONE  # declared types no coarse class knows ("ship", "airport"), casefolded
        self.place: str | None = None  # the packaged gazetteers' entry this name is a name of (``kgpipe.fusion.places``)
        self.where: frozenset[str] = _NONE  # a name places in several countries bear: the ones its text names
        self.lexical: int | None = None  # the WordNet synset this name is a name of (``kgpipe.fusion.lexicon``)
        self.defined: frozenset[int] = _NONE  # nodes a text defines it as: "... Prevention (CDC)" (``kgpipe.fusion.defined``)

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


_PERSON_RULES = {ROMANISED: "person name, romanised", LEADING_INITIAL: "person name, leading initial"}

#: Rules whose edge joins a short or bare name ("Obama", "Springfield", "Yangtze") to a longer one: such a name joins
#: the one cluster it can stand for, preferring candidates in its own document, and none when it could stand for two.
SHORT_RULES = frozenset({"short form", "qualifier", "head noun"})


def score_pair(a: Node, b: Node) -> float | None:
    """Evidence that ``a`` and ``b`` are one entity (see the module table); ``None`` vetoes the pair.

    ``OTHER_SURNAME`` (negative): a veto that a name bearing both surnames can lift (see ``kgpipe.fusion.cluster``).
    """
    return explain_pair(a, b)[0]


def explain_pair(a: Node, b: Node) -> tuple[float | None, str]:
    """``score_pair``'s score and the rule that gave it ("acronym", "different numbers", "no evidence"...)."""
    if not compatible(a.declared, b.declared):
        return None, "different types"
    if a.kind and b.kind and a.kind != b.kind:
        return None, "proper name vs common noun"
    fa, fb = a.f, b.f
    if a.curated and a.curated == b.curated:
        return 1.0, "curated alias"
    if a.where and b.where and a.where.isdisjoint(b.where):
        return None, "places in different countries"  # "Canton" beside "Guangzhou" / "Canton" beside "Ohio"
    if a.place and b.place and a.place != b.place and a.place.startswith("cc:") and b.place.startswith("cc:"):
        return None, "different countries"  # "Republic of China" / "China", "Niger" / "Nigeria"
    if a.place and a.place == b.place:
        return 0.95, "place alias"
    if a.lexical is not None and a.lexical == b.lexical and a.f.variant != b.f.variant:
        return 0.95, "WordNet synonym"  # same words ("River Thames" / "Thames River"): the name rules say
    if b.idx in a.defined or a.idx in b.defined:
        return 0.95, "defined in the text"
    if _other_kind(a, b) or _other_kind(b, a):
        return 0.0, "other kinds of thing"
    if fa.numbers != fb.numbers:
        return (None, "different numbers") if fa.numbers and fb.numbers else (0.0, "numbers on one side")
    person = a.person and b.person
    evidence, rule = 0.0, "no evidence"
    if fa.core == fb.core:
        evidence, rule = 1.0, "same name"
    elif fa.variant == fb.variant and len(fa.tokens) > 1 and len(fb.tokens) > 1:
        evidence, rule = 0.95, "same words"  # also numbers as digits/words/roman, spaced initials
    elif fa.qualifier or fb.qualifier:
        if fa.qualifier and fb.qualifier:
            if fa.base == fb.base:
                return None, "different qualifiers"
        elif (fa.base if fa.qualifier else fb.base) == (fb.core if fa.qualifier else fa.core):
            if a.contexts and b.contexts and a.contexts.isdisjoint(b.contexts) and not _says(
                a if fb.qualifier else b, fa.qualifier or fb.qualifier
            ):
                # "Paris" in one text, "Paris, Texas" in another: the bare name's text must name the qualifier too.
                return 0.0, "qualifier in another text"
            evidence, rule = 0.85, "qualifier"  # "Springfield, Illinois" / "Springfield"
        elif _acronym(a, b):
            evidence, rule = 0.9, "acronym"  # "UCLA" / "University of California, Los Angeles"
    elif fa.head != fb.head and (headed := _head_noun(a, b)):
        evidence, rule = 0.9, headed
    elif person and _tail(a, b):
        evidence, rule = 0.85, "short form"  # "Von der Leyen" / "Ursula von der Leyen", "Lula" in one text
    elif person:
        found = person_evidence(fa, fb)
        if found is None:
            return None, "different first names"
        # A typo: in a surname when the first names agree, anywhere in a one-word name.
        spelling = _spelling(*((fa.tokens[1:], fb.tokens[1:]) if found == OTHER_SURNAME else (fa.tokens, fb.tokens)))
        generation = other_generation(fa.tokens, fb.tokens) if found is not None and found > 0 else None
        if generation == "different generations":
            return None, generation
        if generation:
            evidence, rule = 0.0, generation
        elif found > 0 and _strict_prefix(a, b):
            # "John Paul" / "John Paul Jones": a name that is the start of a longer one is not merged on name alone.
            evidence, rule = 0.65, "person name prefix"
        elif found > 0:
            evidence, rule = found, _PERSON_RULES.get(found, "person name")
        elif _acronym(a, b):
            evidence, rule = 0.9, "acronym"
        elif _short_form(a, b):
            evidence, rule = 0.85, "short form"
        elif len(fa.tokens) == len(fb.tokens) == 1 and same_surname(fa.tokens[0], fb.tokens[0]):
            evidence, rule = ROMANISED, "surname, romanised"  # "Tschaikowsky" / "Tchaikovsky"
        elif spelling:
            evidence, rule = spelling, "spelling"
        if not evidence and found == OTHER_SURNAME and not generation:
            return OTHER_SURNAME, "other surname"
    elif b.idx in a.short_of or a.idx in b.short_of:
        evidence, rule = 0.85, "short form"
    elif fa.content and fa.content == fb.content:
        evidence, rule = 0.95, "same words"
    elif _acronym(a, b):
        evidence, rule = 0.9, "acronym"
    elif "named" not in (a.kind, b.kind) and singular(fa.core) == singular(fb.core):
        evidence, rule = 0.9, "plural"
    elif not contains(fa, fb):
        evidence = 0.0 if fa.is_acronym or fb.is_acronym else _spelling(fa.tokens, fb.tokens)
        rule = "spelling"
        if not evidence:
            evidence, rule = _embedding(a, b), "embedding"
    else:
        rule = "one name inside the other"
    if not evidence:
        # Two different full names with the same initials: an acronym may join one, never chain both.
        chain = fa.acronyms & fb.acronyms and not (fa.is_acronym or fb.is_acronym or (a.person and b.person))
        return (None, "same initials, different names") if chain else (0.0, rule if rule != "embedding" else "no evidence")
    shift = _fact_evidence(a.facts, b.facts) if a.facts and b.facts else 0.0
    if shift < 0:
        evidence, rule = evidence + shift, f"{rule}, conflicting facts"
    elif shift and rule in _LIFTED:
        evidence, rule = evidence + shift, f"{rule}, shared facts"
    elif rule in _LIFTED and a.comentions and b.comentions and a.contexts.isdisjoint(b.contexts):
        shared = len(a.comentions & b.comentions - {fa.core, fb.core})
        if shared:
            evidence, rule = evidence + (0.15 if shared > 1 else 0.1), f"{rule}, shared co-mentions"
    ta, tb = a.declared or a.soft, b.declared or b.soft
    if not compatible(ta, tb):
        evidence -= 0.1
    elif ta and ta == tb:  # agreeing types break ties: "CNN" (Model) goes to "convolutional neural network"
        evidence += 0.02
    return evidence, rule


#: Name evidence too weak to merge on (the review band) that facts in common, or two names co-mentioned in both
#: texts, lift to a merge (one co-mentioned name lifts it by 0.1, still short of one); an embedding's is not lifted
#: (related names share facts and company: Warsaw and Poland both lie in Europe).
_LIFTED = frozenset({"person name prefix", "spelling"})
#: Relations with one value per entity: two values are two entities ("born 1735" / "born 1767").
_FUNCTIONAL = re.compile(r"\b(?:born|birth|died|death|birthplace|birthdate)\b")


def _fact_evidence(fa: set[tuple[str, str]], fb: set[tuple[str, str]]) -> float:
    """+0.15 for a fact in common (same relation, same other entity); -0.3 when a one-valued relation
    ("born on", "date of birth") has different values; 0.0 otherwise."""
    if not fa.isdisjoint(fb):
        return 0.15
    values: dict[str, set[str]] = {}
    for relation, other in fa:
        if _FUNCTIONAL.search(relation):
            values.setdefault(relation, set()).add(other)
    for relation, other in fb:
        if relation in values and other not in values[relation]:
            return -0.3
    return 0.0


def _strict_prefix(a: Node, b: Node) -> bool:
    """One name's words start the other's, and the longer goes on with a name word ("John Paul" / "John Paul Jones",
    not "Louis XIV" / "Louis XIV of France", nor a double-barrelled surname: "Marie Skłodowska" / "Marie Skłodowska-Curie")."""
    short, long = (a, b) if len(a.f.tokens) < len(b.f.tokens) else (b, a)
    n = len(short.f.tokens)
    if n < 2 or n >= len(long.f.tokens) or long.f.tokens[:n] != short.f.tokens or long.f.tokens[n] in STOPWORDS:
        return False
    words = [w for form in (long.f.surface, *long.forms, *long.raw) for w in form.split() if "-" in w]
    return not any(normalise_name(w.split("-")[0]) == short.f.tokens[-1] for w in words)


def _says(node: Node, words: str) -> bool:
    """Whether the text ``node`` was first read in names ``words`` (normalised): "Honolulu is the capital of Hawaii"."""
    return bool(node.context) and f" {words} " in f" {normalise_name.__wrapped__(node.context)} "


def _other_kind(a: Node, b: Node) -> bool:
    """``a`` is typed only as a kind of thing no coarse class knows ("JFK" the Airport, "Titanic" the Ship), and ``b`` as
    one it knows ("JFK" the Person, "Titanic" the Film): one name for two things. An untyped name says nothing, nor
    two unknown types ("ACL" the Injury, "anterior cruciate ligament" the Ligament)."""
    if not a.odd or a.declared is not None:
        return False
    return b.declared is not None


def _head_noun(a: Node, b: Node) -> str | None:
    """The rule that joins a name with a generic head noun and the bare name, if one does.

    "head noun" (a short rule): "Yangtze River" / "Yangtze", "the ResNet model" / "ResNet"; a place word ("river",
    "lake", "mount", "Republic of") joins only a name typed as that kind of place ("Lake Victoria" is not the city
    of Victoria), a descriptive one ("model", "dataset") any name of a compatible type. "other head noun": two
    descriptive heads on one name ("BERT model" / "BERT architecture"). "organisation word": "Volkswagen Group",
    "Stanford University" / a bare name typed as an organisation ("The Walt Disney Company" is not a person).
    """
    headed, bare = (a, b) if a.f.head else (b, a)
    word = head_type_word(headed.f)
    if ORG_HEAD in (word, head_type_word(bare.f)):  # "Honda Motor Company" / "Honda Motor Co., Ltd." / "Honda"
        stem_a, stem_b = org_stem(headed.f.tokens), org_stem(bare.f.tokens)
        words_a = set(headed.f.tokens[len(stem_a.split()) :]) - {"company"}
        words_b = set(bare.f.tokens[len(stem_b.split()) :]) - {"company"}
        if words_a and words_b and words_a != words_b:
            return None  # "Samsung Group" / "Samsung Electronics": a group and its subsidiary
        same = stem_a == stem_b
        organisation = "ORG" in (a.declared, b.declared) and not (a.person or b.person)
        return "organisation word" if same and organisation else None
    if bare.f.head and bare.f.base and bare.f.base == headed.f.base:
        both_descriptive = word is None and head_type_word(bare.f) is None
        return "other head noun" if both_descriptive else None
    if not headed.f.base or headed.f.base != bare.f.core or bare.f.head:
        return None
    if word is None:
        return "head noun"
    return "head noun" if any(t.split()[-1].casefold().rstrip("s") == word for t in (*bare.types, *bare.odd)) else None


def _acronym(a: Node, b: Node) -> float:
    """0.9 when one name is the other's acronym, unless it stands for a person and is typed as something else."""
    if not (acronym_of(a.f, b.f) or acronym_of(b.f, a.f)):
        return 0.0
    if a.person != b.person and (b if a.person else a).declared not in (None, "PERSON"):
        return 0.0
    return 0.9


def _tail(a: Node, b: Node) -> bool:
    """One name is the other's last two words or more, or one of its middle words, and a short form of it in their text
    (``pairs.short_form_pairs``): "Von der Leyen" / "Ursula von der Leyen", "Lula" / "Luiz Inácio Lula da Silva"."""
    short, long = (a, b) if len(a.f.tokens) < len(b.f.tokens) else (b, a)
    n = len(short.f.tokens)
    if n >= len(long.f.tokens) or long.idx not in short.short_of:
        return False
    return long.f.tokens[-n:] == short.f.tokens if n > 1 else short.f.tokens[0] in long.f.tokens[1:-1]


def _short_form(a: Node, b: Node) -> float:
    return 0.85 if b.idx in a.short_of or a.idx in b.short_of else 0.0


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
    if da == db or _SPELLING.sub(_american, da) == _SPELLING.sub(_american, db):
        return 0.85  # "RedHat" / "Red Hat", "Washington DC" / "Washington, D.C.", "Theatre" / "Theater"
    if min(len(da), len(db)) < 5:
        return 0.0
    ratio = edit_ratio(da, db, floor=0.8)
    if ratio >= TYPO_RATIO:
        return 0.85
    return 0.65 if ratio >= 0.8 else 0.0


#: British spellings and their American forms, at a word's end: "theatre", "colour", "organisation", "analyse", "catalogue".
_SPELLING = re.compile(r"(?<=\w{3})(?:re|our|ise|ised|ising|isation|yse|ogue)$")
_AMERICAN = {"re": "er", "our": "or", "ise": "ize", "ised": "ized", "ising": "izing", "isation": "ization", "yse": "yze",
             "ogue": "og"}  # fmt: skip


def _american(match: re.Match[str]) -> str:
    return _AMERICAN[match.group()]


def _embedding(a: Node, b: Node) -> float:
    """MiniLM cosine of two names with no word in common: enough to ask an adjudicator, never to merge.

    Measured: name cosine ranks related names as high as the same name in another language
    (Warsaw/Poland 0.84, Nigeria/Niger 0.83, NYC/New York 0.94 against Munich/München 0.80,
    Bombay/Mumbai 0.80, Vienna/Wien 0.66), so it proposes pairs and does not decide them.
    """
    if a.vector is None or b.vector is None or a.person or b.person or (a.f.content & b.f.content):
        return 0.0
    return 0.65 if float(a.vector @ b.vector) >= EMBED_REVIEW else 0.0
