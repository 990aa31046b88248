"""Refuse Cypher that would write, before it reaches the store (the first of two layers).

``check_read_only`` looks for writing clauses and procedure calls in the query *after* removing
comments, string literals and backtick-quoted names, so ``WHERE n.name = 'CREATE'`` passes and
``MATCH (n) /* */ DETACH DELETE n`` does not. It is deliberately conservative (a variable named
``set`` is refused too). The second layer is the store's read-only mode (FalkorDB's
``GRAPH.RO_QUERY``, a Neo4j READ transaction), which holds even if this check is bypassed.

>>> check_read_only("MATCH (n) WHERE n.name = 'DELETE me' RETURN n")
>>> check_read_only("MATCH (n) DETACH DELETE n")
Traceback (most recent call last):
kgpipe.errors.UnsafeQuery: query would write (DETACH); run it with --write / write=True
"""

from __future__ import annotations

import re

from .errors import UnsafeQuery

#: Clauses that change data or schema (Neo4j administration commands included).
WRITE_KEYWORDS = frozenset(
    {"CREATE", "MERGE", "SET", "DELETE", "DETACH", "REMOVE", "DROP", "LOAD", "FOREACH",
     "GRANT", "DENY", "REVOKE", "ALTER", "RENAME"}
)  # fmt: skip
#: Keywords that write only in front of a second word (``START DATABASE``), so plain ``start`` stays usable.
_WRITE_PAIRS = {"START": "DATABASE", "STOP": "DATABASE", "TERMINATE": "TRANSACTION"}
#: Read-only introspection procedures that may be CALLed (compared lower-case).
ALLOWED_PROCEDURES = frozenset(
    {"db.labels", "db.relationshiptypes", "db.propertykeys", "db.indexes", "db.constraints",
     "db.schema.visualization", "db.schema.nodetypeproperties", "db.schema.reltypeproperties"}
)  # fmt: skip

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PROPERTY_OWNER = re.compile(r"(?:[A-Za-z_][A-Za-z0-9_]*|[)\]}])\s*\.\s*$")  # n.set, (n).set, m[0].set
_PROCEDURE = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*(?:\s*\.\s*[A-Za-z_][A-Za-z0-9_]*)*)")


def check_read_only(cypher: str) -> None:
    """Raise ``UnsafeQuery`` if ``cypher`` contains a writing clause or a non-allowlisted procedure call."""
    text = strip_literals(cypher)
    for match in _WORD.finditer(text):
        word = match.group().upper()
        if word not in WRITE_KEYWORDS and word not in _WRITE_PAIRS and word != "CALL":
            continue
        after = text[match.end() :].lstrip()
        if _PROPERTY_OWNER.search(text, 0, match.start()) or text[match.start() - 1 : match.start()] == "$" or (
            after.startswith(":") and not after.startswith("::")
        ):
            continue  # a property (n.set), a parameter ($set), a map key or variable ({set: 1}, (set:X))
        if word == "CALL":
            _check_call(after)
        elif word in WRITE_KEYWORDS:
            raise UnsafeQuery(f"query would write ({word}); run it with --write / write=True")
        elif after.upper().startswith(_WRITE_PAIRS[word]):
            raise UnsafeQuery(f"query would write ({word} {_WRITE_PAIRS[word]}); run it with --write / write=True")


def _check_call(after: str) -> None:
    if after.startswith(("{", "(")):
        return  # a subquery (CALL { ... } / CALL (x) { ... }): its clauses are checked like the rest
    found = _PROCEDURE.match(after)
    name = re.sub(r"\s+", "", found.group(1)).lower() if found else ""
    if name not in ALLOWED_PROCEDURES:
        allowed = ", ".join(sorted(ALLOWED_PROCEDURES))
        raise UnsafeQuery(
            f"procedure call {name or '?'}() is not allowed in a read-only query (allowed: {allowed}); "
            "run it with --write / write=True"
        )


def strip_literals(cypher: str) -> str:
    """The query with comments removed and strings / backtick names replaced by neutral placeholders.

    An unterminated string, name or block comment raises ``UnsafeQuery``: what follows it cannot
    be classified, so it is not run.
    """
    out: list[str] = []
    i, n = 0, len(cypher)
    while i < n:
        ch = cypher[i]
        two = cypher[i : i + 2]
        if two == "//":
            end = cypher.find("\n", i)
            i = n if end < 0 else end
            out.append(" ")
        elif two == "/*":
            end = cypher.find("*/", i + 2)
            if end < 0:
                raise UnsafeQuery("unterminated /* comment in query")
            i = end + 2
            out.append(" ")
        elif ch in "'\"":
            i = _skip_string(cypher, i, ch)
            out.append(" '' ")
        elif ch == "`":
            i = _skip_backticks(cypher, i)
            out.append(" _quoted_ ")
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _skip_string(text: str, start: int, quote: str) -> int:
    """Index just past the string literal opening at ``start`` (backslash escapes, as Cypher has)."""
    i = start + 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
        elif text[i] == quote:
            return i + 1
        else:
            i += 1
    raise UnsafeQuery("unterminated string literal in query")


def _skip_backticks(text: str, start: int) -> int:
    """Index just past a backtick-quoted name (a doubled backtick inside is an escaped one)."""
    i = start + 1
    while i < len(text):
        if text[i] == "`":
            if text[i + 1 : i + 2] == "`":
                i += 2
                continue
            return i + 1
        i += 1
    raise UnsafeQuery("unterminated `quoted name` in query")
