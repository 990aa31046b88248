"""The library's verbs besides ``build``: query, delete, stats, each on the configured store.

>>> import kgpipe
>>> kgpipe.query("MATCH (e:Entity) RETURN e.name LIMIT 3").rows   # doctest: +SKIP

A read returns at most ``limit`` rows (``settings.query_limit``, 10,000 by default; 0: no cap).
The cap is enforced at the server the way Text2Cypher's is (``safety.enforce_limit``: every
``UNION`` branch's final ``LIMIT`` is appended or lowered), asking for one row more than the cap so
that a cut result is known to be cut (``QueryResult.truncated``). Measured with ``kgpipe query "UNWIND
range(1,10000000) AS x RETURN x"``: 214 s and 3.19 GiB client RSS uncapped (rows received whole),
1.2 s and 50 MiB with the default cap (README, "Query safety"). A read the cap cannot be put into (no
``RETURN``, as a bare ``CALL db.labels()``; a final ``LIMIT`` that is not a number, as ``LIMIT $n``)
runs as written and is cut on the client. Writes are never capped.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Iterator, Mapping

from .config import Settings, load_settings
from .errors import ConfigError, UnsafeQuery
from .ingest.write import delete_document
from .ingest.write import stats as graph_stats
from .stores import QueryResult, RowStreaming, open_store
from .stores.safety import check_read_only, enforce_limit

if TYPE_CHECKING:
    from .stores import Store


def query(
    cypher: str,
    params: Mapping[str, Any] | None = None,
    *,
    write: bool = False,
    limit: int | None = None,
    settings: Settings | None = None,
    store: "Store | str | None" = None,
) -> QueryResult:
    """Run Cypher. Read-only unless ``write=True``: a clause check here, and the store's read-only mode.

    A read returns at most ``limit`` rows (default ``settings.query_limit``; 0: all), with
    ``truncated`` set when more matched; a write (``write=True``) is not capped.
    """
    if write:
        return open_store(settings, store).execute(cypher, params or {}, write=True)
    with query_stream(cypher, params, limit=limit, settings=settings, store=store) as rows:
        return QueryResult(rows.columns, list(rows), rows.truncated)


class CappedRows:
    """The rows of a read as they arrive, stopping at the cap; ``truncated`` is known once they are consumed."""

    def __init__(self, columns: list[str], rows: Iterator[list[Any]], cap: int) -> None:
        self.columns, self.cap, self.truncated = columns, cap, False
        self._rows = rows

    def __iter__(self) -> Iterator[list[Any]]:
        for n, row in enumerate(self._rows):
            if self.cap and n >= self.cap:
                self.truncated = True
                return
            yield row


@contextmanager
def query_stream(
    cypher: str,
    params: Mapping[str, Any] | None = None,
    *,
    limit: int | None = None,
    settings: Settings | None = None,
    store: "Store | str | None" = None,
) -> Iterator[CappedRows]:
    """A read whose rows are handed over as the store delivers them (one by one from Neo4j; whole from FalkorDB).

    >>> with query_stream("UNWIND range(1, 10) AS x RETURN x", limit=3) as rows:   # doctest: +SKIP
    ...     print([r[0] for r in rows], rows.truncated)
    [1, 2, 3] True
    """
    settings = settings or load_settings()
    cap = settings.query_limit if limit is None else int(limit)
    if cap < 0:
        raise ConfigError(f"the row limit must be 0 (no cap) or positive, got {cap}")
    check_read_only(cypher)
    text = cypher
    if cap:
        try:
            text = enforce_limit(cypher, cap + 1)  # one more than the cap: a cut result is known to be cut
        except UnsafeQuery:
            pass  # no RETURN or a non-numeric final LIMIT: run as written, cut below
    the_store = open_store(settings, store)
    if isinstance(the_store, RowStreaming):
        with the_store.stream(text, params or {}) as (columns, rows):
            yield CappedRows(columns, rows, cap)
        return
    result = the_store.execute(text, params or {}, write=False)
    yield CappedRows(result.columns, iter(result.rows), cap)


def delete(document: str, *, settings: Settings | None = None, store: "Store | str | None" = None) -> dict[str, int]:
    """Remove a document (by path or id): its chunks, the facts only it supported, entities left unmentioned."""
    is_id = len(document) == 64 and all(c in "0123456789abcdef" for c in document)
    target = document if is_id else os.path.abspath(document)  # paths are stored absolute, as load() gives them
    return delete_document(open_store(settings, store), target)


def stats(*, settings: Settings | None = None, store: "Store | str | None" = None) -> dict[str, Any]:
    """Counts of documents, chunks, entities, facts and predicted links in the graph."""
    return graph_stats(open_store(settings, store))
