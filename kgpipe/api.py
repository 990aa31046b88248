"""The library's verbs besides ``build``: query, delete, stats, each on the configured store.

>>> import kgpipe
>>> kgpipe.query("MATCH (e:Entity) RETURN e.name LIMIT 3").rows   # doctest: +SKIP
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Mapping

from .config import Settings
from .stores.safety import check_read_only
from .stores import QueryResult, open_store
from .ingest.write import delete_document, stats as graph_stats

if TYPE_CHECKING:
    from .stores import Store


def query(
    cypher: str,
    params: Mapping[str, Any] | None = None,
    *,
    write: bool = False,
    settings: Settings | None = None,
    store: "Store | str | None" = None,
) -> QueryResult:
    """Run Cypher. Read-only unless ``write=True``: a clause check here, and the store's read-only mode."""
    if not write:
        check_read_only(cypher)
    return open_store(settings, store).execute(cypher, params or {}, write=write)


def delete(document: str, *, settings: Settings | None = None, store: "Store | str | None" = None) -> dict[str, int]:
    """Remove a document (by path or id): its chunks, the facts only it supported, entities left unmentioned."""
    is_id = len(document) == 64 and all(c in "0123456789abcdef" for c in document)
    target = document if is_id else os.path.abspath(document)  # paths are stored absolute, as load() gives them
    return delete_document(open_store(settings, store), target)


def stats(*, settings: Settings | None = None, store: "Store | str | None" = None) -> dict[str, Any]:
    """Counts of documents, chunks, entities, facts and predicted links in the graph."""
    return graph_stats(open_store(settings, store))
