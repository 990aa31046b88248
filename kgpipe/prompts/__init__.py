"""Versioned prompt files shipped as package data (``extract.v1.md``...); the version is recorded on results.

``prompt(name)`` returns the file's text verbatim, so a file holds exactly the text the model is given
and ends exactly where the model's continuation starts:

* when the few-shot answers continue on the cue's line (``Stated: Yes``, ``Answer: Paris``,
  ``<PATH> a -> r -> b``), the file ends with the cue and *no* final newline; the scored or generated
  continuation brings its own leading space (``" Yes"``), so the cue has no trailing space either;
* when they start on the next line (``Triples:`` then one triple per line), the file ends with the
  cue and one newline.

Callers do not strip or add whitespace at the end. ``tests/test_prompts.py`` checks every prompt in
use against its own few-shot examples. A change of text is a new version file; older versions stay
so that recorded results remain explainable (``judge.v1``, ``same_entity.v1`` and
``denoise.entities.v1`` ended in a newline where their examples continue on the same line).
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any


@cache
def prompt(name: str) -> str:
    """The text of a prompt file, e.g. ``prompt("extract.v1")``, exactly as the model is given it."""
    return files(__package__).joinpath(f"{name}.md").read_text(encoding="utf-8")


@cache
def prompt_data(name: str) -> Any:
    """Data a prompt is rendered from (few-shot example templates), e.g. ``prompt_data("text2cypher.v1.examples")``."""
    return json.loads(files(__package__).joinpath(f"{name}.json").read_text(encoding="utf-8"))
