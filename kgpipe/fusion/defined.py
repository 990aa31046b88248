"""Names a text defines as one another: "the Centers for Disease Control and Prevention (CDC)", "Maxim Gorky, the pen
name of Alexei Peshkov", "Ceylon became Sri Lanka".

A writer who puts a short form in parentheses right after a name says the two are one entity; no name rule can
read that from "CDC" and "Centers for Disease Control and Prevention" alone (its initials are "CfDCaP"). The
short form must be written like an acronym and its letters must appear, in order, in the name from the start of one
of its words (as in Schwartz and Hearst's abbreviation definitions), so that "Portland (Oregon)" or "Paris (AFP)"
define nothing.

    >>> abbreviates("CDC", "Centers for Disease Control and Prevention"), abbreviates("mRNA", "Messenger RNA")
    (True, True)
    >>> abbreviates("AFP", "Paris"), abbreviates("Oregon", "Portland")
    (False, False)

Writers introduce other names too, between two names with nothing else in between: "X, known as Y", "X, also called
Y", "X, born Y", "X, née Y", "X was renamed Y", "X renamed itself Y", "X took the name Y", "X, the pen name of Y",
"X, short for Y", "X, founded as Y", "X, officially Y", "X, who became Y" (``alias_pairs``; not "which Britain called
Y", whose name before the cue is not the one named). The second name must end
there: not "Y's" nor the start of a longer capitalised name. Looser cues (", or", ", the", ", now", ", once", ", later")
count only for an appositive: the first name not in a list ("A, B, or C"), the second closed by punctuation ("the
Guomindang, or KMT, ..."; "CERN, the European Organization for Nuclear Research."). The type vetoes stay in force.

    >>> cue(", better known as ", "."), cue(" was renamed ", " in 1982"), cue(" became ", "'s ally")
    (True, True, False)
    >>> cue(" renamed it ", "."), cue(", was called ", "."), cue(", known in ", " as")
    (False, False, False)
    >>> cue(", or ", ", ruled China", "The "), cue(", or ", " by air.", "Fly to Paris, "), cue(" and ", ".")
    (True, False, False)
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .match import Node
from .names import analyse, normalise_name

_DEFINITION = re.compile(r"([^()]+?)\s*\(\s*([^()]{2,12}?)\s*\)")

_ADVERBS = r"(?:(?:also|better|now|widely|locally|officially|formerly|once|later|originally|popularly|commonly|still|often|simply|then|previously) )*"
_AUX = r"(?:(?:was|is|were|are|has been|had been|have been) )"
#: A participle that names ("known as", "called", "known in Latin as", "born", "née", "the pen name of", "short for").
_NAMING = (
    r"(?:(?:known|called|named|styled|dubbed|nicknamed|renamed|rebranded)(?: (?:in|to|by|among) [^,.;()]{1,30}? as| as)?"
    r"|(?:known|called) by (?:his|her|its|their) (?:[a-z]+ )?name|written|spelt|spelled|transliterated"
    r"|born|n[ée]e?|(?:the |a |his |her )?(?:pen|stage|ring|professional|regnal|religious|birth) name(?: of)?"
    r"|(?:the |a )?pseudonym(?: of)?|short for|(?:founded|established|incorporated|begun|started) as|officially(?: the)?)"
)
#: A finite verb that renames its subject ("became", "renamed itself", "took the name", "changed its name to").
_RENAMING = (
    r"(?:became|becomes|renamed itself|(?:took|takes|adopted) the name"
    r"|(?:changed|shortened) (?:its|his|her|their) name to|called (?:himself|herself|itself|themselves)"
    r"|(?:began|started) (?:life |out )?as|(?:performs|performed|records|recorded|wrestled|boxed) as"
    r"|(?:[a-z]+ ){1,3}under the (?:name|pseudonym))"
)
#: What a writer puts between a name and another name of the same thing (the whole text between them): an appositive
#: ("X, known as Y", "X, who became Y", "X (born Y)") or a clause ("X was renamed Y", "X became Y"). A comma then a
#: finite verb ("Bishkek, the capital of Kyrgyzstan, was called Frunze") ends an appositive: its subject is further
#: back. An active participle ("which Britain called the Great War", "Musk renamed it X") has its agent there.
_CUE = re.compile(
    r"\s*[,(]\s*(?:(?:who|which|that) " + _AUX + r"?" + _ADVERBS + r"(?:" + _NAMING + r"|" + _RENAMING + r")"
    r"|" + _ADVERBS + _NAMING + r")(?: the)?\s*"
    r"|\s+(?:" + _AUX + _ADVERBS + _NAMING + r"|" + _ADVERBS + _RENAMING + r")(?: the)?\s*",
    re.IGNORECASE,
)
#: "X, which the Spaniards call Y", "X, whom Israelis call Y": the agent between is no name of the text's.
_CALLED_BY = re.compile(
    r"\s*,\s*(?:which|whom|who) (?:[\w'’-]+ ){1,3}(?:calls?|called|names?|named|knows? as|knew as|writes? it|wrote it)"
    r"(?: (?:him|her|it|them))?(?: the)?\s*"
)
#: The end of an appositive, then a naming verb: "Bishkek, the capital of Kyrgyzstan, was called Frunze" names
#: Bishkek (the name before the appositive), not Kyrgyzstan.
_AFTER_APPOSITIVE = re.compile(
    r"\s*,[^,;.()]{1,100},\s+(?:" + _AUX + _ADVERBS + _NAMING + r"|" + _ADVERBS + _RENAMING + r")(?: the)?\s*",
    re.IGNORECASE,
)
#: "The Vistula, Wisła in Polish, ...": a name, then another with the language it is written in.
_IN_LANGUAGE = re.compile(r"\s+in ([A-Z][a-z]+)\s*[,.;)]")
#: Looser cues: only between an appositive's names ("the Guomindang, or KMT, ...").
_LOOSE = re.compile(r"\s*[,(]\s*(?:or|the|now|once|later(?: the)?|formerly|previously|today)(?: the)?\s*", re.IGNORECASE)
_ENDS = re.compile(r"\s*(?:[,.;:)]|$)")
_GOES_ON = re.compile(r"(?:['’]s?\b|-|\s+[A-Z][a-z])")  # "Apple's", "Apple-owned", "Apple Computer"
_LISTED = re.compile(r"(?:,|\band|\bor)\s*$")


def cue(between: str, after: str, before: str = "") -> bool:
    """Whether the text ``between`` two names says the second is another name of the first; ``after``: the text that
    follows the second name; ``before``: the text before the first."""
    if _GOES_ON.match(after):
        return False
    if _CUE.fullmatch(between) or _CALLED_BY.fullmatch(between):
        return True
    if between.strip() == "," and (language := _IN_LANGUAGE.match(after)) and is_language(language.group(1)):
        return not _LISTED.search(before)
    return bool(_LOOSE.fullmatch(between) and _ENDS.match(after) and not _LISTED.search(before))


def abbreviates(short: str, long: str) -> bool:
    """``short`` is written as an acronym whose letters appear in order in ``long``, from the start of one of its words."""
    f = analyse(short)
    if not f.is_acronym or len(f.letters) < 2:
        return False
    letters = f.letters
    words = normalise_name(long).split()
    if len(words) < 2 or len(letters) > sum(map(len, words)):
        return False
    for k, word in enumerate(words):
        if word[0] != letters[0]:
            continue
        text, at = " ".join(words[k:]), 0
        for ch in letters:
            at = text.find(ch, at) + 1
            if not at:
                break
        else:
            return True
    return False


def defined_pairs(nodes: Sequence[Node], contexts: Sequence[str]) -> list[tuple[int, int]]:
    """Pairs of nodes of one context that the context defines as one ("... Prevention (CDC)"), and marks each node's
    ``defined``; ``contexts[c]`` is the text of context id ``c``."""
    by_context: dict[int, dict[str, list[Node]]] = {}
    for node in nodes:
        for c in node.contexts:
            if "(" in contexts[c]:
                names = by_context.setdefault(c, {})
                for form in {node.f.surface, *node.forms, *node.raw}:
                    names.setdefault(normalise_name(form), []).append(node)
    found: list[tuple[int, int]] = []
    for c, names in by_context.items():
        for match in _DEFINITION.finditer(contexts[c]):
            before, short = match.group(1), normalise_name(match.group(2))
            if short not in names:
                continue
            words = normalise_name(before).split()
            for n in range(min(len(words), 12), 1, -1):  # the longest mention the text before the parenthesis ends with
                long = " ".join(words[-n:])
                if long in names and abbreviates(match.group(2), long):
                    for a in names[short]:
                        for b in names[long]:
                            if a is not b:
                                _join(a, b, found)
                    break
    return found


#: A sentence that renames what the sentence before named: "The company renamed itself America Online", "It was
#: renamed Relational Software" (the noun says which class of name it takes up; "It", any that is not a person's).
_ANAPHOR = re.compile(
    r"(?:^|(?<=[.;]\s))(?:(?:the|The) (company|firm|group|bank|airline|band|party|agency|city|town|village|port|"
    r"country|state|colony|river|island)|It)\s+(?:" + _AUX + _ADVERBS + _NAMING + r"|" + _ADVERBS + _RENAMING
    + r")(?: the)?\s+$"
)
_ANAPHOR_CLASS = {"company": "ORG", "firm": "ORG", "group": "ORG", "bank": "ORG", "airline": "ORG", "band": "ORG",
                  "party": "ORG", "agency": "ORG"}  # fmt: skip


def anaphor_pairs(nodes: Sequence[Node], contexts: Sequence[str]) -> list[tuple[int, int]]:
    """Pairs a text joins across a sentence: a name right after "The company renamed itself" / "It was renamed" and the
    first name of the sentence before of the class the noun says (an organisation for "company", a place for "city";
    for "It" any name but a person's); marks each node's ``defined``."""
    by_context = _by_context(nodes)
    found: list[tuple[int, int]] = []
    for c, present in by_context.items():
        text = contexts[c]
        if len(present) < 2 or not any(w in text for w in ("renamed", "name", "became", "called", "known", "began")):
            continue
        kept = _longest_names(text, present)
        for k, (start, end, b) in enumerate(kept):
            head = text[max(0, start - 80) : start]
            match = _ANAPHOR.search(head)
            if not match or _GOES_ON.match(text[end:]):
                continue
            sentence_start = start - len(head) + match.start()
            ended = max(text.rfind(".", 0, sentence_start), text.rfind(";", 0, sentence_start))  # the sentence before's end
            previous = max(text.rfind(".", 0, ended), text.rfind(";", 0, ended)) if ended > 0 else -1  # and its start
            wanted = _ANAPHOR_CLASS.get(match.group(1) or "", "PLACE" if match.group(1) else None)
            for s0, _, x in kept[:k]:
                if s0 <= previous or s0 >= sentence_start or x is b or x.person:
                    continue
                if wanted and x.declared != wanted:
                    continue
                _join(x, b, found)
                break
    return found


def dual_pairs(nodes: Sequence[Node]) -> list[tuple[int, int]]:
    """A dual name ("Aoraki / Mount Cook", "Uluṟu / Ayers Rock") and the names of its halves read in one of its texts."""
    found: list[tuple[int, int]] = []
    duals = [node for node in nodes if " / " in node.f.surface and node.contexts]
    if not duals:
        return found
    by_name: dict[tuple[int, str], list[Node]] = {}
    for node in nodes:
        for c in node.contexts:
            by_name.setdefault((c, node.f.norm), []).append(node)
    for dual in duals:
        halves = {normalise_name(half) for half in dual.f.surface.split(" / ") if half.strip()}
        for c in dual.contexts:
            for half in halves:
                for other in by_name.get((c, half), ()):
                    if other is not dual:
                        _join(dual, other, found)
    return found


def alias_pairs(nodes: Sequence[Node], contexts: Sequence[str]) -> list[tuple[int, int]]:
    """Pairs of nodes that a context names one after the other with an alias cue between them ("X, known as Y";
    ``cue``), and marks each node's ``defined``."""
    by_context = _by_context(nodes)
    found: list[tuple[int, int]] = []
    for c, present in by_context.items():
        if len(present) < 2:
            continue
        text = contexts[c]
        kept = _longest_names(text, present)
        for k, ((s1, e1, a), (s2, e2, b)) in enumerate(zip(kept, kept[1:])):
            if a is not b and len(text) and s2 - e1 <= 60 and cue(text[e1:s2], text[e2:], text[:s1]):
                _join(a, b, found)
            # "X, <appositive>, was renamed Y": X and Y, past the names inside the appositive.
            for s0, e0, x in reversed(kept[: k + 1]):
                commas = text[e0:s2].count(",")
                if s2 - e0 > 160 or commas > 2:
                    break
                if commas < 2:
                    continue
                if x is not b and _AFTER_APPOSITIVE.fullmatch(text[e0:s2]) and not _GOES_ON.match(text[e2:]) and not _LISTED.search(text[:s0]):
                    _join(x, b, found)
                break
    return found


_LANGUAGES: frozenset[str] | None = None


def is_language(word: str) -> bool:
    """Whether ``word`` names a major language (ISO 639-1's, from the packaged ``pycountry``): "Polish", "Serbian"."""
    global _LANGUAGES
    if _LANGUAGES is None:
        import pycountry

        _LANGUAGES = frozenset(lang.name for lang in pycountry.languages if hasattr(lang, "alpha_2") and " " not in lang.name)
    return word in _LANGUAGES


def _join(a: Node, b: Node, found: list[tuple[int, int]]) -> None:
    """Mark two nodes as named one another by a text, each in the other's ``defined``, and list the pair."""
    a.defined = a.defined | {b.idx}
    b.defined = b.defined | {a.idx}
    found.append((a.idx, b.idx))


def _by_context(nodes: Sequence[Node]) -> dict[int, list[Node]]:
    """The nodes each context (by index) mentions."""
    by_context: dict[int, list[Node]] = {}
    for node in nodes:
        for c in node.contexts:
            by_context.setdefault(c, []).append(node)
    return by_context


def _longest_names(text: str, present: Sequence[Node]) -> list[tuple[int, int, Node]]:
    """Where the text names these nodes, in text order, the longest name at each place ("Port Arthur, Texas", not
    "Port Arthur" in it)."""
    kept: list[tuple[int, int, Node]] = []
    for span in sorted(_occurrences(text, present), key=lambda sp: (sp[0], -sp[1])):
        if not kept or span[0] >= kept[-1][1]:
            kept.append(span)
    return kept


def _occurrences(text: str, nodes: Sequence[Node]) -> list[tuple[int, int, Node]]:
    """Where the text writes each node's names, as whole words."""
    spans = []
    for node in nodes:
        for form in {node.f.surface, *node.forms, *node.raw}:
            at = text.find(form)
            while at >= 0 and form:
                end = at + len(form)
                if (at == 0 or not text[at - 1].isalnum()) and (end == len(text) or not text[end].isalnum()):
                    spans.append((at, end, node))
                at = text.find(form, at + 1)
    return spans
