"""kgpipe: build knowledge graphs from documents into a real graph database, and query them.

>>> import kgpipe
>>> kgpipe.build("docs/")                                     # doctest: +SKIP
>>> kgpipe.query("MATCH (e:Entity) RETURN e.name LIMIT 5")    # doctest: +SKIP
"""

from __future__ import annotations

from .api import delete, open_store, query, stats
from .config import Settings, load_settings
from .errors import KgpipeError
from .ingest.interchange import export, import_triples
from .ingest.pipeline import BuildResult, build

__all__ = [
    "BuildResult",
    "KgpipeError",
    "Settings",
    "ask",
    "build",
    "complete",
    "CompletionResult",
    "delete",
    "export",
    "import_triples",
    "learn",
    "load_settings",
    "open_store",
    "query",
    "stats",
]
__version__ = "0.1.0"


#: Verbs imported on first use (they pull in torch, which ``import kgpipe`` should not): name -> module.
#: A verb must not share its name with a module or package of kgpipe: importing ``kgpipe.x`` sets the
#: attribute ``x`` to the module (why the stage packages are ``ingest``/``qa``/``completion``, not build/ask/complete).
_LAZY = {"ask": "qa.answer", "Answer": "qa.answer", "learn": "learning", "complete": "completion.complete", "CompletionResult": "completion.complete"}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'kgpipe' has no attribute {name!r}")
