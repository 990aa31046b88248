"""Versioned prompt files shipped as package data (``extract.v1.md``...); the version is recorded on results."""

from __future__ import annotations

from functools import cache
from importlib.resources import files


@cache
def prompt(name: str) -> str:
    """The text of a prompt file, e.g. ``prompt("extract.v1")``."""
    return files(__package__).joinpath(f"{name}.md").read_text(encoding="utf-8")
