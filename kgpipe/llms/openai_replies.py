"""Reading an OpenAI-compatible reply: its text, its logprobs, a yes/no answer's log-odds.

Each reader raises ``KeyError``, ``IndexError`` or ``TypeError`` on a malformed reply (retried by the client as a
bad reply) and ``NotImplementedError`` when the server does not offer what was asked (logprobs, echo).
"""

from __future__ import annotations

import math
from typing import Any


def _choice(data: Any) -> dict[str, Any]:
    """The first choice of a reply; KeyError/IndexError/TypeError (a malformed reply) when there is none."""
    choice = data["choices"][0]
    if not isinstance(choice, dict):
        raise TypeError(f"choice is {type(choice).__name__}, not an object")
    return choice


def chat_text(data: Any) -> str:
    message = _choice(data)["message"]
    if not isinstance(message, dict):
        raise TypeError("message is not an object")
    return str(message.get("content") or "")  # null content (a refusal, a tool call) is an empty answer


def completion_text(data: Any) -> str:
    text = _choice(data)["text"]
    if not isinstance(text, str):
        raise TypeError("text is not a string")
    return text


def _logprobs_of(choice: dict[str, Any], what: str) -> Any:
    lp = choice.get("logprobs")
    if not isinstance(lp, dict):
        raise NotImplementedError(f"the reply carries no {what}")
    return lp


def echo_logprobs(data: Any) -> tuple[list[Any], list[int]]:
    lp = _logprobs_of(_choice(data), "prompt logprobs (echo)")
    tokens, offsets = lp.get("token_logprobs"), lp.get("text_offset")
    if not isinstance(tokens, list) or not isinstance(offsets, list):
        raise NotImplementedError("the reply carries no prompt logprobs (echo)")
    return tokens, offsets


def chat_top_logprobs(data: Any) -> dict[str, float]:
    """``{token: logprob}`` of the alternatives for the first generated token of a chat reply."""
    choice = _choice(data)
    if not isinstance(choice.get("message"), dict):
        raise TypeError("choice has no message")
    content = _logprobs_of(choice, "top logprobs").get("content")
    if not isinstance(content, list) or not content or not isinstance(content[0], dict):
        raise NotImplementedError("the reply carries no top logprobs")
    first = content[0]
    alternatives = first.get("top_logprobs") or []
    top = {str(a["token"]): float(a["logprob"]) for a in alternatives if isinstance(a, dict)}
    if "token" in first and "logprob" in first:
        top.setdefault(str(first["token"]), float(first["logprob"]))
    if not top:
        raise NotImplementedError("the reply carries no top logprobs")
    return top


def completion_top_logprobs(data: Any) -> dict[str, float]:
    choice = _choice(data)
    if not isinstance(choice.get("text"), str):
        raise TypeError("choice has no text")
    tops = _logprobs_of(choice, "top logprobs").get("top_logprobs")
    if not isinstance(tops, list) or not tops or not isinstance(tops[0], dict) or not tops[0]:
        raise NotImplementedError("the reply carries no top logprobs")
    return {str(k): float(v) for k, v in tops[0].items()}


def yes_no_log_odds(top: dict[str, float]) -> float:
    """``log P(yes) - log P(no)`` from the top alternatives of one answer token.

    Every spelling counts for its answer ("Yes", " yes", "YES"; leading space and case ignored; their
    probabilities added). An answer missing from the list gets the lowest listed log-probability, an
    upper bound on its own (so a confident "Yes" with "No" unlisted gives a large positive log-odds,
    never an infinite one); with both missing the log-odds is 0.

    >>> round(yes_no_log_odds({" Yes": -0.1, "Yes": -3.0, " No": -2.5}), 3)
    2.454
    >>> yes_no_log_odds({"Yes": -0.01, "Maybe": -6.0})
    5.99
    """
    floor = min(top.values())
    found: dict[str, list[float]] = {"yes": [], "no": []}
    for token, logprob in top.items():
        key = token.strip().casefold()
        if key in found:
            found[key].append(logprob)
    yes, no = (_logsumexp(found[k]) if found[k] else floor for k in ("yes", "no"))
    return yes - no


def _logsumexp(values: list[float]) -> float:
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values))
