"""kgpipe: build knowledge graphs from documents into a real graph database, and query them.

>>> import kgpipe
>>> kgpipe.build("docs/")                                     # doctest: +SKIP
>>> kgpipe.query("MATCH (e:Entity) RETURN e.name LIMIT 5")    # doctest: +SKIP
"""

from __future__ import annotations

from .api import delete, open_store, query, stats
from .complete import CompletionResult, complete
from .config import Settings, load_settings
from .errors import KgpipeError
from .interchange import export, import_triples
from .pipeline import BuildResult, build

__all__ = [
    "BuildResult",
    "KgpipeError",
    "Settings",
    "build",
    "complete",
    "CompletionResult",
    "delete",
    "export",
    "import_triples",
    "load_settings",
    "open_store",
    "query",
    "stats",
]
__version__ = "0.1.0"
