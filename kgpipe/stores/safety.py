"""Refuse Cypher that would write, before it reaches the store (the first of two layers).

``check_read_only`` looks for writing clauses and procedure calls in the query *after* blanking
comments, string literals and backtick-quoted names (``mask_literals``), so ``WHERE n.name = 'CREATE'`` passes and
``MATCH (n) /* */ DETACH DELETE n`` does not. It is deliberately conservative (a variable named
``set`` is refused too). The second layer is the store's read-only mode (FalkorDB's
``GRAPH.RO_QUERY``, a Neo4j READ transaction), which holds even if this check is bypassed.
``enforce_limit`` bounds the rows a read returns (Text2Cypher's ``cypher_limit``, ``kgpipe query``'s
row cap) by appending or lowering the final ``LIMIT`` of every ``UNION`` branch.

>>> check_read_only("MATCH (n) WHERE n.name = 'DELETE me' RETURN n")
>>> check_read_only("MATCH (n) DETACH DELETE n")
Traceback (most recent call last):
kgpipe.errors.UnsafeQuery: query would write (DETACH); run it with --write / write=True
"""

from __future__ import annotations

import re

from ..errors import UnsafeQuery

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
_TOKEN = re.compile(r"[()\[\]{}]|[A-Za-z_][A-Za-z0-9_]*")  # a bracket or a word
_PROPERTY_OWNER = re.compile(r"(?:[A-Za-z_][A-Za-z0-9_]*|[)\]}])\s*\.\s*$")  # n.set, (n).set, m[0].set
_PROCEDURE = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*(?:\s*\.\s*[A-Za-z_][A-Za-z0-9_]*)*)")


def check_read_only(cypher: str) -> None:
    """Raise ``UnsafeQuery`` if ``cypher`` contains a writing clause or a non-allowlisted procedure call."""
    text = mask_literals(cypher)
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


# -- the stricter check for machine-written queries (Text2Cypher) -------------------------------

#: Keywords a generated query may use: read clauses and expression words. Every other Cypher keyword is refused.
READ_KEYWORDS = frozenset(
    {"MATCH", "OPTIONAL", "WHERE", "WITH", "RETURN", "ORDER", "BY", "SKIP", "LIMIT", "UNWIND", "UNION", "ALL",
     "DISTINCT", "AS", "AND", "OR", "XOR", "NOT", "IN", "IS", "NULL", "TRUE", "FALSE", "ASC", "ASCENDING",
     "DESC", "DESCENDING", "CASE", "WHEN", "THEN", "ELSE", "END", "STARTS", "ENDS", "CONTAINS", "EXISTS"}
)  # fmt: skip
#: Cypher's reserved and clause words (openCypher, Neo4j, FalkorDB) that are not in ``READ_KEYWORDS``.
OTHER_KEYWORDS = WRITE_KEYWORDS | frozenset(
    {"CALL", "YIELD", "CSV", "USE", "USING", "PERIODIC", "COMMIT", "TRANSACTIONS", "SHOW", "TERMINATE", "START",
     "STOP", "DATABASE", "INDEX", "CONSTRAINT", "REQUIRE", "UNIQUE", "MANDATORY", "SCALAR", "ADD", "DO", "FOR",
     "FINISH", "FILTER", "LET", "INSERT", "NODETACH", "ON", "OF", "FROM", "IMPORT", "EXPLAIN", "PROFILE"}
)  # fmt: skip
#: Clauses a query (and each UNION branch) may start with.
FIRST_CLAUSES = ("MATCH", "OPTIONAL", "WITH", "UNWIND", "RETURN")


def check_read_clauses(cypher: str) -> None:
    """Raise ``UnsafeQuery`` unless ``cypher`` is one statement made only of allowlisted read clauses.

    Stricter than ``check_read_only`` (which it also runs), for queries a model wrote: outside
    literals the text must be ASCII (no look-alike letters or invisible characters), hold one
    statement (no ``;`` except a trailing one), start each ``UNION`` branch with a read clause, and
    use no keyword outside ``READ_KEYWORDS`` (``CALL`` included, even of a read procedure).
    """
    try:
        check_read_only(cypher)
    except UnsafeQuery as exc:  # same finding, without the --write advice meant for hand-written queries
        raise UnsafeQuery(str(exc).split("; run it with")[0]) from None
    text = mask_literals(cypher).rstrip().removesuffix(";")
    odd = next((ch for ch in text if ord(ch) > 127), None)
    if odd is not None:
        raise UnsafeQuery(f"query has the non-ASCII character U+{ord(odd):04X} outside string literals")
    if ";" in text:
        raise UnsafeQuery("query holds more than one statement (';')")
    for start, _ in union_branches(text):
        first = _next_word(text, start)
        if first is None or first.group().upper() not in FIRST_CLAUSES:
            raise UnsafeQuery(f"query must start with one of {', '.join(FIRST_CLAUSES)}")
    for match in _WORD.finditer(text):
        word = match.group().upper()
        if word in READ_KEYWORDS or text[match.start() - 1 : match.start()] in (".", "$", ":"):
            continue  # a property, a parameter, a label or relationship type
        after = text[match.end() :].lstrip()
        if word in OTHER_KEYWORDS and not (after.startswith(":") and not after.startswith("::")):
            raise UnsafeQuery(f"clause or keyword {word} is not allowed in a generated read-only query")


def mask_literals(cypher: str) -> str:
    """The query with the same offsets but nothing to misread: comments become spaces, the contents of
    strings blanks, backtick-quoted names underscores.

    An unterminated string, name or block comment raises ``UnsafeQuery``: what follows it cannot
    be classified, so it is not run.
    """
    out: list[str] = []
    i, n = 0, len(cypher)
    while i < n:
        two = cypher[i : i + 2]
        if two == "//":
            end = cypher.find("\n", i)
            end = n if end < 0 else end
        elif two == "/*":
            end = cypher.find("*/", i + 2)
            if end < 0:
                raise UnsafeQuery("unterminated /* comment in query")
            end += 2
        elif cypher[i] in "'\"":
            end = _skip_string(cypher, i, cypher[i])
            out.append(cypher[i] + " " * (end - i - 2) + cypher[i])
            i = end
            continue
        elif cypher[i] == "`":
            end = _skip_backticks(cypher, i)
            out.append("_" * (end - i))
            i = end
            continue
        else:
            out.append(cypher[i])
            i += 1
            continue
        out.append(" " * (end - i))
        i = end
    return "".join(out)


def union_branches(masked: str) -> list[tuple[int, int]]:
    """``(start, end)`` offsets of the top-level ``UNION`` branches of a masked query (one when there is none)."""
    bounds, start = [], 0
    for match in _top_level_words(masked, 0, len(masked)):
        if match.group().upper() == "UNION":
            bounds.append((start, match.start()))
            nxt = _next_word(masked, match.end())
            start = nxt.end() if nxt and nxt.group().upper() == "ALL" else match.end()
    bounds.append((start, len(masked)))
    return bounds


def _top_level_words(masked: str, start: int, end: int) -> list[re.Match[str]]:
    """Words of ``masked[start:end]`` outside any brackets, not properties, parameters or labels
    (the one bracket scanner: UNION branches and final LIMITs are both found with it)."""
    out, depth = [], 0
    for match in _TOKEN.finditer(masked, start, end):
        token = match.group()
        if token in "([{":
            depth += 1
        elif token in ")]}":
            depth -= 1
        elif depth == 0 and masked[match.start() - 1 : match.start()] not in ".$:":
            out.append(match)
        if depth < 0:
            break
    if depth:
        raise UnsafeQuery("the query's brackets are unbalanced")
    return out


def enforce_limit(query: str, max_rows: int) -> str:
    """``query`` with every UNION branch ending in ``LIMIT n``, ``n <= max_rows`` (appended or capped).

    >>> enforce_limit("MATCH (n) RETURN n", 100)
    'MATCH (n) RETURN n LIMIT 100'
    >>> enforce_limit("MATCH (n) RETURN n LIMIT 100000000", 100)
    'MATCH (n) RETURN n LIMIT 100'
    """
    query = query.rstrip().removesuffix(";").rstrip()
    masked = mask_literals(query)
    edits: list[tuple[int, int, str]] = []  # (start, end, replacement) in query offsets
    for start, end in union_branches(masked):
        words = _top_level_words(masked, start, end)
        returns = [w for w in words if w.group().upper() == "RETURN"]
        if not returns:
            raise UnsafeQuery("the query (or one of its UNION branches) has no RETURN")
        limits = [w for w in words if w.group().upper() == "LIMIT" and w.start() > returns[-1].start()]
        branch_end = start + len(masked[start:end].rstrip())
        if not limits:
            edits.append((branch_end, branch_end, f" LIMIT {max_rows}"))
            continue
        number = re.compile(r"\s+(\d+)\s*$").match(masked, limits[-1].end(), end)
        if number is None:
            raise UnsafeQuery("the query's final LIMIT must be a whole number at the end of the query")
        if int(number.group(1)) > max_rows:
            edits.append((number.start(1), number.end(1), str(max_rows)))
    for s, e, text in sorted(edits, reverse=True):
        query = query[:s] + text + query[e:]
    return query


def _next_word(text: str, pos: int) -> "re.Match[str] | None":
    """The word starting at the first non-space character at or after ``pos``, if any."""
    return _WORD.match(text, re.compile(r"\s*").match(text, pos).end())  # type: ignore[union-attr]
