"""Characters no store accepts, cleaned in one place: every parameter and query text a built-in store runs.

Measured on FalkorDB 4.16 (client 1.8.1) with every string in a write and a read parameter:

* ``NUL`` (U+0000) fails, reads included: the client sends parameters as text in a ``CYPHER k=...``
  header, which the server reads as a C string, so the query ends at the NUL ("Invalid input at end
  of input"). Neo4j should store NUL (reasoned, not measured here: the driver sends it as the UTF-8
  byte 0x00 and Java strings hold U+0000), but a graph should read the same in either store, so both
  get the same cleaning.
* **Lone surrogates** (U+D800..U+DFFF not in a pair; JSON's ``"\\ud800"`` escape and Python's
  ``surrogateescape`` file names make them) fail in both: the FalkorDB client and the Neo4j driver
  encode strings as UTF-8 with ``str.encode("utf-8")`` (neo4j 6.4's packstream, read), which has no
  encoding for them (``UnicodeEncodeError`` before anything is sent: measured for FalkorDB).
* Everything else is stored and read back literally, so it is **kept as is**: the other C0 controls
  (U+0001..U+001F, tab and newlines included), DEL, C1 controls, RTL overrides (U+202E), zero-width
  characters (U+200B, U+FEFF), noncharacters (U+FFFF), emoji, quotes, backslashes and backticks in
  values, and long strings (10,000 and 1,000,000 characters).

What is kept of a string that needs cleaning: each ``NUL`` becomes U+FFFD (the replacement
character: visible, and it does not merge "a\\x00b" with "ab"); a high and a low surrogate that
stand next to each other become the one character they encode (U+1F600 from ``"\\ud83d\\ude00"``);
any other surrogate becomes U+FFFD. Every other character is kept, in place.

The same cleaning applies to every string of every statement, write or read, recursively through
lists and maps (their keys too), and to the query text: a lookup by the original name therefore
finds the stored, cleaned name. ``FalkorDBStore`` applies ``clean_text`` to the one string its
client sends (the ``CYPHER k=...`` parameter header followed by the query; every string in it is
quoted, so no pair can form across two values): 0.05 s for the 17 M characters of a 100,000-triple
``write``, 1.4% of its time (measured). ``Neo4jStore`` sends structured values, so it uses
``clean_params``, which passes parameters on unchanged after one ``repr`` and one regex scan find
nothing to clean (0.4 s per 100,000 fact rows, against 1.3 s for walking them in Python).

>>> clean_text("a\\x00b"), clean_text("\\ud83d\\ude00 \\udc80"), clean_text("x\\u202ey")
('a\\ufffdb', '\\U0001f600 \\ufffd', 'x\\u202ey')
>>> clean_params({"rows": [{"name": "a\\x00b", "n": 1}]})
{'rows': [{'name': 'a\\ufffdb', 'n': 1}]}
"""

from __future__ import annotations

import re
from typing import Any, Mapping

REPLACEMENT = "\ufffd"
_REFUSED = re.compile("[\x00\ud800-\udfff]")
#: What NUL and surrogates look like in ``repr`` (it escapes both); a literal backslash text is a harmless false hit.
_IN_REPR = re.compile(r"\\(?:x00|ud[89a-f])")


def clean_text(text: str) -> str:
    """``text`` with NUL and unpaired surrogates replaced by U+FFFD and surrogate pairs joined (see above)."""
    if _REFUSED.search(text) is None:
        return text
    text = text.replace("\x00", REPLACEMENT)
    if _REFUSED.search(text) is None:
        return text
    # UTF-16 round trip: a pair decodes to its character, a lone surrogate to U+FFFD.
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def clean_value(value: Any) -> Any:
    """A parameter value with every string in it cleaned (lists, tuples and maps walked, keys included)."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, Mapping):
        return {clean_text(k) if isinstance(k, str) else k: clean_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_value(v) for v in value]
    return value


def clean_params(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """A statement's parameters, cleaned (an empty dict for ``None``)."""
    if not params:
        return {}
    if _IN_REPR.search(repr(params)) is None:  # one pass in C over everything: nothing to clean
        return dict(params)
    return {clean_text(k): clean_value(v) for k, v in params.items()}
