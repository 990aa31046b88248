"""Curated aliases: names that are one entity although no name rule can tell ("Peking" / "Beijing", "Holland" /
"Netherlands"), read from a user's alias file or an ontology's ``skos:altLabel`` / ``owl:sameAs``.

Alias file: UTF-8 TSV, one entity a line, its names separated by tabs (the first is the preferred one); lines
starting with ``#`` are comments::

    Beijing<TAB>Peking<TAB>Peiping
    Netherlands<TAB>Holland

Lines that share a name are one group. Fusion joins two names of one group at score 1.0, still subject to the
type vetoes (a curated "Jordan" does not join the person Michael Jordan).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

from ..errors import DataError
from .names import normalise_name


def read_aliases(path: str | Path) -> list[tuple[str, ...]]:
    """The groups of an alias file; ``DataError`` names the first line with fewer than two names."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read alias file {path}: {getattr(exc, 'strerror', None) or exc}") from None
    groups: list[tuple[str, ...]] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        names = tuple(dict.fromkeys(n.strip() for n in line.split("\t") if n.strip()))
        if len(names) < 2:
            raise DataError(f"{path}:{number}: expected two or more names separated by tabs")
        groups.append(names)
    return groups


def alias_table(groups: Iterable[Sequence[str]]) -> dict[str, str]:
    """Normalised name → the key of its group (groups sharing a name merged), for ``EntityIndex(aliases=...)``.

    >>> table = alias_table([("Beijing", "Peking"), ("Peking", "Peiping"), ("Netherlands", "Holland")])
    >>> table["peiping"] == table["beijing"], table["holland"] == table["beijing"]
    (True, False)
    """
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for group in groups:
        keys = [k for k in (normalise_name(n) for n in group) if k]
        for key in keys[1:]:
            a, b = find(keys[0]), find(key)
            if a != b:
                parent[max(a, b)] = min(a, b)
    return {key: find(key) for key in parent}
