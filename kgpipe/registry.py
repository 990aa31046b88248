"""Backends by name: the built-in ones and those third-party packages register under an entry-point group.

Both kinds are ``"module:Class"`` strings, imported only when used (rdflib's plugin registry is the model)::

    [project.entry-points."kgpipe.llms"]
    mybackend = "my_package.llm:MyLLM"      # then --llm mybackend:... works
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Mapping


def registered(group: str, builtin: Mapping[str, str]) -> dict[str, str]:
    """Name → ``"module:Class"`` for the built-in backends and every one installed under ``group``."""
    found = dict(builtin)
    found.update({ep.name: ep.value for ep in entry_points(group=group)})
    return found


def load_class(target: str) -> type:
    """The class a ``"module:Class"`` string names, imported now."""
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)
