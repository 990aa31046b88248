"""Names a text defines as one another: "the Centers for Disease Control and Prevention (CDC)".

A writer who puts a short form in parentheses right after a name says the two are one entity; no name rule can
read that from "CDC" and "Centers for Disease Control and Prevention" alone (its initials are "CfDCaP"). The
short form must be written like an acronym and its letters must appear, in order, in the name from the start of one
of its words (as in Schwartz and Hearst's abbreviation definitions), so that "Portland (Oregon)" or "Paris (AFP)"
define nothing.

    >>> abbreviates("CDC", "Centers for Disease Control and Prevention"), abbreviates("mRNA", "Messenger RNA")
    (True, True)
    >>> abbreviates("AFP", "Paris"), abbreviates("Oregon", "Portland")
    (False, False)
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .match import Node
from .names import analyse, normalise_name

_DEFINITION = re.compile(r"([^()]+?)\s*\(\s*([^()]{2,12}?)\s*\)")


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
                                a.defined = a.defined | {b.idx}
                                b.defined = b.defined | {a.idx}
                                found.append((a.idx, b.idx))
                    break
    return found
