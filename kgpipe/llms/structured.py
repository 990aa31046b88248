"""Structured output of OpenAI-compatible servers: the request fields that make a server decode under a JSON schema.

What kgpipe sends, and why these fields (read from the servers' own documentation and source, 2026):

* ``response_format: {"type": "json_schema", "json_schema": {"name": ..., "schema": ...}}`` on both routes.
  OpenAI's standard field; vLLM's structured-outputs guide lists it for the Chat API and its
  ``CompletionRequest`` accepts ``{'type': 'json_schema'}`` too (docs.vllm.ai, "Structured Outputs";
  ``vllm/entrypoints/openai/protocol.py``); llama.cpp's server reads ``response_format.json_schema.schema``
  on ``/v1/chat/completions`` (``tools/server/README.md``, "schema-constrained JSON"; ``server-common.cpp``,
  ``oaicompat_chat_params_parse``).
* ``json_schema: <schema>`` on ``/v1/completions`` only: llama.cpp's own ``/completion`` option, which its
  ``/v1/completions`` accepts ("llama.cpp ``/completion``-specific features ... are supported"), where its
  README documents no ``response_format``. Other servers ignore the unknown field.
* Not ``guided_json``: vLLM's old extra parameter was removed in v0.12.0 (replaced by
  ``structured_outputs: {"json": ...}``), and every vLLM that still has it also takes ``response_format``.

A server that refuses the field answers 4xx naming it (``names_the_parameter``); kgpipe then remembers the
refusal and extracts freely, validating the reply by snapping (``kgpipe.ingest.snap``).
"""

from __future__ import annotations

import re
from typing import Any

SCHEMA_NAME = "triples"  # OpenAI requires ^[a-zA-Z0-9_-]+$
_PARAMETER = re.compile(r"response_format|json_schema|json schema|structured|guided|grammar|schema", re.IGNORECASE)


def response_format(schema: dict[str, Any]) -> dict[str, Any]:
    """The OpenAI-standard ``response_format`` value that asks for JSON under ``schema``."""
    return {"type": "json_schema", "json_schema": {"name": SCHEMA_NAME, "schema": schema}}


def structured_bodies(body: dict[str, Any], schema: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(chat body, completions body)``: ``body`` with the schema in the fields each route takes (see above)."""
    chat = {**body, "response_format": response_format(schema)}
    return chat, {**chat, "json_schema": schema}


def names_the_parameter(message: str) -> bool:
    """Whether an error reply names the structured-output parameter: a refusal of the feature, not of the request.

    >>> names_the_parameter("HTTP 400: Unrecognized request argument supplied: response_format")
    True
    >>> names_the_parameter("HTTP 400: prompt is longer than the context window")
    False
    """
    return _PARAMETER.search(message) is not None
