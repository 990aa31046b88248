"""Versioned prompt files shipped as package data (``extract.v1.md``...); the version is recorded on results."""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any


@cache
def prompt(name: str) -> str:
    """The text of a prompt file, e.g. ``prompt("extract.v1")``."""
    return files(__package__).joinpath(f"{name}.md").read_text(encoding="utf-8")


@cache
def prompt_data(name: str) -> Any:
    """Data a prompt is rendered from (few-shot example templates), e.g. ``prompt_data("text2cypher.v1.examples")``."""
    return json.loads(files(__package__).joinpath(f"{name}.json").read_text(encoding="utf-8"))
