"""Entity names as fusion sees them: normalised forms, blocking keys and name-only evidence of identity.

Pure text, no models. ``analyse`` turns a surface form into ``NameFeatures`` once (cached), so that
comparing millions of candidate pairs costs set and string operations only::

    >>> analyse("Dr. Marie Skłodowska-Curie").core
    'marie sklodowska curie'
    >>> sorted(analyse("International Business Machines Corporation").acronyms)
    ['ibm', 'ibmc']
    >>> analyse("Apple Inc.").core, analyse("Apple Inc.").implied_type
    ('apple', 'ORG')
    >>> analyse("Second World War").variant == analyse("World War II").variant == analyse("World War 2").variant
    True
    >>> analyse("Springfield, Illinois").base, analyse("Springfield, Illinois").qualifier
    ('springfield', 'illinois')
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

from rapidfuzz.distance import Levenshtein

from ..text import fold_diacritics
from .person_names import surname_key

_ARTICLE = re.compile(r"^(?:the|a|an)\s+")
_PUNCT = re.compile(r"[^\w\s&+#]")
_DIGITS = re.compile(r"\d+")
_ROMAN = re.compile(r"(?=[ivxl]{2,}$)(xl|l?x{0,3})(ix|iv|v?i{0,3})$|[ivx]$")  # up to 49; "dc", "mc" are words

#: Titles dropped from the front of a name; their presence marks a person.
HONORIFICS = frozenset(
    "mr mrs ms miss mx dr doctor prof professor sir dame lord lady madame mme mlle monsieur mister "
    "rev reverend president senator sen general gen captain capt queen king pope prince princess count countess "
    "duke duchess emperor empress chancellor governor mayor judge rabbi mahatma sheikh ayatollah colonel admiral "
    "chairman".split()
)
#: Words that make a title of the title after them ("Rear Admiral", "Vice President"), dropped only with it.
_RANKS = frozenset({"rear", "vice", "lieutenant", "deputy"})
#: Degrees and honours dropped from the end of a person's name. Generational marks ("Jr.", "III") are
#: kept: "Henry Ford II" is not Henry Ford.
PERSON_SUFFIXES = frozenset("phd md esq obe mbe cbe kbe frs".split())
#: Legal-form suffixes dropped from the end of an organisation's name; their presence marks an organisation.
#: ("company" and "group" are left alone: "The Walt Disney Company" is not Walt Disney.)
CORPORATE_SUFFIXES = frozenset(
    "inc incorporated corp corporation co ltd limited llc llp plc gmbh ag sa nv bv spa srl oy ab kk pty pte com se "
    "fc cf afc".split()
)
#: Abbreviations that stand for the same word at the front of a place or saint's name.
_ABBREVIATIONS = {"st": "saint", "ste": "sainte", "mt": "mount", "ft": "fort"}
#: Function words: skipped by acronyms and token keys.
STOPWORDS = frozenset("of the and for de la le du des der von van y & in at on a an to".split())
_ACRONYM_CHARS = re.compile(r"[^A-Za-z0-9]")
_NUMBER_WORDS = {w: str(k) for k, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split())}  # fmt: skip
_ORDINAL_WORDS = {w: str(k) for k, w in enumerate(
    "zeroth first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth "
    "fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth twentieth".split())}  # fmt: skip
_HYPHENED_LETTER = re.compile(r"(?<![\w.])([A-Za-z])-(?=[A-Za-z]{2})")  # "X-ray", "T-Mobile": a letter, no numeral
_INITIAL = re.compile(r"(?<![\w.])([A-Za-z])\.(?=\s*\w)")  # a letter and a dot with more name after it: "P. I."
_ORDINAL_DIGITS = re.compile(r"^(\d+)(?:st|nd|rd|th)$")
_ROMAN_VALUES = {"i": 1, "v": 5, "x": 10, "l": 50}
_ROMAN_LETTERS = frozenset(_ROMAN_VALUES)
#: The head-noun type word of an organisation's generic words ("Volkswagen *Group*", "Stanford *University*"): they join
#: the bare name only when it is typed as an organisation ("The Walt Disney Company" is not the person Walt Disney).
ORG_HEAD = "organisation"
#: Such words, dropped from the end of a name together ("Toyota *Motor Corporation*" -> "toyota").
_ORG_WORDS = ("company group holdings university motor motors technologies technology airlines pharmaceuticals "
              "electronics industries international").split()  # fmt: skip
#: Last words that make a title the first word of an organisation's name ("General Motors", "General Assembly").
_NOT_A_PERSON = frozenset((*_ORG_WORDS, "electric", "dynamics", "mills", "assembly", "hospital", "staff", "court"))
#: Generic head nouns a text adds to a name ("Yangtze *River*", "*Mount* Everest", "the ResNet *model*"), with the
#: type word they name. A *place* head joins the bare name only when that name is typed as the same kind of place
#: ("Lake Victoria" is not the city of Victoria); a *descriptive* head (``None``) joins any name of a compatible type.
HEAD_NOUNS = {
    "river": "river", "lake": "lake", "mount": "mountain", "mountain": "mountain", "sea": "sea", "ocean": "ocean",
    "island": "island", "desert": "desert", "state": "state", "province": "province", "county": "county",
    "model": None, "architecture": None, "algorithm": None, "method": None, "dataset": None, "corpus": None,
    "framework": None, "library": None, "protocol": None, "benchmark": None,
    "hurricane": "hurricane", "typhoon": "typhoon", "cyclone": "cyclone", "rms": "ship", "hms": "ship", "uss": "ship",
    "city": "city", **dict.fromkeys(_ORG_WORDS, ORG_HEAD),
}  # fmt: skip
_LEADING_HEADS = frozenset({"lake", "mount", "island", "hurricane", "typhoon", "cyclone", "rms", "hms", "uss"})  # heads written before the name
_EITHER_SIDE = frozenset({"river"})  # heads written before or after the name ("River Thames", "Yangtze River")
#: "<noun> of <name>": the same place under its formal name ("Republic of Poland", "City of Vancouver").
_FORMAL_PREFIXES = {"republic": "country", "kingdom": "country", "state": "state", "city": "city",
                    "province": "province", "commonwealth": "country", "island": "island", "isle": "island"}  # fmt: skip


@lru_cache(maxsize=1 << 18)
def normalise_name(name: str) -> str:
    """Case, spacing, punctuation and diacritics removed, a leading article dropped: ``"The  Louvre."`` → ``"louvre"``.

    An initial is not an article: ``"A. Kamor"`` → ``"a kamor"``.
    """
    folded = fold_diacritics(name).casefold().strip()
    text = " ".join(_PUNCT.sub(" ", folded).split())
    return (_ARTICLE.sub("", text) or text) if _ARTICLE.match(folded) else text


@dataclass(frozen=True, slots=True)
class NameFeatures:
    """What fusion compares about a name; built once per distinct surface form by ``analyse``."""

    surface: str
    norm: str  # normalise_name(surface)
    core: str  # norm without honorifics and legal-form or generational suffixes
    tokens: tuple[str, ...]  # core split on spaces (hyphens are spaces already)
    content: frozenset[str]  # tokens that are not function words
    compact: str  # core without spaces
    letters: str  # compact without anything but letters and digits ("at&t" -> "att"): what acronyms compare
    acronyms: frozenset[str]  # initials of a multi-word name (with and without function words / suffixes)
    is_acronym: bool  # the surface is written like an acronym ("IBM", "U.S.", "AT&T")
    capitalised: bool  # every word starts upper-case (a proper name, as written)
    implied_type: str | None  # "ORG" from a legal-form suffix, "PERSON" from an honorific
    numbers: frozenset[str]  # numbers, as digits, written as digits, words, ordinals or roman numerals after the first word
    variant: str  # content words with numbers as digits and spaced initials joined, sorted: what spelling variants share
    acronym_forms: tuple[str, ...]  # ``letters``, and with trailing roman numerals as digits ("WWII" -> "ww2")
    base: str  # the core without a trailing qualifier or a generic head noun ("springfield", "yangtze"); "" when none
    qualifier: str  # the qualifier after a comma or in parentheses ("Springfield, Illinois" -> "illinois")
    head: str | None  # the generic head noun dropped for ``base`` ("river", "model", "republic")


def _roman(token: str) -> str | None:
    """A roman numeral (up to 49) as digits, ``None`` for anything else."""
    if not _ROMAN.match(token):
        return None
    total = 0
    for ch, nxt in zip(token, token[1:] + " "):
        value = _ROMAN_VALUES[ch]
        total += -value if _ROMAN_VALUES.get(nxt, 0) > value else value
    return str(total)


def _number(token: str, k: int) -> str | None:
    """A token as the number it writes ("2", "ii", "second", "2nd", "twenty"), as digits; ``None`` if none."""
    if token.isdigit():
        return str(int(token))
    if token.isalpha():
        word = _NUMBER_WORDS.get(token) or _ORDINAL_WORDS.get(token)
        if word:
            return word
        return _roman(token) if k and _ROMAN_LETTERS.issuperset(token) else None
    found = _ORDINAL_DIGITS.match(token)
    return str(int(found.group(1))) if found else None


def _canonical_tokens(tokens: Sequence[str], initials: frozenset[str] = frozenset()) -> list[str]:
    """Numbers as digits and runs of single letters joined ("u n security council" -> "un security council").

    ``initials``: letters the name writes as initials ("P. I. Chaikovsky"): a dotted "I." is no roman numeral.
    """
    out: list[str] = []
    run = ""
    for k, t in enumerate(tokens):
        num = None if t in initials else _number(t, k)
        if num is None and len(t) == 1 and t.isalpha():
            run += t
            continue
        if run:
            out.append(run)
            run = ""
        out.append(num if num is not None else t)
    if run:
        out.append(run)
    return out


def _qualified(surface: str) -> tuple[str, str]:
    """``(name, qualifier)`` of "Springfield, Illinois" or "Springfield (Illinois)"; ``("", "")`` when unqualified.

    A comma before a legal form or a generational mark ("Red Hat, Inc.", "Carter, Jr.") is no qualifier.
    """
    text = surface.strip()
    if text.endswith(")") and "(" in text:
        name, _, rest = text[:-1].rpartition("(")
        return (name, rest) if name.strip() and rest.strip() else ("", "")
    name, comma, rest = text.partition(",")
    if not comma or not name.strip():
        return "", ""
    words = normalise_name(rest).split()
    if not words or all(w in CORPORATE_SUFFIXES or w in PERSON_SUFFIXES or w in ("jr", "sr") for w in words):
        return "", ""
    if len("".join(words)) <= 3 and all(len(w) <= 2 for w in words):  # "Washington, D.C.": an abbreviation, kept
        return "", ""
    return name, rest


@lru_cache(maxsize=1 << 18)
def analyse(surface: str) -> NameFeatures:
    """The features of one surface form (cached: a corpus repeats its names)."""
    norm = normalise_name(surface)
    cased = _PUNCT.sub(" ", fold_diacritics(surface)).split()  # the same words as ``norm``, case kept
    if len(cased) != len(norm.split()):  # a dropped leading article
        cased = cased[len(cased) - len(norm.split()) :]
    words = norm.split()
    lo, hi = 0, len(words)
    implied: str | None = None
    while hi - lo > 1 and words[hi - 1] not in _NOT_A_PERSON and (  # not "General Motors"
        words[lo] in HONORIFICS or (words[lo] in _RANKS and hi - lo > 2 and words[lo + 1] in HONORIFICS)
    ):  # "Rear Admiral Hopper", "Vice President Harris"; not "Rear Window"
        lo += 1
        implied = "PERSON"
    while hi - lo > 1 and words[hi - 1] in PERSON_SUFFIXES:
        hi -= 1
    stripped = False
    while hi - lo > 1 and words[hi - 1] in CORPORATE_SUFFIXES:
        hi -= 1
        stripped = True
    tail = 0  # "S.A.", "N.V.", "L.L.C." arrive as single letters
    while tail < hi - lo - 1 and len(words[hi - 1 - tail]) == 1:
        tail += 1
    if tail > 1 and "".join(words[hi - tail : hi]) in CORPORATE_SUFFIXES and any(len(w) > 1 for w in words[lo : hi - tail]):
        hi -= tail
        stripped = True
    if stripped:
        implied = "ORG"
    kept = words[lo:hi]
    if len(kept) > 1:
        kept[0] = _ABBREVIATIONS.get(kept[0], kept[0])
    tokens = tuple(kept)
    core = " ".join(tokens)
    # An acronym is one upper-case word ("IBM", "AT&T") or upper-case initials ("U.S.").
    kept_cased = cased[lo:hi]
    joined = _ACRONYM_CHARS.sub("", "".join(kept_cased))
    uppers = sum(ch.isupper() for ch in joined)
    one_word_or_initials = len(kept_cased) == 1 or all(len(w) == 1 for w in kept_cased)
    # Digits count as capitals ("G7", "3M"), but one capital at least.
    caps = uppers + sum(ch.isdigit() for ch in joined)
    is_acronym = one_word_or_initials and 2 <= len(joined) <= 8 and uppers >= 1 and caps >= 2 and caps * 2 > len(joined)
    # A dotted initial ("P. I. Chaikovsky") or a letter hyphened to a word ("X-ray", "T-Mobile") is no roman numeral.
    lettered = (*_INITIAL.finditer(surface), *_HYPHENED_LETTER.finditer(surface))
    canonical = _canonical_tokens(tokens, frozenset(m.group(1).casefold() for m in lettered))
    acronyms: set[str] = set()
    if len(tokens) > 1:
        for ws in (list(tokens), norm.split()):
            ws = [w for w in ws if not w.isdigit()]
            acronyms.add("".join(w[0] for w in ws))
            acronyms.add("".join(w[0] for w in ws if w not in STOPWORDS))
        mixed = not all(w.isupper() for w in kept_cased)  # a name in capitals ("ACME MOTORS") has no acronym inside
        if mixed and len(kept_cased) > 2 and len(kept_cased[0]) >= 2 and kept_cased[0].isupper():  # "UN World Food Programme"
            acronyms.add("".join(w[0] for w in tokens[1:] if w not in STOPWORDS))
        if mixed and any(len(w) >= 2 and w.isupper() for w in kept_cased):  # an acronym inside: "messenger RNA" -> "mrna"
            acronyms.add("".join(t if c.isupper() and len(c) >= 2 else t[0] for t, c in zip(tokens, kept_cased)
                                 if t not in STOPWORDS))  # fmt: skip
        # Numbers keep their digits ("World War II" -> "ww2", "Group of Seven" -> "g7").
        numbered = [t if t.isdigit() else t[0] for t in canonical if t not in STOPWORDS]
        if any(t.isdigit() for t in numbered):
            acronyms.add("".join(numbered))
            # An ordinal in front goes at the end ("Second World War" -> "ww2").
            acronyms.add("".join(t for t in numbered if not t.isdigit()) + "".join(t for t in numbered if t.isdigit()))
    raw_words = [w for w in re.split(r"[\s\-]+", surface.strip()) if w and w[0].isalpha()]
    capitalised = bool(raw_words) and all(w[0].isupper() or w.casefold() in STOPWORDS for w in raw_words)
    letters = _ACRONYM_CHARS.sub("", core)
    forms = {letters}
    roman_tail = re.search(r"i{2,3}$", letters)  # "WWII"; not "BEVI", a word that ends like a numeral
    numbers = {t for t in canonical if t.isdigit()}  # ``canonical`` writes every number in digits
    numbers |= {str(int(d)) for t in tokens if not t.isdigit() and not t.isalpha() for d in _DIGITS.findall(t)}
    if is_acronym and roman_tail and roman_tail.start() >= 2 and _roman(roman_tail.group()):
        forms.add(letters[: roman_tail.start()] + str(_roman(roman_tail.group())))
        numbers.add(str(_roman(roman_tail.group())))
    if len(tokens) > 1 and re.search(r"\w-[a-z]", surface):  # "Co-operation" is one initial; "Kaka-Dormi" two names
        spaced = [w for w in normalise_name(re.sub(r"(?<=\w)-(?=[a-z])", "", fold_diacritics(surface))).split()][lo:]
        acronyms.add("".join(w[0] for w in spaced if w not in STOPWORDS and w not in CORPORATE_SUFFIXES))
    base, qualifier, head = "", "", None
    name, rest = _qualified(surface)
    if name:
        base, qualifier = analyse(name).core, normalise_name(rest)
    elif len(tokens) > 1 and tokens[-1] in HEAD_NOUNS and tokens[-1] not in _LEADING_HEADS:
        end = len(tokens) - 1
        while end > 1 and HEAD_NOUNS[tokens[-1]] == ORG_HEAD and tokens[end - 1] in _ORG_WORDS:
            end -= 1  # "Ford Motor Company" -> "ford"
        base, head = " ".join(tokens[:end]), tokens[-1]
    elif len(tokens) > 1 and (tokens[0] in _LEADING_HEADS or tokens[0] in _EITHER_SIDE):
        base, head = " ".join(tokens[1:]), tokens[0]
    elif "of" in tokens[1:-1] and tokens[tokens.index("of", 1) - 1] in _FORMAL_PREFIXES:
        # "Republic of Poland", "Hashemite Kingdom of Jordan", "Democratic Republic of the Congo"
        at = tokens.index("of", 1)
        rest = list(tokens[at + 1 :])
        while len(rest) > 1 and rest[0] in STOPWORDS:
            rest.pop(0)
        base, head = " ".join(rest), tokens[at - 1]
    variant = " ".join(sorted(t for t in canonical if t not in STOPWORDS))
    return NameFeatures(
        surface=surface,
        norm=norm,
        core=core,
        tokens=tokens,
        content=frozenset(t for t in tokens if t not in STOPWORDS),
        compact=core.replace(" ", ""),
        letters=letters,
        acronyms=frozenset(a for a in acronyms if len(a) >= 2),
        is_acronym=is_acronym,
        capitalised=capitalised,
        implied_type=implied,
        numbers=frozenset(numbers),
        variant=core if variant == core else variant,  # one string where they agree: 506,032 names at 10^6
        acronym_forms=tuple(sorted(forms)),
        base=base,
        qualifier=qualifier,
        head=head,
    )


def org_stem(tokens: Sequence[str]) -> str:
    """A name without the organisation words at its end ("honda motor" -> "honda"); the name itself when all are."""
    end = len(tokens)
    while end > 1 and tokens[end - 1] in _ORG_WORDS:
        end -= 1
    return " ".join(tokens[:end])


def head_type_word(f: NameFeatures) -> str | None:
    """The type word a name's dropped head noun stands for ("Mount Everest" -> "mountain"); ``None`` if descriptive or none."""
    if f.head is None or f.qualifier:
        return None
    return HEAD_NOUNS.get(f.head) or _FORMAL_PREFIXES.get(f.head)


def singular(core: str) -> str:
    """The last word without an English plural ending (``"apples"`` → ``"apple"``); for common nouns only."""
    head, _, last = core.rpartition(" ")
    if len(last) > 4 and last.endswith("ies"):
        last = last[:-3] + "y"
    elif len(last) > 3 and last.endswith("s") and not last.endswith(("ss", "us", "is")):
        last = last[:-1]
    return f"{head} {last}" if head else last


def blocking_keys(f: NameFeatures) -> list[str]:
    """Keys under which a name is compared with others; two names are compared only if they share one.

    ``n:`` the core (in the singular), ``k:`` the bag of content words, ``a:`` acronym and initials,
    ``i:`` the first initial with each later word (a person's initial and surnames),
    ``t:`` each content word, ``p:``/``x:`` the first/last five letters (typos and spelling variants), ``r:`` the
    last word romanised (``kgpipe.fusion.person_names.surname_key``: "Tschaikowsky", "Chaikovsky").
    """
    keys = [f"n:{singular(f.core)}"]
    if len(f.content) > 1:
        keys.append("k:" + " ".join(sorted(f.content)))
    if f.is_acronym or (len(f.tokens) == 1 and 2 <= len(f.letters) <= 6):
        keys.extend(f"a:{a}" for a in f.acronym_forms)
    keys.extend(f"a:{a}" for a in f.acronyms)
    keys.extend(f"t:{t}" for t in f.content if len(t) > 1 and not t.isdigit())
    if len(f.tokens) > 1:  # a person's first initial with each surname: "M. Rida", "Mary Ann Rida"
        keys.extend(f"i:{f.tokens[0][0]} {t}" for t in f.tokens[1:] if len(t) > 1)
    if len(f.compact) >= 6:
        keys += [f"p:{f.compact[:5]}", f"x:{f.compact[-5:]}"]
    if f.tokens and len(f.tokens[-1]) >= 5 and not f.is_acronym:  # a surname romanised another way
        key = surname_key(f.tokens[-1])
        if key != f.tokens[-1]:
            keys.append(f"r:{key}")
    return keys


def edit_ratio(a: str, b: str, floor: float = 0.0) -> float:
    """``1 - Levenshtein distance / longer length`` (rapidfuzz); 0.0 when it is below ``floor``.

    >>> edit_ratio("microsoft", "microsft"), edit_ratio("henri", "hnri", 0.8), edit_ratio("iran", "iraq", 0.8)
    (0.8888888888888888, 0.8, 0.0)

    rapidfuzz's ``score_cutoff`` lets it stop early, but it rejects a ratio exactly at the cutoff
    (4/5 at 0.8), so it gets one just under ``floor`` and the floor itself is applied here.
    """
    ratio = Levenshtein.normalized_similarity(a, b, score_cutoff=max(0.0, floor - 1e-3))
    return ratio if ratio >= floor else 0.0


def acronym_of(short: NameFeatures, long: NameFeatures) -> bool:
    """``short`` is written as an acronym and is the initials of ``long`` ("IBM" / "International Business Machines",
    "WWII" / "World War II", "G7" / "Group of Seven")."""
    return short.is_acronym and len(long.tokens) > 1 and any(a in long.acronyms for a in short.acronym_forms)


def contains(a: NameFeatures, b: NameFeatures) -> bool:
    """One name's words are a strict part of the other's ("Red Hat" in "Red Hat Enterprise Linux")."""
    return a.content != b.content and (a.content <= b.content or b.content <= a.content)
