"""The one place where LLM replies are read, tolerant of what small models really emit.

Triples (``parse_triples``, extraction; ``parse_structured_triples``, a server's JSON under a schema), entity lists and sentences (``parse_entities``,
``parse_sentences``, denoising), short answers (``parse_answer``, KG-RAG and the reasoner), yes/no
verdicts (``parse_yes_no``, fusion adjudication) and Cypher queries (``parse_cypher``, Text2Cypher).

Triples are accepted per line or anywhere in the reply:

* ``head | relation | tail`` (the prompt's format), with list bullets or numbering in front;
* tuples ``(head, relation, tail)`` and JSON/Python lists ``["head", "relation", "tail"]``;
* JSON objects with ``head/relation/tail`` or ``subject/predicate/object`` keys (also truncated arrays of them);
* an optional type after a name in square brackets: ``Marie Curie [Person]``.

Policy for what cannot be used: parsing stops at ``END`` or at an echoed ``Text:`` line (small base models
run on into a new few-shot example); lines that are not triples are skipped; exact repeats are dropped;
a triple with an empty part, a part over 120 characters, head equal to tail, or a head or tail that is (or
starts with) a personal pronoun ("He", "He died": the model did not resolve it) is dropped; a relation that
repeats the head's name in front ("Apple | Apple Inc. founded in | 1976") loses that name. A reply that has
content but yields no triple at all is reported as a failure by the caller (``ParseResult.failed``).

A structured reply (JSON decoded under kgpipe's schema, ``{"triples": [{"head", "relation", "tail"}...]}``) is
read as JSON; one that is not (cut short at ``max_tokens``, or from a server that ignored the schema) is read
as free output, which finds the complete objects of a truncated array. Either way the same drop rules apply.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from typing import Collection

MAX_PART = 120

_STOP_LINE = re.compile(r"^\s*(END\b|Text\s*:|Triples\s*:)", re.IGNORECASE)
_BULLET = re.compile(r"^\s*(?:[-*•]+|\d+[.)])\s*")
_TYPED = re.compile(r"^(?P<name>.*?)\s*\[(?P<type>[^\[\]]{1,40})\]\s*$")
_TUPLE = re.compile(r"[\(\[]\s*(['\"])(.*?)\1\s*,\s*(['\"])(.*?)\3\s*,\s*(['\"])(.*?)\5\s*[\)\]]")
_BARE_TUPLE = re.compile(r"^\(\s*([^,()]+?)\s*,\s*([^,()]+?)\s*,\s*([^()]+?)\s*\)$")
_OBJECT = re.compile(r"\{[^{}]*\}")
# A final period that belongs to the name: "Apple Inc.", "Martin Luther King Jr.", "U.S."
_ABBREVIATION = re.compile(
    r"(?:\b(?:Inc|Co|Corp|Ltd|Plc|Bros|Jr|Sr|St|Dr|Mr|Mrs|Ms|Prof|Ave)|\.[A-Za-z])\.$", re.IGNORECASE
)
_PRONOUN = re.compile(r"^(?:he|she|it|they|we|i|you|him|her|them|his|its|their)\b", re.IGNORECASE)
_KEYS = (("head", "relation", "tail"), ("subject", "predicate", "object"), ("h", "r", "t"), ("source", "relation", "target"))


@dataclass(frozen=True)
class ParsedTriple:
    head: str
    relation: str
    tail: str
    head_type: str | None = None
    tail_type: str | None = None


@dataclass
class ParseResult:
    triples: list[ParsedTriple] = field(default_factory=list)
    skipped_lines: int = 0
    failed: bool = False  # content present, nothing usable

    @property
    def reason(self) -> str:
        return "no triple could be parsed from the reply" if self.failed else ""


def _clean(part: str) -> str:
    part = part.strip().strip("\"'`").strip()
    part = re.sub(r"\s+", " ", part).rstrip(",;:").strip()
    if part.endswith(".") and not _ABBREVIATION.search(part):
        part = part[:-1].rstrip()
    return part


def _split_type(part: str) -> tuple[str, str | None]:
    m = _TYPED.match(part)
    if m and m.group("name").strip():
        return _clean(m.group("name")), _clean(m.group("type")) or None
    return _clean(part), None


def _make(head: str, relation: str, tail: str) -> ParsedTriple | None:
    h, ht = _split_type(head)
    t, tt = _split_type(tail)
    r = _clean(relation)
    if not h or not r or not t:
        return None
    if max(len(h), len(r), len(t)) > MAX_PART or h.casefold() == t.casefold():
        return None
    if _PRONOUN.match(h) or _PRONOUN.match(t):
        return None
    return ParsedTriple(h, _without_name(r, h), t, ht, tt)


def _without_name(relation: str, head: str) -> str:
    """``relation`` without a leading copy of the head's name (and the capitalised words that continue it)."""
    words, first = relation.split(), head.split()[0]
    if len(words) < 2 or words[0] != first or not first[:1].isupper():
        return relation
    k = 1
    while k < len(words) - 1 and words[k][:1].isupper():
        k += 1
    return " ".join(words[k:])


def _from_object(text: str) -> ParsedTriple | None:
    try:
        obj = json.loads(text)
    except ValueError:
        try:
            obj = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return None
    if not isinstance(obj, dict):
        return None
    low = {str(k).lower(): v for k, v in obj.items()}
    for keys in _KEYS:
        if all(k in low for k in keys):
            return _make(*(str(low[k]) for k in keys))
    return None


def _from_line(line: str) -> list[ParsedTriple]:
    body = _BULLET.sub("", line).strip()
    if not body:
        return []
    found: list[ParsedTriple | None] = []
    if body.count("|") >= 2:
        parts = [p for p in body.strip("|").split("|")]
        if len(parts) == 3:
            found.append(_make(*parts))
        elif len(parts) > 3:  # stray pipes: keep first and last as ends, the middle as the relation
            found.append(_make(parts[0], " ".join(parts[1:-1]), parts[-1]))
    elif "{" in body:
        found.extend(_from_object(m.group(0)) for m in _OBJECT.finditer(body))
    else:
        tuples = list(_TUPLE.finditer(body))
        if tuples:
            found.extend(_make(m.group(2), m.group(4), m.group(6)) for m in tuples)
        elif m := _BARE_TUPLE.match(body):
            found.append(_make(*m.groups()))
    return [t for t in found if t is not None]


def parse_triples(reply: str) -> ParseResult:
    """Triples from one LLM reply, in order of appearance, without repeats."""
    result = ParseResult()
    seen: set[tuple[str, str, str]] = set()
    content = False
    for line in reply.splitlines():
        if _STOP_LINE.match(line):
            break
        if not line.strip():
            continue
        content = True
        triples = _from_line(line)
        if not triples:
            result.skipped_lines += 1
        for t in triples:
            key = (t.head.casefold(), t.relation.casefold(), t.tail.casefold())
            if key not in seen:
                seen.add(key)
                result.triples.append(t)
    result.failed = content and not result.triples
    return result


def parse_structured_triples(reply: str) -> ParseResult:
    """Triples from a JSON reply under kgpipe's extraction schema; anything else as ``parse_triples`` reads it.

    >>> [t.tail for t in parse_structured_triples('{"triples": [{"head": "Ulm", "relation": "located in", '
    ...                                           '"tail": "Germany"}]}').triples]
    ['Germany']
    >>> parse_structured_triples('{"triples": []}').failed, parse_structured_triples('{"triples": [{"head": "Ulm", "rel').failed
    (False, True)
    """
    try:
        data = json.loads(reply)
    except ValueError:
        return parse_triples(reply)
    items = data.get("triples") if isinstance(data, dict) else data
    if not isinstance(items, list):
        return parse_triples(reply)
    result = ParseResult()
    seen: set[tuple[str, str, str]] = set()
    for item in items:
        t = _from_object(json.dumps(item)) if isinstance(item, dict) else None
        if t is None:
            result.skipped_lines += 1
            continue
        key = (t.head.casefold(), t.relation.casefold(), t.tail.casefold())
        if key not in seen:
            seen.add(key)
            result.triples.append(t)
    result.failed = bool(items) and not result.triples
    return result


# -- other replies --------------------------------------------------------------------------------

MAX_ENTITY_NAME = 80


def parse_entities(reply: str, *, limit: int = 20) -> list[str]:
    """Entity names from the first line of a reply, separated by semicolons (or commas); repeats dropped.

    >>> parse_entities(" Nadap; Fejér county; Hungary; Nadap\\nEND")
    ['Nadap', 'Fejér county', 'Hungary']
    """
    line = next((ln for ln in reply.splitlines() if ln.strip()), "")
    if _STOP_LINE.match(line):
        return []
    seen: dict[str, str] = {}
    for part in line.split(";" if ";" in line else ","):
        name = _BULLET.sub("", part).strip().strip(".\"'").strip()
        if name and len(name) <= MAX_ENTITY_NAME and name.casefold() not in seen:
            seen[name.casefold()] = name
    return list(seen.values())[:limit]


def parse_sentences(reply: str) -> list[str]:
    """The reply's sentences, one per line (bullets dropped, a final full stop added), up to ``END`` or an
    echoed ``Text:``; repeats dropped.

    >>> parse_sentences("- Nadap is a village\\nNadap is a village.\\nEND\\nText: more")
    ['Nadap is a village.']
    """
    kept: list[str] = []
    for line in reply.splitlines():
        if _STOP_LINE.match(line):
            break  # the model ran on into a new example
        sentence = _BULLET.sub("", line).strip()
        if not sentence:
            continue
        sentence = sentence if sentence.endswith((".", "!", "?")) else sentence + "."
        if sentence not in kept:
            kept.append(sentence)
    return kept


def parse_answer(reply: str) -> str:
    """The first line of the reply, cut where it runs on in the fact format (``a | r | b``), without a final full stop.

    >>> parse_answer(" catholicism | religion | belief\\nQuestion: ..."), parse_answer("Paris.")
    ('catholicism', 'Paris')
    """
    lines = reply.strip().splitlines()
    return lines[0].split("|")[0].strip().rstrip(".").strip() if lines else ""


def parse_yes_no(reply: str) -> bool:
    """True when the reply's first word is "yes" (any case, punctuation ignored); anything else is no.

    >>> parse_yes_no(" Yes, both name"), parse_yes_no("no."), parse_yes_no("")
    (True, False, False)
    """
    return (reply.strip().split() or [""])[0].strip(".,!").casefold() == "yes"


# -- Cypher (Text2Cypher) ----------------------------------------------------------------------------

_FENCE = re.compile(r"```[A-Za-z]*[ \t]*\n?(.*?)(?:```|$)", re.S)
_PREFIX = re.compile(r"^\s*(?:cypher|query|answer)\s*:\s*", re.I)
_END = re.compile(r"\n\s*\n|\n\s*(?:question|answer|explanation|note|output|result)\s*:", re.I)
_PROSE = re.compile(r"^\s*([A-Z][a-z]+)\b(?!\s*[.(:\[])")


def parse_cypher(reply: str, keywords: Collection[str]) -> str:
    """The query in a model's reply: inside a code fence if any, after a ``Cypher:`` prefix, before
    the next example, a blank line or a line of prose. Lines that start with a Cypher keyword (one of
    ``keywords``, upper case) are always kept, so a write on a later line is checked rather than silently
    dropped. Leading lines that start with a word that is no keyword are prose and dropped; a reply of
    prose only ("I'm sorry, I can't ...") has no query: ``""``.

    >>> parse_cypher("Here it is:\\n```cypher\\nMATCH (n) RETURN n\\n```", {"MATCH", "RETURN"})
    'MATCH (n) RETURN n'
    """
    text = reply.strip()
    fenced = _FENCE.search(text)
    if fenced:
        text = fenced.group(1)
    text = _PREFIX.sub("", _END.split(text.strip(), maxsplit=1)[0])
    lines = text.strip().splitlines()
    while lines and _is_prose(lines[0], keywords):
        lines.pop(0)
    kept = lines[:1]
    for line in lines[1:]:
        prose = _PROSE.match(line)
        if prose and prose.group(1).upper() not in keywords:
            break
        kept.append(line)
    return "\n".join(kept).strip()


def _is_prose(line: str, keywords: Collection[str]) -> bool:
    """A line that starts with a word that is no Cypher keyword ("I'm sorry", "Here is the query:")."""
    word = re.match(r"\s*([A-Za-z]+)\b", line)
    return word is not None and word.group(1).upper() not in keywords
